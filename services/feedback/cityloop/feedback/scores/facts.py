"""Keeping the 三率 facts and day counters up to date from ``ticket.lifecycle``, event by event.

Every change is written with its counter differences in the consumer's transaction (the inbox makes a
redelivered event a no-op), so the counters are always the sum of the facts: no nightly batch.

Deadlines are sla's: a task counts from sla's ``deadlines_set`` (an accept deadline) and is judged by
sla's ``deadline_met`` (late or not), ``breached`` and ``deadline_cancelled`` of that accept clock.
"""

from datetime import date

import asyncpg

from cityloop.common.contract import types
from cityloop.common.contract.callbacks import CallbackRecorded, CallbackUnreachable
from cityloop.common.contract.lifecycle import (
    ClockDetail,
    ClockKind,
    DeadlineMet,
    DeadlinesSet,
    Dispatched,
)
from cityloop.common.contract.models import TicketStatus
from cityloop.common.contract.parsing import parse_lifecycle
from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.feedback.scores import store
from cityloop.feedback.scores.rules import (
    CallbackFact,
    Counts,
    Exclusion,
    Level,
    TaskState,
    callback_counts,
    city_day,
    keys_for,
    task_counts,
    task_transition,
)
from cityloop.feedback.scores.store import Dims

HANDLED = frozenset(
    {
        types.TICKET_CREATED,
        types.TICKET_DISPATCHED,
        types.TICKET_HANDED_OVER,
        types.TICKET_MERGED,
        types.TICKET_SPLIT,
        types.SLA_DEADLINES_SET,
        types.SLA_DEADLINE_MET,
        types.SLA_BREACHED,
        types.SLA_DEADLINE_CANCELLED,
        types.CALLBACK_RECORDED,
        types.CALLBACK_UNREACHABLE,
    }
)

_CLOCK_EVENT = {
    types.SLA_DEADLINE_MET: "met",
    types.SLA_BREACHED: "breached",
    types.SLA_DEADLINE_CANCELLED: "cancelled",
}


def wants(event: CloudEvent) -> bool:
    """Only the events ``on_lifecycle`` acts on. Every ticket's ticket.created is passed over (before any
    database work, the inbox claim included) unless it was closed on the spot: a consultation (直接答复)."""
    if event.type == types.TICKET_CREATED:
        # A malformed status is taken: the handler's parsing names the field (DLQ), as before.
        return event.data.get("status") not in _NOT_CLOSED
    return event.type in HANDLED


_NOT_CLOSED = frozenset(s.value for s in TicketStatus if s is not TicketStatus.CLOSED)


async def on_lifecycle(conn: Conn, event: CloudEvent) -> None:
    if event.type not in HANDLED:
        return
    data = parse_lifecycle(event)
    ticket_id, detail = data.ticket_id, data.detail
    if event.type == types.TICKET_CREATED:
        if data.status is TicketStatus.CLOSED:  # a consultation answered on the spot (直接答复)
            await _exclude(conn, ticket_id, Exclusion.CONSULTATION)
    elif isinstance(detail, Dispatched):
        await _on_dispatched(conn, ticket_id, detail)
    elif event.type == types.TICKET_HANDED_OVER:
        await _exclude(conn, ticket_id, Exclusion.HANDED_OVER)
    elif event.type == types.TICKET_MERGED:
        await _exclude(conn, ticket_id, Exclusion.MERGED)
    elif event.type == types.TICKET_SPLIT:
        # Split out of a case again: its own facts from now on count (it had none while merged).
        await store.set_ticket_excluded(conn, ticket_id, None)
    elif isinstance(detail, DeadlinesSet):
        await _on_deadlines_set(conn, ticket_id, event, detail)
    elif isinstance(detail, ClockDetail) and event.type in _CLOCK_EVENT:
        await _on_clock(conn, _CLOCK_EVENT[event.type], detail)
    elif isinstance(detail, CallbackRecorded | CallbackUnreachable):
        await _on_callback(conn, ticket_id, event, detail)


async def _on_dispatched(conn: Conn, ticket_id: str, detail: Dispatched) -> None:
    chain = detail.location.chain
    area = detail.dept_area
    await store.record_dispatch(
        conn,
        ticket_id,
        district=chain.district,
        street=chain.street,
        grid=chain.grid,
        category=detail.category,
        mode=detail.mode.kind if detail.mode else "peacetime",
        department=(detail.dept_code, area.district, area.street) if detail.dept_code and area is not None else None,
    )


def _dims(ticket: asyncpg.Record | None, dept_code: str | None) -> Dims:
    if ticket is None:
        return Dims(dept_code, None, None)
    return Dims(dept_code, ticket["street"], ticket["district"])


