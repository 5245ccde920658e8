"""The bot's messages about a report: what a report looks like wherever the bot writes about it.

The name comes from the staff card, but this module is the report's side of every message: the
lines that show a report's answers, place, township and media (the incident card in
`bot.moderation`, the compensation chat and the web pages reuse them), the messages a submitted
report causes (a new incident's photos and card, or a refresh of the card it joined, its voice
notes under the card, and the reporter's receipt, queued first), and its /myreports line. The
incident card's own layout, buttons and decisions are in `bot.moderation`.

Every user string in these lines goes through :func:`html.escape` (:func:`user_text`), and every
message is cut to Telegram's limits (4096 characters for text, 1024 for captions, counted as Telegram
counts them: after the HTML is parsed) by splitting between lines, never by failing.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

from bot import locations
from bot.gazetteer import Place
from bot.geo import AreaCheck
from bot.i18n import N_, Translator
from bot.locations import relative_to_places
from bot.records import Outgoing, ReportRow, SubmittedReport
from bot.report import KIND_LABELS, QUESTIONS, AnswerType, Kind, display_answer
from bot.video import format_duration

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
USER_VALUE_LIMIT = 1000  # one typed answer on a card; the card stays readable on a phone

KIND_ICONS = {Kind.SIGHTING: "🐆", Kind.LIVESTOCK: "🐄", Kind.SIGNS: "🐾", Kind.TIP: "🚨"}

SOURCE_LABELS = {
    "telegram": N_("shared location"),
    "live": N_("live location"),
    "venue": N_("place shared"),
    "typed": N_("typed coordinates"),
    "map_link": N_("map link"),
    "place": N_("place name"),
    "named_place": N_("place name, no point"),
    "exif": N_("photo GPS"),
    "browser": N_("browser location"),
    "map": N_("tapped on the county map"),
}

COMPASS = {
    "N": N_("north"),
    "NE": N_("northeast"),
    "E": N_("east"),
    "SE": N_("southeast"),
    "S": N_("south"),
    "SW": N_("southwest"),
    "W": N_("west"),
    "NW": N_("northwest"),
}

STATUS_LABELS = {
    "new": N_("waiting for staff"),
    "verified": N_("verified"),
    "rejected": N_("not confirmed"),
}

_TAG = re.compile(r"<[^>]+>")


def visible_length(text_html: str) -> int:
    """Length of an HTML message as Telegram counts it: tags removed, entities decoded."""
    return len(html.unescape(_TAG.sub("", text_html)))


def user_text(value: str, limit: int = USER_VALUE_LIMIT) -> str:
    """A person's text, cut to `limit` characters and escaped for HTML."""
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return html.escape(value, quote=True)


def split_message(lines: Iterable[str], limit: int = TEXT_LIMIT) -> list[str]:
    """Packs HTML lines into as few messages as fit `limit`; a line is never cut inside a tag.

    Each line must fit on its own (callers cap user text with :func:`user_text`); a line that
    still does not fit is cut on its visible text as a last resort.
    """
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        length = visible_length(line)
        if length > limit:
            plain = html.unescape(_TAG.sub("", line))
            line, length = html.escape(plain[: limit - 1] + "…"), limit
        extra = length + (1 if current else 0)
        if current and size + extra > limit:
            chunks.append("\n".join(current))
            current, size = [], 0
            extra = length
        current.append(line)
        size += extra
    if current:
        chunks.append("\n".join(current))
    return chunks


def format_coordinates(latitude: float, longitude: float) -> str:
    # 5 decimals is about 1 m: enough for a field visit, no false precision beyond that.
    return f"{latitude:.5f}, {longitude:.5f}"


def labelled(t: Translator, label: str, value_html: str) -> str:
    """'Label: value' with the language's own colon; the label is escaped, the value already is."""
    return t.gettext("{label}: {value}", label=html.escape(label), value=value_html)


def answer_lines(report: ReportRow, t: Translator, limit: int = USER_VALUE_LIMIT,
                 *, private: bool = False) -> list[str]:
    """'Label: value' lines for the kind's answers (button labels translated, typed text escaped).

    A phone number is private: only the reporter's own review and the compensation desk's case
    card show it (`private=True`), never a staff card or a channel post.
    """
    lines = []
    for q in QUESTIONS[Kind(report.kind)]:
        if q.key not in report.details or (q.answer is AnswerType.PHONE and not private):
            continue
        answer = report.details[q.key]
        if isinstance(answer, dict) and "voice" in answer:  # answered with a voice note (relayed below)
            value = "🎤 " + html.escape(t.gettext(
                "voice message, {duration}", duration=format_duration(float(answer["voice"]))))
            lines.append(labelled(t, t.gettext(q.label), value))
            continue
        text, translatable = display_answer(q, answer)
        value = html.escape(t.gettext(text)) if translatable else user_text(text, limit)
        lines.append(labelled(t, t.gettext(q.label), value))
    return lines


