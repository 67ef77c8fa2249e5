"""What a dispatcher (派单员) does to a ticket: confirm or correct its routing, arbitrate after repeated
退单, split a wrong 并单. Each runs in one transaction, announces itself on ticket.lifecycle, and — when
the dispatcher names a category — leaves a labelled example for the classifier."""

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import asyncpg

from cityloop.common.contract import types
from cityloop.common.contract.lifecycle import Arbitration, Correction, RejectionRecord, RoutingDetail, Split
from cityloop.common.db.pool import Conn
from cityloop.common.errors import Conflict, Invalid, NotFound
from cityloop.common.identity import Identity
from cityloop.router import metrics
from cityloop.router.cases import store as cases
from cityloop.router.classification import store as examples
from cityloop.router.context import RouterContext
from cityloop.router.corrections import proposals
from cityloop.router.dispatch.flows import apply_decision
from cityloop.router.dispatch.location import Location, at_grid, locate
from cityloop.router.dispatch.rules import Classification, Decision, RoutingTicket, route
from cityloop.router.effects import EMIT, announce, tell, withdraw
from cityloop.router.masterdata.model import MasterData
from cityloop.router.rejections import store as rejections
from cityloop.router.tickets import store as tickets
from cityloop.router.tickets.records import snapshot_of, stored_classification, stored_location


def actor_of(identity: Identity) -> str:
    return f"{identity.role.value}:{identity.subject}"


async def _ticket(conn: Conn, ticket_id: str) -> asyncpg.Record:
    ticket = await tickets.get_ticket(conn, ticket_id, lock=True)
    if ticket is None:
        raise NotFound(f"router knows no ticket {ticket_id}", "ticket_id")
    return ticket


def _new_location(
    master: MasterData, *, grid: str | None, address: str | None, lat: float | None, lon: float | None
) -> Location | None:
    if grid:
        if grid not in master.grids:
            raise Invalid(f"no grid {grid!r}", "grid")
        return at_grid(master.grids[grid], master, "dispatcher (grid)")
    if address or (lat is not None and lon is not None):
        found = locate(address, lat, lon, master)
        if not found.resolved:
            raise Invalid(found.problem or "location not resolved", "address")
        return replace(found, how=f"dispatcher ({found.how})")
    return None


async def _label(conn: Conn, ticket: asyncpg.Record, category: str, source: str, identity: Identity) -> None:
    await examples.insert_example(
        conn,
        text=ticket["description"],
        category=category,
        source=source,
        ticket_id=ticket["ticket_id"],
        created_by=identity.subject,
    )


def keeps_assist(live: asyncpg.Record, decision: Decision, *, lead: str | None, category_before: str | None) -> bool:
    """Does a live assignment survive a dispatcher's re-routing? Only an assist (协办) the new decision
    names again, when the dispatcher moved the lead alone (correction with a department, arbitration):
    the category, so the task's content, is unchanged. Everything else is withdrawn and sent anew."""
    if lead is None or live["role"] == "lead" or decision.outcome != "dispatch" or decision.category is None:
        return False
    if decision.category.code != category_before or live["dept_code"] == lead:
        return False
    return live["dept_code"] in {d.code for d in decision.assists}


async def _reroute(
    conn: Conn,
    ctx: RouterContext,
    ticket: asyncpg.Record,
    identity: Identity,
    *,
    category: str | None,
    location: Location | None,
    lead: str | None,
    final: bool = False,
    routing: RoutingDetail | None = None,
) -> dict[str, Any]:
    master = await ctx.master.current(conn)
    stored = stored_classification(ticket)
    code = category or stored.category or ticket["category"]
    if category is not None and category not in master.categories:
        raise Invalid(f"no catalogue category {category!r}", "category")
    if lead is not None and lead not in master.departments:
        raise Invalid(f"no department {lead!r}", "dept_code")
    # The dispatcher's word is certain: confidence 1.
    classification = Classification(code, 1.0, "dispatcher")
    where = location or stored_location(ticket)
    decision = route(
        RoutingTicket(ticket["ticket_id"], classification, where, lead_override=lead),
        master,
        ctx.modes,
        policy=ctx.policy,
    )
    if decision.outcome == "needs_dispatcher":
        field = {"unresolved_location": "address", "unclassified": "category"}.get(decision.queue_reason or "")
        raise Invalid(f"still not routable: {decision.why.get('problem')}", field or "dept_code", error="not_routable")
    replaced = []
    kept: dict[str, str] = {}
    for live in await tickets.live_assignments(conn, ticket["ticket_id"]):
        if keeps_assist(live, decision, lead=lead, category_before=ticket["category"]):
            # The same task for the same matter: the assisting department keeps it (a second one would
            # be a duplicate on its topic).
            kept[live["dept_code"]] = live["id"]
            continue
        await withdraw(conn, live, f"re-routed by a dispatcher ({identity.subject})")
        replaced.append(live["id"])
    outcome = await apply_decision(
        conn,
        ticket_id=ticket["ticket_id"],
        snapshot=snapshot_of(ticket),
        classification=classification,
        location=where,
        decision=decision,
        master=master,
        now=datetime.now(UTC),
        actor=actor_of(identity),
        merge=False,
        final=final,
        replaces=replaced,
        kept_assists=kept,
        routing=routing,
    )
    return {"ticket_id": ticket["ticket_id"], "outcome": outcome, "category": code, "why": decision.why_record()}


