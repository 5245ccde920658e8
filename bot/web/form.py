"""A web form's fields to a report draft, with the conversation's own checks.

No aiohttp here: :func:`build_draft` takes the decoded fields and the already stored photos and
returns the draft plus a problem per field, each a translatable message from the core modules
(`bot.report`, `bot.locations`, `bot.when`), so the web and Telegram refuse the same things in
the same words.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot import locations, report
from bot.gazetteer import NameMatch, Place
from bot.i18n import N_, Translator
from bot.records import Draft
from bot.report import AnswerError, AnswerType, Kind, Question
from bot.safety import START_PREFIX, parse_start_payload
from bot.web import county_map
from bot.when import WhenError, check_when, parse_when

MAX_CONTACT = 100
DRAFT_ID = re.compile(r"^[0-9a-f]{32}$")
BROWSER_SOURCE = "browser"  # the browser's geolocation (cards.SOURCE_LABELS should name it)
MAP_SOURCE = "map"  # a tap on the county map
# Where a point in the form came from: the browser's fix, or a photo's GPS that the page read
# before shrinking the photo (the shrunk copy has no EXIF) and that the person chose to use.
POINT_SOURCES = frozenset({BROWSER_SOURCE, "exif", MAP_SOURCE})

# Form field names. Answers are a_<key> (a choice) and t_<key> (typed text).
LATITUDE, LONGITUDE, ACCURACY, SOURCE, LOCATION, PLACE, WHEN, CONTACT = (
    "latitude",
    "longitude",
    "accuracy",
    "source",
    "location",
    "place",
    "when",
    "contact",
)
# Optional on the web though not in the chat: the owner's phone (the status page is how a web
# reporter follows the case; the bureau calls only if a number is given).
WEB_OPTIONAL = frozenset({"phone"})
VILLAGE = "village"  # a township or village chosen from the picker (a gazetteer id)
MAP_X, MAP_Y = "map.x", "map.y"  # a tap on the county map, sent by the plain form's image button
SPOT = "spot"  # the poster's place (its QR code's ?spot=), as the deep link's spot_<id>
PHOTOS = "photos"
FORM = "form"  # a problem of the whole report rather than of one field

NEED_LOCATION = N_(
    "Please say where: use your location, type coordinates like 37.33, 113.57, or a place name."
)
NEED_ANSWER = N_("Please answer this question.")
CHOOSE_PLACE = N_("Several places have that name. Please choose one.")


@dataclass(frozen=True)
class Problem:
    """A translatable message with its placeholders."""

    message: str
    params: dict[str, Any] = field(default_factory=dict)

    def text(self, t: Translator) -> str:
        return t.gettext(self.message, **self.params)


@dataclass
class Outcome:
    """The draft built from a form, and what stops it from being submitted."""

    draft: Draft
    problems: dict[str, Problem] = field(default_factory=dict)
    places: list[Place] = field(default_factory=list)  # did-you-mean candidates for the location

    @property
    def ok(self) -> bool:
        return not self.problems


def answer_field(q: Question) -> str:
    return f"a_{q.key}"


def text_field(q: Question) -> str:
    return f"t_{q.key}"


def accepts_text(q: Question) -> bool:
    """Whether the form shows a typing box for `q` (free text, numbers, phones, 'other' answers)."""
    return q.answer in (AnswerType.TEXT, AnswerType.PHONE, AnswerType.COUNT) or q.typed_other


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _location(fields: dict[str, str]) -> locations.Found | list[Place] | None:
    """The browser's fix, a chosen place, or typed text (raises LocationError)."""
    lat, lon = _number(fields.get(LATITUDE, "")), _number(fields.get(LONGITUDE, ""))
    if lat is not None and lon is not None:
        accuracy = _number(fields.get(ACCURACY, ""))
        source = fields.get(SOURCE, "")
        return locations.from_point(
            lat,
            lon,
            accuracy_m=accuracy if accuracy and accuracy > 0 else None,
            source=source if source in POINT_SOURCES else BROWSER_SOURCE,
        )
    for name in (PLACE, VILLAGE):  # a did-you-mean or poster choice, then the village picker
        place_id = fields.get(name, "").strip()
        place = locations.gazetteer().get(place_id) if place_id else None
        if place is not None:
            return locations.from_place(place)
    text = fields.get(LOCATION, "").strip()
    found = locations.from_text(text) if text else None
    return list(found.places) if isinstance(found, NameMatch) else found


