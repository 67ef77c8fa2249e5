"""Re-homing: after a declaration, an update or a stand-down, every open ticket the change affects moves
to the owners the rules now give it, in bulk.

At a declaration the tickets already open in scope go to the command unit with joint tasks and
emergency clocks; at a stand-down each returns to its peacetime lead from the catalogue with peacetime
deadlines counted from that moment (or to another emergency still in force there). A department that
holds a task and is still wanted keeps it in its new role (task.updated, mode_changed); one no longer
wanted gets task.withdrawn; a new one gets task.assigned; each ticket gets one cityloop.ticket.dispatched
on its trail naming the switch.

Work goes in batches (``batch`` tickets, one transaction each: a few bulk statements and one outbox
insert), so new tickets keep being routed between batches and a crash loses at most one uncommitted
batch. A run is idempotent: it selects the tickets whose emergency is not yet the one the rules give,
so ``reconcile`` after a restart finishes whatever a crash interrupted.
"""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog

from cityloop.common import outbox
from cityloop.common.contract import types
from cityloop.common.contract.emergencies import Emergency, Rehomed
from cityloop.common.contract.lifecycle import (
    AssistAssignment,
    CataloguePolicy,
    Dispatched,
    NeedsDispatcher,
    RoutedLocation,
)
from cityloop.common.contract.models import (
    TaskMode,
    TaskUpdated,
    TaskWithdrawn,
    TicketStatus,
)
from cityloop.common.db.pool import PgPool
from cityloop.common.envelope import CloudEvent
from cityloop.common.runtime import ServiceRuntime
from cityloop.common.topics import TICKET_LIFECYCLE, dept_tasks
from cityloop.router.context import RouterContext
from cityloop.router.dispatch.rules import Classification, RoutingTicket, route
from cityloop.router.effects import EMIT, chain_of, effective_urgency, new_assignment_id, task_for
from cityloop.router.emergencies import rules, store
from cityloop.router.emergencies.metrics import REHOME_SECONDS, REHOMED, TICKETS
from cityloop.router.masterdata.model import Category, Department, MasterData
from cityloop.router.tickets import store as tickets_store
from cityloop.router.tickets.records import snapshot_of, stored_classification, stored_location

log = structlog.get_logger(__name__)

ACTOR = "router:emergency"


@dataclass(frozen=True)
class Target:
    """Where a ticket should be: its lead, joint/assisting departments and mode."""

    lead: Department
    joint: tuple[Department, ...]
    emergency: Emergency | None
    supervisors: tuple[str, ...]
    why: dict[str, object]


def target_for(
    ticket: asyncpg.Record, category: Category, master: MasterData, active: Sequence[Emergency]
) -> Target | None:
    """Pure: the owners the rules give ``ticket`` now; None when no unit can take it (a dispatcher will)."""
    emergency = rules.applicable(active, category.code, ticket["district"], ticket["street"])
    if emergency is not None:
        plan = rules.route_under(emergency, category, master)
        if plan is not None:
            return Target(
                plan.lead,
                plan.joint,
                emergency,
                (emergency.command_unit,),
                plan.why,
            )
    classification = stored_classification(ticket)
    ticket_in = RoutingTicket(
        ticket["ticket_id"],
        Classification(category.code, 1.0, classification.source or "catalogue"),
        stored_location(ticket),
    )
    decision = route(ticket_in, master, ())
    if decision.outcome != "dispatch" or decision.lead is None:
        return None
    return Target(
        decision.lead,
        decision.assists,
        None,
        decision.supervisors,
        decision.why_record(),
    )


@dataclass
class Batch:
    """Everything one batch writes, gathered first and then written in a few statements."""

    now: datetime
    reason: str
    withdraw_ids: list[str] = field(default_factory=list)
    withdraw_reasons: list[str] = field(default_factory=list)
    keep: dict[str | None, list[tuple[str, str]]] = field(default_factory=dict)
    inserts: list[tuple[Any, ...]] = field(default_factory=list)
    tickets: dict[str | None, list[str]] = field(default_factory=dict)
    queued: list[str] = field(default_factory=list)
    events: list[tuple[str, CloudEvent]] = field(default_factory=list)