async def confirm(
    conn: Conn, ctx: RouterContext, ticket_id: str, identity: Identity, note: str | None
) -> dict[str, Any]:
    ticket = await _ticket(conn, ticket_id)
    if ticket["status"] == "needs_dispatcher":
        if ticket["queue_reason"] == "arbitration":
            raise Conflict("this ticket awaits arbitration: use /arbitrate", "ticket_id")
        result = await _reroute(
            conn,
            ctx,
            ticket,
            identity,
            category=None,
            location=None,
            lead=None,
            routing=RoutingDetail(confirmed_by=identity.subject),
        )
    elif ticket["status"] in ("dispatched", "accepted"):
        result = {"ticket_id": ticket_id, "outcome": "confirmed", "category": ticket["category"]}
    else:
        raise Conflict(f"a {ticket['status']} ticket has no routing to confirm", "ticket_id")
    if result["category"]:
        await _label(conn, ticket, result["category"], "confirmation", identity)
    if note:
        result["note"] = note
    return result


async def correct(
    conn: Conn,
    ctx: RouterContext,
    ticket_id: str,
    identity: Identity,
    *,
    category: str | None,
    dept_code: str | None,
    grid: str | None,
    address: str | None,
    lat: float | None,
    lon: float | None,
    note: str | None,
) -> dict[str, Any]:
    ticket = await _ticket(conn, ticket_id)
    if ticket["status"] in ("resolved", "closed", "merged"):
        hint = ": split it from its case first" if ticket["status"] == "merged" else ""
        raise Conflict(f"a {ticket['status']} ticket cannot be re-routed{hint}", "ticket_id")
    if ticket["status"] == "needs_dispatcher" and ticket["queue_reason"] == "arbitration":
        raise Conflict("this ticket awaits arbitration: use /arbitrate", "ticket_id")
    master = await ctx.master.current(conn)
    location = _new_location(master, grid=grid, address=address, lat=lat, lon=lon)
    correction = Correction(by=identity.subject, note=note, category=category, dept_code=dept_code)
    led_by = next(
        (a["dept_code"] for a in await tickets.live_assignments(conn, ticket_id) if a["role"] == "lead"), None
    )
    result = await _reroute(
        conn,
        ctx,
        ticket,
        identity,
        category=category,
        location=location,
        lead=dept_code,
        routing=RoutingDetail(correction=correction),
    )
    if category is not None:
        await _label(conn, ticket, category, "correction", identity)
    if dept_code is not None:
        # A lead moved by hand is data about the catalogue: repeats become a correction proposal.
        await proposals.signal(
            conn,
            master,
            kind="dispatcher",
            ticket_id=ticket_id,
            category=category or ticket["category"],
            from_dept=led_by,
            to_dept=dept_code,
            at=datetime.now(UTC),
        )
    return result


async def arbitrate(
    conn: Conn,
    ctx: RouterContext,
    ticket_id: str,
    identity: Identity,
    *,
    dept_code: str,
    category: str | None,
    note: str,
) -> dict[str, Any]:
    ticket = await _ticket(conn, ticket_id)
    if ticket["status"] != "needs_dispatcher" or ticket["queue_reason"] != "arbitration":
        raise Conflict("only a ticket awaiting arbitration can be arbitrated", "ticket_id")
    history = [
        RejectionRecord(
            dept_code=r["dept_code"], reason=r["reason"], suggested_dept=r["suggested_dept"], outcome=r["outcome"]
        )
        for r in await rejections.rejections_of(conn, ticket_id)
    ]
    metrics.ARBITRATIONS.inc()
    arbitration = Arbitration(decided_by=identity.subject, dept_code=dept_code, note=note, rejections=history)
    result = await _reroute(
        conn,
        ctx,
        ticket,
        identity,
        category=category,
        location=None,
        lead=dept_code,
        final=True,
        routing=RoutingDetail(arbitration=arbitration),
    )
    await _label(conn, ticket, result["category"], "arbitration", identity)
    return result


async def split(
    conn: Conn, ctx: RouterContext, case_id: str, ticket_id: str, *, identity: Identity, note: str | None
) -> dict[str, Any]:
    case = await cases.get_case(conn, case_id, lock=True)
    if case is None:
        raise NotFound(f"no case {case_id}", "case_id")
    ticket = await _ticket(conn, ticket_id)
    if ticket["case_id"] != case_id or ticket["status"] != "merged":
        raise Conflict(f"ticket {ticket_id} is not merged into case {case_id}", "ticket_id")
    await cases.set_ticket_case(conn, ticket_id, None)
    await announce(
        conn,
        EMIT.lifecycle(
            types.TICKET_SPLIT,
            ticket_id,
            None,
            f"split from case {case_id}",
            Split(case_id=case_id, note=note),
            actor=actor_of(identity),
        ),
    )
    for live in await tickets.live_assignments(conn, case["lead_ticket"]):
        if live["role"] == "lead":
            await tell(conn, live, "split", f"ticket {ticket_id} was split from this case: it is handled on its own")
    master = await ctx.master.current(conn)
    classification = replace(stored_classification(ticket), confidence=1.0, source="dispatcher")
    decision = route(
        RoutingTicket(ticket_id, classification, stored_location(ticket)), master, ctx.modes, policy=ctx.policy
    )
    outcome = await apply_decision(
        conn,
        ticket_id=ticket_id,
        snapshot=snapshot_of(ticket),
        classification=classification,
        location=stored_location(ticket),
        decision=decision,
        master=master,
        now=datetime.now(UTC),
        actor=actor_of(identity),
        merge=False,
        routing=RoutingDetail(split_from=case_id),
    )
    return {"ticket_id": ticket_id, "case_id": case_id, "outcome": outcome}
