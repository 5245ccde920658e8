"""The report model: kinds, the questions each kind asks, the draft, and the order of steps.

Plain Python on purpose: the Telegram handlers ask :func:`next_step` what to do next and
call :func:`answer_question` with what the person sent, so the whole flow is unit-tested
without a bot. A draft is a JSON-friendly dict because it lives in conversation persistence
(:class:`bot.records.Draft` lists every key it carries).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import Any, Final

from bot.i18n import N_
from bot.records import Draft


class Kind(StrEnum):
    """What a report is about."""

    SIGHTING = "sighting"
    LIVESTOCK = "livestock"
    SIGNS = "signs"
    TIP = "tip"


KIND_LABELS: dict[Kind, str] = {
    Kind.SIGHTING: N_("Leopard sighting"),
    Kind.LIVESTOCK: N_("Livestock killed or injured"),
    Kind.SIGNS: N_("Leopard signs"),
    Kind.TIP: N_("Poaching tip"),
}

# Compensation needs evidence, so a livestock kill cannot be sent without a photo.
PHOTO_REQUIRED = frozenset({Kind.LIVESTOCK})
# Tipsters are at risk: no name or contact is asked, and none is stored unless they opt in.
ANONYMOUS_KINDS = frozenset({Kind.TIP})


class AnswerType(StrEnum):
    CHOICE = "choice"  # one of the buttons (optionally also typed text)
    COUNT = "count"  # a whole number in a range, buttons for the common ones
    TEXT = "text"  # free text up to a length
    PHONE = "phone"  # a shared contact or a typed phone number


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class Question:
    """One detail asked of the reporter, with how to check the answer."""

    key: str
    prompt: str
    label: str  # short name on the review card
    answer: AnswerType
    choices: tuple[Choice, ...] = ()
    minimum: int = 0
    maximum: int = 0
    max_length: int = 0
    optional: bool = False  # a "skip" button is offered
    typed_other: bool = False  # a CHOICE that also accepts a short typed answer


MAX_TEXT = 1000
MAX_NAME = 60
NOT_SURE = "not_sure"

_SIGHTING = (
    Question(
        "leopards",
        N_("How many leopards did you see?"),
        N_("Leopards"),
        AnswerType.COUNT,
        choices=(Choice("1", "1"), Choice("2", "2"), Choice("3", "3"), Choice(NOT_SURE, N_("Not sure"))),
        minimum=1,
        maximum=20,
    ),
    Question(
        "cubs",
        N_("Were there cubs?"),
        N_("Cubs"),
        AnswerType.CHOICE,
        choices=(Choice("yes", N_("Yes")), Choice("no", N_("No")), Choice(NOT_SURE, N_("Not sure"))),
    ),
    Question(
        "behaviour",
        N_("What was it doing? Tap one, or type a few words."),
        N_("Doing"),
        AnswerType.CHOICE,
        choices=(
            Choice("walking", N_("Walking")),
            Choice("resting", N_("Resting")),
            Choice("hunting", N_("Hunting")),
            Choice("eating", N_("Eating")),
            Choice("crossing_road", N_("Crossing a road")),
            Choice("ran_away", N_("Ran away")),
        ),
        typed_other=True,
        max_length=200,
    ),
    Question(
        "distance",
        N_("How far away was it?"),
        N_("Distance"),
        AnswerType.CHOICE,
        choices=(
            Choice("lt50", N_("Under 50 m")),
            Choice("50_200", N_("50 to 200 m")),
            Choice("200_1000", N_("200 m to 1 km")),
            Choice("gt1000", N_("Over 1 km")),
        ),
    ),
)

_LIVESTOCK = (
    Question(
        "animal",
        N_("Which animal was attacked?"),
        N_("Animal"),
        AnswerType.CHOICE,
        choices=(
            Choice("cattle", N_("Cattle")),
            Choice("sheep", N_("Sheep")),
            Choice("goat", N_("Goat")),
            Choice("donkey", N_("Donkey")),
            Choice("horse", N_("Horse")),
            Choice("mule", N_("Mule")),
            Choice("pig", N_("Pig")),
            Choice("other", N_("Other")),
        ),
    ),
    Question(
        "killed",
        N_("How many were killed?"),
        N_("Killed"),
        AnswerType.COUNT,
        choices=tuple(Choice(str(n), str(n)) for n in range(0, 4)),
        minimum=0,
        maximum=500,
    ),
    Question(
        "injured",
        N_("How many were injured?"),
        N_("Injured"),
        AnswerType.COUNT,
        choices=tuple(Choice(str(n), str(n)) for n in range(0, 4)),
        minimum=0,
        maximum=500,
    ),
    Question(
        "penned",
        N_("Were the animals penned or free-ranging?"),
        N_("Kept"),
        AnswerType.CHOICE,
        choices=(Choice("penned", N_("Penned")), Choice("free_ranging", N_("Free-ranging"))),
    ),
    Question(
        "owner_name", N_("What is the owner's name?"), N_("Owner"), AnswerType.TEXT, max_length=MAX_NAME
    ),
    Question(
        "phone",
        N_("What phone number can the forestry bureau call? Tap the button or type it."),
        N_("Phone"),
        AnswerType.PHONE,
    ),
)

_SIGNS = (
    Question(
        "sign",
        N_("What did you find?"),
        N_("Sign"),
        AnswerType.CHOICE,
        choices=(
            Choice("tracks", N_("Tracks")),
            Choice("scat", N_("Scat")),
            Choice("scratches", N_("Scratch marks")),
            Choice("camera_trap", N_("Camera-trap photo")),
            Choice("other", N_("Other")),
        ),
    ),
    Question(
        "note",
        N_("Anything to add? Type a few words, or tap Skip."),
        N_("Note"),
        AnswerType.TEXT,
        max_length=MAX_TEXT,
        optional=True,
    ),
)

_TIP = (
    Question(
        "threat",
        N_("What did you see?"),
        N_("Seen"),
        AnswerType.CHOICE,
        choices=(
            Choice("snares", N_("Snares")),
            Choice("traps", N_("Traps")),
            Choice("poison", N_("Poison")),
            Choice("hunting", N_("Hunting")),
            Choice("trade", N_("Wildlife trade")),
            Choice("other", N_("Other")),
        ),
    ),
    Question(
        "description",
        N_("Tell us more, or tap Skip. Do not put yourself in danger."),
        N_("Details"),
        AnswerType.TEXT,
        max_length=MAX_TEXT,
        optional=True,
    ),
    Question(
        "follow_up",
        N_("Your tip is anonymous: we keep no name or contact. Do you want to hear what happens?"),
        N_("Updates"),
        AnswerType.CHOICE,
        choices=(Choice("anonymous", N_("Stay anonymous")), Choice("updates", N_("Yes, tell me"))),
    ),
)

QUESTIONS: dict[Kind, tuple[Question, ...]] = {
    Kind.SIGHTING: _SIGHTING,
    Kind.LIVESTOCK: _LIVESTOCK,
    Kind.SIGNS: _SIGNS,
    Kind.TIP: _TIP,
}


def question(kind: Kind, key: str) -> Question:
    """The question of `kind` named `key` (KeyError if there is none)."""
    for q in QUESTIONS[kind]:
        if q.key == key:
            return q
    raise KeyError(key)


# --- the draft -------------------------------------------------------------------------------

PHOTOS, LOCATION, WHEN, REVIEW = "photos", "location", "when", "review"

def new_draft(kind: Kind, now: datetime, language: str) -> Draft:
    """A fresh draft for `kind`; its id makes a double submission idempotent."""
    return {
        "id": uuid.uuid4().hex,
        "kind": kind.value,
        "language": language,
        "photos": [],
        "photos_done": False,
        "location": None,
        "observed_at": None,
        "answers": {},
        "started_at": now.isoformat(),
        "updated_at": now.isoformat(),
    }


def draft_kind(draft: Draft) -> Kind:
    return Kind(draft["kind"])


def next_step(draft: Draft) -> str:
    """The first thing still missing: 'photos', 'location', 'when', a question key, or 'review'."""
    if not draft["photos_done"]:
        return PHOTOS
    if draft["location"] is None:
        return LOCATION
    if draft["observed_at"] is None:
        return WHEN
    for q in QUESTIONS[draft_kind(draft)]:
        if q.key not in draft["answers"]:
            return q.key
    return REVIEW


def editable_fields(draft: Draft) -> list[tuple[str, str]]:
    """(field, label) pairs offered by "change something" on the review card."""
    fields = [(PHOTOS, N_("Photos")), (LOCATION, N_("Location")), (WHEN, N_("Time"))]
    fields += [(q.key, q.label) for q in QUESTIONS[draft_kind(draft)]]
    return fields


def reopen_field(draft: Draft, field_name: str) -> None:
    """Clears one field so :func:`next_step` asks it again; everything else is kept, so review follows."""
    if field_name == PHOTOS:
        draft["photos_done"] = False
    elif field_name == LOCATION:
        draft["location"] = None
    elif field_name == WHEN:
        draft["observed_at"] = None
    else:
        question(draft_kind(draft), field_name)  # KeyError for a field this kind does not have
        draft["answers"].pop(field_name, None)
        # A voice note that answered it goes with the answer (one sent as an addition stays).
        draft["photos"] = [p for p in draft["photos"] if p.get("answer_key") != field_name]


def photos_problem(draft: Draft) -> str | None:
    """Why the photo step cannot be finished yet, or None."""
    pictures = [p for p in draft["photos"] if p.get("media_kind", "photo") != "voice"]  # not voice notes
    if draft_kind(draft) in PHOTO_REQUIRED and not pictures:
        return N_(
            "A photo is needed for a livestock report: the compensation desk must see the animals. "
            "Please send at least one photo."
        )
    return None


def submit_problem(draft: Draft) -> str | None:
    """What stops the draft from being submitted, or None when it is complete and consistent."""
    if next_step(draft) != REVIEW:
        return N_("Some answers are still missing.")
    problem = photos_problem(draft)
    if problem:
        return problem
    if draft_kind(draft) is Kind.LIVESTOCK:
        answers = draft["answers"]
        if int(answers.get("killed", 0)) + int(answers.get("injured", 0)) == 0:
            return N_("Please say how many animals were killed or injured: both are 0 now.")
    return None


# --- answers ---------------------------------------------------------------------------------


class AnswerError(ValueError):
    """The answer does not fit the question; `message` (translatable) says what is expected."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


