"""End to end: a named place is an answer, staff teach places, the township of a point,
Warn residents by township, /stats by township, posters for spots without a point.

The points staff give places here are test input like a resident's pin, taken from the county's own
outline (bot/data/heshun_county_amap.geojson) so they are surely inside Heshun; no village point is
claimed to be real."""

from __future__ import annotations

import asyncio
import csv
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot import locations
from bot.cli import main as cli_main
from bot.fake_telegram import FakeTelegram
from bot.records import Reporter
from bot.report import Kind, new_draft
from bot.store import Store
from tests.kit import CODE, STAFF_ADMIN, STAFF_GROUP, Person, rows
from tests.test_moderation import VILLAGER, card_for, press, sighting

XUCUN = "140723102220"  # 许村村, 松烟镇 (bot/data/heshun_villages.csv)


def inside_points() -> list[tuple[float, float]]:
    """Points 3 km inside the county's border, spread around it (west first, then eastwards)."""
    area = locations.service_area()
    (_, backward), projected = area._projected
    ring = projected.buffer(-3000).exterior
    coords = [backward.transform(x, y)[::-1] for x, y in ring.coords]
    return sorted(coords, key=lambda p: p[1])


@pytest.fixture(autouse=True)
def forget_taught_points() -> Any:
    """The taught points live in the process (bot.locations); later tests must not inherit them."""
    yield
    locations.set_learned_points({})


@pytest.fixture
def west_east() -> tuple[tuple[float, float], tuple[float, float]]:
    points = inside_points()
    return points[0], points[-1]  # ~75 km apart: nothing of one is near the other


@pytest.fixture
async def bot(running, fake: FakeTelegram):
    fake.add_user(VILLAGER, "Curious Villager")
    fake.add_member(STAFF_GROUP, VILLAGER, "member")
    return await running(languages={"staff": "en"})


async def named_sighting(person: Person, text: str, *, expect: str) -> tuple[str, dict[str, Any]]:
    await person.send("/start")
    await person.tap("I saw a leopard", contains="photos")
    await person.tap("No photo", contains="Where was it")
    saved = await person.send(text, contains=expect)
    receipt = await person.finish_sighting()
    return CODE.search(receipt["text"]).group(0), saved


async def reply_in_group(
    fake: FakeTelegram,
    user: int,
    to: dict[str, Any],
    *,
    text: str | None = None,
    point: tuple[float, float] | None = None,
) -> None:
    if point is not None:
        fake.send_location(user, *point, chat_id=STAFF_GROUP, reply_to_message_id=to["message_id"])
        return
    fake.send_text(user, text or "", chat_id=STAFF_GROUP, reply_to_message_id=to["message_id"])


async def place(fake: FakeTelegram, name: str, point: tuple[float, float]) -> None:
    """Staff: /place NAME, then a pin as the reply to the bot's prompt."""
    seen = fake.messages_in(STAFF_GROUP)[-1]["message_id"] if fake.messages_in(STAFF_GROUP) else 0
    fake.send_text(STAFF_ADMIN, f"/place {name}", chat_id=STAFF_GROUP)
    prompt = await fake.wait_for_message(STAFF_GROUP, contains="[#", after=seen)
    await reply_in_group(fake, STAFF_ADMIN, prompt, point=point)
    await fake.wait_for_message(STAFF_GROUP, contains="now has a point", after=prompt["message_id"])


