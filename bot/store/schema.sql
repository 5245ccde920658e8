-- The schema of a database migrated to PRAGMA user_version = 12 (bot/store/migrations/).
-- Written by scripts/update_schema.py; tests/test_schema.py checks it. Do not edit by hand.

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

CREATE TABLE bans (
    ban_key TEXT PRIMARY KEY,
    banned_by INTEGER,
    banned_at TEXT NOT NULL,
    reason TEXT
);

CREATE TABLE card_actions (
    token TEXT PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    action TEXT NOT NULL,
    arg TEXT NOT NULL DEFAULT '',
    UNIQUE (incident_id, action, arg)
);

CREATE TABLE cards (
    incident_id INTEGER PRIMARY KEY REFERENCES incidents(id),
    chat_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    shown TEXT,
    repost INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE case_actions (
    token TEXT PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases(id),
    action TEXT NOT NULL,
    arg TEXT NOT NULL DEFAULT '',
    UNIQUE (case_id, action, arg)
);

CREATE TABLE case_photos (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases(id),
    file_id TEXT NOT NULL,
    file_unique_id TEXT NOT NULL,
    added_by INTEGER,
    added_at TEXT NOT NULL,
    UNIQUE (case_id, file_unique_id)
);

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
    latitude REAL,
    longitude REAL,
    loss_on TEXT NOT NULL,
    reported_on TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'reported' CHECK (state IN ('reported', 'survey_scheduled', 'surveyed', 'approved', 'denied', 'paid', 'closed')),
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

CREATE INDEX cases_by_paid_on ON cases (paid_on) WHERE paid_on IS NOT NULL;

CREATE INDEX cases_by_reported_on ON cases (reported_on);

CREATE INDEX cases_by_reporter ON cases (reporter_id) WHERE reporter_id IS NOT NULL;

CREATE INDEX cases_card_due ON cases (id) WHERE card_version > card_sent_version;

CREATE INDEX cases_open ON cases (state) WHERE state != 'closed';

CREATE TABLE inbox (
    update_id INTEGER PRIMARY KEY,
    data TEXT,
    received_at REAL NOT NULL,
    done_at REAL
);

CREATE INDEX inbox_pending ON inbox (update_id) WHERE done_at IS NULL;

CREATE TABLE incident_decisions (
    id INTEGER PRIMARY KEY,
    action TEXT NOT NULL CHECK (action IN ('merge', 'split')),
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    other_id INTEGER NOT NULL REFERENCES incidents(id),
    report_id INTEGER REFERENCES reports(id),
    staff_id INTEGER NOT NULL,
    decided_at TEXT NOT NULL
);

CREATE TABLE incidents (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    created_at TEXT NOT NULL,
    anchor_report_id INTEGER REFERENCES reports(id),
    anchor_kind TEXT,
    anchor_latitude REAL,
    anchor_longitude REAL,
    anchor_accuracy_m REAL,
    anchor_observed_s REAL,
    merged_into INTEGER REFERENCES incidents(id),
    updated_at TEXT,
    report_count INTEGER NOT NULL DEFAULT 0,
    reporter_count INTEGER NOT NULL DEFAULT 0,
    anchor_cell INTEGER,
    review TEXT NOT NULL DEFAULT 'pending' CHECK (review IN ('pending', 'verified', 'rejected')),
    reviewed_by INTEGER,
    reviewer_name TEXT,
    reviewed_at TEXT,
    reject_reason TEXT,
    assignee_id INTEGER,
    assignee_name TEXT,
    decided_reports TEXT,
    effects_due REAL
);

CREATE INDEX incidents_awaiting_review ON incidents (anchor_latitude) WHERE status = 'open' AND review = 'pending';

CREATE INDEX incidents_by_anchor_cell ON incidents (anchor_cell, anchor_observed_s);

CREATE INDEX incidents_by_merged_into ON incidents (merged_into) WHERE merged_into IS NOT NULL;

CREATE INDEX incidents_effects_due ON incidents (effects_due) WHERE effects_due IS NOT NULL;

CREATE TABLE merge_suggestions (
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    other_id INTEGER NOT NULL REFERENCES incidents(id),
    report_id INTEGER REFERENCES reports(id),
    created_at TEXT NOT NULL,
    PRIMARY KEY (incident_id, other_id)
);

CREATE INDEX merge_suggestions_by_other ON merge_suggestions (other_id);

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
    observed_s REAL,
    original_deleted_at TEXT,
    media_kind TEXT NOT NULL DEFAULT 'photo',
    duration_s REAL,
    size_bytes INTEGER,
    answer_key TEXT,
    UNIQUE (report_id, position)
);

