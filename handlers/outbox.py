"""The outbox sender: delivers queued messages with retries, in order per chat.

Messages are written to the outbox in the same transaction as the state change that causes
them, so a crash or a Bot API outage delays a staff card or a receipt but never loses it.
RetryAfter is honoured to the second; network errors and 5xx back off exponentially; a
permanent refusal (blocked bot, chat not found) is recorded and does not hold up other chats.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from telegram import (
    Bot,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.cards import place_label
from bot.i18n import Translator
from bot.locations import gazetteer
from bot.moderation import BUTTON_LABELS, REJECT_REASONS, Action, card_text, main_buttons
from bot.records import CardState, OutboxItem, Review
from bot.store import Store

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 300.0
# Derived copies sent as videos rather than photos (bot/video.py writes these).
VIDEO_SUFFIXES = (".mp4", ".webm")
UPLOAD_LIMIT_BYTES = 50 * 1024 * 1024  # the Bot API's limit for a file a bot sends


def backoff_seconds(attempts: int) -> float:
    """1, 2, 4 … seconds, capped at five minutes."""
    return float(min(MAX_BACKOFF_S, 2 ** min(attempts, 12)))


def _button_label(action: Action, arg: str, state: CardState, t: Translator) -> str:
    if action is Action.REJECT_WITH:
        return t.gettext(REJECT_REASONS[arg])
    if action is Action.MERGE_INTO:
        return t.gettext("Into incident #{number}", number=arg)
    if action in (Action.SPLIT_OUT, Action.ASK_REPORT, Action.ACCEPT, Action.REJECT_REPORT):
        report = next((r for r in state.reports if str(r.id) == arg), None)
        code = report.ref_code if report else arg
        if action is Action.ASK_REPORT and report is not None:
            return "❓ " + code + " · " + (report.reporter_name or str(report.reporter_id))[:30]
        if action is Action.ACCEPT:
            if state.review is Review.VERIFIED:
                return t.gettext("✅ Accept {code}", code=code)
            return t.gettext("❌ Not confirmed either: {code}", code=code)
        if action is Action.REJECT_REPORT:
            return t.gettext("❌ Reject {code}", code=code)
        if report is not None and report in state.later_reports:
            return t.gettext("✂️ Split out {code}", code=code)
        return code
    if action is Action.REJECT_REPORT_WITH:
        return t.gettext(REJECT_REASONS[arg.split(":", 1)[1]])
    if action is Action.WARN_SEND:
        return t.gettext("📢 Send the warning to {n}", n=arg.partition(":")[0])
    if action is Action.WARN_IN:
        town = gazetteer().get(arg)
        return "📢 " + (place_label(town, t) if town else arg)
    return t.gettext(BUTTON_LABELS[action])


async def card_markup(store: Store, state: CardState, rows: list[list[tuple[Action, str]]] | None,
                      t: Translator) -> InlineKeyboardMarkup | None:
    """The card's buttons (its main ones when `rows` is None), each carrying an opaque token."""
    rows = main_buttons(state) if rows is None else rows
    tokens = await store.action_tokens(state.incident_id, [pair for row in rows for pair in row])
    keyboard = [[InlineKeyboardButton(_button_label(a, arg, state, t), callback_data=f"m:{tokens[(a, arg)]}")
                 for a, arg in row] for row in rows]
    return InlineKeyboardMarkup(keyboard) if keyboard else None


Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | ForceReply


def _markup(p: dict[str, Any]) -> Markup | None:
    """The reply markup of a queued message: Telegram's JSON form (a reply the bot could not send at once)."""
    if p.get("force_reply"):
        return ForceReply()
    data = p.get("reply_markup")
    if not data:
        return None
    if "inline_keyboard" in data:
        return InlineKeyboardMarkup.de_json(data, None)
    if "keyboard" in data:
        return ReplyKeyboardMarkup.de_json(data, None)
    return ReplyKeyboardRemove.de_json(data, None)


def _reply_to(p: dict[str, Any]) -> ReplyParameters | None:
    # A reply to a card that was deleted should still arrive, just not threaded.
    return ReplyParameters(p["reply_to"], allow_sending_without_reply=True) if p.get("reply_to") else None


async def send_card(
    bot: Bot, store: Store, t: Translator, item: OutboxItem, shown: dict[int, str] | None = None
) -> list[int]:
    """Posts the incident's card, or edits it in place when it is already posted.

    `shown` remembers what each card shows (text and buttons): a refresh that would change nothing
    is not sent (Telegram only answers it "message is not modified")."""
    incident_id = int(item.payload["incident_id"])
    state = await store.card_state(incident_id)
    if state is None:
        return []
    text = card_text(state, t)
    markup = await card_markup(store, state, None, t)
    looks = text + "\n" + json.dumps(markup.to_dict() if markup else None, sort_keys=True)
    existing = await store.card_message(incident_id)
    report_ids = [r.id for r in state.reports]  # what staff see: a decision covers these
    if existing is None or await store.card_repost(incident_id):
        # New, or new work on a decided incident: posted at the bottom where staff will notice it.
        message = await bot.send_message(item.chat_id, text, parse_mode="HTML", reply_markup=markup)
        await store.card_sent(incident_id, message.chat_id, message.message_id, report_ids)
        if existing is not None:  # the old copy far up the chat goes (its buttons are stale anyway)
            with contextlib.suppress(TelegramError):
                await bot.delete_message(existing[0], existing[1])
        if shown is not None:
            shown[incident_id] = looks
        return [message.message_id]
    if shown is not None and shown.get(incident_id) == looks:
        return [existing[1]]
    try:
        await bot.edit_message_text(text, existing[0], existing[1], parse_mode="HTML", reply_markup=markup)
    except BadRequest as error:
        if "not modified" not in error.message.lower():
            raise
    await store.card_sent(incident_id, existing[0], existing[1], report_ids)
    if shown is not None:
        shown[incident_id] = looks
    return [existing[1]]


