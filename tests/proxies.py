"""Small real proxies on 127.0.0.1 for the tests: HTTP CONNECT, SOCKS5, and a TLS front.

What a server in mainland China puts between the bot and Telegram: an HTTP proxy that tunnels
(`CONNECT host:443`) or a SOCKS5 proxy that is told the host *name* (so the proxy, abroad, looks
it up). Each records what it was asked, so a test can tell the traffic really went through it.
`TlsFront` puts TLS in front of the fake Bot API (certificates from a trustme test CA), so the
bot talks https:// as it does to api.telegram.org, and an HTTP proxy must tunnel.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
from dataclasses import dataclass, field


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _relay(a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                 b: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
    await asyncio.gather(_pipe(a[0], b[1]), _pipe(b[0], a[1]))


@dataclass
class _Server:
    host: str = "127.0.0.1"
    port: int = 0
    server: asyncio.Server | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def _serve(self, handler: object, ssl_context: ssl.SSLContext | None = None) -> None:
        async def track(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self.tasks.add(task)  # type: ignore[arg-type]
            try:
                await handler(reader, writer)  # type: ignore[operator]
            except (ConnectionError, asyncio.IncompleteReadError, ValueError, OSError):
                writer.close()
            finally:
                self.tasks.discard(task)  # type: ignore[arg-type]

        self.server = await asyncio.start_server(track, self.host, 0, ssl=ssl_context)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.tasks):
            task.cancel()
        if self.server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 5)


@dataclass
class HttpConnectProxy(_Server):
    """An HTTP proxy that only tunnels (CONNECT), as one for https:// targets does."""

    tunnels: list[str] = field(default_factory=list)  # "host:port" asked for

    async def start(self) -> str:
        await self._serve(self._handle)
        return f"http://{self.host}:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
        if method != "CONNECT":
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            writer.close()
            return
        self.tunnels.append(target)
        host, port = target.rsplit(":", 1)
        upstream = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await _relay((reader, writer), upstream)


@dataclass
class Socks5Proxy(_Server):
    """A SOCKS5 proxy (RFC 1928, CONNECT only) with optional user/password (RFC 1929)."""

    username: str = ""
    password: str = ""
    targets: list[tuple[str, int]] = field(default_factory=list)  # (name or address, port) asked for

    async def start(self) -> str:
        await self._serve(self._handle)
        auth = f"{self.username}:{self.password}@" if self.username else ""
        return f"socks5://{auth}{self.host}:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        wanted = 2 if self.username else 0
        if version != 5 or wanted not in methods:
            writer.write(b"\x05\xff")
            writer.close()
            return
        writer.write(bytes((5, wanted)))
        if wanted == 2:
            _, ulen = await reader.readexactly(2)
            user = (await reader.readexactly(ulen)).decode()
            plen = (await reader.readexactly(1))[0]
            password = (await reader.readexactly(plen)).decode()
            ok = (user, password) == (self.username, self.password)
            writer.write(b"\x01\x00" if ok else b"\x01\x01")
            if not ok:
                writer.close()
                return
        _, command, _, kind = await reader.readexactly(4)
        if kind == 3:  # a domain name: the proxy resolves it
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        elif kind == 1:
            host = ".".join(str(b) for b in await reader.readexactly(4))
        else:
            writer.write(b"\x05\x08\x00\x01" + bytes(6))  # address type not supported
            writer.close()
            return
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        if command != 1:
            writer.write(b"\x05\x07\x00\x01" + bytes(6))  # command not supported
            writer.close()
            return
        self.targets.append((host, port))
        try:
            upstream = await asyncio.open_connection(host, port)
        except OSError:
            writer.write(b"\x05\x05\x00\x01" + bytes(6))  # connection refused
            writer.close()
            return
        writer.write(b"\x05\x00\x00\x01" + bytes(4) + struct.pack("!H", 0))
        await writer.drain()
        await _relay((reader, writer), upstream)


@dataclass
class TlsFront(_Server):
    """TLS on 127.0.0.1 in front of a plain HTTP server (the fake Bot API)."""

    target_port: int = 0
    server_context: ssl.SSLContext | None = None

    async def start(self) -> int:
        await self._serve(self._handle, self.server_context)
        return self.port

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = await asyncio.open_connection("127.0.0.1", self.target_port)
        await _relay((reader, writer), upstream)
