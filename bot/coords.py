"""Parsing typed coordinates and map links into WGS-84 points, and formatting points back.

Accepted typed forms (after NFKC normalization, so full-width digits and punctuation work):

* decimal pairs in either order: ``37.33, 113.57`` · ``113.57 37.33`` · ``-37.5;-113``.  The order is
  decided by range; if both orders are valid, the one inside the service area (or else inside China) wins,
  otherwise latitude-first (ISO 6709 / Google order).
* hemisphere letters before or after: ``37.33N 113.57E`` · ``N37.33 E113.57`` · ``lat 37.33 lon 113.57``.
* degrees-minutes-seconds and degrees-decimal-minutes: ``37°19'48"N 113°34'12"E`` · ``37 19 48 N 113 34 12 E``
  · ``37°19.8'N`` with ASCII or typographic ′ ″ ’ ” marks.
* Chinese: ``北纬37.33 东经113.57`` · ``东经113°34′12″ 北纬37°19′48″`` · ``北纬37度19分48秒`` · 南纬/西经.
* optional datum hints in the text: ``gcj02``/``火星坐标`` or ``bd09``/``百度坐标``; otherwise typed
  coordinates are taken as WGS-84 (GPS apps, compass apps and camera EXIF all use WGS-84).

Map links (the first link that carries coordinates wins):

========  ==========================================================  ====================================
provider  forms                                                        datum
========  ==========================================================  ====================================
Amap      uri.amap.com/marker?position=LON,LAT, amap.com/?p=ID,LAT,LON  GCJ-02 (``coordinate=wgs84`` and
          / ?q=LAT,LON, m.amap.com/share/...lnglat=LON,LAT,              ``dev=1`` mean WGS-84)
          androidamap:// / iosamap:// ...?lat=&lon=&dev=
Baidu     api.map.baidu.com/marker?location=LAT,LNG&coord_type=...,    BD-09 unless coord_type says
          baidumap:// / bdapp://, map.baidu.com/?latlng=LAT,LNG          gcj02/wgs84; Mercator refused
Tencent   apis.map.qq.com/uri/v1/marker?marker=coord:LAT,LNG;...,      GCJ-02 (``coord_type=1`` = GPS)
          qqmap://, map.qq.com/?pointx=LNG&pointy=LAT
Google    ?q=LAT,LON, ?query=, ?ll=, /@LAT,LON,Zz, /place/.../!3dLAT!4dLON WGS-84 (see below)
Apple     maps.apple.com/?ll=LAT,LON, ?q=LAT,LON, ?sll=, ?coordinate=     WGS-84 (see below)
OSM       openstreetmap.org/#map=Z/LAT/LON, ?mlat=&mlon=                  WGS-84
geo:      geo:LAT,LON;u=ACC (RFC 5870), geo:0,0?q=LAT,LON(label)          WGS-84
========  ==========================================================  ====================================

Google/Apple links inside China: their *street map tiles* are drawn in GCJ-02 (documented by many
projects, e.g. hujiulong/gcoord#14, iitc-project PR #768), but we found no authoritative statement on
which datum the numbers in their URLs use — it depends on how the link was made (dropped pin, search
result, satellite view, shared from GPS).  We therefore take them as WGS-84 and set
``ambiguous_datum=True`` when the point is in China, so staff can be told the position may be ~0.5 km off.

Every failure raises :class:`CoordinateError` with a short translatable message; nothing else escapes.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from bot.datum import convert_to_wgs84, out_of_china
from bot.geo import CHINA_BBOX, Location
from bot.i18n import N_

if TYPE_CHECKING:  # pragma: no cover
    from bot.geo import ServiceArea

__all__ = [
    "CoordinateError",
    "ParsedCoordinates",
    "format_coordinates",
    "parse_coordinates",
]

#: Longest text we try to read.  Telegram caps messages at 4096 characters; anything longer is not a
#: coordinate and scanning it would only cost time.
MAX_INPUT_CHARS = 4096

MSG_EMPTY = N_("Please send coordinates, for example: 37.33, 113.57")
MSG_TOO_LONG = N_("That message is too long to be coordinates. Please send only the coordinates.")
MSG_NO_NUMBERS = N_(
    "I couldn't find coordinates in that message. Examples: 37.33, 113.57 · 北纬37.33 东经113.57 · "
    "37°19'48\"N 113°34'12\"E — or share a location or a map link."
)
MSG_UNREADABLE = N_(
    "I couldn't read those coordinates. Please send them like 37.33, 113.57 or 37°19'48\"N 113°34'12\"E."
)
MSG_NUMBER_COUNT = N_(
    "I couldn't tell which numbers are latitude and longitude. Please send just the two coordinates, "
    "for example 37.33, 113.57."
)
MSG_HEMISPHERES = N_("Please give one latitude (N/S, 北纬/南纬) and one longitude (E/W, 东经/西经).")
MSG_MINUTES = N_("Minutes and seconds must be below 60, and only the last part may have decimals.")
MSG_RANGE = N_("Latitude must be between -90 and 90 and longitude between -180 and 180.")
MSG_SIGN = N_("A minus sign and a hemisphere letter contradict each other (e.g. -37 N).")
MSG_LINK_NO_COORDS = N_(
    "That map link doesn't contain coordinates (short links can't be opened here). Please share the "
    "location with 📎 → Location, or copy the coordinates from the map."
)
MSG_BAIDU_MERCATOR = N_(
    "That Baidu Maps link uses map-projection units instead of latitude/longitude. Please share the "
    "location instead, or use Baidu's 'share position' link."
)
MSG_GEO_CRS = N_("That geo: link uses a coordinate system other than WGS-84, which I can't read.")


class CoordinateError(ValueError):
    """The text could not be turned into coordinates; ``message`` is a translatable explanation."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ParsedCoordinates:
    """A parsed point.  ``lat``/``lon`` are WGS-84; ``datum`` is what the input was in.

    ``input_lat``/``input_lon`` keep the numbers as given (before datum conversion) for the audit trail.
    """

    lat: float
    lon: float
    datum: str
    source: str  # "typed" or "map_link"
    provider: str | None = None  # "amap", "baidu", "tencent", "google", "apple", "osm", "geo"
    accuracy_m: float | None = None
    ambiguous_datum: bool = False
    input_lat: float | None = None
    input_lon: float | None = None

    def to_location(self, *, place_name: str | None = None) -> Location:
        return Location(
            self.lat,
            self.lon,
            source=self.source,
            accuracy_m=self.accuracy_m,
            datum=self.datum,
            place_name=place_name,
        )


