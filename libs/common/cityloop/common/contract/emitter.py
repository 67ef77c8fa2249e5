"""The one way to build a CityLoop event: an ``Emitter`` knows its source and its actor and builds
CloudEvents only from the ``data`` model registered for their type (registry.py)."""

import base64
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from cityloop.common.contract.lifecycle import Detail, SealedText
from cityloop.common.contract.models import TicketStatus
from cityloop.common.contract.registry import DEPT_TASKS, ContractError, EventSpec, spec_of
from cityloop.common.envelope import CloudEvent
from cityloop.common.personal.redaction import redact_fields
from cityloop.common.personal.sealing import seal_free_texts
from cityloop.common.personal.vault_keys import Keyring


def registered(type_: str) -> EventSpec:
    spec = spec_of(type_)
    if spec is None:
        raise ContractError(f"{type_} is not a registered event type")
    return spec


class Emitter:
    """Builds the events of one producer, e.g. ``Emitter(source="/cityloop/router", actor="router")``."""

    def __init__(self, *, source: str, actor: str) -> None:
        self.source = source
        self.actor = actor
        self._vault: Keyring | None = None

    def keep_full_text(self, keyring: Keyring) -> None:
        """Seal, from now on, the full text of every free-text field of a lifecycle detail that the event
        carries redacted: it travels beside it (``data.sealed``) to intake's vault. Set at start by the
        services that receive free text from outside (router: departments' notes; feedback: comments)."""
        self._vault = keyring

    def lifecycle(
        self,
        type_: str,
        ticket_id: str,
        status: TicketStatus | None,
        summary: str,
        detail: Detail,
        *,
        actor: str | None = None,
        event_id: str | None = None,
        time: datetime | None = None,
    ) -> CloudEvent:
        """A ``ticket.lifecycle`` event about ``ticket_id``; ``actor`` overrides the emitter's (a person)."""
        spec = registered(type_)
        if spec.detail is None:
            raise ContractError(f"{type_} is not a ticket.lifecycle type")
        _check(type_, detail, spec.detail)
        sealed = None
        if self._vault is not None:
            texts = seal_free_texts(self._vault, ticket_id, detail.model_dump(mode="json"), path="detail")
            sealed = [
                SealedText(
                    path=path,
                    key_id=s.key_id,
                    wrapped_key=base64.b64encode(s.wrapped_key).decode(),
                    sealed=base64.b64encode(s.sealed).decode(),
                )
                for path, s in texts
            ] or None
        data = spec.data(
            ticket_id=ticket_id,
            status=status,
            actor=actor or self.actor,
            summary=summary,
            detail=detail,
            sealed=sealed,
        )
        # Without sealed text the data keeps the one lifecycle shape (lifecycle.py).
        return self._event(type_, ticket_id, data, event_id, time, exclude=None if sealed else {"sealed"})

    def task(
        self, type_: str, data: BaseModel, *, event_id: str | None = None, time: datetime | None = None
    ) -> CloudEvent:
        """A ``dept.{dept_code}.tasks`` event; its subject is the task's ticket."""
        spec = registered(type_)
        if DEPT_TASKS not in spec.topics:
            raise ContractError(f"{type_} does not travel on {DEPT_TASKS}")
        _check(type_, data, spec.data)
        return self._event(type_, str(getattr(data, "ticket_id")), data, event_id, time)  # noqa: B009

    def event(
        self,
        type_: str,
        data: BaseModel,
        *,
        subject: str | None,
        event_id: str | None = None,
        time: datetime | None = None,
    ) -> CloudEvent:
        """Any other registered type (e.g. ``control.mode``), with its subject."""
        _check(type_, data, registered(type_).data)
        return self._event(type_, subject, data, event_id, time)

    def _event(
        self,
        type_: str,
        subject: str | None,
        data: BaseModel,
        event_id: str | None,
        time: datetime | None,
        *,
        exclude: set[str] | None = None,
    ) -> CloudEvent:
        fields: dict[str, Any] = {"type": type_, "source": self.source, "subject": subject}
        if event_id is not None:
            fields["id"] = event_id
        if time is not None:
            fields["time"] = time
        # Free text (descriptions, notes, reasons, comments, summaries) never carries a phone number, an ID
        # number, a bank card or an e-mail address onto a topic: each is masked here, whoever typed it.
        return CloudEvent(data=redact_fields(data.model_dump(mode="json", exclude=exclude)), **fields)


def _check(type_: str, data: BaseModel, expected: type[BaseModel]) -> None:
    if type(data) is not expected:
        raise ContractError(f"{type_} carries {expected.__name__}, not {type(data).__name__}")
