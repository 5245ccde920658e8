-- 9: the staff loop (every report reviewed, no answer lost). A decision covers the reports staff saw on the card
-- (decided_reports, a JSON list; cards.shown is what the card showed when it was last rendered);
-- a report joining a decided incident later stays 'new' and is reviewed on its own, its card
-- re-posted at the bottom of the group (cards.repost). effects_due (epoch seconds): a decision's
-- messages to reporters and channels wait for the undo window. A question is to one report's
-- reporter (recipient_id, cleared when the question closes); it takes a few answers until
-- expires_at, and closes early once the answers are in.

ALTER TABLE incidents ADD COLUMN decided_reports TEXT;
ALTER TABLE incidents ADD COLUMN effects_due REAL;
UPDATE incidents SET decided_reports =
    (SELECT json_group_array(r.id) FROM reports r
     WHERE r.incident_id = incidents.id AND r.status != 'new')
    WHERE review != 'pending';
CREATE INDEX incidents_effects_due ON incidents (effects_due) WHERE effects_due IS NOT NULL;
CREATE INDEX reports_waiting ON reports (incident_id) WHERE status = 'new';
ALTER TABLE cards ADD COLUMN shown TEXT;
ALTER TABLE cards ADD COLUMN repost INTEGER NOT NULL DEFAULT 0;
ALTER TABLE questions ADD COLUMN report_id INTEGER REFERENCES reports(id);
ALTER TABLE questions ADD COLUMN recipient_id INTEGER;
ALTER TABLE questions ADD COLUMN answers INTEGER NOT NULL DEFAULT 0;
ALTER TABLE questions ADD COLUMN expires_at TEXT;
ALTER TABLE questions ADD COLUMN closed_at TEXT;
UPDATE questions SET closed_at = asked_at;
CREATE INDEX questions_open ON questions (recipient_id) WHERE closed_at IS NULL;
