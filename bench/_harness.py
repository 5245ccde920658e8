"""Shared machinery of the end-to-end benchmarks (bench_e2e.py, bench_burst.py, bench_pacing.py); not a
benchmark itself. Built on the test kit (tests/kit/): its Person, its report_sighting, its bot process.

* :class:`BenchFake` — the project's fake Bot API (``bot.fake_telegram.FakeTelegram``) with hooks
  (its public ``on_bot_message`` / ``on_call``) that timestamp every bot message as the fake stores
  it, count calls and 429s, and let the driver prune its history (a 10,000-report run would
  otherwise keep ~100,000 updates and messages and deep-copy whole chats on every wait).
* :class:`TimedPerson` — the kit's :class:`~tests.kit.Person` as one simulated person under load:
  each step enqueues an update and waits for the bot's reply to it in the person's chat, recording
  the latency (fake enqueue → the fake storing the reply); it reads messages with
  ``FakeTelegram.live_message`` (no copy) instead of ``messages_in`` (which deep-copies the whole
  chat) so that the load generator stays cheap.
* :func:`spawn` — runs the bot in a **separate process** (this process hosts the fake and the
  people) exactly as production starts it, ``python -m bot run --config FILE``, through the kit's
  :class:`~tests.kit.BotProcess`; what no setting expresses (the rate limiter off for the headline
  figures, PTB's AIORateLimiter, the private-chat burst, a profile) is bench/variant/sitecustomize.py's
  job. The echo ceiling (not the bot) runs through the same runner as ``python bench/_harness.py
  echo SPEC.json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import signal
import sys
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.fake_telegram import FakeTelegram  # noqa: E402
from bot.fake_telegram.ratelimit import RateLimits  # noqa: E402
from tests.kit import (  # noqa: E402
    STAFF_ADMIN,
    STAFF_GROUP,
    BotProcess,
    Person,
    machine_speed_limits,
    write_config,
)
from tests.kit import report_sighting as kit_report_sighting  # noqa: E402
from tests.kit import start_fake as start_kit_fake  # noqa: E402

HARNESS = Path(__file__).resolve()
#: bench/variant/sitecustomize.py: the bench-only changes to the bot process
VARIANT_DIR = HARNESS.parent / "variant"


# ------------------------------------------------------------------------------------------ the fake


class BenchFake(FakeTelegram):
    """FakeTelegram plus timestamps, counters and pruning for long runs, through the fake's public hooks."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keep_calls = 2000  # the driver keeps its own counters; tests' assertions are not needed
        self.inboxes: dict[int, Inbox] = {}
        self.methods: Counter[str] = Counter()
        self.errors: Counter[tuple[str, int]] = Counter()
        self.too_many: Counter[str] = Counter()
        #: (monotonic time, method, messages) of every successful send* into the staff group
        #: 429s by the limit that refused them ("overall 30/s", "staff group 20/min", "private chat")
        self.group_sends: list[tuple[float, str, int]] = []
        self.group_edits = 0
        self.first_get_updates = asyncio.Event()
        self.on_bot_message(self._timestamp)
        self.on_call(self._count)

    def _timestamp(self, chat_id: int, message: dict[str, Any]) -> None:
        inbox = self.inboxes.get(chat_id)
        if inbox is not None:
            inbox.add(time.perf_counter(), message)

    def _count(self, call: Any) -> None:
        method = call.method
        self.methods[method] += 1
        if method == "getUpdates":
            self.first_get_updates.set()
        chat_id = call.params.get("chat_id")
        in_group = chat_id is not None and str(chat_id) == str(STAFF_GROUP)
        if call.ok:
            if in_group and method.startswith("send"):
                cost = len(call.params.get("media") or ()) if method == "sendMediaGroup" else 1
                self.group_sends.append((time.monotonic(), method, cost))
            elif in_group and method.startswith("edit"):
                self.group_edits += 1
        elif call.error_code is not None:
            self.errors[(method, call.error_code)] += 1
            if call.error_code == 429:
                # Which of the fake's limits refused it: the overall 30/s window, or the chat's own.
                recent = self.recent_sends(1.0)
                cause = (
                    "overall 30/s"
                    if recent + 1 > self.rate_limits.global_per_second
                    else (
                        "staff group 20/min"
                        if in_group
                        else "private chat"
                        if chat_id is not None
                        else "other"
                    )
                )
                self.too_many[cause] += 1
        call.result = None  # nobody reads it; keeps the bounded history small
        call.files = {}

    def prune(self) -> None:
        """Forgets delivered updates, answered callback queries and downloaded files."""
        self.forget_delivered()


