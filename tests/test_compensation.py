"""Livestock compensation cases: working days across holidays, the state machine, the store,
the monthly report, and end to end through the fake Bot API with a fixed clock."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import html
import inspect
import io
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot import report
from bot.compensation import (
    TRANSITIONS,
    CaseInputError,
    CasePlan,
    IllegalTransition,
    WorkCalendar,
    add_working_days,
    application_received,
    approve,
    bundled_calendar,
    case_lines,
    close,
    compensation_chat,
    day_text,
    deny,
    digest_texts,
    due_reminders,
    monthly_csv,
    monthly_rows,
    monthly_texts,
    owner_text,
    parse_amount,
    parse_case_ref,
    parse_day,
    parse_survey,
    pay,
    record_survey,
    schedule_survey,
    split_day_and_amount,
)
from bot.config import CompensationSettings, ConfigError, Destination, load_config
from bot.fake_telegram import FakeTelegram
from bot.i18n import translator
from bot.records import Case, CaseState, Reporter, Review
from bot.report import Kind
from bot.store import Store
from handlers import compensation as handlers_compensation
from handlers import menu
from handlers.app import build_application, run_bot, start_running
from handlers.common import Services, services
from tests.kit import STAFF_ADMIN, Person, code_in, make_jpeg, rows
from tests.kit.app import start_bot

TZ = ZoneInfo("Asia/Shanghai")
CAL = bundled_calendar()
PLAN = CasePlan()
EN = translator("en")
ZH = translator("zh_Hans")


def at(y: int, m: int, d: int, hour: int = 10) -> datetime:
    return datetime(y, m, d, hour, 0, tzinfo=TZ)


# --- the working-day calendar -----------------------------------------------------------------------


def test_national_day_2025_with_its_adjusted_working_saturday() -> None:
    assert CAL.is_working_day(date(2025, 9, 28))  # Sunday, worked for the holiday
    assert not any(CAL.is_working_day(date(2025, 10, d)) for d in range(1, 9))  # Oct 1-8 off
    assert CAL.is_working_day(date(2025, 10, 11))  # Saturday, worked
    assert not CAL.is_working_day(date(2025, 10, 12))  # an ordinary Sunday
    # Loss on Tuesday 30 September: Oct 9, 10, 11 (Sat), 13, 14.
    assert add_working_days(date(2025, 9, 30), 5, CAL) == date(2025, 10, 14)
    assert add_working_days(date(2025, 9, 30), 10, CAL) == date(2025, 10, 21)
    # Approved on the working Saturday: ten working days from the Monday after.
    assert add_working_days(date(2025, 10, 11), 10, CAL) == date(2025, 10, 24)
    assert CAL.add_working_days(date(2025, 10, 3), 0) == date(2025, 10, 9)  # "today" on a holiday
    assert CAL.working_days_between(date(2025, 9, 30), date(2025, 10, 14)) == 5
    assert CAL.working_days_between(date(2025, 10, 14), date(2025, 9, 30)) == -5


def test_spring_festival_2026_with_two_working_saturdays() -> None:
    assert CAL.is_working_day(date(2026, 2, 14)) and CAL.is_working_day(date(2026, 2, 28))
    assert not any(CAL.is_working_day(date(2026, 2, d)) for d in range(15, 24))
    # Loss on Friday 13 February: Feb 14 (Sat), 24, 25, 26, 27 … 28 (Sat), Mar 2, 3, 4, 5.
    assert add_working_days(date(2026, 2, 13), 5, CAL) == date(2026, 2, 27)
    assert add_working_days(date(2026, 2, 13), 10, CAL) == date(2026, 3, 5)


def test_which_years_are_confirmed_and_the_file_is_checked(tmp_path: Path) -> None:
    assert CAL.confirmed(date(2025, 5, 1)) and CAL.confirmed(date(2026, 12, 31))
    assert not CAL.confirmed(date(2027, 2, 6))  # statutory days only, marked unverified
    assert not CAL.confirmed(date(2031, 1, 1))
    assert not CAL.is_working_day(date(2027, 2, 8))  # 初三 is a holiday even without the notice
    with pytest.raises(ValueError, match="not a Saturday or Sunday"):
        WorkCalendar.from_toml("[years.2025]\nwork = [2025-10-10]\n")  # a Friday
    with pytest.raises(ValueError, match="bad holiday"):
        WorkCalendar.from_toml("[years.2025]\noff = [{ from = 2025-10-08, to = 2025-10-01 }]\n")
    own = tmp_path / "holidays.toml"
    own.write_text("[years.2030]\nverified = true\noff = [{ from = 2030-01-01, to = 2030-01-01 }]\n")
    calendar = WorkCalendar.load(own)
    assert not calendar.is_working_day(date(2030, 1, 1)) and calendar.confirmed(date(2030, 6, 1))


# --- the state machine ------------------------------------------------------------------------------


def a_case(**changes: Any) -> Case:
    base = Case(
        id=7, incident_id=3, owner_key="name:张三", owner_name="张三", phone="13912345678", report_id=1,
        ref_code="HS-2025-00001", reporter_id=501, language="en", animal="sheep", killed=2, injured=1,
        penned="penned", township_id=None, latitude=37.33, longitude=113.57, loss_on=date(2025, 9, 30),
        reported_on=date(2025, 9, 30), state=CaseState.REPORTED, survey_due=date(2025, 10, 14),
        apply_due=date(2025, 10, 21),
    )
    return replace(base, **changes)


def test_every_state_has_its_transitions_and_closed_is_final() -> None:
    assert set(TRANSITIONS) == set(CaseState)
    assert TRANSITIONS[CaseState.CLOSED] == frozenset()


@pytest.mark.parametrize(
    ("state", "step"),
    [
        (CaseState.REPORTED, lambda c: approve(c, date(2025, 10, 9), "x", 100, PLAN)),
        (CaseState.REPORTED, lambda c: pay(c, date(2025, 10, 9), 100)),
        (CaseState.SURVEY_SCHEDULED, lambda c: deny(c, date(2025, 10, 9), "x", "late")),
        (CaseState.SURVEYED, lambda c: pay(c, date(2025, 10, 9), 100)),
        (CaseState.SURVEYED, lambda c: schedule_survey(c, date(2025, 10, 9), "Li")),
        (CaseState.APPROVED, lambda c: close(c, date(2025, 10, 9), "")),
        (CaseState.DENIED, lambda c: pay(c, date(2025, 10, 9), 100)),
        (CaseState.PAID, lambda c: approve(c, date(2025, 10, 9), "x", 100, PLAN)),
        (CaseState.CLOSED, lambda c: schedule_survey(c, date(2025, 10, 9), "Li")),
        (CaseState.CLOSED, lambda c: application_received(c, date(2025, 10, 9))),
    ],
)
def test_illegal_transitions_are_refused(state: CaseState, step: Any) -> None:
    with pytest.raises(IllegalTransition):
        step(a_case(state=state))


def test_the_legal_path_and_what_each_step_needs() -> None:
    day = date(2025, 10, 11)
    case = a_case()
    change = schedule_survey(case, day, "Officer Li")
    assert change.state is CaseState.SURVEY_SCHEDULED and change.fields["survey_on"] == "2025-10-11"
    with pytest.raises(CaseInputError):
        schedule_survey(case, day, "  ")
    case = replace(case, state=CaseState.SURVEYED, assessed_fen=300_000)
    with pytest.raises(CaseInputError, match="application"):  # not before the application is on record
        approve(case, day, "Wang", None, PLAN)
    case = replace(case, applied_on=day)
    change = approve(case, day, "Wang", None, PLAN)  # the assessed value by default
    assert change.fields["approved_fen"] == 300_000 and change.fields["payment_due"] == "2025-10-24"
    with pytest.raises(CaseInputError):
        approve(replace(case, assessed_fen=None), day, "Wang", None, PLAN)
    with pytest.raises(CaseInputError):
        deny(case, day, "Wang", " ")
    case = replace(case, state=CaseState.APPROVED, approved_fen=300_000)
    assert pay(case, day, None).fields["paid_fen"] == 300_000
    # Closing an undecided case is a withdrawal: it needs a note.
    with pytest.raises(CaseInputError):
        close(a_case(), day, "")
    assert close(a_case(), day, "withdrawn").state is CaseState.CLOSED
    assert close(replace(case, state=CaseState.PAID), day, "").fields["close_note"] is None
    surveyed = record_survey(a_case(), day, "Li", 2, 300_000, False, "dog bites")
    assert surveyed.fields["predator_confirmed"] == 0


def test_what_staff_type_is_read_forgivingly() -> None:
    assert [parse_case_ref(x) for x in ("C12", "c-12", "#12", "12", "案12", "Ｃ１２", "HS-1")] == [
        12, 12, 12, 12, 12, 12, None]
    today = date(2025, 10, 9)
    assert parse_day("2025-10-11", today) == parse_day("10/11", today) == parse_day("10月11日", today)
    assert parse_day("明天", today) == parse_day("tomorrow", today) == date(2025, 10, 10)
    assert parse_day("13-45", today) is None and parse_day("Li", today) is None
    assert parse_amount("3,000") == parse_amount("¥3000") == parse_amount("3000元") == 300_000
    assert parse_amount("12.5") == 1250 and parse_amount("abc") is None
    survey = parse_survey(["2", "3000", "not", "confirmed", "dog", "bites"])
    assert survey is not None and survey.confirmed is False and survey.findings == "dog bites"
    assert parse_survey(["2", "3000", "是"]) == parse_survey(["２", "3000元", "yes"])
    assert parse_survey(["two", "3000", "yes"]) is None
    assert split_day_and_amount(["2025-10-27", "2800"], today) == (date(2025, 10, 27), 280_000, True)
    assert split_day_and_amount(["2800", "today"], today) == (today, 280_000, True)
    assert split_day_and_amount(["soon"], today)[2] is False


def test_reminders_come_once_near_and_once_missed() -> None:
    case = a_case(state=CaseState.APPROVED, payment_due=date(2025, 10, 24), applied_on=date(2025, 10, 9))
    assert due_reminders(case, date(2025, 10, 22), PLAN) == []
    near = due_reminders(case, date(2025, 10, 23), PLAN)
    assert [k for k, _, _ in near] == ["payment:near:2025-10-24"]
    assert due_reminders(replace(case, reminded=frozenset({near[0][0]})), date(2025, 10, 24), PLAN) == []
    missed = due_reminders(case, date(2025, 10, 27), PLAN)
    assert [k for k, _, _ in missed] == ["payment:missed:2025-10-24"]
    digest = "\n".join(digest_texts([case], date(2025, 10, 27), EN, PLAN))
    assert "C7" in digest and "overdue by 1 working day" in digest


# --- the store: opening cases inside the verification, moving them, the monthly report ---------------


def livestock_draft(owner: str, when: datetime, lat: float = 37.3296, lon: float = 113.5702,
                    penned: str = "free_ranging", killed: int = 2) -> dict[str, Any]:
    draft = report.new_draft(Kind.LIVESTOCK, when, "en")
    draft.update(photos_done=True, observed_at=when.isoformat(),
                 location={"latitude": lat, "longitude": lon, "accuracy_m": 10.0, "source": "telegram"})
    draft["answers"] = {"animal": "sheep", "killed": killed, "injured": 1, "penned": penned,
                        "owner_name": owner, "phone": "13912345678"}
    return draft


def person(user_id: int, language: str = "en") -> Reporter:
    return Reporter(user_id=user_id, name=f"P{user_id}", username=None, language=language, notify=True)


async def verified_incident(store: Store, reports: list[tuple[str, Reporter, datetime]],
                            verify_at: datetime) -> int:
    incident = None
    for owner, who, when in reports:
        submitted = await store.submit_report(livestock_draft(owner, when), who, [], when, lambda r, o: [])
        incident = incident or submitted.incident_id
        assert submitted.incident_id == incident
    assert incident is not None
    assert await store.review_incident(incident, Review.VERIFIED, STAFF_ADMIN, "Staff", None, verify_at,
                                       compose=lambda state: [], cases=PLAN)
    return incident


async def test_verifying_a_livestock_incident_opens_a_case_per_owner(store: Store, tmp_path: Path) -> None:
    loss = at(2026, 2, 13)  # Friday before the Spring Festival break
    incident = await verified_incident(store, [
        ("张三", person(501, "zh_Hans"), loss),
        ("李四", person(502), at(2026, 2, 13, 11)),
        ("张 三", person(503), at(2026, 2, 13, 12)),  # the same owner, typed with a space
    ], at(2026, 2, 14))
    cases = sorted(await store.open_cases(), key=lambda c: c.id)
    assert [(c.owner_name, c.reporter_id) for c in cases] == [("张三", 501), ("李四", 502)]
    first = cases[0]
    assert first.incident_id == incident and first.state is CaseState.REPORTED
    assert (first.loss_on, first.survey_due, first.apply_due) == (
        date(2026, 2, 13), date(2026, 2, 27), date(2026, 3, 5))
    assert first.killed == 2 and first.free_ranging
    # Verifying again changes nothing (first wins), so no second set of cases.
    assert not await store.review_incident(incident, Review.VERIFIED, 1, "x", None, at(2026, 2, 14),
                                           compose=lambda s: [], cases=PLAN)
    assert len(await store.open_cases()) == 2
    # Each owner is told in their own language, through the outbox, in the same transaction.
    notices = {i.chat_id: i.payload["text"] for i in await store.due_outbox()
               if i.purpose.startswith("case:")}
    assert day_text(ZH, date(2026, 3, 5)) in notices[501]  # 2026年3月5日周四
    assert "Thu, Mar 5, 2026" in notices[502] and "ear tags" in notices[502]
    assert "free-ranging inside a nature reserve" in notices[502]
    audit = [r["action"] for r in await store.audit_entries(incident)]
    assert audit.count("case_open") == 2


async def test_a_sighting_opens_no_case(store: Store) -> None:
    draft = livestock_draft("x", at(2025, 9, 30))
    draft["kind"] = "sighting"
    draft["answers"] = {"leopards": 1, "cubs": "no", "behaviour": "walking", "distance": "lt50"}
    submitted = await store.submit_report(draft, person(510), [], at(2025, 9, 30), lambda r, o: [])
    assert submitted.incident_id is not None
    await store.review_incident(submitted.incident_id, Review.VERIFIED, 1, "x", None, at(2025, 9, 30),
                                compose=lambda s: [], cases=PLAN)
    assert await store.open_cases() == []


async def test_steps_are_audited_and_an_illegal_one_writes_nothing(store: Store, tmp_path: Path) -> None:
    await verified_incident(store, [("王五", person(520), at(2025, 9, 30))], at(2025, 9, 30))
    (case,) = await store.open_cases()
    before = len(await store.audit_entries())
    with pytest.raises(IllegalTransition):
        await store.change_case(case.id, 1, "Staff", at(2025, 10, 9),
                                lambda c: pay(c, date(2025, 10, 9), 100), cases=PLAN)
    assert len(await store.audit_entries()) == before
    steps = [
        lambda c: schedule_survey(c, date(2025, 10, 11), "Officer Li"),
        lambda c: record_survey(c, date(2025, 10, 11), "Officer Li", 2, 300_000, True, "bite marks"),
        lambda c: application_received(c, date(2025, 10, 11)),
        lambda c: approve(c, date(2025, 10, 11), "Chief", None, PLAN),
        lambda c: pay(c, date(2025, 10, 20), None),
        lambda c: close(c, date(2025, 10, 20), ""),
    ]
    for step in steps:
        case = await store.change_case(case.id, 1, "Staff", at(2025, 10, 11), step, cases=PLAN)
    assert case.state is CaseState.CLOSED and case.paid_fen == 300_000
    assert case.payment_due == date(2025, 10, 24)
    actions = [e["action"] for e in await store.audit_entries() if e["action"].startswith("case_")]
    assert actions == ["case_open", "case_survey", "case_surveyed", "case_applied", "case_approve",
                       "case_paid", "case_close"]
    told = [r[0] for r in rows(tmp_path / "test.sqlite3",
                               "SELECT purpose FROM outbox WHERE chat_id = 520 ORDER BY id")]
    steps_told = ("opened", "survey", "surveyed", "applied", "approved", "paid", "closed")
    assert told == [f"case:{case.id}:{n}" for n in steps_told]


async def test_monthly_report_by_township_and_animal(store: Store) -> None:
    await verified_incident(store, [("甲", person(530), at(2025, 9, 30))], at(2025, 9, 30))
    await verified_incident(store, [("乙", person(531), at(2025, 10, 15))], at(2025, 10, 15))
    first, second = sorted(await store.open_cases(), key=lambda c: c.id)
    for step in (
        lambda c: record_survey(c, date(2025, 10, 9), "Li", 2, 300_000, True, ""),
        lambda c: application_received(c, date(2025, 10, 9)),
        lambda c: approve(c, date(2025, 10, 9), "Chief", None, PLAN),
        lambda c: pay(c, date(2025, 10, 20), None),
    ):
        await store.change_case(first.id, 1, "Staff", at(2025, 10, 9), step, cases=PLAN)
    await store.change_case(second.id, 1, "Staff", at(2025, 10, 16),
                            lambda c: record_survey(c, date(2025, 10, 16), "Li", 1, 150_050, True, ""),
                            cases=PLAN)
    october = monthly_rows(await store.cases_in_month("2025-10-01", "2025-11-01"), "2025-10", EN)
    total = october[-1]
    assert (total.cases_opened, total.heads, total.assessed_fen, total.cases_paid, total.paid_fen) == (
        1, 1, 150_050, 1, 300_000)
    assert all(r.animal == "Sheep" for r in october[:-1])
    table = list(csv.reader(io.StringIO(monthly_csv(october, "2025-10").decode("utf-8-sig"))))
    assert table[0][:4] == ["month", "township", "animal", "cases_opened"]
    assert table[-1][1] == "Total" and table[-1][5] == "1500.50" and table[-1][8] == "3000.00"
    september = monthly_rows(await store.cases_in_month("2025-09-01", "2025-10-01"), "2025-09", EN)
    assert (september[-1].cases_opened, september[-1].heads, september[-1].approved_fen) == (1, 2, 300_000)
    text = "\n".join(monthly_texts(october, "2025-10", EN))
    assert "Oct 2025" in text and "paid 3,000 yuan" in text


async def test_myreports_lines_show_state_and_deadlines(store: Store) -> None:
    await verified_incident(store, [("丙", person(540), at(2025, 9, 30))], at(2025, 9, 30))
    lines = "\n".join(case_lines(await store.cases_of(540), EN))
    assert "Compensation cases" in lines and "Reported" in lines
    assert "Tue, Oct 14, 2025" in lines and "Tue, Oct 21, 2025" in lines
    assert case_lines([], EN) == []


# --- configuration ------------------------------------------------------------------------------------


def test_compensation_settings_and_where_cases_go(tmp_path: Path) -> None:
    env = {"BOT_TOKEN": "1:AA"}
    base = "[telegram]\nmoderation_chat_id = -100\n"
    path = tmp_path / "c.toml"
    path.write_text(base)
    config = load_config(path, env)
    assert config.compensation == CompensationSettings()
    assert compensation_chat(config) == -100  # no destination: the moderation group
    own = tmp_path / "h.toml"
    own.write_text("[years.2030]\nverified = true\n")
    dests = (
        '[[destinations]]\nname = "public"\nchat_id = -201\nkinds = ["livestock"]\ntrusted = false\n'
        '[[destinations]]\nname = "desk"\nchat_id = -202\nkinds = ["livestock"]\ntrusted = true\n'
    )
    path.write_text(base + '[compensation]\nsurvey_working_days = 4\nholidays_file = "h.toml"\n'
                    'reminder_hour = 8\n' + dests)
    config = load_config(path, env)
    assert config.compensation.survey_working_days == 4 and config.compensation.holidays_file == own
    assert compensation_chat(config) == -202  # the first trusted destination taking livestock
    for bad, message in (
        ('destination = "public"', "must be trusted"),
        ('destination = "nope"', "names no"),
        ("reminder_hour = 24", "reminder_hour"),
        ("apply_working_days = 0", "apply_working_days"),
        ('holidays_file = "missing.toml"', "does not exist"),
    ):
        path.write_text(base + f"[compensation]\n{bad}\n" + dests)
        with pytest.raises(ConfigError, match=message):
            load_config(path, env)


# --- end to end through the fake Bot API ---------------------------------------------------------------

COMP = -1004000000001  # the compensation desk's group (a trusted destination for livestock)
VILLAGER = 9004


@dataclass
class Clock:
    now: datetime


@dataclass
class Running:
    application: Any
    stop: asyncio.Event
    task: asyncio.Task[None]

    @property
    def services(self) -> Services:
        return services(self.application)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Every handler's `svc.now()` reads this clock (the report, the verification, the cases)."""
    fixed = Clock(at(2025, 9, 30))
    monkeypatch.setattr(Services, "now", lambda self: fixed.now)
    return fixed


