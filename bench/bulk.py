"""Benchmark support: filling a database with history fast, and the store's incident lookup on a
synchronous connection. Not part of the bot: the SQL is the store's own (bot/store/matching.py,
bot/store/bulk.py), so what the benchmarks and the property tests measure is what the bot runs."""

from __future__ import annotations

import itertools
import sqlite3
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.dedupe import (
    DEFAULT_RULES,
    Candidate,
    Decision,
    DedupeRules,
    Match,
    Probe,
    epoch_seconds,
    spatial_matches,
)
from bot.report import new_reference_code
from bot.store import Store
from bot.store.bulk import BULK_INDEXES_SQL, INSERT_BULK_REPORT, NEXT_ID_SQL, TAKEN_CODES_SQL, YEAR_SEQS_SQL
from bot.store.core import signed64
from bot.store.matching import (
    ANCHOR_SQL,
    INSERT_INCIDENT,
    INSERT_PHOTO,
    PHOTO_SQL,
    anchor_params,
    decide_rows,
    has_photos,
    incident_values,
    photo_params,
)


@dataclass(frozen=True, slots=True)
class BulkReport:
    """One historical report for :func:`bulk_load`; photos are (sha256 hex, unsigned phash)."""

    kind: str
    latitude: float
    longitude: float
    accuracy_m: float | None
    observed_at: datetime
    submitted_at: datetime
    reporter_id: int | None = None
    photos: tuple[tuple[str, int | None], ...] = ()


def bulk_load(conn: sqlite3.Connection, rows: Iterable[BulkReport], batch: int = 50_000) -> int:
    """Imports already-deduplicated history fast: every row becomes a report and its own incident.

    For the benchmarks (and archives), on a synchronous connection to a migrated database that
    nothing else writes meanwhile (ids are assigned here). One transaction, all or nothing, in
    which the secondary indexes of the three tables are dropped and rebuilt at the end: sorting
    once is several times faster than a million inserts at random places. Returns the number of
    reports loaded.
    """

    def next_id(table: str) -> int:
        return int(conn.execute(NEXT_ID_SQL.format(table=table)).fetchone()[0])

    report_id, incident_id = next_id("reports"), next_id("incidents")
    seqs = dict(conn.execute(YEAR_SEQS_SQL).fetchall())
    taken = {code for (code,) in conn.execute(TAKEN_CODES_SQL)}

    def fresh_code() -> str:
        while (code := new_reference_code()) in taken:
            pass
        taken.add(code)
        return code

    indexes = conn.execute(BULK_INDEXES_SQL).fetchall()
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
                incidents.append((incident_id, *incident_values(fix, stamp, report_id), 1, 1))
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
                        None if row.reporter_id is None else Store.person_key(row.reporter_id),
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
                            signed64(phash),
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
            conn.executemany(INSERT_INCIDENT, incidents)
            conn.executemany(INSERT_BULK_REPORT, reports)
            conn.executemany(INSERT_PHOTO, photos)
            loaded += len(batch_rows)
        for _, sql in indexes:
            conn.execute(sql)
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
    return loaded


def find_incident_sync(
    conn: sqlite3.Connection, probe: Probe, rules: DedupeRules = DEFAULT_RULES
) -> Decision:
    """``Store.find_incident_for`` on a synchronous connection (the benchmark and the property
    tests): the same SQL and the same decision."""
    anchors = conn.execute(ANCHOR_SQL, anchor_params(probe, rules)).fetchall()
    photos = conn.execute(PHOTO_SQL, photo_params(probe, rules)).fetchall() if has_photos(probe) else []
    return decide_rows(probe, anchors, photos, rules)


def nearby_incidents_sync(
    conn: sqlite3.Connection, probe: Probe, rules: DedupeRules = DEFAULT_RULES
) -> list[Match]:
    """Every incident whose anchor matches `probe` in place and time, through the index, nearest first."""
    rows = conn.execute(ANCHOR_SQL, anchor_params(probe, rules)).fetchall()
    return spatial_matches(probe, (Candidate(*row) for row in rows), rules)

