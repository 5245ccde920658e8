"""Secrets of the web side: derived keys, CSRF tokens, status links, signed blobs, rate limits.

Every token is an HMAC-SHA256 under a key derived from ``Config.secret_key`` for one purpose, and
every check is :func:`hmac.compare_digest`, so nothing leaks through timing and nothing needs a
table: a status link is the reference code plus its MAC.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any

TOKEN_BYTES = 16  # 128 bits: unguessable


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Keyed MACs for one server secret; `purpose` separates the uses of one key."""

    def __init__(self, secret_key: str) -> None:
        if len(secret_key) < 16:
            raise ValueError("LEOPARD_WATCH_SECRET must be set (at least 16 characters) for the web server")
        self._key = secret_key.encode()

    def mac(self, purpose: str, message: str, size: int = TOKEN_BYTES) -> str:
        digest = hmac.new(self._key, f"{purpose}\0{message}".encode(), hashlib.sha256).digest()
        return _b64(digest[:size])

    def check(self, purpose: str, message: str, token: str) -> bool:
        """Constant-time comparison of `token` with the MAC of `message`."""
        return hmac.compare_digest(self.mac(purpose, message).encode(), token.encode("utf-8", "replace"))

    def derived(self, purpose: str) -> str:
        """A stable secret for `purpose` in Telegram's secret-token alphabet (A-Z a-z 0-9 _ -)."""
        return self.mac("derive", purpose, 24)

    # --- uses -----------------------------------------------------------------------------------

    def status_token(self, ref_code: str) -> str:
        """The secret part of a report's private status link."""
        return self.mac("status", ref_code)

    def csrf_token(self, cookie: str) -> str:
        """The form field that must accompany the CSRF cookie (double submit, tied by a MAC)."""
        return self.mac("csrf", cookie)

    def sign_blob(self, value: Any) -> str:
        """JSON `value` with a MAC, for state the browser carries between attempts (stored photos)."""
        body = _b64(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        return f"{body}.{self.mac('blob', body)}"

    def unsign_blob(self, text: str) -> Any | None:
        """The value of a :meth:`sign_blob` string, or None when it was not made here."""
        body, _, mac = text.partition(".")
        if not body or not self.check("blob", body, mac):
            return None
        try:
            return json.loads(_unb64(body))
        except (ValueError, binascii.Error):
            return None


def new_cookie_value() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


class RateLimiter:
    """At most `limit` events (or bytes: each event has a weight) per `window_s` per key (sliding
    window), in memory only.

    Keys should already be pseudonymous (see :meth:`Signer.mac`): addresses are not kept.
    """

    def __init__(
        self, limit: int, window_s: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._events: dict[str, deque[tuple[float, int]]] = {}

    def _recent(self, key: str) -> deque[tuple[float, int]]:
        events = self._events.setdefault(key, deque())
        horizon = self._clock() - self.window_s
        while events and events[0][0] <= horizon:
            events.popleft()
        return events

    def used(self, key: str) -> int:
        """The weight recorded for `key` within the window."""
        return sum(weight for _, weight in self._recent(key))

    def remaining(self, key: str) -> int:
        return max(0, self.limit - self.used(key))

    def allowed(self, key: str, weight: int = 1) -> bool:
        """Whether one more event of `weight` fits now (nothing is recorded)."""
        return self.used(key) + weight <= self.limit

    def record(self, key: str, weight: int = 1) -> None:
        if weight > 0:
            self._recent(key).append((self._clock(), weight))

    def hit(self, key: str) -> bool:
        """Records an event if it fits; returns whether it did."""
        if not self.allowed(key):
            return False
        self.record(key)
        return True

    def prune(self) -> None:
        """Forgets keys with no event in the window (call now and then)."""
        for key in list(self._events):
            if not self._recent(key):
                del self._events[key]
