"""The domain's records: plain data passed between the store, the core and the handlers.

No logic beyond reading a field two ways, and no project imports, so any module may import these
without importing the SQL (bot/store/) or the rules (bot/compensation.py, bot/dedupe.py, …).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, NotRequired, Protocol, TypedDict

# --- the draft of a report ----------------------------------------------------------------------

#: What the last save of a draft came after (handlers/report.py `_remember`), so that the same
#: message sent again after a crash or an outage is recognised as a repeat (`resent_answer`).
#: "from" is a Python keyword, hence the functional form.
LastAnswer = TypedDict(
    "LastAnswer",
    {
        "boot": str,  # which run of the bot took it
        "update": int,  # its update_id
        "print": str | None,  # what was sent, comparable (handlers/report.py `fingerprint`)
        "at": float,  # when it was taken (time.time())
        "from": str | None,  # the question it answered ("<step>:<state>")
        "to": str,  # the question it led to
    },
)


class Draft(TypedDict):
    """A report being made: everything asked so far, and marks for the conversation's state.

    It lives in the person's user data under ``"draft"`` (handlers/persistence.py; a poaching tip's
    only in memory) and is stored as JSON, so every value is JSON: times are ISO strings. The web
    tip line builds the same draft from its form (bot/web/form.py).
    """

    id: str  # uuid hex; a report is stored once per draft id (a double tap is harmless)
    kind: str  # a Kind value
    language: str  # the reporter's language then: the receipt and later notices follow it
    # Photos, videos and voice notes in the order sent, each an entry made by bot.media
    # (`write_photo`, `store_video`, `store_voice`) and read by `StoredPhoto.from_entry`: sha256,
    # phash, mime_type, width, height, original_path, derived_path, thumbnail_path, facts (what the
    # file says of itself), file_id, file_unique_id; a clip's media_kind "video", frame_hashes,
    # duration_s, size_bytes; a voice note's media_kind "voice", duration_s, size_bytes, answer_key.
    photos: list[dict[str, Any]]
    photos_done: bool  # the photo step is closed (Done, or No photo)
    location: dict[str, Any] | None  # `bot.locations.Found.as_dict()`: a point or a named place
    observed_at: str | None  # when it was seen, ISO with the county's offset
    # Question key → answer (bot.report.QUESTIONS), plus what a report carries besides the answers:
    # "spot" (the poster that brought the person), "channel" ("web"), "contact" (a web reporter's
    # way to be reached), "photo_facts" (an anonymous tip's photos' time and place, as text).
    answers: dict[str, Any]
    started_at: str  # ISO
    updated_at: str  # ISO; the idle sweep pauses a draft that has not changed for a while
    # Marks for the states the fields alone do not tell apart (handlers/report.py `state_for`):
    typing_when: NotRequired[bool]  # "Type date and time" was tapped
    when_day: NotRequired[str]  # a day chosen or said (ISO date); its time is asked
    when_part: NotRequired[str | None]  # the part of that day ("evening"), when one was said
    editing: NotRequired[bool]  # "Change something" was tapped: the field list is on screen
    pending_kind: NotRequired[str]  # "keep or throw away?" is on screen; the kind to start if thrown away
    paused: NotRequired[bool]  # the idle draft's Continue / Throw away message went out
    last_answer: NotRequired[LastAnswer]
    answered_at: NotRequired[str]  # the question the update being handled answers (`resent_answer`)


# --- reports and their media ----------------------------------------------------------------------


@dataclass(frozen=True)
class Reporter:
    """Who sent a report; for an anonymous tip every field but the language stays None."""

    user_id: int | None
    name: str | None
    username: str | None
    language: str
    notify: bool
    # An anonymous tip's keyed hash of the Telegram id (handlers/privacy.py: anonymous_key), so limits
    # and "the same person" still work; None for everyone else (their key is their Telegram id).
    key: str | None = None


@dataclass(frozen=True)
class StoredPhoto:
    """A photo already written to the media directory, ready to be linked to a report."""

    file_id: str
    file_unique_id: str
    sha256: str
    phash: int | None
    mime_type: str
    width: int
    height: int
    original_path: str
    derived_path: str
    thumbnail_path: str
    media_kind: str = "photo"  # photo | video | voice (MEDIA_KINDS)
    duration_s: float | None = None  # videos and voice notes
    size_bytes: int | None = None  # of the original file
    answer_key: str | None = None  # a voice note answering this question of the report
    # Every sampled frame's hash of a clip: a new clip is compared with all of them (not stored;
    # the stored row keeps the middle frame's hash in `phash`).
    frame_hashes: tuple[int, ...] = ()

    @property
    def is_picture(self) -> bool:
        """A photo or a video: shown in albums, counted against the media limit, matched by hash."""
        return self.media_kind != "voice"

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> StoredPhoto:
        """From a draft's media entry (older drafts lack the video fields: they are photos)."""
        fields = {k: entry[k] for k in cls.__dataclass_fields__ if k in entry}
        fields["frame_hashes"] = tuple(entry.get("frame_hashes") or ())
        return cls(**fields)


