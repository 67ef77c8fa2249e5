"""Distinct places in 黄浦 for intake's tests: one grid (~450 m apart) per ticket, so the real router never
merges them (并单) with each other or with other tests' tickets, and dispatches them to hp-* departments."""

import itertools
from collections.abc import Iterator

from cityloop.router.data.files import city_files
from cityloop.router.masterdata.model import Grid, cell_centre

# Streets hp-s05.. only (other tests use hp-s02); every 5th grid spreads them out.
_GRIDS: Iterator[Grid] = itertools.islice(
    (g for g in city_files().grids if g.code.startswith("hp-s") and int(g.code[4:6]) >= 5), 0, None, 5
)


def next_grid() -> Grid:
    return next(_GRIDS)


def hp_address() -> str:
    grid = next_grid()
    return f"黄浦区{grid.road}{grid.num_lo}号"


def hp_point() -> tuple[float, float]:
    grid = next_grid()
    return cell_centre(grid.row, grid.col)
