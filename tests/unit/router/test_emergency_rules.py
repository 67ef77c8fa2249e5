"""Emergency mode's pure rules: which emergency applies, routing under it, re-homing plans, incidents,
and the checks of a declaration. No broker, no database."""

from datetime import UTC, datetime, timedelta

from cityloop.common import emergency_scope
from cityloop.common.contract.emergencies import Emergency, EmergencyDeadlines, EmergencyScope
from cityloop.router.dispatch.location import locate
from cityloop.router.dispatch.rules import Classification, RoutingTicket, route
from cityloop.router.emergencies import rules
from cityloop.router.emergencies.rules import LiveTask, rehome_plan
from cityloop.router.masterdata.model import MasterData

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
FLOOD_ADDRESS = "浦东新区花木街道锦绣路1001号"  # pd, pd-s01


def emergency(
    eid: str = "E-1",
    *,
    level: str = "III",
    districts: tuple[str, ...] = ("pd",),
    streets: tuple[str, ...] = (),
    city: bool = False,
    categories: tuple[str, ...] = ("water.flooding", "transport.pothole"),
    command: str = "pd-ops",
    participants: dict[str, list[str]] | None = None,
    declared_at: datetime = T0,
    stood_down: bool = False,
) -> Emergency:
    return Emergency(
        id=eid,
        name=f"flood {eid}",
        level=level,
        scope=EmergencyScope(city=city, districts=list(districts), streets=list(streets)),
        categories=list(categories),
        command_unit=command,
        participants=participants
        if participants is not None
        else {"water.flooding": ["pd-water", "pd-transport", "pd-emergency"]},
        deadlines=EmergencyDeadlines(accept_minutes=10, onsite_minutes=30, resolve_minutes=120),
        declared_by="command_centre:cmd",
        declared_at=declared_at,
        stood_down_at=T0 + timedelta(hours=1) if stood_down else None,
    )


def test_an_emergency_applies_to_its_categories_in_its_scope_only() -> None:
    e = emergency()
    assert emergency_scope.applicable([e], "water.flooding", "pd", "pd-s01") is e
    assert emergency_scope.applicable([e], "water.flooding", "hp", "hp-s01") is None  # out of scope
    assert emergency_scope.applicable([e], "sanitation.garbage", "pd", "pd-s01") is None  # category not covered
    assert emergency_scope.applicable([e], "water.flooding", None, None) is None  # place unknown
    street_only = emergency(districts=(), streets=("hp-s02",))
    assert emergency_scope.applicable([street_only], "water.flooding", "hp", "hp-s02") is street_only
    assert emergency_scope.applicable([street_only], "water.flooding", "hp", "hp-s01") is None
    city = emergency(districts=(), city=True)
    assert emergency_scope.applicable([city], "water.flooding", None, None) is city
    assert emergency_scope.applicable([emergency(stood_down=True)], "water.flooding", "pd", "pd-s01") is None


def test_a_catalogue_branch_covers_every_category_under_it() -> None:
    e = emergency(categories=("water",), participants={"water": ["pd-water"]})
    assert emergency_scope.covers(e, "water.flooding")
    assert not emergency_scope.covers(e, "waterfront.x")
    assert rules.participants_for(e, "water.flooding") == ["pd-water"]


def test_where_scopes_overlap_the_higher_level_wins_and_a_tie_goes_to_the_earlier() -> None:
    district = emergency("E-district", level="III", declared_at=T0)
    street = emergency("E-street", level="I", districts=(), streets=("pd-s01",), declared_at=T0 + timedelta(1))
    assert emergency_scope.applicable([district, street], "water.flooding", "pd", "pd-s01") is street
    assert emergency_scope.applicable([district, street], "water.flooding", "pd", "pd-s02") is district
    later = emergency("E-later", level="III", declared_at=T0 + timedelta(minutes=5))
    assert emergency_scope.applicable([later, district], "water.flooding", "pd", "pd-s01") is district
    twin = emergency("E-0", level="III", declared_at=T0)
    assert emergency_scope.applicable([district, twin], "water.flooding", "pd", "pd-s01") is twin  # then by id


