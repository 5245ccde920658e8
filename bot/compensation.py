"""Livestock-kill compensation cases: the state machine, working-day deadlines, texts.

Plain Python, no Telegram and no SQL. Shanxi's rules in force since 2023-03-01: the loss is
reported to the county forestry bureau; the bureau surveys the site and writes its report within
5 working days; the owner applies within 10 working days of the loss; payment is due within 10
working days of the decision; free-ranging livestock inside a nature reserve is not compensated.
The numbers come from `[compensation]` in the configuration (:class:`bot.config.CompensationSettings`).

A case is opened per owner when staff verify a livestock incident (inside the same transaction,
see bot/store/cases.py, which is given this module's :class:`CasePlan` as its
``bot.records.CaseRules``). Staff move it along::

    reported ─┬─> survey_scheduled ─┬─> surveyed ─┬─> approved ──> paid ──> closed
              │        (again) <────┤             └─> denied ───────────> closed
              ├─────────────────────┘ (surveyed without scheduling)
              └─> closed (withdrawn, with a note; also from survey_scheduled)

"Within N working days of D" is the N-th working day after D (D itself is not counted, as in
Chinese law); weekends and public holidays are skipped and adjusted working weekends (调休上班)
count, from :class:`WorkCalendar` (``bot/data/holidays_cn.toml`` or the configured file).
"""

from __future__ import annotations

import csv
import functools
import html
import io
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton

from bot.cards import labelled, place_label, split_message, user_text
from bot.config import CompensationSettings, Config
from bot.i18n import N_, Translator, translator
from bot.records import Case, CaseChange, CaseState, Outgoing, ReportRow
from bot.report import Kind, display_answer, question

BUNDLED_HOLIDAYS = Path(__file__).resolve().parent / "data" / "holidays_cn.toml"


# --- the state machine ---------------------------------------------------------------------------



TRANSITIONS: dict[CaseState, frozenset[CaseState]] = {
    CaseState.REPORTED: frozenset({CaseState.SURVEY_SCHEDULED, CaseState.SURVEYED, CaseState.CLOSED}),
    # Scheduling again moves the visit (another day or officer).
    CaseState.SURVEY_SCHEDULED: frozenset({CaseState.SURVEY_SCHEDULED, CaseState.SURVEYED, CaseState.CLOSED}),
    CaseState.SURVEYED: frozenset({CaseState.APPROVED, CaseState.DENIED}),
    CaseState.APPROVED: frozenset({CaseState.PAID}),
    CaseState.DENIED: frozenset({CaseState.CLOSED}),
    CaseState.PAID: frozenset({CaseState.CLOSED}),
    CaseState.CLOSED: frozenset(),
}
OPEN_STATES = tuple(s for s in CaseState if s is not CaseState.CLOSED)
# Closing before a decision means the owner withdrew (or a duplicate): a note is required then.
CLOSE_NEEDS_NOTE = frozenset({CaseState.REPORTED, CaseState.SURVEY_SCHEDULED})

STATE_LABELS = {
    CaseState.REPORTED: N_("Reported"),
    CaseState.SURVEY_SCHEDULED: N_("Survey scheduled"),
    CaseState.SURVEYED: N_("Surveyed"),
    CaseState.APPROVED: N_("Approved"),
    CaseState.DENIED: N_("Denied"),
    CaseState.PAID: N_("Paid"),
    CaseState.CLOSED: N_("Closed"),
}
STATE_ICONS = {
    CaseState.REPORTED: "🆕",
    CaseState.SURVEY_SCHEDULED: "🧭",
    CaseState.SURVEYED: "🔍",
    CaseState.APPROVED: "✅",
    CaseState.DENIED: "❌",
    CaseState.PAID: "💰",
    CaseState.CLOSED: "🔒",
}


class IllegalTransition(ValueError):
    """The case is not in a state from which that step can be taken."""

    def __init__(self, current: CaseState, target: CaseState) -> None:
        super().__init__(f"{current.value} -> {target.value}")
        self.current = current
        self.target = target


