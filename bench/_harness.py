"""Shared machinery of the end-to-end benchmarks (bench_e2e.py, bench_burst.py); not a benchmark itself.

* :class:`BenchFake` — the project's fake Bot API (``bot.fake_telegram.FakeTelegram``) with hooks
  that timestamp every bot message as the fake stores it, count calls and 429s, and let the driver
  prune its history (a 10,000-report run would otherwise keep ~100,000 updates and messages and
  deep-copy whole chats on every wait).
* :class:`Driver` — one simulated person: enqueues an update, waits for the bot's reply to it in
  the person's chat, records the latency (fake enqueue → the fake storing the reply), presses the
  newest button with a given label. It reads messages with ``FakeTelegram.live_message`` (no copy)
  instead of ``messages_in`` (which deep-copies the whole chat) so that the load generator stays cheap.
* :func:`spawn` — runs the bot or the echo application in a **separate process** (this process
  hosts the fake and the people), started the way production starts it: ``build_application`` +
  ``run_bot`` (long polling, ``poll_interval=0``). ``python bench/_harness.py child SPEC`` is that
  child.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import json
import logging
import math
import os
import random
import re
import signal
import subprocess
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

STAFF_GROUP = -1001234567890
STAFF_ADMIN = 9001
HESHUN = (37.3296, 113.5702)
REF_CODE = re.compile(r"HS-[0-9A-Z]{4}-[0-9A-Z]{2}")


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
    bucket scaled for a person tapping at machine speed (tests/conftest.py)."""
    return RateLimits(private_burst=20, private_per_second=20)


async def start_fake(limits: RateLimits, *, self_check: bool = False) -> BenchFake:
    fake = BenchFake(rate_limits=limits, self_check=self_check)
    await fake.start()
    fake.add_user(STAFF_ADMIN, "Staff", language_code="zh-hans")
    fake.add_group(STAFF_GROUP, "Heshun forestry bureau — moderation", admins=[STAFF_ADMIN])
    return fake


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


class Driver:
    """One simulated person in a private chat with the bot."""

    def __init__(
        self, fake: BenchFake, user_id: int, stats: Stats, *, language: str = "en", timeout: float = 120.0
    ) -> None:
        self.fake, self.id, self.stats, self.timeout = fake, user_id, stats, timeout
        fake.add_user(user_id, f"Person {user_id}", language_code=language)
        self.inbox = fake.inboxes[user_id] = Inbox()
        self.files: list[str] = []

    async def step(self, act: Callable[[], Any], contains: str | None) -> dict[str, Any]:
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

    def send(self, text: str, contains: str | None) -> Any:
        return self.step(lambda: self.fake.send_text(self.id, text), contains)

    def send_location(self, lat: float, lon: float, accuracy: float, contains: str | None) -> Any:
        return self.step(
            lambda: self.fake.send_location(self.id, lat, lon, horizontal_accuracy=accuracy), contains
        )

    def send_photo(self, data: bytes, contains: str | None) -> Any:
        def act() -> None:
            message = self.fake.send_photo(self.id, data)
            self.files.extend(size["file_id"] for size in message["photo"])

        return self.step(act, contains)

    def tap(self, label: str, contains: str | None) -> Any:
        """A button of the reply keyboard shown now, else the newest inline button with `label`."""
        key = self.fake.reply_key(self.id, label)
        if key is not None:
            return self.step(lambda: self.fake.press_reply_button(self.id, key), contains)
        for mid in reversed(self.inbox.ids):
            message = self.fake.live_message(self.id, mid)
            if message is None:
                continue
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    if label in button["text"]:
                        data = button["callback_data"]
                        return self.step(
                            lambda mid=mid, data=data: self.fake.press_button(self.id, mid, data), contains
                        )
        raise AssertionError(f"person {self.id}: no button {label!r}")

    def tidy(self) -> None:
        self.fake.forget_messages(self.id, keep=30)  # the bot never edits older ones here
        self.fake.forget_files(self.files)
        self.files.clear()


