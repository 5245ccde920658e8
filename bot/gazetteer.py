"""Place names for Heshun: lookup by Chinese/pinyin/English name, nearest place, and importers.

The bundled ``bot/data/gazetteer.csv`` holds the county seat and the current townships.  Coordinates are
only given where a public source was found, rounded to 0.01° and marked ``approximate``; entries without
a trustworthy coordinate are kept *unlocated* (``latitude``/``longitude`` empty) so name search still
works but they are never used to place a sighting.  Better data can be imported from a GeoNames dump or
an OSM GeoJSON export with :func:`import_main` (wired to ``leopard-watch import-places``).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from bot.geo import distance_m, haversine_m

__all__ = [
    "CSV_FIELDS",
    "HESHUN_BBOX",
    "KINDS",
    "Gazetteer",
    "Place",
    "import_geonames",
    "import_main",
    "import_osm_geojson",
    "normalize_name",
    "read_csv",
    "write_csv",
]

KINDS = ("county_seat", "town", "township", "village", "scenic_spot", "trailhead")
_KIND_RANK = {k: i for i, k in enumerate(KINDS)}

#: Default import filter (south, west, north, east): the service-area envelope plus a small margin.
HESHUN_BBOX = (37.0, 113.0, 37.67, 114.03)

CSV_FIELDS = (
    "id",
    "name_zh",
    "name_en",
    "pinyin",
    "kind",
    "latitude",
    "longitude",
    "approximate",
    "aliases",
    "township",
    "source",
)

_DEFAULT_CSV = "gazetteer.csv"

# Administrative/feature suffixes people may or may not type: "义兴镇" == "义兴", "Yixing Town" == "Yixing".
# Longest first so "风景区" wins over "区"-less shorter ones.
_SUFFIXES = (
    "风景名胜区",
    "森林公园",
    "风景区",
    "县城",
    "景区",
    "街道",
    "township",
    "scenicarea",
    "xiancheng",
    "village",
    "county",
    "xiang",
    "town",
    "zhen",
    "xian",
    "cun",
    "镇",
    "乡",
    "村",
    "县",
)


@dataclass(frozen=True)
class Place:
    """A named place.  ``latitude``/``longitude`` are WGS-84, or both None for an unlocated entry."""

    id: str
    name_zh: str
    name_en: str
    pinyin: str
    kind: str
    latitude: float | None
    longitude: float | None
    approximate: bool = True
    aliases: tuple[str, ...] = ()
    township: str | None = None
    source: str = ""
    _keys: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown place kind {self.kind!r} (expected one of {KINDS})")
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError(f"{self.id}: give both latitude and longitude or neither")
        if self.latitude is not None and self.longitude is not None:
            if not (math.isfinite(self.latitude) and math.isfinite(self.longitude)):
                raise ValueError(f"{self.id}: coordinates must be finite")
            if not (-90 <= self.latitude <= 90 and -180 <= self.longitude <= 180):
                raise ValueError(f"{self.id}: coordinates out of range")
        if not self.id:
            raise ValueError("place id must not be empty")
        keys: set[str] = set()
        for name in (self.name_zh, self.name_en, self.pinyin, *self.aliases):
            keys.update(_name_keys(name))
        object.__setattr__(self, "_keys", frozenset(k for k in keys if k))

    @property
    def located(self) -> bool:
        return self.latitude is not None

    @property
    def point(self) -> tuple[float, float] | None:
        if self.latitude is None or self.longitude is None:
            return None
        return self.latitude, self.longitude

    @property
    def display_name(self) -> str:
        return self.name_zh or self.name_en or self.pinyin or self.id

    @property
    def keys(self) -> frozenset[str]:
        """Normalized search keys (names, pinyin, aliases, with and without suffixes)."""
        return self._keys


def normalize_name(text: str) -> str:
    """Case-, width-, tone-mark-, space- and punctuation-insensitive form of a name.

    "Yìxīng" → "yixing", "Yi Xing" → "yixing", "义兴 镇" → "义兴镇", "ＹＩＸＩＮＧ" → "yixing".
    """
    text = unicodedata.normalize("NFKC", text)
    # NFKD splits tone marks off the vowels; dropping combining marks leaves plain pinyin (ü → u).
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return "".join(c for c in text.casefold() if c.isalnum())


def _strip_suffix(key: str) -> str:
    for suffix in _SUFFIXES:
        if key.endswith(suffix) and len(key) - len(suffix) >= (1 if _has_cjk(key) else 2):
            return key[: -len(suffix)]
    return key


def _has_cjk(text: str) -> bool:
    return any("\u3400" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff" for c in text)


def _name_keys(name: str) -> set[str]:
    key = normalize_name(name)
    return {key, _strip_suffix(key)} if key else set()


class Gazetteer:
    """An in-memory list of places with name search and nearest-place lookup."""

    def __init__(self, places: Iterable[Place]) -> None:
        self.places: tuple[Place, ...] = tuple(places)
        ids = [p.id for p in self.places]
        if len(ids) != len(set(ids)):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"duplicate place ids: {dupes}")
        self._by_id = {p.id: p for p in self.places}

    def __len__(self) -> int:
        return len(self.places)

    def __iter__(self) -> Iterator[Place]:
        return iter(self.places)

    def get(self, place_id: str) -> Place | None:
        return self._by_id.get(place_id)

    @classmethod
    def load(cls, path: str | Path) -> Gazetteer:
        """Loads a gazetteer CSV (see :data:`CSV_FIELDS`; ``#`` lines are comments) or GeoJSON file."""
        path = Path(path)
        if path.suffix.lower() in (".geojson", ".json"):
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(_places_from_geojson(data, default_source=path.name))
        with path.open(encoding="utf-8", newline="") as fh:
            return cls(read_csv(fh))

    @classmethod
    def default(cls) -> Gazetteer:
        """The bundled Heshun gazetteer (``bot/data/gazetteer.csv``)."""
        text = resources.files("bot").joinpath("data", _DEFAULT_CSV).read_text(encoding="utf-8")
        return cls(read_csv(io.StringIO(text)))

    def search(self, text: str, *, limit: int = 10) -> list[Place]:
        """Places matching ``text``: exact name/alias/pinyin/English matches, then prefix, then substring.

        Suffixes (镇/乡/村/县, "town", "zhen"...) are optional on both sides; pinyin ignores case, spaces
        and tone marks.  Within a tier, bigger places (county seat, towns) come first.
        """
        raw = normalize_name(text)
        if not raw:
            return []
        queries = {raw, _strip_suffix(raw)}
        # One Latin letter would match half the gazetteer by substring; require two.
        min_partial = 1 if _has_cjk(raw) else 2
        scored: list[tuple[int, int, str, Place]] = []
        for place in self.places:
            tier = None
            if queries & place.keys:
                tier = 0
            elif any(len(q) >= min_partial and any(k.startswith(q) for k in place.keys) for q in queries):
                tier = 1
            elif any(len(q) >= min_partial and any(q in k for k in place.keys) for q in queries):
                tier = 2
            if tier is not None:
                scored.append((tier, _KIND_RANK[place.kind], place.display_name, place))
        scored.sort(key=lambda t: t[:3])
        return [t[3] for t in scored[:limit]]

    def nearest(
        self,
        lat: float,
        lon: float,
        *,
        max_km: float | None = None,
        kinds: Sequence[str] | None = None,
    ) -> tuple[Place, float] | None:
        """The nearest *located* place and its geodesic distance in metres, or None.

        Scans with the fast haversine distance, then re-ranks the few candidates within 1 % of the best
        with the exact geodesic distance (haversine's error is ~0.5 %).
        """
        candidates: list[tuple[float, Place]] = []
        for place in self.places:
            if place.latitude is None or place.longitude is None:
                continue
            if kinds is not None and place.kind not in kinds:
                continue
            candidates.append((haversine_m((lat, lon), (place.latitude, place.longitude)), place))
        if not candidates:
            return None
        best = min(d for d, _ in candidates)
        shortlist = [p for d, p in candidates if d <= best * 1.01 + 1.0]
        exact = sorted(
            ((distance_m((lat, lon), (p.latitude, p.longitude)), p) for p in shortlist),  # type: ignore[arg-type]
            key=lambda t: (t[0], t[1].id),
        )
        dist, place = exact[0]
        if max_km is not None and dist > max_km * 1000.0:
            return None
        return place, dist


# --------------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------------


def _parse_bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "y", "t")


