"""``cityloop.mode.emergency_proposed``: a surge detector's proposal to declare an emergency (control.mode).

Published by feedback's stream worker (``python -m cityloop.feedback.signals``) when tickets of one
category group in one area cross their threshold; keyed (CloudEvent ``subject`` and Kafka key) by the
proposal id. It never declares anything: a person confirms (a declaration prefilled from these fields)
or dismisses it. The event id is derived from the proposal id, so a proposal re-published after a worker
restart is recognisably the same one.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cityloop.common.contract.emitter import Emitter
from cityloop.common.contract.registry import CONTROL_MODE, register
from cityloop.common.contract.types import MODE_EMERGENCY_PROPOSED
from cityloop.common.envelope import CloudEvent

Level = Literal["I", "II", "III", "IV"]


class ProposedScope(BaseModel):
    """Shaped like a declaration's scope: the surging streets, or the whole district when it is spread."""

    model_config = ConfigDict(extra="ignore")

    districts: list[str] = Field(default_factory=list)
    streets: list[str] = Field(default_factory=list)


class EmergencyProposed(BaseModel):
    model_config = ConfigDict(extra="ignore")

    proposal_id: str = Field(min_length=1)
    #: e.g. "浦东新区 花木街道 供水排水 surge"
    name: str
    #: The catalogue group (the first part of a category code, e.g. "water").
    category_group: str
    #: Leaf category codes seen in the window, most frequent first.
    categories: list[str]
    by_category: dict[str, int]
    district: str
    #: The street that surged; None when the surge is spread over the district.
    street: str | None = None
    scope: ProposedScope
    #: Tickets in the window (in the street when ``street`` is set, else in the district).
    count: int = Field(ge=0)
    window_seconds: int = Field(gt=0)
    window_start: datetime
    window_end: datetime
    #: The area's normal count for a window of that length (exponentially weighted), before the floor.
    baseline: float = Field(ge=0)
    #: The count that had to be reached: max(min_count, ratio × max(baseline, floor)).
    threshold: int = Field(ge=1)
    #: count ÷ max(baseline, floor)
    ratio: float = Field(ge=0)
    suggested_level: Level
    proposed_at: datetime


def proposal_event(proposal: EmergencyProposed, *, source: str) -> CloudEvent:
    return Emitter(source=source, actor="feedback").event(
        MODE_EMERGENCY_PROPOSED,
        proposal,
        subject=proposal.proposal_id,
        event_id=f"{proposal.proposal_id}:proposed",
        time=proposal.proposed_at,
    )


register(
    MODE_EMERGENCY_PROPOSED,
    EmergencyProposed,
    topics=CONTROL_MODE,
    description="A surge detector proposes an emergency (feedback's stream worker); a person confirms or dismisses it.",
)
