"""Datum conversions against published reference points, plus round-trip properties near Heshun."""

from __future__ import annotations

import pytest
from geopy.distance import geodesic
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.datum import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    convert_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    out_of_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(geodesic(a, b).meters)


# wandergis/coordtransform, test/app.js (inputs and expected outputs are (lng, lat) there; swapped here).
# Input point for every function: lng 116.404, lat 39.915.
COORDTRANSFORM_IN = (39.915, 116.404)
COORDTRANSFORM = {
    "wgs84_to_gcj02": (39.91640428150164, 116.41024449916938),
    "gcj02_to_bd09": (39.92133699351021, 116.41036949371029),
    "bd09_to_gcj02": (39.90865673957631, 116.39762729119315),
    # coordtransform's gcj02towgs84 is the one-step approximation; ours iterates, so compare loosely.
    "gcj02_to_wgs84_onestep": (39.91359571849836, 116.39775550083061),
}

# googollee/eviltransform, python/test.py TESTS: (wgsLat, wgsLng, gcjLat, gcjLng).
EVILTRANSFORM = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # beijing
]
# (eviltransform's TESTS_bd expected values are 10-41 m away from what its own bd2wgs computes, so they
# are not usable as references and are deliberately not included.)

# hujiulong/gcoord, test/fixtures/china-cities.json ([lng, lat] there; swapped here).  These are
# provider-side values rounded to 1e-7°; they agree with the public algorithm to ~0.7 m, so they are
# checked with a 1.5 m tolerance.  Chosen because they are Heshun's neighbours.
GCOORD_CITIES = {
    "阳泉市": ((37.8564632, 113.5741091), (37.8569762, 113.5805265), (37.8626366, 113.587143)),
    "长治市": ((36.1952373, 113.109734), (36.1954123, 113.1164073), (36.2011863, 113.1229645)),
    "邢台市": ((37.0700925, 114.498916), (37.0705911, 114.5048503), (37.0766797, 114.5113116)),
}


def test_coordtransform_reference_points() -> None:
    lat, lon = COORDTRANSFORM_IN
    assert wgs84_to_gcj02(lat, lon) == pytest.approx(COORDTRANSFORM["wgs84_to_gcj02"], abs=1e-9)
    assert gcj02_to_bd09(lat, lon) == pytest.approx(COORDTRANSFORM["gcj02_to_bd09"], abs=1e-9)
    # Our BD-09 inverse is refined iteratively: within 1e-6° (~5 cm) of the closed-form value.
    assert bd09_to_gcj02(lat, lon) == pytest.approx(COORDTRANSFORM["bd09_to_gcj02"], abs=1e-6)
    assert metres(gcj02_to_wgs84(lat, lon), COORDTRANSFORM["gcj02_to_wgs84_onestep"]) < 0.5


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), EVILTRANSFORM)
def test_eviltransform_reference_points(wlat: float, wlon: float, glat: float, glon: float) -> None:
    assert wgs84_to_gcj02(wlat, wlon) == pytest.approx((glat, glon), abs=1e-6)
    # The exact inverse must land within 0.5 m of the original WGS-84 point (eviltransform's own bar).
    assert metres(gcj02_to_wgs84(glat, glon), (wlat, wlon)) < 0.5


@pytest.mark.parametrize("city", sorted(GCOORD_CITIES))
def test_gcoord_city_fixtures_near_heshun(city: str) -> None:
    wgs, gcj, bd = GCOORD_CITIES[city]
    assert metres(wgs84_to_gcj02(*wgs), gcj) < 1.5
    assert metres(gcj02_to_wgs84(*gcj), wgs) < 1.5
    assert metres(wgs84_to_bd09(*wgs), bd) < 1.5
    assert metres(bd09_to_wgs84(*bd), wgs) < 1.5
    assert metres(gcj02_to_bd09(*gcj), bd) < 1.5
    assert metres(bd09_to_gcj02(*bd), gcj) < 1.5


@pytest.mark.parametrize(
    "point",
    [(40.7128, -74.0060), (35.6762, 139.6503), (51.5074, -0.1278), (-33.87, 151.21), (0.0, 0.0)],
)
def test_no_offset_outside_china(point: tuple[float, float]) -> None:
    assert out_of_china(*point)
    for fn in (wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, wgs84_to_bd09, bd09_to_wgs84):
        assert fn(*point) == point


@pytest.mark.parametrize(
    "point",
    [(37.33, 113.56), (37.05, 113.05), (37.62, 113.98), (37.2, 113.3), (37.5, 113.8)],
)
def test_heshun_offset_is_300_to_700_m(point: tuple[float, float]) -> None:
    offset = metres(point, wgs84_to_gcj02(*point))
    assert 300 < offset < 700, offset
    # BD-09 adds Baidu's own shift on top (about 1.3 km here); it must not be mistaken for GCJ-02.
    assert metres(point, wgs84_to_bd09(*point)) > 1000


def test_convert_to_wgs84() -> None:
    p = (37.33, 113.56)
    assert convert_to_wgs84(*p, "wgs84") == p
    assert convert_to_wgs84(*wgs84_to_gcj02(*p), "gcj02") == pytest.approx(p, abs=1e-8)
    assert convert_to_wgs84(*wgs84_to_bd09(*p), "bd09") == pytest.approx(p, abs=1e-8)
    with pytest.raises(ValueError):
        convert_to_wgs84(*p, "cgcs2000")


heshun_lat = st.floats(min_value=36.9, max_value=37.8, allow_nan=False)
heshun_lon = st.floats(min_value=112.9, max_value=114.1, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(heshun_lat, heshun_lon)
def test_gcj02_round_trip_below_half_a_metre(lat: float, lon: float) -> None:
    assert metres(gcj02_to_wgs84(*wgs84_to_gcj02(lat, lon)), (lat, lon)) < 0.5
    assert metres(wgs84_to_gcj02(*gcj02_to_wgs84(lat, lon)), (lat, lon)) < 0.5


@settings(max_examples=200, deadline=None)
@given(heshun_lat, heshun_lon)
def test_bd09_round_trip_below_half_a_metre(lat: float, lon: float) -> None:
    assert metres(bd09_to_wgs84(*wgs84_to_bd09(lat, lon)), (lat, lon)) < 0.5
    assert metres(bd09_to_gcj02(*gcj02_to_bd09(lat, lon)), (lat, lon)) < 0.5
