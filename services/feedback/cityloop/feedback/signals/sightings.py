"""Which lifecycle events count as a ticket seen in a place: pure, over the contract's models."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, ValidationError

from cityloop.common.contract import types
from cityloop.common.contract.models import GridChain, LifecycleEvent
from cityloop.common.envelope import CloudEvent

#: A ticket is counted once, where router first placed it: its first dispatch, or its merge into an
#: open case (并单: many similar tickets in one place are exactly what a surge looks like).
COUNTED = frozenset({types.TICKET_DISPATCHED, types.TICKET_MERGED})
#: Detail keys that mark a second routing of a ticket already counted (re-dispatch, re-homing, split).
AGAIN = ("replaces", "split_from")


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


def sighting_of(event: CloudEvent) -> Sighting | None:
    """The sighting an event announces, or None when it does not count (other types, re-routings,
    tickets without a category or a district)."""
    if event.type not in COUNTED:
        return None
    try:
        data = LifecycleEvent.model_validate(event.data)
    except ValidationError:
        return None
    detail = data.detail
    if any(detail.get(key) for key in AGAIN):
        return None
    category = detail.get("category")
    location = detail.get("location")
    if not isinstance(category, str) or not category or not isinstance(location, dict):
        return None
    try:
        chain = GridChain.model_validate(location.get("chain") or {})
    except ValidationError:
        return None
    if not chain.district:
        return None
    return Sighting(
        ticket_id=data.ticket_id,
        at=event.time,
        category=category,
        district=chain.district,
        street=chain.street,
        grid=chain.grid,
    )
