"""Abuse limits, bans, /privacy and /forgetme, and the photo retention job.

- A gatekeeper in the first handler group sees every update: a banned person is ignored (except
  /privacy, /forgetme and its buttons, so they can still delete their data), and a person sending
  more than `messages_per_minute` private messages is told once, politely, and ignored for the rest
  of that minute. The counters are in memory: a restart forgets a minute of history, nothing more.
- Reports per hour are counted from the stored reports when a report is sent (`report_limit_problem`,
  called by handlers/report.py's `submit`); the draft stays, to be sent later.
- An anonymous tip carries `anonymous_key(user id, day)` instead of the id: an HMAC-SHA256 under a
  random key of that day, held only in memory and replaced at midnight or by a restart. It
  lets limits and bans work for the rest of the day; nobody, not even with LEOPARD_WATCH_SECRET and
  the database, can recompute it afterwards to test whether an account sent a tip. The price: a
  tipster's limits and bans end with the day.
- Staff /ban and /unban in the moderation group: by Telegram id, by reference code (which also bans
  an anonymous tipster without identifying them), or as a reply to a message naming a report.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import html
import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes, ConversationHandler

from bot.i18n import N_
from bot.media import delete_files, entry_files
from bot.report import REF_IN_TEXT, parse_reference_code
from bot.store import Store
from handlers.common import Services, inline_keyboard, reply, services, tr
from handlers.persistence import draft_of
from handlers.rights import is_staff, staff_name, staff_only

log = logging.getLogger(__name__)

GATE_KEY = "privacy_gate"
WINDOW_S = 60.0
CONFIRM_MAX_AGE_S = 15 * 60
FORGET_PREFIX = "privacy:forget:"
_KEY_PURPOSE = b"leopard-watch/anonymous-reporter/v2:"

REPORT_LIMIT = N_(
    "Thank you for all your reports! We can take only a few reports an hour from one person. "
    "This one is kept: tap ✅ Send report again a little later."
)
TOO_FAST = N_(
    "You are sending messages very fast, so I am pausing for a minute. "
    "Nothing you sent before is lost: please go on in a minute."
)


# --- keys and limits -----------------------------------------------------------------------------


class DailyKey:
    """A random key for the current day, in memory only: a new day (or a restart) draws a new one and
    the old one is gone for good."""

    def __init__(self) -> None:
        self._day: date | None = None
        self._key = b""

    def of(self, day: date) -> bytes:
        if day != self._day:
            self._day, self._key = day, secrets.token_bytes(32)
        return self._key


_DAILY = DailyKey()


def anonymous_key(user_id: int, day: date) -> str:
    """An anonymous tipster's key on `day` (the county's date): HMAC-SHA256 under that day's random
    in-memory key, 128 bits in hex. Not derived from any stored or configured secret."""
    key = _DAILY.of(day)
    return "anon:" + hmac.new(key, _KEY_PURPOSE + str(user_id).encode(), hashlib.sha256).hexdigest()[:32]


def person_keys(svc: Services, user_id: int) -> tuple[str, str]:
    """Both keys a person's reports and bans may carry: their account's and today's anonymous one."""
    return Store.person_key(user_id), anonymous_key(user_id, svc.now().date())


async def report_limit_problem(svc: Services, user_id: int) -> str | None:
    """The message (to translate) when the person already sent `reports_per_hour` reports in the last
    hour, anonymous tips included; None when they may send this one. Configured staff are not limited."""
    if user_id in svc.config.telegram.staff_user_ids:
        return None
    since = svc.now() - timedelta(hours=1)
    count = await svc.store.recent_report_count(user_id, anonymous_key(user_id, svc.now().date()), since)
    return REPORT_LIMIT if count >= svc.config.abuse.reports_per_hour else None


