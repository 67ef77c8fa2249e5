"""Which lifecycle events count as a ticket seen in a place: pure, over the contract's models."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from cityloop.common.contract import types
from cityloop.common.contract.lifecycle import Dispatched, Merged
from cityloop.common.contract.parsing import SchemaError, parse_lifecycle
from cityloop.common.envelope import CloudEvent, peek_type

#: A ticket is counted once, where router first placed it: its first dispatch, or its merge into an
#: open case (并单: many similar tickets in one place are exactly what a surge looks like).
COUNTED = frozenset({types.TICKET_DISPATCHED, types.TICKET_MERGED})


class Sighting(BaseModel):
    """One ticket of one category placed in one area; the record on the worker's repartition topic."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    ticket_id: str
    at: datetime
    category: str
    district: str
    street: str | None = None
    grid: str | None = None

    @property
    def group(self) -> str:
        """The catalogue group: the first part of the category code (sanitation.garbage -> sanitation)."""
        return self.category.split(".", 1)[0]


def may_count(raw: bytes | None) -> bool:
    """False when the message's type, read from its bytes without parsing (envelope.peek_type), is not a
    counted one: most of ticket.lifecycle is passed over that way. True says only "parse it and see"
    (``sighting_of``); a type that cannot be read cheaply is parsed too."""
    if raw is None:
        return False
    peeked = peek_type(raw)
    return peeked is None or peeked in COUNTED


def sighting_of(event: CloudEvent) -> Sighting | None:
    """The sighting an event announces, or None when it does not count (other types, re-routings,
    tickets without a category or a district)."""
    if event.type not in COUNTED:
        return None
    try:
        data = parse_lifecycle(event)
    except SchemaError:
        return None  # the trail's consumers send it to the DLQ; here it is simply not a sighting
    detail = data.detail
    if isinstance(detail, Dispatched):
        if detail.replaces or detail.split_from:
            return None  # a second routing of a ticket already counted (re-dispatch, re-homing, split)
        category, chain = detail.category, detail.location.chain
    elif isinstance(detail, Merged) and detail.category and detail.location is not None and not detail.replaces:
        category, chain = detail.category, detail.location.chain
    else:
        return None
    if not category or not chain.district:
        return None
    return Sighting(
        ticket_id=data.ticket_id,
        at=event.time,
        category=category,
        district=chain.district,
        street=chain.street,
        grid=chain.grid,
    )
