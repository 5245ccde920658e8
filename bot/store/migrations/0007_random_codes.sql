-- 7: nothing handed out says how many reports there are. Reference codes are random
-- (bot.report.new_reference_code); a repeat folded into the same person's earlier report gets a code
-- of its own in report_drafts, so its receipt looks like any other. Exports name an occurrence by a
-- random UUID kept with the report (stable from one export to the next), never by its code or id.

ALTER TABLE reports ADD COLUMN occurrence_id TEXT;
UPDATE reports SET occurrence_id = lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4'
    || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + abs(random()) % 4, 1)
    || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)));
CREATE UNIQUE INDEX reports_by_occurrence_id ON reports (occurrence_id);
ALTER TABLE report_drafts ADD COLUMN ref_code TEXT;
CREATE UNIQUE INDEX report_drafts_by_ref_code ON report_drafts (ref_code) WHERE ref_code IS NOT NULL;