@pytest.fixture
async def desk(fake: FakeTelegram, config, clock: Clock) -> AsyncIterator[Running]:
    fake.add_user(VILLAGER, "Curious Villager")
    fake.add_group(COMP, "Compensation desk", admins=[STAFF_ADMIN], members=[VILLAGER])
    changed = config.with_settings(
        languages={"staff": "en"},
        destinations=(Destination("desk", COMP, frozenset({"livestock"}), trusted=True),),
    )
    application = build_application(changed)
    # What handlers/app.py does for the compensation chat (both calls are idempotent).
    handlers_compensation.register(application, changed)
    original = application.post_init

    async def post_init(app: Any) -> None:
        await original(app)
        await handlers_compensation.start_jobs(app)

    application.post_init = post_init
    stop = asyncio.Event()
    task = await start_running(application, run_bot(application, stop, poll_timeout=1))
    yield Running(application, stop, task)
    stop.set()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(task, 30)


async def case_card(fake: FakeTelegram, code: str, contains: str | None = None) -> dict[str, Any]:
    for _ in range(200):
        for message in reversed(fake.messages_in(COMP)):
            text = message.get("text") or ""
            if f"Compensation case {code}" in text and (contains is None or contains in text):
                return message
        await asyncio.sleep(0.05)
    texts = [m.get("text") for m in fake.messages_in(COMP)]
    raise AssertionError(f"no card {code} with {contains!r}: {texts}")


