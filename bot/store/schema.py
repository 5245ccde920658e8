"""The schema the migrations make, as readable text: bot/store/schema.sql is it, checked in.

A reader sees every table and index there without replaying the migrations; tests/test_schema.py fails
when a freshly migrated database differs from it, and ``python3 scripts/update_schema.py`` writes it
again after a new migration.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

SCHEMA_FILE = Path(__file__).with_name("schema.sql")

# Every table and index with its SQL (automatic indexes have none), each table followed by its indexes.
_SCHEMA_SQL = (
    "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
    " ORDER BY tbl_name, type = 'index', name"
)


def schema_text(conn: sqlite3.Connection) -> str:
    """The database's schema (``sqlite_master``), one column per line: ALTER TABLE appends columns to
    a table's stored text on one line, which is reflowed here (whitespace only, nothing else)."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    parts = [
        f"-- The schema of a database migrated to PRAGMA user_version = {version} (bot/store/migrations/).\n"
        "-- Written by scripts/update_schema.py; tests/test_schema.py checks it. Do not edit by hand."
    ]
    for kind, _name, sql in conn.execute(_SCHEMA_SQL):
        parts.append(_table(sql) if kind == "table" else _one_line(sql) + ";")
    return "\n\n".join(parts) + "\n"


def _one_line(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).replace("( ", "(").replace(" )", ")").strip()


def _table(sql: str) -> str:
    """CREATE TABLE name (one definition per line)."""
    start, end = sql.index("("), sql.rindex(")")
    items, depth, quoted, current = [], 0, False, ""
    for ch in sql[start + 1:end]:
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch in "()":
            depth += 1 if ch == "(" else -1
        elif not quoted and depth == 0 and ch == ",":
            items.append(current)
            current = ""
            continue
        current += ch
    items.append(current)
    body = ",\n".join("    " + _one_line(item) for item in items if item.strip())
    return f"{_one_line(sql[:start])} (\n{body}\n);"
