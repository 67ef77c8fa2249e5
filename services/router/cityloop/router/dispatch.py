"""Dispatching a ticket: classify it, place it, route it; then merge it into an open case (并单), or
record the assignments and send the tasks (主办 + 协办), or hand it over, or queue it for a dispatcher.
Every outcome is announced on ticket.lifecycle with ``why``."""

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from cityloop.common.contract import types
from cityloop.common.contract.models import LifecycleEvent, TicketSnapshot, TicketStatus
from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.router import queries
from cityloop.router.assignments import (
    ACTOR,
    announce,
    assign,
    chain_of,
    effective_urgency,
    lifecycle,
    tell,
)
from cityloop.router.classification.model import TextClassifier
from cityloop.router.context import RouterContext
from cityloop.router.location import Location, locate
from cityloop.router.masterdata import MasterData
from cityloop.router.merging import OpenCase, find_case
from cityloop.router.routing import Classification, Decision, RoutingTicket, route


def classify(snapshot: TicketSnapshot, model: TextClassifier | None, master: MasterData) -> Classification:
    """The call-taker's category when it is a catalogue category, else the model's reading of the text."""
    if snapshot.category and snapshot.category in master.categories:
        return Classification(snapshot.category, 1.0, "call_taker")
    if model is None:
        return Classification(None, 0.0, "none")
    p = model.predict(snapshot.description)
    return Classification(p.category, p.confidence, "model", tuple(p.candidates), tuple(p.keywords))


def location_detail(location: Location) -> dict[str, Any]:
    return {"chain": chain_of(location).model_dump(), "level": location.level, "how": location.how}


async def on_ticket_created(conn: Conn, event: CloudEvent, ctx: RouterContext) -> None:
    data = LifecycleEvent.model_validate(event.data)
    if data.status is TicketStatus.CLOSED:
        return  # a consultation the operator answered on the spot (直接答复): nobody to dispatch it to
    snapshot = TicketSnapshot.model_validate(data.detail)
    inserted = await queries.upsert_ticket(
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
    master = await ctx.master.current(conn)
    _, model = await ctx.models.current(conn)
    classification = classify(snapshot, model, master)
    location = locate(snapshot.location.address, snapshot.location.lat, snapshot.location.lon, master)
    decision = route(RoutingTicket(data.ticket_id, classification, location), master, ctx.modes, policy=ctx.policy)
    await apply_decision(
        conn,
        ticket_id=data.ticket_id,
        snapshot=snapshot,
        classification=classification,
        location=location,
        decision=decision,
        master=master,
        now=event.time,
    )


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
    extra: dict[str, Any] | None = None,
) -> str:
    """Carry out ``decision``; returns what happened: dispatched, merged, handed_over or needs_dispatcher."""
    extra = dict(extra or {})
    if replaces:
        extra["replaces"] = list(replaces)
    status = {
        "handover": TicketStatus.HANDED_OVER,
        "needs_dispatcher": TicketStatus.NEEDS_DISPATCHER,
        "dispatch": TicketStatus.DISPATCHED,
    }[decision.outcome]
    await queries.record_decision(
        conn,
        ticket_id,
        status=status.value,
        category=decision.category.code if decision.category else None,
        classification={**asdict(classification), "candidates": [list(c) for c in classification.candidates]},
        resolved={
            **location_detail(location),
            "district": location.district,
            "problem": location.problem,
            "point": list(location.point) if location.point else None,
        },
        decision={"outcome": decision.outcome, "why": decision.why, "queue_reason": decision.queue_reason},
        queue_reason=decision.queue_reason,
    )
    if decision.outcome == "handover":
        await announce(
            conn,
            lifecycle(
                ticket_id,
                types.TICKET_HANDED_OVER,
                status,
                f"handed over to {decision.handover_to}",
                actor=actor,
                handover_to=decision.handover_to,
                why=decision.why,
                **extra,
            ),
        )
        return "handed_over"
    if decision.outcome == "needs_dispatcher" or decision.lead is None or decision.category is None:
        await announce(
            conn,
            lifecycle(
                ticket_id,
                types.TICKET_NEEDS_DISPATCHER,
                TicketStatus.NEEDS_DISPATCHER,
                f"needs a dispatcher: {decision.queue_reason}",
                actor=actor,
                queue_reason=decision.queue_reason,
                why=decision.why,
                **extra,
            ),
        )
        return "needs_dispatcher"
    category = decision.category
    if merge and (case := await _matching_case(conn, decision, location, now)) is not None:
        await merge_into(conn, ticket_id=ticket_id, case=case, decision=decision, actor=actor)
        return "merged"

    lead_id, deadlines = await assign(
        conn,
        ticket_id=ticket_id,
        snapshot=snapshot,
        dept=decision.lead,
        role="lead",
        category=category,
        location=location,
        why=decision.why,
        now=now,
        final=final,
    )
    assists = []
    for dept in decision.assists:
        assist_id, _ = await assign(
            conn,
            ticket_id=ticket_id,
            snapshot=snapshot,
            dept=dept,
            role="assist",
            category=category,
            location=location,
            why=decision.why,
            now=now,
        )
        assists.append({"dept_code": dept.code, "assignment_id": assist_id, "role": "assist"})
    existing = await queries.case_of_ticket(conn, ticket_id)
    case_id = existing["id"] if existing else f"C-{ticket_id}"
    if existing is None:
        await queries.insert_case(
            conn,
            case_id=case_id,
            category=category.code,
            lead_ticket=ticket_id,
            point=location.point,
            grid=location.grid,
            opened_at=now,
        )
    await announce(
        conn,
        lifecycle(
            ticket_id,
            types.TICKET_DISPATCHED,
            TicketStatus.DISPATCHED,
            f"dispatched to {decision.lead.name} as lead" + (f", {len(assists)} assisting" if assists else ""),
            actor=actor,
            dept_code=decision.lead.code,
            assignment_id=lead_id,
            role="lead",
            category=category.code,
            urgency=effective_urgency(snapshot, category).value,
            deadlines=deadlines.model_dump(mode="json"),
            policy={"accept_days": category.accept_days, "resolve_days": category.resolve_days},
            supervisors=list(decision.supervisors),
            assists=assists,
            case_id=case_id,
            location=location_detail(location),
            final=final,
            why=decision.why,
            **extra,
        ),
    )
    return "dispatched"


