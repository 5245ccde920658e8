"""Tipsters stay hidden, the attacks: link an anonymous tip to the Telegram account that sent it.

* Copy the data folder (database, -wal, -shm) after a tip and search its raw bytes for the tipster's
  id — as decimal text and as SQLite stores integers (big-endian 6 and 8 bytes in a record, a varint
  as a rowid) — and for their name and username. Every count must be 0.
* Read the logs, at INFO and at DEBUG, of the real command line (`leopard-watch run`) during a tip:
  no id, name or username of the tipster; no bot token; libraries stay at WARNING.
* Look at what a tip keeps: no language, no poster spot, no second of a time; photos only as
  metadata-free copies (staff's "Original photos" too), their facts as text on the card.
* Tip drafts are never written to the database (non-tip drafts still are, for crash safety) and
  expire, with their photo files.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import signal
from collections.abc import Iterator
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot import logs
from bot.fake_telegram import FakeTelegram
from tests.kit import STAFF_ADMIN, STAFF_GROUP, Person, make_jpeg, rows
from tests.test_web import an_hour_ago, ref_code, tipline, web_config  # noqa: F401 - fixtures

TIPSTER_ID = 6_123_456_789  # a realistic id: above 2**32, so SQLite stores it in 6 bytes
TIPSTER_NAME = "Wangtipster Zhenming"
TIPSTER_USERNAME = "wangtip_2026"
SERIAL = "SN-4471-XQZ-0099"
OWNER = "Owner Liu Camera"
MODEL = "PhoneModel-ZX9"


def varint(value: int) -> bytes:
    """SQLite's varint (big-endian base 128, high bit = more), as a rowid is stored in a b-tree cell."""
    if value < 0x80:
        return bytes([value])
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def needles(user_id: int) -> dict[str, bytes]:
    """Every way the id can sit in a SQLite file (and a little-endian one for good measure)."""
    return {
        "decimal text": str(user_id).encode(),
        "6-byte big-endian integer": user_id.to_bytes(6, "big"),
        "8-byte big-endian integer": user_id.to_bytes(8, "big"),
        "8-byte little-endian integer": user_id.to_bytes(8, "little"),
        "varint (rowid)": varint(user_id),
        "name": TIPSTER_NAME.encode(),
        "username": TIPSTER_USERNAME.encode(),
    }


def data_folder_occurrences(database: Path, user_id: int) -> dict[str, int]:
    """Occurrences of each encoding of `user_id` (and the name) in database, -wal and -shm."""
    counts: dict[str, int] = {}
    for suffix in ("", "-wal", "-shm"):
        path = database.with_name(database.name + suffix)
        data = path.read_bytes() if path.exists() else b""
        for what, needle in needles(user_id).items():
            counts[f"{suffix or 'db'}: {what}"] = data.count(needle)
    return counts


def camera_photo() -> bytes:
    """A phone's original JPEG with everything a camera writes about its owner and itself."""

    def dms(value: float) -> tuple[Fraction, Fraction, Fraction]:
        degrees = int(value)
        minutes = int((value - degrees) * 60)
        seconds = Fraction(round(((value - degrees) * 60 - minutes) * 60 * 100), 100)
        return Fraction(degrees), Fraction(minutes), seconds

    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = MODEL  # Model
    exif[0x8825] = {1: "N", 2: dms(37.3503), 3: "E", 4: dms(113.6005)}
    taken = (datetime.now() - timedelta(hours=2)).strftime("%Y:%m:%d %H:%M:%S")
    exif[0x8769] = {0x9003: taken, 0x9011: "+08:00", 0xA430: OWNER, 0xA431: SERIAL}
    out = io.BytesIO()
    Image.open(io.BytesIO(make_jpeg(seed=31))).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def tipster(fake: FakeTelegram) -> Person:
    return Person(fake, TIPSTER_ID, TIPSTER_NAME, language="en", username=TIPSTER_USERNAME)


