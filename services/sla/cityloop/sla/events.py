"""The events sla announces: a line in ``ticket.lifecycle`` and, for the department holding the task,
a ``cityloop.task.updated`` on ``dept.<code>.tasks``.

Firing events get ids derived from (clock, step, moment): if a step were ever fired twice, the outbox
(unique event id) and every consumer's inbox would still see one event.
"""

import uuid
from datetime import datetime

from cityloop.common.contract import types
from cityloop.common.contract.models import Deadlines, LifecycleEvent, TaskUpdated
from cityloop.common.envelope import CloudEvent, new_event
from cityloop.common.topics import TICKET_LIFECYCLE, dept_tasks

SOURCE = "/cityloop/sla"
ACTOR = "sla"
_FIRING_IDS = uuid.UUID("5b1a0c7e-3d2f-4c55-9a61-1a2b3c4d5e6f")

Outgoing = tuple[str, CloudEvent]


def firing_event_id(clock_id: int, step: int, scheduled_at: datetime, channel: str) -> str:
    return str(uuid.uuid5(_FIRING_IDS, f"{clock_id}:{step}:{scheduled_at.isoformat()}:{channel}"))


def lifecycle(ticket_id: str, type_: str, summary: str, *, event_id: str | None = None, **detail: object) -> Outgoing:
    event = new_event(
        type_,
        source=SOURCE,
        subject=ticket_id,
        data=LifecycleEvent(ticket_id=ticket_id, actor=ACTOR, summary=summary, detail=detail),
    )
    if event_id is not None:
        event = event.model_copy(update={"id": event_id})
    return TICKET_LIFECYCLE.name, event


def task_updated(
    *,
    ticket_id: str,
    assignment_id: str | None,
    dept_code: str | None,
    change: str,
    note: str | None = None,
    deadlines: Deadlines | None = None,
    event_id: str | None = None,
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
    )
    event = new_event(types.TASK_UPDATED, source=SOURCE, subject=ticket_id, data=data)
    if event_id is not None:
        event = event.model_copy(update={"id": event_id})
    return [(dept_tasks(dept_code).name, event)]


def deadlines_for(kind: str, due_at: datetime) -> Deadlines | None:
    """How a clock's deadline reads in a task: accept-by, or resolve-by (a 重办 re-handle-by included)."""
    if kind == "accept":
        return Deadlines(accept_by=due_at)
    if kind in {"resolve", "rehandle"}:
        return Deadlines(resolve_by=due_at)
    return None
