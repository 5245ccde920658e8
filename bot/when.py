"""When something was seen: quick choices and typed dates/times in the county's time zone.

Typed input is forgiving (ASCII or full-width digits, `2026-11-20 14:30`, `11/20 14:30`,
`11月20日 14点30分`, `14:30` for a day already chosen) and strict about meaning: never in the
future, never older than the configured limit.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.i18n import N_

# Phones' clocks drift; a minute or two "in the future" is the reporter's clock, not a lie.
CLOCK_SKEW = timedelta(minutes=5)


class WhenError(ValueError):
    """The time cannot be used; `message` (translatable) says what is expected."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


EXPECTED = N_("Please type the date and time like 2026-11-20 14:30, or just the time like 14:30.")

_TIME = r"(?P<hour>\d{1,2})\s*(?:[:：时點点]\s*(?P<minute>\d{1,2})?\s*分?)?"
_FULL = re.compile(
    r"^(?:(?P<year>\d{4})\s*[-/.年]\s*)?(?P<month>\d{1,2})\s*[-/.月]\s*(?P<day>\d{1,2})\s*[日号]?"
    r"(?:\s*(?:T|\s)?\s*" + _TIME + r")?$"
)
_TIME_ONLY = re.compile(r"^" + _TIME + r"$")


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip()
    # 上午/下午 and am/pm shift the hour; keep the marker separately.
    return re.sub(r"\s+", " ", text)


def _hour_shift(text: str) -> tuple[str, int | None]:
    """Strips an am/pm marker, returning (rest, 0 for morning / 12 for afternoon / None)."""
    for marker, shift in (("上午", 0), ("早上", 0), ("凌晨", 0), ("下午", 12), ("晚上", 12), ("傍晚", 12)):
        if marker in text:
            return text.replace(marker, " ").strip(), shift
    match = re.search(r"\s*([ap])\.?m\.?$", text, re.IGNORECASE)
    if match:
        return text[: match.start()].strip(), 0 if match.group(1).lower() == "a" else 12
    return text, None


def _clock(hour: str | None, minute: str | None, shift: int | None) -> time:
    h = int(hour) if hour else 12
    m = int(minute) if minute else 0
    if shift is not None:
        if not 1 <= h <= 12:
            raise WhenError(EXPECTED)
        h = h % 12 + shift
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise WhenError(N_("That time does not exist. Please type it like 14:30."))
    return time(h, m)


def parse_when(text: str, *, now: datetime, tz: ZoneInfo, day: date | None = None) -> datetime:
    """A typed moment as an aware datetime in `tz`; `day` is used when only a time is typed."""
    if len(text) > 100:
        raise WhenError(EXPECTED)
    body, shift = _hour_shift(_normalize(text))
    local_now = now.astimezone(tz)
    match = _TIME_ONLY.match(body)
    if match:
        on = day or local_now.date()
        moment = datetime.combine(on, _clock(match["hour"], match["minute"], shift), tz)
    else:
        match = _FULL.match(body)
        if not match:
            raise WhenError(EXPECTED)
        year = int(match["year"]) if match["year"] else local_now.year
        try:
            on = date(year, int(match["month"]), int(match["day"]))
        except ValueError:
            raise WhenError(N_("That date does not exist. Please type it like 2026-11-20 14:30.")) from None
        if not match["year"] and on > local_now.date():
            on = on.replace(year=year - 1)  # "12-30" typed on 2 January means last December
        moment = datetime.combine(on, _clock(match["hour"], match["minute"], shift), tz)
    return moment


def check_when(moment: datetime, *, now: datetime, max_age: timedelta) -> datetime:
    """Refuses a moment in the future or older than `max_age`; returns it unchanged otherwise."""
    if moment > now + CLOCK_SKEW:
        raise WhenError(N_("That time is in the future. Please send when you saw it."))
    if moment < now - max_age:
        raise WhenError(
            N_(
                "That is more than {days} days ago. Please report only what happened in the last {days} days."
            ),
            days=max(1, max_age.days),
        )
    return moment


def quick_choice(choice: str, *, now: datetime, tz: ZoneInfo) -> date | datetime:
    """'now' gives the moment; 'today' and 'yesterday' give the day, whose time is asked next."""
    local = now.astimezone(tz)
    if choice == "now":
        return local
    if choice == "today":
        return local.date()
    if choice == "yesterday":
        return local.date() - timedelta(days=1)
    raise WhenError(EXPECTED)
