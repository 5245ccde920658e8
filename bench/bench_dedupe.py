"""Benchmark for incident lookup (a script, not a test): ``python bench/bench_dedupe.py [--rows N]``.

Builds a temporary SQLite file with the store's own migrations, bulk-loads N reports (default one
million) spread uniformly over Heshun county and ten years through :func:`bench.bulk.bulk_load` (a third
of them with a photo), then prints, with PASS/MISS against the targets:

* bulk-load time (target < 60 s; the synthetic rows are generated beforehand) and database size;
* p50/p99 of :func:`bench.bulk.find_incident_sync` — the SQL and decision the store runs on every
  submission: grid-cell anchor search plus the photo-hash lookup when the probe has photos
  (targets ≤ 1 ms / ≤ 5 ms);
* brute force over the same rows, on probes half of which match something: a WGS-84 geodesic
  distance (Karney's algorithm, as in geopy) for every row, on a few probes since each takes over a
  minute; and a plain Python scan applying the very same rule (kind and time checked first,
  haversine), the fastest honest brute force. The speed-up target (≥ 100×) is judged against the
  faster of the two. Each answer is compared with the index's; geodesic and haversine can only
  disagree for an anchor within a few metres of its limit;
* peak RSS of the process.
"""

from __future__ import annotations

import argparse
import math
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from geographiclib.geodesic import Geodesic

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bulk import BulkReport, bulk_load, find_incident_sync, nearby_incidents_sync  # noqa: E402
from bot.dedupe import (  # noqa: E402 - after the sys.path tweak, so the script runs from anywhere
    DEFAULT_RULES,
    Candidate,
    Located,
    MatchReason,
    Probe,
    matches,
    spatial_matches,
)
from bot.report import Kind  # noqa: E402
from bot.store import MIGRATIONS  # noqa: E402

SOUTH, NORTH, WEST, EAST = 37.0, 37.6, 113.1, 113.9
START = datetime(2016, 1, 1, tzinfo=UTC)
SPAN_S = 10 * 365.25 * 86400
KINDS = (Kind.SIGHTING, Kind.SIGNS, Kind.LIVESTOCK, Kind.TIP)
KIND_WEIGHTS = (0.4, 0.3, 0.2, 0.1)
ACCURACIES = (5.0, 10.0, 20.0, 50.0, 100.0, 500.0, 3000.0)
ACCURACY_WEIGHTS = (0.2, 0.3, 0.2, 0.15, 0.1, 0.04, 0.01)
PHOTO_SHARE = 1 / 3
T = TypeVar("T")

_ALL_ANCHORS = (
    "SELECT COALESCE(merged_into, id), anchor_report_id, anchor_kind, anchor_latitude, anchor_longitude,"
    " anchor_accuracy_m, anchor_observed_s FROM incidents"
)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def synthetic(n: int, seed: int) -> tuple[Iterator[BulkReport], list[Probe]]:
    """N reports in time order (as an archive would be), and the stored photos' (kind, time, phash)."""
    rng = np.random.default_rng(seed)
    lat = rng.uniform(SOUTH, NORTH, n)
    lon = rng.uniform(WEST, EAST, n)
    offsets = np.sort(rng.uniform(0, SPAN_S, n))
    kinds = rng.choice(len(KINDS), n, p=KIND_WEIGHTS)
    accuracy = rng.choice(ACCURACIES, n, p=ACCURACY_WEIGHTS)
    reporters = rng.integers(1, 50_000, n)
    has_photo = rng.random(n) < PHOTO_SHARE
    # Full 64-bit hashes (the top bit set in half of them, as real ones are).
    phashes = rng.integers(0, 1 << 63, n, dtype=np.uint64) * np.uint64(2)
    phashes += rng.integers(0, 2, n, dtype=np.uint64)

    def rows() -> Iterator[BulkReport]:
        columns = zip(lat.tolist(), lon.tolist(), offsets.tolist(), kinds.tolist(), accuracy.tolist(),
                      reporters.tolist(), has_photo.tolist(), phashes.tolist(), strict=True)
        for i, (la, lo, offset, k, acc, who, photo, phash) in enumerate(columns):
            kind = KINDS[k]
            seen = START + timedelta(seconds=offset)
            yield BulkReport(
                kind=kind, latitude=la, longitude=lo, accuracy_m=acc, observed_at=seen,
                submitted_at=seen + timedelta(hours=2), reporter_id=None if kind is Kind.TIP else who,
                photos=((f"{i:064x}", phash),) if photo else (),
            )

    sample = rng.choice(np.flatnonzero(has_photo), min(10_000, int(has_photo.sum())), replace=False)
    photographed = [
        Probe(KINDS[k], 0.0, 0.0, None, START.timestamp() + s, phashes=(h,))
        for k, s, h in zip(kinds[sample].tolist(), offsets[sample].tolist(), phashes[sample].tolist(),
                           strict=True)
    ]
    return rows(), photographed


