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
import orjson
import structlog

from cityloop.common import emergency_scope, outbox
from cityloop.common.contract import types
from cityloop.common.contract.emergencies import Emergency
from cityloop.common.contract.models import TicketStatus, Urgency
from cityloop.common.db.pool import PgPool
from cityloop.common.runtime import ServiceRuntime
from cityloop.common.topics import TICKET_LIFECYCLE, dept_tasks
from cityloop.router.context import RouterContext
from cityloop.router.dispatch.rules import Classification, RoutingTicket, route
from cityloop.router.effects import EMIT, new_assignment_id, task_unit, urgency_of
from cityloop.router.emergencies import rules, store, wire
from cityloop.router.emergencies.metrics import REHOME_SECONDS, REHOMED, TICKETS
from cityloop.router.emergencies.wire import Wire
from cityloop.router.masterdata.model import Category, Department, MasterData, Unit
from cityloop.router.tickets import store as tickets_store
from cityloop.router.tickets.records import stored_classification, stored_location

log = structlog.get_logger(__name__)

ACTOR = "router:emergency"
#: Tickets planned between two pauses that let the rest of the router run (new tickets, the API, heartbeats).
YIELD_EVERY = 50


@dataclass(frozen=True)
class Target:
    """Where a ticket should be: its lead, joint/assisting departments and mode."""

    lead: Department
    joint: tuple[Department, ...]
    emergency: Emergency | None
    supervisors: tuple[str, ...]
    why: dict[str, object]
    #: 督办 desks over the lead and the lead's own area, as a first routing's dispatched event has them
    desks: list[str]
    area: dict[str, Any]
    #: the community or grid unit that leads through its street platform (五级应用), as on the wire
    unit: dict[str, Any] | None = None
    #: ``why`` as JSON text for assignments.reason: dumped once per target, not once per new task
    why_json: str = "{}"


def _target(
    master: MasterData,
    *,
    lead: Department,
    joint: Sequence[Department],
    emergency: Emergency | None,
    supervisors: Sequence[str],
    why: dict[str, Any],
    unit: Unit | None = None,
) -> Target:
    dumped = orjson.dumps(why)
    return Target(
        lead,
        tuple(joint),
        emergency,
        tuple(supervisors),
        # As it goes on the wire and into assignments.reason (JSON types only: a tuple becomes a list).
        orjson.loads(dumped),
        master.desks(lead),
        {"level": lead.level, "district": lead.district, "street": lead.street},
        task_unit(unit).model_dump(mode="json") if unit else None,
        dumped.decode(),
    )


#: (category, district, street) -> what the emergencies give there (None: no emergency does); and
#: ("peacetime", category, classified by, location) -> the peacetime target (None: a dispatcher decides)
Memo = dict[tuple[Any, ...], "Target | None"]


def target_for(
    ticket: asyncpg.Record,
    category: Category,
    master: MasterData,
    active: Sequence[Emergency],
    memo: Memo | None = None,
) -> Target | None:
    """Pure: the owners the rules give ``ticket`` now; None when no unit can take it (a dispatcher will).
    ``memo`` keeps, across a batch, the emergency side per category and place and the peacetime side per
    category, classifier and resolved location: ``route`` reads nothing else of the ticket here (no
    override, no modes), so tickets resolved to the same place share one target."""
    key = (category.code, ticket["district"], ticket["street"])
    if memo is not None and key in memo:
        under = memo[key]
    else:
        under = None
        emergency = emergency_scope.applicable(active, category.code, ticket["district"], ticket["street"])
        plan = rules.route_under(emergency, category, master) if emergency is not None else None
        if emergency is not None and plan is not None:
            under = _target(
                master,
                lead=plan.lead,
                joint=plan.joint,
                emergency=emergency,
                supervisors=(emergency.command_unit,),
                why=plan.why,
            )
        if memo is not None:
            memo[key] = under
    if under is not None:
        return under
    source = stored_classification(ticket).source or "catalogue"
    location = stored_location(ticket)
    peace_key = ("peacetime", category.code, source, location)
    if memo is not None and peace_key in memo:
        return memo[peace_key]
    ticket_in = RoutingTicket(ticket["ticket_id"], Classification(category.code, 1.0, source), location)
    decision = route(ticket_in, master, ())
    peace = None
    if decision.outcome == "dispatch" and decision.lead is not None:
        peace = _target(
            master,
            lead=decision.lead,
            joint=decision.assists,
            emergency=None,
            supervisors=decision.supervisors,
            why=decision.why_record(),
            unit=decision.unit,
        )
    if memo is not None:
        memo[peace_key] = peace
    return peace


