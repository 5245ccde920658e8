-- 10: the durable inbox. Every Telegram update is written here before Telegram is told it
-- arrived (the next getUpdates offset, or the webhook's 200) and marked done once handled, so a
-- crash loses none and a restart handles what was received and not done first. The update's JSON
-- is cleared when it is done (a tip's words must not linger here); the id stays a while so a
-- second delivery of the same update is recognised and dropped.

CREATE TABLE inbox (
    update_id INTEGER PRIMARY KEY,
    data TEXT,
    received_at REAL NOT NULL,
    done_at REAL
);
CREATE INDEX inbox_pending ON inbox (update_id) WHERE done_at IS NULL;