def _parse_coord(value: str | None) -> float | None:
    value = (value or "").strip()
    return float(value) if value else None


def read_csv(fh: TextIO) -> list[Place]:
    """Reads places from gazetteer CSV text; lines whose first character is ``#`` are comments."""
    lines = [line for line in fh if not line.lstrip().startswith("#") and line.strip()]
    reader = csv.DictReader(lines)
    missing = set(CSV_FIELDS) - set(reader.fieldnames or ()) - {"source"}
    if missing:
        raise ValueError(f"gazetteer CSV is missing columns: {sorted(missing)}")
    places = []
    for row in reader:
        places.append(
            Place(
                id=row["id"].strip(),
                name_zh=row["name_zh"].strip(),
                name_en=row["name_en"].strip(),
                pinyin=row["pinyin"].strip(),
                kind=row["kind"].strip(),
                latitude=_parse_coord(row["latitude"]),
                longitude=_parse_coord(row["longitude"]),
                approximate=_parse_bool(row["approximate"]),
                aliases=tuple(a.strip() for a in (row["aliases"] or "").split("|") if a.strip()),
                township=(row["township"] or "").strip() or None,
                source=(row.get("source") or "").strip(),
            )
        )
    return places


_CSV_COMMENT = (
    "# Heshun leopard watch gazetteer. Coordinates are WGS-84 and APPROXIMATE unless approximate=false.\n"
    "# Generated by `leopard-watch import-places`; see bot/gazetteer.py for the format.\n"
)


