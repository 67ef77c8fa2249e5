"""The search box of 并单 (cases/rules.py search_box): every point within the distance lies in it, so the
database never withholds a case find_case would have merged into."""

import math

from hypothesis import given
from hypothesis import strategies as st

from cityloop.router.cases.rules import SearchBox, search_box
from cityloop.router.masterdata.model import EARTH_RADIUS_METRES, distance_metres


def destination(point: tuple[float, float], bearing: float, metres: float) -> tuple[float, float]:
    """The point ``metres`` from ``point`` on ``bearing`` (radians from north), on the same sphere."""
    lat1, lon1 = map(math.radians, point)
    d = metres / EARTH_RADIUS_METRES
    lat2 = math.asin(math.sin(lat1) * math.cos(d) + math.cos(lat1) * math.sin(d) * math.cos(bearing))
    lon2 = lon1 + math.atan2(
        math.sin(bearing) * math.sin(d) * math.cos(lat1), math.cos(d) - math.sin(lat1) * math.sin(lat2)
    )
    lon = (math.degrees(lon2) + 540.0) % 360.0 - 180.0
    return math.degrees(lat2), lon


def inside(box: SearchBox, point: tuple[float, float]) -> bool:
    return box.lat_min <= point[0] <= box.lat_max and box.lon_min <= point[1] <= box.lon_max


@given(
    lat=st.floats(-85, 85),
    lon=st.floats(-180, 180),
    bearing=st.floats(0, 2 * math.pi),
    metres=st.floats(1, 20_000),
    share=st.floats(0, 1),
)
def test_every_point_within_reach_is_in_the_box(
    lat: float, lon: float, bearing: float, metres: float, share: float
) -> None:
    other = destination((lat, lon), bearing, metres * share)
    assert distance_metres((lat, lon), other) <= metres * 1.000001
    assert inside(search_box((lat, lon), metres), other)


def test_the_box_is_narrow_where_the_city_is() -> None:
    shanghai = (31.2304, 121.4737)
    box = search_box(shanghai, 300)
    # ~300 m north-south and, at this latitude, ~300 m east-west: about 0.0027° and 0.0032° either way.
    assert 0.0027 < box.lat_max - shanghai[0] < 0.0028
    assert 0.0031 < box.lon_max - shanghai[1] < 0.0033
    assert not inside(box, destination(shanghai, 0.0, 310))
    assert not inside(box, destination(shanghai, math.pi / 2, 310))
    assert inside(box, destination(shanghai, math.pi / 4, 299))


def test_no_east_west_bound_across_the_date_line_or_round_a_pole() -> None:
    assert search_box((10.0, 179.999), 1_000).lon_min == -180.0
    polar = search_box((89.999, 0.0), 1_000)
    assert (polar.lat_max, polar.lon_min, polar.lon_max) == (90.0, -180.0, 180.0)
