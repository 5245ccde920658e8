-- 1: reports, photos, incidents, the outbox and conversation persistence.

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
