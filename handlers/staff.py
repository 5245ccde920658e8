"""The moderation group: card buttons, questions to reporters, and /pending, /stats, /find.

Only staff act (:mod:`handlers.rights`). Callback data is an opaque token naming a row of
`card_actions`; the incident it acts on comes from the database and must match the card the
button sits on, so a forged or stale button is answered and ignored. The store changes state
with a conditional UPDATE, so of two staff pressing at once the first wins and the second is
shown the current state.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from datetime import timedelta
from typing import Any

from telegram import ForceReply, Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes

from bot.cards import card_refresh, place_label
from bot.gazetteer import Place
from bot.locations import gazetteer
from bot.moderation import (
    REJECT_REASONS,
    Action,
    answer_messages,
    askable,
    card_text,
    decision_messages,
    evidence_messages,
    incident_township,
    pending_text,
    question_message,
    report_notice,
    stats_text,
    warning_messages,
)
from bot.posters import make_poster
from bot.records import CardState, Outgoing, ReportRow, Review
from bot.report import parse_reference_code
from handlers.common import Services, reply, services
from handlers.outbox import card_markup
from handlers.places import ask_for_point, named_place_of
from handlers.rights import staff_name, staff_only

log = logging.getLogger(__name__)

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
        return card_refresh(incident, svc.config.telegram.moderation_chat_id)

    answer = ""
    if action in (Action.REJECT, Action.MERGE, Action.SPLIT, Action.BACK, Action.REJECT_REPORT) or (
        action is Action.ASK and len(await askable_reports(svc, incident_id)) > 1
    ):
        state = await svc.store.card_state(incident_id)
        rows = await submenu(svc, incident_id, state, action, arg)
        markup = await card_markup(svc.store, state, rows, t) if state else None
        if action is Action.BACK and state is not None:  # the card as it is (a warning preview goes)
            with contextlib.suppress(BadRequest):
                await query.edit_message_text(card_text(state, t), parse_mode="HTML", reply_markup=markup)
        else:
            await query.edit_message_reply_markup(markup)
        await query.answer()
        return
    if action in (Action.VERIFY, Action.REJECT_WITH):
        review = Review.VERIFIED if action is Action.VERIFY else Review.REJECTED
        undo_s = svc.config.moderation.undo_seconds
        changed = await svc.store.review_incident(
            incident_id,
            review,
            staff_id,
            name,
            arg or None,
            now,
            compose=lambda state: decision_messages(state, svc.config),
            cases=svc.case_plan,
            undo_s=undo_s,
            refresh=refresh(incident_id),
        )
        if changed and context.job_queue is not None:  # on time; the repeating job is the safety net
            context.job_queue.run_once(finalize_decisions, undo_s + 0.05)
        answer = (
            t.gettext("Done. Nothing is sent for {seconds} s: Undo is on the card.", seconds=round(undo_s))
            if changed
            else t.gettext("Someone else already decided this incident.")
        )
    elif action is Action.UNDO:
        undone = await svc.store.undo_decision(incident_id, staff_id, name, now, refresh(incident_id))
        answer = (
            t.gettext("Undone: the incident waits for a decision again.")
            if undone
            else t.gettext("Too late to undo: it has been sent.")
        )
    elif action in (Action.ACCEPT, Action.REJECT_REPORT_WITH):
        report_id, _, reason = arg.partition(":")
        accept = action is Action.ACCEPT
        changed = await svc.store.review_later_report(
            int(report_id),
            incident_id,
            accept,
            staff_id,
            name,
            reason or None,
            now,
            refresh(incident_id),
            notice=lambda state, report: report_notice(
                state.review if accept else Review.REJECTED,
                state.reject_reason if accept else reason,
                report,
                svc.config,
            ),
            cases=svc.case_plan,
        )
        answer = t.gettext("Done.") if changed else t.gettext("That report was already dealt with.")
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
    elif action in (Action.ASK, Action.ASK_REPORT):
        reports = await askable_reports(svc, incident_id)
        chosen = [r for r in reports if action is Action.ASK or str(r.id) == arg]
        if not chosen:
            # Said at once, before anyone types a question that could never be delivered.
            await query.answer(t.gettext("Nobody can be asked: the reports are anonymous."), show_alert=True)
            return
        await ask_reporter_prompt(context, svc, incident_id, chosen[0])
        if action is Action.ASK_REPORT:  # the card's own buttons again
            state = await svc.store.card_state(incident_id)
            markup = await card_markup(svc.store, state, None, t) if state else None
            await query.edit_message_reply_markup(markup)
    elif action is Action.WARN:
        state = await svc.store.card_state(incident_id)
        if state is not None and incident_township(state) is None:
            # Township unknown (no located place near): staff choose it rather than the bot guess.
            rows = [[(Action.WARN_IN, town.id)] for town in gazetteer().townships()] + [[(Action.BACK, "")]]
            await query.edit_message_reply_markup(await card_markup(svc.store, state, rows, t))
            await query.answer(t.gettext("The township is unknown: choose the township to warn."))
            return
        answer = await warn_preview(update, svc, incident_id)
    elif action is Action.WARN_IN:
        answer = await warn_preview(update, svc, incident_id, township_id=arg)
    elif action is Action.WARN_SEND:
        township_id = arg.partition(":")[2] or None  # "n" or "n:township" (chosen by staff)
        answer = await warn_residents(svc, incident_id, staff_id, name, township_id=township_id)
        state = await svc.store.card_state(incident_id)
        if state is not None:  # the card as it is, without the preview (a refresh would change nothing)
            markup = await card_markup(svc.store, state, None, t)
            with contextlib.suppress(BadRequest):
                await query.edit_message_text(card_text(state, t), parse_mode="HTML", reply_markup=markup)
    elif action is Action.PLACE:
        state = await svc.store.card_state(incident_id)
        place = named_place_of(state.reports) if state else None
        card = await svc.store.card_message(incident_id)
        if place is None or card is None:
            answer = t.gettext("This place already has a point.")
        else:
            await ask_for_point(context, card[0], place, card[1])
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


async def finalize_decisions(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Decisions whose undo window has passed: reporters, channels and compensation cases now."""
    svc = services(context)
    done = await svc.store.finalize_due(
        svc.now(), lambda state: decision_messages(state, svc.config), cases=svc.case_plan
    )
    if done:
        svc.outbox_wakeup.set()


