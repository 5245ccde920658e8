-- 11: named places. A report whose place is only a village's name has no point: its
-- latitude/longitude are NULL (never a made-up point) and place_id names the gazetteer place. SQLite
-- cannot drop a NOT NULL with ALTER TABLE; the documented way for a change that leaves the stored
-- rows as they are is to edit the schema text (sqlite.org/lang_altertable.html, "other kinds of table
-- schema changes"). RESET re-reads the edited schema on this connection (so the next migration's
-- ALTER TABLE works even when a script runs the list directly); Store.migrate also bumps
-- schema_version after this script so every other connection re-reads it.
-- The CHECKs stay: NULL passes them, a wrong number still fails. Compensation cases likewise.

PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(replace(sql,
        'latitude REAL NOT NULL CHECK', 'latitude REAL CHECK'),
        'longitude REAL NOT NULL CHECK', 'longitude REAL CHECK')
    WHERE type = 'table' AND name = 'reports';
UPDATE sqlite_schema SET sql = replace(replace(sql, 'latitude REAL NOT NULL,', 'latitude REAL,'),
    'longitude REAL NOT NULL,', 'longitude REAL,') WHERE type = 'table' AND name = 'cases';
PRAGMA writable_schema = RESET;
PRAGMA writable_schema = OFF;
