-- 5: livestock compensation cases (the rules are in bot/compensation.py). One case per owner
-- of a verified livestock incident, keyed by (incident_id, owner_key). Days are county dates as ISO
-- text ('YYYY-MM-DD'), money is in fen (1/100 yuan). The deadlines are stored when they are fixed
-- (survey and apply at opening, payment at approval), so reminders find due cases with plain SQL.
-- The card in the compensation chat is refreshed whenever card_version runs ahead of
-- card_sent_version (bumped in the same transaction as the change). `reminded` lists the reminder
-- keys already sent. case_actions are the opaque tokens of the case card's buttons.

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
