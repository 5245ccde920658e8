"""The report conversation: photos → location → when → details → review → submit.

The order of steps and every check live in `bot.report`; these callbacks only translate
Telegram updates into core calls and core answers into messages. Each step's choices are a reply
keyboard (see `Option`); the few inline buttons carry the draft's token, so one from an older
message is recognised and answered kindly, never obeyed.

Crash safety rests on two rules. The conversation state is never stored: it is derived from the
draft (`state_for`), and every callback returns what `state_for` says for the draft it leaves. And
the draft is saved before any message that relies on it goes out (`_say`), so what a person sees
is never ahead of what a restart would find.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import math
import secrets
import time
import warnings
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from telegram import (
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot import locations, report
from bot.cards import (
    answer_lines,
    describe_place,
    format_coordinates,
    labelled,
    named_place_text,
    place_choice_label,
    place_label,
    point_outside_text,
    report_messages,
)
from bot.gazetteer import NameMatch
from bot.i18n import Translator, translator
from bot.media import PhotoProblemError, delete_files, entry_files, orphaned_tip_copies
from bot.records import Draft, LastAnswer, Outgoing, Reporter, ReportRow, StoredPhoto
from bot.report import KIND_LABELS, AnswerError, AnswerType, Kind
from bot.safety import safety_text
from bot.video import format_duration
from bot.when import EXPECTED as WHEN_EXPECTED
from bot.when import WhenError, WhenVague, check_when, parse_when, quick_choice
from handlers.common import inline_keyboard, reply_or_queue, services, tr, user_language
from handlers.menu import choose_language, show_menu
from handlers.persistence import DRAFT, draft_of, is_tip_draft, save_person, save_user_data
from handlers.photos import clip_of, save_photo, save_video, save_voice, spoken_of
from handlers.privacy import (
    anonymous_key,
    end_conversations,
    report_limit_problem,
)
from handlers.updates import person_of

log = logging.getLogger(__name__)

# Conversation states, one per kind of input the bot is waiting for.
PHOTOS, LOCATION, WHEN, WHEN_TIME, QUESTION, REVIEW, EDIT, CONFIRM_DISCARD = range(8)
END = ConversationHandler.END
CONVERSATION_NAME = "report"
# Marks in the draft for the states its fields alone do not tell apart.
# Final, so mypy checks them as keys of `Draft`.
TYPING_WHEN: Final = "typing_when"  # "Type date and time" was tapped
WHEN_DAY: Final = "when_day"  # a day (and part of it) chosen or said; its time is asked
WHEN_PART: Final = "when_part"
EDITING: Final = "editing"  # "Change something" was tapped; the field list is on screen
PENDING_KIND: Final = "pending_kind"  # "keep or throw away?" is on screen (the kind to start if thrown away)
PAUSED: Final = "paused"  # the idle draft's Continue / Throw away message went out (see `pause_idle_drafts`)
LAST_ANSWER: Final = "last_answer"  # what the last save came after (see `_remember` and `resent_answer`)
ANSWERED_AT: Final = "answered_at"  # the question the update being handled answers (see `_remember`)
# Tells this run of the bot from earlier ones in LAST_ANSWER (see `resent_answer`).
BOOT = secrets.token_hex(4)
# How long after an answer the same message again counts as a repeat of it, when the bot cannot tell
# whether the person saw the question that followed (a crash, an outage): people who get no reply
# send the same again after a few seconds, and a restart takes ten (RestartSec in deploy/).
REPEAT_WINDOW_S = 60.0
# A question takes longer than this to read and answer: the same message sent again sooner after
# the question arrived is a repeat (Telegram dates messages in whole seconds: up to two seconds).
READ_S = 1.0
ASKED_KEY = "report_asked"  # bot_data: see `_asked`
TIP_SWEEP_AT = "tip_photo_sweep_at"  # bot_data: when the last sweep of unsent tips' photos ran
STEP_STATES = {report.PHOTOS: PHOTOS, report.LOCATION: LOCATION, report.WHEN: WHEN, report.REVIEW: REVIEW}


def state_for(data: Mapping[str, Any]) -> int | None:
    """The state a person's data puts the report conversation in: None without a draft."""
    draft = draft_of(data)
    if draft is None:
        return None
    if PENDING_KIND in draft:
        return CONFIRM_DISCARD
    if draft.get(EDITING):
        return EDIT
    state = STEP_STATES.get(report.next_step(draft), QUESTION)
    if state == WHEN and (draft.get(TYPING_WHEN) or draft.get(WHEN_DAY)):
        return WHEN_TIME
    return state


# --- helpers ---------------------------------------------------------------------------------


def current_draft(context: ContextTypes.DEFAULT_TYPE) -> Draft | None:
    return draft_of(context.user_data if context.user_data is not None else {})


def _draft(context: ContextTypes.DEFAULT_TYPE) -> Draft:
    draft = current_draft(context)
    assert draft is not None, "conversation states are only reached with a draft"
    return draft


def _state(context: ContextTypes.DEFAULT_TYPE) -> int:
    """What every callback returns: the state its draft now implies (END once the draft is gone)."""
    state = state_for(context.user_data or {})
    return END if state is None else state


def _token(draft: Draft) -> str:
    return str(draft["id"])[:8]


def _data(draft: Draft, action: str) -> str:
    """Callback data for a button of this draft: '<token>|<action>' (well under 64 bytes)."""
    return f"{_token(draft)}|{action}"


def _touch(context: ContextTypes.DEFAULT_TYPE) -> None:
    draft = current_draft(context)
    if draft is not None:
        draft["updated_at"] = services(context).now().isoformat()
        draft.pop(PAUSED, None)


async def _button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | None:
    """The pressed inline button's action when it belongs to the open draft, else None (already
    answered). Pressed buttons are left in place (removing them costs a call per tap): an old one
    is answered here."""
    query = update.callback_query
    assert query is not None
    draft = current_draft(context)
    token, _, action = (query.data or "").partition("|")
    stale = draft is None or token != _token(draft)
    # The answer only stops the button's spinner: a failure must not cost the press.
    with contextlib.suppress(TelegramError):
        await query.answer(
            tr(update, context).gettext("That button is from an older message.") if stale else None
        )
    return None if stale else action


# The steps' choices are reply-keyboard buttons: (label in the person's language, value) pairs.
# Telegram's custom keyboards are made for a survey like this one: big buttons in place of the
# letters (kind to older people on small phones), the tapped answer stays visible in the chat, a
# tap is one update answered by one message (no callback query to answer), and each question's
# keyboard replaces the last, so an older question can never be answered by mistake.
Option = tuple[str, str]


def _keyboard(rows: list[list[str]] | list[list[KeyboardButton]]) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(rows, resize_keyboard=True)


def _picked(update: Update, options: list[Option]) -> str | None:
    """The value of the option whose label the person sent (a keyboard tap), else None."""
    message = update.effective_message
    text = (message.text or "").strip() if message is not None else ""
    return next((value for label, value in options if label == text), None)