async def _uploadable(paths: list[str]) -> list[str]:
    """The files a bot may upload (Telegram takes at most 50 MB); a bigger clip, possible only with a
    local Bot API server, stays on the server: staff see its length and size on the card."""
    sizes = await asyncio.to_thread(lambda: [Path(path).stat().st_size for path in paths])
    kept = [path for path, size in zip(paths, sizes, strict=True) if size <= UPLOAD_LIMIT_BYTES]
    if len(kept) < len(paths):
        log.warning("%d file(s) over Telegram's 50 MB upload limit not sent", len(paths) - len(kept))
    return kept


async def _key_frame(path: str) -> bytes | None:
    """A clip's preview: the middle key frame bot/video.py saved (media/thumbnails/<sha256>.jpg)."""
    clip = Path(path)
    thumbnail = clip.parent.parent / "thumbnails" / f"{clip.stem}.jpg"
    try:
        return await asyncio.to_thread(thumbnail.read_bytes)
    except OSError:
        return None  # Telegram then makes its own


async def send(bot: Bot, item: OutboxItem) -> list[int]:
    """Performs one queued call; returns the ids of the messages it created."""
    p: dict[str, Any] = item.payload
    if item.method == "send_message":
        message = await bot.send_message(
            item.chat_id, p["text"], parse_mode="HTML", disable_web_page_preview=True,
            reply_parameters=_reply_to(p), reply_markup=_markup(p),
        )
        return [message.message_id]
    if item.method == "send_documents":
        paths = await _uploadable(p["paths"])
        if not paths:
            return []
        files = [(await asyncio.to_thread(Path(path).read_bytes), Path(path).name) for path in paths]
        if len(files) == 1:
            message = await bot.send_document(item.chat_id, files[0][0], filename=files[0][1],
                                              reply_parameters=_reply_to(p))
            return [message.message_id]
        documents = [InputMediaDocument(blob, filename=name) for blob, name in files]
        sent = await bot.send_media_group(item.chat_id, documents, reply_parameters=_reply_to(p))
        return [m.message_id for m in sent]
    if item.method == "copy_message":  # a reporter's photo or file answering a staff question
        copied = await bot.copy_message(
            item.chat_id, p["from_chat_id"], p["message_id"], caption=p.get("caption"), parse_mode="HTML",
            reply_parameters=_reply_to(p),
        )
        return [copied.message_id]
    if item.method == "send_location":
        message = await bot.send_location(
            item.chat_id, p["latitude"], p["longitude"], horizontal_accuracy=p.get("horizontal_accuracy")
        )
        return [message.message_id]
    if item.method == "send_photos":  # photos and (metadata-free) clips, told apart by their file
        paths = await _uploadable(p["paths"])
        if not paths:
            return []
        blobs = [await asyncio.to_thread(Path(path).read_bytes) for path in paths]
        clips = [Path(path).suffix in VIDEO_SUFFIXES for path in paths]
        if len(blobs) == 1:
            if clips[0]:
                message = await bot.send_video(item.chat_id, blobs[0], caption=p.get("caption"),
                                               parse_mode="HTML", thumbnail=await _key_frame(paths[0]))
            else:
                message = await bot.send_photo(item.chat_id, blobs[0], caption=p.get("caption"),
                                               parse_mode="HTML")
            return [message.message_id]
        media: list[InputMediaPhoto | InputMediaVideo] = [
            InputMediaVideo(blob, caption=p.get("caption") if i == 0 else None, parse_mode="HTML",
                            thumbnail=await _key_frame(path))
            if clip else
            InputMediaPhoto(blob, caption=p.get("caption") if i == 0 else None, parse_mode="HTML")
            for i, (blob, clip, path) in enumerate(zip(blobs, clips, paths, strict=True))
        ]
        messages: tuple[Message, ...] = await bot.send_media_group(item.chat_id, media)
        return [m.message_id for m in messages]
    if item.method == "send_voices":  # voice notes under their card, playable by staff
        voice_ids: list[int] = []
        for path, caption in zip(p["paths"], p["captions"], strict=True):
            blob = await asyncio.to_thread(Path(path).read_bytes)
            message = await bot.send_voice(item.chat_id, blob, caption=caption, parse_mode="HTML",
                                           reply_parameters=_reply_to(p))
            voice_ids.append(message.message_id)
        return voice_ids
    raise ValueError(f"unknown outbox method {item.method!r}")


