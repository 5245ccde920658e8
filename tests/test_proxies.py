"""The Bot API through the proxies a server in mainland China uses: HTTP CONNECT and SOCKS5.

Real proxies on 127.0.0.1 (tests/proxies.py), the fake Bot API behind TLS (so the bot speaks
https:// as to api.telegram.org and the HTTP proxy must tunnel), and the bot's own transport
configured only through the environment, as on a server.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import pytest
import trustme
from telegram import Bot
from telegram.error import NetworkError

from bot.fake_telegram import FakeTelegram
from bot.link import LinkState, TelegramLink
from handlers.bot_api_http import InstrumentedRequest
from tests.kit import make_jpeg
from tests.proxies import HttpConnectProxy, Socks5Proxy, TlsFront

PERSON = 4343
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
                   "NO_PROXY", "no_proxy")


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def https_api(fake: FakeTelegram, ca: trustme.CA) -> AsyncIterator[str]:
    """The fake Bot API as https://localhost:PORT/bot (a name, so a SOCKS proxy is told a name)."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    front = TlsFront(target_port=fake.port, server_context=server_context)
    port = await front.start()
    fake.add_user(PERSON, "王大爷")
    fake.send_text(PERSON, "/start")
    yield f"https://localhost:{port}"
    await front.stop()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def bot_at(fake: FakeTelegram, root: str, ca: trustme.CA, link: TelegramLink | None = None) -> Bot:
    # Both of the bot's transports are ours (PTB's default HTTPX one would read the proxy too).
    request = InstrumentedRequest(ssl_context=client_context(ca), link=link)
    polling = InstrumentedRequest(connection_pool_size=1, ssl_context=client_context(ca), link=link)
    return Bot(fake.token, base_url=f"{root}/bot", base_file_url=f"{root}/file/bot", request=request,
               get_updates_request=polling)


async def round_trip(bot: Bot) -> None:
    """A call with a form, an upload and a download: all of the transport's paths."""
    assert (await bot.get_me()).is_bot
    sent = await bot.send_message(PERSON, "豹子 ✓")
    assert sent.text == "豹子 ✓"
    photo = make_jpeg(seed=5)
    uploaded = await bot.send_photo(PERSON, photo, caption="村口")
    file = await bot.get_file(uploaded.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == photo


async def test_https_proxy_tunnels_with_connect(
    fake: FakeTelegram, https_api: str, ca: trustme.CA, clean_env: pytest.MonkeyPatch
) -> None:
    proxy = HttpConnectProxy()
    clean_env.setenv("HTTPS_PROXY", await proxy.start())
    try:
        async with bot_at(fake, https_api, ca) as bot:
            await round_trip(bot)
        port = https_api.rsplit(":", 1)[1]
        assert proxy.tunnels and set(proxy.tunnels) == {f"localhost:{port}"}
    finally:
        await proxy.stop()


@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
async def test_socks5_proxy_with_a_password_and_remote_names(
    fake: FakeTelegram, https_api: str, ca: trustme.CA, clean_env: pytest.MonkeyPatch, scheme: str
) -> None:
    proxy = Socks5Proxy(username="heshun", password="p@ss:word")
    url = (await proxy.start()).replace("p@ss:word", "p%40ss%3Aword").replace("socks5", scheme, 1)
    clean_env.setenv("ALL_PROXY", url)  # HTTPX's and curl's name for "every scheme"
    try:
        async with bot_at(fake, https_api, ca) as bot:
            await round_trip(bot)
        port = int(https_api.rsplit(":", 1)[1])
        assert set(proxy.targets) == {("localhost", port)}  # the name, looked up by the proxy
    finally:
        await proxy.stop()


async def test_a_refusing_socks_proxy_is_telegram_unreachable(
    fake: FakeTelegram, https_api: str, ca: trustme.CA, clean_env: pytest.MonkeyPatch
) -> None:
    proxy = Socks5Proxy(username="heshun", password="right")
    url = (await proxy.start()).replace("right", "wrong")
    clean_env.setenv("HTTPS_PROXY", url)
    link = TelegramLink(secrets=(fake.token,))
    try:
        with pytest.raises(NetworkError, match="SOCKS|proxy"):
            async with bot_at(fake, https_api, ca, link):
                pass
        assert link.state is LinkState.DOWN and "wrong" not in link.reason
        clean_env.setenv("NO_PROXY", "localhost")  # NO_PROXY still wins
        async with bot_at(fake, https_api, ca, link) as bot:
            assert (await bot.get_me()).is_bot
        assert link.state is LinkState.UP
    finally:
        await proxy.stop()
