"""The moderation group: card buttons, questions to reporters, and /pending, /stats, /find.

Only staff act: the configured ids, or current administrators of the moderation group (asked
with getChatMember and remembered briefly). Callback data is an opaque token naming a row of
`card_actions`; the incident it acts on comes from the database and must match the card the
button sits on, so a forged or stale button is answered and ignored. The store changes state
with a conditional UPDATE, so of two staff pressing at once the first wins and the second is
shown the current state.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from datetime import timedelta
from typing import Any

from telegram import ForceReply, Message, Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.cards import card_refresh, place_label
from bot.locations import gazetteer
from bot.moderation import (
    REJECT_REASONS,
    Action,
    answer_messages,
    decision_messages,
    evidence_messages,
    incident_township,
    pending_text,
    question_message,
    stats_text,
    warning_messages,
)
from bot.posters import make_poster
from bot.report import parse_reference_code
from bot.review import CardState, Review
from bot.store import Outgoing
from handlers.common import Services, reply, services
from handlers.outbox import card_markup

log = logging.getLogger(__name__)

STAFF_STATUSES = ("creator", "administrator")
_staff_cache: dict[tuple[int, int], tuple[bool, float]] = {}


async def is_staff(context: ContextTypes.DEFAULT_TYPE, user_id: int) -> bool:
    """Configured staff, or an administrator of the moderation group right now (cached briefly)."""
    svc = services(context)
    if user_id in svc.config.staff_user_ids:
        return True
    key = (svc.config.moderation_chat_id, user_id)
    cached = _staff_cache.get(key)
    if cached and cached[1] > time.monotonic():
        return cached[0]
    try:
        member = await context.bot.get_chat_member(svc.config.moderation_chat_id, user_id)
        allowed = member.status in STAFF_STATUSES
    except TelegramError as error:
        log.warning("staff check for %s failed: %s", user_id, error)
        return False  # when in doubt, no: a moderation action is never taken on a guess
    _staff_cache[key] = (allowed, time.monotonic() + svc.config.staff_cache_seconds)
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
    else:
        await reply(update, html.escape(t.gettext("Staff only.")))


async def card_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button on an incident card: checks rights and the card, then acts."""
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    svc = services(context)
    t = svc.staff_translator()
    if not await staff_only(update, context, query.data):
        return
    found = await svc.store.card_action(query.data.removeprefix("m:"))
    card = await svc.store.card_message(found[0]) if found else None
    message = query.message
    if (
        found is None
        or card is None
        or not isinstance(message, Message)
        or (message.chat.id, message.message_id) != card
    ):
        await query.answer(t.gettext("That button is from an older message."))
        return
    incident_id, action, arg = found
    await act(update, context, svc, incident_id, Action(action), arg)


async def act(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    svc: Services,
    incident_id: int,
    action: Action,
    arg: str,
) -> None:
    """Carries out one staff action and answers the press."""
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    t = svc.staff_translator()
    staff_id, name, now = update.effective_user.id, staff_name(update), svc.now()

    def refresh(incident: int) -> list[Outgoing]:
        return card_refresh(incident, svc.config.moderation_chat_id)

    answer = ""
    if action in (Action.REJECT, Action.MERGE, Action.SPLIT, Action.BACK):
        state = await svc.store.card_state(incident_id)
        rows = await submenu(svc, incident_id, state, action)
        await query.edit_message_reply_markup(await card_markup(svc.store, state, rows, t) if state else None)
        await query.answer()
        return
    if action in (Action.VERIFY, Action.REJECT_WITH):
        review = Review.VERIFIED if action is Action.VERIFY else Review.REJECTED
        changed = await svc.store.review_incident(
            incident_id,
            review,
            staff_id,
            name,
            arg or None,
            now,
            compose=lambda state: decision_messages(state, svc.config),
        )
        answer = t.gettext("Done.") if changed else t.gettext("Someone else already decided this incident.")
    elif action is Action.MERGE_INTO:
        changed = await svc.store.merge_into(incident_id, int(arg), staff_id, name, now, refresh)
        answer = t.gettext("Merged.") if changed else t.gettext("That can no longer be merged.")
    elif action is Action.SPLIT_OUT:
        changed = await svc.store.split_out(int(arg), staff_id, name, now, refresh)
        answer = (
            t.gettext("Split out as a new incident.")
            if changed
            else t.gettext("That report was already split.")
        )
    elif action is Action.ASSIGN:
        await svc.store.assign(incident_id, staff_id, name, now, refresh(incident_id))
        answer = t.gettext("Assigned to you.")
    elif action is Action.ASK:
        await ask_reporter_prompt(update, context, svc, incident_id)
    elif action is Action.WARN:
        answer = await warn_residents(svc, incident_id, staff_id, name)
    elif action in (Action.EXACT, Action.ORIGINALS):
        state = await svc.store.card_state(incident_id)
        card = await svc.store.card_message(incident_id)
        assert state is not None and card is not None
        await svc.store.record(
            incident_id,
            staff_id,
            name,
            action.value,
            None,
            now,
            evidence_messages(state, action.value, card[0], card[1], t),
        )
        answer = t.gettext("Sent below the card.")
    await query.answer(answer or None)
    svc.outbox_wakeup.set()


