"""PTB's networking backend on aiohttp, which the web side already uses, in place of HTTPX.

Why not PTB's own :class:`~telegram.request.HTTPXRequest`: with a dozen calls in flight, httpcore's
connection pool walks every pooled connection on each request and each response (and polls every
idle socket to see if it closed), twice over for the keep-alive check: quadratic in the pool
(encode/httpcore#1035 and encode/httpx#3215, unfixed in httpcore 1.0.9). In the end-to-end
benchmark that bookkeeping was a fifth of the bot's CPU. aiohttp keeps idle connections in a
queue per host and parses HTTP in C.

Behaviour follows HTTPXRequest's, so PTB sees no difference: the same default timeouts (a longer
write timeout when files are sent), the same form encoding (url-encoded, multipart when there are
files), the pool timeout's own message, timeouts as :class:`~telegram.error.TimedOut` and any other
transport failure as :class:`~telegram.error.NetworkError`. Like HTTPX, it takes a proxy from
``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` unless ``NO_PROXY`` names the host (a server in mainland
China reaches Telegram only through one): ``http://`` is an HTTP CONNECT proxy, ``socks5://`` (or
``socks5h://``, ``socks4://``) a SOCKS proxy through aiohttp-socks, which lets the proxy look up
Telegram's address (a local DNS answer for api.telegram.org may be poisoned).

:class:`InstrumentedRequest` is the transport the bot is built with: it also tells the metrics about
each failed call and `bot.link.TelegramLink` whether Telegram answers.
"""

from __future__ import annotations

import ssl
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import aiohttp
import aiohttp_socks
import python_socks
from aiohttp_socks import ProxyConnector
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.link import TelegramLink

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _given(value: Any, default: float | None) -> float | None:
    """A call's own timeout, or the default when the call named none."""
    return default if value is BaseRequest.DEFAULT_NONE else value


def _total(*parts: float | None) -> float | None:
    """The sum of the phase timeouts, or no limit when any phase has none."""
    return None if any(part is None for part in parts) else sum(part for part in parts if part is not None)


# aiohttp-socks raises its own classes, python-socks' may still come through.
PROXY_TIMEOUTS = (aiohttp_socks.ProxyTimeoutError, python_socks.ProxyTimeoutError)
CONNECT_TIMEOUTS = (aiohttp.ConnectionTimeoutError, *PROXY_TIMEOUTS)
# What the Bot API answers for a token it does not know (PTB raises InvalidToken for both).
TOKEN_REFUSED = frozenset({401, 404})
PROXY_ERRORS = (
    aiohttp_socks.ProxyError,
    aiohttp_socks.ProxyConnectionError,
    python_socks.ProxyError,
    python_socks.ProxyConnectionError,
)
SOCKS_SCHEMES = ("socks5", "socks5h", "socks4", "socks4a")


def env_proxy(url: str) -> str | None:
    """The proxy the environment names for this URL, or None (no proxy, or NO_PROXY covers it)."""
    parts = urllib.parse.urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")


def is_socks(proxy: str) -> bool:
    return urllib.parse.urlsplit(proxy).scheme.lower() in SOCKS_SCHEMES


def socks_connector(proxy: str, limit: int, verify: ssl.SSLContext | bool = True) -> ProxyConnector:
    """A connector through a SOCKS proxy; names are always looked up by the proxy (socks5h, socks4a)."""
    parts = urllib.parse.urlsplit(proxy)
    scheme = {"socks5h": "socks5", "socks4a": "socks4"}.get(parts.scheme.lower(), parts.scheme.lower())
    return ProxyConnector.from_url(parts._replace(scheme=scheme).geturl(), limit=limit, rdns=True, ssl=verify)


