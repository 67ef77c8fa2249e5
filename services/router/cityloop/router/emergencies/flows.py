"""Declare, update and stand down an emergency; take surge proposals in and decide them. Each call runs in
the caller's transaction: the emergency's row, its log line and its ``control.mode`` event (through the
outbox) commit together.

Ordering with routing: these calls take the mode lock exclusively, routing takes it shared (see
dispatch/flows.py), so a ticket routed by the old set of emergencies has committed before the change does, and
the re-homing that follows the change (rehoming.py) finds it.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from cityloop.common import outbox
from cityloop.common.contract import types
from cityloop.common.contract.emergencies import (
    Emergency,
    EmergencyDeadlines,
    EmergencyDeclared,
    EmergencyScope,
    EmergencyStoodDown,
    EmergencyUpdated,
    Level,
)
from cityloop.common.contract.emitter import Emitter
from cityloop.common.contract.lifecycle import Progress
from cityloop.common.contract.models import DeptUpdate
from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.common.errors import Invalid, NotFound
from cityloop.common.topics import CONTROL_MODE
from cityloop.router.effects import EMIT, announce, tell
from cityloop.router.emergencies import rules, store
from cityloop.router.emergencies.metrics import PROPOSALS
from cityloop.router.masterdata.model import MasterData
from cityloop.router.tickets import store as tickets

SOURCE = "/cityloop/router/emergencies"
#: control.mode events are built here (libs/common/cityloop/common/contract/emitter.py).
MODE_EMIT = Emitter(source=SOURCE, actor="router")


class DeclarationInvalid(Exception):
    """Becomes a 422 naming every bad field."""

    def __init__(self, problems: list[rules.Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.problem}" for p in problems))
        self.problems = problems


def _check(e: Emergency, master: MasterData) -> None:
    problems = rules.check_declaration(
        scope=e.scope,
        categories=e.categories,
        command_unit=e.command_unit,
        participants=e.participants,
        master=master,
    )
    if problems:
        raise DeclarationInvalid(problems)


async def _announce(conn: Conn, type_: str, e: Emergency) -> None:
    models: dict[str, type[Emergency]] = {
        types.MODE_EMERGENCY_DECLARED: EmergencyDeclared,
        types.MODE_EMERGENCY_UPDATED: EmergencyUpdated,
        types.MODE_EMERGENCY_STOOD_DOWN: EmergencyStoodDown,
    }
    model = models[type_]
    data = model.model_validate(e.model_dump())
    # Keyed by the emergency id: the compacted topic keeps each emergency's latest state.
    await outbox.enqueue(conn, CONTROL_MODE.name, MODE_EMIT.event(type_, data, subject=e.id))


async def declare(
    conn: Conn,
    master: MasterData,
    *,
    actor: str,
    name: str,
    level: Level,
    scope: EmergencyScope,
    categories: list[str],
    command_unit: str,
    participants: dict[str, list[str]],
    deadlines: EmergencyDeadlines,
    proposal_id: str | None = None,
) -> Emergency:
    await store.lock_modes(conn)
    e = Emergency(
        id=f"E-{uuid.uuid4().hex[:12]}",
        name=name,
        level=level,
        scope=scope,
        categories=categories,
        command_unit=command_unit,
        participants=participants,
        deadlines=deadlines,
        declared_by=actor,
        declared_at=datetime.now(UTC),
        proposal_id=proposal_id,
    )
    _check(e, master)
    await store.save(conn, e)
    await store.log(conn, action="declared", actor=actor, emergency_id=e.id, detail=e.model_dump(mode="json"))
    await _announce(conn, types.MODE_EMERGENCY_DECLARED, e)
    return e


async def _open(conn: Conn, emergency_id: str) -> Emergency:
    e = await store.get(conn, emergency_id, lock=True)
    if e is None:
        raise NotFound(f"no emergency {emergency_id}", "id")
    if not e.active:
        raise Invalid(f"emergency {emergency_id} was stood down at {e.stood_down_at}", "status")
    return e


async def update(
    conn: Conn, master: MasterData, emergency_id: str, *, actor: str, changes: dict[str, Any]
) -> Emergency:
    await store.lock_modes(conn)
    current = await _open(conn, emergency_id)
    e = current.model_copy(update={**changes, "version": current.version + 1})
    e = Emergency.model_validate(e.model_dump())  # re-validated as a whole
    _check(e, master)
    await store.save(conn, e)
    await store.log(conn, action="updated", actor=actor, emergency_id=e.id, detail={"changes": _json(changes)})
    data = EmergencyUpdated.model_validate({**e.model_dump(), "changed": sorted(changes)})
    await outbox.enqueue(
        conn,
        CONTROL_MODE.name,
        MODE_EMIT.event(types.MODE_EMERGENCY_UPDATED, data, subject=e.id),
    )
    return e


async def stand_down(conn: Conn, emergency_id: str, *, actor: str, note: str | None) -> Emergency:
    await store.lock_modes(conn)
    current = await _open(conn, emergency_id)
    e = current.model_copy(
        update={"stood_down_at": datetime.now(UTC), "stood_down_by": actor, "version": current.version + 1}
    )
    await store.save(conn, e)
    await store.log(conn, action="stood_down", actor=actor, emergency_id=e.id, detail={"note": note})
    await _announce(conn, types.MODE_EMERGENCY_STOOD_DOWN, e)
    return e


def _json(changes: dict[str, Any]) -> dict[str, Any]:
    return {k: v.model_dump(mode="json") if hasattr(v, "model_dump") else v for k, v in changes.items()}


# ------------------------------------------------------------------------------------------ 先行处置


async def rejection_noted(conn: Conn, assignment: asyncpg.Record, update: DeptUpdate) -> None:
    """先行处置: under an emergency a 退单 does not return the task. It becomes a note to the command unit
    (on its lead task) and on the trail; the department keeps acting, responsibility is settled later."""
    note = f"{update.dept_code} objects (退单 under emergency {assignment['emergency_id']}): {update.reason}" + (
        f"; suggests {update.suggested_dept}" if update.suggested_dept else ""
    )
    for live in await tickets.live_assignments(conn, update.ticket_id):
        if live["role"] == "lead" and live["mode"] == "emergency":
            await tell(conn, live, "rejection_noted", note + " — the task stays with it (先行处置)")
    detail = Progress(
        dept_code=update.dept_code,
        assignment_id=update.assignment_id,
        role="lead" if assignment["role"] == "lead" else "assist",
        update="rejection_noted",
        reason=update.reason,
        suggested_dept=update.suggested_dept,
        emergency_id=assignment["emergency_id"],
        outcome="task_stays",
    )
    summary = f"{update.dept_code}: 退单 noted for the command, the task stays (先行处置) — {update.reason}"
    await announce(conn, EMIT.lifecycle(types.TICKET_PROGRESS, update.ticket_id, None, summary, detail))


# ------------------------------------------------------------------------------------------ proposals


# ------------------------------------------------------------------------------------------ overdue

#: sla's clock events router follows to count an emergency's overdue tasks (sla owns the deadlines)
CLOCK_TYPES = frozenset({types.SLA_BREACHED, types.SLA_DEADLINE_MET, types.SLA_DEADLINE_CANCELLED})


async def on_clock(conn: Conn, event: CloudEvent) -> None:
    detail = (event.data.get("detail") or {}) if isinstance(event.data, dict) else {}
    assignment_id, kind = detail.get("assignment_id"), detail.get("kind")
    if not assignment_id or not kind:
        return
    if event.type == types.SLA_BREACHED:
        await store.clock_breached(conn, str(assignment_id), str(kind))
    else:
        await store.clock_closed(conn, str(assignment_id), str(kind))


async def proposal_received(conn: Conn, data: dict[str, Any], at: datetime) -> None:
    """A surge proposal from the stream processor: kept pending for the command centre. A re-published
    proposal (same id) changes nothing."""
    proposal_id = str(data.get("proposal_id") or "")
    if not proposal_id:
        return
    proposed_at = data.get("proposed_at")
    when = datetime.fromisoformat(proposed_at) if isinstance(proposed_at, str) else at
    if await store.insert_proposal(conn, proposal_id, data, when):
        PROPOSALS.labels("received").inc()
        await store.log(conn, action="proposal_received", actor="surge-detector", proposal_id=proposal_id, detail=data)


async def pending_proposal(conn: Conn, proposal_id: str) -> dict[str, Any]:
    row = await store.get_proposal(conn, proposal_id, lock=True)
    if row is None:
        raise NotFound(f"no proposal {proposal_id}", "proposal_id")
    if row["status"] != "pending":
        raise Invalid(f"proposal {proposal_id} is already {row['status']}", "status")
    proposed: dict[str, Any] = row["proposed"]
    return proposed


def prefill(proposed: dict[str, Any], master: MasterData) -> dict[str, Any]:
    """A declaration from a proposal: its name, level, scope and categories; the district's operations
    centre commands; the units peacetime would have sent participate; emergency-policy minutes."""
    district = proposed.get("district")
    street = proposed.get("street")
    scope = proposed.get("scope") or {"districts": [] if street else [district], "streets": [street] if street else []}
    categories = list(
        proposed.get("categories") or ([proposed["category_group"]] if proposed.get("category_group") else [])
    )
    ops = master.unit(rules.COMMAND_TYPE, "district", district=district, street=None) if district else None
    command = ops or master.unit(rules.COMMAND_TYPE, "city", district=None, street=None)
    return {
        "name": proposed.get("name") or f"surge {proposed.get('category_group')} {street or district}",
        "level": proposed.get("suggested_level") or "IV",
        "scope": scope,
        "categories": categories,
        "command_unit": command.code if command else "",
        "participants": rules.default_participants(categories, district, street, master),
        "deadlines": {"accept_minutes": 15, "onsite_minutes": 60, "resolve_minutes": 240},
    }


async def proposal_confirmed(conn: Conn, proposal_id: str, e: Emergency, *, actor: str) -> None:
    await store.decide_proposal(conn, proposal_id, status="confirmed", by=actor, note=None, emergency_id=e.id)
    await store.log(conn, action="proposal_confirmed", actor=actor, emergency_id=e.id, proposal_id=proposal_id)
    PROPOSALS.labels("confirmed").inc()


async def dismiss(conn: Conn, proposal_id: str, *, actor: str, reason: str) -> dict[str, Any]:
    await pending_proposal(conn, proposal_id)
    row = await store.decide_proposal(conn, proposal_id, status="dismissed", by=actor, note=reason, emergency_id=None)
    await store.log(conn, action="proposal_dismissed", actor=actor, proposal_id=proposal_id, detail={"reason": reason})
    PROPOSALS.labels("dismissed").inc()
    return dict(row)