class OutboxSender:
    """A background task draining the outbox; `wakeup` makes it look at once."""

    def __init__(self, bot: Bot, store: Store, wakeup: asyncio.Event, staff: Translator,
                 poll_s: float = 2.0) -> None:
        self.bot = bot
        self.store = store
        self.wakeup = wakeup
        self.staff = staff
        self.poll_s = poll_s
        self._sending: dict[int, asyncio.Task[None]] = {}  # chat id -> the delivery under way
        # incident id -> what its card shows now (this run; after a restart one edit may repeat)
        self._shown: dict[int, str] = {}

    async def deliver_due(self) -> int:
        """Delivers every message that is due now and waits for them; returns how many were attempted.

        The due messages are the heads of different chats' queues, so they go out at once (each
        chat's own messages stay in order). `run` does not wait like this (see `start_due`)."""
        items = await self.store.due_outbox()
        outcomes = await asyncio.gather(*(self.deliver(item) for item in items), return_exceptions=True)
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        for failure in failures[1:]:  # the first is raised, and `run` logs it and waits
            log.error("outbox delivery failed", exc_info=failure)
        if failures:
            raise failures[0]
        return len(items)

    def _finished(self, chat_id: int, task: asyncio.Task[None]) -> None:
        self._sending.pop(chat_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("outbox delivery failed", exc_info=task.exception())
        self.wakeup.set()  # the chat's next message may be due

    async def start_due(self) -> int:
        """Starts delivering the head of every chat's queue that is due and not already on its way;
        returns how many were started.

        Each chat is delivered by a task of its own: the staff group waiting out its 20 messages a
        minute holds only the staff group, while receipts and questions to people go out at once."""
        started = 0
        for item in await self.store.due_outbox():
            if item.chat_id in self._sending:
                continue  # its chat's earlier message is still on its way: order is kept
            task = asyncio.create_task(self.deliver(item), name=f"outbox:{item.id}")
            self._sending[item.chat_id] = task
            task.add_done_callback(functools.partial(self._finished, item.chat_id))
            started += 1
        return started

    async def deliver(self, item: OutboxItem) -> None:
        if item.method == "card" and await self.store.superseded(item):
            # A later refresh of the same card is queued: in a burst the card is edited once, not fifty times.
            await self.store.outbox_sent(item.id, "superseded")
            return
        if item.method == "send_voices" and "incident_id" in item.payload:
            # Under the incident's card, which may have been posted after this row was queued.
            card = await self.store.card_message(int(item.payload["incident_id"]))
            payload = {**item.payload, "reply_to": card[1] if card else None}
            item = OutboxItem(item.id, item.chat_id, item.method, payload, item.purpose, item.attempts)
        try:
            ids = await (send_card(self.bot, self.store, self.staff, item, self._shown)
                         if item.method == "card" else send(self.bot, item))
        except RetryAfter as error:
            retry_after = error.retry_after
            delay = retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)
            await self.store.outbox_retry(item.id, float(delay), f"429 retry after {delay}")
        except Forbidden as error:
            # The person blocked the bot (or left): nothing later will change that.
            # A private chat's id is a person's Telegram id: never in a log line.
            where = "a private chat" if item.chat_id > 0 else item.chat_id
            log.info("outbox %s to %s refused: %s", item.id, where, error.message)
            await self.store.outbox_failed(item.id, f"403 {error.message}", private=item.private)
        except BadRequest as error:
            log.error("outbox %s (%s) rejected by Telegram: %s", item.id, item.purpose, error.message)
            await self.store.outbox_failed(item.id, f"400 {error.message}", private=item.private)
        except (TelegramError, OSError) as error:
            delay = backoff_seconds(item.attempts)
            # Telegram out of reach is logged once by the transport ("Telegram unreachable: …"),
            # not once per queued message and try.
            quiet = isinstance(error, NetworkError) and not isinstance(error, TimedOut)
            log.log(logging.DEBUG if quiet else logging.WARNING,
                    "outbox %s failed (%s), retry in %.0f s", item.id, error, delay)
            await self.store.outbox_retry(item.id, delay, str(error))
        else:
            await self.store.outbox_sent(item.id, ids, private=item.private)

    async def run(self) -> None:
        """Runs until cancelled (then stops the deliveries under way: they are retried at the next start)."""
        try:
            while True:
                self.wakeup.clear()  # before looking, so a wake-up during delivery is not lost
                try:
                    started = await self.start_due()
                except Exception:  # never let one bad row stop delivery for everyone
                    log.exception("outbox sender failed; retrying")
                    started = 0
                if started:
                    continue
                next_due = await self.store.outbox_next_due(busy=list(self._sending))
                timeout = self.poll_s if next_due is None else min(self.poll_s, next_due - time.time())
                timeout = max(0.05, timeout)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), timeout)
        finally:
            sending = list(self._sending.values())
            for task in sending:
                task.cancel()
            await asyncio.gather(*sending, return_exceptions=True)
