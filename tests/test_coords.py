"""Coordinate parsing: every typed form, every map-link format, failures, fuzzing and round trips."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.coords import (
    MSG_BAIDU_MERCATOR,
    MSG_LINK_NO_COORDS,
    MSG_RANGE,
    CoordinateError,
    ParsedCoordinates,
    format_coordinates,
    parse_coordinates,
)
from bot.datum import bd09_to_wgs84, gcj02_to_wgs84, wgs84_to_bd09, wgs84_to_gcj02
from bot.geo import CHINA_BBOX, ServiceArea

AREA = ServiceArea.default()
LAT, LON = 37.33, 113.57  # 37°19'48"N 113°34'12"E

TYPED = [
    "37.33, 113.57",
    "37.33,113.57",
    "113.57 37.33",  # longitude first (Amap/GIS habit): decided by range
    "113.57, 37.33",
    "  37.33 ,   113.57 ",
    "37.33; 113.57",
    "37.33/113.57",
    "37.33N 113.57E",
    "37.33 N, 113.57 E",
    "N37.33 E113.57",
    "N 37.33 E 113.57",
    "E113.57 N37.33",
    "113.57E 37.33N",
    "37.33n 113.57e",
    "lat 37.33 lon 113.57",
    "Lat: 37.33, Long: 113.57",
    "latitude 37.33 longitude 113.57",
    "37°19'48\"N 113°34'12\"E",
    "37°19'48\"N, 113°34'12\"E",
    "N37°19'48\" E113°34'12\"",
    "37 19 48 N 113 34 12 E",
    "37 19 48 113 34 12",
    "37°19′48″N 113°34′12″E",
    "37°19’48”N 113°34’12”E",
    "37º19'48''N 113º34'12''E",
    "37°19'48\" 113°34'12\"",
    "37°19.8'N 113°34.2'E",
    "37 19.8 N 113 34.2 E",
    "37.33° N, 113.57° E",
    "37.33 deg N 113.57 deg E",
    "北纬37.33 东经113.57",
    "北纬37.33，东经113.57",
    "东经113.57 北纬37.33",
    "北纬37°19′48″ 东经113°34′12″",
    "东经113°34′12″ 北纬37°19′48″",
    "北纬37度19分48秒 东经113度34分12秒",
    "北纬 37 度 19 分 48 秒，东经 113 度 34 分 12 秒",
    "北緯37.33 東經113.57",
    "纬度37.33 经度113.57",
    "纬度：37.33，经度：113.57",
    "３７．３３，１１３．５７",  # full-width digits and punctuation
    "３７．３３　１１３．５７",
    "北纬３７°１９′４８″ 东经１１３°３４′１２″",
    "37。33，113。57",
    "37,33 113,57",  # decimal commas
    "I saw it at 37.33, 113.57 yesterday",
    "在 37.33, 113.57 看到豹子",
    "it's at 37.33, 113.57",
    "\u200b37.33,\u00a0113.57\ufeff",
    "37.33\n113.57",
]


@pytest.mark.parametrize("text", TYPED)
def test_typed_forms(text: str) -> None:
    r = parse_coordinates(text, service_area=AREA)
    assert r.lat == pytest.approx(LAT, abs=1e-9)
    assert r.lon == pytest.approx(LON, abs=1e-9)
    assert r.datum == "wgs84"
    assert r.source == "typed"
    assert (r.input_lat, r.input_lon) == pytest.approx((LAT, LON), abs=1e-9)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("S 37.33, W 113.57", (-37.33, -113.57)),
        ("37.33S 113.57W", (-37.33, -113.57)),
        ("-37.33, -113.57", (-37.33, -113.57)),
        ("−37.33, −113.57", (-37.33, -113.57)),  # U+2212 minus
        ("南纬37.33 西经113.57", (-37.33, -113.57)),
        ("-37 19 48 S 113 34 12 W", (-37.33, -113.57)),  # a minus that agrees with S is fine
        ("37.3-113.5", (37.3, 113.5)),  # hyphen between numbers is a separator
        ("37.3 – 113.5", (37.3, 113.5)),  # en dash is a separator, never a minus
        ("0, 0", (0.0, 0.0)),  # syntactically fine; check_plausible refuses it
        ("40.7128, -74.0060", (40.7128, -74.006)),
        ('37°48"N 113°E', (37 + 48 / 3600, 113.0)),
        ("+37.33, +113.57", (37.33, 113.57)),
    ],
)
def test_signs_and_hemispheres(text: str, expected: tuple[float, float]) -> None:
    r = parse_coordinates(text)
    assert (r.lat, r.lon) == pytest.approx(expected, abs=1e-9)


def test_order_ambiguity_prefers_service_area_then_china() -> None:
    # Both orders are valid numbers; only (37.5, 80.1) is in China.
    assert parse_coordinates("80.1, 37.5").lat == pytest.approx(37.5)
    # Neither order in China: keep latitude first.
    r = parse_coordinates("10.5, 20.5")
    assert (r.lat, r.lon) == (10.5, 20.5)
    # An area that contains the swapped point wins over "latitude first".
    area = ServiceArea.from_geojson(
        {
            "type": "Polygon",
            "coordinates": [[[10.0, 20.0], [11.0, 20.0], [11.0, 21.0], [10.0, 21.0], [10.0, 20.0]]],
        }
    )
    r = parse_coordinates("10.5, 20.5", service_area=area)
    assert (r.lat, r.lon) == (20.5, 10.5)


def test_datum_hints_in_typed_text() -> None:
    g_lat, g_lon = wgs84_to_gcj02(LAT, LON)
    r = parse_coordinates(f"{g_lat:.7f}, {g_lon:.7f} (GCJ-02)")
    assert r.datum == "gcj02"
    assert (r.lat, r.lon) == pytest.approx((LAT, LON), abs=2e-6)
    assert (r.input_lat, r.input_lon) == pytest.approx((g_lat, g_lon), abs=1e-7)
    b_lat, b_lon = wgs84_to_bd09(LAT, LON)
    r = parse_coordinates(f"百度坐标 {b_lat:.7f},{b_lon:.7f}")
    assert r.datum == "bd09"
    assert (r.lat, r.lon) == pytest.approx((LAT, LON), abs=2e-6)
    assert parse_coordinates("37.33, 113.57 WGS84").datum == "wgs84"


# --- map links -------------------------------------------------------------------------------------

GCJ = gcj02_to_wgs84(LAT, LON)  # what a GCJ-02 link with the numbers 37.33/113.57 really means
BD = bd09_to_wgs84(LAT, LON)

LINKS = [
    # Amap / 高德 (GCJ-02, lon,lat in position=)
    (
        "https://uri.amap.com/marker?position=113.57,37.33&name=豹子&src=mypage&coordinate=gaode",
        GCJ,
        "gcj02",
        "amap",
    ),
    ("https://uri.amap.com/marker?position=113.57,37.33&coordinate=wgs84", (LAT, LON), "wgs84", "amap"),
    (
        "我在这里：https://uri.amap.com/marker?position=113.57,37.33&name=和顺县 快来找我",
        GCJ,
        "gcj02",
        "amap",
    ),
    ("https://m.amap.com/share/index/lnglat=113.57,37.33&name=位置", GCJ, "gcj02", "amap"),
    ("https://www.amap.com/?p=B0FFH3R2JG,37.33,113.57,义兴镇,地址", GCJ, "gcj02", "amap"),
    ("https://ditu.amap.com/?q=37.33,113.57,标记", GCJ, "gcj02", "amap"),
    (
        "androidamap://viewMap?sourceApplication=app&poiname=x&lat=37.33&lon=113.57&dev=0",
        GCJ,
        "gcj02",
        "amap",
    ),
    (
        "iosamap://viewMap?sourceApplication=app&poiname=x&lat=37.33&lon=113.57&dev=1",
        (LAT, LON),
        "wgs84",
        "amap",
    ),
    # Baidu / 百度 (BD-09 unless coord_type says otherwise; lat,lng)
    (
        "http://api.map.baidu.com/marker?location=37.33,113.57&title=t&content=c&output=html",
        BD,
        "bd09",
        "baidu",
    ),
    (
        "http://api.map.baidu.com/marker?location=37.33,113.57&title=t&output=html&coord_type=bd09ll",
        BD,
        "bd09",
        "baidu",
    ),
    ("baidumap://map/marker?location=37.33,113.57&title=t&coord_type=gcj02&src=x", GCJ, "gcj02", "baidu"),
    ("bdapp://map/marker?location=37.33,113.57&coord_type=wgs84&title=t", (LAT, LON), "wgs84", "baidu"),
    ("https://map.baidu.com/?latlng=37.33,113.57&title=x", BD, "bd09", "baidu"),
    # Tencent / 腾讯 (GCJ-02; coord_type=1 is GPS)
    (
        "https://apis.map.qq.com/uri/v1/marker?marker=coord:37.33,113.57;title:豹;addr:和顺&referer=x",
        GCJ,
        "gcj02",
        "tencent",
    ),
    (
        "qqmap://map/marker?marker=coord:37.33,113.57;title:x&coord_type=1&referer=x",
        (LAT, LON),
        "wgs84",
        "tencent",
    ),
    (
        "https://map.qq.com/?type=marker&isopeninfowin=1&markertype=1&pointx=113.57&pointy=37.33",
        GCJ,
        "gcj02",
        "tencent",
    ),
    # Google (taken as WGS-84; flagged as possibly GCJ-02 inside China)
    ("https://maps.google.com/?q=37.33,113.57", (LAT, LON), "wgs84", "google"),
    ("https://www.google.com/maps?q=37.33,113.57&z=15", (LAT, LON), "wgs84", "google"),
    ("https://www.google.com/maps/search/?api=1&query=37.33%2C113.57", (LAT, LON), "wgs84", "google"),
    ("https://www.google.com/maps/@37.33,113.57,15z", (LAT, LON), "wgs84", "google"),
    (
        "https://www.google.com/maps/place/Somewhere/@37.3,113.5,17z/data=!3m1!4b1!4m6!3m5!1s0x0:0x0!8m2!3d37.33!4d113.57",
        (LAT, LON),
        "wgs84",
        "google",
    ),
    (
        "https://www.google.com/maps/place/37%C2%B019'48.0%22N+113%C2%B034'12.0%22E/@37.33,113.57,17z",
        (LAT, LON),
        "wgs84",
        "google",
    ),
    ("https://www.google.com.hk/maps/place/37.33,113.57", (LAT, LON), "wgs84", "google"),
    ("https://maps.google.com/maps?ll=37.33,113.57&z=12", (LAT, LON), "wgs84", "google"),
    ("https://www.google.com/maps/dir/?api=1&destination=37.33,113.57", (LAT, LON), "wgs84", "google"),
    # Apple
    ("https://maps.apple.com/?ll=37.33,113.57&q=Dropped%20Pin", (LAT, LON), "wgs84", "apple"),
    ("https://maps.apple.com/?q=37.33,113.57", (LAT, LON), "wgs84", "apple"),
    ("https://maps.apple.com/?sll=37.33,113.57&z=10&t=s", (LAT, LON), "wgs84", "apple"),
    (
        "https://maps.apple.com/place?coordinate=37.33,113.57&name=Marked%20Location",
        (LAT, LON),
        "wgs84",
        "apple",
    ),
    # OpenStreetMap
    ("https://www.openstreetmap.org/#map=15/37.33/113.57", (LAT, LON), "wgs84", "osm"),
    ("https://www.openstreetmap.org/?mlat=37.33&mlon=113.57#map=12/37.0/113.0", (LAT, LON), "wgs84", "osm"),
    ("https://osm.org/?mlat=37.33&mlon=113.57", (LAT, LON), "wgs84", "osm"),
    # geo: URIs (RFC 5870 and the Android q= convention)
    ("geo:37.33,113.57", (LAT, LON), "wgs84", "geo"),
    ("geo:37.33,113.57,1200;u=35", (LAT, LON), "wgs84", "geo"),
    ("geo:0,0?q=37.33,113.57(Leopard)", (LAT, LON), "wgs84", "geo"),
    ("Location: geo:37.33,113.57;crs=wgs84;u=12.5 (phone)", (LAT, LON), "wgs84", "geo"),
]


@pytest.mark.parametrize(("text", "expected", "datum", "provider"), LINKS)
def test_map_links(text: str, expected: tuple[float, float], datum: str, provider: str) -> None:
    r = parse_coordinates(text)
    assert r.source == "map_link"
    assert r.provider == provider
    assert r.datum == datum
    assert (r.lat, r.lon) == pytest.approx(expected, abs=1e-7)
    assert (r.input_lat, r.input_lon) == pytest.approx((LAT, LON), abs=1e-9)
    # Google/Apple in China: numbers kept as WGS-84 but marked as possibly GCJ-02.
    assert r.ambiguous_datum == (provider in ("google", "apple"))


def test_gcj_link_really_moves_the_point_about_half_a_km() -> None:
    from bot.geo import distance_m

    r = parse_coordinates("https://uri.amap.com/marker?position=113.57,37.33")
    assert 300 < distance_m((r.lat, r.lon), (LAT, LON)) < 700


def test_geo_uri_accuracy_and_location() -> None:
    r = parse_coordinates("geo:37.33,113.57;u=35")
    assert r.accuracy_m == 35.0
    loc = r.to_location(place_name="x")
    assert (loc.latitude, loc.longitude, loc.source, loc.accuracy_m) == (37.33, 113.57, "map_link", 35.0)


def test_link_without_coordinates_and_other_failures() -> None:
    for text in (
        "https://surl.amap.com/2xK9abc",
        "我在这里 https://surl.amap.com/2xK9abc",
        "https://maps.app.goo.gl/AbCdEf",
        "https://goo.gl/maps/AbCdEf",
        "https://www.amap.com/place/B000A83M61",
        "https://j.map.baidu.com/abc",
        "https://www.openstreetmap.org/node/123",
    ):
        with pytest.raises(CoordinateError) as err:
            parse_coordinates(text)
        assert err.value.message == MSG_LINK_NO_COORDS, text
    with pytest.raises(CoordinateError) as err:
        parse_coordinates("https://map.baidu.com/@12624412.52,4458912.16,13z")
    assert err.value.message == MSG_BAIDU_MERCATOR
    with pytest.raises(CoordinateError) as err:
        parse_coordinates("http://api.map.baidu.com/marker?location=4458912.16,12624412.52&coord_type=bd09mc")
    assert err.value.message == MSG_BAIDU_MERCATOR
    with pytest.raises(CoordinateError):
        parse_coordinates("geo:37.33,113.57;crs=epsg:4490")
    # Numbers inside unrelated links are not coordinates; the text around them is still read.
    r = parse_coordinates("see https://example.com/photos/123/456 at 37.33, 113.57")
    assert (r.lat, r.lon) == (37.33, 113.57)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "hello",
        "37.33",
        "1 2 3",
        "37.33 113.57 2024",
        "37.33.5, 113",
        "37°61'N 113°E",
        "37°19'61\"N 113°E",
        "37.5°19'N 113°E",
        "91, 200",
        "N37.33 N113.57",
        "37.33N",
        "-37.33 N 113.57 E",
        "37d19m48s 113d34m12s",
        "5km north of 37.33 113.57",
        "x" * 5000,
        "1" * 200,
        "9" * 25 + ", 113",
        "http://[::1",
    ],
)
def test_failures_raise_coordinate_error_with_message(text: str) -> None:
    with pytest.raises(CoordinateError) as err:
        parse_coordinates(text)
    assert isinstance(err.value.message, str) and err.value.message.strip()


def test_out_of_range_message() -> None:
    with pytest.raises(CoordinateError) as err:
        parse_coordinates("91.5 N 113 E")
    assert err.value.message == MSG_RANGE


# --- fuzzing ---------------------------------------------------------------------------------------

_weird = st.sampled_from(
    list("0123456789.,;:/-+−°'\"′″’”NSEWnsew 　，。；：")
    + [
        "北纬",
        "东经",
        "南纬",
        "西经",
        "度",
        "分",
        "秒",
        "lat",
        "lon",
        "geo:",
        "http://",
        "https://maps.google.com/?q=",
    ]
    + ["\u200b", "\ufeff", "\x00", "\n", "\t", "\x1b", "﷽", "ﬃ", "⁰", "º", "１", "２", "３"]
)


def _assert_only_coordinate_error(text: str) -> None:
    try:
        r = parse_coordinates(text)
    except CoordinateError as exc:
        assert exc.message.strip()
    else:
        assert isinstance(r, ParsedCoordinates)
        assert -90 <= r.lat <= 90 and -180 <= r.lon <= 180


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_fuzz_arbitrary_text(text: str) -> None:
    _assert_only_coordinate_error(text)


@settings(max_examples=400, deadline=None)
@given(st.lists(_weird, max_size=30).map("".join))
def test_fuzz_coordinate_like_text(text: str) -> None:
    _assert_only_coordinate_error(text)


@settings(max_examples=150, deadline=None)
@given(
    st.text(
        alphabet=st.characters(
            categories=["Nd", "No", "Lo", "Po", "Ps", "Pe", "Sm", "So", "Zs", "Cc", "Cf"],
        ),
        max_size=200,
    )
)
def test_fuzz_cjk_fullwidth_and_control_characters(text: str) -> None:
    _assert_only_coordinate_error(text)


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(st.text(min_size=1, max_size=20).map(lambda s: (s * (100_000 // len(s) + 1))[:100_000]))
def test_fuzz_100_kb_strings(text: str) -> None:
    _assert_only_coordinate_error(text)


def test_100_kb_of_digits_is_fast() -> None:
    with pytest.raises(CoordinateError):
        parse_coordinates("1" * 100_000)
    with pytest.raises(CoordinateError):
        parse_coordinates("37.33, 113.57 " * 10_000)


# --- round trips -----------------------------------------------------------------------------------

lat_st = st.floats(-90, 90, allow_nan=False)
lon_st = st.floats(-180, 180, allow_nan=False)


def _unambiguous(lat: float, lon: float) -> bool:
    """A bare "a, b" pair is read latitude-first unless only the swapped order lies in China."""
    south, west, north, east = CHINA_BBOX

    def in_china(a: float, b: float) -> bool:
        return south <= a <= north and west <= b <= east

    return not (abs(lon) <= 90 and in_china(lon, lat) and not in_china(lat, lon))


@settings(max_examples=400, deadline=None)
@given(lat_st, lon_st)
def test_round_trip_decimal(lat: float, lon: float) -> None:
    assume(_unambiguous(lat, lon))
    r = parse_coordinates(format_coordinates(lat, lon, "decimal"))
    assert abs(r.lat - lat) <= 1e-6 and abs(r.lon - lon) <= 1e-6


@settings(max_examples=400, deadline=None)
@given(lat_st, lon_st, st.sampled_from(["dms", "chinese"]))
def test_round_trip_dms(lat: float, lon: float, style: str) -> None:
    r = parse_coordinates(format_coordinates(lat, lon, style))
    half_arcsec = 0.5 / 3600
    assert abs(r.lat - lat) <= half_arcsec and abs(r.lon - lon) <= half_arcsec


def test_format_examples() -> None:
    assert format_coordinates(LAT, LON) == "37.330000, 113.570000"
    assert format_coordinates(LAT, LON, "dms") == "37°19'48.0\"N 113°34'12.0\"E"
    assert format_coordinates(LAT, LON, "chinese") == "北纬37°19′48.0″ 东经113°34′12.0″"
    assert format_coordinates(-LAT, -LON, "chinese") == "南纬37°19′48.0″ 西经113°34′12.0″"
    assert format_coordinates(37.99999999, 113.0, "dms") == "38°0'0.0\"N 113°0'0.0\"E"
    with pytest.raises(ValueError):
        format_coordinates(LAT, LON, "utm")
