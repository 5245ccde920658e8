"""When something was seen: quick choices and typed dates/times in the county's time zone.

Typed input is forgiving and strict about meaning. It takes what people type: ASCII or
full-width digits, Chinese numerals, `2026-11-20 14:30`, `11/20 14:30`, `11月20日 14点30分`,
`14:30` for a day already chosen, and the way people say it — `昨天晚上10点`, `昨天 18:30`,
`今天早上6点`, `晚上10点半`, `刚才`, `半小时前`, `yesterday 18:30`, `2 hours ago`. A day or a
part of a day without a clock time (`前天下午`, `last night`, `this morning`) is not guessed:
`WhenVague` asks for the time, and the answer is read within that day and part of the day.
Never in the future, never older than the configured limit.
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


class WhenVague(WhenError):
    """A day and/or part of the day without a time: the time is asked, within `day` and `part`."""

    def __init__(self, said: str, day: date, part: str | None) -> None:
        super().__init__(
            N_("“{said}”: about what time? Type it like {example}."), said=said, example=EXAMPLES[part]
        )
        self.day = day
        self.part = part


EXPECTED = N_("Please type the date and time like 2026-11-20 14:30, or just the time like 14:30.")

# Parts of the day, as people name them. The value is the part's name in `_hour_in`.
EARLY, MORNING, AM, NOON, AFTERNOON, EVENING = "early", "morning", "am", "noon", "afternoon", "evening"
PM = "pm"  # like the afternoon, but only with a 12-hour clock (13 pm is not a time)
PARTS = (EARLY, MORNING, AM, NOON, AFTERNOON, PM, EVENING)
EXAMPLES: dict[str | None, str] = {
    EARLY: "4:00",
    MORNING: "7:30",
    AM: "9:30",
    NOON: "12:30",
    AFTERNOON: "15:30",
    PM: "3:30 pm",
    EVENING: "21:00",
    None: "14:30",
}
# (words, days back, part); longer words first so 昨天晚上 is not read as 昨 + 天晚上.
_DAY_WORDS: tuple[tuple[tuple[str, ...], int, str | None], ...] = (
    (("the day before yesterday", "day before yesterday"), 2, None),
    (("last night",), 1, EVENING),
    (("yesterday",), 1, None),
    (("this morning",), 0, MORNING),
    (("this afternoon",), 0, AFTERNOON),
    (("this evening", "tonight"), 0, EVENING),
    (("today",), 0, None),
    (("大前天", "大前日"), 3, None),
    (("前天", "前日"), 2, None),
    (("昨天", "昨日"), 1, None),
    (("昨晚", "昨夜"), 1, EVENING),
    (("今早", "今晨"), 0, MORNING),
    (("今晚",), 0, EVENING),
    (("今天", "今日"), 0, None),
)
_PART_WORDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("凌晨",), EARLY),
    (("早上", "早晨", "清晨", "早", "in the morning", "morning"), MORNING),
    (("上午",), AM),
    (("中午",), NOON),
    (("下午", "午后", "in the afternoon", "afternoon"), AFTERNOON),
    (
        ("傍晚", "晚上", "半夜", "深夜", "夜里", "夜间", "夜晚", "晚", "夜")
        + ("in the evening", "at night", "evening", "night"),
        EVENING,
    ),
)
_NOW_WORDS = ("刚才", "刚刚", "才刚", "刚", "just now", "right now", "now", "现在")
_CN_DIGITS = dict(zip("零〇一二两三四五六七八九", (0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9), strict=True))
_EN_WORDS = "zero one two three four five six seven eight nine ten eleven twelve".split()  # noqa: SIM905
_EN_NUMBERS = {word: str(n) for n, word in enumerate(_EN_WORDS)}
_EN_NUMBER = re.compile(r"\b(" + "|".join(_EN_NUMBERS) + r")\b")
_CN_NUMBER = re.compile(r"[零〇一二两三四五六七八九十]+")
_AGO_ZH = re.compile(
    r"^(?:(?P<n>\d{1,3})\s*个?\s*(?P<half>半)?|(?P<only_half>半)\s*个?)\s*"
    r"(?P<unit>小时|钟头|分钟|分|天|日)\s*(?:以前|之前|前)$"
)
_AGO_EN = re.compile(
    r"^(?:(?P<n>\d{1,3})|(?P<one>an?)|(?P<only_half>half an?))\s*"
    r"(?P<unit>hours?|hrs?|h|minutes?|mins?|m|days?)\s+ago$"
)
_TIME = (
    r"(?P<hour>\d{1,2})\s*(?:(?:[:：]|[时點点]\s*钟?)\s*(?:(?P<half>半)|(?P<minute>\d{1,2})\s*分?)?)?\s*(?:o'?clock)?"
)
_FULL = re.compile(
    r"^(?:(?P<year>\d{4})\s*[-/.年]\s*)?(?P<month>\d{1,2})\s*[-/.月]\s*(?P<day>\d{1,2})\s*[日号]?"
    r"(?:\s*(?:t|\s)?\s*" + _TIME + r")?$"
)
_TIME_ONLY = re.compile(r"^(?:at\s*)?" + _TIME + r"$")


def _cn_number(text: str) -> str:
    """Chinese numerals up to 99 as digits: 十 → 10, 二十五 → 25, 两 → 2 (anything else unchanged)."""
    if "十" not in text:
        return "".join(str(_CN_DIGITS[c]) for c in text)
    tens, _, units = text.partition("十")
    if len(tens) > 1 or len(units) > 1 or "十" in units:
        return text
    return str((_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[units] if units else 0))


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().lower()
    text = _CN_NUMBER.sub(lambda m: _cn_number(m.group()), text)
    text = _EN_NUMBER.sub(lambda m: _EN_NUMBERS[m.group()], text)
    return re.sub(r"[\s,，、的]+", " ", text).strip()


def _take(text: str, words: tuple[str, ...]) -> tuple[str, bool]:
    """`text` without the first of `words` found in it (English words only as whole words)."""
    for word in words:
        pattern = re.escape(word) if not word.isascii() else r"\b" + re.escape(word) + r"\b"
        found = re.search(pattern, text)
        if found:
            return (text[: found.start()] + " " + text[found.end() :]).strip(), True
    return text, False


def _hour_shift(text: str) -> tuple[str, str | None]:
    """Strips an am/pm marker or a part of the day, returning (rest, part or None)."""
    match = re.search(r"\s*([ap])\.?m\.?$", text)
    if match:
        return text[: match.start()].strip(), AM if match.group(1) == "a" else PM
    for words, part in _PART_WORDS:
        text, found = _take(text, words)
        if found:
            return text, part
    return text, None


def _hour_in(hour: int, part: str | None) -> tuple[int, int]:
    """The 24-hour clock hour of `hour` said with `part`, and the days after the said day it falls on.

    晚上 runs past midnight: 昨天晚上1点 is 1 o'clock in the night after yesterday."""
    if part is None or hour > 12:
        if part in (EARLY, MORNING, AM, PM) and hour > 12:
            raise WhenError(EXPECTED)
        return hour, 0
    if hour == 0:
        return (0, 1) if part == EVENING else (0, 0)
    if part in (AM, EARLY):
        return hour % 12, 0
    if part == MORNING:
        return hour, 0
    if part == NOON:
        return (hour, 0) if hour >= 11 else (hour + 12, 0)
    if part in (AFTERNOON, PM):
        return (12 if hour == 12 else hour + 12), 0
    # evening and night
    if hour == 12:
        return 0, 1
    if hour <= 4:
        return hour, 1
    return hour + 12, 0