async def _say(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    text: str,
    reply_markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None = None,
) -> None:
    """Saves the draft, then sends `text`; when Telegram cannot take it now, the outbox sends it later.

    Saving first means a crash after the person sees a question always resumes at that question.
    Queuing on a network error, a 5xx or a 429 means the callback still finishes, so the state
    moves on with the draft instead of staying behind it."""
    _remember(update, context)
    await save_user_data(update, context)
    sent = await reply_or_queue(update, context, text, reply_markup)
    last = _last_answer(current_draft(context))
    if last is not None and sent is not None and update.effective_user is not None:
        # The question is on the person's screen now: a message after it in the chat was sent by
        # someone who could see it. Kept in memory only (a restart makes the next message a repeat
        # anyway, see `_is_repeat`), so it costs no second write of the person's data.
        _asked(context)[update.effective_user.id] = (int(last["update"]), time.time(), sent.message_id)


def _asked(context: ContextTypes.DEFAULT_TYPE) -> dict[int, tuple[int, float, int]]:
    """Per person: (the update whose reply it was, when, its message id) of the last question that
    reached them in this run."""
    found = context.bot_data.setdefault(ASKED_KEY, {})
    assert isinstance(found, dict)
    return found


def fingerprint(update: Update) -> str | None:
    """What a person sent, as comparable text: the same tap, text, pin, venue, photo, file or contact
    sent again gives the same fingerprint."""
    message = update.message
    if message is None:
        query = update.callback_query
        return f"q:{query.data}" if query is not None and query.data else None
    if message.venue is not None:
        point = message.venue.location
        return f"v:{point.latitude:.5f},{point.longitude:.5f}:{message.venue.title}"
    if message.location is not None:
        return f"l:{message.location.latitude:.5f},{message.location.longitude:.5f}"
    if message.photo:
        return f"p:{message.photo[-1].file_unique_id}"
    if message.document is not None:
        return f"d:{message.document.file_unique_id}"
    if message.contact is not None:
        return f"c:{message.contact.phone_number}"
    if message.text:
        return f"t:{message.text.strip()}"
    return None


def _last_answer(draft: Draft | None) -> LastAnswer | None:
    last = draft.get(LAST_ANSWER) if draft is not None else None
    return last if isinstance(last, dict) else None


def _remember(update: Update, context: ContextTypes.DEFAULT_TYPE, *, repeat: bool = False) -> None:
    """Notes in the draft which update the save that follows comes after, and what it said.

    A repeat keeps the answer it repeats (and its time), so a third copy is still a repeat."""
    draft = current_draft(context)
    if draft is None:
        return
    last = _last_answer(draft)
    if last is not None and last.get("update") == update.update_id:
        return  # noted already (a second reply to the same update, or the repeat being answered)
    if repeat and last is not None:
        last["boot"], last["update"] = BOOT, update.update_id
        return
    draft[LAST_ANSWER] = {
        "boot": BOOT,
        "update": update.update_id,
        "print": fingerprint(update),
        "at": time.time(),
        "from": draft.pop(ANSWERED_AT, None),  # the question it answered (noted by `resent_answer`)
        "to": _position(draft),  # the question it led to
    }


def _position(draft: Draft) -> str:
    """Which question the draft is at (a step, and the state that waits for it)."""
    return f"{report.next_step(draft)}:{state_for({DRAFT: draft})}"


async def resent_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Group -1: the current question again (with its keyboard) for an update already taken, or for
    a message that repeats the answer taken last, instead of taking it as the next answer.

    The draft is saved before the reply goes out (`_say`). When the bot dies in between, the update
    is handled again after the restart (the durable inbox marks it done only after its reply), and
    the person, who saw no reply, sends the same again, still with the old question's keyboard:
    "No" to "Were there cubs?" would become the answer to "What was it doing?". A message is such a
    repeat when it is the same as the last answer, was sent within REPEAT_WINDOW_S of it, and either
    the next question never reached the person, or the message was sent before it arrived, or it is
    the first message after a restart (the question was asked by the earlier run)."""
    draft = current_draft(context)
    if draft is None:
        return
    draft[ANSWERED_AT] = _position(draft)  # the question this update answers, if it is taken
    last = _last_answer(draft)
    if last is None:
        return
    if update.update_id <= int(last.get("update", 0)) and time.time() - float(last.get("at", 0)) < 86400:
        log.info("update %s was taken before a crash: the current question again", update.update_id)
    elif not _is_repeat(update, last, _asked(context).get(person_of(update) or 0)):
        return
    else:
        log.info("a repeat of the last answer: the current question again")
    _remember(update, context, repeat=True)
    if update.callback_query is not None:
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer()
    await show_current(update, context)
    raise ApplicationHandlerStop


def _is_repeat(update: Update, last: LastAnswer, asked: tuple[int, float, int] | None) -> bool:
    """Whether `update` says again what the last answer said, sent before its reply could be read
    (`asked`: the last question that reached the person in this run, see `_say`)."""
    said = fingerprint(update)
    if said is None or said != last.get("print"):
        return False
    if last.get("from") == last.get("to"):
        return False  # the last answer did not move the draft on: the same again answers the same question
    message = update.message
    sent = message.date.timestamp() if message is not None else time.time()
    if sent - float(last.get("at", 0)) > REPEAT_WINDOW_S:
        return False
    if last.get("boot") != BOOT or asked is None or asked[0] != last.get("update"):
        return True  # the first message after a restart, or the question never went out
    # Messages in a chat are numbered in the order they were sent: one numbered below the question
    # was sent before the question reached the person. One sent less than READ_S after it was sent
    # by someone who had not read it yet (the same tap, as the question arrived).
    before = message is not None and message.message_id < asked[2]
    return before or sent < asked[1] + READ_S


async def show_current(update: Update, context: ContextTypes.DEFAULT_TYPE, before: str = "") -> int:
    """Shows whatever the person is being asked now (after `before`), with its keyboard."""
    draft = current_draft(context)
    if draft is None:
        await show_menu(update, context)
        return END
    t = tr(update, context)
    if PENDING_KIND in draft:
        return await ask_discard(update, context, draft[PENDING_KIND], before)
    if draft.get(EDITING):
        rows = [[label] for label, _ in _edit_options(t, draft)]
        text = _join(before, html.escape(t.gettext("What do you want to change?")))
        await _say(update, context, text, _keyboard(rows))
        return _state(context)
    if report.next_step(draft) == report.WHEN and (draft.get(TYPING_WHEN) or draft.get("when_day")):
        # "Type the time" is on screen: asked again, with the choices back in case typing is hard.
        prompt = "About what time? Type it like 14:30." if draft.get("when_day") else WHEN_EXPECTED
        keyboard = _keyboard([[label] for label, _ in _when_options(t, context, draft)])
        await _say(update, context, _join(before, html.escape(t.gettext(prompt))), keyboard)
        return _state(context)
    return await ask_next(update, context, before)


# --- asking ----------------------------------------------------------------------------------


def _join(before: str, text: str) -> str:
    """`before` (an acknowledgement, already HTML) and the next question, as one message."""
    return f"{before}\n\n{text}" if before else text


async def ask_next(update: Update, context: ContextTypes.DEFAULT_TYPE, before: str = "") -> int:
    """Asks for whatever the draft still misses (after `before`) and returns the state that waits for it.

    Every question carries a reply keyboard or removes the last one, so `before` never needs a
    message of its own."""
    draft = _draft(context)
    _touch(context)
    # Asked afresh: nothing half-chosen stays (the state follows the step).
    draft.pop(TYPING_WHEN, None)
    draft.pop(WHEN_DAY, None)
    draft.pop(WHEN_PART, None)
    draft.pop(EDITING, None)
    draft.pop(PENDING_KIND, None)
    t = tr(update, context)
    step = report.next_step(draft)
    if step == report.PHOTOS:
        await ask_photos(update, context, t, draft, before)
    elif step == report.LOCATION:
        await ask_location(update, context, t, draft, before)
    elif step == report.WHEN:
        await ask_when(update, context, t, draft, before)
    elif step == report.REVIEW:
        send, change, cancel_ = (label for label, _ in _review_options(t))
        keyboard = _keyboard([[send], [change, cancel_]])
        await _say(update, context, _join(before, review_text(t, draft)), keyboard)
    else:
        await ask_question(update, context, t, draft, report.question(report.draft_kind(draft), step), before)
    return _state(context)


def _pictures(draft: Draft) -> list[dict[str, Any]]:
    """The draft's photos and videos (its voice notes are media entries too, but not pictures)."""
    return [p for p in draft["photos"] if p.get("media_kind", "photo") != "voice"]