async def press(fake: FakeTelegram, who: int, card: dict[str, Any], label: str) -> dict[str, Any]:
    fresh = next(m for m in fake.messages_in(COMP) if m["message_id"] == card["message_id"])
    data = next(b["callback_data"] for row in fresh["reply_markup"]["inline_keyboard"] for b in row
                if label in b["text"])
    query = fake.press_button(who, fresh, data, chat_id=COMP)
    call = await fake.wait_for_call(
        "answerCallbackQuery", predicate=lambda c: c.params.get("callback_query_id") == query["id"])
    return call.params


async def staff_says(fake: FakeTelegram, text: str, expect: str, who: int = STAFF_ADMIN) -> dict[str, Any]:
    seen = max((m["message_id"] for m in fake.messages_in(COMP)), default=0)
    fake.send_text(who, text, chat_id=COMP)
    return await fake.wait_for_message(COMP, contains=expect, after=seen)


_heard: dict[int, int] = {}


async def owner_told(fake: FakeTelegram, owner: Person, case: str, text: str) -> str:
    """The owner's next notice (newer than the last one checked) that contains `text`."""
    message = await fake.wait_for_message(owner.id, contains=text, after=_heard.get(owner.id, 0))
    _heard[owner.id] = message["message_id"]
    assert case in message["text"]
    return str(message["text"])


