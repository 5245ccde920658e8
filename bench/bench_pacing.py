"""Pacing benchmark, per chat (a script, not a test): ``python bench/bench_pacing.py [--limiter aio]``.

30 new incidents far apart (each its own card) reported within one minute, plus 50 residents
reporting around one village while the staff group's budget is spent. The real Application runs in
a child process; the fake Bot API in this one enforces Telegram's REAL limits (RateLimits(): 20
messages a minute per group, a private chat's bucket of 5 refilled at 1 a second, 30 a second
overall), and the people tap as fast as the bot answers (no reading time: the strictest case).

Real time, not compressed: the staff group's 20 messages a minute bound the run (about 3 minutes).

Prints: staff-group messages in any rolling 60 s (target <= 20) and per minute; 429 answers by the
limit that refused them (target 0); resident reply latency p50/p99, overall and for the steps taken
while the staff group was saturated (target p99 <= 2 s); cards: incidents in the database vs cards
posted, and what is still owed in the outbox (target 0 lost). ``--limiter aio`` runs the same with
PTB's AIORateLimiter as the bot shipped it before (one call per 1/28 s, 20-a-minute group bucket,
max_retries=2, every request held on any 429) for the other side of the comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (  # noqa: E402
    Stats,
    TimedPerson,
    percentile,
    report_sighting,
    spawn,
    start_fake,
)
from bench.bench_burst import max_in_window, per_minute  # noqa: E402
from bot.fake_telegram.ratelimit import RateLimits  # noqa: E402
from tests.kit import make_jpeg  # noqa: E402

VILLAGE = (37.3296, 113.5702)
GROUP_LIMIT_PER_MINUTE = 20
P99_TARGET_S = 2.0


def far_apart(n: int) -> list[tuple[float, float]]:
    """`n` points inside the county at least ~4.4 km apart (each its own incident), none near VILLAGE."""
    from bot.locations import service_area

    area = service_area()
    grid = [(round(37.16 + 0.04 * i, 4), round(113.36 + 0.05 * j, 4)) for i in range(10) for j in range(10)]
    away = [p for p in grid if area.contains(*p) and math.dist(p, VILLAGE) > 0.06]
    if len(away) < n:
        raise SystemExit(f"only {len(away)} far-apart points in the county")
    step = len(away) / n
    return [away[int(k * step)] for k in range(n)]


def near_village(n: int) -> list[tuple[float, float]]:
    """`n` points within ~200 m of VILLAGE (one incident, its card refreshed)."""
    return [
        (round(VILLAGE[0] + 0.0015 * math.cos(k), 6), round(VILLAGE[1] + 0.0015 * math.sin(k), 6))
        for k in range(n)
    ]


def db_summary(path: Path) -> dict[str, Any]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        incidents = conn.execute("SELECT COUNT(DISTINCT incident_id) FROM reports").fetchone()[0]
        cards = conn.execute("SELECT COUNT(*) FROM cards").fetchone()[0]
        outbox = dict(conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall())
        reports = conn.execute("SELECT COUNT(*) FROM reports").fetchone()[0]
    finally:
        conn.close()
    return {"incidents": incidents, "cards": cards, "outbox": outbox, "reports": reports}


class Timed(Stats):
    """Stats plus when each step started (for the latencies while the group was saturated)."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[tuple[float, float]] = []  # (monotonic start, latency)


class TimedDriver(TimedPerson):
    async def _reply_to(self, act: Any, contains: str | None = None) -> dict[str, Any]:
        start = time.monotonic()
        before = len(self.stats.latencies)
        message = await super()._reply_to(act, contains)
        assert isinstance(self.stats, Timed)
        if len(self.stats.latencies) > before:
            self.stats.steps.append((start, self.stats.latencies[-1]))
        return message


