"""The bot as a separate process, started the way an operator starts it: ``python -m bot run --config FILE``.

The fake Bot API runs in the calling process on 127.0.0.1; the bot gets ``BOT_TOKEN`` in its
environment and the fake's URLs in the config's ``[telegram]`` section. :class:`BotProcess` starts
it, waits until it polls, and stops it (SIGTERM, as systemd does) or kills it (SIGKILL: no clean-up
of any kind runs). The crash campaigns and the benchmarks run their bots through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bot.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]


def write_config(
    directory: Path,
    fake: FakeTelegram,
    *,
    moderation_chat_id: int,
    staff_user_ids: Sequence[int] = (),
    outbox_poll_seconds: float = 0.2,
    private_messages_per_second: float = 16,
    concurrent_updates: int | None = None,
    messages_per_minute: int | None = None,
    read_connections: int = 0,
) -> Path:
    """A config TOML for the bot under test; database (bot.sqlite3) and media live next to it.

    People here tap at machine speed: the bot paces a private chat to `private_messages_per_second`,
    by default a little under the fake's bucket for such people (tests.kit.world.machine_speed_limits).
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.toml"
    telegram = [
        "[telegram]",
        f"moderation_chat_id = {moderation_chat_id}",
        f"staff_user_ids = [{', '.join(str(i) for i in staff_user_ids)}]",
        f'base_url = "{fake.base_url}"',
        f'base_file_url = "{fake.base_file_url}"',
        f"outbox_poll_seconds = {outbox_poll_seconds}",
        f"private_messages_per_second = {private_messages_per_second}",
    ]
    if concurrent_updates is not None:
        telegram.append(f"concurrent_updates = {concurrent_updates}")
    storage = ["[storage]", 'database = "bot.sqlite3"', 'media_dir = "media"']
    if read_connections:
        storage.append(f"read_connections = {read_connections}")
    sections = [*telegram, "", *storage, ""]
    if messages_per_minute is not None:
        sections += ["[abuse]", f"messages_per_minute = {messages_per_minute}", ""]
    path.write_text("\n".join(sections), encoding="utf-8")
    return path


class BotProcess:
    """``python -m bot run --config FILE`` as a child process that can be killed and restarted.

    `command` replaces the bot's command line for something that is not the bot (the benchmarks'
    echo ceiling); `env` adds to the environment; it counts as up once the fake has answered a
    call of `ready` made after the start.
    """

    def __init__(
        self,
        fake: FakeTelegram,
        config_path: Path,
        log_path: Path,
        *,
        command: Sequence[str] | None = None,
        env: dict[str, str] | None = None,
        ready: str = "deleteWebhook",
    ) -> None:
        self.fake = fake
        self.config_path = config_path
        self.log_path = log_path
        self.database = config_path.parent / "bot.sqlite3"
        self.command = list(command or (sys.executable, "-m", "bot", "run", "--config", str(config_path)))
        self.env = dict(env or {})
        self.ready = ready
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.kills = 0
        #: bumped at every kill; a driver compares it to know whether the bot died under it
        self.generation = 0
        self.up = asyncio.Event()
        self.up_at = 0.0
        #: updates a killed process had confirmed (fetched): answered before it died, or lost for good
        self.at_risk: set[int] = set()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Starts the bot and returns once it polls (after getMe, setMyCommands and deleteWebhook)."""
        assert not self.running(), "the bot is already running"
        env = {k: v for k, v in os.environ.items() if k not in ("LEOPARD_WATCH_CONFIG", "BOT_TOKEN")}
        env["BOT_TOKEN"] = self.fake.token
        env.update(self.env)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (self.env.get("PYTHONPATH"), str(ROOT), os.environ.get("PYTHONPATH")) if p
        )
        started = time.time()
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start #{self.starts + 1} at {started:.3f} =====\n".encode())
            log.flush()
            self.proc = await asyncio.create_subprocess_exec(
                *self.command, cwd=str(ROOT), env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=log, stderr=log,
            )
        self.starts += 1
        proc = self.proc
        polling = asyncio.ensure_future(
            self.fake.wait_for_call(self.ready, timeout=timeout, predicate=lambda c: c.at >= started)
        )
        exited = asyncio.ensure_future(proc.wait())
        await asyncio.wait({polling, exited}, return_when=asyncio.FIRST_COMPLETED)
        if exited.done():
            polling.cancel()
            with contextlib.suppress(asyncio.CancelledError, AssertionError):
                await polling
            raise AssertionError(f"the bot exited with {proc.returncode} at start:\n{self.log_tail()}")
        exited.cancel()
        try:
            polling.result()
        except AssertionError:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            raise AssertionError(f"the bot did not start polling:\n{self.log_tail()}") from None
        self.up_at = time.monotonic()
        self.up.set()

    async def kill(self) -> None:
        """SIGKILL: the process gets no chance to flush, close or say goodbye."""
        with self.log_path.open("a") as log:
            log.write(f"===== kill at {time.time():.3f} =====\n")
        proc = self.proc
        assert proc is not None and proc.returncode is None, "the bot is not running"
        self.up.clear()
        self.generation += 1
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        self.kills += 1
        await asyncio.sleep(0.05)  # let the fake finish reading what the process sent before it died
        self._note_confirmed()

    def _note_confirmed(self) -> None:
        pending = set(self.fake.pending_update_ids)
        self.at_risk |= {u for u in self.fake.all_update_ids if u not in pending}

    def kill_now(self) -> None:
        """SIGKILL from synchronous code (a hook inside the fake); :meth:`reap` waits for it."""
        assert self.proc is not None
        self.up.clear()
        self.generation += 1
        self.kills += 1
        self.proc.send_signal(signal.SIGKILL)

    async def reap(self) -> None:
        if self.proc is not None:
            await self.proc.wait()
            self._note_confirmed()

    async def stop(self, timeout: float = 30.0) -> int:  # noqa: ASYNC109
        """SIGTERM, as systemd stops it: the bot finishes, saves and exits; returns the exit code."""
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return proc.returncode if proc is not None else 0
        self.up.clear()
        proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            raise AssertionError(f"the bot did not stop on SIGTERM:\n{self.log_tail()}") from None

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def failed_updates(self) -> list[str]:
        """The exception of every update whose handler raised (logged by the error handler)."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []
        found = []
        for i, line in enumerate(lines):
            if re.search(r"ERROR .*update \S+ failed", line):
                tail = next((t for t in lines[i + 1 :] if t and not t.startswith((" ", "Traceback"))), line)
                found.append(tail)
        return found