def write_csv(places: Iterable[Place], out: str | Path | TextIO, *, comment: str = _CSV_COMMENT) -> None:
    """Writes places in the gazetteer CSV format (``aliases`` joined with ``|``)."""
    if isinstance(out, str | Path):
        with Path(out).open("w", encoding="utf-8", newline="") as fh:
            write_csv(places, fh, comment=comment)
        return
    out.write(comment)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for p in places:
        writer.writerow(
            [
                p.id,
                p.name_zh,
                p.name_en,
                p.pinyin,
                p.kind,
                "" if p.latitude is None else f"{p.latitude:.6f}".rstrip("0").rstrip("."),
                "" if p.longitude is None else f"{p.longitude:.6f}".rstrip("0").rstrip("."),
                "true" if p.approximate else "false",
                "|".join(a.replace("|", "/") for a in p.aliases),
                p.township or "",
                p.source,
            ]
        )


# --------------------------------------------------------------------------------------------------
# Importers
# --------------------------------------------------------------------------------------------------


def _in_bbox(lat: float, lon: float, bbox: tuple[float, float, float, float] | None) -> bool:
    if bbox is None:
        return True
    south, west, north, east = bbox
    return south <= lat <= north and west <= lon <= east


def _iter_lines(source: str | Path | Iterable[str]) -> Iterator[str]:
    if isinstance(source, str | Path):
        with Path(source).open(encoding="utf-8") as fh:
            yield from fh
    else:
        yield from source


def _geonames_kind(feature_class: str, feature_code: str) -> str | None:
    if feature_class == "P":
        if feature_code in ("PPLC", "PPLA", "PPLA2", "PPLA3"):
            return "county_seat"
        if feature_code == "PPLA4":
            return "town"
        if feature_code in ("PPLH", "PPLQ", "PPLW"):  # historical/abandoned/destroyed
            return None
        return "village"
    if feature_class == "A":
        return "township" if feature_code == "ADM4" else None
    if feature_class in ("T", "L", "S"):
        return "scenic_spot"
    return None


