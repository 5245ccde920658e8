"""All SQL lives here: schema migrations, reports, photos, incidents, the outbox, persistence.

One aiosqlite connection is the single writer (Datasette's rule); an asyncio lock keeps one
coroutine's transaction from interleaving with another's on that connection. WAL lets the
backup and read tools look while the bot writes; `synchronous=FULL` because a receipt promises
the report is on disk.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bot.dedupe import (
    DEFAULT_RULES,
    Candidate,
    Decision,
    DedupeRules,
    Located,
    Match,
    MatchReason,
    PhotoCandidate,
    Probe,
    band_probes,
    decide,
    epoch_seconds,
    grid_cell,
    grid_cells,
    photo_matches,
    same_report,
    search_box,
    spatial_matches,
)
from bot.geo import haversine_m
from bot.report import Draft, new_reference_code
from bot.review import CardState, Review

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
    # An incident is matched only through its fixed anchor (its first report's fix), so only anchors
    # are indexed: (anchor_cell, anchor_observed_s), where anchor_cell is the 0.01° grid cell of the
    # anchor (bot.dedupe.grid_cell: the same arithmetic as the backfill below). A lookup seeks each cell
    # of the probe's search box over its time range. No member other than the anchor is ever a spatial
    # candidate, and the index holds bare points, so it stays valid whatever radii, windows and
    # accuracy cap are configured (the query box carries them). A B-tree rather than an R*Tree because
    # it inserts about five times faster (3 µs against 17 µs a row), which is what bulk loading needs,
    # and looks up as fast. A merged incident keeps its row and anchor, with merged_into pointing at the
    # live incident, so reports near either original anchor keep joining the merged one.
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
    ALTER TABLE incidents ADD COLUMN anchor_cell INTEGER;
    UPDATE incidents SET anchor_cell = CAST((anchor_latitude + 90) * 100 AS INTEGER) * 36001
                                       + CAST((anchor_longitude + 180) * 100 AS INTEGER)
        WHERE anchor_latitude IS NOT NULL;
    CREATE INDEX incidents_by_anchor_cell ON incidents (anchor_cell, anchor_observed_s);
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
    # 3: moderation — review state, the card's message, opaque button tokens, questions, audit log.
    """
    ALTER TABLE incidents ADD COLUMN review TEXT NOT NULL DEFAULT 'pending'
        CHECK (review IN ('pending', 'verified', 'rejected'));
    ALTER TABLE incidents ADD COLUMN reviewed_by INTEGER;
    ALTER TABLE incidents ADD COLUMN reviewer_name TEXT;
    ALTER TABLE incidents ADD COLUMN reviewed_at TEXT;
    ALTER TABLE incidents ADD COLUMN reject_reason TEXT;
    ALTER TABLE incidents ADD COLUMN assignee_id INTEGER;
    ALTER TABLE incidents ADD COLUMN assignee_name TEXT;
    CREATE TABLE cards (
        incident_id INTEGER PRIMARY KEY REFERENCES incidents(id),
        chat_id INTEGER NOT NULL,
        message_id INTEGER NOT NULL
    );
    CREATE TABLE card_actions (
        token TEXT PRIMARY KEY,
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        action TEXT NOT NULL,
        arg TEXT NOT NULL DEFAULT '',
        UNIQUE (incident_id, action, arg)
    );
    CREATE TABLE questions (
        id INTEGER PRIMARY KEY,
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        prompt_chat_id INTEGER NOT NULL,
        prompt_message_id INTEGER NOT NULL,
        asked_by INTEGER,
        question TEXT,
        asked_at TEXT NOT NULL,
        UNIQUE (prompt_chat_id, prompt_message_id)
    );
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        staff_id INTEGER,
        staff_name TEXT,
        incident_id INTEGER,
        action TEXT NOT NULL,
        detail TEXT
    );
    CREATE INDEX audit_by_incident ON audit_log (incident_id, at);
    -- Merge candidates and /pending read only open, undecided incidents: few, whatever the table's size.
    CREATE INDEX incidents_awaiting_review ON incidents (anchor_latitude)
        WHERE status = 'open' AND review = 'pending';
    """,
    # 4: abuse, privacy and backups (issue 10). A ban names a person the way reports do (reporter_key:
    # 'tg:<id>', or an anonymous tipster's keyed hash, so a tipster can be banned without ever being
    # identified). Their reports are kept and flagged hidden: out of the staff queue, still in the record,
    # and still hidden if they later ask to be forgotten (their key is then replaced). An original photo
    # deleted by the retention rule or by /forgetme leaves original_deleted_at set and original_path
    # pointing at the stripped copy, so whatever sends "originals" sends that copy instead of failing.
    """
    CREATE TABLE bans (
        ban_key TEXT PRIMARY KEY,
        banned_by INTEGER,
        banned_at TEXT NOT NULL,
        reason TEXT
    );
    ALTER TABLE reports ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE photos ADD COLUMN original_deleted_at TEXT;
    CREATE INDEX reports_rejected ON reports (incident_id) WHERE status = 'rejected';
    """,
    # 5: livestock compensation cases (issue 8; the rules are in bot/compensation.py). One case per owner
    # of a verified livestock incident, keyed by (incident_id, owner_key). Days are county dates as ISO
    # text ('YYYY-MM-DD'), money is in fen (1/100 yuan). The deadlines are stored when they are fixed
    # (survey and apply at opening, payment at approval), so reminders find due cases with plain SQL.
    # The card in the compensation chat is refreshed whenever card_version runs ahead of
    # card_sent_version (bumped in the same transaction as the change). `reminded` lists the reminder
    # keys already sent. case_actions are the opaque tokens of the case card's buttons.
    """
    CREATE TABLE cases (
        id INTEGER PRIMARY KEY,
        incident_id INTEGER NOT NULL REFERENCES incidents(id),
        owner_key TEXT NOT NULL,
        owner_name TEXT NOT NULL,
        phone TEXT,
        report_id INTEGER NOT NULL REFERENCES reports(id),
        ref_code TEXT NOT NULL,
        reporter_id INTEGER,
        language TEXT NOT NULL,
        animal TEXT,
        killed INTEGER NOT NULL DEFAULT 0,
        injured INTEGER NOT NULL DEFAULT 0,
        penned TEXT,
        township_id TEXT,
        latitude REAL NOT NULL,
        longitude REAL NOT NULL,
        loss_on TEXT NOT NULL,
        reported_on TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'reported' CHECK (state IN ('reported', 'survey_scheduled', 'surveyed',
            'approved', 'denied', 'paid', 'closed')),
        survey_due TEXT NOT NULL,
        apply_due TEXT NOT NULL,
        payment_due TEXT,
        survey_on TEXT,
        officer TEXT,
        surveyed_on TEXT,
        surveyed_by TEXT,
        findings TEXT,
        predator_confirmed INTEGER,
        heads INTEGER,
        assessed_fen INTEGER,
        applied_on TEXT,
        decided_on TEXT,
        decided_by TEXT,
        approved_fen INTEGER,
        deny_reason TEXT,
        paid_on TEXT,
        paid_fen INTEGER,
        closed_on TEXT,
        close_note TEXT,
        reminded TEXT NOT NULL DEFAULT '',
        opened_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        card_chat_id INTEGER,
        card_message_id INTEGER,
        card_version INTEGER NOT NULL DEFAULT 1,
        card_sent_version INTEGER NOT NULL DEFAULT 0,
        UNIQUE (incident_id, owner_key)
    );
    CREATE INDEX cases_open ON cases (state) WHERE state != 'closed';
    CREATE INDEX cases_by_reporter ON cases (reporter_id) WHERE reporter_id IS NOT NULL;
    CREATE INDEX cases_by_reported_on ON cases (reported_on);
    CREATE INDEX cases_by_paid_on ON cases (paid_on) WHERE paid_on IS NOT NULL;
    CREATE INDEX cases_card_due ON cases (id) WHERE card_version > card_sent_version;
    CREATE TABLE case_photos (
        id INTEGER PRIMARY KEY,
        case_id INTEGER NOT NULL REFERENCES cases(id),
        file_id TEXT NOT NULL,
        file_unique_id TEXT NOT NULL,
        added_by INTEGER,
        added_at TEXT NOT NULL,
        UNIQUE (case_id, file_unique_id)
    );
    CREATE TABLE case_actions (
        token TEXT PRIMARY KEY,
        case_id INTEGER NOT NULL REFERENCES cases(id),
        action TEXT NOT NULL,
        arg TEXT NOT NULL DEFAULT '',
        UNIQUE (case_id, action, arg)
    );
    """,
    # 6: conversation states are no longer stored. The report conversation's state is derived from the
    # draft (handlers/report.py `state_for`), so a crash can never leave a state that disagrees with
    # its draft, and each update costs one write instead of two.
    """
    DROP TABLE conversations;
    """,
    # 7: nothing handed out says how many reports there are (issue 19). Reference codes are random
    # (bot.report.new_reference_code); a repeat folded into the same person's earlier report gets a code
    # of its own in report_drafts, so its receipt looks like any other. Exports name an occurrence by a
    # random UUID kept with the report (stable from one export to the next), never by its code or id.
    """
    ALTER TABLE reports ADD COLUMN occurrence_id TEXT;
    UPDATE reports SET occurrence_id = lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4'
        || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + abs(random()) % 4, 1)
        || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)));
    CREATE UNIQUE INDEX reports_by_occurrence_id ON reports (occurrence_id);
    ALTER TABLE report_drafts ADD COLUMN ref_code TEXT;
    CREATE UNIQUE INDEX report_drafts_by_ref_code ON report_drafts (ref_code) WHERE ref_code IS NOT NULL;
    """,
    # 8: videos and voice notes (issue 25) are media rows beside photos: a clip is a picture with a
    # length (its derived copy is the metadata-free remux, its thumbnail a key frame, its phash the
    # middle frame's), a voice note has no picture and may answer one question (answer_key).
    """
    ALTER TABLE photos ADD COLUMN media_kind TEXT NOT NULL DEFAULT 'photo';
    ALTER TABLE photos ADD COLUMN duration_s REAL;
    ALTER TABLE photos ADD COLUMN size_bytes INTEGER;
    ALTER TABLE photos ADD COLUMN answer_key TEXT;
    """,
    # 9: the staff loop (issue 21 §1–§3). A decision covers the reports staff saw on the card
    # (decided_reports, a JSON list; cards.shown is what the card showed when it was last rendered);
    # a report joining a decided incident later stays 'new' and is reviewed on its own, its card
    # re-posted at the bottom of the group (cards.repost). effects_due (epoch seconds): a decision's
    # messages to reporters and channels wait for the undo window. A question is to one report's
    # reporter (recipient_id, cleared when the question closes); it takes a few answers until
    # expires_at, and closes early once the answers are in.
    """
    ALTER TABLE incidents ADD COLUMN decided_reports TEXT;
    ALTER TABLE incidents ADD COLUMN effects_due REAL;
    UPDATE incidents SET decided_reports =
        (SELECT json_group_array(r.id) FROM reports r
         WHERE r.incident_id = incidents.id AND r.status != 'new')
        WHERE review != 'pending';
    CREATE INDEX incidents_effects_due ON incidents (effects_due) WHERE effects_due IS NOT NULL;
    CREATE INDEX reports_waiting ON reports (incident_id) WHERE status = 'new';
    ALTER TABLE cards ADD COLUMN shown TEXT;
    ALTER TABLE cards ADD COLUMN repost INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE questions ADD COLUMN report_id INTEGER REFERENCES reports(id);
    ALTER TABLE questions ADD COLUMN recipient_id INTEGER;
    ALTER TABLE questions ADD COLUMN answers INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE questions ADD COLUMN expires_at TEXT;
    ALTER TABLE questions ADD COLUMN closed_at TEXT;
    UPDATE questions SET closed_at = asked_at;
    CREATE INDEX questions_open ON questions (recipient_id) WHERE closed_at IS NULL;
    """,
    # 10: the durable inbox (issue 24). Every Telegram update is written here before Telegram is told it
    # arrived (the next getUpdates offset, or the webhook's 200) and marked done once handled, so a
    # crash loses none and a restart handles what was received and not done first. The update's JSON
    # is cleared when it is done (a tip's words must not linger here); the id stays a while so a
    # second delivery of the same update is recognised and dropped.
    """
    CREATE TABLE inbox (
        update_id INTEGER PRIMARY KEY,
        data TEXT,
        received_at REAL NOT NULL,
        done_at REAL
    );
    CREATE INDEX inbox_pending ON inbox (update_id) WHERE done_at IS NULL;
    """,
    # 11: named places (issue 22). A report whose place is only a village's name has no point: its
    # latitude/longitude are NULL (never a made-up point) and place_id names the gazetteer place. SQLite
    # cannot drop a NOT NULL with ALTER TABLE; the documented way for a change that leaves the stored
    # rows as they are is to edit the schema text (sqlite.org/lang_altertable.html, "other kinds of table
    # schema changes"). RESET re-reads the edited schema on this connection (so the next migration's
    # ALTER TABLE works even when a script runs the list directly); Store.migrate also bumps
    # schema_version after this script so every other connection re-reads it.
    # The CHECKs stay: NULL passes them, a wrong number still fails. Compensation cases likewise.
    """
    PRAGMA writable_schema = ON;
    UPDATE sqlite_schema SET sql = replace(replace(sql,
            'latitude REAL NOT NULL CHECK', 'latitude REAL CHECK'),
            'longitude REAL NOT NULL CHECK', 'longitude REAL CHECK')
        WHERE type = 'table' AND name = 'reports';
    UPDATE sqlite_schema SET sql = replace(replace(sql, 'latitude REAL NOT NULL,', 'latitude REAL,'),
        'longitude REAL NOT NULL,', 'longitude REAL,') WHERE type = 'table' AND name = 'cases';
    PRAGMA writable_schema = RESET;
    PRAGMA writable_schema = OFF;
    """,
    # 12: what staff taught about places (issue 22): a point per gazetteer place (village, township seat,
    # scenic spot), who set it and when (every change is also in audit_log). reports.place_id names the
    # place a report was given as (by name, a poster's spot, a did-you-mean choice); named-place reports
    # are grouped by it (reports_by_place) and get its point once staff set one.
    """
    ALTER TABLE reports ADD COLUMN place_id TEXT;
    CREATE INDEX reports_by_place ON reports (place_id, observed_s) WHERE place_id IS NOT NULL;
    CREATE TABLE place_points (
        place_id TEXT PRIMARY KEY,
        latitude REAL NOT NULL CHECK (latitude BETWEEN -90 AND 90),
        longitude REAL NOT NULL CHECK (longitude BETWEEN -180 AND 180),
        set_by INTEGER,
        set_by_name TEXT,
        set_at TEXT NOT NULL,
        source TEXT NOT NULL
    );
    """,
]

# A report by one of its reference codes: its own, or one a repeat folded into it was given.
_BY_CODE = "(ref_code = ? OR id IN (SELECT report_id FROM report_drafts WHERE ref_code = ?))"


@dataclass(frozen=True)
class Reporter:
    """Who sent a report; for an anonymous tip every field but the language stays None."""

    user_id: int | None
    name: str | None
    username: str | None
    language: str
    notify: bool
    # An anonymous tip's keyed hash of the Telegram id (handlers/privacy.py: anonymous_key), so limits
    # and "the same person" still work; None for everyone else (their key is their Telegram id).
    key: str | None = None


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
    media_kind: str = "photo"  # photo | video | voice (MEDIA_KINDS)
    duration_s: float | None = None  # videos and voice notes
    size_bytes: int | None = None  # of the original file
    answer_key: str | None = None  # a voice note answering this question of the report
    # Every sampled frame's hash of a clip: a new clip is compared with all of them (not stored;
    # the stored row keeps the middle frame's hash in `phash`).
    frame_hashes: tuple[int, ...] = ()

    @property
    def is_picture(self) -> bool:
        """A photo or a video: shown in albums, counted against the media limit, matched by hash."""
        return self.media_kind != "voice"

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> StoredPhoto:
        """From a draft's media entry (older drafts lack the video fields: they are photos)."""
        fields = {k: entry[k] for k in cls.__dataclass_fields__ if k in entry}
        fields["frame_hashes"] = tuple(entry.get("frame_hashes") or ())
        return cls(**fields)