async def test_named_place_report_end_to_end(fake: FakeTelegram, bot, config, west_east) -> None:
    point = west_east[1]
    first, second, third = (Person(fake, 901 + i, language="en") for i in range(3))
    code1, saved = await named_sighting(first, "在松烟镇许村后山看到的", expect="no exact point")
    assert "reported as 许村村, Songyan Town (松烟镇) — no exact point" in saved["text"]
    review = [t for t in first.texts() if "Please check your report" in t][-1]
    assert "reported as 许村村, Songyan Town (松烟镇) — no exact point" in review
    stored = rows(config.storage.database, "SELECT * FROM reports WHERE ref_code = ?", code1)[0]
    assert stored["latitude"] is None and stored["longitude"] is None  # never an invented point
    assert (stored["place_id"], stored["location_source"]) == (XUCUN, "named_place")
    assert stored["accuracy_m"] == locations.NAMED_PLACE_M
    card = await card_for(fake, code1)
    assert "reported as 许村村, Songyan Town (松烟镇) — no exact point" in card["text"]
    assert "Township: Songyan Town (松烟镇)" in card["text"]
    assert not [c for c in fake.calls if c.method == "sendLocation"]  # no pin for a place without one

    # A second person names the same village (traditional characters, short name): same incident.
    code2, _ = await named_sighting(second, "許村", expect="no exact point")
    card = await card_for(fake, code2, contains="2 reports")
    assert code1 in card["text"]

    # Staff place it: the button asks for a pin; a non-staff reply is refused; staff's reply sets it.
    await press(fake, STAFF_ADMIN, card, "Place it")
    prompt = await fake.wait_for_message(STAFF_GROUP, contains=f"[#{XUCUN}]")
    assert "许村村, Songyan Town (松烟镇)" in prompt["text"]
    await reply_in_group(fake, VILLAGER, prompt, text="37.3, 113.8")  # refused (privately, not here)
    await fake.wait_until_idle()
    assert not [m for m in fake.messages_in(STAFF_GROUP) if "now has a point" in (m.get("text") or "")]
    assert rows(config.storage.database, "SELECT COUNT(*) FROM place_points")[0][0] == 0
    await reply_in_group(fake, STAFF_ADMIN, prompt, text="39.9042, 116.4074")  # Beijing: not in Heshun
    await fake.wait_for_message(STAFF_GROUP, contains="outside Heshun county")
    await reply_in_group(fake, STAFF_ADMIN, prompt, text=f"{point[0]:.5f}, {point[1]:.5f}")
    done = await fake.wait_for_message(STAFF_GROUP, contains="now has a point")
    assert "1 incident updated" in done["text"]
    placed = rows(config.storage.database, "SELECT * FROM reports WHERE ref_code IN (?, ?)", code1, code2)
    assert {(round(r["latitude"], 5), round(r["longitude"], 5)) for r in placed} == {
        (round(point[0], 5), round(point[1], 5))
    }
    audit = rows(config.storage.database, "SELECT staff_id, detail, at FROM audit_log WHERE action = 'place'")
    assert len(audit) == 1 and audit[0]["staff_id"] == STAFF_ADMIN and XUCUN in audit[0]["detail"]
    learned = rows(config.storage.database, "SELECT * FROM place_points")[0]
    assert (learned["place_id"], learned["set_by"], learned["source"]) == (XUCUN, STAFF_ADMIN, "staff")
    card = await card_for(fake, code1, contains=f"{point[0]:.5f}")
    assert "no exact point" not in card["text"] and "Place it" not in str(card["reply_markup"])

    # The next report naming the village is placed there at once, with the village's accuracy.
    code3, saved = await named_sighting(third, "xu cun", expect="Location saved")
    assert f"{point[0]:.5f}, {point[1]:.5f}" in saved["text"]
    stored = rows(config.storage.database, "SELECT * FROM reports WHERE ref_code = ?", code3)[0]
    assert (stored["latitude"], stored["longitude"]) == pytest.approx(point)
    assert (stored["place_id"], stored["location_source"]) == (XUCUN, "place")
    assert stored["accuracy_m"] == locations.APPROXIMATE_PLACE_M
    # ... and grouped with the placed reports by distance, like any pinned report.
    await card_for(fake, code3, contains="3 reports")

    fake.send_text(STAFF_ADMIN, "/places", chat_id=STAFF_GROUP)
    listing = await fake.wait_for_message(STAFF_GROUP, contains="Places with a point")
    assert "许村村" in listing["text"] and "Villages with a point: 1 of 183" in listing["text"]


