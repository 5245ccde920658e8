"""What the researchers' exports read (bot/export.py formats it)."""

from __future__ import annotations

from datetime import datetime

from bot.dedupe import epoch_seconds
from bot.records import ReportRow
from bot.store.core import StoreCore, _fetch
from bot.store.rows import _reports


class ExportMixin(StoreCore):
    """Verified reports for the exports."""

    async def verified_reports(self, since: datetime | None = None) -> list[ReportRow]:
        """Reports staff verified, of incidents that are verified and open (merged ones' reports have
        moved to their target), oldest observation first; every kind (bot/export.py drops tips).

        A report that joined a verified incident afterwards keeps status 'new' until staff decide
        again, so it is not here. `since`: only observations made at or after that moment.
        """
        async with self.reading() as conn:
            rows = await _fetch(
                conn,
                "SELECT r.id FROM reports r JOIN incidents i ON i.id = r.incident_id"
                " WHERE i.review = 'verified' AND i.status = 'open' AND r.status = 'verified'"
                " AND (:since IS NULL OR r.observed_s >= :since)"
                " ORDER BY r.observed_s, r.id",
                {"since": epoch_seconds(since) if since is not None else None},
            )
            return await _reports(conn, [r["id"] for r in rows])