CREATE INDEX photos_by_sha256 ON photos (sha256);

CREATE INDEX photos_phash_band0 ON photos ((phash & 65535), observed_s);

CREATE INDEX photos_phash_band1 ON photos (((phash >> 16) & 65535), observed_s);

CREATE INDEX photos_phash_band2 ON photos (((phash >> 32) & 65535), observed_s);

CREATE INDEX photos_phash_band3 ON photos (((phash >> 48) & 65535), observed_s);

CREATE TABLE place_points (
    place_id TEXT PRIMARY KEY,
    latitude REAL NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude REAL NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    set_by INTEGER,
    set_by_name TEXT,
    set_at TEXT NOT NULL,
    source TEXT NOT NULL
);

CREATE TABLE questions (
    id INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    prompt_chat_id INTEGER NOT NULL,
    prompt_message_id INTEGER NOT NULL,
    asked_by INTEGER,
    question TEXT,
    asked_at TEXT NOT NULL,
    report_id INTEGER REFERENCES reports(id),
    recipient_id INTEGER,
    answers INTEGER NOT NULL DEFAULT 0,
    expires_at TEXT,
    closed_at TEXT,
    UNIQUE (prompt_chat_id, prompt_message_id)
);

CREATE INDEX questions_open ON questions (recipient_id) WHERE closed_at IS NULL;

CREATE TABLE report_drafts (
    draft_id TEXT PRIMARY KEY,
    report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    submitted_at TEXT NOT NULL,
    ref_code TEXT
);

CREATE UNIQUE INDEX report_drafts_by_ref_code ON report_drafts (ref_code) WHERE ref_code IS NOT NULL;

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
    latitude REAL CHECK (latitude BETWEEN -90 AND 90),
    longitude REAL CHECK (longitude BETWEEN -180 AND 180),
    accuracy_m REAL,
    location_source TEXT NOT NULL,
    input_datum TEXT NOT NULL DEFAULT 'wgs84',
    place_name TEXT,
    observed_at TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    details TEXT NOT NULL,
    notify_reporter INTEGER NOT NULL DEFAULT 1,
    incident_id INTEGER REFERENCES incidents(id),
    reporter_key TEXT,
    observed_s REAL,
    pinned INTEGER NOT NULL DEFAULT 0,
    revision INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT,
    match_reason TEXT,
    match_distance_m REAL,
    hidden INTEGER NOT NULL DEFAULT 0,
    occurrence_id TEXT,
    place_id TEXT,
    UNIQUE (year, seq)
);

CREATE INDEX reports_by_incident ON reports (incident_id);

CREATE UNIQUE INDEX reports_by_occurrence_id ON reports (occurrence_id);

CREATE INDEX reports_by_place ON reports (place_id, observed_s) WHERE place_id IS NOT NULL;

CREATE INDEX reports_by_reporter ON reports (reporter_id, submitted_at);

CREATE INDEX reports_by_reporter_key ON reports (reporter_key, observed_s) WHERE reporter_key IS NOT NULL;

CREATE INDEX reports_rejected ON reports (incident_id) WHERE status = 'rejected';

CREATE INDEX reports_waiting ON reports (incident_id) WHERE status = 'new';

CREATE TABLE user_data (
    user_id INTEGER PRIMARY KEY,
    data TEXT NOT NULL
);
