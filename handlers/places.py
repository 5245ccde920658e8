"""Staff teach the bot places: a point for a village, a township seat or a scenic spot.

Three ways, all in the moderation group and all audited (who, when, where from): the **📍 Place it**
button on the card of a report given only by a village's name (the bot asks for a pin as a reply), a
reply to such a card with a pin or coordinates, and ``/place NAME`` (then a pin as a reply) for any
place. ``/places`` lists the places that have points. Every later report naming a placed village gets
its point; the reports that named it without a point get it at once and their cards are refreshed.
"""

from __future__ import annotations

import html
import logging
import re

from telegram import ForceReply, Message, Update
from telegram.ext import ContextTypes

from bot import coords, geo, locations
from bot.cards import card_refresh, format_coordinates, place_label
from bot.gazetteer import Place
from bot.i18n import Translator
from handlers.common import Services, reply, services
from handlers.rights import staff_name, staff_only

log = logging.getLogger(__name__)

# The prompt names the place by its id in a form staff can read and the reply handler can find again
# (the prompt is the bot's own message, so the id in it is ours, not typed by anyone).
_PROMPT_ID = re.compile(r"\[#([\w-]+)\]\s*$")


def place_name(place: Place, t: Translator) -> str:
    """'许村村, 松烟镇' — a village with its township, or the place's own name."""
    town = locations.gazetteer().township_of_place(place)
    if place.kind == "village" and town is not None:
        return t.gettext("{place}, {township}", place=place_label(place, t), township=place_label(town, t))
    return place_label(place, t)


async def ask_for_point(context: ContextTypes.DEFAULT_TYPE, chat_id: int, place: Place,
                        reply_to: int | None = None) -> None:
    """Posts the prompt staff answer with a pin or coordinates (as a reply)."""
    t = services(context).staff_translator()
    text = t.gettext(
        "📍 Reply to this message with a pin (📎 → Location) or coordinates for {place}.",
        place=place_name(place, t),
    )
    await context.bot.send_message(
        chat_id,
        html.escape(text) + f"\n[#{place.id}]",
        parse_mode="HTML",
        reply_to_message_id=reply_to,
        reply_markup=ForceReply(selective=True),
    )


def named_place_of(state_reports: tuple[object, ...]) -> Place | None:
    """The first place an incident's reports were given as without a point (what "Place it" places)."""
    for report in state_reports:
        place_id = getattr(report, "place_id", None)
        if place_id and getattr(report, "latitude", None) is None:
            return locations.gazetteer().get(place_id)
    return None


async def place_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/place NAME: asks for a pin for that village, township seat or scenic spot."""
    if not await staff_only(update, context):
        return
    t = services(context).staff_translator()
    query = " ".join(context.args or []).strip()
    match = locations.find_place(query) if query else None
    if match is None:
        await reply(update, html.escape(t.gettext(
            "Send it like this: /place 许村 (a village, township or scenic spot of Heshun), then reply to "
            "my message with a pin.")))
        return
    if not match.exact or len(match.places) > 1:
        names = "\n".join("• " + html.escape(place_name(p, t)) for p in match.places)
        head = t.gettext("Several places have that name. Please choose one.") if match.exact else t.gettext(
            "Did you mean one of these places?")
        hint = t.gettext("Write the township too, for example /place 新庄村 青城镇.")
        await reply(update, html.escape(head) + "\n" + names + "\n" + html.escape(hint))
        return
    chat = update.effective_chat
    message = update.effective_message
    assert chat is not None
    await ask_for_point(context, chat.id, match.places[0], message.message_id if message else None)


async def places_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/places: which places have a point, who set it and when."""
    if not await staff_only(update, context):
        return
    svc = services(context)
    t = svc.staff_translator()
    points = await svc.store.place_points()
    gaz = locations.gazetteer()
    villages = [p for p in gaz if p.kind == "village"]
    placed = {p.place_id for p in points}
    lines = ["📍 <b>" + html.escape(t.gettext("Places with a point")) + "</b>"]
    for point in points:
        place = gaz.get(point.place_id)
        name = place_name(place, t) if place else point.place_id
        who = point.set_by_name or point.source
        lines.append(
            f"• {html.escape(name)} · {format_coordinates(point.latitude, point.longitude)} · "
            + html.escape(t.gettext("set by {name}, {time}", name=who, time=t.datetime(point.set_at)))
        )
    seats = [p for p in gaz.townships() if p.located]
    lines.append(html.escape(t.gettext(
        "Villages with a point: {placed} of {total}. Township seats with a point: {seats} of {towns}.",
        placed=t.number(sum(1 for v in villages if v.id in placed)), total=t.number(len(villages)),
        seats=t.number(len(seats)), towns=t.number(len(gaz.townships())),
    )))
    lines.append(html.escape(t.gettext("Set or move one with /place NAME.")))
    await reply(update, "\n".join(lines))


