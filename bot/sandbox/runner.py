"""Runs the sandbox: the page on 127.0.0.1 and, behind it, the fake Bot API and the real bot."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from bot.fake_telegram.ratelimit import RateLimits
from bot.sandbox.app import SANDBOX, make_sandbox_app
from bot.sandbox.world import SandboxSettings

log = logging.getLogger(__name__)


class SandboxAddressError(OSError):
    """The page's address cannot be used (usually: the port is taken)."""


async def run_sandbox(
    config_path: Path | None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    stop: asyncio.Event,
    data_dir: Path | None = None,
    rate_limits: RateLimits | None = None,
    announce: Callable[[str], None] = print,
) -> None:
    """Serves the sandbox until `stop` is set, then stops the bot, the fake server and the page.

    `config_path` (optional) supplies the settings (languages, destinations, storage ...), as for
    ``leopard-watch run``; the token and the Bot API address are the fake's. Without a file the
    database and media live in ``./sandbox-data``; `data_dir` overrides both. Announces one line,
    ``Sandbox: open http://HOST:PORT/`` (the real port when `port` is 0).
    """
    settings = SandboxSettings(
        config_path=config_path, data_dir=data_dir, rate_limits=rate_limits or RateLimits()
    )
    # The address first: a taken port is reported at once, before the bot starts.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(128)
        listener.setblocking(False)
    except OSError as error:
        listener.close()
        raise SandboxAddressError(
            error.errno, f"cannot listen on {host}:{port} ({error.strerror or error})"
        ) from None
    app = make_sandbox_app(settings, host=host)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    try:
        await runner.setup()  # runs the cleanup context: the fake server and the bot are up after this
        await web.SockSite(runner, listener).start()
        shown = f"[{host}]" if ":" in host else host
        announce(f"Sandbox: open http://{shown}:{listener.getsockname()[1]}/")
        if app[SANDBOX].tipline_port:
            announce(f"Sandbox web tip line: http://{shown}:{app[SANDBOX].tipline_port}/")
        log.info("sandbox database %s (demo data only)", app[SANDBOX].bot_config().storage.database)
        await stop.wait()
    finally:
        await runner.cleanup()
        listener.close()
