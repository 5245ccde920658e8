"""Where a report happened: turns what a person sent into one checked WGS-84 point.

Ties the parsers (`bot.coords`), plausibility and the county's service area (`bot.geo`)
together for the conversation. A point outside the county is accepted but flagged (leopards
roam into Zuoquan and Xiyang); an impossible one is refused with a message saying why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bot import coords, geo


class LocationError(ValueError):
    """The input cannot be used as a location; `message` (translatable) says what is expected."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Found:
    latitude: float
    longitude: float
    accuracy_m: float | None
    source: str
    datum: str
    place_name: str | None
    outside_area: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_AREA: geo.ServiceArea | None = None


def service_area() -> geo.ServiceArea:
    """The county's polygon, loaded once."""
    global _AREA
    if _AREA is None:
        _AREA = geo.ServiceArea.default()
    return _AREA


def from_point(
    latitude: float,
    longitude: float,
    *,
    accuracy_m: float | None = None,
    source: str,
    datum: str = "wgs84",
    place_name: str | None = None,
) -> Found:
    """A WGS-84 point from a pin, venue or parsed text, checked for plausibility."""
    problem = geo.check_plausible(latitude, longitude)
    if problem is not None:
        raise LocationError(problem)
    return Found(
        latitude,
        longitude,
        accuracy_m,
        source,
        datum,
        place_name,
        outside_area=not service_area().contains(latitude, longitude),
    )


def from_text(text: str) -> Found:
    """Typed coordinates or a map link."""
    try:
        parsed = coords.parse_coordinates(text, service_area=service_area())
    except coords.CoordinateError as error:
        raise LocationError(error.message) from None
    return from_point(parsed.lat, parsed.lon, source=parsed.source, datum=parsed.datum)