class AiohttpRequest(BaseRequest):
    """Sends Bot API calls through one :class:`aiohttp.ClientSession`, opened in `initialize`.

    Timeouts map onto aiohttp's as follows. `connect_timeout` bounds opening a connection;
    `pool_timeout` plus it bound getting one, waiting for a free one included; `read_timeout`
    bounds each wait for the response's bytes, so a long download is fine as long as it flows (as
    with HTTPX). aiohttp has no write timeout: a request that sends files gets an overall limit
    instead, the sum of all four, so a stalled upload ends. Other requests are a few kB.
    """

    __slots__ = ("_defaults", "_limit", "_media_write_timeout", "_proxies", "_session", "_socks", "_ssl")

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._limit = connection_pool_size
        # None: the system's trusted certificates. A context: e.g. a self-hosted Bot API server's own CA.
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._defaults = {
            "read": read_timeout,
            "write": write_timeout,
            "connect": connect_timeout,
            "pool": pool_timeout,
        }
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        # Looked up once per (scheme, host): aiohttp's own trust_env reads the environment and
        # ~/.netrc again on every request.
        self._proxies: dict[tuple[str, str], str | None] = {}
        # A SOCKS proxy is a connector, not a per-request setting: one session for each.
        self._socks: dict[str, aiohttp.ClientSession] = {}

    @property
    def read_timeout(self) -> float | None:
        """The read timeout used when a call does not name one."""
        return self._defaults["read"]

    async def initialize(self) -> None:
        """Opens the session (again, after a shutdown)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit, ssl=self._ssl),
                headers={"User-Agent": self.USER_AGENT},
                timeout=aiohttp.ClientTimeout(total=None),
            )

    async def shutdown(self) -> None:
        """Closes the sessions and their connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        for session in self._socks.values():
            await session.close()
        self._socks.clear()

    def _through(self, proxy: str) -> aiohttp.ClientSession:
        """The session whose connections go through the SOCKS proxy `proxy`."""
        session = self._socks.get(proxy)
        if session is None or session.closed:
            session = self._socks[proxy] = aiohttp.ClientSession(
                connector=socks_connector(proxy, self._limit, self._ssl),
                headers={"User-Agent": self.USER_AGENT},
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return session

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Sends one request; returns its status code and body."""
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data is not None else None
        read = _given(read_timeout, self._defaults["read"])
        connect = _given(connect_timeout, self._defaults["connect"])
        pool = _given(pool_timeout, self._defaults["pool"])
        write = _given(write_timeout, self._media_write_timeout if files else self._defaults["write"])
        timeout = aiohttp.ClientTimeout(
            total=_total(pool, connect, write, read) if files else None,
            connect=_total(pool, connect),
            sock_connect=connect,
            sock_read=read,
        )
        body: aiohttp.FormData | bytes | None = None
        headers = None
        if files:
            assert request_data is not None
            form = aiohttp.FormData(request_data.json_parameters)
            for name, (filename, content, mimetype) in files.items():
                form.add_field(name, content, filename=filename, content_type=mimetype)
            body = form
        elif request_data is not None:
            body, headers = request_data.url_encoded_parameters().encode(), FORM
        origin = urllib.parse.urlsplit(url)[:2]
        if origin not in self._proxies:
            self._proxies[origin] = env_proxy(url)
        proxy = self._proxies[origin]
        if proxy is not None and is_socks(proxy):
            session, proxy = self._through(proxy), None
        try:
            async with session.request(
                method, url, data=body, headers=headers, timeout=timeout, proxy=proxy
            ) as response:
                return response.status, await response.read()
        except (aiohttp.ConnectionTimeoutError, *PROXY_TIMEOUTS) as err:
            raise TimedOut(
                message="Pool timeout: no connection to Telegram became free or could be opened in time. "
                "Request was *not* sent to Telegram."
            ) from err
        except TimeoutError as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            # The class name helps when the error's own message is empty.
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err
        except PROXY_ERRORS as err:
            raise NetworkError(f"SOCKS proxy: {err}") from err


# --- Bot API errors by code, and Telegram's reachability ----------------------------------------------------


class InstrumentedRequest(AiohttpRequest):
    """The bot's Bot API requests (:class:`AiohttpRequest`); every failed call is reported to
    `observer` by status code.

    Counted here rather than in the error handler because most Bot API errors never reach it: the
    outbox sender catches them all (retry, back-off, give up) and the rate limiter retries 429s.
    """

    __slots__ = ("link", "observer")

    def __init__(self, *args: Any, link: TelegramLink | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.observer: Callable[[str], None] | None = None
        # Told about every answer and every failure to get one: the one place that sees them all
        # (start-up, polling, the outbox, handlers), so /healthz and the log follow Telegram's state.
        self.link = link

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        try:
            code, payload = await super().do_request(
                url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
            )
        except TimedOut as error:
            self._observe("timeout")
            # No connection in time is a blocked or dead route; a slow answer on one that works is not.
            if self.link is not None and isinstance(error.__cause__, CONNECT_TIMEOUTS):
                self.link.unreachable(f"no connection within the time limit ({error.__cause__})")
            raise
        except NetworkError as error:
            self._observe("network")
            if self.link is not None:
                self.link.unreachable(error.message)
            raise
        if self.link is not None:
            if code in TOKEN_REFUSED and method == "POST":  # a Bot API method, not a file download
                self.link.refused(f"HTTP {code} for {method} {url.rsplit('/', 1)[-1]}")
            else:
                self.link.reached()
        if code >= 400:
            self._observe(str(code))
        return code, payload

    def _observe(self, code: str) -> None:
        if self.observer is not None:
            self.observer(code)
