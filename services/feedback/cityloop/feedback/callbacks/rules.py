"""The callback rules as pure functions over plain values (the hotline's 回访 and 重办 rules)."""

import hashlib
import secrets
from collections.abc import Collection
from datetime import datetime, timedelta
from enum import StrEnum

from cityloop.common.contract.callbacks import Satisfaction, Trigger, UnsatisfiedReason, Verdict


class CallbackStatus(StrEnum):
    """A callback's state; migrations/0002_callback_rounds.sql mirrors it in a CHECK constraint."""

    DUE = "due"  # to be made (claimed or not, maybe rescheduled to a later attempt)
    DONE = "done"  # the citizen answered
    UNREACHABLE = "unreachable"  # the attempts ran out


#: 不满意 for these reasons earns a 重办; a demand beyond policy, or a policy limit, cannot be fixed by
#: handling it again, so the ticket closes with the dissatisfaction on record (and in 满意率).
REHANDLE_REASONS = frozenset(
    {
        UnsatisfiedReason.NOT_HANDLED,
        UnsatisfiedReason.POORLY_HANDLED,
        UnsatisfiedReason.TOO_SLOW,
        UnsatisfiedReason.ATTITUDE,
        UnsatisfiedReason.OTHER,
    }
)


def verdict(
    *,
    solved: bool,
    satisfaction: Satisfaction,
    reason: UnsatisfiedReason | None,
    trigger: Trigger,
    rehandle_reasons: Collection[UnsatisfiedReason] = REHANDLE_REASONS,
) -> Verdict:
    """What the citizen's answer does to the ticket.

    A callback opened because the resolve deadline passed asks about a ticket the department still holds:
    the answer is recorded (and scored) but moves nothing. After a resolution: not solved → 重办; 不满意
    with a reason the rules accept → 重办; otherwise the ticket closes."""
    if trigger == "overdue":
        return Verdict.RECORD_ONLY
    if not solved:
        return Verdict.REHANDLE
    if satisfaction is Satisfaction.UNSATISFIED and (reason is None or reason in rehandle_reasons):
        return Verdict.REHANDLE
    return Verdict.CLOSE


def escalation_level(failures: int) -> int:
    """The first failure goes back to the same lead; each further one climbs one level up the jurisdiction."""
    return max(0, failures - 1)


class AfterNoAnswer(StrEnum):
    RESCHEDULE = "reschedule"
    UNREACHABLE = "unreachable"


def after_no_answer(attempts_made: int, max_attempts: int) -> AfterNoAnswer:
    """The citizen did not answer attempt number ``attempts_made``: try again, or give up at the limit."""
    return AfterNoAnswer.UNREACHABLE if attempts_made >= max_attempts else AfterNoAnswer.RESCHEDULE


def claim_is_held(claimed_by: str | None, claimed_at: datetime | None, *, now: datetime, ttl: timedelta) -> bool:
    """A claim keeps others off the item for ``ttl``; an abandoned claim lapses by itself."""
    return claimed_by is not None and claimed_at is not None and now - claimed_at < ttl


def may_act(claimed_by: str | None, claimed_at: datetime | None, *, who: str, now: datetime, ttl: timedelta) -> bool:
    """Anyone may act on an unclaimed (or lapsed) item; a held claim reserves it for its holder."""
    return not claim_is_held(claimed_by, claimed_at, now=now, ttl=ttl) or claimed_by == who


# --- the citizen's one-time link ----------------------------------------------------------------------


def new_token() -> tuple[str, str]:
    """A random link token and the hash that is stored instead of it."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LinkState(StrEnum):
    OPEN = "open"
    USED = "used"
    EXPIRED = "expired"
    CLOSED = "closed"  # the callback was answered another way (an operator, another link)


def link_state(*, expires_at: datetime, used_at: datetime | None, callback_open: bool, now: datetime) -> LinkState:
    if used_at is not None:
        return LinkState.USED
    if now >= expires_at:
        return LinkState.EXPIRED
    if not callback_open:
        return LinkState.CLOSED
    return LinkState.OPEN
