"""The SQL of loading already-deduplicated history in bulk (bench/bulk.py runs it for the benchmarks).

Kept here with the rest of the SQL, beside the statements it shares with the store (matching.py's
INSERT_INCIDENT and INSERT_PHOTO), so a benchmark measures the schema and statements the bot uses.
"""

# The next free id of a table ({table}: reports or incidents).
NEXT_ID_SQL = "SELECT COALESCE(MAX(id), 0) + 1 FROM {table}"

# The last sequence number of each year.
YEAR_SEQS_SQL = "SELECT year, MAX(seq) FROM reports GROUP BY year"

# Every reference code in use: a report's own, and those of repeats folded into one.
TAKEN_CODES_SQL = (
    "SELECT ref_code FROM reports"
    " UNION ALL SELECT ref_code FROM report_drafts WHERE ref_code IS NOT NULL"
)

# The secondary indexes of the tables a bulk load writes (dropped, then made again at the end).
BULK_INDEXES_SQL = (
    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    " AND tbl_name IN ('incidents', 'reports', 'photos')"
)

# One historical report (the columns the bulk rows carry; the rest as an imported report has them).
INSERT_BULK_REPORT = (
    "INSERT INTO reports (id, draft_id, year, seq, ref_code, kind, reporter_id, language,"
    " latitude, longitude, accuracy_m, location_source, observed_at, submitted_at, details,"
    " notify_reporter, incident_id, reporter_key, observed_s, match_reason, occurrence_id)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, 'zh_Hans', ?, ?, ?, 'import', ?, ?, '{}', 0,"
    " ?, ?, ?, 'new', ?)"
)
