"""Abuse limits, bans, /forgetme, anonymous tips and photo retention, over the fake Bot API."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.compensation import default_plan
from bot.config import Config, PrivacySettings, StorageSettings, TelegramSettings
from bot.fake_telegram import FakeTelegram
from bot.media import store_photo
from bot.records import Reporter, ReportRow, Review, StoredPhoto
from bot.report import Kind, new_draft
from bot.store import Store
from handlers import privacy
from handlers.common import Services
from handlers.privacy import anonymous_key, purge_expired_originals
from tests.kit import STAFF_ADMIN, STAFF_GROUP, Person, make_jpeg, rows

TZ = ZoneInfo("Asia/Shanghai")
SECRET = "privacy-test-secret-0123456789"
LIMIT_TEXT = "a few reports an hour"


def photo_of(entry: dict[str, Any]) -> StoredPhoto:
    return StoredPhoto(file_id="f", file_unique_id="u" + entry["sha256"][:8],
                       **{k: entry[k] for k in ("sha256", "phash", "mime_type", "width", "height",
                                                "original_path", "derived_path", "thumbnail_path")})


def count_reports(db: Path, user_id: int) -> int:
    return int(rows(db, "SELECT COUNT(*) FROM reports WHERE reporter_id = ?", user_id)[0][0])


def user_data(db: Path, user_id: int) -> dict[str, Any]:
    return json.loads(rows(db, "SELECT data FROM user_data WHERE user_id = ?", user_id)[0][0])


async def seed(store: Store, reporter: Reporter, n: int, *, kind: Kind = Kind.SIGNS, latitude: float = 37.0,
               photos: tuple[StoredPhoto, ...] = (), answers: dict[str, Any] | None = None,
               when: datetime | None = None) -> list[str]:
    """`n` reports far apart (so none folds into another), submitted now; returns their codes."""
    now = when or datetime.now(TZ)
    codes = []
    for i in range(n):
        draft = new_draft(kind, now, reporter.language)
        draft["location"] = {"latitude": latitude + 0.1 * i, "longitude": 113.5, "source": "typed"}
        draft["observed_at"] = (now - timedelta(minutes=5)).isoformat()
        draft["answers"] = dict(answers or {"sign": "tracks"})
        submitted = await store.submit_report(draft, reporter, photos, now, compose=lambda row, outcome: [])
        codes.append(submitted.ref_code)
    return codes


async def seeded(db: Path, reporter: Reporter, n: int, **kwargs: Any) -> list[str]:
    store = await Store.open(db)
    try:
        return await seed(store, reporter, n, **kwargs)
    finally:
        await store.close()


async def signs_until_review(person: Person, coordinates: str) -> None:
    await person.send("/start", contains="Leopard Watch")
    await person.tap("Tracks, scat", contains="photos")
    await person.tap("No photo", contains="Where was it")
    await person.send(coordinates, contains="When did you see it")
    await person.tap("Just now", contains="What did you find")
    await person.tap("Tracks", contains="Anything to add")
    await person.tap("Skip", contains="Please check")


async def tip_until_review(person: Person) -> None:
    await person.send("/start", contains="Leopard Watch")
    await person.tap("Snares", contains="photos")
    await person.tap("No photo", contains="Where was it")
    await person.send("37.33, 113.57", contains="When")
    await person.tap("Just now", contains="What did you see")
    await person.tap("Poison", contains="Tell us more")
    await person.tap("Skip", contains="anonymous")
    await person.tap("Stay anonymous", contains="Please check")


async def test_the_sixth_report_in_an_hour_is_refused_politely_and_kept(fake: FakeTelegram, running,
                                                                         config: Config) -> None:
    person_id = 7301000001
    await seeded(config.storage.database, Reporter(person_id, "Li", None, "en", True), 5)
    bot = await running()
    person = Person(fake, person_id, "Li", language="en")
    await signs_until_review(person, "37.62, 113.40")
    refusal = await person.tap("Send report", contains=LIMIT_TEXT)
    assert "Reference code" not in refusal["text"]
    assert count_reports(config.storage.database, person_id) == 5
    data = user_data(config.storage.database, person_id)
    assert data["draft"]["location"]["latitude"] == 37.62  # the draft is kept
    # Later (here: once the limit allows it) the same draft goes out from the same button.
    await bot.shutdown()
    await running(abuse={"reports_per_hour": 6})
    receipt = await person.tap("Send report", contains="Reference code")
    assert "HS-" in receipt["text"]
    assert count_reports(config.storage.database, person_id) == 6


async def test_a_message_flood_is_answered_once(fake: FakeTelegram, running) -> None:
    await running(abuse={"messages_per_minute": 5})
    person = Person(fake, 7301000002, language="en")
    for i in range(12):
        fake.send_text(person.id, f"hello {i}")
    await fake.wait_until_idle()
    texts = person.texts()
    assert sum("I did not understand" in t for t in texts) == 5
    assert sum("very fast" in t for t in texts) == 1
    # Button presses and the staff are not counted; another person is not affected.
    other = Person(fake, 7301000003, language="en")
    await other.send("hello", contains="I did not understand")


async def staff_says(fake: FakeTelegram, text: str, contains: str, *, user: int = STAFF_ADMIN,
                     reply_to: int | None = None) -> dict[str, Any]:
    """Someone types `text` in the staff group; returns the bot's next answer containing `contains`."""
    earlier = fake.messages_in(STAFF_GROUP)
    seen = earlier[-1]["message_id"] if earlier else 0
    fake.send_text(user, text, chat_id=STAFF_GROUP, reply_to_message_id=reply_to)
    return await fake.wait_for_message(STAFF_GROUP, contains=contains, after=seen)