def import_geonames(
    source: str | Path | Iterable[str],
    *,
    bbox: tuple[float, float, float, float] | None = HESHUN_BBOX,
    country_code: str | None = "CN",
    admin1: str | None = None,
    feature_classes: Sequence[str] = ("P", "A", "T", "L", "S"),
) -> list[Place]:
    """Reads a standard GeoNames dump (``CN.txt``/``allCountries.txt``: tab-separated, 19 columns).

    Columns used: 0 geonameid, 1 name, 2 asciiname, 3 alternatenames (comma-separated), 4 latitude,
    5 longitude, 6 feature class, 7 feature code, 8 country code, 10 admin1 code.  Rows are kept when
    inside ``bbox`` (south, west, north, east) and matching ``country_code``/``admin1`` if given
    (Shanxi is admin1 "24").  GeoNames coordinates are WGS-84 but of uneven precision in China (many
    come from old 1-arc-minute gazetteers), so every imported place is marked approximate.
    """
    places: list[Place] = []
    for line in _iter_lines(source):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.rstrip("\n").split("\t")
        if len(cols) < 11:
            continue
        gid, name, ascii_name, alt, lat_s, lon_s, fclass, fcode, cc = cols[:9]
        if country_code and cc != country_code:
            continue
        if admin1 and cols[10] != admin1:
            continue
        if fclass not in feature_classes:
            continue
        kind = _geonames_kind(fclass, fcode)
        if kind is None:
            continue
        try:
            lat, lon = float(lat_s), float(lon_s)
        except ValueError:
            continue
        if not _in_bbox(lat, lon, bbox):
            continue
        alt_names = [a.strip() for a in alt.split(",") if a.strip()]
        zh_names = [a for a in alt_names if _has_cjk(a)]
        if _has_cjk(name):
            zh_names.insert(0, name)
        name_zh = zh_names[0] if zh_names else ""
        latin = name if not _has_cjk(name) else ascii_name
        unique = dict.fromkeys(a for a in (*zh_names[1:], *alt_names) if a not in (name_zh, latin))
        aliases = tuple(unique)[:12]
        places.append(
            Place(
                id=f"geonames-{gid}",
                name_zh=name_zh,
                name_en=latin,
                pinyin=ascii_name,
                kind=kind,
                latitude=round(lat, 5),
                longitude=round(lon, 5),
                approximate=True,
                aliases=aliases,
                township=None,
                source=f"GeoNames {gid}",
            )
        )
    return places


def _osm_kind(props: dict[str, Any]) -> str | None:
    place = props.get("place")
    if place in ("city", "town"):
        return "town"
    if place in ("village", "hamlet", "isolated_dwelling", "locality", "neighbourhood"):
        return "village"
    if props.get("highway") == "trailhead":
        return "trailhead"
    if (
        props.get("tourism") in ("attraction", "viewpoint", "picnic_site", "camp_site")
        or props.get("natural") in ("peak", "saddle", "cave_entrance", "spring", "valley", "cliff")
        or props.get("leisure") in ("nature_reserve", "park")
        or props.get("boundary") in ("national_park", "protected_area")
    ):
        return "scenic_spot"
    return None


def _places_from_geojson(
    data: dict[str, Any],
    *,
    bbox: tuple[float, float, float, float] | None = None,
    default_source: str = "GeoJSON",
    osm: bool = False,
) -> list[Place]:
    features = data.get("features", []) if data.get("type") == "FeatureCollection" else [data]
    places: list[Place] = []
    for i, feat in enumerate(features):
        geom = feat.get("geometry") or {}
        if geom.get("type") != "Point":
            continue
        lon, lat = (float(c) for c in geom["coordinates"][:2])
        if not _in_bbox(lat, lon, bbox):
            continue
        props = dict(feat.get("properties") or {})
        name = str(props.get("name") or "")
        name_zh = str(props.get("name_zh") or props.get("name:zh") or props.get("name:zh-Hans") or "")
        if not name_zh and _has_cjk(name):
            name_zh = name
        name_en = str(props.get("name_en") or props.get("name:en") or ("" if _has_cjk(name) else name))
        pinyin = str(
            props.get("pinyin") or props.get("name:zh-Latn-pinyin") or props.get("name:zh_pinyin") or ""
        )
        if not (name_zh or name_en or pinyin):
            continue
        kind = str(props["kind"]) if props.get("kind") in KINDS else _osm_kind(props)
        if kind is None:
            continue
        raw_id = props.get("id") or props.get("@id") or feat.get("id") or f"feature-{i}"
        place_id = str(raw_id).replace("/", "-")
        if osm and not place_id.startswith("osm-"):
            place_id = f"osm-{place_id}"
        aliases_raw = props.get("aliases") or props.get("alt_name") or ""
        if isinstance(aliases_raw, str):
            aliases = tuple(a.strip() for a in aliases_raw.replace(";", "|").split("|") if a.strip())
        else:
            aliases = tuple(str(a) for a in aliases_raw)
        approx = props.get("approximate")
        places.append(
            Place(
                id=place_id,
                name_zh=name_zh,
                name_en=name_en,
                pinyin=pinyin,
                kind=kind,
                latitude=lat,
                longitude=lon,
                approximate=bool(approx) if approx is not None else not osm,
                aliases=aliases,
                township=str(props["township"]) if props.get("township") else None,
                source=str(props.get("source") or default_source),
            )
        )
    return places


