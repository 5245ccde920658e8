"""What every handler shares: the services built in post_init, the person's language, replies."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from telegram import (
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application, ContextTypes

from bot.compensation import CasePlan, default_plan
from bot.config import Config
from bot.i18n import LANGUAGES, Translator, language_for, translator
from bot.link import TelegramLink
from bot.records import Outgoing
from bot.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

SERVICES_KEY = "services"
#: Waits before trying again a call a person is waiting for (a reply, a photo download): a short
#: outage passes within them; what still fails after that is queued (replies) or reported.
RETRY_DELAYS_S = (0.3, 1.0, 2.0)
#: A 429 asking for a longer wait than this is not waited out with the person: the outbox sends it.
MAX_RETRY_AFTER_S = 5.0


@dataclass
class Services:
    """Built once in post_init, closed in post_shutdown (PTB rules-bot style)."""

    config: Config
    store: Store
    # The compensation rules as configured (deadlines, holiday calendar, time zone): the store is
    # given them wherever it opens a case or tells an owner (handlers/staff.py, handlers/compensation.py).
    case_plan: CasePlan = field(default_factory=default_plan)
    outbox_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    telegram: TelegramLink = field(default_factory=TelegramLink)  # reachable or not, for /healthz
    # What the bot remembers between updates, per application (a restart, or a second bot in the same
    # process, starts afresh):
    # (staff group, user id) -> (is staff, monotonic time it expires): group admins, asked briefly
    staff_cache: dict[tuple[int, int], tuple[bool, float]] = field(default_factory=dict)
    # error class name -> monotonic time the admins were last told about it (once a minute at most)
    last_alert: dict[str, float] = field(default_factory=dict)
    # case id -> (monotonic time of the next try, failures) of a compensation case card that failed
    card_retry: dict[int, tuple[float, int]] = field(default_factory=dict)
    # tasks started in the background, held until done so they are not garbage-collected half-way
    background: set[asyncio.Task[None]] = field(default_factory=set)

    def now(self) -> datetime:
        return datetime.now(self.config.region.timezone)

    def staff_translator(self) -> Translator:
        return translator(self.config.languages.staff, self.config.region.timezone.key)


def services(context: ContextTypes.DEFAULT_TYPE | Application[Any, Any, Any, Any, Any, Any]) -> Services:
    app = context if isinstance(context, Application) else context.application
    found = app.bot_data.get(SERVICES_KEY)
    assert isinstance(found, Services), "services are built in post_init"
    return found


def user_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """The stored language, else Telegram's language_code (Chinese for zh*, English otherwise);
    without one (Telegram does not always send it), `[languages] default`."""
    data = context.user_data if context.user_data is not None else {}
    stored = data.get("lang")
    if stored in LANGUAGES:
        return str(stored)
    user = update.effective_user
    default = services(context).config.languages.default
    language = language_for(user.language_code if user else None, default=default)
    if context.user_data is not None:
        context.user_data["lang"] = language
    return language


def tr(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Translator:
    """The Translator for the person behind this update."""
    return translator(user_language(update, context), services(context).config.region.timezone.key)


def inline_keyboard(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    """Inline buttons from rows of (label, callback_data)."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def transient(error: BaseException) -> bool:
    """A failure that trying again may cure: the network, a 5xx, a timeout, a 429 (not a 400 or 403)."""
    if isinstance(error, RetryAfter):
        return True
    return isinstance(error, NetworkError) and not isinstance(error, BadRequest)


async def retried(call: Callable[[], Awaitable[T]], what: str, *, after_timeout: bool = True) -> T:
    """`call()`, tried again with back-off (RETRY_DELAYS_S) through transient failures; the last one
    is raised. A person is waiting for it: a Bot API hiccup must not become "something went wrong".

    `after_timeout=False` for a call that sends something: a timeout has already cost the person
    seconds and the message may have gone out anyway, so it is not tried again here."""
    for delay in RETRY_DELAYS_S:
        try:
            return await call()
        except (NetworkError, RetryAfter) as error:
            if not transient(error) or (isinstance(error, TimedOut) and not after_timeout):
                raise
            if isinstance(error, RetryAfter):
                asked = error.retry_after
                wait = asked.total_seconds() if hasattr(asked, "total_seconds") else float(asked)
                if wait > MAX_RETRY_AFTER_S:
                    raise
                delay = max(delay, wait)
            log.info("%s failed (%s); again in %.1f s", what, error, delay)
            await asyncio.sleep(delay)
    return await call()


async def reply(update: Update, text: str, **kwargs: Any) -> Message | None:
    """Answers in the chat the update came from, as HTML, whatever kind of update it is; tried
    again through a short outage (`retried`)."""
    chat = update.effective_chat
    if chat is None:
        return None
    return await retried(
        lambda: chat.send_message(text, parse_mode="HTML", **kwargs), "a reply", after_timeout=False
    )


Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | ForceReply


async def reply_or_queue(
    update: Update, context: ContextTypes.DEFAULT_TYPE, text: str, reply_markup: Markup | None = None
) -> Message | None:
    """`reply`; when Telegram still cannot take it after the retries, the outbox sends it later
    (None then), so the handler finishes and the person gets the answer once Telegram is back."""
    try:
        return await reply(update, text, reply_markup=reply_markup)
    except (NetworkError, RetryAfter) as error:
        if not transient(error):
            raise
        chat = update.effective_chat
        assert chat is not None
        log.warning("reply to update %s failed (%s); queued", update.update_id, error)
        payload: dict[str, Any] = {"text": text}
        if reply_markup is not None:
            payload["reply_markup"] = reply_markup.to_dict()
        svc = services(context)
        # private: the scrubbed-after-delivery kind, since a poaching tip's draft talks here too.
        queued = Outgoing(chat.id, "send_message", payload, f"reply:{update.update_id}", private=True)
        await svc.store.enqueue([queued], svc.now())
        svc.outbox_wakeup.set()
        return None
