"""Typed and chosen times, in Asia/Shanghai."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.when import WhenError, check_when, parse_when, quick_choice

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=TZ)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20 14:30", datetime(2026, 11, 20, 14, 30, tzinfo=TZ)),
        ("2026/11/20 14:30", datetime(2026, 11, 20, 14, 30, tzinfo=TZ)),
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