# --------------------------------------------------------------------------------------------------
# Normalization
# --------------------------------------------------------------------------------------------------

# Applied BEFORE NFKC: NFKC would turn "º" into "o", "⁰" into "0", and "″" into two primes.
_PRE_NFKC = str.maketrans(
    {
        "º": "°",
        "˚": "°",
        "⁰": "°",
        "′": "'",
        "’": "'",
        "‘": "'",
        "´": "'",
        "`": "'",
        "ʹ": "'",
        "‵": "'",
        "″": '"',
        "“": '"',
        "”": '"',
        "ʺ": '"',
        "‶": '"',
        "〃": '"',
        "−": "-",  # U+2212 MINUS SIGN
        "–": " ",  # dashes are separators ("37.3 – 113.5"), never minus signs
        "—": " ",
        "。": ".",
        "，": ",",
        "、": ",",
        "；": ";",
        "：": ":",
        "\u200b": "",
        "\u200c": "",
        "\u200d": "",
        "\u2060": "",
        "\ufeff": "",
    }
)

_CN_LABELS = (
    ("北纬", " N "),
    ("北緯", " N "),
    ("南纬", " S "),
    ("南緯", " S "),
    ("东经", " E "),
    ("東經", " E "),
    ("東经", " E "),
    ("西经", " W "),
    ("西經", " W "),
    ("纬度", " LAT "),
    ("緯度", " LAT "),
    ("经度", " LON "),
    ("經度", " LON "),
)

_DATUM_HINTS = (
    (re.compile(r"\bgcj[-_ ]?0?2\b|\bgcj\b|火星坐标|火星|国测局", re.I), "gcj02"),
    (re.compile(r"\bbd[-_ ]?09(?:ll)?\b|百度坐标", re.I), "bd09"),
    (re.compile(r"\bwgs[-_ ]?84\b|\bwgs\b", re.I), "wgs84"),
)


def _normalize(text: str) -> str:
    text = text.translate(_PRE_NFKC)
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_PRE_NFKC)  # NFKC can produce some of these again (e.g. full-width forms)
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text)
    return text


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


def _in_china_box(lat: float, lon: float) -> bool:
    south, west, north, east = CHINA_BBOX
    return south <= lat <= north and west <= lon <= east


