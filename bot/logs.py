"""Logging set-up: which loggers speak, and what no log line may ever carry (secrets, people).

`--log-level` applies to the project's own loggers only. Libraries stay at WARNING whatever the
level: python-telegram-bot logs whole updates (names, usernames, ids) at DEBUG, httpx and aiohttp's
client log URLs that hold the bot token, aiohttp's access log writes every visitor's address next to
the page they opened (a tip's status page), aiosqlite logs every statement's parameters.

Every line, exception text included, goes through :func:`redact`: the bot token (Telegram's
``<digits>:<35 characters>`` form, wherever it appears: ``/bot<token>/getMe``), the other secrets
from the environment, and credentials in any URL (``scheme://user:pass@host``, a proxy's).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable
from typing import TextIO

# The project's own loggers (module names): these follow --log-level.
OWN_LOGGERS = ("bot", "handlers", "__main__")
# Libraries that are never more talkative than WARNING.
QUIET_LOGGERS = (
    "telegram", "httpx", "httpcore", "aiosqlite", "apscheduler", "aiohttp", "aiohttp.access", "asyncio",
    "urllib3", "PIL", "hpack",
)
# Environment variables whose values are secrets, redacted wherever they show up.
SECRET_ENV = ("BOT_TOKEN", "LEOPARD_WATCH_SECRET")

_BOT_TOKEN = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}")
# scheme://user:password@ or scheme://token@ — whatever stands between "://" and "@" in one URL.
_URL_CREDENTIALS = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^\s/@'\"<>]+@")
REDACTED = "[redacted]"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with the bot token, URL credentials and each of `secrets` replaced by [redacted]."""
    for secret in sorted((s for s in secrets if len(s) >= 6), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _BOT_TOKEN.sub(REDACTED, text)
    return _URL_CREDENTIALS.sub(rf"\1{REDACTED}@", text)


def environment_secrets() -> list[str]:
    """The secret values in the environment (read each time: tests and restarts change them)."""
    return [value for name in SECRET_ENV if (value := os.environ.get(name, "").strip())]


class RedactingFormatter(logging.Formatter):
    """A formatter whose every line, traceback included, is passed through :func:`redact`."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), environment_secrets())

    def formatException(self, ei: object) -> str:  # noqa: N802 - logging's name
        return redact(super().formatException(ei), environment_secrets())  # type: ignore[arg-type]


FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str | int = "INFO", stream: TextIO | None = None) -> logging.Handler:
    """Sends log lines to `stream` (stderr) through the redacting formatter: the project's loggers at
    `level`, everything else at WARNING. Returns the handler (tests remove it again)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(RedactingFormatter(FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    numeric = logging.getLevelName(level) if isinstance(level, str) else level
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(numeric)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