_CONTROL = re.compile(
    r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)


def clean_text(text: str, max_length: int) -> str:
    """Drops control and direction-override characters, trims, and checks the length."""
    cleaned = _CONTROL.sub("", unicodedata.normalize("NFC", text)).strip()
    if not cleaned:
        raise AnswerError(N_("Please type a few words."))
    if len(cleaned) > max_length:
        raise AnswerError(N_("That is too long. Please keep it under {limit} characters."), limit=max_length)
    return cleaned


def parse_count(text: str, minimum: int, maximum: int) -> int:
    """A whole number typed with ASCII or full-width digits."""
    normalized = unicodedata.normalize("NFKC", text).strip()
    if not re.fullmatch(r"\d{1,6}", normalized):
        raise AnswerError(
            N_("Please send a number from {minimum} to {maximum}."), minimum=minimum, maximum=maximum
        )
    value = int(normalized)
    if not minimum <= value <= maximum:
        raise AnswerError(
            N_("Please send a number from {minimum} to {maximum}."), minimum=minimum, maximum=maximum
        )
    return value


_PHONE = re.compile(r"^\+?\d{5,15}$")


def parse_phone(text: str) -> str:
    """A phone number: digits with an optional +, spaces and dashes allowed when typed."""
    normalized = re.sub(r"[\s\-()]", "", unicodedata.normalize("NFKC", text))
    if not _PHONE.match(normalized):
        raise AnswerError(N_("Please send a phone number, for example 13912345678, or tap the button."))
    return normalized