def _task_mode(e: Emergency | None) -> TaskMode:
    return TaskMode(kind="emergency", emergency_id=e.id) if e else TaskMode()


def plan_ticket(
    batch: Batch,
    *,
    ticket: asyncpg.Record,
    live: Sequence[asyncpg.Record],
    target: Target,
    category: Category,
    case_id: str | None,
) -> None:
    """Adds one ticket's writes and events to ``batch``."""
    ticket_id = ticket["ticket_id"]
    e = target.emergency
    mode = _task_mode(e)
    plan = rules.rehome_plan(
        [rules.LiveTask(a["id"], a["dept_code"], a["role"]) for a in live],
        target.lead.code,
        [d.code for d in target.joint],
    )
    what = f"emergency {e.id} ({e.name})" if e else "peacetime"
    for task in plan.withdraw:
        reason = f"{batch.reason}: now handled under {what}"
        batch.withdraw_ids.append(task.assignment_id)
        batch.withdraw_reasons.append(reason)
        data = TaskWithdrawn(
            ticket_id=ticket_id, assignment_id=task.assignment_id, dept_code=task.dept_code, reason=reason
        )
        batch.events.append(
            (
                dept_tasks(task.dept_code).name,
                EMIT.task(types.TASK_WITHDRAWN, data),
            )
        )
    lead_id: str | None = None
    assists: list[AssistAssignment] = []
    for assignment_id, dept_code, role in plan.keep:
        batch.keep.setdefault(e.id if e else None, []).append((assignment_id, role))
        data_u = TaskUpdated(
            ticket_id=ticket_id,
            assignment_id=assignment_id,
            dept_code=dept_code,
            change="mode_changed",
            note=f"{batch.reason}: now {role} under {what}",
            mode=mode,
        )
        batch.events.append((dept_tasks(dept_code).name, EMIT.task(types.TASK_UPDATED, data_u)))
        if role == "lead":
            lead_id = assignment_id
        else:
            assists.append(AssistAssignment(dept_code=dept_code, assignment_id=assignment_id))
    snapshot = snapshot_of(ticket)
    location = stored_location(ticket)
    urgency = effective_urgency(snapshot, category)
    for dept_code, role in plan.create:
        assignment_id = new_assignment_id()
        batch.inserts.append(
            (
                assignment_id,
                ticket_id,
                dept_code,
                role,
                target.why,
                mode.kind,
                mode.emergency_id,
            )
        )
        assigned = task_for(
            ticket_id=ticket_id,
            assignment_id=assignment_id,
            dept_code=dept_code,
            role=role,
            category=category,
            snapshot=snapshot,
            location=location,
            mode=mode,
        )
        batch.events.append(
            (
                dept_tasks(dept_code).name,
                EMIT.task(types.TASK_ASSIGNED, assigned),
            )
        )
        if role == "lead":
            lead_id = assignment_id
        else:
            assists.append(AssistAssignment(dept_code=dept_code, assignment_id=assignment_id))
    batch.tickets.setdefault(e.id if e else None, []).append(ticket_id)
    assert lead_id is not None, "a re-homing plan always names a lead"
    detail = Dispatched(
        dept_code=target.lead.code,
        dept_name=target.lead.name,
        assignment_id=lead_id,
        role="lead",
        category=category.code,
        urgency=urgency,
        # sla computes every deadline: the catalogue's days in peacetime, the emergency's minutes in one,
        # counted from this switch (no reported_at: an urgent ticket's minutes must not count from its report).
        policy=CataloguePolicy(accept_days=category.accept_days, resolve_days=category.resolve_days),
        supervisors=list(target.supervisors),
        assists=assists,
        case_id=case_id,
        location=RoutedLocation(chain=chain_of(location), level=location.level, how=location.how),
        why=target.why,
        replaces=[t.assignment_id for t in plan.withdraw],
        mode=mode,
        rehomed=Rehomed(reason=batch.reason, from_emergency=ticket["emergency_id"], to_emergency=mode.emergency_id),
        command_unit=e.command_unit if e is not None else None,
        emergency_deadlines=e.deadlines if e is not None else None,
    )
    summary = (
        f"{batch.reason}: re-homed to {target.lead.name} (command) with {len(assists)} joint task(s) under {what}"
        if e
        else f"{batch.reason}: back to the peacetime lead {target.lead.name}"
    )
    batch.events.append(
        (
            TICKET_LIFECYCLE.name,
            EMIT.lifecycle(types.TICKET_DISPATCHED, ticket_id, TicketStatus.DISPATCHED, summary, detail, actor=ACTOR),
        )
    )