def _photo_options(t: Translator, draft: Draft) -> list[Option]:
    if _pictures(draft):
        return [(t.gettext("Done"), "done")]
    if report.draft_kind(draft) in report.PHOTO_REQUIRED:
        return []
    return [(t.gettext("No photo"), "no_photo")]


async def ask_photos(
    update: Update, context: ContextTypes.DEFAULT_TYPE, t: Translator, draft: Draft, before: str = ""
) -> None:
    if _pictures(draft):
        await _photos_received(update, context, t, draft, before)
    elif report.draft_kind(draft) in report.PHOTO_REQUIRED:
        text = t.gettext("Please send photos of the animals (at least one). You can send several.")
        await _say(update, context, _join(before, html.escape(text)), ReplyKeyboardRemove())
    else:
        text = t.gettext(
            "Please send photos or videos if you have them (several are fine), or tap No photo."
        )
        keyboard = _keyboard([[label for label, _ in _photo_options(t, draft)]])
        await _say(update, context, _join(before, html.escape(text)), keyboard)


async def _photos_received(
    update: Update, context: ContextTypes.DEFAULT_TYPE, t: Translator, draft: Draft, before: str = ""
) -> None:
    pictures = _pictures(draft)
    n = len(pictures)
    if any(p.get("media_kind") == "video" for p in pictures):
        text = t.ngettext(
            "Got {n} photo or video. Send more, or tap Done.",
            "Got {n} photos and videos. Send more, or tap Done.",
            n,
        )
    else:
        text = t.ngettext(
            "Got {n} photo. Send more, or tap Done.", "Got {n} photos. Send more, or tap Done.", n
        )
    keyboard = _keyboard([[label for label, _ in _photo_options(t, draft)]])
    await _say(update, context, _join(before, html.escape(text)), keyboard)


def _placed_media(draft: Draft) -> tuple[locations.Found, dict[str, Any]] | None:
    """The first usable position among the draft's photos and videos (originals sent as files keep
    EXIF; clips their ©xyz/loci/XMP position), with the entry that has it."""
    for photo in draft["photos"]:
        found = locations.from_photo(photo.get("facts") or {})
        if found is not None:
            return found, photo
    return None


def _photo_place(draft: Draft) -> locations.Found | None:
    placed = _placed_media(draft)
    return placed[0] if placed else None


def _timed_media(
    context: ContextTypes.DEFAULT_TYPE, draft: Draft
) -> tuple[datetime, dict[str, Any]] | None:
    """The first plausible capture time among the draft's photos and videos, with its entry."""
    svc = services(context)
    for photo in draft["photos"]:
        moment = locations.photo_time(
            photo.get("facts") or {},
            now=svc.now(),
            tz=svc.config.region.timezone,
            max_age=svc.config.reports.max_age,
        )
        if moment is not None:
            return moment, photo
    return None


def _photo_moment(context: ContextTypes.DEFAULT_TYPE, draft: Draft) -> datetime | None:
    timed = _timed_media(context, draft)
    return timed[0] if timed else None


def _where(t: Translator, latitude: float, longitude: float) -> str:
    return describe_place(latitude, longitude, t) or format_coordinates(latitude, longitude)


def _found_text(t: Translator, loc: dict[str, Any]) -> str:
    """A stored location as the reporter reads it (HTML): coordinates, or the named place."""
    if loc.get("latitude") is None or loc.get("longitude") is None:
        return html.escape(named_place_text(loc.get("place_id"), loc.get("place_name"), t))
    return format_coordinates(loc["latitude"], loc["longitude"])


def _location_offers(t: Translator, draft: Draft) -> list[tuple[str, Option]]:
    """Places the bot can offer as one tap, each with the sentence that offers it: the photo's
    position, the poster's place."""
    offers = []
    placed = _placed_media(draft)
    if placed is not None and placed[0].latitude is not None and placed[0].longitude is not None:
        found, entry = placed
        assert found.latitude is not None and found.longitude is not None
        where = _where(t, found.latitude, found.longitude)
        if entry.get("media_kind") == "video":
            sentence = t.gettext("Your video has a position: {where}. Use it as the place?", where=where)
            offers.append((sentence, (t.gettext("🎬 Use the video's place"), "photo")))
        else:
            sentence = t.gettext("Your photo has a position: {where}. Use it as the place?", where=where)
            offers.append((sentence, (t.gettext("📷 Use the photo's place"), "photo")))
    spot = locations.gazetteer().get(draft["answers"].get("spot", ""))
    if spot is not None:  # without a point yet, "I am at" stores it as a named place
        label = t.gettext("📍 I am at {place}", place=place_label(spot, t))
        offers.append((t.gettext("Are you at the place on the poster?"), (label, f"place:{spot.id}")))
    return offers