async def _matching_case(conn: Conn, decision: Decision, location: Location, now: datetime) -> str | None:
    category = decision.category
    if category is None or not category.merges or location.point is None:
        return None
    rows = await queries.open_cases(conn, category.code, now - timedelta(hours=category.merge_hours))
    cases = [
        OpenCase(r["id"], r["category"], (r["lat"], r["lon"]) if r["lat"] is not None else None, r["opened_at"])
        for r in rows
    ]
    match = find_case(category, location.point, now, cases)
    if match is None:
        return None
    decision.why["merge"] = {"case_id": match.case_id, "metres": match.metres, "hours": match.hours}
    return match.case_id


async def merge_into(conn: Conn, *, ticket_id: str, case: str, decision: Decision, actor: str) -> None:
    """The ticket joins the case: no new task; the lead department hears another citizen is waiting."""
    row = await queries.get_case(conn, case, lock=True)
    assert row is not None
    lead_ticket = await queries.get_ticket(conn, row["lead_ticket"])
    assert lead_ticket is not None
    await queries.set_ticket_case(conn, ticket_id, case)
    await queries.set_ticket_status(conn, ticket_id, "merged")
    lead_assignment = next(
        (a for a in await queries.live_assignments(conn, row["lead_ticket"]) if a["role"] == "lead"), None
    )
    if lead_assignment is not None:
        await tell(conn, lead_assignment, "merged", f"ticket {ticket_id} (another citizen) merged into this case")
    status = TicketStatus(lead_ticket["status"])
    await announce(
        conn,
        lifecycle(
            ticket_id,
            types.TICKET_MERGED,
            status,
            f"merged into case {case} (ticket {row['lead_ticket']})",
            actor=actor,
            case_id=case,
            merged_into=row["lead_ticket"],
            dept_code=lead_assignment["dept_code"] if lead_assignment else None,
            assignment_id=lead_assignment["id"] if lead_assignment else None,
            why=decision.why,
        ),
    )
