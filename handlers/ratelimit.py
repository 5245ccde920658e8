"""PTB's rate limiter, per chat: a 429 or a full group budget holds that chat only (bot/pacing.py).

PTB's `AIORateLimiter` (its "minimal effort reference implementation") holds every request of the
bot for a 429's `retry_after`: one staff group answered "retry after 40" and a resident's /start
waited 48 s. This one paces each chat by its own budget and pauses only the chat Telegram named.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.pacing import ChatPacer, PaceLimits

log = logging.getLogger(__name__)
JSONDict = dict[str, Any]  # a Bot API result, as BaseRateLimiter types it

# Calls Telegram counts as messages (its flood limits are about messages, not edits or answers).
NOT_MESSAGES = frozenset({"sendChatAction"})
ALSO_MESSAGES = frozenset({"copyMessage", "copyMessages", "forwardMessage", "forwardMessages"})


def counted(endpoint: str) -> bool:
    """Whether a Bot API method sends messages (and so spends the chat's budget)."""
    return (endpoint.startswith("send") and endpoint not in NOT_MESSAGES) or endpoint in ALSO_MESSAGES


def chat_of(data: dict[str, Any]) -> int | str | None:
    """The chat a call is for: an id, a @channel name, or None (getMe, getUpdates, answers…)."""
    chat_id = data.get("chat_id")
    if isinstance(chat_id, int | str) and not isinstance(chat_id, bool):
        try:
            return int(chat_id)
        except ValueError:
            return str(chat_id)
    return None


def _seconds(error: RetryAfter) -> float:
    retry_after = error.retry_after
    return retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)


class PerChatRateLimiter(BaseRateLimiter[int]):
    """Telegram's limits per chat (20 a minute in a group, ~1/s in a private chat, 30/s overall);
    a RetryAfter pauses its chat and is retried up to `max_retries` times (per call: the
    `rate_limit_args` of a call overrides it)."""

    def __init__(self, limits: PaceLimits | None = None, max_retries: int = 2) -> None:
        self.pacer = ChatPacer(limits)
        self.max_retries = max_retries

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        """Waits for the chat's budget, sends, and on a 429 pauses that chat and retries."""
        chat = chat_of(data)
        if chat is None:
            return await callback(*args, **kwargs)
        # A @channel name is a group's budget of its own (its numeric id is not known here).
        key = chat if isinstance(chat, int) else -(abs(hash(chat)) % (1 << 60)) - (1 << 61)
        retries = self.max_retries if rate_limit_args is None else rate_limit_args
        if not counted(endpoint):
            # An edit, an answer or a rights check goes at once, even while the chat's messages wait
            # for its budget or a 429: a moderator's submenu must not wait a minute behind cards.
            return await self._send(key, retries, callback, args, kwargs)
        private = isinstance(chat, int) and chat > 0
        media = data.get("media")
        cost = len(media) if isinstance(media, list) and media else 1
        async with self.pacer.turn(key, private=private, cost=cost):
            return await self._send(key, retries, callback, args, kwargs)

    async def _send(
        self,
        key: int,
        retries: int,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
    ) -> bool | JSONDict | list[JSONDict]:
        for attempt in range(retries + 1):
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                seconds = _seconds(error) + 0.1
                self.pacer.pause(key, seconds)  # this chat only: everyone else carries on
                if attempt == retries:
                    raise
                log.info("chat flood limit: retrying in %.1f s", seconds)
                await asyncio.sleep(seconds)
        raise AssertionError("unreachable")  # the last attempt returns or raises
