"""Benchmark for incident lookup (issue 5; a script, not a test): ``python bench/bench_dedupe.py [--rows N]``.

Builds a temporary SQLite file with the store's own migrations, bulk-loads N reports (default one
million) spread uniformly over Heshun county and ten years through :meth:`Store.bulk_load` (a third
of them with a photo), then prints, with PASS/MISS against the targets:

* bulk-load time (target < 60 s) and database size;
* p50/p99 of :func:`bot.store.find_incident_sync` — the SQL and decision the store runs on every
  submission: R*Tree anchor search plus the photo-hash lookup when the probe has photos
  (targets ≤ 1 ms / ≤ 5 ms);
* brute force over the same rows: a geodesic (geopy, WGS-84) distance for every row, on a few
  probes since each takes tens of seconds; and a plain Python scan applying the very same rule
  (kind and time checked first, haversine) — the fastest honest brute force. The speed-up target
  (≥ 100×) is judged against the faster of the two. The matches found are compared with the index's;
  geodesic and haversine may disagree only for anchors within a few metres of a radius;
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
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from geopy.distance import geodesic

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.dedupe import (  # noqa: E402 - after the sys.path tweak, so the script runs from anywhere
    DEFAULT_RULES,
    Candidate,
    Located,
    Probe,
    matches,
    spatial_matches,
)
from bot.report import Kind  # noqa: E402
from bot.store import MIGRATIONS, BulkReport, Store, find_incident_sync, nearby_incidents_sync  # noqa: E402

SOUTH, NORTH, WEST, EAST = 37.0, 37.6, 113.1, 113.9
START = datetime(2016, 1, 1, tzinfo=UTC)
SPAN_S = 10 * 365.25 * 86400
KINDS = (Kind.SIGHTING, Kind.SIGNS, Kind.LIVESTOCK, Kind.TIP)
KIND_WEIGHTS = (0.4, 0.3, 0.2, 0.1)
ACCURACIES = (5.0, 10.0, 20.0, 50.0, 100.0, 500.0, 3000.0)
ACCURACY_WEIGHTS = (0.2, 0.3, 0.2, 0.15, 0.1, 0.04, 0.01)
PHOTO_SHARE = 1 / 3

_ALL_ANCHORS = (
    "SELECT COALESCE(merged_into, id), anchor_report_id, anchor_kind, anchor_latitude, anchor_longitude,"
    " anchor_accuracy_m, anchor_observed_s FROM incidents"
)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def synthetic(n: int, seed: int) -> tuple[Iterator[BulkReport], np.ndarray]:
    """N reports in time order (as an archive would be) and the perceptual hashes given to photos."""
    rng = np.random.default_rng(seed)
    lat = rng.uniform(SOUTH, NORTH, n)
    lon = rng.uniform(WEST, EAST, n)
    offsets = np.sort(rng.uniform(0, SPAN_S, n))
    kinds = rng.choice(len(KINDS), n, p=KIND_WEIGHTS)
    accuracy = rng.choice(ACCURACIES, n, p=ACCURACY_WEIGHTS)
    reporters = rng.integers(1, 50_000, n)
    has_photo = rng.random(n) < PHOTO_SHARE
    phashes = rng.integers(0, 1 << 63, n, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, n, dtype=np.uint64)

    def rows() -> Iterator[BulkReport]:
        for i in range(n):
            kind = KINDS[kinds[i]]
            seen = START + timedelta(seconds=float(offsets[i]))
            yield BulkReport(
                kind=kind, latitude=float(lat[i]), longitude=float(lon[i]), accuracy_m=float(accuracy[i]),
                observed_at=seen, submitted_at=seen + timedelta(hours=2),
                reporter_id=None if kind is Kind.TIP else int(reporters[i]),
                photos=((f"{i:064x}", int(phashes[i])),) if has_photo[i] else (),
            )

    return rows(), phashes[has_photo]


def probes(n: int, seed: int, stored_phashes: np.ndarray) -> list[Probe]:
    """Lookups like real submissions; a third carry a photo, half of those a re-encoded copy of a stored one."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        phashes: tuple[int, ...] = ()
        if rnd.random() < PHOTO_SHARE:
            if rnd.random() < 0.5 and len(stored_phashes):
                value = int(stored_phashes[rnd.randrange(len(stored_phashes))])
                for bit in rnd.sample(range(64), 3):
                    value ^= 1 << bit
            else:
                value = rnd.getrandbits(64)
            phashes = (value,)
        out.append(Probe(
            kind=rnd.choices(KINDS, KIND_WEIGHTS)[0], latitude=rnd.uniform(SOUTH, NORTH),
            longitude=rnd.uniform(WEST, EAST), accuracy_m=rnd.choices(ACCURACIES, ACCURACY_WEIGHTS)[0],
            observed_s=START.timestamp() + rnd.uniform(0, SPAN_S),
            sha256s=frozenset({f"{rnd.getrandbits(256):064x}"}) if phashes else frozenset(), phashes=phashes,
        ))
    return out


