"""All SQL lives here: schema migrations, reports, photos, incidents, the outbox, persistence.

One aiosqlite connection is the single writer (Datasette's rule); an asyncio lock keeps one
coroutine's transaction from interleaving with another's on that connection. WAL lets the
backup and read tools look while the bot writes; `synchronous=FULL` because a receipt promises
the report is on disk.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bot.report import reference_code

MIGRATIONS: list[str] = [
    # 1: reports, photos, incidents, the outbox and conversation persistence.
    """
    CREATE TABLE incidents (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open',
        created_at TEXT NOT NULL
    );
    CREATE TABLE reports (
        id INTEGER PRIMARY KEY,
        draft_id TEXT NOT NULL UNIQUE,
        year INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        ref_code TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('sighting', 'livestock', 'signs', 'tip')),
        status TEXT NOT NULL DEFAULT 'new',
        reporter_id INTEGER,
        reporter_name TEXT,
        reporter_username TEXT,
        language TEXT NOT NULL,
        latitude REAL NOT NULL CHECK (latitude BETWEEN -90 AND 90),
        longitude REAL NOT NULL CHECK (longitude BETWEEN -180 AND 180),
        accuracy_m REAL,
        location_source TEXT NOT NULL,
        input_datum TEXT NOT NULL DEFAULT 'wgs84',
        place_name TEXT,
        observed_at TEXT NOT NULL,
        submitted_at TEXT NOT NULL,
        details TEXT NOT NULL,
        notify_reporter INTEGER NOT NULL DEFAULT 1,
        incident_id INTEGER REFERENCES incidents(id),
        UNIQUE (year, seq)
    );
    CREATE INDEX reports_by_reporter ON reports (reporter_id, submitted_at);
    CREATE INDEX reports_by_incident ON reports (incident_id);
    CREATE TABLE photos (
        id INTEGER PRIMARY KEY,
        report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        file_id TEXT NOT NULL,
        file_unique_id TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        phash INTEGER,
        mime_type TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        original_path TEXT NOT NULL,
        derived_path TEXT NOT NULL,
        thumbnail_path TEXT NOT NULL,
        UNIQUE (report_id, position)
    );
    CREATE INDEX photos_by_sha256 ON photos (sha256);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL,
        method TEXT NOT NULL,
        payload TEXT NOT NULL,
        purpose TEXT NOT NULL,
        created_at TEXT NOT NULL,
        due_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
        last_error TEXT,
        result TEXT,
        private INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX outbox_pending ON outbox (due_at) WHERE status = 'pending';
    CREATE TABLE conversations (
        name TEXT NOT NULL,
        key TEXT NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (name, key)
    );
    CREATE TABLE user_data (
        user_id INTEGER PRIMARY KEY,
        data TEXT NOT NULL
    );
    """,
    # 2: incidents grouping reports (issue 5; the rules are in bot/dedupe.py).
    # An incident is matched only through its fixed anchor (its first report's fix), so the R*Tree
    # indexes anchors, one degenerate box per incident in (lat, lon, epoch seconds): no member
    # other than the anchor is ever a spatial candidate, and the index holds bare points, so it stays
    # valid whatever radii, windows and accuracy cap are configured (the query box carries them).
    # A merged incident keeps its row and its anchor, with merged_into pointing at the live incident,
    # so reports near either original anchor keep joining the merged one.
    # Times are epoch seconds (observed_s) because observed_at text carries offsets and does not sort.
    # Photos repeat their report's observed_s so each perceptual-hash band index is (band, time):
    # a near-copy lookup reads only the photos of the photo window.
    """
    ALTER TABLE incidents ADD COLUMN anchor_report_id INTEGER REFERENCES reports(id);
    ALTER TABLE incidents ADD COLUMN anchor_kind TEXT;
    ALTER TABLE incidents ADD COLUMN anchor_latitude REAL;
    ALTER TABLE incidents ADD COLUMN anchor_longitude REAL;
    ALTER TABLE incidents ADD COLUMN anchor_accuracy_m REAL;
    ALTER TABLE incidents ADD COLUMN anchor_observed_s REAL;
    ALTER TABLE incidents ADD COLUMN merged_into INTEGER REFERENCES incidents(id);
    ALTER TABLE incidents ADD COLUMN updated_at TEXT;
    ALTER TABLE incidents ADD COLUMN report_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE incidents ADD COLUMN reporter_count INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX incidents_by_merged_into ON incidents (merged_into) WHERE merged_into IS NOT NULL;
    ALTER TABLE reports ADD COLUMN reporter_key TEXT;
    ALTER TABLE reports ADD COLUMN observed_s REAL;
    ALTER TABLE reports ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE reports ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE reports ADD COLUMN updated_at TEXT;
    ALTER TABLE reports ADD COLUMN match_reason TEXT;
    ALTER TABLE reports ADD COLUMN match_distance_m REAL;
    UPDATE reports SET
        reporter_key = CASE WHEN reporter_id IS NULL THEN NULL ELSE 'tg:' || reporter_id END,
        observed_s = (julianday(observed_at) - 2440587.5) * 86400.0,
        match_reason = 'new';
    CREATE INDEX reports_by_reporter_key ON reports (reporter_key, observed_s) WHERE reporter_key IS NOT NULL;
    ALTER TABLE photos ADD COLUMN observed_s REAL;
    UPDATE photos SET observed_s = (SELECT r.observed_s FROM reports r WHERE r.id = photos.report_id);
    CREATE INDEX photos_phash_band0 ON photos ((phash & 65535), observed_s);
    CREATE INDEX photos_phash_band1 ON photos (((phash >> 16) & 65535), observed_s);
    CREATE INDEX photos_phash_band2 ON photos (((phash >> 32) & 65535), observed_s);
    CREATE INDEX photos_phash_band3 ON photos (((phash >> 48) & 65535), observed_s);
    UPDATE incidents SET (anchor_report_id, anchor_kind, anchor_latitude, anchor_longitude, anchor_accuracy_m,
                          anchor_observed_s, updated_at) =
        (SELECT r.id, r.kind, r.latitude, r.longitude, r.accuracy_m, r.observed_s, r.submitted_at
         FROM reports r WHERE r.incident_id = incidents.id ORDER BY r.id LIMIT 1);
    UPDATE incidents SET
        report_count = (SELECT COUNT(*) FROM reports r WHERE r.incident_id = incidents.id),
        reporter_count = (SELECT COUNT(DISTINCT r.reporter_key) + COUNT(*) - COUNT(r.reporter_key)
                          FROM reports r WHERE r.incident_id = incidents.id);
    CREATE VIRTUAL TABLE incident_anchors USING rtree(id, min_lat, max_lat, min_lon, max_lon, min_s, max_s);
    INSERT INTO incident_anchors
        SELECT id, anchor_latitude, anchor_latitude, anchor_longitude, anchor_longitude,
               anchor_observed_s, anchor_observed_s
        FROM incidents WHERE anchor_observed_s IS NOT NULL;
    CREATE TABLE report_drafts (
        draft_id TEXT PRIMARY KEY,
        report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
        submitted_at TEXT NOT NULL
    );
    CREATE TABLE merge_suggestions (
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        other_id INTEGER NOT NULL REFERENCES incidents(id),
        report_id INTEGER REFERENCES reports(id),
        created_at TEXT NOT NULL,
        PRIMARY KEY (incident_id, other_id)
    );
    CREATE INDEX merge_suggestions_by_other ON merge_suggestions (other_id);
    CREATE TABLE incident_decisions (
        id INTEGER PRIMARY KEY,
        action TEXT NOT NULL CHECK (action IN ('merge', 'split')),
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        other_id INTEGER NOT NULL REFERENCES incidents(id),
        report_id INTEGER REFERENCES reports(id),
        staff_id INTEGER NOT NULL,
        decided_at TEXT NOT NULL
    );
    """,
]


@dataclass(frozen=True)
class Reporter:
    """Who sent a report; for an anonymous tip every field but the language stays None."""

    user_id: int | None
    name: str | None
    username: str | None
    language: str
    notify: bool


@dataclass(frozen=True)
class StoredPhoto:
    """A photo already written to the media directory, ready to be linked to a report."""

    file_id: str
    file_unique_id: str
    sha256: str
    phash: int | None
    mime_type: str
    width: int
    height: int
    original_path: str
    derived_path: str
    thumbnail_path: str


@dataclass(frozen=True)
class Outgoing:
    """A message to deliver later through the outbox (method names: see handlers/outbox.py)."""

    chat_id: int
    method: str
    payload: dict[str, Any]
    purpose: str
    # A private message (an anonymous tipster's receipt) is scrubbed of its chat id and text once
    # it is delivered or given up on, so the database never links a tipster to a tip.
    private: bool = False


@dataclass(frozen=True)
class SubmittedReport:
    """What a submission did. `id`/`ref_code` name the stored report: the new one, or the reporter's
    earlier report when this submission updated it. A replayed draft (created=False) carries only
    those and the defaults below."""

    id: int
    ref_code: str
    created: bool  # False when the same draft had already been submitted
    incident_id: int | None = None
    joined_existing: bool = False  # a new report joined an incident that already existed
    updated_existing: bool = False  # the same person's report of the same thing: updated, not added
    merge_suggestions: tuple[int, ...] = ()  # other incidents this report also matched
    match_reason: str | None = None  # a bot.dedupe.MatchReason value


@dataclass(frozen=True)
class ReportRow:
    """A stored report with what cards, receipts and lists need."""

    id: int
    ref_code: str
    kind: str
    status: str
    reporter_id: int | None
    reporter_name: str | None
    reporter_username: str | None
    language: str
    latitude: float
    longitude: float
    accuracy_m: float | None
    location_source: str
    input_datum: str
    place_name: str | None
    observed_at: datetime
    submitted_at: datetime
    details: dict[str, Any]
    notify_reporter: bool
    incident_id: int | None
    photos: tuple[StoredPhoto, ...] = ()


@dataclass(frozen=True)
class OutboxItem:
    id: int
    chat_id: int
    method: str
    payload: dict[str, Any]
    purpose: str
    attempts: int


Compose = Callable[[ReportRow], Sequence[Outgoing]]


class Store:
    """The database; create with :meth:`open`, close with :meth:`close`."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> Store:
        """Opens (creating if needed) the database at `path` and applies pending migrations."""
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is exactly what we say.
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = FULL")
        await conn.execute("PRAGMA foreign_keys = ON")
        await conn.execute("PRAGMA busy_timeout = 5000")
        store = cls(conn)
        await store.migrate()
        return store

    async def close(self) -> None:
        async with self._lock:
            await self._conn.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception."""
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection for reads, never in the middle of another coroutine's transaction."""
        async with self._lock:
            yield self._conn

    async def migrate(self) -> int:
        """Applies numbered migrations past `PRAGMA user_version`; returns the version reached."""
        async with self.reading() as conn:
            version = (await (await conn.execute("PRAGMA user_version")).fetchone())[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            async with self.transaction() as conn:
                for statement in _statements(script):
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version = {number}")
        return len(MIGRATIONS)

    async def integrity_problems(self) -> list[str]:
        """What `integrity_check` and `foreign_key_check` find; empty when the database is sound."""
        async with self.reading() as conn:
            rows = await (await conn.execute("PRAGMA integrity_check")).fetchall()
            problems = [r[0] for r in rows if r[0] != "ok"]
            fk = await (await conn.execute("PRAGMA foreign_key_check")).fetchall()
        return problems + [f"foreign key: {tuple(r)}" for r in fk]

    # --- reports -------------------------------------------------------------------------------

    async def submit_report(
        self,
        draft: dict[str, Any],
        reporter: Reporter,
        photos: Sequence[StoredPhoto],
        submitted_at: datetime,
        compose: Compose,
    ) -> SubmittedReport:
        """Stores a report, its photos, its incident and the messages it causes, in one transaction.

        Submitting the same draft twice (a double tap, or Telegram delivering the update again)
        returns the first report and writes nothing.
        """
        location = draft["location"]
        async with self.transaction() as conn:
            existing = await (
                await conn.execute("SELECT id, ref_code FROM reports WHERE draft_id = ?", (draft["id"],))
            ).fetchone()
            if existing:
                return SubmittedReport(existing["id"], existing["ref_code"], created=False)
            # A draft that updated the same person's earlier report is replayed the same way.
            alias = await (await conn.execute(
                "SELECT r.id, r.ref_code FROM report_drafts d JOIN reports r ON r.id = d.report_id"
                " WHERE d.draft_id = ?", (draft["id"],),
            )).fetchone()
            if alias:
                return SubmittedReport(alias["id"], alias["ref_code"], created=False)
            year = submitted_at.year
            seq = (await (await conn.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM reports WHERE year = ?", (year,)
            )).fetchone())[0]
            code = reference_code(year, seq)
            probe = _probe(draft, reporter, photos)
            earlier = await self._earlier_same_report(conn, probe)
            if earlier is not None:
                outcome = await self._update_earlier(conn, earlier, draft, photos, submitted_at)
                report_id = outcome.id
            else:
                decision = await self._find_incident(conn, probe)
                incident_id = decision.incident_id
                if incident_id is None:
                    incident_id = await self._insert_incident(conn, probe, submitted_at)
                cursor = await conn.execute(
                    """INSERT INTO reports (draft_id, year, seq, ref_code, kind, reporter_id, reporter_name,
                           reporter_username, language, latitude, longitude, accuracy_m, location_source,
                           input_datum, place_name, observed_at, submitted_at, details, notify_reporter,
                           incident_id, reporter_key, observed_s, match_reason, match_distance_m)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (
                        draft["id"], year, seq, code, draft["kind"], reporter.user_id, reporter.name,
                        reporter.username, reporter.language, location["latitude"], location["longitude"],
                        location.get("accuracy_m"), location["source"], location.get("datum", "wgs84"),
                        location.get("place_name"), draft["observed_at"], submitted_at.isoformat(),
                        json.dumps(draft["answers"], ensure_ascii=False), int(reporter.notify), incident_id,
                        probe.reporter_key, probe.observed_s, decision.reason.value, decision.distance_m,
                    ),
                )
                report_id = cursor.lastrowid
                assert report_id is not None
                await _insert_photos(conn, report_id, photos, probe.observed_s)
                await self._joined(conn, incident_id, report_id, decision, submitted_at)
                outcome = SubmittedReport(
                    report_id, code, created=True, incident_id=incident_id,
                    joined_existing=decision.incident_id is not None,
                    merge_suggestions=decision.merge_suggestions, match_reason=decision.reason.value,
                )
            row = await self._report(conn, report_id)
            await self._enqueue(conn, compose(row), submitted_at)
        return outcome

    async def report_by_code(self, code: str) -> ReportRow | None:
        async with self.reading() as conn:
            found = await (await conn.execute("SELECT id FROM reports WHERE ref_code = ?", (code,))).fetchone()
            return await self._report(conn, found["id"]) if found else None

    async def reports_of(self, user_id: int, limit: int = 20) -> list[ReportRow]:
        """A person's reports, newest first."""
        async with self.reading() as conn:
            rows = await (await conn.execute(
                "SELECT id FROM reports WHERE reporter_id = ? ORDER BY submitted_at DESC, id DESC LIMIT ?",
                (user_id, limit),
            )).fetchall()
            return [await self._report(conn, r["id"]) for r in rows]

    async def count_reports(self) -> int:
        async with self.reading() as conn:
            return int((await (await conn.execute("SELECT COUNT(*) FROM reports")).fetchone())[0])

    async def _report(self, conn: aiosqlite.Connection, report_id: int) -> ReportRow:
        r = await (await conn.execute("SELECT * FROM reports WHERE id = ?", (report_id,))).fetchone()
        photo_rows = await (await conn.execute(
            "SELECT * FROM photos WHERE report_id = ? ORDER BY position", (report_id,)
        )).fetchall()
        photos = tuple(
            StoredPhoto(
                p["file_id"], p["file_unique_id"], p["sha256"], _unsigned64(p["phash"]), p["mime_type"],
                p["width"], p["height"], p["original_path"], p["derived_path"], p["thumbnail_path"],
            )
            for p in photo_rows
        )
        return ReportRow(
            id=r["id"], ref_code=r["ref_code"], kind=r["kind"], status=r["status"],
            reporter_id=r["reporter_id"], reporter_name=r["reporter_name"],
            reporter_username=r["reporter_username"], language=r["language"],
            latitude=r["latitude"], longitude=r["longitude"], accuracy_m=r["accuracy_m"],
            location_source=r["location_source"], input_datum=r["input_datum"], place_name=r["place_name"],
            observed_at=datetime.fromisoformat(r["observed_at"]),
            submitted_at=datetime.fromisoformat(r["submitted_at"]),
            details=json.loads(r["details"]), notify_reporter=bool(r["notify_reporter"]),
            incident_id=r["incident_id"], photos=photos,
        )

    # --- outbox --------------------------------------------------------------------------------

    async def enqueue(self, messages: Sequence[Outgoing], now: datetime) -> None:
        """Queues messages on their own (when no other state changes with them)."""
        async with self.transaction() as conn:
            await self._enqueue(conn, messages, now)

    @staticmethod
    async def _enqueue(conn: aiosqlite.Connection, messages: Sequence[Outgoing], now: datetime) -> None:
        await conn.executemany(
            "INSERT INTO outbox (chat_id, method, payload, purpose, created_at, due_at, private)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (m.chat_id, m.method, json.dumps(m.payload, ensure_ascii=False), m.purpose, now.isoformat(),
                 time.time(), int(m.private))
                for m in messages
            ],
        )

    async def due_outbox(self, limit: int = 50) -> list[OutboxItem]:
        """The next message of every chat whose head of queue is due, oldest first.

        Only each chat's oldest pending message is offered, so a card's album, pin and text
        arrive in order even when one of them has to be retried.
        """
        async with self.reading() as conn:
            rows = await (await conn.execute(
                """SELECT o.* FROM outbox o
                   JOIN (SELECT chat_id, MIN(id) AS head FROM outbox WHERE status = 'pending' GROUP BY chat_id) h
                     ON o.id = h.head
                   WHERE o.due_at <= ? ORDER BY o.id LIMIT ?""",
                (time.time(), limit),
            )).fetchall()
        return [
            OutboxItem(r["id"], r["chat_id"], r["method"], json.loads(r["payload"]), r["purpose"], r["attempts"])
            for r in rows
        ]

    async def outbox_sent(self, item_id: int, result: Any) -> None:
        async with self.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET status = 'sent', attempts = attempts + 1, result = ? WHERE id = ?",
                (json.dumps(result), item_id),
            )
            await conn.execute(_SCRUB_PRIVATE, (item_id,))

    async def outbox_retry(self, item_id: int, delay_s: float, error: str) -> None:
        async with self.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, due_at = ?, last_error = ? WHERE id = ?",
                (time.time() + delay_s, error[:500], item_id),
            )

    async def outbox_failed(self, item_id: int, error: str) -> None:
        async with self.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?",
                (error[:500], item_id),
            )
            await conn.execute(_SCRUB_PRIVATE, (item_id,))

    async def outbox_depth(self) -> int:
        async with self.reading() as conn:
            row = await (await conn.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")).fetchone()
        return int(row[0])

    async def outbox_next_due(self) -> float | None:
        """When the earliest pending message is due (epoch seconds), or None when nothing waits."""
        async with self.reading() as conn:
            row = await (await conn.execute("SELECT MIN(due_at) FROM outbox WHERE status = 'pending'")).fetchone()
        return row[0]

    # --- conversation persistence (see handlers/persistence.py) --------------------------------

    async def load_user_data(self) -> dict[int, dict[str, Any]]:
        async with self.reading() as conn:
            rows = await (await conn.execute("SELECT user_id, data FROM user_data")).fetchall()
        return {r["user_id"]: json.loads(r["data"]) for r in rows}

    async def save_user_data(self, user_id: int, data: dict[str, Any]) -> None:
        async with self.transaction() as conn:
            await conn.execute(
                "INSERT INTO user_data (user_id, data) VALUES (?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET data = excluded.data",
                (user_id, json.dumps(data, ensure_ascii=False)),
            )

    async def drop_user_data(self, user_id: int) -> None:
        async with self.transaction() as conn:
            await conn.execute("DELETE FROM user_data WHERE user_id = ?", (user_id,))

    async def load_conversations(self, name: str) -> dict[tuple[int | str, ...], object]:
        async with self.reading() as conn:
            rows = await (await conn.execute(
                "SELECT key, state FROM conversations WHERE name = ?", (name,)
            )).fetchall()
        return {tuple(json.loads(r["key"])): json.loads(r["state"]) for r in rows}

    async def save_conversation(self, name: str, key: tuple[int | str, ...], state: object | None) -> None:
        async with self.transaction() as conn:
            if state is None:
                await conn.execute(
                    "DELETE FROM conversations WHERE name = ? AND key = ?", (name, json.dumps(list(key)))
                )
            else:
                await conn.execute(
                    "INSERT INTO conversations (name, key, state) VALUES (?, ?, ?) "
                    "ON CONFLICT (name, key) DO UPDATE SET state = excluded.state",
                    (name, json.dumps(list(key)), json.dumps(state)),
                )


_SCRUB_PRIVATE = "UPDATE outbox SET chat_id = 0, payload = '{}', result = NULL WHERE id = ? AND private = 1"


def _statements(script: str) -> list[str]:
    """Splits a migration into statements (ours never put ';' inside a literal)."""
    return [s.strip() for s in script.split(";") if s.strip()]


def _signed64(value: int | None) -> int | None:
    """SQLite integers are signed 64-bit; a 64-bit perceptual hash may use the top bit."""
    if value is None:
        return None
    return value - (1 << 64) if value >= 1 << 63 else value


def _unsigned64(value: int | None) -> int | None:
    if value is None:
        return None
    return value + (1 << 64) if value < 0 else value
