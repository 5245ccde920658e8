"""Gazetteer search/nearest/import, and the optional Nominatim geocoder against a local fake server."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.gazetteer import (
    KINDS,
    Gazetteer,
    Place,
    import_geonames,
    import_main,
    import_osm_geojson,
    normalize_name,
    read_csv,
    write_csv,
)
from bot.geocoder import Geocoder, GeocoderConfig, GeocodeResult, geocode

# --- bundled data ----------------------------------------------------------------------------------


def test_default_gazetteer_contents() -> None:
    gaz = Gazetteer.default()
    names = {p.name_zh for p in gaz}
    # The current towns and townships (admin codes 140723100-140723203).
    assert {"义兴镇", "李阳镇", "松烟镇", "青城镇", "横岭镇", "喂马乡", "平松乡", "马坊乡"} <= names
    seat = gaz.get("yixing")
    assert seat is not None and seat.kind == "county_seat" and seat.approximate
    assert seat.point == (37.33, 113.56)
    for place in gaz:
        assert place.kind in KINDS
        assert place.approximate  # nothing in the bundled file claims precision
        if place.latitude is not None and place.longitude is not None:
            # rounded to 0.01° — no invented precision
            assert round(place.latitude, 2) == place.latitude and round(place.longitude, 2) == place.longitude


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("义兴镇", "yixing"),
        ("义兴", "yixing"),
        ("yixing", "yixing"),
        ("Yi Xing", "yixing"),
        ("Yìxīng", "yixing"),
        ("YIXING", "yixing"),
        ("Yixing Town", "yixing"),
        ("yixing zhen", "yixing"),
        ("和顺县", "yixing"),
        ("和顺", "yixing"),
        ("Heshun County", "yixing"),
        ("县城", "yixing"),
        ("ｙｉｘｉｎｇ", "yixing"),
        ("松烟", "songyan"),
        ("Sōngyān", "songyan"),
        ("song yan", "songyan"),
        ("喂马", "weima"),
        ("Weima Township", "weima"),
        ("weimaxiang", "weima"),
        ("横岭镇", "hengling"),
        ("牛郎织女", "niulangyu"),
        ("牛郎峪", "niulangyu"),
        ("云龙山", "yunlongshan"),
        ("Yunlong", "yunlongshan"),
    ],
)
def test_search_first_hit(query: str, expected: str) -> None:
    hits = Gazetteer.default().search(query)
    assert hits and hits[0].id == expected, [h.id for h in hits]


def test_search_ranking_and_misses() -> None:
    gaz = Gazetteer(
        [
            Place("a", "李家村", "Lijia Village", "Lǐjiā", "village", 37.1, 113.1),
            Place("b", "李阳镇", "Liyang Town", "Lǐyáng", "town", 37.2, 113.2),
            Place("c", "大李阳村", "Daliyang", "Dàlǐyáng", "village", 37.3, 113.3),
        ]
    )
    assert [p.id for p in gaz.search("李阳")] == ["b", "c"]  # exact before substring
    assert [p.id for p in gaz.search("李")] == ["b", "a", "c"]  # prefix tier: town before village
    assert [p.id for p in gaz.search("li")] == ["b", "a", "c"]  # pinyin prefixes, then "daliyang" (substring)
    assert gaz.search("l") == []  # ...and single Latin letters never match partially
    assert gaz.search("") == [] and gaz.search("   ") == [] and gaz.search("zzz") == []
    assert len(gaz.search("李", limit=1)) == 1


def test_normalize_name() -> None:
    assert normalize_name("Yìxīng") == "yixing"
    assert normalize_name(" Yi-Xing ") == "yixing"
    assert normalize_name("Lǜ") == "lu"
    assert normalize_name("义兴 镇") == "义兴镇"


def test_nearest_skips_unlocated_and_respects_max_km() -> None:
    gaz = Gazetteer.default()
    found = gaz.nearest(37.35, 113.60)
    assert found is not None
    place, dist = found
    assert place.id == "yixing" and 3000 < dist < 5000
    assert gaz.nearest(37.87, 112.55, max_km=20) is None  # Taiyuan
    assert Gazetteer([Place("x", "某村", "", "", "village", None, None)]).nearest(37.3, 113.5) is None
    assert gaz.nearest(37.35, 113.60, kinds=("trailhead",)) is None


def test_place_validation() -> None:
    with pytest.raises(ValueError):
        Place("x", "某", "", "", "mountain", 37.0, 113.0)
    with pytest.raises(ValueError):
        Place("x", "某", "", "", "village", 37.0, None)
    with pytest.raises(ValueError):
        Place("x", "某", "", "", "village", 95.0, 113.0)
    with pytest.raises(ValueError):
        Gazetteer(
            [Place("x", "a", "", "", "village", None, None), Place("x", "b", "", "", "village", None, None)]
        )


def test_csv_round_trip(tmp_path: Path) -> None:
    places = list(Gazetteer.default())
    buf = io.StringIO()
    write_csv(places, buf)
    assert buf.getvalue().startswith("#")
    assert read_csv(io.StringIO(buf.getvalue())) == places
    path = tmp_path / "g.csv"
    write_csv(places, path)
    assert list(Gazetteer.load(path)) == places


def test_load_geojson(tmp_path: Path) -> None:
    path = tmp_path / "g.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [113.6, 37.4]},
                        "properties": {
                            "id": "th1",
                            "name": "测试步道口",
                            "name:en": "Test Trailhead",
                            "kind": "trailhead",
                            "aliases": "步道|trail",
                            "approximate": True,
                        },
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    gaz = Gazetteer.load(path)
    (place,) = list(gaz)
    assert (place.id, place.kind, place.point, place.aliases) == (
        "th1",
        "trailhead",
        (37.4, 113.6),
        ("步道", "trail"),
    )
    assert gaz.search("trail")[0].id == "th1"


# --- importers -------------------------------------------------------------------------------------


def _gn(*cols: str) -> str:
    row = list(cols) + [""] * (19 - len(cols))
    return "\t".join(row) + "\n"


GEONAMES_SAMPLE = [
    # geonameid, name, asciiname, alternatenames, lat, lon, class, code, cc, cc2, admin1
    _gn(
        "1", "Heshun", "Heshun", "Ho-shun,和顺,义兴镇", "37.32911", "113.56405", "P", "PPLA3", "CN", "", "24"
    ),
    _gn("2", "Songyan", "Songyan", "松烟,松烟镇", "37.30", "113.80", "P", "PPLA4", "CN", "", "24"),
    _gn("3", "Xucun", "Xucun", "许村", "37.25", "113.40", "P", "PPL", "CN", "", "24"),
    _gn("4", "Yunlong Shan", "Yunlong Shan", "云龙山", "37.36", "113.52", "T", "MT", "CN", "", "24"),
    _gn("5", "Taiyuan", "Taiyuan", "太原", "37.87", "112.55", "P", "PPLA", "CN", "", "24"),  # outside bbox
    _gn("6", "Somewhere", "Somewhere", "", "37.30", "113.50", "H", "STM", "CN", "", "24"),  # stream: skipped
    _gn("7", "Old", "Old", "", "37.30", "113.50", "P", "PPLH", "CN", "", "24"),  # historical: skipped
    _gn("8", "Xingtai edge", "Xingtai edge", "", "37.30", "113.99", "P", "PPL", "CN", "", "04"),  # Hebei
    "# a comment line\n",
    "garbage line\n",
]


def test_import_geonames() -> None:
    places = import_geonames(GEONAMES_SAMPLE)
    by_id = {p.id: p for p in places}
    assert set(by_id) == {"geonames-1", "geonames-2", "geonames-3", "geonames-4", "geonames-8"}
    seat = by_id["geonames-1"]
    assert (seat.kind, seat.name_zh, seat.name_en, seat.approximate) == (
        "county_seat",
        "和顺",
        "Heshun",
        True,
    )
    assert "义兴镇" in seat.aliases and "Ho-shun" in seat.aliases
    assert by_id["geonames-2"].kind == "town"
    assert by_id["geonames-3"].kind == "village"
    assert by_id["geonames-4"].kind == "scenic_spot"
    assert {p.id for p in import_geonames(GEONAMES_SAMPLE, admin1="24")} == {
        "geonames-1",
        "geonames-2",
        "geonames-3",
        "geonames-4",
    }
    assert Gazetteer(places).search("许村")[0].id == "geonames-3"


OSM_SAMPLE: dict[str, Any] = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": "node/101",
            "geometry": {"type": "Point", "coordinates": [113.41, 37.26]},
            "properties": {"name": "许村", "name:en": "Xucun", "place": "village"},
        },
        {
            "type": "Feature",
            "id": "node/102",
            "geometry": {"type": "Point", "coordinates": [113.70, 37.45]},
            "properties": {"name": "天河梁", "tourism": "viewpoint", "name:zh-Latn-pinyin": "Tiānhéliáng"},
        },
        {
            "type": "Feature",
            "id": "node/103",
            "geometry": {"type": "Point", "coordinates": [113.65, 37.35]},
            "properties": {"name": "Trail start", "highway": "trailhead"},
        },
        {
            "type": "Feature",
            "id": "way/104",
            "geometry": {"type": "LineString", "coordinates": [[113.6, 37.3], [113.7, 37.4]]},
            "properties": {"name": "某路", "highway": "track"},
        },
        {
            "type": "Feature",
            "id": "node/105",
            "geometry": {"type": "Point", "coordinates": [113.60, 37.30]},
            "properties": {"name": "某商店", "shop": "convenience"},
        },
        {
            "type": "Feature",
            "id": "node/106",
            "geometry": {"type": "Point", "coordinates": [112.55, 37.87]},
            "properties": {"name": "太原", "place": "city"},
        },
    ],
}


def test_import_osm_geojson() -> None:
    places = import_osm_geojson(OSM_SAMPLE)
    by_id = {p.id: p for p in places}
    assert set(by_id) == {"osm-node-101", "osm-node-102", "osm-node-103"}
    assert by_id["osm-node-101"].kind == "village" and not by_id["osm-node-101"].approximate
    assert by_id["osm-node-102"].kind == "scenic_spot"
    assert by_id["osm-node-103"].kind == "trailhead"
    assert Gazetteer(places).search("tianheliang")[0].id == "osm-node-102"


def test_import_main_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gn = tmp_path / "CN.txt"
    gn.write_text("".join(GEONAMES_SAMPLE), encoding="utf-8")
    osm = tmp_path / "heshun.geojson"
    osm.write_text(json.dumps(OSM_SAMPLE), encoding="utf-8")
    out = tmp_path / "out.csv"
    assert import_main(["--geonames", str(gn), "--osm", str(osm), "-o", str(out)]) == 0
    gaz = Gazetteer.load(out)
    ids = {p.id for p in gaz}
    # Bundled rows first; OSM 许村 wins over the GeoNames 许村 (same name within 2 km).
    assert {"yixing", "songyan", "osm-node-101", "osm-node-102", "geonames-4"} <= ids
    assert "geonames-3" not in ids
    assert "imported" not in capsys.readouterr().out
    # Without the bundled rows, --bbox filters everything out here.
    assert import_main(["--no-default", "--osm", str(osm), "--bbox", "0,0,1,1", "-o", str(out)]) == 0
    assert len(Gazetteer.load(out)) == 0
    assert import_main(["--osm", str(tmp_path / "missing.geojson"), "-o", str(out)]) == 1
    assert import_main(["--bbox", "1,2,3", "-o", str(out)]) == 2
    assert import_main([]) == 2


# --- optional Nominatim geocoder ---------------------------------------------------------------------

NOMINATIM_ANSWER = [
    {
        "place_id": 123,
        "licence": "Data © OpenStreetMap contributors, ODbL 1.0. https://osm.org/copyright",
        "osm_type": "node",
        "osm_id": 456,
        "lat": "37.3291",
        "lon": "113.5641",
        "class": "place",
        "type": "town",
        "place_rank": 16,
        "importance": 0.41,
        "addresstype": "town",
        "name": "义兴镇",
        "display_name": "义兴镇, 和顺县, 晋中市, 山西省, 中国",
        "boundingbox": ["37.30", "37.35", "113.54", "113.59"],
    }
]


class FakeNominatim:
    def __init__(self) -> None:
        self.requests: list[tuple[float, dict[str, str], dict[str, str]]] = []
        self.mode = "ok"

    async def search(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((time.monotonic(), dict(request.query), dict(request.headers)))
        if self.mode == "error":
            return web.Response(status=500, text="boom")
        if self.mode == "slow":
            await asyncio.sleep(2)
        if self.mode == "empty":
            return web.json_response([])
        return web.json_response(NOMINATIM_ANSWER)


@pytest.fixture
async def fake_nominatim() -> AsyncIterator[tuple[FakeNominatim, Callable[..., GeocoderConfig]]]:
    fake = FakeNominatim()
    app = web.Application()
    app.router.add_get("/search", fake.search)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]

    def config(**overrides: Any) -> GeocoderConfig:
        base: dict[str, Any] = {
            "enabled": True,
            "domain": f"127.0.0.1:{port}",
            "scheme": "http",
            "user_agent": "leopard-watch-tests/1.0",
            "timeout_s": 1.0,
            "min_delay_s": 0.0,
        }
        base.update(overrides)
        return GeocoderConfig(**base)

    try:
        yield fake, config
    finally:
        await runner.cleanup()


async def test_geocoder_parses_nominatim_json(fake_nominatim: tuple[FakeNominatim, Any]) -> None:
    fake, config = fake_nominatim
    async with Geocoder(config()) as geocoder:
        results = await geocoder.geocode("义兴镇")
    assert results == [
        GeocodeResult(
            name="义兴镇",
            latitude=37.3291,
            longitude=113.5641,
            display_name="义兴镇, 和顺县, 晋中市, 山西省, 中国",
            osm_type="node",
            osm_id="456",
            category="place:town",
            importance=0.41,
        )
    ]
    (_, query, headers) = fake.requests[0]
    assert query["q"] == "义兴镇"
    assert query["format"] == "json"
    assert query["countrycodes"] == "cn"
    assert "viewbox" in query
    assert headers["User-Agent"] == "leopard-watch-tests/1.0"


async def test_geocoder_returns_empty_list_on_errors(fake_nominatim: tuple[FakeNominatim, Any]) -> None:
    fake, config = fake_nominatim
    async with Geocoder(config(timeout_s=0.3)) as geocoder:
        fake.mode = "error"
        assert await geocoder.geocode("义兴镇") == []
        fake.mode = "empty"
        assert await geocoder.geocode("义兴镇") == []
        fake.mode = "slow"
        started = time.monotonic()
        assert await geocoder.geocode("义兴镇") == []
        assert time.monotonic() - started < 1.9
        assert await geocoder.geocode("") == []
    # Nothing listening: connection refused → [].
    async with Geocoder(config(domain="127.0.0.1:9", timeout_s=0.5)) as geocoder:
        assert await geocoder.geocode("义兴镇") == []


async def test_geocoder_off_by_default() -> None:
    assert GeocoderConfig().enabled is False
    async with Geocoder() as geocoder:
        assert await geocoder.geocode("义兴镇") == []
    assert await geocode("义兴镇") == []


async def test_geocoder_rate_limit_spaces_calls(fake_nominatim: tuple[FakeNominatim, Any]) -> None:
    fake, config = fake_nominatim
    async with Geocoder(config(min_delay_s=1.0)) as geocoder:
        first, second = await asyncio.gather(geocoder.geocode("义兴镇"), geocoder.geocode("松烟镇"))
    assert first and second
    (t1, _, _), (t2, _, _) = fake.requests
    assert t2 - t1 >= 0.95
