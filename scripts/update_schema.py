"""Writes bot/store/schema.sql: the schema of a database freshly migrated by the store.

Run after adding a migration (bot/store/migrations/NNNN_name.sql): ``python3 scripts/update_schema.py``.
``--check`` only compares, and exits 1 when the file is out of date.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.store import Store  # noqa: E402
from bot.store.schema import SCHEMA_FILE, schema_text  # noqa: E402


def migrated_schema() -> str:
    """The schema text of a new database after every migration."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "schema.sqlite3"

        async def migrate() -> None:
            store = await Store.open(path)
            await store.close()

        asyncio.run(migrate())
        conn = sqlite3.connect(path)
        try:
            return schema_text(conn)
        finally:
            conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if out of date")
    args = parser.parse_args()
    text = migrated_schema()
    if args.check:
        current = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.exists() else ""
        if current != text:
            print(f"{SCHEMA_FILE} is out of date: run python3 scripts/update_schema.py", file=sys.stderr)
            return 1
        return 0
    SCHEMA_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
