"""/api/v1/callbacks: the operators' due list, claim, outcome, reschedule and one-time link.

The actor of every step is the signed identity the gateway passed on, never a name in the body.
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from cityloop.common.deps import Db, Tx
from cityloop.common.errors import NotFound
from cityloop.common.identity import Identity, Role, require_roles
from cityloop.common.paging import Page
from cityloop.feedback.callbacks import flows, store
from cityloop.feedback.callbacks.models import (
    CallbackOut,
    CallbackOutcome,
    DueQuery,
    LinkOut,
    OutcomeResult,
    Reschedule,
    RescheduleResult,
)
from cityloop.feedback.settings import FeedbackSettings

router = APIRouter(prefix="/api/v1/callbacks", tags=["callbacks"])


async def settings_of(request: Request) -> FeedbackSettings:
    settings: FeedbackSettings = request.app.state.runtime.settings
    return settings


Settings = Annotated[FeedbackSettings, Depends(settings_of)]
# Callbacks are made by the hotline's own staff; auditors may read the list.
Caller = Annotated[Identity, require_roles(Role.CALL_TAKER, Role.DISPATCHER)]
Reader = Annotated[Identity, require_roles(Role.CALL_TAKER, Role.DISPATCHER, Role.AUDITOR)]
#: A ticket's callbacks: a department reads those about its own work (the callback's dept_code), nothing else.
TicketReader = Annotated[
    Identity,
    require_roles(Role.CALL_TAKER, Role.DISPATCHER, Role.AUDITOR, Role.COMMAND_CENTRE, Role.ADMIN, Role.DEPARTMENT),
]


def out(row: object, now: datetime) -> CallbackOut:
    data = dict(row)  # type: ignore[call-overload]
    due_by = data["due_by"]
    return CallbackOut.model_validate({**data, "overdue": due_by is not None and due_by < now})


@router.get("/due", operation_id="list_due_callbacks")
async def due(query: Annotated[DueQuery, Query()], conn: Db, _who: Reader) -> Page[CallbackOut]:
    """Callbacks to make, oldest first, filtered; a keyset page."""
    now = datetime.now(UTC)
    flt = store.DueFilter(
        district=query.district,
        dept_code=query.dept_code,
        overdue=query.overdue,
        include_scheduled=query.include_scheduled,
    )
    rows = await store.due(conn, flt, now=now, after=store.DUE_ORDER.decode(query.cursor), limit=query.limit + 1)
    return store.DUE_ORDER.page(rows, query.limit, lambda r: out(r, now))


@router.get("/{ticket_id}", operation_id="list_ticket_callbacks", response_model=list[CallbackOut])
async def of_ticket(ticket_id: str, conn: Db, who: TicketReader) -> list[CallbackOut]:
    """Every callback of a ticket, round by round; a department sees only its own (404 when none)."""
    now = datetime.now(UTC)
    rows = await store.of_ticket(conn, ticket_id)
    if who.role is Role.DEPARTMENT:
        rows = [r for r in rows if r["dept_code"] == who.dept_code]
        if not rows:
            raise NotFound(f"no callbacks for ticket {ticket_id}", "ticket_id")
    return [out(r, now) for r in rows]


@router.post("/{ticket_id}/claim", operation_id="claim_callback", response_model=CallbackOut)
async def claim(ticket_id: str, conn: Tx, settings: Settings, who: Caller) -> CallbackOut:
    """Take the ticket's open callback; others cannot act on it until the claim lapses."""
    now = datetime.now(UTC)
    row = await flows.claim(conn, ticket_id, who=who.subject, now=now, settings=settings)
    return out(row, now)


@router.post("/{ticket_id}/outcome", operation_id="record_callback_outcome", response_model=OutcomeResult)
async def outcome(ticket_id: str, body: CallbackOutcome, conn: Tx, settings: Settings, who: Caller) -> OutcomeResult:
    """What the citizen said; the verdict closes the ticket or reopens it (重办)."""
    now = datetime.now(UTC)
    recorded = await flows.record_by_operator(conn, ticket_id, body, who=who.subject, now=now, settings=settings)
    return OutcomeResult(
        ticket_id=ticket_id,
        callback_id=recorded.callback_id,
        verdict=recorded.verdict,
        reopened=recorded.verdict == "rehandle",
        escalation_level=recorded.escalation_level,
    )


@router.post("/{ticket_id}/reschedule", operation_id="reschedule_callback", response_model=RescheduleResult)
async def reschedule(ticket_id: str, body: Reschedule, conn: Tx, settings: Settings, who: Caller) -> RescheduleResult:
    """The citizen was not reached: try again later; at the attempt limit it closes as unreachable."""
    now = datetime.now(UTC)
    done = await flows.reschedule(
        conn, ticket_id, who=who.subject, now=now, next_attempt_at=body.next_attempt_at, settings=settings
    )
    return RescheduleResult(
        ticket_id=ticket_id,
        callback_id=done.callback_id,
        status=done.status,
        attempts=done.attempts,
        next_attempt_at=done.next_attempt_at,
    )


@router.post("/{ticket_id}/link", operation_id="issue_callback_link", response_model=LinkOut, status_code=201)
async def link(ticket_id: str, conn: Tx, settings: Settings, who: Caller) -> LinkOut:
    """A one-time link for the citizen to answer without an account (send it by SMS). Shown once."""
    now = datetime.now(UTC)
    callback_id, token, expires_at = await flows.issue_link(
        conn, ticket_id, who=who.subject, now=now, settings=settings
    )
    base = settings.public_base_url.rstrip("/")
    return LinkOut(
        callback_id=callback_id,
        url=f"{base}/callback/{token}",
        api_url=f"{base}/api/v1/callback-links/{token}",
        expires_at=expires_at,
    )