MEDIA_KINDS = ("photo", "video", "voice")


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
    latitude: float | None  # None: a named place (place_id) without a point
    longitude: float | None
    accuracy_m: float | None
    location_source: str
    input_datum: str
    place_name: str | None
    observed_at: datetime
    submitted_at: datetime
    details: dict[str, Any]
    notify_reporter: bool
    incident_id: int | None
    photos: tuple[StoredPhoto, ...] = ()  # every media row: photos, videos, voice notes
    occurrence_id: str = ""  # the random UUID exports name it by
    place_id: str | None = None  # the gazetteer place it was given as (a village, a poster's spot)

    @property
    def point(self) -> tuple[float, float] | None:
        """(lat, lon), or None for a named place without a point."""
        if self.latitude is None or self.longitude is None:
            return None
        return self.latitude, self.longitude

    @property
    def pictures(self) -> tuple[StoredPhoto, ...]:
        """Photos and videos (what albums show)."""
        return tuple(p for p in self.photos if p.is_picture)

    @property
    def voices(self) -> tuple[StoredPhoto, ...]:
        return tuple(p for p in self.photos if not p.is_picture)


@dataclass(frozen=True)
class PlacePoint:
    """A point staff (or an import) gave a gazetteer place, and who did it when."""

    place_id: str
    latitude: float
    longitude: float
    set_by: int | None
    set_by_name: str | None
    set_at: datetime
    source: str


@dataclass(frozen=True)
class OutboxItem:
    id: int
    chat_id: int
    method: str
    payload: dict[str, Any]
    purpose: str
    attempts: int
    private: bool = False  # scrubbed once sent or given up (see Outgoing)


Compose = Callable[[ReportRow, "SubmittedReport"], Sequence[Outgoing]]


