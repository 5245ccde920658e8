"""The report model and flow, without a bot."""

from __future__ import annotations

import collections
import re
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


def test_reference_codes_are_random_readable_and_round_trip() -> None:
    codes = [report.new_reference_code() for _ in range(2000)]
    assert len(set(codes)) == len(codes)  # 25**6 codes: 2,000 draws collide with odds of about 1 in 120
    for code in codes:
        assert re.fullmatch(r"HS-[34679ACDEFGHJKMNPQRTUVWXY]{4}-[34679ACDEFGHJKMNPQRTUVWXY]{2}", code)
        assert not set(code[3:]) & set("0O1IL2Z5S8B")  # nothing to mishear or misread
        assert report.parse_reference_code(code) == code
        assert report.parse_reference_code(" " + code.lower().replace("-", "_") + " ") == code
        assert report.parse_reference_code(code.replace("-", "")) == code
    # Not a sequence: consecutive codes share no order (a counter would sort them as drawn).
    assert codes[:50] != sorted(codes[:50])
    # Every character of the alphabet is used, and roughly evenly (random, not a few fixed patterns).
    counts = collections.Counter("".join(c[3:7] + c[8:] for c in codes))
    assert set(counts) == set(report.REF_ALPHABET)
    assert max(counts.values()) < 2 * min(counts.values())


def test_reference_code_rejects_junk_and_reads_legacy_codes() -> None:
    assert report.parse_reference_code("ＨＳ－７Ｋ３Ｆ－９Ｑ") == "HS-7K3F-9Q"  # full-width, as IMEs type
    assert report.parse_reference_code("hs-2026-00042") == "HS-2026-00042"  # codes from before stay valid
    for junk in ("", "HS-26-1", "XX-7K3F-9Q", "HS-7K3F-9", "HS-0K3F-9Q", "HS-7K3F-9Q1", "HS-2026-0042a"):
        assert report.parse_reference_code(junk) is None
