"""Opening, meeting and cancelling clocks as the ticket moves (from ``ticket.lifecycle``).

dispatched -> accept, on-site (urgent and critical) and resolve clocks for the new owner (a re-dispatch
cancels the previous owner's); accepted -> accept met; progress with ``on_site`` -> on-site met;
rejected -> the owner's clocks cancelled; resolved -> resolve (or re-handle) and on-site met,
callback clock opened; reopened (重办) -> callback met, re-handle clock opened; closed -> callback met;
extension requested -> a pending request (extensions.py decides it).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
import structlog

from cityloop.common import outbox
from cityloop.common.contract import types
from cityloop.common.contract.lifecycle import (
    ClockKind,
    DeadlineCancelled,
    DeadlineMet,
    DeadlinesSet,
    DeptStep,
    Detail,
    Dispatched,
    ExtensionRequested,
    Lifecycle,
    Progress,
    Reopened,
)
from cityloop.common.contract.models import Urgency
from cityloop.common.contract.parsing import parse_lifecycle
from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.sla import events, ladder, queries
from cityloop.sla.deadlines import Due, dispatch_deadlines, dispatch_start, due_after, warn_at
from cityloop.sla.metrics import CLOCKS_CLOSED, CLOCKS_OPENED, ESTIMATED_DEADLINES
from cityloop.sla.policy import Mode, Policy, policy_for, with_catalogue_days, with_emergency_minutes
from cityloop.sla.settings import SlaSettings

log = structlog.get_logger(__name__)

DEPARTMENT_KINDS = (ClockKind.ACCEPT, ClockKind.ON_SITE, ClockKind.RESOLVE, ClockKind.REHANDLE)
HANDLED = frozenset(
    {
        types.TICKET_DISPATCHED,
        types.TICKET_ACCEPTED,
        types.TICKET_PROGRESS,
        types.TICKET_REJECTED,
        types.TICKET_RESOLVED,
        types.TICKET_REOPENED,
        types.TICKET_CLOSED,
        types.TICKET_HANDED_OVER,
        types.TICKET_EXTENSION_REQUESTED,
    }
)


@dataclass(frozen=True)
class Owner:
    """Who a clock is about and how it escalates; copied onto every clock of that owner."""

    ticket_id: str
    assignment_id: str | None
    dept_code: str | None
    category: str | None
    urgency: str | None
    mode: Mode
    command_unit: str | None
    supervisors: list[str]
    #: 督办 desks over the owner, nearest first (router's Dispatched.desks)
    desks: list[str] = field(default_factory=list)
    #: where the ticket is (router's Dispatched.location.chain)
    district: str | None = None
    street: str | None = None


def plan_clock(
    owner: Owner, kind: ClockKind, *, started: datetime, due: Due, policy: Policy, settings: SlaSettings, opened_by: str
) -> queries.NewClock:
    """Pure: the row for a new clock, its ladder starting at the warning (or the breach)."""
    warn = warn_at(started, due.at, policy.warn_ratio)
    step, first_at = ladder.first_step(warn, due.at)
    latest = (
        due_after(started, policy.extension_cap, settings.office_hours).at
        if kind in {ClockKind.RESOLVE, ClockKind.REHANDLE}
        else None
    )
    every = policy.escalate_every
    return queries.NewClock(
        ticket_id=owner.ticket_id,
        assignment_id=owner.assignment_id,
        dept_code=owner.dept_code,
        category=owner.category,
        urgency=owner.urgency,
        mode=owner.mode,
        command_unit=owner.command_unit,
        # The hotline itself owns the callback: nobody up a department's chain is asked about it.
        supervisors=[] if kind is ClockKind.CALLBACK else owner.supervisors,
        kind=kind.value,
        opened_by=opened_by,
        started_at=started,
        warn_at=warn,
        due_at=due.at,
        latest_due_at=max(latest, due.at) if latest is not None else None,
        estimated=due.estimated,
        warn_ratio=policy.warn_ratio,
        escalate_days=every.working_days,
        escalate_seconds=every.seconds,
        step=step,
        next_fire_at=first_at,
        desks=[] if kind is ClockKind.CALLBACK else owner.desks,
        district=owner.district,
        street=owner.street,
    )


async def on_lifecycle(conn: Conn, event: CloudEvent, settings: SlaSettings) -> None:
    if event.type not in HANDLED:
        return
    data = parse_lifecycle(event)
    detail = data.detail
    out: list[events.Outgoing] = []
    if isinstance(detail, Dispatched):
        out += await _on_dispatched(conn, event, data.ticket_id, detail, settings)
    elif isinstance(detail, ExtensionRequested):
        await _on_extension_requested(conn, event, data.ticket_id, detail)
    else:
        owner = _Ids.of(detail)
        if event.type == types.TICKET_ACCEPTED:
            out += await _close(conn, data.ticket_id, [ClockKind.ACCEPT], "met", owner.assignment_id)
        elif event.type == types.TICKET_PROGRESS:
            if owner.on_site:
                out += await _close(conn, data.ticket_id, [ClockKind.ON_SITE], "met", owner.assignment_id)
        elif event.type == types.TICKET_REJECTED:
            out += await _close(conn, data.ticket_id, DEPARTMENT_KINDS, "cancelled", owner.assignment_id)
        elif event.type == types.TICKET_RESOLVED:
            out += await _on_resolved(conn, event, data, owner, settings)
        elif event.type == types.TICKET_REOPENED:
            out += await _on_reopened(conn, event, data, owner, settings)
        elif event.type == types.TICKET_CLOSED:
            out += await _close(conn, data.ticket_id, [ClockKind.CALLBACK], "met", None)
            out += await _close(conn, data.ticket_id, list(ClockKind), "cancelled", None)
        elif event.type == types.TICKET_HANDED_OVER:
            out += await _close(conn, data.ticket_id, list(ClockKind), "cancelled", None)
    await outbox.enqueue_many(conn, out)


@dataclass(frozen=True)
class _Ids:
    """The assignment an event is about (accepted, rejected, resolved, reopened ...), when it says."""

    dept_code: str | None = None
    assignment_id: str | None = None
    #: ``cityloop.ticket.progress``: the department's crew reached the site (到场).
    on_site: bool = False

    @classmethod
    def of(cls, detail: Detail) -> "_Ids":
        if isinstance(detail, Progress):
            return cls(detail.dept_code, detail.assignment_id, on_site=bool(detail.on_site))
        if isinstance(detail, DeptStep | Reopened):
            return cls(detail.dept_code, detail.assignment_id)
        return cls()


async def _on_dispatched(
    conn: Conn, event: CloudEvent, ticket_id: str, detail: Dispatched, settings: SlaSettings
) -> list[events.Outgoing]:
    out = await _cancelled(
        conn, ticket_id, await queries.cancel_other_assignments(conn, ticket_id, detail.assignment_id)
    )
    mode = detail.mode.kind if detail.mode else "peacetime"
    owner = Owner(
        ticket_id=ticket_id,
        assignment_id=detail.assignment_id,
        dept_code=detail.dept_code,
        category=detail.category,
        urgency=detail.urgency.value,
        mode=mode,
        command_unit=detail.command_unit,
        supervisors=detail.supervisors,
        desks=detail.desks,
        district=detail.location.chain.district,
        street=detail.location.chain.street,
    )
    policy = with_catalogue_days(
        policy_for(settings.policies, category=detail.category, urgency=detail.urgency, mode=mode),
        accept_days=detail.policy.accept_days,
        resolve_days=detail.policy.resolve_days,
    )
    if mode == "emergency":
        policy = with_emergency_minutes(policy, detail.emergency_deadlines)
    # sla is the one owner of deadlines: the router sends the catalogue's days, every deadline is computed
    # here and the department is told (task.updated, change deadline_set).
    started = dispatch_start(policy, dispatched_at=event.time, reported_at=detail.reported_at)
    opened: dict[ClockKind, datetime] = {}
    estimated: list[ClockKind] = []
    for kind, due in dispatch_deadlines(policy, started, settings.office_hours).items():
        clock = plan_clock(owner, kind, started=started, due=due, policy=policy, settings=settings, opened_by=event.id)
        if await _insert(conn, clock) is not None:
            opened[kind] = due.at
            if due.estimated:
                estimated.append(kind)
    if not opened:
        return out  # a redelivered dispatch: announced the first time
    out.append(_deadlines_set(owner, opened, estimated))
    deadlines = events.task_deadlines(opened, estimated=bool(estimated))
    # Assisting departments (协办) work to the lead's deadlines; the clocks (and the ladder) are the lead's.
    holders = [(owner.assignment_id, owner.dept_code), *((a.assignment_id, a.dept_code) for a in detail.assists)]
    for assignment_id, dept_code in holders:
        out += events.task_updated(
            ticket_id=owner.ticket_id,
            assignment_id=assignment_id,
            dept_code=dept_code,
            change="deadline_set",
            note="deadlines set by the hotline's policy",
            deadlines=deadlines,
        )
    return out


async def _on_resolved(
    conn: Conn, event: CloudEvent, data: Lifecycle[Detail], owner_detail: _Ids, settings: SlaSettings
) -> list[events.Outgoing]:
    # Resolving it means someone was there: an on-site clock still open is met too.
    kinds = [ClockKind.RESOLVE, ClockKind.REHANDLE, ClockKind.ON_SITE]
    closed = await queries.close_clocks(conn, data.ticket_id, kinds, "met", assignment_id=owner_detail.assignment_id)
    out = await _met(conn, data.ticket_id, closed)
    template = await _owner_of(conn, data.ticket_id, owner_detail)
    policy = policy_for(settings.policies, category=template.category, urgency=_urgency(template), mode=template.mode)
    opened = await _open_one(conn, template, ClockKind.CALLBACK, event=event, policy=policy, settings=settings)
    if opened is not None:
        out.append(opened[0])
    return out


async def _on_reopened(
    conn: Conn, event: CloudEvent, data: Lifecycle[Detail], owner_detail: _Ids, settings: SlaSettings
) -> list[events.Outgoing]:
    out = await _close(conn, data.ticket_id, [ClockKind.CALLBACK], "met", None)
    if owner_detail.assignment_id is None:
        # A citizen's ticket merged into a case (并单) follows its lead's re-handle clock, not one of its own.
        return out
    owner = await _owner_of(conn, data.ticket_id, owner_detail)
    policy = policy_for(settings.policies, category=owner.category, urgency=_urgency(owner), mode=owner.mode)
    opened = await _open_one(conn, owner, ClockKind.REHANDLE, event=event, policy=policy, settings=settings)
    if opened is not None:
        announcement, due = opened
        out.append(announcement)
        escalated_to = data.detail.escalated_to if isinstance(data.detail, Reopened) else None
        out += events.task_updated(
            ticket_id=owner.ticket_id,
            assignment_id=owner.assignment_id,
            dept_code=owner.dept_code,
            # The department's signal that its resolved task is live again (router accepts its answers).
            change="rehandle",
            note="重办: the citizen was not satisfied; re-handle by the new deadline"
            + (f" (supervised by {escalated_to})" if escalated_to else ""),
            deadlines=events.deadlines_for(ClockKind.REHANDLE, due.at),
        )
    return out


async def _on_extension_requested(conn: Conn, event: CloudEvent, ticket_id: str, detail: ExtensionRequested) -> None:
    clock = await queries.find_open_clock(
        conn, ticket_id, [ClockKind.RESOLVE, ClockKind.REHANDLE], detail.assignment_id
    )
    if clock is None:
        log.warning("extension.no_open_clock", ticket_id=ticket_id, assignment_id=detail.assignment_id)
        return
    # The clock keeps running while the request waits: only an approval moves it.
    await queries.insert_extension(
        conn,
        clock_id=clock["id"],
        ticket_id=ticket_id,
        assignment_id=detail.assignment_id,
        dept_code=detail.dept_code,
        requested_deadline=detail.requested_deadline,
        requested_at=event.time,
        requested_by_event=event.id,
        note=detail.note,
    )


async def _owner_of(conn: Conn, ticket_id: str, detail: _Ids) -> Owner:
    """The owner as the ticket's latest department clock knows it (category, chain, mode)."""
    clocks = await queries.clocks_of_ticket(conn, ticket_id)
    latest = next(
        (
            c
            for c in reversed(clocks)
            if c["kind"] != ClockKind.CALLBACK
            and (detail.assignment_id is None or c["assignment_id"] == detail.assignment_id)
        ),
        None,
    )
    if latest is None:
        return Owner(ticket_id, detail.assignment_id, detail.dept_code, None, None, "peacetime", None, [])
    return Owner(
        ticket_id=ticket_id,
        assignment_id=detail.assignment_id or latest["assignment_id"],
        dept_code=detail.dept_code or latest["dept_code"],
        category=latest["category"],
        urgency=latest["urgency"],
        mode=latest["mode"],
        command_unit=latest["command_unit"],
        supervisors=list(latest["supervisors"]),
        desks=list(latest["desks"]),
        district=latest["district"],
        street=latest["street"],
    )