async def report_a_kill(owner: Person, t: Any, name: str = "张三") -> str:
    """A livestock report with a photo, made in the person's language (`t`)."""
    await owner.send("/start")
    photos = t.gettext("Please send photos of the animals (at least one). You can send several.")
    await owner.tap(t.gettext("A leopard attacked my animals"), contains=photos[:6])
    # No button at this step (a photo is required): the hint does not point at one.
    need = t.gettext("I need a photo or a video here: send one or more of what you found.")
    hint = await owner.send("?", contains=need)
    assert owner.key(t.gettext("No photo")) is None and "button" not in hint["text"]
    got = t.ngettext("Got {n} photo. Send more, or tap Done.", "Got {n} photos. Send more, or tap Done.", 1)
    await owner.send_photo(make_jpeg(seed=21), contains=got[:5])
    await owner.tap(t.gettext("Done"))
    await owner.send("37.3296, 113.5702", contains=t.gettext("When did you find it?"))  # a loss is found
    await owner.tap(t.gettext("Just now"), contains=t.gettext("Which animal was attacked?"))
    await owner.tap(t.gettext("Sheep"), contains=t.gettext("How many were killed?"))
    await owner.tap("2", contains=t.gettext("How many were injured?"))
    await owner.tap("0", contains=t.gettext("Were the animals penned or free-ranging?"))
    await owner.tap(t.gettext("Penned"), contains=t.gettext("What is the owner's name?"))
    phone = t.gettext("What phone number can the forestry bureau call? Tap the button or type it.")
    await owner.send(name, contains=phone[:6])
    await owner.send_contact("+8613912345678", contains=t.gettext("Please check your report"))
    receipt = await owner.tap(t.gettext("✅ Send report"), contains=t.gettext("Reference code:"))
    return code_in(receipt)


