import pytest

from cityloop.feedback.callbacks import needs_rehandling
from cityloop.feedback.models import CallbackOutcome, Satisfaction


@pytest.mark.parametrize(
    ("solved", "satisfaction", "rehandle"),
    [
        (True, Satisfaction.SATISFIED, False),
        (True, Satisfaction.BASICALLY_SATISFIED, False),
        (True, Satisfaction.UNSATISFIED, True),
        (False, Satisfaction.SATISFIED, True),
        (False, Satisfaction.UNSATISFIED, True),
    ],
)
def test_rehandle_when_not_solved_or_not_satisfied(solved: bool, satisfaction: Satisfaction, rehandle: bool) -> None:
    outcome = CallbackOutcome(solved=solved, satisfaction=satisfaction, recorded_by="op")
    assert needs_rehandling(outcome) is rehandle