async def _on_deadlines_set(conn: Conn, ticket_id: str, event: CloudEvent, detail: DeadlinesSet) -> None:
    accept_by = detail.deadlines.get(ClockKind.ACCEPT)
    if accept_by is None or not detail.assignment_id or not detail.dept_code:
        return  # a resolve, callback or re-handle deadline: not a new task to respond to
    ticket = await store.set_ticket_mode(conn, ticket_id, detail.mode)
    state = TaskState.EXCLUDED if ticket["excluded"] else TaskState.PENDING
    dims = _dims(ticket, detail.dept_code)
    day = city_day(event.time)
    await store.insert_task(
        conn,
        assignment_id=detail.assignment_id,
        ticket_id=ticket_id,
        dims=dims,
        mode=detail.mode,
        day=day,
        accept_due_at=accept_by,
        state=state.value,
        counts=_count_rows(dims, detail.mode, day, task_counts(state)),
    )


async def _on_clock(conn: Conn, what: str, detail: ClockDetail) -> None:
    if detail.kind is not ClockKind.ACCEPT or not detail.assignment_id:
        return
    task = await store.lock_task(conn, detail.assignment_id)
    if task is None:
        return  # an accept clock scoring never saw opened (before scoring existed): nothing to judge
    before = TaskState(task["state"])
    after = task_transition(before, what, late=isinstance(detail, DeadlineMet) and detail.late)
    if after is before:
        return
    await store.set_task_state(conn, detail.assignment_id, after.value)
    await _count(conn, _fact_dims(task), task["mode"], task["day"], task_counts(after) - task_counts(before))


async def _on_callback(
    conn: Conn, ticket_id: str, event: CloudEvent, detail: CallbackRecorded | CallbackUnreachable
) -> None:
    ticket = await store.get_ticket(conn, ticket_id)
    outcome = detail if isinstance(detail, CallbackRecorded) else None
    excluded: Exclusion | None = Exclusion.UNREACHABLE if outcome is None else None
    if ticket is not None and ticket["excluded"]:
        excluded = Exclusion(ticket["excluded"])
    fact = CallbackFact(
        solved=outcome.solved if outcome else None,
        satisfaction=outcome.satisfaction.value if outcome else None,
        excluded=excluded,
    )
    dims = _dims(ticket, detail.dept_code)
    mode = ticket["mode"] if ticket is not None else "peacetime"
    day = city_day(event.time)
    await store.insert_callback(
        conn,
        callback_id=str(detail.callback_id),
        ticket_id=ticket_id,
        dims=dims,
        mode=mode,
        day=day,
        solved=fact.solved,
        satisfaction=fact.satisfaction,
        excluded=excluded.value if excluded else None,
        counts=_count_rows(dims, mode, day, callback_counts(fact)),
    )


async def _exclude(conn: Conn, ticket_id: str, reason: Exclusion) -> None:
    """Leave the ticket out of every rate from now on, and take back what it counted already."""
    await store.set_ticket_excluded(conn, ticket_id, reason.value)
    for task in await store.tasks_of_ticket(conn, ticket_id):
        before = TaskState(task["state"])
        if before in {TaskState.EXCLUDED, TaskState.CANCELLED}:
            continue
        await store.set_task_state(conn, task["assignment_id"], TaskState.EXCLUDED.value)
        await _count(
            conn, _fact_dims(task), task["mode"], task["day"], task_counts(TaskState.EXCLUDED) - task_counts(before)
        )
    for callback in await store.callbacks_of_ticket(conn, ticket_id):
        if callback["excluded"]:
            continue
        fact = CallbackFact(callback["solved"], callback["satisfaction"], None)
        await store.set_callback_excluded(conn, callback["callback_id"], reason.value)
        await _count(
            conn, _fact_dims(callback), callback["mode"], callback["day"], callback_counts(None) - callback_counts(fact)
        )


def _fact_dims(row: asyncpg.Record) -> Dims:
    return Dims(row["dept_code"], row["street"], row["district"])


async def _count(conn: Conn, dims: Dims, mode: str, day: date, delta: Counts) -> None:
    await store.add_counts(conn, _count_rows(dims, mode, day, delta))


def _count_rows(dims: Dims, mode: str, day: date, delta: Counts) -> list[store.CountRow]:
    """The counter rows ``delta`` goes to: one per level the fact has a key at (none for a zero delta)."""
    if delta.is_zero():
        return []
    rows: list[store.CountRow] = []
    for level in Level:
        key = keys_for(level, dept_code=dims.dept_code, street=dims.street, district=dims.district)
        if key is not None:
            rows.append((level, mode, day, key, delta))
    return rows
