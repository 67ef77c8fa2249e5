"""Master data built from the project's files, as router builds it from the database (no I/O beyond reading)."""

import pytest

from cityloop.router.data.files import catalogue_file, city_files
from cityloop.router.masterdata import MasterData


def build_master(address_overrides: dict[str, str] | None = None) -> MasterData:
    city = city_files()
    catalogue = catalogue_file()
    return MasterData.build(
        revision=1,
        districts=city.districts,
        streets=city.streets,
        communities=city.communities,
        grids=city.grids,
        departments=city.departments,
        categories=catalogue.categories(),
        address_overrides=address_overrides,
        groups={g.code: g.name for g in catalogue.group},
    )


@pytest.fixture(scope="session")
def master() -> MasterData:
    return build_master()