async def test_a_case_from_verification_to_payment_across_national_day(
    fake: FakeTelegram, desk: Running, clock: Clock, config
) -> None:
    owner = Person(fake, 801, "张三", language="zh-hans")  # a Chinese Telegram: everything in Chinese
    code = await report_a_kill(owner, ZH)
    _heard[owner.id] = fake.messages_in(owner.id)[-1]["message_id"]

    # Staff verify on Tuesday 30 September, the day before the National Day break.
    staff_card = None
    for _ in range(200):
        staff_card = next((m for m in reversed(fake.messages_in(config.telegram.moderation_chat_id))
                           if code in (m.get("text") or "") and "Incident" in (m.get("text") or "")), None)
        if staff_card:
            break
        await asyncio.sleep(0.05)
    assert staff_card is not None
    query = fake.press_button(STAFF_ADMIN, staff_card, next(
        b["callback_data"] for row in staff_card["reply_markup"]["inline_keyboard"] for b in row
        if "Verify" in b["text"]), chat_id=config.telegram.moderation_chat_id)
    await fake.wait_for_call("answerCallbackQuery",
                             predicate=lambda c: c.params.get("callback_query_id") == query["id"])

    card = await case_card(fake, "C1")
    text = card["text"]
    assert code in text and "Reported" in text and "张三" in text and "+8613912345678" in text
    assert "Survey report due: Tue, Oct 14, 2025 · 5 working days left" in text
    assert "Owner must apply by: Tue, Oct 21, 2025" in text
    opened = await owner_told(fake, owner, "C1", day_text(ZH, date(2025, 10, 21)))
    first_notice = _heard[owner.id] - 1
    assert day_text(ZH, date(2025, 10, 14)) in opened and "2025年10月21日周二" in opened
    assert "ear tags" in opened or "耳标" in opened

    # Not staff: refused and audited.
    fake.send_text(VILLAGER, "/survey C1 10-11 Li", chat_id=COMP)
    await fake.wait_for_call(  # privately (they never started the bot, so Telegram refuses), not in the chat
        "sendMessage", predicate=lambda c: not c.ok and str(c.params.get("chat_id")) == str(VILLAGER)
    )
    await fake.wait_until_idle()
    assert not [m for m in fake.messages_in(COMP) if "Staff only" in (m.get("text") or "")]

    # Thursday 9 October, first working day after the break: the digest lists the case.
    clock.now = at(2025, 10, 9, 9)
    assert await handlers_compensation.daily_round(desk.services, clock.now.date()) == 1
    digest = await fake.wait_for_message(COMP, contains="Open compensation cases")
    assert "C1" in digest["text"] and "(4 working days left)" in digest["text"]  # 10, 11 (Sat), 13, 14

    # Scheduled for the adjusted working Saturday.
    await staff_says(fake, "/survey C1 10-11 Officer Li", "C1: Survey scheduled.")
    await case_card(fake, "C1", contains="Survey on Sat, Oct 11, 2025 by Officer Li")
    told = await owner_told(fake, owner, "C1", day_text(ZH, date(2025, 10, 11)))
    assert "2025年10月11日周六" in told

    # Saturday 11 October is a working day: the survey is done, with a photo.
    clock.now = at(2025, 10, 11, 9)
    seen = max(m["message_id"] for m in fake.messages_in(COMP))
    fake.send_photo(STAFF_ADMIN, make_jpeg(seed=33), caption="C1 pen", chat_id=COMP)
    await fake.wait_for_message(COMP, contains="Photo added to C1", after=seen)
    await staff_says(fake, "/surveyed C1 2 3000 yes two sheep killed at the pen", "C1: Surveyed.")
    card = await case_card(fake, "C1", contains="Assessed value: 3,000 yuan")
    assert "1 survey photo" in card["text"] and "Leopard confirmed" in card["text"]
    await owner_told(fake, owner, "C1", day_text(ZH, date(2025, 10, 21)))  # remember to apply

    # Not approved before the owner's application is on record.
    answer = await press(fake, STAFF_ADMIN, card, "Approve")
    assert answer.get("text") == "First record the owner's application: /applied C1."
    await staff_says(fake, "/applied C1", "C1: Surveyed.")
    await owner_told(fake, owner, "C1", "C1")
    card = await case_card(fake, "C1", contains="Application received")
    answer = await press(fake, STAFF_ADMIN, card, "Approve")
    assert answer.get("text") == "C1: Approved."
    card = await case_card(fake, "C1", contains="Payment due: Fri, Oct 24, 2025")
    told = await owner_told(fake, owner, "C1", day_text(ZH, date(2025, 10, 24)))
    assert "3,000" in told

    # A forged button is refused; an illegal step is explained.
    fake.press_forged_button(STAFF_ADMIN, card["message_id"], "c:forgedtoken1", chat_id=COMP)
    await fake.wait_until_idle()
    assert fake.callback_answers()[-1].get("text") == "That button is from an older message."
    refused = await staff_says(fake, "/approve C1", "not possible now")
    assert "Approved" in refused["text"]

    clock.now = at(2025, 10, 27, 9)
    await staff_says(fake, "/paid c1 2025-10-27", "C1: Paid.")
    told = await owner_told(fake, owner, "C1", day_text(ZH, date(2025, 10, 27)))
    assert "3,000" in told
    await staff_says(fake, f"/close {code}", "C1: Closed.")  # a report's code names its case too
    closed = await owner_told(fake, owner, "C1", "C1")
    assert closed == owner_text(await desk.services.store.case(1), "closed", ZH, PLAN)
    notices = [m["text"] for m in fake.messages_in(owner.id) if m["message_id"] > first_notice]
    # opened, survey scheduled, surveyed, application received, approved, paid, closed
    assert len(notices) == 7 and all("C1" in n for n in notices)
    await case_card(fake, "C1", contains="Closed on Mon, Oct 27, 2025")

    actions = [r[0] for r in rows(config.storage.database,
                                  "SELECT action FROM audit_log WHERE action LIKE 'case_%' ORDER BY id")]
    for expected in ("case_open", "case_survey", "case_photo", "case_surveyed", "case_approve",
                     "case_paid", "case_close"):
        assert expected in actions, actions
    denied = rows(config.storage.database, "SELECT staff_id FROM audit_log WHERE action = 'denied'")
    assert [r[0] for r in denied] == [VILLAGER]


