"""五级应用: residents' committees and grid teams as routing targets, reached through their street's platform;
location filled down to the grid when the address or the point allows. Pure, no broker."""

import pytest

from cityloop.router.dispatch.location import locate
from cityloop.router.dispatch.rules import Classification, Decision, RoutingTicket, allowed_owner, route
from cityloop.router.masterdata.model import MasterData, Responsibility

HUAMU = "浦东新区花木街道锦绣路1001号"  # grid pd-s01-c07-g03


def routed(master: MasterData, category: str, address: str | None) -> Decision:
    where = locate(address, None, None, master)
    return route(RoutingTicket("T1", Classification(category, 1.0, "call_taker"), where), master)


def test_a_grid_category_goes_to_the_grid_team_through_its_street_platform(master: MasterData) -> None:
    decision = routed(master, "power.ev-charging", HUAMU)
    assert decision.outcome == "dispatch"
    assert decision.lead is not None
    assert (decision.lead.code, decision.lead.type, decision.lead.level) == ("pd-s01", "platform", "street")
    assert decision.unit is not None
    assert (decision.unit.level, decision.unit.code) == ("grid", "pd-s01-c07-g03")
    assert (decision.unit.district, decision.unit.street, decision.unit.community) == ("pd", "pd-s01", "pd-s01-c07")
    assert decision.unit.name.endswith("第3网格")
    # The platform's supervisors: district ops, then city ops (督办 one level up).
    assert decision.supervisors == ("pd-ops", "city-ops")
    assert decision.why["rule"] == "power.ev-charging -> grid:team"
    assert "pd-s01-c07-g03" in str(decision.why["unit"])


@pytest.mark.parametrize("category", ["housing.group-rental", "community.dogs", "police.neighbour-dispute"])
def test_community_categories_go_to_the_residents_committee(master: MasterData, category: str) -> None:
    decision = routed(master, category, HUAMU)
    assert decision.lead is not None
    assert decision.unit is not None
    assert (decision.lead.code, decision.unit.level, decision.unit.code) == ("pd-s01", "community", "pd-s01-c07")
    assert decision.unit.name == f"{master.communities['pd-s01-c07'].name}居委会"


def test_without_the_grid_the_street_platform_gets_it_to_place(master: MasterData) -> None:
    decision = routed(master, "power.ev-charging", "浦东新区花木街道")
    assert decision.outcome == "dispatch"
    assert decision.lead is not None
    assert decision.lead.code == "pd-s01"
    assert decision.unit is None
    assert "platform assigns" in str(decision.why["unit_problem"])
    # No street at all: nobody to send it to, a dispatcher places it.
    assert routed(master, "power.ev-charging", "浦东新区").queue_reason == "unresolved_location"


def test_the_platform_may_own_what_its_units_own(master: MasterData) -> None:
    category = master.categories["power.ev-charging"]
    huamu = locate(HUAMU, None, None, master)
    assert allowed_owner(master.departments["pd-s01"], category, huamu)
    assert not allowed_owner(master.departments["pd-s02"], category, huamu)


def test_lower_levels_parse_and_others_do_not() -> None:
    assert Responsibility.parse("grid:team").below_platforms
    assert Responsibility.parse("community:committee").below_platforms
    assert not Responsibility.parse("street:street").below_platforms
    with pytest.raises(ValueError, match="responsibility must be"):
        Responsibility.parse("building:x")


def test_the_point_fills_the_chain_down_to_the_grid(master: MasterData) -> None:
    grid = master.grids["pd-s01-c07-g03"]
    community = master.communities[grid.community]
    found = locate(f"{community.name}门口", *grid.centre, master)
    assert (found.level, found.community, found.grid) == ("grid", community.code, grid.code)
    assert found.how == "community, grid by coordinates"
    # A point outside what the text named does not override the text.
    elsewhere = master.grids["hp-s01-c01-g01"]
    kept = locate(f"{community.name}门口", *elsewhere.centre, master)
    assert (kept.level, kept.community, kept.grid) == ("community", community.code, None)


def test_a_road_without_its_number_and_a_community_name_reach_the_community(master: MasterData) -> None:
    grid = master.grids["pd-s01-c07-g03"]
    community = master.communities[grid.community]
    found = locate(f"浦东新区{grid.road}{community.name}", None, None, master)
    assert (found.level, found.community) == ("community", community.code)


def test_desks_are_the_ops_centres_over_a_unit_nearest_first(master: MasterData) -> None:
    """督办 desks: a district bureau's, a street unit's and a street platform's is the district ops centre,
    then the city's; a city bureau's the city's; the city ops centre has none above it."""
    assert master.desks(master.departments["pd-sanitation"]) == ["pd-ops", "city-ops"]
    assert master.desks(master.departments["pd-s01-enforcement"]) == ["pd-ops", "city-ops"]
    assert master.desks(master.departments["pd-s01"]) == ["pd-ops", "city-ops"]
    assert master.desks(master.departments["pd-ops"]) == ["city-ops"]
    assert master.desks(master.departments["city-sanitation"]) == ["city-ops"]
    assert master.desks(master.departments["city-ops"]) == []
