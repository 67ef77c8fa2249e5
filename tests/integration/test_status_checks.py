"""Every status enum in the code is mirrored by the CHECK constraint on its column, value for value,
read back from pg_constraint after each service's migrations ran (no broker needed)."""

import re
from collections.abc import AsyncIterator
from enum import StrEnum
from pathlib import Path
from typing import Any, get_args

import pytest

from cityloop.common.contract.callbacks import Satisfaction, Trigger, UnsatisfiedReason, Verdict, Via
from cityloop.common.contract.emergencies import Level as EmergencyLevel
from cityloop.common.contract.lifecycle import ClockKind, ModeKind, Role
from cityloop.common.contract.models import TicketStatus, Urgency
from cityloop.common.db.migrate import migrate
from cityloop.common.db.pool import create_pool
from cityloop.feedback.app import MIGRATIONS as FEEDBACK
from cityloop.feedback.callbacks.rules import CallbackStatus
from cityloop.feedback.scores.rules import Level, Mode, TaskState
from cityloop.intake.app import MIGRATIONS as INTAKE
from cityloop.intake.models import Channel
from cityloop.intake.models import Mode as TicketMode
from cityloop.router.app import MIGRATIONS as ROUTER
from cityloop.router.emergencies.store import EmergencyStatus, LogAction, ProposalStatus
from cityloop.router.tickets.status import AssignmentStatus, RoutingStatus
from cityloop.sla.app import MIGRATIONS as SLA
from tests.conftest import RUN_ID
from tests.databases import scratch_database

#: (service, migrations, table, column) -> the values the code knows.
MIRRORS: dict[tuple[str, Path, str, str], type[StrEnum] | Any] = {
    ("intake", INTAKE, "tickets", "status"): TicketStatus,
    ("intake", INTAKE, "tickets", "channel"): Channel,
    ("intake", INTAKE, "tickets", "urgency"): Urgency,
    ("intake", INTAKE, "tickets", "mode"): TicketMode,
    ("router", ROUTER, "tickets", "status"): RoutingStatus,
    ("router", ROUTER, "assignments", "status"): AssignmentStatus,
    ("router", ROUTER, "assignments", "role"): Role,
    ("router", ROUTER, "assignments", "mode"): ModeKind,
    ("router", ROUTER, "emergencies", "level"): EmergencyLevel,
    ("router", ROUTER, "emergencies", "status"): EmergencyStatus,
    ("router", ROUTER, "proposals", "status"): ProposalStatus,
    ("router", ROUTER, "emergency_log", "action"): LogAction,
    ("sla", SLA, "clocks", "kind"): ClockKind,
    ("feedback", FEEDBACK, "callbacks", "satisfaction"): Satisfaction,
    ("feedback", FEEDBACK, "callbacks", "status"): CallbackStatus,
    ("feedback", FEEDBACK, "callbacks", "trigger"): Trigger,
    ("feedback", FEEDBACK, "callbacks", "reason"): UnsatisfiedReason,
    ("feedback", FEEDBACK, "callbacks", "verdict"): Verdict,
    ("feedback", FEEDBACK, "callbacks", "via"): Via,
    ("feedback", FEEDBACK, "score_tasks", "state"): TaskState,
    ("feedback", FEEDBACK, "score_tasks", "mode"): Mode,
    ("feedback", FEEDBACK, "score_days", "level"): Level,
}


def _values(known: Any) -> set[str]:
    if isinstance(known, type) and issubclass(known, StrEnum):
        return {m.value for m in known}
    return set(get_args(known))  # a Literal


@pytest.fixture(scope="module")
async def checks() -> AsyncIterator[dict[tuple[str, str, str], set[str]]]:
    """(schema, table, column) -> the values its CHECK constraint allows, after every migration ran."""
    async with scratch_database(f"cityloop_checks_{RUN_ID}") as dsn:
        found: dict[tuple[str, str, str], set[str]] = {}
        for service, migrations in {(s, m) for (s, m, _, _) in MIRRORS}:
            pool = await create_pool(dsn, service, min_size=1, max_size=2)
            try:
                await migrate(pool, service, migrations)
                rows = await pool.fetch(
                    "SELECT rel.relname AS table_name, a.attname AS column_name,"
                    " pg_get_constraintdef(con.oid) AS definition"
                    " FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid"
                    " JOIN pg_namespace ns ON ns.oid = rel.relnamespace"
                    " JOIN pg_attribute a ON a.attrelid = rel.oid AND a.attnum = ANY(con.conkey)"
                    " WHERE con.contype = 'c' AND ns.nspname = $1 AND array_length(con.conkey, 1) = 1",
                    service,
                )
            finally:
                await pool.close()
            for row in rows:
                values = set(re.findall(r"'([^']*)'::text", row["definition"]))
                if values:
                    found[(service, row["table_name"], row["column_name"])] = values
        yield found


@pytest.mark.parametrize(("service", "migrations", "table", "column"), list(MIRRORS))
async def test_the_check_constraint_allows_exactly_the_enums_values(
    checks: dict[tuple[str, str, str], set[str]], service: str, migrations: Path, table: str, column: str
) -> None:
    allowed = checks.get((service, table, column))
    assert allowed is not None, f"{service}.{table}.{column} has no CHECK constraint"
    assert allowed == _values(MIRRORS[(service, migrations, table, column)])
