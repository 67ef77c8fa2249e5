"""延期: deciding a department's extension request. Approval (by a dispatcher, or by a unit that
supervises the department) moves the deadline and restarts the clock's ladder; rejection leaves it."""

from datetime import datetime

import asyncpg

from cityloop.common import outbox
from cityloop.common.contract import types
from cityloop.common.contract.lifecycle import ClockKind, DeadlinesSet, ExtensionApproved, ExtensionRejected
from cityloop.common.db.pool import Conn
from cityloop.common.errors import Conflict, Forbidden, Invalid, NotFound
from cityloop.common.identity import Identity, Role
from cityloop.sla import events, ladder, queries
from cityloop.sla.deadlines import warn_at


def may_decide(identity: Identity, clock: asyncpg.Record) -> bool:
    """Dispatchers and admins decide any request; a department only those of units it supervises."""
    if identity.role in {Role.DISPATCHER, Role.ADMIN}:
        return True
    return identity.role is Role.DEPARTMENT and identity.dept_code in (clock["supervisors"] or [])


async def _load(conn: Conn, extension_id: int, identity: Identity) -> tuple[asyncpg.Record, asyncpg.Record]:
    extension = await queries.lock_extension(conn, extension_id)
    if extension is None:
        raise NotFound(f"no extension request {extension_id}", "extension_id")
    clock = await queries.lock_clock(conn, extension["clock_id"])
    assert clock is not None  # foreign key
    if not may_decide(identity, clock):
        raise Forbidden("only a dispatcher or a unit supervising the department may decide")
    if extension["status"] != "pending":
        raise Conflict(f"extension request {extension_id} is {extension['status']}", error="already_decided")
    if clock["state"] != "open":
        raise Conflict(f"the {clock['kind']} clock is {clock['state']}", error="clock_closed")
    return extension, clock


async def approve(
    conn: Conn, extension_id: int, identity: Identity, *, deadline: datetime | None, note: str | None
) -> asyncpg.Record:
    extension, clock = await _load(conn, extension_id, identity)
    granted: datetime = deadline or extension["requested_deadline"]
    if granted <= clock["due_at"]:
        raise Invalid("must be later than the current deadline", "deadline")
    if clock["latest_due_at"] is not None and granted > clock["latest_due_at"]:
        raise Invalid(f"beyond the longest allowed deadline {clock['latest_due_at'].isoformat()}", "deadline")
    warn = warn_at(clock["started_at"], granted, clock["warn_ratio"])
    step, first_at = ladder.first_step(warn, granted)
    await queries.move_clock(conn, clock["id"], due_at=granted, warn_at=warn, step=step, next_fire_at=first_at)
    decided = await queries.decide_extension(
        conn, extension_id, status="approved", by=identity.subject, role=identity.role.value, note=note, granted=granted
    )
    ticket_id = clock["ticket_id"]
    out = [
        events.lifecycle(
            ticket_id,
            types.SLA_EXTENSION_APPROVED,
            f"延期 approved: {clock['kind']} deadline moved to {granted.isoformat()}",
            ExtensionApproved(
                extension_id=extension_id,
                kind=clock["kind"],
                previous_due_at=clock["due_at"],
                due_at=granted,
                decided_by=identity.subject,
                dept_code=clock["dept_code"],
                assignment_id=clock["assignment_id"],
            ),
        ),
        events.lifecycle(
            ticket_id,
            types.SLA_DEADLINES_SET,
            f"deadlines set: {clock['kind']} by {granted.isoformat()}",
            DeadlinesSet(
                deadlines={ClockKind(clock["kind"]): granted},
                dept_code=clock["dept_code"],
                assignment_id=clock["assignment_id"],
                mode=clock["mode"],
            ),
        ),
        *events.task_updated(
            ticket_id=ticket_id,
            assignment_id=clock["assignment_id"],
            dept_code=clock["dept_code"],
            change="deadline_moved",
            note=note or "延期 approved",
            deadlines=events.deadlines_for(clock["kind"], granted),
        ),
    ]
    await outbox.enqueue_many(conn, out)
    return decided


async def reject(conn: Conn, extension_id: int, identity: Identity, *, reason: str) -> asyncpg.Record:
    extension, clock = await _load(conn, extension_id, identity)
    decided = await queries.decide_extension(
        conn, extension_id, status="rejected", by=identity.subject, role=identity.role.value, note=reason, granted=None
    )
    ticket_id = clock["ticket_id"]
    out = [
        events.lifecycle(
            ticket_id,
            types.SLA_EXTENSION_REJECTED,
            f"延期 rejected: {clock['kind']} deadline stays {clock['due_at'].isoformat()}",
            ExtensionRejected(
                extension_id=extension_id,
                kind=clock["kind"],
                due_at=clock["due_at"],
                requested_deadline=extension["requested_deadline"],
                reason=reason,
                decided_by=identity.subject,
                dept_code=clock["dept_code"],
                assignment_id=clock["assignment_id"],
            ),
        ),
        *events.task_updated(
            ticket_id=ticket_id,
            assignment_id=clock["assignment_id"],
            dept_code=clock["dept_code"],
            change="extension_rejected",
            note=reason,
            deadlines=events.deadlines_for(clock["kind"], clock["due_at"]),
        ),
    ]
    await outbox.enqueue_many(conn, out)
    return decided
