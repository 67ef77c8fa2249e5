"""Master data built from the project's files, as router builds it from the database (no I/O beyond reading)."""

import pytest

from cityloop.router.data.files import master_from_files
from cityloop.router.masterdata.model import MasterData


def build_master(address_overrides: dict[str, str] | None = None) -> MasterData:
    return master_from_files(address_overrides)


@pytest.fixture(scope="session")
def master() -> MasterData:
    return master_from_files()