def test_under_an_emergency_the_command_leads_and_every_participant_gets_the_task(master: MasterData) -> None:
    e = emergency()
    ticket = RoutingTicket(
        "T1", Classification("water.flooding", 1.0, "call_taker"), locate(FLOOD_ADDRESS, None, None, master)
    )
    decision = route(ticket, master, [e])
    assert decision.outcome == "dispatch"
    assert decision.emergency is e
    assert decision.lead is not None
    assert decision.lead.code == "pd-ops"
    assert [d.code for d in decision.assists] == ["pd-water", "pd-transport", "pd-emergency"]
    assert decision.supervisors == ("pd-ops",)  # escalation straight to the command
    assert "联勤联动" in str(decision.why["rule"])
    peacetime = route(ticket, master, [])
    assert peacetime.lead is not None
    assert peacetime.lead.code == "pd-water"
    assert peacetime.emergency is None


def test_tickets_out_of_scope_keep_peacetime_rules(master: MasterData) -> None:
    ticket = RoutingTicket(
        "T2", Classification("water.flooding", 1.0, "call_taker"), locate("黄浦区南京东路街道", None, None, master)
    )
    decision = route(ticket, master, [emergency()])
    assert decision.emergency is None
    assert decision.lead is not None
    assert decision.lead.code == "hp-water"


def test_incidents_merge_over_a_wider_radius_and_a_shorter_window(master: MasterData) -> None:
    flooding = master.categories["water.flooding"]
    wider = rules.incident_category(flooding)
    assert wider.merge_metres > flooding.merge_metres
    assert wider.merge_hours < flooding.merge_hours
    never_merges = next(c for c in master.leaves() if not c.merges and c.lead is not None)
    assert not rules.incident_category(never_merges).merges


def test_rehoming_at_declaration_keeps_a_participating_lead_as_joint_and_adds_the_rest() -> None:
    live = [LiveTask("A-lead", "pd-water", "lead"), LiveTask("A-assist", "pd-transport", "assist")]
    plan = rehome_plan(live, "pd-ops", ["pd-water", "pd-transport", "pd-emergency"])
    assert plan.keep == (("A-lead", "pd-water", "assist"), ("A-assist", "pd-transport", "assist"))
    assert plan.withdraw == ()
    assert plan.create == (("pd-ops", "lead"), ("pd-emergency", "assist"))


def test_rehoming_at_stand_down_withdraws_joint_tasks_unless_that_department_is_the_peacetime_lead() -> None:
    live = [
        LiveTask("A-cmd", "pd-ops", "lead"),
        LiveTask("A-water", "pd-water", "assist"),
        LiveTask("A-em", "pd-emergency", "assist"),
    ]
    plan = rehome_plan(live, "pd-water", ["pd-transport"])
    assert plan.keep == (("A-water", "pd-water", "lead"),)
    assert {t.assignment_id for t in plan.withdraw} == {"A-cmd", "A-em"}
    assert plan.create == (("pd-transport", "assist"),)


def test_a_department_holding_two_tasks_keeps_one() -> None:
    live = [LiveTask("A-1", "pd-ops", "lead"), LiveTask("A-2", "pd-ops", "assist")]
    plan = rehome_plan(live, "pd-ops", [])
    assert plan.keep == (("A-1", "pd-ops", "lead"),)
    assert [t.assignment_id for t in plan.withdraw] == ["A-2"]
    assert plan.create == ()


def test_a_declaration_names_each_bad_field(master: MasterData) -> None:
    problems = rules.check_declaration(
        scope=EmergencyScope(districts=["nowhere"], streets=["pd-s999"]),
        categories=["water.flooding", "no.such"],
        command_unit="pd-water",
        participants={"water.flooding": ["pd-water", "ghost"], "sanitation.garbage": []},
        master=master,
    )
    fields = {p.field: p.problem for p in problems}
    assert set(fields) == {
        "scope.districts.0",
        "scope.streets.0",
        "categories.1",
        "command_unit",
        "participants.water.flooding.1",
        "participants.sanitation.garbage",
    }
    assert "operations centre" in fields["command_unit"]
    empty = rules.check_declaration(
        scope=EmergencyScope(), categories=[], command_unit="no-unit", participants={}, master=master
    )
    assert {p.field for p in empty} == {"scope", "categories", "command_unit"}
    fine = rules.check_declaration(
        scope=EmergencyScope(districts=["pd"]),
        categories=["water"],
        command_unit="city-ops",
        participants={"water.flooding": ["pd-water"]},
        master=master,
    )
    assert fine == []


def test_a_proposal_prefills_the_units_peacetime_would_send(master: MasterData) -> None:
    prefilled = rules.default_participants(["water.flooding"], "pd", "pd-s01", master)
    assert prefilled == {"water.flooding": ["pd-water", "pd-transport"]}
