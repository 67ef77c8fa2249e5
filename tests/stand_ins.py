"""Tests that play another service publish its events the way it does: ``detail`` is checked against
the model registered for the type (libs/common/cityloop/common/contract/) and the event is built by the
contract's Emitter, so a stand-in cannot drift from what the real producer sends."""

from datetime import datetime
from typing import Any

from cityloop.common.contract.emitter import Emitter
from cityloop.common.contract.lifecycle import Detail
from cityloop.common.contract.models import TicketStatus
from cityloop.common.contract.registry import spec_of
from cityloop.common.envelope import CloudEvent


def lifecycle(
    source: str,
    type_: str,
    ticket_id: str,
    status: TicketStatus | None,
    detail: dict[str, Any],
    *,
    event_id: str | None = None,
    time: datetime | None = None,
) -> CloudEvent:
    spec = spec_of(type_)
    assert spec is not None, f"{type_} is not a registered event type"
    assert spec.detail is not None, f"{type_} is not a ticket.lifecycle type"
    typed = spec.detail.model_validate(detail)
    assert isinstance(typed, Detail)
    return Emitter(source=source, actor="test").lifecycle(
        type_, ticket_id, status, type_, typed, event_id=event_id, time=time
    )
