"""Address text or coordinates to the grid chain; what cannot be placed says why (never a guess)."""

from cityloop.router.dispatch.location import locate
from cityloop.router.masterdata.model import MasterData
from tests.unit.router.conftest import build_master


def test_a_full_address_resolves_to_its_grid(master: MasterData) -> None:
    found = locate("浦东新区花木街道锦绣路1001号", None, None, master)
    assert found.resolved
    assert found.level == "grid"
    assert (found.district, found.street, found.grid) == ("pd", "pd-s01", "pd-s01-c07-g03")
    assert found.how == "road and house number"
    assert found.describe(master).startswith("浦东新区 › 花木街道 ›")


def test_short_forms_full_width_digits_and_city_prefix(master: MasterData) -> None:
    assert locate("上海市浦东锦绣路１００１号３号楼", None, None, master).grid == "pd-s01-c07-g03"


def test_community_street_and_district_names_resolve_to_their_level(master: MasterData) -> None:
    community = next(iter(master.communities.values()))
    assert locate(f"{community.name}门口", None, None, master).level == "community"
    assert locate("陆家嘴街道那边", None, None, master).street == "pd-s02"
    found = locate("黄浦区某处", None, None, master)
    assert (found.level, found.district) == ("district", "hp")


def test_coordinates_resolve_when_the_text_does_not(master: MasterData) -> None:
    grid = master.grids["pd-s01-c07-g03"]
    found = locate("门口那个路口", *grid.centre, master)
    assert found.grid == grid.code
    assert found.how == "coordinates"


def test_unresolvable_places_say_why(master: MasterData) -> None:
    nowhere = locate("不知道在哪里", None, None, master)
    assert not nowhere.resolved
    assert nowhere.problem
    assert "no known road" in nowhere.problem
    outside = locate(None, 40.0, 116.4, master)  # Beijing
    assert not outside.resolved
    assert outside.problem
    assert "outside the city" in outside.problem
    assert not locate(None, None, None, master).resolved


def test_an_address_that_contradicts_itself_is_not_guessed(master: MasterData) -> None:
    found = locate("黄浦区锦绣路1001号", None, None, master)  # 锦绣路 is in 浦东
    assert not found.resolved
    assert found.problem
    assert "黄浦区" in found.problem


def test_an_approved_address_correction_wins_over_the_road_index() -> None:
    corrected = build_master({"锦绣路1001号": "pd-s02-c01-g01"})
    found = corrected.grids["pd-s02-c01-g01"]
    assert locate("浦东新区锦绣路1001号", None, None, corrected).grid == found.code
    assert locate("浦东新区锦绣路1002号", None, None, corrected).grid == "pd-s01-c07-g03"
