"""The store's core: opening the database, transactions, reads, migrations, backups, integrity.

One aiosqlite connection is the single writer (Datasette's rule); an asyncio lock keeps one
coroutine's transaction from interleaving with another's on it. Durable writes are fsynced
(`synchronous=FULL`, because a receipt promises the report is on disk). Separate read connections
(WAL lets them see the last commit while a write is under way) can take the reads that come while a
durable write holds or awaits the writer (`StoreCore.reading`); they are off by default, because
measured they cost more than the waits they save (see READERS).

All SQL lives in this package: this module, one module per capability (reports.py, outbox.py, …)
and the numbered migrations in migrations/ (schema.sql is the schema they make).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Self

import aiosqlite

from bot.dedupe import DEFAULT_RULES, DedupeRules
from bot.records import BackupResult
from bot.report import new_reference_code


def _load_migrations() -> list[str]:
    """The scripts of migrations/NNNN_name.sql, in their numbered order."""
    folder = resources.files("bot.store") / "migrations"
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    # Numbered 1, 2, 3 … with no gap: `PRAGMA user_version` counts the migrations applied.
    assert [int(n.split("_", 1)[0]) for n in names] == list(range(1, len(names) + 1)), names
    return [(folder / name).read_text(encoding="utf-8") for name in names]


#: The migrations in order: MIGRATIONS[n - 1] takes a database from user_version n - 1 to n.
MIGRATIONS: list[str] = _load_migrations()

#: Read connections a store opens by default (`StoreCore.reading`). None: measured with
#: `bench/bench_e2e.py --quick` on this project's 2-core test machine (fsync about 1 ms), reading through
#: separate connections cost 20-35 % more CPU per update and a lower share of the echo ceiling than
#: reading on the writer (bot CPU per update 3.62 / 3.33 ms against 3.10 / 2.69 ms; 55 % / 54 % against
#: 65 % / 78 %): each read on a reader pays two more trips to a database thread (BEGIN, COMMIT) and a
#: page cache that every write empties, and the bot's reads are short. Where fsync is slow (an SD card,
#: a network disk), `Store.open(path, readers=2)` keeps reads from waiting behind it: the bot's
#: `[storage] read_connections` setting.
READERS = 0


async def _connect(path: Path) -> aiosqlite.Connection:
    """A connection as every one of the store's is set up (the writer and the readers)."""
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is exactly what we say.
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = aiosqlite.Row
    await conn.execute("PRAGMA busy_timeout = 5000")
    # Deleted and overwritten content is zeroed, not left in free space: a scrubbed receipt or
    # a forgotten person must not stay readable in the file.
    await conn.execute("PRAGMA secure_delete = ON")
    return conn


# A report by one of its reference codes: its own, or one a repeat folded into it was given.
_BY_CODE = "(ref_code = ? OR id IN (SELECT report_id FROM report_drafts WHERE ref_code = ?))"


