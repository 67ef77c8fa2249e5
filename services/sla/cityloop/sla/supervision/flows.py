"""督办 desk: what the firing loop sends when a 督办 step puts a late task on a desk, and the desk's actions
(urge, set a supervised deadline, escalate, close). Each action runs in the caller's transaction and
writes its events through the outbox: the trail line (``cityloop.sla.supervision``), the department's
``cityloop.task.updated`` (urge, deadline), the next desk's ``cityloop.task.supervised`` (escalate)."""

from datetime import datetime

import asyncpg

from cityloop.common import outbox
from cityloop.common.contract import types
from cityloop.common.contract.lifecycle import ClockKind, DeadlinesSet
from cityloop.common.contract.supervision import Supervision, SupervisionAction, TaskSupervised
from cityloop.common.db.pool import Conn
from cityloop.common.errors import Conflict, Forbidden, Invalid, NotFound
from cityloop.common.identity import Identity
from cityloop.common.topics import TICKET_LIFECYCLE
from cityloop.sla import events, ladder, queries
from cityloop.sla.deadlines import warn_at
from cityloop.sla.supervision import rules, store


def on_desk(
    placed: store.Placed, *, escalated_from: str | None, note: str, by: str, event_id: str | None, time: datetime
) -> list[events.Outgoing]:
    """The desk's copy (on its own topic) and the trail line of a late task put on ``placed.desk``."""
    if not placed.assignment_id or not placed.dept_code:
        return []
    task = TaskSupervised(
        supervision_id=placed.clock_id,
        ticket_id=placed.ticket_id,
        dept_code=placed.dept_code,
        assignment_id=placed.assignment_id,
        kind=placed.kind,
        due_at=placed.due_at,
        category=placed.category,
        desk=placed.desk,
        level=placed.level,
        escalated_from=escalated_from,
        note=note,
    )
    action: SupervisionAction = "escalated" if escalated_from else "opened"
    line = Supervision(
        supervision_id=placed.clock_id,
        action=action,
        desk=placed.desk,
        dept_code=placed.dept_code,
        assignment_id=placed.assignment_id,
        kind=placed.kind,
        by=by,
        note=note,
        escalated_from=escalated_from,
    )
    desk_event = events.EMIT.task(
        types.TASK_SUPERVISED, task, event_id=f"{event_id}-desk" if event_id else None, time=time
    )
    trail = events.EMIT.lifecycle(
        types.SLA_SUPERVISION,
        placed.ticket_id,
        None,
        f"督办 on the desk of {placed.desk}: {placed.dept_code} missed its {placed.kind} deadline",
        line,
        event_id=f"{event_id}-desk-trail" if event_id else None,
        time=time,
    )
    return [(events.task_topic(placed.desk), desk_event), (TICKET_LIFECYCLE.name, trail)]


async def _open_item(conn: Conn, supervision_id: int, identity: Identity) -> asyncpg.Record:
    item = await store.lock(conn, supervision_id)
    if item is None or not rules.may_read(identity, item["desk"]):
        raise NotFound(f"no supervision {supervision_id}", "supervision_id")
    if not rules.may_act(identity, item["desk"]):
        raise Forbidden(f"only the desk of {item['desk']} acts on this supervision")
    if item["status"] != "open":
        raise Conflict(f"supervision {supervision_id} is closed", "supervision_id", error="supervision_closed")
    return item


def _trail(
    item: asyncpg.Record,
    action: SupervisionAction,
    summary: str,
    identity: Identity,
    *,
    note: str | None,
    deadline: datetime | None = None,
) -> events.Outgoing:
    line = Supervision(
        supervision_id=item["clock_id"],
        action=action,
        desk=item["desk"],
        dept_code=item["dept_code"],
        assignment_id=item["assignment_id"],
        kind=item["kind"],
        by=identity.subject,
        note=note,
        deadline=deadline,
    )
    return events.lifecycle(item["ticket_id"], types.SLA_SUPERVISION, summary, line)


