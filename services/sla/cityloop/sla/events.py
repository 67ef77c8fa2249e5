"""The events sla announces: a line in ``ticket.lifecycle`` and, for the department holding the task,
a ``cityloop.task.updated`` on ``dept.<code>.tasks``.

Firing events get ids derived from (clock, step, moment): if a step were ever fired twice, the outbox
(unique event id) and every consumer's inbox would still see one event.
"""

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from cityloop.common.contract import types
from cityloop.common.contract.emitter import Emitter
from cityloop.common.contract.lifecycle import ClockKind, ClockStep, Detail
from cityloop.common.contract.models import Deadlines, TaskMode, TaskUpdated
from cityloop.common.envelope import CloudEvent
from cityloop.common.topics import TICKET_LIFECYCLE, dept_tasks

EMIT = Emitter(source="/cityloop/sla", actor="sla")

Outgoing = tuple[str, CloudEvent]


def firing_event_id(clock_id: int, step: int, scheduled_at: datetime, channel: str) -> str:
    micros = round(scheduled_at.timestamp() * 1_000_000)
    return f"sla-fire-{clock_id}-{step}-{micros}-{channel}"


@lru_cache(maxsize=4096)
def task_topic(dept_code: str) -> str:
    return dept_tasks(dept_code).name


def lifecycle(ticket_id: str, type_: str, summary: str, detail: Detail) -> Outgoing:
    return TICKET_LIFECYCLE.name, EMIT.lifecycle(type_, ticket_id, None, summary, detail)


def task_updated(
    *,
    ticket_id: str,
    assignment_id: str | None,
    dept_code: str | None,
    change: str,
    note: str | None = None,
    deadlines: Deadlines | None = None,
    mode: TaskMode | None = None,
    event_id: str | None = None,
    time: datetime | None = None,
) -> list[Outgoing]:
    """The department's copy; none when the clock does not know which department or task it is."""
    if not assignment_id or not dept_code:
        return []
    data = TaskUpdated(
        ticket_id=ticket_id,
        assignment_id=assignment_id,
        dept_code=dept_code,
        change=change,
        note=note,
        deadlines=deadlines,
        mode=mode,
    )
    return [(task_topic(dept_code), EMIT.task(types.TASK_UPDATED, data, event_id=event_id, time=time))]


def deadlines_for(kind: ClockKind | str, due_at: datetime) -> Deadlines | None:
    """How one clock's deadline reads in a task: accept-by, on-site-by, or resolve-by (a 重办
    re-handle-by included); None for the hotline's own callback clock."""
    if kind == "accept":
        return Deadlines(accept_by=due_at)
    if kind == "on_site":
        return Deadlines(on_site_by=due_at)
    if kind in {"resolve", "rehandle"}:
        return Deadlines(resolve_by=due_at)
    return None


def task_deadlines(due: dict[ClockKind, datetime], *, estimated: bool) -> Deadlines:
    """Every deadline of a task at once (``deadline_set``), with whether the calendar had to guess."""
    return Deadlines(
        accept_by=due.get(ClockKind.ACCEPT),
        on_site_by=due.get(ClockKind.ON_SITE),
        resolve_by=due.get(ClockKind.RESOLVE) or due.get(ClockKind.REHANDLE),
        estimated=estimated,
    )


@dataclass(frozen=True, slots=True)
class FiredClock:
    """What ``fired`` needs to know about the clock whose step fired."""

    clock_id: int
    ticket_id: str
    assignment_id: str | None
    dept_code: str | None
    kind: str
    step: int
    scheduled_at: datetime
    due_at: datetime


def fired(
    *,
    now: datetime,
    clock: FiredClock,
    lifecycle_type: str,
    summary: str,
    detail: ClockStep,
    change: str | None,
) -> list[Outgoing]:
    """The firing loop's hot path (thousands a second): the trail line and the department's update for
    one fired step, with ids derived from (clock, step, moment) and the round's ``now`` as their time."""
    ticket_id = clock.ticket_id
    event_id = firing_event_id(clock.clock_id, clock.step, clock.scheduled_at, "lifecycle")
    out = [
        (
            TICKET_LIFECYCLE.name,
            EMIT.lifecycle(lifecycle_type, ticket_id, None, summary, detail, event_id=event_id, time=now),
        )
    ]
    if change is not None:
        out += task_updated(
            ticket_id=ticket_id,
            assignment_id=clock.assignment_id,
            dept_code=clock.dept_code,
            change=change,
            note=summary,
            deadlines=deadlines_for(clock.kind, clock.due_at),
            event_id=firing_event_id(clock.clock_id, clock.step, clock.scheduled_at, "task"),
            time=now,
        )
    return out