def import_osm_geojson(
    source: str | Path | dict[str, Any],
    *,
    bbox: tuple[float, float, float, float] | None = HESHUN_BBOX,
) -> list[Place]:
    """Reads Point features from an OSM GeoJSON export (overpass-turbo / osmium export).

    Uses ``name``, ``name:zh``, ``name:en``, ``name:zh-Latn-pinyin``; kind from ``place=*``,
    ``tourism``/``natural``/``leisure`` (scenic spots) and ``highway=trailhead``.  OSM coordinates are
    WGS-84 and node-accurate, so these places are not marked approximate.
    """
    data = source if isinstance(source, dict) else json.loads(Path(source).read_text(encoding="utf-8"))
    return _places_from_geojson(data, bbox=bbox, default_source="OpenStreetMap", osm=True)


def _merge(groups: Iterable[Iterable[Place]]) -> list[Place]:
    """Merges place lists; earlier lists win on equal ids and on the same Chinese name within 2 km."""
    merged: list[Place] = []
    seen_ids: set[str] = set()
    for group in groups:
        for place in group:
            if place.id in seen_ids:
                continue
            duplicate = any(
                other.name_zh
                and other.name_zh == place.name_zh
                and (
                    other.point is None
                    or place.point is None
                    or haversine_m(other.point, place.point) < 2000.0
                )
                for other in merged
            )
            if duplicate:
                continue
            merged.append(place)
            seen_ids.add(place.id)
    return merged


def _parse_bbox(text: str) -> tuple[float, float, float, float]:
    parts = [float(p) for p in text.replace(" ", "").split(",")]
    if len(parts) != 4:
        raise argparse.ArgumentTypeError("bbox must be SOUTH,WEST,NORTH,EAST")
    south, west, north, east = parts
    if not (south < north and west < east):
        raise argparse.ArgumentTypeError("bbox must be SOUTH,WEST,NORTH,EAST with south<north, west<east")
    return south, west, north, east


def import_main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``leopard-watch import-places --geonames CN.txt --osm heshun.geojson -o gazetteer.csv``.

    Returns a process exit code.  The bundled entries are kept first unless ``--no-default`` is given,
    so imports add places without overriding the curated county/township rows.
    """
    parser = argparse.ArgumentParser(
        prog="leopard-watch import-places",
        description="Build a gazetteer CSV from GeoNames dumps and/or OSM GeoJSON exports.",
    )
    parser.add_argument(
        "--geonames", action="append", default=[], metavar="FILE", help="GeoNames dump (.txt)"
    )
    parser.add_argument("--osm", action="append", default=[], metavar="FILE", help="OSM GeoJSON export")
    parser.add_argument(
        "--bbox",
        type=_parse_bbox,
        default=HESHUN_BBOX,
        help="SOUTH,WEST,NORTH,EAST filter (default: around Heshun county)",
    )
    parser.add_argument("--admin1", default=None, help="GeoNames admin1 code filter (Shanxi is 24)")
    parser.add_argument("--no-default", action="store_true", help="do not include the bundled places")
    parser.add_argument("-o", "--output", required=True, help="output CSV path ('-' for stdout)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help / bad args; return its code instead
        return int(exc.code or 0)

    groups: list[list[Place]] = []
    if not args.no_default:
        groups.append(list(Gazetteer.default()))
    try:
        for path in args.osm:
            groups.append(import_osm_geojson(path, bbox=args.bbox))
        for path in args.geonames:
            groups.append(import_geonames(path, bbox=args.bbox, admin1=args.admin1))
    except (OSError, ValueError, KeyError) as exc:
        print(f"import-places: {exc}", file=sys.stderr)
        return 1
    places = _merge(groups)
    if args.output == "-":
        write_csv(places, sys.stdout)
    else:
        write_csv(places, args.output)
    print(f"import-places: wrote {len(places)} places", file=sys.stderr)
    return 0
