"""Grouping reports into incidents: the rules, the match predicate, and the choice among candidates.

Plain Python (no Telegram, no SQL): :mod:`bot.store` fetches candidates through its spatial index
and asks this module which incident, if any, a new report belongs to.

The rules, per new report P and an incident I:

* **Kinds.** Only kinds of the same group meet: sightings and signs (one leopard leaves both),
  livestock kills with kills (the compensation desk), tips with tips (enforcement; a tip never
  shares a card with a public sighting).
* **Place and time.** P matches I when, against I's *anchor* (below),
  ``distance ≤ radius + min(accP, cap) + min(accI, cap)`` and ``|Δt| ≤ window``, where radius and
  window are the larger of the two kinds' settings (a sign found two days after a sighting at the
  same spot is the same leopard). Accuracy is capped (default 2 km) so a ±5 km fix cannot swallow
  half the county; an unknown accuracy counts as 0 (the point is taken at its word).
* **Photos.** A photo of P that is byte-identical (SHA-256) or a near copy (perceptual-hash Hamming
  distance ≤ ``phash_max_distance``) of a photo already in I matches at *any* distance: it is the
  same camera-trap picture forwarded around the villages. Kinds must still be in one group, and
  the two reports must be within ``photo_window`` of each other (a photo recycled years later is a
  hoax or a reminder, not the same event).
* **Choice.** A photo match wins over place-and-time (exact before near, then fewer differing
  bits); otherwise the nearest anchor wins; exact ties go to the older incident. Every other
  incident P matched becomes a merge suggestion for staff: P joins one incident, never two.

**Anti-chaining.** An incident is matched only through its *anchor*: the point, time, accuracy and
kind of its first report, fixed when the incident is created. If matching used the nearest member
instead, a line of reports 900 m apart would grow one incident across the county; with a fixed
anchor an incident's reports all lie within ``radius + 2·cap`` of one point. (Staff decisions move
anchors: a merged incident's anchor keeps pointing at the incident it was merged into, and splitting
out an incident's first report re-anchors it on its earliest remaining report.)

**Order dependence.** Because the anchor is whichever report came first, the partition can depend
on arrival order when reports are spread wider than one radius. Sightings A, B, C on a line
800 m apart (radius 1 km): arriving A, B, C gives {A, B} {C} (C is 1.6 km from anchor A); arriving
B, A, C gives {A, B, C} (both are 800 m from anchor B). The partition *is* independent of order
when each group is tight (every pair within range) and groups are apart (no report within range of
another group's reports) — the case of twenty people reporting one leopard. The merge suggestions
are how staff repair the rest.

Distances are haversine on the mean-radius sphere (fast, pure arithmetic) rather than geodesic on
the WGS-84 ellipsoid: at these latitudes and distances of a few km the two differ by well under
0.5 % (a few metres per kilometre), far below GPS error and the looseness of the radii themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.geo import haversine_m
from bot.photos import hamming
from bot.report import Kind

# Haversine's sphere (bot/geo.py uses the same mean radius), for turning metres into degrees.
_EARTH_RADIUS_M = 6371008.8
# Float slack added to search boxes (~1 cm) so rounding can never drop a point on the boundary.
_BOX_SLACK_DEG = 1e-7
# The anchor grid (see grid_cell); changing it needs a migration that recomputes incidents.anchor_cell.
_CELLS_PER_DEGREE = 100
_GRID_COLUMNS = 360 * _CELLS_PER_DEGREE + 1
# Observed times are stored with their offset; a naive one is read in the county's own zone.
_COUNTY_TZ = ZoneInfo("Asia/Shanghai")

# A 64-bit perceptual hash is indexed as four 16-bit bands. If two hashes differ in at most 7
# bits, at least one band differs in at most 1 bit (pigeonhole: four bands with ≥ 2 each is ≥ 8),
# so probing each band's exact value plus its 16 one-bit neighbours finds every near copy.
PHASH_BANDS = 4
PHASH_BAND_BITS = 16
MAX_INDEXED_PHASH_DISTANCE = 7


@dataclass(frozen=True)
class KindRule:
    """How close in place and time two reports must be to describe the same event."""

    radius_m: float
    window: timedelta


DEFAULT_KIND_RULES: Mapping[str, KindRule] = {
    Kind.SIGHTING: KindRule(1000.0, timedelta(hours=6)),
    Kind.SIGNS: KindRule(500.0, timedelta(hours=72)),
    Kind.LIVESTOCK: KindRule(500.0, timedelta(hours=48)),
    Kind.TIP: KindRule(300.0, timedelta(days=7)),
}

DEFAULT_KIND_GROUPS: Mapping[str, str] = {
    Kind.SIGHTING: "leopard",
    Kind.SIGNS: "leopard",
    Kind.LIVESTOCK: "livestock",
    Kind.TIP: "tip",
}


@dataclass(frozen=True)
class DedupeRules:
    """The settings of deduplication; the defaults are the ones the bot runs with."""

    kinds: Mapping[str, KindRule] = field(default_factory=lambda: dict(DEFAULT_KIND_RULES))
    groups: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_KIND_GROUPS))
    phash_max_distance: int = 6
    accuracy_cap_m: float = 2000.0
    photo_window: timedelta = timedelta(days=30)

    def __post_init__(self) -> None:
        if set(self.kinds) != set(self.groups):
            raise ValueError("every kind needs both a rule and a group")
        for kind, rule in self.kinds.items():
            if rule.radius_m <= 0 or rule.window <= timedelta(0):
                raise ValueError(f"{kind}: radius and window must be positive")
        if not 0 <= self.phash_max_distance <= MAX_INDEXED_PHASH_DISTANCE:
            raise ValueError(f"phash_max_distance must be 0..{MAX_INDEXED_PHASH_DISTANCE} (the band index)")
        if self.accuracy_cap_m < 0 or self.photo_window <= timedelta(0):
            raise ValueError("accuracy_cap_m must be >= 0 and photo_window positive")

    def group_kinds(self, kind: str) -> tuple[str, ...]:
        """The kinds a report of `kind` may share an incident with (itself included), sorted."""
        group = self.groups[kind]
        return tuple(sorted(k for k, g in self.groups.items() if g == group))

    def compatible(self, a: str, b: str) -> bool:
        return self.groups[a] == self.groups[b]

    def radius_m(self, a: str, b: str) -> float:
        """The larger radius: symmetric, so whether P matches Q never depends on which came first."""
        return max(self.kinds[a].radius_m, self.kinds[b].radius_m)

    def window_s(self, a: str, b: str) -> float:
        return max(self.kinds[a].window, self.kinds[b].window).total_seconds()

    def capped(self, accuracy_m: float | None) -> float:
        return min(accuracy_m or 0.0, self.accuracy_cap_m)

    def reach_m(self, kind: str, accuracy_m: float | None) -> float:
        """How far from a report any matching anchor can be: the largest radius of its group plus
        both (capped) accuracies, the anchor's taken at the cap since the index stores bare points."""
        radius = max(self.kinds[k].radius_m for k in self.group_kinds(kind))
        return radius + self.capped(accuracy_m) + self.accuracy_cap_m

    def reach_s(self, kind: str) -> float:
        """How far apart in time any matching anchor can be (the group's longest window)."""
        return max(self.kinds[k].window for k in self.group_kinds(kind)).total_seconds()


