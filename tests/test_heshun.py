"""The real county: its outline and margin, the neighbouring counties, and its 8 townships and 183
villages by name. Data: bot/data/PROVENANCE.md."""

from __future__ import annotations

import csv
import json
from importlib import resources

import pytest
import zhconv
from pypinyin import Style, lazy_pinyin
from pyproj import Geod
from shapely.geometry import shape

from bot.gazetteer import TOWNSHIP_KINDS, Gazetteer, Place
from bot.geo import ServiceArea, county_at, jinzhong_counties

BEIJING = (39.9042, 116.4074)  # Tiananmen, far outside Jinzhong
SEAT = (37.326569, 113.566555)  # county government (DataV centre, bot/data/heshun_villages.csv)
GEONAMES_YIXING = (37.3376, 113.53926)  # GeoNames 1808274 (bot/data/heshun_townships.csv)


def _data(name: str) -> str:
    return resources.files("bot").joinpath("data", name).read_text(encoding="utf-8")


def _rows(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(_data(name).splitlines()))


@pytest.fixture(scope="module")
def area() -> ServiceArea:
    return ServiceArea.default()


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.default()


# --- the outline ----------------------------------------------------------------------------------


def test_outline_area_and_the_two_versions_agree(area: ServiceArea) -> None:
    assert area.area_km2 == pytest.approx(2200, rel=0.03)
    tianditu = ServiceArea.from_geojson(json.loads(_data("heshun_county_tianditu.geojson")))
    assert tianditu.area_km2 == pytest.approx(2200, rel=0.03)
    geod = Geod(ellps="WGS84")
    differ = abs(geod.geometry_area_perimeter(area.shape.symmetric_difference(tianditu.shape))[0]) / 1e6
    assert differ / area.area_km2 < 0.05  # README: 3.7 % of the area
    # Every vertex of either outline is within 2 km (the default margin) of the other one.
    for one, other in ((area, tianditu), (tianditu, area)):
        coords = [c for poly in one.polygons for ring in poly for c in ring]
        worst = max(other.border_distance_m(lat, lon) for lon, lat in coords)
        assert worst < 2000, worst


def test_county_seat_inside(area: ServiceArea) -> None:
    for point in (SEAT, GEONAMES_YIXING):
        check = area.check(*point)
        assert check.inside and not check.flagged and check.border_m == 0 and check.county is None


def test_points_in_neighbouring_counties_are_flagged_and_named(area: ServiceArea) -> None:
    counties = jinzhong_counties()
    assert len(counties) == 11 and "左权县" in {c.name_zh for c in counties}
    for county in counties:
        if county.code == "140723":
            continue
        inner = county.shape.representative_point()  # a point surely inside that county's outline
        check = area.check(inner.y, inner.x)
        assert check.county == county.name_zh
        assert not check.inside
        if county.name_zh == "左权县":
            assert check.flagged and check.border_m > area.margin_m
            assert county_at(inner.y, inner.x) == "左权县"


def test_beijing_flagged_far_away(area: ServiceArea) -> None:
    check = area.check(*BEIJING)
    assert check.flagged and not check.inside and check.county is None
    assert 300_000 < check.border_m < 450_000  # Beijing is ~350 km north-east of Heshun's border


