"""Flood limits of the fake Bot API server, modelled on Telegram's published guidance.

Telegram documents (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this):
about one message per second in a single chat, at most 20 messages per minute in one group, and about
30 messages per second overall. Its exact algorithm is not public; the fake uses:

* private chats: a token bucket per chat, capacity :attr:`RateLimits.private_burst` (default 5) refilled
  at :attr:`RateLimits.private_per_second` (default 1 per second). A short burst such as "text + photo +
  keyboard" passes; sustained sending faster than 1/s does not. A media group costs one token here
  (Telegram's own clients send 10-photo albums to a person without trouble), though each of its
  items counts towards the overall limit.
* groups, supergroups and channels: at most :attr:`RateLimits.group_per_minute` (20) messages in any
  sliding 60 s window per chat; a media group counts each item.
* overall: at most :attr:`RateLimits.global_per_second` (30) messages in any sliding 1 s window.

Only message-sending methods are counted (``send*``, ``copyMessage(s)``, ``forwardMessage(s)``); edits,
deletions, answers and chat actions are not limited.  A refused request consumes nothing.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter", "RateLimits"]


@dataclass
class RateLimits:
    """Settings of the fake's flood control; assign ``enabled = False`` to switch it off."""

    enabled: bool = True
    private_burst: int = 5
    private_per_second: float = 1.0
    group_per_minute: int = 20
    global_per_second: int = 30


class RateLimiter:
    """Sliding windows and token buckets; ``clock`` is a monotonic time source in seconds."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}  # chat -> (tokens, at)
        self._groups: dict[int, deque[float]] = {}
        self._global: deque[float] = deque()

    def reset(self) -> None:
        self._buckets.clear()
        self._groups.clear()
        self._global.clear()

    def recent_global(self, seconds: float = 1.0) -> int:
        """Messages the overall window counted in the last ``seconds`` (read only: nothing is recorded
        or dropped). The window keeps about one second, so a longer period sees no more than that."""
        now = self._clock()
        return sum(1 for at in self._global if at > now - seconds)

    @staticmethod
    def _window_wait(window: deque[float], now: float, period: float, limit: int, cost: int) -> float:
        while window and window[0] <= now - period:
            window.popleft()
        if len(window) + cost <= limit:
            return 0.0
        # the (len + cost - limit)-th oldest entry must leave the window first
        index = min(len(window) + cost - limit - 1, len(window) - 1)
        if index < 0:
            return period
        return window[index] + period - now

    def check(self, chat_id: int, private: bool, cost: int) -> int | None:
        """Records ``cost`` messages (one request) into ``chat_id``; returns ``retry_after`` if refused.

        A private chat's bucket is charged one token per request; the group and overall windows count
        every message of it.
        """
        limits = self.limits
        if not limits.enabled:
            return None
        now = self._clock()
        waits = [self._window_wait(self._global, now, 1.0, limits.global_per_second, cost)]
        if private:
            tokens, at = self._buckets.get(chat_id, (float(limits.private_burst), now))
            tokens = min(float(limits.private_burst), tokens + (now - at) * limits.private_per_second)
            if tokens < 1.0:
                waits.append((1.0 - tokens) / limits.private_per_second)
        else:
            window = self._groups.setdefault(chat_id, deque())
            waits.append(self._window_wait(window, now, 60.0, limits.group_per_minute, cost))
        wait = max(waits)
        if wait > 0:
            return max(1, math.ceil(wait))
        self._global.extend([now] * cost)
        if private:
            self._buckets[chat_id] = (tokens - 1.0, now)
        else:
            self._groups[chat_id].extend([now] * cost)
        return None