async def run(args: argparse.Namespace) -> dict[str, Any]:
    incidents = far_apart(args.incidents)
    residents = near_village(args.residents)
    with tempfile.TemporaryDirectory(prefix="bench-pacing-") as tmp:
        work = Path(tmp)
        fake = await start_fake(RateLimits())  # Telegram's real limits, private chats included
        fake.keep_calls = 20000
        try:
            child = await spawn(fake, "bot", work, rate_limiter=True, limiter=args.limiter)
            reporters, locals_ = Timed(), Timed()
            errors: list[str] = []
            t0 = time.monotonic()

            async def one(
                n: int, point: tuple[float, float], stats: Timed, start_at: float, photo: bool
            ) -> None:
                await asyncio.sleep(max(0.0, t0 + start_at - time.monotonic()))
                person = TimedDriver(fake, 300_000 + n, stats, timeout=args.timeout)
                try:
                    await report_sighting(person, *point, photo=make_jpeg(seed=8_000 + n) if photo else None)
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}"[:300])
                person.tidy()

            spread = args.seconds / args.incidents
            tasks = [
                one(n, p, reporters, n * spread, bool(args.photo_every) and n % args.photo_every == 0)
                for n, p in enumerate(incidents)
            ]
            # The residents arrive once the group's first minute is filling up, one a second.
            tasks += [
                one(1_000 + k, p, locals_, args.residents_from + k * args.residents_every, False)
                for k, p in enumerate(residents)
            ]
            await asyncio.gather(*tasks)
            conversations_s = time.monotonic() - t0
            drain0 = time.monotonic()
            summary = db_summary(work / "bot.sqlite3")
            while summary["outbox"].get("pending") and time.monotonic() - drain0 < args.drain:
                await asyncio.sleep(1.0)
                summary = db_summary(work / "bot.sqlite3")
            drain_s = time.monotonic() - drain0
            await asyncio.sleep(2.0)  # the last card's answer is recorded
            summary = db_summary(work / "bot.sqlite3")
        finally:
            with contextlib.suppress(Exception):
                await child.stop(timeout=120)
            await fake.stop()
        log_errors = [
            ln for ln in child.log_path.read_text().splitlines() if " ERROR " in ln and "Updater" not in ln
        ][-5:]

    events = [(at, cost) for at, _, cost in fake.group_sends]
    sends = sorted(at for at, cost in events for _ in range(cost))
    saturated_from = sends[GROUP_LIMIT_PER_MINUTE - 1] if len(sends) >= GROUP_LIMIT_PER_MINUTE else math.inf
    saturated_to = sends[-1] if sends else -math.inf
    during = [
        latency for at, latency in locals_.steps + reporters.steps if saturated_from <= at <= saturated_to
    ]
    everyone = reporters.latencies + locals_.latencies
    group_methods: dict[str, int] = {}
    for _, method, cost in fake.group_sends:
        group_methods[method] = group_methods.get(method, 0) + cost
    owed = summary["outbox"].get("pending", 0) + summary["outbox"].get("failed", 0)
    return {
        "limiter": args.limiter,
        "incidents_reported": args.incidents,
        "residents": args.residents,
        "seconds": args.seconds,
        "conversations_s": conversations_s,
        "drain_s": drain_s,
        "receipts": len(reporters.receipts) + len(locals_.receipts),
        "failed_conversations": len(errors),
        "errors": errors[:5],
        "log_errors": log_errors,
        "group_messages": len(sends),
        "group_methods": group_methods,
        "group_edits": fake.group_edits,
        "group_max_per_60s": max_in_window(events) if events else 0,
        "group_per_minute": per_minute(events, t0),
        "too_many": dict(fake.too_many),
        "too_many_total": sum(fake.too_many.values()),
        "p50_s": percentile(everyone, 0.5),
        "p99_s": percentile(everyone, 0.99),
        "resident_p99_s": percentile(locals_.latencies, 0.99),
        "saturated_s": max(0.0, saturated_to - saturated_from) if during else 0.0,
        "during_steps": len(during),
        "during_p50_s": percentile(during, 0.5),
        "during_p99_s": percentile(during, 0.99),
        "during_max_s": max(during) if during else math.nan,
        "lost_cards": summary["incidents"] - summary["cards"],
        "owed": owed,
        **summary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=30, help="new far-apart incidents")
    parser.add_argument("--seconds", type=float, default=60.0, help="...reported within this many seconds")
    parser.add_argument("--residents", type=int, default=50, help="residents reporting near one village")
    parser.add_argument("--residents-from", type=float, default=20.0, help="first resident starts (s)")
    parser.add_argument("--residents-every", type=float, default=1.0, help="seconds between residents")
    parser.add_argument(
        "--photo-every", type=int, default=3, help="every n-th incident has a photo (0: none)"
    )
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds a person waits for a reply")
    parser.add_argument("--drain", type=float, default=300.0, help="seconds to wait for the outbox")
    parser.add_argument(
        "--limiter",
        choices=["per-chat", "aio"],
        default="per-chat",
        help="aio: PTB's AIORateLimiter, as before",
    )
    args = parser.parse_args()
    r = asyncio.run(run(args))
    name = "per-chat pacing (handlers/ratelimit.py)" if r["limiter"] == "per-chat" else "PTB AIORateLimiter"
    print(
        f"{r['incidents_reported']} far-apart incidents within {r['seconds']:.0f} s + "
        f"{r['residents']} residents near one village; {name}; "
        "fake enforcing Telegram's real limits (group 20/min, private 1/s, 30/s)"
    )
    print(
        f"  conversations: {r['receipts']} receipts, {r['failed_conversations']} failed, "
        f"{r['conversations_s']:.0f} s; reply latency p50 {r['p50_s']:.2f} s, p99 {r['p99_s']:.2f} s"
    )
    print(
        f"  while the staff group was saturated ({r['saturated_s']:.0f} s, {r['during_steps']} steps): "
        f"p50 {r['during_p50_s']:.2f} s, p99 {r['during_p99_s']:.2f} s, max {r['during_max_s']:.2f} s"
    )
    print(
        f"  staff group: {r['group_messages']} messages {r['group_methods']}, {r['group_edits']} edits; "
        f"per minute {r['group_per_minute']}; most in any 60 s: {r['group_max_per_60s']}"
    )
    print(
        f"  database: {r['reports']} reports, {r['incidents']} incidents, {r['cards']} cards posted; "
        f"outbox {r['outbox']} ({r['drain_s']:.0f} s after the last receipt)"
    )
    print(f"  429 answers: {r['too_many'] or 0}")
    for line in r["errors"][:3] + r["log_errors"][:3]:
        print(f"    ! {line}")
    rows = [
        (
            "staff-group messages, max per 60 s",
            str(r["group_max_per_60s"]),
            f"<= {GROUP_LIMIT_PER_MINUTE}",
            f"{r['group_max_per_60s'] / GROUP_LIMIT_PER_MINUTE:.2f}",
            r["group_max_per_60s"] <= GROUP_LIMIT_PER_MINUTE,
        ),
        ("429s seen", str(r["too_many_total"]), "0", "", r["too_many_total"] == 0),
        (
            "reply p99 while group saturated",
            f"{r['during_p99_s']:.2f} s",
            f"<= {P99_TARGET_S:.0f} s",
            f"{r['during_p99_s'] / P99_TARGET_S:.2f}",
            r["during_steps"] > 0 and r["during_p99_s"] <= P99_TARGET_S,
        ),
        (
            "cards lost",
            f"{r['lost_cards']} (owed {r['owed']})",
            "0",
            f"{r['cards']}/{r['incidents']}",
            r["lost_cards"] == 0 and r["owed"] == 0 and r["failed_conversations"] == 0,
        ),
    ]
    print()
    print(f"{'figure':36} {'value':>14}  {'target':8} {'ratio':>7} result")
    for figure, value, target, ratio, ok in rows:
        print(f"{figure:36} {value:>14}  {target:8} {ratio:>7} {'PASS' if ok else 'MISS'}")
    with contextlib.suppress(Exception):
        print("RESULT " + json.dumps(r))


if __name__ == "__main__":
    main()
