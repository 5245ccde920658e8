"""The real Application started in the test's own process, in the background (handlers.app.start_running)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.config import Config
from handlers.app import AnyApplication, build_application, run_bot, start_running


@dataclass
class RunningBot:
    """The real Application running against the fake server; `restart` simulates a bot restart."""

    config: Config
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def shutdown(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)


async def start_bot(config: Config, application: AnyApplication | None = None) -> RunningBot:
    """Builds the bot from `config` (or takes `application`, built from it) and runs it with long
    polling until :meth:`RunningBot.shutdown`."""
    stop = asyncio.Event()
    application = application if application is not None else build_application(config)
    task = await start_running(application, run_bot(application, stop, poll_timeout=1))
    return RunningBot(config, stop, task)
