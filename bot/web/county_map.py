"""The county drawn from its real outline as SVG (no tile server, nothing from the internet), and a
tap on it turned back into a point with an honest uncertainty.

The outline is `bot.locations.service_area()` (geo's copy of the official county boundary); the
projection is equirectangular with the longitude scaled by cos(latitude) at the county's middle, so
the shape is true to within a fraction of a percent over 60 km. The map is shown at a fixed CSS
width (:data:`SHOWN_WIDTH_PX`): the plain form's ``<input type="image">`` sends the tap in CSS
pixels of the shown image, so the server can turn it into a point without JavaScript.
"""

from __future__ import annotations

import functools
import html
import math
from dataclasses import dataclass

from bot import locations

VIEW_WIDTH = 600.0  # SVG user units across
SHOWN_WIDTH_PX = 280  # CSS px across on the page (fits 360 px phones at 200 % text)
# A tap is as precise as a fingertip: about 40 CSS px across, so ±20 px on the shown map.
FINGER_PX = 20.0
PADDING = 0.02  # of the span, around the outline
EARTH_M_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class Frame:
    """Where the county sits in the SVG: its bounds and the scale, both ways."""

    west: float
    north: float
    scale: float  # SVG units per degree of latitude
    cos_lat: float
    height: float

    def to_point(self, x_px: float, y_px: float, shown_width: float = SHOWN_WIDTH_PX) -> tuple[float, float]:
        """(latitude, longitude) of a tap at (x, y) CSS px on the map shown `shown_width` px wide."""
        units = VIEW_WIDTH / shown_width
        x, y = x_px * units, y_px * units
        return self.north - y / self.scale, self.west + x / (self.scale * self.cos_lat)

    def to_svg(self, latitude: float, longitude: float) -> tuple[float, float]:
        return (longitude - self.west) * self.scale * self.cos_lat, (self.north - latitude) * self.scale

    def metres_per_px(self, shown_width: float = SHOWN_WIDTH_PX) -> float:
        return VIEW_WIDTH / shown_width / self.scale * EARTH_M_PER_DEGREE

    def tap_accuracy_m(self, shown_width: float = SHOWN_WIDTH_PX) -> float:
        """How far off a tap may be on the ground: a fingertip's radius, rounded up to 100 m."""
        return math.ceil(FINGER_PX * self.metres_per_px(shown_width) / 100) * 100


def _rings() -> list[tuple[tuple[float, float], ...]]:
    return [ring for polygon in locations.service_area().polygons for ring in polygon]


@functools.cache
def frame() -> Frame:
    """The map's frame around the county outline."""
    points = [point for ring in _rings() for point in ring]
    west, east = min(p[0] for p in points), max(p[0] for p in points)
    south, north = min(p[1] for p in points), max(p[1] for p in points)
    pad_lon, pad_lat = (east - west) * PADDING, (north - south) * PADDING
    west, east, south, north = west - pad_lon, east + pad_lon, south - pad_lat, north + pad_lat
    cos_lat = math.cos(math.radians((north + south) / 2))
    scale = VIEW_WIDTH / ((east - west) * cos_lat)
    return Frame(west, north, scale, cos_lat, round((north - south) * scale, 1))


@functools.cache
def county_svg(label: str) -> str:
    """The county as an SVG document: its outline, and the located townships as dots with names."""
    f = frame()
    paths = []
    for ring in _rings():
        coords = " ".join("{:.1f},{:.1f}".format(*f.to_svg(lat, lon)) for lon, lat in ring)
        paths.append(f"M{coords}Z")
    marks = []
    for place in locations.gazetteer().townships():
        if place.latitude is None or place.longitude is None:
            continue
        x, y = f.to_svg(place.latitude, place.longitude)
        marks.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="#2f4a32"/>'
            f'<text x="{x + 10:.1f}" y="{y + 6:.1f}" font-size="22" fill="#1d2a1f">'
            f"{html.escape(place.name_zh)}</text>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {VIEW_WIDTH:.0f} {f.height}" '
        f'width="{VIEW_WIDTH:.0f}" height="{f.height}" role="img" aria-label="{html.escape(label)}">'
        f'<rect width="100%" height="100%" fill="#eef2e8"/>'
        f'<path d="{" ".join(paths)}" fill="#d9e6cf" stroke="#2f4a32" stroke-width="3"'
        ' stroke-linejoin="round"/>'
        + "".join(marks)
        + "</svg>"
    )


def shown_height(shown_width: float = SHOWN_WIDTH_PX) -> int:
    return round(frame().height * shown_width / VIEW_WIDTH)
