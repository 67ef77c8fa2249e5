"""route(ticket, master, modes): who leads, who assists, handover, or why a person must decide."""

from datetime import UTC, datetime, timedelta

import pytest

from cityloop.router.cases.rules import MergeMatch, OpenCase, find_case, joining
from cityloop.router.dispatch.location import locate
from cityloop.router.dispatch.rules import Classification, Decision, RoutingPolicy, RoutingTicket, route
from cityloop.router.masterdata.model import MasterData
from cityloop.router.rejections.rules import after_rejection

HUAMU = "浦东新区花木街道锦绣路1001号"


def ticket(
    master: MasterData, category: str | None, address: str | None = HUAMU, confidence: float = 0.9
) -> RoutingTicket:
    return RoutingTicket("T1", Classification(category, confidence, "model"), locate(address, None, None, master))


def test_the_lead_is_the_unit_of_the_catalogue_type_serving_the_location(master: MasterData) -> None:
    street_level = route(ticket(master, "enforcement.street-vendor"), master)
    assert street_level.outcome == "dispatch"
    assert street_level.lead
    assert street_level.lead.code == "pd-s01-enforcement"
    district_level = route(ticket(master, "sanitation.garbage"), master)
    assert district_level.lead
    assert district_level.lead.code == "pd-sanitation"
    elsewhere = route(ticket(master, "sanitation.garbage", "黄浦区南京东路街道"), master)
    assert elsewhere.lead
    assert elsewhere.lead.code == "hp-sanitation"
    city_level = route(ticket(master, "transport.bus.service", None), master)
    assert city_level.lead
    assert city_level.lead.code == "city-transport"


def test_the_decision_explains_itself_and_names_the_escalation_chain(master: MasterData) -> None:
    decision = route(ticket(master, "enforcement.street-vendor"), master)
    assert decision.why["rule"] == "enforcement.street-vendor -> street:enforcement"
    assert decision.why["category"] == "enforcement.street-vendor"
    assert decision.why["confidence"] == 0.9
    assert "花木街道" in str(decision.why["location"])
    assert decision.supervisors == ("pd-enforcement", "city-enforcement")
    office = route(ticket(master, "sanitation.bulky-waste"), master)
    assert office.supervisors == ("pd-ops", "city-ops")  # a street office answers to the district's centre


def test_assisting_departments_come_from_the_catalogue(master: MasterData) -> None:
    decision = route(ticket(master, "water.flooding"), master)
    assert decision.lead
    assert decision.lead.code == "pd-water"
    assert [d.code for d in decision.assists] == ["pd-transport"]


def test_emergencies_are_handed_over_even_without_a_location(master: MasterData) -> None:
    decision = route(ticket(master, "handover.fire", None, confidence=0.35), master)
    assert decision.outcome == "handover"
    assert decision.handover_to == "119"
    assert decision.lead is None


def test_a_person_decides_when_the_machine_cannot(master: MasterData) -> None:
    assert route(ticket(master, None), master).queue_reason == "unclassified"
    unsure = route(ticket(master, "sanitation.garbage", confidence=0.4), master, policy=RoutingPolicy(0.5, 0.3))
    assert unsure.outcome == "needs_dispatcher"
    assert unsure.queue_reason == "low_confidence"
    nowhere = route(ticket(master, "sanitation.garbage", "不知道在哪里"), master)
    assert nowhere.queue_reason == "unresolved_location"
    assert "no known road" in str(nowhere.why["problem"])
    too_coarse = route(ticket(master, "enforcement.street-vendor", "浦东新区"), master)
    assert too_coarse.queue_reason == "unresolved_location"  # a street-level matter needs the street


def test_a_dispatcher_may_name_the_lead(master: MasterData) -> None:
    base = ticket(master, "sanitation.garbage")
    decision = route(RoutingTicket("T1", base.classification, base.location, lead_override="pd-s01-office"), master)
    assert decision.lead
    assert decision.lead.code == "pd-s01-office"


def test_rejection_goes_to_the_suggestion_when_allowed_then_to_arbitration(master: MasterData) -> None:
    location = locate(HUAMU, None, None, master)
    category = master.categories["sanitation.construction-waste"]  # lead street:enforcement, assist district:sanitation

    def outcome(n: int, suggested: str) -> str:
        return after_rejection(
            rejections=n,
            rejecting_dept="pd-s01-enforcement",
            suggested=suggested,
            category=category,
            location=location,
            master=master,
        ).action

    assert outcome(1, "pd-sanitation") == "redispatch"
    assert outcome(1, "hp-sanitation") == "dispatcher"  # serves another district
    assert outcome(1, "city-health") == "dispatcher"  # the catalogue does not allow it
    assert outcome(1, "no-such-dept") == "dispatcher"
    assert outcome(2, "pd-sanitation") == "arbitration"


def test_merge_needs_same_category_close_in_place_and_time(master: MasterData) -> None:
    category = master.categories["enforcement.street-vendor"]  # 300 m, 72 h
    here = master.grids["pd-s01-c07-g03"].centre
    now = datetime(2026, 11, 20, 10, tzinfo=UTC)
    near = (here[0] + 0.001, here[1])  # ~110 m north
    far = (here[0] + 0.01, here[1])  # ~1.1 km
    cases = [
        OpenCase("C-far", category.code, far, now - timedelta(hours=1)),
        OpenCase("C-old", category.code, here, now - timedelta(hours=100)),
        OpenCase("C-other", "sanitation.garbage", here, now),
        OpenCase("C-near", category.code, near, now - timedelta(hours=2)),
    ]
    match = find_case(category, here, now, cases)
    assert match is not None
    assert match.case_id == "C-near"
    assert 100 < match.metres < 130
    assert find_case(category, None, now, cases) is None
    # A near-duplicate created a moment later, routed first, opened the case: this ticket joins it.
    later = [OpenCase("C-later", category.code, near, now + timedelta(seconds=2))]
    joined = find_case(category, here, now, later)
    assert joined is not None
    assert joined.case_id == "C-later"
    assert (
        find_case(category, here, now, [OpenCase("C-next-week", category.code, near, now + timedelta(hours=80))])
        is None
    )
    assert find_case(master.categories["hrss.wage-arrears"], here, now, cases) is None  # personal matters never merge


def test_a_decision_cannot_be_changed_and_joining_a_case_makes_a_new_one(master: MasterData) -> None:
    """Regression: dispatch used to write the merge into the decision route() returned (issue 15)."""
    decision = route(ticket(master, "enforcement.street-vendor"), master)
    with pytest.raises(TypeError):
        decision.why["merge"] = "written in place"  # type: ignore[index]
    joined = joining(decision, MergeMatch("C-near", 110.5, 2.0))
    assert joined.why["merge"] == {"case_id": "C-near", "metres": 110.5, "hours": 2.0}
    assert "merge" not in decision.why
    assert joined.why["rule"] == decision.why["rule"]
    assert joined.lead == decision.lead
    assert joined.why_record() == dict(joined.why)
    # A decision keeps its own copy of the reasons it was given.
    reasons: dict[str, object] = {"rule": "given"}
    own = Decision("handover", reasons, handover_to="119")
    reasons["rule"] = "changed afterwards"
    assert own.why["rule"] == "given"