def schedule_decisions(application: Application[Any, Any, Any, Any, Any, Any], undo_seconds: float) -> None:
    """The safety net for decisions after a restart (a decision also schedules itself on time)."""
    assert application.job_queue is not None
    interval = min(10.0, max(0.2, undo_seconds / 3))
    application.job_queue.run_repeating(finalize_decisions, interval, first=interval, name="decisions")


async def askable_reports(svc: Services, incident_id: int) -> list[ReportRow]:
    state = await svc.store.card_state(incident_id)
    return askable(state) if state else []


async def _warning_target(
    svc: Services, incident_id: int, township_id: str | None
) -> tuple[CardState, Place, list[tuple[int, str]]] | str:
    """Whom a warning about the incident would reach: its card, township and subscribers, or what
    to tell the staff member when there is nobody to warn (shared by the preview and the send)."""
    t = svc.staff_translator()
    state = await svc.store.card_state(incident_id)
    if township_id is not None:
        township = next((town for town in gazetteer().townships() if town.id == township_id), None)
    else:
        township = incident_township(state) if state else None
    if state is None or township is None:
        return t.gettext("No township is known for this place, so no warning was sent.")
    if await svc.store.already_done(incident_id, Action.WARN.value):
        return t.gettext("Residents were already warned about this incident.")
    subscribers = await svc.store.alert_subscribers(township.id)
    if not subscribers:
        return t.gettext(
            "Nobody in {place} has asked for warnings yet, so there is nobody to send one to. "
            "You can warn later.",
            place=place_label(township, t),
        )
    return state, township, subscribers