@dataclass
class Gate:
    """Per-process state of the gatekeeper: recent messages per person, and the banned keys."""

    recent: dict[int, deque[float]] = field(default_factory=dict)
    warned_until: dict[int, float] = field(default_factory=dict)
    banned: set[str] | None = None  # loaded from the database on first use

    def allow(self, user_id: int, limit: int, now: float) -> bool:
        """Counts one message unless `limit` were already let through in the last minute."""
        window = self.recent.setdefault(user_id, deque())
        while window and window[0] <= now - WINDOW_S:
            window.popleft()
        if len(window) >= limit:
            return False
        window.append(now)
        if len(self.recent) > 10_000:  # forget people who went quiet
            for uid in [u for u, w in self.recent.items() if not w or w[-1] <= now - WINDOW_S]:
                self.recent.pop(uid, None)
                self.warned_until.pop(uid, None)
        return True

    def should_warn(self, user_id: int, now: float) -> bool:
        """At most one warning per person per minute."""
        if self.warned_until.get(user_id, 0.0) > now:
            return False
        self.warned_until[user_id] = now + WINDOW_S
        return True

    async def is_banned(self, svc: Services, user_id: int) -> bool:
        if self.banned is None:
            self.banned = await svc.store.banned_keys()
        return bool(self.banned) and not self.banned.isdisjoint(person_keys(svc, user_id))


def gate(context: ContextTypes.DEFAULT_TYPE | Application[Any, Any, Any, Any, Any, Any]) -> Gate:
    app = context if isinstance(context, Application) else context.application
    found = app.bot_data.get(GATE_KEY)
    if not isinstance(found, Gate):
        found = app.bot_data[GATE_KEY] = Gate()
    return found


def _privacy_update(update: Update) -> bool:
    """/privacy, /forgetme and the forget buttons: what a banned person may still use."""
    if update.callback_query is not None:
        return (update.callback_query.data or "").startswith(FORGET_PREFIX)
    message = update.message
    command = (message.text or "").split(maxsplit=1)[0].split("@")[0].lower() if message else ""
    return command in ("/privacy", "/forgetme")