async def test_shared_name_asks_which_township(fake: FakeTelegram, bot, config) -> None:
    person = Person(fake, 912, language="en")
    await person.send("/start")
    await person.tap("I saw a leopard", contains="photos")
    await person.tap("No photo", contains="Where was it")
    await person.send("新庄村", contains="Several places have that name")
    keyboard = person.fake.messages_in(person.id)[-1]["reply_markup"]["inline_keyboard"]
    labels = [b["text"] for row in keyboard for b in row]
    assert sorted(labels) == ["新庄村 · Qingcheng Town (青城镇)", "新庄村 · Yixing Town (义兴镇)"]
    await person.tap("青城镇", contains="no exact point")
    code = CODE.search((await person.finish_sighting())["text"]).group(0)
    stored = rows(config.storage.database, "SELECT place_id FROM reports WHERE ref_code = ?", code)[0]
    assert stored["place_id"] == "140723103202"  # 新庄村 of 青城镇, not the one of 义兴镇


async def test_staff_reply_to_a_named_place_card_with_a_pin(
    fake: FakeTelegram, bot, config, west_east
) -> None:
    person = Person(fake, 913, language="en")
    code, _ = await named_sighting(person, "我在牛川村附近看见的", expect="no exact point")
    card = await card_for(fake, code)
    await reply_in_group(fake, STAFF_ADMIN, card, text="what a day")  # talk, not a point: ignored
    await reply_in_group(fake, STAFF_ADMIN, card, point=west_east[0])
    await fake.wait_for_message(STAFF_GROUP, contains="牛川村")
    await fake.wait_for_message(STAFF_GROUP, contains="now has a point")
    stored = rows(config.storage.database,
                  "SELECT latitude, place_id FROM reports WHERE ref_code = ?", code)[0]
    assert stored["latitude"] == pytest.approx(west_east[0][0])
    assert not [m for m in fake.messages_in(STAFF_GROUP) if "I need a point" in (m.get("text") or "")]