def relaxed_limits() -> RateLimits:
    return RateLimits(enabled=False)


def test_limits() -> RateLimits:
    """The test suite's limits: Telegram's group (20/min) and overall (30/s) limits; a private chat's
    bucket scaled for a person tapping at machine speed (tests.kit.machine_speed_limits)."""
    return machine_speed_limits()


async def start_fake(limits: RateLimits, *, self_check: bool = False) -> BenchFake:
    return await start_kit_fake(BenchFake(rate_limits=limits, self_check=self_check))


# ------------------------------------------------------------------------------------------ people


class Inbox:
    """The bot's messages in one private chat since the driver last looked."""

    __slots__ = ("event", "ids", "items")

    def __init__(self) -> None:
        self.items: list[tuple[float, dict[str, Any]]] = []
        self.ids: deque[int] = deque(maxlen=12)
        self.event = asyncio.Event()

    def add(self, at: float, message: dict[str, Any]) -> None:
        self.items.append((at, message))
        self.ids.append(message["message_id"])
        self.event.set()


class StepTimeout(Exception):
    pass


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)  # seconds, one per update
    timeouts: int = 0
    receipts: list[str] = field(default_factory=list)


class TimedPerson(Person):
    """One simulated person in a private chat with the bot, timing every step."""

    def __init__(
        self, fake: BenchFake, user_id: int, stats: Stats, *, language: str = "en", timeout: float = 120.0
    ) -> None:
        super().__init__(fake, user_id, f"Person {user_id}", language=language)
        self.bench_fake, self.stats, self.timeout = fake, stats, timeout
        self.inbox = fake.inboxes[user_id] = Inbox()
        self.files: list[str] = []

    async def _reply_to(self, act: Callable[[], Any], contains: str | None = None) -> dict[str, Any]:
        """Enqueues one update (`act`) and waits for the bot's message containing `contains`."""
        inbox = self.inbox
        inbox.items.clear()
        inbox.event.clear()
        start = time.perf_counter()
        act()
        deadline = start + self.timeout
        while True:
            for at, message in inbox.items:
                if contains is None or contains in (message.get("text") or message.get("caption") or ""):
                    self.stats.latencies.append(at - start)
                    return message
            inbox.event.clear()
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                self.stats.timeouts += 1
                seen = [(m.get("text") or "")[:80] for _, m in inbox.items]
                raise StepTimeout(f"person {self.id}: no reply containing {contains!r}; got {seen}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(inbox.event.wait(), remaining)

    async def send_photo(self, data: bytes, contains: str | None = None) -> dict[str, Any]:
        def act() -> None:
            message = self.fake.send_photo(self.id, data)
            self.files.extend(size["file_id"] for size in message["photo"])

        return await self._reply_to(act, contains)

    def find_button(self, label: str) -> tuple[dict[str, Any], str] | None:
        """The newest inline button with `label` among the bot's last messages, read without copies."""
        live = (self.fake.live_message(self.id, mid) for mid in reversed(self.inbox.ids))
        return self.button_in(live, label)

    def tidy(self) -> None:
        self.fake.forget_messages(self.id, keep=30)  # the bot never edits older ones here
        self.fake.forget_files(self.files)
        self.files.clear()


UPDATES_PER_REPORT_NO_PHOTO = 10
UPDATES_PER_REPORT_PHOTO = 11


async def report_sighting(person: TimedPerson, lat: float, lon: float, photo: bytes | None = None) -> str:
    """The kit's report_sighting (10 updates, 11 with a photo); its code is kept in the person's stats."""
    code = await kit_report_sighting(person, lat, lon, photo=photo)
    person.stats.receipts.append(code)
    return code


def county_points(
    n: int, seed: int, *, centre: tuple[float, float] | None = None, radius_m: float = 0.0
) -> list[tuple[float, float]]:
    """`n` points inside the county's service area: anywhere (centre None) or within radius_m of centre."""
    from bot.locations import service_area

    area = service_area()
    rnd = random.Random(seed)
    out: list[tuple[float, float]] = []
    while len(out) < n:
        if centre is None:
            lat, lon = rnd.uniform(37.15, 37.55), rnd.uniform(113.25, 113.85)
        else:
            r = radius_m * math.sqrt(rnd.random())
            a = rnd.uniform(0, 2 * math.pi)
            lat = centre[0] + r * math.cos(a) / 111_320
            lon = centre[1] + r * math.sin(a) / (111_320 * math.cos(math.radians(centre[0])))
        if area.contains(lat, lon):
            out.append((round(lat, 6), round(lon, 6)))
    return out


def preload(database: Path, reports: int, people: int, seed: int) -> int:
    """Puts `reports` finished reports from `people` people into a new bot database, as they would be
    after that many conversations: rows through ``bench.bulk.bulk_load``, the store's own SQL (reports,
    incidents, photo hashes for a third) and each person's leftover user data ({"lang": "en"}), which
    PTB loads into memory at start-up. The outbox is empty (their cards went out long ago).
    Returns the number of reports loaded."""
    import sqlite3
    from datetime import UTC, datetime, timedelta

    from bench.bulk import BulkReport, bulk_load
    from bot.store import MIGRATIONS

    rnd = random.Random(seed)
    points = county_points(reports, seed + 1)
    now = datetime.now(UTC)
    database.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        for script in MIGRATIONS:
            conn.executescript(script)
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        rows = []
        for i, (lat, lon) in enumerate(points):
            seen = now - timedelta(seconds=rnd.uniform(3600, 25 * 86400))
            rows.append(
                BulkReport(
                    kind="sighting",
                    latitude=lat,
                    longitude=lon,
                    accuracy_m=25.0,
                    observed_at=seen,
                    submitted_at=seen + timedelta(minutes=30),
                    reporter_id=1_000_000 + i % people,
                    photos=((f"{rnd.getrandbits(256):064x}", rnd.getrandbits(64)),) if i % 3 == 0 else (),
                )
            )
        rows.sort(key=lambda r: r.submitted_at)
        loaded = bulk_load(conn, rows)
        conn.executemany(
            "INSERT INTO user_data (user_id, data) VALUES (?, ?)",
            [(1_000_000 + p, json.dumps({"lang": "en"})) for p in range(people)],
        )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return loaded


# ------------------------------------------------------------------------------------------ figures


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM of a process, in kB."""
    out = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def self_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


# ------------------------------------------------------------------------------------------ the child


def _apply_experiments(names: list[str] | tuple[str, ...]) -> None:
    """Monkeypatches standing in for proposed fixes, to measure their gain (bench --experiment only;
    the tree's code is not changed and the headline figures never use these)."""
    unknown = set(names) - set(EXPERIMENTS)
    if unknown:
        raise SystemExit(f"unknown experiment(s): {sorted(unknown)}; known: {sorted(EXPERIMENTS)}")


async def spawn(
    fake: BenchFake,
    kind: str,
    workdir: Path,
    *,
    rate_limiter: bool,
    profile: Path | None = None,
    outbox_poll_seconds: float = 2.0,
    experiments: tuple[str, ...] = (),
    concurrent_updates: int | None = None,
    echo_transport: str = "httpx",
    limiter: str = "per-chat",
    read_connections: int = 0,
) -> BotProcess:
    """Starts the bot ("bot") or the echo application ("echo") in a child process against `fake`;
    returns once it polls."""
    _apply_experiments(experiments)
    # The bot paces a private chat to the fake's bucket (a little under it), as tests do.
    limits = fake.rate_limits
    per_second = max(1.0, limits.private_per_second * 0.8) if limits.enabled else 1000.0
    burst = max(1, limits.private_burst - 1) if limits.enabled else 1000
    if kind == "bot":
        config = write_config(
            workdir,
            fake,
            moderation_chat_id=STAFF_GROUP,
            staff_user_ids=(STAFF_ADMIN,),
            outbox_poll_seconds=outbox_poll_seconds,
            private_messages_per_second=per_second,
            concurrent_updates=concurrent_updates,
            # The simulated people tap at machine speed (a report's ten taps in well under a
            # second); the per-person flood guard is for humans.
            messages_per_minute=1_000_000,
            read_connections=read_connections,
        )
        variant = {
            # "off": the same switch for the bot and the echo ceiling; "aio": PTB's AIORateLimiter as
            # the bot shipped it before (bench_pacing)
            "rate_limiter": ("aio" if limiter == "aio" else "bot") if rate_limiter else "off",
            "private_burst": burst,
            "profile": str(profile) if profile else None,
        }
        child = BotProcess(
            fake,
            config,
            workdir / "bot.log",
            env={"PYTHONPATH": str(VARIANT_DIR), "LEOPARD_BENCH_VARIANT": json.dumps(variant)},
            ready="getUpdates",
        )
    else:
        spec = {
            "token": fake.token,
            "base_url": fake.base_url,
            "base_file_url": fake.base_file_url,
            "rate_limiter": rate_limiter,
            "concurrent_updates": concurrent_updates,
            "echo_transport": echo_transport,
            "private_per_second": per_second,
            "private_burst": burst,
        }
        spec_path = _write_spec(workdir, spec)
        command = [sys.executable, str(HARNESS), "echo", str(spec_path)]
        child = BotProcess(fake, spec_path, workdir / f"{kind}.log", command=command, ready="getUpdates")
    try:
        await child.start(timeout=60)
    except AssertionError as error:
        raise RuntimeError(f"{kind} did not start: {error}") from None
    await asyncio.sleep(0.5)  # post_init's setMyCommands etc. are done once polling runs
    return child


def _write_spec(workdir: Path, spec: dict[str, Any]) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "echo.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


def _pace(spec: dict[str, Any]) -> Any:
    """The bot's per-chat pacing (bot/pacing.py) for the fake's private-chat bucket."""
    from bot.pacing import PaceLimits

    return PaceLimits(private_burst=spec["private_burst"], private_per_second=spec["private_per_second"])


def _echo_application(spec: dict[str, Any]) -> Any:
    """The framework's ceiling: a trivial echo bot with the bot's PTB settings (same builder calls,
    handlers.ratelimit.PerChatRateLimiter unless switched off for both, a 256-connection pool, the
    bot's update processing: handlers.updates.PerPersonUpdateProcessor with the given number of
    running updates, or PTB's one-at-a-time default when that number is 1; no persistence; long
    polling through the same run_bot). Its Bot API calls go through PTB's own HTTPXRequest, or
    with ``echo_transport="aiohttp"`` through the bot's handlers.bot_api_http.AiohttpRequest."""
    from telegram import Update
    from telegram.ext import (
        ApplicationBuilder,
        CallbackQueryHandler,
        ContextTypes,
        MessageHandler,
        filters,
    )
    from telegram.request import HTTPXRequest

    from bot.config import TelegramSettings
    from handlers.bot_api_http import AiohttpRequest
    from handlers.ratelimit import PerChatRateLimiter
    from handlers.updates import PerPersonUpdateProcessor

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "echo")

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer()

    running = spec.get("concurrent_updates") or TelegramSettings.concurrent_updates
    builder = (
        ApplicationBuilder()
        .token(spec["token"])
        .base_url(spec["base_url"])
        .base_file_url(spec["base_file_url"])
        .rate_limiter(PerChatRateLimiter(_pace(spec)))  # the bot's own limiter
    )
    if spec.get("echo_transport") == "aiohttp":
        builder = builder.request(AiohttpRequest(connection_pool_size=256))
        builder = builder.get_updates_request(AiohttpRequest(connection_pool_size=1))
    else:
        builder = builder.request(HTTPXRequest(connection_pool_size=256))
    if running > 1:
        builder = builder.concurrent_updates(PerPersonUpdateProcessor(running))
    application = builder.build()
    application.add_handler(MessageHandler(filters.ALL, echo))
    application.add_handler(CallbackQueryHandler(pressed))
    return application


# (sync-normal, one-commit and smooth-limiter, measured in session 1, and per-person concurrent
# updates and the shorter GIL switch interval, measured in session 3, are now in the tree itself.)
EXPERIMENTS: dict[str, str] = {}


async def _echo(spec: dict[str, Any]) -> None:
    from handlers.app import run_bot

    application = _echo_application(spec)
    if not spec["rate_limiter"]:
        application.bot._rate_limiter = None  # the same switch as for the bot (bench/variant/)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_bot(application, stop, poll_timeout=10)


def echo_main(spec_path: str) -> None:
    # Logging as the bot has it (bot/cli.py): the project's loggers at INFO, libraries at WARNING.
    from bot.logs import configure_logging

    configure_logging("INFO")
    asyncio.run(_echo(json.loads(Path(spec_path).read_text(encoding="utf-8"))))


if __name__ == "__main__":
    if sys.argv[1:2] == ["echo"]:
        echo_main(sys.argv[2])
    else:
        print(__doc__)
