"""The master data routing reads: jurisdictions (district › street › community › grid), departments and
the dispatch catalogue, held in memory with the indexes location resolution and routing need. Pure data:
built from database rows (store.load_master) and never changed in place; a correction makes a new one.
"""

import math
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field

LEVELS = ("city", "district", "street", "community", "grid")
#: 五级应用: the levels below the platforms. Their units (residents' committees, grid teams) have no topic
#: of their own; their tasks go to their street's platform (a department of type PLATFORM, code = street).
UNIT_LEVELS = ("community", "grid")
PLATFORM = "platform"

# The lattice every grid is a cell of (see data/generate_city.py).
ORIGIN_LAT, ORIGIN_LON = 30.70, 121.00
CELL_LAT, CELL_LON = 0.004, 0.0047


@dataclass(frozen=True)
class District:
    code: str
    name: str
    short_name: str


@dataclass(frozen=True)
class Street:
    code: str
    name: str
    district: str


@dataclass(frozen=True)
class Community:
    code: str
    name: str
    street: str


@dataclass(frozen=True)
class Grid:
    code: str
    community: str
    row: int
    col: int
    road: str
    num_lo: int
    num_hi: int

    @property
    def centre(self) -> tuple[float, float]:
        return cell_centre(self.row, self.col)


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    type: str
    level: str
    district: str | None = None
    street: str | None = None


@dataclass(frozen=True)
class Responsibility:
    """Who owns a category: a department type at a level (责任清单)."""

    level: str
    type: str

    @classmethod
    def parse(cls, text: str) -> "Responsibility":
        level, _, dept_type = text.partition(":")
        if level not in LEVELS or not dept_type:
            raise ValueError(f"responsibility must be 'city|district|street|community|grid:<type>', not {text!r}")
        return cls(level, dept_type)

    @property
    def below_platforms(self) -> bool:
        """A residents' committee or a grid team: reached through its street's platform."""
        return self.level in UNIT_LEVELS

    def __str__(self) -> str:
        return f"{self.level}:{self.type}"


@dataclass(frozen=True)
class Unit:
    """A residents' committee (居委会, level community) or a grid team (网格, level grid): a routing target
    whose tasks travel on its street platform's topic, named in the task's ``unit``."""

    level: str
    code: str
    name: str
    district: str
    street: str
    community: str
    grid: str | None = None


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    parent: str | None
    lead: Responsibility | None  # None when handed over
    assists: tuple[Responsibility, ...] = ()
    handover_to: str | None = None
    urgency: str = "normal"
    accept_days: int = 1
    resolve_days: int = 5
    merge_metres: int = 0
    merge_hours: int = 0
    keywords: tuple[str, ...] = ()

    @property
    def merges(self) -> bool:
        return self.merge_metres > 0 and self.merge_hours > 0


def cell_centre(row: int, col: int) -> tuple[float, float]:
    return ORIGIN_LAT + (row + 0.5) * CELL_LAT, ORIGIN_LON + (col + 0.5) * CELL_LON


def cell_of(lat: float, lon: float) -> tuple[int, int]:
    return math.floor((lat - ORIGIN_LAT) / CELL_LAT), math.floor((lon - ORIGIN_LON) / CELL_LON)


#: The earth's mean radius: metres of arc per radian.
EARTH_RADIUS_METRES = 6_371_000


def distance_metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine); plenty for a few hundred metres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_METRES * math.asin(math.sqrt(h))


@dataclass(frozen=True)
class RoadSpan:
    """The grids along one road, ordered by house number, for lookups by number."""

    starts: tuple[int, ...]
    grids: tuple[Grid, ...]

    def at(self, number: int) -> Grid | None:
        i = bisect_right(self.starts, number) - 1
        if i < 0:
            return None
        grid = self.grids[i]
        return grid if grid.num_lo <= number <= grid.num_hi else None


