"""The compensation chat: case cards with buttons, short staff commands, survey photos,
and the JobQueue jobs that keep the cards current, remind staff of deadlines and post the digest.

Cases are opened by ``Store.review_incident`` when staff verify a livestock incident (same
transaction). Each step goes through ``Store.change_case``: one transaction that checks the state
machine (bot/compensation.py), writes the step, audits it and queues the owner's notice in their
language. Case cards are not outbox rows: a case carries ``card_version`` (bumped with every
change) and :func:`sync_case_cards` posts or edits the cards that are behind, so a burst of changes
edits a card once and a Telegram outage only delays it.

Buttons carry ``c:<token>``; the token names a row of ``case_actions`` (the case, the action, its
argument) and must sit on that case's card. Commands are accepted in the compensation chat and in
the moderation group, from staff only (``handlers.rights.staff_only``)::

    /survey C12 2025-10-09 Officer Li     /surveyed C12 2 3000 yes two sheep killed at the pen
    /approve C12 [3000]    /deny C12 reserve|not_leopard|late|no_evidence|free text
    /paid C12 [3000] [2025-10-20]    /close C12 [note]    /applied C12 [date]
    /case C12 (post the card again)    /cases    /monthly [2025-10]

A case can also be named by a report's code (HS-7K3F-9Q). Survey photos: reply to the case card
with photos (or put the case number in the caption).
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time as clock
from collections.abc import Callable
from datetime import date, time, timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.compensation import (
    DENY_REASONS,
    STATE_LABELS,
    CaseInputError,
    CasePlan,
    IllegalTransition,
    application_received,
    approve,
    button_label,
    card_text,
    case_buttons,
    close,
    compensation_chat,
    deny,
    digest_texts,
    due_reminders,
    month_bounds,
    monthly_csv,
    monthly_rows,
    monthly_texts,
    parse_amount,
    parse_case_ref,
    parse_day,
    parse_survey,
    pay,
    record_survey,
    reminder_text,
    schedule_survey,
    split_day_and_amount,
)
from bot.config import Config, ConfigError
from bot.i18n import N_, Translator
from bot.records import Case, CaseChange, Outgoing
from bot.report import parse_reference_code
from bot.store import Store
from handlers.common import Services, reply, services
from handlers.rights import staff_name, staff_only

log = logging.getLogger(__name__)

CALLBACK_PREFIX = "c:"
JOB_CARDS = "compensation_cards"
JOB_DAILY = "compensation_daily"
REGISTERED = "compensation_registered"
CARD_LOCK = "compensation_card_lock"
# Case buttons are answered in this group, before group 0's catch-all for stale buttons.
BUTTON_GROUP = -1
MAX_CARD_BACKOFF_S = 300.0


def register(application: Application[Any, Any, Any, Any, Any, Any], config: Config) -> None:
    """Adds the compensation handlers (once; call from handlers/app.py build_application)."""
    if application.bot_data.get(REGISTERED):
        return
    application.bot_data[REGISTERED] = True
    chats = filters.Chat(chat_id=sorted({compensation_chat(config), config.telegram.moderation_chat_id}))
    staff_chats = chats & filters.UpdateType.MESSAGE
    application.add_handler(CallbackQueryHandler(case_button, pattern=r"^c:"), group=BUTTON_GROUP)
    for name, callback in COMMANDS.items():
        application.add_handler(CommandHandler(name, callback, filters=staff_chats))
    application.add_handler(MessageHandler(staff_chats & filters.PHOTO, survey_photo))


async def check_chat(application: Application[Any, Any, Any, Any, Any, Any], config: Config) -> None:
    """The compensation chat must be a group: staff type commands there, and in a channel Telegram
    does not say who typed. A channel stops start-up with one line (raised as a ConfigError)."""
    chat_id = compensation_chat(config)
    if chat_id == config.telegram.moderation_chat_id:
        return
    try:
        chat = await application.bot.get_chat(chat_id)
    except TelegramError as error:  # unreachable now (a network hiccup): cards will retry, say so
        log.warning("could not check the compensation chat %s: %s", chat_id, error)
        return
    if chat.type == ChatType.CHANNEL:
        raise ConfigError(
            f"compensation chat {chat_id} ({config.compensation.destination or 'the livestock destination'})"
            " is a channel; it must be a group, because staff type commands there"
        )


async def start_jobs(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """From post_init, after the services exist: the two jobs (once)."""
    svc = services(application)
    application.bot_data.setdefault(CARD_LOCK, asyncio.Lock())
    jobs = application.job_queue
    if jobs is None:
        log.error("no JobQueue (install python-telegram-bot[job-queue]): case cards and reminders are off")
        return
    if not jobs.get_jobs_by_name(JOB_CARDS):
        # A repeating job: it stays scheduled whatever a run does, a run missed while the loop was
        # busy (or the clock jumped) is run once late rather than lost, and runs never overlap.
        interval = svc.config.telegram.outbox_poll_seconds
        jobs.run_repeating(
            card_tick,
            interval,
            first=0.1,
            name=JOB_CARDS,
            job_kwargs={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
    if not jobs.get_jobs_by_name(JOB_DAILY):
        at = time(hour=svc.config.compensation.reminder_hour, tzinfo=svc.config.region.timezone)
        jobs.run_daily(daily_job, time=at, name=JOB_DAILY)


def _plan(svc: Services) -> CasePlan:
    return svc.case_plan


def _wake_cards(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Refresh the case cards now rather than at the next tick."""
    if context.job_queue is not None:
        context.job_queue.run_once(sync_case_cards, 0)