async def test_ban_hides_reports_from_pending_and_ignores_messages(fake: FakeTelegram, running,
                                                                   config: Config) -> None:
    bad, good = 7301000004, 7301000005
    db = config.storage.database
    bad_codes = await seeded(db, Reporter(bad, "Spammer", None, "en", True), 2)
    good_code = (await seeded(db, Reporter(good, "Fine", None, "en", True), 1, latitude=36.5))[0]
    await running(languages={"staff": "en"})
    spammer = Person(fake, bad, "Spammer", language="en")

    pending = await staff_says(fake, "/pending", "Waiting for staff")
    assert all(code in pending["text"] for code in [*bad_codes, good_code])
    # A reply to a message naming reports of several people is refused; one naming one report works.
    await staff_says(fake, "/ban", "several people", reply_to=pending["message_id"])
    found = await staff_says(fake, f"/find {bad_codes[1]}", "belongs to incident")
    banned = await staff_says(fake, "/ban sends nonsense", "Banned", reply_to=found["message_id"])
    assert "2 reports" in banned["text"]
    await staff_says(fake, f"/ban {bad}", "Already banned")

    pending = await staff_says(fake, "/pending", "Waiting for staff")
    assert good_code in pending["text"] and not any(code in pending["text"] for code in bad_codes)
    assert rows(db, "SELECT COUNT(*) FROM reports WHERE reporter_id = ?", bad)[0][0] == 2  # kept

    seen = len(fake.messages_in(bad))
    fake.send_text(bad, "/start")
    fake.send_text(bad, "hello?")
    await fake.wait_until_idle()
    assert len(fake.messages_in(bad)) == seen  # ignored
    await spammer.send("/privacy", contains="Your privacy")  # they can still read it and delete their data

    await staff_says(fake, f"/unban {bad}", "Ban lifted")
    pending = await staff_says(fake, "/pending", "Waiting for staff")
    assert all(code in pending["text"] for code in bad_codes)
    await spammer.send("/start", contains="Leopard Watch")
    audit = rows(db, "SELECT action, staff_id, detail FROM audit_log WHERE action LIKE '%ban'")
    assert [(r["action"], r["staff_id"]) for r in audit] == [("ban", STAFF_ADMIN), ("unban", STAFF_ADMIN)]
    assert "sends nonsense" in audit[0]["detail"]


async def test_only_staff_ban_and_staff_cannot_be_banned(fake: FakeTelegram, running, config: Config) -> None:
    await running(languages={"staff": "en"})
    villager = 7301000006
    fake.add_user(villager, "Villager")
    fake.add_member(STAFF_GROUP, villager, "member")
    fake.send_text(villager, "/start")  # they have started the bot, so "Staff only." can reach them privately
    await fake.wait_for_message(villager)
    fake.send_text(villager, "/ban 7301000007", chat_id=STAFF_GROUP)
    await fake.wait_for_message(villager, contains="Staff only")
    await staff_says(fake, f"/ban {STAFF_ADMIN}", "Staff cannot be banned")
    await staff_says(fake, "/ban", "Send it like this")
    assert rows(config.storage.database, "SELECT COUNT(*) FROM bans")[0][0] == 0


