"""Callbacks as the ticket moves (from ``ticket.lifecycle``) and as operators or citizens answer.

Opened by a department's resolution, or by sla's breach of a resolve deadline; sla's callback clock gives
the deadline. An answer is recorded with the rules' verdict: close, 重办 (router reopens the ticket on
``cityloop.callback.recorded``), or record only. Every step is a ``cityloop.callback.*`` event on the trail.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from cityloop.common import outbox
from cityloop.common.contract import types
from cityloop.common.contract.callbacks import (
    CallbackClaimed,
    CallbackLinkIssued,
    CallbackOpened,
    CallbackRecorded,
    CallbackRescheduled,
    CallbackUnreachable,
    Trigger,
    Verdict,
    Via,
)
from cityloop.common.contract.emitter import Emitter
from cityloop.common.contract.lifecycle import (
    ClockKind,
    ClockStep,
    Closed,
    DeadlinesSet,
    DeptStep,
    Detail,
    Dispatched,
    Merged,
)
from cityloop.common.contract.models import TicketStatus
from cityloop.common.contract.parsing import parse_lifecycle
from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.common.errors import Conflict, DomainError, Invalid, NotFound
from cityloop.common.personal.redaction import redact
from cityloop.common.topics import TICKET_LIFECYCLE
from cityloop.feedback.callbacks import rules, store
from cityloop.feedback.callbacks.models import Answer
from cityloop.feedback.settings import FeedbackSettings

ACTOR = "feedback"
CITIZEN = "citizen"
EMIT = Emitter(source="/cityloop/feedback", actor=ACTOR)


class Gone(DomainError):
    """A one-time link that served its time: used, expired, or its callback answered another way."""

    status = 410
    error = "gone"


WANTED = frozenset(
    {
        types.TICKET_DISPATCHED,
        types.TICKET_MERGED,
        types.TICKET_RESOLVED,
        types.SLA_BREACHED,
        types.SLA_DEADLINES_SET,
    }
)


def wants(event: CloudEvent) -> bool:
    """Only the events ``on_lifecycle`` acts on. sla's deadlines_set matters only when it sets the callback
    clock: the accept and resolve deadlines of every dispatch (most of them) are passed over before any
    database work (the inbox claim included)."""
    if event.type == types.SLA_DEADLINES_SET:
        return _sets_callback_clock(event)
    return event.type in WANTED


def _sets_callback_clock(event: CloudEvent) -> bool:
    detail = event.data.get("detail")
    deadlines = detail.get("deadlines") if isinstance(detail, dict) else None
    # Not a mapping: malformed, so the handler takes it and its parsing names the field (DLQ), as before.
    return not isinstance(deadlines, dict) or ClockKind.CALLBACK.value in deadlines


async def on_lifecycle(conn: Conn, event: CloudEvent) -> None:
    if event.type == types.TICKET_DISPATCHED:
        dispatched = parse_lifecycle(event, Dispatched)
        chain = dispatched.detail.location.chain
        place = store.Place(chain.district, chain.street, dispatched.detail.category, dispatched.detail.case_id)
        await store.remember_ticket(conn, dispatched.ticket_id, place)
    elif event.type == types.TICKET_MERGED:
        merged = parse_lifecycle(event, Merged)
        await store.remember_ticket(conn, merged.ticket_id, store.Place(case_id=merged.detail.case_id))
    elif event.type == types.TICKET_RESOLVED:
        resolved = parse_lifecycle(event, DeptStep)
        owner = resolved.detail
        await _open(
            conn,
            event,
            resolved.ticket_id,
            dept_code=owner.dept_code,
            assignment_id=owner.assignment_id,
            case_id=owner.case_id,
            trigger="resolved",
        )
    elif event.type == types.SLA_BREACHED:
        breach = parse_lifecycle(event, ClockStep)
        # The resolve deadline passed unresolved: the citizen is asked anyway (data, not a verdict). Not when
        # the resolution is here first: sla fires from its own view, which may not have the resolution yet,
        # and under load this event came after the resolution's callback had been answered and the ticket
        # closed (found by the fault harness: citizens would be called again about a closed ticket).
        if (
            breach.detail.kind == "resolve"
            and breach.detail.step == "breach"
            and not await store.resolution_stands(conn, breach.ticket_id)
        ):
            step = breach.detail
            await _open(
                conn,
                event,
                breach.ticket_id,
                dept_code=step.dept_code,
                assignment_id=step.assignment_id,
                case_id=None,
                trigger="overdue",
            )
    elif event.type == types.SLA_DEADLINES_SET:
        deadlines = parse_lifecycle(event, DeadlinesSet)
        callback_due = deadlines.detail.deadlines.get(ClockKind.CALLBACK)
        if callback_due is not None:
            await store.set_due_by(conn, deadlines.ticket_id, callback_due)


async def _open(
    conn: Conn,
    event: CloudEvent,
    ticket_id: str,
    *,
    dept_code: str | None,
    assignment_id: str | None,
    case_id: str | None,
    trigger: Trigger,
) -> None:
    place = await store.ticket_place(conn, ticket_id)
    if case_id and not place.case_id:
        place = store.Place(place.district, place.street, place.category, case_id)

    async def open_new() -> asyncpg.Record | None:
        return await store.open_callback(
            conn,
            ticket_id=ticket_id,
            assignment_id=assignment_id,
            dept_code=dept_code,
            opened_at=event.time,
            opened_by=event.id,
            trigger=trigger,
            place=place,
        )

    row = await open_new()
    if row is None:
        waiting = await store.open_of_ticket(conn, ticket_id, lock=True)
        if waiting is None:
            # The callback in the way was recorded while we waited for its lock (an operator answered the
            # overdue one as the resolution came in): nothing is open now, so this one opens after all.
            row = await open_new()
            if row is None:
                return  # this very event opened one already
        elif trigger != "resolved" or waiting["trigger"] != "overdue":
            return  # one callback is open already and asks the same question
        else:
            row = await store.become_resolved(
                conn, waiting["id"], assignment_id=assignment_id, dept_code=dept_code, opened_by=event.id
            )
    detail = CallbackOpened(
        callback_id=row["id"],
        dept_code=row["dept_code"],
        assignment_id=row["assignment_id"],
        trigger=row["trigger"],
        round=row["round"],
        case_id=row["case_id"],
        district=row["district"],
        street=row["street"],
        category=row["category"],
    )
    why = "the department reported resolution" if trigger == "resolved" else "the resolve deadline passed"
    await _announce(conn, ticket_id, types.CALLBACK_OPENED, actor=ACTOR, summary=f"callback due: {why}", detail=detail)


# --- operators and citizens ----------------------------------------------------------------------------------


async def open_callback_of(conn: Conn, ticket_id: str) -> asyncpg.Record:
    row = await store.open_of_ticket(conn, ticket_id, lock=True)
    if row is None:
        raise NotFound(f"no callback is due for ticket {ticket_id}", "ticket_id")
    return row


def _check_claim(row: asyncpg.Record, who: str, now: datetime, settings: FeedbackSettings) -> None:
    ttl = timedelta(minutes=settings.callback_claim_minutes)
    if not rules.may_act(row["claimed_by"], row["claimed_at"], who=who, now=now, ttl=ttl):
        raise Conflict(
            f"callback {row['id']} is claimed by {row['claimed_by']} until the claim lapses",
            "ticket_id",
            error="claimed",
        )


async def claim(conn: Conn, ticket_id: str, *, who: str, now: datetime, settings: FeedbackSettings) -> asyncpg.Record:
    row = await open_callback_of(conn, ticket_id)
    _check_claim(row, who, now, settings)
    await store.claim(conn, row["id"], who, now)
    detail = CallbackClaimed(
        callback_id=row["id"], dept_code=row["dept_code"], assignment_id=row["assignment_id"], by=who
    )
    await _announce(
        conn, ticket_id, types.CALLBACK_CLAIMED, actor=who, summary=f"callback claimed by {who}", detail=detail
    )
    claimed = await store.lock(conn, row["id"])
    assert claimed is not None
    return claimed


@dataclass(frozen=True)
class Recorded:
    ticket_id: str
    callback_id: int
    verdict: Verdict
    escalation_level: int


async def record_by_operator(
    conn: Conn, ticket_id: str, answer: Answer, *, who: str, now: datetime, settings: FeedbackSettings
) -> Recorded:
    row = await open_callback_of(conn, ticket_id)
    _check_claim(row, who, now, settings)
    return await record(conn, row, answer, actor=who, via="operator", now=now)


async def record(conn: Conn, row: asyncpg.Record, answer: Answer, *, actor: str, via: Via, now: datetime) -> Recorded:
    """Record the answer on an open callback (locked by the caller) and announce its consequence."""
    ticket_id = row["ticket_id"]
    verdict = rules.verdict(
        solved=answer.solved, satisfaction=answer.satisfaction, reason=answer.reason, trigger=row["trigger"]
    )
    failures = await store.failures(conn, ticket_id) + (1 if verdict is Verdict.REHANDLE else 0)
    level = rules.escalation_level(failures) if verdict is Verdict.REHANDLE else 0
    await store.record(
        conn,
        row["id"],
        solved=answer.solved,
        satisfaction=answer.satisfaction.value,
        reason=answer.reason.value if answer.reason else None,
        note=redact(answer.note) if answer.note else None,
        verdict=verdict.value,
        by=actor,
        via=via,
        at=now,
    )
    detail = CallbackRecorded(
        callback_id=row["id"],
        dept_code=row["dept_code"],
        assignment_id=row["assignment_id"],
        solved=answer.solved,
        satisfaction=answer.satisfaction,
        reason=answer.reason,
        verdict=verdict,
        trigger=row["trigger"],
        failures=failures,
        escalation_level=level,
        via=via,
        case_id=row["case_id"],
        # Redacted on the event; the Emitter seals the full text for intake's vault (app.py).
        comment=answer.note,
    )
    summary = {
        Verdict.CLOSE: "callback recorded: closed",
        Verdict.REHANDLE: "callback recorded: 重办" + (f" (failure {failures}, escalate {level} up)" if level else ""),
        Verdict.RECORD_ONLY: "callback recorded (the ticket is still being handled)",
    }[verdict]
    if answer.note:
        summary += f" — {redact(answer.note)}"
    await _announce(conn, ticket_id, types.CALLBACK_RECORDED, actor=actor, summary=summary, detail=detail)
    if verdict is Verdict.CLOSE:
        closed = Closed(
            callback_id=row["id"],
            dept_code=row["dept_code"],
            assignment_id=row["assignment_id"],
            solved=answer.solved,
            satisfaction=answer.satisfaction.value,
        )
        await _announce(
            conn,
            ticket_id,
            types.TICKET_CLOSED,
            actor=actor,
            summary="closed (办结)",
            detail=closed,
            status=TicketStatus.CLOSED,
        )
    return Recorded(ticket_id, row["id"], verdict, level)


@dataclass(frozen=True)
class Rescheduled:
    callback_id: int
    status: str
    attempts: int
    next_attempt_at: datetime | None


async def reschedule(
    conn: Conn,
    ticket_id: str,
    *,
    who: str,
    now: datetime,
    next_attempt_at: datetime | None,
    settings: FeedbackSettings,
) -> Rescheduled:
    """The citizen did not answer: another attempt later, or closed as unreachable at the limit."""
    row = await open_callback_of(conn, ticket_id)
    _check_claim(row, who, now, settings)
    attempts = row["attempts"] + 1
    owner = {"callback_id": row["id"], "dept_code": row["dept_code"], "assignment_id": row["assignment_id"]}
    if rules.after_no_answer(attempts, settings.callback_max_attempts) is rules.AfterNoAnswer.UNREACHABLE:
        await store.unreachable(conn, row["id"], attempts=attempts, by=who, at=now)
        gone = CallbackUnreachable(attempts=attempts, **owner)
        summary = f"callback closed: citizen unreachable after {attempts} attempts"
        await _announce(conn, ticket_id, types.CALLBACK_UNREACHABLE, actor=who, summary=summary, detail=gone)
        if row["trigger"] == "resolved":
            closing = Closed(unreachable=True, **owner)
            await _announce(
                conn,
                ticket_id,
                types.TICKET_CLOSED,
                actor=who,
                summary="closed: citizen unreachable",
                detail=closing,
                status=TicketStatus.CLOSED,
            )
        return Rescheduled(row["id"], "unreachable", attempts, None)
    if next_attempt_at is None:
        next_attempt_at = now + timedelta(minutes=settings.callback_retry_minutes)
    elif next_attempt_at <= now:
        raise Invalid("next_attempt_at must be in the future", "next_attempt_at")
    await store.reschedule(conn, row["id"], attempts=attempts, next_attempt_at=next_attempt_at)
    moved = CallbackRescheduled(attempts=attempts, next_attempt_at=next_attempt_at, **owner)
    summary = f"citizen not reached (attempt {attempts}); next try {next_attempt_at.isoformat()}"
    await _announce(conn, ticket_id, types.CALLBACK_RESCHEDULED, actor=who, summary=summary, detail=moved)
    return Rescheduled(row["id"], "due", attempts, next_attempt_at)


async def issue_link(
    conn: Conn, ticket_id: str, *, who: str, now: datetime, settings: FeedbackSettings
) -> tuple[int, str, datetime]:
    """A one-time link for the open callback: (callback id, the token, its expiry). Only the hash is kept."""
    row = await open_callback_of(conn, ticket_id)
    token, digest = rules.new_token()
    expires_at = now + timedelta(hours=settings.callback_link_hours)
    await store.insert_link(conn, callback_id=row["id"], token_hash=digest, issued_by=who, expires_at=expires_at)
    detail = CallbackLinkIssued(
        callback_id=row["id"], dept_code=row["dept_code"], assignment_id=row["assignment_id"], expires_at=expires_at
    )
    summary = f"one-time callback link issued, valid until {expires_at.isoformat()}"
    await _announce(conn, ticket_id, types.CALLBACK_LINK_ISSUED, actor=who, summary=summary, detail=detail)
    return row["id"], token, expires_at


async def link_state(conn: Conn, token: str, *, now: datetime) -> tuple[rules.LinkState, datetime | None]:
    link = await store.link_by_hash(conn, rules.token_hash(token))
    if link is None:
        return rules.LinkState.EXPIRED, None  # an unknown token reads like a dead one: nothing to probe
    state = rules.link_state(
        expires_at=link["expires_at"],
        used_at=link["used_at"],
        callback_open=link["callback_status"] == "due",
        now=now,
    )
    return state, link["expires_at"]


async def answer_by_link(conn: Conn, token: str, answer: Answer, *, now: datetime) -> Recorded:
    """The citizen's own answer: the link works once, while it is valid and its callback is open."""
    link = await store.link_by_hash(conn, rules.token_hash(token), lock=True)
    if link is None:
        raise NotFound("this link is not valid", "token", error="link_invalid")
    state = rules.link_state(
        expires_at=link["expires_at"],
        used_at=link["used_at"],
        callback_open=link["callback_status"] == "due",
        now=now,
    )
    if state is not rules.LinkState.OPEN:
        raise Gone(f"this link cannot be used: {state.value}", "token", error=f"link_{state.value}")
    row = await store.lock(conn, link["callback_id"])
    assert row is not None
    await store.use_link(conn, link["id"], now)
    return await record(conn, row, answer, actor=CITIZEN, via="link", now=now)


# --- announcing ----------------------------------------------------------------------------------------


async def _announce(
    conn: Conn,
    ticket_id: str,
    type_: str,
    *,
    actor: str,
    summary: str,
    detail: Detail,
    status: TicketStatus | None = None,
) -> None:
    event = EMIT.lifecycle(type_, ticket_id, status, summary, detail, actor=actor)
    await outbox.enqueue(conn, TICKET_LIFECYCLE.name, event)