def place_label(place: Place, t: Translator) -> str:
    """A gazetteer place's name as this reader knows it (Chinese always shown: it is on the signs)."""
    if t.language == "zh_Hans" or not place.name_en:
        return place.name_zh or place.display_name
    return f"{place.name_en} ({place.name_zh})" if place.name_zh else place.name_en


def place_choice_label(place: Place, t: Translator) -> str:
    """A place on a "which one?" button: a village with its township ("新庄村 · 青城镇")."""
    town = locations.gazetteer().township_of_place(place)
    if place.kind == "village" and town is not None:
        return f"{place_label(place, t)} · {place_label(town, t)}"
    return place_label(place, t)


def describe_place(latitude: float, longitude: float, t: Translator) -> str | None:
    """'about 2.3 km northeast of 义兴镇' from the gazetteer, or None when no place is near (plain text)."""
    relative = relative_to_places(latitude, longitude)
    if relative is None:
        return None
    name = place_label(relative.place, t)
    if relative.is_near:
        return t.gettext("near {place}", place=name)
    return t.gettext(
        "about {distance} {direction} of {place}",
        distance=t.distance(relative.distance_m),
        direction=t.gettext(COMPASS.get(relative.bearing, relative.bearing)),
        place=name,
    )


def map_link(latitude: float, longitude: float) -> str:
    """The coordinates as a link to a map with a pin (HTML): the card carries the place itself, so no
    separate location message spends the group's 20 messages a minute."""
    url = (
        f"https://www.openstreetmap.org/?mlat={latitude:.5f}&mlon={longitude:.5f}"
        f"#map=15/{latitude:.5f}/{longitude:.5f}"
    )
    return f'<a href="{html.escape(url)}">{format_coordinates(latitude, longitude)}</a>'


def named_place_text(place_id: str | None, place_name: str | None, t: Translator) -> str:
    """'reported as 许村村, 松烟镇 — no exact point' (plain text) for a place given only by name."""
    place = locations.gazetteer().get(place_id) if place_id else None
    name = place_label(place, t) if place else (place_name or "?")
    town = locations.township_of_place(place_id)
    if town is not None and town.id != (place.id if place else None):
        where = t.gettext("{place}, {township}", place=name, township=place_label(town, t))
    else:
        where = name
    return t.gettext("reported as {place} — no exact point", place=where)


def outside_text(check: AreaCheck, t: Translator) -> str | None:
    """'outside Heshun — in 左权县, 6 km from the border' (plain text) for a flagged point, else None."""
    if not check.flagged:
        return None
    distance = t.distance(check.border_m)
    if check.county:
        return t.gettext(
            "outside Heshun — in {county}, {distance} from the border", county=check.county, distance=distance
        )
    return t.gettext("outside Heshun — {distance} from the border", distance=distance)


def point_outside_text(latitude: float | None, longitude: float | None, t: Translator) -> str | None:
    """:func:`outside_text` for a point (None: inside, near the border, or no point)."""
    if latitude is None or longitude is None:
        return None
    return outside_text(locations.area_check(latitude, longitude), t)


def township_text(report: ReportRow, t: Translator) -> str:
    """'Township: 松烟镇' or 'township unknown', from the one rule (bot.locations.report_township)."""
    town = locations.report_township(report.latitude, report.longitude, report.place_id)
    if town is None:
        return t.gettext("township unknown")
    return labelled(t, t.gettext("Township"), html.escape(place_label(town, t)))


def location_line(report: ReportRow, t: Translator) -> str:
    """The place lines of a card: where (or the named place), the outside-Heshun flag, the township."""
    if report.latitude is None or report.longitude is None:
        lines = ["📍 " + html.escape(named_place_text(report.place_id, report.place_name, t))]
    else:
        parts = [map_link(report.latitude, report.longitude)]
        if report.accuracy_m:
            parts.append(t.gettext("±{distance}", distance=t.distance(report.accuracy_m)))
        parts.append(t.gettext(SOURCE_LABELS.get(report.location_source, report.location_source)))
        if report.place_name:
            parts.append(user_text(report.place_name, 200))
        nearby = describe_place(report.latitude, report.longitude, t)
        if nearby:
            parts.append(html.escape(nearby))
        lines = ["📍 " + " · ".join(parts)]
        outside = point_outside_text(report.latitude, report.longitude, t)
        if outside:
            lines.append("⚠️ " + html.escape(outside))
    lines.append("🏘 " + township_text(report, t))
    return "\n".join(lines)


def card_refresh(incident_id: int, moderation_chat_id: int) -> list[Outgoing]:
    """Posting or refreshing an incident's card: rendered when sent, so it always shows the current state."""
    return [Outgoing(moderation_chat_id, "card", {"incident_id": incident_id}, f"card:{incident_id}")]