class Store:
    """The database; create with :meth:`open`, close with :meth:`close`."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._synchronous = "FULL"  # as `open` sets it; see `_durability`

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
        # Deleted and overwritten content is zeroed, not left in free space: a scrubbed receipt or
        # a forgotten person must not stay readable in the file (issue 19).
        await conn.execute("PRAGMA secure_delete = ON")
        store = cls(conn)
        await store.migrate()
        return store

    async def close(self) -> None:
        async with self._lock:
            await self._conn.close()

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
        async with self._lock:
            await self._durability("NORMAL")
            await self._conn.execute(sql, params)

    @asynccontextmanager
    async def transaction(self, *, durable: bool = True) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception.

        Durable (synchronous=FULL) unless told otherwise: the commit is fsynced before it returns,
        which takes milliseconds during which every other store call waits. `durable=False`
        (synchronous=NORMAL) survives a crash of the process, not a power cut: for bookkeeping whose
        loss only repeats work (a message marked sent is sent again)."""
        async with self._lock:
            await self._durability("FULL" if durable else "NORMAL", then="BEGIN IMMEDIATE")
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

    # --- reports -------------------------------------------------------------------------------

    async def submit_report(
        self,
        draft: Draft,
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
        assert location is not None and draft["observed_at"] is not None, "only a complete draft is submitted"
        async with self.transaction() as conn:
            existing = await _first(
                conn, "SELECT id, ref_code FROM reports WHERE draft_id = ?", (draft["id"],)
            )
            if existing:
                return SubmittedReport(existing["id"], existing["ref_code"], created=False)
            # A draft that updated the same person's earlier report is replayed the same way.
            alias = await _first(
                conn,
                "SELECT r.id, COALESCE(d.ref_code, r.ref_code) AS ref_code"
                " FROM report_drafts d JOIN reports r ON r.id = d.report_id WHERE d.draft_id = ?",
                (draft["id"],),
            )
            if alias:
                return SubmittedReport(alias["id"], alias["ref_code"], created=False)
            year = submitted_at.year
            seq = (await _one(conn, "SELECT COALESCE(MAX(seq), 0) + 1 FROM reports WHERE year = ?", (year,)))[
                0
            ]
            code = await _fresh_code(conn)
            named = location.get("latitude") is None  # a village's name, no point (issue 22)
            probe = _probe(draft, reporter, photos)
            earlier = None if named else await self._earlier_same_report(conn, probe)
            if earlier is not None:
                outcome = await self._update_earlier(conn, earlier, draft, photos, submitted_at, code)
            else:
                if named:
                    decision = await self._find_named_incident(conn, probe, location.get("place_id"))
                else:
                    decision = await self._find_incident(conn, probe)
                incident_id = decision.incident_id
                if incident_id is None:
                    incident_id = await _insert_incident(conn, probe, submitted_at.isoformat(), None)
                cursor = await conn.execute(
                    """INSERT INTO reports (draft_id, year, seq, ref_code, kind, reporter_id, reporter_name,
                           reporter_username, language, latitude, longitude, accuracy_m, location_source,
                           input_datum, place_name, observed_at, submitted_at, details, notify_reporter,
                           incident_id, reporter_key, observed_s, match_reason, match_distance_m,
                           occurrence_id, place_id)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                               ?)""",
                    (
                        draft["id"],
                        year,
                        seq,
                        code,
                        draft["kind"],
                        reporter.user_id,
                        reporter.name,
                        reporter.username,
                        reporter.language,
                        location["latitude"],
                        location["longitude"],
                        location.get("accuracy_m"),
                        location["source"],
                        location.get("datum", "wgs84"),
                        location.get("place_name"),
                        draft["observed_at"],
                        submitted_at.isoformat(),
                        json.dumps(draft["answers"], ensure_ascii=False),
                        int(reporter.notify),
                        incident_id,
                        probe.reporter_key,
                        probe.observed_s,
                        decision.reason.value,
                        decision.distance_m,
                        str(uuid.uuid4()),
                        location.get("place_id"),
                    ),
                )
                report_id = cursor.lastrowid
                assert report_id is not None
                await _insert_photos(conn, report_id, photos, probe.observed_s)
                await self._joined(conn, incident_id, report_id, decision, submitted_at)
                if decision.incident_id is not None:
                    # New work on a decided incident: its card comes back to the bottom of the group.
                    await conn.execute(
                        "UPDATE cards SET repost = 1 WHERE incident_id = ? AND EXISTS (SELECT 1 FROM"
                        " incidents WHERE id = ? AND review != 'pending')",
                        (incident_id, incident_id),
                    )
                outcome = SubmittedReport(
                    report_id,
                    code,
                    created=True,
                    incident_id=incident_id,
                    joined_existing=decision.incident_id is not None,
                    merge_suggestions=decision.merge_suggestions,
                    match_reason=decision.reason.value,
                )
            row = await self._report(conn, outcome.id)
            await self._enqueue(conn, compose(row, outcome), submitted_at)
        return outcome

    async def report_by_code(self, code: str) -> ReportRow | None:
        async with self.reading() as conn:
            found = await _first(conn, f"SELECT id FROM reports WHERE {_BY_CODE}", (code, code))
            return await self._report(conn, found["id"]) if found else None

    async def reports_of(self, user_id: int, limit: int = 20) -> list[ReportRow]:
        """A person's reports, newest first."""
        async with self.reading() as conn:
            rows = await _fetch(
                conn,
                "SELECT id FROM reports WHERE reporter_id = ? ORDER BY submitted_at DESC, id DESC LIMIT ?",
                (user_id, limit),
            )
            return await self._reports(conn, [r["id"] for r in rows])

    async def count_reports(self) -> int:
        async with self.reading() as conn:
            return int((await _one(conn, "SELECT COUNT(*) FROM reports"))[0])

    async def _report(self, conn: aiosqlite.Connection, report_id: int) -> ReportRow:
        found = await self._reports(conn, [report_id])
        assert found, f"no report {report_id}"
        return found[0]

    @staticmethod
    async def _reports(conn: aiosqlite.Connection, report_ids: Sequence[int]) -> list[ReportRow]:
        """The reports with these ids, in that order, with their photos: two trips to the database
        thread however many there are (a card, an export)."""
        if not report_ids:
            return []
        ids = json.dumps(list(report_ids))
        rows = await _fetch(
            conn, "SELECT * FROM reports WHERE id IN (SELECT value FROM json_each(?))", (ids,)
        )
        photo_rows = await _fetch(
            conn,
            "SELECT * FROM photos WHERE report_id IN (SELECT value FROM json_each(?))"
            " ORDER BY report_id, position",
            (ids,),
        )
        photos: dict[int, list[StoredPhoto]] = {}
        for p in photo_rows:
            photos.setdefault(p["report_id"], []).append(
                StoredPhoto(
                    p["file_id"],
                    p["file_unique_id"],
                    p["sha256"],
                    _unsigned64(p["phash"]),
                    p["mime_type"],
                    p["width"],
                    p["height"],
                    p["original_path"],
                    p["derived_path"],
                    p["thumbnail_path"],
                    p["media_kind"],
                    p["duration_s"],
                    p["size_bytes"],
                    p["answer_key"],
                )
            )
        by_id = {r["id"]: r for r in rows}
        return [
            ReportRow(
                id=r["id"],
                ref_code=r["ref_code"],
                kind=r["kind"],
                status=r["status"],
                reporter_id=r["reporter_id"],
                reporter_name=r["reporter_name"],
                reporter_username=r["reporter_username"],
                language=r["language"],
                latitude=r["latitude"],
                longitude=r["longitude"],
                accuracy_m=r["accuracy_m"],
                location_source=r["location_source"],
                input_datum=r["input_datum"],
                place_name=r["place_name"],
                observed_at=datetime.fromisoformat(r["observed_at"]),
                submitted_at=datetime.fromisoformat(r["submitted_at"]),
                details=json.loads(r["details"]),
                notify_reporter=bool(r["notify_reporter"]),
                incident_id=r["incident_id"],
                photos=tuple(photos.get(r["id"], ())),
                occurrence_id=r["occurrence_id"] or "",
                place_id=r["place_id"],
            )
            for r in (by_id[i] for i in report_ids if i in by_id)
        ]

    # --- outbox --------------------------------------------------------------------------------

    async def enqueue(self, messages: Sequence[Outgoing], now: datetime) -> None:
        """Queues messages on their own (when no other state changes with them)."""
        async with self.transaction() as conn:
            await self._enqueue(conn, messages, now)

    @staticmethod
    async def _enqueue(conn: aiosqlite.Connection, messages: Sequence[Outgoing], now: datetime) -> None:
        # A private row keeps only the kind of its purpose ("receipt", not "receipt:<report id>") and
        # its minute: once scrubbed, nothing in it points at a report, a draft or a moment (issue 19).
        minute = now.replace(second=0, microsecond=0).isoformat()
        await conn.executemany(
            "INSERT INTO outbox (chat_id, method, payload, purpose, created_at, due_at, private)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    m.chat_id,
                    m.method,
                    json.dumps(m.payload, ensure_ascii=False),
                    m.purpose.split(":", 1)[0] if m.private else m.purpose,
                    minute if m.private else now.isoformat(),
                    time.time(),
                    int(m.private),
                )
                for m in messages
            ],
        )

    async def due_outbox(self, limit: int = 50) -> list[OutboxItem]:
        """The next message of every chat whose head of queue is due, oldest first.

        Only each chat's oldest pending message is offered, so a card's album, pin and text
        arrive in order even when one of them has to be retried.
        """
        async with self.reading() as conn:
            rows = await _fetch(
                conn,
                """SELECT o.* FROM outbox o
                   JOIN (SELECT chat_id, MIN(id) AS head FROM outbox
                         WHERE status = 'pending' GROUP BY chat_id) h
                     ON o.id = h.head
                   WHERE o.due_at <= ? ORDER BY o.id LIMIT ?""",
                (time.time(), limit),
            )
        return [
            OutboxItem(
                r["id"], r["chat_id"], r["method"], json.loads(r["payload"]), r["purpose"], r["attempts"],
                bool(r["private"]),
            )
            for r in rows
        ]

    async def outbox_sent(self, item_id: int, result: Any, *, private: bool = False) -> None:
        await self._write_unsynced(
            "UPDATE outbox SET status = 'sent', attempts = attempts + 1, "
            f"result = CASE WHEN private = 1 THEN NULL ELSE ? END, {_SCRUBBED_IF_PRIVATE} WHERE id = ?",
            (json.dumps(result), item_id),
        )
        if private:
            await self.checkpoint()

    async def outbox_retry(self, item_id: int, delay_s: float, error: str) -> None:
        await self._write_unsynced(
            "UPDATE outbox SET attempts = attempts + 1, due_at = ?, last_error = ? WHERE id = ?",
            (time.time() + delay_s, error[:500], item_id),
        )

    async def outbox_due_now(self, now: float) -> None:
        """Telegram is reachable again: what waited out a network back-off goes now (a 429's wait stays)."""
        await self._write_unsynced(
            "UPDATE outbox SET due_at = ? WHERE status = 'pending' AND due_at > ? AND attempts > 0"
            " AND (last_error IS NULL OR last_error NOT LIKE '429%')",
            (now, now),
        )

    async def outbox_failed(self, item_id: int, error: str, *, private: bool = False) -> None:
        await self._write_unsynced(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?, "
            "result = CASE WHEN private = 1 THEN NULL ELSE result END, "
            f"{_SCRUBBED_IF_PRIVATE} WHERE id = ?",
            (error[:500], item_id),
        )
        if private:
            await self.checkpoint()

    async def checkpoint(self) -> None:
        """Copies the WAL into the database and truncates it to nothing: after a scrub, the older
        versions of the scrubbed pages (a tipster's chat id in a receipt) must not stay in the -wal
        file. A reader holding an old snapshot (a backup) can keep part of it until the next one."""
        async with self._lock:
            await self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def outbox_depth(self) -> int:
        async with self.reading() as conn:
            row = await _one(conn, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
        return int(row[0])

    async def outbox_next_due(self, busy: Collection[int] = ()) -> float | None:
        """When the earliest pending message is due (epoch seconds), or None when nothing waits;
        chats in `busy` (a delivery already under way) are left out."""
        marks = ", ".join("?" * len(busy))
        async with self.reading() as conn:
            row = await _one(
                conn,
                f"SELECT MIN(due_at) FROM outbox WHERE status = 'pending' AND chat_id NOT IN ({marks})",
                tuple(busy),
            )
        return row[0]

    # --- conversation persistence (see handlers/persistence.py) --------------------------------

    async def load_user_data(self) -> dict[int, dict[str, Any]]:
        """Everyone's user data, first removing drafts that were submitted: a crash can come between
        the report's commit and the next save of the person's data, and the draft must not come back."""
        async with self.transaction() as conn:
            await conn.execute(
                "UPDATE user_data SET data = json_remove(data, '$.draft')"
                " WHERE json_extract(data, '$.draft.id') IN (SELECT draft_id FROM reports)"
                " OR json_extract(data, '$.draft.id') IN (SELECT draft_id FROM report_drafts)"
            )
            rows = await (await conn.execute("SELECT user_id, data FROM user_data")).fetchall()
        return {r["user_id"]: json.loads(r["data"]) for r in rows}

    async def save_user_data(self, user_id: int, data_json: str) -> None:
        """Writes one person's user data (already JSON). Durable against a crash of the process but
        not fsynced at once (synchronous=NORMAL): a draft is cheap to lose to a power cut, and this
        write happens on every update."""
        await self._write_unsynced(
            "INSERT INTO user_data (user_id, data) VALUES (?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET data = excluded.data",
            (user_id, data_json),
        )

    async def drop_user_data(self, user_id: int) -> None:
        async with self.transaction() as conn:
            await conn.execute("DELETE FROM user_data WHERE user_id = ?", (user_id,))

    # --- the durable inbox (see handlers/inbox.py) ----------------------------------------------

    async def inbox_receive(self, updates: Sequence[tuple[int, str]], now: float) -> list[int]:
        """Stores (update_id, JSON) pairs not seen before, durably; returns the ids that were new.

        Fsynced (synchronous=FULL): once this returns, Telegram is told the updates arrived and
        will not send them again, so a power cut must not take them either. One commit per batch."""
        if not updates:
            return []
        values = ", ".join("(?, ?, ?)" for _ in updates)
        params = [value for update_id, data in updates for value in (update_id, data, now)]
        async with self.transaction() as conn:  # one statement: one trip to the database thread
            rows = await _fetch(
                conn,
                f"INSERT OR IGNORE INTO inbox (update_id, data, received_at) VALUES {values}"
                " RETURNING update_id",
                params,
            )
        return sorted(r[0] for r in rows)

    async def inbox_done(self, update_id: int, now: float) -> None:
        """Marks an update handled and forgets its content. Not fsynced: a power cut in between only
        has the update handled again, which the handlers recognise (see handlers/report.py)."""
        await self._write_unsynced(
            "UPDATE inbox SET done_at = ?, data = NULL WHERE update_id = ? AND done_at IS NULL",
            (now, update_id),
        )

    async def inbox_pending(self) -> list[tuple[int, str]]:
        """Updates received and not handled (a crash came first), oldest first."""
        async with self.reading() as conn:
            rows = await _fetch(
                conn, "SELECT update_id, data FROM inbox WHERE done_at IS NULL ORDER BY update_id"
            )
        return [(r[0], r[1]) for r in rows]

    async def inbox_prune(self, before: float) -> int:
        """Forgets the ids of updates handled before `before` (Telegram redelivers for at most a day)."""
        async with self.transaction(durable=False) as conn:
            cursor = await conn.execute(
                "DELETE FROM inbox WHERE done_at IS NOT NULL AND done_at < ?", (before,)
            )
            return int(cursor.rowcount)

    # --- incidents and dedupe ------------------------------------------------------------------

    #: The rules of bot/dedupe.py; replace on the instance (e.g. from configuration) before serving.
    dedupe_rules: DedupeRules = DEFAULT_RULES

    async def find_incident_for(self, probe: Probe) -> Decision:
        """Which incident a report like `probe` would join now (read-only; submit_report applies it)."""
        async with self.reading() as conn:
            return await self._find_incident(conn, probe)

    async def incident(self, incident_id: int) -> IncidentRow | None:
        async with self.reading() as conn:
            return await self._incident(conn, incident_id)

    async def incident_reports(self, incident_id: int) -> list[ReportRow]:
        """The reports of an incident, oldest first (after a merge: the target's reports)."""
        async with self.reading() as conn:
            rows = await _fetch(
                conn, "SELECT id FROM reports WHERE incident_id = ? ORDER BY id", (incident_id,)
            )
            return await self._reports(conn, [r["id"] for r in rows])

    async def merge_incidents(self, source: int, target: int, staff_id: int, now: datetime) -> IncidentRow:
        """Staff merge `source` into `target`: its reports move, and its anchor keeps catching new
        reports for `target`. Kept for good: matching only ever places new reports.

        Raises LookupError for an unknown incident and ValueError for a merge that cannot be made
        (the same incident, one already merged, or kinds that never share a card, e.g. a tip).
        """
        async with self.transaction() as conn:
            found = await _fetch(
                conn, "SELECT id, status, anchor_kind FROM incidents WHERE id IN (?, ?)", (source, target)
            )
            pair = {r["id"]: r for r in found}
            if source not in pair or target not in pair:
                raise LookupError(f"no incident {source if source not in pair else target}")
            if source == target or pair[source]["status"] != "open" or pair[target]["status"] != "open":
                raise ValueError("only two different open incidents can be merged")
            if not self.dedupe_rules.compatible(pair[source]["anchor_kind"], pair[target]["anchor_kind"]):
                raise ValueError("these kinds of report never share an incident")
            stamp = now.isoformat()
            await conn.execute("UPDATE reports SET incident_id = ? WHERE incident_id = ?", (target, source))
            await conn.execute(
                "UPDATE incidents SET status = 'merged', merged_into = ?, updated_at = ?"
                " WHERE id = ? OR merged_into = ?",
                (target, stamp, source, source),
            )
            # Suggestions that named the source now name the target; one naming both is settled.
            await conn.execute(
                "INSERT OR IGNORE INTO merge_suggestions (incident_id, other_id, report_id, created_at)"
                " SELECT CASE incident_id WHEN :s THEN :t ELSE incident_id END,"
                "        CASE other_id WHEN :s THEN :t ELSE other_id END, report_id, created_at"
                " FROM merge_suggestions WHERE (incident_id = :s OR other_id = :s)"
                "   AND incident_id != :t AND other_id != :t",
                {"s": source, "t": target},
            )
            await conn.execute(
                "DELETE FROM merge_suggestions WHERE incident_id IN (:s, :t) AND other_id IN (:s, :t)"
                " OR incident_id = :s OR other_id = :s",
                {"s": source, "t": target},
            )
            await conn.execute(_DECISION_SQL, ("merge", target, source, None, staff_id, stamp))
            for incident_id in (source, target):
                await _refresh_incident(conn, incident_id, stamp)
            merged = await self._incident(conn, target)
        assert merged is not None
        return merged

    async def split_report(self, report_id: int, staff_id: int, now: datetime) -> int:
        """Staff move a report out into an incident of its own, anchored on it; returns its id.

        The report is pinned (a staff placement that nothing automatic may change). If it was the
        anchor of its old incident, that incident re-anchors on its earliest remaining report, so
        new reports at the split-out spot go to the new incident rather than back to the old one.
        """
        async with self.transaction() as conn:
            rows = await _fetch(
                conn, f"SELECT incident_id, {_FIX_COLUMNS} FROM reports WHERE id = ?", (report_id,)
            )
            if not rows:
                raise LookupError(f"no report {report_id}")
            old = rows[0]["incident_id"]
            remaining = await _fetch(
                conn,
                f"SELECT id, {_FIX_COLUMNS} FROM reports WHERE incident_id = ? AND id != ?"
                " ORDER BY id LIMIT 1",
                (old, report_id),
            )
            if not remaining:
                raise ValueError("the report is already alone in its incident")
            stamp = now.isoformat()
            # Every anchor on the split-out report that still serves the old incident (its own, or
            # one of an incident merged into it) moves to the old incident's earliest remaining report.
            for (moved,) in await _fetch(
                conn,
                "SELECT id FROM incidents WHERE anchor_report_id = ? AND COALESCE(merged_into, id) = ?",
                (report_id, old),
            ):
                await _set_anchor(conn, moved, _fix(remaining[0]), remaining[0]["id"])
            new = await _insert_incident(conn, _fix(rows[0]), stamp, report_id)
            await conn.execute(
                "UPDATE reports SET incident_id = ?, pinned = 1, match_reason = ?, match_distance_m = NULL"
                " WHERE id = ?",
                (new, MatchReason.STAFF_SPLIT.value, report_id),
            )
            await conn.execute(_DECISION_SQL, ("split", old, new, report_id, staff_id, stamp))
            for incident_id in (old, new):
                await _refresh_incident(conn, incident_id, stamp)
        return new

    @staticmethod
    def bulk_load(conn: sqlite3.Connection, rows: Iterable[BulkReport], batch: int = 50_000) -> int:
        """Imports already-deduplicated history fast: every row becomes a report and its own incident.

        For archives and the benchmark, on a synchronous connection to a migrated database that
        nothing else writes meanwhile (ids are assigned here). One transaction, all or nothing, in
        which the secondary indexes of the three tables are dropped and rebuilt at the end: sorting
        once is several times faster than a million inserts at random places. Returns the number of
        reports loaded.
        """

        def next_id(table: str) -> int:
            return int(conn.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}").fetchone()[0])

        report_id, incident_id = next_id("reports"), next_id("incidents")
        seqs = dict(conn.execute("SELECT year, MAX(seq) FROM reports GROUP BY year").fetchall())
        taken = {code for (code,) in conn.execute(
            "SELECT ref_code FROM reports"
            " UNION ALL SELECT ref_code FROM report_drafts WHERE ref_code IS NOT NULL"
        )}

        def fresh_code() -> str:
            while (code := new_reference_code()) in taken:
                pass
            taken.add(code)
            return code

        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            " AND tbl_name IN ('incidents', 'reports', 'photos')"
        ).fetchall()
        source = iter(rows)
        loaded = 0
        conn.execute("BEGIN")
        try:
            # An incident names its anchor report and the report its incident: check at commit.
            conn.execute("PRAGMA defer_foreign_keys = ON")
            for name, _ in indexes:
                conn.execute(f'DROP INDEX "{name}"')
            while batch_rows := list(itertools.islice(source, batch)):
                incidents, reports, photos = [], [], []
                for row in batch_rows:
                    stamp = row.submitted_at.isoformat()
                    year = row.submitted_at.year
                    seqs[year] = seq = seqs.get(year, 0) + 1
                    seen = epoch_seconds(row.observed_at)
                    fix = Probe(row.kind, row.latitude, row.longitude, row.accuracy_m, seen)
                    observed_s = fix.observed_s
                    incidents.append((incident_id, *_incident_values(fix, stamp, report_id), 1, 1))
                    # Zero-padded so the unique draft_id index is appended to, not inserted into at random.
                    reports.append(
                        (
                            report_id,
                            f"import-{report_id:010d}",
                            year,
                            seq,
                            fresh_code(),
                            row.kind,
                            row.reporter_id,
                            row.latitude,
                            row.longitude,
                            row.accuracy_m,
                            row.observed_at.isoformat(),
                            stamp,
                            incident_id,
                            _reporter_key(row.reporter_id),
                            observed_s,
                            str(uuid.uuid4()),
                        )
                    )
                    for position, (sha, phash) in enumerate(row.photos):
                        photos.append(
                            (
                                report_id,
                                position,
                                "import",
                                f"import-{report_id}-{position}",
                                sha,
                                _signed64(phash),
                                "image/jpeg",
                                0,
                                0,
                                "",
                                "",
                                "",
                                observed_s,
                                "photo",
                                None,
                                None,
                                None,
                            )
                        )
                    report_id += 1
                    incident_id += 1
                conn.executemany(_INSERT_INCIDENT, incidents)
                conn.executemany(
                    "INSERT INTO reports (id, draft_id, year, seq, ref_code, kind, reporter_id, language,"
                    " latitude, longitude, accuracy_m, location_source, observed_at, submitted_at, details,"
                    " notify_reporter, incident_id, reporter_key, observed_s, match_reason, occurrence_id)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, 'zh_Hans', ?, ?, ?, 'import', ?, ?, '{}', 0,"
                    " ?, ?, ?, 'new', ?)",
                    reports,
                )
                conn.executemany(_INSERT_PHOTO, photos)
                loaded += len(batch_rows)
            for _, sql in indexes:
                conn.execute(sql)
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
        return loaded

    async def _find_incident(self, conn: aiosqlite.Connection, probe: Probe) -> Decision:
        rules = self.dedupe_rules
        anchors = await _fetch(conn, ANCHOR_SQL, anchor_params(probe, rules))
        photos = await _fetch(conn, PHOTO_SQL, photo_params(probe, rules)) if _has_photos(probe) else []
        return _decide(probe, anchors, photos, rules)

    async def _find_named_incident(
        self, conn: aiosqlite.Connection, probe: Probe, place_id: str | None
    ) -> Decision:
        """A named-place report (no point) joins the open incident whose anchor names the same place
        without a point, of a kind it may group with, observed within the time window (nearest in
        time first). Once staff give the place a point, its reports have that point and group by
        distance like any other."""
        if not place_id:
            return Decision(None, MatchReason.NEW)
        rules = self.dedupe_rules
        kinds = rules.group_kinds(probe.kind)
        window = max(rules.window_s(probe.kind, k) for k in kinds)
        row = await _first(
            conn,
            """SELECT COALESCE(i.merged_into, i.id) AS live
               FROM incidents i JOIN reports r ON r.id = i.anchor_report_id
               WHERE r.place_id = :place AND r.latitude IS NULL AND r.observed_s BETWEEN :min_s AND :max_s
                 AND i.anchor_kind IN (SELECT value FROM json_each(:kinds))
               ORDER BY abs(r.observed_s - :at), i.id LIMIT 1""",
            {
                "place": place_id,
                "min_s": probe.observed_s - window,
                "max_s": probe.observed_s + window,
                "kinds": json.dumps(kinds),
                "at": probe.observed_s,
            },
        )
        return Decision(row["live"], MatchReason.SAME_PLACE) if row else Decision(None, MatchReason.NEW)

    async def _earlier_same_report(self, conn: aiosqlite.Connection, probe: Probe) -> Candidate | None:
        """The reporter's own earlier report of the same thing (see dedupe.same_report), if any."""
        if probe.reporter_key is None:
            return None
        window = self.dedupe_rules.window_s(probe.kind, probe.kind)
        rows = await _fetch(
            conn,
            f"SELECT incident_id, id, {_FIX_COLUMNS} FROM reports"
            " WHERE reporter_key = ? AND observed_s BETWEEN ? AND ? AND kind = ?"
            " AND latitude IS NOT NULL",  # a named place without a point is not "the same spot"
            (probe.reporter_key, probe.observed_s - window, probe.observed_s + window, probe.kind),
        )
        return same_report(probe, (_candidate(r["incident_id"], r["id"], r) for r in rows), self.dedupe_rules)

    async def _update_earlier(
        self,
        conn: aiosqlite.Connection,
        earlier: Candidate,
        draft: Draft,
        photos: Sequence[StoredPhoto],
        now: datetime,
        code: str,
    ) -> SubmittedReport:
        """Folds a repeat submission into the reporter's earlier report: newer answers replace older
        ones, new photos are appended; place and time stay those of the first report (it may be an
        anchor). The draft id is kept so a replay of this draft is recognised, with a code of its own
        (`code`, which finds the earlier report) so its receipt does not say it was a repeat."""
        assert earlier.report_id is not None
        report_id, stamp = earlier.report_id, now.isoformat()
        first = (await _fetch(conn, "SELECT details FROM reports WHERE id = ?", (report_id,)))[0]
        details = {**json.loads(first["details"]), **draft["answers"]}
        await conn.execute(
            "UPDATE reports SET details = ?, revision = revision + 1, updated_at = ? WHERE id = ?",
            (json.dumps(details, ensure_ascii=False), stamp, report_id),
        )
        known = await _fetch(conn, "SELECT sha256, position FROM photos WHERE report_id = ?", (report_id,))
        seen = {r["sha256"] for r in known}
        fresh = []
        for photo in photos:  # the same picture sent again is not a new photo
            if photo.sha256 not in seen:
                seen.add(photo.sha256)
                fresh.append(photo)
        start = max((r["position"] for r in known), default=-1) + 1
        await _insert_photos(conn, report_id, fresh, earlier.observed_s, start)
        await conn.execute(
            "INSERT INTO report_drafts (draft_id, report_id, submitted_at, ref_code) VALUES (?, ?, ?, ?)",
            (draft["id"], report_id, stamp, code),
        )
        await _refresh_incident(conn, earlier.incident_id, stamp)
        return SubmittedReport(
            report_id,
            code,
            created=True,
            incident_id=earlier.incident_id,
            updated_existing=True,
            match_reason=MatchReason.SAME_REPORTER.value,
        )

    @staticmethod
    async def _joined(
        conn: aiosqlite.Connection,
        incident_id: int,
        report_id: int,
        decision: Decision,
        now: datetime,
    ) -> None:
        """Bookkeeping once a new report is in `incident_id`: the anchor of a new incident, the
        merge suggestions, the counts."""
        stamp = now.isoformat()
        if decision.incident_id is None:
            await conn.execute(
                "UPDATE incidents SET anchor_report_id = ? WHERE id = ?", (report_id, incident_id)
            )
        await conn.executemany(
            "INSERT OR IGNORE INTO merge_suggestions (incident_id, other_id, report_id, created_at)"
            " VALUES (?, ?, ?, ?)",
            [(incident_id, other, report_id, stamp) for other in decision.merge_suggestions],
        )
        await _refresh_incident(conn, incident_id, stamp)

    @staticmethod
    async def _incident(conn: aiosqlite.Connection, incident_id: int) -> IncidentRow | None:
        rows = await _fetch(conn, "SELECT * FROM incidents WHERE id = ?", (incident_id,))
        if not rows:
            return None
        i = rows[0]
        return IncidentRow(
            id=i["id"],
            kind=i["kind"],
            status=i["status"],
            created_at=datetime.fromisoformat(i["created_at"]),
            updated_at=datetime.fromisoformat(i["updated_at"]) if i["updated_at"] else None,
            merged_into=i["merged_into"],
            anchor_report_id=i["anchor_report_id"],
            anchor_latitude=i["anchor_latitude"],
            anchor_longitude=i["anchor_longitude"],
            anchor_accuracy_m=i["anchor_accuracy_m"],
            anchor_observed_s=i["anchor_observed_s"],
            report_count=i["report_count"],
            reporter_count=i["reporter_count"],
            merge_suggestions=await _merge_suggestions(conn, incident_id),
        )

    # --- moderation ----------------------------------------------------------------------------

    async def card_state(self, incident_id: int) -> CardState | None:
        """What the incident's card shows now (a merged incident shows where it went)."""
        async with self.reading() as conn:
            return await self._card_state(conn, incident_id)

    async def _card_state(self, conn: aiosqlite.Connection, incident_id: int) -> CardState | None:
        row = await _first(conn, "SELECT * FROM incidents WHERE id = ?", (incident_id,))
        if row is None:
            return None
        ids = await _fetch(
            conn, "SELECT id FROM reports WHERE incident_id = ? ORDER BY observed_s, id", (incident_id,)
        )
        if not ids and row["merged_into"] is not None:
            # A merged card keeps showing what it was, with a pointer to where its reports went.
            ids = await _fetch(
                conn,
                "SELECT id FROM reports WHERE incident_id = ? ORDER BY observed_s, id",
                (row["merged_into"],),
            )
        reports = tuple(await self._reports(conn, [r["id"] for r in ids]))
        if not reports:
            return None
        return CardState(
            incident_id=incident_id,
            kind=reports[0].kind,
            status=row["status"],
            merged_into=row["merged_into"],
            review=Review(row["review"]),
            reviewer=row["reviewer_name"],
            reviewed_at=datetime.fromisoformat(row["reviewed_at"]) if row["reviewed_at"] else None,
            reject_reason=row["reject_reason"],
            assignee=row["assignee_name"],
            reports=reports,
            merge_suggestions=await _merge_suggestions(conn, incident_id),
            decided=frozenset(json.loads(row["decided_reports"] or "[]")),
            effects_due=(
                datetime.fromtimestamp(row["effects_due"], UTC) if row["effects_due"] is not None else None
            ),
        )

    async def card_message(self, incident_id: int) -> tuple[int, int] | None:
        """(chat_id, message_id) of the incident's card, once it has been posted."""
        async with self.reading() as conn:
            row = await _first(
                conn, "SELECT chat_id, message_id FROM cards WHERE incident_id = ?", (incident_id,)
            )
        return (row[0], row[1]) if row else None

    async def incident_of_card(self, chat_id: int, message_id: int) -> int | None:
        """The incident whose card is this message (a staff reply to a card names it)."""
        async with self.reading() as conn:
            row = await _first(
                conn,
                "SELECT incident_id FROM cards WHERE chat_id = ? AND message_id = ?",
                (chat_id, message_id),
            )
        return int(row[0]) if row else None

    async def card_sent(
        self, incident_id: int, chat_id: int, message_id: int, shown: Sequence[int] = ()
    ) -> None:
        """The card's message, and the reports it shows now (a decision covers those)."""
        # Not fsynced (like the outbox's bookkeeping): a power cut that loses it sends the card again.
        async with self.transaction(durable=False) as conn:
            await conn.execute(
                "INSERT INTO cards (incident_id, chat_id, message_id, shown) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (incident_id) DO UPDATE SET chat_id = excluded.chat_id, message_id = "
                "excluded.message_id, shown = excluded.shown, repost = 0",
                (incident_id, chat_id, message_id, json.dumps(list(shown))),
            )

    async def card_repost(self, incident_id: int) -> bool:
        """Whether the card is to be posted again at the bottom of the group (new work on a decided
        incident)."""
        async with self.reading() as conn:
            row = await _first(conn, "SELECT repost FROM cards WHERE incident_id = ?", (incident_id,))
        return bool(row and row["repost"])

    async def action_tokens(
        self, incident_id: int, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[Any, str], str]:
        """An opaque token per (action, arg) of an incident, made once and reused.

        Not fsynced: tokens are made just before their card is sent, and a power cut loses the
        newest commits only, so losing them also loses the card's `card_sent` (it is sent again,
        with new tokens)."""
        async with self.transaction(durable=False) as conn:
            await conn.executemany(
                "INSERT OR IGNORE INTO card_actions (token, incident_id, action, arg) VALUES (?, ?, ?, ?)",
                [(secrets.token_urlsafe(9), incident_id, str(a), arg) for a, arg in pairs],
            )
            rows = await _fetch(
                conn, "SELECT action, arg, token FROM card_actions WHERE incident_id = ?", (incident_id,)
            )
        by_key = {(r["action"], r["arg"]): r["token"] for r in rows}
        return {(a, arg): by_key[(str(a), arg)] for a, arg in pairs}

    async def card_action(self, token: str) -> tuple[int, str, str] | None:
        """(incident_id, action, arg) behind a button's token, or None for a forged one."""
        async with self.reading() as conn:
            row = await _first(
                conn, "SELECT incident_id, action, arg FROM card_actions WHERE token = ?", (token,)
            )
        return (row[0], row[1], row[2]) if row else None

    async def superseded(self, item: OutboxItem) -> bool:
        """Whether a later refresh of the same card is already queued."""
        async with self.reading() as conn:
            row = await _first(
                conn,
                "SELECT 1 FROM outbox WHERE status = 'pending' AND method = 'card' AND purpose = "
                "? AND id > ?"
                " AND EXISTS (SELECT 1 FROM cards WHERE incident_id = ?) LIMIT 1",
                (item.purpose, item.id, item.payload["incident_id"]),
            )
        return row is not None

    async def review_incident(
        self,
        incident_id: int,
        review: Review,
        staff_id: int,
        staff_name: str,
        reason: str | None,
        now: datetime,
        compose: Callable[[CardState], Sequence[Outgoing]],
        *,
        undo_s: float = 0.0,
        refresh: Sequence[Outgoing] = (),
    ) -> bool:
        """Verifies or rejects a pending incident; False when someone already decided it (first wins).

        The decision covers the reports on the card when staff decided (a report that joined since
        is new work). With `undo_s` its messages (reporters, channels) and compensation cases wait
        that long: :meth:`finalize_due` sends them, :meth:`undo_decision` takes the decision back;
        only `refresh` (the card) goes out now. Without, everything happens in this transaction."""
        async with self.transaction() as conn:
            card = await _first(conn, "SELECT shown FROM cards WHERE incident_id = ?", (incident_id,))
            current = [r["id"] for r in await _fetch(
                conn, "SELECT id FROM reports WHERE incident_id = ? AND status = 'new'", (incident_id,)
            )]
            shown = set(json.loads(card["shown"])) if card and card["shown"] else None
            decided = [i for i in current if shown is None or i in shown] or current
            cursor = await conn.execute(
                "UPDATE incidents SET review = ?, reviewed_by = ?, reviewer_name = ?, reviewed_at = ?,"
                " reject_reason = ?, decided_reports = ?, effects_due = ?"
                " WHERE id = ? AND review = 'pending' AND status = 'open'",
                (
                    review.value,
                    staff_id,
                    staff_name,
                    now.isoformat(),
                    reason,
                    json.dumps(decided),
                    time.time() + undo_s if undo_s > 0 else None,
                    incident_id,
                ),
            )
            changed = cursor.rowcount == 1
            if changed:
                await _audit(conn, now, staff_id, staff_name, incident_id, review.value, reason)
                if undo_s > 0:
                    await self._enqueue(conn, refresh, now)
                else:
                    await self._finalize(conn, incident_id, now, compose)
        return changed

    async def _finalize(
        self,
        conn: aiosqlite.Connection,
        incident_id: int,
        now: datetime,
        compose: Callable[[CardState], Sequence[Outgoing]],
    ) -> None:
        """A decision takes effect: its reports get its status, reporters and channels are told, and
        a verified livestock incident opens its compensation cases."""
        row = await _one(conn, "SELECT review, decided_reports FROM incidents WHERE id = ?", (incident_id,))
        await conn.execute(
            "UPDATE reports SET status = ? WHERE incident_id = ? AND status = 'new'"
            " AND id IN (SELECT value FROM json_each(?))",
            (row["review"], incident_id, row["decided_reports"] or "[]"),
        )
        await conn.execute("UPDATE incidents SET effects_due = NULL WHERE id = ?", (incident_id,))
        state = await self._card_state(conn, incident_id)
        assert state is not None
        await self._enqueue(conn, compose(state), now)
        if state.review is Review.VERIFIED:  # issue 8: a compensation case per livestock owner
            await self._open_cases(conn, replace(state, reports=state.decided_reports), None, None, now)

    async def finalize_due(
        self, now: datetime, compose: Callable[[CardState], Sequence[Outgoing]]
    ) -> list[int]:
        """Decisions whose undo window has passed take effect; returns their incidents."""
        async with self.reading() as conn:
            due = [r[0] for r in await _fetch(
                conn, "SELECT id FROM incidents WHERE effects_due IS NOT NULL AND effects_due <= ?",
                (time.time(),),
            )]
        done = []
        for incident_id in due:
            async with self.transaction() as conn:
                still = await _first(
                    conn, "SELECT 1 FROM incidents WHERE id = ? AND effects_due IS NOT NULL", (incident_id,)
                )
                if still:  # not undone meanwhile
                    await self._finalize(conn, incident_id, now, compose)
                    done.append(incident_id)
        return done

    async def next_effects_due(self) -> float | None:
        """When the next decision takes effect (epoch seconds), if one is waiting."""
        async with self.reading() as conn:
            row = await _one(conn, "SELECT MIN(effects_due) FROM incidents WHERE effects_due IS NOT NULL")
        return row[0]

    async def undo_decision(
        self, incident_id: int, staff_id: int, staff_name: str, now: datetime, refresh: Sequence[Outgoing]
    ) -> bool:
        """Takes back a decision inside its undo window; False once it has taken effect."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE incidents SET review = 'pending', reviewed_by = NULL, reviewer_name = NULL,"
                " reviewed_at = NULL, reject_reason = NULL, decided_reports = NULL, effects_due = NULL"
                " WHERE id = ? AND effects_due IS NOT NULL AND effects_due > ?",
                (incident_id, time.time()),
            )
            if cursor.rowcount != 1:
                return False
            await _audit(conn, now, staff_id, staff_name, incident_id, "undo", None)
            await self._enqueue(conn, refresh, now)
        return True

    async def review_later_report(
        self,
        report_id: int,
        incident_id: int,
        accept: bool,
        staff_id: int,
        staff_name: str,
        reason: str | None,
        now: datetime,
        refresh: Sequence[Outgoing],
        notice: Callable[[CardState, ReportRow], Sequence[Outgoing]],
    ) -> bool:
        """A report that joined a decided incident afterwards: accepted into the incident's decision
        (its reporter told, a livestock owner's case opened) or rejected on its own. False when it
        is no longer waiting (someone else was first, or it moved)."""
        async with self.transaction() as conn:
            incident = await _first(
                conn,
                "SELECT review, decided_reports, effects_due FROM incidents WHERE id = ? AND status = 'open'"
                " AND review != 'pending'",
                (incident_id,),
            )
            decided = json.loads(incident["decided_reports"] or "[]") if incident else []
            waiting = await _first(
                conn, "SELECT 1 FROM reports WHERE id = ? AND incident_id = ? AND status = 'new'",
                (report_id, incident_id),
            )
            if incident is None or report_id in decided or waiting is None:
                return False
            await _audit(
                conn, now, staff_id, staff_name, incident_id, "accept" if accept else "reject_report",
                f"report {report_id}" + (f" {reason}" if reason else ""),
            )
            await self._enqueue(conn, refresh, now)
            if accept:
                await conn.execute(
                    "UPDATE incidents SET decided_reports = ? WHERE id = ?",
                    (json.dumps([*decided, report_id]), incident_id),
                )
                if incident["effects_due"] is not None:
                    return True  # inside the undo window: it takes effect with the others
            status = incident["review"] if accept else Review.REJECTED.value
            await conn.execute("UPDATE reports SET status = ? WHERE id = ?", (status, report_id))
            state = await self._card_state(conn, incident_id)
            report = await self._report(conn, report_id)
            assert state is not None
            await self._enqueue(conn, notice(state, report), now)
            if accept and state.review is Review.VERIFIED:
                await self._open_cases(conn, replace(state, reports=(report,)), staff_id, staff_name, now)
        return True

    async def assign(
        self, incident_id: int, staff_id: int, staff_name: str, now: datetime, refresh: Sequence[Outgoing]
    ) -> None:
        async with self.transaction() as conn:
            await conn.execute(
                "UPDATE incidents SET assignee_id = ?, assignee_name = ? WHERE id = ?",
                (staff_id, staff_name, incident_id),
            )
            await _audit(conn, now, staff_id, staff_name, incident_id, "assign", None)
            await self._enqueue(conn, refresh, now)

    async def record(
        self,
        incident_id: int | None,
        staff_id: int | None,
        staff_name: str,
        action: str,
        detail: str | None,
        now: datetime,
        messages: Sequence[Outgoing] = (),
    ) -> None:
        """An audit entry, and the messages that action sends, in one transaction."""
        async with self.transaction() as conn:
            await _audit(conn, now, staff_id, staff_name, incident_id, action, detail)
            await self._enqueue(conn, messages, now)

    async def audit_entries(self, incident_id: int | None = None) -> list[dict[str, Any]]:
        async with self.reading() as conn:
            rows = await _fetch(
                conn,
                "SELECT * FROM audit_log WHERE ? IS NULL OR incident_id = ? ORDER BY id",
                (incident_id, incident_id),
            )
        return [dict(r) for r in rows]

    async def merge_candidates(self, incident_id: int, limit: int = 6) -> list[int]:
        """Open, undecided incidents of a compatible kind within 10 km of this one, nearest first."""
        async with self.reading() as conn:
            me = await _first(
                conn,
                "SELECT anchor_kind, anchor_latitude, anchor_longitude FROM incidents WHERE id = ?",
                (incident_id,),
            )
            if me is None or me["anchor_latitude"] is None:
                return []
            kinds = DedupeRules().group_kinds(me["anchor_kind"])
            rows = await _fetch(
                conn,
                f"SELECT id, anchor_latitude, anchor_longitude FROM incidents WHERE id != ?"
                f" AND anchor_kind IN ({', '.join('?' * len(kinds))}) AND status = 'open' AND "
                "review = 'pending'"
                " AND anchor_latitude BETWEEN ? AND ? AND anchor_longitude BETWEEN ? AND ?",
                (
                    incident_id,
                    *kinds,
                    me["anchor_latitude"] - 0.1,
                    me["anchor_latitude"] + 0.1,
                    me["anchor_longitude"] - 0.12,
                    me["anchor_longitude"] + 0.12,
                ),
            )
        here = (me["anchor_latitude"], me["anchor_longitude"])
        rows = sorted(rows, key=lambda r: haversine_m(here, (r["anchor_latitude"], r["anchor_longitude"])))
        return [r["id"] for r in rows[:limit]]

    async def merge_into(
        self,
        source: int,
        target: int,
        staff_id: int,
        staff_name: str,
        now: datetime,
        refresh: Callable[[int], Sequence[Outgoing]],
    ) -> bool:
        """Staff merge; False when it can no longer be made (already merged, decided, or incompatible)."""
        try:
            await self.merge_incidents(source, target, staff_id, now)
        except (LookupError, ValueError):
            return False
        await self.record(
            source, staff_id, staff_name, "merge", f"into {target}", now, [*refresh(source), *refresh(target)]
        )
        return True

    async def split_out(
        self,
        report_id: int,
        staff_id: int,
        staff_name: str,
        now: datetime,
        refresh: Callable[[int], Sequence[Outgoing]],
    ) -> bool:
        """Staff split a report into its own incident; False when it cannot be (already alone)."""
        async with self.reading() as conn:
            row = await _first(conn, "SELECT incident_id FROM reports WHERE id = ?", (report_id,))
        if row is None:
            return False
        old = row["incident_id"]
        try:
            new = await self.split_report(report_id, staff_id, now)
        except (LookupError, ValueError):
            return False
        if new == old:
            return False
        await self.record(
            old,
            staff_id,
            staff_name,
            "split",
            f"report {report_id} to {new}",
            now,
            [*refresh(old), *refresh(new)],
        )
        return True

    async def open_question(
        self, incident_id: int, report_id: int, chat_id: int, message_id: int, now: datetime
    ) -> None:
        """Staff were asked to type a question for the reporter of one report (the prompt message)."""
        async with self.transaction() as conn:
            await conn.execute(
                "INSERT INTO questions (incident_id, report_id, prompt_chat_id, prompt_message_id, asked_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (incident_id, report_id, chat_id, message_id, now.isoformat()),
            )

    async def question_by_prompt(self, chat_id: int, message_id: int) -> int | None:
        async with self.reading() as conn:
            row = await _first(
                conn,
                "SELECT id FROM questions WHERE prompt_chat_id = ? AND prompt_message_id = ?"
                " AND report_id IS NOT NULL AND question IS NULL",
                (chat_id, message_id),
            )
        return row[0] if row else None

    async def relay_question(
        self,
        question_id: int,
        text: str,
        staff_id: int,
        staff_name: str,
        now: datetime,
        expires: datetime,
        compose: Callable[[ReportRow, str], Outgoing],
    ) -> ReportRow | None:
        """Queues the question to the one reporter it was meant for; returns their report, or None
        when they cannot be asked (anonymous, or asked already through this prompt)."""
        async with self.transaction() as conn:
            q = await _one(conn, "SELECT * FROM questions WHERE id = ?", (question_id,))
            if q["question"] is not None or q["report_id"] is None:
                return None
            report = await self._report(conn, q["report_id"])
            if report.reporter_id is None or not report.notify_reporter:
                return None
            await conn.execute(
                "UPDATE questions SET question = ?, asked_by = ?, recipient_id = ?, expires_at = ?"
                " WHERE id = ?",
                (text, staff_id, report.reporter_id, expires.isoformat(), question_id),
            )
            detail = f"{report.ref_code}: {text[:480]}"
            await _audit(conn, now, staff_id, staff_name, q["incident_id"], "ask", detail)
            await self._enqueue(conn, [compose(report, f"question:{question_id}:{report.id}")], now)
        return report

    async def open_questions(self, user_id: int, now: datetime) -> list[tuple[int, str]]:
        """(question id, reference code) of the questions this person may still answer, oldest first.
        Questions past their time are closed here, and forget whom they were for."""
        async with self.transaction(durable=False) as conn:
            await conn.execute(
                "UPDATE questions SET closed_at = ?, recipient_id = NULL"
                " WHERE recipient_id = ? AND closed_at IS NULL AND expires_at <= ?",
                (now.isoformat(), user_id, now.isoformat()),
            )
            rows = await _fetch(
                conn,
                "SELECT q.id, r.ref_code FROM questions q JOIN reports r ON r.id = q.report_id"
                " WHERE q.recipient_id = ? AND q.closed_at IS NULL ORDER BY q.id",
                (user_id,),
            )
        return [(r[0], r[1]) for r in rows]

    async def question_replied(self, user_id: int, replied_to: int) -> int | None:
        """The question a reply (Telegram's Reply gesture) answers: the one relayed as that message."""
        async with self.reading() as conn:
            rows = await _fetch(
                conn,
                "SELECT purpose FROM outbox WHERE chat_id = ? AND purpose LIKE 'question:%' AND result = ?",
                (user_id, json.dumps([replied_to])),
            )
        return int(rows[0]["purpose"].split(":")[1]) if rows else None

    async def relay_answer(
        self,
        question_id: int,
        user_id: int,
        now: datetime,
        max_answers: int,
        settle: datetime,
        compose: Callable[[int, str, tuple[int, int] | None], Sequence[Outgoing]],
    ) -> bool:
        """One message of a reporter's answer, queued under the incident's card. After it the question
        stays open only until `settle` (a photo after the text), and closes at `max_answers`, so a
        flood of replies cannot fill the staff group's queue. False: not an open question of theirs."""
        stamp = now.isoformat()
        async with self.transaction() as conn:
            q = await _first(
                conn,
                "SELECT * FROM questions WHERE id = ? AND recipient_id = ? AND closed_at IS NULL"
                " AND expires_at > ? AND answers < ?",
                (question_id, user_id, stamp, max_answers),
            )
            if q is None:
                return False
            closing = q["answers"] + 1 >= max_answers
            await conn.execute(
                "UPDATE questions SET answers = answers + 1, expires_at = MIN(expires_at, ?),"
                " closed_at = CASE WHEN ? THEN ? END,"
                " recipient_id = CASE WHEN ? THEN NULL ELSE recipient_id END"
                " WHERE id = ?",
                (settle.isoformat(), closing, stamp, closing, question_id),
            )
            # The report's incident now (it may have been merged or split since the question).
            report = await _one(
                conn, "SELECT ref_code, incident_id FROM reports WHERE id = ?", (q["report_id"],)
            )
            card = await _first(
                conn, "SELECT chat_id, message_id FROM cards WHERE incident_id = ?", (report["incident_id"],)
            )
            await self._enqueue(
                conn,
                compose(report["incident_id"], report["ref_code"], (card[0], card[1]) if card else None),
                now,
            )
        return True

    # --- places staff taught (issue 22) -----------------------------------------------------------

    async def place_points(self) -> list[PlacePoint]:
        """Every place staff gave a point, by place id."""
        async with self.reading() as conn:
            rows = await _fetch(conn, "SELECT * FROM place_points ORDER BY place_id")
        return [
            PlacePoint(
                r["place_id"], r["latitude"], r["longitude"], r["set_by"], r["set_by_name"],
                datetime.fromisoformat(r["set_at"]), r["source"],
            )
            for r in rows
        ]

    async def set_place_point(
        self,
        place_id: str,
        latitude: float,
        longitude: float,
        *,
        accuracy_m: float,
        staff_id: int | None,
        staff_name: str | None,
        source: str,
        now: datetime,
        incident_id: int | None = None,
        refresh: Callable[[int], Sequence[Outgoing]] | None = None,
    ) -> list[int]:
        """Sets or moves a place's point (audited), and gives it, with ``accuracy_m``, to every report
        that named the place without a point; their incidents are anchored there too. Returns those
        incidents (their cards are refreshed through ``refresh``)."""
        stamp = now.isoformat()
        async with self.transaction() as conn:
            before = await _first(
                conn, "SELECT latitude, longitude FROM place_points WHERE place_id = ?", (place_id,)
            )
            await conn.execute(
                """INSERT INTO place_points
                       (place_id, latitude, longitude, set_by, set_by_name, set_at, source)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (place_id) DO UPDATE SET latitude = excluded.latitude,
                       longitude = excluded.longitude, set_by = excluded.set_by,
                       set_by_name = excluded.set_by_name, set_at = excluded.set_at,
                       source = excluded.source""",
                (place_id, latitude, longitude, staff_id, staff_name, stamp, source),
            )
            detail: dict[str, Any] = {"place": place_id, "latitude": latitude, "longitude": longitude}
            detail["source"] = source
            if before:
                detail["was"] = [before["latitude"], before["longitude"]]
            await _audit(conn, now, staff_id, staff_name, incident_id, "place",
                         json.dumps(detail, ensure_ascii=False))
            rows = await _fetch(
                conn,
                "SELECT id, incident_id FROM reports WHERE place_id = ? AND latitude IS NULL",
                (place_id,),
            )
            await conn.execute(
                "UPDATE reports SET latitude = ?, longitude = ?, accuracy_m = ?, location_source = 'place',"
                " updated_at = ? WHERE place_id = ? AND latitude IS NULL",
                (latitude, longitude, accuracy_m, stamp, place_id),
            )
            ids = json.dumps([r["id"] for r in rows])
            await conn.execute(
                "UPDATE incidents SET anchor_latitude = ?, anchor_longitude = ?, anchor_accuracy_m = ?,"
                " anchor_cell = ? WHERE anchor_latitude IS NULL"
                " AND anchor_report_id IN (SELECT value FROM json_each(?))",
                (latitude, longitude, accuracy_m, grid_cell(latitude, longitude), ids),
            )
            incidents = sorted({r["incident_id"] for r in rows if r["incident_id"] is not None})
            if refresh is not None:
                live = await _fetch(
                    conn,
                    "SELECT DISTINCT COALESCE(merged_into, id) AS live FROM incidents"
                    " WHERE id IN (SELECT value FROM json_each(?))",
                    (json.dumps(incidents),),
                )
                for row in live:
                    await self._enqueue(conn, refresh(row["live"]), now)
        return incidents

    async def alert_subscribers(self, township_id: str) -> list[tuple[int, str]]:
        """(user_id, language) of people who asked /alerts for this township (kept in their user data)."""
        async with self.reading() as conn:
            rows = await _fetch(
                conn,
                "SELECT user_id, COALESCE(json_extract(data, '$.lang'), 'zh_Hans') FROM user_data"
                " WHERE EXISTS (SELECT 1 FROM json_each(data, '$.alerts') WHERE value = ?)",
                (township_id,),
            )
        return [(r[0], r[1]) for r in rows]

    async def already_done(self, incident_id: int, action: str) -> bool:
        """Whether the audit log already has this action for the incident (one warning per incident)."""
        async with self.reading() as conn:
            row = await _first(
                conn,
                "SELECT 1 FROM audit_log WHERE incident_id = ? AND action = ? LIMIT 1",
                (incident_id, action),
            )
        return row is not None

    async def pending_incidents(self, limit: int = 30) -> list[CardState]:
        """Open incidents waiting for a decision, oldest first."""
        async with self.reading() as conn:
            # Undecided incidents, and decided ones with reports that joined after the decision.
            rows = await _fetch(
                conn,
                "SELECT id FROM incidents i WHERE status = 'open' AND review = 'pending'"
                " AND EXISTS (SELECT 1 FROM reports r WHERE r.incident_id = i.id AND r.hidden = 0)"
                " UNION SELECT i.id FROM reports r JOIN incidents i ON i.id = r.incident_id"
                " WHERE r.status = 'new' AND r.hidden = 0 AND i.status = 'open' AND i.review != 'pending'"
                " AND r.id NOT IN (SELECT value FROM json_each(COALESCE(i.decided_reports, '[]')))"
                " ORDER BY 1 LIMIT ?",
                (limit,),
            )
            states = [await self._card_state(conn, r["id"]) for r in rows]
        return [s for s in states if s is not None]

    async def reports_since(self, since: datetime) -> list[ReportRow]:
        """Reports submitted since a moment (for /stats)."""
        async with self.reading() as conn:
            rows = await _fetch(
                conn, "SELECT id FROM reports WHERE submitted_at >= ? ORDER BY id", (since.isoformat(),)
            )
            return await self._reports(conn, [r["id"] for r in rows])

    # --- export --------------------------------------------------------------------------------

    async def verified_reports(self, since: datetime | None = None) -> list[ReportRow]:
        """Reports staff verified, of incidents that are verified and open (merged ones' reports have
        moved to their target), oldest observation first; every kind (bot/export.py drops tips).

        A report that joined a verified incident afterwards keeps status 'new' until staff decide
        again, so it is not here. `since`: only observations made at or after that moment.
        """
        async with self.reading() as conn:
            rows = await _fetch(
                conn,
                "SELECT r.id FROM reports r JOIN incidents i ON i.id = r.incident_id"
                " WHERE i.review = 'verified' AND i.status = 'open' AND r.status = 'verified'"
                " AND (:since IS NULL OR r.observed_s >= :since)"
                " ORDER BY r.observed_s, r.id",
                {"since": epoch_seconds(since) if since is not None else None},
            )
            return await self._reports(conn, [r["id"] for r in rows])

    # --- abuse, privacy, backups ---------------------------------------------------------------

    @staticmethod
    def person_key(user_id: int) -> str:
        """The key a Telegram account's own (not anonymous) reports and bans carry."""
        key = _reporter_key(user_id)
        assert key is not None
        return key

    async def ban(
        self, key: str, staff_id: int, staff_name: str, reason: str | None, detail: str, now: datetime
    ) -> int | None:
        """Bans a person (a key from :meth:`person_key` or an anonymous tip's hash) and hides their reports
        from the staff queue; audited. Returns how many reports were hidden, None if already banned."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO bans (ban_key, banned_by, banned_at, reason) VALUES (?, ?, ?, ?)",
                (key, staff_id, now.isoformat(), reason),
            )
            if cursor.rowcount != 1:
                return None
            hidden = await conn.execute("UPDATE reports SET hidden = 1 WHERE reporter_key = ?", (key,))
            await _audit(conn, now, staff_id, staff_name, None, "ban", detail[:500])
        return hidden.rowcount

    async def unban(self, key: str, staff_id: int, staff_name: str, detail: str, now: datetime) -> bool:
        """Lifts a ban and shows the person's reports again; audited. False if they were not banned."""
        async with self.transaction() as conn:
            cursor = await conn.execute("DELETE FROM bans WHERE ban_key = ?", (key,))
            if cursor.rowcount != 1:
                return False
            await conn.execute("UPDATE reports SET hidden = 0 WHERE reporter_key = ?", (key,))
            await _audit(conn, now, staff_id, staff_name, None, "unban", detail[:500])
        return True

    async def is_banned(self, *keys: str) -> bool:
        async with self.reading() as conn:
            row = await _first(
                conn,
                "SELECT 1 FROM bans WHERE ban_key IN (SELECT value FROM json_each(?)) LIMIT 1",
                (json.dumps(keys),),
            )
        return row is not None

    async def banned_keys(self) -> set[str]:
        """Every banned key (a short list), for the gatekeeper's cache."""
        async with self.reading() as conn:
            rows = await _fetch(conn, "SELECT ban_key FROM bans")
        return {r[0] for r in rows}

    async def report_key(self, ref_code: str) -> str | None:
        """Whose report this is, as a ban key; None for an unknown code or a web report (no person)."""
        async with self.reading() as conn:
            row = await _first(
                conn, f"SELECT reporter_key FROM reports WHERE {_BY_CODE}", (ref_code, ref_code)
            )
        return row[0] if row else None

    async def recent_report_count(self, user_id: int, anonymous_key: str | None, since: datetime) -> int:
        """Reports a person submitted since `since`: under their id, and their anonymous tips by hash."""
        async with self.reading() as conn:
            row = await _first(
                conn,
                "SELECT COUNT(*) FROM reports WHERE (reporter_id = ? OR reporter_key = ?)"
                " AND julianday(submitted_at) >= julianday(?)",
                (user_id, anonymous_key, since.isoformat()),
            )
        assert row is not None
        return int(row[0])

    async def forget_person(
        self,
        user_id: int,
        anonymous_key: str | None,
        now: datetime,
        draft_files: Sequence[tuple[str, str]] = (),
        names: Sequence[str] = (),
    ) -> Forgotten:
        """/forgetme: removes a person's identity and keeps the scientific record.

        Their reports lose id, name, username, the owner's name and phone; the person's key becomes a
        random one (the reports still count as one person in their incidents, and stay hidden if banned);
        kind, place, time, answers, incidents and the photos' stripped copies stay. Original photos are
        personal data (EXIF can hold the device, its owner and the home position), so they are deleted
        unless another person's report has the same file; their rows then point at the stripped copy.
        Drafts, settings, the messages queued to them and their id in delivered staff posts go too.
        A ban is kept (its key names the account only so its messages stay ignored). `draft_files` are
        (sha256, path) of the files of a draft they had not sent: deleted too unless something else uses
        them. Returns the files to delete (after the commit) and how many reports were anonymised.

        Everything it can (issue 19 §4): the person's id, their names (`names`: what Telegram calls them
        now, plus every name and username their reports stored) and their phone numbers are also
        removed from their compensation cases (owner name, phone and Telegram id: the cases stay as
        anonymous records of a loss, with amounts and dates; the posted case card is re-rendered without
        them), from the free text of their reports, from messages still waiting in the outbox (a staff
        card not yet sent is sent without them) and from the copies of delivered ones, from staff
        questions and from audit details. A ban keeps its key (see above).
        """
        person = _reporter_key(user_id)
        keys = [k for k in (person, anonymous_key) if k]
        day = now.date().isoformat()  # only the day: a time could link the reports forgotten together
        async with self.reading() as conn:
            # Zeroes freed content, so what is removed does not linger in the file (Debian builds do
            # this by default; other builds may not).
            await conn.execute("PRAGMA secure_delete = ON")
        async with self.transaction() as conn:
            report_ids = [
                r[0]
                for r in await _fetch(
                    conn,
                    "SELECT id FROM reports WHERE reporter_id = ? OR reporter_key IN"
                    " (SELECT value FROM json_each(?))",
                    (user_id, json.dumps(keys)),
                )
            ]
            ids = json.dumps(report_ids)
            needles = await _person_needles(conn, user_id, ids, names)
            await _scrub_person(conn, user_id, ids, needles)
            # Two new random keys: their own reports and their anonymous tips must not become linked
            # (a livestock report's place could otherwise point at who sent a tip). No timestamp is
            # written for the same reason.
            await conn.execute(
                "UPDATE reports SET reporter_id = NULL, reporter_name = NULL, reporter_username = NULL,"
                " notify_reporter = 0, reporter_key = CASE WHEN reporter_key IS ? THEN ? ELSE ? END,"
                " details = json_remove(details, '$.phone', '$.owner_name')"
                " WHERE id IN (SELECT value FROM json_each(?))",
                (anonymous_key, f"gone:{secrets.token_hex(8)}", f"gone:{secrets.token_hex(8)}", ids),
            )
            # Questions staff asked them: closed, and no longer saying whom they were for.
            await conn.execute(
                "UPDATE questions SET recipient_id = NULL, closed_at = COALESCE(closed_at, ?)"
                " WHERE recipient_id = ?",
                (day, user_id),
            )
            originals = [
                (r[0], r[1])
                for r in await _fetch(
                    conn,
                    "SELECT DISTINCT sha256, original_path FROM photos WHERE original_deleted_at IS NULL"
                    " AND report_id IN (SELECT value FROM json_each(?))",
                    (ids,),
                )
            ]
            await conn.execute(
                "UPDATE photos SET original_path = derived_path, original_deleted_at = ?"
                " WHERE original_deleted_at IS NULL AND report_id IN (SELECT value FROM json_each(?))",
                (day, ids),
            )
            await conn.execute("DELETE FROM user_data WHERE user_id = ?", (user_id,))
            # Messages to them: nothing more is sent, and nothing says they were sent.
            await conn.execute(
                "UPDATE outbox SET chat_id = 0, payload = '{}', result = NULL,"
                " status = CASE status WHEN 'pending' THEN 'failed' ELSE status END,"
                " last_error = CASE status WHEN 'pending' THEN 'forgotten' ELSE last_error END"
                " WHERE chat_id = ?",
                (user_id,),
            )
            # Staff posts already delivered (trusted routes) name them with a tg:// link: drop the copy.
            await conn.execute(
                "UPDATE outbox SET payload = '{}' WHERE status != 'pending' AND instr(payload, ?) > 0",
                (f'tg://user?id={user_id}\\"',),
            )
            await conn.execute(
                "UPDATE audit_log SET staff_id = NULL, staff_name = NULL"
                " WHERE staff_id = ? AND action = 'denied'",
                (user_id,),
            )
            # Delivered rows that named them otherwise (a card with their name, a case card with their
            # phone): the copy goes, as for the tg:// links above. Telegram's answer (`result`) too.
            for needle in needles:
                for form in _needle_forms(needle):
                    await conn.execute(
                        "UPDATE outbox SET payload = '{}', result = NULL"
                        " WHERE status != 'pending' AND (instr(payload, ?) > 0 OR instr(result, ?) > 0)",
                        (form, form),
                    )
            await _audit(conn, now, None, None, None, "forget", f"{len(report_ids)} reports anonymised")
            delete = await self._unreferenced(conn, [*originals, *draft_files])
        async with self.reading() as conn:
            # The write-ahead log still holds the old pages: fold them in and empty it now.
            await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return Forgotten(len(report_ids), delete)

    async def expire_rejected_originals(self, before: datetime, now: datetime) -> list[str]:
        """The retention rule: original photos of reports staff rejected before `before` stop being kept.

        Their rows point at the stripped copy from now on; returns the files nothing references any more
        (another report, or a draft being written, may share a file: photos are stored by content).
        """
        async with self.transaction() as conn:
            rows = await _fetch(
                conn,
                "SELECT p.id, p.sha256, p.original_path FROM photos p JOIN reports r ON r.id = p.report_id"
                " LEFT JOIN incidents i ON i.id = r.incident_id"
                " WHERE r.status = 'rejected' AND p.original_deleted_at IS NULL"
                " AND julianday(COALESCE(i.reviewed_at, r.submitted_at)) < julianday(?)",
                (before.isoformat(),),
            )
            await conn.execute(
                "UPDATE photos SET original_path = derived_path, original_deleted_at = ?"
                " WHERE id IN (SELECT value FROM json_each(?))",
                (now.isoformat(), json.dumps([r["id"] for r in rows])),
            )
            return await self._unreferenced(conn, sorted({(r["sha256"], r["original_path"]) for r in rows}))

    async def media_in_use(self) -> set[str]:
        """The file names (not paths) of every photo file a report or a saved draft refers to."""
        async with self.reading() as conn:
            rows = await _fetch(
                conn,
                "SELECT original_path AS path FROM photos UNION SELECT derived_path FROM photos"
                " UNION SELECT thumbnail_path FROM photos"
                " UNION SELECT value FROM user_data, json_tree(user_data.data)"
                " WHERE json_tree.key IN ('original_path', 'derived_path', 'thumbnail_path')",
            )
        return {Path(r["path"]).name for r in rows if r["path"]}

    async def unreferenced_files(self, files: Sequence[tuple[str, str]]) -> list[str]:
        """The paths of `files` ((sha256, path)) that no stored photo and no saved draft uses: what a
        cancelled draft may delete (photos are stored by content, so another report may share one)."""
        async with self.reading() as conn:
            return await self._unreferenced(conn, files)

    @staticmethod
    async def _unreferenced(conn: aiosqlite.Connection, files: Sequence[tuple[str, str]]) -> list[str]:
        """The paths of `files` ((sha256, path): files are named by content) that no photo row and no
        saved draft still uses."""
        unused = []
        for sha256, path in dict.fromkeys(files):
            used = await _first(
                conn,
                "SELECT 1 FROM photos WHERE sha256 = ? AND ? IN (original_path, derived_path, "
                "thumbnail_path)"
                " UNION ALL SELECT 1 FROM user_data WHERE instr(data, ?) > 0 LIMIT 1",
                (sha256, path, json.dumps(path, ensure_ascii=False)),
            )
            if used is None:
                unused.append(path)
        return unused

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

    # --- compensation --------------------------------------------------------------------------
    # Livestock compensation cases (issue 8). The rules, deadlines and texts are in bot/compensation.py,
    # imported inside the methods (it imports this module for Outgoing and ReportRow).

    #: A bot.compensation.CasePlan (configured numbers, holiday calendar, time zone); replace on the
    #: instance from configuration before serving (handlers/compensation.py does, in post_init).
    #: None: the defaults (Shanxi's 5/10/10 working days, the bundled calendar, Asia/Shanghai).
    compensation_plan: Any = None

    def case_plan(self) -> Any:
        from bot.compensation import default_plan

        return self.compensation_plan or default_plan()

    async def _open_cases(
        self,
        conn: aiosqlite.Connection,
        state: CardState,
        staff_id: int | None,
        staff_name: str | None,
        now: datetime,
    ) -> list[int]:
        """Inside review_incident's transaction: a case per owner of the incident's livestock reports
        (none for other kinds), each owner told through the outbox. A case that exists stays as it is."""
        from bot.compensation import new_cases, owner_messages

        plan = self.case_plan()
        opened = []
        for values in new_cases(state.reports, now, plan):
            columns = ", ".join(values)
            cursor = await conn.execute(
                f"INSERT OR IGNORE INTO cases ({columns}) VALUES ({', '.join('?' * len(values))})",
                tuple(values.values()),
            )
            if cursor.rowcount != 1 or cursor.lastrowid is None:
                continue
            case = await self._case(conn, cursor.lastrowid)
            assert case is not None
            opened.append(case.id)
            await _audit(
                conn,
                now,
                staff_id,
                staff_name,
                state.incident_id,
                "case_open",
                f"{case.code} {case.owner_name}",
            )
            await self._enqueue(conn, owner_messages(case, "opened", plan), now)
        return opened

    @staticmethod
    async def _case(conn: aiosqlite.Connection, case_id: int) -> Any:
        from bot.compensation import Case

        row = await _first(conn, "SELECT * FROM cases WHERE id = ?", (case_id,))
        if row is None:
            return None
        counted = await _first(conn, "SELECT COUNT(*) FROM case_photos WHERE case_id = ?", (case_id,))
        return Case.from_row(dict(row), counted[0] if counted else 0)

    async def _cases(self, conn: aiosqlite.Connection, sql: str, params: Any = ()) -> list[Any]:
        rows = await _fetch(conn, sql, params)
        return [await self._case(conn, r[0]) for r in rows]

    async def case(self, case_id: int) -> Any:
        """The case (a bot.compensation.Case), or None."""
        async with self.reading() as conn:
            return await self._case(conn, case_id)

    async def case_by_report_code(self, code: str) -> Any:
        """The case a report belongs to: its incident's only case, or the owner's case it opened."""
        async with self.reading() as conn:
            report = await _first(conn, f"SELECT id, incident_id FROM reports WHERE {_BY_CODE}", (code, code))
            if report is None:
                return None
            cases = await self._cases(
                conn, "SELECT id FROM cases WHERE incident_id = ? ORDER BY id", (report["incident_id"],)
            )
        if len(cases) == 1:
            return cases[0]
        return next((c for c in cases if c.report_id == report["id"]), None)

    async def case_by_card(self, chat_id: int, message_id: int) -> Any:
        async with self.reading() as conn:
            found = await self._cases(
                conn,
                "SELECT id FROM cases WHERE card_chat_id = ? AND card_message_id = ?",
                (chat_id, message_id),
            )
        return found[0] if found else None

    async def open_cases(self) -> list[Any]:
        """Every case not closed yet, oldest first (/cases, reminders, the digest)."""
        async with self.reading() as conn:
            return await self._cases(conn, "SELECT id FROM cases WHERE state != 'closed' ORDER BY id")

    async def cases_of(self, user_id: int, limit: int = 20) -> list[Any]:
        """The cases a person is told about (/myreports), newest first."""
        async with self.reading() as conn:
            return await self._cases(
                conn, "SELECT id FROM cases WHERE reporter_id = ? ORDER BY id DESC LIMIT ?", (user_id, limit)
            )

    async def cases_in_month(self, start: str, end: str) -> list[Any]:
        """Cases opened, or paid, on a day in [start, end) (ISO dates): the monthly report."""
        async with self.reading() as conn:
            return await self._cases(
                conn,
                "SELECT id FROM cases WHERE reported_on >= :s AND reported_on < :e"
                " UNION SELECT id FROM cases WHERE paid_on >= :s AND paid_on < :e ORDER BY 1",
                {"s": start, "e": end},
            )

    async def change_case(
        self, case_id: int, staff_id: int | None, staff_name: str, now: datetime, step: Callable[[Any], Any]
    ) -> Any:
        """Applies one staff step in one transaction: `step(case)` returns a bot.compensation.CaseChange
        (or raises IllegalTransition / CaseInputError, and nothing is written). The update only lands
        if the case is still in the state the step was decided on (of two staff, the first wins; the
        second's step is decided again on the new state). The card is marked for refresh, the step is
        audited and the owner's notice queued. Returns the case after the step; LookupError if unknown."""
        from bot.compensation import CASE_COLUMNS, owner_messages

        async with self.transaction() as conn:
            case = await self._case(conn, case_id)
            if case is None:
                raise LookupError(f"no case {case_id}")
            change = step(case)
            fields = dict(change.fields)
            if change.state is not None:
                fields["state"] = change.state.value
            unknown = set(fields) - CASE_COLUMNS
            assert not unknown, unknown
            sets = "".join(f"{name} = :{name}, " for name in fields)
            cursor = await conn.execute(
                f"UPDATE cases SET {sets}updated_at = :updated_at, card_version = card_version + 1"
                " WHERE id = :id AND state = :old",
                {**fields, "updated_at": now.isoformat(), "id": case_id, "old": case.state.value},
            )
            assert cursor.rowcount == 1  # the state was read in this transaction
            after = await self._case(conn, case_id)
            await _audit(
                conn,
                now,
                staff_id,
                staff_name,
                case.incident_id,
                f"case_{change.action}",
                f"{case.code} {case.state.value}->{after.state.value} {change.detail}".strip()[:500],
            )
            await self._enqueue(conn, owner_messages(after, change.notice, self.case_plan()), now)
        return after

    async def add_case_photo(
        self,
        case_id: int,
        file_id: str,
        file_unique_id: str,
        staff_id: int | None,
        staff_name: str,
        now: datetime,
    ) -> bool:
        """A survey photo (kept as Telegram's file id); False when the same photo was already added."""
        async with self.transaction() as conn:
            case = await self._case(conn, case_id)
            if case is None:
                raise LookupError(f"no case {case_id}")
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO case_photos (case_id, file_id, file_unique_id, added_by, added_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (case_id, file_id, file_unique_id, staff_id, now.isoformat()),
            )
            if cursor.rowcount != 1:
                return False
            await conn.execute(
                "UPDATE cases SET card_version = card_version + 1, updated_at = ? WHERE id = ?",
                (now.isoformat(), case_id),
            )
            await _audit(
                conn,
                now,
                staff_id,
                staff_name,
                case.incident_id,
                "case_photo",
                f"{case.code} {file_unique_id}",
            )
        return True

    async def case_photo_ids(self, case_id: int) -> list[str]:
        async with self.reading() as conn:
            rows = await _fetch(
                conn, "SELECT file_id FROM case_photos WHERE case_id = ? ORDER BY id", (case_id,)
            )
        return [r[0] for r in rows]

    async def case_tokens(self, case_id: int, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """An opaque token per (action, arg) of a case card's buttons, made once and reused."""
        async with self.transaction() as conn:
            await conn.executemany(
                "INSERT OR IGNORE INTO case_actions (token, case_id, action, arg) VALUES (?, ?, ?, ?)",
                [(secrets.token_urlsafe(9), case_id, a, arg) for a, arg in pairs],
            )
            rows = await _fetch(
                conn, "SELECT action, arg, token FROM case_actions WHERE case_id = ?", (case_id,)
            )
        by_key = {(r["action"], r["arg"]): r["token"] for r in rows}
        return {pair: by_key[pair] for pair in pairs}

    async def case_action(self, token: str) -> tuple[int, str, str] | None:
        """(case_id, action, arg) behind a case button's token, or None for a forged one."""
        async with self.reading() as conn:
            row = await _first(
                conn, "SELECT case_id, action, arg FROM case_actions WHERE token = ?", (token,)
            )
        return (row[0], row[1], row[2]) if row else None

    async def case_cards_due(self, limit: int = 20) -> list[tuple[int, int]]:
        """(case_id, card_version) of the case cards to post or refresh."""
        async with self.reading() as conn:
            rows = await _fetch(
                conn,
                "SELECT id, card_version FROM cases WHERE card_version > card_sent_version"
                " ORDER BY id LIMIT ?",
                (limit,),
            )
        return [(r[0], r[1]) for r in rows]

    async def case_card_sent(self, case_id: int, version: int, chat_id: int, message_id: int) -> None:
        """The card shows `version` now (a change made while it was sent leaves it due again)."""
        async with self.transaction() as conn:
            await conn.execute(
                "UPDATE cases SET card_chat_id = ?, card_message_id = ?,"
                " card_sent_version = MAX(card_sent_version, ?) WHERE id = ?",
                (chat_id, message_id, version, case_id),
            )

    async def repost_case_card(self, case_id: int) -> bool:
        """Posts the card again as a new message (the old one is left as it is)."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE cases SET card_message_id = NULL, card_version = card_version + 1 WHERE id = ?",
                (case_id,),
            )
        return cursor.rowcount == 1

    async def remind_cases(
        self,
        keys: dict[int, list[str]],
        messages: Sequence[Outgoing],
        now: datetime,
        refresh_cards: bool = False,
    ) -> None:
        """Records the reminders sent per case (each key once) and queues the messages, in one
        transaction; `refresh_cards` marks every open case's card for refresh (its countdowns)."""
        async with self.transaction() as conn:
            if refresh_cards:
                await conn.execute("UPDATE cases SET card_version = card_version + 1 WHERE state != 'closed'")
            for case_id, new in keys.items():
                row = await _first(conn, "SELECT incident_id, reminded FROM cases WHERE id = ?", (case_id,))
                if row is None:
                    continue
                known = [k for k in (row["reminded"] or "").split(",") if k]
                await conn.execute(
                    "UPDATE cases SET reminded = ? WHERE id = ?",
                    (",".join(known + [k for k in new if k not in known]), case_id),
                )
                await _audit(
                    conn,
                    now,
                    None,
                    None,
                    row["incident_id"],
                    "case_remind",
                    f"C{case_id} {' '.join(new)}"[:500],
                )
            await self._enqueue(conn, messages, now)


# --- /forgetme helpers (SQL stays in this module) -------------------------------------------------

#: What a forgotten person's name, phone or id is replaced with inside a longer text.
FORGOTTEN_MARK = "—"


async def _person_needles(
    conn: aiosqlite.Connection, user_id: int, report_ids: str, names: Sequence[str]
) -> list[str]:
    """Every string that names the person: id, names and usernames, phone numbers (longest first)."""
    found: set[str] = {str(user_id), *names}
    for row in await _fetch(
        conn,
        "SELECT reporter_name, reporter_username, json_extract(details, '$.phone'),"
        " json_extract(details, '$.owner_name') FROM reports WHERE id IN (SELECT value FROM json_each(?))",
        (report_ids,),
    ):
        found.update(str(v) for v in row if v)
        if row[1]:
            found.add("@" + str(row[1]))
    for row in await _fetch(
        conn,
        "SELECT owner_name, phone FROM cases WHERE reporter_id = ?"
        " OR report_id IN (SELECT value FROM json_each(?))",
        (user_id, report_ids),
    ):
        found.update(str(v) for v in row if v)
    # A phone is found however it was spaced; very short names are left alone (they would match
    # inside other people's words).
    for text in list(found):
        digits = "".join(ch for ch in text if ch.isdigit())
        if len(digits) >= 7 and digits != text:
            found.add(digits)
    return sorted((n.strip() for n in found if len(n.strip()) >= 2), key=len, reverse=True)


def _needle_forms(needle: str) -> list[str]:
    """The needle as text and as it appears inside JSON written with ensure_ascii (Telegram results)."""
    escaped = json.dumps(needle)[1:-1]
    return [needle] if escaped == needle else [needle, escaped]


def _scrub_text(text: str, needles: Sequence[str]) -> str:
    for needle in needles:
        text = text.replace(needle, FORGOTTEN_MARK)
    return text


def _scrub_value(value: Any, needles: Sequence[str], user_id: int) -> Any:
    """A JSON value with every needle in its strings replaced and the person's id as a number zeroed."""
    if isinstance(value, str):
        return _scrub_text(value, needles)
    if isinstance(value, list):
        return [_scrub_value(v, needles, user_id) for v in value]
    if isinstance(value, dict):
        return {k: _scrub_value(v, needles, user_id) for k, v in value.items()}
    if isinstance(value, int) and not isinstance(value, bool) and value == user_id:
        return 0
    return value


def _mentions(column: str, needles: Sequence[str]) -> tuple[str, list[str]]:
    """SQL (and its parameters) true when `column` contains any form of any needle."""
    forms = [form for needle in needles for form in _needle_forms(needle)]
    return "(" + " OR ".join(f"instr({column}, ?) > 0" for _ in forms) + ")", forms


async def _scrub_person(
    conn: aiosqlite.Connection, user_id: int, report_ids: str, needles: Sequence[str]
) -> None:
    """Removes the person from their cases, their reports' texts, pending messages, questions, audit."""
    # Compensation cases: anonymised (see Store.forget_person), the card re-rendered without them.
    cases = await _fetch(
        conn,
        "SELECT id, findings, close_note, deny_reason FROM cases WHERE reporter_id = ?"
        " OR report_id IN (SELECT value FROM json_each(?))",
        (user_id, report_ids),
    )
    for case in cases:
        await conn.execute(
            "UPDATE cases SET owner_name = ?, phone = NULL, reporter_id = NULL, owner_key = ?,"
            " findings = ?, close_note = ?, deny_reason = ?, card_version = card_version + 1 WHERE id = ?",
            (
                FORGOTTEN_MARK,
                f"gone:{secrets.token_hex(8)}",
                *(_scrub_text(case[k], needles) if case[k] else case[k] for k in ("findings", "close_note",
                                                                                  "deny_reason")),
                case["id"],
            ),
        )
    # Their own words may name them ("call me on 139..."): the free text of their reports.
    for report in await _fetch(
        conn, "SELECT id, details, place_name FROM reports WHERE id IN (SELECT value FROM json_each(?))",
        (report_ids,),
    ):
        details = _scrub_value(json.loads(report["details"]), needles, user_id)
        place = _scrub_text(report["place_name"], needles) if report["place_name"] else report["place_name"]
        await conn.execute(
            "UPDATE reports SET details = ?, place_name = ? WHERE id = ?",
            (json.dumps(details, ensure_ascii=False), place, report["id"]),
        )
    if not needles:
        return
    # Messages not sent yet (to staff, a channel, the compensation chat): sent without them.
    where, params = _mentions("payload", needles)
    pending = await _fetch(
        conn, f"SELECT id, payload FROM outbox WHERE status = 'pending' AND {where}", params
    )
    for row in pending:
        payload = _scrub_value(json.loads(row["payload"]), needles, user_id)
        await conn.execute(
            "UPDATE outbox SET payload = ? WHERE id = ?", (json.dumps(payload, ensure_ascii=False), row["id"])
        )
    # Staff questions and audit details that name them (a ban's description, a question's text).
    where, params = _mentions("question", needles)
    for row in await _fetch(conn, f"SELECT id, question FROM questions WHERE {where}", params):
        question = _scrub_text(row["question"], needles)
        await conn.execute("UPDATE questions SET question = ? WHERE id = ?", (question, row["id"]))
    where, params = _mentions("detail", needles)
    for row in await _fetch(conn, f"SELECT id, detail FROM audit_log WHERE {where}", params):
        await conn.execute(
            "UPDATE audit_log SET detail = ? WHERE id = ?", (_scrub_text(row["detail"], needles), row["id"])
        )


@dataclass(frozen=True)
class Forgotten:
    """What :meth:`Store.forget_person` did: reports anonymised, original files now to delete."""

    reports: int
    originals_to_delete: list[str]


@dataclass(frozen=True)
class BackupResult:
    """A finished backup: where, the schema version (PRAGMA user_version), reports in it, bytes."""

    path: Path
    user_version: int
    reports: int
    size: int


# A private message (an anonymous tip's receipt) keeps no trace of its chat once sent or given up.
_SCRUBBED_IF_PRIVATE = (
    "chat_id = CASE WHEN private = 1 THEN 0 ELSE chat_id END, "
    "payload = CASE WHEN private = 1 THEN '{}' ELSE payload END, "
    "due_at = CASE WHEN private = 1 THEN CAST(due_at / 60 AS INTEGER) * 60 ELSE due_at END"
)


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


# --- incidents and dedupe ----------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentRow:
    """An incident with what its staff card needs; `merge_suggestions` are open incidents only."""

    id: int
    kind: str
    status: str  # 'open', or 'merged' (then merged_into names the live incident)
    created_at: datetime
    updated_at: datetime | None
    merged_into: int | None
    anchor_report_id: int | None
    anchor_latitude: float | None
    anchor_longitude: float | None
    anchor_accuracy_m: float | None
    anchor_observed_s: float | None
    report_count: int
    reporter_count: int  # distinct people (each anonymous tip counts once): the corroboration
    merge_suggestions: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class BulkReport:
    """One historical report for :meth:`Store.bulk_load`; photos are (sha256 hex, unsigned phash)."""

    kind: str
    latitude: float
    longitude: float
    accuracy_m: float | None
    observed_at: datetime
    submitted_at: datetime
    reporter_id: int | None = None
    photos: tuple[tuple[str, int | None], ...] = ()


# Anchors in the grid cells of the probe's search box and its time range (one index range per cell),
# of a kind the probe may group with; a merged incident's anchor answers for its target.
ANCHOR_SQL = """
    SELECT COALESCE(i.merged_into, i.id), i.anchor_report_id, i.anchor_kind, i.anchor_latitude,
           i.anchor_longitude, i.anchor_accuracy_m, i.anchor_observed_s
    FROM incidents i
    WHERE i.anchor_cell IN (SELECT value FROM json_each(:cells))
      AND i.anchor_observed_s BETWEEN :min_s AND :max_s
      AND i.anchor_kind IN (SELECT value FROM json_each(:kinds))
"""

# Photos that may copy one of the probe's: equal SHA-256, or a perceptual hash sharing a band value
# with one of the probe's near-copy band values (bot.dedupe.band_probes), each branch an index range
# within the photo window. Hamming distances are checked in Python (SQLite has no popcount).
PHOTO_SQL = """
    SELECT r.incident_id, r.kind, r.observed_s, p.sha256, p.phash
    FROM photos p JOIN reports r ON r.id = p.report_id
    WHERE p.id IN (
        SELECT id FROM photos WHERE sha256 IN (SELECT value FROM json_each(:sha256s))
            AND observed_s BETWEEN :min_s AND :max_s
        UNION ALL SELECT id FROM photos WHERE (phash & 65535) IN (SELECT value FROM json_each(:band0))
            AND observed_s BETWEEN :min_s AND :max_s
        UNION ALL SELECT id FROM photos WHERE ((phash >> 16) & 65535) IN (SELECT value FROM json_each(:band1))
            AND observed_s BETWEEN :min_s AND :max_s
        UNION ALL SELECT id FROM photos WHERE ((phash >> 32) & 65535) IN (SELECT value FROM json_each(:band2))
            AND observed_s BETWEEN :min_s AND :max_s
        UNION ALL SELECT id FROM photos WHERE ((phash >> 48) & 65535) IN (SELECT value FROM json_each(:band3))
            AND observed_s BETWEEN :min_s AND :max_s
    ) AND r.kind IN (SELECT value FROM json_each(:kinds))
"""

_FIX_COLUMNS = "kind, latitude, longitude, accuracy_m, observed_s"

_INSERT_INCIDENT = (
    "INSERT INTO incidents (id, kind, created_at, updated_at, anchor_report_id, anchor_kind, anchor_latitude,"
    " anchor_longitude, anchor_accuracy_m, anchor_observed_s, anchor_cell, report_count, reporter_count)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_PHOTO = (
    "INSERT INTO photos (report_id, position, file_id, file_unique_id, sha256, phash, mime_type, width,"
    " height, original_path, derived_path, thumbnail_path, observed_s, media_kind, duration_s, size_bytes,"
    " answer_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_DECISION_SQL = (
    "INSERT INTO incident_decisions (action, incident_id, other_id, report_id, staff_id, decided_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)


def anchor_params(probe: Probe, rules: DedupeRules) -> dict[str, Any]:
    box = search_box(probe, rules)
    return {
        "cells": json.dumps(grid_cells(box)),
        "min_s": box.min_s,
        "max_s": box.max_s,
        "kinds": json.dumps(rules.group_kinds(probe.kind)),
    }


def photo_params(probe: Probe, rules: DedupeRules) -> dict[str, Any]:
    window = rules.photo_window.total_seconds()
    params: dict[str, Any] = {
        "sha256s": json.dumps(sorted(probe.sha256s)),
        "kinds": json.dumps(rules.group_kinds(probe.kind)),
        "min_s": probe.observed_s - window,
        "max_s": probe.observed_s + window,
    }
    for n, values in enumerate(band_probes(probe.phashes)):
        params[f"band{n}"] = json.dumps(values)
    return params


def _has_photos(probe: Probe) -> bool:
    return bool(probe.sha256s or probe.phashes)


def _decide(
    probe: Probe, anchors: Iterable[Sequence[Any]], photos: Iterable[Sequence[Any]], rules: DedupeRules
) -> Decision:
    """The decision from ANCHOR_SQL and PHOTO_SQL rows (positional, so sync and async rows both fit)."""
    return decide(
        spatial_matches(probe, (Candidate(*row) for row in anchors), rules),
        photo_matches(
            probe, (PhotoCandidate(r[0], r[1], r[2], r[3], _unsigned64(r[4])) for r in photos), rules
        ),
    )


def find_incident_sync(
    conn: sqlite3.Connection, probe: Probe, rules: DedupeRules = DEFAULT_RULES
) -> Decision:
    """:meth:`Store.find_incident_for` on a synchronous connection (the benchmark and the property
    tests): the same SQL and the same decision."""
    anchors = conn.execute(ANCHOR_SQL, anchor_params(probe, rules)).fetchall()
    photos = conn.execute(PHOTO_SQL, photo_params(probe, rules)).fetchall() if _has_photos(probe) else []
    return _decide(probe, anchors, photos, rules)


def nearby_incidents_sync(
    conn: sqlite3.Connection, probe: Probe, rules: DedupeRules = DEFAULT_RULES
) -> list[Match]:
    """Every incident whose anchor matches `probe` in place and time, through the index, nearest first."""
    rows = conn.execute(ANCHOR_SQL, anchor_params(probe, rules)).fetchall()
    return spatial_matches(probe, (Candidate(*row) for row in rows), rules)


def _reporter_key(user_id: int | None, anonymous_key: str | None = None) -> str | None:
    """Who counts as "the same person": a Telegram account, or for an anonymous tip the keyed hash of
    one (never the id itself); a web report has neither."""
    return anonymous_key if user_id is None else f"tg:{user_id}"


def _probe(draft: Draft, reporter: Reporter, photos: Sequence[StoredPhoto]) -> Probe:
    """The report being submitted as the matcher sees it (a named place: latitude/longitude None,
    matched only by place — see Store._find_named_incident)."""
    location, observed_at = draft["location"], draft["observed_at"]
    assert location is not None and observed_at is not None, "only a complete draft is submitted"
    return Probe(
        kind=draft["kind"],
        latitude=location["latitude"],
        longitude=location["longitude"],
        accuracy_m=location.get("accuracy_m"),
        observed_s=epoch_seconds(datetime.fromisoformat(observed_at)),
        reporter_key=_reporter_key(reporter.user_id, reporter.key),
        sha256s=frozenset(p.sha256 for p in photos if p.is_picture),
        phashes=tuple(
            h
            for p in photos
            if p.is_picture
            for h in (p.frame_hashes or ((p.phash,) if p.phash is not None else ()))
        ),
    )


def _fix(row: Any) -> Probe:
    """A report row's fix (columns _FIX_COLUMNS)."""
    return Probe(row["kind"], row["latitude"], row["longitude"], row["accuracy_m"], row["observed_s"])


def _candidate(incident_id: int, report_id: int, row: Any) -> Candidate:
    fix = _fix(row)
    return Candidate(
        incident_id, report_id, fix.kind, fix.latitude, fix.longitude, fix.accuracy_m, fix.observed_s
    )


def _incident_values(fix: Located, stamp: str, anchor_report_id: int | None) -> tuple[Any, ...]:
    """Columns kind … anchor_cell of _INSERT_INCIDENT for an incident anchored on `fix`."""
    return (fix.kind, stamp, stamp, anchor_report_id, *_anchor_values(fix))


def _anchor_values(fix: Located) -> tuple[Any, ...]:
    """anchor_kind … anchor_cell: a bare point (the query box carries radius, accuracies and window)."""
    return (
        fix.kind,
        fix.latitude,
        fix.longitude,
        fix.accuracy_m,
        fix.observed_s,
        None if fix.latitude is None else grid_cell(fix.latitude, fix.longitude),
    )


async def _merge_suggestions(conn: aiosqlite.Connection, incident_id: int) -> tuple[int, ...]:
    """The incidents suggested for merging with this one: a suggestion shows on both cards while
    the other incident is still open."""
    suggested = await _fetch(
        conn,
        """SELECT s.other_id FROM merge_suggestions s JOIN incidents o ON o.id = s.other_id
           WHERE s.incident_id = :id AND o.status = 'open'
           UNION
           SELECT s.incident_id FROM merge_suggestions s JOIN incidents o ON o.id = s.incident_id
           WHERE s.other_id = :id AND o.status = 'open'
           ORDER BY 1""",
        {"id": incident_id},
    )
    return tuple(r[0] for r in suggested)


async def _insert_incident(
    conn: aiosqlite.Connection, fix: Located, stamp: str, anchor_report_id: int | None
) -> int:
    values = _incident_values(fix, stamp, anchor_report_id)
    cursor = await conn.execute(_INSERT_INCIDENT, (None, *values, 0, 0))
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def _set_anchor(conn: aiosqlite.Connection, incident_id: int, fix: Located, report_id: int) -> None:
    await conn.execute(
        "UPDATE incidents SET anchor_report_id = ?, anchor_kind = ?, anchor_latitude = ?,"
        " anchor_longitude = ?, anchor_accuracy_m = ?, anchor_observed_s = ?, anchor_cell = ? WHERE id = ?",
        (report_id, *_anchor_values(fix), incident_id),
    )


async def _refresh_incident(conn: aiosqlite.Connection, incident_id: int, stamp: str) -> None:
    """Recounts an incident's reports and distinct reporters (each anonymous report counts once)."""
    await conn.execute(
        """UPDATE incidents SET updated_at = :stamp,
               report_count = (SELECT COUNT(*) FROM reports WHERE incident_id = :id),
               reporter_count = (SELECT COUNT(DISTINCT reporter_key) + COUNT(*) - COUNT(reporter_key)
                                 FROM reports WHERE incident_id = :id)
           WHERE id = :id""",
        {"id": incident_id, "stamp": stamp},
    )


def _photo_values(report_id: int, position: int, p: StoredPhoto, observed_s: float) -> tuple[Any, ...]:
    return (
        report_id,
        position,
        p.file_id,
        p.file_unique_id,
        p.sha256,
        _signed64(p.phash),
        p.mime_type,
        p.width,
        p.height,
        p.original_path,
        p.derived_path,
        p.thumbnail_path,
        observed_s,
        p.media_kind,
        p.duration_s,
        p.size_bytes,
        p.answer_key,
    )


async def _insert_photos(
    conn: aiosqlite.Connection,
    report_id: int,
    photos: Sequence[StoredPhoto],
    observed_s: float,
    start: int = 0,
) -> None:
    await conn.executemany(
        _INSERT_PHOTO, [_photo_values(report_id, start + i, p, observed_s) for i, p in enumerate(photos)]
    )


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
