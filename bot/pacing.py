"""Telegram's flood limits, paced per chat: one chat's wait never holds another chat.

Telegram asks bots (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this)
for at most 20 messages a minute in one group or channel, about one message a second in one private
chat, and about 30 messages a second overall; more is answered "429 Too Many Requests, retry after
N" for that chat. PTB's `AIORateLimiter` answers any 429 by holding *every* request of the bot, so
one busy staff group froze every resident's conversation. Here each chat has its own clock:

* a group or channel: at most `group_per_minute` messages in any `group_period_s` (a second longer
  than Telegram's minute, since Telegram counts a message when it arrives, a little after we let
  it go); each photo of an album counts;
* a private chat: a token bucket, `private_burst` messages at once and `private_per_second`
  sustained (an album costs one: Telegram's own clients send albums to people freely);
* overall: calls evenly spaced at `overall_per_second`, under Telegram's 30 a second;
* a 429 pauses only its chat, for the time Telegram asked.

Each chat's requests pass one at a time and in order (the one holding the chat's turn keeps it
while it is sent and retried), so an album, a card and its refresh arrive as they were queued.
Telegram-free: the Telegram side (`handlers/ratelimit.py`) says which chat a call is for.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PaceLimits:
    """The limits the bot keeps to (a little under Telegram's, which it enforces on arrival)."""

    group_per_minute: int = 20
    group_period_s: float = 61.0
    private_burst: int = 4
    private_per_second: float = 1.0
    overall_per_second: float = 28.0


@dataclass
class _Chat:
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    sent: deque[float] = field(default_factory=deque)  # a group's messages in its window
    tokens: float | None = None  # a private chat's bucket (None: full)
    refilled: float = 0.0
    paused_until: float = 0.0  # a 429's retry_after
    waiting: int = 0  # requests holding or waiting for the turn (the chat is forgotten at 0)


class ChatPacer:
    """Waits for each chat's own budget; `clock` is monotonic seconds (a test may drive it)."""

    def __init__(
        self, limits: PaceLimits | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or PaceLimits()
        self._clock = clock
        self._chats: dict[int, _Chat] = {}
        self._overall = asyncio.Lock()
        self._next_overall = 0.0

    def _chat(self, chat_id: int) -> _Chat:
        return self._chats.setdefault(chat_id, _Chat())

    def pause(self, chat_id: int, seconds: float) -> None:
        """Telegram said "retry after `seconds`" for this chat: its next message waits that long."""
        chat = self._chat(chat_id)
        chat.paused_until = max(chat.paused_until, self._clock() + seconds)

    def wait_for(self, chat_id: int, private: bool, cost: int) -> float:
        """Seconds until `cost` messages may go to the chat (0: now); records nothing."""
        chat = self._chats.get(chat_id)
        if chat is None:
            return 0.0
        now = self._clock()
        wait = chat.paused_until - now
        if private:
            tokens = self._tokens(chat, now)
            if tokens < 1.0:
                wait = max(wait, (1.0 - tokens) / self.limits.private_per_second)
        else:
            limit, period = self.limits.group_per_minute, self.limits.group_period_s
            while chat.sent and chat.sent[0] <= now - period:
                chat.sent.popleft()
            over = len(chat.sent) + cost - limit
            if over > 0:
                # the over-th oldest message must leave the window first (an album larger than the
                # whole budget waits for an empty window: Telegram refuses it otherwise)
                wait = max(wait, chat.sent[min(over, len(chat.sent)) - 1] + period - now)
        return max(0.0, wait)

    def _tokens(self, chat: _Chat, now: float) -> float:
        burst = float(self.limits.private_burst)
        if chat.tokens is None:
            return burst
        return min(burst, chat.tokens + (now - chat.refilled) * self.limits.private_per_second)

    def _record(self, chat: _Chat, private: bool, cost: int) -> None:
        now = self._clock()
        if private:
            chat.tokens, chat.refilled = self._tokens(chat, now) - 1.0, now
        else:
            chat.sent.extend([now] * cost)

    async def _overall_slot(self, cost: int) -> None:
        """Evenly spaced calls: a burst of 30 in one instant would meet the previous second's calls."""
        async with self._overall:
            wait = self._next_overall - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
            spacing = cost / self.limits.overall_per_second
            self._next_overall = max(self._next_overall, self._clock()) + spacing

    @contextlib.asynccontextmanager
    async def turn(self, chat_id: int, *, private: bool, cost: int = 1) -> AsyncIterator[None]:
        """Holds the chat's turn until its budget allows `cost` messages, then while they are sent."""
        chat = self._chat(chat_id)
        chat.waiting += 1
        try:
            async with chat.turn:
                # A budget frees with time, not on an event: sleep until then and look again.
                while (wait := self.wait_for(chat_id, private, cost)) > 0:  # noqa: ASYNC110
                    await asyncio.sleep(wait)
                await self._overall_slot(cost)
                self._record(chat, private, cost)
                yield
        finally:
            chat.waiting -= 1
            if len(self._chats) > self.REMEMBERED:
                self._forget_idle()

    REMEMBERED = 512  # chats kept before the idle ones are forgotten (a bot meets many people once)

    def _forget_idle(self) -> None:
        for chat_id, chat in list(self._chats.items()):
            if chat.waiting == 0 and self._idle(chat):
                del self._chats[chat_id]

    def _idle(self, chat: _Chat) -> bool:
        now = self._clock()
        if chat.paused_until > now:
            return False
        if chat.sent and chat.sent[-1] > now - self.limits.group_period_s:
            return False
        return chat.tokens is None or self._tokens(chat, now) >= self.limits.private_burst
