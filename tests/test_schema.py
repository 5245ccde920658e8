"""bot/store/schema.sql is the schema the numbered migrations make (new databases and upgraded ones)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.store import MIGRATIONS, Store
from bot.store.schema import SCHEMA_FILE, schema_text

FIX = (
    "bot/store/schema.sql differs from the migrated schema:"
    " run `python3 scripts/update_schema.py` and commit it"
)


def migrated_text(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return schema_text(conn)
    finally:
        conn.close()


async def test_a_new_database_has_the_checked_in_schema(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "new.sqlite3")
    await store.close()
    assert migrated_text(tmp_path / "new.sqlite3") == SCHEMA_FILE.read_text(encoding="utf-8"), FIX


async def test_an_upgraded_database_has_the_same_schema(tmp_path: Path) -> None:
    """A database made by the first migration alone (the oldest there is) and upgraded by the store."""
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0])
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    store = await Store.open(path)
    await store.close()
    assert migrated_text(path) == SCHEMA_FILE.read_text(encoding="utf-8"), FIX


def test_the_schema_text_lists_every_table_and_index() -> None:
    text = SCHEMA_FILE.read_text(encoding="utf-8")
    conn = sqlite3.connect(":memory:")
    for script in MIGRATIONS:
        conn.executescript(script)
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE sql IS NOT NULL")]
    assert names and all(f" {name} " in text for name in names)
