"""五级应用: a street's platform forwards its task to one of its residents' committees or grid teams. The
platform keeps the assignment (it answers for the unit on its topic); the assignment names the unit, the
platform's system hears it confirmed (cityloop.task.updated, change ``forwarded``, with the unit) and the
trail says so (cityloop.ticket.progress, update ``forwarded``)."""

import asyncpg

from cityloop.common.contract import types
from cityloop.common.contract.lifecycle import Progress
from cityloop.common.contract.models import DeptForwarded, TaskUpdated
from cityloop.common.db.pool import Conn
from cityloop.common.kafka.consumer import Refused
from cityloop.common.outbox import enqueue
from cityloop.common.topics import dept_tasks
from cityloop.router.context import RouterContext
from cityloop.router.effects import EMIT, announce, task_unit
from cityloop.router.masterdata.model import PLATFORM, MasterData, Unit
from cityloop.router.tickets import store as tickets

#: A platform may forward what it holds and has not finished.
FORWARDABLE = frozenset({"assigned", "accepted", "reopened"})


def unit_to_forward(master: MasterData, platform_code: str, unit_code: str) -> Unit:
    """Pure: the unit a platform may hand its task to (a community or grid of its own street), else Refused."""
    platform = master.departments.get(platform_code)
    if platform is None or platform.type != PLATFORM:
        raise Refused(f"{platform_code} is not a street's platform: only a platform forwards to its units")
    if unit_code in master.grids:
        unit = master.lower_unit("grid", community=None, grid=unit_code)
    else:
        unit = master.lower_unit("community", community=unit_code, grid=None)
    if unit is None:
        raise Refused(f"no community or grid {unit_code!r}")
    if unit.street != platform.street:
        raise Refused(f"{unit_code} is not in {platform_code}'s street")
    return unit


async def forward(conn: Conn, ctx: RouterContext, assignment: asyncpg.Record, update: DeptForwarded) -> None:
    if assignment["status"] not in FORWARDABLE:
        raise Refused(f"{types.DEPT_FORWARDED} is not allowed on an assignment that is {assignment['status']}")
    unit = unit_to_forward(await ctx.master.current(conn), update.dept_code, update.unit)
    named = task_unit(unit)
    await tickets.set_assignment_unit(conn, assignment["id"], named.model_dump(mode="json"))
    note = f"forwarded to {unit.name} ({unit.code})" + (f": {update.note}" if update.note else "")
    told = TaskUpdated(
        ticket_id=update.ticket_id,
        assignment_id=update.assignment_id,
        dept_code=update.dept_code,
        change="forwarded",
        note=note,
        unit=named,
    )
    await enqueue(conn, dept_tasks(update.dept_code).name, EMIT.task(types.TASK_UPDATED, told))
    detail = Progress(
        dept_code=update.dept_code,
        assignment_id=update.assignment_id,
        role="lead" if assignment["role"] == "lead" else "assist",
        note=note,
        update="forwarded",
    )
    await announce(
        conn, EMIT.lifecycle(types.TICKET_PROGRESS, update.ticket_id, None, f"{update.dept_code}: {note}", detail)
    )
