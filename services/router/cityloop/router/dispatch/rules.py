"""The routing decision: a pure function of (ticket, master data, active modes). No I/O here.

route(ticket, master, modes) -> Decision says who leads (主办), who assists (协办), that the matter goes to
110/119/120/122, or why a person must decide; ``why`` explains it for the trail.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

from cityloop.common import emergency_scope
from cityloop.common.contract.emergencies import Emergency
from cityloop.router.dispatch.location import Location
from cityloop.router.emergencies import rules as emergency_rules
from cityloop.router.masterdata.model import PLATFORM, Category, Department, MasterData, Responsibility, Unit


@dataclass(frozen=True)
class Classification:
    """What the ticket is about and how sure we are. ``source``: call_taker, model or dispatcher."""

    category: str | None
    #: the model's is calibrated (classification/calibration.py); a person's is 1.0
    confidence: float
    source: str
    candidates: tuple[tuple[str, float], ...] = ()
    keywords: tuple[str, ...] = ()
    #: calibrated top-1 minus top-2
    margin: float = 1.0
    #: (confidence, margin) the model asks of this category to route it without a person; None: the
    #: policy's confidence_threshold applies
    bar: tuple[float, float] | None = None


@dataclass(frozen=True)
class RoutingPolicy:
    #: below this a dispatcher confirms the category (the dispatcher queue), for a classification that
    #: brings no calibrated bar of its own
    confidence_threshold: float = 0.5
    #: 110/119/120/122 matters are handed over from this confidence on: a missed fire costs more than a
    #: needless call to 119, so the bar is lower than for routing
    handover_threshold: float = 0.3


#: An emergency in force (control.mode); peacetime routing gets none.
ActiveMode = Emergency


@dataclass(frozen=True)
class RoutingTicket:
    ticket_id: str
    classification: Classification
    location: Location
    #: a dispatcher's explicit lead (correction or arbitration); still checked against master data
    lead_override: str | None = None


Outcome = Literal["dispatch", "handover", "needs_dispatcher"]


@dataclass(frozen=True)
class Decision:
    """Immutable, ``why`` included: a flow that learns more (a merge, say) makes a new one with ``explained``."""

    outcome: Outcome
    why: Mapping[str, object]
    category: Category | None = None
    lead: Department | None = None
    assists: tuple[Department, ...] = ()
    handover_to: str | None = None
    #: why a person must decide: unclassified, low_confidence, unresolved_location, no_unit
    queue_reason: str | None = None
    supervisors: tuple[str, ...] = field(default=())
    #: the emergency the ticket is routed under; None in peacetime
    emergency: Emergency | None = None
    #: 五级应用: the residents' committee or grid team that leads, when ``lead`` is its street's platform
    unit: Unit | None = None

    def __post_init__(self) -> None:
        # A read-only copy: the caller's dict can change without changing the decision, and nobody can
        # write into the decision's.
        object.__setattr__(self, "why", MappingProxyType(dict(self.why)))

    def explained(self, **more: object) -> "Decision":
        """The same decision with more reasons in ``why``."""
        return replace(self, why={**self.why, **more})

    def why_record(self) -> dict[str, object]:
        """``why`` as a plain dict, for JSON (trail, database, HTTP)."""
        return dict(self.why)


def _area_of(resp: Responsibility, location: Location) -> tuple[str | None, str | None] | None:
    """(district, street) the unit must serve, or None when the location is not precise enough. A
    community or grid unit is served through its street: the street must be known."""
    if resp.level == "city":
        return None, None
    if resp.level == "district":
        return (location.district, None) if location.district else None
    return (location.district, location.street) if location.street else None


def unit_for(resp: Responsibility, location: Location, master: MasterData) -> Department | None:
    """The department that receives the task: for a community or grid unit, its street's platform."""
    area = _area_of(resp, location)
    if area is None:
        return None
    if resp.below_platforms:
        return master.platform(area[1])
    return master.unit(resp.type, resp.level, district=area[0], street=area[1])


def lower_unit(resp: Responsibility, location: Location, master: MasterData) -> Unit | None:
    """The residents' committee or grid team at ``location``, when the location reaches that level."""
    if not resp.below_platforms:
        return None
    return master.lower_unit(resp.level, community=location.community, grid=location.grid)


def allowed_owner(dept: Department, category: Category, location: Location) -> bool:
    """May ``dept`` own ``category`` at ``location`` per the catalogue (its lead or an assist type, serving
    that place)? Used when a department suggests another owner (改派)."""
    for resp in (category.lead, *category.assists):
        if resp is not None and resp.below_platforms and dept.type == PLATFORM:
            # 五级应用: the street's platform answers for its communities and grids.
            if dept.street == location.street:
                return True
            continue
        if resp is None or resp.type != dept.type or resp.level != dept.level:
            continue
        if dept.level == "city":
            return True
        if dept.level == "district" and dept.district == location.district:
            return True
        if dept.level == "street" and dept.street == location.street:
            return True
    return False


