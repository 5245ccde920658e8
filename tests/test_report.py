"""The report model and flow, without a bot."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import report
from bot.report import AnswerError, Kind

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def complete(kind: Kind) -> dict:
    draft = report.new_draft(kind, NOW, "en")
    draft["photos"] = [{"sha256": "x"}]
    draft["photos_done"] = True
    draft["location"] = {"latitude": 37.3, "longitude": 113.5, "source": "typed"}
    draft["observed_at"] = NOW.isoformat()
    for q in report.QUESTIONS[kind]:
        if q.choices:
            report.answer_question(draft, q.key, choice=q.choices[-1].value)
        elif q.answer is report.AnswerType.PHONE:
            report.answer_question(draft, q.key, text="13912345678")
        else:
            report.answer_question(draft, q.key, text="words")
    return draft


def test_steps_come_in_order() -> None:
    draft = report.new_draft(Kind.SIGHTING, NOW, "zh_Hans")
    assert report.next_step(draft) == report.PHOTOS
    draft["photos_done"] = True
    assert report.next_step(draft) == report.LOCATION
    draft["location"] = {"latitude": 37.3, "longitude": 113.5, "source": "typed"}
    assert report.next_step(draft) == report.WHEN
    draft["observed_at"] = NOW.isoformat()
    assert [report.next_step(draft)] == ["leopards"]
    report.answer_question(draft, "leopards", choice="2")
    assert draft["answers"]["leopards"] == 2
    assert report.next_step(draft) == "cubs"


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_can_be_completed_and_reopened(kind: Kind) -> None:
    draft = complete(kind)
    assert report.next_step(draft) == report.REVIEW
    for name, _label in report.editable_fields(draft):
        copy = {**draft, "answers": dict(draft["answers"])}
        report.reopen_field(copy, name)
        assert report.next_step(copy) == name
    assert report.submit_problem(draft) is None or kind is Kind.LIVESTOCK


def test_livestock_needs_a_photo_and_a_casualty() -> None:
    draft = complete(Kind.LIVESTOCK)
    report.answer_question(draft, "killed", choice="0")
    report.answer_question(draft, "injured", choice="0")
    assert "both are 0" in (report.submit_problem(draft) or "")
    report.answer_question(draft, "killed", text="2")
    assert report.submit_problem(draft) is None
    draft["photos"] = []
    assert report.photos_problem(draft) and report.submit_problem(draft)
    assert report.photos_problem(complete(Kind.SIGHTING) | {"photos": []}) is None


def test_bad_answers_say_what_is_expected() -> None:
    draft = complete(Kind.LIVESTOCK)
    with pytest.raises(AnswerError) as bad_count:
        report.answer_question(draft, "killed", text="many")
    assert bad_count.value.params == {"minimum": 0, "maximum": 500}
    with pytest.raises(AnswerError):
        report.answer_question(draft, "killed", text="501")
    with pytest.raises(AnswerError):
        report.answer_question(draft, "phone", text="call me")
    with pytest.raises(AnswerError):
        report.answer_question(draft, "animal", choice="dragon")
    with pytest.raises(AnswerError):
        report.answer_question(draft, "animal", text="typed instead of a button")
    with pytest.raises(AnswerError):
        report.answer_question(draft, "owner_name", text="x" * 61)
    with pytest.raises(AnswerError):
        report.answer_question(draft, "owner_name", text="\u200b\u202e  ")
    report.answer_question(draft, "phone", text="139-1234 5678")
    assert draft["answers"]["phone"] == "13912345678"


@given(st.text(max_size=3000))
def test_typed_text_never_crashes(text: str) -> None:
    draft = complete(Kind.SIGNS)
    try:
        report.answer_question(draft, "note", text=text)
    except AnswerError as error:
        assert error.message
    else:
        stored = draft["answers"]["note"]
        assert 0 < len(stored) <= report.MAX_TEXT and "\u202e" not in stored


@given(st.integers(min_value=2000, max_value=9999), st.integers(min_value=1, max_value=10**7))
def test_reference_codes_round_trip(year: int, seq: int) -> None:
    code = report.reference_code(year, seq)
    assert report.parse_reference_code(code) == (year, seq)
    assert report.parse_reference_code(" " + code.lower().replace("-", "_") + " ") == (year, seq)


def test_reference_code_rejects_junk() -> None:
    assert report.reference_code(2026, 42) == "HS-2026-00042"
    for junk in ("", "HS-26-1", "XX-2026-00042", "HS-2026-0042a"):
        assert report.parse_reference_code(junk) is None