async def _open_one(
    conn: Conn, owner: Owner, kind: ClockKind, *, event: CloudEvent, policy: Policy, settings: SlaSettings
) -> tuple[events.Outgoing, Due] | None:
    """Open one clock counted from ``event``; (its announcement, its deadline), or None if open already
    (or the policy has no such clock)."""
    span = policy.span(kind)
    if span is None:
        return None
    due = due_after(event.time, span, settings.office_hours)
    clock = plan_clock(owner, kind, started=event.time, due=due, policy=policy, settings=settings, opened_by=event.id)
    if await _insert(conn, clock) is None:
        return None
    return _deadlines_set(owner, {kind: due.at}, [kind] if due.estimated else []), due


def _urgency(owner: Owner) -> Urgency | None:
    return Urgency(owner.urgency) if owner.urgency in {u.value for u in Urgency} else None


async def _insert(conn: Conn, clock: queries.NewClock) -> int | None:
    clock_id = await queries.insert_clock(conn, clock)
    if clock_id is not None:
        CLOCKS_OPENED.labels(clock.kind).inc()
        if clock.estimated:
            ESTIMATED_DEADLINES.labels(clock.kind).inc()
    return clock_id


def _deadlines_set(owner: Owner, opened: dict[ClockKind, datetime], estimated: list[ClockKind]) -> events.Outgoing:
    return events.lifecycle(
        owner.ticket_id,
        types.SLA_DEADLINES_SET,
        "deadlines set: " + ", ".join(f"{k} by {v.isoformat()}" for k, v in opened.items()),
        DeadlinesSet(
            deadlines=opened,
            estimated=estimated,
            dept_code=owner.dept_code,
            assignment_id=owner.assignment_id,
            mode=owner.mode,
        ),
    )


