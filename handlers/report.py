"""The report conversation: photos → location → when → details → review → submit.

The order of steps and every check live in `bot.report`; these callbacks only translate
Telegram updates into core calls and core answers into messages. Buttons carry the draft's
token, so a button from an older message is recognised and answered kindly, never obeyed.
"""

from __future__ import annotations

import contextlib
import html
import logging
import warnings
from datetime import date, datetime
from typing import Any

from telegram import (
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot import locations, report
from bot.cards import answer_lines, describe_place, format_coordinates, labelled, place_label, report_messages
from bot.i18n import Translator
from bot.media import PhotoProblemError
from bot.report import KIND_LABELS, AnswerError, AnswerType, Kind
from bot.safety import safety_text
from bot.store import Outgoing, Reporter, ReportRow, StoredPhoto
from bot.when import EXPECTED as WHEN_EXPECTED
from bot.when import WhenError, check_when, parse_when, quick_choice
from handlers.common import inline_keyboard, reply, services, tr, user_language
from handlers.menu import show_menu
from handlers.photos import save_photo
from handlers.privacy import anonymous_key, report_limit_problem

log = logging.getLogger(__name__)

# Conversation states, one per kind of input the bot is waiting for.
PHOTOS, LOCATION, WHEN, WHEN_TIME, QUESTION, REVIEW, EDIT, CONFIRM_DISCARD = range(8)
END = ConversationHandler.END
CONVERSATION_NAME = "report"
DRAFT = "draft"


# --- helpers ---------------------------------------------------------------------------------


def current_draft(context: ContextTypes.DEFAULT_TYPE) -> dict[str, Any] | None:
    data = context.user_data if context.user_data is not None else {}
    draft = data.get(DRAFT)
    return draft if isinstance(draft, dict) else None


def _draft(context: ContextTypes.DEFAULT_TYPE) -> dict[str, Any]:
    draft = current_draft(context)
    assert draft is not None, "conversation states are only reached with a draft"
    return draft


def _token(draft: dict[str, Any]) -> str:
    return str(draft["id"])[:8]


def _data(draft: dict[str, Any], action: str) -> str:
    """Callback data for a button of this draft: '<token>|<action>' (well under 64 bytes)."""
    return f"{_token(draft)}|{action}"


def _touch(context: ContextTypes.DEFAULT_TYPE) -> None:
    draft = current_draft(context)
    if draft is not None:
        draft["updated_at"] = services(context).now().isoformat()


async def _button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | None:
    """The pressed button's action when it belongs to the open draft, else None (already answered)."""
    query = update.callback_query
    assert query is not None
    draft = current_draft(context)
    token, _, action = (query.data or "").partition("|")
    if draft is None or token != _token(draft):
        await query.answer(tr(update, context).gettext("That button is from an older message."))
        return None
    await query.answer()
    return action


async def _drop_buttons(update: Update) -> None:
    """Removes the inline buttons from the message that was pressed, so it cannot be pressed twice."""
    query = update.callback_query
    if query is not None and isinstance(query.message, Message) and query.message.reply_markup:
        await query.edit_message_reply_markup(None)


# --- asking ----------------------------------------------------------------------------------


async def ask_next(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Asks for whatever the draft still misses and returns the state that waits for it."""
    draft = _draft(context)
    _touch(context)
    t = tr(update, context)
    step = report.next_step(draft)
    if step == report.PHOTOS:
        return await ask_photos(update, context, t, draft)
    if step == report.LOCATION:
        return await ask_location(update, context, t, draft)
    if step == report.WHEN:
        return await ask_when(update, context, t, draft)
    if step == report.REVIEW:
        return await show_review(update, t, draft)
    return await ask_question(update, t, draft, report.question(report.draft_kind(draft), step))


async def ask_photos(
    update: Update, context: ContextTypes.DEFAULT_TYPE, t: Translator, draft: dict[str, Any]
) -> int:
    kind = report.draft_kind(draft)
    if draft["photos"]:
        return await _photos_received(update, t, draft)
    if kind in report.PHOTO_REQUIRED:
        text = t.gettext("Please send photos of the animals (at least one). You can send several.")
        await reply(update, html.escape(text), reply_markup=ReplyKeyboardRemove())
        return PHOTOS
    text = t.gettext("Please send photos if you have them (several are fine), or tap No photo.")
    await reply(
        update,
        html.escape(text),
        reply_markup=inline_keyboard([[(t.gettext("No photo"), _data(draft, "no_photo"))]]),
    )
    return PHOTOS


async def _photos_received(update: Update, t: Translator, draft: dict[str, Any]) -> int:
    n = len(draft["photos"])
    text = t.ngettext("Got {n} photo. Send more, or tap Done.", "Got {n} photos. Send more, or tap Done.", n)
    await reply(
        update, html.escape(text), reply_markup=inline_keyboard([[(t.gettext("Done"), _data(draft, "done"))]])
    )
    return PHOTOS


def _photo_place(draft: dict[str, Any]) -> locations.Found | None:
    """The first usable position among the draft's photos (originals sent as files keep EXIF)."""
    for photo in draft["photos"]:
        found = locations.from_photo(photo.get("facts") or {})
        if found is not None:
            return found
    return None


def _photo_moment(context: ContextTypes.DEFAULT_TYPE, draft: dict[str, Any]) -> datetime | None:
    """The first plausible capture time among the draft's photos."""
    svc = services(context)
    for photo in draft["photos"]:
        moment = locations.photo_time(
            photo.get("facts") or {}, now=svc.now(), tz=svc.config.timezone, max_age=svc.config.max_report_age
        )
        if moment is not None:
            return moment
    return None


def _where(t: Translator, latitude: float, longitude: float) -> str:
    return describe_place(latitude, longitude, t) or format_coordinates(latitude, longitude)


async def ask_location(
    update: Update, context: ContextTypes.DEFAULT_TYPE, t: Translator, draft: dict[str, Any]
) -> int:
    offer = _photo_place(draft)
    if offer is not None:
        text = t.gettext(
            "Your photo has a position: {where}. Use it as the place?",
            where=_where(t, offer.latitude, offer.longitude),
        )
        button = [[(t.gettext("📷 Use the photo's place"), _data(draft, "loc:photo"))]]
        await reply(update, html.escape(text), reply_markup=inline_keyboard(button))
    spot = locations.gazetteer().get(draft["answers"].get("spot", ""))
    if spot is not None and spot.located:
        button = [
            [
                (
                    t.gettext("📍 I am at {place}", place=place_label(spot, t)),
                    _data(draft, f"loc:place:{spot.id}"),
                )
            ]
        ]
        await reply(
            update,
            html.escape(t.gettext("Are you at the place on the poster?")),
            reply_markup=inline_keyboard(button),
        )
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton(t.gettext("📍 Send my location"), request_location=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
    text = t.gettext(
        "Where was it? Tap the button below to send your location, or type the coordinates, "
        "for example 37.33, 113.57."
    )
    await reply(update, html.escape(text), reply_markup=keyboard)
    return LOCATION


async def ask_when(
    update: Update, context: ContextTypes.DEFAULT_TYPE, t: Translator, draft: dict[str, Any]
) -> int:
    rows = [
        [(t.gettext("Just now"), _data(draft, "when:now"))],
        [
            (t.gettext("Earlier today"), _data(draft, "when:today")),
            (t.gettext("Yesterday"), _data(draft, "when:yesterday")),
        ],
        [(t.gettext("Type date and time"), _data(draft, "when:typed"))],
    ]
    taken = _photo_moment(context, draft)
    if taken is not None:
        label = t.gettext("📷 When the photo was taken: {time}", time=t.datetime(taken))
        rows.insert(0, [(label, _data(draft, "when:photo"))])
    await reply(update, html.escape(t.gettext("When did you see it?")), reply_markup=inline_keyboard(rows))
    return WHEN


async def ask_question(update: Update, t: Translator, draft: dict[str, Any], q: report.Question) -> int:
    text = html.escape(t.gettext(q.prompt))
    if q.answer is AnswerType.PHONE:
        keyboard = ReplyKeyboardMarkup(
            [[KeyboardButton(t.gettext("📞 Send my phone number"), request_contact=True)]],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
        await reply(update, text, reply_markup=keyboard)
        return QUESTION
    buttons = [(t.gettext(c.label), _data(draft, f"a:{c.value}")) for c in q.choices]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    if q.optional:
        rows.append([(t.gettext("Skip"), _data(draft, "a:skip"))])
    await reply(update, text, reply_markup=inline_keyboard(rows) if rows else ReplyKeyboardRemove())
    return QUESTION


def review_text(t: Translator, draft: dict[str, Any]) -> str:
    """The draft as the reporter sees it before sending."""
    kind = report.draft_kind(draft)
    loc = draft["location"]
    observed = datetime.fromisoformat(draft["observed_at"])
    lines = [
        "<b>" + html.escape(t.gettext("Please check your report")) + "</b>",
        labelled(t, t.gettext("Kind"), html.escape(t.gettext(KIND_LABELS[kind]))),
        labelled(t, t.gettext("Photos"), t.number(len(draft["photos"]))),
        labelled(t, t.gettext("Location"), format_coordinates(loc["latitude"], loc["longitude"])),
        labelled(t, t.gettext("Time"), html.escape(t.datetime(observed))),
    ]
    if loc.get("outside_area"):
        lines.append(
            "⚠️ " + html.escape(t.gettext("This place is outside Heshun county. We will still look at it."))
        )
    lines += answer_lines(_preview_row(draft), t, private=True)  # the reporter sees their own phone
    return "\n".join(lines)


def _preview_row(draft: dict[str, Any]) -> Any:
    """Just enough of a report row for `answer_lines` (kind and details)."""

    class Preview:
        kind = draft["kind"]
        details = draft["answers"]

    return Preview()


async def show_review(update: Update, t: Translator, draft: dict[str, Any]) -> int:
    rows = [
        [(t.gettext("✅ Send report"), _data(draft, "submit"))],
        [
            (t.gettext("✏️ Change something"), _data(draft, "edit")),
            (t.gettext("✖️ Cancel"), _data(draft, "cancel")),
        ],
    ]
    await reply(update, review_text(t, draft), reply_markup=inline_keyboard(rows))
    return REVIEW


# --- entry points ----------------------------------------------------------------------------


async def start_report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
    """Starts a new draft of the kind chosen in the menu and asks for photos."""
    query = update.callback_query
    assert query is not None and query.data is not None
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
    if spot:
        draft["answers"]["spot"] = spot  # which poster brought them: staff see it in /stats
    context.user_data[DRAFT] = draft
    t = tr(update, context)
    await reply(
        update,
        "<b>"
        + html.escape(t.gettext(KIND_LABELS[kind]))
        + "</b>\n"
        + html.escape(t.gettext("You can stop at any time with /cancel.")),
    )
    return await ask_next(update, context)


async def resume(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Continues a paused draft where it stopped."""
    action = await _button(update, context)
    if action is None:
        return END
    await _drop_buttons(update)
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
    if len(draft["photos"]) >= svc.config.max_photos:
        text = t.gettext("That is enough photos ({limit}). Tap Done to go on.", limit=svc.config.max_photos)
        await reply(
            update,
            html.escape(text),
            reply_markup=inline_keyboard([[(t.gettext("Done"), _data(draft, "done"))]]),
        )
        return PHOTOS
    attachment = message.photo[-1] if message.photo else message.document
    assert attachment is not None
    try:
        stored = await save_photo(context.bot, attachment, svc.config.media_dir, now=svc.now())
    except PhotoProblemError as problem:
        await reply(update, html.escape(t.gettext(problem.message)))
        return PHOTOS
    if any(p["sha256"] == stored["sha256"] for p in draft["photos"]):
        await reply(update, html.escape(t.gettext("You already sent this photo.")))
        return PHOTOS
    draft["photos"].append(stored)
    _touch(context)
    return await _photos_received(update, t, draft)


async def photos_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Done or No photo: closes the photo step unless a required photo is missing."""
    action = await _button(update, context)
    if action is None:
        return PHOTOS
    draft = _draft(context)
    t = tr(update, context)
    if action == "no_photo" and draft["photos"]:
        action = "done"
    problem = report.photos_problem(draft)
    if problem:
        await reply(update, html.escape(t.gettext(problem)))
        return PHOTOS
    await _drop_buttons(update)
    draft["photos_done"] = True
    return await ask_next(update, context)


# --- location --------------------------------------------------------------------------------


async def _store_location(update: Update, context: ContextTypes.DEFAULT_TYPE, found: locations.Found) -> int:
    draft = _draft(context)
    t = tr(update, context)
    draft["location"] = found.as_dict()
    await reply(
        update,
        html.escape(
            t.gettext("Location saved: {where}", where=format_coordinates(found.latitude, found.longitude))
        ),
        reply_markup=ReplyKeyboardRemove(),
    )
    return await ask_next(update, context)


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
        await reply(update, html.escape(tr(update, context).gettext(problem.message, **problem.params)))
        return LOCATION
    return await _store_location(update, context, found)


async def receive_location_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Reads typed coordinates, a map link or a place name (offering candidates) and asks when."""
    message = update.effective_message
    assert message is not None and message.text is not None
    t = tr(update, context)
    try:
        found = locations.from_text(message.text)
    except locations.LocationError as problem:
        await reply(update, html.escape(t.gettext(problem.message, **problem.params)))
        return LOCATION
    if isinstance(found, list):
        draft = _draft(context)
        rows = [[(place_label(p, t), _data(draft, f"loc:place:{p.id}"))] for p in found]
        await reply(
            update,
            html.escape(t.gettext("Did you mean one of these places?")),
            reply_markup=inline_keyboard(rows),
        )
        return LOCATION
    return await _store_location(update, context, found)


async def location_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """The photo's position, or a place picked from "did you mean"."""
    action = await _button(update, context)
    if action is None:
        return LOCATION
    draft = _draft(context)
    t = tr(update, context)
    choice = action.removeprefix("loc:")
    try:
        if choice == "photo":
            found = _photo_place(draft)
        else:
            place = locations.gazetteer().get(choice.removeprefix("place:"))
            found = locations.from_place(place) if place is not None else None
    except locations.LocationError as problem:
        await reply(update, html.escape(t.gettext(problem.message, **problem.params)))
        return LOCATION
    if found is None:
        return await ask_next(update, context)
    await _drop_buttons(update)
    return await _store_location(update, context, found)


async def live_location_moved(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A live location moved: follow it while the draft is open, ignore it otherwise."""
    message = update.edited_message
    draft = current_draft(context)
    if message is None or message.location is None or draft is None or not draft.get("location"):
        return
    if draft["location"].get("message_id") != message.message_id:
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


async def when_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Now stores the time; today/yesterday/typed ask for the time."""
    action = await _button(update, context)
    if action is None:
        return WHEN
    draft = _draft(context)
    t = tr(update, context)
    svc = services(context)
    choice = action.removeprefix("when:")
    await _drop_buttons(update)
    if choice == "photo":
        taken = _photo_moment(context, draft)
        if taken is not None:
            draft["observed_at"] = taken.isoformat()
        return await ask_next(update, context)
    if choice == "typed":
        draft.pop("when_day", None)
        await reply(update, html.escape(t.gettext(WHEN_EXPECTED)))
        return WHEN_TIME
    picked = quick_choice(choice, now=svc.now(), tz=svc.config.timezone)
    if isinstance(picked, datetime):
        draft["observed_at"] = picked.isoformat()
        return await ask_next(update, context)
    draft["when_day"] = picked.isoformat()
    await reply(update, html.escape(t.gettext("About what time? Type it like 14:30.")))
    return WHEN_TIME


async def receive_when_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Reads a typed time (or date and time), refusing the future and the too old."""
    message = update.effective_message
    assert message is not None and message.text is not None
    draft = _draft(context)
    svc = services(context)
    t = tr(update, context)
    day = date.fromisoformat(draft["when_day"]) if draft.get("when_day") else None
    try:
        moment = parse_when(message.text, now=svc.now(), tz=svc.config.timezone, day=day)
        check_when(moment, now=svc.now(), max_age=svc.config.max_report_age)
    except WhenError as problem:
        await reply(update, html.escape(t.gettext(problem.message, **problem.params)))
        return WHEN_TIME
    draft["observed_at"] = moment.isoformat()
    draft.pop("when_day", None)
    return await ask_next(update, context)


# --- details ---------------------------------------------------------------------------------


async def _answer(update: Update, context: ContextTypes.DEFAULT_TYPE, **answer: Any) -> int:
    draft = _draft(context)
    key = report.next_step(draft)
    try:
        report.answer_question(draft, key, **answer)
    except AnswerError as problem:
        await reply(update, html.escape(tr(update, context).gettext(problem.message, **problem.params)))
        return QUESTION
    except KeyError:
        return await ask_next(update, context)  # the step moved on (an old button): just ask again
    reply_markup = (
        ReplyKeyboardRemove()
        if report.question(report.draft_kind(draft), key).answer is AnswerType.PHONE
        else None
    )
    if reply_markup is not None:
        await reply(update, html.escape(tr(update, context).gettext("Thank you.")), reply_markup=reply_markup)
    return await ask_next(update, context)


async def answer_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Stores the tapped answer and asks the next question."""
    action = await _button(update, context)
    if action is None:
        return QUESTION
    await _drop_buttons(update)
    return await _answer(update, context, choice=action.removeprefix("a:"))


async def answer_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Stores a typed answer (count, text or phone) and asks the next question."""
    message = update.effective_message
    assert message is not None and message.text is not None
    return await _answer(update, context, text=message.text)


async def answer_contact(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Stores the phone number of a shared contact."""
    message = update.effective_message
    assert message is not None and message.contact is not None
    return await _answer(update, context, text=message.contact.phone_number)


# --- review, change, submit --------------------------------------------------------------------


async def review_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Send, change something, or cancel."""
    action = await _button(update, context)
    if action is None:
        return REVIEW
    draft = _draft(context)
    t = tr(update, context)
    if action == "submit":
        return await submit(update, context)
    if action == "cancel":
        await _drop_buttons(update)
        return await discard(update, context)
    if action == "edit":
        rows = [
            [(t.gettext(label), _data(draft, f"edit:{name}"))]
            for name, label in report.editable_fields(draft)
        ]
        rows.append([(t.gettext("« Back"), _data(draft, "edit:back"))])
        await reply(
            update, html.escape(t.gettext("What do you want to change?")), reply_markup=inline_keyboard(rows)
        )
        return EDIT
    return REVIEW


async def edit_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Clears the chosen field and asks it again; review follows."""
    action = await _button(update, context)
    if action is None:
        return EDIT
    await _drop_buttons(update)
    field_name = action.removeprefix("edit:")
    if field_name != "back":
        with contextlib.suppress(KeyError):
            report.reopen_field(_draft(context), field_name)
    return await ask_next(update, context)


async def submit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Stores the report with its photos and queues the staff card and receipt in one transaction."""
    draft = _draft(context)
    svc = services(context)
    t = tr(update, context)
    problem = report.submit_problem(draft)
    if problem:
        await reply(update, html.escape(t.gettext(problem)))
        return await ask_next(update, context)
    user = update.effective_user
    chat = update.effective_chat
    assert user is not None and chat is not None
    if (limited := await report_limit_problem(svc, user.id)) is not None:
        await reply(update, html.escape(t.gettext(limited)))
        return REVIEW
    kind = report.draft_kind(draft)
    anonymous = kind in report.ANONYMOUS_KINDS and draft["answers"].get("follow_up") != "updates"
    reporter = Reporter(
        user_id=None if anonymous else user.id,
        name=None if anonymous else user.full_name,
        username=None if anonymous else user.username,
        language=user_language(update, context),
        notify=not anonymous,
        # Anonymous tips keep only a keyed hash, so limits and "same person" still work.
        key=anonymous_key(svc.config.secret_key, user.id) if anonymous else None,
    )
    photos = [StoredPhoto(**{k: p[k] for k in StoredPhoto.__dataclass_fields__}) for p in draft["photos"]]
    submitted = await svc.store.submit_report(
        draft,
        reporter,
        photos,
        svc.now(),
        compose=lambda row, outcome: [
            *report_messages(row, outcome, svc.config.moderation_chat_id, t, chat.id),
            *safety_messages(row, chat.id, t, svc.config.hotline),
        ],
    )
    log.info("report %s stored (new=%s)", submitted.ref_code, submitted.created)
    assert context.user_data is not None
    context.user_data.pop(DRAFT, None)
    svc.outbox_wakeup.set()
    await _drop_buttons(update)
    return END


def safety_messages(row: ReportRow, chat_id: int, t: Translator, hotline: str) -> list[Outgoing]:
    """After a sighting or a livestock loss: how to stay safe, right after the receipt."""
    if row.kind not in (Kind.SIGHTING.value, Kind.LIVESTOCK.value):
        return []
    text = "🛡 " + html.escape(safety_text(t, row.kind, hotline or None))
    return [
        Outgoing(chat_id, "send_message", {"text": text}, f"safety:{row.id}", private=row.reporter_id is None)
    ]


# --- leaving ---------------------------------------------------------------------------------


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """/cancel: drops the draft and says so."""
    return await discard(update, context)


async def discard(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Throws the draft away and points back to the menu."""
    if context.user_data is not None:
        context.user_data.pop(DRAFT, None)
    t = tr(update, context)
    await reply(
        update,
        html.escape(t.gettext("Report cancelled. Nothing was sent. Send /start to begin again.")),
        reply_markup=ReplyKeyboardRemove(),
    )
    return END


async def ask_discard(update: Update, context: ContextTypes.DEFAULT_TYPE, pending: str = "") -> int:
    """A new /start or report during a draft: keep going, or throw the draft away?"""
    draft = _draft(context)
    draft["pending_kind"] = pending
    t = tr(update, context)
    rows = [
        [
            (t.gettext("Keep my report"), _data(draft, "keep")),
            (t.gettext("Throw it away"), _data(draft, "drop")),
        ]
    ]
    await reply(
        update,
        html.escape(t.gettext("You have a report that is not sent yet. Do you want to keep it?")),
        reply_markup=inline_keyboard(rows),
    )
    return CONFIRM_DISCARD


async def restart_during_draft(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """/start while a draft is open."""
    return await ask_discard(update, context)


async def discard_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Keeps the draft (and asks its next step) or drops it (and starts the pending report)."""
    action = await _button(update, context)
    if action is None:
        return CONFIRM_DISCARD
    await _drop_buttons(update)
    draft = _draft(context)
    pending = draft.pop("pending_kind", "")
    if action == "keep":
        return await ask_next(update, context)
    if pending:
        assert context.user_data is not None
        context.user_data.pop(DRAFT, None)
        return await _begin(update, context, Kind(pending))
    await discard(update, context)
    await show_menu(update, context)
    return END


async def timed_out(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The draft sat idle too long: keep it, and offer to resume."""
    draft = current_draft(context)
    if draft is None:
        return
    t = tr(update, context)
    rows = [
        [
            (t.gettext("Continue my report"), _data(draft, "resume")),
            (t.gettext("Throw it away"), _data(draft, "discard")),
        ]
    ]
    await reply(
        update,
        html.escape(
            t.gettext(
                "Your report is paused because nothing happened for a while. "
                "It is kept: tap Continue when you are ready."
            )
        ),
        reply_markup=inline_keyboard(rows),
    )


async def unexpected(update: Update, context: ContextTypes.DEFAULT_TYPE) -> object:
    """Anything the current step cannot use: say what is expected and keep the draft."""
    t = tr(update, context)
    draft = current_draft(context)
    if update.callback_query is not None:
        await update.callback_query.answer(t.gettext("That button is from an older message."))
        return None
    message = update.effective_message
    expected = {
        report.PHOTOS: t.gettext("I need a photo here (or tap the button under my last message)."),
        report.LOCATION: t.gettext("I need a location here: tap the location button or type coordinates."),
        report.WHEN: t.gettext("Please tap one of the buttons about the time, or type the date and time."),
        report.REVIEW: t.gettext("Please use the buttons under your report: send, change or cancel."),
    }
    step = report.next_step(draft) if draft else report.REVIEW
    text = expected.get(
        step, t.gettext("Please answer the question above, using the buttons if there are any.")
    )
    if message is not None and message.text and len(message.text) > 4000:
        text = t.gettext("That message is too long.") + " " + text
    await reply(update, html.escape(text))
    return None


def build_conversation(draft_timeout_s: float) -> ConversationHandler[ContextTypes.DEFAULT_TYPE]:
    """The report conversation (PTB's per_message warning silenced: see `_conversation`)."""
    with warnings.catch_warnings():
        # PTB warns that per_message=False does not track buttons per message. That is the design:
        # the conversation is per person, and every button carries the draft's token instead.
        warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
        return _conversation(draft_timeout_s)


def _conversation(draft_timeout_s: float) -> ConversationHandler[ContextTypes.DEFAULT_TYPE]:
    """The report conversation, readable top to bottom."""
    # New messages only: an edited message (a live location moving) is not a new answer.
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    text = filters.TEXT & ~filters.COMMAND
    button = r"^[0-9a-f]{8}\|"
    anything = MessageHandler(filters.UpdateType.MESSAGE & ~filters.COMMAND, unexpected)
    return ConversationHandler(
        name=CONVERSATION_NAME,
        persistent=True,
        allow_reentry=False,
        conversation_timeout=draft_timeout_s,
        entry_points=[
            CallbackQueryHandler(start_report, pattern=r"^report:"),
            CallbackQueryHandler(resume, pattern=button + r"(resume|discard)$"),
        ],
        states={
            PHOTOS: [
                MessageHandler(private & (filters.PHOTO | filters.Document.ALL), receive_photo),
                CallbackQueryHandler(photos_button, pattern=button + r"(done|no_photo)$"),
            ],
            LOCATION: [
                MessageHandler(private & (filters.LOCATION | filters.VENUE), receive_location),
                MessageHandler(private & text, receive_location_text),
                CallbackQueryHandler(location_button, pattern=button + r"loc:(photo|place:[\w-]+)$"),
            ],
            WHEN: [
                CallbackQueryHandler(
                    when_button, pattern=button + r"when:(now|today|yesterday|typed|photo)$"
                ),
                MessageHandler(private & text, receive_when_text),
            ],
            WHEN_TIME: [MessageHandler(private & text, receive_when_text)],
            QUESTION: [
                CallbackQueryHandler(answer_button, pattern=button + r"a:"),
                MessageHandler(private & filters.CONTACT, answer_contact),
                MessageHandler(private & text, answer_text),
            ],
            REVIEW: [CallbackQueryHandler(review_button, pattern=button + r"(submit|edit|cancel)$")],
            EDIT: [CallbackQueryHandler(edit_button, pattern=button + r"edit:")],
            CONFIRM_DISCARD: [CallbackQueryHandler(discard_button, pattern=button + r"(keep|drop)$")],
            ConversationHandler.TIMEOUT: [
                MessageHandler(filters.ALL, timed_out),
                CallbackQueryHandler(timed_out),
            ],
        },
        fallbacks=[
            CommandHandler("cancel", cancel),
            CommandHandler("start", restart_during_draft),
            CallbackQueryHandler(start_report, pattern=r"^report:"),
            MessageHandler(filters.UpdateType.EDITED_MESSAGE & filters.LOCATION, live_location_moved),
            anything,
            CallbackQueryHandler(unexpected),
        ],
    )