def _offset_points(area: ServiceArea, metres: float, count: int = 24) -> list[tuple[float, float]]:
    """Points `metres` outside (positive) or inside (negative) the outline, all around it."""
    (forward, backward), projected = area._projected
    ring = projected.buffer(metres, quad_segs=16).exterior
    step = max(1, len(ring.coords) // count)
    return [backward.transform(x, y)[::-1] for x, y in list(ring.coords)[::step]]


def test_three_km_outside_flagged_one_km_inside_and_outside_not(area: ServiceArea) -> None:
    assert area.margin_m == 2000
    named = 0
    for lat, lon in _offset_points(area, 3000):
        check = area.check(lat, lon)
        assert check.flagged and not check.inside
        assert check.border_m == pytest.approx(3000, abs=60)
        if check.county is not None:  # east and north-east of Heshun is Hebei, not in our file
            named += 1
            point = shape({"type": "Point", "coordinates": [lon, lat]})
            assert any(c.name_zh == check.county and c.shape.covers(point) for c in jinzhong_counties())
    assert named > 5
    for lat, lon in _offset_points(area, 1000):
        check = area.check(lat, lon)
        assert not check.flagged and not check.inside and area.contains(lat, lon)
        assert area.with_margin(500).check(lat, lon).flagged  # the margin is configurable
    for lat, lon in _offset_points(area, -1000):
        check = area.check(lat, lon)
        assert check.inside and not check.flagged and area.contains(lat, lon)


def test_border_distance_is_metres_on_the_ground(area: ServiceArea) -> None:
    """The local projection's distance agrees with the geodesic on the ellipsoid to 0.1 %."""
    lat, lon = _offset_points(area, 5000)[3]
    (forward, backward), projected = area._projected
    from shapely.ops import nearest_points

    x, y = forward.transform(lon, lat)
    near = nearest_points(projected.boundary, shape({"type": "Point", "coordinates": [x, y]}))[0]
    blon, blat = backward.transform(near.x, near.y)
    _, _, geodesic = Geod(ellps="WGS84").inv(lon, lat, blon, blat)
    assert area.border_distance_m(lat, lon) == pytest.approx(geodesic, rel=1e-3)


# --- names ----------------------------------------------------------------------------------------


def _townships() -> list[dict[str, str]]:
    return [r for r in _rows("heshun_townships.csv") if r["name_zh"] != "城区"]


def _villages() -> list[dict[str, str]]:
    return [r for r in _rows("heshun_villages.csv") if len(r["code"]) == 12]


def test_the_data_is_complete(gaz: Gazetteer) -> None:
    assert len(_townships()) == 8 and len(_villages()) == 183
    assert {t.name_zh for t in gaz.townships()} == {r["name_zh"] for r in _townships()}
    villages = [p for p in gaz if p.kind == "village"]
    assert len(villages) == 183 and all(not p.located for p in villages)  # names, never invented points
    assert all(gaz.township_of_place(v) is not None for v in villages)  # 城区 belongs to 义兴镇


def _is(found: tuple[Place, ...], name: str, township: str | None = None) -> bool:
    return any(p.name_zh == name and (township is None or p.township == township) for p in found)


def _short(name: str) -> str:
    for suffix in ("社区", "村", "镇", "乡"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _forms(name: str) -> list[str]:
    short = _short(name)
    return [
        name,
        short,
        zhconv.convert(name, "zh-tw"),
        zhconv.convert(short, "zh-hk"),
        " ".join(lazy_pinyin(name, style=Style.TONE)),
        "".join(lazy_pinyin(short, style=Style.TONE)).title(),
        "".join(lazy_pinyin(short)),
        " ".join(lazy_pinyin(name, style=Style.TONE3)),
    ]


@pytest.mark.parametrize("row", _townships(), ids=lambda r: r["name_zh"])
def test_every_township_by_name(gaz: Gazetteer, row: dict[str, str]) -> None:
    name = row["name_zh"]
    for form in _forms(name):
        match = gaz.lookup(form)
        assert match is not None and match.exact, form
        assert _is(match.places, name), (form, match)
        assert match.places[0].kind in TOWNSHIP_KINDS or match.places[0].name_zh == name
    match = gaz.lookup(f"我在{name}那边看到的")
    assert match is not None and match.exact and match.places[0].name_zh == name


@pytest.mark.parametrize("row", _villages(), ids=lambda r: r["name_zh"] + r["code"][-3:])
def test_every_village_by_name(gaz: Gazetteer, row: dict[str, str]) -> None:
    name, township = row["name_zh"], row["township_zh"]
    for form in _forms(name):
        match = gaz.lookup(form)
        assert match is not None and match.exact, form
        assert _is(match.places, name, township), (form, match)
    sentences = [
        f"在{township}{_short(name)}后山看到的",
        f"昨天傍晚在{name}附近的地里看见一只豹子",
        f"I saw it near {' '.join(lazy_pinyin(name))} yesterday",
        f"Near {''.join(lazy_pinyin(name, style=Style.TONE)).title()}, {township} — at dusk",
    ]
    for sentence in sentences:
        match = gaz.lookup(sentence)
        assert match is not None and match.exact, sentence
        assert _is(match.places, name, township), (sentence, [(p.name_zh, p.township) for p in match.places])
        # The township named with it, or no other village than this name's, so no question is needed.
        if sentence.startswith("在"):
            assert len(match.places) == 1


def test_shared_village_name_asks_which_township(gaz: Gazetteer) -> None:
    match = gaz.lookup("新庄村")
    assert match is not None and match.exact
    assert sorted(p.township or "" for p in match.places) == ["义兴镇", "青城镇"]
    match = gaz.lookup("在青城镇新庄村看到的")
    assert match is not None and [p.township for p in match.places] == ["青城镇"]


def test_near_misses_give_did_you_mean(gaz: Gazetteer) -> None:
    misses = (
        ("许材", "许村村"),
        ("徐村", "许村村"),
        ("xucum", "许村村"),
        ("松炯镇", "松烟镇"),
        ("songyen", "松烟镇"),
    )
    for typed, meant in misses:
        match = gaz.lookup(typed)
        assert match is not None and not match.exact, typed
        assert _is(match.places, meant), (typed, match)
    assert gaz.lookup("看到豹子了") is None
    assert gaz.lookup("qwertyuiop") is None


def test_sandbox_map_draws_the_outline_and_the_known_points() -> None:
    """The sandbox's SVG map data is the county outline, and places appear once they
    have a point (here one a staff member would teach; the point is the outline's own centroid)."""
    from bot import locations
    from bot.sandbox.world import map_data

    area = locations.service_area()
    data = map_data()
    assert data["polygons"] == [[[list(pt) for pt in ring] for ring in poly] for poly in area.polygons]
    assert sum(len(ring) for poly in data["polygons"] for ring in poly) > 300  # not a rectangle
    assert {p["id"] for p in data["places"]} == {"yixing"}  # only what has a point
    centre = area.shape.centroid
    try:
        locations.set_learned_points({"140723102220": (centre.y, centre.x)})
        assert {p["id"] for p in map_data()["places"]} == {"yixing", "140723102220"}
    finally:
        locations.set_learned_points({})