DEFAULT_RULES = DedupeRules()


class Located(Protocol):
    """A report's fix as the matcher sees it (a new report, an earlier one, or an anchor)."""

    @property
    def kind(self) -> str: ...
    @property
    def latitude(self) -> float: ...
    @property
    def longitude(self) -> float: ...
    @property
    def accuracy_m(self) -> float | None: ...
    @property
    def observed_s(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Probe:
    """A report being submitted: where, when, what, who, and its photos' hashes (unsigned)."""

    kind: str
    latitude: float
    longitude: float
    accuracy_m: float | None
    observed_s: float  # epoch seconds; see epoch_seconds()
    reporter_key: str | None = None  # None for an anonymous tip: never "the same person"
    sha256s: frozenset[str] = frozenset()
    phashes: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Candidate:
    """An incident's anchor (or an earlier report), with the live incident it belongs to."""

    incident_id: int  # the live incident (a merged incident's anchor points at its target)
    report_id: int | None
    kind: str
    latitude: float
    longitude: float
    accuracy_m: float | None
    observed_s: float


@dataclass(frozen=True, slots=True)
class PhotoCandidate:
    """A stored photo whose hash may equal or nearly equal one of the probe's."""

    incident_id: int
    kind: str
    observed_s: float
    sha256: str
    phash: int | None  # unsigned


class MatchReason(StrEnum):
    NEW = "new"  # no incident matched: the report starts one and becomes its anchor
    PHOTO_EXACT = "photo_exact"
    PHOTO_SIMILAR = "photo_similar"
    NEARBY = "nearby"
    SAME_REPORTER = "same_reporter"  # the reporter's earlier report of the same thing was updated
    SAME_PLACE = "same_place"  # a named place without a point: the same village within the time window
    STAFF_SPLIT = "staff_split"  # set on a report staff moved into its own incident


@dataclass(frozen=True, slots=True)
class Match:
    """One incident a probe matched, with how strongly."""

    incident_id: int
    distance_m: float | None = None  # to the nearest matching anchor
    hamming: int | None = None  # 0 for an exact (SHA-256) duplicate


@dataclass(frozen=True)
class Decision:
    """Which incident a new report joins (None: it starts a new one) and what else it matched."""

    incident_id: int | None
    reason: MatchReason
    distance_m: float | None = None
    hamming: int | None = None
    merge_suggestions: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchBox:
    """A degree box and time range that contain every anchor a probe could match."""

    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float
    min_s: float
    max_s: float


def epoch_seconds(moment: datetime) -> float:
    """Seconds since the epoch; a naive time is taken as county time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_COUNTY_TZ)
    return moment.timestamp()


def distance_m(a: Located, b: Located) -> float:
    # Haversine, not geopy's geodesic: ~50× faster on this hot path, and within 0.5 % of it at a few km.
    return haversine_m((a.latitude, a.longitude), (b.latitude, b.longitude))


def matches(a: Located, b: Located, rules: DedupeRules,
            distance: Callable[[Located, Located], float] = distance_m) -> float | None:
    """The distance between two fixes when they may describe the same event, else None.

    Symmetric in `a` and `b`: compatible kinds, |Δt| within the larger window, and distance within
    the larger radius plus both capped accuracies. (`distance` is replaceable so the benchmark can
    check the same rule with geodesic distances.)
    """
    if not rules.compatible(a.kind, b.kind):
        return None
    if abs(a.observed_s - b.observed_s) > rules.window_s(a.kind, b.kind):
        return None
    d = distance(a, b)
    limit = rules.radius_m(a.kind, b.kind) + rules.capped(a.accuracy_m) + rules.capped(b.accuracy_m)
    return d if d <= limit else None


def search_box(probe: Located, rules: DedupeRules) -> SearchBox:
    """The box (degrees, seconds) holding every anchor `probe` can match: a superset, never less.

    On the sphere a cap of angular radius δ around latitude φ spans ±δ in latitude and
    ±asin(sin δ / cos φ) in longitude; near a pole the box covers all longitudes. It does not wrap
    round ±180° (the county is at 113°E).
    """
    delta = rules.reach_m(probe.kind, probe.accuracy_m) / _EARTH_RADIUS_M
    dlat = math.degrees(delta) + _BOX_SLACK_DEG
    phi = math.radians(probe.latitude)
    ratio = math.sin(delta) / math.cos(phi) if abs(probe.latitude) + dlat < 90 else 2.0
    if ratio >= 1:
        min_lon, max_lon = -180.0, 180.0
    else:
        dlon = math.degrees(math.asin(ratio)) + _BOX_SLACK_DEG
        min_lon, max_lon = probe.longitude - dlon, probe.longitude + dlon
    dt = rules.reach_s(probe.kind)
    return SearchBox(
        max(-90.0, probe.latitude - dlat), min(90.0, probe.latitude + dlat),
        min_lon, max_lon, probe.observed_s - dt, probe.observed_s + dt,
    )


def grid_cell(latitude: float, longitude: float) -> int:
    """The 0.01° grid cell (about 1.1 × 0.9 km here) holding a point, as one integer.

    Offsetting to non-negative values makes truncation equal floor, in Python and in SQLite's
    CAST alike (migration 2 backfills with the same arithmetic); both are monotonic in floating
    point, so every point inside a box lies in one of :func:`grid_cells` of that box.
    """
    return _grid_row(latitude) * _GRID_COLUMNS + _grid_column(longitude)


def grid_cells(box: SearchBox) -> list[int]:
    """Every grid cell a box touches (a few dozen for the default rules)."""
    rows = range(_grid_row(box.min_lat), _grid_row(box.max_lat) + 1)
    columns = range(_grid_column(box.min_lon), _grid_column(box.max_lon) + 1)
    return [r * _GRID_COLUMNS + c for r in rows for c in columns]


def _grid_row(latitude: float) -> int:
    return int((latitude + 90) * _CELLS_PER_DEGREE)


def _grid_column(longitude: float) -> int:
    return int((longitude + 180) * _CELLS_PER_DEGREE)


def phash_bands(value: int) -> tuple[int, ...]:
    """The four 16-bit bands of a 64-bit hash, lowest first (the store indexes the same bands)."""
    mask = (1 << PHASH_BAND_BITS) - 1
    return tuple((value >> (PHASH_BAND_BITS * i)) & mask for i in range(PHASH_BANDS))


def band_probes(phashes: Iterable[int]) -> tuple[list[int], ...]:
    """For each band, the values a near copy of any of `phashes` may have there (exact ± one bit)."""
    probes: tuple[set[int], ...] = tuple(set() for _ in range(PHASH_BANDS))
    for value in phashes:
        for band, bits in zip(probes, phash_bands(value), strict=True):
            band.add(bits)
            band.update(bits ^ (1 << i) for i in range(PHASH_BAND_BITS))
    return tuple(sorted(band) for band in probes)


def spatial_matches(probe: Located, anchors: Iterable[Candidate], rules: DedupeRules) -> list[Match]:
    """Incidents whose anchor matches `probe`, nearest first (one entry per live incident)."""
    best: dict[int, float] = {}
    for anchor in anchors:
        d = matches(probe, anchor, rules)
        if d is not None and d < best.get(anchor.incident_id, math.inf):
            best[anchor.incident_id] = d
    ranked = sorted(best.items(), key=lambda item: (item[1], item[0]))
    return [Match(incident_id, distance_m=d) for incident_id, d in ranked]


def photo_matches(probe: Probe, photos: Iterable[PhotoCandidate], rules: DedupeRules) -> list[Match]:
    """Incidents holding an exact or near copy of one of the probe's photos, closest copy first."""
    window = rules.photo_window.total_seconds()
    best: dict[int, int] = {}
    for photo in photos:
        if not rules.compatible(probe.kind, photo.kind) or abs(photo.observed_s - probe.observed_s) > window:
            continue
        if photo.sha256 in probe.sha256s:
            bits = 0
        elif photo.phash is not None and probe.phashes:
            bits = min(hamming(photo.phash, mine) for mine in probe.phashes)
            if bits > rules.phash_max_distance:
                continue
        else:
            continue
        if bits < best.get(photo.incident_id, 65):
            best[photo.incident_id] = bits
    ranked = sorted(best.items(), key=lambda item: (item[1], item[0]))
    return [Match(incident_id, hamming=bits) for incident_id, bits in ranked]


def decide(nearby: Sequence[Match], by_photo: Sequence[Match]) -> Decision:
    """The incident to join: the closest photo copy, else the nearest anchor, else a new incident.

    Both lists come sorted best first (see :func:`spatial_matches`, :func:`photo_matches`).
    """
    if by_photo:
        chosen = by_photo[0]
        reason = MatchReason.PHOTO_EXACT if chosen.hamming == 0 else MatchReason.PHOTO_SIMILAR
        distance = next((m.distance_m for m in nearby if m.incident_id == chosen.incident_id), None)
        chosen = Match(chosen.incident_id, distance, chosen.hamming)
    elif nearby:
        chosen, reason = nearby[0], MatchReason.NEARBY
    else:
        return Decision(None, MatchReason.NEW)
    others = {m.incident_id for m in (*nearby, *by_photo)} - {chosen.incident_id}
    return Decision(chosen.incident_id, reason, chosen.distance_m, chosen.hamming, tuple(sorted(others)))


def same_report(probe: Probe, earlier: Iterable[Candidate], rules: DedupeRules) -> Candidate | None:
    """The reporter's own earlier report of the same thing, if any: same person and kind, matched
    against that report's own fix; the nearest (then closest in time, then oldest) wins.

    Such a submission updates the earlier report rather than adding a report, so one person
    can never corroborate themself.
    """
    if probe.reporter_key is None:
        return None
    found = [
        (d, abs(c.observed_s - probe.observed_s), c.report_id or 0, c)
        for c in earlier
        if c.kind == probe.kind and (d := matches(probe, c, rules)) is not None
    ]
    return min(found, key=lambda f: f[:3])[3] if found else None
