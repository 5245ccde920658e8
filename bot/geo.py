"""Points, distances, bearings, the county service area, obscuring, and "≈ 2.3 km NE of 义兴镇".

Plain Python (no Telegram imports) so every piece can be unit- and property-tested.

Which distance to use:

* :func:`distance_m` — geodesic on the WGS-84 ellipsoid (geopy/Karney), accurate to millimetres but
  roughly 50× slower.  Use it for anything stored, shown, or compared against a threshold near its edge:
  the distance on a staff card, the final "is this the same sighting?" decision.
* :func:`haversine_m` — spherical approximation, error up to ~0.5 % (≤ 5 m per km around here).  Use it
  on hot paths to *shortlist* candidates: scanning all recent reports for dedupe, scanning the gazetteer
  for the nearest place.  Pad the shortlist radius by 1 % and confirm with :func:`distance_m`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from geopy.distance import geodesic

from bot.i18n import N_

if TYPE_CHECKING:  # pragma: no cover - import only for type checkers (avoids an import cycle)
    from bot.gazetteer import Gazetteer, Place

__all__ = [
    "CHINA_BBOX",
    "COMPASS_8",
    "COMPASS_16",
    "LOCATION_SOURCES",
    "Location",
    "ObscuredLocation",
    "RelativePlace",
    "ServiceArea",
    "bearing_deg",
    "check_plausible",
    "compass_point",
    "describe_relative",
    "distance_m",
    "haversine_m",
    "obscure",
    "outside_service_area",
]

#: Known values for :attr:`Location.source`.
LOCATION_SOURCES = ("telegram", "live", "venue", "typed", "map_link", "place", "exif", "geocoder")
#: Known values for :attr:`Location.datum` (the datum the *input* arrived in).
DATUMS = ("wgs84", "gcj02", "bd09")

#: Generous bounding box of China used by :func:`check_plausible` (south, west, north, east).  Anything
#: outside it is certainly not a North China leopard sighting, and is most often swapped or garbled input.
CHINA_BBOX = (18.0, 73.0, 54.0, 135.0)

# Mean Earth radius (IUGG) for the haversine shortcut.
_EARTH_RADIUS_M = 6371008.8

COMPASS_8 = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
COMPASS_16 = (
    "N",
    "NNE",
    "NE",
    "ENE",
    "E",
    "ESE",
    "SE",
    "SSE",
    "S",
    "SSW",
    "SW",
    "WSW",
    "W",
    "WNW",
    "NW",
    "NNW",
)


@runtime_checkable
class HasLatLon(Protocol):
    """Anything with WGS-84 ``latitude``/``longitude`` attributes (Location, Place, geopy Point...)."""

    @property
    def latitude(self) -> float: ...

    @property
    def longitude(self) -> float: ...


#: A point: an object with latitude/longitude, or a ``(lat, lon)`` tuple.
LatLon = HasLatLon | tuple[float, float]


def _latlon(p: LatLon) -> tuple[float, float]:
    if isinstance(p, tuple):
        return float(p[0]), float(p[1])
    return float(p.latitude), float(p.longitude)


@dataclass(frozen=True)
class Location:
    """A WGS-84 point as reported, with where it came from.

    Everything after ``longitude`` is keyword-only so call sites stay readable and a positional
    accuracy can never be mistaken for a source.  ``datum`` records the datum the *input* used
    ("gcj02" for an Amap link, ...); ``latitude``/``longitude`` are always already WGS-84.
    """

    latitude: float
    longitude: float
    source: str = field(kw_only=True)
    accuracy_m: float | None = field(default=None, kw_only=True)
    datum: str = field(default="wgs84", kw_only=True)
    place_name: str | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.latitude) and math.isfinite(self.longitude)):
            raise ValueError("latitude/longitude must be finite")
        if not (-90.0 <= self.latitude <= 90.0 and -180.0 <= self.longitude <= 180.0):
            raise ValueError(f"coordinates out of range: {self.latitude}, {self.longitude}")
        if self.datum not in DATUMS:
            raise ValueError(f"unknown datum {self.datum!r}")
        if self.accuracy_m is not None and not (math.isfinite(self.accuracy_m) and self.accuracy_m >= 0):
            raise ValueError("accuracy_m must be a non-negative finite number")

    @property
    def point(self) -> tuple[float, float]:
        return self.latitude, self.longitude


# --------------------------------------------------------------------------------------------------
# Distances and bearings
# --------------------------------------------------------------------------------------------------


def distance_m(a: LatLon, b: LatLon) -> float:
    """Geodesic distance in metres on the WGS-84 ellipsoid (exact; see the module doc for when)."""
    return float(geodesic(_latlon(a), _latlon(b)).meters)


def haversine_m(a: LatLon, b: LatLon) -> float:
    """Fast spherical distance in metres (±0.5 %); for shortlisting candidates on hot paths."""
    lat1, lon1 = _latlon(a)
    lat2, lon2 = _latlon(b)
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def bearing_deg(a: LatLon, b: LatLon) -> float:
    """Initial great-circle bearing from ``a`` to ``b``, degrees clockwise from true north in [0, 360)."""
    lat1, lon1 = _latlon(a)
    lat2, lon2 = _latlon(b)
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    deg = math.degrees(math.atan2(x, y)) % 360.0
    # % can return exactly 360.0 for tiny negative inputs because of rounding.
    return 0.0 if deg >= 360.0 else deg


def compass_point(deg: float, points: int = 8) -> str:
    """Locale-agnostic compass code for a bearing: "N", "NE", ... (8 points) or "NNE"... (16 points).

    The code is meant to be mapped to a localized word by the caller ("NE" → "东北").
    """
    if points not in (8, 16):
        raise ValueError("points must be 8 or 16")
    if not math.isfinite(deg):
        raise ValueError("bearing must be finite")
    names = COMPASS_8 if points == 8 else COMPASS_16
    sector = 360.0 / points
    return names[int(((deg % 360.0) + sector / 2) // sector) % points]


# --------------------------------------------------------------------------------------------------
# Service area
# --------------------------------------------------------------------------------------------------

_Ring = list[tuple[float, float]]  # (lon, lat) pairs, GeoJSON order
_Polygon = list[_Ring]  # outer ring followed by holes

_DEFAULT_AREA = "heshun_service_area.geojson"


def _ring_contains(ring: _Ring, lon: float, lat: float) -> bool:
    """Even-odd ray casting (ray towards +lon)."""
    inside = False
    n = len(ring)
    j = n - 1
    for i in range(n):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > lat) != (yj > lat):
            x_cross = (xj - xi) * (lat - yi) / (yj - yi) + xi
            if lon < x_cross:
                inside = not inside
        j = i
    return inside


def _parse_ring(raw: Any) -> _Ring:
    ring = [(float(p[0]), float(p[1])) for p in raw]
    if len(ring) < 3:
        raise ValueError("a polygon ring needs at least 3 points")
    return ring


def _polygons_from_geometry(geom: dict[str, Any]) -> list[_Polygon]:
    kind = geom.get("type")
    if kind == "Polygon":
        return [[_parse_ring(r) for r in geom["coordinates"]]]
    if kind == "MultiPolygon":
        return [[_parse_ring(r) for r in poly] for poly in geom["coordinates"]]
    if kind == "GeometryCollection":
        return [p for g in geom.get("geometries", []) for p in _polygons_from_geometry(g)]
    raise ValueError(f"unsupported geometry type for a service area: {kind!r}")


@dataclass(frozen=True)
class ServiceArea:
    """A (multi)polygon in WGS-84; points inside are "in the county", others get flagged, not refused."""

    polygons: tuple[tuple[tuple[tuple[float, float], ...], ...], ...]
    name: str = ""
    approximate: bool = True
    bbox: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # south, west, north, east

    @classmethod
    def from_geojson(cls, data: dict[str, Any] | str | Path) -> ServiceArea:
        """Builds an area from a GeoJSON FeatureCollection / Feature / geometry (dict, path or JSON text)."""
        if isinstance(data, Path) or (isinstance(data, str) and not data.lstrip().startswith("{")):
            data = json.loads(Path(data).read_text(encoding="utf-8"))
        elif isinstance(data, str):
            data = json.loads(data)
        assert isinstance(data, dict)
        props: dict[str, Any] = {}
        polygons: list[_Polygon] = []
        if data.get("type") == "FeatureCollection":
            for feat in data.get("features", []):
                polygons.extend(_polygons_from_geometry(feat["geometry"]))
                props = props or dict(feat.get("properties") or {})
        elif data.get("type") == "Feature":
            polygons.extend(_polygons_from_geometry(data["geometry"]))
            props = dict(data.get("properties") or {})
        else:
            polygons.extend(_polygons_from_geometry(data))
        if not polygons:
            raise ValueError("no polygons in service area GeoJSON")
        lons = [x for poly in polygons for x, _ in poly[0]]
        lats = [y for poly in polygons for _, y in poly[0]]
        return cls(
            polygons=tuple(tuple(tuple(r) for r in poly) for poly in polygons),
            name=str(props.get("name", "")),
            approximate=bool(props.get("approximate", True)),
            bbox=(min(lats), min(lons), max(lats), max(lons)),
        )

    @classmethod
    def default(cls) -> ServiceArea:
        """The bundled approximate Heshun county polygon (``bot/data/heshun_service_area.geojson``)."""
        text = resources.files("bot").joinpath("data", _DEFAULT_AREA).read_text(encoding="utf-8")
        return cls.from_geojson(json.loads(text))

    def contains(self, lat: float, lon: float) -> bool:
        """Point-in-polygon (holes respected).  Points exactly on an edge may fall either way."""
        if not (math.isfinite(lat) and math.isfinite(lon)):
            return False
        south, west, north, east = self.bbox
        if not (south <= lat <= north and west <= lon <= east):
            return False
        for poly in self.polygons:
            outer, *holes = poly
            if _ring_contains(list(outer), lon, lat) and not any(
                _ring_contains(list(h), lon, lat) for h in holes
            ):
                return True
        return False


_default_area: ServiceArea | None = None


def _get_default_area() -> ServiceArea:
    global _default_area
    if _default_area is None:
        _default_area = ServiceArea.default()
    return _default_area


def outside_service_area(lat: float, lon: float, area: ServiceArea | None = None) -> bool:
    """The flag for "accepted, but outside the county": True when the point is not in ``area``.

    ``area`` defaults to the bundled Heshun polygon.  Such reports are kept (leopards do not read
    county borders) but staff see them marked.
    """
    return not (area or _get_default_area()).contains(lat, lon)


# Messages returned by check_plausible (marked for translation; the caller translates).
MSG_NOT_A_NUMBER = N_("Those coordinates are not valid numbers.")
MSG_LAT_RANGE = N_("Latitude must be between -90 and 90 degrees.")
MSG_LON_RANGE = N_("Longitude must be between -180 and 180 degrees.")
MSG_NULL_ISLAND = N_(
    "0, 0 is in the Atlantic Ocean: the location was probably not filled in. Please send it again."
)
MSG_OUTSIDE_CHINA = N_(
    "That point is far outside China. Please check the coordinates — latitude and longitude may be "
    "swapped, or a minus sign may be missing or extra."
)


def check_plausible(lat: float, lon: float) -> str | None:
    """Returns a (translatable) problem message for impossible/implausible points, or None if fine.

    Refused: non-finite values, out-of-range values, exactly (0, 0) — the classic "empty GPS fix" — and
    anything outside a generous box around China.  Points in China but outside the county are *not*
    refused here; use :func:`outside_service_area` to flag them.
    """
    if not (isinstance(lat, int | float) and isinstance(lon, int | float)):
        return MSG_NOT_A_NUMBER
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return MSG_NOT_A_NUMBER
    if not -90.0 <= lat <= 90.0:
        return MSG_LAT_RANGE
    if not -180.0 <= lon <= 180.0:
        return MSG_LON_RANGE
    if lat == 0.0 and lon == 0.0:
        return MSG_NULL_ISLAND
    south, west, north, east = CHINA_BBOX
    if not (south <= lat <= north and west <= lon <= east):
        return MSG_OUTSIDE_CHINA
    return None


# --------------------------------------------------------------------------------------------------
# Obscuring
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObscuredLocation:
    """A fixed grid cell standing in for a sensitive point (for public/partner views).

    ``center_lat``/``center_lon`` are a function of the cell only, so every point in the cell gets the
    same values and many reports can never be averaged back to a den or a camera trap.
    """

    cell_south: float
    cell_west: float
    cell_deg: float
    center_lat: float
    center_lon: float
    label: str

    @property
    def cell_north(self) -> float:
        return float(Decimal(repr(self.cell_south)) + Decimal(repr(self.cell_deg)))

    @property
    def cell_east(self) -> float:
        return float(Decimal(repr(self.cell_west)) + Decimal(repr(self.cell_deg)))

    def contains(self, lat: float, lon: float) -> bool:
        return self.cell_south <= lat < self.cell_north and self.cell_west <= lon < self.cell_east


def _fmt_deg(value: Decimal, pos: str, neg: str) -> str:
    hemi = pos if value >= 0 else neg
    text = format(abs(value).normalize(), "f")
    return f"{text}°{hemi}"


def obscure(lat: float, lon: float, cell_deg: float = 0.2) -> ObscuredLocation:
    """Snaps a point to a fixed ``cell_deg`` grid (floor-based, like iNaturalist's 0.2° for threatened taxa).

    Uses :class:`~decimal.Decimal` on the shortest repr of each float so cell edges behave as a human
    reads them: 37.4 is the *south edge* of the 37.4–37.6 cell, not "37.39999999" in the cell below.
    Negative coordinates floor towards −∞ (−0.1 is in the −0.2…0.0 cell).  The north pole and the
    antimeridian (lat 90, lon 180) go into the last cell instead of a cell past the edge.
    """
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise ValueError("coordinates must be finite")
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise ValueError("coordinates out of range")
    try:
        cell = Decimal(repr(float(cell_deg)))
    except InvalidOperation as exc:  # pragma: no cover - float repr is always a valid Decimal
        raise ValueError("bad cell size") from exc
    if not (cell > 0 and cell <= 10):
        raise ValueError("cell_deg must be in (0, 10]")

    def snap(value: float, upper: Decimal) -> Decimal:
        d = Decimal(repr(float(value)))
        south = (d / cell).to_integral_value(rounding=ROUND_FLOOR) * cell
        if south >= upper:  # exactly on the top edge (90°N / 180°E): use the last real cell
            south -= cell
        return south

    south = snap(lat, Decimal(90))
    west = snap(lon, Decimal(180))
    half = cell / 2
    label = (
        f"{_fmt_deg(south, 'N', 'S')}–{_fmt_deg(south + cell, 'N', 'S')}, "
        f"{_fmt_deg(west, 'E', 'W')}–{_fmt_deg(west + cell, 'E', 'W')}"
    )
    return ObscuredLocation(
        cell_south=float(south),
        cell_west=float(west),
        cell_deg=float(cell),
        center_lat=float(south + half),
        center_lon=float(west + half),
        label=label,
    )


# --------------------------------------------------------------------------------------------------
# "≈ 2.3 km NE of 义兴镇"
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RelativePlace:
    """The parts of "≈ 2.3 km NE of 义兴镇"; the caller formats and localizes them.

    ``bearing`` is the compass code *from the place to the point*.  When the point is within
    ``near_m`` of the place, ``is_near`` is True and the caller should say "near 义兴镇" instead,
    because a bearing over a few hundred metres from an approximate place is noise.
    """

    distance_m: float
    bearing: str
    bearing_deg: float
    place: Place
    is_near: bool = False


def describe_relative(
    lat: float,
    lon: float,
    gazetteer: Gazetteer,
    *,
    max_km: float = 30.0,
    near_m: float = 500.0,
    kinds: Sequence[str] | None = None,
    points: int = 8,
) -> RelativePlace | None:
    """Nearest located gazetteer place within ``max_km``, with distance and compass bearing.

    Returns None when nothing is close enough (the caller then shows raw coordinates).
    """
    found = gazetteer.nearest(lat, lon, max_km=max_km, kinds=kinds)
    if found is None:
        return None
    place, dist = found
    assert place.latitude is not None and place.longitude is not None
    brg = bearing_deg((place.latitude, place.longitude), (lat, lon))
    return RelativePlace(
        distance_m=dist,
        bearing=compass_point(brg, points),
        bearing_deg=brg,
        place=place,
        is_near=dist < near_m,
    )


def bbox_of(points: Iterable[LatLon]) -> tuple[float, float, float, float] | None:
    """(south, west, north, east) of some points, or None for none."""
    pts = [_latlon(p) for p in points]
    if not pts:
        return None
    lats = [p[0] for p in pts]
    lons = [p[1] for p in pts]
    return min(lats), min(lons), max(lats), max(lons)