async def test_myreports_shows_the_case(fake: FakeTelegram, desk: Running, clock: Clock, config) -> None:
    if "case_lines" not in inspect.getsource(menu.my_reports):
        pytest.skip("handlers/menu.py my_reports does not show cases yet")
    owner = Person(fake, 802, "李四", language="en")
    code = await report_a_kill(owner, EN, "Li Si")
    report_row = rows(config.storage.database, "SELECT incident_id FROM reports WHERE ref_code = ?", code)[0]
    store = desk.services.store
    assert await store.review_incident(report_row[0], Review.VERIFIED, STAFF_ADMIN, "Staff", None, clock.now,
                                       compose=lambda s: [], cases=desk.services.case_plan)
    listing = await owner.send("/myreports", contains="Compensation cases")
    assert "C1" in listing["text"] and "Owner must apply by: Tue, Oct 21, 2025" in listing["text"]


def test_owner_texts_exist_for_every_step() -> None:
    case = a_case(state=CaseState.PAID, survey_on=date(2025, 10, 11), approved_fen=1, paid_fen=1,
                  paid_on=date(2025, 10, 20), payment_due=date(2025, 10, 24), applied_on=date(2025, 10, 9),
                  deny_reason="reserve", decided_on=date(2025, 10, 11))
    for notice in ("opened", "survey", "surveyed", "approved", "denied", "paid", "closed", "applied"):
        for t in (EN, ZH):
            assert "C7" in owner_text(case, notice, t, PLAN)
    assert "nature reserve" in owner_text(case, "denied", EN, PLAN)


