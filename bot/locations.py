"""Where a report happened: turns what a person sent into one checked WGS-84 point or a named place.

Ties the parsers (`bot.coords`), the gazetteer, plausibility and the county's service area
(`bot.geo`) together for the conversation. A point outside the county is accepted but flagged
(leopards roam into Zuoquan and Xiyang); an impossible one is refused with a message saying why.

The API other parts use (the Telegram side, the web tip line's village picker and county map):

* :func:`service_area` — the county outline (``.polygons`` rings of (lon, lat) for drawing,
  ``.contains(lat, lon)`` with the configured margin, ``.check(lat, lon)`` → :class:`bot.geo.AreaCheck`:
  inside / flagged / metres to the border / the Jinzhong county it is in).
* :func:`area_check` — ``service_area().check`` in one call.
* :func:`gazetteer` — every place: the 8 townships (``.townships()``), 183 villages (kind "village",
  ``.township`` the township's Chinese name, ``id`` the 12-digit official code), scenic spots; with the
  points staff taught (:func:`set_learned_points`).
* :func:`find_place` — a name typed in any form (full/short, pinyin, traditional, inside a sentence)
  → :class:`bot.gazetteer.NameMatch` (``.places``, ``.exact``: False means "did you mean") or None.
* :func:`township_of` — the township of a point (nearest located village, then township seat, within
  ``township_max_m``), or None: "township unknown".
* :func:`from_place` — a village/township/spot chosen by name as a report's place: its point
  when staff taught one, else a *named place* (no point, township-level uncertainty).
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot import coords, geo
from bot.gazetteer import TOWNSHIP_KINDS, Gazetteer, NameMatch, Place, RelativePlace, describe_relative
from bot.i18n import N_
from bot.when import WhenError, check_when

# A gazetteer point stands for a whole village or town, and ours are rounded to 0.01° (about 1 km).
APPROXIMATE_PLACE_M = 1000.0
SURVEYED_PLACE_M = 200.0
NOT_FOUND = N_(
    "I don't know a place with that name. Please tap 📍 to send your location, "
    "or type the coordinates, for example 37.33, 113.57."
)
NOT_LOCATED = N_("I know {place}, but not exactly where it is. Please tap 📍 to send your location.")
#: How much ground a named place without a point stands for: a township. Heshun's 2,200 km² over 8
#: townships is ~275 km² each, a circle of radius ~9.4 km; rounded up.
NAMED_PLACE_M = 10_000.0


class LocationError(ValueError):
    """The input cannot be used as a location; `message` (translatable) says what is expected."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


@dataclass(frozen=True)
class Found:
    """Where a report happened: a checked point, or a named place (latitude/longitude None, place_id
    the village/township/spot, accuracy the township-level :data:`NAMED_PLACE_M`)."""

    latitude: float | None
    longitude: float | None
    accuracy_m: float | None
    source: str
    datum: str
    place_name: str | None
    outside_area: bool
    message_id: int | None = None  # the live-location message whose later fixes may move it
    place_id: str | None = None  # the gazetteer place it was chosen by name as, if any

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Settings:
    margin_m: float = geo.DEFAULT_MARGIN_M
    township_max_m: float = 6000.0
    learned: dict[str, tuple[float, float]] | None = None


_settings = _Settings()


def configure(*, margin_m: float | None = None, township_max_m: float | None = None) -> None:
    """Applies ``[region]`` settings (the bot and the web side call it once at start)."""
    if margin_m is not None and margin_m != _settings.margin_m:
        _settings.margin_m = margin_m
        service_area.cache_clear()
    if township_max_m is not None:
        _settings.township_max_m = township_max_m


def set_learned_points(points: dict[str, tuple[float, float]]) -> None:
    """The points staff taught (place id → (lat, lon)); every later lookup uses them."""
    _settings.learned = dict(points)
    gazetteer.cache_clear()


@functools.cache
def service_area() -> geo.ServiceArea:
    """The county's outline with the configured margin, loaded once."""
    return geo.ServiceArea.default(margin_m=_settings.margin_m)


def area_check(latitude: float, longitude: float) -> geo.AreaCheck:
    """Inside the county or not, how far from its border, and which neighbouring county."""
    return service_area().check(latitude, longitude)


@functools.cache
def _bundled() -> Gazetteer:
    return Gazetteer.default()


@functools.cache
def gazetteer() -> Gazetteer:
    """Places of the county, with the points staff taught."""
    return _bundled().with_points(_settings.learned or {})


def find_place(text: str) -> NameMatch | None:
    """A township, village or spot named in ``text`` (see :meth:`Gazetteer.lookup`)."""
    return gazetteer().lookup(text) if len(text) <= 200 else None


