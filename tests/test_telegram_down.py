"""The web side does not need Telegram: `leopard-watch run` with the Bot API unreachable.

The real command in a subprocess, its Bot API address pointing at a port where nothing listens
yet (what a mainland server without a working proxy sees). The tip line, /healthz and the
exports must work at once; a web report is stored; the log says once that Telegram is
unreachable, with no traceback; when the fake Bot API comes up on that port, the report's
staff card is delivered and the log says so once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import pytest

from bot.config import Config
from bot.fake_telegram import FakeTelegram
from bot.link import LinkState, TelegramLink
from handlers.common import services
from handlers.web import web_url
from tests.kit import STAFF_ADMIN, STAFF_GROUP, rows
from tests.test_web import Browserless, bot_with_web, ref_code

SECRET = "test-secret-0123456789abcdef"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """`leopard-watch run` in a subprocess; its log goes to a file we read as it grows."""

    process: asyncio.subprocess.Process
    log_path: Path
    web: str
    api_port: int
    database: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    async def wait_log(self, text: str, seconds: float = 30) -> None:
        for _ in range(int(seconds / 0.1)):
            if text in self.log():
                return
            if self.process.returncode is not None:
                break
            await asyncio.sleep(0.1)
        raise AssertionError(f"{text!r} not logged; log:\n{self.log()}")


def write_config(tmp: Path, api_port: int, web_port: int, *, web: bool) -> Path:
    config = tmp / "config.toml"
    text = f"""
[telegram]
moderation_chat_id = {STAFF_GROUP}
staff_user_ids = [{STAFF_ADMIN}]
base_url = "http://127.0.0.1:{api_port}/bot"
base_file_url = "http://127.0.0.1:{api_port}/file/bot"
outbox_poll_seconds = 0.2

[reports]
draft_timeout_minutes = 0.02   # the idle-draft job every 0.3 s: its runs must not be logged at INFO