def _why(ticket: RoutingTicket, category: Category | None, master: MasterData) -> dict[str, object]:
    c = ticket.classification
    why: dict[str, object] = {
        "category": c.category,
        "confidence": round(c.confidence, 4),
        "classified_by": c.source,
        "location": ticket.location.describe(master),
        "location_how": ticket.location.how,
    }
    if category is not None:
        why["category_name"] = category.name
    if c.keywords:
        why["keywords"] = list(c.keywords)
    if c.candidates and c.source == "model":
        why["candidates"] = [[code, p] for code, p in c.candidates]
        why["margin"] = round(c.margin, 4)
    if c.bar is not None:
        why["bar"] = {"confidence": c.bar[0], "margin": c.bar[1]}
    if ticket.location.problem:
        why["location_problem"] = ticket.location.problem
    return why


def unsure(c: Classification, policy: RoutingPolicy) -> str | None:
    """Why ``c`` is not sure enough to route without a person, or None when it is."""
    if c.bar is None:
        if c.confidence < policy.confidence_threshold:
            return f"classification confidence {c.confidence:.2f} below {policy.confidence_threshold:.2f}"
        return None
    confidence, margin = c.bar
    if c.confidence < confidence:
        return f"calibrated confidence {c.confidence:.2f} below {confidence:.2f}"
    if c.margin < margin:
        return f"margin over the runner-up {c.margin:.2f} below {margin:.2f}"
    return None


def _to_dispatcher(reason: str, problem: str, why: dict[str, object], category: Category | None) -> Decision:
    return Decision("needs_dispatcher", {**why, "problem": problem}, category=category, queue_reason=reason)


def route(
    ticket: RoutingTicket,
    master: MasterData,
    modes: Sequence[ActiveMode] = (),
    *,
    policy: RoutingPolicy = RoutingPolicy(),
) -> Decision:
    c = ticket.classification
    category = master.categories.get(c.category or "")
    why = _why(ticket, category, master)
    if category is None:
        return _to_dispatcher("unclassified", f"no catalogue category for {c.category!r}", why, None)
    if category.handover_to and c.confidence >= policy.handover_threshold:
        why["rule"] = f"{category.code} is handed over to {category.handover_to}, never routed"
        return Decision("handover", why, category=category, handover_to=category.handover_to)
    if (problem := unsure(c, policy)) is not None:
        return _to_dispatcher("low_confidence", problem, why, category)
    emergency = emergency_scope.applicable(modes, category.code, ticket.location.district, ticket.location.street)
    if emergency is not None and (under := emergency_rules.route_under(emergency, category, master)) is not None:
        # 平战结合: in scope of an emergency the command unit leads whatever the catalogue says, and every
        # participating department acts at once; a dispatcher's named lead gives way to the command.
        why.update(under.why)
        if ticket.lead_override:
            why["lead_override_ignored"] = ticket.lead_override
        return Decision(
            "dispatch",
            why,
            category=category,
            lead=under.lead,
            assists=under.joint,
            supervisors=(under.lead.code,),
            emergency=emergency,
        )
    if category.lead is None:
        return _to_dispatcher("no_unit", f"{category.code} has no responsible department", why, category)

    lead_unit: Unit | None = None
    if ticket.lead_override:
        lead = master.departments.get(ticket.lead_override)
        if lead is None:
            return _to_dispatcher("no_unit", f"no department {ticket.lead_override!r}", why, category)
        why["rule"] = f"dispatcher's choice: {lead.code}"
    else:
        found = unit_for(category.lead, ticket.location, master)
        if found is None:
            if _area_of(category.lead, ticket.location) is None:
                problem = f"{category.code} needs a {category.lead.level}-level location: " + (
                    ticket.location.problem or f"only resolved to {ticket.location.level}"
                )
                return _to_dispatcher("unresolved_location", problem, why, category)
            return _to_dispatcher("no_unit", f"no {category.lead} unit serves that location", why, category)
        lead = found
        why["rule"] = f"{category.code} -> {category.lead}"
        if category.lead.below_platforms:
            lead_unit = lower_unit(category.lead, ticket.location, master)
            if lead_unit is not None:
                why["unit"] = f"{lead_unit.name} ({lead_unit.code}), through the platform {lead.code}"
            else:
                why["unit_problem"] = (
                    f"the location does not reach the {category.lead.level}: the street's platform assigns it"
                )
    assists = []
    unplaced = []
    for resp in category.assists:
        unit = unit_for(resp, ticket.location, master)
        if unit is None:
            unplaced.append(str(resp))
        elif unit.code != lead.code:
            assists.append(unit)
    if category.assists:
        why["assist_rule"] = [str(r) for r in category.assists]
    if unplaced:
        why["assists_unplaced"] = unplaced
    return Decision(
        "dispatch",
        why,
        category=category,
        lead=lead,
        assists=tuple(assists),
        supervisors=tuple(master.supervisors(lead)),
        unit=lead_unit,
    )