def new_report_messages(report: ReportRow, outcome: SubmittedReport, staff_chat_id: int) -> list[Outgoing]:
    """For the staff group: a new incident gets its photos (one album) and a card, whose coordinates
    link to a map; a report joining an incident only refreshes that incident's card, so twenty
    reports of one leopard make one card. Every message counts against the group's 20 a minute."""
    assert report.incident_id is not None
    refresh = card_refresh(report.incident_id, staff_chat_id) + voice_messages(report, staff_chat_id)
    if not outcome.created or outcome.joined_existing or outcome.updated_existing:
        return refresh
    purpose = f"card:{report.incident_id}"
    messages: list[Outgoing] = []
    if report.pictures:  # photos and the metadata-free copies of clips
        caption = f"{KIND_ICONS[Kind(report.kind)]} {report.ref_code}"
        messages.append(Outgoing(staff_chat_id, "send_photos", {
            "paths": [p.derived_path for p in report.pictures], "caption": caption,
        }, purpose))
    return messages + refresh


def voice_messages(report: ReportRow, staff_chat_id: int) -> list[Outgoing]:
    """A report's voice notes (metadata-free Ogg Opus copies), relayed as replies under its card."""
    if not report.voices or report.incident_id is None:
        return []
    captions = [
        f"🎤 <code>{report.ref_code}</code> · {format_duration(v.duration_s or 0)}" for v in report.voices
    ]
    return [Outgoing(staff_chat_id, "send_voices", {
        "incident_id": report.incident_id,
        "paths": [v.derived_path for v in report.voices],
        "captions": captions,
    }, f"voices:{report.id}")]


def media_lines(reports: Iterable[ReportRow], t: Translator) -> list[str]:
    """The card's media: photos counted; each clip with its length and size; voice notes counted."""
    media = [p for r in reports for p in r.photos]
    photos = sum(1 for p in media if p.media_kind == "photo")
    clips = [p for p in media if p.media_kind == "video"]
    voices = sum(1 for p in media if p.media_kind == "voice")
    lines = []
    if photos:
        lines.append("📷 " + html.escape(t.ngettext("{n} photo", "{n} photos", photos)))
    if clips:
        each = ", ".join(
            format_duration(c.duration_s or 0) + " · "
            + t.gettext("{size} MB", size=f"{(c.size_bytes or 0) / 2**20:.1f}")
            for c in clips
        )
        lines.append("🎬 " + html.escape(t.ngettext("{n} video", "{n} videos", len(clips)) + f" ({each})"))
    if voices:
        lines.append("🎤 " + html.escape(t.ngettext(
            "{n} voice message, below the card", "{n} voice messages, below the card", voices)))
    return lines


def receipt_text(report: ReportRow, outcome: SubmittedReport, t: Translator) -> str:
    """What the reporter is told once the report is safely stored."""
    lines = [
        "✅ " + html.escape(t.gettext("Thank you! Your report is saved.")),
        # The code of this submission (a repeat folded into an earlier report has its own). Nothing
        # here may depend on other reports: a receipt saying "others saw it too" let anyone locate
        # unpublished sightings and tips with probe reports.
        html.escape(t.gettext("Reference code:")) + f" <code>{outcome.ref_code}</code>",
    ]
    if Kind(report.kind) is Kind.TIP and not report.notify_reporter:
        # The truth about /myreports: an anonymous tip is not listed there, by design.
        lines.append(html.escape(t.gettext(
            "Forestry bureau staff will look at it soon. Your name and account are not stored with this "
            "tip, so it is not listed in /myreports, not even for you: keep the reference code if you want "
            "to ask about it.")))
    else:
        lines.append(html.escape(t.gettext(
            "Forestry bureau staff will look at it soon. You can check it any time with /myreports.")))
    return "\n".join(lines)


def report_messages(
    report: ReportRow, outcome: SubmittedReport, staff_chat_id: int, reporter: Translator,
    reporter_chat_id: int | None, after_receipt: str = "", receipt_markup: dict[str, Any] | None = None,
) -> list[Outgoing]:
    """Everything a stored report sends: the reporter's receipt (with `after_receipt`, HTML, below it,
    and `receipt_markup`, Telegram's JSON), then the staff card (new or refreshed). The receipt goes
    first: the outbox delivers in order, and the person is waiting for it while the staff group's
    messages may wait for its flood limit."""
    messages = []
    if reporter_chat_id is not None:
        text = receipt_text(report, outcome, reporter) + (f"\n\n{after_receipt}" if after_receipt else "")
        payload: dict[str, Any] = {"text": text}
        if receipt_markup is not None:
            payload["reply_markup"] = receipt_markup
        messages.append(Outgoing(reporter_chat_id, "send_message", payload,
                                 f"receipt:{report.id}", private=report.reporter_id is None))
    return messages + new_report_messages(report, outcome, staff_chat_id)


def my_report_line(report: ReportRow, t: Translator) -> str:
    kind = Kind(report.kind)
    status = t.gettext(STATUS_LABELS.get(report.status, report.status))
    return (
        f"{KIND_ICONS[kind]} <code>{report.ref_code}</code> · {html.escape(t.gettext(KIND_LABELS[kind]))}"
        f" · {html.escape(t.datetime(report.observed_at))} · <i>{html.escape(status)}</i>"
    )