class CaseInputError(ValueError):
    """A step's input is missing or wrong; `message` (translatable) says what is expected."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


def allowed(current: CaseState, target: CaseState) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: CaseState, target: CaseState) -> None:
    if not allowed(current, target):
        raise IllegalTransition(current, target)


# --- the holiday calendar and working days ---------------------------------------------------------


@dataclass(frozen=True)
class HolidayYear:
    year: int
    verified: bool
    source: str


class WorkCalendar:
    """Working days in mainland China: Monday to Friday, less public holidays, plus adjusted
    working Saturdays and Sundays (调休). Years not in the file count weekends only, and are
    reported as unconfirmed, like the years marked `verified = false`."""

    def __init__(self, off: Iterable[date] = (), work: Iterable[date] = (),
                 years: Iterable[HolidayYear] = ()) -> None:
        self.off = frozenset(off)
        self.work = frozenset(work)
        self.years = {y.year: y for y in years}
        both = self.off & self.work
        if both:
            raise ValueError(f"days both off and working: {sorted(both)}")

    @classmethod
    def from_toml(cls, text: str, name: str = "holiday calendar") -> WorkCalendar:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{name} is not valid TOML: {exc}") from None
        off: set[date] = set()
        work: set[date] = set()
        years = []
        for key, table in (data.get("years") or {}).items():
            if not (key.isdigit() and isinstance(table, dict)):
                raise ValueError(f"{name}: [years.{key}] must be a year")
            verified, source = bool(table.get("verified", False)), str(table.get("source", ""))
            years.append(HolidayYear(int(key), verified, source))
            for span in table.get("off", []):
                start, end = span.get("from"), span.get("to", span.get("from"))
                if not (isinstance(start, date) and isinstance(end, date)) or end < start:
                    raise ValueError(f"{name}: years.{key}: bad holiday {span!r}")
                off.update(start + timedelta(days=n) for n in range((end - start).days + 1))
            for day in table.get("work", []):
                if not isinstance(day, date) or day.weekday() < 5:
                    raise ValueError(f"{name}: years.{key}: {day!r} is not a Saturday or Sunday")
                work.add(day)
        return cls(off, work, years)

    @classmethod
    def load(cls, path: Path | None = None) -> WorkCalendar:
        """The calendar in `path`, or the bundled one."""
        path = path or BUNDLED_HOLIDAYS
        return cls.from_toml(path.read_text(encoding="utf-8"), str(path))

    def is_working_day(self, day: date) -> bool:
        if day in self.work:
            return True
        return day.weekday() < 5 and day not in self.off

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start` ("within n working days of start"); n = 0 gives
        `start` if it is a working day, else the next working day."""
        if n < 0:
            raise ValueError("n must be 0 or more")
        day = start
        if n == 0:
            while not self.is_working_day(day):
                day += timedelta(days=1)
            return day
        while n:
            day += timedelta(days=1)
            if self.is_working_day(day):
                n -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end`; negative when `end` is earlier."""
        if end < start:
            return -self.working_days_between(end, start)
        days = (start + timedelta(days=n) for n in range(1, (end - start).days + 1))
        return sum(1 for day in days if self.is_working_day(day))

    def confirmed(self, day: date) -> bool:
        """Whether the official arrangement for the year of `day` is in the file."""
        info = self.years.get(day.year)
        return info is not None and info.verified


def add_working_days(start: date, n: int, calendar: WorkCalendar) -> date:
    """The deadline "within n working days of start" (see :meth:`WorkCalendar.add_working_days`)."""
    return calendar.add_working_days(start, n)


@functools.cache
def bundled_calendar() -> WorkCalendar:
    return WorkCalendar.load()


@dataclass(frozen=True)
class CasePlan:
    """What deadlines and texts need: the configured numbers, the calendar, the county's time zone."""

    settings: CompensationSettings = field(default_factory=CompensationSettings)
    calendar: WorkCalendar = field(default_factory=bundled_calendar)
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))

    def today(self, now: datetime) -> date:
        return now.astimezone(self.tz).date()

    def survey_due(self, reported_on: date) -> date:
        return self.calendar.add_working_days(reported_on, self.settings.survey_working_days)

    def apply_due(self, loss_on: date) -> date:
        return self.calendar.add_working_days(loss_on, self.settings.apply_working_days)

    def payment_due(self, decided_on: date) -> date:
        return self.calendar.add_working_days(decided_on, self.settings.payment_working_days)

    # The store's bot.records.CaseRules: it opens cases and tells owners through these, and never
    # imports this module.

    def new_cases(self, reports: Sequence[ReportRow], now: datetime) -> list[dict[str, Any]]:
        return new_cases(reports, now, self)

    def owner_messages(self, case: Case, notice: str | None) -> list[Outgoing]:
        return owner_messages(case, notice, self)


def plan_for(config: Config) -> CasePlan:
    """The plan from the configuration (the holiday file is read here: a bad file stops start-up)."""
    settings = config.compensation
    calendar = WorkCalendar.load(settings.holidays_file) if settings.holidays_file else bundled_calendar()
    return CasePlan(settings, calendar, config.region.timezone)


@functools.cache
def default_plan() -> CasePlan:
    return CasePlan()


def compensation_chat(config: Config) -> int:
    """Where case cards, reminders and the digest go: the configured destination, else the first
    trusted destination that takes livestock reports, else the moderation group."""
    name = config.compensation.destination
    for destination in config.destinations:
        if (destination.name == name if name else destination.trusted and "livestock" in destination.kinds):
            return destination.chat_id
    return config.telegram.moderation_chat_id


# --- cases ----------------------------------------------------------------------------------------



def owner_key(report: ReportRow) -> str:
    """Who "the same owner" is across the reports of one incident: the typed name, normalised."""
    name = str(report.details.get("owner_name") or "")
    key = "".join(ch for ch in unicodedata.normalize("NFKC", name).casefold()
                  if unicodedata.category(ch)[0] in "LN")
    if key:
        return "name:" + key
    return f"tg:{report.reporter_id}" if report.reporter_id is not None else f"report:{report.id}"


def _count(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def township_of(report: ReportRow) -> str | None:
    """The township of the loss (the monthly report groups by it): bot.locations.report_township."""
    from bot.locations import report_township

    town = report_township(report.latitude, report.longitude, report.place_id)
    return town.id if town else None


def new_cases(reports: Sequence[ReportRow], now: datetime, plan: CasePlan) -> list[dict[str, Any]]:
    """Column values of the cases a verified incident opens: one per owner of its livestock reports."""
    groups: dict[str, list[ReportRow]] = {}
    livestock = [r for r in reports if r.kind == Kind.LIVESTOCK.value]
    for report in sorted(livestock, key=lambda r: (r.submitted_at, r.id)):
        groups.setdefault(owner_key(report), []).append(report)
    cases = []
    stamp = now.isoformat()
    for key, group in groups.items():
        first = group[0]
        reach = next((r for r in group if r.reporter_id is not None and r.notify_reporter), None)
        loss_on = min(plan.today(r.observed_at) for r in group)
        reported_on = min(plan.today(r.submitted_at) for r in group)
        cases.append({
            "incident_id": first.incident_id, "owner_key": key,
            "owner_name": str(first.details.get("owner_name") or first.reporter_name or "?")[:100],
            "phone": next((str(r.details["phone"]) for r in group if r.details.get("phone")), None),
            "report_id": first.id, "ref_code": first.ref_code,
            "reporter_id": reach.reporter_id if reach else None,
            "language": (reach or first).language,
            "animal": first.details.get("animal"),
            # Two people reporting the same owner's loss describe the same animals: the larger count.
            "killed": max(_count(r.details.get("killed")) for r in group),
            "injured": max(_count(r.details.get("injured")) for r in group),
            "penned": first.details.get("penned"),
            "township_id": township_of(first),
            "latitude": first.latitude, "longitude": first.longitude,
            "loss_on": loss_on.isoformat(), "reported_on": reported_on.isoformat(),
            "survey_due": plan.survey_due(reported_on).isoformat(),
            "apply_due": plan.apply_due(loss_on).isoformat(),
            "opened_at": stamp, "updated_at": stamp,
        })
    return cases


# --- steps -----------------------------------------------------------------------------------------




DENY_REASONS = {
    "reserve": N_("Free-ranging inside a nature reserve"),
    "not_leopard": N_("Not killed by a leopard"),
    "late": N_("Applied too late"),
    "no_evidence": N_("Not enough evidence"),
}
OWNER_DENY_REASONS = {
    "reserve": N_("Animals free-ranging inside a nature reserve are not compensated under Shanxi's rules."),
    "not_leopard": N_("The survey found that the animals were not killed by a leopard."),
    "late": N_("The application came after the deadline."),
    "no_evidence": N_("There was not enough evidence of the loss."),
}


def _move(case: Case, target: CaseState) -> None:
    check_transition(case.state, target)


def schedule_survey(case: Case, day: date, officer: str) -> CaseChange:
    _move(case, CaseState.SURVEY_SCHEDULED)
    officer = officer.strip()[:100]
    if not officer:
        raise CaseInputError(N_("Say who will survey the site."))
    return CaseChange("survey", CaseState.SURVEY_SCHEDULED,
                      {"survey_on": day.isoformat(), "officer": officer},
                      f"{day.isoformat()} {officer}", "survey")


def record_survey(case: Case, today: date, officer: str, heads: int, value_fen: int, confirmed: bool,
                  findings: str) -> CaseChange:
    _move(case, CaseState.SURVEYED)
    if not 0 <= heads <= 10_000:
        raise CaseInputError(N_("The number of animals must be from {minimum} to {maximum}."),
                             minimum=0, maximum=10_000)
    return CaseChange("surveyed", CaseState.SURVEYED, {
        "surveyed_on": today.isoformat(), "surveyed_by": officer[:100], "heads": heads,
        "assessed_fen": value_fen, "predator_confirmed": int(confirmed), "findings": findings.strip()[:1000],
    }, f"{heads} {value_fen / 100:.2f} {'confirmed' if confirmed else 'not confirmed'}", "surveyed")


def approve(case: Case, today: date, by: str, amount_fen: int | None, plan: CasePlan) -> CaseChange:
    _move(case, CaseState.APPROVED)  # after the survey only (the transition table says so)
    if case.applied_on is None:  # nor before the owner's application is on record
        raise CaseInputError(N_("First record the owner's application: /applied {case}."), case=case.code)
    amount = case.assessed_fen if amount_fen is None else amount_fen
    if amount is None or amount <= 0:
        raise CaseInputError(N_("Give the amount to approve, for example /approve {case} 3000."),
                             case=case.code)
    due = plan.payment_due(today)
    return CaseChange("approve", CaseState.APPROVED, {
        "decided_on": today.isoformat(), "decided_by": by[:100], "approved_fen": amount,
        "payment_due": due.isoformat(),
    }, f"{amount / 100:.2f} due {due.isoformat()}", "approved")


def deny(case: Case, today: date, by: str, reason: str) -> CaseChange:
    _move(case, CaseState.DENIED)
    reason = reason.strip()[:500]
    if not reason:
        raise CaseInputError(N_("Give a reason: {reasons}, or a few words."), reasons=", ".join(DENY_REASONS))
    return CaseChange("deny", CaseState.DENIED,
                      {"decided_on": today.isoformat(), "decided_by": by[:100], "deny_reason": reason},
                      reason, "denied")


def pay(case: Case, day: date, amount_fen: int | None) -> CaseChange:
    _move(case, CaseState.PAID)
    amount = case.approved_fen if amount_fen is None else amount_fen
    if amount is None or amount <= 0:
        raise CaseInputError(N_("Give the amount paid, for example /paid {case} 3000."), case=case.code)
    return CaseChange("paid", CaseState.PAID, {"paid_on": day.isoformat(), "paid_fen": amount},
                      f"{amount / 100:.2f} on {day.isoformat()}", "paid")


def close(case: Case, today: date, note: str) -> CaseChange:
    _move(case, CaseState.CLOSED)
    note = note.strip()[:500]
    if case.state in CLOSE_NEEDS_NOTE and not note:
        raise CaseInputError(N_("This case was not decided yet. Say why it is closed, for example "
                                "/close {case} withdrawn by the owner."), case=case.code)
    return CaseChange("close", CaseState.CLOSED, {"closed_on": today.isoformat(), "close_note": note or None},
                      note, "closed")


def application_received(case: Case, day: date) -> CaseChange:
    """The owner's application reached the bureau (not a state: it runs beside the survey)."""
    if case.state not in (CaseState.REPORTED, CaseState.SURVEY_SCHEDULED, CaseState.SURVEYED,
                          CaseState.APPROVED):
        raise IllegalTransition(case.state, case.state)
    if case.applied_on is not None:
        raise CaseInputError(N_("The application for {case} was already received on {date}."),
                             case=case.code, date=case.applied_on.isoformat())
    return CaseChange("applied", None, {"applied_on": day.isoformat()}, day.isoformat(), "applied")


# --- deadlines -------------------------------------------------------------------------------------

DEADLINE_LABELS = {
    "survey": N_("Survey report due"),
    "apply": N_("Owner must apply by"),
    "payment": N_("Payment due"),
}
REMINDER_SUBJECTS = {
    "survey": N_("the survey report"),
    "apply": N_("the owner's application"),
    "payment": N_("the payment"),
}


def active_deadlines(case: Case) -> list[tuple[str, date]]:
    """The deadlines still running for the case, soonest first."""
    found = []
    if case.state in (CaseState.REPORTED, CaseState.SURVEY_SCHEDULED):
        found.append(("survey", case.survey_due))
    if case.applied_on is None and case.state in (CaseState.REPORTED, CaseState.SURVEY_SCHEDULED,
                                                  CaseState.SURVEYED):
        found.append(("apply", case.apply_due))
    if case.state is CaseState.APPROVED and case.payment_due is not None:
        found.append(("payment", case.payment_due))
    return sorted(found, key=lambda item: item[1])


def day_text(t: Translator, day: date, year: bool = True) -> str:
    """'Thu, Oct 9, 2025' / '2025年10月9日周四'."""
    return format_skeleton("yMMMEd" if year else "MMMEd", day, locale=t.locale)


def countdown(t: Translator, due: date, today: date, calendar: WorkCalendar) -> str:
    if due == today:
        return t.gettext("due today")
    if due > today:
        left = calendar.working_days_between(today, due)
        return t.ngettext("{n} working day left", "{n} working days left", left)
    late = calendar.working_days_between(due, today)
    return t.ngettext("overdue by {n} working day", "overdue by {n} working days", late)


def money(t: Translator, fen: int | None) -> str:
    value = Decimal(fen or 0) / 100  # babel formats a Decimal exactly (3000.5 stays 3,000.5)
    return t.gettext("{amount} yuan", amount=t.number(value))  # type: ignore[arg-type]


# --- what staff see ----------------------------------------------------------------------------------


def animal_label(case: Case, t: Translator) -> str:
    if not case.animal:
        return "?"
    text, translatable = display_answer(question(Kind.LIVESTOCK, "animal"), case.animal)
    return t.gettext(text) if translatable else text


def township_label(township_id: str | None, t: Translator) -> str:
    from bot.locations import gazetteer

    place = gazetteer().get(township_id) if township_id else None
    return place_label(place, t) if place else t.gettext("township unknown")


def _deadline_line(t: Translator, what: str, due: date, today: date, plan: CasePlan) -> str:
    icon = "❗" if due < today else "⏳"
    value = html.escape(day_text(t, due) + " · " + countdown(t, due, today, plan.calendar))
    line = f"{icon} " + labelled(t, t.gettext(DEADLINE_LABELS[what]), value)
    if not plan.calendar.confirmed(due):
        line += " ⚠️ " + html.escape(t.gettext(
            "The holiday calendar for {year} is not confirmed: check this date.", year=due.year))
    return line


_SURVEY_HINT = N_("/survey {case} DATE OFFICER")
_SURVEYED_HINT = N_("/surveyed {case} HEADS VALUE yes|no FINDINGS")
_APPLIED_HINT = N_("/applied {case} [DATE]")
_CLOSE_HINT = N_("/close {case}")
HINTS = {
    CaseState.REPORTED: [_SURVEY_HINT, _SURVEYED_HINT],
    CaseState.SURVEY_SCHEDULED: [_SURVEYED_HINT, _SURVEY_HINT],
    CaseState.SURVEYED: [N_("/approve {case} [AMOUNT]"), N_("/deny {case} REASON")],
    CaseState.APPROVED: [N_("/paid {case} [AMOUNT] [DATE]")],
    CaseState.DENIED: [_CLOSE_HINT],
    CaseState.PAID: [_CLOSE_HINT],
    CaseState.CLOSED: [],
}


def command_hint(case: Case, t: Translator) -> str:
    """The short commands that move the case on from here, their placeholders in the staff language
    (a Chinese card is Chinese throughout). Approval waits for the owner's application."""
    hints = HINTS[case.state]
    if case.state is CaseState.SURVEYED and case.applied_on is None:
        hints = [_APPLIED_HINT, *hints[1:]]
    return " · ".join(f"<code>{html.escape(t.gettext(h, case=case.code))}</code>" for h in hints)


def card_text(case: Case, t: Translator, plan: CasePlan, today: date) -> str:
    """The case card in the compensation chat, in the staff language."""
    lines = [
        "🐄 <b>" + html.escape(t.gettext("Compensation case {case}", case=case.code)) + "</b> · "
        + html.escape(t.gettext("Incident #{number}", number=case.incident_id))
        + f" · <code>{case.ref_code}</code>",
        f"{STATE_ICONS[case.state]} <b>" + html.escape(t.gettext(STATE_LABELS[case.state])) + "</b>",
    ]
    owner = "👤 " + labelled(t, t.gettext("Owner"), user_text(case.owner_name, 100))
    if case.phone:
        owner += " · " + labelled(t, t.gettext("Phone"), user_text(case.phone, 20))
    lines.append(owner)
    counts = t.gettext("killed {killed}, injured {injured}", killed=t.number(case.killed),
                       injured=t.number(case.injured))
    animals = ("🐄 " + labelled(t, t.gettext("Animal"), html.escape(animal_label(case, t)))
               + " · " + html.escape(counts))
    if case.penned:
        text, _ = display_answer(question(Kind.LIVESTOCK, "penned"), case.penned)
        animals += " · " + html.escape(t.gettext(text))
    lines.append(animals)
    if case.free_ranging:
        lines.append("⚠️ " + html.escape(t.gettext(
            "Free-ranging: not compensated inside a nature reserve. Check where it happened.")))
    lines.append("🗺 " + labelled(t, t.gettext("Township"), html.escape(township_label(case.township_id, t))))
    lines.append("📅 " + labelled(t, t.gettext("Loss"), html.escape(day_text(t, case.loss_on)))
                 + " · " + labelled(t, t.gettext("Reported"), html.escape(day_text(t, case.reported_on))))
    for what, due in active_deadlines(case):
        lines.append(_deadline_line(t, what, due, today, plan))
    if case.applied_on:
        received = html.escape(day_text(t, case.applied_on))
        lines.append("📝 " + labelled(t, t.gettext("Application received"), received))
    if case.survey_on and case.surveyed_on is None:
        lines.append("🧭 " + html.escape(t.gettext("Survey on {date} by {officer}",
                                                   date=day_text(t, case.survey_on),
                                                   officer=case.officer or "?")))
    if case.surveyed_on:
        lines.append("🔍 " + labelled(t, t.gettext("Surveyed"), html.escape(
            day_text(t, case.surveyed_on) + " · " + (case.surveyed_by or "?"))))
        confirmed = (t.gettext("Leopard confirmed") if case.predator_confirmed
                     else t.gettext("Leopard not confirmed"))
        lines.append("    " + labelled(t, t.gettext("Heads"), t.number(case.heads or 0)) + " · "
                     + labelled(t, t.gettext("Assessed value"), html.escape(money(t, case.assessed_fen)))
                     + " · " + ("✅ " if case.predator_confirmed else "⚠️ ") + html.escape(confirmed))
        if case.findings:
            lines.append("    " + labelled(t, t.gettext("Findings"), user_text(case.findings, 1000)))
    if case.photos:
        lines.append("📷 " + html.escape(t.ngettext("{n} survey photo", "{n} survey photos", case.photos)))
    if case.approved_fen and case.state in (CaseState.APPROVED, CaseState.PAID, CaseState.CLOSED):
        lines.append("✅ " + html.escape(t.gettext(
            "Approved: {amount} by {name} on {date}", amount=money(t, case.approved_fen),
            name=case.decided_by or "?", date=day_text(t, case.decided_on or today))))
    if case.deny_reason:
        lines.append("❌ " + html.escape(t.gettext(
            "Denied by {name} on {date}: {reason}", name=case.decided_by or "?",
            date=day_text(t, case.decided_on or today), reason=deny_reason_text(case.deny_reason, t))))
    if case.paid_on:
        lines.append("💰 " + html.escape(t.gettext("Paid: {amount} on {date}", amount=money(t, case.paid_fen),
                                                   date=day_text(t, case.paid_on))))
    if case.closed_on:
        lines.append("🔒 " + html.escape(t.gettext("Closed on {date}", date=day_text(t, case.closed_on))
                                         + (f" · {case.close_note}" if case.close_note else "")))
    hint = command_hint(case, t)
    if hint:
        lines.append("⌨️ " + hint)
    return "\n".join(lines)


def deny_reason_text(reason: str, t: Translator) -> str:
    return t.gettext(DENY_REASONS[reason]) if reason in DENY_REASONS else reason


# Card buttons: (action, arg). The handler turns each into an opaque token (case_actions).
BUTTON_LABELS = {
    "survey_me": N_("🧭 I will survey it"),
    "applied": N_("📝 Application received"),
    "approve": N_("✅ Approve {amount}"),
    "deny": N_("❌ Deny…"),
    "paid": N_("💰 Paid today"),
    "close": N_("🔒 Close"),
    "back": N_("« Back"),
}


def case_buttons(case: Case, menu: str | None = None) -> list[list[tuple[str, str]]]:
    """Rows of (action, arg) for the case card; `menu='deny'` shows the reasons."""
    if menu == "deny":
        return [[("deny_with", reason)] for reason in DENY_REASONS] + [[("back", "")]]
    rows: list[list[tuple[str, str]]] = []
    if case.state is CaseState.REPORTED:
        rows.append([("survey_me", "")])
    if case.state is CaseState.SURVEYED:
        first = [("approve", "")] if case.assessed_fen else []
        rows.append([*first, ("deny", "")])
    if case.state is CaseState.APPROVED:
        rows.append([("paid", "")])
    if case.state in (CaseState.DENIED, CaseState.PAID):
        rows.append([("close", "")])
    if case.applied_on is None and case.state in (CaseState.REPORTED, CaseState.SURVEY_SCHEDULED,
                                                  CaseState.SURVEYED):
        rows.append([("applied", "")])
    return rows


def button_label(action: str, arg: str, case: Case, t: Translator) -> str:
    if action == "deny_with":
        return t.gettext(DENY_REASONS[arg])
    label = BUTTON_LABELS[action]
    return t.gettext(label, amount=money(t, case.assessed_fen)) if action == "approve" else t.gettext(label)


# --- what the owner hears --------------------------------------------------------------------------

OWNER_NEEDS = (
    N_("the owner's ID card"),
    N_("photos of the dead or injured animals"),
    N_("the animals' ear tags"),
)


def opened_text(case: Case, t: Translator, plan: CasePlan) -> str:
    lines = [
        "🐄 " + html.escape(t.gettext(
            "The forestry bureau opened compensation case {case} for the animals in your report {code}.",
            case=case.code, code=case.ref_code)),
        html.escape(t.gettext("To apply, bring these to the Heshun county forestry bureau by {date}:",
                              date=day_text(t, case.apply_due))),
        *("• " + html.escape(t.gettext(need)) for need in OWNER_NEEDS),
        html.escape(t.gettext("Staff will survey the site by {date}. Please keep the dead animals and "
                              "the ear tags until then.", date=day_text(t, case.survey_due))),
    ]
    if case.free_ranging:
        lines.append("⚠️ " + html.escape(t.gettext(
            "Note: animals that were free-ranging inside a nature reserve are not compensated.")))
    lines.append(html.escape(t.gettext("You can follow the case with /myreports.")))
    return "\n".join(lines)


def owner_text(case: Case, notice: str, t: Translator, plan: CasePlan) -> str:
    """What the owner hears after a step (`notice`: a CaseChange.notice), in their language."""
    c = case.code
    if notice == "opened":
        return opened_text(case, t, plan)
    if notice == "survey":
        return "🧭 " + html.escape(t.gettext(
            "Case {case}: forestry staff will survey the site on {date}.", case=c,
            date=day_text(t, case.survey_on or case.survey_due)))
    if notice == "surveyed":
        text = t.gettext("Case {case}: the site survey is done. The forestry bureau will now decide.", case=c)
        if case.applied_on is None:
            text += " " + t.gettext("Remember to apply by {date}.", date=day_text(t, case.apply_due))
        return "🔍 " + html.escape(text)
    if notice == "approved":
        return "✅ " + html.escape(t.gettext(
            "Case {case}: compensation of {amount} was approved. It will be paid by {date}.", case=c,
            amount=money(t, case.approved_fen),
            date=day_text(t, case.payment_due or case.decided_on or date.today())))
    if notice == "denied":
        reason = case.deny_reason or ""
        said = t.gettext(OWNER_DENY_REASONS[reason]) if reason in OWNER_DENY_REASONS else reason
        return "❌ " + html.escape(t.gettext(
            "Case {case}: the compensation could not be approved. {reason}", case=c, reason=said))
    if notice == "paid":
        return "💰 " + html.escape(t.gettext("Case {case}: {amount} was paid on {date}.", case=c,
                                            amount=money(t, case.paid_fen),
                                            date=day_text(t, case.paid_on or date.today())))
    if notice == "closed":
        return "🔒 " + html.escape(t.gettext("Case {case} is closed. Thank you for reporting the loss.",
                                            case=c))
    if notice == "applied":
        return "📝 " + html.escape(t.gettext("Case {case}: your application was received on {date}.", case=c,
                                            date=day_text(t, case.applied_on or date.today())))
    raise ValueError(f"unknown notice {notice!r}")


def owner_messages(case: Case, notice: str | None, plan: CasePlan) -> list[Outgoing]:
    """The owner's notice after a step, through the outbox (nothing when nobody can be told)."""
    if notice is None or case.reporter_id is None:
        return []
    t = translator(case.language if case.language in ("zh_Hans", "en") else "zh_Hans", plan.tz.key)
    return [Outgoing(case.reporter_id, "send_message", {"text": owner_text(case, notice, t, plan)},
                     f"case:{case.id}:{notice}")]


def case_lines(cases: Sequence[Case], t: Translator) -> list[str]:
    """/myreports: the person's compensation cases with their state and what is due next."""
    if not cases:
        return []
    lines = ["", "<b>" + html.escape(t.gettext("Compensation cases")) + "</b>"]
    for case in cases:
        line = (f"{STATE_ICONS[case.state]} {case.code} · <code>{case.ref_code}</code> · "
                + html.escape(t.gettext(STATE_LABELS[case.state])))
        for what, due in active_deadlines(case):
            line += " · " + labelled(t, t.gettext(DEADLINE_LABELS[what]), html.escape(day_text(t, due)))
        if case.state is CaseState.PAID and case.paid_on:
            line += " · " + html.escape(money(t, case.paid_fen))
        lines.append(line)
    return lines


# --- reminders and the daily digest -----------------------------------------------------------------


def due_reminders(case: Case, today: date, plan: CasePlan) -> list[tuple[str, str, date]]:
    """(key, stage, due) of reminders owed today: 'near' within remind_working_days, 'missed' after.
    A key names the deadline, the stage and the date, so each is sent once."""
    owed = []
    for what, due in active_deadlines(case):
        if due < today:
            stage = "missed"
        elif plan.calendar.working_days_between(today, due) <= plan.settings.remind_working_days:
            stage = "near"
        else:
            continue
        key = f"{what}:{stage}:{due.isoformat()}"
        if key not in case.reminded:
            owed.append((key, stage, due))
    return owed


def reminder_text(case: Case, key: str, due: date, today: date, t: Translator, plan: CasePlan) -> str:
    what, stage, _ = key.split(":")
    subject = t.gettext(REMINDER_SUBJECTS[what])
    if stage == "missed":
        return "❗ " + html.escape(t.gettext(
            "Case {case}: {subject} was due {date} ({late}).", case=case.code, subject=subject,
            date=day_text(t, due), late=countdown(t, due, today, plan.calendar)))
    return "⏰ " + html.escape(t.gettext(
        "Case {case}: {subject} is due {date} ({left}).", case=case.code, subject=subject,
        date=day_text(t, due), left=countdown(t, due, today, plan.calendar)))


def digest_texts(cases: Sequence[Case], today: date, t: Translator, plan: CasePlan) -> list[str]:
    """The daily list of open cases, most urgent first (split to fit Telegram's limit)."""
    def urgency(case: Case) -> tuple[date, int]:
        deadlines = active_deadlines(case)
        return (deadlines[0][1] if deadlines else date.max, case.id)

    lines = ["📋 <b>" + html.escape(t.gettext("Open compensation cases")) + "</b> · "
             + html.escape(day_text(t, today))]
    for case in sorted(cases, key=urgency):
        line = (f"{STATE_ICONS[case.state]} <b>{case.code}</b> · "
                + html.escape(t.gettext(STATE_LABELS[case.state])) + " · " + user_text(case.owner_name, 60)
                + " · " + html.escape(township_label(case.township_id, t)))
        deadlines = active_deadlines(case)
        if deadlines:
            what, due = deadlines[0]
            mark = "❗" if due < today else "⏳"
            line += f" · {mark} " + labelled(t, t.gettext(DEADLINE_LABELS[what]), html.escape(
                day_text(t, due, year=False) + " (" + countdown(t, due, today, plan.calendar) + ")"))
        lines.append(line)
    return split_message(lines)


# --- the monthly report -----------------------------------------------------------------------------

CSV_COLUMNS = ("month", "township", "animal", "cases_opened", "heads", "assessed_yuan", "approved_yuan",
               "cases_paid", "paid_yuan")


@dataclass
class MonthRow:
    township: str
    animal: str
    cases_opened: int = 0
    heads: int = 0
    assessed_fen: int = 0
    approved_fen: int = 0
    cases_paid: int = 0
    paid_fen: int = 0


def month_bounds(month: str) -> tuple[date, date]:
    """'2025-10' -> (first day, first day of the next month)."""
    year, number = (int(part) for part in month.split("-"))
    start = date(year, number, 1)
    end = date(year + (number == 12), number % 12 + 1, 1)
    return start, end


def monthly_rows(cases: Iterable[Case], month: str, t: Translator) -> list[MonthRow]:
    """By township and animal: cases opened in the month (heads as surveyed, else as reported;
    assessed and approved amounts) and payments made in the month. Last row: the totals."""
    start, end = month_bounds(month)
    rows: dict[tuple[str, str], MonthRow] = {}
    total = MonthRow(t.gettext("Total"), "")
    for case in cases:
        key = (township_label(case.township_id, t), animal_label(case, t))
        row = rows.setdefault(key, MonthRow(*key))
        touched = False
        if start <= case.reported_on < end:
            touched = True
            for target in (row, total):
                target.cases_opened += 1
                target.heads += case.heads if case.heads is not None else case.reported_heads
                target.assessed_fen += case.assessed_fen or 0
                target.approved_fen += case.approved_fen or 0
        if case.paid_on and start <= case.paid_on < end:
            touched = True
            for target in (row, total):
                target.cases_paid += 1
                target.paid_fen += case.paid_fen or 0
        if not touched and row.cases_opened == row.cases_paid == 0:
            del rows[key]
    return [*(rows[k] for k in sorted(rows)), total]


def _yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def monthly_csv(rows: Sequence[MonthRow], month: str) -> bytes:
    """UTF-8 with a byte-order mark, so Excel opens the Chinese names correctly."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow([month, r.township, r.animal, r.cases_opened, r.heads, _yuan(r.assessed_fen),
                         _yuan(r.approved_fen), r.cases_paid, _yuan(r.paid_fen)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def monthly_texts(rows: Sequence[MonthRow], month: str, t: Translator) -> list[str]:
    start, _ = month_bounds(month)
    lines = ["📊 <b>" + html.escape(t.gettext("Compensation in {month}",
                                             month=format_skeleton("yMMM", start, locale=t.locale))) + "</b>"]
    for r in rows:
        name = r.township if not r.animal else f"{r.township} · {r.animal}"
        parts = [
            t.ngettext("{n} case opened", "{n} cases opened", r.cases_opened),
            t.ngettext("{n} head", "{n} head", r.heads),
            t.gettext("approved {amount}", amount=money(t, r.approved_fen)),
            t.gettext("paid {amount}", amount=money(t, r.paid_fen)),
        ]
        bold = not r.animal
        label = f"<b>{html.escape(name)}</b>" if bold else html.escape(name)
        lines.append(label + ": " + html.escape(", ".join(parts)))
    return split_message(lines)


# --- parsing what staff type ------------------------------------------------------------------------

_CASE_REF = re.compile(r"^(?:case|c|#|案件|案)?[-#\s]*(\d{1,9})$")


def parse_case_ref(text: str) -> int | None:
    """'C12', 'c-12', '#12', '12', '案12' -> 12."""
    normalized = unicodedata.normalize("NFKC", text).strip().casefold()
    match = _CASE_REF.match(normalized)
    return int(match.group(1)) if match else None


_RELATIVE_DAYS = {
    "today": 0, "今天": 0, "今日": 0, "tomorrow": 1, "明天": 1, "明日": 1, "后天": 2,
    "yesterday": -1, "昨天": -1, "昨日": -1,
}
_FULL_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_SHORT_DATE = re.compile(r"^(\d{1,2})[-/月](\d{1,2})日?$")


def parse_day(text: str, today: date) -> date | None:
    """'2025-10-09', '2025/10/9', '10-9', '10/9', '10月9日', 'today', '明天' … (None if it is not a day)."""
    normalized = unicodedata.normalize("NFKC", text).strip().casefold()
    if normalized in _RELATIVE_DAYS:
        return today + timedelta(days=_RELATIVE_DAYS[normalized])
    match = _FULL_DATE.match(normalized)
    try:
        if match:
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        match = _SHORT_DATE.match(normalized)
        if match:
            return date(today.year, int(match.group(1)), int(match.group(2)))
    except ValueError:
        return None
    return None


_MONEY_NOISE = re.compile(r"[¥,\s]|元|yuan|rmb|cny")


def parse_amount(text: str) -> int | None:
    """An amount in yuan ('3000', '3,000.50', '¥3000', '3000元') as fen, or None."""
    normalized = _MONEY_NOISE.sub("", unicodedata.normalize("NFKC", text).casefold())
    if not re.fullmatch(r"\d{1,9}(\.\d{1,2})?", normalized):
        return None
    try:
        return int(Decimal(normalized) * 100)
    except InvalidOperation:
        return None


_YES = {"yes", "y", "confirmed", "leopard", "true", "是", "有", "确认", "确定", "豹"}
_NO = {"no", "n", "not", "unconfirmed", "not_confirmed", "false", "否", "不是", "无", "未确认", "不确定"}


def parse_yes_no(text: str) -> bool | None:
    normalized = unicodedata.normalize("NFKC", text).strip().casefold()
    if normalized in _YES:
        return True
    if normalized in _NO:
        return False
    return None


@dataclass(frozen=True)
class SurveyInput:
    heads: int
    value_fen: int
    confirmed: bool
    findings: str


def parse_survey(args: Sequence[str]) -> SurveyInput | None:
    """HEADS VALUE yes|no FINDINGS… ('not confirmed' is read as no); None when it does not fit."""
    if len(args) < 3:
        return None
    heads_text = unicodedata.normalize("NFKC", args[0]).strip()
    value = parse_amount(args[1])
    confirmed = parse_yes_no(args[2])
    if not heads_text.isdigit() or value is None or confirmed is None:
        return None
    rest = list(args[3:])
    if rest and parse_yes_no(rest[0]) is True and args[2].casefold() == "not":
        rest = rest[1:]  # "not confirmed"
    return SurveyInput(int(heads_text), value, confirmed, " ".join(rest))


def split_day_and_amount(args: Sequence[str], today: date) -> tuple[date | None, int | None, bool]:
    """For /paid: a day and an amount in any order; the flag is False when a word fits neither."""
    day: date | None = None
    amount: int | None = None
    for word in args:
        looks_like_day = any(ch in word for ch in "-/月年") or word.casefold() in _RELATIVE_DAYS
        parsed_day = parse_day(word, today) if looks_like_day else None
        if parsed_day is not None and day is None:
            day = parsed_day
            continue
        parsed_amount = parse_amount(word)
        if parsed_amount is not None and amount is None:
            amount = parsed_amount
            continue
        return day, amount, False
    return day, amount, True
