-- 3: moderation — review state, the card's message, opaque button tokens, questions, audit log.

ALTER TABLE incidents ADD COLUMN review TEXT NOT NULL DEFAULT 'pending'
    CHECK (review IN ('pending', 'verified', 'rejected'));
ALTER TABLE incidents ADD COLUMN reviewed_by INTEGER;
ALTER TABLE incidents ADD COLUMN reviewer_name TEXT;
ALTER TABLE incidents ADD COLUMN reviewed_at TEXT;
ALTER TABLE incidents ADD COLUMN reject_reason TEXT;
ALTER TABLE incidents ADD COLUMN assignee_id INTEGER;
ALTER TABLE incidents ADD COLUMN assignee_name TEXT;
CREATE TABLE cards (
    incident_id INTEGER PRIMARY KEY REFERENCES incidents(id),
    chat_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL
);
CREATE TABLE card_actions (
    token TEXT PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    action TEXT NOT NULL,
    arg TEXT NOT NULL DEFAULT '',
    UNIQUE (incident_id, action, arg)
);
CREATE TABLE questions (
    id INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    prompt_chat_id INTEGER NOT NULL,
    prompt_message_id INTEGER NOT NULL,
    asked_by INTEGER,
    question TEXT,
    asked_at TEXT NOT NULL,
    UNIQUE (prompt_chat_id, prompt_message_id)
);
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
-- Merge candidates and /pending read only open, undecided incidents: few, whatever the table's size.
CREATE INDEX incidents_awaiting_review ON incidents (anchor_latitude)
    WHERE status = 'open' AND review = 'pending';
