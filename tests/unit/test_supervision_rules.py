"""督办 desk rules: which desk a step reaches, the one above, who reads and acts, the 通报 periods."""

from datetime import date

from cityloop.common.identity import Identity, Role
from cityloop.sla.supervision.rules import desk_at, may_act, may_read, next_desk, period_bounds

DESKS = ["pd-ops", "city-ops"]


def test_each_supervise_step_climbs_the_desks_and_stays_at_the_top() -> None:
    assert [desk_at(level, DESKS) for level in (1, 2, 3)] == ["pd-ops", "city-ops", "city-ops"]
    assert desk_at(1, []) is None
    assert next_desk("pd-ops", DESKS) == "city-ops"
    assert next_desk("city-ops", DESKS) is None
    assert next_desk("elsewhere", DESKS) is None


def test_a_desk_is_read_and_worked_by_its_own_unit() -> None:
    desk = Identity(subject="u1", role=Role.DEPARTMENT, dept_code="pd-ops")
    other = Identity(subject="u2", role=Role.DEPARTMENT, dept_code="pd-sanitation")
    auditor = Identity(subject="a", role=Role.AUDITOR)
    assert may_read(desk, "pd-ops")
    assert may_act(desk, "pd-ops")
    assert not may_read(other, "pd-ops")
    assert not may_act(other, "pd-ops")
    assert may_read(auditor, "pd-ops")
    assert not may_act(auditor, "pd-ops")


def test_periods_are_the_day_the_iso_week_and_the_month() -> None:
    wednesday = date(2026, 12, 2)
    assert period_bounds("day", wednesday) == (wednesday, wednesday)
    assert period_bounds("week", wednesday) == (date(2026, 11, 30), date(2026, 12, 6))
    assert period_bounds("month", wednesday) == (date(2026, 12, 1), date(2026, 12, 31))
    assert period_bounds("month", date(2027, 2, 10)) == (date(2027, 2, 1), date(2027, 2, 28))