def plan_queue(batch: Batch, ticket: asyncpg.Record, live: Sequence[asyncpg.Record]) -> None:
    """No unit can take the ticket after the switch: every task is taken back and a dispatcher decides, so
    the ticket is never left without an owner."""
    ticket_id = ticket["ticket_id"]
    for a in live:
        reason = f"{batch.reason}: no unit for this ticket, a dispatcher decides"
        batch.withdraw_ids.append(a["id"])
        batch.withdraw_reasons.append(reason)
        data = TaskWithdrawn(ticket_id=ticket_id, assignment_id=a["id"], dept_code=a["dept_code"], reason=reason)
        batch.events.append(
            (
                dept_tasks(a["dept_code"]).name,
                EMIT.task(types.TASK_WITHDRAWN, data),
            )
        )
    batch.queued.append(ticket_id)
    batch.events.append(
        (
            TICKET_LIFECYCLE.name,
            EMIT.lifecycle(
                types.TICKET_NEEDS_DISPATCHER,
                ticket_id,
                TicketStatus.NEEDS_DISPATCHER,
                f"{batch.reason}: no unit takes it after the switch, a dispatcher decides",
                NeedsDispatcher(queue_reason="no_unit", replaces=[a["id"] for a in live]),
                actor=ACTOR,
            ),
        )
    )


async def _write(conn: Any, batch: Batch) -> None:
    if batch.withdraw_ids:
        await store.withdraw_many(conn, batch.withdraw_ids, batch.withdraw_reasons)
    for emergency_id, rows in batch.keep.items():
        await store.convert_many(
            conn,
            assignment_ids=[r[0] for r in rows],
            roles=[r[1] for r in rows],
            mode="emergency" if emergency_id else "peacetime",
            emergency_id=emergency_id,
        )
    if batch.inserts:
        await store.insert_many(conn, batch.inserts)
    for emergency_id, ids in batch.tickets.items():
        await store.set_tickets_mode(conn, ids, emergency_id)
    for ticket_id in batch.queued:
        await tickets_store.send_to_queue(conn, ticket_id, "no_unit")
    await store.clear_mode(conn, batch.queued)
    await outbox.enqueue_many(conn, batch.events)


