"""Benchmark for the county's places (a script, not a test): ``python bench/bench_places.py``.

Prints, with PASS/MISS against the targets (every typed message at the location step runs a name
lookup, every point an area check, every card a township lookup, so each must stay far below what a
person notices):

* the area check (inside / margin / metres to the border / neighbouring county) per point, on random
  points around the county: shapely on the cached local projection, against brute force — the
  geodesic (Karney, geographiclib) from the point to *every* vertex of the outline — with the answers
  compared (the vertex distance can only be larger: the border runs between vertices). Target ≤ 1 ms
  p99, ≥ 20× faster than brute force;
* name lookup per message: a name (full/short/pinyin/traditional), a sentence naming a village, and a
  text naming nothing (the slowest: the near-miss search). Target ≤ 20 ms p99;
* township of a point with all 183 villages located (the most the gazetteer can have), target ≤ 5 ms p99.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from geographiclib.geodesic import Geodesic

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import locations  # noqa: E402 - after the sys.path tweak, so the script runs from anywhere
from bot.gazetteer import Gazetteer  # noqa: E402


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000.0)
    return out


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def line(name: str, values: list[float], target_ms: float) -> bool:
    ok = p(values, 0.99) <= target_ms
    print(f"{name:<44} p50 {p(values, 0.5):8.3f} ms  p99 {p(values, 0.99):8.3f} ms  "
          f"(target p99 ≤ {target_ms:g} ms) {'PASS' if ok else 'MISS'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=2000, help="random points for the area check")
    args = parser.parse_args()
    rng = random.Random(22)
    area = locations.service_area()
    south, west, north, east = area.bbox
    points = [(rng.uniform(south - 0.3, north + 0.3), rng.uniform(west - 0.3, east + 0.3))
              for _ in range(args.points)]
    area.check(*points[0])  # builds the projection once, as the first report would
    ok = True

    print(f"outline: {sum(len(r) for poly in area.polygons for r in poly)} vertices, "
          f"{area.area_km2:,.0f} km², margin {area.margin_m:g} m")
    fast = [0.0] * len(points)
    checks = []
    for i, pt in enumerate(points):
        start = time.perf_counter()
        checks.append(area.check(*pt))
        fast[i] = (time.perf_counter() - start) * 1000.0
    ok &= line("area check (shapely, local projection)", fast, 1.0)
    vertices = [(lat, lon) for poly in area.polygons for ring in poly for lon, lat in ring]
    geod = Geodesic.WGS84
    sample = points[: max(20, args.points // 50)]
    slow = []
    worst = 0.0
    for pt, check in zip(sample, checks, strict=False):
        start = time.perf_counter()
        brute = min(geod.Inverse(pt[0], pt[1], lat, lon, Geodesic.DISTANCE)["s12"] for lat, lon in vertices)
        slow.append((time.perf_counter() - start) * 1000.0)
        if not check.inside:
            # The nearest vertex is never nearer than the border; it is at most half an edge farther.
            assert brute >= check.border_m * (1 - 1e-3) - 1.0, (pt, brute, check.border_m)
            worst = max(worst, brute - check.border_m)
    ratio = statistics.median(slow) / statistics.median(fast)
    label = "brute force: geodesic to every vertex"
    print(f"{label:<44} p50 {p(slow, 0.5):8.3f} ms  p99 {p(slow, 0.99):8.3f} ms")
    print(f"speed-up (median): {ratio:,.0f}× (target ≥ 20×) {'PASS' if ratio >= 20 else 'MISS'}; "
          f"nearest vertex at most {worst:,.0f} m farther than the border (agrees)")
    ok &= ratio >= 20

    gaz = Gazetteer.default()
    gaz.lookup("许村")  # loads pypinyin/zhconv data once, as the first message would
    names = [p.name_zh for p in gaz if p.kind == "village"]
    ok &= line("lookup: a name as typed", timed(lambda: gaz.lookup(rng.choice(names)), 500), 20.0)
    ok &= line("lookup: a sentence naming a village",
               timed(lambda: gaz.lookup(f"昨天傍晚在{rng.choice(names)}后山的地里看见一只豹子"), 300), 20.0)
    ok &= line("lookup: pinyin with tones", timed(lambda: gaz.lookup("Sōngyān zhèn Xǔcūn"), 300), 20.0)
    nothing = timed(lambda: gaz.lookup("不清楚在哪里"), 100)
    ok &= line("lookup: naming nothing (near-miss search)", nothing, 20.0)

    inner = [pt for pt, c in zip(points, checks, strict=True) if c.inside]
    villages = [p for p in gaz if p.kind == "village"]
    locations.set_learned_points({v.id: rng.choice(inner) for v in villages})  # synthetic, benchmark only
    try:
        ok &= line("township of a point (183 villages located)",
                   timed(lambda: locations.township_of(*rng.choice(inner)), 500), 5.0)
    finally:
        locations.set_learned_points({})
    print("ALL PASS" if ok else "SOME MISS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
