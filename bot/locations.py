"""Where a report happened: turns what a person sent into one checked WGS-84 point.

Ties the parsers (`bot.coords`), the gazetteer, plausibility and the county's service area
(`bot.geo`) together for the conversation. A point outside the county is accepted but flagged
(leopards roam into Zuoquan and Xiyang); an impossible one is refused with a message saying why.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot import coords, geo
from bot.gazetteer import Gazetteer, Place
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


class LocationError(ValueError):
    """The input cannot be used as a location; `message` (translatable) says what is expected."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


@dataclass(frozen=True)
class Found:
    latitude: float
    longitude: float
    accuracy_m: float | None
    source: str
    datum: str
    place_name: str | None
    outside_area: bool
    message_id: int | None = None  # the live-location message whose later fixes may move it

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@functools.cache
def service_area() -> geo.ServiceArea:
    """The county's polygon, loaded once."""
    return geo.ServiceArea.default()


@functools.cache
def gazetteer() -> Gazetteer:
    """Places of the county, loaded once."""
    return Gazetteer.default()


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
    """A gazetteer place, with an accuracy that says how much ground its point stands for."""
    if place.latitude is None or place.longitude is None:
        raise LocationError(NOT_LOCATED, place=place.display_name)
    accuracy = APPROXIMATE_PLACE_M if place.approximate else SURVEYED_PLACE_M
    return from_point(
        place.latitude, place.longitude, accuracy_m=accuracy, source="place", place_name=place.display_name
    )


def from_text(text: str) -> Found | list[Place]:
    """Typed coordinates, a map link, or a place name (several matches: the candidates to choose from)."""
    try:
        parsed = coords.parse_coordinates(text, service_area=service_area())
    except coords.CoordinateError as error:
        places = gazetteer().search(text, limit=6) if len(text) <= 60 else []
        if not places:
            # Text with digits was meant as coordinates: the parser's message says what went wrong.
            raise LocationError(error.message if any(c.isdigit() for c in text) else NOT_FOUND) from None
        if len(places) == 1:
            return from_place(places[0])
        return places
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


def relative_to_places(latitude: float, longitude: float) -> geo.RelativePlace | None:
    """The nearest located place and the direction from it, for "≈ 2.3 km NE of 义兴镇"."""
    return geo.describe_relative(latitude, longitude, gazetteer())