async def gatekeeper(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Group -2, before everything: bans, then the per-person message rate (private chats only)."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None or chat.type != ChatType.PRIVATE:
        return
    svc = services(context)
    state = gate(context)
    if await state.is_banned(svc, user.id):
        if _privacy_update(update):
            return
        if update.callback_query is not None:
            with contextlib.suppress(Exception):
                await update.callback_query.answer()
        raise ApplicationHandlerStop
    # New messages only: buttons answer what the bot offered, and a moving live location is an edit.
    if update.message is None or user.id in svc.config.telegram.staff_user_ids:
        return
    now = time.monotonic()
    if state.allow(user.id, svc.config.abuse.messages_per_minute, now):
        return
    log.info("message limit reached by a person (%s/min)", svc.config.abuse.messages_per_minute)
    if state.should_warn(user.id, now):
        await reply(update, html.escape(tr(update, context).gettext(TOO_FAST)))
    raise ApplicationHandlerStop


# --- /privacy and /forgetme ------------------------------------------------------------------------


async def privacy_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/privacy: what is stored, who sees it, and how to have it deleted, in plain words."""
    t = tr(update, context)
    days = round(services(context).config.privacy.photo_retention_days)
    paragraphs = [
        "🔒 <b>" + html.escape(t.gettext("Your privacy")) + "</b>",
        t.gettext(
            "When you send a report we keep what you saw, the place, the time, your photos and answers, "
            "and your Telegram name and id, so the forestry bureau can thank you or ask you a question."
        ),
        t.gettext(
            "Poaching tips are anonymous: we keep no name, no Telegram id and no photo details with them, "
            "only a scrambled code that stops floods of messages for one day. Nobody can work out from "
            "it who you are, not even us."
        ),
        t.gettext(
            "Who sees it: the forestry bureau's staff. If you give a phone number for a livestock loss, "
            "it is only for the compensation case. Public channels only get a rough area and photos "
            "without location data, never your name."
        ),
        t.ngettext(
            "The original photos of reports that staff could not confirm are deleted after {n} day; "
            "a copy without location data is kept.",
            "The original photos of reports that staff could not confirm are deleted after {n} days; "
            "a copy without location data is kept.",
            days,
        ),
        t.gettext("While you write a report we keep your draft, and we remember your language."),
        t.gettext(
            "Send /forgetme to remove your name, id and phone number from everything you sent. What you "
            "saw, where and when stays in the scientific record, without your name. Old backup copies "
            "are deleted after about two weeks."
        ),
    ]
    await reply(update, "\n\n".join(p if p.startswith("🔒") else html.escape(p) for p in paragraphs))


async def forget_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/forgetme: says what will happen and asks for confirmation."""
    t = tr(update, context)
    stamp = int(time.time())
    text = t.gettext(
        "This removes your name, Telegram id, username and phone number from all your reports and "
        "compensation cases, and deletes your original photos, your unsent report and your settings. "
        "What you saw, where and when stays in the record without your name; a compensation case keeps "
        "only the loss, so the forestry bureau can no longer call you about it. Messages already posted "
        "to staff stay there, and you will get no more news about your reports. Delete your data?"
    )
    rows = [[(t.gettext("Yes, delete my data"), f"{FORGET_PREFIX}yes:{stamp}")],
            [(t.gettext("No, keep it"), f"{FORGET_PREFIX}no:{stamp}")]]
    await reply(update, html.escape(text), reply_markup=inline_keyboard(rows))


async def forget_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The /forgetme buttons (group -1, so an open report's conversation cannot take the press)."""
    query = update.callback_query
    user = update.effective_user
    assert query is not None and user is not None
    t = tr(update, context)  # before the settings (the language) are deleted
    action, _, stamp = (query.data or "").removeprefix(FORGET_PREFIX).partition(":")
    if not stamp.isdigit() or time.time() - int(stamp) > CONFIRM_MAX_AGE_S:
        await query.answer(t.gettext("That button is too old. Send /forgetme again."), show_alert=True)
        raise ApplicationHandlerStop
    await query.answer()
    if isinstance(query.message, Message) and query.message.reply_markup:
        await query.edit_message_reply_markup(None)
    if action != "yes":
        await reply(update, html.escape(t.gettext("Nothing was deleted.")))
        raise ApplicationHandlerStop
    svc = services(context)
    draft = draft_of(context.user_data or {})
    draft_files = entry_files(draft.get("photos", []) if draft is not None else [])
    _, anonymous = person_keys(svc, user.id)
    names = [n for n in (user.full_name, user.first_name, user.last_name, user.username) if n]
    forgotten = await svc.store.forget_person(user.id, anonymous, svc.now(), draft_files, names)
    await asyncio.to_thread(delete_files, forgotten.originals_to_delete)
    end_conversations(context.application, user.id)
    context.application.drop_user_data(user.id)
    await context.application.update_persistence()  # the drop, now: this handler stops the update
    log.info("a person asked to be forgotten: %d reports anonymised", forgotten.reports)
    text = t.ngettext(
        "Done. Your data is deleted; {n} report stays in the record without your name.",
        "Done. Your data is deleted; {n} reports stay in the record without your name.",
        forgotten.reports,
    ) if forgotten.reports else t.gettext("Done. Your data is deleted.")
    await reply(update, html.escape(text))
    raise ApplicationHandlerStop


def end_conversations(application: Application[Any, Any, Any, Any, Any, Any], user_id: int) -> None:
    """Ends every conversation of this person (their draft is gone, so no step may wait for it).

    PTB has no public call for this; `_update_state(END, key)` is what a callback returning END does.
    """
    for handlers in application.handlers.values():
        for handler in handlers:
            if isinstance(handler, ConversationHandler):
                conversations = handler._conversations  # noqa: SLF001 - see the docstring
                for key in [k for k in conversations if user_id in k]:
                    handler._update_state(ConversationHandler.END, key)  # noqa: SLF001


# --- staff: /ban and /unban -----------------------------------------------------------------------


async def _target(
    update: Update, context: ContextTypes.DEFAULT_TYPE, svc: Services
) -> tuple[str, str, str] | None:
    """(ban key, description for the audit log, reason) from a staff member's /ban or /unban, or
    None (not staff, or already answered)."""
    if not await staff_only(update, context):
        return None
    t = svc.staff_translator()
    args = list(context.args or [])
    message = update.effective_message
    replied = message.reply_to_message if message else None
    key = description = None
    if args and args[0].isdigit():
        user_id = int(args.pop(0))
        key, description = Store.person_key(user_id), f"user {user_id}"
    elif args and (code := parse_reference_code(args[0])) is not None:
        args.pop(0)
        key, description = await svc.store.report_key(code), f"reporter of {code}"
    elif replied is not None:
        codes = list(dict.fromkeys(REF_IN_TEXT.findall(replied.text or replied.caption or "")))
        keys = {await svc.store.report_key(code) for code in codes}
        if len(keys) > 1:
            await reply(update, html.escape(t.gettext(
                "That message names reports of several people. Send the command with one reference code.")))
            return None
        key = keys.pop() if keys else None
        description = f"reporter of {codes[0]}" if codes else None
    if description is None:
        await reply(update, html.escape(t.gettext(
            "Send it like this: /ban 123456789 or /ban HS-7K3F-9Q, with a reason if you like, "
            "or reply with /ban to a message that names one report.")))
        return None
    if key is None:
        await reply(update, html.escape(t.gettext("No person is behind that report (it came from the web).")))
        return None
    return key, description, " ".join(args)[:200]


async def ban_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ban: the person's messages are ignored, their reports kept but out of /pending."""
    svc = services(context)
    t = svc.staff_translator()
    target = await _target(update, context, svc)
    if target is None:
        return
    key, description, reason = target
    if key.startswith("tg:") and await is_staff(context, int(key.removeprefix("tg:"))):
        await reply(update, html.escape(t.gettext("Staff cannot be banned.")))
        return
    user = update.effective_user
    assert user is not None
    hidden = await svc.store.ban(key, user.id, staff_name(update), reason or None,
                                 f"{description}: {reason}" if reason else description, svc.now())
    gate(context).banned = None  # reloaded on the next update
    if hidden is None:
        text = t.gettext("Already banned.")
    else:
        text = t.ngettext(
            "Banned. Their messages are ignored; their {n} report is kept but left out of /pending.",
            "Banned. Their messages are ignored; their {n} reports are kept but left out of /pending.",
            hidden,
        )
    await reply(update, html.escape(text))


async def unban_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/unban: lifts a ban; the person's reports show in /pending again."""
    svc = services(context)
    t = svc.staff_translator()
    target = await _target(update, context, svc)
    if target is None:
        return
    key, description, _ = target
    user = update.effective_user
    assert user is not None
    lifted = await svc.store.unban(key, user.id, staff_name(update), description, svc.now())
    gate(context).banned = None  # reloaded on the next update
    text = t.gettext("Ban lifted.") if lifted else t.gettext("That person is not banned.")
    await reply(update, html.escape(text))


# --- retention -------------------------------------------------------------------------------------


async def purge_expired_originals(svc: Services) -> int:
    """Deletes the original photos of reports rejected more than `photo_retention_days` ago; returns
    how many files were deleted (their stripped copies stay)."""
    now = svc.now()
    before = now - timedelta(days=svc.config.privacy.photo_retention_days)
    paths = await svc.store.expire_rejected_originals(before, now)
    deleted = await asyncio.to_thread(delete_files, paths)
    if paths:
        log.info("retention: deleted %d original photos of rejected reports", deleted)
    return deleted


async def retention_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    await purge_expired_originals(services(context))


def schedule_retention(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Runs the retention rule a few minutes after start, then daily (call from post_init)."""
    if application.job_queue is None:
        log.warning("no job queue (install python-telegram-bot[job-queue]): photo retention is not applied")
        return
    application.job_queue.run_repeating(
        retention_job, interval=timedelta(days=1), first=timedelta(minutes=5), name="photo-retention"
    )

