"""Points, distances, bearings, the county service area and obscuring.

"≈ 2.3 km NE of 义兴镇" needs a place list, so it lives with the places (`bot.gazetteer.describe_relative`).

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

import functools
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import shapely
from geopy.distance import geodesic
from pyproj import CRS, Geod, Transformer
from shapely.geometry import MultiPolygon
from shapely.geometry import Point as ShapelyPoint
from shapely.geometry import Polygon as ShapelyPolygon
from shapely.geometry.base import BaseGeometry
from shapely.validation import make_valid

from bot.i18n import N_

__all__ = [
    "CHINA_BBOX",
    "DEFAULT_MARGIN_M",
    "AreaCheck",
    "County",
    "COMPASS_8",
    "COMPASS_16",
    "LOCATION_SOURCES",
    "Location",
    "ObscuredLocation",
    "ServiceArea",
    "bearing_deg",
    "check_plausible",
    "compass_point",
    "county_at",
    "jinzhong_counties",
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
# Service area: the county outline, its margin, the distance to its border, and the county a point is in
# --------------------------------------------------------------------------------------------------

_Ring = list[tuple[float, float]]  # (lon, lat) pairs, GeoJSON order
_Polygon = list[_Ring]  # outer ring followed by holes

#: The county outline (DataV/Amap, converted to WGS-84; see bot/data/PROVENANCE.md).
_DEFAULT_AREA = "heshun_county_amap.geojson"
#: The 11 counties of Jinzhong, to name where a point outside Heshun is.
_NEIGHBOURS = "jinzhong_counties_amap.geojson"
#: Default margin around the outline within which a point still counts as inside: the outline is a
#: generalised 360-vertex polygon and a phone fix near a ridge can be off by hundreds of metres.
DEFAULT_MARGIN_M = 2000.0


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


def _load_json(data: dict[str, Any] | str | Path) -> dict[str, Any]:
    if isinstance(data, Path) or (isinstance(data, str) and not data.lstrip().startswith("{")):
        data = json.loads(Path(data).read_text(encoding="utf-8"))
    elif isinstance(data, str):
        data = json.loads(data)
    assert isinstance(data, dict)
    return data


def _features(data: dict[str, Any]) -> list[tuple[dict[str, Any], list[_Polygon]]]:
    """(properties, polygons) of each feature of a FeatureCollection / Feature / bare geometry."""
    if data.get("type") == "FeatureCollection":
        return [
            (dict(f.get("properties") or {}), _polygons_from_geometry(f["geometry"]))
            for f in data.get("features", [])
        ]
    if data.get("type") == "Feature":
        return [(dict(data.get("properties") or {}), _polygons_from_geometry(data["geometry"]))]
    return [({}, _polygons_from_geometry(data))]


@functools.cache
def _local_projection(lat0: float, lon0: float) -> tuple[Transformer, Transformer]:
    """WGS-84 ⇄ an azimuthal equidistant plane in metres centred on (lat0, lon0).

    Around a county (±50 km of the centre) its scale error is below 0.01 %, so planar distances to the
    outline are metres on the ground; the distance from the centre itself is exact at any range.
    """
    aeqd = CRS.from_proj4(f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m +no_defs")
    wgs84 = CRS.from_epsg(4326)
    return (
        Transformer.from_crs(wgs84, aeqd, always_xy=True),
        Transformer.from_crs(aeqd, wgs84, always_xy=True),
    )


def _to_shape(polygons: Sequence[Sequence[Sequence[tuple[float, float]]]]) -> BaseGeometry:
    shapes = [ShapelyPolygon(poly[0], list(poly[1:])) for poly in polygons]
    geometry = shapes[0] if len(shapes) == 1 else MultiPolygon(shapes)
    return geometry if geometry.is_valid else make_valid(geometry)


@dataclass(frozen=True)
class AreaCheck:
    """Where a point is relative to the service area (what review, cards, the web and exports show).

    ``inside`` — within the outline itself; ``flagged`` — outside the outline *and* its margin, so a
    person deciding about the report must be told; ``border_m`` — metres to the outline (0 inside);
    ``county`` — the Jinzhong county the point is in ("左权县"), None when outside Jinzhong or inside.
    """

    inside: bool
    flagged: bool
    border_m: float
    county: str | None = None


@dataclass(frozen=True)
class ServiceArea:
    """The county (a WGS-84 (multi)polygon) plus a margin; points outside are flagged, never refused.

    ``polygons`` keeps the rings as (lon, lat) tuples for drawing (the sandbox and web maps);
    containment and distances use shapely on a local azimuthal equidistant projection (metres).
    """

    polygons: tuple[tuple[tuple[tuple[float, float], ...], ...], ...]
    name: str = ""
    approximate: bool = True
    bbox: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # south, west, north, east
    margin_m: float = DEFAULT_MARGIN_M

    @classmethod
    def from_geojson(
        cls, data: dict[str, Any] | str | Path, *, margin_m: float = DEFAULT_MARGIN_M
    ) -> ServiceArea:
        """Builds an area from a GeoJSON FeatureCollection / Feature / geometry (dict, path or JSON text)."""
        features = _features(_load_json(data))
        polygons = [p for _, polys in features for p in polys]
        if not polygons:
            raise ValueError("no polygons in service area GeoJSON")
        if not (math.isfinite(margin_m) and margin_m >= 0):
            raise ValueError("margin_m must be a non-negative number of metres")
        props = features[0][0]
        lons = [x for poly in polygons for x, _ in poly[0]]
        lats = [y for poly in polygons for _, y in poly[0]]
        return cls(
            polygons=tuple(tuple(tuple(r) for r in poly) for poly in polygons),
            name=str(props.get("name", "")),
            approximate=bool(props.get("approximate", False)),
            bbox=(min(lats), min(lons), max(lats), max(lons)),
            margin_m=float(margin_m),
        )

    @classmethod
    def default(cls, *, margin_m: float = DEFAULT_MARGIN_M) -> ServiceArea:
        """The real outline of Heshun county (``bot/data/heshun_county_amap.geojson``)."""
        text = resources.files("bot").joinpath("data", _DEFAULT_AREA).read_text(encoding="utf-8")
        return cls.from_geojson(json.loads(text), margin_m=margin_m)

    def with_margin(self, margin_m: float) -> ServiceArea:
        """The same outline with another margin (the configured one)."""
        return replace(self, margin_m=float(margin_m))

    @functools.cached_property
    def shape(self) -> BaseGeometry:
        """The outline as a shapely geometry in (lon, lat) degrees."""
        return _to_shape(self.polygons)

    @functools.cached_property
    def _projected(self) -> tuple[tuple[Transformer, Transformer], BaseGeometry]:
        centre = self.shape.centroid
        transformers = _local_projection(round(centre.y, 4), round(centre.x, 4))
        return transformers, shapely.transform(self.shape, transformers[0].transform, interleaved=False)

    def _project(self, lat: float, lon: float) -> ShapelyPoint:
        (forward, _), _ = self._projected
        x, y = forward.transform(lon, lat)
        return ShapelyPoint(x, y)

    @property
    def area_km2(self) -> float:
        """Area of the outline on the WGS-84 ellipsoid, km²."""
        area, _ = Geod(ellps="WGS84").geometry_area_perimeter(self.shape)
        return abs(area) / 1e6

    def border_distance_m(self, lat: float, lon: float) -> float:
        """Metres from the point to the outline: 0 inside, the shortest distance to the border outside."""
        if self.within_outline(lat, lon):
            return 0.0
        _, projected = self._projected
        return float(projected.distance(self._project(lat, lon)))

    def within_outline(self, lat: float, lon: float) -> bool:
        """Strictly the outline, no margin (holes respected)."""
        if not (math.isfinite(lat) and math.isfinite(lon)):
            return False
        return bool(self.shape.covers(ShapelyPoint(lon, lat)))

    def contains(self, lat: float, lon: float) -> bool:
        """In the service area: inside the outline or within ``margin_m`` of it."""
        if not (math.isfinite(lat) and math.isfinite(lon)):
            return False
        if self.within_outline(lat, lon):
            return True
        if self.margin_m <= 0:
            return False
        # Cheap reject far away: a degree of latitude is > 110 km, of longitude here > 80 km.
        south, west, north, east = self.bbox
        pad = self.margin_m / 80_000.0 + 0.01
        if not (south - pad <= lat <= north + pad and west - pad <= lon <= east + pad):
            return False
        return self.border_distance_m(lat, lon) <= self.margin_m

    def check(self, lat: float, lon: float) -> AreaCheck:
        """Inside or not, flagged or not, the distance to the border and the neighbouring county."""
        if self.within_outline(lat, lon):
            return AreaCheck(inside=True, flagged=False, border_m=0.0)
        dist = self.border_distance_m(lat, lon)
        flagged = dist > self.margin_m
        return AreaCheck(inside=False, flagged=flagged, border_m=dist, county=county_at(lat, lon))


@dataclass(frozen=True)
class County:
    """A county of Jinzhong: official code, Chinese name and its outline."""

    code: str
    name_zh: str
    shape: BaseGeometry


@functools.cache
def jinzhong_counties() -> tuple[County, ...]:
    """The 11 counties of Jinzhong (``bot/data/jinzhong_counties_amap.geojson``)."""
    text = resources.files("bot").joinpath("data", _NEIGHBOURS).read_text(encoding="utf-8")
    return tuple(
        County(code=str(props.get("adcode", "")), name_zh=str(props.get("name", "")), shape=_to_shape(polys))
        for props, polys in _features(json.loads(text))
    )


def county_at(lat: float, lon: float, *, exclude: str = "140723") -> str | None:
    """The Jinzhong county a point is in ("左权县"), or None (outside Jinzhong, or in ``exclude``: Heshun)."""
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    point = ShapelyPoint(lon, lat)
    for county in jinzhong_counties():
        if county.code != exclude and county.shape.covers(point):
            return county.name_zh
    return None


_default_area: ServiceArea | None = None


def _get_default_area() -> ServiceArea:
    global _default_area
    if _default_area is None:
        _default_area = ServiceArea.default()
    return _default_area


def outside_service_area(lat: float, lon: float, area: ServiceArea | None = None) -> bool:
    """The flag for "accepted, but outside the county": True when the point is not in ``area``.

    ``area`` defaults to the Heshun outline with its default margin.  Such reports are kept
    (leopards do not read county borders) but staff see them marked.
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


def bbox_of(points: Iterable[LatLon]) -> tuple[float, float, float, float] | None:
    """(south, west, north, east) of some points, or None for none."""
    pts = [_latlon(p) for p in points]
    if not pts:
        return None
    lats = [p[0] for p in pts]
    lons = [p[1] for p in pts]
    return min(lats), min(lons), max(lats), max(lons)