async def test_forgetme_removes_identity_and_keeps_the_record(fake: FakeTelegram, running,
                                                              config: Config) -> None:
    person_id, phone, name = 7301000008, "+8613911112222", "Zhang Forgetful"
    now = datetime.now(TZ)
    own = photo_of(await store_photo(make_jpeg(seed=11), config.storage.media_dir, now=now))
    shared = photo_of(await store_photo(make_jpeg(seed=12), config.storage.media_dir, now=now))
    store = await Store.open(config.storage.database)
    try:
        code = (await seed(store, Reporter(person_id, name, "zhangf", "en", True), 1, kind=Kind.LIVESTOCK,
                           photos=(own, shared),
                           answers={"animal": "sheep", "killed": 2, "owner_name": "王五", "phone": phone}))[0]
        tip = (await seed(store, Reporter(None, None, None, "en", False,
                                          key=anonymous_key(person_id, now.date())),
                          1, kind=Kind.TIP, latitude=35.0, answers={"threat": "snares"}))[0]
        # Someone else sent the very same picture: that file is their evidence too.
        await seed(store, Reporter(7301000009, "Other", None, "en", True), 1, latitude=36.0, photos=(shared,))
    finally:
        await store.close()
    before = rows(config.storage.database, "SELECT * FROM reports WHERE ref_code = ?", code)[0]

    await running()
    person = Person(fake, person_id, name, language="en")
    await person.send("/start", contains="Leopard Watch")
    await person.tap("I saw a leopard", contains="photos")
    await person.send_photo(make_jpeg(seed=13), contains="Got 1 photo")
    for _ in range(100):  # written after the answer (the flush group runs last)
        draft = user_data(config.storage.database, person_id)["draft"]
        if draft["photos"]:
            break
        await asyncio.sleep(0.05)
    draft_files = [draft["photos"][0][k] for k in ("original_path", "derived_path", "thumbnail_path")]
    assert all(Path(f).exists() for f in draft_files)

    await person.send("/forgetme", contains="Delete your data?")
    await person.tap("No, keep it", contains="Nothing was deleted")
    await person.send("/forgetme", contains="Delete your data?")
    await person.tap("Yes, delete my data", contains="2 reports stay in the record")

    after = rows(config.storage.database, "SELECT * FROM reports WHERE ref_code = ?", code)[0]
    assert after["reporter_id"] is None and after["reporter_name"] is None
    assert after["reporter_username"] is None
    assert str(person_id) not in (after["reporter_key"] or "") and after["notify_reporter"] == 0
    tip_after = rows(config.storage.database,
                     "SELECT reporter_key FROM reports WHERE ref_code = ?", tip)[0][0]
    assert tip_after.startswith("gone:") and after["reporter_key"].startswith("gone:")
    assert tip_after != after["reporter_key"]  # the tip stays unlinked from their own reports
    details = json.loads(after["details"])
    assert details == {"animal": "sheep", "killed": 2}
    for column in ("kind", "latitude", "longitude", "accuracy_m", "observed_at", "submitted_at",
                   "incident_id", "ref_code", "status"):
        assert after[column] == before[column], column
    photos = rows(config.storage.database, "SELECT * FROM photos WHERE report_id = ? ORDER BY position",
                  after["id"])
    assert [p["original_path"] for p in photos] == [own.derived_path, shared.derived_path]
    assert not Path(own.original_path).exists() and Path(own.derived_path).exists()
    assert Path(shared.original_path).exists()  # still the other report's original
    assert not any(Path(f).exists() for f in draft_files)  # the unsent draft's photo is gone too
    assert not rows(config.storage.database, "SELECT 1 FROM user_data WHERE user_id = ?", person_id)
    assert [r[0] for r in rows(config.storage.database, "SELECT action FROM audit_log")] == ["forget"]

    # Their conversation ended with the draft: /start shows the menu, not "a report is not sent yet".
    menu = await person.send("/start", contains="Leopard Watch")
    assert "not sent yet" not in menu["text"]


async def test_forgotten_identity_is_not_in_the_database_file(fake: FakeTelegram, running,
                                                              config: Config) -> None:
    person_id, name = 7301000010, "Wang Vanishing"
    await seeded(config.storage.database, Reporter(person_id, name, "wangv", "en", True), 2)
    bot = await running()
    person = Person(fake, person_id, name, language="en")
    await person.send("/myreports", contains="HS-")
    await person.send("/forgetme", contains="Delete your data?")
    await person.tap("Yes, delete my data", contains="2 reports stay")
    await bot.shutdown()
    assert_not_in_files(config.storage.database, [str(person_id).encode(), name.encode(), b"wangv"])


