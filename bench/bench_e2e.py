"""End-to-end benchmark (issue 12; a script, not a test): ``python bench/bench_e2e.py [--quick]``.

The real Application (``handlers.app.build_application`` + ``run_bot``, long polling) runs in a
**child process** against the project's fake Bot API (``bot.fake_telegram.FakeTelegram``) served over
HTTP on 127.0.0.1 by this process, which also plays the people. The same fake, the same PTB
settings and the same drivers then run a trivial PTB echo application: the framework's own ceiling
on this machine.

* Throughput: N concurrent simulated people (default 50) each walk whole sighting reports
  (tests/test_conversation.py's ``report_sighting``: 10 updates, 11 when the report has a photo;
  every 10th report carries an 800x600 JPEG; locations spread over the county, so most reports
  open an incident and a staff card). A person makes 4 reports, then a new person takes the slot.
  Reports/s and updates/s; the echo ceiling is N people each sending texts and waiting for the echo.
  Ratio = bot updates/s / echo updates/s (also shown as reports/s against the ceiling's
  equivalent: echo updates/s / updates per report).
* Per-update latency p50/p99: from the fake enqueuing the update (the person acting) to the fake
  storing the bot's reply to it (the message the person waits for), under that same load.
* Resident memory of the bot process (VmRSS from /proc/<pid>/status) after 10,000 reports: 9,000
  put into its database beforehand through the store's own ``Store.bulk_load`` (with the leftover
  user data of their 2,250 reporters, which PTB loads into memory at start-up), then 1,000 submitted
  through conversations (``--preload`` / ``--reports``; 10,000 conversations take ~30 min here).
  Sampled every 250 conversations and once the outbox is empty; the growth per conversation is
  also extrapolated to 10,000 conversations (info).
* Reports lost: receipts the people got vs rows in the bot's database (must be equal).

Fairness: the fake's flood limits are OFF (``RateLimits(enabled=False)``) for these throughput runs
and its per-result self-check is off; PTB's AIORateLimiter is OFF on both applications for the
headline figures (with it, both are capped by Telegram's 30 messages/s rather than by the code). The
``--limiter`` run repeats a shorter measurement with AIORateLimiter(max_retries=2) ON on both (info).
Both applications process updates sequentially (PTB's default; the bot does not set
``concurrent_updates``) and log at INFO like production.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (  # noqa: E402
    EXPERIMENTS,
    UPDATES_PER_REPORT_NO_PHOTO,
    UPDATES_PER_REPORT_PHOTO,
    BenchFake,
    Driver,
    Stats,
    county_points,
    cpu_seconds,
    make_jpeg,
    percentile,
    preload,
    proc_status,
    relaxed_limits,
    report_sighting,
    self_cpu_seconds,
    spawn,
    start_fake,
)

RSS_TARGET_MB = 150.0
RATIO_TARGET = 0.5


def db_counts(path: Path) -> tuple[int, dict[str, int]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        reports = conn.execute("SELECT COUNT(*) FROM reports").fetchone()[0]
        outbox = dict(conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall())
    finally:
        conn.close()
    return reports, outbox


def stored_codes(path: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return {row[0] for row in conn.execute("SELECT ref_code FROM reports")}
    finally:
        conn.close()


def lost_reports(receipts: list[str], db: Path) -> tuple[int, int]:
    """(receipts whose reference code is not in the database, receipts that named an earlier report).

    The second are by design: a person's second report of the same thing (same kind, close in time
    and place; bot.dedupe.same_report) updates their first and the receipt repeats its code."""
    codes = stored_codes(db)
    return sum(code not in codes for code in receipts), len(receipts) - len(set(receipts))


async def echo_run(fake: BenchFake, pid: int, people: int, updates: int, first_id: int) -> dict[str, Any]:
    """`people` concurrent people, each sending texts and waiting for their echo; `updates` in all."""
    warm = Stats()
    drivers = [Driver(fake, first_id + i, warm) for i in range(people)]
    await asyncio.gather(*(d.send(f"warm-up {d.id}", f"warm-up {d.id}") for d in drivers))
    stats = Stats()
    for d in drivers:
        d.stats = stats
    per_person = max(1, updates // people)

    async def talk(d: Driver) -> None:
        for i in range(per_person):
            text = f"ping {d.id} {i}"
            await d.send(text, text)
            if i % 20 == 19:
                d.tidy()

    t0, cpu0, child0 = time.perf_counter(), self_cpu_seconds(), cpu_seconds(pid)
    calls0 = fake.methods.copy()
    await asyncio.gather(*(talk(d) for d in drivers))
    elapsed = time.perf_counter() - t0
    calls = fake.methods - calls0
    return {
        "updates": per_person * people,
        "seconds": elapsed,
        "latencies": stats.latencies,
        "parent_cpu": self_cpu_seconds() - cpu0,
        "child_cpu": cpu_seconds(pid) - child0,
        "calls": dict(calls),
    }


async def bot_run(
    fake: BenchFake,
    pid: int,
    db: Path,
    people: int,
    reports: int,
    *,
    photo_every: int,
    per_person: int,
    seed: int,
    sample_every: int,
    warmup: int,
    preloaded: int,
) -> dict[str, Any]:
    points = county_points(reports + warmup + people, seed)
    photos: dict[int, bytes] = {}
    if photo_every:
        for n in range(0, reports + warmup, photo_every):
            photos[n] = make_jpeg(seed * 100_000 + n)
    stats = Stats()
    next_user = iter(range(100_000, 10_000_000))
    counter = iter(range(10**9))
    done = 0
    updates = 0
    samples: list[tuple[int, float]] = []
    errors: list[str] = []

    async def slot(quota: int, stats: Stats) -> None:
        nonlocal done, updates
        person: Driver | None = None
        made = 0
        while True:
            n = next(counter)
            if n >= quota:
                return
            if person is None or made >= per_person:
                person = Driver(fake, next(next_user), stats)
                made = 0
            photo = photos.get(n)
            try:
                await report_sighting(person, *points[n], photo=photo)
            except Exception as exc:  # a lost conversation is a figure, not a crash of the benchmark
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
                person = None
                continue
            made += 1
            done += 1
            updates += UPDATES_PER_REPORT_PHOTO if photo else UPDATES_PER_REPORT_NO_PHOTO
            person.tidy()
            if done % 200 == 0:
                fake.prune()
            if sample_every and done % sample_every == 0:
                samples.append((preloaded + done, proc_status(pid)["VmRSS"] / 1024))

    # Warm-up (imports, caches, the first incidents), counted towards the RSS total but not timed.
    warm_stats = Stats()
    await asyncio.gather(*(slot(warmup, warm_stats) for _ in range(min(people, warmup))))
    counter = iter(range(warmup, 10**9))
    warm_done, warm_updates = done, updates
    rss_warm = proc_status(pid)["VmRSS"] / 1024
    t0, cpu0, child0 = time.perf_counter(), self_cpu_seconds(), cpu_seconds(pid)
    calls0 = fake.methods.copy()
    await asyncio.gather(*(slot(warmup + reports, stats) for _ in range(people)))
    elapsed = time.perf_counter() - t0
    calls = fake.methods - calls0
    timed_reports, timed_updates = done - warm_done, updates - warm_updates
    rss_end = proc_status(pid)
    child_cpu = cpu_seconds(pid) - child0
    parent_cpu = self_cpu_seconds() - cpu0
    # The cards and receipts still owed go out; then the database is compared with the receipts.
    drain0 = time.perf_counter()
    outbox: dict[str, int] = {}
    for _ in range(1200):
        rows, outbox = db_counts(db)
        if not outbox.get("pending"):
            break
        await asyncio.sleep(0.25)
    drain = time.perf_counter() - drain0
    rows, outbox = db_counts(db)
    rss_drained = proc_status(pid)
    receipts = len(warm_stats.receipts) + len(stats.receipts)
    lost, repeated = lost_reports(warm_stats.receipts + stats.receipts, db)
    return {
        "reports": timed_reports,
        "updates": timed_updates,
        "seconds": elapsed,
        "latencies": stats.latencies,
        "timeouts": stats.timeouts + warm_stats.timeouts,
        "total_reports": done,
        "receipts": receipts,
        "rows": rows,
        "outbox": outbox,
        "drain_seconds": drain,
        "errors": errors,
        "rss_samples": samples,
        "rss_end_mb": rss_end["VmRSS"] / 1024,
        "rss_drained_mb": rss_drained["VmRSS"] / 1024,
        "hwm_mb": rss_drained["VmHWM"] / 1024,
        "child_cpu": child_cpu,
        "parent_cpu": parent_cpu,
        "distinct_codes": len(set(warm_stats.receipts + stats.receipts)),
        "calls": dict(calls),
        "lost": lost,
        "repeated": repeated,
        "rss_warm_mb": rss_warm,
        "warm_reports": warm_done,
    }


def pool(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two echo runs as one: counts, times and CPU added, latencies and calls combined."""
    calls = dict(a["calls"])
    for method, n in b["calls"].items():
        calls[method] = calls.get(method, 0) + n
    pooled = {k: a[k] + b[k] for k in ("updates", "seconds", "child_cpu", "parent_cpu")}
    return {**a, **pooled, "latencies": a["latencies"] + b["latencies"], "calls": calls}


