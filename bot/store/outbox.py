"""The outbox: messages queued in the transaction that causes them, delivered by handlers/outbox.py."""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from bot.records import OutboxItem, Outgoing
from bot.store.core import StoreCore, _fetch, _one


class OutboxMixin(StoreCore):
    """Queueing messages and the delivery loop's bookkeeping."""

    async def enqueue(self, messages: Sequence[Outgoing], now: datetime) -> None:
        """Queues messages on their own (when no other state changes with them)."""
        async with self.transaction() as conn:
            await _enqueue(conn, messages, now)

    async def due_outbox(self, limit: int = 50) -> list[OutboxItem]:
        """The next message of every chat whose head of queue is due, oldest first.

        Only each chat's oldest pending message is offered, so a card's album, pin and text
        arrive in order even when one of them has to be retried.
        """
        async with self.reading() as conn:
            rows = await _fetch(
                conn,
                """SELECT o.* FROM outbox o
                   JOIN (SELECT chat_id, MIN(id) AS head FROM outbox
                         WHERE status = 'pending' GROUP BY chat_id) h
                     ON o.id = h.head
                   WHERE o.due_at <= ? ORDER BY o.id LIMIT ?""",
                (time.time(), limit),
            )
        return [
            OutboxItem(
                r["id"], r["chat_id"], r["method"], json.loads(r["payload"]), r["purpose"], r["attempts"],
                bool(r["private"]),
            )
            for r in rows
        ]

    async def outbox_sent(self, item_id: int, result: Any, *, private: bool = False) -> None:
        await self._write_unsynced(
            "UPDATE outbox SET status = 'sent', attempts = attempts + 1, "
            f"result = CASE WHEN private = 1 THEN NULL ELSE ? END, {_SCRUBBED_IF_PRIVATE} WHERE id = ?",
            (json.dumps(result), item_id),
        )
        if private:
            await self.checkpoint()

    async def outbox_retry(self, item_id: int, delay_s: float, error: str) -> None:
        await self._write_unsynced(
            "UPDATE outbox SET attempts = attempts + 1, due_at = ?, last_error = ? WHERE id = ?",
            (time.time() + delay_s, error[:500], item_id),
        )

    async def outbox_due_now(self, now: float) -> None:
        """Telegram is reachable again: what waited out a network back-off goes now (a 429's wait stays)."""
        await self._write_unsynced(
            "UPDATE outbox SET due_at = ? WHERE status = 'pending' AND due_at > ? AND attempts > 0"
            " AND (last_error IS NULL OR last_error NOT LIKE '429%')",
            (now, now),
        )

    async def outbox_failed(self, item_id: int, error: str, *, private: bool = False) -> None:
        await self._write_unsynced(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?, "
            "result = CASE WHEN private = 1 THEN NULL ELSE result END, "
            f"{_SCRUBBED_IF_PRIVATE} WHERE id = ?",
            (error[:500], item_id),
        )
        if private:
            await self.checkpoint()

    async def outbox_depth(self) -> int:
        async with self.reading() as conn:
            row = await _one(conn, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
        return int(row[0])

    async def outbox_next_due(self, busy: Collection[int] = ()) -> float | None:
        """When the earliest pending message is due (epoch seconds), or None when nothing waits;
        chats in `busy` (a delivery already under way) are left out."""
        marks = ", ".join("?" * len(busy))
        async with self.reading() as conn:
            row = await _one(
                conn,
                f"SELECT MIN(due_at) FROM outbox WHERE status = 'pending' AND chat_id NOT IN ({marks})",
                tuple(busy),
            )
        return None if row[0] is None else float(row[0])


async def _enqueue(conn: aiosqlite.Connection, messages: Sequence[Outgoing], now: datetime) -> None:
    # A private row keeps only the kind of its purpose ("receipt", not "receipt:<report id>") and
    # its minute: once scrubbed, nothing in it points at a report, a draft or a moment.
    minute = now.replace(second=0, microsecond=0).isoformat()
    await conn.executemany(
        "INSERT INTO outbox (chat_id, method, payload, purpose, created_at, due_at, private)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                m.chat_id,
                m.method,
                json.dumps(m.payload, ensure_ascii=False),
                m.purpose.split(":", 1)[0] if m.private else m.purpose,
                minute if m.private else now.isoformat(),
                time.time(),
                int(m.private),
            )
            for m in messages
        ],
    )


# A private message (an anonymous tip's receipt) keeps no trace of its chat once sent or given up.
_SCRUBBED_IF_PRIVATE = (
    "chat_id = CASE WHEN private = 1 THEN 0 ELSE chat_id END, "
    "payload = CASE WHEN private = 1 THEN '{}' ELSE payload END, "
    "due_at = CASE WHEN private = 1 THEN CAST(due_at / 60 AS INTEGER) * 60 ELSE due_at END"
)