UPDATES_PER_REPORT_NO_PHOTO = 10
UPDATES_PER_REPORT_PHOTO = 11


async def report_sighting(
    person: Driver, lat: float, lon: float, photo: bytes | None = None, accuracy: float = 25
) -> str:
    """tests/test_conversation.py's report_sighting: the menu to the receipt (10 updates, 11 with a photo)."""
    await person.send("/start", "Leopard Watch")
    await person.tap("I saw a leopard", "photos")
    if photo is None:
        await person.tap("No photo", "Where was it")
    else:
        await person.send_photo(photo, "Got 1 photo")
        await person.tap("Done", "Where was it")
    await person.send_location(lat, lon, accuracy, "When did you see it")
    await person.tap("Just now", "How many leopards")
    await person.tap("2", "cubs")
    await person.tap("No", "What was it doing")
    await person.send("walking along the <b>ridge</b> & into trees", "How far")
    await person.tap("50 to 200 m", "Please check your report")
    receipt = await person.tap("Send report", "Reference code")
    match = REF_CODE.search(receipt["text"])
    code = match.group(0) if match else "?"
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


def make_jpeg(seed: int, width: int = 800, height: int = 600) -> bytes:
    """tests/conftest.py's make_jpeg: a real JPEG whose perceptual hash differs between seeds."""
    from PIL import Image, ImageDraw

    rnd = random.Random(seed)
    image = Image.new("RGB", (width, height), (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = rnd.randrange(width), rnd.randrange(height)
        x1, y1 = x0 + rnd.randrange(20, width // 2), y0 + rnd.randrange(20, height // 2)
        draw.ellipse((x0, y0, x1, y1), fill=(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def preload(database: Path, reports: int, people: int, seed: int) -> int:
    """Puts `reports` finished reports from `people` people into a new bot database, as they would be
    after that many conversations: rows through the store's own ``Store.bulk_load`` (reports,
    incidents, photo hashes for a third) and each person's leftover user data ({"lang": "en"}), which
    PTB loads into memory at start-up. The outbox is empty (their cards went out long ago).
    Returns the number of reports loaded."""
    import sqlite3
    from datetime import UTC, datetime, timedelta

    from bot.store import MIGRATIONS, BulkReport, Store

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
        loaded = Store.bulk_load(conn, rows)
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


@dataclass
class Child:
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


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
) -> Child:
    """Starts the bot ("bot") or the echo application ("echo") in a child process against `fake`."""
    spec = {
        "kind": kind,
        "token": fake.token,
        "base_url": fake.base_url,
        "base_file_url": fake.base_file_url,
        "database": str(workdir / "bot.sqlite3"),
        "media": str(workdir / "media"),
        "rate_limiter": rate_limiter,
        "profile": str(profile) if profile else None,
        "outbox_poll_seconds": outbox_poll_seconds,
        "experiments": list(experiments),
        "concurrent_updates": concurrent_updates,
        "echo_transport": echo_transport,
        "limiter": limiter,  # "aio": PTB's AIORateLimiter as the bot shipped it before (bench_pacing)
        # The bot paces a private chat to the fake's bucket (a little under it), as tests do.
        "private_per_second": max(1.0, fake.rate_limits.private_per_second * 0.8)
        if fake.rate_limits.enabled
        else 1000.0,
        "private_burst": max(1, fake.rate_limits.private_burst - 1) if fake.rate_limits.enabled else 1000,
    }
    log_path = workdir / f"{kind}.log"
    with open(log_path, "wb") as log_file:  # noqa: ASYNC230 - once, before the run
        process = subprocess.Popen(  # noqa: ASYNC220 - the child runs for the whole benchmark
            [sys.executable, __file__, "child", json.dumps(spec)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=str(ROOT),
        )
    child = Child(process, log_path)
    fake.first_get_updates.clear()
    deadline = time.monotonic() + 60
    while not fake.first_get_updates.is_set():
        if process.poll() is not None or time.monotonic() > deadline:
            child.stop()
            raise RuntimeError(f"{kind} did not start; log:\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fake.first_get_updates.wait(), 0.2)
    await asyncio.sleep(0.5)  # post_init's setMyCommands etc. are done once polling runs
    return child


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

    from bot.config import Config
    from handlers.bot_api_http import AiohttpRequest
    from handlers.ratelimit import PerChatRateLimiter
    from handlers.updates import PerPersonUpdateProcessor

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "echo")

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer()

    running = spec.get("concurrent_updates") or Config.concurrent_updates
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


def _apply_experiments(names: list[str], application: Any | None) -> None:
    """Monkeypatches standing in for proposed fixes, to measure their gain (bench --experiment only;
    the tree's code is not changed and the headline figures never use these)."""
    unknown = set(names) - set(EXPERIMENTS)
    if unknown:
        raise SystemExit(f"unknown experiment(s): {sorted(unknown)}; known: {sorted(EXPERIMENTS)}")


async def _child(spec: dict[str, Any]) -> None:
    from bot.config import Config
    from handlers.app import build_application, run_bot

    if spec.get("experiments"):
        _apply_experiments(spec["experiments"], None)  # class-level patches, before building
    if spec["kind"] == "bot":
        config = Config(
            bot_token=spec["token"],
            moderation_chat_id=STAFF_GROUP,
            database_path=Path(spec["database"]),
            media_dir=Path(spec["media"]),
            base_url=spec["base_url"],
            base_file_url=spec["base_file_url"],
            staff_user_ids=frozenset({STAFF_ADMIN}),
            outbox_poll_seconds=spec["outbox_poll_seconds"],
            # The simulated people tap at machine speed (a report's ten taps in well under a
            # second); the per-person flood guard is for humans.
            messages_per_minute=1_000_000,
            pace=_pace(spec),
        )
        if spec.get("concurrent_updates"):
            config = dataclasses.replace(config, concurrent_updates=spec["concurrent_updates"])
        application = build_application(config)
    else:
        application = _echo_application(spec)
    if not spec["rate_limiter"]:
        application.bot._rate_limiter = None  # the same switch for the bot and the echo ceiling
    elif spec.get("limiter") == "aio":
        from telegram.ext import AIORateLimiter

        # The bot's limiter before issue 21 §4: evenly spaced overall, PTB's group bucket, and any
        # 429 holding every request of the bot.
        application.bot._rate_limiter = AIORateLimiter(
            overall_max_rate=1, overall_time_period=1 / 28, max_retries=2
        )
    if spec.get("experiments"):
        _apply_experiments(spec["experiments"], application)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if os.environ.get("BENCH_TRACEMALLOC"):
        # Diagnostics: every SIGUSR1 writes a tracemalloc snapshot next to the database.
        import tracemalloc

        tracemalloc.start(12)
        shots = iter(range(1, 100))

        def snapshot() -> None:
            path = Path(spec["database"]).with_name(f"tracemalloc-{next(shots)}.snap")
            tracemalloc.take_snapshot().dump(str(path))

        loop.add_signal_handler(signal.SIGUSR1, snapshot)
    profiler = None
    if spec.get("profile"):
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.005, async_mode="disabled")
        profiler.start()
    try:
        await run_bot(application, stop, poll_timeout=10)
    finally:
        if profiler is not None:
            profiler.stop()
            path = Path(spec["profile"])
            path.write_text(profiler.output_text(unicode=True, color=False, show_all=False))  # noqa: ASYNC240
            path.with_suffix(".html").write_text(profiler.output_html())  # noqa: ASYNC240
            if profiler.last_session is not None:
                profiler.last_session.save(str(path.with_suffix(".pyisession")))


def child_main(argv: list[str]) -> None:
    # Production logging (bot/cli.py): INFO, httpx at WARNING; to the log file the parent gave us.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(_child(json.loads(argv[0])))


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        child_main(sys.argv[2:])
    else:
        print(__doc__)
