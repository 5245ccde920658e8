"""Typed and chosen times, in Asia/Shanghai."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.when import WhenError, WhenVague, check_when, parse_when, quick_choice

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=TZ)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20 14:30", datetime(2026, 11, 20, 14, 30, tzinfo=TZ)),
        ("2026/11/20 14:30", datetime(2026, 11, 20, 14, 30, tzinfo=TZ)),
        ("2026-11-20T14:30", datetime(2026, 11, 20, 14, 30, tzinfo=TZ)),  # a browser's datetime-local
        ("２０２６－１１－２０　１４：３０", datetime(2026, 11, 20, 14, 30, tzinfo=TZ)),
        ("11-20 14:30", datetime(2026, 11, 20, 14, 30, tzinfo=TZ)),
        ("11月20日 14点30分", datetime(2026, 11, 20, 14, 30, tzinfo=TZ)),
        ("2026年11月20日下午2点", datetime(2026, 11, 20, 14, 0, tzinfo=TZ)),
        ("11/20 2:30 pm", datetime(2026, 11, 20, 14, 30, tzinfo=TZ)),
        ("12-30 08:00", datetime(2025, 12, 30, 8, 0, tzinfo=TZ)),  # no year, would be future: last year
        ("9:05", datetime(2026, 11, 23, 9, 5, tzinfo=TZ)),
    ],
)
def test_typed_moments(text: str, expected: datetime) -> None:
    assert parse_when(text, now=NOW, tz=TZ) == expected


def test_time_on_a_chosen_day() -> None:
    day = quick_choice("yesterday", now=NOW, tz=TZ)
    assert day == date(2026, 11, 22)
    assert parse_when("21:30", now=NOW, tz=TZ, day=day) == datetime(2026, 11, 22, 21, 30, tzinfo=TZ)
    assert quick_choice("now", now=NOW, tz=TZ) == NOW


@pytest.mark.parametrize("text", ["25:00", "12:61", "2026-02-30 10:00", "soon", "", "13 pm", "x" * 500])
def test_impossible_input_is_refused(text: str) -> None:
    with pytest.raises(WhenError):
        parse_when(text, now=NOW, tz=TZ)


def test_future_and_too_old_are_refused() -> None:
    limit = timedelta(days=30)
    assert check_when(NOW + timedelta(minutes=3), now=NOW, max_age=limit)  # clock skew allowed
    with pytest.raises(WhenError, match="future"):
        check_when(NOW + timedelta(hours=1), now=NOW, max_age=limit)
    with pytest.raises(WhenError) as old:
        check_when(NOW - timedelta(days=31), now=NOW, max_age=limit)
    assert old.value.params == {"days": 30}


@given(st.text(max_size=200))
def test_parser_never_crashes(text: str) -> None:
    try:
        moment = parse_when(text, now=NOW, tz=TZ)
    except WhenError as error:
        assert error.message
    else:
        assert moment.tzinfo is TZ


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2026, 11, 23, 14, 59)))
def test_formatted_moments_round_trip(moment: datetime) -> None:
    moment = moment.replace(second=0, microsecond=0, tzinfo=TZ)
    assert parse_when(moment.strftime("%Y-%m-%d %H:%M"), now=NOW, tz=TZ) == moment


# --- the way people say it ---------------------------------------------------------------------

EVENING_NOW = datetime(2026, 11, 23, 23, 10, tzinfo=TZ)


@pytest.mark.parametrize(
    ("text", "now", "expected"),
    [
        ("昨天晚上10点", NOW, datetime(2026, 11, 22, 22, 0, tzinfo=TZ)),
        ("昨天 18:30", NOW, datetime(2026, 11, 22, 18, 30, tzinfo=TZ)),
        ("今天早上6点", NOW, datetime(2026, 11, 23, 6, 0, tzinfo=TZ)),
        ("晚上10点半", EVENING_NOW, datetime(2026, 11, 23, 22, 30, tzinfo=TZ)),
        ("刚才", NOW, NOW),
        ("半小时前", NOW, datetime(2026, 11, 23, 14, 30, tzinfo=TZ)),
        ("yesterday 18:30", NOW, datetime(2026, 11, 22, 18, 30, tzinfo=TZ)),
        ("2 hours ago", NOW, datetime(2026, 11, 23, 13, 0, tzinfo=TZ)),
        ("two hours ago", NOW, datetime(2026, 11, 23, 13, 0, tzinfo=TZ)),
        ("half an hour ago", NOW, datetime(2026, 11, 23, 14, 30, tzinfo=TZ)),
        ("一个半小时前", NOW, datetime(2026, 11, 23, 13, 30, tzinfo=TZ)),
        ("两个小时以前", NOW, datetime(2026, 11, 23, 13, 0, tzinfo=TZ)),
        ("20分钟前", NOW, datetime(2026, 11, 23, 14, 40, tzinfo=TZ)),
        ("昨晚十一点", NOW, datetime(2026, 11, 22, 23, 0, tzinfo=TZ)),
        ("昨天晚上1点", NOW, datetime(2026, 11, 23, 1, 0, tzinfo=TZ)),  # the night after yesterday
        ("晚上12点", NOW, datetime(2026, 11, 23, 0, 0, tzinfo=TZ)),  # the midnight that began today
        ("昨天凌晨3点", NOW, datetime(2026, 11, 22, 3, 0, tzinfo=TZ)),
        ("前天中午12点半", NOW, datetime(2026, 11, 21, 12, 30, tzinfo=TZ)),
        ("yesterday at 6pm", NOW, datetime(2026, 11, 22, 18, 0, tzinfo=TZ)),
        ("today 7:15 am", NOW, datetime(2026, 11, 23, 7, 15, tzinfo=TZ)),
        ("十一月二十日 下午两点", NOW, datetime(2026, 11, 20, 14, 0, tzinfo=TZ)),
        ("昨天 十点钟", NOW, datetime(2026, 11, 22, 10, 0, tzinfo=TZ)),
    ],
)
def test_said_moments(text: str, now: datetime, expected: datetime) -> None:
    assert parse_when(text, now=now, tz=TZ) == expected


@pytest.mark.parametrize(
    ("text", "day", "part"),
    [
        ("前天下午", date(2026, 11, 21), "afternoon"),
        ("last night", date(2026, 11, 22), "evening"),
        ("this morning", date(2026, 11, 23), "morning"),
        ("昨天", date(2026, 11, 22), None),
        ("昨晚", date(2026, 11, 22), "evening"),
        ("3天前", date(2026, 11, 20), None),
        ("11-20", date(2026, 11, 20), None),  # a date without a time: asked, not noon
    ],
)
def test_a_day_without_a_time_is_asked_not_guessed(text: str, day: date, part: str | None) -> None:
    with pytest.raises(WhenVague) as vague:
        parse_when(text, now=NOW, tz=TZ)
    assert (vague.value.day, vague.value.part) == (day, part)
    assert vague.value.params["said"] == text


@pytest.mark.parametrize(
    ("day", "part", "answer", "expected"),
    [
        (date(2026, 11, 21), "afternoon", "3点", datetime(2026, 11, 21, 15, 0, tzinfo=TZ)),
        (date(2026, 11, 21), "afternoon", "15:30", datetime(2026, 11, 21, 15, 30, tzinfo=TZ)),
        (date(2026, 11, 22), "evening", "11", datetime(2026, 11, 22, 23, 0, tzinfo=TZ)),
        (date(2026, 11, 22), "evening", "2点", datetime(2026, 11, 23, 2, 0, tzinfo=TZ)),
        (date(2026, 11, 23), "morning", "六点半", datetime(2026, 11, 23, 6, 30, tzinfo=TZ)),
        # a day typed in the answer replaces the one asked about, and its part
        (date(2026, 11, 21), "afternoon", "昨天 9点", datetime(2026, 11, 22, 9, 0, tzinfo=TZ)),
    ],
)
def test_the_answer_is_read_within_the_asked_day_and_part(
    day: date, part: str, answer: str, expected: datetime
) -> None:
    assert parse_when(answer, now=NOW, tz=TZ, day=day, part=part) == expected


def test_a_bare_time_still_to_come_says_how_to_mean_yesterday() -> None:
    with pytest.raises(WhenError) as later:
        parse_when("晚上10点半", now=NOW, tz=TZ)
    assert later.value.params == {"time": "22:30"}
    assert "yesterday" in later.value.message
    with pytest.raises(WhenError, match="future"):  # said with its day, the future is refused
        check_when(parse_when("今天晚上10点", now=NOW, tz=TZ), now=NOW, max_age=timedelta(days=30))


@pytest.mark.parametrize(
    "text", ["13 pm", "早上15点", "下午25点", "1.5天前", "昨天 11-20 10:00", "昨天晚上10点61"]
)
def test_contradictions_are_refused(text: str) -> None:
    with pytest.raises(WhenError):
        parse_when(text, now=NOW, tz=TZ)


CN_DIGITS = "零一二三四五六七八九"


def _cn(n: int) -> str:
    """n (0-59) in Chinese numerals, as people write it: 十, 十二, 二十五."""
    if n < 10:
        return CN_DIGITS[n]
    tens, units = divmod(n, 10)
    return ("" if tens == 1 else CN_DIGITS[tens]) + "十" + (CN_DIGITS[units] if units else "")


def _said_zh(moment: datetime, chinese_numerals: bool) -> str:
    """How a resident says a moment of the last three days: 昨天晚上10点半, 前天下午3点05分."""
    day = ("今天", "昨天", "前天")[(NOW.date() - moment.date()).days]
    h = moment.hour
    part, h12 = (
        ("凌晨", h)
        if h < 6
        else ("早上", h)
        if h < 9
        else ("上午", h)
        if h < 12
        else ("中午", 12)
        if h == 12
        else ("下午", h - 12)
        if h < 18
        else ("晚上", h - 12)
    )
    number = _cn if chinese_numerals else str
    minute = "" if moment.minute == 0 else "半" if moment.minute == 30 else f"{number(moment.minute)}分"
    return f"{day}{part}{number(h12)}点{minute}"


@given(
    st.datetimes(min_value=datetime(2026, 11, 21), max_value=datetime(2026, 11, 23, 14, 59)),
    st.booleans(),
)
def test_said_chinese_moments_round_trip(moment: datetime, chinese_numerals: bool) -> None:
    moment = moment.replace(second=0, microsecond=0, tzinfo=TZ)
    assert parse_when(_said_zh(moment, chinese_numerals), now=NOW, tz=TZ) == moment


@given(
    st.datetimes(min_value=datetime(2026, 11, 22), max_value=datetime(2026, 11, 23, 14, 59)),
    st.sampled_from(["{day} {hm}", "{day} at {hm}", "{day} {h12}:{mm} {ampm}", "{day} at {h12}:{mm}{ampm}"]),
)
def test_said_english_moments_round_trip(moment: datetime, form: str) -> None:
    moment = moment.replace(second=0, microsecond=0, tzinfo=TZ)
    text = form.format(
        day="today" if moment.date() == NOW.date() else "yesterday",
        hm=moment.strftime("%H:%M"),
        h12=moment.hour % 12 or 12,
        mm=moment.strftime("%M"),
        ampm="am" if moment.hour < 12 else "pm",
    )
    assert parse_when(text, now=NOW, tz=TZ) == moment


@given(
    st.integers(min_value=1, max_value=600),
    st.sampled_from(["{n}分钟前", "{n}分钟之前", "{n} minutes ago", "{n} mins ago"]),
)
def test_minutes_ago_round_trip(minutes: int, form: str) -> None:
    assert parse_when(form.format(n=minutes), now=NOW, tz=TZ) == NOW - timedelta(minutes=minutes)


@given(st.text(alphabet="昨今前天晚上早下午点半刚才小时分钟前后个0123456789:十两 ", max_size=30))
def test_said_times_are_never_in_the_future_unnoticed(text: str) -> None:
    """Whatever mix of the words: a clear error, a question, or a moment; never a silent future."""
    try:
        moment = parse_when(text, now=NOW, tz=TZ)
    except WhenVague as vague:
        assert vague.day <= NOW.date()
    except WhenError as error:
        assert error.message
    else:
        assert moment.tzinfo is TZ
        if not any(word in text for word in ("今天", "今", "晚上", "点", ":")):
            assert moment <= NOW