# --- the case card ------------------------------------------------------------------------------


async def case_markup(store: Store, case: Case, rows: list[list[tuple[str, str]]] | None,
                      t: Translator) -> InlineKeyboardMarkup | None:
    rows = case_buttons(case) if rows is None else rows
    tokens = await store.case_tokens(case.id, [pair for row in rows for pair in row])
    keyboard = [[InlineKeyboardButton(button_label(a, arg, case, t),
                                      callback_data=CALLBACK_PREFIX + tokens[(a, arg)])
                 for a, arg in row] for row in rows]
    return InlineKeyboardMarkup(keyboard) if keyboard else None


async def card_tick(context: ContextTypes.DEFAULT_TYPE) -> None:
    """One run of the case-card refresher (a repeating job); quiet unless something fails."""
    try:
        await sync_case_cards(context)
    except Exception:  # never let one bad card stop the refresher
        log.exception("case cards: refresh failed")


async def sync_case_cards(context: ContextTypes.DEFAULT_TYPE) -> int:
    """Posts or edits every case card that is behind its case; returns how many were brought up to date."""
    svc = services(context)
    lock = context.application.bot_data.setdefault(CARD_LOCK, asyncio.Lock())
    async with lock:  # the repeating job and a wake-up must not both post a new card
        return await _sync(context, svc)


async def _sync(context: ContextTypes.DEFAULT_TYPE, svc: Services) -> int:
    t = svc.staff_translator()
    plan = _plan(svc)
    today = plan.today(svc.now())
    chat = compensation_chat(svc.config)
    done = 0
    for case_id, version in await svc.store.case_cards_due():
        retry = svc.card_retry.get(case_id)
        if retry and retry[0] > clock.monotonic():
            continue
        case = await svc.store.case(case_id)
        if case is None:
            continue
        text = card_text(case, t, plan, today)
        markup = await case_markup(svc.store, case, None, t)
        try:
            where = await _post_or_edit(context, case, chat, text, markup)
        except RetryAfter:
            return done  # the next tick tries again
        except (TelegramError, OSError) as error:
            failures = (retry[1] if retry else 0) + 1
            delay = min(MAX_CARD_BACKOFF_S, 2.0 ** failures)
            svc.card_retry[case_id] = (clock.monotonic() + delay, failures)
            log.warning("case card C%s failed (%s); retry in %.0f s", case_id, error, delay)
            continue
        svc.card_retry.pop(case_id, None)
        await svc.store.case_card_sent(case_id, version, *where)
        done += 1
    return done


async def _post_or_edit(context: ContextTypes.DEFAULT_TYPE, case: Case, chat: int, text: str,
                        markup: InlineKeyboardMarkup | None) -> tuple[int, int]:
    if case.card is not None:
        try:
            await context.bot.edit_message_text(text, case.card[0], case.card[1], parse_mode="HTML",
                                                reply_markup=markup)
            return case.card
        except BadRequest as error:
            message = error.message.lower()
            if "not modified" in message:
                return case.card
            if "not found" not in message:
                raise
            # The card was deleted: post it again.
    sent = await context.bot.send_message(chat, text, parse_mode="HTML", reply_markup=markup)
    return sent.chat_id, sent.message_id


# --- steps ------------------------------------------------------------------------------------------