async def warn_preview(
    update: Update, svc: Services, incident_id: int, township_id: str | None = None
) -> str:
    """Warn residents, step one: the card shows exactly what would be sent, where and to how many,
    with a button that sends it. Nothing goes out on this tap."""
    query = update.callback_query
    assert query is not None
    t = svc.staff_translator()
    target = await _warning_target(svc, incident_id, township_id)
    if isinstance(target, str):
        return target
    state, township, subscribers = target
    messages = warning_messages(state, township, subscribers, svc.config)
    texts = dict.fromkeys(m.payload["text"] for m in messages)  # one per language, in order
    preview = [
        "",
        "📢 <b>"
        + html.escape(
            t.ngettext(
                "Warning for {place}: {n} person will get this",
                "Warning for {place}: {n} people will get this",
                len(subscribers),
                place=place_label(township, t),
            )
        )
        + "</b>",
        *(f"<blockquote>{text}</blockquote>" for text in texts),
    ]
    send = str(len(subscribers)) + (f":{township.id}" if township_id else "")
    rows = [[(Action.WARN_SEND, send)], [(Action.BACK, "")]]
    markup = await card_markup(svc.store, state, rows, t)
    text = card_text(state, t) + "\n".join(preview)
    await query.edit_message_text(text, parse_mode="HTML", reply_markup=markup)
    return ""


async def warn_residents(
    svc: Services, incident_id: int, staff_id: int, name: str, township_id: str | None = None
) -> str:
    """Sends the township-level warning once (to `township_id` when staff chose it); returns what to
    tell the staff member. A warning that would reach nobody is not sent and does not use up the
    incident's one warning."""
    t = svc.staff_translator()
    target = await _warning_target(svc, incident_id, township_id)
    if isinstance(target, str):
        return target
    state, township, subscribers = target
    await svc.store.record(
        incident_id,
        staff_id,
        name,
        Action.WARN.value,
        township.id,
        svc.now(),
        [
            *warning_messages(state, township, subscribers, svc.config),
            *card_refresh(incident_id, svc.config.telegram.moderation_chat_id),
        ],
    )
    return t.ngettext("Warning sent to {n} person.", "Warning sent to {n} people.", len(subscribers))


async def submenu(
    svc: Services, incident_id: int, state: CardState | None, action: Action, arg: str = ""
) -> list[list[tuple[Action, str]]] | None:
    """The buttons behind Reject, Merge, Split and Ask (None: the card's main buttons)."""
    back = [(Action.BACK, "")]
    if action is Action.REJECT:
        return [[(Action.REJECT_WITH, reason)] for reason in REJECT_REASONS] + [back]
    if action is Action.REJECT_REPORT:
        return [[(Action.REJECT_REPORT_WITH, f"{arg}:{reason}")] for reason in REJECT_REASONS] + [back]
    if action is Action.MERGE:
        return [[(Action.MERGE_INTO, str(i))] for i in await svc.store.merge_candidates(incident_id)] + [back]
    if action is Action.SPLIT:
        reports = state.reports if state else ()
        return [[(Action.SPLIT_OUT, str(r.id))] for r in reports[1:]] + [back]
    if action is Action.ASK:  # one button per reporter who can be asked: a question goes to one person
        return [[(Action.ASK_REPORT, str(r.id))] for r in (askable(state) if state else [])] + [back]
    return None


