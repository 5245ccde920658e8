"""What outlives a restart: people's user data (drafts, settings, /alerts) and the durable inbox."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.store.core import StoreCore, _fetch


class PersistenceMixin(StoreCore):
    """User data (see handlers/persistence.py) and the durable inbox (see handlers/inbox.py)."""

    async def load_user_data(self) -> dict[int, dict[str, Any]]:
        """Everyone's user data, first removing drafts that were submitted: a crash can come between
        the report's commit and the next save of the person's data, and the draft must not come back."""
        async with self.transaction() as conn:
            await conn.execute(
                "UPDATE user_data SET data = json_remove(data, '$.draft')"
                " WHERE json_extract(data, '$.draft.id') IN (SELECT draft_id FROM reports)"
                " OR json_extract(data, '$.draft.id') IN (SELECT draft_id FROM report_drafts)"
            )
            rows = await (await conn.execute("SELECT user_id, data FROM user_data")).fetchall()
        return {r["user_id"]: json.loads(r["data"]) for r in rows}

    async def save_user_data(self, user_id: int, data_json: str) -> None:
        """Writes one person's user data (already JSON). Durable against a crash of the process but
        not fsynced at once (synchronous=NORMAL): a draft is cheap to lose to a power cut, and this
        write happens on every update."""
        await self._write_unsynced(
            "INSERT INTO user_data (user_id, data) VALUES (?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET data = excluded.data",
            (user_id, data_json),
        )

    async def drop_user_data(self, user_id: int) -> None:
        async with self.transaction() as conn:
            await conn.execute("DELETE FROM user_data WHERE user_id = ?", (user_id,))

    async def inbox_receive(self, updates: Sequence[tuple[int, str]], now: float) -> list[int]:
        """Stores (update_id, JSON) pairs not seen before, durably; returns the ids that were new.

        Fsynced (synchronous=FULL): once this returns, Telegram is told the updates arrived and
        will not send them again, so a power cut must not take them either. One commit per batch."""
        if not updates:
            return []
        values = ", ".join("(?, ?, ?)" for _ in updates)
        params = [value for update_id, data in updates for value in (update_id, data, now)]
        async with self.transaction() as conn:  # one statement: one trip to the database thread
            rows = await _fetch(
                conn,
                f"INSERT OR IGNORE INTO inbox (update_id, data, received_at) VALUES {values}"
                " RETURNING update_id",
                params,
            )
        return sorted(r[0] for r in rows)

    async def inbox_done(self, update_id: int, now: float) -> None:
        """Marks an update handled and forgets its content. Not fsynced: a power cut in between only
        has the update handled again, which the handlers recognise (see handlers/report.py)."""
        await self._write_unsynced(
            "UPDATE inbox SET done_at = ?, data = NULL WHERE update_id = ? AND done_at IS NULL",
            (now, update_id),
        )

    async def inbox_pending(self) -> list[tuple[int, str]]:
        """Updates received and not handled (a crash came first), oldest first."""
        async with self.reading() as conn:
            rows = await _fetch(
                conn, "SELECT update_id, data FROM inbox WHERE done_at IS NULL ORDER BY update_id"
            )
        return [(r[0], r[1]) for r in rows]

    async def inbox_prune(self, before: float) -> int:
        """Forgets the ids of updates handled before `before` (Telegram redelivers for at most a day)."""
        async with self.transaction(durable=False) as conn:
            cursor = await conn.execute(
                "DELETE FROM inbox WHERE done_at IS NOT NULL AND done_at < ?", (before,)
            )
            return int(cursor.rowcount)

    async def alert_subscribers(self, township_id: str) -> list[tuple[int, str]]:
        """(user_id, language) of people who asked /alerts for this township (kept in their user data)."""
        async with self.reading() as conn:
            rows = await _fetch(
                conn,
                "SELECT user_id, COALESCE(json_extract(data, '$.lang'), 'zh_Hans') FROM user_data"
                " WHERE EXISTS (SELECT 1 FROM json_each(data, '$.alerts') WHERE value = ?)",
                (township_id,),
            )
        return [(r[0], r[1]) for r in rows]
