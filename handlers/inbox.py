"""The durable inbox: every update is on disk before Telegram is told it arrived, marked done when handled.

PTB's Updater puts a batch of updates on the in-memory `update_queue` and confirms it to Telegram
(the next getUpdates offset) before the batch is handled, so a crash loses whatever was queued:
40 queued messages, a SIGKILL 0.3 s later, and 9 were ever answered. Here the bot polls
itself (:meth:`Inbox.poll`): fetch a batch, write it to the `inbox` table, and only then ask for
the next offset, which is what confirms the batch. In webhook mode the route stores the update
before answering 200 (:meth:`Inbox.receive`, handlers/web.py). The update processor marks an
update done once its handlers have finished (handlers/updates.py), and at start-up what was
received and not done is handled first, in the order it arrived (:meth:`Inbox.replay`); each
person's updates then run one at a time, in that order. An update delivered twice (same
`update_id`: Telegram redelivers unconfirmed updates after a crash) is stored, and handled, once.

Updates are stored encrypted (Fernet, a key derived from LEOPARD_WATCH_SECRET): an update names its
sender, and a copy of the data folder must not name a poaching tipster (a tip's draft is
kept in memory only). Without the secret (a laptop, the sandbox) the key is a file beside the
database. Once done, the row keeps only the update's id.

What is left to a crash is the moment between an update's last effect and its done mark: it is
handled again after the restart. The handlers make that harmless: a draft remembers the last
update it took (handlers/report.py), a report is stored once per draft, and a photo once per draft.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from cryptography.fernet import InvalidToken as UnreadableRow
from telegram import Update
from telegram.error import InvalidToken, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application

from bot.store import Store
from handlers.updates import PerPersonUpdateProcessor

log = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
INBOX_KEY = "inbox"
#: How long the ids of handled updates are kept to recognise a second delivery (Telegram keeps an
#: unconfirmed update for 24 hours).
KEEP_IDS_S = 2 * 86400.0
#: Back-off between failed getUpdates calls: 0.5 s doubling up to this.
MAX_POLL_BACKOFF_S = 30.0


class Inbox:
    """Stores updates, feeds them to the application, marks them done."""

    def __init__(self, application: AnyApplication, store: Store, key: bytes) -> None:
        self.application = application
        self.store = store
        self._fernet = Fernet(base64.urlsafe_b64encode(key))
        #: the next getUpdates offset: everything below it is stored
        self.offset: int | None = None

    async def receive(self, updates: list[Update]) -> list[Update]:
        """Writes `updates` to the inbox (durably); returns those not seen before, in order."""
        if not updates:
            return []
        rows = [(u.update_id, self._fernet.encrypt(u.to_json().encode()).decode()) for u in updates]
        fresh = set(await self.store.inbox_receive(rows, time.time()))
        # A batch may hold the same update twice, too: each is handed on once.
        handed: list[Update] = []
        for update in updates:
            if update.update_id in fresh:
                fresh.discard(update.update_id)
                handed.append(update)
        return handed

    async def receive_and_queue(self, updates: list[Update]) -> int:
        """Stores `updates`, then queues the new ones for handling; returns how many were new."""
        fresh = await self.receive(updates)
        for update in fresh:
            self.application.update_queue.put_nowait(update)
        return len(fresh)

    async def done(self, update: object) -> None:
        """The update's handlers have all run: it is not handled again after a crash."""
        if isinstance(update, Update):
            await self.store.inbox_done(update.update_id, time.time())

    async def replay(self) -> int:
        """Queues what an earlier run received and did not finish, oldest first; returns how many."""
        await self.store.inbox_prune(time.time() - KEEP_IDS_S)
        pending = await self.store.inbox_pending()
        for update_id, data in pending:
            try:
                update = Update.de_json(json.loads(self._fernet.decrypt(data)), self.application.bot)
            except (UnreadableRow, ValueError, TypeError, KeyError) as error:  # another key, or damaged
                log.error("inbox: update %s cannot be read (%s); skipped", update_id, error)
                await self.store.inbox_done(update_id, time.time())
                continue
            self.application.update_queue.put_nowait(update)
        if pending:
            log.info("inbox: %d update(s) received before a crash are handled first", len(pending))
        return len(pending)

    async def poll(
        self,
        *,
        poll_timeout: int,
        interval: float,
        allowed_updates: list[str],
        on_error: Callable[[TelegramError], None] | None = None,
    ) -> None:
        """Long polling until cancelled: fetch, store, then confirm with the next offset.

        The first call has no offset, so Telegram sends again whatever the last run fetched and had
        not confirmed; the inbox recognises what it already holds. (A remembered offset could skip
        updates: after a week without any, Telegram starts the ids afresh at a random number.)"""
        bot = self.application.bot
        self.offset = None
        failures = 0
        while True:
            try:
                updates = await bot.get_updates(
                    offset=self.offset, timeout=poll_timeout, allowed_updates=allowed_updates
                )
            except TimedOut:
                continue  # a long poll the network cut short: ask again at once
            except RetryAfter as error:
                await asyncio.sleep(_seconds(error.retry_after))
                continue
            except TelegramError as error:  # the network, a 5xx, a Conflict, even a revoked token
                failures += 1
                delay = min(MAX_POLL_BACKOFF_S, 0.5 * 2 ** min(failures, 8))
                if on_error is not None:
                    on_error(error)  # one line per change of state (handlers/app.py)
                else:
                    log.warning("getUpdates failed (%s); again in %.1f s", error, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            if updates:
                # Shielded: a stop during the write must not leave the batch stored but not queued
                # (it would wait for the next start) or queued but not stored.
                await asyncio.shield(self.receive_and_queue(list(updates)))
                self.offset = updates[-1].update_id + 1  # confirmed by the next call, now that it is stored
            if interval:
                await asyncio.sleep(interval)

    async def confirm(self) -> None:
        """One short getUpdates that confirms everything stored (at a clean stop), so the next start
        is not sent it again (it would be recognised, but need not travel)."""
        if self.offset is None:
            return
        with contextlib.suppress(TelegramError):
            await self.application.bot.get_updates(offset=self.offset, timeout=0, limit=1)

    async def delete_webhook(self) -> None:
        """Long polling needs no webhook; retried through a Telegram hiccup at start-up."""
        failures = 0
        while True:
            try:
                await self.application.bot.delete_webhook(drop_pending_updates=False)
                return
            except InvalidToken:
                raise
            except TelegramError as error:
                failures += 1
                delay = min(MAX_POLL_BACKOFF_S, 0.5 * 2 ** min(failures, 8))
                log.warning("deleteWebhook failed (%s); again in %.1f s", error, delay)
                await asyncio.sleep(delay)


def _seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]