def describe(label: str, run: dict[str, Any], what: str) -> str:
    lat = run["latencies"]
    return (
        f"{label} ({what} in {run['seconds']:.1f} s); latency p50 {percentile(lat, 0.5) * 1000:.1f} ms,"
        f" p99 {percentile(lat, 0.99) * 1000:.1f} ms; this process (fake + people) used "
        f"{run['parent_cpu'] / run['seconds']:.0%} of a core"
    )


async def measure(
    args: argparse.Namespace,
    *,
    limiter: bool,
    reports: int,
    echo_updates: int,
    rss: bool,
    profile: Path | None,
) -> dict[str, Any]:
    mode = "AIORateLimiter ON on both" if limiter else "AIORateLimiter OFF on both"
    if args.experiment:
        mode += f"; EXPERIMENT on the bot (not the tree's code): {', '.join(args.experiment)}"
    print(f"--- {mode}; fake flood limits off; {args.people} concurrent people", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        work = Path(tmp)
        preloaded = 0
        if rss and args.preload:
            t = time.perf_counter()
            preloaded = preload(
                work / "bot.sqlite3", args.preload, max(1, args.preload // args.per_person), args.seed
            )
            print(
                f"  preloaded {preloaded:,} reports by {max(1, args.preload // args.per_person):,} people "
                f"with Store.bulk_load in {time.perf_counter() - t:.1f} s",
                flush=True,
            )

        async def ceiling(when: str, first_id: int) -> dict[str, Any]:
            fake = await start_fake(relaxed_limits())
            try:
                child = await spawn(fake, "echo", work, rate_limiter=limiter)
                try:
                    run = await echo_run(fake, child.pid, args.people, echo_updates // 2, first_id=first_id)
                finally:
                    child.stop()
            finally:
                await fake.stop()
            print(
                f"  echo ceiling {when} the bot: "
                + describe(
                    f"{run['updates'] / run['seconds']:,.0f} updates/s", run, f"{run['updates']:,} updates"
                )
                + f"; the echo process used {run['child_cpu'] / run['seconds']:.0%} of a core",
                flush=True,
            )
            return run

        # The echo runs half before and half after the bot, and the two are pooled: this shared
        # machine's speed drifts by tens of per cent over minutes, and bracketing the bot cancels
        # most of that drift out of the ratio.
        before = await ceiling("before", 50_000)

        fake = await start_fake(relaxed_limits())
        try:
            child = await spawn(
                fake, "bot", work, rate_limiter=limiter, profile=profile, experiments=tuple(args.experiment)
            )
            rss_start = proc_status(child.pid)["VmRSS"] / 1024
            try:
                warmup = min(args.people, reports)
                bot = await bot_run(
                    fake,
                    child.pid,
                    work / "bot.sqlite3",
                    args.people,
                    reports - warmup,
                    photo_every=args.photo_every,
                    per_person=args.per_person,
                    seed=args.seed,
                    sample_every=250 if rss else 0,
                    warmup=warmup,
                    preloaded=preloaded,
                )
            finally:
                code = child.stop(timeout=120)
                with contextlib.suppress(Exception):
                    log_tail = child.log_path.read_text().splitlines()
                    # (the Updater's complaint about its last getUpdates at shutdown is not the bot's)
                    bot["log_errors"] = [ln for ln in log_tail if " ERROR " in ln and "Updater" not in ln][
                        -5:
                    ]
                bot["exit_code"] = code
        finally:
            await fake.stop()
        after = await ceiling("after", 60_000)
    echo = pool(before, after)
    echo_ups = echo["updates"] / echo["seconds"]
    print(f"  echo ceiling pooled: {echo_ups:,.0f} updates/s", flush=True)
    bot_ups = bot["updates"] / bot["seconds"]
    bot_rps = bot["reports"] / bot["seconds"]
    per_report = bot["updates"] / max(1, bot["reports"])
    ceiling_rps = echo_ups / per_report
    print(
        "  bot "
        + describe(f"{bot_rps:,.2f} reports/s = {bot_ups:,.0f} updates/s", bot, f"{bot['reports']:,} reports")
        + f"; the bot process used {bot['child_cpu'] / bot['seconds']:.0%} of a core",
        flush=True,
    )
    echo_cpu_ms = echo["child_cpu"] / echo["updates"] * 1000
    bot_cpu_ms = bot["child_cpu"] / bot["updates"] * 1000

    def api_calls(calls: dict[str, int], n: int) -> tuple[float, str]:
        sent = {m: c for m, c in calls.items() if m != "getUpdates"}
        detail = ", ".join(f"{m} {c / n:.2f}" for m, c in sorted(sent.items(), key=lambda kv: -kv[1]))
        return sum(sent.values()) / n, detail

    bot_calls, bot_detail = api_calls(bot["calls"], bot["updates"])
    echo_calls, _ = api_calls(echo["calls"], echo["updates"])
    print(
        f"  Bot API calls per update (besides getUpdates): bot {bot_calls:.2f} ({bot_detail}); "
        f"echo {echo_calls:.2f}",
        flush=True,
    )
    print(
        f"  CPU per update (robust to other load on the machine): bot {bot_cpu_ms:.2f} ms, echo "
        f"{echo_cpu_ms:.2f} ms ({echo_cpu_ms / bot_cpu_ms:.0%}); load average now "
        f"{os.getloadavg()[0]:.2f}",
        flush=True,
    )
    print(
        f"  ratio {bot_ups / echo_ups:.1%} of the echo ceiling (ceiling as reports/s: {ceiling_rps:,.2f}; "
        f"{per_report:.2f} updates per report)",
        flush=True,
    )
    print(
        f"  {bot['total_reports']:,} reports in all: {bot['receipts']:,} receipts, {bot['rows']:,} rows "
        f"in the database, {bot['distinct_codes']:,} distinct codes ({bot['repeated']} updated the same "
        f"person's earlier report, by design), {bot['lost']} lost; outbox {bot['outbox']} "
        f"(drained {bot['drain_seconds']:.1f} s after the last report); {bot['timeouts']} step(s) timed out",
        flush=True,
    )
    for line in bot["errors"][:3] + bot.get("log_errors", [])[:3]:
        print(f"    ! {line}")
    if rss:
        curve = ", ".join(f"{n:,}: {mb:.0f}" for n, mb in bot["rss_samples"])
        grown = bot["rss_drained_mb"] - bot["rss_warm_mb"]
        timed_n = bot["total_reports"] - bot["warm_reports"]
        per_report_kb = grown * 1024 / max(1, timed_n)
        extrapolated = bot["rss_warm_mb"] + per_report_kb * (10_000 - bot["warm_reports"]) / 1024
        print(
            f"  bot RSS growth {per_report_kb:.1f} kB per conversation after the warm-up; 10,000 "
            f"conversations would end near {extrapolated:.0f} MB (extrapolated)",
            flush=True,
        )
        print(
            f"  bot RSS (MB) at start {rss_start:.0f}; by reports: {curve}; at the end "
            f"{bot['rss_end_mb']:.0f}, after the outbox drained {bot['rss_drained_mb']:.0f} "
            f"(peak {bot['hwm_mb']:.0f})",
            flush=True,
        )
    return {
        "mode": mode,
        "echo_updates_per_s": echo_ups,
        "echo_p50_ms": percentile(echo["latencies"], 0.5) * 1000,
        "echo_p99_ms": percentile(echo["latencies"], 0.99) * 1000,
        "bot_reports_per_s": bot_rps,
        "bot_updates_per_s": bot_ups,
        "ceiling_reports_per_s": ceiling_rps,
        "bot_p50_ms": percentile(bot["latencies"], 0.5) * 1000,
        "bot_p99_ms": percentile(bot["latencies"], 0.99) * 1000,
        "ratio": bot_ups / echo_ups,
        "total_reports": bot["total_reports"] + preloaded,
        "conversation_reports": bot["total_reports"],
        "preloaded": preloaded,
        "receipts": bot["receipts"],
        "rows": bot["rows"],
        "lost": bot["lost"],
        "repeated": bot["repeated"],
        "failed_conversations": len(bot["errors"]),
        "rss_end_mb": bot["rss_end_mb"],
        "rss_drained_mb": bot["rss_drained_mb"],
        "rss_mb": max(bot["rss_end_mb"], bot["rss_drained_mb"]),
        "rss_samples": bot["rss_samples"],
        "rss_start_mb": rss_start,
        "rss_per_conversation_kb": per_report_kb if rss else None,
        "rss_extrapolated_10k_mb": extrapolated if rss else None,
        "bot_cpu_share": bot["child_cpu"] / bot["seconds"],
        "echo_cpu_share": echo["child_cpu"] / echo["seconds"],
        "bot_cpu_ms_per_update": bot_cpu_ms,
        "echo_cpu_ms_per_update": echo_cpu_ms,
        "bot_api_calls_per_update": bot_calls,
        "echo_api_calls_per_update": echo_calls,
        "bot_api_calls_detail": bot_detail,
        "parent_cpu_share_bot": bot["parent_cpu"] / bot["seconds"],
        "parent_cpu_share_echo": echo["parent_cpu"] / echo["seconds"],
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"quick": args.quick}
    profile = Path(args.profile).resolve() if args.profile else None  # noqa: ASYNC240
    result["off"] = await measure(
        args, limiter=False, reports=args.reports, echo_updates=args.echo_updates, rss=True, profile=profile
    )
    if args.limiter_reports:
        result["on"] = await measure(
            args,
            limiter=True,
            reports=args.limiter_reports,
            echo_updates=args.limiter_echo_updates,
            rss=False,
            profile=None,
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="300 conversations, no preload, shorter echo run"
    )
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument(
        "--reports", type=int, default=None, help="reports through conversations (default 1,000; quick 300)"
    )
    parser.add_argument(
        "--preload",
        type=int,
        default=None,
        help="reports bulk-loaded into the bot's database first (default 9,000; quick 0)",
    )
    parser.add_argument("--echo-updates", type=int, default=None, help="(default 10,000; quick 3,000)")
    parser.add_argument(
        "--limiter-reports",
        type=int,
        default=0,
        help="reports of an extra run with AIORateLimiter ON on both (default 0: skipped; "
        "bench_burst.py measures the bot with it)",
    )
    parser.add_argument("--limiter-echo-updates", type=int, default=1500)
    parser.add_argument("--photo-every", type=int, default=10, help="every Nth report has a photo (0: none)")
    parser.add_argument("--per-person", type=int, default=4, help="reports per person before a new one comes")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument(
        "--experiment",
        action="append",
        default=[],
        choices=sorted(EXPERIMENTS),
        help="monkeypatch the bot with a proposed fix to measure its gain (repeatable)",
    )
    parser.add_argument(
        "--profile", help="profile the bot process with pyinstrument into this .txt (+ .html)"
    )
    args = parser.parse_args()
    if args.reports is None:
        args.reports = 300 if args.quick else 1000
    if args.preload is None:
        args.preload = 0 if args.quick else 9000
    if args.echo_updates is None:
        args.echo_updates = 3000 if args.quick else 10_000

    result = asyncio.run(main_async(args))
    off = result["off"]
    rows = [
        ("e2e throughput vs echo ceiling", f"{off['ratio']:.0%}", ">= 50 %", off["ratio"] >= RATIO_TARGET),
        (
            "  bot reports/s",
            f"{off['bot_reports_per_s']:.1f}",
            f"ceiling {off['ceiling_reports_per_s']:.1f}",
            None,
        ),
        (
            "  bot p50 / p99 per update",
            f"{off['bot_p50_ms']:.0f} / {off['bot_p99_ms']:.0f} ms",
            f"echo {off['echo_p50_ms']:.0f} / {off['echo_p99_ms']:.0f} ms",
            None,
        ),
        (
            f"bot RSS after {off['total_reports']:,} reports",
            f"{off['rss_mb']:.0f} MB",
            "< 150 MB",
            off["rss_mb"] < RSS_TARGET_MB if off["total_reports"] >= 10_000 else None,
        ),
        (
            "  of which through conversations",
            f"{off['conversation_reports']:,}",
            f"extrapolated to 10,000: {off['rss_extrapolated_10k_mb']:.0f} MB",
            None,
        ),
        ("reports lost", str(off["lost"]), "0", off["lost"] == 0 and off["failed_conversations"] == 0),
    ]
    if "on" in result:
        on = result["on"]
        rows.append(
            (
                "  with AIORateLimiter on both",
                f"{on['ratio']:.0%}",
                f"{on['bot_reports_per_s']:.2f} vs {on['ceiling_reports_per_s']:.2f} rep/s",
                None,
            )
        )
    print()
    print(f"{'figure':36} {'value':>16}  {'target':28} result")
    for name, value, target, ok in rows:
        verdict = "" if ok is None else ("PASS" if ok else "MISS")
        print(f"{name:36} {value:>16}  {target:28} {verdict}")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