def _point_of(message: Message) -> tuple[float, float] | None:
    """A pin, a venue, or typed coordinates / a map link in the message (WGS-84); None if none."""
    if message.location is not None:
        return message.location.latitude, message.location.longitude
    if message.venue is not None:
        return message.venue.location.latitude, message.venue.location.longitude
    if message.text:
        try:
            parsed = coords.parse_coordinates(message.text, service_area=locations.service_area())
        except coords.CoordinateError:
            return None
        return parsed.lat, parsed.lon
    return None


async def _target(svc: Services, message: Message, bot_id: int) -> tuple[Place | None, int | None]:
    """The place a staff reply is about: named in the bot's prompt, or the named place of a card."""
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != bot_id:
        return None, None
    found = _PROMPT_ID.search(replied.text or "")
    if found:
        return locations.gazetteer().get(found.group(1)), None
    incident_id = await svc.store.incident_of_card(replied.chat.id, replied.message_id)
    if incident_id is None:
        return None, None
    state = await svc.store.card_state(incident_id)
    return (named_place_of(state.reports) if state else None), incident_id


async def place_reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A staff reply with a pin or coordinates to a place prompt or a named-place card: sets the point."""
    message = update.effective_message
    if message is None or update.effective_user is None:
        return
    svc = services(context)
    place, incident_id = await _target(svc, message, context.bot.id)
    if place is None:
        return
    point = _point_of(message)
    if point is None and incident_id is not None:
        return  # a reply to a card that is not a point is conversation, not for us
    if not await staff_only(update, context, "place"):
        return
    t = svc.staff_translator()
    if point is None:
        await reply(update, html.escape(t.gettext(
            "I need a point here: a pin (📎 → Location) or coordinates, for example 37.33, 113.57.")))
        return
    problem = geo.check_plausible(*point)
    if problem is None and not locations.service_area().contains(*point):
        problem = t.gettext("That point is outside Heshun county; a place of Heshun must be inside it.")
    if problem is not None:
        await reply(update, html.escape(t.gettext(problem)))
        return
    accuracy = locations.APPROXIMATE_PLACE_M
    chat_id = svc.config.telegram.moderation_chat_id
    changed = await svc.store.set_place_point(
        place.id, point[0], point[1], accuracy_m=accuracy, staff_id=update.effective_user.id,
        staff_name=staff_name(update), source="staff", now=svc.now(), incident_id=incident_id,
        refresh=lambda incident: card_refresh(incident, chat_id),
    )
    await reload_points(svc)
    log.info("place %s given a point by staff %s", place.id, update.effective_user.id)
    text = t.gettext("✅ {place} now has a point: {where}. Reports naming it are placed there.",
                     place=place_name(place, t), where=format_coordinates(*point))
    if changed:
        text += " " + t.ngettext("{n} incident updated.", "{n} incidents updated.", len(changed))
    await reply(update, html.escape(text))
    svc.outbox_wakeup.set()


async def reload_points(svc: Services) -> None:
    """Reads the taught points into the gazetteer every lookup uses (at start and after a change)."""
    points = await svc.store.place_points()
    locations.set_learned_points({p.place_id: (p.latitude, p.longitude) for p in points})
