"""Place names for Heshun: lookup by Chinese/pinyin/English name, nearest place ("≈ 2.3 km NE of 义兴镇"),
and importers.

The bundled ``bot/data/gazetteer.csv`` holds the county seat and the current townships.  Coordinates are
only given where a public source was found, rounded to 0.01° and marked ``approximate``; entries without
a trustworthy coordinate are kept *unlocated* (``latitude``/``longitude`` empty) so name search still
works but they are never used to place a sighting.  Better data can be imported from a GeoNames dump or
an OSM GeoJSON export with :func:`import_main` (wired to ``leopard-watch import-places``).
"""

from __future__ import annotations

import argparse
import csv
import difflib
import functools
import io
import json
import math
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import zhconv
from pypinyin import Style, lazy_pinyin

from bot.geo import bearing_deg, compass_point, distance_m, haversine_m

__all__ = [
    "CSV_FIELDS",
    "HESHUN_BBOX",
    "KINDS",
    "Gazetteer",
    "NameMatch",
    "Place",
    "RelativePlace",
    "TOWNSHIP_KINDS",
    "describe_relative",
    "import_geonames",
    "import_main",
    "import_osm_geojson",
    "normalize_name",
    "read_csv",
    "write_csv",
]

KINDS = ("county_seat", "town", "township", "village", "scenic_spot", "trailhead")
_KIND_RANK = {k: i for i, k in enumerate(KINDS)}
#: Kinds that are one of the county's 8 township-level divisions (the county seat is 义兴镇).
TOWNSHIP_KINDS = ("county_seat", "town", "township")

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
#: The county's 183 village-level units with their official codes and townships (names, not points).
_VILLAGES_CSV = "heshun_villages.csv"

