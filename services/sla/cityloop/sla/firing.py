"""The firing loop: claims due clocks, fires their next ladder step, schedules the one after.

One transaction per round: claim up to ``fire_batch`` due clocks (FOR UPDATE SKIP LOCKED, so replicas
share the work and never claim the same clock), advance them in one UPDATE and write every event in one
outbox INSERT. A crash before COMMIT leaves the steps due, and they fire after restart; after COMMIT they
are recorded as fired and the relay publishes their events: each step takes effect once.
"""

import asyncio
from collections import Counter as Tally
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from cityloop.common import emergency_scope, outbox
from cityloop.common.contract import types
from cityloop.common.contract.emergencies import Emergency
from cityloop.common.contract.lifecycle import ClockStep, StepKind
from cityloop.common.db.pool import PgPool
from cityloop.common.metrics.labels import Bounded
from cityloop.sla import events, ladder, queries
from cityloop.sla.deadlines import escalation_span
from cityloop.sla.metrics import BREACHES, FIRED, LATENESS, STEPS, dept_labels
from cityloop.sla.settings import SlaSettings
from cityloop.sla.supervision import flows as desk_flows
from cityloop.sla.supervision import rules as desk_rules
from cityloop.sla.supervision import store as desk_store

_LIFECYCLE: dict[StepKind, tuple[str, str, str]] = {
    # step -> (lifecycle type, task.updated change, summary template)
    StepKind.WARNING: (types.SLA_WARNING, "warning", "预警: {kind} deadline approaching"),
    StepKind.BREACH: (types.SLA_BREACHED, "urged", "{kind} deadline missed: 催办 to {dept}"),
    StepKind.SUPERVISE: (types.SLA_ESCALATED, "supervised", "督办: {kind} deadline missed, raised to {to}"),
    StepKind.COMMAND: (types.SLA_ESCALATED, "escalated", "{kind} deadline missed: raised to the command unit {to}"),
    StepKind.NOTICE: (types.SLA_ESCALATED, "noticed", "通报: {kind} deadline still missed, chronic lateness"),
}


@dataclass(frozen=True)
class Firing:
    step: ladder.Step
    scheduled_at: datetime
    advance: queries.Advance
    outgoing: list[events.Outgoing]
    #: a 督办 step that puts the late task on a desk (supervision/)
    placed: desk_store.Placed | None = None
    #: a 通报 step, counted per department and period
    notice: desk_store.Notice | None = None


def plan_firing(
    clock: Mapping[str, Any] | asyncpg.Record,
    settings: SlaSettings,
    now: datetime,
    active: Sequence[Emergency] = (),
) -> Firing:
    """Pure: what firing this clock's due step announces, and where its ladder goes next; ``active``: the
    emergencies in force (control.mode)."""
    mode, command_unit = clock["mode"], clock["command_unit"]
    if clock["kind"] != "callback":  # the hotline's own duty: never a department's chain nor a command's
        covering = emergency_scope.applicable(active, clock["category"], clock["district"], clock["street"])
        mode, command_unit = ladder.in_force(mode, command_unit, covering, active)
    units = ladder.chain(list(clock["supervisors"]), command_unit, mode)
    number: int = clock["step"]
    scheduled: datetime = clock["next_fire_at"]
    step = ladder.describe(number, units, mode) or ladder.Step(number, StepKind.NOTICE)
    following = ladder.after(
        number,
        scheduled,
        due_at=clock["due_at"],
        units=units,
        mode=mode,
        every=escalation_span(clock["escalate_days"], clock["escalate_seconds"]),
        hours=settings.office_hours,
    )
    next_step, next_at = following if following is not None else (number + 1, None)
    lifecycle_type, change, template = _LIFECYCLE[step.kind]
    kind, dept = clock["kind"], clock["dept_code"]
    summary = template.format(kind=kind, dept=dept or "the department", to=step.target)
    detail = ClockStep(
        kind=kind,
        step=step.kind,
        due_at=clock["due_at"],
        scheduled_at=scheduled,
        dept_code=dept,
        assignment_id=clock["assignment_id"],
        category=clock["category"],
        clock_id=clock["id"],
        to=step.target,
        level=step.level,
    )
    fired_clock = events.FiredClock(
        clock_id=clock["id"],
        ticket_id=clock["ticket_id"],
        assignment_id=clock["assignment_id"],
        dept_code=dept,
        kind=kind,
        step=number,
        scheduled_at=scheduled,
        due_at=clock["due_at"],
    )
    outgoing = events.fired(
        now=now,
        clock=fired_clock,
        lifecycle_type=lifecycle_type,
        summary=summary,
        detail=detail,
        # The callback is the hotline's own duty, not the department's: no task update for it.
        change=None if kind == "callback" else change,
    )
    advance = queries.Advance(clock["id"], number, scheduled, next_step, next_at)
    placed, notice = None, None
    if step.kind is StepKind.SUPERVISE and kind != "callback" and step.level is not None:
        placed, more = _on_desk(clock, step.level, summary, fired_clock, now)
        outgoing += more
    elif step.kind is StepKind.NOTICE and kind != "callback":
        notice = desk_store.Notice(clock["id"], clock["ticket_id"], dept, kind, now)
    return Firing(step, scheduled, advance, outgoing, placed, notice)