class Rehomer:
    """Runs re-homing jobs one after another in the background (one per emergency change)."""

    def __init__(self, runtime: ServiceRuntime, ctx: RouterContext, *, batch: int = 1000) -> None:
        self._runtime = runtime
        self._ctx = ctx
        self._batch = batch
        self._jobs: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.idle = asyncio.Event()
        self.idle.set()
        #: emergency id -> seconds its last run took (the bench reads it)
        self.last_run: dict[str, float] = {}

    @property
    def _pool(self) -> PgPool:
        return self._runtime.pool

    def kick(self, emergency_id: str, reason: str) -> None:
        self.idle.clear()
        self._jobs.put_nowait((emergency_id, reason))

    async def run(self) -> None:
        await self.reconcile()
        while True:
            if self._jobs.empty():
                self.idle.set()
            emergency_id, reason = await self._jobs.get()
            self.idle.clear()
            await self.rehome(emergency_id, reason)

    async def reconcile(self) -> None:
        """At start: finish whatever a crash interrupted, for every emergency router knows."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT id, status FROM emergencies WHERE status = 'active'"
                " OR id IN (SELECT DISTINCT emergency_id FROM tickets WHERE emergency_id IS NOT NULL"
                " AND status = ANY($1::text[]))",
                store.OPEN_STATUSES,
            )
        for row in rows:
            await self.rehome(row["id"], "declared" if row["status"] == "active" else "stood_down")
        await self.recount()

    async def recount(self) -> None:
        async with self._pool.acquire() as conn:
            TICKETS.set(await store.tickets_in_emergency(conn))

    async def rehome(self, emergency_id: str, reason: str) -> int:
        started = time.perf_counter()
        async with self._pool.acquire() as conn:
            e = await store.get(conn, emergency_id)
        if e is None:
            return 0
        moved = 0
        if e.active:
            moved += await self._sweep(e, reason, into=True)
        # Tickets under it that the rules now give elsewhere: all of them at a stand-down, those left out
        # by a narrowed scope after an update.
        if not e.active or reason == "updated":
            moved += await self._sweep(e, reason, into=False)
        seconds = time.perf_counter() - started
        self.last_run[emergency_id] = seconds
        phase = {"declared": "declare", "updated": "update", "stood_down": "stand_down"}.get(reason, "declare")
        REHOME_SECONDS.labels(phase).observe(seconds)
        REHOMED.labels(phase).inc(moved)
        async with self._pool.acquire() as conn:
            await store.log(
                conn,
                action="rehomed",
                actor=ACTOR,
                emergency_id=emergency_id,
                detail={"reason": reason, "tickets": moved, "seconds": round(seconds, 3)},
            )
        await self.recount()
        log.info("emergency.rehomed", emergency_id=emergency_id, reason=reason, tickets=moved, seconds=seconds)
        return moved

    async def _sweep(self, e: Emergency, reason: str, *, into: bool) -> int:
        moved = 0
        after = ""
        while True:
            async with self._pool.acquire() as conn, conn.transaction():
                master = await self._ctx.master.current(conn)
                if into:
                    leaves = [c.code for c in master.leaves() if rules.covers(e, c.code)]
                    tickets = await store.claim_in_scope(
                        conn,
                        categories=leaves,
                        city=e.scope.city,
                        districts=e.scope.districts,
                        streets=e.scope.streets,
                        not_under=e.id,
                        after=after,
                        limit=self._batch,
                    )
                else:
                    tickets = await store.claim_under(conn, emergency_id=e.id, after=after, limit=self._batch)
                if not tickets:
                    return moved
                after = tickets[-1]["ticket_id"]
                moved += await self._batch_of(conn, tickets, master, reason)
            # Let the consumers and the HTTP API in between batches.
            await asyncio.sleep(0)

    async def _batch_of(self, conn: Any, tickets: Sequence[asyncpg.Record], master: MasterData, reason: str) -> int:
        now = datetime.now(UTC)
        active = self._ctx.modes
        ids = [t["ticket_id"] for t in tickets]
        live: dict[str, list[asyncpg.Record]] = {}
        for a in await store.live_of(conn, ids):
            live.setdefault(a["ticket_id"], []).append(a)
        batch = Batch(
            now=now, reason={"declared": "emergency declared", "updated": "emergency updated"}.get(reason, "stand-down")
        )
        moved = 0
        for ticket in tickets:
            category = master.categories.get(ticket["category"] or "")
            if category is None:
                continue
            target = target_for(ticket, category, master, active)
            if target is not None and (target.emergency.id if target.emergency else None) == ticket["emergency_id"]:
                continue  # the rules still give it to the emergency it is under (a higher one won, say)
            if target is None:
                plan_queue(batch, ticket, live.get(ticket["ticket_id"], []))
            else:
                plan_ticket(
                    batch,
                    ticket=ticket,
                    live=live.get(ticket["ticket_id"], []),
                    target=target,
                    category=category,
                    case_id=ticket["case_id"],
                )
            moved += 1
        await _write(conn, batch)
        return moved
