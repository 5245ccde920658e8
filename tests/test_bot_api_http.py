"""The bot's aiohttp transport for the Bot API, against the fake server over real HTTP."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from telegram import Bot
from telegram.error import BadRequest, NetworkError, TimedOut

from bot.fake_telegram import FakeTelegram
from handlers.bot_api_http import AiohttpRequest
from tests.kit import make_jpeg

PERSON = 4242


def _person(fake: FakeTelegram) -> None:
    """A person who has written to the bot, so it may write back."""
    fake.add_user(PERSON, "王大爷")
    fake.send_text(PERSON, "/start")


def _bot(fake: FakeTelegram, request: AiohttpRequest) -> Bot:
    return Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url, request=request)


async def test_sends_forms_uploads_files_and_downloads_them(fake: FakeTelegram) -> None:
    _person(fake)
    photo = make_jpeg(seed=7)
    async with _bot(fake, AiohttpRequest()) as bot:
        text = "豹子 <b>&</b> ✓"
        sent = await bot.send_message(PERSON, text, reply_markup=None)
        assert sent.text == text
        uploaded = await bot.send_photo(PERSON, photo, caption="村口", filename="leopard.jpg")
        assert fake.calls_to("sendPhoto")[-1].files["photo"].data == photo
        file = await bot.get_file(uploaded.photo[-1].file_id)
        assert bytes(await file.download_as_bytearray()) == photo


async def test_bot_api_errors_come_back_as_ptb_errors(fake: FakeTelegram) -> None:
    async with _bot(fake, AiohttpRequest()) as bot:
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(424242, "nobody is there")


@pytest.mark.parametrize(("default", "own"), [(0.3, None), (5.0, 0.3)], ids=["default", "the call's own"])
async def test_a_hanging_call_times_out(fake: FakeTelegram, default: float, own: float | None) -> None:
    _person(fake)
    fake.fault_hang_seconds = 5
    async with _bot(fake, AiohttpRequest(read_timeout=default)) as bot:
        fake.set_fault_rate(1.0, kinds=("timeout",))
        began = asyncio.get_running_loop().time()
        with pytest.raises(TimedOut):
            own_timeout: dict[str, Any] = {"read_timeout": own} if own else {}
            await bot.send_message(PERSON, "hello", **own_timeout)
        assert asyncio.get_running_loop().time() - began < 2


async def test_a_full_pool_times_out_without_sending(fake: FakeTelegram) -> None:
    _person(fake)
    fake.fault_hang_seconds = 2
    request = AiohttpRequest(connection_pool_size=1, pool_timeout=0.2, connect_timeout=0.1)
    async with _bot(fake, request) as bot:
        fake.set_fault_rate(1.0, kinds=("timeout",))
        hanging = asyncio.create_task(bot.send_message(PERSON, "first"))
        await asyncio.sleep(0.2)  # the only connection is now taken
        fake.set_fault_rate(0)
        with pytest.raises(TimedOut, match="Pool timeout"):
            await bot.send_message(PERSON, "second")
        assert not [c for c in fake.calls_to("sendMessage") if c.params.get("text") == "second"]
        with pytest.raises(Exception):  # noqa: B017 - the fake answers 504 after hanging
            await hanging


async def test_an_unreachable_server_is_a_network_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nobody listens there
    bot = Bot("1:x", base_url=f"http://127.0.0.1:{port}/bot", request=AiohttpRequest())
    await bot.request.initialize()
    try:
        with pytest.raises(NetworkError, match="aiohttp"):
            await bot.get_me()
    finally:
        await bot.request.shutdown()


async def test_it_can_be_shut_down_and_opened_again(fake: FakeTelegram) -> None:
    request = AiohttpRequest()
    with pytest.raises(NetworkError, match="not initialized"):  # PTB wraps the RuntimeError
        await request.post(f"{fake.base_url}{fake.token}/getMe")
    for _ in range(2):
        async with _bot(fake, request) as bot:
            assert (await bot.get_me()).is_bot


async def test_a_proxy_named_in_the_environment_is_used_unless_no_proxy_names_the_host(
    fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_proxy = f"http://127.0.0.1:{probe.getsockname()[1]}"
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", dead_proxy)
    with pytest.raises(NetworkError, match="aiohttp"):  # Bot.initialize's getMe went to the dead proxy
        async with _bot(fake, AiohttpRequest()):
            pass
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with _bot(fake, AiohttpRequest()) as bot:
        assert (await bot.get_me()).is_bot


async def test_an_upload_the_server_stops_reading_ends_in_time() -> None:
    """aiohttp has no write timeout: an upload gets an overall limit instead."""

    async def never_read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    server = await asyncio.start_server(never_read, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    request = AiohttpRequest(read_timeout=0.5, connect_timeout=0.5, pool_timeout=0.5, media_write_timeout=0.5)
    bot = Bot("1:x", base_url=f"http://127.0.0.1:{port}/bot", request=request)
    await request.initialize()
    try:
        began = asyncio.get_running_loop().time()
        with pytest.raises(TimedOut):
            # More than the loopback socket buffers hold, so the write itself blocks.
            await asyncio.wait_for(bot.send_document(PERSON, bytes(64 * 1024 * 1024), filename="x.bin"), 10)
        assert asyncio.get_running_loop().time() - began < 5
    finally:
        await request.shutdown()
        server.close()
