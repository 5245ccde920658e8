"""Burst benchmark (a script, not a test): ``python bench/bench_burst.py [--quick] [--minutes M]``.

500 people report a sighting within a few hundred metres of one village, through whole
conversations (tests/test_conversation.py's flow; every 10th with a photo), against the real
Application in a child process, the fake Bot API over HTTP in this one.

Settings as shipped: the bot's per-chat rate limiter ON (handlers/ratelimit.py: 28 calls a second
overall, evenly spaced, 20 a minute per group, a private chat paced to the fake's bucket, a 429
pausing its chat only, max_retries=2), the outbox polling every 2 s.
The fake enforces Telegram's limits as the test suite does: at most 20 messages per minute in a
group and 30 per second overall, and a private chat's bucket scaled to a person tapping at machine
speed (RateLimits(private_burst=20, private_per_second=20)).

Time compression. The issue's burst is 500 reports in 5 minutes. The fake's clock could be
advanced, but the bot's rate limiter, the outbox's retries and the fake's flood windows all run on
real time, so the run is not faked: by default the 500 conversations run as fast as the bot takes
them (50 people at a time), which squeezes the burst into much less than 5 real minutes and so puts
*more* pressure on the staff group's 20-per-minute limit than the real burst would. ``--minutes 5``
paces the arrivals over real minutes instead (one person starting every 0.6 s).

Prints: the wall time and compression factor; staff-group messages (send* calls, a media group
counting each item) per real minute and the most in any sliding 60 s window (target <= 20), edits of
the card; 429 answers seen by the bot (target 0); reports lost = receipts whose reference code is not
in the database (target 0), and what is still in the outbox after it drains.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (  # noqa: E402
    EXPERIMENTS,
    Stats,
    TimedPerson,
    county_points,
    percentile,
    report_sighting,
    spawn,
    start_fake,
    test_limits,
)
from tests.kit import make_jpeg  # noqa: E402

VILLAGE = (37.3296, 113.5702)  # Heshun town, as in the tests
GROUP_LIMIT_PER_MINUTE = 20


def max_in_window(events: list[tuple[float, int]], window: float = 60.0) -> int:
    """The largest total cost of events falling in any window of `window` seconds."""
    events = sorted(events)
    best = total = start = 0
    for end, (at, cost) in enumerate(events):
        total += cost
        while events[start][0] <= at - window:
            total -= events[start][1]
            start += 1
        best = max(best, total)
        _ = end
    return best


def per_minute(events: list[tuple[float, int]], origin: float) -> list[int]:
    if not events:
        return []
    minutes = [0] * (int((max(at for at, _ in events) - origin) // 60) + 1)
    for at, cost in events:
        minutes[int((at - origin) // 60)] += cost
    return minutes


def db_summary(path: Path, codes: list[str]) -> dict[str, Any]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        stored = {row[0] for row in conn.execute("SELECT ref_code FROM reports")}
        incidents = conn.execute("SELECT COUNT(DISTINCT incident_id) FROM reports").fetchone()[0]
        outbox = dict(conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall())
        by_purpose = dict(
            conn.execute(
                "SELECT purpose, COUNT(*) FROM outbox WHERE chat_id = -1001234567890 GROUP BY purpose"
            ).fetchall()
        )
    finally:
        conn.close()
    return {
        "rows": len(stored),
        "lost": sum(c not in stored for c in codes),
        "incidents": incidents,
        "outbox": outbox,
        "group_outbox_by_purpose": by_purpose,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    points = county_points(args.reports, args.seed, centre=VILLAGE, radius_m=args.radius)
    photos = (
        {n: make_jpeg(seed=7_000 + n) for n in range(0, args.reports, args.photo_every)}
        if args.photo_every
        else {}
    )
    with tempfile.TemporaryDirectory(prefix="bench-burst-") as tmp:
        work = Path(tmp)
        fake = await start_fake(test_limits())
        try:
            child = await spawn(fake, "bot", work, rate_limiter=True, experiments=tuple(args.experiment))
            stats = Stats()
            errors: list[str] = []
            counter = iter(range(args.reports))
            t0 = time.monotonic()
            interval = args.minutes * 60 / args.reports if args.minutes else 0.0

            async def one(n: int) -> None:
                person = TimedPerson(fake, 200_000 + n, stats, timeout=300)
                try:
                    await report_sighting(person, *points[n], photo=photos.get(n))
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}"[:300])
                person.tidy()

            async def slot() -> None:
                for n in counter:
                    await one(n)

            try:
                if interval:
                    tasks = []
                    for n in range(args.reports):
                        await asyncio.sleep(max(0.0, t0 + n * interval - time.monotonic()))
                        tasks.append(asyncio.create_task(one(n)))
                    await asyncio.gather(*tasks)
                else:
                    await asyncio.gather(*(slot() for _ in range(args.people)))
                conversations_s = time.monotonic() - t0
                # Let the outbox drain: nothing pending, or give up after --drain seconds.
                drain0 = time.monotonic()
                summary = db_summary(work / "bot.sqlite3", stats.receipts)
                while summary["outbox"].get("pending") and time.monotonic() - drain0 < args.drain:
                    await asyncio.sleep(1.0)
                    summary = db_summary(work / "bot.sqlite3", stats.receipts)
                drain_s = time.monotonic() - drain0
                fake.prune()
            finally:
                await child.stop(timeout=120)
                log_errors = [
                    ln
                    for ln in child.log_path.read_text().splitlines()
                    if " ERROR " in ln and "Updater" not in ln
                ]
        finally:
            await fake.stop()
        summary = db_summary(work / "bot.sqlite3", stats.receipts)

    events = [(at, cost) for at, _, cost in fake.group_sends]
    window_max = max_in_window(events)
    minutes = per_minute(events, t0)
    group_methods: dict[str, int] = {}
    for _, method, cost in fake.group_sends:
        group_methods[method] = group_methods.get(method, 0) + cost
    return {
        "reports": args.reports,
        "people": args.people,
        "paced_minutes": args.minutes,
        "conversations_s": conversations_s,
        "compression": args.reports * 0.6 / conversations_s,
        "real_s": args.reports * 0.6,
        "drain_s": drain_s,
        "receipts": len(stats.receipts),
        "distinct_codes": len(set(stats.receipts)),
        "failed_conversations": len(errors),
        "errors": errors[:5],
        "log_errors": log_errors[-5:],
        "p50_ms": percentile(stats.latencies, 0.5) * 1000,
        "p99_ms": percentile(stats.latencies, 0.99) * 1000,
        "group_messages": sum(cost for _, cost in events),
        "group_methods": group_methods,
        "group_edits": fake.group_edits,
        "group_max_per_60s": window_max,
        "group_per_minute": minutes,
        "too_many": dict(fake.too_many),
        "too_many_total": sum(fake.too_many.values()),
        "errors_by_method": {f"{m} {c}": n for (m, c), n in fake.errors.items()},
        **summary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="150 reports instead of 500")
    parser.add_argument("--reports", type=int, default=None)
    parser.add_argument(
        "--people", type=int, default=50, help="people reporting at the same time (compressed)"
    )
    parser.add_argument(
        "--minutes",
        type=float,
        default=0.0,
        help="pace the arrivals over this many real minutes (default 0: as fast as possible)",
    )
    parser.add_argument("--radius", type=float, default=400.0, help="metres around the village")
    parser.add_argument("--photo-every", type=int, default=10)
    parser.add_argument(
        "--drain", type=float, default=180.0, help="seconds to wait for the outbox afterwards"
    )
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--experiment",
        action="append",
        default=[],
        choices=sorted(EXPERIMENTS),
        help="monkeypatch the bot with a proposed fix to measure its gain (repeatable)",
    )
    args = parser.parse_args()
    if args.reports is None:
        args.reports = 150 if args.quick else 500
    r = asyncio.run(run(args))

    pace = (
        f"paced over {args.minutes:g} real minutes"
        if args.minutes
        else f"as fast as the bot takes them: {r['conversations_s']:.0f} s for what the real burst "
        f"spreads over {r['real_s']:.0f} s ({r['compression']:.2f}x real time"
        + ("; the bot could NOT keep up with the real pace)" if r["compression"] < 1 else ")")
    )
    print(
        f"{r['reports']} sighting reports within {args.radius:.0f} m of one village, {pace}; "
        f"per-chat rate limiter on, fake enforcing Telegram's group/overall limits"
    )
    print(
        f"  conversations: {r['receipts']} receipts ({r['distinct_codes']} distinct codes), "
        f"{r['failed_conversations']} failed; per-update latency p50 {r['p50_ms']:.0f} ms, "
        f"p99 {r['p99_ms']:.0f} ms"
    )
    print(
        f"  database: {r['rows']} reports in {r['incidents']} incident(s); lost {r['lost']}; "
        f"outbox {r['outbox']} ({r['drain_s']:.0f} s after the last receipt)"
    )
    print(
        f"  staff group: {r['group_messages']} messages {r['group_methods']}, {r['group_edits']} edits; "
        f"per real minute {r['group_per_minute']}; most in any 60 s: {r['group_max_per_60s']}"
    )
    print(f"  429 answers: {r['too_many'] or 0}; other errors: {r['errors_by_method'] or 'none'}")
    for line in r["errors"][:3] + r["log_errors"][:3]:
        print(f"    ! {line}")
    rows = [
        (
            "staff-group messages, max per 60 s",
            str(r["group_max_per_60s"]),
            f"<= {GROUP_LIMIT_PER_MINUTE}",
            r["group_max_per_60s"] <= GROUP_LIMIT_PER_MINUTE,
        ),
        ("429s seen", str(r["too_many_total"]), "0", r["too_many_total"] == 0),
        (
            "reports lost",
            str(r["lost"]),
            "0",
            r["lost"] == 0 and r["failed_conversations"] == 0 and r["receipts"] == r["reports"],
        ),
    ]
    print()
    print(f"{'figure':36} {'value':>10}  {'target':10} result")
    for name, value, target, ok in rows:
        print(f"{name:36} {value:>10}  {target:10} {'PASS' if ok else 'MISS'}")
    with contextlib.suppress(Exception):
        print("RESULT " + json.dumps(r))


if __name__ == "__main__":
    main()