MEDIA_KINDS = ("photo", "video", "voice")


@dataclass(frozen=True)
class Outgoing:
    """A message to deliver later through the outbox (method names: see handlers/outbox.py)."""

    chat_id: int
    method: str
    payload: dict[str, Any]
    purpose: str
    # A private message (an anonymous tipster's receipt) is scrubbed of its chat id and text once
    # it is delivered or given up on, so the database never links a tipster to a tip.
    private: bool = False


@dataclass(frozen=True)
class SubmittedReport:
    """What a submission did. `id`/`ref_code` name the stored report: the new one, or the reporter's
    earlier report when this submission updated it. A replayed draft (created=False) carries only
    those and the defaults below."""

    id: int
    ref_code: str
    created: bool  # False when the same draft had already been submitted
    incident_id: int | None = None
    joined_existing: bool = False  # a new report joined an incident that already existed
    updated_existing: bool = False  # the same person's report of the same thing: updated, not added
    merge_suggestions: tuple[int, ...] = ()  # other incidents this report also matched
    match_reason: str | None = None  # a bot.dedupe.MatchReason value


@dataclass(frozen=True)
class ReportRow:
    """A stored report with what cards, receipts and lists need."""

    id: int
    ref_code: str
    kind: str
    status: str
    reporter_id: int | None
    reporter_name: str | None
    reporter_username: str | None
    language: str
    latitude: float | None  # None: a named place (place_id) without a point
    longitude: float | None
    accuracy_m: float | None
    location_source: str
    input_datum: str
    place_name: str | None
    observed_at: datetime
    submitted_at: datetime
    details: dict[str, Any]
    notify_reporter: bool
    incident_id: int | None
    photos: tuple[StoredPhoto, ...] = ()  # every media row: photos, videos, voice notes
    occurrence_id: str = ""  # the random UUID exports name it by
    place_id: str | None = None  # the gazetteer place it was given as (a village, a poster's spot)

    @property
    def point(self) -> tuple[float, float] | None:
        """(lat, lon), or None for a named place without a point."""
        if self.latitude is None or self.longitude is None:
            return None
        return self.latitude, self.longitude

    @property
    def pictures(self) -> tuple[StoredPhoto, ...]:
        """Photos and videos (what albums show)."""
        return tuple(p for p in self.photos if p.is_picture)

    @property
    def voices(self) -> tuple[StoredPhoto, ...]:
        return tuple(p for p in self.photos if not p.is_picture)


@dataclass(frozen=True)
class PlacePoint:
    """A point staff (or an import) gave a gazetteer place, and who did it when."""

    place_id: str
    latitude: float
    longitude: float
    set_by: int | None
    set_by_name: str | None
    set_at: datetime
    source: str


@dataclass(frozen=True)
class OutboxItem:
    id: int
    chat_id: int
    method: str
    payload: dict[str, Any]
    purpose: str
    attempts: int
    private: bool = False  # scrubbed once sent or given up (see Outgoing)


Compose = Callable[[ReportRow, "SubmittedReport"], Sequence[Outgoing]]


# --- incidents and their cards --------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentRow:
    """An incident with what its staff card needs; `merge_suggestions` are open incidents only."""

    id: int
    kind: str
    status: str  # 'open', or 'merged' (then merged_into names the live incident)
    created_at: datetime
    updated_at: datetime | None
    merged_into: int | None
    anchor_report_id: int | None
    anchor_latitude: float | None
    anchor_longitude: float | None
    anchor_accuracy_m: float | None
    anchor_observed_s: float | None
    report_count: int
    reporter_count: int  # distinct people (each anonymous tip counts once): the corroboration
    merge_suggestions: tuple[int, ...] = ()


