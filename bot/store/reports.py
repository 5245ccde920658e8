"""Reports: submitting one (with its photos, incident and messages, in one transaction) and reading them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime

from bot.dedupe import Probe, epoch_seconds
from bot.records import Compose, Draft, Reporter, ReportRow, StoredPhoto, SubmittedReport
from bot.store.core import _BY_CODE, StoreCore, _fetch, _first, _fresh_code, _one, _reporter_key
from bot.store.incidents import (
    _earlier_same_report,
    _find_incident,
    _find_named_incident,
    _insert_incident,
    _insert_photos,
    _joined,
    _update_earlier,
)
from bot.store.outbox import _enqueue
from bot.store.rows import _report, _reports


class ReportsMixin(StoreCore):
    """Submitting and reading reports."""

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
            named = location.get("latitude") is None  # a village's name, no point (a named place)
            probe = _probe(draft, reporter, photos)
            earlier = None if named else await _earlier_same_report(conn, probe, self.dedupe_rules)
            if earlier is not None:
                outcome = await _update_earlier(conn, earlier, draft, photos, submitted_at, code)
            else:
                if named:
                    decision = await _find_named_incident(
                        conn, probe, location.get("place_id"), self.dedupe_rules
                    )
                else:
                    decision = await _find_incident(conn, probe, self.dedupe_rules)
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
                await _joined(conn, incident_id, report_id, decision, submitted_at)
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
            row = await _report(conn, outcome.id)
            await _enqueue(conn, compose(row, outcome), submitted_at)
        return outcome

    async def report_by_code(self, code: str) -> ReportRow | None:
        async with self.reading() as conn:
            found = await _first(conn, f"SELECT id FROM reports WHERE {_BY_CODE}", (code, code))
            return await _report(conn, found["id"]) if found else None

    async def reports_of(self, user_id: int, limit: int = 20) -> list[ReportRow]:
        """A person's reports, newest first."""
        async with self.reading() as conn:
            rows = await _fetch(
                conn,
                "SELECT id FROM reports WHERE reporter_id = ? ORDER BY submitted_at DESC, id DESC LIMIT ?",
                (user_id, limit),
            )
            return await _reports(conn, [r["id"] for r in rows])

    async def count_reports(self) -> int:
        async with self.reading() as conn:
            return int((await _one(conn, "SELECT COUNT(*) FROM reports"))[0])

    async def report_counts_by_kind(self) -> dict[str, int]:
        """Stored reports per kind (for /metrics, which leaves tips out)."""
        async with self.reading() as conn:
            rows = await _fetch(conn, "SELECT kind, COUNT(*) FROM reports GROUP BY kind")
        return {str(kind): int(n) for kind, n in rows}

    async def reports_since(self, since: datetime) -> list[ReportRow]:
        """Reports submitted since a moment (for /stats)."""
        async with self.reading() as conn:
            rows = await _fetch(
                conn, "SELECT id FROM reports WHERE submitted_at >= ? ORDER BY id", (since.isoformat(),)
            )
            return await _reports(conn, [r["id"] for r in rows])


def _probe(draft: Draft, reporter: Reporter, photos: Sequence[StoredPhoto]) -> Probe:
    """The report being submitted as the matcher sees it (a named place: latitude/longitude None,
    matched only by place — see `_find_named_incident` in bot/store/incidents.py)."""
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
