-- 2: incidents grouping reports (the rules are in bot/dedupe.py).
-- An incident is matched only through its fixed anchor (its first report's fix), so only anchors
-- are indexed: (anchor_cell, anchor_observed_s), where anchor_cell is the 0.01° grid cell of the
-- anchor (bot.dedupe.grid_cell: the same arithmetic as the backfill below). A lookup seeks each cell
-- of the probe's search box over its time range. No member other than the anchor is ever a spatial
-- candidate, and the index holds bare points, so it stays valid whatever radii, windows and
-- accuracy cap are configured (the query box carries them). A B-tree rather than an R*Tree because
-- it inserts about five times faster (3 µs against 17 µs a row), which is what bulk loading needs,
-- and looks up as fast. A merged incident keeps its row and anchor, with merged_into pointing at the
-- live incident, so reports near either original anchor keep joining the merged one.
-- Times are epoch seconds (observed_s) because observed_at text carries offsets and does not sort.
-- Photos repeat their report's observed_s so each perceptual-hash band index is (band, time):
-- a near-copy lookup reads only the photos of the photo window.

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
