"""Who is staff: the check every staff command and button makes before it acts.

Staff are the configured ids (`[telegram] staff_user_ids`) and the current administrators of the
moderation group, asked with getChatMember and remembered for `staff_cache_seconds`. Anyone else is
told "Staff only." privately and the attempt goes into the audit log.
"""

from __future__ import annotations

import contextlib
import html
import logging
import time

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from handlers.common import services

log = logging.getLogger(__name__)

STAFF_STATUSES = ("creator", "administrator")


async def is_staff(context: ContextTypes.DEFAULT_TYPE, user_id: int) -> bool:
    """Configured staff, or an administrator of the moderation group right now (cached briefly)."""
    svc = services(context)
    if user_id in svc.config.telegram.staff_user_ids:
        return True
    key = (svc.config.telegram.moderation_chat_id, user_id)
    cached = svc.staff_cache.get(key)
    if cached and cached[1] > time.monotonic():
        return cached[0]
    try:
        member = await context.bot.get_chat_member(svc.config.telegram.moderation_chat_id, user_id)
        allowed = member.status in STAFF_STATUSES
    except TelegramError as error:
        log.warning("staff check for %s failed: %s", user_id, error)
        return False  # when in doubt, no: a moderation action is never taken on a guess
    svc.staff_cache[key] = (allowed, time.monotonic() + svc.config.moderation.staff_cache_seconds)
    return allowed


def staff_name(update: Update) -> str:
    user = update.effective_user
    return user.full_name if user else "?"


async def staff_only(update: Update, context: ContextTypes.DEFAULT_TYPE, what: str | None = None) -> bool:
    """True for staff. Anyone else is told "Staff only." and the attempt is logged and recorded, as
    `what` (default: the text of their command)."""
    user = update.effective_user
    if user is not None and await is_staff(context, user.id):
        return True
    if what is None:
        what = (update.effective_message.text or "") if update.effective_message else ""
    await refuse(update, context, what)
    return False


async def refuse(update: Update, context: ContextTypes.DEFAULT_TYPE, what: str) -> None:
    """Answers "Staff only." and logs and records the attempt (`what`) in the audit log."""
    user = update.effective_user
    log.warning("non-staff %s tried %s", user.id if user else None, what)
    svc = services(context)
    await svc.store.record(
        None, user.id if user else None, staff_name(update), "denied", what[:200], svc.now()
    )
    t = svc.staff_translator()
    if update.callback_query is not None:
        await update.callback_query.answer(t.gettext("Staff only."), show_alert=True)
    elif user is not None:
        # Privately, never in the group: each answer there would spend its 20-a-minute budget. A
        # person who never started the bot cannot be written to, and needs no answer.
        with contextlib.suppress(TelegramError):
            await context.bot.send_message(user.id, html.escape(t.gettext("Staff only.")), parse_mode="HTML")
