"""The durable inbox's subject for tests/test_inbox.py: a small bot, forked many times from one process.

``python tests/inbox_child.py`` is a zygote: it imports PTB and the inbox once, then for every line
``start TOKEN BASE_URL DATABASE LOG`` on stdin forks a child that runs a bot on the real inbox
(:func:`handlers.inbox.run_polling`, :class:`handlers.updates.PerPersonUpdateProcessor`, the real
SQLite store and persistence) and prints the child's pid. Forking instead of starting Python
afresh makes a start cost milliseconds, so a test can kill a bot a hundred times in a minute.
SIGTERM stops a child cleanly; SIGKILL is the crash under test.

The bot keeps each person's texts in their user data, in the order handled, and answers each with
``echo <text>``. It takes an update the way the report conversation does (handlers/report.py): the
person's data remembers the last update it took, so an update handled again after a crash (its
done mark had not been written) is answered again but not taken twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from handlers.inbox import attach_inbox, inbox_key, run_polling
from handlers.persistence import SQLitePersistence, save_user_data
from handlers.updates import PerPersonUpdateProcessor


async def note(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Keeps the text (once per update), saves, then answers with the same text."""
    message = update.effective_message
    assert message is not None and message.text is not None and context.user_data is not None
    data = context.user_data
    if update.update_id > data.get("last_update", 0):
        data.setdefault("texts", []).append(message.text)
        data["last_update"] = update.update_id
        await save_user_data(update, context)  # saved before the answer that relies on it
    await message.chat.send_message(f"echo {message.text}")


async def serve(token: str, base_url: str, database: Path) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    persistence = SQLitePersistence(database, {})

    async def post_init(application: Application) -> None:  # type: ignore[type-arg]
        attach_inbox(application, await persistence.store(), inbox_key("", database))

    async def post_shutdown(application: Application) -> None:  # type: ignore[type-arg]
        await persistence.close()

    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url)
        .persistence(persistence)
        .concurrent_updates(PerPersonUpdateProcessor(8))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, note))
    if os.environ.get("INBOX_CHILD_UPDATER"):  # PTB's own polling, to see the test fail without the inbox
        async with application:
            await post_init(application)
            assert application.updater is not None
            await application.updater.start_polling(timeout=1)
            await application.start()
            await stop.wait()
        return
    await run_polling(application, stop, poll_timeout=1)


def zygote() -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    for line in sys.stdin:
        command, *args = line.split()
        if command != "start":
            continue
        token, base_url, database, log = args
        pid = os.fork()
        if pid == 0:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
            try:
                asyncio.run(serve(token, base_url, Path(database)))
            finally:
                os._exit(0)
        print(pid, flush=True)


if __name__ == "__main__":
    zygote()
