"""退单 and 改派: what a department's rejection leads to. Pure.

The first rejection goes to the suggested owner when the catalogue allows it, else to a dispatcher; the
second rejection of the same ticket goes to arbitration, whose decision is final (a department cannot
bounce a ticket forever).
"""

from dataclasses import dataclass
from typing import Literal

from cityloop.router.dispatch.location import Location
from cityloop.router.dispatch.rules import allowed_owner
from cityloop.router.masterdata.model import Category, MasterData

#: rejections of one ticket after which a dispatcher arbitrates
ARBITRATION_AFTER = 2


@dataclass(frozen=True)
class RejectionOutcome:
    action: Literal["redispatch", "dispatcher", "arbitration"]
    explanation: str
    dept_code: str | None = None


def after_rejection(
    *,
    rejections: int,
    rejecting_dept: str,
    suggested: str | None,
    category: Category | None,
    location: Location,
    master: MasterData,
) -> RejectionOutcome:
    """``rejections`` counts this one too."""
    if rejections >= ARBITRATION_AFTER:
        return RejectionOutcome("arbitration", f"rejection number {rejections}: a dispatcher arbitrates, finally")
    if not suggested:
        return RejectionOutcome("dispatcher", "no owner suggested")
    dept = master.departments.get(suggested)
    if dept is None:
        return RejectionOutcome("dispatcher", f"suggested owner {suggested!r} is not a known department")
    if dept.code == rejecting_dept:
        return RejectionOutcome("dispatcher", "suggested owner is the rejecting department itself")
    if category is None or not allowed_owner(dept, category, location):
        what = category.code if category else "this ticket"
        return RejectionOutcome("dispatcher", f"the catalogue does not let {dept.code} own {what} here")
    return RejectionOutcome("redispatch", f"re-dispatched to the suggested owner {dept.code}", dept.code)