def answer_question(
    draft: Draft, key: str, *, choice: str | None = None, text: str | None = None
) -> None:
    """Checks and stores an answer (a button's value or typed text); raises AnswerError."""
    q = question(draft_kind(draft), key)
    value: Any
    if choice is not None:
        values = {c.value for c in q.choices}
        if choice == "skip" and q.optional:
            value = None
        elif choice not in values:
            raise AnswerError(N_("That button is no longer valid. Please use the buttons below."))
        elif q.answer is AnswerType.COUNT and choice != NOT_SURE:
            value = int(choice)
        else:
            value = choice
    elif text is not None:
        if q.answer is AnswerType.COUNT:
            value = parse_count(text, q.minimum, q.maximum)
        elif q.answer is AnswerType.PHONE:
            value = parse_phone(text)
        elif q.answer is AnswerType.TEXT or q.typed_other:
            value = clean_text(text, q.max_length or MAX_TEXT)
        else:
            raise AnswerError(N_("Please tap one of the buttons."))
    else:
        raise AnswerError(N_("Please tap one of the buttons."))
    draft["answers"][key] = value


# Free-text questions a voice note may answer. Not the owner's name (the compensation desk writes
# it on forms) nor the livestock animal (a case field): those are typed or tapped.
SPOKEN: Final = frozenset({"behaviour", "note", "description"})