@dataclass(frozen=True)
class MasterData:
    revision: int
    districts: dict[str, District]
    streets: dict[str, Street]
    communities: dict[str, Community]
    grids: dict[str, Grid]
    departments: dict[str, Department]
    categories: dict[str, Category]
    #: normalised address -> grid code, from approved corrections (they win over the road index)
    address_overrides: dict[str, str] = field(default_factory=dict)
    #: the catalogue tree's branches: code -> name
    groups: dict[str, str] = field(default_factory=dict)
    _cells: dict[tuple[int, int], str] = field(default_factory=dict, repr=False)
    _roads: dict[str, RoadSpan] = field(default_factory=dict, repr=False)
    _units: dict[tuple[str, str, str], Department] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        *,
        revision: int,
        districts: Iterable[District],
        streets: Iterable[Street],
        communities: Iterable[Community],
        grids: Iterable[Grid],
        departments: Iterable[Department],
        categories: Iterable[Category],
        address_overrides: dict[str, str] | None = None,
        groups: dict[str, str] | None = None,
    ) -> "MasterData":
        grid_map = {g.code: g for g in grids}
        by_road: dict[str, list[Grid]] = {}
        for g in grid_map.values():
            by_road.setdefault(g.road, []).append(g)
        roads = {}
        for road, items in by_road.items():
            items.sort(key=lambda g: g.num_lo)
            roads[road] = RoadSpan(tuple(g.num_lo for g in items), tuple(items))
        dept_map = {d.code: d for d in departments}
        units: dict[tuple[str, str, str], Department] = {}
        for d in sorted(dept_map.values(), key=lambda d: d.code):
            area = {"city": "city", "district": d.district, "street": d.street}.get(d.level)
            if area:
                units.setdefault((d.type, d.level, area), d)
        return cls(
            revision=revision,
            districts={d.code: d for d in districts},
            streets={s.code: s for s in streets},
            communities={c.code: c for c in communities},
            grids=grid_map,
            departments=dept_map,
            categories={c.code: c for c in categories},
            address_overrides=dict(address_overrides or {}),
            groups=dict(groups or {}),
            _cells={(g.row, g.col): g.code for g in grid_map.values()},
            _roads=roads,
            _units=units,
        )

    def grid_at(self, lat: float, lon: float) -> Grid | None:
        code = self._cells.get(cell_of(lat, lon))
        return self.grids[code] if code else None

    def road(self, name: str) -> RoadSpan | None:
        return self._roads.get(name)

    @property
    def road_names(self) -> Iterable[str]:
        return self._roads.keys()

    def unit(self, dept_type: str, level: str, *, district: str | None, street: str | None) -> Department | None:
        """The concrete department of ``dept_type`` at ``level`` serving the given area."""
        area = {"city": "city", "district": district, "street": street}.get(level)
        return self._units.get((dept_type, level, area)) if area else None

    def platform(self, street: str | None) -> Department | None:
        """The street's platform, which receives the tasks of its communities and grids."""
        return self._units.get((PLATFORM, "street", street)) if street else None

    def lower_unit(self, level: str, *, community: str | None, grid: str | None) -> Unit | None:
        """The residents' committee of ``community`` or the team of ``grid``; None when the place is not
        known that precisely."""
        if level == "grid" and grid is not None and grid in self.grids:
            cell = self.grids[grid]
            home = self.communities[cell.community]
            district = self.streets[home.street].district
            number = int(cell.code.rsplit("-g", 1)[-1])
            name = f"{home.name}第{number}网格"
            return Unit("grid", cell.code, name, district, home.street, home.code, cell.code)
        if level == "community" and community is not None and community in self.communities:
            home = self.communities[community]
            district = self.streets[home.street].district
            return Unit("community", home.code, f"{home.name}居委会", district, home.street, home.code)
        return None

    def desks(self, dept: Department) -> list[str]:
        """The 督办 desks over ``dept``, nearest first: the operations centre of the platform that
        supervises it (its district's for a street or district unit), then the city's."""
        chain: list[str] = []
        district_ops = self.unit("ops", "district", district=dept.district, street=None)
        if dept.level in ("street", "district") and district_ops is not None and district_ops.code != dept.code:
            chain.append(district_ops.code)
        city_ops = self.unit("ops", "city", district=None, street=None)
        if city_ops is not None and city_ops.code != dept.code:
            chain.append(city_ops.code)
        return chain

    def supervisors(self, dept: Department) -> list[str]:
        """Who escalation goes to, bottom-up: at each level above ``dept``, the unit of the same type,
        else that level's operations centre (街道 › 区 › 市)."""
        chain: list[str] = []
        above = LEVELS[: LEVELS.index(dept.level)]
        for level in reversed(above):
            if level == "street":
                continue
            unit = self.unit(dept.type, level, district=dept.district, street=None) or self.unit(
                "ops", level, district=dept.district, street=None
            )
            if unit is not None:
                chain.append(unit.code)
        return chain

    def leaves(self) -> list[Category]:
        """Categories a ticket can have (the tree's groups are not among them)."""
        return sorted(self.categories.values(), key=lambda c: c.code)