async def urge(conn: Conn, supervision_id: int, identity: Identity, *, note: str) -> asyncpg.Record:
    """催办 from the desk: the department hears it on its topic (task.updated, change ``urged``)."""
    item = await _open_item(conn, supervision_id, identity)
    updated = await store.urged(conn, supervision_id, note)
    out = [
        _trail(item, "urged", f"督办: {item['desk']} urges {item['dept_code']}", identity, note=note),
        *events.task_updated(
            ticket_id=item["ticket_id"],
            assignment_id=item["assignment_id"],
            dept_code=item["dept_code"],
            change="urged",
            note=f"督办 ({item['desk']}): {note}",
        ),
    ]
    await outbox.enqueue_many(conn, out)
    return updated


async def set_deadline(
    conn: Conn, supervision_id: int, identity: Identity, *, deadline: datetime, note: str | None, now: datetime
) -> asyncpg.Record:
    """限期: the desk gives the department a deadline. sla owns deadlines: the late clock moves to it and
    its ladder starts again, so missing it is 督办 again; the department is told (deadline_moved)."""
    item = await _open_item(conn, supervision_id, identity)
    if deadline <= now:
        raise Invalid("a supervised deadline must be in the future", "deadline")
    clock = await queries.lock_clock(conn, supervision_id)
    assert clock is not None  # foreign key
    if clock["state"] != "open":
        raise Conflict(
            f"the {clock['kind']} clock is {clock['state']}: nothing left to supervise", error="clock_closed"
        )
    warn = warn_at(now, deadline, clock["warn_ratio"])
    step, first_at = ladder.first_step(warn, deadline)
    await queries.move_clock(conn, clock["id"], due_at=deadline, warn_at=warn, step=step, next_fire_at=first_at)
    updated = await store.deadline_set(conn, supervision_id, deadline, note)
    what = note or "督办限期"
    out = [
        _trail(
            item,
            "deadline_set",
            f"督办: {item['desk']} sets {item['dept_code']} a deadline",
            identity,
            note=note,
            deadline=deadline,
        ),
        events.lifecycle(
            item["ticket_id"],
            types.SLA_DEADLINES_SET,
            f"deadlines set: {clock['kind']} by {deadline.isoformat()} (督办)",
            DeadlinesSet(
                deadlines={ClockKind(clock["kind"]): deadline},
                dept_code=clock["dept_code"],
                assignment_id=clock["assignment_id"],
                mode=clock["mode"],
            ),
        ),
        *events.task_updated(
            ticket_id=item["ticket_id"],
            assignment_id=item["assignment_id"],
            dept_code=item["dept_code"],
            change="deadline_moved",
            note=f"督办 ({item['desk']}): {what}",
            deadlines=events.deadlines_for(clock["kind"], deadline),
        ),
    ]
    await outbox.enqueue_many(conn, out)
    return updated


async def escalate(
    conn: Conn, supervision_id: int, identity: Identity, *, note: str | None, now: datetime
) -> asyncpg.Record:
    """The desk passes the supervision up to the next desk, which hears it on its own topic."""
    item = await _open_item(conn, supervision_id, identity)
    above = rules.next_desk(item["desk"], list(item["desks"]))
    if above is None:
        raise Conflict(f"{item['desk']} is the top of the chain: nobody above to escalate to", error="top_of_chain")
    updated = await store.escalated(conn, supervision_id, above, note)
    placed = store.Placed(
        clock_id=item["clock_id"],
        ticket_id=item["ticket_id"],
        assignment_id=item["assignment_id"],
        dept_code=item["dept_code"],
        category=item["category"],
        kind=item["kind"],
        due_at=item["due_at"],
        desk=above,
        level=updated["level"],
        desks=list(item["desks"]),
        at=now,
    )
    out = on_desk(
        placed,
        escalated_from=item["desk"],
        note=note or f"escalated by {item['desk']}",
        by=identity.subject,
        event_id=None,
        time=now,
    )
    await outbox.enqueue_many(conn, out)
    return updated


async def close(conn: Conn, supervision_id: int, identity: Identity, *, note: str | None) -> asyncpg.Record:
    item = await _open_item(conn, supervision_id, identity)
    updated = await store.closed(conn, supervision_id, identity.subject, note)
    await outbox.enqueue_many(conn, [_trail(item, "closed", f"督办 closed by {item['desk']}", identity, note=note)])
    return updated


async def read(conn: Conn, supervision_id: int, identity: Identity) -> asyncpg.Record:
    item = await store.get(conn, supervision_id)
    if item is None or not rules.may_read(identity, item["desk"]):
        raise NotFound(f"no supervision {supervision_id}", "supervision_id")
    return item
