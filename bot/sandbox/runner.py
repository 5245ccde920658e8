"""Runs the sandbox: the page on 127.0.0.1 and, behind it, the fake Bot API and the real bot."""

from __future__ import annotations

import asyncio
import logging
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
    app = make_sandbox_app(settings, host=host)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()  # runs the cleanup context: the fake server and the bot are up after this
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as error:
            raise SandboxAddressError(
                error.errno, f"cannot listen on {host}:{port} ({error.strerror or error})"
            ) from error
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        bound = sockets[0].getsockname()[1] if sockets else port
        shown = f"[{host}]" if ":" in host else host
        announce(f"Sandbox: open http://{shown}:{bound}/")
        log.info("sandbox database %s (demo data only)", app[SANDBOX].bot_config().database_path)
        await stop.wait()
    finally:
        await runner.cleanup()