def _result(
    lat: float,
    lon: float,
    *,
    datum: str,
    source: str,
    provider: str | None = None,
    accuracy_m: float | None = None,
    maybe_gcj: bool = False,
) -> ParsedCoordinates:
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise CoordinateError(MSG_RANGE)
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise CoordinateError(MSG_RANGE)
    w_lat, w_lon = convert_to_wgs84(lat, lon, datum)
    if accuracy_m is not None and not (math.isfinite(accuracy_m) and accuracy_m >= 0):
        accuracy_m = None
    return ParsedCoordinates(
        lat=w_lat,
        lon=w_lon,
        datum=datum,
        source=source,
        provider=provider,
        accuracy_m=accuracy_m,
        ambiguous_datum=maybe_gcj and not out_of_china(lat, lon),
        input_lat=lat,
        input_lon=lon,
    )


# --------------------------------------------------------------------------------------------------
# Map links
# --------------------------------------------------------------------------------------------------

_URL_RE = re.compile(
    r"(?:https?://|androidamap://|iosamap://|amapuri://|baidumap://|bdapp://|qqmap://|\bgeo:)[^\s<>\"]+",
    re.I,
)
_NUM = r"[-+]?[0-9]{1,3}(?:\.[0-9]{1,15})?"
_PAIR_RE = re.compile(rf"^\s*({_NUM})\s*,\s*\+?\s*({_NUM})(?![0-9])")
_AT_RE = re.compile(rf"@({_NUM}),({_NUM})(?:,|z|$|/|\?)")
_3D4D_RE = re.compile(rf"!3d({_NUM})!4d({_NUM})")
_OSM_MAP_RE = re.compile(rf"map=[0-9]{{1,2}}(?:\.[0-9]+)?/({_NUM})/({_NUM})")
_LNGLAT_PATH_RE = re.compile(rf"lnglat=({_NUM}),({_NUM})", re.I)


class _NoCoords(Exception):
    """A recognized map link without coordinates in it."""


def _pair(value: str | None) -> tuple[float, float] | None:
    if not value:
        return None
    m = _PAIR_RE.match(unquote(value).replace("loc:", "").replace("+", " "))
    if not m:
        return None
    return float(m.group(1)), float(m.group(2))


def _first(params: dict[str, list[str]], *names: str) -> str | None:
    for name in names:
        for key, values in params.items():
            if key.lower() == name and values and values[0].strip():
                return values[0]
    return None


def _host_is(host: str, *domains: str) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def _parse_amap(scheme: str, host: str, path: str, params: dict[str, list[str]]) -> ParsedCoordinates:
    datum = "gcj02"
    coordinate = (_first(params, "coordinate") or "").lower()
    if coordinate == "wgs84" or _first(params, "dev") == "1":
        # uri.amap.com: coordinate=wgs84; app schemes: dev=1 means "input is WGS-84, please offset".
        datum = "wgs84"
    position = _first(params, "position", "lnglat", "location")
    if position and (p := _pair(position)):
        return _result(p[1], p[0], datum=datum, source="map_link", provider="amap")
    m = _LNGLAT_PATH_RE.search(unquote(path))
    if m:
        return _result(float(m.group(2)), float(m.group(1)), datum=datum, source="map_link", provider="amap")
    lat_s, lon_s = _first(params, "lat", "dlat"), _first(params, "lon", "lng", "dlon")
    if lat_s and lon_s:
        return _result(float(lat_s), float(lon_s), datum=datum, source="map_link", provider="amap")
    p_param = _first(params, "p")
    if p_param:  # amap.com/?p=POIID,LAT,LON,name,address
        parts = unquote(p_param).split(",")
        if len(parts) >= 3:
            pair = _pair(f"{parts[1]},{parts[2]}")
            if pair:
                return _result(pair[0], pair[1], datum=datum, source="map_link", provider="amap")
    q = _first(params, "q")
    if q and (p := _pair(q)):  # amap.com/?q=LAT,LON,name
        return _result(p[0], p[1], datum=datum, source="map_link", provider="amap")
    raise _NoCoords