def map_tap(fields: dict[str, str]) -> dict[str, str] | None:
    """The fields a tap on the county map sets (point, uncertainty, source, the typed box), or None."""
    x, y = _number(fields.get(MAP_X, "")), _number(fields.get(MAP_Y, ""))
    if x is None or y is None or not (0 <= x <= county_map.SHOWN_WIDTH_PX) or y < 0:
        return None
    if x == 0 and y == 0:
        # Enter in a text box: the browser "presses" the form's first submit button, the map, at
        # (0, 0) (the empty corner of the frame). That is a send, not a tap.
        return None
    frame = county_map.frame()
    lat, lon = frame.to_point(x, y)
    return {
        LATITUDE: f"{lat:.5f}",
        LONGITUDE: f"{lon:.5f}",
        ACCURACY: f"{frame.tap_accuracy_m():.0f}",
        SOURCE: MAP_SOURCE,
        LOCATION: f"{lat:.5f}, {lon:.5f}",
        VILLAGE: "",
        PLACE: "",
    }


def poster_spot(value: str | None) -> Place | None:
    """The gazetteer place a poster's ``?spot=<id>`` names, or None (never raises)."""
    place_id = parse_start_payload(START_PREFIX + value) if isinstance(value, str) else None
    return locations.gazetteer().get(place_id) if place_id else None


def build_draft(
    kind: Kind,
    fields: dict[str, str],
    photos: list[dict[str, Any]],
    *,
    now: datetime,
    tz: ZoneInfo,
    max_age: timedelta,
    language: str,
) -> Outcome:
    """Fills a fresh draft from the form in the conversation's order, collecting every problem."""
    draft = report.new_draft(kind, now, language)
    if DRAFT_ID.match(fields.get("draft_id", "")):
        draft["id"] = fields["draft_id"]  # the same form sent twice is the same report
    outcome = Outcome(draft)
    problems = outcome.problems

    spot = poster_spot(fields.get(SPOT))
    if spot is not None and kind is not Kind.TIP:
        # Which poster brought the report, as the bot records it (staff see it in /stats). Never
        # with a poaching tip: where the tipster stood would point at them.
        draft["answers"][SPOT] = spot.id

    draft["photos"] = photos
    draft["photos_done"] = True
    photo_problem = report.photos_problem(draft)
    if photo_problem:
        problems[PHOTOS] = Problem(photo_problem)

    try:
        found = _location(fields)
    except locations.LocationError as error:
        problems[LOCATION] = Problem(error.message, error.params)
    else:
        if found is None:
            problems[LOCATION] = Problem(NEED_LOCATION)
        elif isinstance(found, list):
            problems[LOCATION] = Problem(CHOOSE_PLACE)
            outcome.places = found
        else:
            draft["location"] = found.as_dict()

    try:
        moment = parse_when(fields.get(WHEN, ""), now=now, tz=tz)
        draft["observed_at"] = check_when(moment, now=now, max_age=max_age).isoformat()
    except WhenError as error:
        problems[WHEN] = Problem(error.message, error.params)

    for q in report.QUESTIONS[kind]:
        typed = fields.get(text_field(q), "").strip() if accepts_text(q) else ""
        choice = fields.get(answer_field(q), "").strip()
        try:
            if q.key in WEB_OPTIONAL and not typed and not choice:
                draft["answers"][q.key] = None  # shown as "(skipped)", like a skipped answer
            elif typed:
                report.answer_question(draft, q.key, text=typed)
            elif choice:
                report.answer_question(draft, q.key, choice=choice)
            elif q.optional:
                report.answer_question(draft, q.key, choice="skip")
            else:
                problems[q.key] = Problem(NEED_ANSWER)
        except AnswerError as error:
            problems[q.key] = Problem(error.message, error.params)

    contact = fields.get(CONTACT, "").strip()
    if contact:
        try:
            draft["answers"][CONTACT] = report.clean_text(contact, MAX_CONTACT)
        except AnswerError as error:
            problems[CONTACT] = Problem(error.message, error.params)

    if not problems:
        problem = report.submit_problem(draft)
        if problem:
            problems[FORM] = Problem(problem)
    return outcome
