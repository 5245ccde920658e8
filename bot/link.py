"""Whether the Bot API can be reached: one state shared by start-up, the Bot API transport and /healthz.

On a mainland server without a working proxy Telegram is unreachable for hours; the web tip line,
/healthz and the exports must not care. The Telegram side retries with back-off and the log gets
one line per change of state ("Telegram unreachable: …; retrying", "Telegram reachable again"),
never a traceback per try. No `telegram` import here: the web side reads this state too.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

log = logging.getLogger("bot.telegram")

RETRY_FIRST_S = 1.0
RETRY_MAX_S = 60.0


USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


class LinkState(StrEnum):
    STARTING = "starting"  # not tried yet
    UP = "ok"
    DOWN = "unreachable"
    REFUSED = "refused"  # it answers, but not to this token (or base_url): a setting to fix


def retry_delays(first: float = RETRY_FIRST_S, most: float = RETRY_MAX_S) -> Iterator[float]:
    """1, 2, 4 … seconds between tries, at most `most`: quick when it was a blip, quiet when it lasts."""
    delay = first
    while True:
        yield delay
        delay = min(most, delay * 2)


@dataclass
class TelegramLink:
    """The last thing we learnt about reaching the Bot API; logs only when that changes."""

    state: LinkState = LinkState.STARTING
    reason: str = ""
    changed_at: float = field(default_factory=time.time)  # wall clock, for /healthz "since"
    secrets: tuple[str, ...] = ()  # never written into a reason (the token is part of every Bot API URL)
    # Called when Telegram answers again after being unreachable (the outbox stops waiting out its back-off).
    on_back: list[Callable[[], None]] = field(default_factory=list)

    def clean(self, reason: str) -> str:
        """`reason` on one line, without the token or a proxy's user:password."""
        for secret in self.secrets:
            if secret:
                reason = reason.replace(secret, "<token>")
        return USERINFO.sub("", " ".join(reason.split()))[:300] or "no answer"

    @property
    def up(self) -> bool:
        return self.state is LinkState.UP

    def reached(self) -> None:
        """A Bot API answer arrived (any HTTP answer: an error code still means it is reachable)."""
        if self.state is LinkState.UP:
            return
        back = self.state is LinkState.DOWN
        log.info("Telegram reachable again" if back else "Telegram reachable")
        self.state, self.reason, self.changed_at = LinkState.UP, "", time.time()
        if back:
            for callback in self.on_back:
                callback()

    def refused(self, reason: str) -> None:
        """Telegram answered that this bot does not exist (a wrong token, or base_url): logged once."""
        reason = self.clean(reason)
        if self.state is LinkState.REFUSED:
            self.reason = reason
            return
        log.error("Telegram refuses the bot (%s): check BOT_TOKEN and telegram.base_url; retrying", reason)
        self.state, self.reason, self.changed_at = LinkState.REFUSED, reason, time.time()

    def unreachable(self, reason: str) -> None:
        """A Bot API call could not get an answer; the first failure after success is logged."""
        reason = self.clean(reason)
        if self.state is LinkState.DOWN:
            self.reason = reason  # the latest, for /healthz; not worth a log line
            return
        log.warning("Telegram unreachable: %s; retrying", reason)
        self.state, self.reason, self.changed_at = LinkState.DOWN, reason, time.time()