async def warn_residents(svc: Services, incident_id: int, staff_id: int, name: str) -> str:
    """Sends the township-level warning once; returns what to tell the staff member."""
    t = svc.staff_translator()
    state = await svc.store.card_state(incident_id)
    township = incident_township(state) if state else None
    if state is None or township is None:
        return t.gettext("No township is known for this place, so no warning was sent.")
    if await svc.store.already_done(incident_id, Action.WARN.value):
        return t.gettext("Residents were already warned about this incident.")
    subscribers = await svc.store.alert_subscribers(township.id)
    await svc.store.record(
        incident_id,
        staff_id,
        name,
        Action.WARN.value,
        township.id,
        svc.now(),
        warning_messages(state, township, subscribers, svc.config),
    )
    return t.ngettext("Warning sent to {n} person.", "Warning sent to {n} people.", len(subscribers))


async def submenu(
    svc: Services, incident_id: int, state: CardState | None, action: Action
) -> list[list[tuple[Action, str]]] | None:
    """The buttons behind Reject, Merge and Split (None: the card's main buttons)."""
    back = [(Action.BACK, "")]
    if action is Action.REJECT:
        return [[(Action.REJECT_WITH, reason)] for reason in REJECT_REASONS] + [back]
    if action is Action.MERGE:
        return [[(Action.MERGE_INTO, str(i))] for i in await svc.store.merge_candidates(incident_id)] + [back]
    if action is Action.SPLIT:
        reports = state.reports if state else ()
        return [[(Action.SPLIT_OUT, str(r.id))] for r in reports[1:]] + [back]
    return None


async def ask_reporter_prompt(
    update: Update, context: ContextTypes.DEFAULT_TYPE, svc: Services, incident_id: int
) -> None:
    """Asks staff to type the question as a reply; the reply is relayed by :func:`staff_question`."""
    t = svc.staff_translator()
    text = t.gettext(
        "Reply to this message with your question for the reporter of incident #{number}.", number=incident_id
    )
    card = await svc.store.card_message(incident_id)
    assert card is not None
    prompt = await context.bot.send_message(
        card[0],
        html.escape(text),
        parse_mode="HTML",
        reply_to_message_id=card[1],
        reply_markup=ForceReply(selective=True),
    )
    await svc.store.open_question(incident_id, prompt.chat.id, prompt.message_id, svc.now())