async def send_tip(person: Person, *, poster: bool = True, photo: bool = True) -> dict[str, Any]:
    if poster:  # came through a poster's QR code: the spot must not be stored with a tip
        await person.send("/start spot_yixing", contains="Leopard Watch")
    else:
        await person.send("/start", contains="Leopard Watch")
    await person.tap("Snares, poison", contains="photo")
    if photo:
        await person.send_file(camera_photo(), "IMG_0001.jpg", "image/jpeg", contains="Got 1 photo")
        await person.tap("Done", contains="Where was it")
    else:
        await person.tap("No photo", contains="Where was it")
    await person.send_location(37.3301, 113.5702, accuracy=15, contains="When did you see it")
    await person.tap("Just now", contains="What did you see")
    await person.tap("Snares", contains="Tell us more")
    await person.send("wire snares along the gully", contains="Do you want to hear")
    await person.tap("Stay anonymous", contains="Please check your report")
    return await person.tap("Send report", contains="Reference code")


async def drained(database: Path) -> None:
    for _ in range(300):
        if not rows(database, "SELECT 1 FROM outbox WHERE status = 'pending'"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the outbox did not drain")


# --- the data folder -------------------------------------------------------------------------------


async def test_the_data_folder_holds_no_trace_of_the_tipster(
    fake: FakeTelegram, running: Any, config: Any
) -> None:
    await running(languages={"staff": "en"})
    person = tipster(fake)
    receipt = await send_tip(person)
    code = re.search(r"HS-\S+", receipt["text"]).group(0)  # type: ignore[union-attr]
    await drained(config.storage.database)
    # Staff look at the evidence: the "Original photos" of a tip are the stripped copy.
    from tests.test_moderation import card_for, press

    card = await card_for(fake, code)
    assert "camera position 37.35030, 113.60050" in card["text"] and "taken " in card["text"]
    await press(fake, STAFF_ADMIN, card, "Original photos")
    await fake.wait_for_call(
        "sendDocument", predicate=lambda c: str(c.params.get("chat_id")) == str(STAFF_GROUP)
    )
    await drained(config.storage.database)

    occurrences = data_folder_occurrences(config.storage.database, TIPSTER_ID)
    print("tipster-id occurrences in the data folder:", json.dumps(occurrences))
    assert sum(occurrences.values()) == 0, occurrences
    # The scan finds what it looks for: a sighting's reporter (not anonymous) is stored as a 6-byte
    # integer (reports.reporter_id) and as text ('tg:<id>' keys, the user_data of their draft).
    from tests.kit import sighting

    villager = Person(fake, TIPSTER_ID + 1, "Villager", language="en")
    await sighting(villager, 37.05, 113.25, photo=None)
    await drained(config.storage.database)
    control = data_folder_occurrences(config.storage.database, TIPSTER_ID + 1)
    assert control["db: 6-byte big-endian integer"] + control["-wal: 6-byte big-endian integer"] > 0, control
    assert control["db: decimal text"] + control["-wal: decimal text"] > 0, control
    assert sum(data_folder_occurrences(config.storage.database, TIPSTER_ID).values()) == 0

    # What the tip keeps: no language (the default), no poster spot, no second of a time.
    tip = rows(config.storage.database, "SELECT * FROM reports WHERE kind = 'tip'")[0]
    assert tip["reporter_id"] is None and tip["language"] == config.languages.default == "zh_Hans"
    details = json.loads(tip["details"])
    assert "spot" not in details and "yixing" not in json.dumps(details)
    for column in ("submitted_at", "observed_at"):
        moment = datetime.fromisoformat(tip[column])
        assert (moment.second, moment.microsecond) == (0, 0), column
    incident = rows(config.storage.database, "SELECT * FROM incidents WHERE id = ?", tip["incident_id"])[0]
    assert datetime.fromisoformat(incident["created_at"]).second == 0
    # Photos: the stripped copy only, under its own hash, without Telegram's file id.
    photo = rows(config.storage.database, "SELECT * FROM photos WHERE report_id = ?", tip["id"])[0]
    assert photo["original_path"] == photo["derived_path"] and photo["file_id"] == ""
    media = [f for f in config.storage.media_dir.rglob("*") if f.is_file()]
    assert media and not any(f.parent.name == "originals" for f in media)
    for f in media:
        data = f.read_bytes()
        for secret in (SERIAL, OWNER, MODEL, "PhoneMaker"):
            assert secret.encode() not in data, (f, secret)
    uploads = list(fake_uploads(fake))
    assert len(uploads) >= 2  # the card's album and the "Original photos" document
    for blob in uploads:
        for secret in (SERIAL, OWNER, MODEL):
            assert secret.encode() not in blob


def fake_uploads(fake: FakeTelegram) -> Iterator[bytes]:
    """Every file the bot uploaded to the fake Bot API (photos, documents)."""
    for call in fake.calls:
        if not call.ok or call.method not in ("sendPhoto", "sendDocument", "sendMediaGroup"):
            continue
        for message in (call.result if isinstance(call.result, list) else [call.result]):
            for key in ("photo", "document"):
                item = (message or {}).get(key)
                if isinstance(item, list) and item:
                    item = item[-1]
                if isinstance(item, dict) and item.get("file_id"):
                    yield fake.download(item["file_id"])


# --- drafts -----------------------------------------------------------------------------------------


async def test_tip_drafts_stay_in_memory_and_expire_with_their_photos(
    fake: FakeTelegram, running: Any, config: Any
) -> None:
    await running(reports={"draft_timeout_minutes": 1 / 60, "tip_draft_expiry_hours": 3 / 3600})
    person = tipster(fake)
    await person.send("/start", contains="Leopard Watch")
    await person.tap("Snares, poison", contains="photo")
    await person.send_file(camera_photo(), "IMG_0002.jpg", "image/jpeg", contains="Got 1 photo")
    files = [f for f in config.storage.media_dir.rglob("*") if f.is_file()]
    assert files and not any(f.parent.name == "originals" for f in files)  # only stripped copies
    # A sighting's draft, by someone else, is written as before: it survives a crash.
    villager = Person(fake, 7_401_000_001, "Villager", language="en")
    await villager.send("/start", contains="Leopard Watch")
    await villager.tap("I saw a leopard", contains="photos")
    for _ in range(100):
        saved = rows(config.storage.database, "SELECT user_id, data FROM user_data")
        if saved:
            break
        await asyncio.sleep(0.05)
    assert [r["user_id"] for r in saved] == [villager.id] and json.loads(saved[0]["data"])["draft"]
    assert sum(data_folder_occurrences(config.storage.database, TIPSTER_ID).values()) == 0

    expired = await fake.wait_for_message(person.id, contains="has been deleted", timeout=20)
    assert "after 1 hour," in expired["text"]  # the configured expiry (rounded up to an hour), not 24
    assert not any(f.exists() for f in files)
    menu = await person.send("/start", contains="Leopard Watch")
    assert "not sent yet" not in menu["text"]
    await drained(config.storage.database)  # the notice went out and was scrubbed
    assert sum(data_folder_occurrences(config.storage.database, TIPSTER_ID).values()) == 0


# --- logs -------------------------------------------------------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in (*logs.OWN_LOGGERS, *logs.QUIET_LOGGERS)}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)


def test_log_lines_and_tracebacks_are_redacted(
    restore_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "123456789:AAF-secretsecretsecretsecretsecret_xyz"
    monkeypatch.setenv("BOT_TOKEN", token)
    monkeypatch.setenv("LEOPARD_WATCH_SECRET", "a-long-server-secret-0123456789")
    out = io.StringIO()
    logs.configure_logging("DEBUG", out)
    assert logging.getLogger("handlers.report").isEnabledFor(logging.DEBUG)
    for library in ("telegram", "telegram.ext", "httpx", "aiosqlite", "apscheduler", "aiohttp.access"):
        assert not logging.getLogger(library).isEnabledFor(logging.INFO), library
    log = logging.getLogger("bot.test")
    log.debug("calling https://api.telegram.org/bot%s/getMe", token)
    log.info("proxy http://alice:pa55word@proxy.example:3128 and socks5://bob:hunter2@10.0.0.1:1080")
    log.info("secret %s", "a-long-server-secret-0123456789")
    try:
        raise ConnectionError(f"cannot reach https://api.telegram.org/bot{token}/getUpdates via "
                              "https://carol:s3cr3t@proxy.example")
    except ConnectionError:
        log.exception("request failed")
    text = out.getvalue()
    for leaked in (token, "AAF-secret", "pa55word", "alice:", "hunter2", "s3cr3t", "a-long-server-secret"):
        assert leaked not in text, leaked
    assert text.count("[redacted]") >= 6 and "proxy.example:3128" in text and "getUpdates" in text


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_the_command_line_logs_nothing_of_a_tipster(level: str, tmp_path: Path) -> None:
    from tests.test_deploy import entry_command, example_with, plain_env, tree_under_test

    fake = FakeTelegram()
    await fake.start()
    try:
        fake.add_group(-1001234567890, "staff")
        config_path = example_with(tmp_path, base_url=fake.base_url, base_file_url=fake.base_file_url)
        process = await asyncio.create_subprocess_exec(
            *entry_command(config_path), "--log-level", level,
            env=plain_env(BOT_TOKEN=fake.token, LEOPARD_WATCH_SECRET="a-long-server-secret-0123456789",
                          **tree_under_test()),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            for _ in range(600):
                if fake.calls_to("deleteWebhook") or process.returncode is not None:
                    break
                await asyncio.sleep(0.025)
            assert fake.calls_to("deleteWebhook"), "the bot never started polling"
            person = tipster(fake)
            await send_tip(person, photo=False)
            for _ in range(200):  # the receipt went out (through the outbox)
                if sum("Reference code" in t for t in person.texts()):
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    finally:
        await fake.stop()
    text = stderr.decode()
    assert process.returncode == 0, text
    assert "report HS-" in text and "stored" in text  # the log is there, and says what happened
    found = {what: text.count(needle.decode("latin-1")) for what, needle in needles(TIPSTER_ID).items()
             if what in ("decimal text", "name", "username")}
    found["bot token"] = text.count(fake.token)
    found["token digits"] = text.count(fake.token.split(":")[0] + ":")
    print(f"tipster occurrences in the {level} log:", json.dumps(found))
    assert sum(found.values()) == 0, (found, text[-3000:])
    assert not re.search(r" (DEBUG|INFO) (telegram|httpx|httpcore|aiosqlite|apscheduler|aiohttp)", text)


# --- the outbox ------------------------------------------------------------------------------------


async def test_private_outbox_rows_name_no_report_or_draft(
    fake: FakeTelegram, running: Any, config: Any
) -> None:
    await running()
    person = tipster(fake)
    await send_tip(person, poster=False, photo=False)
    await drained(config.storage.database)
    private = rows(config.storage.database, "SELECT * FROM outbox WHERE private = 1")
    assert private
    for row in private:
        assert row["chat_id"] == 0 and row["payload"] == "{}" and ":" not in row["purpose"], dict(row)
        assert datetime.fromisoformat(row["created_at"]).second == 0
    # The WAL was checkpointed and truncated after the scrub: no older page versions remain in it.
    wal = config.storage.database.with_name(config.storage.database.name + "-wal")
    assert not wal.exists() or TIPSTER_ID.to_bytes(6, "big") not in wal.read_bytes()


async def test_the_store_zeroes_deleted_content(tmp_path: Path) -> None:
    from bot.store import Store

    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        async with store.reading() as conn:
            assert (await (await conn.execute("PRAGMA secure_delete")).fetchone())[0] == 1
        await store.save_user_data(TIPSTER_ID, json.dumps({"note": "x" * 50 + TIPSTER_USERNAME}))
        await store.drop_user_data(TIPSTER_ID)
        await store.checkpoint()
    finally:
        await store.close()
    occurrences = data_folder_occurrences(tmp_path / "db.sqlite3", TIPSTER_ID)
    assert sum(occurrences.values()) == 0, occurrences


# --- the web tip line -------------------------------------------------------------------------------


async def test_a_web_tip_keeps_no_language_no_second_and_no_camera_metadata(
    tipline: Any, web_config: Any  # noqa: F811 - the fixtures
) -> None:
    web = await tipline()
    page = await web.form_at("/report?lang=en")
    fields = {"location": "37.3296, 113.5702", "when": an_hour_ago(), "a_threat": "snares",
              "a_follow_up": "anonymous", "t_description": "snares by the spring"}
    response = await web.post("tip", fields=fields, photos=[camera_photo()], page=page)
    assert response.status == 303, await response.text()
    code = ref_code(response.headers["Location"])
    tip = rows(web_config.storage.database, "SELECT * FROM reports WHERE ref_code = ?", code)[0]
    assert tip["language"] == web_config.languages.default == "zh_Hans"  # not the visitor's "en"
    for column in ("submitted_at", "observed_at"):
        assert datetime.fromisoformat(tip[column]).second == 0, column
    photo = rows(web_config.storage.database, "SELECT * FROM photos WHERE report_id = ?", tip["id"])[0]
    assert photo["original_path"] == photo["derived_path"]
    facts = json.loads(tip["details"])["photo_facts"]
    assert facts[0]["latitude"] == pytest.approx(37.3503, abs=1e-4)  # as text for staff, not in a file
    files = [f for f in web_config.storage.media_dir.rglob("*") if f.is_file()]
    assert files and not any(f.parent.name == "originals" for f in files)
    for f in files:
        for secret in (SERIAL, OWNER, MODEL, "PhoneMaker"):
            assert secret.encode() not in f.read_bytes(), (f, secret)


async def test_photos_of_a_tip_lost_in_a_restart_are_swept(
    fake: FakeTelegram, running: Any, config: Any
) -> None:
    bot = await running()
    person = tipster(fake)
    await person.send("/start", contains="Leopard Watch")
    await person.tap("Snares, poison", contains="photo")
    await person.send_file(camera_photo(), "IMG_0003.jpg", "image/jpeg", contains="Got 1 photo")
    tip_files = [f for f in config.storage.media_dir.rglob("*") if f.is_file()]
    # Someone else's sighting draft with a photo: saved, so its files must stay.
    villager = Person(fake, 7_401_000_002, "Villager", language="en")
    await villager.send("/start", contains="Leopard Watch")
    await villager.tap("I saw a leopard", contains="photos")
    await villager.send_photo(make_jpeg(seed=41), contains="Got 1 photo")
    await fake.wait_until_idle()
    kept = [f for f in config.storage.media_dir.rglob("*") if f.is_file() and f not in tip_files]
    assert tip_files and kept
    await bot.shutdown()  # the tip's draft (memory only) is gone; its stripped copy is still on disk
    assert all(f.exists() for f in tip_files)
    for f in tip_files + kept:
        os.utime(f, (f.stat().st_mtime - 60, f.stat().st_mtime - 60))

    await running(reports={"draft_timeout_minutes": 1 / 60, "tip_draft_expiry_hours": 30 / 3600})
    for _ in range(100):
        if not any(f.exists() for f in tip_files):
            break
        await asyncio.sleep(0.1)
    assert not any(f.exists() for f in tip_files)
    assert all(f.exists() for f in kept)  # a saved draft's photos, and an original, are never swept
