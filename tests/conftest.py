"""Fixtures: a fresh database per test, the fake Bot API over real HTTP, the real Application.

The pieces themselves (Person, the staff group, make_jpeg, rows, starting a bot ...) are the kit's:
test modules import them from tests.kit (tests/kit/).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config, ModerationSettings, StorageSettings, TelegramSettings
from bot.fake_telegram import FakeTelegram
from bot.fake_telegram.ratelimit import RateLimits
from bot.pacing import PaceLimits
from bot.store import Store
from tests.kit import STAFF_ADMIN, STAFF_GROUP, machine_speed_limits, start_fake
from tests.kit.app import RunningBot, start_bot


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
    limits = RateLimits() if request.node.get_closest_marker("real_limits") else machine_speed_limits()
    server = await start_fake(FakeTelegram(rate_limits=limits))
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
