"""The effects every routing flow shares: record an assignment and send its task (assign), take it back
(withdraw), tell its holder of a change (tell), and announce on ticket.lifecycle (announce). All inside
the caller's transaction, through the outbox."""

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

from cityloop.common import outbox
from cityloop.common.contract import types
from cityloop.common.contract.emitter import Emitter
from cityloop.common.contract.models import (
    GridChain,
    TaskAssigned,
    TaskLocation,
    TaskMode,
    TaskUnit,
    TaskUpdated,
    TaskWithdrawn,
    TicketSnapshot,
    Urgency,
)
from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.common.personal.masking import mask_address
from cityloop.common.topics import TICKET_LIFECYCLE, dept_tasks
from cityloop.router.dispatch.location import Location
from cityloop.router.masterdata.model import Category, Department, Unit
from cityloop.router.tickets import store

ACTOR = "router"
#: Every event router sends is built here (libs/common/cityloop/common/contract/emitter.py).
EMIT = Emitter(source="/cityloop/router", actor=ACTOR)
_URGENCY_ORDER = [Urgency.NORMAL, Urgency.URGENT, Urgency.CRITICAL]


async def announce(conn: Conn, event: CloudEvent) -> None:
    await outbox.enqueue(conn, TICKET_LIFECYCLE.name, event)


def effective_urgency(snapshot: TicketSnapshot, category: Category) -> Urgency:
    """The more urgent of what the call-taker said and the catalogue's default."""
    return urgency_of(snapshot.urgency, category)


def urgency_of(said: Urgency, category: Category) -> Urgency:
    return max(said, Urgency(category.urgency), key=_URGENCY_ORDER.index)


def chain_of(location: Location) -> GridChain:
    return GridChain(
        district=location.district, street=location.street, community=location.community, grid=location.grid
    )


async def assign(
    conn: Conn,
    *,
    ticket_id: str,
    snapshot: TicketSnapshot,
    dept: Department,
    role: str,
    category: Category,
    location: Location,
    why: dict[str, Any],
    final: bool = False,
    mode: TaskMode | None = None,
    unit: Unit | None = None,
) -> str:
    """Record the assignment and send the task (cityloop.task.assigned) to the department's topic. The
    task carries no deadlines: sla computes them from the catalogue's days and follows with
    cityloop.task.updated (change deadline_set)."""
    assignment_id = new_assignment_id()
    mode = mode or TaskMode()
    await store.insert_assignment(
        conn,
        assignment_id=assignment_id,
        ticket_id=ticket_id,
        dept_code=dept.code,
        role=role,
        reason=why,
        final=final,
        mode=mode.kind,
        emergency_id=mode.emergency_id,
        unit=task_unit(unit).model_dump(mode="json") if unit else None,
    )
    task = task_for(
        ticket_id=ticket_id,
        assignment_id=assignment_id,
        dept_code=dept.code,
        role=role,
        category=category,
        snapshot=snapshot,
        location=location,
        mode=mode,
        unit=unit,
    )
    await outbox.enqueue(conn, dept_tasks(dept.code).name, EMIT.task(types.TASK_ASSIGNED, task))
    return assignment_id


def new_assignment_id() -> str:
    return f"A-{uuid.uuid4().hex[:16]}"


def task_for(
    *,
    ticket_id: str,
    assignment_id: str,
    dept_code: str,
    role: str,
    category: Category,
    snapshot: TicketSnapshot,
    location: Location,
    mode: TaskMode,
    unit: Unit | None = None,
) -> TaskAssigned:
    """The task a department receives for one assignment (assign() and emergency re-homing both send it)."""
    return TaskAssigned(
        ticket_id=ticket_id,
        assignment_id=assignment_id,
        dept_code=dept_code,
        role="lead" if role == "lead" else "assist",
        category=category.code,
        category_name=category.name,
        description=snapshot.description,
        location=TaskLocation(
            chain=chain_of(location),
            address_masked=mask_address(snapshot.location.address),
            lat=snapshot.location.lat,
            lon=snapshot.location.lon,
        ),
        urgency=effective_urgency(snapshot, category),
        mode=mode,
        citizen=snapshot.citizen,
        unit=task_unit(unit) if unit else None,
    )


def task_unit(unit: Unit) -> TaskUnit:
    """A community or grid unit as its platform's task names it (五级应用)."""
    chain = GridChain(district=unit.district, street=unit.street, community=unit.community, grid=unit.grid)
    return TaskUnit(level="grid" if unit.level == "grid" else "community", code=unit.code, name=unit.name, chain=chain)


async def withdraw(conn: Conn, assignment: asyncpg.Record, reason: str) -> None:
    """Take a task back from its department (cityloop.task.withdrawn), e.g. after a dispatcher's correction."""
    await store.withdraw_assignment(conn, assignment["id"], reason)
    data = TaskWithdrawn(
        ticket_id=assignment["ticket_id"],
        assignment_id=assignment["id"],
        dept_code=assignment["dept_code"],
        reason=reason,
    )
    await outbox.enqueue(conn, dept_tasks(assignment["dept_code"]).name, EMIT.task(types.TASK_WITHDRAWN, data))


async def tell(conn: Conn, assignment: Mapping[str, Any] | asyncpg.Record, change: str, note: str) -> None:
    """A cityloop.task.updated to the holder of a live assignment (merged, split ...)."""
    data = TaskUpdated(
        ticket_id=assignment["ticket_id"],
        assignment_id=assignment["id"],
        dept_code=assignment["dept_code"],
        change=change,
        note=note,
    )
    await outbox.enqueue(conn, dept_tasks(assignment["dept_code"]).name, EMIT.task(types.TASK_UPDATED, data))