def _clock(hour: str, minute: str | None, half: str | None, part: str | None) -> tuple[time, int]:
    h, later = _hour_in(int(hour), part)
    m = 30 if half else int(minute) if minute else 0
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise WhenError(N_("That time does not exist. Please type it like 14:30."))
    return time(h, m), later


def _ago(text: str, local_now: datetime) -> datetime | date | None:
    """刚才 / 半小时前 / 2 hours ago as a moment, 3天前 / 3 days ago as a day; None for anything else."""
    if text in _NOW_WORDS:
        return local_now
    match = _AGO_ZH.match(text) or _AGO_EN.match(text)
    if not match:
        return None
    unit = match["unit"]
    groups = match.groupdict()
    amount = 0.5 if match["only_half"] else 1.0 if groups.get("one") else float(match["n"])
    if groups.get("half"):
        amount += 0.5
    if unit in ("天", "日") or unit.startswith("day"):
        if amount != int(amount):
            raise WhenError(EXPECTED)
        return local_now.date() - timedelta(days=int(amount))
    hours = unit in ("小时", "钟头") or unit.startswith("h")
    return local_now - timedelta(hours=amount) if hours else local_now - timedelta(minutes=amount)


def parse_when(
    text: str, *, now: datetime, tz: ZoneInfo, day: date | None = None, part: str | None = None
) -> datetime:
    """A typed moment as an aware datetime in `tz`.

    `day` (and `part`, a part of the day) apply when only a time is typed: the answer to "about
    what time?" after "Yesterday" or 前天下午. Raises `WhenVague` for a day without a time."""
    if len(text) > 100:
        raise WhenError(EXPECTED)
    said = unicodedata.normalize("NFKC", text).strip()
    body = _normalize(text)
    local_now = now.astimezone(tz).replace(second=0, microsecond=0)
    ago = _ago(body, local_now)
    if isinstance(ago, datetime):
        return ago
    told_day: date | None = ago
    if told_day is None:
        for words, back, day_part in _DAY_WORDS:
            body, found = _take(body, words)
            if found:
                # A typed day starts afresh: the part asked about before no longer applies.
                told_day, part = local_now.date() - timedelta(days=back), day_part
                break
    else:
        body = ""
    body, told_part = _hour_shift(body)
    if told_part is not None:
        part = told_part
    body = re.sub(r"^at\s+|\s+at$", "", body).strip()
    on = told_day or day
    if not body:
        if told_day is not None or told_part is not None:
            raise WhenVague(said, on or local_now.date(), part)
        raise WhenError(EXPECTED)
    match = _TIME_ONLY.match(body)
    if match:
        at, later = _clock(match["hour"], match["minute"], match["half"], part)
        if on is None and later:
            on = local_now.date() - timedelta(days=1)  # 晚上1点: the night that ended this morning
        if on is None and datetime.combine(local_now.date(), at, tz) > local_now + CLOCK_SKEW:
            raise WhenError(
                N_("{time} today is still to come. If you mean yesterday, type “yesterday {time}”."),
                time=at.strftime("%H:%M"),
            )
        return datetime.combine((on or local_now.date()) + timedelta(days=later), at, tz)
    match = _FULL.match(body)
    if not match or told_day is not None:
        raise WhenError(EXPECTED)
    year = int(match["year"]) if match["year"] else local_now.year
    try:
        on = date(year, int(match["month"]), int(match["day"]))
    except ValueError:
        raise WhenError(N_("That date does not exist. Please type it like 2026-11-20 14:30.")) from None
    if not match["year"] and on > local_now.date():
        on = on.replace(year=year - 1)  # "12-30" typed on 2 January means last December
    if match["hour"] is None:
        raise WhenVague(said, on, part)
    at, later = _clock(match["hour"], match["minute"], match["half"], part)
    return datetime.combine(on + timedelta(days=later), at, tz)


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