@dataclass
class Batch:
    """Everything one batch writes, gathered first and then written in a few statements."""

    now: datetime
    reason: str
    wire: Wire
    withdraw_ids: list[str] = field(default_factory=list)
    withdraw_reasons: list[str] = field(default_factory=list)
    keep: dict[str | None, list[tuple[str, str]]] = field(default_factory=dict)
    inserts: list[tuple[Any, ...]] = field(default_factory=list)
    tickets: dict[str | None, list[str]] = field(default_factory=dict)
    queued: list[str] = field(default_factory=list)
    #: per emergency: its deadlines as they go on the wire (one dump per batch, not per ticket)
    deadlines: dict[str, dict[str, Any]] = field(default_factory=dict)

    def withdraw(self, ticket_id: str, assignment_id: str, dept_code: str, reason: str) -> None:
        self.withdraw_ids.append(assignment_id)
        self.withdraw_reasons.append(reason)
        self.wire.add(
            dept_tasks(dept_code).name,
            types.TASK_WITHDRAWN,
            ticket_id,
            wire.task_withdrawn(ticket_id, assignment_id, dept_code, reason),
        )


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
    task_mode = wire.mode("emergency", e.id) if e else wire.mode("peacetime", None)
    plan = rules.rehome_plan(
        [rules.LiveTask(a["id"], a["dept_code"], a["role"]) for a in live],
        target.lead.code,
        [d.code for d in target.joint],
    )
    what = f"emergency {e.id} ({e.name})" if e else "peacetime"
    for task in plan.withdraw:
        batch.withdraw(ticket_id, task.assignment_id, task.dept_code, f"{batch.reason}: now handled under {what}")
    lead_id: str | None = None
    assists: list[dict[str, Any]] = []
    for assignment_id, dept_code, role in plan.keep:
        batch.keep.setdefault(e.id if e else None, []).append((assignment_id, role))
        note = f"{batch.reason}: now {role} under {what}"
        batch.wire.add(
            dept_tasks(dept_code).name,
            types.TASK_UPDATED,
            ticket_id,
            wire.task_updated(
                ticket_id, assignment_id, dept_code, change="mode_changed", note=note, task_mode=task_mode
            ),
        )
        if role == "lead":
            lead_id = assignment_id
        else:
            assists.append({"dept_code": dept_code, "assignment_id": assignment_id, "role": "assist"})
    location = stored_location(ticket)
    chain = wire.chain(location.district, location.street, location.community, location.grid)
    urgency = urgency_of(Urgency(ticket["urgency"]), category).value
    if plan.create:
        task_location = wire.task_location(chain, ticket["location"])
        citizen = wire.citizen(ticket["citizen"])
    for dept_code, role in plan.create:
        assignment_id = new_assignment_id()
        batch.inserts.append(
            (assignment_id, ticket_id, dept_code, role, target.why_json, task_mode["kind"], task_mode["emergency_id"])
        )
        # effects.task_for builds the same task through the model, for a single routing
        assigned = wire.task_assigned(
            ticket_id=ticket_id,
            assignment_id=assignment_id,
            dept_code=dept_code,
            role="lead" if role == "lead" else "assist",
            category=category.code,
            category_name=category.name,
            description=ticket["description"],
            location=task_location,
            urgency=urgency,
            task_mode=task_mode,
            citizen=citizen,
            unit=target.unit if role == "lead" else None,
        )
        batch.wire.add(dept_tasks(dept_code).name, types.TASK_ASSIGNED, ticket_id, assigned)
        if role == "lead":
            lead_id = assignment_id
        else:
            assists.append({"dept_code": dept_code, "assignment_id": assignment_id, "role": "assist"})
    batch.tickets.setdefault(e.id if e else None, []).append(ticket_id)
    assert lead_id is not None, "a re-homing plan always names a lead"
    deadlines = None
    if e is not None:
        deadlines = batch.deadlines.get(e.id)
        if deadlines is None:
            deadlines = batch.deadlines[e.id] = e.deadlines.model_dump(mode="json")
    detail = wire.dispatched(
        dept_code=target.lead.code,
        dept_name=target.lead.name,
        assignment_id=lead_id,
        category=category.code,
        urgency=urgency,
        # sla computes every deadline: the catalogue's days in peacetime, the emergency's minutes in one,
        # counted from this switch (no reported_at: an urgent ticket's minutes must not count from its report).
        policy={"accept_days": category.accept_days, "resolve_days": category.resolve_days},
        supervisors=list(target.supervisors),
        desks=target.desks,
        area=target.area,
        unit=target.unit,
        assists=assists,
        case_id=case_id,
        location={"chain": chain, "level": location.level, "how": location.how},
        why=target.why,
        replaces=[t.assignment_id for t in plan.withdraw],
        task_mode=task_mode,
        rehomed={
            "reason": batch.reason,
            "from_emergency": ticket["emergency_id"],
            "to_emergency": task_mode["emergency_id"],
        },
        command_unit=e.command_unit if e is not None else None,
        emergency_deadlines=deadlines,
    )
    summary = (
        f"{batch.reason}: re-homed to {target.lead.name} (command) with {len(assists)} joint task(s) under {what}"
        if e
        else f"{batch.reason}: back to the peacetime lead {target.lead.name}"
    )
    batch.wire.add(
        TICKET_LIFECYCLE.name,
        types.TICKET_DISPATCHED,
        ticket_id,
        wire.lifecycle(ticket_id, TicketStatus.DISPATCHED.value, ACTOR, summary, detail),
    )


