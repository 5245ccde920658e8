"""Fixtures: a fresh database per test, the fake Bot API over real HTTP, the real Application."""

from __future__ import annotations

import asyncio
import contextlib
import io
import random
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from bot.config import Config, ModerationSettings, StorageSettings, TelegramSettings
from bot.fake_telegram import FakeTelegram
from bot.fake_telegram.ratelimit import RateLimits
from bot.pacing import PaceLimits
from bot.store import Store
from handlers.app import build_application, run_bot

STAFF_GROUP = -1001234567890
STAFF_ADMIN = 9001


def make_jpeg(width: int = 800, height: int = 600, seed: int = 1, **save: Any) -> bytes:
    """A real JPEG with structure (so perceptual hashes differ between seeds)."""
    rnd = random.Random(seed)
    image = Image.new("RGB", (width, height), (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = rnd.randrange(width), rnd.randrange(height)
        x1, y1 = x0 + rnd.randrange(20, width // 2), y0 + rnd.randrange(20, height // 2)
        draw.ellipse((x0, y0, x1, y1), fill=(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, **save)
    return out.getvalue()


def rows(db: Path, sql: str, *params: object) -> list[sqlite3.Row]:
    """Reads the bot's database file directly, as an operator with sqlite3 would."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh SQLite database file (WAL) for one test."""
    db = await Store.open(tmp_path / "test.sqlite3")
    yield db
    await db.close()


@pytest.fixture
async def fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeTelegram]:
    """The fake Bot API on 127.0.0.1, with the staff group set up."""
    # A test person taps at machine speed, not every few seconds like a villager; the private-chat
    # bucket is scaled by the same factor. Group and overall limits stay Telegram's. Modules marked
    # `real_limits` get Telegram's private-chat limits too (and the bot's pacing as shipped).
    limits = (
        RateLimits()
        if request.node.get_closest_marker("real_limits")
        else RateLimits(private_burst=20, private_per_second=20)
    )
    server = FakeTelegram(rate_limits=limits)
    await server.start()
    server.add_user(STAFF_ADMIN, "Staff", language_code="zh-hans")
    server.add_group(STAFF_GROUP, "Heshun forestry bureau — moderation", admins=[STAFF_ADMIN])
    yield server
    await server.stop()


@pytest.fixture
def config(request: pytest.FixtureRequest, tmp_path: Path, fake: FakeTelegram) -> Config:
    real_limits = request.node.get_closest_marker("real_limits") is not None
    return Config(
        bot_token=fake.token,
        telegram=TelegramSettings(
            moderation_chat_id=STAFF_GROUP,
            base_url=fake.base_url,
            base_file_url=fake.base_file_url,
            staff_user_ids=frozenset({STAFF_ADMIN}),
            outbox_poll_seconds=0.2,
        ),
        storage=StorageSettings(database=tmp_path / "bot.sqlite3", media_dir=tmp_path / "media"),
        # Decisions take effect after a short undo window; tests of Undo itself set a longer one.
        moderation=ModerationSettings(undo_seconds=0.3),
        # The bot paces a private chat by itself (bot/pacing.py): scaled like the fake's bucket above,
        # a little under it, for people tapping at machine speed.
        pacing=PaceLimits() if real_limits else PaceLimits(private_burst=16, private_per_second=16),
    )


@dataclass
class RunningBot:
    """The real Application running against the fake server; `restart` simulates a bot restart."""

    config: Config
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def shutdown(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)


async def start_bot(config: Config) -> RunningBot:
    stop = asyncio.Event()
    application = build_application(config)
    task = asyncio.create_task(run_bot(application, stop, poll_timeout=1))
    # Running means post_init has built the services and the first getUpdates is out.
    for _ in range(200):
        if application.running or task.done():
            break
        await asyncio.sleep(0.02)
    if task.done():
        task.result()
    return RunningBot(config, stop, task)


@pytest.fixture
async def running(config: Config) -> AsyncIterator[Callable[..., Any]]:
    """Starts the bot (optionally with changed settings); every bot started is stopped at teardown."""
    bots: list[RunningBot] = []

    async def launch(**changes: Any) -> RunningBot:
        bot = await start_bot(config.with_settings(**changes) if changes else config)
        bots.append(bot)
        return bot

    yield launch
    for bot in bots:
        with contextlib.suppress(Exception):
            await bot.shutdown()


class Person:
    """A Telegram user driving the bot through the fake server, as a person would."""

    def __init__(
        self, fake: FakeTelegram, user_id: int, name: str = "王大爷", language: str = "zh-hans"
    ) -> None:
        self.fake = fake
        self.id = user_id
        fake.add_user(user_id, name, language_code=language)

    def _seen(self) -> int:
        messages = self.fake.messages_in(self.id)
        return messages[-1]["message_id"] if messages else 0

    async def _reply_to(self, act: Callable[[], Any], contains: str | None = None) -> dict[str, Any]:
        seen = self._seen()
        act()
        return await self.fake.wait_for_message(self.id, contains=contains, after=seen)

    async def send(self, text: str, contains: str | None = None) -> dict[str, Any]:
        return await self._reply_to(lambda: self.fake.send_text(self.id, text), contains)

    async def send_photo(self, data: bytes, contains: str | None = None) -> dict[str, Any]:
        return await self._reply_to(lambda: self.fake.send_photo(self.id, data), contains)

    async def send_file(
        self, data: bytes, name: str, mime: str | None, contains: str | None = None
    ) -> dict[str, Any]:
        return await self._reply_to(
            lambda: self.fake.send_document(self.id, data, file_name=name, mime_type=mime), contains
        )

    async def send_location(
        self, lat: float, lon: float, accuracy: float | None = None, contains: str | None = None
    ) -> dict[str, Any]:
        return await self._reply_to(
            lambda: self.fake.send_location(self.id, lat, lon, horizontal_accuracy=accuracy), contains
        )

    async def send_contact(self, phone: str, contains: str | None = None) -> dict[str, Any]:
        return await self._reply_to(
            lambda: self.fake.send_contact(self.id, phone, "王", contact_user_id=self.id), contains
        )

    async def finish_sighting(self) -> dict[str, Any]:
        """From "When did you see it?" to the receipt, with one resting leopard far away."""
        await self.tap("Just now", contains="How many")
        for label in ("1", "Not sure", "Resting", "Over 1 km"):
            await self.tap(label)
        return await self.tap("Send report", contains="Reference code")

    def button(self, label: str) -> tuple[dict[str, Any], str]:
        """The newest bot message with an inline button whose text contains `label`."""
        for message in reversed(self.fake.messages_in(self.id)):
            markup = message.get("reply_markup") or {}
            for row in markup.get("inline_keyboard", []):
                for button in row:
                    if label in button["text"]:
                        return message, button["callback_data"]
        raise AssertionError(
            f"no button {label!r}; chat: {[m.get('text') for m in self.fake.messages_in(self.id)]}"
        )

    def key(self, label: str) -> str | None:
        """The button of the reply keyboard shown now whose text is `label` (else contains it)."""
        return self.fake.reply_key(self.id, label)

    async def tap(self, label: str, contains: str | None = None) -> dict[str, Any]:
        """Taps `label` on the reply keyboard shown now, else the newest inline button with it."""
        key = self.key(label)
        if key is not None:
            return await self._reply_to(lambda: self.fake.press_reply_button(self.id, key), contains)
        message, data = self.button(label)
        return await self._reply_to(lambda: self.fake.press_button(self.id, message, data), contains)

    async def tap_silently(self, label: str) -> None:
        """Taps a button whose answer may not come at once (or only as a callback answer)."""
        key = self.key(label)
        if key is not None:
            self.fake.press_reply_button(self.id, key)
        else:
            message, data = self.button(label)
            self.fake.press_button(self.id, message, data)
        await self.fake.wait_until_idle()

    def texts(self) -> list[str]:
        return [m.get("text") or m.get("caption") or "" for m in self.fake.messages_in(self.id)]

    def last_text(self) -> str:
        return self.texts()[-1]
