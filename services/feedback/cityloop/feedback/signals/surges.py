"""Surge detection, pure: many tickets of one category group in one area in a short window, against
that area's normal rate. The worker keeps one ``SurgeState`` per (district, category group) in a faust
table and calls ``observe`` for every sighting; nothing here touches a broker.

- The window slides in buckets (default 1 hour in 5-minute buckets). A bucket that leaves the window is
  folded into the normal rate: an exponentially weighted mean per bucket (half-life 7 days), kept for the
  district and for each of its streets.
- A street or the district surges when its count in the window reaches
  ``threshold = max(min_count, ceil(ratio × max(normal count for a window, floor)))``. The floor keeps a
  quiet area (normal ≈ 0) from surging on a handful of tickets.
- One proposal per surge: while the group stays above its threshold somewhere in the district, or has
  been within the cooldown, nothing new is proposed, and the surge's buckets are kept out of the normal
  rate (a long surge would otherwise become the new normal).
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from cityloop.common.contract.proposals import EmergencyProposed, ProposedScope

Level = Literal["I", "II", "III", "IV"]
NO_STREET = ""


@dataclass(frozen=True)
class SurgeRules:
    window_seconds: int = 3600
    bucket_seconds: int = 300
    #: A surge is this many times the normal count for the window ...
    ratio: float = 3.0
    #: ... where the normal count is taken to be at least this (tickets per window) ...
    floor: float = 2.0
    #: ... and at least this many tickets.
    min_count: int = 10
    half_life_seconds: float = 7 * 86400
    #: After the last moment above threshold, how long a new crossing still counts as the same surge.
    cooldown_seconds: int = 3600

    def __post_init__(self) -> None:
        if self.bucket_seconds <= 0 or self.window_seconds % self.bucket_seconds:
            raise ValueError("window_seconds must be a positive multiple of bucket_seconds")
        if self.ratio <= 0 or self.floor <= 0 or self.min_count < 1 or self.half_life_seconds <= 0:
            raise ValueError("ratio, floor and half_life_seconds must be > 0, min_count >= 1")

    @property
    def buckets_per_window(self) -> int:
        return self.window_seconds // self.bucket_seconds

    @property
    def decay(self) -> float:
        """What is left of the normal rate after one bucket: 0.5 ** (bucket / half-life)."""
        return float(0.5 ** (self.bucket_seconds / self.half_life_seconds))


def threshold(normal: float, rules: SurgeRules) -> int:
    """Tickets in the window that make a surge, given the area's normal count for a window."""
    return max(rules.min_count, math.ceil(rules.ratio * max(normal, rules.floor) - 1e-9))


def suggested_level(count: int, needed: int) -> Level:
    """IV at the threshold; III from twice it, II from four times, I from eight times."""
    times = count / needed
    if times >= 8:
        return "I"
    if times >= 4:
        return "II"
    if times >= 2:
        return "III"
    return "IV"


class OpenSurge(BaseModel):
    proposal_id: str
    started_at: float
    last_above: float


class SurgeState(BaseModel):
    """One (district, category group). Buckets map a bucket start (epoch seconds) to counts per
    "street|category" cell; only buckets still in the window are kept."""

    buckets: dict[int, dict[str, int]] = Field(default_factory=dict)
    #: Normal tickets per bucket, for the district and per street.
    normal: float = 0.0
    street_normal: dict[str, float] = Field(default_factory=dict)
    #: Buckets starting before this are in the normal rates already (or were skipped).
    folded_until: int | None = None
    surge: OpenSurge | None = None


def _cell(street: str | None, category: str) -> str:
    return f"{street or NO_STREET}|{category}"


def _split(cell: str) -> tuple[str, str]:
    street, category = cell.split("|", 1)
    return street, category


def _fold(state: SurgeState, first_in_window: int, rules: SurgeRules, surging: bool) -> None:
    """Move buckets that left the window into the normal rates (skipped while a surge lasts)."""
    if state.folded_until is None:
        state.folded_until = min([first_in_window, *state.buckets])
    leaving = sorted(b for b in state.buckets if b < first_in_window)
    cursor = state.folded_until
    for start in [*leaving, first_in_window]:
        if start < cursor:
            continue
        if not surging:
            empty = (start - cursor) // rules.bucket_seconds
            keep = rules.decay**empty
            state.normal *= keep
            for street in state.street_normal:
                state.street_normal[street] *= keep
            if start != first_in_window:
                cells = state.buckets[start]
                state.normal = state.normal * rules.decay + (1 - rules.decay) * sum(cells.values())
                per_street: dict[str, int] = {}
                for cell, n in cells.items():
                    street, _ = _split(cell)
                    if street != NO_STREET:
                        per_street[street] = per_street.get(street, 0) + n
                for street in set(state.street_normal) | set(per_street):
                    before = state.street_normal.get(street, 0.0)
                    state.street_normal[street] = before * rules.decay + (1 - rules.decay) * per_street.get(street, 0)
        cursor = start + rules.bucket_seconds if start != first_in_window else start
    for start in leaving:
        del state.buckets[start]
    state.folded_until = max(state.folded_until, first_in_window)