def _parse_baidu(scheme: str, host: str, path: str, params: dict[str, list[str]]) -> ParsedCoordinates:
    coord_type = (_first(params, "coord_type", "coordtype") or "bd09ll").lower()
    if coord_type in ("bd09mc", "mercator"):
        raise CoordinateError(MSG_BAIDU_MERCATOR)
    datum = {"gcj02": "gcj02", "wgs84": "wgs84", "gps": "wgs84"}.get(coord_type, "bd09")
    for name in ("location", "latlng", "center", "destination", "origin"):
        value = _first(params, name)
        if value and (p := _pair(value.replace("latlng:", ""))):
            return _result(p[0], p[1], datum=datum, source="map_link", provider="baidu")
    if "@" in path and re.search(r"@[0-9.]+,[0-9.]+,", path):
        # map.baidu.com/@12956738.96,4826126.15,15z is BD-09 Mercator metres, not degrees.
        raise CoordinateError(MSG_BAIDU_MERCATOR)
    raise _NoCoords


def _parse_tencent(scheme: str, host: str, path: str, params: dict[str, list[str]]) -> ParsedCoordinates:
    datum = "wgs84" if _first(params, "coord_type") == "1" else "gcj02"
    marker = _first(params, "marker")
    if marker:
        for part in unquote(marker).split(";"):
            if part.lower().startswith("coord:") and (p := _pair(part[6:])):
                return _result(p[0], p[1], datum=datum, source="map_link", provider="tencent")
    x, y = _first(params, "pointx"), _first(params, "pointy")
    if x and y:
        return _result(float(y), float(x), datum=datum, source="map_link", provider="tencent")
    for name in ("center", "coord", "to", "tocoord"):
        value = _first(params, name)
        if value and (p := _pair(value)):
            return _result(p[0], p[1], datum=datum, source="map_link", provider="tencent")
    raise _NoCoords


def _parse_google(
    scheme: str, host: str, path: str, params: dict[str, list[str]], raw: str
) -> ParsedCoordinates:
    def done(lat: float, lon: float) -> ParsedCoordinates:
        return _result(lat, lon, datum="wgs84", source="map_link", provider="google", maybe_gcj=True)

    decoded = unquote(raw)
    m = _3D4D_RE.search(decoded)
    if m:  # the place's own position; "@" is only the viewport centre
        return done(float(m.group(1)), float(m.group(2)))
    for name in ("q", "query", "ll", "destination", "daddr", "center", "sll"):
        value = _first(params, name)
        if not value:
            continue
        if p := _pair(value):
            return done(*p)
        try:  # q=37°19'48.0"N 113°34'12.0"E
            typed = _parse_typed(value.replace("+", " "), None)
        except CoordinateError:
            continue
        return done(typed.lat, typed.lon)
    m = _AT_RE.search(decoded)
    if m:
        return done(float(m.group(1)), float(m.group(2)))
    segments = [s for s in unquote(path).split("/") if s]
    for i, seg in enumerate(segments):
        if i > 0 and segments[i - 1] in ("place", "search", "dir") and (p := _pair(seg.replace("+", " "))):
            return done(*p)
    raise _NoCoords


def _parse_apple(scheme: str, host: str, path: str, params: dict[str, list[str]]) -> ParsedCoordinates:
    for name in ("ll", "coordinate", "q", "sll", "daddr", "center"):
        value = _first(params, name)
        if value and (p := _pair(value)):
            return _result(p[0], p[1], datum="wgs84", source="map_link", provider="apple", maybe_gcj=True)
    raise _NoCoords


def _parse_osm(
    scheme: str, host: str, path: str, params: dict[str, list[str]], fragment: str
) -> ParsedCoordinates:
    lat_s, lon_s = _first(params, "mlat"), _first(params, "mlon")
    if not (lat_s and lon_s):
        lat_s, lon_s = _first(params, "lat"), _first(params, "lon")
    if lat_s and lon_s:
        return _result(float(lat_s), float(lon_s), datum="wgs84", source="map_link", provider="osm")
    m = _OSM_MAP_RE.search(fragment) or _OSM_MAP_RE.search(unquote(path))
    if m:
        return _result(float(m.group(1)), float(m.group(2)), datum="wgs84", source="map_link", provider="osm")
    query = _first(params, "query")
    if query and (p := _pair(query)):
        return _result(p[0], p[1], datum="wgs84", source="map_link", provider="osm")
    raise _NoCoords