async def test_township_of_a_point_warn_residents_and_stats(
    fake: FakeTelegram, bot, config, west_east
) -> None:
    """Warn residents reaches only the right township's subscriber; unknown: staff choose; /stats."""
    west, east = west_east
    songyan_fan, liyang_fan, reporter = (Person(fake, 920 + i, language="en") for i in range(3))
    for person, town in ((songyan_fan, "Songyan"), (liyang_fan, "Liyang")):
        await person.send("/alerts", contains="township")
        keyboard = person.fake.messages_in(person.id)[-1]["reply_markup"]["inline_keyboard"]
        buttons = [b["text"] for row in keyboard for b in row]
        assert len(buttons) == 8  # all eight townships, whether or not they have a point
        message, data = person.button(town)
        fake.press_button(person.id, message, data)
    await fake.wait_until_idle()

    # Staff place a village of 松烟镇 (east) and one of 李阳镇 (west).
    await place(fake, "许村", east)
    liyang_village = next(p for p in locations.gazetteer() if p.kind == "village" and p.township == "李阳镇")
    await place(fake, liyang_village.name_zh, west)

    # A pin near the 松烟镇 village: that township's subscriber is warned, not the other.
    code = await sighting(reporter, east[0] + 0.005, east[1], photo=None)
    card = await card_for(fake, code)
    assert "Township: Songyan Town (松烟镇)" in card["text"]
    await press(fake, STAFF_ADMIN, card, "Verify")
    card = await card_for(fake, code, contains="Verified by")
    await press(fake, STAFF_ADMIN, card, "Warn residents")  # the preview first (nothing public on one tap)
    card = await card_for(fake, code, contains="Warning for")
    assert "Songyan Town (松烟镇)" in card["text"].split("Warning for")[1]
    answer = await press(fake, STAFF_ADMIN, card, "Send the warning")
    assert answer.get("text") == "Warning sent to 1 person."
    warning = await fake.wait_for_message(songyan_fan.id, contains="松烟镇")
    assert not re.search(r"\d+\.\d+", warning["text"])
    await fake.wait_until_idle()
    assert not [m for m in fake.messages_in(liyang_fan.id) if "⚠️" in (m.get("text") or "")]

    # A pin far from every located place: "township unknown"; Warn residents asks staff to choose.
    middle = inside_points()[len(inside_points()) // 2]
    code2 = await sighting(reporter, *middle, photo=None)
    card2 = await card_for(fake, code2)
    assert "township unknown" in card2["text"]
    await press(fake, STAFF_ADMIN, card2, "Verify")
    card2 = await card_for(fake, code2, contains="Verified by")
    answer = await press(fake, STAFF_ADMIN, card2, "Warn residents")
    assert "choose the township" in answer.get("text", "")
    card2 = await card_for(fake, code2)
    assert sum("📢" in b["text"] for row in card2["reply_markup"]["inline_keyboard"] for b in row) == 8
    await press(fake, STAFF_ADMIN, card2, "Liyang")
    card2 = await card_for(fake, code2, contains="Warning for")
    assert "Liyang Town (李阳镇)" in card2["text"].split("Warning for")[1]
    answer = await press(fake, STAFF_ADMIN, card2, "Send the warning")
    assert answer.get("text") == "Warning sent to 1 person."
    await fake.wait_for_message(liyang_fan.id, contains="李阳镇")

    # /stats by township, from the same rule.
    await sighting(Person(fake, 930, language="en"), east[0], east[1] + 0.004, photo=None)
    fake.send_text(STAFF_ADMIN, "/stats", chat_id=STAFF_GROUP)
    stats = await fake.wait_for_message(STAFF_GROUP, contains="Last 7 days")
    assert "Songyan Town (松烟镇): 2" in stats["text"]
    assert "township unknown: 1" in stats["text"]


async def test_poster_for_a_spot_without_a_point(fake: FakeTelegram, bot, config) -> None:
    """云龙山 has no known point: the deep link still offers "I am at", stored as a named place."""
    tourist = Person(fake, 940, language="en")
    await tourist.send("/start spot_yunlongshan", contains="Leopard Watch")
    await tourist.tap("I saw a leopard", contains="photos")
    await tourist.tap("No photo", contains="Where was it")
    await tourist.tap("I am at", contains="no exact point")
    code = CODE.search((await tourist.finish_sighting())["text"]).group(0)
    stored = rows(config.storage.database,
                  "SELECT latitude, place_id FROM reports WHERE ref_code = ?", code)[0]
    assert stored["latitude"] is None and stored["place_id"] == "yunlongshan"


def _toml(tmp_path: Path, name: str) -> Path:
    toml = tmp_path / f"{name}.toml"
    toml.write_text(
        f'[telegram]\nmoderation_chat_id = {STAFF_GROUP}\n[storage]\ndatabase = "{name}.sqlite3"\n',
        encoding="utf-8",
    )
    return toml


async def test_import_and_export_places_between_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, west_east, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bureau's own list into one server, its export into another: same points, audited, and a
    report that named the village on the second server placed by the import."""
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    west, east = west_east
    bureau = tmp_path / "bureau.csv"
    bureau.write_text(
        "name_zh,township,latitude,longitude\n"
        f"许村村,松烟镇,{east[0]},{east[1]}\n"
        f"新庄村,青城镇,{west[0]},{west[1]}\n"
        "新庄村,,37.3,113.5\n"  # shared name without its township: which one? skipped
        "牛川村,,39.9042,116.4074\n"  # Beijing: outside Heshun, skipped
        "不存在村,,37.3,113.5\n",
        encoding="utf-8",
    )
    first, second = _toml(tmp_path, "first"), _toml(tmp_path, "second")
    command = ["import-places", "-c", str(first), "--points", str(bureau)]
    assert await asyncio.to_thread(cli_main, command) == 0
    err = capsys.readouterr().err
    assert "2 places given a point, 3 skipped" in err and "outside Heshun county" in err
    exported = tmp_path / "places.csv"
    assert await asyncio.to_thread(cli_main, ["export-places", "-c", str(first), "-o", str(exported)]) == 0
    with exported.open(encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert {(r["place_id"], r["name_zh"], r["township"]) for r in table} == {
        (XUCUN, "许村村", "松烟镇"), ("140723103202", "新庄村", "青城镇")
    }
    assert all(r["source"].startswith("import:bureau.csv") and r["set_by"] == "" for r in table)

    # The second server had a report naming 许村 without a point; importing the export places it.
    store = await Store.open(tmp_path / "second.sqlite3")
    try:
        draft = new_draft(Kind.SIGHTING, datetime.now(ZoneInfo("Asia/Shanghai")), "en")
        draft.update(photos_done=True, observed_at=draft["started_at"], location=locations.from_place(
            locations.gazetteer().get(XUCUN)).as_dict())
        reporter = Reporter(user_id=5, name="x", username=None, language="en", notify=True)
        done = await store.submit_report(draft, reporter, [], datetime.now(ZoneInfo("Asia/Shanghai")),
                                         lambda row, outcome: [])
    finally:
        await store.close()
    command = ["import-places", "--config", str(second), "--points", str(exported)]
    assert await asyncio.to_thread(cli_main, command) == 0
    placed = rows(tmp_path / "second.sqlite3", "SELECT latitude, longitude FROM reports WHERE ref_code = ?",
                  done.ref_code)[0]
    assert (placed["latitude"], placed["longitude"]) == pytest.approx(east, abs=1e-6)
    audit = rows(tmp_path / "second.sqlite3", "SELECT action, staff_id FROM audit_log")
    assert [tuple(a) for a in audit] == [("place", None), ("place", None)]


async def test_a_point_outside_heshun_is_flagged_on_review_and_card(fake: FakeTelegram, bot, config) -> None:
    from bot.geo import jinzhong_counties

    zuoquan = next(c for c in jinzhong_counties() if c.name_zh == "左权县").shape.representative_point()
    person = Person(fake, 950, language="en")
    await person.send("/start")
    await person.tap("I saw a leopard", contains="photos")
    await person.tap("No photo", contains="Where was it")
    await person.send_location(zuoquan.y, zuoquan.x, accuracy=20, contains="When did you see it")
    await person.tap("Just now", contains="How many")
    for label in ("1", "Not sure", "Resting"):
        await person.tap(label)
    review = await person.tap("Over 1 km", contains="Please check your report")
    assert re.search(r"⚠️ outside Heshun — in 左权县, [\d.]+ km from the border", review["text"])
    receipt = await person.tap("Send report", contains="Reference code")
    card = await card_for(fake, CODE.search(receipt["text"]).group(0))
    assert re.search(r"⚠️ outside Heshun — in 左权县, [\d.]+ km from the border", card["text"])
    assert "township unknown" in card["text"]  # outside the county: no township of Heshun
    # 1 km inside the border: no flag.
    inner = inside_points()[0]
    near_border = await sighting(Person(fake, 951, language="en"), *inner, photo=None)
    card = await card_for(fake, near_border)
    assert "outside Heshun" not in card["text"]


async def test_public_destinations_see_the_township_at_most(fake: FakeTelegram, running, config) -> None:
    from bot.config import Destination
    from tests.test_moderation import PUBLIC, RESEARCHERS

    fake.add_channel(RESEARCHERS, "Researchers")
    fake.add_channel(PUBLIC, "Heshun leopards (public)")
    await running(destinations=(
        Destination("researchers", RESEARCHERS, frozenset({"sighting"}), trusted=True),
        Destination("public", PUBLIC, frozenset({"sighting"}), trusted=False),
    ), languages={"staff": "en"})
    code, _ = await named_sighting(Person(fake, 960, language="en"), "许村", expect="no exact point")
    card = await card_for(fake, code)
    await press(fake, STAFF_ADMIN, card, "Verify")
    public = await fake.wait_for_message(PUBLIC, contains="verified")
    assert "Area: Songyan Town (松烟镇)" in public["text"] and "许村" not in public["text"]
    trusted = await fake.wait_for_message(RESEARCHERS, contains=code)
    assert "许村村" in trusted["text"]  # a trusted destination sees the village
    await fake.wait_until_idle()
    assert not [c for c in fake.calls if c.method == "sendLocation"]  # there is no point to send
