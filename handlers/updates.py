"""Update processing: different people at once, each person's updates one at a time, in order.

PTB processes updates one by one by default, so every person waits behind every other person's
Bot API calls and database writes. Against real Telegram a call takes 100–300 ms, and one update
costs one or two calls, so one-by-one processing caps the bot at a handful of updates a second:
a burst of reports around a village would queue for minutes. Processing everything at once is
not safe either: ConversationHandler "heavily relies on incoming updates being processed one by
one" (its docs), and a person's photo, location and answer must be applied in the order sent.

This processor does what PTB's maintainers suggest for that case (python-telegram-bot#3575,
#3654): a lock per person, taken in the order the updates arrived (asyncio.Lock is first come,
first served), then one of `running` slots. A person's updates therefore run in order and never
overlap, and people do not wait for each other. PTB's own semaphore (taken first, in the final
`process_update`) only bounds the updates held here, running or waiting for their person; the
running slot is taken after the person's lock, so a person who sends ten photos at once holds
one running slot, not ten.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


@dataclass
class _Turns:
    """One person's lock, and how many of their updates hold or wait for it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    updates: int = 0


def person_of(update: object) -> int | None:
    """Whose turn an update waits for: the user, else the chat (a channel post), else None."""
    if isinstance(update, Update):
        who = update.effective_user or update.effective_chat
        if who is not None:
            return who.id
    return None


class PerPersonUpdateProcessor(BaseUpdateProcessor):
    """Concurrent across people, sequential and in order within one person."""

    def __init__(self, running: int, held: int = 256) -> None:
        super().__init__(max(held, running))
        self._running = asyncio.BoundedSemaphore(running)
        self._turns: dict[int | None, _Turns] = {}
        #: called once an update's handlers have all run, before the person's next update starts
        #: (the durable inbox marks it done: handlers/inbox.py)
        self.on_done: Callable[[object], Awaitable[None]] | None = None

    @property
    def people_waiting(self) -> int:
        """People with an update being processed or waiting (for tests and metrics)."""
        return len(self._turns)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Waits for the person's earlier updates, then for a running slot, then processes this one."""
        key = person_of(update)
        turns = self._turns.get(key)
        if turns is None:
            turns = self._turns[key] = _Turns()
        turns.updates += 1
        try:
            async with turns.lock, self._running:
                await coroutine
                if self.on_done is not None:
                    await self.on_done(update)
        finally:
            turns.updates -= 1
            if turns.updates == 0:
                del self._turns[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to close."""
