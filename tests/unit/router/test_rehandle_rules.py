"""重办 in router, without a broker: which assignment a failed callback reopens, what the department may
answer then, and who supervises a repeated failure."""

import pytest

from cityloop.common.contract import types
from cityloop.common.contract.models import TicketStatus
from cityloop.common.kafka.consumer import Refused
from cityloop.router.dept_updates.rules import transition
from cityloop.router.rehandle.rules import Reopen, escalation_target, reopen


def test_only_a_leads_resolved_assignment_reopens() -> None:
    assert reopen("resolved", "lead") is Reopen.REOPEN
    assert reopen("reopened", "lead") is Reopen.ALREADY  # another citizen of the case failed first
    for status in ("assigned", "accepted", "withdrawn", "rejected"):
        with pytest.raises(Refused, match=status):
            reopen(status, "lead")
    with pytest.raises(Refused, match="lead"):
        reopen("resolved", "assist")


def test_a_reopened_assignment_takes_accepted_progress_and_resolved_again_but_no_rejection() -> None:
    assert transition("reopened", types.DEPT_ACCEPTED) == ("accepted", types.TICKET_ACCEPTED, TicketStatus.ACCEPTED)
    assert transition("reopened", types.DEPT_PROGRESS) == ("reopened", types.TICKET_PROGRESS, None)
    assert transition("reopened", types.DEPT_RESOLVED) == ("resolved", types.TICKET_RESOLVED, TicketStatus.RESOLVED)
    with pytest.raises(Refused):
        transition("reopened", types.DEPT_REJECTED)
    # Before 重办 a resolved task takes nothing: that was the dead end.
    with pytest.raises(Refused):
        transition("resolved", types.DEPT_ACCEPTED)


@pytest.mark.parametrize(
    ("level", "expected"),
    [(0, None), (1, "district-ops"), (2, "city-ops"), (5, "city-ops")],
)
def test_escalation_climbs_the_chain_and_stops_at_its_top(level: int, expected: str | None) -> None:
    assert escalation_target(["district-ops", "city-ops"], level) == expected


def test_no_chain_no_escalation_target() -> None:
    assert escalation_target([], 2) is None
