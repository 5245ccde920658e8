"""The outbox sender: delivers queued messages with retries, in order per chat.

Messages are written to the outbox in the same transaction as the state change that causes
them, so a crash or a Bot API outage delays a staff card or a receipt but never loses it.
RetryAfter is honoured to the second; network errors and 5xx back off exponentially; a
permanent refusal (blocked bot, chat not found) is recorded and does not hold up other chats.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, InputMediaPhoto, Message
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot.store import OutboxItem, Store

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 300.0


def backoff_seconds(attempts: int) -> float:
    """1, 2, 4 … seconds, capped at five minutes."""
    return float(min(MAX_BACKOFF_S, 2 ** min(attempts, 12)))


async def send(bot: Bot, item: OutboxItem) -> list[int]:
    """Performs one queued call; returns the ids of the messages it created."""
    p: dict[str, Any] = item.payload
    if item.method == "send_message":
        markup = InlineKeyboardMarkup.de_json(p["reply_markup"], bot) if p.get("reply_markup") else None
        message = await bot.send_message(
            item.chat_id, p["text"], parse_mode="HTML", reply_markup=markup, disable_web_page_preview=True
        )
        return [message.message_id]
    if item.method == "send_location":
        message = await bot.send_location(
            item.chat_id, p["latitude"], p["longitude"], horizontal_accuracy=p.get("horizontal_accuracy")
        )
        return [message.message_id]
    if item.method == "send_photos":
        blobs = [await asyncio.to_thread(Path(path).read_bytes) for path in p["paths"]]
        if len(blobs) == 1:
            message = await bot.send_photo(
                item.chat_id, blobs[0], caption=p.get("caption"), parse_mode="HTML"
            )
            return [message.message_id]
        media = [
            InputMediaPhoto(blob, caption=p.get("caption") if i == 0 else None, parse_mode="HTML")
            for i, blob in enumerate(blobs)
        ]
        messages: tuple[Message, ...] = await bot.send_media_group(item.chat_id, media)
        return [m.message_id for m in messages]
    raise ValueError(f"unknown outbox method {item.method!r}")


class OutboxSender:
    """A background task draining the outbox; `wakeup` makes it look at once."""

    def __init__(self, bot: Bot, store: Store, wakeup: asyncio.Event, poll_s: float = 2.0) -> None:
        self.bot = bot
        self.store = store
        self.wakeup = wakeup
        self.poll_s = poll_s

    async def deliver_due(self) -> int:
        """Delivers every message that is due now; returns how many were attempted."""
        items = await self.store.due_outbox()
        for item in items:
            await self.deliver(item)
        return len(items)

    async def deliver(self, item: OutboxItem) -> None:
        try:
            ids = await send(self.bot, item)
        except RetryAfter as error:
            retry_after = error.retry_after
            delay = retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)
            await self.store.outbox_retry(item.id, float(delay), f"429 retry after {delay}")
        except Forbidden as error:
            # The person blocked the bot (or left): nothing later will change that.
            log.info("outbox %s to %s refused: %s", item.id, item.chat_id, error.message)
            await self.store.outbox_failed(item.id, f"403 {error.message}")
        except BadRequest as error:
            log.error("outbox %s (%s) rejected by Telegram: %s", item.id, item.purpose, error.message)
            await self.store.outbox_failed(item.id, f"400 {error.message}")
        except (TelegramError, OSError) as error:
            delay = backoff_seconds(item.attempts)
            log.warning("outbox %s failed (%s), retry in %.0f s", item.id, error, delay)
            await self.store.outbox_retry(item.id, delay, str(error))
        else:
            await self.store.outbox_sent(item.id, ids)

    async def run(self) -> None:
        """Runs until cancelled."""
        while True:
            self.wakeup.clear()  # before looking, so a wake-up during delivery is not lost
            try:
                attempted = await self.deliver_due()
            except Exception:  # never let one bad row stop delivery for everyone
                log.exception("outbox sender failed; retrying")
                attempted = 0
            if attempted:
                continue
            next_due = await self.store.outbox_next_due()
            timeout = self.poll_s if next_due is None else max(0.05, min(self.poll_s, next_due - time.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), timeout)