async def ask_location(
    update: Update, context: ContextTypes.DEFAULT_TYPE, t: Translator, draft: Draft, before: str = ""
) -> None:
    offers = _location_offers(t, draft)
    paragraphs = ([before] if before else []) + [html.escape(sentence) for sentence, _ in offers]
    paragraphs.append(
        html.escape(
            t.gettext(
                "Where was it? Tap the button below to send your location, or type the coordinates, "
                "for example 37.33, 113.57."
            )
        )
    )
    rows = [[KeyboardButton(t.gettext("📍 Send my location"), request_location=True)]]
    rows += [[KeyboardButton(label)] for _, (label, _) in offers]
    await _say(update, context, "\n\n".join(paragraphs), _keyboard(rows))


def _when_options(t: Translator, context: ContextTypes.DEFAULT_TYPE, draft: Draft) -> list[Option]:
    options = []
    timed = _timed_media(context, draft)
    if timed is not None:
        taken, entry = timed
        if entry.get("media_kind") == "video":
            label = t.gettext("🎬 When the video was made: {time}", time=t.datetime(taken))
        else:
            label = t.gettext("📷 When the photo was taken: {time}", time=t.datetime(taken))
        options.append((label, "photo"))
    return options + [
        (t.gettext("Just now"), "now"),
        (t.gettext("Earlier today"), "today"),
        (t.gettext("Yesterday"), "yesterday"),
        (t.gettext("Type date and time"), "typed"),
    ]


async def ask_when(
    update: Update, context: ContextTypes.DEFAULT_TYPE, t: Translator, draft: Draft, before: str = ""
) -> None:
    labels = [label for label, _ in _when_options(t, context, draft)]
    *first, now, today, yesterday, typed = labels
    rows = [[label] for label in first] + [[now], [today, yesterday], [typed]]
    # A loss is found, not seen: the owner usually comes upon the animals in the morning.
    found = report.draft_kind(draft) is Kind.LIVESTOCK
    question = t.gettext("When did you find it?") if found else t.gettext("When did you see it?")
    text = _join(before, html.escape(question))
    await _say(update, context, text, _keyboard(rows))


def _answer_options(t: Translator, q: report.Question) -> list[Option]:
    options = [(t.gettext(c.label), c.value) for c in q.choices]
    if q.optional:
        options.append((t.gettext("Skip"), "skip"))
    return options


