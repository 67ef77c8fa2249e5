"""Dispatching a ticket: classify it, place it, route it (rules.route); then merge it into an open case
(并单, cases/flows.py), or record the assignments and send the tasks (主办 + 协办), or hand it over, or
queue it for a dispatcher. Every outcome is announced on ticket.lifecycle with ``why``."""

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from types import MappingProxyType
from typing import Any

from cityloop.common.contract import types
from cityloop.common.contract.lifecycle import (
    AssistAssignment,
    CataloguePolicy,
    DeptArea,
    Dispatched,
    HandedOver,
    NeedsDispatcher,
    RoutedLocation,
    RoutingDetail,
    TicketCreated,
)
from cityloop.common.contract.models import TaskMode, TicketSnapshot, TicketStatus
from cityloop.common.contract.parsing import parse_lifecycle
from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.router import metrics
from cityloop.router.cases import store as cases
from cityloop.router.cases.flows import matching_case, merge_into, restate_members
from cityloop.router.cases.rules import joining
from cityloop.router.context import RouterContext
from cityloop.router.dispatch import store
from cityloop.router.dispatch.classify import classify
from cityloop.router.dispatch.location import Location, locate
from cityloop.router.dispatch.rules import Classification, Decision, RoutingTicket, route
from cityloop.router.effects import ACTOR, EMIT, announce, assign, chain_of, effective_urgency, task_unit
from cityloop.router.emergencies import metrics as emergency_metrics
from cityloop.router.emergencies import rules as emergency_rules
from cityloop.router.masterdata.model import MasterData


def location_detail(location: Location) -> RoutedLocation:
    return RoutedLocation(chain=chain_of(location), level=location.level, how=location.how)


async def on_ticket_created(conn: Conn, event: CloudEvent, ctx: RouterContext) -> None:
    data = parse_lifecycle(event, TicketCreated)
    if data.status is TicketStatus.CLOSED:
        return  # a consultation the operator answered on the spot (直接答复): nobody to dispatch it to
    snapshot = data.detail
    inserted = await store.upsert_ticket(
        conn,
        {
            "ticket_id": data.ticket_id,
            "category": snapshot.category,
            "description": snapshot.description,
            "location": snapshot.location.model_dump(mode="json"),
            "urgency": snapshot.urgency.value,
            "citizen": snapshot.citizen.model_dump(mode="json"),
            "status": TicketStatus.RECEIVED.value,
            "created_at": snapshot.created_at,
        },
    )
    if not inserted:
        return  # the same ticket announced twice under two event ids: routed already
    # The modes lock is taken here too: shared with every other routing, exclusive for a declaration or
    # stand-down (emergencies/flows.py), so this ticket commits under the set of emergencies it was routed
    # by before that set changes.
    master, model = await ctx.routing_state(conn)
    classification = classify(snapshot, model, master)
    location = locate(snapshot.location.address, snapshot.location.lat, snapshot.location.lon, master)
    decision = route(RoutingTicket(data.ticket_id, classification, location), master, ctx.modes, policy=ctx.policy)
    metrics.CONFIDENCE.observe(classification.confidence)
    result = await apply_decision(
        conn,
        ticket_id=data.ticket_id,
        snapshot=snapshot,
        classification=classification,
        location=location,
        decision=decision,
        master=master,
        now=event.time,
        # 主动发现: the city's own task about a recurring problem is never a duplicate of the citizens' requests.
        merge=snapshot.channel != "proactive",
        first=True,
    )
    metrics.decided(result, decision.queue_reason)


