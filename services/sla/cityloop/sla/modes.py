"""Switching tickets between peacetime and emergency clocks (平战结合), in bulk.

Every switched clock restarts at the switch moment, so all clocks of one kind share one new deadline:
the arithmetic runs once per kind here and the store changes in ONE statement, however many tickets
an emergency covers. The emergency issue calls this on declare and on stand-down.
"""

from collections.abc import Sequence
from datetime import datetime

from cityloop.common import outbox
from cityloop.common.contract import types
from cityloop.common.contract.lifecycle import ClockKind, DeadlinesSet
from cityloop.common.contract.models import TaskMode
from cityloop.common.db.pool import Conn
from cityloop.sla import events, queries
from cityloop.sla.deadlines import due_after, warn_at
from cityloop.sla.policy import Mode, Policy
from cityloop.sla.settings import SlaSettings

#: Per kind, (deadline, warning) of a restarted clock.
Restarted = dict[ClockKind, tuple[datetime, datetime | None]]


def new_deadlines(at: datetime, policy: Policy, settings: SlaSettings) -> Restarted:
    """Pure: per kind, (deadline, warning) for clocks restarted at ``at``."""
    result: Restarted = {}
    for kind in ClockKind:
        span = policy.span(kind)
        if span is None:
            continue  # a clock of this kind keeps its deadline
        due = due_after(at, span, settings.office_hours).at
        result[kind] = (due, warn_at(at, due, policy.warn_ratio))
    return result


async def switch_mode(
    conn: Conn,
    *,
    ticket_ids: Sequence[str],
    mode: Mode,
    at: datetime,
    policy: Policy,
    settings: SlaSettings,
    command_unit: str | None = None,
    emergency_id: str | None = None,
) -> int:
    """Recompute the open clocks of ``ticket_ids`` for ``mode``; returns how many clocks changed.
    Each changed clock is announced (lifecycle, and task.updated change=mode_changed to its department)."""
    plan = new_deadlines(at, policy, settings)
    kinds = list(plan)
    changed = await queries.recompute_for_mode(
        conn,
        ticket_ids=ticket_ids,
        mode=mode,
        command_unit=command_unit,
        started_at=at,
        kinds=[k.value for k in kinds],
        due_ats=[plan[k][0] for k in kinds],
        warn_ats=[plan[k][1] for k in kinds],
        escalate_days=policy.escalate_every.working_days,
        escalate_seconds=policy.escalate_every.seconds,
    )
    task_mode = TaskMode(kind=mode, emergency_id=emergency_id)
    out: list[events.Outgoing] = []
    for row in changed:
        due = row["due_at"]
        out.append(
            events.lifecycle(
                row["ticket_id"],
                types.SLA_DEADLINES_SET,
                f"{mode} deadlines: {row['kind']} by {due.isoformat()}",
                DeadlinesSet(
                    deadlines={ClockKind(row["kind"]): due},
                    mode=mode,
                    dept_code=row["dept_code"],
                    assignment_id=row["assignment_id"],
                ),
            )
        )
        if row["kind"] != ClockKind.CALLBACK:
            out += events.task_updated(
                ticket_id=row["ticket_id"],
                assignment_id=row["assignment_id"],
                dept_code=row["dept_code"],
                change="mode_changed",
                note=f"{mode} deadlines",
                deadlines=events.deadlines_for(row["kind"], due),
                mode=task_mode,
            )
    await outbox.enqueue_many(conn, out)
    return len(changed)
