"""The SQL of grouping reports into incidents (bot/dedupe.py has the rules), and the values it binds.

Plain functions on rows, so the benchmark support (bench/bulk.py) runs exactly the SQL the store runs."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from bot.dedupe import (
    Candidate,
    Decision,
    DedupeRules,
    Located,
    PhotoCandidate,
    Probe,
    band_probes,
    decide,
    grid_cell,
    grid_cells,
    photo_matches,
    search_box,
    spatial_matches,
)
from bot.records import StoredPhoto
from bot.store.core import signed64, unsigned64

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

INSERT_INCIDENT = (
    "INSERT INTO incidents (id, kind, created_at, updated_at, anchor_report_id, anchor_kind, anchor_latitude,"
    " anchor_longitude, anchor_accuracy_m, anchor_observed_s, anchor_cell, report_count, reporter_count)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_PHOTO = (
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


def has_photos(probe: Probe) -> bool:
    return bool(probe.sha256s or probe.phashes)


def decide_rows(
    probe: Probe, anchors: Iterable[Sequence[Any]], photos: Iterable[Sequence[Any]], rules: DedupeRules
) -> Decision:
    """The decision from ANCHOR_SQL and PHOTO_SQL rows (positional, so sync and async rows both fit)."""
    return decide(
        spatial_matches(probe, (Candidate(*row) for row in anchors), rules),
        photo_matches(
            probe, (PhotoCandidate(r[0], r[1], r[2], r[3], unsigned64(r[4])) for r in photos), rules
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


def incident_values(fix: Located, stamp: str, anchor_report_id: int | None) -> tuple[Any, ...]:
    """Columns kind … anchor_cell of INSERT_INCIDENT for an incident anchored on `fix`."""
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


def _photo_values(report_id: int, position: int, p: StoredPhoto, observed_s: float) -> tuple[Any, ...]:
    return (
        report_id,
        position,
        p.file_id,
        p.file_unique_id,
        p.sha256,
        signed64(p.phash),
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