def takes_voice(q: Question) -> bool:
    """A question whose answer may be spoken instead of typed."""
    return q.key in SPOKEN and (q.answer is AnswerType.TEXT or q.typed_other)


def answer_with_voice(draft: Draft, key: str, duration_s: float) -> None:
    """Stores a voice note as the answer to a free-text question (the note itself is a media entry
    of the draft with this `answer_key`); raises AnswerError for a question that needs typing or a tap."""
    if not takes_voice(question(draft_kind(draft), key)):
        raise AnswerError(N_("Please tap one of the buttons."))
    draft["answers"][key] = {"voice": round(duration_s, 1)}


def display_answer(q: Question, value: Any) -> tuple[str, bool]:
    """(text, translatable) for an answer on a card: a button's label is translated, typed text is not."""
    if value is None:
        return N_("(skipped)"), True
    if isinstance(value, dict) and "voice" in value:
        return N_("voice message"), True
    for c in q.choices:
        if c.value == str(value):
            return c.label, c.label != c.value
    return str(value), False


# --- anonymous tips ------------------------------------------------------------------------


def to_minute(moment: datetime) -> datetime:
    """`moment` without its seconds: what an anonymous tip keeps of a time (nothing finer)."""
    return moment.replace(second=0, microsecond=0)


def tip_for_storage(draft: Draft, tz: tzinfo) -> Draft:
    """An anonymous tip's draft as it is stored: the time of the event to the minute, and what its
    photos said about themselves (capture time, position) as `photo_facts` for the staff card, since
    only the stripped copies are kept."""
    stored: Draft = {**draft, "answers": dict(draft["answers"])}
    observed = draft["observed_at"]
    if observed:
        stored["observed_at"] = to_minute(datetime.fromisoformat(observed)).isoformat()
    facts = []
    for number, photo in enumerate(draft["photos"], start=1):
        known = photo.get("facts") or {}
        taken = datetime.fromisoformat(known["taken_at"]) if known.get("taken_at") else None
        if taken is not None and taken.tzinfo is None:
            taken = taken.replace(tzinfo=tz)  # a camera's naive clock is county time (bot/photos.py)
        fact = {
            "photo": number,
            "taken_at": to_minute(taken).isoformat() if taken else None,
            "latitude": known.get("latitude"),
            "longitude": known.get("longitude"),
        }
        if any(fact[k] is not None for k in ("taken_at", "latitude")):
            facts.append(fact)
    if facts:
        stored["answers"]["photo_facts"] = facts
    return stored


# --- reference codes -------------------------------------------------------------------------

REF_PREFIX = "HS"
# Random, so a code says nothing about how many reports (or tips) came before it. Six characters from
# an alphabet without look-alikes (no 0/O, 1/I/L, 2/Z, 5/S, 8/B): read out on a phone call without
# spelling. 25**6 = 244 million codes; the store draws again on the rare collision.
REF_ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"
_REF = re.compile(rf"^{REF_PREFIX}-?([{REF_ALPHABET}]{{4}})-?([{REF_ALPHABET}]{{2}})$")
# Codes handed out before they were random (HS-2026-00042) still find their reports.
_LEGACY_REF = re.compile(rf"^{REF_PREFIX}-(\d{{4}})-(\d{{5,}})$")
# A code inside a longer text (a card, a receipt), either form.
REF_IN_TEXT = re.compile(
    rf"\b{REF_PREFIX}-(?:[{REF_ALPHABET}]{{4}}-[{REF_ALPHABET}]{{2}}|\d{{4}}-\d{{5,}})\b"
)


REF_SPACE = len(REF_ALPHABET) ** 6


def new_reference_code() -> str:
    """A fresh random code people can read out on the phone, like HS-7K3F-9Q."""
    number = secrets.randbelow(REF_SPACE)
    chars = []
    for _ in range(6):
        number, digit = divmod(number, len(REF_ALPHABET))
        chars.append(REF_ALPHABET[digit])
    return f"{REF_PREFIX}-{''.join(chars[:4])}-{''.join(chars[4:])}"


def parse_reference_code(text: str) -> str | None:
    """The code as stored, from a typed one (forgiving case, spaces, dashes and full-width
    characters), or None when it is no code."""
    normalized = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).upper().replace("_", "-")
    match = _REF.match(normalized)
    if match:
        return f"{REF_PREFIX}-{match.group(1)}-{match.group(2)}"
    legacy = _LEGACY_REF.match(normalized)
    return f"{REF_PREFIX}-{legacy.group(1)}-{int(legacy.group(2)):05d}" if legacy else None