async def ask_question(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    t: Translator,
    draft: Draft,
    q: report.Question,
    before: str = "",
) -> None:
    text = _join(before, html.escape(t.gettext(q.prompt)))
    if q.answer is AnswerType.PHONE:
        keyboard = ReplyKeyboardMarkup(
            [[KeyboardButton(t.gettext("📞 Send my phone number"), request_contact=True)]],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
        await _say(update, context, text, keyboard)
        return
    labels = [label for label, _ in _answer_options(t, q)]
    choices, skip = (labels[:-1], labels[-1:]) if q.optional else (labels, [])
    rows = [choices[i : i + 2] for i in range(0, len(choices), 2)] + ([skip] if skip else [])
    await _say(update, context, text, _keyboard(rows) if rows else ReplyKeyboardRemove())


def review_text(t: Translator, draft: Draft) -> str:
    """The draft as the reporter sees it before sending."""
    kind = report.draft_kind(draft)
    loc, observed_at = draft["location"], draft["observed_at"]
    assert loc is not None and observed_at is not None, "reviewed only once both are given"
    observed = datetime.fromisoformat(observed_at)
    clips = [p for p in draft["photos"] if p.get("media_kind") == "video"]
    lines = [
        "<b>" + html.escape(t.gettext("Please check your report")) + "</b>",
        labelled(t, t.gettext("Kind"), html.escape(t.gettext(KIND_LABELS[kind]))),
        labelled(t, t.gettext("Photos"), t.number(len(_pictures(draft)) - len(clips))),
        labelled(t, t.gettext("Location"), _found_text(t, loc)),
        labelled(t, t.gettext("Time"), html.escape(t.datetime(observed))),
    ]
    if clips:
        lengths = ", ".join(format_duration(c.get("duration_s") or 0) for c in clips)
        lines.append(labelled(t, t.gettext("Videos"), f"{t.number(len(clips))} ({lengths})"))
    voices = [p for p in draft["photos"] if p.get("media_kind") == "voice"]
    if voices:
        lines.append(labelled(t, t.gettext("Voice messages"), t.number(len(voices))))
    outside = point_outside_text(loc.get("latitude"), loc.get("longitude"), t)
    if outside:
        lines.append("⚠️ " + html.escape(outside))
        lines.append(html.escape(t.gettext("This place is outside Heshun county. We will still look at it.")))
    lines += answer_lines(_preview_row(draft), t, private=True)  # the reporter sees their own phone
    return "\n".join(lines)


def _preview_row(draft: Draft) -> Any:
    """Just enough of a report row for `answer_lines` (kind and details)."""

    class Preview:
        kind = draft["kind"]
        details = draft["answers"]

    return Preview()


def _review_options(t: Translator) -> list[Option]:
    return [
        (t.gettext("✅ Send report"), "submit"),
        (t.gettext("✏️ Change something"), "edit"),
        (t.gettext("✖️ Cancel"), "cancel"),
    ]


def _edit_options(t: Translator, draft: Draft) -> list[Option]:
    fields = [(t.gettext(label), name) for name, label in report.editable_fields(draft)]
    return fields + [(t.gettext("« Back"), "back")]


# --- entry points ----------------------------------------------------------------------------


async def start_report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
    """Starts a new draft of the kind chosen in the menu and asks for photos."""
    query = update.callback_query
    assert query is not None and query.data is not None
    with contextlib.suppress(TelegramError):
        await query.answer()
    try:
        kind = Kind(query.data.removeprefix("report:"))
    except ValueError:
        # A menu from an older version: an open draft keeps its conversation; otherwise nothing starts.
        return None if current_draft(context) is not None else END
    if current_draft(context) is not None:
        return await ask_discard(update, context, pending=kind.value)
    return await _begin(update, context, kind)


async def _begin(update: Update, context: ContextTypes.DEFAULT_TYPE, kind: Kind) -> int:
    assert context.user_data is not None
    draft = report.new_draft(kind, services(context).now(), user_language(update, context))
    spot = context.user_data.pop("spot", None)
    if spot and kind is not Kind.TIP:  # a tip records no poster: it would say where the tipster stood
        draft["answers"]["spot"] = spot  # which poster brought them: staff see it in /stats
    context.user_data[DRAFT] = draft
    t = tr(update, context)
    header = (
        "<b>"
        + html.escape(t.gettext(KIND_LABELS[kind]))
        + "</b>\n"
        + html.escape(t.gettext("You can stop at any time with /cancel."))
    )
    return await ask_next(update, context, before=header)


async def resume(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Continues a paused draft where it stopped (or throws it away)."""
    action = await _button(update, context)
    if action is None:
        return _state(context)
    if action == "discard":
        return await discard(update, context)
    return await ask_next(update, context)


# --- photos ----------------------------------------------------------------------------------


async def receive_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Downloads, checks and stores a photo (or image file), then asks for more or Done."""
    message = update.effective_message
    assert message is not None
    draft = _draft(context)
    t = tr(update, context)
    svc = services(context)
    if len(_pictures(draft)) >= svc.config.reports.max_photos:  # photos and videos count together
        limit = svc.config.reports.max_photos
        text = t.gettext("That is enough photos ({limit}). Tap Done to go on.", limit=limit)
        await _say(update, context, html.escape(text), _keyboard([[t.gettext("Done")]]))
        return _state(context)
    clip = clip_of(message)
    try:
        keep_original = report.draft_kind(draft) is not Kind.TIP  # a tip keeps only stripped copies
        if clip is not None:
            stored = await save_video(
                context.bot, clip, svc.config, now=svc.now(), keep_original=keep_original
            )
        else:
            attachment = message.photo[-1] if message.photo else message.document
            assert attachment is not None
            stored = await save_photo(
                context.bot,
                attachment,
                svc.config.storage.media_dir,
                now=svc.now(),
                keep_original=keep_original,
            )
    except PhotoProblemError as problem:
        problem_text = html.escape(t.gettext(problem.message, **problem.params))
        await ask_photos(update, context, t, draft, problem_text)
        return _state(context)
    if any(p["sha256"] == stored["sha256"] for p in draft["photos"]):
        again = t.gettext("You already sent this video.") if clip else t.gettext(
            "You already sent this photo."
        )
        await ask_photos(update, context, t, draft, html.escape(again))
        return _state(context)
    draft["photos"].append(stored)
    _touch(context)
    await _photos_received(update, context, t, draft)
    return _state(context)


async def photos_done(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Done or No photo: closes the photo step unless a required photo is missing."""
    draft = _draft(context)
    t = tr(update, context)
    if _picked(update, _photo_options(t, draft)) is None:
        await unexpected(update, context)
        return _state(context)
    problem = report.photos_problem(draft)
    if problem:
        await ask_photos(update, context, t, draft, html.escape(t.gettext(problem)))
        return _state(context)
    draft["photos_done"] = True
    return await ask_next(update, context)


# --- location --------------------------------------------------------------------------------


async def _store_location(update: Update, context: ContextTypes.DEFAULT_TYPE, found: locations.Found) -> int:
    draft = _draft(context)
    t = tr(update, context)
    draft["location"] = found.as_dict()
    text = t.gettext("Location saved: {where}", where=_found_text(t, found.as_dict()))
    return await ask_next(update, context, before=text)


async def receive_location(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Takes a shared location or venue (keeping its accuracy) and asks when."""
    message = update.effective_message
    assert message is not None
    venue, point = message.venue, message.location
    assert point is not None
    try:
        if venue is not None:
            found = locations.from_point(
                venue.location.latitude, venue.location.longitude, source="venue", place_name=venue.title
            )
        else:
            found = locations.from_point(
                point.latitude,
                point.longitude,
                accuracy_m=point.horizontal_accuracy,
                source="live" if point.live_period else "telegram",
                message_id=message.message_id if point.live_period else None,
            )
    except locations.LocationError as problem:
        problem_text = html.escape(tr(update, context).gettext(problem.message, **problem.params))
        return await show_current(update, context, problem_text)
    return await _store_location(update, context, found)


async def receive_location_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """An offered place (a keyboard tap), or typed coordinates, a map link or a place name."""
    message = update.effective_message
    assert message is not None and message.text is not None
    t = tr(update, context)
    offered = _picked(update, [option for _, option in _location_offers(t, _draft(context))])
    if offered is not None:
        return await _location_choice(update, context, offered)
    try:
        found = locations.from_text(message.text)
    except locations.LocationError as problem:
        return await show_current(update, context, html.escape(t.gettext(problem.message, **problem.params)))
    if isinstance(found, NameMatch):
        draft = _draft(context)
        rows = [[(place_choice_label(p, t), _data(draft, f"loc:place:{p.id}"))] for p in found.places]
        text = html.escape(
            t.gettext("Several places have that name. Please choose one.")
            if found.exact
            else t.gettext("Did you mean one of these places?")
        )
        await _say(update, context, text, inline_keyboard(rows))
        return _state(context)
    return await _store_location(update, context, found)


async def location_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """A place picked from "did you mean"."""
    action = await _button(update, context)
    if action is None:
        return _state(context)
    return await _location_choice(update, context, action.removeprefix("loc:"))


async def _location_choice(update: Update, context: ContextTypes.DEFAULT_TYPE, choice: str) -> int:
    """'photo' (the photo's position) or 'place:<id>' (a gazetteer place)."""
    draft = _draft(context)
    try:
        if choice == "photo":
            found = _photo_place(draft)
        else:
            place = locations.gazetteer().get(choice.removeprefix("place:"))
            found = locations.from_place(place) if place is not None else None
    except locations.LocationError as problem:
        problem_text = html.escape(tr(update, context).gettext(problem.message, **problem.params))
        return await show_current(update, context, problem_text)
    if found is None:
        return await ask_next(update, context)
    return await _store_location(update, context, found)


async def live_location_moved(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A live location moved: follow it while the draft is open, ignore it otherwise."""
    message = update.edited_message
    draft = current_draft(context)
    loc = draft.get("location") if draft is not None else None
    if message is None or message.location is None or draft is None or not loc:
        return
    if loc.get("message_id") != message.message_id:
        return
    point = message.location
    try:
        found = locations.from_point(
            point.latitude,
            point.longitude,
            accuracy_m=point.horizontal_accuracy,
            source="live",
            message_id=message.message_id,
        )
    except locations.LocationError:
        return  # a bad fix is ignored; the last good one stays
    draft["location"] = found.as_dict()


# --- when ------------------------------------------------------------------------------------


async def receive_when(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """A tapped choice (now, today, yesterday, typed, the photo's time) or a typed time."""
    draft = _draft(context)
    choice = _picked(update, _when_options(tr(update, context), context, draft))
    if choice is not None:
        return await _when_choice(update, context, choice)
    return await _typed_when(update, context)


async def _when_choice(update: Update, context: ContextTypes.DEFAULT_TYPE, choice: str) -> int:
    """Now and the photo's time store the time; today/yesterday/typed ask for the time."""
    draft = _draft(context)
    t = tr(update, context)
    svc = services(context)
    if choice == "photo":
        taken = _photo_moment(context, draft)
        if taken is not None:
            draft["observed_at"] = taken.isoformat()
        return await ask_next(update, context)
    if choice == "typed":
        draft.pop(WHEN_DAY, None)
        draft.pop(WHEN_PART, None)
        draft[TYPING_WHEN] = True
        await _say(update, context, html.escape(t.gettext(WHEN_EXPECTED)))
        return _state(context)
    picked = quick_choice(choice, now=svc.now(), tz=svc.config.region.timezone)
    if isinstance(picked, datetime):
        draft["observed_at"] = picked.isoformat()
        return await ask_next(update, context)
    draft[WHEN_DAY] = picked.isoformat()
    draft.pop(WHEN_PART, None)
    await _say(update, context, html.escape(t.gettext("About what time? Type it like 14:30.")))
    return _state(context)


async def _typed_when(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Reads a typed time (or date and time), refusing the future and the too old."""
    message = update.effective_message
    assert message is not None and message.text is not None
    draft = _draft(context)
    svc = services(context)
    t = tr(update, context)
    day = date.fromisoformat(draft[WHEN_DAY]) if draft.get(WHEN_DAY) else None
    try:
        moment = parse_when(
            message.text, now=svc.now(), tz=svc.config.region.timezone, day=day, part=draft.get(WHEN_PART)
        )
        check_when(moment, now=svc.now(), max_age=svc.config.reports.max_age)
    except WhenVague as vague:
        # 前天下午 or "last night": asked for the time, read within that day and part of the day.
        end_of_day = datetime.combine(
            vague.day + timedelta(days=1), datetime.min.time(), svc.config.region.timezone
        )
        try:  # a day too long ago is refused now, not after its time is typed
            check_when(min(end_of_day, svc.now()), now=svc.now(), max_age=svc.config.reports.max_age)
        except WhenError as problem:
            await _say(update, context, html.escape(t.gettext(problem.message, **problem.params)))
            return _state(context)
        draft[WHEN_DAY] = vague.day.isoformat()
        draft[WHEN_PART] = vague.part
        await _say(update, context, html.escape(t.gettext(vague.message, **vague.params)))
        return _state(context)
    except WhenError as problem:
        return await show_current(update, context, html.escape(t.gettext(problem.message, **problem.params)))
    draft["observed_at"] = moment.isoformat()
    return await ask_next(update, context)


# --- details ---------------------------------------------------------------------------------


async def _answer(update: Update, context: ContextTypes.DEFAULT_TYPE, **answer: Any) -> int:
    draft = _draft(context)
    t = tr(update, context)
    key = report.next_step(draft)
    try:
        report.answer_question(draft, key, **answer)
    except AnswerError as problem:
        problem_text = html.escape(t.gettext(problem.message, **problem.params))
        return await ask_next(update, context, before=problem_text)
    except KeyError:
        return await ask_next(update, context)  # the step moved on: just ask again
    # After a phone number, the next question's keyboard also takes the contact keyboard away.
    thanks = report.question(report.draft_kind(draft), key).answer is AnswerType.PHONE
    return await ask_next(update, context, before=html.escape(t.gettext("Thank you.")) if thanks else "")


async def answer_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Stores a tapped choice or a typed answer (count, text or phone) and asks the next question."""
    message = update.effective_message
    assert message is not None and message.text is not None
    draft = _draft(context)
    q = report.question(report.draft_kind(draft), report.next_step(draft))
    choice = _picked(update, _answer_options(tr(update, context), q))
    if choice is not None:
        return await _answer(update, context, choice=choice)
    return await _answer(update, context, text=message.text)


async def answer_contact(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Stores the phone number of a shared contact."""
    message = update.effective_message
    assert message is not None and message.contact is not None
    return await _answer(update, context, text=message.contact.phone_number)


async def receive_voice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """A voice note or audio file: the answer to a free-text question, else an addition to the report."""
    message = update.effective_message
    assert message is not None
    spoken = spoken_of(message)
    assert spoken is not None
    draft = _draft(context)
    svc = services(context)
    t = tr(update, context)
    step = report.next_step(draft)
    q = None
    if step not in (report.PHOTOS, report.LOCATION, report.WHEN, report.REVIEW):
        q = report.question(report.draft_kind(draft), step)
    answers = q is not None and report.takes_voice(q) and not draft.get(EDITING) and PENDING_KIND not in draft
    try:
        stored = await save_voice(
            context.bot, spoken, svc.config, keep_original=report.draft_kind(draft) is not Kind.TIP,
            answer_key=step if answers else None,
        )
    except PhotoProblemError as problem:
        await _say(update, context, html.escape(t.gettext(problem.message, **problem.params)))
        return _state(context)
    draft["photos"].append(stored)
    if answers:
        report.answer_with_voice(draft, step, stored["duration_s"])
        thanks = t.gettext("Thank you, I saved your voice message as the answer.")
        return await ask_next(update, context, before=html.escape(thanks))
    thanks = t.gettext("Thank you, your voice message is added to the report.")
    return await ask_next(update, context, before=html.escape(thanks))


# --- review, change, submit --------------------------------------------------------------------


async def review_choice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Send, change something, or cancel."""
    draft = _draft(context)
    t = tr(update, context)
    action = _picked(update, _review_options(t))
    if action is None:
        await unexpected(update, context)
        return _state(context)
    if action == "submit":
        return await submit(update, context)
    if action == "cancel":
        return await discard(update, context)
    draft[EDITING] = True
    rows = [[label] for label, _ in _edit_options(t, draft)]
    await _say(update, context, html.escape(t.gettext("What do you want to change?")), _keyboard(rows))
    return _state(context)


async def edit_choice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Clears the chosen field and asks it again; review follows."""
    draft = _draft(context)
    field_name = _picked(update, _edit_options(tr(update, context), draft))
    if field_name is None:
        await unexpected(update, context)
        return _state(context)
    draft.pop(EDITING, None)
    if field_name != "back":
        with contextlib.suppress(KeyError):
            report.reopen_field(draft, field_name)
    return await ask_next(update, context)


async def submit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Stores the report with its photos and queues the staff card and receipt in one transaction."""
    draft = _draft(context)
    svc = services(context)
    t = tr(update, context)
    problem = report.submit_problem(draft)
    if problem:
        return await ask_next(update, context, before=html.escape(t.gettext(problem)))
    user = update.effective_user
    chat = update.effective_chat
    assert user is not None and chat is not None
    if (limited := await report_limit_problem(svc, user.id)) is not None:
        await _say(update, context, html.escape(t.gettext(limited)))
        return _state(context)
    kind = report.draft_kind(draft)
    anonymous = kind in report.ANONYMOUS_KINDS and draft["answers"].get("follow_up") != "updates"
    submitted_at = svc.now()
    stored_draft = draft
    if anonymous:
        # Nothing stored with an anonymous tip narrows down who sent it: not their language, not a
        # moment finer than the minute; its photos' facts go in as text for staff.
        stored_draft = report.tip_for_storage(draft, svc.config.region.timezone)
        submitted_at = report.to_minute(submitted_at)
    reporter = Reporter(
        user_id=None if anonymous else user.id,
        name=None if anonymous else user.full_name,
        username=None if anonymous else user.username,
        language=svc.config.languages.default if anonymous else user_language(update, context),
        notify=not anonymous,
        # Anonymous tips keep only today's in-memory keyed hash, so limits still work for the day.
        key=anonymous_key(user.id, svc.now().date()) if anonymous else None,
    )
    photos = [StoredPhoto.from_entry(p) for p in draft["photos"]]
    submitted = await svc.store.submit_report(
        stored_draft,
        reporter,
        photos,
        submitted_at,
        compose=lambda row, outcome: report_messages(
            row,
            outcome,
            svc.config.telegram.moderation_chat_id,
            t,
            chat.id,
            safety_note(row, t, svc.config.safety.hotline),
            receipt_markup=ReplyKeyboardRemove().to_dict(),  # the review's keyboard goes with the receipt
        ),
    )
    log.info("report %s stored (new=%s)", submitted.ref_code, submitted.created)
    assert context.user_data is not None
    context.user_data.pop(DRAFT, None)
    svc.outbox_wakeup.set()
    return END


def safety_note(row: ReportRow, t: Translator, hotline: str) -> str:
    """Below the receipt of a sighting or a livestock loss: how to stay safe (HTML)."""
    if row.kind not in (Kind.SIGHTING.value, Kind.LIVESTOCK.value):
        return ""
    return "🛡 " + html.escape(safety_text(t, row.kind, hotline or None))


# --- leaving ---------------------------------------------------------------------------------


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """/cancel: drops the draft and says so."""
    return await discard(update, context)


async def drop_draft(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Removes the draft, and deletes its photo files unless a stored report or another draft has them.

    A cancelled report's photos (originals with their EXIF: position, device, owner) are not kept."""
    draft = current_draft(context)
    if context.user_data is not None:
        context.user_data.pop(DRAFT, None)
    if draft is None or not draft.get("photos"):
        return
    await save_user_data(update, context)  # the saved draft must be gone before its files are checked
    await delete_draft_files(context.application, draft)


async def delete_draft_files(
    application: Application[Any, Any, Any, Any, Any, Any], draft: Draft
) -> None:
    """Deletes a dropped draft's photo files, unless another open draft (tip drafts live in memory
    only) or a stored report or saved draft (database) has the same file: files are named by content."""
    in_memory = {
        path
        for data in application.user_data.values()
        if (other := draft_of(data)) is not None
        for p in other.get("photos", [])
        for path in (p["original_path"], p["derived_path"], p["thumbnail_path"])
    }
    files = [(sha256, path) for sha256, path in dict.fromkeys(entry_files(draft.get("photos", [])))
             if path not in in_memory]
    unused = await services(application).store.unreferenced_files(files)
    await asyncio.to_thread(delete_files, unused)


async def discard(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Throws the draft away (with its photo files) and points back to the menu."""
    await drop_draft(update, context)
    t = tr(update, context)
    text = t.gettext("Report cancelled. Nothing was sent. Send /start to begin again.")
    await _say(update, context, html.escape(text), ReplyKeyboardRemove())
    return END


async def ask_discard(
    update: Update, context: ContextTypes.DEFAULT_TYPE, pending: str = "", before: str = ""
) -> int:
    """A new /start or report during a draft: keep going, or throw the draft away?"""
    draft = _draft(context)
    draft[PENDING_KIND] = pending
    t = tr(update, context)
    rows = [
        [
            (t.gettext("Keep my report"), _data(draft, "keep")),
            (t.gettext("Throw it away"), _data(draft, "drop")),
        ]
    ]
    text = t.gettext("You have a report that is not sent yet. Do you want to keep it?")
    await _say(update, context, _join(before, html.escape(text)), inline_keyboard(rows))
    return _state(context)


async def restart_during_draft(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """/start while a draft is open."""
    return await ask_discard(update, context)


async def discard_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Keeps the draft (and asks its next step) or drops it (and starts the pending report)."""
    action = await _button(update, context)
    if action is None:
        return _state(context)
    draft = _draft(context)
    pending = draft.pop(PENDING_KIND, "")
    if action == "keep":
        return await ask_next(update, context)
    if pending:
        await drop_draft(update, context)
        return await _begin(update, context, Kind(pending))
    await discard(update, context)
    await show_menu(update, context)
    return END


def schedule_idle_drafts(application: Application[Any, Any, Any, Any, Any, Any], timeout: timedelta) -> None:
    """Looks for idle drafts a few times per `timeout` (call from post_init).

    One sweep instead of PTB's conversation_timeout, which re-schedules a job on every update; the
    draft is not ended either, so a person who comes back simply goes on where they were."""
    if application.job_queue is None:
        log.warning("no job queue (install python-telegram-bot[job-queue]): idle drafts are not paused")
        return
    interval = max(0.25, min(60.0, timeout.total_seconds() / 4))
    application.job_queue.run_repeating(
        pause_idle_drafts, interval=interval, first=interval, name="idle-drafts", data=timeout
    )


async def pause_idle_drafts(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Tells each person whose draft sat idle past the timeout that it is kept, with Continue / Throw away."""
    assert context.job is not None and isinstance(context.job.data, timedelta)
    svc = services(context)
    cutoff = svc.now() - context.job.data
    await expire_tip_drafts(context)
    for user_id, data in list(context.application.user_data.items()):
        draft = draft_of(data)
        if (
            draft is None
            or draft.get(PAUSED)
            or datetime.fromisoformat(draft["updated_at"]) > cutoff
        ):
            continue
        t = translator(str(data.get("lang") or draft["language"]), svc.config.region.timezone.key)
        rows = [
            [
                (t.gettext("Continue my report"), _data(draft, "resume")),
                (t.gettext("Throw it away"), _data(draft, "discard")),
            ]
        ]
        text = t.gettext(
            "Your report is paused because nothing happened for a while. "
            "It is kept: tap Continue when you are ready."
        )
        payload = {"text": html.escape(text), "reply_markup": inline_keyboard(rows).to_dict()}
        # Queued before the mark is saved: a crash in between sends it twice, never not at all.
        paused = Outgoing(user_id, "send_message", payload, f"paused:{draft['id']}", private=True)
        await svc.store.enqueue([paused], svc.now())
        draft[PAUSED] = True
        await save_person(context.application, user_id)
    svc.outbox_wakeup.set()


async def expire_tip_drafts(context: ContextTypes.DEFAULT_TYPE) -> int:
    """Deletes the unsent tip drafts older than `tip_draft_expiry`, with their photo files, and tells
    each tipster. Tip drafts are only in memory (handlers/persistence.py); returns how many went."""
    svc = services(context)
    cutoff = svc.now() - svc.config.reports.tip_draft_expiry
    expired = 0
    for user_id, data in list(context.application.user_data.items()):
        draft = data.get(DRAFT)
        if not is_tip_draft(draft) or datetime.fromisoformat(draft["started_at"]) > cutoff:
            continue
        data.pop(DRAFT, None)
        end_conversations(context.application, user_id)
        expired += 1
        await delete_draft_files(context.application, draft)
        t = translator(str(data.get("lang") or draft["language"]), svc.config.region.timezone.key)
        text = t.ngettext(
            "Your tip was not sent, so it has been deleted after {n} hour, with its photos. "
            "Send /start to begin again.",
            "Your tip was not sent, so it has been deleted after {n} hours, with its photos. "
            "Send /start to begin again.",
            max(1, round(svc.config.reports.tip_draft_expiry.total_seconds() / 3600)),
        )
        payload = {"text": html.escape(text), "reply_markup": ReplyKeyboardRemove().to_dict()}
        gone = Outgoing(user_id, "send_message", payload, "expired", private=True)
        await svc.store.enqueue([gone], svc.now())
    if expired:
        log.info("%d unsent tip drafts expired", expired)
        svc.outbox_wakeup.set()
    await sweep_tip_photos(context)
    return expired


async def sweep_tip_photos(context: ContextTypes.DEFAULT_TYPE, every_s: float = 3600.0) -> int:
    """At start-up and then hourly: deletes the stripped copies of tip photos that no report and no
    draft uses and that are older than `tip_draft_expiry` (a tip draft lost with a restart, a web
    tip never sent). Returns how many files went."""
    bot_data = context.application.bot_data
    if time.monotonic() - bot_data.get(TIP_SWEEP_AT, -math.inf) < every_s:
        return 0
    bot_data[TIP_SWEEP_AT] = time.monotonic()
    svc = services(context)
    used = await svc.store.media_in_use()
    for data in context.application.user_data.values():  # drafts in memory (tips) and unsaved ones
        draft = draft_of(data)
        for photo in draft.get("photos", []) if draft is not None else []:
            paths = (photo["original_path"], photo["derived_path"], photo["thumbnail_path"])
            used |= {Path(path).name for path in paths if path}
    older_than = (svc.now() - svc.config.reports.tip_draft_expiry).timestamp()
    orphans = await asyncio.to_thread(orphaned_tip_copies, svc.config.storage.media_dir, older_than, used)
    deleted = delete_files([str(f) for f in orphans])
    if deleted:
        log.info("deleted %d photo files of tips never sent", deleted)
    return deleted


async def unexpected(update: Update, context: ContextTypes.DEFAULT_TYPE) -> object:
    """Anything the current step cannot use: the current question again, with its keyboard.

    Never a hint alone: after a crash or an outage the keyboard on the person's screen may be an
    older question's, and "tap one of the buttons" would name buttons they cannot see."""
    t = tr(update, context)
    if update.callback_query is not None:
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer(t.gettext("That button is from an older message."))
        return None
    message = update.effective_message
    draft = current_draft(context)
    expected = {
        # Each hint names what is on screen: the question follows with its keyboard (show_current).
        report.PHOTOS: (
            t.gettext("I need a photo or a video here (or tap a button on the keyboard below).")
            if draft and _photo_options(t, draft)
            else t.gettext("I need a photo or a video here: send one or more of what you found.")
        ),
        report.LOCATION: t.gettext("I need a location here: tap the location button or type coordinates."),
        report.WHEN: t.gettext("Please tap one of the buttons about the time, or type the date and time."),
        report.REVIEW: t.gettext("Please tap Send, Change or Cancel on the keyboard below."),
    }
    step = report.next_step(draft) if draft and not (PENDING_KIND in draft or draft.get(EDITING)) else None
    hint = expected.get(step or "", t.gettext("I cannot use that here."))
    if message is not None and message.text and len(message.text) > 4000:
        hint = t.gettext("That message is too long.") + " " + hint
    await show_current(update, context, html.escape(hint))
    return None


async def language_during_draft(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """/language's (or the menu's) button during a report: the language changes, the draft is kept
    and the current question is asked again in the new language, with its keyboard."""
    language = await choose_language(update, context)
    draft = _draft(context)
    if language is not None:
        draft["language"] = language  # the receipt and later messages about the report follow it
    return await ask_next(update, context)


def build_conversation() -> ConversationHandler[ContextTypes.DEFAULT_TYPE]:
    """The report conversation (PTB's per_message warning silenced: see `_conversation`)."""
    with warnings.catch_warnings():
        # PTB warns that per_message=False does not track buttons per message. That is the design:
        # the conversation is per person, and every button carries the draft's token instead.
        warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
        return _conversation()


def _conversation() -> ConversationHandler[ContextTypes.DEFAULT_TYPE]:
    """The report conversation, readable top to bottom."""
    # New messages only: an edited message (a live location moving) is not a new answer.
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    text = filters.TEXT & ~filters.COMMAND
    button = r"^[0-9a-f]{8}\|"
    anything = MessageHandler(filters.UpdateType.MESSAGE & ~filters.COMMAND, unexpected)
    clips = filters.VIDEO | filters.VIDEO_NOTE | filters.ANIMATION
    spoken = filters.VOICE | filters.AUDIO | filters.Document.Category("audio/")
    return ConversationHandler(
        name=CONVERSATION_NAME,
        persistent=True,
        allow_reentry=False,
        entry_points=[
            CallbackQueryHandler(start_report, pattern=r"^report:"),
            CallbackQueryHandler(resume, pattern=button + r"(resume|discard)$"),
        ],
        states={
            PHOTOS: [
                MessageHandler(private & spoken, receive_voice),
                MessageHandler(private & (filters.PHOTO | clips | filters.Document.ALL), receive_photo),
                MessageHandler(private & text, photos_done),
            ],
            LOCATION: [
                MessageHandler(private & (filters.LOCATION | filters.VENUE), receive_location),
                MessageHandler(private & text, receive_location_text),
                CallbackQueryHandler(location_button, pattern=button + r"loc:place:[\w-]+$"),
            ],
            WHEN: [MessageHandler(private & text, receive_when)],
            WHEN_TIME: [MessageHandler(private & text, receive_when)],
            QUESTION: [
                MessageHandler(private & filters.CONTACT, answer_contact),
                MessageHandler(private & text, answer_text),
            ],
            REVIEW: [MessageHandler(private & text, review_choice)],
            EDIT: [MessageHandler(private & text, edit_choice)],
            CONFIRM_DISCARD: [CallbackQueryHandler(discard_button, pattern=button + r"(keep|drop)$")],
        },
        fallbacks=[
            CommandHandler("cancel", cancel),
            CommandHandler("start", restart_during_draft),
            CallbackQueryHandler(start_report, pattern=r"^report:"),
            # A paused draft's buttons (the draft keeps its step while it is paused).
            CallbackQueryHandler(resume, pattern=button + r"(resume|discard)$"),
            MessageHandler(filters.UpdateType.EDITED_MESSAGE & filters.LOCATION, live_location_moved),
            CallbackQueryHandler(language_during_draft, pattern=r"^lang:"),
            # A voice note at any step: an answer when a free-text question is asked, else an addition.
            MessageHandler(private & spoken, receive_voice),
            anything,
            CallbackQueryHandler(unexpected),
        ],
    )