async def ask_reporter_prompt(
    context: ContextTypes.DEFAULT_TYPE, svc: Services, incident_id: int, report: ReportRow
) -> None:
    """Asks staff to type the question as a reply, naming who will get it; the reply is relayed by
    :func:`staff_question` to that one reporter."""
    t = svc.staff_translator()
    text = t.gettext(
        "Reply to this message with your question for {name} (report {code}, incident #{number}). "
        "Only they will get it.",
        name=report.reporter_name or str(report.reporter_id),
        code=report.ref_code,
        number=incident_id,
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
    await svc.store.open_question(incident_id, report.id, prompt.chat.id, prompt.message_id, svc.now())


async def staff_question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A staff reply to an "ask the reporter" prompt: relayed to the one reporter it names."""
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
    now = svc.now()
    report = await svc.store.relay_question(
        question,
        message.text,
        update.effective_user.id,
        staff_name(update),
        now,
        now + timedelta(hours=svc.config.moderation.question_hours),
        compose=lambda report, purpose: question_message(report, message.text or "", purpose, svc.config),
    )
    t = svc.staff_translator()
    text = (
        t.gettext("Sent to {name} ({code}).", name=report.reporter_name or str(report.reporter_id),
                  code=report.ref_code)
        if report is not None
        else t.gettext("That question was already sent, or its reporter cannot be asked.")
    )
    await message.reply_text(html.escape(text), parse_mode="HTML")
    svc.outbox_wakeup.set()
    raise ApplicationHandlerStop


ANSWER_PENDING = "answer_pending"  # user_data: a message waiting for "which report is this about?"


def answer_of(message: Message) -> dict[str, Any] | None:
    """What of a message can answer a staff question: text, a location, or a photo or file (copied as
    it is); None for what cannot (a sticker, a round video)."""
    if message.location is not None:
        return {"point": [message.location.latitude, message.location.longitude]}
    if message.text:
        return {"text": message.text}
    if any((message.photo, message.document, message.video, message.voice, message.audio, message.animation)):
        return {"copy": message.message_id, "text": message.caption or ""}
    return None


async def relay(
    update: Update, context: ContextTypes.DEFAULT_TYPE, question_id: int, answer: dict[str, Any]
) -> bool:
    """Passes one answer on under the card; False when the question no longer takes answers."""
    svc = services(context)
    user = update.effective_user
    assert user is not None
    now = svc.now()
    point = answer.get("point")
    copied = answer.get("copy")
    return await svc.store.relay_answer(
        question_id,
        user.id,
        now,
        svc.config.moderation.answers_per_question,
        now + timedelta(minutes=svc.config.moderation.answer_settle_minutes),
        compose=lambda incident, code, card: answer_messages(
            incident,
            code,
            card,
            svc.config,
            text=answer.get("text", ""),
            point=(point[0], point[1]) if point else None,
            copy_of=(user.id, copied) if copied else None,
        ),
    )


async def _thank(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    from handlers.common import tr

    await reply(update, html.escape(tr(update, context).gettext("Thank you. Your answer was passed on.")))
    services(context).outbox_wakeup.set()


async def reporter_reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A reply (Telegram's Reply gesture) to a staff question, even in the middle of a report."""
    message = update.effective_message
    user = update.effective_user
    if message is None or message.reply_to_message is None or user is None:
        return
    answer = answer_of(message)
    question = await services(context).store.question_replied(user.id, message.reply_to_message.message_id)
    if answer is None or question is None or not await relay(update, context, question, answer):
        return
    await _thank(update, context)
    raise ApplicationHandlerStop


async def reporter_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Anything a person sends outside a report: the answer to a question staff asked them, if one is
    open (several: which report it is about), else a pointer to the menu."""
    from handlers.common import inline_keyboard, tr
    from handlers.menu import not_understood

    message = update.effective_message
    user = update.effective_user
    svc = services(context)
    answer = answer_of(message) if message is not None else None
    questions = await svc.store.open_questions(user.id, svc.now()) if answer and user else []
    if answer is None or not questions:
        await not_understood(update, context)
        return
    if len(questions) == 1:
        if await relay(update, context, questions[0][0], answer):
            await _thank(update, context)
        else:
            await not_understood(update, context)
        return
    assert context.user_data is not None
    context.user_data[ANSWER_PENDING] = answer
    t = tr(update, context)
    await reply(
        update,
        html.escape(t.gettext("Which of your reports is this answer about?")),
        reply_markup=inline_keyboard([[(code, f"qa:{qid}")] for qid, code in questions]),
    )


async def answer_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The report a person picked for their answer: the kept message goes to that question."""
    from handlers.common import tr

    query = update.callback_query
    assert query is not None and query.data is not None
    answer = (context.user_data or {}).pop(ANSWER_PENDING, None)
    t = tr(update, context)
    if not answer or not await relay(update, context, int(query.data.removeprefix("qa:")), answer):
        await query.answer(t.gettext("That button is from an older message."))
        return
    await query.answer()
    with contextlib.suppress(TelegramError):
        await query.edit_message_reply_markup(None)
    await _thank(update, context)


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
        bot_username=svc.config.telegram.bot_username or context.bot.username,
        web_url=svc.config.web.public_url or None,
        hotline=svc.config.safety.hotline or None,
    )
    chat = update.effective_chat
    assert chat is not None
    caption = t.gettext("Poster for {place}: print the PDF on A4.", place=place_label(place, t))
    await context.bot.send_document(chat.id, poster.pdf, filename=f"poster-{place.id}.pdf", caption=caption)
    await context.bot.send_document(chat.id, poster.png, filename=f"poster-{place.id}.png")
