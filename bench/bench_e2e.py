"""End-to-end benchmark (a script, not a test): ``python bench/bench_e2e.py [--quick]``.

The real bot (``python -m bot run --config FILE``, long polling) runs in a
**child process** against the project's fake Bot API (``bot.fake_telegram.FakeTelegram``) served over
HTTP on 127.0.0.1 by this process, which also plays the people. The same fake, the same PTB
settings and the same drivers then run a trivial PTB echo application: the framework's own ceiling
on this machine.

* Throughput: N concurrent simulated people (default 50) each walk whole sighting reports
  (tests/test_conversation.py's ``report_sighting``: 10 updates, 11 when the report has a photo;
  every 10th report carries an 800x600 JPEG; locations spread over the county, so most reports
  open an incident and a staff card). A person makes 4 reports, then a new person takes the slot.
  The echo ceiling is N people each sending texts and waiting for the echo. Both applications run
  for the whole measurement and take turns: echo, bot, echo, …, echo (``--rounds``). A bot round
  ends once its outbox has sent everything it owes (cards, receipts), so deferred work counts.
  Ratio = the median over the rounds of bot updates/s ÷ the mean of the two echo runs around it
  (this shared machine drifts by tens of per cent within minutes); the pooled ratio is printed too.
* Per-update latency p50/p99: from the fake enqueuing the update (the person acting) to the fake
  storing the bot's reply to it (the message the person waits for), under that same load.
* Resident memory of the bot process (VmRSS from /proc/<pid>/status) after 10,000 reports: 9,000
  put into its database beforehand through ``bench.bulk.bulk_load`` (the store's SQL) (with the leftover
  user data of their 2,250 reporters, which PTB loads into memory at start-up), then 1,000 submitted
  through conversations (``--preload`` / ``--reports``; 10,000 conversations take ~30 min here).
  Sampled every 250 conversations and once the outbox is empty; the growth per conversation is
  also extrapolated to 10,000 conversations (info).
* Reports lost: receipts the people got vs rows in the bot's database (must be equal).

Fairness: the fake's flood limits are OFF (``RateLimits(enabled=False)``) for these throughput runs
and its per-result self-check is off; PTB's AIORateLimiter is OFF on both applications for the
headline figures (with it, both are capped by Telegram's 30 messages/s rather than by the code). The
``--limiter`` run repeats a shorter measurement with AIORateLimiter(max_retries=2) ON on both (info).
Both applications handle updates through handlers.updates.PerPersonUpdateProcessor and log like
production (bot/logs.py: the project's loggers at INFO, libraries at WARNING). The bot runs with its
``concurrent_updates`` (``--concurrent-updates``). The echo is
the ceiling, so it runs at its fastest: PTB's one-at-a-time default, 4 at once or the bot's number,
whichever is fastest here by two interleaved runs each before the rounds (``--echo-concurrent-updates``
fixes it). The echo sends through PTB's own HTTPXRequest; ``--echo-transport aiohttp`` gives it the
bot's handlers.bot_api_http.AiohttpRequest instead, the like-for-like ceiling of the bot's own code.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (  # noqa: E402
    EXPERIMENTS,
    UPDATES_PER_REPORT_NO_PHOTO,
    UPDATES_PER_REPORT_PHOTO,
    BenchFake,
    Stats,
    TimedPerson,
    county_points,
    cpu_seconds,
    percentile,
    preload,
    proc_status,
    relaxed_limits,
    report_sighting,
    self_cpu_seconds,
    spawn,
    start_fake,
)
from bot.config import TelegramSettings  # noqa: E402
from tests.kit import BotProcess, make_jpeg  # noqa: E402

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


def stored_codes(path: Path) -> tuple[set[str], set[str]]:
    """(the reports' own reference codes, the codes given to repeats folded into an earlier report)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        own = {row[0] for row in conn.execute("SELECT ref_code FROM reports")}
        drafts = conn.execute("SELECT ref_code FROM report_drafts WHERE ref_code IS NOT NULL")
        folded = {row[0] for row in drafts}
        return own, folded
    finally:
        conn.close()


def lost_reports(receipts: list[str], db: Path) -> tuple[int, int]:
    """(receipts whose reference code the database does not know, receipts of folded repeats).

    The second are by design: a person's second report of the same thing (same kind, close in time
    and place; bot.dedupe.same_report) is folded into their first. Its receipt still carries a code
    of its own (receipts look the same either way), kept in report_drafts, which resolves to the
    first report."""
    own, folded = stored_codes(db)
    lost = sum(code not in own and code not in folded for code in receipts)
    return lost, sum(code in folded for code in receipts)


async def echo_run(fake: BenchFake, pid: int, people: int, updates: int, first_id: int) -> dict[str, Any]:
    """`people` concurrent people, each sending texts and waiting for their echo; `updates` in all."""
    warm = Stats()
    drivers = [TimedPerson(fake, first_id + i, warm) for i in range(people)]
    await asyncio.gather(*(d.send(f"warm-up {d.id}", f"warm-up {d.id}") for d in drivers))
    stats = Stats()
    for d in drivers:
        d.stats = stats
    per_person = max(1, updates // people)

    async def talk(d: TimedPerson) -> None:
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


class BotLoad:
    """The bot's people: `people` slots, each a person making `per_person` reports before a new
    person takes the slot. The load runs in segments (rounds) between which the echo is measured."""

    def __init__(
        self,
        fake: BenchFake,
        pid: int,
        db: Path,
        *,
        people: int,
        total: int,
        photo_every: int,
        per_person: int,
        seed: int,
        sample_every: int,
        preloaded: int,
    ) -> None:
        self.fake, self.pid, self.db = fake, pid, db
        self.people = people
        self.per_person = per_person
        self.sample_every = sample_every
        self.preloaded = preloaded
        self.points = county_points(total + people, seed)
        every = photo_every or total + 1
        self.photos = {n: make_jpeg(seed=seed * 100_000 + n) for n in range(0, total, every)}
        self.next_user = iter(range(100_000, 10_000_000))
        self.next_report = 0
        self.slots: list[tuple[TimedPerson | None, int]] = [(None, 0)] * people
        self.done = 0
        self.receipts: list[str] = []
        self.timeouts = 0
        self.errors: list[str] = []
        self.samples: list[tuple[int, float]] = []

    async def segment(self, reports: int) -> dict[str, Any]:
        """`reports` more reports by the slots at once; the segment's timings, CPU and calls."""
        stats = Stats()
        quota = self.next_report + reports
        updates = 0

        async def slot(i: int) -> None:
            nonlocal updates
            person, made = self.slots[i]
            while self.next_report < quota:
                n = self.next_report
                self.next_report += 1
                if person is None or made >= self.per_person:
                    person, made = TimedPerson(self.fake, next(self.next_user), stats), 0
                person.stats = stats
                photo = self.photos.get(n)
                try:
                    await report_sighting(person, *self.points[n], photo=photo)
                except Exception as exc:  # a lost conversation is a figure, not a crash of the benchmark
                    self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
                    person = None
                    continue
                made += 1
                self.done += 1
                updates += UPDATES_PER_REPORT_PHOTO if photo else UPDATES_PER_REPORT_NO_PHOTO
                person.tidy()
                if self.done % 200 == 0:
                    self.fake.prune()
                if self.sample_every and self.done % self.sample_every == 0:
                    self.samples.append((self.preloaded + self.done, proc_status(self.pid)["VmRSS"] / 1024))
            self.slots[i] = (person, made)

        done0 = self.done
        t0, cpu0, child0 = time.perf_counter(), self_cpu_seconds(), cpu_seconds(self.pid)
        calls0 = self.fake.methods.copy()
        await asyncio.gather(*(slot(i) for i in range(min(self.people, reports))))
        # The round ends when the bot has also sent everything it owes for it (the staff cards and
        # pins, the receipts), so work the bot defers is not left outside the timed window.
        drain = await self.drain()
        elapsed = time.perf_counter() - t0
        result = {
            "reports": self.done - done0,
            "updates": updates,
            "seconds": elapsed,
            "latencies": stats.latencies,
            "child_cpu": cpu_seconds(self.pid) - child0,
            "parent_cpu": self_cpu_seconds() - cpu0,
            "calls": dict(self.fake.methods - calls0),
            "drain_seconds": drain,
        }
        self.receipts += stats.receipts
        self.timeouts += stats.timeouts
        return result

    async def drain(self) -> float:
        """Waits until the bot's outbox has sent everything owed (cards, receipts); the seconds it took."""
        t0 = time.perf_counter()
        for _ in range(1200):
            _, outbox = db_counts(self.db)
            if not outbox.get("pending"):
                break
            await asyncio.sleep(0.02)
        return time.perf_counter() - t0


def pool(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs as one: counts, times and CPU added, latencies and calls combined."""
    calls: Counter[str] = Counter()
    for run in runs:
        calls.update(run["calls"])
    pooled = {k: sum(run[k] for run in runs) for k in ("updates", "seconds", "child_cpu", "parent_cpu")}
    latencies = [x for run in runs for x in run["latencies"]]
    return {**runs[0], **pooled, "latencies": latencies, "calls": dict(calls)}


def rate(run: dict[str, Any]) -> float:
    return float(run["updates"] / run["seconds"])


def describe(label: str, run: dict[str, Any], what: str) -> str:
    lat = run["latencies"]
    return (
        f"{label} ({what} in {run['seconds']:.1f} s); latency p50 {percentile(lat, 0.5) * 1000:.1f} ms,"
        f" p99 {percentile(lat, 0.99) * 1000:.1f} ms; this process (fake + people) used "
        f"{run['parent_cpu'] / run['seconds']:.0%} of a core"
    )


async def fastest_echo(
    echoes: dict[int, tuple[BenchFake, BotProcess]], people: int, updates: int
) -> tuple[int, dict[int, list[float]]]:
    """Which echo is the ceiling: the fastest here, by the mean of two interleaved runs each (a
    single candidate is taken as it is). The others are stopped."""
    if len(echoes) == 1:
        return next(iter(echoes)), {}
    rates: dict[int, list[float]] = {n: [] for n in echoes}
    for turn in range(2):
        for k, (n, (fake, child)) in enumerate(echoes.items()):
            run = await echo_run(fake, child.pid, people, updates, 30_000 + 1000 * (2 * k + turn))
            rates[n].append(rate(run))
    best = max(rates, key=lambda n: statistics.mean(rates[n]))
    print(
        "  echo calibration, updates/s of two runs by updates at once: "
        + "; ".join(f"{n}: {' / '.join(f'{r:,.0f}' for r in rs)}" for n, rs in rates.items())
        + f"; the ceiling is the echo with {best} at once",
        flush=True,
    )
    for n, (_, child) in echoes.items():
        if n != best:
            await child.stop()
    return best, rates


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
    running = args.concurrent_updates or TelegramSettings.concurrent_updates
    candidates = [args.echo_concurrent_updates] if args.echo_concurrent_updates else sorted({1, 4, running})
    mode += f"; bot {running} update(s) at once"
    echo_choice = "/".join(map(str, candidates))
    mode += f"; echo on {args.echo_transport}, " + (
        f"{echo_choice} at once" if len(candidates) == 1 else f"the fastest of {echo_choice} at once"
    )
    if args.experiment:
        mode += f"; EXPERIMENT on the bot (not the tree's code): {', '.join(args.experiment)}"
    rounds = max(1, args.rounds)
    print(
        f"--- {mode}; fake flood limits off; {args.people} concurrent people; {rounds} round(s) of "
        "bot load, each between two echo runs",
        flush=True,
    )
    async with contextlib.AsyncExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-e2e-")))
        preloaded = 0
        if rss and args.preload:
            t = time.perf_counter()
            preloaded = preload(
                work / "bot.sqlite3", args.preload, max(1, args.preload // args.per_person), args.seed
            )
            print(
                f"  preloaded {preloaded:,} reports by {max(1, args.preload // args.per_person):,} people "
                f"with bench.bulk.bulk_load in {time.perf_counter() - t:.1f} s",
                flush=True,
            )
        # Both applications run for the whole measurement, each against its own fake, and take turns:
        # echo, bot, echo, bot, …, echo. This shared machine's speed drifts by tens of per cent over
        # minutes; each bot round is compared with the echo runs just before and after it.
        echoes: dict[int, tuple[BenchFake, BotProcess]] = {}
        for n in candidates:
            echo_fake = await start_fake(relaxed_limits())
            stack.push_async_callback(echo_fake.stop)
            (work / f"echo{n}").mkdir()
            child = await spawn(
                echo_fake,
                "echo",
                work / f"echo{n}",
                rate_limiter=limiter,
                concurrent_updates=n,
                echo_transport=args.echo_transport,
            )
            stack.push_async_callback(child.stop)
            echoes[n] = (echo_fake, child)
        echo_running, calibration = await fastest_echo(echoes, args.people, echo_updates // (rounds + 1))
        echo_fake, echo_child = echoes[echo_running]
        bot_fake = await start_fake(relaxed_limits())
        stack.push_async_callback(bot_fake.stop)
        bot_child = await spawn(
            bot_fake,
            "bot",
            work,
            rate_limiter=limiter,
            profile=profile,
            experiments=tuple(args.experiment),
            concurrent_updates=args.concurrent_updates,
            read_connections=args.read_connections,
        )
        rss_start = proc_status(bot_child.pid)["VmRSS"] / 1024
        warmup = min(args.people, reports)
        load = BotLoad(
            bot_fake,
            bot_child.pid,
            work / "bot.sqlite3",
            people=args.people,
            total=reports,
            photo_every=args.photo_every,
            per_person=args.per_person,
            seed=args.seed,
            sample_every=250 if rss else 0,
            preloaded=preloaded,
        )
        # Warm-up (imports, caches, the first incidents), counted towards the RSS total but not timed.
        await load.segment(warmup)
        rss_warm = proc_status(bot_child.pid)["VmRSS"] / 1024
        echo_runs: list[dict[str, Any]] = []
        bot_runs: list[dict[str, Any]] = []

        async def echo_round() -> None:
            run = await echo_run(
                echo_fake,
                echo_child.pid,
                args.people,
                echo_updates // (rounds + 1),
                50_000 + 1000 * len(echo_runs),
            )
            echo_runs.append(run)
            print(
                f"  echo {len(echo_runs)}: "
                + describe(f"{rate(run):,.0f} updates/s", run, f"{run['updates']:,} updates")
                + f"; the echo process used {run['child_cpu'] / run['seconds']:.0%} of a core",
                flush=True,
            )

        await echo_round()
        timed = reports - warmup
        drain = 0.0
        for i in range(rounds):
            run = await load.segment(timed // rounds + (i < timed % rounds))
            drain = run["drain_seconds"]
            bot_runs.append(run)
            print(
                f"  bot {i + 1}: "
                + describe(f"{rate(run):,.0f} updates/s", run, f"{run['reports']:,} reports")
                + f"; the bot process used {run['child_cpu'] / run['seconds']:.0%} of a core"
                + f"; its outbox drained {drain:.2f} s after its last report (counted in its time)",
                flush=True,
            )
            await echo_round()
        rss_end = proc_status(bot_child.pid)
        await bot_child.stop(timeout=120)
        log_errors: list[str] = []
        with contextlib.suppress(Exception):
            log_tail = bot_child.log_path.read_text().splitlines()
            # (the Updater's complaint about its last getUpdates at shutdown is not the bot's)
            errors_at = [i for i, ln in enumerate(log_tail) if " ERROR " in ln and "Updater" not in ln]
            log_errors = [log_tail[i] for i in errors_at[-5:]]
            if errors_at:  # the first error's traceback, which says where it came from
                first = errors_at[0]
                log_errors += [ln for ln in log_tail[first + 1 : first + 40] if not ln.startswith("20")][:30]
        rows, outbox = db_counts(work / "bot.sqlite3")
        lost, repeated = lost_reports(load.receipts, work / "bot.sqlite3")
    # Each bot round against the mean of the echo runs around it; the median of those is the figure.
    round_ratios = [
        rate(run) / ((rate(echo_runs[i]) + rate(echo_runs[i + 1])) / 2) for i, run in enumerate(bot_runs)
    ]
    ratio = statistics.median(round_ratios)
    echo, bot = pool(echo_runs), pool(bot_runs)
    bot["reports"] = sum(run["reports"] for run in bot_runs)
    echo_ups, bot_ups = rate(echo), rate(bot)
    print(
        f"  rounds: bot/echo {', '.join(f'{r:.1%}' for r in round_ratios)}; median {ratio:.1%}; "
        f"pooled {bot_ups:,.0f} vs {echo_ups:,.0f} updates/s = {bot_ups / echo_ups:.1%}",
        flush=True,
    )
    bot_rps = bot["reports"] / bot["seconds"]
    per_report = bot["updates"] / max(1, bot["reports"])
    ceiling_rps = echo_ups / per_report
    echo_cpu_ms = echo["child_cpu"] / echo["updates"] * 1000
    bot_cpu_ms = bot["child_cpu"] / bot["updates"] * 1000

    def api_calls(calls: dict[str, int], n: int) -> tuple[float, str]:
        sent = {m: c for m, c in calls.items() if m != "getUpdates"}
        detail = ", ".join(f"{m} {c / n:.2f}" for m, c in sorted(sent.items(), key=lambda kv: -kv[1]))
        return sum(sent.values()) / n, detail

    bot_calls, bot_detail = api_calls(bot["calls"], bot["updates"])
    echo_calls, _ = api_calls(echo["calls"], echo["updates"])
    bot_polls = bot["calls"].get("getUpdates", 0) / bot["updates"]
    echo_polls = echo["calls"].get("getUpdates", 0) / echo["updates"]
    print(
        f"  Bot API calls per update (besides getUpdates): bot {bot_calls:.2f} ({bot_detail}); "
        f"echo {echo_calls:.2f}; getUpdates per update: bot {bot_polls:.2f}, echo {echo_polls:.2f}",
        flush=True,
    )
    print(
        f"  CPU per update (robust to other load on the machine): bot {bot_cpu_ms:.2f} ms, echo "
        f"{echo_cpu_ms:.2f} ms ({echo_cpu_ms / bot_cpu_ms:.0%}); load average now "
        f"{os.getloadavg()[0]:.2f}",
        flush=True,
    )
    print(
        f"  ratio {ratio:.1%} of the echo ceiling (median of the rounds; ceiling as reports/s: "
        f"{ceiling_rps:,.2f}; {per_report:.2f} updates per report)",
        flush=True,
    )
    print(
        f"  {load.done:,} reports in all: {len(load.receipts):,} receipts, {rows:,} rows in the database, "
        f"{len(set(load.receipts)):,} distinct codes ({repeated} folded into the same person's earlier "
        f"report, by design), {lost} lost; outbox {outbox} (drained {drain:.1f} s after the last report); "
        f"{load.timeouts} step(s) timed out",
        flush=True,
    )
    for line in load.errors[:3] + log_errors[:40]:
        print(f"    ! {line}")
    rss_mb = rss_end["VmRSS"] / 1024
    per_report_kb = (rss_mb - rss_warm) * 1024 / max(1, load.done - warmup)
    extrapolated = rss_warm + per_report_kb * (10_000 - warmup) / 1024
    if rss:
        curve = ", ".join(f"{n:,}: {mb:.0f}" for n, mb in load.samples)
        print(
            f"  bot RSS growth {per_report_kb:.1f} kB per conversation after the warm-up; 10,000 "
            f"conversations would end near {extrapolated:.0f} MB (extrapolated)",
            flush=True,
        )
        print(
            f"  bot RSS (MB) at start {rss_start:.0f}; by reports: {curve}; at the end, outbox drained, "
            f"{rss_mb:.0f} (peak {rss_end['VmHWM'] / 1024:.0f})",
            flush=True,
        )
    return {
        "mode": mode,
        "echo_running": echo_running,
        "echo_calibration": calibration,
        "rounds": rounds,
        "round_ratios": round_ratios,
        "pooled_ratio": bot_ups / echo_ups,
        "echo_updates_per_s": echo_ups,
        "echo_p50_ms": percentile(echo["latencies"], 0.5) * 1000,
        "echo_p99_ms": percentile(echo["latencies"], 0.99) * 1000,
        "bot_reports_per_s": bot_rps,
        "bot_updates_per_s": bot_ups,
        "ceiling_reports_per_s": ceiling_rps,
        "bot_p50_ms": percentile(bot["latencies"], 0.5) * 1000,
        "bot_p99_ms": percentile(bot["latencies"], 0.99) * 1000,
        "ratio": ratio,
        "total_reports": load.done + preloaded,
        "conversation_reports": load.done,
        "preloaded": preloaded,
        "receipts": len(load.receipts),
        "rows": rows,
        "lost": lost,
        "repeated": repeated,
        "failed_conversations": len(load.errors),
        "rss_mb": rss_mb,
        "rss_samples": load.samples,
        "rss_start_mb": rss_start,
        "rss_per_conversation_kb": per_report_kb,
        "rss_extrapolated_10k_mb": extrapolated,
        "bot_cpu_share": bot["child_cpu"] / bot["seconds"],
        "echo_cpu_share": echo["child_cpu"] / echo["seconds"],
        "bot_cpu_ms_per_update": bot_cpu_ms,
        "echo_cpu_ms_per_update": echo_cpu_ms,
        "bot_api_calls_per_update": bot_calls,
        "echo_api_calls_per_update": echo_calls,
        "bot_api_calls_detail": bot_detail,
        "bot_get_updates_per_update": bot_polls,
        "echo_get_updates_per_update": echo_polls,
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
        "--read-connections",
        type=int,
        default=0,
        help="the bot's [storage] read_connections (default 0, the shipped default)",
    )
    parser.add_argument(
        "--concurrent-updates",
        type=int,
        default=None,
        help="updates handled at once by the bot and the echo alike (default: the bot's config default; "
        "1: PTB's one-at-a-time)",
    )
    parser.add_argument(
        "--echo-concurrent-updates",
        type=int,
        default=None,
        help="the echo's updates at once (default: the fastest of 1, 4 and the bot's number)",
    )
    parser.add_argument(
        "--echo-transport",
        choices=["httpx", "aiohttp"],
        default="httpx",
        help="the echo's Bot API transport: PTB's own HTTPXRequest (default) or the bot's AiohttpRequest "
        "(info)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="bot rounds, each between two echo runs (default 4; quick 3); the ratio is their median",
    )
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
    if args.rounds is None:
        args.rounds = 3 if args.quick else 4
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
