"""Storage: migrations, one-transaction submission, idempotency, the outbox, persistence."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot import report
from bot.records import Outgoing, Reporter, StoredPhoto
from bot.report import Kind, parse_reference_code
from bot.store import MIGRATIONS, Store

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
REPORTER = Reporter(user_id=42, name="王", username=None, language="zh_Hans", notify=True)


def a_draft(kind: Kind = Kind.SIGHTING) -> dict:
    draft = report.new_draft(kind, NOW, "zh_Hans")
    draft.update(
        photos_done=True,
        observed_at=NOW.isoformat(),
        location={"latitude": 37.33, "longitude": 113.57, "accuracy_m": 10.0, "source": "telegram"},
    )
    draft["answers"] = {"leopards": 1, "cubs": "no", "behaviour": "walking", "distance": "lt50"}
    return draft


def photo(n: int) -> StoredPhoto:
    return StoredPhoto(f"file{n}", f"u{n}", f"{n:064x}", (1 << 64) - n, "image/jpeg", 10, 10, "o", "d", "t")


def card(row, outcome=None) -> list[Outgoing]:
    return [
        Outgoing(-100, "send_message", {"text": row.ref_code}, f"card:{row.id}"),
        Outgoing(
            42, "send_message", {"text": "receipt"}, f"receipt:{row.id}", private=row.reporter_id is None
        ),
    ]


async def test_database_is_wal_with_foreign_keys(store: Store, tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "test.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert await store.migrate() == len(MIGRATIONS)  # idempotent
    assert await store.integrity_problems() == []


async def test_submit_stores_report_photos_and_outbox_together(store: Store) -> None:
    submitted = await store.submit_report(a_draft(), REPORTER, [photo(1), photo(2)], NOW, card)
    assert submitted.created and parse_reference_code(submitted.ref_code) == submitted.ref_code
    row = await store.report_by_code(submitted.ref_code)
    assert row is not None and len(row.photos) == 2 and row.photos[0].phash == (1 << 64) - 1
    assert row.details["leopards"] == 1 and row.incident_id is not None
    due = await store.due_outbox()
    assert [i.purpose for i in due] == [f"card:{row.id}", f"receipt:{row.id}"]
    other = Reporter(user_id=43, name="李", username=None, language="zh_Hans", notify=True)
    second = await store.submit_report(a_draft(), other, [], NOW, card)
    assert second.ref_code not in (submitted.ref_code, "HS-2026-00002") and second.joined_existing
    # Exports name occurrences by a random UUID kept with the report, never by a counter.
    again = await store.report_by_code(submitted.ref_code)
    assert again is not None and again.occurrence_id == row.occurrence_id
    assert uuid.UUID(row.occurrence_id).version == 4


async def test_same_draft_twice_is_one_report(store: Store) -> None:
    draft = a_draft()
    first = await store.submit_report(draft, REPORTER, [photo(1)], NOW, card)
    again = await store.submit_report(draft, REPORTER, [photo(1)], NOW, card)
    assert again == type(first)(first.id, first.ref_code, created=False)
    assert await store.count_reports() == 1 and await store.outbox_depth() == 2


async def test_failed_composition_rolls_everything_back(store: Store) -> None:
    def broken(row, outcome):
        raise RuntimeError("card could not be made")

    with pytest.raises(RuntimeError):
        await store.submit_report(a_draft(), REPORTER, [photo(1)], NOW, broken)
    assert await store.count_reports() == 0 and await store.outbox_depth() == 0
    again = await store.submit_report(a_draft(), REPORTER, [], NOW, card)
    assert await store.report_by_code(again.ref_code)


async def test_outbox_keeps_order_per_chat_and_scrubs_private_messages(store: Store) -> None:
    anonymous = Reporter(None, None, None, "en", notify=False)
    await store.submit_report(a_draft(Kind.TIP), anonymous, [], NOW, card)
    first = await store.due_outbox()
    assert [i.chat_id for i in first] == [-100, 42]
    await store.outbox_retry(first[0].id, 60, "429")
    # The group's head message waits, and nothing behind it in that chat overtakes it.
    assert [i.chat_id for i in await store.due_outbox()] == [42]
    assert first[1].private and first[1].purpose == "receipt"  # no report id in a private row's purpose
    await store.outbox_sent(first[1].id, [7], private=True)
    async with store.reading() as conn:
        scrubbed = await (
            await conn.execute(
                "SELECT chat_id, payload, result, purpose, created_at, due_at FROM outbox WHERE id = ?",
                (first[1].id,),
            )
        ).fetchone()
    assert tuple(scrubbed)[:4] == (0, "{}", None, "receipt")
    assert datetime.fromisoformat(scrubbed["created_at"]).second == 0 and scrubbed["due_at"] % 60 == 0
    assert await store.outbox_depth() == 1


async def test_persistence_round_trip(store: Store) -> None:
    await store.save_user_data(7, json.dumps({"lang": "en", "draft": {"id": "x"}}))
    assert await store.load_user_data() == {7: {"lang": "en", "draft": {"id": "x"}}}
    await store.drop_user_data(7)
    assert await store.load_user_data() == {}


async def test_a_submitted_draft_is_not_loaded_again(store: Store) -> None:
    """A crash between the report's commit and the next save of the person's data keeps the old
    draft on disk; loading must not offer it again as unsent."""
    sent, open_draft = a_draft(), a_draft()
    await store.save_user_data(7, json.dumps({"lang": "en", "draft": sent}))
    await store.save_user_data(8, json.dumps({"lang": "zh_Hans", "draft": open_draft}))
    await store.submit_report(sent, REPORTER, [photo(1)], NOW, card)
    assert await store.load_user_data() == {7: {"lang": "en"}, 8: {"lang": "zh_Hans", "draft": open_draft}}


def named_draft(place_id: str = "140723102220", at: datetime = NOW) -> dict:
    draft = a_draft()
    draft["observed_at"] = at.isoformat()
    draft["location"] = {
        "latitude": None, "longitude": None, "accuracy_m": 10_000.0, "source": "named_place",
        "place_name": "许村村", "place_id": place_id,
    }
    return draft


async def test_an_older_database_takes_named_places(tmp_path: Path) -> None:
    """Migrations 7-8 on a database with data (named places): rows kept, schema re-read, NULL points allowed
    for reports only, a wrong number still refused, the whole database sound."""
    path = tmp_path / "old.sqlite3"
    old = Store.__new__(Store)
    import aiosqlite

    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = aiosqlite.Row
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA foreign_keys = ON")
    Store.__init__(old, conn)
    saved = MIGRATIONS[6:]
    del MIGRATIONS[6:]
    try:
        assert await old.migrate() == 6
        await conn.execute(
            "INSERT INTO reports (draft_id, year, seq, ref_code, kind, language, latitude, longitude,"
            " location_source, observed_at, submitted_at, details) VALUES"
            " ('old', 2026, 1, 'HS-2026-00001', 'sighting', 'en', 37.33, 113.57, 'telegram', ?, ?, '{}')",
            (NOW.isoformat(), NOW.isoformat()),
        )
    finally:
        MIGRATIONS.extend(saved)
    # A second connection opened before the migration must see the new schema too.
    other = sqlite3.connect(path)
    assert await old.migrate() == len(MIGRATIONS)
    await old.close()
    store = await Store.open(path)
    try:
        assert await store.integrity_problems() == []
        first = await store.report_by_code("HS-2026-00001")
        assert first is not None and first.point == (37.33, 113.57) and first.place_id is None
        named = await store.submit_report(named_draft(), REPORTER, [], NOW, card)
        row = await store.report_by_code(named.ref_code)
        assert row is not None and row.point is None and row.place_id == "140723102220"
        other.execute(
            "INSERT INTO reports (draft_id, year, seq, ref_code, kind, language, latitude, longitude,"
            " location_source, observed_at, submitted_at, details) VALUES"
            " ('x', 2026, 99, 'HS-2026-00099', 'sighting', 'en', NULL, NULL, 'named_place', '', '', '{}')"
        )
        with pytest.raises(sqlite3.IntegrityError):
            other.execute(
                "INSERT INTO reports (draft_id, year, seq, ref_code, kind, language, latitude, longitude,"
                " location_source, observed_at, submitted_at, details) VALUES"
                " ('y', 2026, 98, 'HS-2026-00098', 'sighting', 'en', 91, 0, 'typed', '', '', '{}')"
            )
        with pytest.raises(sqlite3.IntegrityError):  # place points always have a point
            other.execute("INSERT INTO place_points (place_id, latitude, longitude, set_at, source)"
                          " VALUES ('v', NULL, NULL, '', 'staff')")
    finally:
        other.close()
        await store.close()


async def test_named_places_group_by_place_and_time_then_take_the_taught_point(store: Store) -> None:
    from datetime import timedelta

    other = Reporter(user_id=43, name="李", username=None, language="zh_Hans", notify=True)
    third = Reporter(user_id=44, name="张", username=None, language="zh_Hans", notify=True)
    first = await store.submit_report(named_draft(), REPORTER, [], NOW, card)
    same = await store.submit_report(named_draft(at=NOW + timedelta(hours=1)), other, [], NOW, card)
    elsewhere = await store.submit_report(named_draft("140723101200"), third, [], NOW, card)
    much_later = await store.submit_report(named_draft(at=NOW + timedelta(days=20)), third, [], NOW, card)
    assert same.joined_existing and same.incident_id == first.incident_id
    assert same.match_reason == "same_place"
    assert not elsewhere.joined_existing and elsewhere.incident_id != first.incident_id
    assert not much_later.joined_existing
    changed = await store.set_place_point(
        "140723102220", 37.3, 113.8, accuracy_m=1000.0, staff_id=9, staff_name="林", source="staff", now=NOW,
        refresh=lambda incident: [Outgoing(-100, "card", {"incident_id": incident}, f"card:{incident}")],
    )
    assert changed == sorted({first.incident_id, much_later.incident_id})
    placed = await store.report_by_code(first.ref_code)
    assert placed is not None and placed.point == (37.3, 113.8) and placed.accuracy_m == 1000.0
    untouched = await store.report_by_code(elsewhere.ref_code)
    assert untouched is not None and untouched.point is None
    [point] = await store.place_points()
    assert (point.place_id, point.set_by, point.set_by_name) == ("140723102220", 9, "林")
    state = await store.card_state(first.incident_id)
    assert state is not None
    # The incident is anchored at the taught point: a pinned report nearby now joins it.
    pinned = await store.submit_report(
        {**a_draft(), "location": {"latitude": 37.301, "longitude": 113.8, "accuracy_m": 20.0,
                                   "source": "telegram"}}, third, [], NOW, card)
    assert pinned.incident_id == first.incident_id
    audit = await store.audit_entries()
    assert [a["action"] for a in audit] == ["place"]
    assert json.loads(audit[0]["detail"])["place"] == "140723102220"


async def test_reads_do_not_wait_for_a_write_and_see_what_was_committed(tmp_path: Path) -> None:
    """One writer, separate readers (WAL): while a durable transaction is under way (its lock held, its
    commit and fsync still to come), a read goes ahead and sees the last commit; once it commits, it is
    read."""

    store = await Store.open(tmp_path / "readers.sqlite3", readers=2)
    try:
        await reads_beside_a_write(store)
    finally:
        await store.close()


async def test_the_read_connections_setting_reaches_the_bots_store(tmp_path: Path) -> None:
    """`[storage] read_connections` opens the bot's store (through PTB's persistence) with its readers."""
    from bot.config import load_config
    from handlers.persistence import SQLitePersistence

    path = tmp_path / "config.toml"
    text = "[telegram]\nmoderation_chat_id = -1\n[storage]\nread_connections = 2\n"
    path.write_text(text, encoding="utf-8")
    config = load_config(path, {"BOT_TOKEN": "1:x"})
    persistence = SQLitePersistence(
        config.storage.database, {}, read_connections=config.storage.read_connections
    )
    try:
        await reads_beside_a_write(await persistence.store())
    finally:
        await persistence.close()


async def reads_beside_a_write(store: Store) -> None:
    import asyncio

    await store.save_user_data(7, json.dumps({"lang": "en", "alerts": ["t1"]}))

    async def alerted() -> list[tuple[int, str]]:
        return await asyncio.wait_for(store.alert_subscribers("t1"), timeout=5)

    assert await alerted() == [(7, "en")]
    async with store.transaction() as conn:
        await conn.execute("UPDATE user_data SET data = ? WHERE user_id = 7", (json.dumps({"lang": "zh"}),))
        await conn.execute("INSERT INTO user_data (user_id, data) VALUES (8, ?)",
                           (json.dumps({"lang": "en", "alerts": ["t1"]}),))
        assert await alerted() == [(7, "en")]  # not the uncommitted state, and no wait for it
    assert await alerted() == [(8, "en")]  # read your writes: the commit is seen at once
