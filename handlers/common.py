"""What every handler shares: the services built in post_init, the person's language, replies."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import Application, ContextTypes

from bot.config import Config
from bot.i18n import LANGUAGES, Translator, language_for, translator
from bot.store import Store

SERVICES_KEY = "services"


@dataclass
class Services:
    """Built once in post_init, closed in post_shutdown (PTB rules-bot style)."""

    config: Config
    store: Store
    outbox_wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    def now(self) -> datetime:
        return datetime.now(self.config.timezone)

    def staff_translator(self) -> Translator:
        return translator(self.config.staff_language, self.config.timezone.key)


def services(context: ContextTypes.DEFAULT_TYPE | Application[Any, Any, Any, Any, Any, Any]) -> Services:
    app = context if isinstance(context, Application) else context.application
    found = app.bot_data.get(SERVICES_KEY)
    assert isinstance(found, Services), "services are built in post_init"
    return found


def user_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """The stored language, else Telegram's language_code (Chinese for zh*, English otherwise)."""
    data = context.user_data if context.user_data is not None else {}
    stored = data.get("lang")
    if stored in LANGUAGES:
        return str(stored)
    user = update.effective_user
    language = language_for(user.language_code if user else None, default="en")
    if context.user_data is not None:
        context.user_data["lang"] = language
    return language


def tr(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Translator:
    """The Translator for the person behind this update."""
    return translator(user_language(update, context), services(context).config.timezone.key)


def inline_keyboard(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    """Inline buttons from rows of (label, callback_data)."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


async def reply(update: Update, text: str, **kwargs: Any) -> Message | None:
    """Answers in the chat the update came from, as HTML, whatever kind of update it is."""
    chat = update.effective_chat
    if chat is None:
        return None
    return await chat.send_message(text, parse_mode="HTML", **kwargs)