def inbox_of(application: AnyApplication) -> Inbox:
    """The application's inbox (built in post_init)."""
    found = application.bot_data.get(INBOX_KEY)
    assert isinstance(found, Inbox), "the inbox is built in post_init"
    return found


def inbox_key(secret: str, database: Path) -> bytes:
    """The inbox's encryption key: from the server secret, else a random key in a file beside the
    database (created once, readable by the bot's user only)."""
    if secret:
        return hmac.new(secret.encode(), b"leopard-watch inbox", hashlib.sha256).digest()
    path = database.with_name(database.name + ".inbox-key")
    try:
        return path.read_bytes()[:32]
    except FileNotFoundError:
        key = os.urandom(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
        return key


def attach_inbox(application: AnyApplication, store: Store, key: bytes) -> Inbox:
    """Builds the application's inbox (from post_init) and has the update processor mark updates done."""
    inbox = application.bot_data[INBOX_KEY] = Inbox(application, store, key)
    processor = application.update_processor
    if isinstance(processor, PerPersonUpdateProcessor):
        processor.on_done = inbox.done
    return inbox


async def run_polling(
    application: AnyApplication, stop: asyncio.Event, *, poll_interval: float = 0.0, poll_timeout: int = 10
) -> None:
    """A small application's life cycle on the inbox's long polling, until `stop` is set (the bot
    itself runs through handlers.app.run_bot, which also waits for Telegram to be reachable).

    What an earlier run received and did not finish is queued before polling starts. An application
    whose post_init attached no inbox (`attach_inbox`) polls with PTB's Updater."""
    async with application:  # initialize … shutdown
        if application.post_init:
            await application.post_init(application)
        try:
            if not isinstance(application.bot_data.get(INBOX_KEY), Inbox):
                await _run_updater(application, stop, poll_interval=poll_interval, poll_timeout=poll_timeout)
                return
            inbox = inbox_of(application)
            await inbox.replay()
            await inbox.delete_webhook()
            await application.start()
            polling = asyncio.create_task(
                inbox.poll(
                    poll_timeout=poll_timeout, interval=poll_interval, allowed_updates=list(Update.ALL_TYPES)
                ),
                name="inbox-polling",
            )
            waiting = asyncio.create_task(stop.wait())
            await asyncio.wait({polling, waiting}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            polling.cancel()
            ended: BaseException | None = None
            try:
                await polling
            except asyncio.CancelledError:
                pass
            except Exception as error:  # what ended it early (a revoked token): raised once stopped
                ended = error
            await application.stop()
            await inbox.confirm()
            if ended is not None:
                raise ended
        finally:
            # `async with` shuts down after this; post_shutdown must follow the final flush, so
            # run shutdown here first (it is idempotent) and then close the services.
            await application.shutdown()
            if application.post_shutdown:
                await application.post_shutdown(application)


async def _run_updater(
    application: AnyApplication, stop: asyncio.Event, *, poll_interval: float, poll_timeout: int
) -> None:
    """PTB's own polling, for an application built without the inbox (the benchmarks' plain echo bot)."""
    assert application.updater is not None
    await application.updater.start_polling(
        poll_interval=poll_interval, timeout=poll_timeout, allowed_updates=Update.ALL_TYPES
    )
    await application.start()
    await stop.wait()
    await application.updater.stop()
    await application.stop()
