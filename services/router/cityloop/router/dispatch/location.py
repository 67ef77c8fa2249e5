"""Location resolution: address text or coordinates -> the grid and its chain (district › street ›
community › grid). Pure. What cannot be placed is reported as unresolved with the reason: routing sends
it to a dispatcher, it never guesses.
"""

import re
import unicodedata
from dataclasses import dataclass, replace

from cityloop.router.masterdata.model import Grid, MasterData

_NUMBER = re.compile(r"^(\d{1,5})号?")
_STRIP = ("上海市", "上海")


@dataclass(frozen=True)
class Location:
    level: str | None  # grid, community, street, district; None when unresolved
    district: str | None = None
    street: str | None = None
    community: str | None = None
    grid: str | None = None
    how: str = ""
    problem: str | None = None
    point: tuple[float, float] | None = None

    @property
    def resolved(self) -> bool:
        return self.level is not None

    def describe(self, master: MasterData) -> str:
        parts = [
            master.districts[self.district].name if self.district else None,
            master.streets[self.street].name if self.street else None,
            master.communities[self.community].name if self.community else None,
            self.grid,
        ]
        return " › ".join(p for p in parts if p) or "unresolved"


def normalise(text: str) -> str:
    """Full-width to ASCII, no spaces, no city prefix: how addresses are compared."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"\s+", "", text)
    for prefix in _STRIP:
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text


def address_key(road: str, number: int) -> str:
    """What corrections are keyed by: road and house number, however the rest was written."""
    return f"{road}{number}号"


def parse_road_number(text: str, master: MasterData) -> tuple[str, int | None] | None:
    """The longest known road named in ``text`` and the house number right after it, if any."""
    found = [road for road in master.road_names if road in text]
    if not found:
        return None
    road = max(found, key=len)
    after = text[text.index(road) + len(road) :]
    match = _NUMBER.match(after)
    return road, int(match.group(1)) if match else None


def at_grid(grid: Grid, master: MasterData, how: str, point: tuple[float, float] | None = None) -> Location:
    community = master.communities[grid.community]
    street = master.streets[community.street]
    return Location(
        "grid",
        district=street.district,
        street=street.code,
        community=community.code,
        grid=grid.code,
        how=how,
        point=point or grid.centre,
    )


def _unresolved(problem: str) -> Location:
    return Location(None, how="unresolved", problem=problem)


def _contradiction(loc: Location, districts: set[str], streets: set[str], master: MasterData) -> str | None:
    if districts and loc.district not in districts:
        named = "、".join(master.districts[d].name for d in sorted(districts))
        return f"the address names {named} but the rest of it lies in {master.districts[loc.district or ''].name}"
    if streets and loc.street and loc.street not in streets:
        named = "、".join(master.streets[s].name for s in sorted(streets))
        return f"the address names {named} but the rest of it lies in {master.streets[loc.street].name}"
    return None


def _mentions(text: str, master: MasterData) -> tuple[set[str], set[str]]:
    districts = {d.code for d in master.districts.values() if d.name in text or d.short_name in text}
    streets = {s.code for s in master.streets.values() if s.name in text}
    if not streets:
        # "花木" for "花木街道": only when the bare name is unambiguous and inside a named district.
        for s in master.streets.values():
            bare = s.name.removesuffix("街道").removesuffix("镇")
            if len(bare) >= 2 and bare in text and (not districts or s.district in districts):
                streets.add(s.code)
        if len(streets) > 1:
            streets = set()
    return districts, streets


def _from_text(text: str, master: MasterData) -> Location:
    districts, streets = _mentions(text, master)
    candidates: list[Location] = []
    road_number = parse_road_number(text, master)
    if road_number is not None:
        road, number = road_number
        if number is not None and (code := master.address_overrides.get(address_key(road, number))):
            return at_grid(master.grids[code], master, "address (corrected)")
        span = master.road(road)
        grid = span.at(number) if span and number is not None else None
        if grid is not None:
            candidates.append(at_grid(grid, master, "road and house number"))
        elif span is not None:
            road_streets = {master.communities[g.community].street for g in span.grids}
            if len(road_streets) == 1:
                street = master.streets[road_streets.pop()]
                # The road without a known number: a community named along it places the ticket deeper.
                named = _community_named(text, master, street.code)
                candidates.append(
                    replace(named, how="road and community")
                    if named
                    else Location("street", street.district, street.code, how="road (number not found)")
                )
    if not candidates and (named := _community_named(text, master)) is not None:
        candidates.append(named)
    if not candidates and len(streets) == 1:
        street = master.streets[next(iter(streets))]
        candidates.append(Location("street", street.district, street.code, how="street name"))
    if not candidates and len(districts) == 1:
        candidates.append(Location("district", next(iter(districts)), how="district name"))
    if not candidates:
        return _unresolved("no known road, community, street or district in the address")
    found = candidates[0]
    if problem := _contradiction(found, districts, streets, master):
        return _unresolved(problem)
    return found


def _refined(found: Location, grid: Grid | None, master: MasterData) -> Location | None:
    """``found`` (a place the text named) completed down to ``grid``, if the grid lies inside it; the text
    stays the authority on where, the point only fills in what it left out."""
    if grid is None or found.level == "grid":
        return None
    at = at_grid(grid, master, f"{found.how}, grid by coordinates")
    same = (
        (found.district is None or found.district == at.district)
        and (found.street is None or found.street == at.street)
        and (found.community is None or found.community == at.community)
    )
    return at if same else None


def _community_named(text: str, master: MasterData, street: str | None = None) -> Location | None:
    """The community the text names (the longest name wins), within ``street`` when given."""
    community = max(
        (c for c in master.communities.values() if c.name in text and (street is None or c.street == street)),
        key=lambda c: len(c.name),
        default=None,
    )
    if community is None:
        return None
    home = master.streets[community.street]
    return Location("community", home.district, home.code, community.code, how="community")


def locate(address: str | None, lat: float | None, lon: float | None, master: MasterData) -> Location:
    """Address text first (people say where); coordinates when the text does not place it."""
    problems = []
    point = (lat, lon) if lat is not None and lon is not None else None
    if address and address.strip():
        found = _from_text(normalise(address), master)
        if found.resolved:
            if point is not None:
                # Down the chain to the grid (五级应用) when the point lies inside what the text named.
                deeper = _refined(found, master.grid_at(*point), master)
                return Location(**{**(deeper or found).__dict__, "point": point})
            return found
        problems.append(found.problem or "address not understood")
    if point is not None:
        grid = master.grid_at(*point)
        if grid is not None:
            return at_grid(grid, master, "coordinates", point)
        problems.append(f"coordinates {point[0]:.5f},{point[1]:.5f} are outside the city")
    if not problems:
        problems.append("no address and no coordinates")
    return _unresolved("; ".join(problems))
