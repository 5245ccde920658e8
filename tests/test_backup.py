"""Online backups (SQLite's backup API) while the bot writes, and a restore the way deploy/GUIDE.md says."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.cli import main as cli_main
from bot.config import Config
from bot.fake_telegram import FakeTelegram
from bot.store import MIGRATIONS, Store
from tests.kit import CODE, STAFF_GROUP, Person


async def test_backup_while_writing_is_consistent_and_has_every_committed_row(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "live.sqlite3")
    # Some bulk first (written by another connection, as an import would), so the copy takes a moment.
    bulk = sqlite3.connect(tmp_path / "live.sqlite3")
    with bulk:
        bulk.executemany("INSERT INTO audit_log (at, action, detail) VALUES ('2026-01-01', 'bulk', ?)",
                         [(f"{i:06d}" + "x" * 300,) for i in range(20_000)])
    bulk.close()
    committed, target = 0, 20
    stop, reached = asyncio.Event(), asyncio.Event()

    async def writer() -> None:  # the bot, inserting all the time on its own connection
        nonlocal committed
        while not stop.is_set():
            await store.record(None, 1, "writer", "tick", str(committed), datetime.now(ZoneInfo("UTC")))
            committed += 1
            if committed >= target:
                reached.set()

    task = asyncio.create_task(writer())
    try:
        await asyncio.wait_for(reached.wait(), 20)
        before = committed
        result = await store.backup(tmp_path / "backups" / "copy.sqlite3")
        after = committed
        reached.clear()
        target = after + 5
        await asyncio.wait_for(reached.wait(), 20)  # the bot kept writing after the copy
    finally:
        stop.set()
        await task
        await store.close()

    assert result.path == tmp_path / "backups" / "copy.sqlite3"
    assert not list(result.path.parent.glob("*.partial"))
    copy = sqlite3.connect(result.path)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == result.user_version
        assert copy.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'bulk'").fetchone()[0] == 20_000
        ticks = [int(r[0]) for r in copy.execute(
            "SELECT detail FROM audit_log WHERE action = 'tick' ORDER BY id")]
    finally:
        copy.close()
    # One snapshot: every row committed before the backup began, then an unbroken run, nothing half-done.
    assert ticks == list(range(len(ticks)))
    assert before <= len(ticks) <= after + 1


def test_backup_of_a_missing_database_fails_without_creating_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Store.backup_file(tmp_path / "nothing.sqlite3", tmp_path / "copy.sqlite3")
    assert not (tmp_path / "nothing.sqlite3").exists() and not (tmp_path / "copy.sqlite3").exists()


async def sighting(person: Person, coordinates: str) -> str:
    await person.send("/start", contains="Leopard Watch")
    await person.tap("I saw a leopard", contains="photos")
    await person.tap("No photo", contains="Where was it")
    await person.send(coordinates, contains="When did you see it")
    await person.tap("Just now", contains="How many")
    await person.tap("1", contains="cubs")
    await person.tap("Not sure", contains="What was it doing")
    await person.tap("Resting", contains="How far")
    await person.tap("Over 1 km", contains="Please check")
    receipt = await person.tap("Send report", contains="Reference code")
    match = CODE.search(receipt["text"])
    assert match
    return match.group(0)


async def test_restore_a_backup_and_run_the_bot_on_it(fake: FakeTelegram, running, config: Config,
                                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bot = await running()
    person = Person(fake, 7302000001, language="en")
    kept = await sighting(person, "37.33, 113.57")
    # `leopard-watch backup DEST` while the bot runs (no BOT_TOKEN needed for a backup).
    toml = tmp_path / "config.toml"
    toml.write_text(f'[telegram]\nmoderation_chat_id = {STAFF_GROUP}\n[storage]\n'
                    f'database = "{config.storage.database.as_posix()}"\n', encoding="utf-8")
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    backup = tmp_path / "backups" / "nightly.sqlite3"
    assert await asyncio.to_thread(cli_main, ["backup", str(backup), "--config", str(toml)]) == 0
    lost = await sighting(person, "37.45, 113.70")  # after the backup: the restore goes back before it
    await bot.shutdown()

    # The restore of deploy/GUIDE.md section 9: move the database and its -wal/-shm aside, copy the backup.
    db = config.storage.database
    old = db.parent / "old"
    old.mkdir()
    for path in db.parent.glob(db.name + "*"):
        path.rename(old / path.name)
    shutil.copy(backup, db)
    await running()
    listing = await person.send("/myreports", contains=kept)
    assert lost not in listing["text"]
    again = await sighting(person, "37.50, 113.80")  # the restored database takes new reports
    assert again != kept
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM reports").fetchone()[0] == 2
    finally:
        conn.close()