def township_of(latitude: float, longitude: float, *, max_m: float | None = None) -> Place | None:
    """The township a point is in, from what is known: the nearest located village within
    ``max_m`` (default ``[region] township_max_km``), else the nearest located township seat within
    it, else None ("township unknown" — better than a wrong township). None outside the county."""
    limit = _settings.township_max_m if max_m is None else max_m
    if not service_area().contains(latitude, longitude):
        return None
    gaz = gazetteer()
    for kinds in (("village",), TOWNSHIP_KINDS):
        found = gaz.nearest(latitude, longitude, max_km=limit / 1000.0, kinds=kinds)
        if found is not None:
            return gaz.township_of_place(found[0])
    return None


def report_township(latitude: float | None, longitude: float | None, place_id: str | None) -> Place | None:
    """The township of a report, the one rule for cards, Warn residents, /stats, /monthly and exports:
    the township of the place it was given as (a village names its township for certain), else the
    township of its point (:func:`township_of`), else None."""
    town = township_of_place(place_id)
    if town is not None:
        return town
    if latitude is None or longitude is None:
        return None
    return township_of(latitude, longitude)


def township_of_place(place_id: str | None) -> Place | None:
    """The township of a named place (a village's parent township; a township itself)."""
    place = gazetteer().get(place_id) if place_id else None
    return gazetteer().township_of_place(place) if place else None


def from_point(
    latitude: float,
    longitude: float,
    *,
    accuracy_m: float | None = None,
    source: str,
    datum: str = "wgs84",
    place_name: str | None = None,
    message_id: int | None = None,
) -> Found:
    """A WGS-84 point from a pin, venue or parsed text, checked for plausibility."""
    problem = geo.check_plausible(latitude, longitude)
    if problem is not None:
        raise LocationError(problem)
    outside = not service_area().contains(latitude, longitude)
    return Found(latitude, longitude, accuracy_m, source, datum, place_name, outside, message_id)


def from_place(place: Place) -> Found:
    """A gazetteer place: its point, with an accuracy that says how much ground it stands for, or —
    when nobody has given it a point yet — a named place: accepted, no point, township-level
    uncertainty (a resident without GPS who names their village has answered)."""
    if place.latitude is None or place.longitude is None:
        return Found(
            None, None, NAMED_PLACE_M, "named_place", "wgs84", place.display_name, False, place_id=place.id
        )
    accuracy = APPROXIMATE_PLACE_M if place.approximate else SURVEYED_PLACE_M
    found = from_point(
        place.latitude, place.longitude, accuracy_m=accuracy, source="place", place_name=place.display_name
    )
    return replace(found, place_id=place.id)


def from_text(text: str) -> Found | NameMatch:
    """Typed coordinates, a map link, or a place name (a :class:`NameMatch` when the person must choose:
    a name shared by several places, or a "did you mean" list)."""
    try:
        parsed = coords.parse_coordinates(text, service_area=service_area())
    except coords.CoordinateError as error:
        match = find_place(text)
        if match is None:
            # Text with digits was meant as coordinates: the parser's message says what went wrong.
            raise LocationError(error.message if any(c.isdigit() for c in text) else NOT_FOUND) from None
        if match.exact and len(match.places) == 1:
            return from_place(match.places[0])
        return match
    return from_point(
        parsed.lat, parsed.lon, accuracy_m=parsed.accuracy_m, source=parsed.source, datum=parsed.datum
    )


def from_photo(facts: dict[str, Any]) -> Found | None:
    """The position a photo's EXIF gives, if usable (offered to the reporter, never applied silently)."""
    lat, lon = facts.get("latitude"), facts.get("longitude")
    if lat is None or lon is None:
        return None
    try:
        return from_point(lat, lon, accuracy_m=facts.get("accuracy_m"), source="exif")
    except LocationError:
        return None


def photo_time(facts: dict[str, Any], *, now: datetime, tz: ZoneInfo, max_age: timedelta) -> datetime | None:
    """When a photo was taken, if plausible; a time without offset is the county's local time."""
    raw = facts.get("taken_at")
    if not raw:
        return None
    taken = datetime.fromisoformat(raw)
    if taken.tzinfo is None:
        taken = taken.replace(tzinfo=tz)
    try:
        return check_when(taken, now=now, max_age=max_age)
    except WhenError:
        return None


def relative_to_places(latitude: float, longitude: float) -> RelativePlace | None:
    """The nearest located place and the direction from it, for "≈ 2.3 km NE of 义兴镇"."""
    return describe_relative(latitude, longitude, gazetteer())
