"""The city model and catalogue files: realistic in shape, consistent, and reproducible."""

import re
from collections import Counter

from cityloop.router.data.files import catalogue_file, city_files
from cityloop.router.data.generate_city import generate
from cityloop.router.masterdata.model import MasterData


def test_committed_city_files_are_what_the_generator_makes() -> None:
    city = city_files()
    tables = generate()
    assert [g.code for g in city.grids] == [row[0] for row in tables["grids"][1:]]
    assert [d.code for d in city.departments] == [row[0] for row in tables["departments"][1:]]


def test_the_city_has_a_realistic_shape(master: MasterData) -> None:
    assert len(master.districts) == 16
    assert 190 <= len(master.streets) <= 230
    assert len(master.communities) > 3000
    assert len(master.grids) > 20000
    levels = Counter(d.level for d in master.departments.values())
    assert levels["city"] >= 15
    assert levels["district"] >= 16 * 15
    # office, enforcement squad, community work office, and the platform of its communities and grids
    assert levels["street"] == 4 * len(master.streets)
    assert all(master.platform(s) is not None for s in master.streets)


def test_department_codes_are_valid_topic_names(master: MasterData) -> None:
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]*", code) for code in master.departments)


def test_the_catalogue_is_a_tree_of_about_a_hundred_categories() -> None:
    catalogue = catalogue_file()
    groups = {g.code for g in catalogue.group}
    assert 90 <= len(catalogue.category) <= 130
    assert any(code.count(".") == 2 for code in (c.code for c in catalogue.category)), "some three-level leaves"
    assert all(c.code.rsplit(".", 1)[0] in groups for c in catalogue.category)
    handovers = {c.handover for c in catalogue.category if c.handover}
    assert handovers == {"110", "119", "120", "122"}


def test_every_category_has_an_owner_in_every_district_and_street(master: MasterData) -> None:
    """No gap in the responsibility list: whatever the category and wherever the street, a unit exists."""
    for category in master.categories.values():
        for resp in filter(None, (category.lead, *category.assists)):
            for street in master.streets.values():
                if resp.below_platforms:
                    unit = master.platform(street.code)
                else:
                    unit = master.unit(resp.type, resp.level, district=street.district, street=street.code)
                assert unit is not None, f"{category.code}: no {resp} for {street.code}"


def test_every_grid_is_reachable_by_its_coordinates_and_by_road_and_number(master: MasterData) -> None:
    for grid in list(master.grids.values())[::97]:
        assert master.grid_at(*grid.centre) == grid
        span = master.road(grid.road)
        assert span is not None
        assert span.at(grid.num_lo) == grid
        assert span.at(grid.num_hi) == grid