class Review(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


@dataclass(frozen=True)
class CardState:
    """Everything an incident's card shows."""

    incident_id: int
    kind: str
    status: str  # 'open' or 'merged'
    merged_into: int | None
    review: Review
    reviewer: str | None
    reviewed_at: datetime | None
    reject_reason: str | None
    assignee: str | None
    reports: tuple[ReportRow, ...]  # oldest first; the first is the anchor
    merge_suggestions: tuple[int, ...]
    # The reports the decision covers: those on the card when staff decided. A report that joined
    # later stays 'new' and is shown apart as new work: every report is reviewed.
    decided: frozenset[int] = frozenset()
    # While the decision can still be undone: when its messages (reporters, channels) go out.
    effects_due: datetime | None = None

    @property
    def decided_reports(self) -> tuple[ReportRow, ...]:
        """The reports the decision applies to (all of them while the incident is undecided)."""
        if self.review is Review.PENDING:
            return self.reports
        return tuple(r for r in self.reports if r.id in self.decided) or self.reports

    @property
    def later_reports(self) -> tuple[ReportRow, ...]:
        """Reports that joined a decided incident afterwards and still wait for staff."""
        if self.review is Review.PENDING or self.status != "open":
            return ()
        return tuple(r for r in self.reports if r.id not in self.decided and r.status == "new")


# --- compensation cases ---------------------------------------------------------------------------


class CaseState(StrEnum):
    REPORTED = "reported"
    SURVEY_SCHEDULED = "survey_scheduled"
    SURVEYED = "surveyed"
    APPROVED = "approved"
    DENIED = "denied"
    PAID = "paid"
    CLOSED = "closed"


CASE_PREFIX = "C"


def case_code(case_id: int) -> str:
    return f"{CASE_PREFIX}{case_id}"


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


@dataclass(frozen=True)
class Case:
    """A compensation case as stored (dates are county dates; money is in fen, 1/100 yuan)."""

    id: int
    incident_id: int
    owner_key: str
    owner_name: str
    phone: str | None
    report_id: int
    ref_code: str
    reporter_id: int | None  # who hears about the case; None when nobody can be told
    language: str
    animal: str | None
    killed: int
    injured: int
    penned: str | None
    township_id: str | None
    latitude: float
    longitude: float
    loss_on: date
    reported_on: date
    state: CaseState
    survey_due: date
    apply_due: date
    payment_due: date | None = None
    survey_on: date | None = None
    officer: str | None = None
    surveyed_on: date | None = None
    surveyed_by: str | None = None
    findings: str | None = None
    predator_confirmed: bool | None = None
    heads: int | None = None
    assessed_fen: int | None = None
    applied_on: date | None = None
    decided_on: date | None = None
    decided_by: str | None = None
    approved_fen: int | None = None
    deny_reason: str | None = None
    paid_on: date | None = None
    paid_fen: int | None = None
    closed_on: date | None = None
    close_note: str | None = None
    reminded: frozenset[str] = frozenset()
    photos: int = 0
    card: tuple[int, int] | None = None

    @property
    def code(self) -> str:
        return case_code(self.id)

    @property
    def free_ranging(self) -> bool:
        return self.penned == "free_ranging"

    @property
    def reported_heads(self) -> int:
        return self.killed + self.injured

    @classmethod
    def from_row(cls, row: Mapping[str, Any], photos: int = 0) -> Case:
        confirmed = row["predator_confirmed"]
        card = (row["card_chat_id"], row["card_message_id"]) if row["card_message_id"] is not None else None
        return cls(
            id=row["id"], incident_id=row["incident_id"], owner_key=row["owner_key"],
            owner_name=row["owner_name"], phone=row["phone"], report_id=row["report_id"],
            ref_code=row["ref_code"], reporter_id=row["reporter_id"], language=row["language"],
            animal=row["animal"], killed=row["killed"], injured=row["injured"], penned=row["penned"],
            township_id=row["township_id"], latitude=row["latitude"], longitude=row["longitude"],
            loss_on=date.fromisoformat(row["loss_on"]), reported_on=date.fromisoformat(row["reported_on"]),
            state=CaseState(row["state"]), survey_due=date.fromisoformat(row["survey_due"]),
            apply_due=date.fromisoformat(row["apply_due"]), payment_due=_day(row["payment_due"]),
            survey_on=_day(row["survey_on"]), officer=row["officer"], surveyed_on=_day(row["surveyed_on"]),
            surveyed_by=row["surveyed_by"], findings=row["findings"],
            predator_confirmed=None if confirmed is None else bool(confirmed), heads=row["heads"],
            assessed_fen=row["assessed_fen"], applied_on=_day(row["applied_on"]),
            decided_on=_day(row["decided_on"]), decided_by=row["decided_by"],
            approved_fen=row["approved_fen"],
            deny_reason=row["deny_reason"], paid_on=_day(row["paid_on"]), paid_fen=row["paid_fen"],
            closed_on=_day(row["closed_on"]), close_note=row["close_note"],
            reminded=frozenset(k for k in (row["reminded"] or "").split(",") if k), photos=photos, card=card,
        )


@dataclass(frozen=True)
class CaseChange:
    """One staff step: the state it moves to (None: the state stays), the columns it sets, the audit
    action and detail, and what the owner hears (`notice`, a key of OWNER_NOTICES, or None)."""

    action: str
    state: CaseState | None
    fields: dict[str, Any]
    detail: str
    notice: str | None


class CaseRules(Protocol):
    """What the store needs of the compensation rules (a bot.compensation.CasePlan) to open cases and
    tell owners; passed to the methods that need it, as moderation's composers are."""

    def new_cases(self, reports: Sequence[ReportRow], now: datetime) -> list[dict[str, Any]]:
        """Column values of the cases a verified incident's reports open (one per owner)."""
        ...

    def owner_messages(self, case: Case, notice: str | None) -> list[Outgoing]:
        """The owner's notice after a step (nothing when nobody can be told)."""
        ...


# --- privacy and backups --------------------------------------------------------------------------


@dataclass(frozen=True)
class Forgotten:
    """What :meth:`Store.forget_person` did: reports anonymised, original files now to delete."""

    reports: int
    originals_to_delete: list[str]


@dataclass(frozen=True)
class BackupResult:
    """A finished backup: where, the schema version (PRAGMA user_version), reports in it, bytes."""

    path: Path
    user_version: int
    reports: int
    size: int
