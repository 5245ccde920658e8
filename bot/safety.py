"""Safety advice after a report and on /safety, and the bot's ``spot_<id>`` deep links (QR posters).

The advice is a list of message ids marked with :func:`~bot.i18n.N_`, one short idea per line, for
older villagers reading on small phones; the caller translates each line. The county's hotline
comes from configuration only: without one, the advice names the local forestry station and 110
(China's police emergency number) and never a made-up number.
"""

from __future__ import annotations

import re

from bot.i18n import N_, Translator

__all__ = [
    "HOTLINE_LINE",
    "MAX_PLACE_ID_LENGTH",
    "MAX_START_PAYLOAD_LENGTH",
    "NO_HOTLINE_LINE",
    "START_PREFIX",
    "deep_link",
    "parse_start_payload",
    "safety_advice",
    "safety_text",
]

# --- advice lines (English message ids; Chinese lives in locales/) ---------------------------------

_BACK_AWAY = N_("If you meet a leopard, stay calm and back away slowly. Do not run.")
_DO_NOT_APPROACH = N_("Do not go near a leopard.")
_DO_NOT_FOLLOW = N_("Do not follow it or block its way. Let it leave.")
_CHILDREN = N_("Keep children close to you.")
_PEN_AT_NIGHT = N_("Keep livestock in a closed pen at night.")
_LEAVE_CARCASS = N_("Leave the dead animal where it is until staff have seen it.")
_NO_POISON = N_("Never use poison, traps or snares.")
_REPORT = N_("Report it to us. Never try to harm the leopard.")
_PROTECTED = N_("The North China leopard is a national first-class protected animal.")
_CRIME = N_("Harming, trapping or killing it is a crime.")

#: The contact line when a hotline is configured; fill ``{hotline}`` when translating.
HOTLINE_LINE = N_("In an emergency, call the county hotline: {hotline}")
#: The contact line without a configured hotline (no number is invented; 110 is the police).
NO_HOTLINE_LINE = N_("In an emergency, call your local forestry station or 110.")

# What to do first, by report kind; every kind then gets the shared lines below.
_FIRST_LINES: dict[str, tuple[str, ...]] = {
    "sighting": (_BACK_AWAY, _DO_NOT_APPROACH, _DO_NOT_FOLLOW, _CHILDREN, _PEN_AT_NIGHT),
    "livestock": (_LEAVE_CARCASS, _NO_POISON, _PEN_AT_NIGHT, _CHILDREN, _DO_NOT_APPROACH),
}
_GENERAL_FIRST_LINES = (_DO_NOT_APPROACH, _DO_NOT_FOLLOW, _BACK_AWAY, _CHILDREN, _PEN_AT_NIGHT)
_SHARED_LINES = (_REPORT, _PROTECTED, _CRIME)


def _clean_hotline(hotline: str | None) -> str | None:
    """The configured hotline with surrounding blanks removed, or None when it is unset or blank."""
    if hotline is None:
        return None
    return hotline.strip() or None


def safety_advice(kind: str | None, hotline: str | None) -> list[str]:
    """Message ids of the advice for a report of `kind` ("sighting", "livestock"; anything else or
    None gives the general advice), ending with the emergency-contact line.

    The last line is :data:`HOTLINE_LINE` (translate it with ``hotline=...``) when `hotline` is set,
    else :data:`NO_HOTLINE_LINE`. Use :func:`safety_text` to get the translated text in one go.
    """
    first = _FIRST_LINES.get(kind or "", _GENERAL_FIRST_LINES)
    contact = HOTLINE_LINE if _clean_hotline(hotline) else NO_HOTLINE_LINE
    return [*first, *_SHARED_LINES, contact]


def safety_text(translator: Translator, kind: str | None, hotline: str | None) -> str:
    """The advice of :func:`safety_advice` translated, one line each (plain text: escape it for HTML)."""
    number = _clean_hotline(hotline)
    lines = []
    for message in safety_advice(kind, number):
        if message == HOTLINE_LINE:
            lines.append(translator.gettext(message, hotline=number))
        else:
            lines.append(translator.gettext(message))
    return "\n".join(lines)


# --- deep links ---------------------------------------------------------------------------------

#: Prefix of the /start payload that a poster's QR code carries.
START_PREFIX = "spot_"
#: Telegram allows up to 64 characters from A-Z, a-z, 0-9, _ and - in a start parameter.
MAX_START_PAYLOAD_LENGTH = 64
#: The longest place id that still fits in a start parameter after the prefix.
MAX_PLACE_ID_LENGTH = MAX_START_PAYLOAD_LENGTH - len(START_PREFIX)

_PLACE_ID = re.compile(rf"[a-z0-9_-]{{1,{MAX_PLACE_ID_LENGTH}}}")
# Bot usernames: 5-32 characters, letters, digits and underscores (they end in "bot").
_BOT_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}")


def deep_link(bot_username: str, place_id: str) -> str:
    """``https://t.me/<bot>?start=spot_<id>``, the link a poster's first QR code opens.

    `bot_username` may start with "@". Raises ValueError for a username or place id that
    Telegram would not accept in a link (ids are ``[a-z0-9_-]``, at most 59 characters).
    """
    username = bot_username.removeprefix("@")
    if not _BOT_USERNAME.fullmatch(username):
        raise ValueError(f"not a Telegram bot username: {bot_username!r}")
    if not _PLACE_ID.fullmatch(place_id):
        raise ValueError(
            f"place id {place_id!r} cannot be used in a deep link "
            f"(allowed: a-z, 0-9, _ and -, 1 to {MAX_PLACE_ID_LENGTH} characters)"
        )
    return f"https://t.me/{username}?start={START_PREFIX}{place_id}"


def parse_start_payload(payload: str | None) -> str | None:
    """The place id of a ``spot_<id>`` /start payload, or None for anything else (never raises)."""
    if not isinstance(payload, str) or not payload.startswith(START_PREFIX):
        return None
    place_id = payload[len(START_PREFIX) :]
    return place_id if _PLACE_ID.fullmatch(place_id) else None