def _on_desk(
    clock: Mapping[str, Any] | asyncpg.Record, level: int, summary: str, fired: events.FiredClock, now: datetime
) -> tuple[desk_store.Placed | None, list[events.Outgoing]]:
    """督办 with a desk: the ``level``-th supervise step puts the late task on the desk over the
    department (the same supervision, moved up, at later steps); the desk hears it on its own topic."""
    desks = list(clock["desks"] or [])
    desk = desk_rules.desk_at(level, desks)
    if desk is None:
        return None, []
    placed = desk_store.Placed(
        clock_id=clock["id"],
        ticket_id=clock["ticket_id"],
        assignment_id=clock["assignment_id"],
        dept_code=clock["dept_code"],
        category=clock["category"],
        kind=clock["kind"],
        due_at=clock["due_at"],
        desk=desk,
        level=level,
        desks=desks,
        at=now,
    )
    below = desk_rules.desk_at(level - 1, desks)
    if below == desk:
        return placed, []  # already on this desk (the chain of desks is shorter than the ladder)
    event_id = events.firing_event_id(fired.clock_id, fired.step, fired.scheduled_at, "supervision")
    return placed, desk_flows.on_desk(placed, escalated_from=below, note=summary, by="sla", event_id=event_id, time=now)


class Firer:
    """Fires due steps; one per process, any number of processes."""

    def __init__(self, pool: PgPool, settings: SlaSettings, modes: Callable[[], Sequence[Emergency]] = tuple) -> None:
        self._pool = pool
        self._settings = settings
        #: the emergencies in force, from sla's view of control.mode (app.py)
        self._modes = modes
        self._dept = Bounded(settings.metric_label_limit)
        self._category = Bounded(settings.metric_label_limit)

    async def fire_due(self, now: datetime | None = None) -> int:
        """One round; returns how many steps fired."""
        now = now or datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            claimed = await queries.claim_due(conn, now, self._settings.fire_batch)
            if not claimed:
                return 0
            active = self._modes()
            firings = [plan_firing(clock, self._settings, now, active) for clock in claimed]
            await queries.advance_clocks(conn, [f.advance for f in firings], now)
            if placed := [f.placed for f in firings if f.placed is not None]:
                await desk_store.place(conn, placed)
            if notices := [f.notice for f in firings if f.notice is not None]:
                await desk_store.record_notices(conn, notices)
            await outbox.enqueue_many(conn, [o for f in firings for o in f.outgoing])
        self._observe(claimed, firings)
        return len(firings)

    def _observe(self, claimed: list[Any], firings: list[Firing]) -> None:
        committed = datetime.now(UTC)
        steps: Tally[str] = Tally()
        by_dept: Tally[tuple[str, str, str]] = Tally()
        breaches: Tally[tuple[str | None, str | None, str]] = Tally()
        for clock, firing in zip(claimed, firings, strict=True):
            steps[firing.step.kind.value] += 1
            by_dept[(firing.step.kind.value, *dept_labels(clock["dept_code"]))] += 1
            LATENESS.observe(max(0.0, (committed - firing.scheduled_at).total_seconds()))
            if firing.step.kind is StepKind.BREACH:
                breaches[clock["dept_code"], clock["category"], clock["kind"]] += 1
        for kind, count in steps.items():
            FIRED.labels(kind).inc(count)
        for labels, count in by_dept.items():
            STEPS.labels(*labels).inc(count)
        for (dept, category, kind), count in breaches.items():
            BREACHES.labels(self._dept(dept), self._category(category), kind).inc(count)

    async def pause(self) -> float:
        """How long to sleep after a round that was not full: until the next moment, within bounds."""
        s = self._settings
        moment = await queries.next_fire_moment(self._pool)
        if moment is None:
            return s.tick_seconds
        wait = (moment - datetime.now(UTC)).total_seconds()
        return min(s.tick_seconds, max(s.fire_gap_seconds, wait))

    async def run(self) -> None:
        while True:
            if await self.fire_due() >= self._settings.fire_batch:
                continue  # more are due right now
            await asyncio.sleep(await self.pause())