async def test_monthly_command_sends_the_report_and_its_csv(
    fake: FakeTelegram, desk: Running, clock: Clock, config
) -> None:
    store = desk.services.store
    await verified_incident(store, [("赵六", person(803), at(2025, 9, 30))], at(2025, 9, 30))
    (case,) = await store.open_cases()
    for step in (
        lambda c: record_survey(c, date(2025, 10, 11), "Li", 2, 300_000, True, ""),
        lambda c: application_received(c, date(2025, 10, 11)),
        lambda c: approve(c, date(2025, 10, 11), "Chief", None, PLAN),
        lambda c: pay(c, date(2025, 10, 27), None),
    ):
        await store.change_case(case.id, STAFF_ADMIN, "Staff", at(2025, 10, 27), step,
                                cases=desk.services.case_plan)
    # Opened in September, paid in October: the budget sees each in its month.
    report_text = await staff_says(fake, "/monthly 2025-10", "Compensation in Oct 2025")
    assert "paid 3,000 yuan" in report_text["text"] and "0 cases opened" in report_text["text"]
    sent = None
    for _ in range(200):
        sent = next((m for m in fake.messages_in(COMP)
                     if (m.get("document") or {}).get("file_name") == "compensation-2025-10.csv"), None)
        if sent:
            break
        await asyncio.sleep(0.05)
    assert sent is not None
    table = list(csv.reader(io.StringIO(fake.download(sent["document"]["file_id"]).decode("utf-8-sig"))))
    assert table[-1][1] == "Total" and table[-1][3:] == ["0", "0", "0.00", "0.00", "1", "3000.00"]
    clock.now = at(2025, 10, 9)  # without a month: the month before
    september = await staff_says(fake, "/monthly", "Compensation in Sep 2025")
    assert "1 case opened" in september["text"] and "approved 3,000 yuan" in september["text"]
    await staff_says(fake, "/monthly soon", "/monthly 2025-10")