def plan_queue(batch: Batch, ticket: asyncpg.Record, live: Sequence[asyncpg.Record]) -> None:
    """No unit can take the ticket after the switch: every task is taken back and a dispatcher decides, so
    the ticket is never left without an owner."""
    ticket_id = ticket["ticket_id"]
    for a in live:
        batch.withdraw(
            ticket_id, a["id"], a["dept_code"], f"{batch.reason}: no unit for this ticket, a dispatcher decides"
        )
    batch.queued.append(ticket_id)
    summary = f"{batch.reason}: no unit takes it after the switch, a dispatcher decides"
    batch.wire.add(
        TICKET_LIFECYCLE.name,
        types.TICKET_NEEDS_DISPATCHER,
        ticket_id,
        wire.lifecycle(
            ticket_id,
            TicketStatus.NEEDS_DISPATCHER.value,
            ACTOR,
            summary,
            wire.needs_dispatcher([a["id"] for a in live]),
        ),
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
    await outbox.copy_many(conn, batch.wire.rows)


class Rehomer:
    """Runs re-homing jobs one after another in the background (one per emergency change)."""

    def __init__(self, runtime: ServiceRuntime, ctx: RouterContext, *, batch: int = 1000, workers: int = 2) -> None:
        self._runtime = runtime
        self._ctx = ctx
        self._batch = batch
        self._workers = workers
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
        """Moves every ticket the change affects. The ids are read once, then ``workers`` batches of them run
        side by side on their own connections, so that one batch's SQL runs in PostgreSQL while the next is
        planned here; each claims its ids with SKIP LOCKED. A ticket a routing flow held at that moment was
        skipped: a last pass waits for such locks and takes whatever is left."""
        moved = 0
        async with self._pool.acquire() as conn:
            if into:
                master = await self._ctx.master.current(conn)
                ids = await store.candidates_in_scope(conn, **self._scope(e, master))
            else:
                ids = await store.candidates_under(conn, emergency_id=e.id)
        chunks = iter([ids[i : i + self._batch] for i in range(0, len(ids), self._batch)])

        async def worker() -> None:
            nonlocal moved
            for chunk in chunks:  # shared: each worker takes the next batch of ids
                moved += await self._id_batch(e, reason, into=into, ids=chunk)
                # Let the consumers and the HTTP API in between batches.
                await asyncio.sleep(0)

        await asyncio.gather(*(worker() for _ in range(self._workers)))
        after: str | None = ""
        while after is not None:
            n, after = await self._claimed_batch(e, reason, into=into, after=after)
            moved += n
        return moved

    @staticmethod
    def _scope(e: Emergency, master: MasterData) -> dict[str, Any]:
        """Which open tickets a declaration of ``e`` pulls in (store.candidates_in_scope, claim_in_scope)."""
        return {
            "categories": [c.code for c in master.leaves() if emergency_scope.covers(e, c.code)],
            "city": e.scope.city,
            "districts": e.scope.districts,
            "streets": e.scope.streets,
            "not_under": e.id,
        }

    async def _id_batch(self, e: Emergency, reason: str, *, into: bool, ids: Sequence[str]) -> int:
        """One batch of the run's ids in its own transaction: how many tickets it moved."""
        async with self._pool.acquire() as conn, conn.transaction():
            master = await self._ctx.master.current(conn)
            tickets = await store.claim_ids(conn, ids, emergency_id=e.id, into=into)
            if not tickets:
                return 0
            return await self._batch_of(conn, tickets, master, reason)

    async def _claimed_batch(self, e: Emergency, reason: str, *, into: bool, after: str) -> tuple[int, str | None]:
        """One batch of the last pass in its own transaction, waiting for tickets others hold: (tickets moved,
        where the next starts; None when none left)."""
        async with self._pool.acquire() as conn, conn.transaction():
            master = await self._ctx.master.current(conn)
            if into:
                tickets = await store.claim_in_scope(conn, **self._scope(e, master), after=after, limit=self._batch)
            else:
                tickets = await store.claim_under(conn, emergency_id=e.id, after=after, limit=self._batch)
            if not tickets:
                return 0, None
            return await self._batch_of(conn, tickets, master, reason), tickets[-1]["ticket_id"]

    async def _batch_of(self, conn: Any, tickets: Sequence[asyncpg.Record], master: MasterData, reason: str) -> int:
        now = datetime.now(UTC)
        active = self._ctx.modes
        ids = [t["ticket_id"] for t in tickets]
        live: dict[str, list[asyncpg.Record]] = {}
        for a in await store.live_of(conn, ids):
            live.setdefault(a["ticket_id"], []).append(a)
        batch = Batch(
            now=now,
            reason={"declared": "emergency declared", "updated": "emergency updated"}.get(reason, "stand-down"),
            wire=Wire(EMIT.source, now),
        )
        moved = 0
        memo: Memo = {}
        for i, ticket in enumerate(tickets):
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                # Planning a batch is pure CPU (~0.5 ms a ticket): without a pause the event loop would serve
                # nothing else for the whole batch, and a new ticket's routing, which waits on the loop at
                # each of its round trips, took seconds to get through a large switch.
                await asyncio.sleep(0)
            category = master.categories.get(ticket["category"] or "")
            if category is None:
                continue
            target = target_for(ticket, category, master, active, memo)
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
