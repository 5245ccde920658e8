"""/forgetme forgets everything it can: every table, every file, after the person asks.

The person has a compensation case (owner name, phone, Telegram id), a report whose free text names
them, a photo whose EXIF names them, a staff message about them still waiting in the outbox and one
already delivered, an audit entry with their id, an unsent draft with a photo and a draft they
cancelled earlier. After /forgetme the test lists every table of the database (from sqlite_master,
so a table added later is checked too) and every file of the media folder, and finds none of their
id, name, username or phone — in plain text or as JSON escapes.
"""

from __future__ import annotations

import io
import json
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image

from bot.compensation import default_plan
from bot.config import Config
from bot.fake_telegram import FakeTelegram
from bot.media import store_photo
from bot.records import Outgoing, Reporter, Review, StoredPhoto
from bot.report import Kind, new_draft
from bot.store import Store
from tests.kit import STAFF_ADMIN, STAFF_GROUP, Person, make_jpeg, rows

TZ = ZoneInfo("Asia/Shanghai")
PERSON_ID = 7301000042
NAME = "Zhao Yunfeng"
USERNAME = "zhaoyf88"
OWNER = "赵云峰"  # the owner's name as typed for the compensation case
PHONE = "13987654321"
RESEARCHERS = -1002000000001  # a trusted channel (exact places, reporter contact)
NEEDLES = [str(PERSON_ID), NAME, USERNAME, OWNER, PHONE]


def forms(needle: str) -> list[str]:
    """The needle as text, and as JSON with ASCII escapes (how Telegram's answers are stored)."""
    return list(dict.fromkeys([needle, json.dumps(needle)[1:-1]]))


def camera_photo(seed: int) -> bytes:
    """A camera original whose EXIF names its owner and holds a position."""
    exif = Image.Exif()
    exif[0x013B] = NAME  # Artist
    exif[0x8825] = {1: "N", 2: (37.0, 25.0, 10.0), 3: "E", 4: (113.0, 40.0, 5.0)}
    out = io.BytesIO()
    Image.open(io.BytesIO(make_jpeg(seed=seed))).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def stored(entry: dict) -> StoredPhoto:
    return StoredPhoto(file_id="f", file_unique_id="u" + entry["sha256"][:8],
                       **{k: entry[k] for k in ("sha256", "phash", "mime_type", "width", "height",
                                                "original_path", "derived_path", "thumbnail_path")})


def report_draft(kind: Kind, when: datetime, answers: dict, latitude: float) -> dict:
    draft = new_draft(kind, when, "en")
    draft.update(photos_done=True, observed_at=(when - timedelta(minutes=5)).isoformat(),
                 location={"latitude": latitude, "longitude": 113.57, "accuracy_m": 10.0,
                           "source": "telegram"})
    draft["answers"] = answers
    return draft


def table_scan(db: Path) -> list[str]:
    """Every (table, column, needle) where a needle of the person is found, over every table."""
    found = []
    tables = [r[0] for r in rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert {"reports", "cases", "outbox", "audit_log", "user_data", "photos"} <= set(tables)
    for table in tables:
        for row in rows(db, f'SELECT * FROM "{table}"'):
            for column in row.keys():  # noqa: SIM118 - sqlite3.Row
                value = row[column]
                text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                for needle in NEEDLES:
                    if any(form in text for form in forms(needle)):
                        found.append(f"{table}.{column}: {needle}")
    return found


def media_scan(media_dir: Path) -> list[str]:
    found = []
    for path in media_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.name}: {n}" for n in NEEDLES
                      if n.encode() in data or n.encode("utf-16-le") in data]
    return found


async def test_forgetme_leaves_nothing_of_the_person_in_any_table_or_file(
    fake: FakeTelegram, running, config: Config
) -> None:
    now = datetime.now(TZ)
    me = Reporter(PERSON_ID, NAME, USERNAME, "en", True)
    photo = stored(await store_photo(camera_photo(31), config.storage.media_dir, now=now))
    store = await Store.open(config.storage.database)
    try:
        answers = {"animal": "sheep", "killed": 2, "injured": 0, "penned": "penned", "owner_name": OWNER,
                   "phone": PHONE}
        loss = await store.submit_report(report_draft(Kind.LIVESTOCK, now, answers, 37.33), me, [photo], now,
                                         lambda r, o: [])
        assert await store.review_incident(loss.incident_id, Review.VERIFIED, STAFF_ADMIN, "Staff", None, now,
                                           compose=lambda state: [], cases=default_plan())
        assert [c.owner_name for c in await store.open_cases()] == [OWNER]  # a compensation case is open
        await store.submit_report(
            report_draft(Kind.SIGHTING, now, {"leopards": 1, "cubs": "no", "distance": "lt50",
                                              "behaviour": f"ask {NAME}, phone {PHONE}"}, 36.5),
            me, [], now, lambda r, o: [])
        # A staff message naming them, not sent yet (due tomorrow), and one the bot will deliver now.
        about = f"Reporter {NAME} (@{USERNAME}, {PHONE}, {OWNER}) tg://user?id={PERSON_ID}"
        await store.enqueue([Outgoing(RESEARCHERS, "send_message", {"text": "later: " + about}, "note")], now)
        await store.enqueue([Outgoing(STAFF_GROUP, "send_message", {"text": "now: " + about}, "note")], now)
        await store.record(loss.incident_id, STAFF_ADMIN, "Staff", "ask", f"called {OWNER} on {PHONE}", now)
        await store.record(None, STAFF_ADMIN, "Staff", "ban", f"{NAME} (id {PERSON_ID}) for spam", now)
    finally:
        await store.close()
    with sqlite3.connect(config.storage.database) as db:  # due tomorrow: still waiting when they ask
        db.execute("UPDATE outbox SET due_at = ? WHERE chat_id = ?", (time.time() + 86400, RESEARCHERS))

    await running()
    person = Person(fake, PERSON_ID, "Zhao", language="en", last_name="Yunfeng", username=USERNAME)
    await fake.wait_for_call("sendMessage", timeout=20,
                             predicate=lambda c: "now: Reporter" in str(c.params.get("text")))
    # A draft cancelled earlier, and an unsent one: both with camera originals.
    await person.send("/start")
    await person.tap("Tracks, scat", contains="photos")
    await person.send_file(camera_photo(32), "IMG_1.JPG", "image/jpeg", contains="Got 1 photo")
    await person.send("/cancel", contains="Report cancelled")
    await person.send("/start")
    await person.tap("Tracks, scat", contains="photos")
    await person.send_file(camera_photo(33), "IMG_2.JPG", "image/jpeg", contains="Got 1 photo")
    # the scans do find them
    assert table_scan(config.storage.database) and media_scan(config.storage.media_dir)

    await person.send("/forgetme", contains="Delete your data?")
    await person.tap("Yes, delete my data", contains="stay in the record")
    await fake.wait_until_idle()

    assert table_scan(config.storage.database) == []
    assert media_scan(config.storage.media_dir) == []
    case = rows(config.storage.database, "SELECT * FROM cases")[0]
    assert case["reporter_id"] is None and case["phone"] is None and case["killed"] == 2  # the loss stays
    later = rows(config.storage.database, "SELECT payload, status FROM outbox WHERE payload LIKE '%later:%'")
    assert later and later[0]["status"] == "pending"  # staff still get the message, without them
