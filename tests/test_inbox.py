"""The durable inbox: no update is lost to SIGKILL at any moment, none is handled twice.

The subject is a small bot on the real inbox (tests/inbox_child.py: the inbox's polling, the
per-person update processor, the real SQLite store and persistence) that keeps each person's texts
in their saved data and answers each with ``echo <text>``. A zygote process forks it, so the test
kills it a hundred times in about a minute: each round queues a batch of messages from several
people, starts the bot, and kills it with SIGKILL at a random moment (starting, fetching, storing,
handling, between updates). At the end a last bot runs until everything is answered. Every message
must have been taken exactly once, in the order each person sent them, and answered.

Answers are at least once, not exactly once: a kill after Telegram carried out an answer and before
the update's done mark was written has the update handled again, and the Bot API has no way to ask
whether a message went out. The test prints how often that happened (the bot then takes nothing
twice: it recognises the update, as the report conversation does, and only answers again).

(PTB's Updater, which this replaces, confirms a batch to Telegram before handling it: 40 queued
messages and a kill 0.3 s after start left 31 unanswered for good.)
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.fake_telegram import FakeTelegram
from bot.fake_telegram.ratelimit import RateLimits
from bot.store import Store
from tests.kit import wait_until

ROOT = Path(__file__).resolve().parent.parent
CHILD = ROOT / "tests" / "inbox_child.py"
KILLS = int(os.environ.get("INBOX_KILLS", "100"))
PEOPLE = list(range(5001, 5009))


class Zygote:
    """tests/inbox_child.py: forks a bot on request; the bots are killed by pid."""

    def __init__(self, fake: FakeTelegram, directory: Path) -> None:
        self.fake = fake
        self.database = directory / "inbox.sqlite3"
        self.log = directory / "bot.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def open(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, str(CHILD), env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )

    async def start(self) -> int:
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        line = f"start {self.fake.token} {self.fake.base_url} {self.database} {self.log}\n"
        self.proc.stdin.write(line.encode())
        await self.proc.stdin.drain()
        return int(await asyncio.wait_for(self.proc.stdout.readline(), 30))

    async def end(self, pid: int, signum: int = signal.SIGKILL) -> None:
        os.kill(pid, signum)
        deadline = time.monotonic() + 30
        while _alive(pid):
            assert time.monotonic() < deadline, f"bot {pid} did not end"
            await asyncio.sleep(0.005)

    async def close(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            await self.proc.wait()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
async def quick_fake() -> AsyncIterator[FakeTelegram]:
    """The fake Bot API with room for an echo bot's bursts (flood control is not under test)."""
    limits = RateLimits(private_burst=100, private_per_second=100, global_per_second=1000)
    server = FakeTelegram(rate_limits=limits)
    await server.start()
    for person in PEOPLE:
        server.add_user(person, f"Person {person}", language_code="en")
    yield server
    await server.stop()


def is_bot(message: dict[str, Any]) -> bool:
    return bool(message.get("from", {}).get("is_bot"))


def answers(fake: FakeTelegram) -> dict[int, list[str]]:
    """Each person's answers from the bot, in the order they arrived."""
    return {
        person: [m["text"].removeprefix("echo ") for m in fake.messages_in(person) if is_bot(m)]
        for person in PEOPLE
    }


async def test_no_update_is_lost_or_handled_twice_across_sigkills(
    quick_fake: FakeTelegram, tmp_path: Path
) -> None:
    fake = quick_fake
    zygote = Zygote(fake, tmp_path)
    await zygote.open()
    rng = random.Random(24)
    sent: dict[int, list[str]] = {person: [] for person in PEOPLE}
    started = time.monotonic()
    kills_with_work = 0
    try:
        for round_ in range(KILLS):
            for _ in range(rng.randint(4, 30)):  # queued while no bot runs, and more while one does
                person = rng.choice(PEOPLE)
                text = f"r{round_}m{sum(map(len, sent.values()))}"
                fake.send_text(person, text)
                sent[person].append(text)
            pid = await zygote.start()
            await asyncio.sleep(rng.uniform(0.0, 0.35))  # a start and a batch take about that long
            if rng.random() < 0.3:  # more messages while it works
                person = rng.choice(PEOPLE)
                text = f"r{round_}late{sum(map(len, sent.values()))}"
                fake.send_text(person, text)
                sent[person].append(text)
                await asyncio.sleep(rng.uniform(0.0, 0.1))
            kills_with_work += bool(fake.pending_update_ids) or sum(map(len, answers(fake).values())) < sum(
                map(len, sent.values())
            )
            await zygote.end(pid)
        pid = await zygote.start()
        total = sum(map(len, sent.values()))

        progress = [-1, time.monotonic()]

        def settled() -> bool:
            """Everything answered, or (what is lost is lost) nothing new for five seconds."""
            n = sum(map(len, answers(fake).values()))
            if n != progress[0] or fake.pending_update_ids:
                progress[:] = [n, time.monotonic()]
            return (n >= total and not fake.pending_update_ids) or time.monotonic() - progress[1] > 5

        await wait_until(settled, 90, "every message answered")
        await fake.wait_until_idle(timeout=30)
        await zygote.end(pid, signal.SIGTERM)
    finally:
        await zygote.close()
    got = answers(fake)
    store = await Store.open(zygote.database)
    try:
        pending = await store.inbox_pending()
        saved = await store.load_user_data()
    finally:
        await store.close()
    taken = {person: list(saved.get(person, {}).get("texts", [])) for person in PEOPLE}
    counts = Counter(text for texts in taken.values() for text in texts)
    answer_counts = Counter(text for texts in got.values() for text in texts)
    every = [text for texts in sent.values() for text in texts]
    lost = [text for text in every if counts[text] == 0]
    twice = [text for text in every if counts[text] > 1]
    out_of_order = [p for p in PEOPLE if taken[p] != sent[p]]
    unanswered = [text for text in every if answer_counts[text] == 0]
    answered_again = [text for text in every if answer_counts[text] > 1]
    print(
        f"\ndurable inbox: {KILLS} SIGKILLs ({kills_with_work} with work in flight) in "
        f"{time.monotonic() - started:.1f}s, {len(every)} updates: {len(lost)} lost, "
        f"{len(twice)} handled twice, {len(out_of_order)} people out of order, "
        f"{len(unanswered)} unanswered, {len(answered_again)} answered again (a kill between the answer "
        "and the done mark)"
    )
    assert not lost, lost[:20]
    assert not twice, twice[:20]
    assert not out_of_order, [(taken[p], sent[p]) for p in out_of_order][:2]
    assert not unanswered, unanswered[:20]
    assert not pending, "updates left not done"
    assert kills_with_work >= KILLS // 3, "the kills did not come while updates were queued"