def _parse_geo(url: str) -> ParsedCoordinates:
    body = url[4:]
    body, _, query = body.partition("?")
    coords, *params = body.split(";")
    accuracy: float | None = None
    for param in params:
        key, _, value = param.partition("=")
        key = key.strip().lower()
        if key == "crs" and value.strip().lower() != "wgs84":
            raise CoordinateError(MSG_GEO_CRS)
        if key == "u":
            try:
                accuracy = float(value)
            except ValueError:
                accuracy = None
    nums = coords.split(",")
    pair = _pair(",".join(nums[:2])) if len(nums) >= 2 else None
    if pair and pair != (0.0, 0.0):
        return _result(
            pair[0], pair[1], datum="wgs84", source="map_link", provider="geo", accuracy_m=accuracy
        )
    # Android convention: geo:0,0?q=LAT,LON(Label)
    q = _first(parse_qs(query), "q")
    if q and (p := _pair(q)):
        return _result(p[0], p[1], datum="wgs84", source="map_link", provider="geo", accuracy_m=accuracy)
    if pair:
        return _result(
            pair[0], pair[1], datum="wgs84", source="map_link", provider="geo", accuracy_m=accuracy
        )
    raise _NoCoords


def _parse_link(url: str) -> ParsedCoordinates | None:
    """Coordinates from one link; None when the link is not a map link we know."""
    url = url.rstrip(".,;)）]」』>")
    if url.lower().startswith("geo:"):
        return _parse_geo(url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    params = parse_qs(parts.query, keep_blank_values=False)
    # Some apps put the query after the fragment (#/?...) or use ; separators; merge what we can find.
    if "?" in parts.fragment:
        for key, values in parse_qs(parts.fragment.split("?", 1)[1]).items():
            params.setdefault(key, values)
    if scheme in ("androidamap", "iosamap", "amapuri") or _host_is(
        host, "amap.com", "autonavi.com", "gaode.com"
    ):
        return _parse_amap(scheme, host, parts.path, params)
    if scheme in ("baidumap", "bdapp") or _host_is(
        host, "map.baidu.com", "api.map.baidu.com", "j.map.baidu.com"
    ):
        return _parse_baidu(scheme, host, parts.path, params)
    if scheme == "qqmap" or _host_is(host, "map.qq.com"):
        return _parse_tencent(scheme, host, parts.path, params)
    if _host_is(host, "maps.app.goo.gl", "goo.gl", "g.co"):
        raise _NoCoords
    if re.fullmatch(r"(?:[a-z0-9-]+\.)*google(?:\.com?)?\.[a-z]{2,3}", host) or host == "google.com":
        if host.startswith(("maps.", "ditu.")) or parts.path.startswith("/maps") or "q" in params:
            return _parse_google(scheme, host, parts.path, params, url)
        return None
    if _host_is(host, "maps.apple.com", "maps.apple"):
        return _parse_apple(scheme, host, parts.path, params)
    if _host_is(host, "openstreetmap.org", "osm.org", "openstreetmap.cn"):
        return _parse_osm(scheme, host, parts.path, params, parts.fragment)
    return None


# --------------------------------------------------------------------------------------------------
# Typed coordinates
# --------------------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""
    (?P<num>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)
    |(?P<sym>°|''|'|")
    |(?P<sign>[-+])
    |(?P<word>[A-Za-z]+)
    |(?P<sep>[,;/|:])
    |(?P<ws>\s+)
    |(?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_HEMI_WORDS = {"n": "N", "north": "N", "s": "S", "south": "S", "e": "E", "east": "E", "w": "W", "west": "W"}
_LABEL_WORDS = {
    "lat": "LAT",
    "latitude": "LAT",
    "lon": "LON",
    "lng": "LON",
    "long": "LON",
    "longitude": "LON",
}
_DEG_WORDS = {"deg", "degs", "degree", "degrees"}
_SYM_PART = {"°": "deg", "'": "min", '"': "sec", "''": "sec"}
_MAX_NUMBER_CHARS = 20


@dataclass
class _Num:
    text: str
    sign: str | None = None
    sym: str | None = None  # "deg" | "min" | "sec"


@dataclass
class _Marker:
    axis: str  # "lat" | "lon"
    negative: bool  # S / W


@dataclass
class _Sep:
    pass


@dataclass
class _Comp:
    nums: list[_Num]
    marker: _Marker | None = None


def _tokenize(text: str) -> list[_Num | _Marker | _Sep]:
    elements: list[_Num | _Marker | _Sep] = []
    pending_sign: str | None = None
    prev_kind: str | None = None  # kind of the previous raw token ("ws" included)
    tokens = list(_TOKEN_RE.finditer(text))
    for i, m in enumerate(tokens):
        kind = m.lastgroup
        value = m.group()
        if kind == "num":
            if len(value) > _MAX_NUMBER_CHARS:
                raise CoordinateError(MSG_UNREADABLE)
            elements.append(_Num(value, sign=pending_sign))
            pending_sign = None
        elif kind == "sym":
            last = elements[-1] if elements else None
            # A mark only means something right after a number ("37°", "19 '"); stray quotes are text.
            if isinstance(last, _Num) and last.sym is None and prev_kind in ("num", "ws", "sym"):
                last.sym = _SYM_PART[value]
        elif kind == "sign":
            if prev_kind in ("num", "sym"):
                elements.append(_Sep())  # "37.3-113.5": a hyphen between numbers separates them
            else:
                pending_sign = value
        elif kind == "word":
            low = value.lower()
            attached = prev_kind == "num" or (i + 1 < len(tokens) and tokens[i + 1].lastgroup == "num")
            if low in _HEMI_WORDS:
                hemi = _HEMI_WORDS[low]
                elements.append(_Marker("lat" if hemi in "NS" else "lon", hemi in "SW"))
            elif low in _LABEL_WORDS:
                elements.append(_Marker("lat" if _LABEL_WORDS[low] == "LAT" else "lon", False))
            elif low in _DEG_WORDS and elements and isinstance(elements[-1], _Num):
                if elements[-1].sym is None:
                    elements[-1].sym = "deg"
            elif attached:
                # "37d19m", "5km": letters glued to digits that we don't understand — don't guess.
                raise CoordinateError(MSG_UNREADABLE)
            # other words are ordinary text around the coordinates
        elif kind == "sep":
            elements.append(_Sep())
        if kind != "sign":
            pending_sign = None if kind not in ("ws",) else pending_sign
        prev_kind = kind
    return elements


def _merge_markers(elements: list[_Num | _Marker | _Sep]) -> list[_Num | _Marker | _Sep]:
    """ "lat N 37" / "纬度 北纬": a label directly followed by a hemisphere is one marker."""
    out: list[_Num | _Marker | _Sep] = []
    for el in elements:
        if isinstance(el, _Marker) and out and isinstance(out[-1], _Marker) and out[-1].axis == el.axis:
            out[-1] = _Marker(el.axis, out[-1].negative or el.negative)
            continue
        out.append(el)
    return out


def _components_with_markers(elements: list[_Num | _Marker | _Sep]) -> list[_Comp]:
    meaningful = [e for e in elements if not isinstance(e, _Sep)]
    comps: list[_Comp] = []
    if isinstance(meaningful[0], _Marker):  # prefix style: N37.33 E113.57 / 北纬… 东经…
        for el in meaningful:
            if isinstance(el, _Marker):
                comps.append(_Comp([], el))
            else:
                comps[-1].nums.append(el)
    else:  # suffix style: 37.33N 113.57E
        current: list[_Num] = []
        for el in meaningful:
            if isinstance(el, _Num):
                current.append(el)
            else:
                comps.append(_Comp(current, el))
                current = []
        if current:
            raise CoordinateError(MSG_HEMISPHERES)
    return comps


def _components_without_markers(elements: list[_Num | _Marker | _Sep]) -> list[_Comp]:
    nums = [e for e in elements if isinstance(e, _Num)]
    if any(n.sym == "deg" for n in nums):
        # Each number marked with ° starts a new angle: 37°19'48" 113°34'12"
        comps: list[_Comp] = []
        for n in nums:
            if n.sym == "deg" or not comps:
                comps.append(_Comp([n]))
            else:
                comps[-1].nums.append(n)
        return comps
    # Plain numbers: use separators if they split them into two groups, else split by count.
    groups: list[list[_Num]] = [[]]
    for el in elements:
        if isinstance(el, _Sep):
            if groups[-1]:
                groups.append([])
        elif isinstance(el, _Num):
            groups[-1].append(el)
    groups = [g for g in groups if g]
    if len(groups) == 2:
        return [_Comp(g) for g in groups]
    if len(nums) in (2, 4, 6):
        half = len(nums) // 2
        return [_Comp(nums[:half]), _Comp(nums[half:])]
    raise CoordinateError(MSG_NUMBER_COUNT if nums else MSG_NO_NUMBERS)


def _angle(comp: _Comp) -> float:
    """Decimal degrees (signed) of one component: D, D M, or D M S with optional ° ' " marks."""
    nums = comp.nums
    if not 1 <= len(nums) <= 3:
        raise CoordinateError(MSG_NUMBER_COUNT if nums else MSG_HEMISPHERES)
    parts: dict[str, _Num] = {}
    order = ("deg", "min", "sec")
    next_slot = 0
    for n in nums:
        slot = n.sym or (order[next_slot] if next_slot < 3 else None)
        if slot is None or slot in parts or order.index(slot) < next_slot:
            raise CoordinateError(MSG_UNREADABLE)
        parts[slot] = n
        next_slot = order.index(slot) + 1
    if "deg" not in parts:
        raise CoordinateError(MSG_UNREADABLE)
    if any(n.sign for n in nums[1:]):
        raise CoordinateError(MSG_UNREADABLE)
    present = [s for s in order if s in parts]
    for slot in present[:-1]:  # only the last part may carry decimals
        if "." in parts[slot].text:
            raise CoordinateError(MSG_MINUTES)
    deg = float(parts["deg"].text)
    minutes = float(parts["min"].text) if "min" in parts else 0.0
    seconds = float(parts["sec"].text) if "sec" in parts else 0.0
    if minutes >= 60 or seconds >= 60:
        raise CoordinateError(MSG_MINUTES)
    value = deg + minutes / 60.0 + seconds / 3600.0
    sign = nums[0].sign
    if comp.marker is not None:
        if sign == "-" and not comp.marker.negative:
            raise CoordinateError(MSG_SIGN)
        return -value if comp.marker.negative else value
    return -value if sign == "-" else value


def _choose_order(a: float, b: float, service_area: ServiceArea | None) -> tuple[float, float]:
    candidates: list[tuple[float, float]] = []
    if abs(a) <= 90 and abs(b) <= 180:
        candidates.append((a, b))
    if abs(b) <= 90 and abs(a) <= 180 and (b, a) not in candidates:
        candidates.append((b, a))
    if not candidates:
        raise CoordinateError(MSG_RANGE)
    if len(candidates) == 1:
        return candidates[0]
    if service_area is not None:
        inside = [c for c in candidates if service_area.contains(*c)]
        if len(inside) == 1:
            return inside[0]
    in_china = [c for c in candidates if _in_china_box(*c)]
    if len(in_china) == 1:
        return in_china[0]
    return candidates[0]  # latitude first (ISO 6709, Google, GPS apps)


_CN_UNIT_RE = [
    (re.compile(r"(?<=[0-9.])\s*度"), "°"),
    (re.compile(r"(?<=[0-9.])\s*分"), "'"),
    (re.compile(r"(?<=[0-9.])\s*秒"), '"'),
]
_DECIMAL_COMMA_RE = re.compile(r"\s*([-+]?[0-9]{1,3}),([0-9]+)\s*[;\s]\s*([-+]?[0-9]{1,3}),([0-9]+)\s*")
_MALFORMED_RE = re.compile(r"[0-9]\.[0-9]*\.[0-9]")


def _parse_typed(text: str, service_area: ServiceArea | None) -> ParsedCoordinates:
    datum = "wgs84"
    for pattern, hinted in _DATUM_HINTS:
        if pattern.search(text):
            datum = hinted
            text = pattern.sub(" ", text)
            break
    for cn, repl in _CN_LABELS:
        text = text.replace(cn, repl)
    for pattern, repl in _CN_UNIT_RE:
        text = pattern.sub(repl, text)
    # Contractions ("it's", "Xi'an") would otherwise yield a stray quote mark and an "S" hemisphere.
    text = re.sub(r"(?<=[A-Za-z])'[A-Za-z]+", " ", text)
    if m := _DECIMAL_COMMA_RE.fullmatch(text):  # "37,33 113,57": European decimal commas
        text = f"{m.group(1)}.{m.group(2)} {m.group(3)}.{m.group(4)}"
    if _MALFORMED_RE.search(text):
        raise CoordinateError(MSG_UNREADABLE)

    elements = _merge_markers(_tokenize(text))
    if not any(isinstance(e, _Num) for e in elements):
        raise CoordinateError(MSG_NO_NUMBERS)
    markers = [e for e in elements if isinstance(e, _Marker)]
    if markers:
        comps = _components_with_markers(elements)
        if len(comps) != 2 or {c.marker.axis for c in comps if c.marker} != {"lat", "lon"}:
            raise CoordinateError(MSG_HEMISPHERES)
        lat_comp = next(c for c in comps if c.marker and c.marker.axis == "lat")
        lon_comp = next(c for c in comps if c.marker and c.marker.axis == "lon")
        lat, lon = _angle(lat_comp), _angle(lon_comp)
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise CoordinateError(MSG_RANGE)
    else:
        comps = _components_without_markers(elements)
        if len(comps) != 2:
            raise CoordinateError(MSG_NUMBER_COUNT)
        lat, lon = _choose_order(_angle(comps[0]), _angle(comps[1]), service_area)
    return _result(lat, lon, datum=datum, source="typed")


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def parse_coordinates(text: str, *, service_area: ServiceArea | None = None) -> ParsedCoordinates:
    """Parses typed coordinates or a map link/share text into a WGS-84 point.

    ``service_area`` only breaks ties when a bare number pair is valid in both orders.  Raises
    :class:`CoordinateError` (never anything else) with a translatable message on failure.  Plausibility
    (0,0, outside China, outside the county) is checked separately with :func:`bot.geo.check_plausible`.
    """
    if not isinstance(text, str) or not text.strip():
        raise CoordinateError(MSG_EMPTY)
    if len(text) > MAX_INPUT_CHARS:
        raise CoordinateError(MSG_TOO_LONG)
    try:
        norm = _normalize(text)
        if len(norm) > 2 * MAX_INPUT_CHARS:  # NFKC can expand some characters a lot
            raise CoordinateError(MSG_TOO_LONG)
        if not norm.strip():
            raise CoordinateError(MSG_EMPTY)

        saw_map_link_without_coords = False
        for m in _URL_RE.finditer(norm):
            try:
                parsed = _parse_link(m.group())
            except _NoCoords:
                saw_map_link_without_coords = True
                continue
            if parsed is not None:
                return parsed
        # Numbers inside links (ids, zoom levels) are not coordinates: read only the text around them.
        rest = _URL_RE.sub(" ", norm)
        try:
            return _parse_typed(rest, service_area)
        except CoordinateError as exc:
            if saw_map_link_without_coords and exc.message in (MSG_NO_NUMBERS, MSG_EMPTY):
                raise CoordinateError(MSG_LINK_NO_COORDS) from None
            raise
    except CoordinateError:
        raise
    except (ValueError, ArithmeticError) as exc:  # e.g. urlsplit on "http://[", float("1.")
        raise CoordinateError(MSG_UNREADABLE) from exc


def _dms_parts(value: float) -> tuple[int, int, float]:
    tenths = round(abs(value) * 36000)  # tenths of an arc-second
    deg, rem = divmod(tenths, 36000)
    minutes, sec_tenths = divmod(rem, 600)
    return int(deg), int(minutes), sec_tenths / 10.0


def format_coordinates(lat: float, lon: float, style: str = "decimal") -> str:
    """Formats a point so that :func:`parse_coordinates` reads it back.

    * ``"decimal"``: ``37.330000, 113.570000`` (6 decimals ≈ 0.1 m; round trip within 1e-6°)
    * ``"dms"``: ``37°19'48.0"N 113°34'12.0"E`` (Google's format; round trip within 0.05″)
    * ``"chinese"``: ``北纬37°19′48.0″ 东经113°34′12.0″``
    """
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise ValueError("coordinates must be finite")
    if style == "decimal":
        return f"{lat:.6f}, {lon:.6f}"
    lat_d, lat_m, lat_s = _dms_parts(lat)
    lon_d, lon_m, lon_s = _dms_parts(lon)
    if style == "dms":
        ns = "S" if lat < 0 else "N"
        ew = "W" if lon < 0 else "E"
        return f"{lat_d}°{lat_m}'{lat_s:.1f}\"{ns} {lon_d}°{lon_m}'{lon_s:.1f}\"{ew}"
    if style == "chinese":
        ns = "南纬" if lat < 0 else "北纬"
        ew = "西经" if lon < 0 else "东经"
        return f"{ns}{lat_d}°{lat_m}′{lat_s:.1f}″ {ew}{lon_d}°{lon_m}′{lon_s:.1f}″"
    raise ValueError(f"unknown style {style!r} (expected 'decimal', 'dms' or 'chinese')")
