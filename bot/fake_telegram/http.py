"""The fake Bot API's HTTP server: routes, request parsing, faults, the call log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Sequence
from typing import Any, Self

from aiohttp import web

from .model import ApiError, Call, UploadedFile
from .records import (
    _TOKEN_RE,
    UPLOAD_LIMIT,
    _Fault,
    _NotImplementedError,
)
from .spec import check_object, decode_params, flatten_json_body
from .updates import _Updates

log = logging.getLogger("bot.fake_telegram.server")


class _Http(_Updates):
    """The HTTP side: serving, reading requests as the official server does, faults, the call log."""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Starts serving; :attr:`base_url` and :attr:`base_file_url` are valid afterwards."""
        if self._runner is not None:
            raise RuntimeError("FakeTelegram already started")
        self._closing = False
        app = web.Application(client_max_size=UPLOAD_LIMIT + 1024 * 1024)
        app.router.add_route("*", "/bot{rest:.*}", self._handle_api)
        app.router.add_route("GET", "/file/bot{rest:.*}", self._handle_file)
        app.router.add_route("*", "/{rest:.*}", self._handle_unknown)
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        self.host = host
        root = f"http://{host}:{self.port}"
        self.base_url = f"{root}/bot"
        self.base_file_url = f"{root}/file/bot"
        log.info("fake Telegram Bot API listening on %s", root)

    async def stop(self) -> None:
        """Stops serving: parked long polls answer at once, webhook delivery stops."""
        self._closing = True
        self._notify()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._webhook_task
            self._webhook_task = None
        if self._webhook_session is not None:
            await self._webhook_session.close()
            self._webhook_session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def fail_next(
        self,
        method: str | None,
        *,
        error_code: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` calls of ``method`` (None: of any method but getUpdates) fail as given."""
        name = None
        if method is not None:
            name = self._spec.canonical(method)
            if name is None:
                raise ValueError(f"unknown Bot API method {method!r}")
        self._faults.append(_Fault(name, error_code, description, retry_after, times))

    def set_fault_rate(
        self, rate: float, *, seed: int = 0, kinds: Sequence[str] = ("5xx", "429", "timeout")
    ) -> None:
        """Fails a random share ``rate`` of calls (getUpdates excepted); rate 0 disables.

        Kinds: ``"5xx"`` answers 502 Bad Gateway unprocessed; ``"429"`` answers Too Many Requests with
        retry_after 1; ``"timeout"`` hangs :attr:`fault_hang_seconds` unprocessed, then answers 504;
        ``"timeout_after"`` processes the request, then hangs and answers 504 (the ambiguous case).
        """
        unknown = set(kinds) - {"5xx", "429", "timeout", "timeout_after"}
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        if not 0 <= rate <= 1:
            raise ValueError("rate is a probability")
        self._fault_rate = rate
        self._fault_kinds = tuple(kinds)
        self._fault_rng = random.Random(seed)

    def _pick_fault(self, method: str) -> _Fault | str | None:
        for fault in self._faults:
            if fault.method == method or (fault.method is None and method != "getUpdates"):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        if self._fault_rate and method != "getUpdates" and self._fault_rng.random() < self._fault_rate:
            return self._fault_rng.choice(self._fault_kinds)
        return None

    async def _handle_unknown(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)

    async def _handle_file(self, request: web.Request) -> web.Response:
        rest = request.match_info["rest"]
        token, _, path = rest.partition("/")
        if token != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        record = self._files_by_path.get(path)
        if record is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        return web.Response(body=record.data, content_type=record.mime_type or "application/octet-stream")

    async def _read_raw(self, request: web.Request) -> tuple[dict[str, str], dict[str, UploadedFile]]:
        raw: dict[str, str] = dict(request.query)
        uploads: dict[str, UploadedFile] = {}
        if not request.body_exists:
            return raw, uploads
        ctype = request.content_type
        if ctype == "application/json":
            body = await request.read()
            if body.strip():
                try:
                    parsed = json.loads(body)
                except ValueError:
                    raise ApiError.bad("can't parse JSON object") from None
                raw.update(flatten_json_body(parsed))
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    uploads[key] = UploadedFile(value.filename, value.content_type, value.file.read())
                else:
                    raw[key] = str(value)
        return raw, uploads

    async def _handle_api(self, request: web.Request) -> web.Response:
        arrived = time.time()
        started = time.monotonic()
        rest = request.match_info["rest"]
        token, _, method_name = rest.partition("/")
        if not _TOKEN_RE.fullmatch(token) or not method_name or "/" in method_name:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        if token != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = self._spec.canonical(method_name)
        if method is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)

        loop = asyncio.get_running_loop()
        counted = method != "getUpdates"
        self._last_activity = loop.time()
        if counted:
            self._inflight += 1
        call = Call(method=method, params={}, at=arrived)
        status = 200
        body: dict[str, Any]
        try:
            try:
                raw, uploads = await self._read_raw(request)
                call.files = uploads
                fault = self._pick_fault(method)
                after_fault: str | None = None
                if isinstance(fault, _Fault):
                    params = fault.retry_after and {"retry_after": fault.retry_after}
                    raise ApiError(fault.error_code, fault.description, params or None)
                if fault == "5xx":
                    raise ApiError(502, "Bad Gateway")
                if fault == "429":
                    raise ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
                if fault == "timeout":
                    await asyncio.sleep(self.fault_hang_seconds)
                    raise ApiError(504, "Gateway Timeout")
                if fault == "timeout_after":
                    after_fault = "timeout_after"
                spec = self._spec.methods[method]
                params = decode_params(spec, raw, uploads)
                call.params = params
                handler = self._handlers.get(method)
                if handler is None:
                    raise _NotImplementedError(method)
                result = handler(params, uploads)
                if asyncio.iscoroutine(result):
                    result = await result
                if self.self_check:
                    errors = check_object(spec.returns, result)
                    if errors:
                        problem = f"{method} returned an invalid result: " + "; ".join(errors[:5])
                        self.problems.append(problem)
                        log.error("fake Telegram bug: %s", problem)
                        raise ApiError(500, f"fake server: internal error: {problem}")
                if after_fault:
                    await asyncio.sleep(self.fault_hang_seconds)
                    raise ApiError(504, "Gateway Timeout")
                call.ok = True
                call.result = result
                body = {"ok": True, "result": result}
            except web.HTTPRequestEntityTooLarge:
                raise ApiError(413, "Request Entity Too Large") from None
        except ApiError as exc:
            status = exc.code
            call.error_code = exc.code
            call.description = exc.description
            body = exc.payload()
            if isinstance(exc, _NotImplementedError):
                self.unimplemented.append(call)
                log.warning("fake Telegram: %s", exc.description)
        except asyncio.CancelledError:
            call.error_code = 499
            call.description = "client closed the connection"
            self._record(call, started, counted)
            raise
        except Exception as exc:  # a bug of the fake
            log.exception("fake Telegram: internal error in %s", method)
            problem = f"{method} raised {type(exc).__name__}: {exc}"
            self.problems.append(problem)
            status = 500
            call.error_code = 500
            call.description = f"fake server: internal error: {problem}"
            body = {"ok": False, "error_code": 500, "description": call.description}
        self._record(call, started, counted)
        return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))

    def _record(self, call: Call, started: float, counted: bool) -> None:
        for hook in self._call_hooks:
            hook(call)
        call.duration = time.monotonic() - started
        self.calls.append(call)
        if self.keep_calls is not None and len(self.calls) > self.keep_calls:
            del self.calls[: len(self.calls) - self.keep_calls]
        if counted:
            self._inflight -= 1
        self._last_activity = asyncio.get_running_loop().time()
        log.debug("%s %s -> %s", call.method, call.params, call.result if call.ok else call.description)
        self._notify()
