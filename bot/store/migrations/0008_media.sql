-- 8: videos and voice notes are media rows beside photos: a clip is a picture with a
-- length (its derived copy is the metadata-free remux, its thumbnail a key frame, its phash the
-- middle frame's), a voice note has no picture and may answer one question (answer_key).

ALTER TABLE photos ADD COLUMN media_kind TEXT NOT NULL DEFAULT 'photo';
ALTER TABLE photos ADD COLUMN duration_s REAL;
ALTER TABLE photos ADD COLUMN size_bytes INTEGER;
ALTER TABLE photos ADD COLUMN answer_key TEXT;