async def apply_decision(
    conn: Conn,
    *,
    ticket_id: str,
    snapshot: TicketSnapshot,
    classification: Classification,
    location: Location,
    decision: Decision,
    master: MasterData,
    now: datetime,
    actor: str = ACTOR,
    merge: bool = True,
    final: bool = False,
    replaces: Sequence[str] = (),
    kept_assists: Mapping[str, str] = MappingProxyType({}),
    routing: RoutingDetail | None = None,
    first: bool = False,
) -> str:
    """Carry out ``decision``; returns what happened: dispatched, merged, handed_over or needs_dispatcher.
    ``routing`` says how the decision came about (a dispatcher's confirmation, correction, arbitration).
    ``kept_assists`` (dept code -> assignment id): live assist tasks the re-routing keeps, not sent again.
    ``first``: the ticket was never routed before (on_ticket_created), so it is in no case yet."""
    extra: dict[str, Any] = routing.model_dump(exclude_none=True) if routing is not None else {}
    if replaces:
        extra["replaces"] = list(replaces)
    emergency = decision.emergency if decision.outcome == "dispatch" else None
    mode = TaskMode(kind="emergency", emergency_id=emergency.id) if emergency else TaskMode()
    status = {
        "handover": TicketStatus.HANDED_OVER,
        "needs_dispatcher": TicketStatus.NEEDS_DISPATCHER,
        "dispatch": TicketStatus.DISPATCHED,
    }[decision.outcome]
    await store.record_decision(
        conn,
        ticket_id,
        status=status.value,
        category=decision.category.code if decision.category else None,
        classification={**asdict(classification), "candidates": [list(c) for c in classification.candidates]},
        resolved={
            **location_detail(location).model_dump(mode="json"),
            "district": location.district,
            "problem": location.problem,
            "point": list(location.point) if location.point else None,
        },
        decision={"outcome": decision.outcome, "why": decision.why_record(), "queue_reason": decision.queue_reason},
        queue_reason=decision.queue_reason,
        emergency_id=emergency.id if emergency else None,
    )
    if decision.outcome == "handover":
        await announce(
            conn,
            EMIT.lifecycle(
                types.TICKET_HANDED_OVER,
                ticket_id,
                status,
                f"handed over to {decision.handover_to}",
                HandedOver(handover_to=decision.handover_to or "", why=decision.why_record(), **extra),
                actor=actor,
            ),
        )
        return "handed_over"
    if decision.outcome == "needs_dispatcher" or decision.lead is None or decision.category is None:
        await announce(
            conn,
            EMIT.lifecycle(
                types.TICKET_NEEDS_DISPATCHER,
                ticket_id,
                TicketStatus.NEEDS_DISPATCHER,
                f"needs a dispatcher: {decision.queue_reason}",
                NeedsDispatcher(queue_reason=decision.queue_reason, why=decision.why_record(), **extra),
                actor=actor,
            ),
        )
        return "needs_dispatcher"
    category = decision.category
    # 一件事: under an emergency near-duplicates merge into incidents over a wider radius, a shorter window.
    merging = emergency_rules.incident_category(category) if emergency else category
    if merge and (match := await matching_case(conn, merging, location, now)) is not None:
        await merge_into(
            conn,
            ticket_id=ticket_id,
            case=match.case_id,
            decision=joining(decision, match),
            master=master,
            actor=actor,
            category=category.code,
            location=location_detail(location),
        )
        return "merged"
    if emergency is not None:
        extra.update(
            mode=mode.model_dump(mode="json"),
            command_unit=emergency.command_unit,
            emergency_deadlines=emergency.deadlines.model_dump(mode="json"),
        )
        emergency_metrics.first_routing(emergency)

    lead_id = await assign(
        conn,
        ticket_id=ticket_id,
        snapshot=snapshot,
        dept=decision.lead,
        role="lead",
        category=category,
        location=location,
        why=decision.why_record(),
        final=final,
        mode=mode,
        unit=decision.unit,
    )
    assists = []
    for dept in decision.assists:
        if dept.code in kept_assists:
            assists.append(AssistAssignment(dept_code=dept.code, assignment_id=kept_assists[dept.code]))
            continue
        assist_id = await assign(
            conn,
            ticket_id=ticket_id,
            snapshot=snapshot,
            dept=dept,
            role="assist",
            category=category,
            location=location,
            why=decision.why_record(),
            mode=mode,
        )
        assists.append(AssistAssignment(dept_code=dept.code, assignment_id=assist_id))
    # A ticket routed for the first time belongs to no case yet: no need to ask.
    existing = None if first else await cases.case_of_ticket(conn, ticket_id)
    case_id = existing["id"] if existing else f"C-{ticket_id}"
    if existing is not None and existing["lead_ticket"] == ticket_id:
        # A case re-dispatched (correction, 改派, arbitration): its merged tickets follow the new lead.
        await restate_members(
            conn,
            case_id=case_id,
            lead_ticket=ticket_id,
            lead=decision.lead,
            assignment_id=lead_id,
            why=decision.why_record(),
            replaces=replaces,
            actor=actor,
        )
    if existing is None:
        await cases.insert_case(
            conn,
            case_id=case_id,
            category=category.code,
            lead_ticket=ticket_id,
            point=location.point,
            grid=location.grid,
            opened_at=now,
            emergency_id=emergency.id if emergency else None,
        )
    await announce(
        conn,
        EMIT.lifecycle(
            types.TICKET_DISPATCHED,
            ticket_id,
            TicketStatus.DISPATCHED,
            f"dispatched to {decision.lead.name} as lead" + (f", {len(assists)} assisting" if assists else ""),
            Dispatched(
                dept_code=decision.lead.code,
                dept_name=decision.lead.name,
                # Where the lead itself sits: which area scores its staff may read (feedback scores/access.py).
                dept_area=DeptArea(
                    level=decision.lead.level, district=decision.lead.district, street=decision.lead.street
                ),
                assignment_id=lead_id,
                role="lead",
                category=category.code,
                urgency=effective_urgency(snapshot, category),
                # What the catalogue says, and when the citizen reported it: sla computes every deadline.
                reported_at=snapshot.created_at,
                policy=CataloguePolicy(accept_days=category.accept_days, resolve_days=category.resolve_days),
                supervisors=list(decision.supervisors),
                desks=master.desks(decision.lead),
                assists=assists,
                case_id=case_id,
                location=location_detail(location),
                final=final,
                why=decision.why_record(),
                unit=task_unit(decision.unit) if decision.unit else None,
                **extra,
            ),
            actor=actor,
        ),
    )
    return "dispatched"