def geodesic_m(a: Located, b: Located) -> float:
    return float(geodesic((a.latitude, a.longitude), (b.latitude, b.longitude)).meters)


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


def timed(fn, *args) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t0, result


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
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # a bulk import; the bot itself runs FULL
        for script in MIGRATIONS:
            conn.executescript(script)
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        conn.isolation_level = ""  # back to implicit transactions: bulk_load commits per batch

        rows, stored_phashes = synthetic(args.rows, args.seed)
        load_s, loaded = timed(Store.bulk_load, conn, rows)
        size_mb = path.stat().st_size / 1e6 + (Path(f"{path}-wal").stat().st_size / 1e6
                                                if Path(f"{path}-wal").exists() else 0)
        photos = conn.execute("SELECT COUNT(*) FROM photos").fetchone()[0]
        print(f"bulk load: {loaded:,} reports (+{loaded:,} incidents, {photos:,} photos) in {load_s:.1f} s "
              f"({loaded / load_s:,.0f}/s), database {size_mb:,.0f} MB "
              f"[target < 60 s: {verdict(load_s < 60)}]")

        lookups = probes(args.lookups, args.seed + 1, stored_phashes)
        for probe in lookups[:200]:  # warm the page cache as a running bot's would be
            find_incident_sync(conn, probe)
        times, joined, by_photo, candidates = [], 0, 0, []
        for probe in lookups:
            t0 = time.perf_counter_ns()
            decision = find_incident_sync(conn, probe)
            times.append((time.perf_counter_ns() - t0) / 1e6)
            joined += decision.incident_id is not None
            by_photo += decision.reason.value.startswith("photo")
        times.sort()
        p50 = statistics.median(times)
        p99 = times[min(len(times) - 1, math.ceil(0.99 * len(times)) - 1)]
        print(f"lookup (find_incident_sync, {len(times):,} probes, {by_photo} matched by photo, "
              f"{joined} joined an incident): p50 {p50:.3f} ms [≤ 1 ms: {verdict(p50 <= 1)}], "
              f"p99 {p99:.3f} ms [≤ 5 ms: {verdict(p99 <= 5)}], max {times[-1]:.3f} ms")

        disagreements = 0
        scan_times = []
        for probe in lookups[: args.scan_samples]:
            seconds, found = timed(brute_scan, conn, probe)
            scan_times.append(seconds * 1000)
            indexed = {m.incident_id for m in nearby_incidents_sync(conn, probe)}
            disagreements += found != indexed
        scan_ms = statistics.median(scan_times)
        print(f"brute force, Python scan of all {loaded:,} anchors with the same rule: median {scan_ms:,.0f} ms "
              f"over {len(scan_times)} probes; {disagreements} disagree with the index")

        geo_times, geo_diff = [], 0
        for probe in lookups[: args.geodesic_samples]:
            seconds, found = timed(brute_geodesic, conn, probe)
            geo_times.append(seconds * 1000)
            geo_diff += found != {m.incident_id for m in nearby_incidents_sync(conn, probe)}
        geo_ms = statistics.median(geo_times) if geo_times else math.nan
        print(f"brute force, geodesic distance to every row: median {geo_ms:,.0f} ms over {len(geo_times)} "
              f"probes; {geo_diff} differ from the index (haversine vs ellipsoid at a radius edge)")

        ratio = min(scan_ms, geo_ms) / p50
        print(f"speed-up at p50: {scan_ms / p50:,.0f}× vs the Python scan, {geo_ms / p50:,.0f}× vs the "
              f"geodesic scan [≥ 100×: {verdict(ratio >= 100)}]")
        conn.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_mb:,.0f} MB (the generator's arrays, SQLite's page cache, one scan's rows)")


if __name__ == "__main__":
    main()
