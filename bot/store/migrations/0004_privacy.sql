-- 4: abuse, privacy and backups. A ban names a person the way reports do (reporter_key:
-- 'tg:<id>', or an anonymous tipster's keyed hash, so a tipster can be banned without ever being
-- identified). Their reports are kept and flagged hidden: out of the staff queue, still in the record,
-- and still hidden if they later ask to be forgotten (their key is then replaced). An original photo
-- deleted by the retention rule or by /forgetme leaves original_deleted_at set and original_path
-- pointing at the stripped copy, so whatever sends "originals" sends that copy instead of failing.

CREATE TABLE bans (
    ban_key TEXT PRIMARY KEY,
    banned_by INTEGER,
    banned_at TEXT NOT NULL,
    reason TEXT
);
ALTER TABLE reports ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;
ALTER TABLE photos ADD COLUMN original_deleted_at TEXT;
CREATE INDEX reports_rejected ON reports (incident_id) WHERE status = 'rejected';