def generate(n: int, seed: int) -> tuple[list[BulkReport], list[Probe]]:
    rows, photographed = synthetic(n, seed)
    return list(rows), photographed


def probes(n: int, seed: int, photographed: list[Probe]) -> list[Probe]:
    """Lookups like real submissions: a third carry a photo, and half of those are a re-encoded copy
    (3 bits off) of a stored photo of the same kind, sent within three days of it."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        kind: str = rnd.choices(KINDS, KIND_WEIGHTS)[0]
        observed_s = START.timestamp() + rnd.uniform(0, SPAN_S)
        phashes: tuple[int, ...] = ()
        if rnd.random() < PHOTO_SHARE:
            if rnd.random() < 0.5 and photographed:
                copied = rnd.choice(photographed)
                kind, observed_s = copied.kind, copied.observed_s + rnd.uniform(-3, 3) * 86400
                value = copied.phashes[0]
                for bit in rnd.sample(range(64), 3):
                    value ^= 1 << bit
            else:
                value = rnd.getrandbits(64)
            phashes = (value,)
        out.append(Probe(
            kind=kind, latitude=rnd.uniform(SOUTH, NORTH), longitude=rnd.uniform(WEST, EAST),
            accuracy_m=rnd.choices(ACCURACIES, ACCURACY_WEIGHTS)[0], observed_s=observed_s,
            sha256s=frozenset({f"{rnd.getrandbits(256):064x}"}) if phashes else frozenset(), phashes=phashes,
        ))
    return out


def geodesic_m(a: Located, b: Located) -> float:
    """WGS-84 geodesic distance by Karney's algorithm: what geopy.distance.geodesic computes, called
    directly (geopy's wrapper adds ~40 % to an already slow 90 µs here)."""
    line = Geodesic.WGS84.Inverse(a.latitude, a.longitude, b.latitude, b.longitude, Geodesic.DISTANCE)
    return float(line["s12"])


def brute_geodesic(conn: sqlite3.Connection, probe: Probe) -> set[int]:
    """The rule with a geodesic distance computed for every row first, whatever its kind and time."""
    found = set()
    for row in conn.execute(_ALL_ANCHORS):
        anchor = Candidate(*row)
        d = geodesic_m(probe, anchor)
        if matches(probe, anchor, DEFAULT_RULES, distance=lambda _a, _b, d=d: d) is not None:  # type: ignore[misc]
            found.add(anchor.incident_id)
    return found


def brute_scan(conn: sqlite3.Connection, probe: Probe) -> set[int]:
    """The same rule as the store (dedupe.matches, cheap checks first) over every row: no index."""
    rows = (Candidate(*row) for row in conn.execute(_ALL_ANCHORS))
    return {m.incident_id for m in spatial_matches(probe, rows, DEFAULT_RULES)}


def timed(fn: Callable[..., T], *args: Any) -> tuple[float, T]:
    t0 = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t0, result


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def migrated(path: Path) -> sqlite3.Connection:
    """A database file with the store's schema, opened the way bulk_load expects (autocommit)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")  # a bulk import; the bot itself runs FULL
    for script in MIGRATIONS:
        conn.executescript(script)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
    return conn


def time_lookups(conn: sqlite3.Connection, lookups: list[Probe]) -> tuple[float, float]:
    for probe in lookups[:200]:  # warm the page cache, as a running bot's is
        find_incident_sync(conn, probe)
    times, joined, by_photo = [], 0, 0
    for probe in lookups:
        t0 = time.perf_counter_ns()
        decision = find_incident_sync(conn, probe)
        times.append((time.perf_counter_ns() - t0) / 1e6)
        joined += decision.incident_id is not None
        by_photo += decision.reason in (MatchReason.PHOTO_EXACT, MatchReason.PHOTO_SIMILAR)
    times.sort()
    p50 = statistics.median(times)
    p99 = times[min(len(times) - 1, math.ceil(0.99 * len(times)) - 1)]
    print(f"lookup (find_incident_sync: grid-cell anchor search + photo-hash bands; {len(times):,} probes, "
          f"{joined:,} would join an incident, {by_photo:,} of them by photo):")
    print(f"  p50 {p50:.3f} ms [≤ 1 ms: {verdict(p50 <= 1)}]  p99 {p99:.3f} ms [≤ 5 ms: {verdict(p99 <= 5)}]"
          f"  max {times[-1]:.3f} ms")
    return p50, p99


def time_brute_force(conn: sqlite3.Connection, lookups: list[Probe],
                     scan: Callable[[sqlite3.Connection, Probe], set[int]], label: str) -> float:
    """Median ms of `scan` over `lookups`, checking each answer against the index's."""
    times, differ, found_any = [], 0, 0
    for probe in lookups:
        seconds, found = timed(scan, conn, probe)
        times.append(seconds * 1000)
        differ += found != {m.incident_id for m in nearby_incidents_sync(conn, probe)}
        found_any += bool(found)
    median = statistics.median(times) if times else math.nan
    print(f"brute force, {label}: median {median:,.0f} ms over {len(times)} probes "
          f"({found_any} with matches); {differ} answer(s) differ from the index")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=5000)
    parser.add_argument("--geodesic-samples", type=int, default=3, help="probes for the geodesic scan (slow)")
    parser.add_argument("--scan-samples", type=int, default=10, help="probes for the Python scan")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite3"
        conn = migrated(path)
        generate_s, (rows, photographed) = timed(lambda: generate(args.rows, args.seed))
        print(f"generated {len(rows):,} synthetic reports in {generate_s:.1f} s (not part of the load); "
              f"peak RSS so far {peak_rss_mb():,.0f} MB")
        load_s, loaded = timed(bulk_load, conn, rows)
        del rows
        photos = conn.execute("SELECT COUNT(*) FROM photos").fetchone()[0]
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        print(f"bulk load: {loaded:,} reports (+{loaded:,} incidents, {photos:,} photos) in {load_s:.1f} s "
              f"({loaded / load_s:,.0f}/s) [< 60 s: {verdict(load_s < 60)}]; "
              f"database {path.stat().st_size / 1e6:,.0f} MB")

        lookups = probes(args.lookups, args.seed + 1, photographed)
        p50, _ = time_lookups(conn, lookups)
        # Brute force on probes half of which do match something, so the answers compared mean something.
        hits = [p for p in lookups if nearby_incidents_sync(conn, p)]
        misses = [p for p in lookups if not nearby_incidents_sync(conn, p)]
        sample = [p for pair in zip(hits, misses, strict=False) for p in pair]
        scan_ms = time_brute_force(conn, sample[: args.scan_samples], brute_scan,
                                   f"Python scan of all {loaded:,} anchors with the same rule")
        geo_ms = time_brute_force(conn, sample[: args.geodesic_samples], brute_geodesic,
                                  "WGS-84 geodesic distance to every row")
        slowest_honest = min(ms for ms in (scan_ms, geo_ms) if not math.isnan(ms))
        print(f"speed-up at p50: {scan_ms / p50:,.0f}× vs the Python scan, {geo_ms / p50:,.0f}× vs the "
              f"geodesic scan [≥ 100× vs the faster: {verdict(slowest_honest / p50 >= 100)}]")
        conn.close()
    print(f"peak RSS {peak_rss_mb():,.0f} MB (including the generated rows, held in memory for the load; "
          "SQLite's page cache is the default 2 MB)")


if __name__ == "__main__":
    main()
