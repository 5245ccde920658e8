"""Incidents: which incident a report joins (the SQL is in matching.py), staff merges and splits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import aiosqlite

from bot.dedupe import Candidate, Decision, DedupeRules, Located, MatchReason, Probe, same_report
from bot.records import Draft, IncidentRow, ReportRow, StoredPhoto, SubmittedReport
from bot.store.core import StoreCore, _fetch, _first
from bot.store.matching import (
    _DECISION_SQL,
    _FIX_COLUMNS,
    ANCHOR_SQL,
    INSERT_INCIDENT,
    INSERT_PHOTO,
    PHOTO_SQL,
    _anchor_values,
    _candidate,
    _fix,
    _photo_values,
    anchor_params,
    decide_rows,
    has_photos,
    incident_values,
    photo_params,
)
from bot.store.rows import _incident, _reports


class IncidentsMixin(StoreCore):
    """Incidents and the staff's merges and splits."""

    async def find_incident_for(self, probe: Probe) -> Decision:
        """Which incident a report like `probe` would join now (read-only; submit_report applies it)."""
        async with self.reading() as conn:
            return await _find_incident(conn, probe, self.dedupe_rules)

    async def incident(self, incident_id: int) -> IncidentRow | None:
        async with self.reading() as conn:
            return await _incident(conn, incident_id)

    async def incident_reports(self, incident_id: int) -> list[ReportRow]:
        """The reports of an incident, oldest first (after a merge: the target's reports)."""
        async with self.reading() as conn:
            rows = await _fetch(
                conn, "SELECT id FROM reports WHERE incident_id = ? ORDER BY id", (incident_id,)
            )
            return await _reports(conn, [r["id"] for r in rows])

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
            merged = await _incident(conn, target)
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


async def _find_incident(conn: aiosqlite.Connection, probe: Probe, rules: DedupeRules) -> Decision:
    anchors = await _fetch(conn, ANCHOR_SQL, anchor_params(probe, rules))
    photos = await _fetch(conn, PHOTO_SQL, photo_params(probe, rules)) if has_photos(probe) else []
    return decide_rows(probe, anchors, photos, rules)


async def _find_named_incident(
    conn: aiosqlite.Connection, probe: Probe, place_id: str | None, rules: DedupeRules
) -> Decision:
    """A named-place report (no point) joins the open incident whose anchor names the same place
    without a point, of a kind it may group with, observed within the time window (nearest in
    time first). Once staff give the place a point, its reports have that point and group by
    distance like any other."""
    if not place_id:
        return Decision(None, MatchReason.NEW)
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


async def _earlier_same_report(
    conn: aiosqlite.Connection, probe: Probe, rules: DedupeRules
) -> Candidate | None:
    """The reporter's own earlier report of the same thing (see dedupe.same_report), if any."""
    if probe.reporter_key is None:
        return None
    window = rules.window_s(probe.kind, probe.kind)
    rows = await _fetch(
        conn,
        f"SELECT incident_id, id, {_FIX_COLUMNS} FROM reports"
        " WHERE reporter_key = ? AND observed_s BETWEEN ? AND ? AND kind = ?"
        " AND latitude IS NOT NULL",  # a named place without a point is not "the same spot"
        (probe.reporter_key, probe.observed_s - window, probe.observed_s + window, probe.kind),
    )
    return same_report(probe, (_candidate(r["incident_id"], r["id"], r) for r in rows), rules)


async def _update_earlier(
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


async def _insert_incident(
    conn: aiosqlite.Connection, fix: Located, stamp: str, anchor_report_id: int | None
) -> int:
    values = incident_values(fix, stamp, anchor_report_id)
    cursor = await conn.execute(INSERT_INCIDENT, (None, *values, 0, 0))
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


async def _insert_photos(
    conn: aiosqlite.Connection,
    report_id: int,
    photos: Sequence[StoredPhoto],
    observed_s: float,
    start: int = 0,
) -> None:
    await conn.executemany(
        INSERT_PHOTO, [_photo_values(report_id, start + i, p, observed_s) for i, p in enumerate(photos)]
    )