[storage]
database = "{tmp / 'bot.sqlite3'}"
media_dir = "{tmp / 'media'}"
"""
    if web:
        text += f'\n[web]\nenabled = true\nlisten = "127.0.0.1"\nport = {web_port}\n'
    config.write_text(text, encoding="utf-8")
    return config


@contextlib.asynccontextmanager
async def leopard_watch(
    tmp: Path, *, web: bool = True, api_port: int | None = None, token: str | None = None
) -> AsyncIterator[Server]:
    api_port, web_port = api_port or free_port(), free_port()
    config = write_config(tmp, api_port, web_port, web=web)
    log_path = tmp / "log.txt"
    env = {
        **os.environ,
        "BOT_TOKEN": token or FakeTelegram().token,
        "LEOPARD_WATCH_SECRET": SECRET,
        "PYTHONPATH": str(ROOT),
    }
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(name, None)
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--config", str(config),
            stdout=log_file, stderr=log_file, env=env, cwd=tmp,
        )
    server = Server(process, log_path, f"http://127.0.0.1:{web_port}", api_port, tmp / "bot.sqlite3")
    try:
        yield server
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


async def health(session: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, object]]:
    async with session.get(url) as response:
        return response.status, await response.json()


async def test_the_tip_line_works_while_telegram_is_unreachable(tmp_path: Path) -> None:
    fake = FakeTelegram()
    fake.add_user(STAFF_ADMIN, "Staff", language_code="zh-hans")
    fake.add_group(STAFF_GROUP, "Heshun forestry bureau — moderation", admins=[STAFF_ADMIN])
    async with (
        leopard_watch(tmp_path) as server,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session,
    ):
        await server.wait_log("Telegram unreachable: ")
        status, body = await health(session, f"{server.web}/healthz")
        assert status == 200, body
        assert body["web"] == "ok" and body["database"] == "ok" and body["telegram"] == "unreachable"
        assert body["status"] == "degraded"
        status, body = await health(session, f"{server.web}/healthz/telegram")
        assert status == 503 and body["telegram"] == "unreachable"
        async with session.get(f"{server.web}/export/public.csv") as response:
            assert response.status == 401  # the exports answer (a token is needed) without Telegram

        web = Browserless(session, server.web)
        response = await web.post()
        assert response.status == 303
        code = ref_code(response.headers["Location"])
        stored = rows(server.database, "SELECT kind FROM reports WHERE ref_code = ?", code)
        assert stored[0]["kind"] == "sighting"
        async with session.get(server.web + response.headers["Location"]) as page:
            assert page.status == 200 and code in await page.text()

        await asyncio.sleep(4)  # a few tries (1, 2 … seconds apart): still one line, no traceback
        log = server.log()
        assert log.count("Telegram unreachable") == 1, log
        assert "Traceback" not in log and "Cannot connect to host" in log

        await fake.start(port=server.api_port)
        try:
            card = await fake.wait_for_call(
                "sendMessage", timeout=40,
                predicate=lambda c: str(c.params.get("chat_id")) == str(STAFF_GROUP)
                and code in str(c.params.get("text")),
            )
            assert "🌐" in str(card.params["text"])
            await server.wait_log("Telegram reachable")
            status, body = await health(session, f"{server.web}/healthz/telegram")
            assert status == 200 and body["telegram"] == "ok"
            status, body = await health(session, f"{server.web}/healthz")
            assert status == 200 and body["status"] == "ok"
            assert not any(k for k in body if "depth" in k or "count" in k)  # no counts in /healthz
            await asyncio.sleep(1.5)  # the idle-draft job runs a few times
        finally:
            server.process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(server.process.wait(), 30) == 0
            await fake.stop()
        log = server.log()
        assert "Traceback" not in log, log
        assert "apscheduler" not in log, log  # job runs are not logged at INFO
        assert BOT_TOKEN_SHOWN not in log


BOT_TOKEN_SHOWN = FakeTelegram().token.split(":")[1]


async def test_telegram_only_mode_retries_without_a_crash_loop(tmp_path: Path) -> None:
    async with leopard_watch(tmp_path, web=False) as server:
        await server.wait_log("Telegram unreachable: ")
        await asyncio.sleep(3.5)
        assert server.process.returncode is None  # still running, still trying
        server.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(server.process.wait(), 15) == 0
        log = server.log()
        assert log.count("Telegram unreachable") == 1 and "Traceback" not in log, log


def test_the_link_logs_changes_of_state_only(caplog: pytest.LogCaptureFixture) -> None:
    link = TelegramLink(secrets=("123:SECRET",))
    with caplog.at_level("INFO", logger="bot.telegram"):
        for _ in range(3):
            link.unreachable("Cannot connect to http://user:pw@proxy:1080 for /bot123:SECRET/getMe")
        link.reached()
        link.reached()
        link.unreachable("again")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "Telegram unreachable: Cannot connect to http://proxy:1080 for /bot<token>/getMe; retrying",
        "Telegram reachable again",
        "Telegram unreachable: again; retrying",
    ]


async def test_cards_held_back_during_an_outage_go_as_soon_as_telegram_is_back(
    fake: FakeTelegram, config: Config
) -> None:
    """Telegram goes away while the bot runs: a web report's card waits out the outbox's back-off
    (up to 5 minutes after a long outage), but not once Telegram answers again."""
    web_config = replace(config, secret_key=SECRET)
    async with (
        bot_with_web(web_config) as application,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session,
    ):
        port = fake.port
        await fake.stop()
        response = await Browserless(session, web_url(application)).post()
        assert response.status == 303
        code = ref_code(response.headers["Location"])
        store = services(application).store
        for _ in range(200):
            due = rows(web_config.storage.database,
                       "SELECT id, attempts FROM outbox WHERE status = 'pending'")
            if due and all(r["attempts"] for r in due):
                break
            await asyncio.sleep(0.05)
        assert services(application).telegram.state is LinkState.DOWN
        for row in due:  # as after a long outage: the next try minutes away
            await store.outbox_retry(row["id"], 300, "aiohttp.ClientConnectorError: Cannot connect")
        await fake.start(port=port)
        await fake.wait_for_call(
            "sendMessage", timeout=40,
            predicate=lambda c: str(c.params.get("chat_id")) == str(STAFF_GROUP)
            and code in str(c.params["text"]),
        )
        assert services(application).telegram.up


async def test_a_wrong_token_is_one_clear_line_and_a_failing_telegram_check(tmp_path: Path) -> None:
    fake = FakeTelegram()
    await fake.start()
    wrong = "987654321:WRONG-TOKEN-for-this-bot"
    try:
        async with (
            leopard_watch(tmp_path, api_port=fake.port, token=wrong) as server,
            aiohttp.ClientSession() as session,
        ):
            await server.wait_log("Telegram refuses the bot")
            await asyncio.sleep(3.5)  # tries after 1 and 2 seconds
            status, body = await health(session, f"{server.web}/healthz")
            assert status == 200 and body["telegram"] == "refused"
            status, body = await health(session, f"{server.web}/healthz/telegram")
            assert status == 503 and body["telegram"] == "refused"
            assert server.process.returncode is None  # still running and trying: no crash loop
            server.process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(server.process.wait(), 15) == 0
            log = server.log()
            assert log.count("Telegram refuses the bot") == 1 and "check BOT_TOKEN" in log, log
            assert "Traceback" not in log and "WRONG-TOKEN" not in log and "reachable" not in log, log
    finally:
        await fake.stop()
