"""Points, distances, bearings, service area, plausibility, obscuring and relative descriptions."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.gazetteer import Gazetteer, Place, describe_relative
from bot.geo import (
    MSG_LAT_RANGE,
    MSG_LON_RANGE,
    MSG_NOT_A_NUMBER,
    MSG_NULL_ISLAND,
    MSG_OUTSIDE_CHINA,
    Location,
    ServiceArea,
    bearing_deg,
    check_plausible,
    compass_point,
    distance_m,
    haversine_m,
    obscure,
    outside_service_area,
)

COUNTY_SEAT = (37.33, 113.56)  # 义兴镇 (approximate)
TAIYUAN = (37.87, 112.55)
NEW_YORK = (40.7128, -74.0060)


# --- Location -------------------------------------------------------------------------------------


def test_location_fields_and_validation() -> None:
    loc = Location(37.33, 113.56, source="typed", accuracy_m=25.0, datum="gcj02", place_name="义兴镇")
    assert loc.point == (37.33, 113.56)
    assert loc.datum == "gcj02" and loc.source == "typed"
    with pytest.raises(TypeError):
        Location(37.33, 113.56, 25.0, "typed")  # type: ignore[call-arg, arg-type]  # keyword-only after longitude
    for bad in [(91.0, 0.0), (0.0, 181.0), (math.nan, 0.0), (0.0, math.inf)]:
        with pytest.raises(ValueError):
            Location(*bad, source="typed")
    with pytest.raises(ValueError):
        Location(37.0, 113.0, source="typed", datum="cgcs2000")
    with pytest.raises(ValueError):
        Location(37.0, 113.0, source="typed", accuracy_m=-1.0)


# --- distances and bearings -----------------------------------------------------------------------


def test_distance_known_values() -> None:
    # One minute of latitude is ~1852 m; one degree of longitude at 37.33°N is ~88.6 km.
    assert distance_m((37.0, 113.5), (37.0 + 1 / 60, 113.5)) == pytest.approx(1849.6, abs=1.0)
    assert distance_m((37.33, 113.0), (37.33, 114.0)) == pytest.approx(88_650, rel=2e-3)
    assert distance_m(COUNTY_SEAT, COUNTY_SEAT) == 0.0
    assert distance_m(Location(*COUNTY_SEAT, source="typed"), COUNTY_SEAT) == 0.0


@settings(max_examples=200, deadline=None)
@given(
    st.floats(36.5, 38.5),
    st.floats(112.5, 114.5),
    st.floats(36.5, 38.5),
    st.floats(112.5, 114.5),
)
def test_haversine_within_half_percent_of_geodesic(a: float, b: float, c: float, d: float) -> None:
    g = distance_m((a, b), (c, d))
    assume(g > 1.0)
    assert haversine_m((a, b), (c, d)) == pytest.approx(g, rel=5e-3)


def test_bearings_and_compass_points() -> None:
    origin = COUNTY_SEAT
    assert bearing_deg(origin, (37.40, 113.56)) == pytest.approx(0.0, abs=1e-9)
    assert bearing_deg(origin, (37.33, 113.70)) == pytest.approx(90.0, abs=0.1)
    assert bearing_deg(origin, (37.20, 113.56)) == pytest.approx(180.0, abs=1e-9)
    assert compass_point(bearing_deg(origin, (37.35, 113.58))) == "NE"
    assert [compass_point(d) for d in (0, 22.4, 22.5, 90, 180, 270, 337.5, 359.9, 360, -45)] == [
        "N",
        "N",
        "NE",
        "E",
        "S",
        "W",
        "N",
        "N",
        "N",
        "NW",
    ]
    assert compass_point(22.5, points=16) == "NNE"
    assert compass_point(200, points=16) == "SSW"
    with pytest.raises(ValueError):
        compass_point(10, points=4)
    with pytest.raises(ValueError):
        compass_point(math.nan)


@given(st.floats(-1e6, 1e6))
def test_compass_point_always_a_code(deg: float) -> None:
    assert compass_point(deg) in ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


# --- service area and plausibility ----------------------------------------------------------------


def test_default_service_area() -> None:
    area = ServiceArea.default()
    assert not area.approximate  # the real county outline (tests/test_heshun.py checks it in depth)
    assert area.contains(*COUNTY_SEAT)
    assert not area.contains(*TAIYUAN)
    assert not area.contains(*NEW_YORK)
    assert not area.contains(math.nan, 113.5)
    assert outside_service_area(*TAIYUAN)
    assert not outside_service_area(*COUNTY_SEAT)


def test_service_area_multipolygon_with_hole() -> None:
    square = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0], [0.0, 0.0]]
    hole = [[4.0, 4.0], [6.0, 4.0], [6.0, 6.0], [4.0, 6.0], [4.0, 4.0]]
    far = [[20.0, 20.0], [22.0, 20.0], [21.0, 23.0], [20.0, 20.0]]
    area = ServiceArea.from_geojson(
        {
            "type": "Feature",
            "properties": {"name": "test", "approximate": False},
            "geometry": {"type": "MultiPolygon", "coordinates": [[square, hole], [far]]},
        }
    )
    assert area.name == "test" and not area.approximate
    assert area.contains(1.0, 1.0)  # (lat, lon) inside the square
    assert not area.contains(5.0, 5.0)  # in the hole
    assert area.contains(21.0, 21.0)  # inside the triangle
    assert not area.contains(22.9, 20.1)  # inside the bbox of the triangle, outside the triangle
    assert not area.contains(15.0, 15.0)
    assert outside_service_area(15.0, 15.0, area)


def test_check_plausible() -> None:
    assert check_plausible(*COUNTY_SEAT) is None
    assert check_plausible(*TAIYUAN) is None  # in China: accepted (but flagged as outside the county)
    assert check_plausible(0.0, 0.0) == MSG_NULL_ISLAND
    assert check_plausible(*NEW_YORK) == MSG_OUTSIDE_CHINA
    assert check_plausible(113.56, 37.33) == MSG_LAT_RANGE  # swapped
    assert check_plausible(37.33, 181.0) == MSG_LON_RANGE
    assert check_plausible(math.nan, 113.0) == MSG_NOT_A_NUMBER
    assert check_plausible(-37.33, 113.56) == MSG_OUTSIDE_CHINA  # lost hemisphere
    for msg in (MSG_NULL_ISLAND, MSG_OUTSIDE_CHINA, MSG_LAT_RANGE, MSG_LON_RANGE, MSG_NOT_A_NUMBER):
        assert msg.strip()


# --- obscuring ------------------------------------------------------------------------------------


def test_obscure_known_cells_and_edges() -> None:
    o = obscure(37.33, 113.57)
    assert (o.cell_south, o.cell_west, o.cell_deg) == (37.2, 113.4, 0.2)
    assert (o.center_lat, o.center_lon) == (37.3, 113.5)
    assert o.label == "37.2°N–37.4°N, 113.4°E–113.6°E"
    # 37.4 is the south edge of the next cell, even though 37.4/0.2 is 186.99999999999997 in floats.
    assert obscure(37.4, 113.6).cell_south == 37.4
    assert obscure(37.4, 113.6).cell_west == 113.6
    assert obscure(37.399999999, 113.599999999).cell_south == 37.2
    # Negative coordinates floor towards -infinity.
    assert obscure(-0.1, -0.1).cell_south == -0.2
    assert obscure(-0.1, -0.1).cell_west == -0.2
    assert obscure(-37.33, -113.57).label == "37.4°S–37.2°S, 113.6°W–113.4°W"
    # Top edges go into the last real cell.
    assert obscure(90.0, 180.0).cell_south == 89.8
    assert obscure(90.0, 180.0).cell_west == 179.8
    assert obscure(37.33, 113.57, cell_deg=0.1).cell_south == 37.3
    with pytest.raises(ValueError):
        obscure(91.0, 0.0)
    with pytest.raises(ValueError):
        obscure(37.0, 113.0, cell_deg=0.0)


lat_st = st.floats(-89.99, 89.99, allow_nan=False)
lon_st = st.floats(-179.99, 179.99, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(lat_st, lon_st, st.floats(0.0, 0.999999), st.floats(0.0, 0.999999))
def test_obscure_same_cell_for_every_point_in_it(lat: float, lon: float, fy: float, fx: float) -> None:
    o = obscure(lat, lon)
    assert o.contains(lat, lon)
    # Another point anywhere in the same cell must give the identical result.
    other_lat = float(Decimal(repr(o.cell_south)) + Decimal(repr(fy)) * Decimal("0.2"))
    other_lon = float(Decimal(repr(o.cell_west)) + Decimal(repr(fx)) * Decimal("0.2"))
    assume(o.contains(other_lat, other_lon))
    assert obscure(other_lat, other_lon) == o
    # The output depends on the cell only: obscuring the published centre gives the same answer, so
    # many reports in one cell cannot be averaged towards the true point.
    assert obscure(o.center_lat, o.center_lon) == o


@settings(max_examples=300, deadline=None)
@given(lat_st, lon_st)
def test_obscure_never_returns_the_true_point(lat: float, lon: float) -> None:
    o = obscure(lat, lon)
    # The published point is the cell centre: within the cell, at most half a cell from the truth, and
    # equal to the true point only for the measure-zero case of a report exactly at a cell centre —
    # which still reveals nothing, because the centre is shared by every point of the cell.
    assert o.contains(o.center_lat, o.center_lon)
    assert abs(o.center_lat - lat) <= 0.1 + 1e-9 and abs(o.center_lon - lon) <= 0.1 + 1e-9
    if (lat, lon) != (o.center_lat, o.center_lon):
        assert (o.center_lat, o.center_lon) != (lat, lon)
    assert obscure(37.3329, 113.5711).center_lat != 37.3329


# --- "≈ 2.3 km NE of 义兴镇" -----------------------------------------------------------------------


def _gaz() -> Gazetteer:
    return Gazetteer(
        [
            Place("seat", "义兴镇", "Yixing", "Yìxīng", "county_seat", 37.33, 113.56),
            Place("vil", "测试村", "Test Village", "Ceshi", "village", 37.40, 113.70),
            Place("nowhere", "未定位乡", "Unlocated", "Weidingwei", "township", None, None),
        ]
    )


def test_describe_relative() -> None:
    gaz = _gaz()
    # ~2.3 km north-east of the county seat.
    d = 2300 / math.sqrt(2)
    target = (37.33 + d / 111_000, 113.56 + d / (111_000 * math.cos(math.radians(37.33))))
    rel = describe_relative(*target, gaz)
    assert rel is not None
    assert rel.place.id == "seat"
    assert rel.bearing == "NE"
    assert rel.distance_m == pytest.approx(2300, rel=0.01)
    assert not rel.is_near
    near = describe_relative(37.331, 113.561, gaz)
    assert near is not None and near.is_near
    assert describe_relative(*TAIYUAN, gaz, max_km=30) is None
    assert describe_relative(37.33, 113.56, Gazetteer([])) is None
    only_villages = describe_relative(*target, gaz, kinds=("village",))
    assert only_villages is not None and only_villages.place.id == "vil"