def _copy(state: SurgeState) -> SurgeState:
    """A copy ``observe`` may change without touching ``state``. The values are numbers and strings, so
    copying the containers is enough: a third of the cost of ``model_copy(deep=True)``'s generic deepcopy,
    once per counted ticket."""
    return state.model_copy(
        update={
            "buckets": {start: dict(cells) for start, cells in state.buckets.items()},
            "street_normal": dict(state.street_normal),
            "surge": None if state.surge is None else state.surge.model_copy(),
        }
    )


def observe(
    state: SurgeState, *, at: datetime, street: str | None, category: str, district: str, rules: SurgeRules
) -> tuple[SurgeState, EmergencyProposed | None]:
    """Count one ticket; returns the new state and a proposal when this ticket starts a surge."""
    s = _copy(state)
    t = at.timestamp()
    bucket = int(t // rules.bucket_seconds) * rules.bucket_seconds
    newest = max([bucket, *s.buckets])
    first_in_window = newest - rules.window_seconds + rules.bucket_seconds
    surging = s.surge is not None and t - s.surge.last_above < rules.cooldown_seconds
    _fold(s, first_in_window, rules, surging)
    if bucket < first_in_window or (s.folded_until is not None and bucket < s.folded_until):
        return s, None  # too late to be in any window still open: counted for hot spots only
    cells = s.buckets.setdefault(bucket, {})
    cell = _cell(street, category)
    cells[cell] = cells.get(cell, 0) + 1

    per_window = rules.buckets_per_window
    street_counts: dict[str, int] = {}
    categories: dict[str, int] = {}
    for counts in s.buckets.values():
        for c, n in counts.items():
            st, cat = _split(c)
            if st != NO_STREET:
                street_counts[st] = street_counts.get(st, 0) + n
            categories[cat] = categories.get(cat, 0) + n
    district_count = sum(categories.values())
    crossing = [
        (st, n, s.street_normal.get(st, 0.0) * per_window)
        for st, n in street_counts.items()
        if n >= threshold(s.street_normal.get(st, 0.0) * per_window, rules)
    ]
    district_normal = s.normal * per_window
    district_above = district_count >= threshold(district_normal, rules)
    if crossing or district_above:
        if surging and s.surge is not None:
            s.surge.last_above = max(s.surge.last_above, t)
            return s, None
    else:
        return s, None

    group = category.split(".", 1)[0]
    proposal_id = f"surge-{district}-{group}-{int(t)}"
    s.surge = OpenSurge(proposal_id=proposal_id, started_at=t, last_above=t)
    if crossing:
        top, count, normal = max(crossing, key=lambda x: (x[1] / max(x[2], rules.floor), x[1], x[0]))
        scope = ProposedScope(streets=sorted(st for st, _, _ in crossing))
        by_category = _by_category(s, top)
        name = f"{district} {top} {group} surge"
    else:
        top, count, normal = None, district_count, district_normal
        scope = ProposedScope(districts=[district])
        by_category = categories
        name = f"{district} {group} surge"
    needed = threshold(normal, rules)
    ranked = sorted(by_category.items(), key=lambda kv: (-kv[1], kv[0]))
    proposal = EmergencyProposed(
        proposal_id=proposal_id,
        name=name,
        category_group=group,
        categories=[c for c, _ in ranked],
        by_category=dict(ranked),
        district=district,
        street=top,
        scope=scope,
        count=count,
        window_seconds=rules.window_seconds,
        window_start=datetime.fromtimestamp(first_in_window, UTC),
        window_end=datetime.fromtimestamp(newest + rules.bucket_seconds, UTC),
        baseline=round(normal, 3),
        threshold=needed,
        ratio=round(count / max(normal, rules.floor), 3),
        suggested_level=suggested_level(count, needed),
        proposed_at=at,
    )
    return s, proposal


def _by_category(state: SurgeState, street: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for counts in state.buckets.values():
        for c, n in counts.items():
            st, cat = _split(c)
            if st == street:
                out[cat] = out.get(cat, 0) + n
    return out
