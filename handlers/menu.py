"""/start, the main menu, /help and /myreports."""

from __future__ import annotations

import contextlib
import html

from telegram import InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.cards import my_report_line, place_label
from bot.compensation import case_lines
from bot.gazetteer import Place
from bot.i18n import LANGUAGES, N_, Translator
from bot.locations import gazetteer
from bot.report import KIND_LABELS, Kind
from bot.safety import parse_start_payload, safety_text
from handlers.common import inline_keyboard, reply_or_queue, services, tr
from handlers.persistence import LANGUAGE_CHOSEN

MENU_ICONS = {Kind.SIGHTING: "🐆", Kind.LIVESTOCK: "🐄", Kind.SIGNS: "🐾", Kind.TIP: "🚨"}
MENU_LABELS = {
    Kind.SIGHTING: N_("I saw a leopard"),
    Kind.LIVESTOCK: N_("A leopard attacked my animals"),
    Kind.SIGNS: N_("Tracks, scat or camera-trap photo"),
    Kind.TIP: N_("Snares, poison or hunting (anonymous)"),
}


LANGUAGE_ROW = [("🌐 中文", "lang:zh_Hans"), ("🌐 English", "lang:en")]


def menu_keyboard(t: Translator) -> InlineKeyboardMarkup:
    """The menu's buttons: the kinds of report, my reports, help."""
    rows = [[(f"{MENU_ICONS[kind]} {t.gettext(MENU_LABELS[kind])}", f"report:{kind.value}")] for kind in Kind]
    rows.append([(t.gettext("📋 My reports"), "menu:mine"), (t.gettext("❓ Help"), "menu:help")])
    rows.append(LANGUAGE_ROW)  # each language named in itself: found by someone who cannot read the other
    return inline_keyboard(rows)


async def show_menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greets the person in their language and shows what they can report."""
    t = tr(update, context)
    text = "\n".join(
        [
            "<b>" + html.escape(t.gettext("Heshun Leopard Watch")) + "</b>",
            html.escape(
                t.gettext(
                    "Thank you for helping protect the North China leopard. What do you want to report?"
                )
            ),
        ]
    )
    await reply_or_queue(update, context, text, reply_markup=menu_keyboard(t))


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start: the greeting and the menu; from a poster's QR code (start=spot_<id>) it remembers the spot."""
    spot = parse_start_payload(context.args[0] if context.args else None)
    place = gazetteer().get(spot) if spot else None
    if place is not None and context.user_data is not None:
        # The next report offers "I am at <spot>" and records which poster brought the person.
        context.user_data["spot"] = place.id
        t = tr(update, context)
        welcome = "📍 " + html.escape(t.gettext("Welcome to {place}!", place=place_label(place, t)))
        await reply_or_queue(update, context, welcome)
    await show_menu(update, context)


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/help: what the bot does and how to use it."""
    t = tr(update, context)
    kinds = "\n".join(f"{MENU_ICONS[k]} {html.escape(t.gettext(KIND_LABELS[k]))}" for k in Kind)
    text = "\n\n".join(
        [
            html.escape(
                t.gettext("This bot sends your leopard reports to the Heshun county forestry bureau.")
            ),
            kinds,
            html.escape(
                t.gettext("Send /start to report, /myreports to see your reports, /cancel to stop a report.")
            ),
            html.escape(t.gettext("Keep away from leopards. Never chase or corner one.")),
        ]
    )
    await reply_or_queue(update, context, text)


async def my_reports(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/myreports: the person's reports with their status, newest first."""
    t = tr(update, context)
    user = update.effective_user
    assert user is not None
    reports = await services(context).store.reports_of(user.id)
    if not reports:
        text = t.gettext("You have not sent any reports yet. Send /start to report.")
        await reply_or_queue(update, context, html.escape(text))
        return
    lines = ["<b>" + html.escape(t.gettext("Your reports")) + "</b>"]
    lines += [my_report_line(r, t) for r in reports]
    lines += case_lines(await services(context).store.cases_of(user.id), t)
    await reply_or_queue(update, context, "\n".join(lines))