async def staff_question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A staff reply to an "ask the reporter" prompt: relayed to the reporters who can be reached."""
    message = update.effective_message
    if message is None or message.reply_to_message is None or not message.text:
        return
    svc = services(context)
    question = await svc.store.question_by_prompt(message.chat.id, message.reply_to_message.message_id)
    if question is None:
        return
    assert update.effective_user is not None
    if not await staff_only(update, context, "ask"):
        raise ApplicationHandlerStop
    sent = await svc.store.relay_question(
        question,
        message.text,
        update.effective_user.id,
        staff_name(update),
        svc.now(),
        compose=lambda report, purpose: question_message(report, message.text or "", purpose, svc.config),
    )
    t = svc.staff_translator()
    text = (
        t.ngettext("Sent to {n} reporter.", "Sent to {n} reporters.", sent)
        if sent
        else t.gettext("Nobody can be asked: the reports are anonymous.")
    )
    await message.reply_text(html.escape(text), parse_mode="HTML")
    svc.outbox_wakeup.set()
    raise ApplicationHandlerStop


async def reporter_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A reporter's reply to a staff question: threaded back under the incident's card."""
    message = update.effective_message
    if message is None or message.reply_to_message is None:
        return
    svc = services(context)
    text = message.text or message.caption or ""
    relayed = await svc.store.relay_answer(
        message.chat.id,
        message.reply_to_message.message_id,
        svc.now(),
        compose=lambda incident, code, card: answer_messages(incident, code, text, card, svc.config),
    )
    if not relayed:
        return
    from handlers.common import tr

    await reply(update, html.escape(tr(update, context).gettext("Thank you. Your answer was passed on.")))
    svc.outbox_wakeup.set()
    raise ApplicationHandlerStop


async def pending_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/pending: open incidents waiting for staff, oldest first."""
    if not await staff_only(update, context):
        return
    svc = services(context)
    t = svc.staff_translator()
    states = await svc.store.pending_incidents()
    await reply(update, pending_text(states, t) if states else html.escape(t.gettext("Nothing is waiting.")))


async def stats_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/stats: reports of the last 7 and 30 days by kind and township."""
    if not await staff_only(update, context):
        return
    svc = services(context)
    now = svc.now()
    reports = await svc.store.reports_since(now - timedelta(days=30))
    await reply(update, stats_text(reports, now, svc.staff_translator()))


async def find_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/find CODE: a report and its incident."""
    if not await staff_only(update, context):
        return
    svc = services(context)
    t = svc.staff_translator()
    code = parse_reference_code(" ".join(context.args or []))
    if code is None:
        await reply(update, html.escape(t.gettext("Send it like this: /find HS-7K3F-9Q")))
        return
    report = await svc.store.report_by_code(code)
    if report is None or report.incident_id is None:
        await reply(update, html.escape(t.gettext("No report has that code.")))
        return
    card = await svc.store.card_message(report.incident_id)
    text = t.gettext("{code} belongs to incident #{number}.", code=report.ref_code, number=report.incident_id)
    chat = update.effective_chat
    kwargs: dict[str, Any] = {"reply_to_message_id": card[1]} if card and chat and card[0] == chat.id else {}
    await reply(update, html.escape(text), **kwargs)


POSTER_KINDS = ("scenic_spot", "trailhead")


async def poster_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/poster SPOT: a printable A4 poster (PNG at 300 dpi, and PDF) with QR codes for a gazetteer spot."""
    if not await staff_only(update, context):
        return
    svc = services(context)
    t = svc.staff_translator()
    query = " ".join(context.args or []).strip()
    places = [p for p in gazetteer().search(query) if p.kind in POSTER_KINDS] if query else []
    if not places:
        await reply(
            update,
            html.escape(
                t.gettext(
                    "Send it like this: /poster 云龙山 (a scenic spot or trailhead from the place list)."
                )
            ),
        )
        return
    place = places[0]
    poster = await asyncio.to_thread(
        make_poster,
        place,
        bot_username=svc.config.bot_username or context.bot.username,
        web_url=svc.config.web.public_url or None,
        hotline=svc.config.hotline or None,
    )
    chat = update.effective_chat
    assert chat is not None
    caption = t.gettext("Poster for {place}: print the PDF on A4.", place=place_label(place, t))
    await context.bot.send_document(chat.id, poster.pdf, filename=f"poster-{place.id}.pdf", caption=caption)
    await context.bot.send_document(chat.id, poster.png, filename=f"poster-{place.id}.png")
