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
from bot.report import Kind, parse_reference_code
from bot.store import MIGRATIONS, Outgoing, Reporter, Store, StoredPhoto

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