# Administrative/feature suffixes people may or may not type: "义兴镇" == "义兴", "Yixing Town" == "Yixing".
# Longest first so "风景区" wins over "区"-less shorter ones.
_SUFFIXES = (
    "风景名胜区",
    "森林公园",
    "风景区",
    "县城",
    "景区",
    "社区",
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
    if _has_cjk(text):
        # Traditional characters (許村, 鬆煙鎮) are the same names: compare in simplified form.
        text = zhconv.convert(text, "zh-cn")
    # NFKD splits tone marks off the vowels; dropping combining marks leaves plain pinyin (ü → u).
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = "".join(c for c in text.casefold() if c.isalnum())
    # Tone numbers of numbered pinyin ("xu3cun1") are not part of a name; CJK names never hold digits.
    return text if _has_cjk(text) or not re.search(r"[a-z]", text) else re.sub(r"[0-9]", "", text)


def _strip_suffix(key: str) -> str:
    for suffix in _SUFFIXES:
        if key.endswith(suffix) and len(key) - len(suffix) >= (1 if _has_cjk(key) else 2):
            return key[: -len(suffix)]
    return key


def _has_cjk(text: str) -> bool:
    return any("\u3400" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff" for c in text)


def _name_keys(name: str) -> set[str]:
    key = normalize_name(name)
    if not key:
        return set()
    keys = {key, _strip_suffix(key)}
    if _has_cjk(key):
        # Pinyin typed without tones or spaces ("xucun", "Xǔ cūn") finds the Chinese name.
        keys |= {_to_pinyin(k) for k in tuple(keys)}
    # pinyin writes ü as "v" (nv) or, without its dots, as "u" (nü → nu): both are typed.
    keys |= {k.replace("v", "u") for k in keys if k.isascii()}
    return keys


@functools.lru_cache(maxsize=4096)
def _to_pinyin(text: str) -> str:
    """Toneless pinyin of Chinese text, no spaces ("许村" → "xucun"); other characters kept."""
    return "".join(lazy_pinyin(text, style=Style.NORMAL, errors="default")).casefold()


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
        """The bundled Heshun gazetteer: ``gazetteer.csv`` (county seat, the 8 townships, scenic spots)
        and the 183 village-level units of ``heshun_villages.csv`` (names and townships, no points)."""
        text = resources.files("bot").joinpath("data", _DEFAULT_CSV).read_text(encoding="utf-8")
        villages = resources.files("bot").joinpath("data", _VILLAGES_CSV).read_text(encoding="utf-8")
        return cls([*read_csv(io.StringIO(text)), *read_villages(io.StringIO(villages))])

    def with_points(self, points: dict[str, tuple[float, float]]) -> Gazetteer:
        """This gazetteer with some places located (points staff taught: id → (lat, lon), WGS-84)."""
        if not points:
            return self
        return Gazetteer(
            p if p.id not in points else _replace_point(p, *points[p.id]) for p in self.places
        )

    def townships(self) -> list[Place]:
        """The county's 8 township-level divisions (the county seat row stands for 义兴镇)."""
        return [p for p in self.places if p.kind in TOWNSHIP_KINDS]

    def township_of_place(self, place: Place) -> Place | None:
        """The township-level division a place belongs to (itself for a township; 城区 is in 义兴镇)."""
        if place.kind in TOWNSHIP_KINDS:
            return place
        name = place.township
        if not name:
            return None
        for town in self.townships():
            if name in (town.name_zh, *town.aliases):
                return town
        return None

    def lookup(self, text: str, *, limit: int = 6) -> NameMatch | None:
        """Recognises a township, village or spot named in ``text``; None when nothing is close.

        Tries, in order: the whole text as a name (full or short, with or without 村/镇/乡, pinyin with
        or without tones, traditional characters); names inside a sentence ("在松烟镇许村后山看到的",
        a township named next to a village narrows a shared village name); then near-misses (one
        character off, a homophone, a misspelt pinyin) as a "did you mean" list (``exact`` False).
        A name shared by several places returns them all (``exact`` True): ask which.
        """
        raw = normalize_name(text)
        if not raw:
            return None
        # The name as typed first ("松烟镇" is the town, not 松烟村), then without its suffix ("松烟": both).
        exact = [p for p in self.places if raw in p.keys]
        if not exact:
            exact = [p for p in self.places if _strip_suffix(raw) in p.keys]
        if exact:
            return NameMatch(tuple(self._rank(exact)[:limit]), exact=True)
        inside = self._in_sentence(text)
        if inside:
            return NameMatch(tuple(inside[:limit]), exact=True)
        near = self._near_misses(raw, limit=limit)
        return NameMatch(tuple(near), exact=False) if near else None

    @staticmethod
    def _rank(places: Iterable[Place]) -> list[Place]:
        return sorted(places, key=lambda p: (_KIND_RANK[p.kind], p.township or "", p.display_name))

    @functools.cached_property
    def _sentence_keys(self) -> dict[str, list[Place]]:
        """Keys worth finding inside a sentence: Chinese ones of 2+ characters, pinyin of 4+ letters."""
        out: dict[str, list[Place]] = {}
        for place in self.places:
            for key in place.keys:
                if (len(key) >= 2 and _has_cjk(key)) or (len(key) >= 4 and key.isascii()):
                    out.setdefault(key, []).append(place)
        return out

    def _in_sentence(self, text: str) -> list[Place]:
        """Places named somewhere in a sentence, the most specific first."""
        simplified = unicodedata.normalize("NFKC", text)
        if _has_cjk(simplified):
            simplified = zhconv.convert(simplified, "zh-cn")
        cjk = "".join(c for c in simplified.casefold() if c.isalnum())
        # Latin words: a name may span words ("song yan zhen"), so test runs of consecutive words.
        # Tone marks go first ("Xǔcūn" → "xucun"); what is still not Latin is Chinese, matched above.
        found_words = (normalize_name(w) for w in re.findall(r"[^\W\d_]+[0-9]?", simplified))
        words = [w for w in found_words if w.isascii()]
        runs = {
            "".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, min(len(words), i + 6) + 1)
        }
        spans: list[tuple[int, int, str]] = []  # (start, end, key) of each mention in the Chinese text
        latin: list[str] = []
        for key in self._sentence_keys:
            if key.isascii():
                if key in runs:
                    latin.append(key)
                continue
            start = cjk.find(key)
            while start >= 0:
                spans.append((start, start + len(key), key))
                start = cjk.find(key, start + 1)
        # A mention inside a longer one at the same place ("许村" in "许村村") is that longer mention.
        kept = [s for s in spans if not any(o != s and o[0] <= s[0] and s[1] <= o[1] for o in spans)]
        keys = {k for _, _, k in kept} | {k for k in latin if not any(k != o and k in o for o in latin)}
        if not keys:
            return []
        found = self._sentence_keys
        places = {p.id: p for k in keys for p in found[k]}
        towns = {p.name_zh for p in places.values() if p.kind in TOWNSHIP_KINDS}
        finer = [p for p in places.values() if p.kind not in TOWNSHIP_KINDS]
        if finer:
            narrowed = [p for p in finer if p.township in towns] if towns else finer
            return self._rank(narrowed or finer)
        return self._rank(places.values())

    def _near_misses(self, raw: str, *, limit: int) -> list[Place]:
        """Close names: same pinyin (a homophone), one Chinese character off, or similar pinyin."""
        query = _strip_suffix(raw)
        scored: list[tuple[float, Place]] = []
        spoken = {_to_pinyin(q) if _has_cjk(q) else q for q in (raw, query)}
        # One matcher per spoken form: SequenceMatcher caches its second sequence, and the cheap
        # upper bounds skip most keys before the full ratio (a text naming nothing checks them all).
        matchers = []
        for said in (q for q in spoken if len(q) >= 3):
            matcher = difflib.SequenceMatcher(None, autojunk=False)
            matcher.set_seq2(said)
            matchers.append((said, matcher))
        for place in self.places:
            best = 0.0
            for key in place.keys:
                if _has_cjk(query) and _has_cjk(key):
                    for typed in {raw, query}:
                        if len(key) != len(typed) or len(key) < 2:
                            continue
                        same = sum(a == b for a, b in zip(key, typed, strict=True))
                        # Two characters share little: only a slip in the second ("许材" for 许村),
                        # not any word ending like a village ("地里" is not 会里村).
                        if same == len(key) - 1 and (len(key) > 2 or key[0] == typed[0]):
                            best = max(best, 0.9)
                elif key.isascii():
                    for said, matcher in matchers:
                        if key == said:
                            best = max(best, 0.95)
                            continue
                        if 2 * min(len(key), len(said)) < 0.8 * (len(key) + len(said)):
                            continue  # lengths alone rule out a ratio of 0.8
                        matcher.set_seq1(key)
                        if matcher.quick_ratio() >= 0.8 and (ratio := matcher.ratio()) >= 0.8:
                            best = max(best, ratio * 0.9)
            if best:
                scored.append((best, place))
        scored.sort(key=lambda t: (-t[0], _KIND_RANK[t[1].kind], t[1].display_name))
        return [p for _, p in scored[:limit]]

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


@dataclass(frozen=True)
class NameMatch:
    """What :meth:`Gazetteer.lookup` recognised.

    ``exact`` True: ``places`` are what the text names (one: recognised; several: a shared name or
    several places in one sentence — ask which).  ``exact`` False: near-misses, to offer as
    "did you mean" — never to use without the person choosing.
    """

    places: tuple[Place, ...]
    exact: bool


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


def _replace_point(place: Place, lat: float, lon: float) -> Place:
    return Place(
        id=place.id,
        name_zh=place.name_zh,
        name_en=place.name_en,
        pinyin=place.pinyin,
        kind=place.kind,
        latitude=lat,
        longitude=lon,
        approximate=True,
        aliases=place.aliases,
        township=place.township,
        source=place.source,
    )


# --------------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------------


def read_villages(fh: TextIO) -> list[Place]:
    """Village-level units from ``heshun_villages.csv`` (NBS codes; no coordinates in any source).

    Rows without a 12-digit code (the county-seat points) are skipped: ``gazetteer.csv`` has the seat.
    """
    places = []
    for row in csv.DictReader(fh):
        code = (row.get("code") or "").strip()
        if len(code) != 12:
            continue
        name = row["name_zh"].strip()
        short = [a.strip() for a in (row.get("alt_names") or "").split(";") if a.strip()]
        pinyin = (row.get("pinyin") or "").strip()
        places.append(
            Place(
                id=code,
                name_zh=name,
                name_en="",  # no English name: English readers see the Chinese one, as on the signs
                pinyin=pinyin,
                kind="village",
                latitude=None,
                longitude=None,
                approximate=True,
                aliases=tuple(short),
                township=(row.get("township_zh") or "").strip() or None,
                source="NBS 2023 statistical division code " + code,
            )
        )
    return places


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