async def test_reminders_and_digest_on_working_days_only(store: Store, config) -> None:
    """The daily round with a fixed clock: nothing on a holiday or a Sunday, reminders once each."""
    chat = -1004000000002
    svc = Services(config=config.with_settings(languages={"staff": "en"}, destinations=(
        Destination("desk", chat, frozenset({"livestock"}), trusted=True),)), store=store)
    await verified_incident(store, [("钱七", person(804), at(2025, 9, 30))], at(2025, 9, 30))
    (case,) = await store.open_cases()
    await store.case_card_sent(case.id, 1, chat, 555)  # as if the card had been posted

    def queued() -> list[tuple[int, str, dict[str, Any]]]:
        return [(r[0], r[1], json.loads(r[2])) for r in rows(
            config.storage.database.parent / "test.sqlite3",
            "SELECT chat_id, purpose, payload FROM outbox WHERE purpose LIKE 'case_%' ORDER BY id")]

    assert await handlers_compensation.daily_round(svc, date(2025, 10, 3)) == 0  # National Day
    assert await handlers_compensation.daily_round(svc, date(2025, 10, 12)) == 0  # an ordinary Sunday
    assert await handlers_compensation.daily_round(svc, date(2025, 10, 9)) == 1  # digest only
    assert "(4 working days left)" in queued()[-1][2]["text"]
    # Saturday 11 October is worked; the survey report is due Tuesday 14: 2 working days, no reminder.
    assert await handlers_compensation.daily_round(svc, date(2025, 10, 11)) == 1
    assert await handlers_compensation.daily_round(svc, date(2025, 10, 13)) == 2  # digest + "near"
    near = queued()[-1]
    assert near[:2] == (chat, f"case_remind:{case.id}") and near[2]["reply_to"] == 555
    assert "the survey report is due Tue, Oct 14, 2025 (1 working day left)" in near[2]["text"]
    assert await handlers_compensation.daily_round(svc, date(2025, 10, 13)) == 1  # not twice
    assert await handlers_compensation.daily_round(svc, date(2025, 10, 15)) == 2  # digest + "missed"
    assert "was due Tue, Oct 14, 2025 (overdue by 1 working day)" in queued()[-1][2]["text"]
    # The owner's application runs out on the 21st: reminded the working day before.
    assert await handlers_compensation.daily_round(svc, date(2025, 10, 20)) == 2
    assert "the owner's application is due" in html.unescape(queued()[-1][2]["text"])
    audit = [e["detail"] for e in await store.audit_entries() if e["action"] == "case_remind"]
    assert audit == [f"C{case.id} survey:near:2025-10-14", f"C{case.id} survey:missed:2025-10-14",
                     f"C{case.id} apply:near:2025-10-21"]


def test_a_chinese_case_card_is_chinese_throughout() -> None:
    """Staff cards in Chinese: the command hints and usage examples too."""
    from bot.compensation import card_text as case_card_text
    from handlers.compensation import USAGE

    latin = re.compile(r"[A-Za-z]{2,}")
    for state in CaseState:
        for applied in (None, date(2025, 10, 9)):
            case = replace(a_case(), state=state, applied_on=applied, surveyed_on=date(2025, 10, 9),
                           assessed_fen=300_000)
            text = case_card_text(case, ZH, PLAN, date(2025, 10, 9))
            text = re.sub(r"<[^>]+>|HS-[0-9A-Z-]+|/[a-z]+|C\d+", "", text)
            assert latin.findall(text) == [], (state, text)
    for command, example in USAGE.items():
        words = latin.findall(re.sub(r"^/[a-z]+ C12", "", ZH.gettext(example)))
        assert words in ([], ["reserve"]), (command, words)  # a reason code is typed as it is
    assert "只有" not in ZH.gettext(USAGE["survey"]) and "李干事" in ZH.gettext(USAGE["survey"])


async def test_a_channel_as_the_compensation_chat_stops_start_up_with_one_line(
    fake: FakeTelegram, config
) -> None:
    """Staff type commands in the compensation chat; in a channel Telegram does not say who typed."""
    channel = -1004000000009
    fake.add_channel(channel, "Compensation desk (a channel by mistake)")
    changed = replace(
        config,
        destinations=(Destination("desk", channel, frozenset({"livestock"}), trusted=True),),
        compensation=CompensationSettings(destination="desk"),
    )
    with pytest.raises(ConfigError) as refused:
        await start_bot(changed)
    assert "is a channel; it must be a group" in str(refused.value) and "\n" not in str(refused.value)
    assert [c for c in fake.calls_to("getChat") if str(c.params.get("chat_id")) == str(channel)]


async def test_the_case_card_refresher_survives_missed_runs_quietly(
    fake: FakeTelegram, desk: Running, clock: Clock, config, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="handlers.compensation")
    jobs = desk.application.job_queue.get_jobs_by_name(handlers_compensation.JOB_CARDS)
    assert len(jobs) == 1 and (
        jobs[0].job.trigger.interval.total_seconds() == config.telegram.outbox_poll_seconds
    )
    # The event loop is held for seconds (a slow disk, a suspended VM): every run due meanwhile is
    # missed. A chain of one-off jobs stopped here for good (APScheduler drops a run over a second late).
    time.sleep(2.5)  # noqa: ASYNC251 - holding the loop is the point
    await asyncio.sleep(0.5)
    store = desk.services.store
    await verified_incident(store, [("王五", person(850), at(2025, 9, 30))], at(2025, 9, 30))
    await case_card(fake, "C1")  # the refresher still runs
    await asyncio.sleep(config.telegram.outbox_poll_seconds * 5)  # more runs with nothing to do
    assert len(desk.application.job_queue.get_jobs_by_name(handlers_compensation.JOB_CARDS)) == 1
    assert [r.getMessage() for r in caplog.records if r.name == "handlers.compensation"] == []