class StoreCore:
    """The connection, its transactions and reads, migrations, integrity and backups."""

    #: The rules of bot/dedupe.py; replace on the instance (e.g. from configuration) before serving.
    dedupe_rules: DedupeRules = DEFAULT_RULES

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._fsyncing = 0  # fsynced writes holding or waiting for the writer connection (`reading`)
        self._synchronous = "FULL"  # as `open` sets it; see `_durability`
        # The read connections not in use (`reading`); none until `open` has migrated the database.
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._reader_count = 0

    @classmethod
    async def open(cls, path: Path, *, readers: int = READERS) -> Self:
        """Opens (creating if needed) the database at `path`, applies pending migrations, then opens
        `readers` read connections (see READERS)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await _connect(path)
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = FULL")
        await conn.execute("PRAGMA foreign_keys = ON")
        store = cls(conn)
        await store.migrate()
        # An in-memory database is private to its connection: it is read through the writer.
        for _ in range(readers if str(path) != ":memory:" else 0):
            reader = await _connect(path)
            # A reader never writes: a write through one would bypass the writer's lock.
            await reader.execute("PRAGMA query_only = ON")
            store._readers.put_nowait(reader)
            store._reader_count += 1
        return store

    async def close(self) -> None:
        """Closes the writer, then every reader once it is given back (a read under way finishes)."""
        async with self._locked():
            await self._conn.close()
        while self._reader_count:
            reader = await self._readers.get()
            self._reader_count -= 1
            await reader.close()

    async def _durability(self, synchronous: str, then: str = "") -> None:
        """Sets PRAGMA synchronous (outside a transaction, under the lock) when it is not set already,
        and runs `then` (a statement without parameters) in the same trip to the database thread."""
        if self._synchronous != synchronous:
            await self._conn.executescript(f"PRAGMA synchronous = {synchronous}; {then}")
            self._synchronous = synchronous
        elif then:
            await self._conn.execute(then)

    async def _write_unsynced(self, sql: str, params: Sequence[Any]) -> None:
        """One statement (atomic on its own, so no BEGIN and COMMIT trips), committed without fsync
        (synchronous=NORMAL): for bookkeeping written often, whose loss to a power cut only repeats
        work."""
        async with self._locked():
            await self._durability("NORMAL")
            await self._conn.execute(sql, params)

    @asynccontextmanager
    async def transaction(self, *, durable: bool = True) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception.

        Durable (synchronous=FULL) unless told otherwise: the commit is fsynced before it returns,
        which takes milliseconds during which every other store call waits. `durable=False`
        (synchronous=NORMAL) survives a crash of the process, not a power cut: for bookkeeping whose
        loss only repeats work (a message marked sent is sent again)."""
        async with self._locked(fsync=durable):
            await self._durability("FULL" if durable else "NORMAL", then="BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[aiosqlite.Connection]:
        """A connection for a block of reads that sees one consistent state, including everything
        committed before it started (what this task committed is always seen); with readers (see
        READERS), it never waits behind a durable (fsynced) write.

        While such a write holds or awaits the writer, a read connection, in a read transaction for
        the block: one snapshot, taken at its first statement, of what was committed by then (WAL),
        while the write and its fsync go on. Otherwise the writer itself, under its lock, behind at
        most unsynced writes (a statement or two, no fsync): a reader costs two more trips to a
        database thread per read (BEGIN, COMMIT) and a page cache that every write empties, so it is
        used only where it saves a wait on the disk."""
        if not self._fsyncing or not self._reader_count:
            async with self._locked():
                yield self._conn
            return
        conn = await self._readers.get()
        try:
            await conn.execute("BEGIN")
            try:
                yield conn
            finally:
                await conn.execute("COMMIT")  # a read transaction: nothing to keep or undo
        finally:
            self._readers.put_nowait(conn)

    @asynccontextmanager
    async def _writer(self) -> AsyncIterator[aiosqlite.Connection]:
        """The writer outside a transaction, under its lock: for connection settings and checkpoints."""
        async with self._locked():
            yield self._conn

    @asynccontextmanager
    async def _locked(self, *, fsync: bool = False) -> AsyncIterator[None]:
        """The writer connection's lock; an fsynced write is counted in `_fsyncing` while it holds or
        awaits it (`reading` looks)."""
        self._fsyncing += fsync
        try:
            async with self._lock:
                yield
        finally:
            self._fsyncing -= fsync

    async def migrate(self) -> int:
        """Applies numbered migrations past `PRAGMA user_version`; returns the version reached."""
        async with self._writer() as conn:
            version = (await _one(conn, "PRAGMA user_version"))[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            async with self.transaction() as conn:
                for statement in _statements(script):
                    await conn.execute(statement)
                if "writable_schema" in script:
                    # The schema text was edited in place: a new schema_version makes every
                    # connection (this one included) parse it again before its next statement.
                    cookie = (await _one(conn, "PRAGMA schema_version"))[0]
                    await conn.execute(f"PRAGMA schema_version = {int(cookie) + 1}")
                await conn.execute(f"PRAGMA user_version = {number}")
        return len(MIGRATIONS)

    async def integrity_problems(self) -> list[str]:
        """What `integrity_check` and `foreign_key_check` find; empty when the database is sound."""
        async with self.reading() as conn:
            rows = await _fetch(conn, "PRAGMA integrity_check")
            problems = [r[0] for r in rows if r[0] != "ok"]
            fk = await _fetch(conn, "PRAGMA foreign_key_check")
        return problems + [f"foreign key: {tuple(r)}" for r in fk]

    async def checkpoint(self) -> None:
        """Copies the WAL into the database and truncates it to nothing: after a scrub, the older
        versions of the scrubbed pages (a tipster's chat id in a receipt) must not stay in the -wal
        file. A reader holding an old snapshot (a backup) can keep part of it until the next one."""
        async with self._writer() as conn:
            await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def backup(self, dest: Path) -> BackupResult:
        """An online copy of this database at `dest` (see :meth:`backup_file`), safe while the bot writes."""
        async with self.reading() as conn:
            row = await _first(conn, "PRAGMA database_list")
        assert row is not None
        return await asyncio.to_thread(self.backup_file, Path(row["file"]), dest)

    @staticmethod
    def backup_file(source: Path, dest: Path) -> BackupResult:
        """Copies the database at `source` to `dest` with SQLite's online backup API, checks the copy and
        only then moves it into place (a failed backup never leaves a half copy under the final name).

        One backup step on its own read connection: in WAL mode that reads one consistent snapshot and
        neither blocks the bot's writes nor is restarted by them. Plain synchronous code, for the
        command line (`leopard-watch backup`) and, through a thread, for the running bot.
        """
        if not source.is_file():
            raise FileNotFoundError(f"database {source} does not exist")
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".partial")
        partial.unlink(missing_ok=True)
        src = sqlite3.connect(source, timeout=30)
        try:
            copy = sqlite3.connect(partial)
            try:
                src.backup(copy, pages=-1)
                # The copy stands alone: one file, no -wal beside it (WAL mode comes back on first open).
                copy.execute("PRAGMA journal_mode = DELETE")
                problems = [r[0] for r in copy.execute("PRAGMA integrity_check").fetchall() if r[0] != "ok"]
                version = int(copy.execute("PRAGMA user_version").fetchone()[0])
                reports = int(copy.execute("SELECT COUNT(*) FROM reports").fetchone()[0]) if version else 0
            finally:
                copy.close()
        finally:
            src.close()
        if problems:
            partial.unlink(missing_ok=True)
            raise sqlite3.DatabaseError(f"the copy failed its integrity check: {problems[:3]}")
        partial.replace(dest)
        return BackupResult(dest, version, reports, dest.stat().st_size)


async def _first(
    conn: aiosqlite.Connection, sql: str, params: Sequence[Any] | dict[str, Any] = ()
) -> aiosqlite.Row | None:
    """The first row of a query, or None, in one trip to the database thread (execute + fetchone
    would be two). For unique lookups and aggregates; a query that may match many rows says LIMIT 1."""
    rows = await conn.execute_fetchall(sql, params)
    return next(iter(rows), None)


async def _one(conn: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Row:
    """The row a query always returns (an aggregate, or a row the caller knows exists)."""
    row = await _first(conn, sql, params)
    assert row is not None, sql
    return row


async def _fetch(
    conn: aiosqlite.Connection, sql: str, params: Sequence[Any] | dict[str, Any] = ()
) -> list[aiosqlite.Row]:
    """Every row of a query (positional or named parameters), in one trip to the database thread."""
    return list(await conn.execute_fetchall(sql, params))


async def _fresh_code(conn: aiosqlite.Connection) -> str:
    """A random reference code no report and no folded repeat has yet."""
    while True:
        code = new_reference_code()
        if await _first(conn, f"SELECT 1 FROM reports WHERE {_BY_CODE}", (code, code)) is None:
            return code


def _statements(script: str) -> list[str]:
    """Splits a migration into statements (ours never put ';' inside a literal), leaving out its
    comment lines (they may contain ';')."""
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in code.split(";") if s.strip()]


def signed64(value: int | None) -> int | None:
    """SQLite integers are signed 64-bit; a 64-bit perceptual hash may use the top bit."""
    if value is None:
        return None
    return value - (1 << 64) if value >= 1 << 63 else value


def unsigned64(value: int | None) -> int | None:
    if value is None:
        return None
    return value + (1 << 64) if value < 0 else value


def _reporter_key(user_id: int | None, anonymous_key: str | None = None) -> str | None:
    """Who counts as "the same person": a Telegram account, or for an anonymous tip the keyed hash of
    one (never the id itself); a web report has neither."""
    return anonymous_key if user_id is None else f"tg:{user_id}"


async def _audit(
    conn: aiosqlite.Connection,
    now: datetime,
    staff_id: int | None,
    staff_name: str | None,
    incident_id: int | None,
    action: str,
    detail: str | None,
) -> None:
    await conn.execute(
        "INSERT INTO audit_log (at, staff_id, staff_name, incident_id, action, detail) VALUES (?, ?, "
        "?, ?, ?, ?)",
        (now.isoformat(), staff_id, staff_name, incident_id, action, detail),
    )
