"""``cityloop.callback.*`` on ``ticket.lifecycle``: the hotline's callback to the citizen (回访).

feedback writes them; router reads ``recorded`` (a ``rehandle`` verdict reopens the ticket, 重办), scores read
``recorded`` and ``unreachable`` (unreachable callbacks are left out of 解决率 and 满意率, counted apart).
"""

from datetime import datetime
from enum import StrEnum
from typing import Literal

from cityloop.common.contract import types
from cityloop.common.contract.lifecycle import Detail, register_lifecycle


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"  # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    UNSATISFIED = "unsatisfied"  # 不满意


class UnsatisfiedReason(StrEnum):
    """Why the citizen is not satisfied; the rules decide which ones earn a 重办."""

    NOT_HANDLED = "not_handled"  # 没有处理
    POORLY_HANDLED = "poorly_handled"  # 处理不到位
    TOO_SLOW = "too_slow"  # 办理拖延
    ATTITUDE = "attitude"  # 工作态度差
    UNREASONABLE_DEMAND = "unreasonable_demand"  # 诉求超出政策或不合理
    POLICY_LIMIT = "policy_limit"  # 受政策限制无法解决
    OTHER = "other"  # 其他


class Verdict(StrEnum):
    CLOSE = "close"  # the ticket is closed (办结)
    REHANDLE = "rehandle"  # 重办: back to the same lead with a re-handle deadline
    RECORD_ONLY = "record_only"  # the department has not resolved yet: the answer is data, nothing moves


Trigger = Literal["resolved", "overdue"]
Via = Literal["operator", "link"]


class CallbackDetail(Detail):
    callback_id: int
    #: The department (and its assignment) whose resolution the callback asks about.
    dept_code: str | None = None
    assignment_id: str | None = None


class CallbackOpened(CallbackDetail):
    """A callback is due: the department reported resolution, or the resolve deadline passed unresolved."""

    trigger: Trigger = "resolved"
    #: 1 for the first resolution, 2 after one 重办 ...
    round: int = 1
    case_id: str | None = None
    district: str | None = None
    street: str | None = None
    category: str | None = None


class CallbackClaimed(CallbackDetail):
    by: str


class CallbackRecorded(CallbackDetail):
    solved: bool
    satisfaction: Satisfaction
    reason: UnsatisfiedReason | None = None
    verdict: Verdict = Verdict.CLOSE
    trigger: Trigger = "resolved"
    #: Failed callbacks (重办 verdicts) of this ticket so far, this one included.
    failures: int = 0
    #: 0: back to the same lead; 1: also raised one level up the jurisdiction; 2: two levels ...
    escalation_level: int = 0
    via: Via = "operator"
    case_id: str | None = None
    #: The citizen's comment, redacted (its full text is sealed on the event for intake's vault).
    comment: str | None = None


class CallbackRescheduled(CallbackDetail):
    attempts: int
    next_attempt_at: datetime


class CallbackUnreachable(CallbackDetail):
    """The citizen could not be reached within the attempt limit: closed, and not counted in 三率."""

    attempts: int


class CallbackLinkIssued(CallbackDetail):
    expires_at: datetime


register_lifecycle(types.CALLBACK_OPENED, CallbackOpened, "A callback to the citizen is due (feedback).")
register_lifecycle(types.CALLBACK_CLAIMED, CallbackClaimed, "An operator took the callback (feedback).")
register_lifecycle(
    types.CALLBACK_RECORDED, CallbackRecorded, "What the citizen said, and the verdict: close or 重办 (feedback)."
)
register_lifecycle(
    types.CALLBACK_RESCHEDULED, CallbackRescheduled, "The citizen was not reached; another attempt later (feedback)."
)
register_lifecycle(
    types.CALLBACK_UNREACHABLE, CallbackUnreachable, "Closed after the attempt limit: citizen unreachable (feedback)."
)
register_lifecycle(
    types.CALLBACK_LINK_ISSUED, CallbackLinkIssued, "A one-time link for the citizen to answer was issued (feedback)."
)
