"""The citizen's one-time link, without an account: the token in the address is the only credential.

``/callback/{token}`` is the HTML page (GET the form, POST it back); ``/api/v1/callback-links/{token}`` is
the same as JSON. The gateway forwards exactly these two paths without sign-in, rate-limited per client.
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from cityloop.common.contract.callbacks import Satisfaction, UnsatisfiedReason, Verdict
from cityloop.common.deps import Db, Pool, Tx
from cityloop.common.errors import NotFound
from cityloop.feedback.callbacks import flows, page, rules
from cityloop.feedback.callbacks.models import Answer, LinkView, OutcomeResult

router = APIRouter(tags=["callbacks"])

# token_urlsafe(32) gives 43 characters; anything far off that shape is not one of ours.
Token = Annotated[str, Path(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


def _html(content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(content, status_code=status, headers=page.HEADERS)


@router.get("/api/v1/callback-links/{token}", operation_id="read_callback_link", response_model=LinkView)
async def read_link(token: Token, conn: Db) -> LinkView:
    state, expires_at = await flows.link_state(conn, token, now=datetime.now(UTC))
    if expires_at is None:
        raise NotFound("this link is not valid", "token", error="link_invalid")
    return LinkView(
        state=state.value, expires_at=expires_at, reasons={r.value: label for r, label in page.REASON_LABELS.items()}
    )


@router.post("/api/v1/callback-links/{token}", operation_id="answer_callback_link", response_model=OutcomeResult)
async def answer_link(token: Token, body: Answer, conn: Tx) -> OutcomeResult:
    recorded = await flows.answer_by_link(conn, token, body, now=datetime.now(UTC))
    return OutcomeResult(
        ticket_id=recorded.ticket_id,
        callback_id=recorded.callback_id,
        verdict=recorded.verdict,
        reopened=recorded.verdict is Verdict.REHANDLE,
        escalation_level=recorded.escalation_level,
    )


@router.get("/callback/{token}", include_in_schema=False)
async def show_form(token: Token, request: Request, conn: Db) -> HTMLResponse:
    state, _ = await flows.link_state(conn, token, now=datetime.now(UTC))
    if state is not rules.LinkState.OPEN:
        return _html(page.closed(state.value), 410)
    return _html(page.form(request.url.path))


def answer_from_form(form: dict[str, str]) -> Answer | str:
    """The form's fields as an Answer, or what the citizen must fix (in Chinese)."""
    if form.get("solved") not in {"yes", "no"}:
        return "请选择问题是否已经解决。"
    if form.get("satisfaction") not in {s.value for s in Satisfaction}:
        return "请选择您对办理结果是否满意。"
    satisfaction = Satisfaction(form["satisfaction"])
    reason: UnsatisfiedReason | None = None
    if satisfaction is Satisfaction.UNSATISFIED:
        if form.get("reason") not in {r.value for r in UnsatisfiedReason}:
            return "选择“不满意”时，请选择主要原因。"
        reason = UnsatisfiedReason(form["reason"])
    try:
        return Answer(
            solved=form["solved"] == "yes", satisfaction=satisfaction, reason=reason, note=form.get("note") or None
        )
    except ValidationError:
        return "意见内容过长，请精简到 2000 字以内。"


@router.post("/callback/{token}", include_in_schema=False)
async def submit_form(token: Token, request: Request, pool: Pool) -> HTMLResponse:
    raw = await request.form()
    fields = {k: v for k, v in raw.items() if isinstance(v, str)}
    parsed = answer_from_form(fields)
    if isinstance(parsed, str):
        return _html(page.form(request.url.path, error=parsed, values=fields), 422)
    try:
        async with pool.acquire() as conn, conn.transaction():
            recorded = await flows.answer_by_link(conn, token, parsed, now=datetime.now(UTC))
    except (flows.Gone, NotFound) as refused:
        return _html(page.closed(refused.code.removeprefix("link_")), refused.status)
    return _html(page.thanks(rehandle=recorded.verdict is Verdict.REHANDLE))