async def menu_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The menu's My reports and Help buttons."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    if query.data == "menu:mine":
        await my_reports(update, context)
    else:
        await help_command(update, context)


async def stale_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button nothing is waiting for (an old message, a finished report)."""
    query = update.callback_query
    assert query is not None
    await query.answer(tr(update, context).gettext("That button is from an older message."))


async def not_understood(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Anything sent outside a report: point to the menu, with its buttons (a way on without typing
    /start, e.g. for someone whose tip draft, kept in memory only, a restart took)."""
    t = tr(update, context)
    text = t.gettext("I did not understand that. Send /start to make a report.")
    await reply_or_queue(update, context, html.escape(text), reply_markup=menu_keyboard(t))


async def language_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/language: choose Chinese or English."""
    t = tr(update, context)
    text = html.escape(t.gettext("Choose your language:"))
    await reply_or_queue(update, context, text, reply_markup=inline_keyboard([LANGUAGE_ROW]))


async def choose_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | None:
    """Stores the language of a pressed lang:<language> button and answers the press; None if unknown."""
    query = update.callback_query
    assert query is not None and query.data is not None and context.user_data is not None
    language = query.data.removeprefix("lang:")
    if language not in LANGUAGES:
        with contextlib.suppress(TelegramError):
            await query.answer()
        return None
    context.user_data["lang"] = language
    context.user_data[LANGUAGE_CHOSEN] = True  # worth keeping on its own (handlers/persistence.py)
    # The answer only stops the button's spinner: a failure must not cost the choice.
    with contextlib.suppress(TelegramError):
        await query.answer(tr(update, context).gettext("Saved."))
    return language


async def language_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stores the chosen language and shows the menu in it."""
    if await choose_language(update, context) is not None:
        await show_menu(update, context)


async def safety_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/safety: what to do (and never do) around leopards, with the county hotline if configured."""
    await reply_or_queue(update, context, safety_html(update, context, None))


def safety_html(update: Update, context: ContextTypes.DEFAULT_TYPE, kind: str | None) -> str:
    t = tr(update, context)
    return "🛡 " + html.escape(safety_text(t, kind, services(context).config.safety.hotline or None))


async def chat_id_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/chatid: the id of this chat (or of the channel a replied-to post was forwarded from), for setup."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None:
        return
    lines = [f"chat_id: <code>{chat.id}</code> ({html.escape(chat.type)})"]
    origin = message.reply_to_message.forward_origin if message.reply_to_message else None
    source = getattr(origin, "chat", None)
    if source is not None:
        lines.append(f"forwarded from chat_id: <code>{source.id}</code>")
    await reply_or_queue(update, context, "\n".join(lines))


ALERT_KINDS = ("county_seat", "town", "township")


def townships() -> list[Place]:
    return [p for p in gazetteer() if p.kind in ALERT_KINDS]


async def alerts_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/alerts: choose the townships you want to be warned about (tap again to stop)."""
    t = tr(update, context)
    chosen = set((context.user_data or {}).get("alerts", []))
    rows = [[(("✅ " if p.id in chosen else "") + place_label(p, t), f"alert:{p.id}")] for p in townships()]
    text = t.gettext(
        "Get a short warning when staff confirm a leopard near your township. Tap to choose or stop."
    )
    await reply_or_queue(update, context, html.escape(text), reply_markup=inline_keyboard(rows))


async def alerts_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Turns warnings for one township on or off."""
    query = update.callback_query
    assert query is not None and query.data is not None and context.user_data is not None
    place_id = query.data.removeprefix("alert:")
    if place_id not in {p.id for p in townships()}:
        await query.answer()
        return
    chosen = list(context.user_data.get("alerts", []))
    chosen = [c for c in chosen if c != place_id] if place_id in chosen else [*chosen, place_id]
    context.user_data["alerts"] = chosen
    t = tr(update, context)
    await query.answer(t.gettext("Saved."))
    rows = [[(("✅ " if p.id in chosen else "") + place_label(p, t), f"alert:{p.id}")] for p in townships()]
    await query.edit_message_reply_markup(inline_keyboard(rows))
