-- 12: what staff taught about places: a point per gazetteer place (village, township seat,
-- scenic spot), who set it and when (every change is also in audit_log). reports.place_id names the
-- place a report was given as (by name, a poster's spot, a did-you-mean choice); named-place reports
-- are grouped by it (reports_by_place) and get its point once staff set one.

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