async def apply_step(svc: Services, case_id: int, staff_id: int, name: str,
                     step: Callable[[Case], CaseChange], t: Translator) -> tuple[bool, str]:
    """Runs one step; (done, what to tell the staff member)."""
    try:
        case = await svc.store.change_case(case_id, staff_id, name, svc.now(), step, cases=svc.case_plan)
    except LookupError:
        return False, t.gettext("No case has that number.")
    except IllegalTransition as refused:
        current = t.gettext(STATE_LABELS[refused.current])
        return False, t.gettext("Case {case} is at “{state}”: that step is not possible now.",
                                case=f"C{case_id}", state=current)
    except CaseInputError as problem:
        return False, t.gettext(problem.message, **problem.params)
    svc.outbox_wakeup.set()
    return True, t.gettext("{case}: {state}.", case=case.code, state=t.gettext(STATE_LABELS[case.state]))


async def case_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button on a case card: checks rights and the card, then takes the step."""
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    svc = services(context)
    t = svc.staff_translator()
    if not await staff_only(update, context, query.data):
        raise ApplicationHandlerStop
    found = await svc.store.case_action(query.data.removeprefix(CALLBACK_PREFIX))
    case = await svc.store.case(found[0]) if found else None
    message = query.message
    if (found is None or case is None or case.card is None or not isinstance(message, Message)
            or (message.chat.id, message.message_id) != case.card):
        await query.answer(t.gettext("That button is from an older message."))
        raise ApplicationHandlerStop
    _, action, arg = found
    if action in ("deny", "back"):
        rows = case_buttons(case, "deny" if action == "deny" else None)
        await query.edit_message_reply_markup(await case_markup(svc.store, case, rows, t))
        await query.answer()
        raise ApplicationHandlerStop
    plan = _plan(svc)
    today = plan.today(svc.now())
    name = staff_name(update)
    steps: dict[str, Callable[[Case], CaseChange]] = {
        # "I will survey it": the person who pressed, on the next working day.
        "survey_me": lambda c: schedule_survey(c, plan.calendar.add_working_days(today, 1), name),
        "applied": lambda c: application_received(c, today),
        "approve": lambda c: approve(c, today, name, None, plan),
        "deny_with": lambda c: deny(c, today, name, arg),
        "paid": lambda c: pay(c, today, None),
        "close": lambda c: close(c, today, ""),
    }
    step = steps.get(action)
    if step is None:
        await query.answer()
        raise ApplicationHandlerStop
    _, answer = await apply_step(svc, case.id, update.effective_user.id, name, step, t)
    await query.answer(answer, show_alert=len(answer) > 60)
    _wake_cards(context)
    raise ApplicationHandlerStop


async def find_case(svc: Services, text: str) -> Case | None:
    """A case by its number (C12, #12, 12) or by one of its reports' codes (HS-7K3F-9Q)."""
    number = parse_case_ref(text)
    if number is not None:
        found: Case | None = await svc.store.case(number)
        return found
    code = parse_reference_code(text)
    if code is not None:
        by_code: Case | None = await svc.store.case_by_report_code(code)
        return by_code
    return None


# Examples in the staff language (a Chinese card is Chinese throughout); the words typed in them
# (是, 保护区 …) are ones the parsers take.
USAGE = {
    "survey": N_("/survey C12 2025-10-09 Officer Li"),
    "surveyed": N_("/surveyed C12 2 3000 yes two sheep killed at the pen"),
    "approve": N_("/approve C12 3000"),
    "deny": N_("/deny C12 reserve"),
    "paid": N_("/paid C12 3000 2025-10-20"),
    "close": N_("/close C12"),
    "applied": N_("/applied C12 2025-10-09"),
    "case": N_("/case C12"),
}


async def _usage(update: Update, svc: Services, command: str) -> None:
    t = svc.staff_translator()
    example = t.gettext(USAGE[command])
    await reply(update, html.escape(t.gettext("Send it like this: {example}", example=example)))


async def _case_command(update: Update, context: ContextTypes.DEFAULT_TYPE,
                        command: str) -> tuple[Services, Case, list[str]] | None:
    """Staff check and the case named by the first argument (the usage is shown otherwise)."""
    if not await staff_only(update, context):
        return None
    svc = services(context)
    args = list(context.args or [])
    case = await find_case(svc, args[0]) if args else None
    if case is None:
        if args:
            await reply(update, html.escape(svc.staff_translator().gettext("No case has that number.")))
        await _usage(update, svc, command)
        return None
    return svc, case, args[1:]


async def _run(update: Update, context: ContextTypes.DEFAULT_TYPE, svc: Services, case: Case,
               step: Callable[[Case], CaseChange]) -> None:
    user = update.effective_user
    assert user is not None
    t = svc.staff_translator()
    _, answer = await apply_step(svc, case.id, user.id, staff_name(update), step, t)
    chat = update.effective_chat
    threaded = case.card is not None and chat is not None and chat.id == case.card[0]
    kwargs: dict[str, Any] = {"reply_to_message_id": case.card[1]} if threaded and case.card else {}
    try:
        await reply(update, html.escape(answer), **kwargs)
    except BadRequest:  # the card was deleted: answer unthreaded
        await reply(update, html.escape(answer))
    _wake_cards(context)


def _today(svc: Services) -> date:
    return _plan(svc).today(svc.now())


async def survey_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/survey CASE DATE OFFICER: schedules (or moves) the site survey."""
    found = await _case_command(update, context, "survey")
    if found is None:
        return
    svc, case, rest = found
    today = _today(svc)
    day = next((d for d in (parse_day(word, today) for word in rest) if d is not None), None)
    if day is None:
        await _usage(update, svc, "survey")
        return
    words = [w for w in rest if parse_day(w, today) is None]
    officer = " ".join(words) or staff_name(update)
    await _run(update, context, svc, case, lambda c: schedule_survey(c, day, officer))


async def surveyed_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/surveyed CASE HEADS VALUE yes|no FINDINGS: the survey report."""
    found = await _case_command(update, context, "surveyed")
    if found is None:
        return
    svc, case, rest = found
    survey = parse_survey(rest)
    if survey is None:
        await _usage(update, svc, "surveyed")
        return
    officer = case.officer or staff_name(update)
    today = _today(svc)
    await _run(update, context, svc, case, lambda c: record_survey(
        c, today, c.officer or officer, survey.heads, survey.value_fen, survey.confirmed, survey.findings))


async def approve_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/approve CASE [AMOUNT]: approves the assessed value, or the amount given."""
    found = await _case_command(update, context, "approve")
    if found is None:
        return
    svc, case, rest = found
    amount = parse_amount("".join(rest)) if rest else None
    if rest and amount is None:
        await _usage(update, svc, "approve")
        return
    today, name, plan = _today(svc), staff_name(update), _plan(svc)
    await _run(update, context, svc, case, lambda c: approve(c, today, name, amount, plan))


async def deny_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/deny CASE REASON: a reason key (reserve, not_leopard, late, no_evidence) or a few words."""
    found = await _case_command(update, context, "deny")
    if found is None:
        return
    svc, case, rest = found
    reason = " ".join(rest).strip()
    key = reason.casefold().replace("-", "_")
    if key in DENY_REASONS:
        reason = key
    today, name = _today(svc), staff_name(update)
    await _run(update, context, svc, case, lambda c: deny(c, today, name, reason))


async def paid_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/paid CASE [AMOUNT] [DATE]: the approved amount today unless told otherwise."""
    found = await _case_command(update, context, "paid")
    if found is None:
        return
    svc, case, rest = found
    today = _today(svc)
    day, amount, understood = split_day_and_amount(rest, today)
    if not understood:
        await _usage(update, svc, "paid")
        return
    await _run(update, context, svc, case, lambda c: pay(c, day or today, amount))


async def close_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/close CASE [NOTE]: a note is needed when the case was never decided (withdrawn)."""
    found = await _case_command(update, context, "close")
    if found is None:
        return
    svc, case, rest = found
    today, note = _today(svc), " ".join(rest)
    await _run(update, context, svc, case, lambda c: close(c, today, note))


async def applied_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/applied CASE [DATE]: the owner's application reached the bureau (today unless told)."""
    found = await _case_command(update, context, "applied")
    if found is None:
        return
    svc, case, rest = found
    today = _today(svc)
    day = parse_day(rest[0], today) if rest else today
    if day is None:
        await _usage(update, svc, "applied")
        return
    await _run(update, context, svc, case, lambda c: application_received(c, day))


async def case_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/case CASE: posts the case card again at the bottom of the chat."""
    found = await _case_command(update, context, "case")
    if found is None:
        return
    svc, case, _ = found
    await svc.store.repost_case_card(case.id)
    _wake_cards(context)


async def cases_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/cases: the open cases, most urgent first."""
    if not await staff_only(update, context):
        return
    svc = services(context)
    t = svc.staff_translator()
    cases = await svc.store.open_cases()
    if not cases:
        await reply(update, html.escape(t.gettext("No open compensation cases.")))
        return
    for text in digest_texts(cases, _today(svc), t, _plan(svc)):
        await reply(update, text)


_MONTH = re.compile(r"^(\d{4})[-/.年](\d{1,2})月?$")


def previous_month(today: date) -> str:
    last = today.replace(day=1) - timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


async def monthly_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/monthly [YYYY-MM]: cases, heads and amounts by township and animal (by default the month
    before), as a message and as a CSV file."""
    if not await staff_only(update, context):
        return
    svc = services(context)
    t = svc.staff_translator()
    text = " ".join(context.args or []).strip()
    match = _MONTH.match(text) if text else None
    if text and (match is None or not 1 <= int(match.group(2)) <= 12):
        example = "/monthly 2025-10"
        await reply(update, html.escape(t.gettext("Send it like this: {example}", example=example)))
        return
    month = f"{int(match.group(1)):04d}-{int(match.group(2)):02d}" if match else previous_month(_today(svc))
    start, end = month_bounds(month)
    cases = await svc.store.cases_in_month(start.isoformat(), end.isoformat())
    rows = monthly_rows(cases, month, t)
    for chunk in monthly_texts(rows, month, t):
        await reply(update, chunk)
    chat = update.effective_chat
    assert chat is not None
    await context.bot.send_document(chat.id, monthly_csv(rows, month), filename=f"compensation-{month}.csv")


COMMANDS = {
    "survey": survey_command,
    "surveyed": surveyed_command,
    "approve": approve_command,
    "deny": deny_command,
    "paid": paid_command,
    "close": close_command,
    "applied": applied_command,
    "case": case_command,
    "cases": cases_command,
    "monthly": monthly_command,
}


# --- survey photos ----------------------------------------------------------------------------------

_CAPTION_CASE = re.compile(r"(?:^|\s)(?:[Cc#]|案)\s?-?(\d{1,9})\b")


async def survey_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo replying to a case card (or naming the case in its caption) joins the survey photos."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None or not message.photo:
        return
    svc = services(context)
    case: Case | None = None
    if message.reply_to_message is not None:
        case = await svc.store.case_by_card(message.chat.id, message.reply_to_message.message_id)
    if case is None and message.caption:
        match = _CAPTION_CASE.search(message.caption)
        case = await svc.store.case(int(match.group(1))) if match else None
    if case is None:
        return  # not for a case: other photos in the group are none of our business
    if not await staff_only(update, context, "case photo"):
        return
    photo = message.photo[-1]
    added = await svc.store.add_case_photo(case.id, photo.file_id, photo.file_unique_id, user.id,
                                           staff_name(update), svc.now())
    t = svc.staff_translator()
    if added:
        await message.reply_text(html.escape(t.gettext("Photo added to {case}.", case=case.code)),
                                 parse_mode="HTML")
    _wake_cards(context)


# --- reminders and the daily digest -----------------------------------------------------------------


async def daily_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    await daily_round(svc, _today(svc))
    _wake_cards(context)


async def daily_round(svc: Services, today: date) -> int:
    """Reminders of deadlines near or missed (each once) and the digest of open cases, on working
    days only; every open card is refreshed so its countdown is current. Returns messages queued."""
    plan = _plan(svc)
    if not plan.calendar.is_working_day(today):
        return 0
    cases = await svc.store.open_cases()
    if not cases:
        return 0
    t = svc.staff_translator()
    chat = compensation_chat(svc.config)
    messages = [Outgoing(chat, "send_message", {"text": text}, "case_digest")
                for text in digest_texts(cases, today, t, plan)]
    keys: dict[int, list[str]] = {}
    for case in cases:
        for key, _stage, due in due_reminders(case, today, plan):
            payload: dict[str, Any] = {"text": reminder_text(case, key, due, today, t, plan)}
            if case.card is not None and case.card[0] == chat:
                payload["reply_to"] = case.card[1]
            messages.append(Outgoing(chat, "send_message", payload, f"case_remind:{case.id}"))
            keys.setdefault(case.id, []).append(key)
    await svc.store.remind_cases(keys, messages, svc.now(), refresh_cards=True)
    svc.outbox_wakeup.set()
    return len(messages)
