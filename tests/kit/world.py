"""The world every test and benchmark starts from: who is staff, what a reference code looks like, the
fake Bot API with its staff group, real pictures, the bot's database read as an operator reads it."""

from __future__ import annotations

import asyncio
import io
import random
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from PIL import Image, ImageDraw

from bot.fake_telegram import FakeTelegram
from bot.fake_telegram.ratelimit import RateLimits

STAFF_GROUP = -1001234567890
STAFF_GROUP_TITLE = "Heshun forestry bureau — moderation"
STAFF_ADMIN = 9001
#: the county seat: where a report happens unless a test says otherwise
HESHUN = (37.3296, 113.5702)
#: a reference code in a message. Looser than the codes' own alphabet (bot.report.REF_ALPHABET) on
#: purpose: a check that no code is shown must catch anything that looks like one.
CODE = re.compile(r"HS-[0-9A-Z]{4}-[0-9A-Z]{2}")
#: words of the bot's English messages that drivers look for
MENU = "Leopard Watch"
RECEIPT = "Reference code"
GENERIC_ERROR = "Sorry, something went wrong"

Fake = TypeVar("Fake", bound=FakeTelegram)


def machine_speed_limits(**changes: Any) -> RateLimits:
    """Telegram's group and overall limits, with a private chat's bucket scaled (20 at once, 20 a
    second) for a person who taps at machine speed, not every few seconds like a villager."""
    return RateLimits(**{"private_burst": 20, "private_per_second": 20, **changes})


async def start_fake(fake: Fake) -> Fake:
    """Starts `fake` on 127.0.0.1 with the staff group and its administrator."""
    await fake.start()
    fake.add_user(STAFF_ADMIN, "Staff", language_code="zh-hans")
    fake.add_group(STAFF_GROUP, STAFF_GROUP_TITLE, admins=[STAFF_ADMIN])
    return fake


async def staff_card(fake: FakeTelegram, code: str) -> dict[str, Any]:
    """The staff card's text message naming `code` (an album's caption names it too), once sent."""
    await fake.wait_for_call(
        "sendMessage",
        timeout=20,
        predicate=lambda c: (
            str(c.params.get("chat_id")) == str(STAFF_GROUP) and code in str(c.params.get("text"))
        ),
    )
    return next(m for m in fake.messages_in(STAFF_GROUP) if code in (m.get("text") or ""))


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
    """Reads the bot's database file directly, as an operator with sqlite3 would (while it runs)."""
    conn = sqlite3.connect(db, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def pending_outbox(database: Path) -> int:
    return int(rows(database, "SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending'")[0]["n"])


def db_problems(database: Path) -> list[str]:
    """What integrity_check and foreign_key_check find (empty: the file is sound)."""
    conn = sqlite3.connect(database, timeout=10)
    try:
        problems = [r[0] for r in conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
        problems += [f"foreign key: {tuple(r)}" for r in conn.execute("PRAGMA foreign_key_check")]
        return problems
    finally:
        conn.close()


async def wait_until(check: Callable[[], bool], timeout: float, what: str, step: float = 0.1) -> None:  # noqa: ASYNC109
    """Polls `check` until it holds; raises AssertionError naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(step)