def assert_not_in_files(db: Path, needles: list[bytes]) -> None:
    """Neither the database nor its write-ahead log holds any of `needles`, not even in free space."""
    files = [f for f in (db, db.with_name(db.name + "-wal")) if f.exists()]
    assert files
    for f in files:
        data = f.read_bytes()
        for needle in needles:
            assert needle not in data, f"{needle!r} found in {f.name}"


async def test_an_anonymous_tip_keeps_no_id_but_its_key_counts(fake: FakeTelegram, running, config: Config,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    person_id = 7301000011
    bot = await running(secret_key=SECRET, abuse={"reports_per_hour": 1})
    person = Person(fake, person_id, "Tipster Name", language="en")
    await tip_until_review(person)
    await person.tap("Send report", contains="Reference code")
    report = rows(config.storage.database, "SELECT * FROM reports")[0]
    assert report["kind"] == "tip" and report["reporter_id"] is None and report["reporter_name"] is None
    assert report["reporter_key"] == anonymous_key(person_id, datetime.now(TZ).date())
    assert str(person_id) not in report["reporter_key"]
    # Within the day the key counts: a second tip is over the limit.
    await tip_until_review(person)
    await person.tap("Send report", contains=LIMIT_TEXT)
    for _ in range(100):  # the receipt is scrubbed from the outbox once delivered
        if not rows(config.storage.database, "SELECT 1 FROM outbox WHERE private = 1 AND chat_id != 0"):
            break
        await asyncio.sleep(0.05)
    await bot.shutdown()
    assert_not_in_files(config.storage.database, [str(person_id).encode(), b"Tipster"])

    # The day's key lived only in that process's memory: a new process (here: a fresh key, as a
    # restart or the next day draws) cannot tell this person's tips, even with the secret and the
    # database; their limit starts again (the day's key is in memory only).
    monkeypatch.setattr(privacy, "_DAILY", privacy.DailyKey())
    await running(secret_key=SECRET, abuse={"reports_per_hour": 1})
    await tip_until_review(person)
    await person.tap("Send report", contains="Reference code")
    keys = [r[0] for r in rows(config.storage.database, "SELECT reporter_key FROM reports")]
    assert len(keys) == 2 and keys[0] != keys[1]


async def test_retention_deletes_only_expired_originals_of_rejected_reports(tmp_path: Path) -> None:
    config = Config(bot_token="1:x", telegram=TelegramSettings(moderation_chat_id=-1),
                    storage=StorageSettings(database=tmp_path / "db.sqlite3", media_dir=tmp_path / "media"),
                    privacy=PrivacySettings(photo_retention_days=90))
    now = datetime.now(TZ)
    pictures = [photo_of(await store_photo(make_jpeg(seed=20 + i), config.storage.media_dir, now=now))
                for i in range(4)]
    old_rejected, new_rejected, old_verified, shared = pictures
    store = await Store.open(config.storage.database)
    try:
        person = Reporter(7301000012, "P", None, "en", True)
        reports: dict[str, ReportRow] = {}
        for i, (label, photos) in enumerate([
            ("old_rejected", (old_rejected, shared)), ("new_rejected", (new_rejected,)),
            ("old_verified", (old_verified,)), ("pending", (shared,)),
        ]):
            # The pending report is from much later, so the shared photo does not put it in the same incident.
            when = now - timedelta(days=5 if label == "pending" else 120)
            code = (await seed(store, person, 1, latitude=36.0 + i, photos=photos, when=when))[0]
            found = await store.report_by_code(code)
            assert found is not None and found.incident_id is not None
            reports[label] = found
        decisions = [("old_rejected", Review.REJECTED, 100), ("new_rejected", Review.REJECTED, 10),
                     ("old_verified", Review.VERIFIED, 100)]
        for label, review, days in decisions:
            await store.review_incident(reports[label].incident_id or 0, review, STAFF_ADMIN, "Staff", None,
                                        now - timedelta(days=days), compose=lambda state: [],
                                        cases=default_plan())
        svc = Services(config=config, store=store)
        assert await purge_expired_originals(svc) == 1
        assert not Path(old_rejected.original_path).exists() and Path(old_rejected.derived_path).exists()
        assert Path(new_rejected.original_path).exists() and Path(old_verified.original_path).exists()
        assert Path(shared.original_path).exists()  # a pending report still has it
        expired = await store.report_by_code(reports["old_rejected"].ref_code)
        assert expired is not None
        assert [p.original_path for p in expired.photos] == [old_rejected.derived_path, shared.derived_path]
        assert await purge_expired_originals(svc) == 0  # once is enough
    finally:
        await store.close()
