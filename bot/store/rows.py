"""Stored rows read back as records (bot/records.py): reports with their media, incidents, cards, cases."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aiosqlite

from bot.records import CardState, Case, IncidentRow, ReportRow, Review, StoredPhoto
from bot.store.core import _fetch, _first, unsigned64


async def _report(conn: aiosqlite.Connection, report_id: int) -> ReportRow:
    found = await _reports(conn, [report_id])
    assert found, f"no report {report_id}"
    return found[0]


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
                unsigned64(p["phash"]),
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


async def _card_state(conn: aiosqlite.Connection, incident_id: int) -> CardState | None:
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
    reports = tuple(await _reports(conn, [r["id"] for r in ids]))
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


async def _case(conn: aiosqlite.Connection, case_id: int) -> Case | None:
    row = await _first(conn, "SELECT * FROM cases WHERE id = ?", (case_id,))
    if row is None:
        return None
    counted = await _first(conn, "SELECT COUNT(*) FROM case_photos WHERE case_id = ?", (case_id,))
    return Case.from_row(dict(row), counted[0] if counted else 0)


async def _cases(
    conn: aiosqlite.Connection, sql: str, params: Sequence[Any] | dict[str, Any] = ()
) -> list[Case]:
    """The cases whose ids the query selects (first column), in its order."""
    found = [await _case(conn, r[0]) for r in await _fetch(conn, sql, params)]
    return [case for case in found if case is not None]