async def _close(
    conn: Conn, ticket_id: str, kinds: Sequence[ClockKind], state: str, assignment_id: str | None
) -> list[events.Outgoing]:
    closed = await queries.close_clocks(conn, ticket_id, [k.value for k in kinds], state, assignment_id=assignment_id)
    if state == "met":
        return await _met(conn, ticket_id, closed)
    return await _cancelled(conn, ticket_id, closed)


async def _met(conn: Conn, ticket_id: str, closed: list[asyncpg.Record]) -> list[events.Outgoing]:
    out: list[events.Outgoing] = []
    for clock in closed:
        late = clock["closed_at"] > clock["due_at"]
        CLOCKS_CLOSED.labels(clock["kind"], "late" if late else "met").inc()
        out.append(
            events.lifecycle(
                ticket_id,
                types.SLA_DEADLINE_MET,
                f"{clock['kind']} deadline {'met late' if late else 'met'}",
                DeadlineMet(
                    kind=clock["kind"],
                    due_at=clock["due_at"],
                    late=late,
                    dept_code=clock["dept_code"],
                    assignment_id=clock["assignment_id"],
                ),
            )
        )
    return out


async def _cancelled(conn: Conn, ticket_id: str, closed: list[asyncpg.Record]) -> list[events.Outgoing]:
    out: list[events.Outgoing] = []
    for clock in closed:
        CLOCKS_CLOSED.labels(clock["kind"], "cancelled").inc()
        out.append(
            events.lifecycle(
                ticket_id,
                types.SLA_DEADLINE_CANCELLED,
                f"{clock['kind']} clock stopped: the assignment ended",
                DeadlineCancelled(
                    kind=clock["kind"],
                    due_at=clock["due_at"],
                    dept_code=clock["dept_code"],
                    assignment_id=clock["assignment_id"],
                ),
            )
        )
    return out
