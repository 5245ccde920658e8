"""The web server next to the bot: the tip line, /healthz, /metrics and (webhook mode) Telegram's updates.

`bot.web` is the Telegram-free part; this module adds what needs PTB:

- :func:`make_web_app` — the tip line application plus, given an Application, the webhook route
  ``POST /telegram/<path secret>`` that checks ``X-Telegram-Bot-Api-Secret-Token`` in constant
  time (403 without reading the body otherwise), refuses malformed JSON (400) and puts the
  update in the durable inbox (handlers/inbox.py) before it answers 200 and queues it — PTB's own
  tornado webhook server is not used.
- :func:`register_metrics` — update counts and handler latency via TypeHandlers in groups
  -100 and 99, and Bot API errors by code through
  :class:`~handlers.bot_api_http.InstrumentedRequest`.
- :func:`attach_web`, :func:`run_webhook`, :func:`run_polling_with_web` — start and stop the
  web server with the bot (post_init / post_shutdown), mirroring `handlers.app.run_bot`.
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.config import ConfigError
from bot.web.app import TIPLINE, make_tipline_app
from bot.web.metrics import Metrics
from bot.web.security import Signer
from bot.web.settings import WebSettings
from handlers.app import OFFLINE_PARTS, open_services, run_application, run_bot
from handlers.bot_api_http import InstrumentedRequest
from handlers.common import Services
from handlers.inbox import inbox_of

log = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
METRICS_KEY = "metrics"
WEB_RUNNER_KEY = "web_runner"
WEB_ATTACHED_KEY = "web_attached"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PREFIX = "/telegram/"
TIMING_GROUP, OBSERVE_GROUP = -100, 99
APPLICATION = web.AppKey("application", Application)
WEBHOOK_SECRETS = web.AppKey("webhook_secrets", tuple)


# --- update metrics ----------------------------------------------------------------------------


def metrics_of(application: AnyApplication) -> Metrics:
    """The application's metrics (created by :func:`register_metrics`)."""
    found = application.bot_data.get(METRICS_KEY)
    assert isinstance(found, Metrics), "register_metrics(application) first"
    return found


def register_metrics(application: AnyApplication, metrics: Metrics | None = None) -> Metrics:
    """Counts updates and times them from group -100 to group 99; hooks Bot API errors in.

    An update that a handler ends early with ApplicationHandlerStop is counted but not timed
    (its start is forgotten once 10 000 newer updates have started).
    """
    if isinstance(application.bot_data.get(METRICS_KEY), Metrics):
        return metrics_of(application)
    metrics = metrics or Metrics()
    application.bot_data[METRICS_KEY] = metrics
    started: collections.OrderedDict[int, float] = collections.OrderedDict()

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        kind = next((k for k in Update.ALL_TYPES if getattr(update, k, None) is not None), "other")
        metrics.updates.labels(kind).inc()
        started[id(update)] = time.perf_counter()
        while len(started) > 10_000:
            started.popitem(last=False)

    async def observe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        began = started.pop(id(update), None)
        if began is not None:
            metrics.handler_latency.observe(time.perf_counter() - began)

    application.add_handler(TypeHandler(Update, start), group=TIMING_GROUP)
    application.add_handler(TypeHandler(Update, observe), group=OBSERVE_GROUP)
    request = application.bot.request
    if isinstance(request, InstrumentedRequest):
        request.observer = lambda code: metrics.bot_api_errors.labels(code).inc()
    return metrics


# --- the webhook route -------------------------------------------------------------------------


def webhook_secrets(secret_key: str, settings: WebSettings) -> tuple[str, str]:
    """(path secret, header secret token): configured, else derived from the server secret."""
    signer = Signer(secret_key)
    return (
        settings.webhook_path_secret or signer.derived("webhook-path"),
        settings.webhook_secret_token or signer.derived("webhook-token"),
    )


async def telegram_webhook(request: web.Request) -> web.Response:
    """Telegram's POST of one update: secrets first, then size and JSON, then onto the queue."""
    path_secret, token = request.app[WEBHOOK_SECRETS]
    given_path = request.match_info["secret"].encode("utf-8", "replace")
    given_token = request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
    # Both compared in constant time, and both always compared, so neither is an oracle for the other.
    path_ok = hmac.compare_digest(given_path, path_secret.encode())
    token_ok = hmac.compare_digest(given_token, token.encode())
    if not path_ok:
        raise web.HTTPNotFound()
    if not token_ok:
        return web.Response(status=403, text="forbidden")
    application: AnyApplication = request.app[APPLICATION]
    limit = request.app[TIPLINE].settings.webhook_max_bytes
    if request.content_length is not None and request.content_length > limit:
        return web.Response(status=413, text="too large")
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        return web.Response(status=413, text="too large")
    try:
        data = json.loads(body)
        update = Update.de_json(data, application.bot) if isinstance(data, dict) else None
    except (ValueError, TypeError, KeyError, RecursionError):  # a deeply nested body is malformed too
        update = None
    if update is None:
        return web.Response(status=400, text="malformed update")
    if not application.running:
        # Stopping: the queue is no longer read. 503 makes Telegram deliver it again later.
        return web.Response(status=503, text="stopping")
    # On disk before the 200 that tells Telegram it arrived (handlers/inbox.py). When the bot stops
    # meanwhile, the stored update waits for the next start; when the write fails, Telegram retries.
    inbox = inbox_of(application)
    fresh = await inbox.receive([update])
    if fresh and application.running:
        application.update_queue.put_nowait(update)  # no await between the check and the put
    return web.Response(text="ok")


def make_web_app(svc: Services, application: AnyApplication | None, settings: WebSettings) -> web.Application:
    """The tip line application; with `application`, also its metrics and the webhook route."""
    metrics = register_metrics(application) if application is not None else None
    app = make_tipline_app(svc, settings, metrics)
    if application is not None:
        app[APPLICATION] = application
        app[WEBHOOK_SECRETS] = webhook_secrets(svc.config.secret_key, settings)
        app.router.add_post(WEBHOOK_PREFIX + "{secret}", telegram_webhook)
    return app


# --- running -----------------------------------------------------------------------------------


def web_url(application: AnyApplication) -> str:
    """http://host:port of the running web server (the port is the real one when 0 was asked for)."""
    runner: web.AppRunner = application.bot_data[WEB_RUNNER_KEY]
    host, port = runner.addresses[0][:2]
    return f"http://{host}:{port}"


def attach_web(application: AnyApplication, settings: WebSettings) -> None:
    """Starts the web server as soon as the database is open, before Telegram is tried (the tip line,
    /healthz and the exports do not need it), and stops it before the bot's post_shutdown (which
    closes the database). Attaching twice changes nothing."""
    if application.bot_data.get(WEB_ATTACHED_KEY):
        return
    application.bot_data[WEB_ATTACHED_KEY] = True
    register_metrics(application)
    original_init = application.post_init
    original_shutdown = application.post_shutdown

    async def start_web(app: AnyApplication) -> None:
        if WEB_RUNNER_KEY in app.bot_data:
            return
        runner = web.AppRunner(make_web_app(await open_services(app), app, settings), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, settings.listen, settings.port).start()
        app.bot_data[WEB_RUNNER_KEY] = runner
        log.info("web server on %s", web_url(app))

    async def post_init(app: AnyApplication) -> None:
        if original_init is not None:
            await original_init(app)
        await start_web(app)  # already running when started through handlers.app.run_application

    async def post_shutdown(app: AnyApplication) -> None:
        runner = app.bot_data.pop(WEB_RUNNER_KEY, None)
        if runner is not None:
            await runner.cleanup()
        if original_shutdown is not None:
            await original_shutdown(app)

    application.bot_data.setdefault(OFFLINE_PARTS, []).append(start_web)
    application.post_init = post_init
    application.post_shutdown = post_shutdown


async def run_polling_with_web(
    application: AnyApplication, stop: asyncio.Event, settings: WebSettings, **polling: Any
) -> None:
    """`handlers.app.run_bot` (long polling) with the web server beside it."""
    attach_web(application, settings)
    await run_bot(application, stop, **polling)


async def run_webhook(
    application: AnyApplication,
    stop: asyncio.Event,
    *,
    listen: str,
    port: int,
    url_path_secret: str,
    public_url: str,
    secret_token: str,
    settings: WebSettings | None = None,
) -> None:
    """Runs `application` on webhooks (our aiohttp server, not PTB's) until `stop`, then shuts down.

    The same life cycle as `handlers.app.run_bot`: the web side first, then Telegram until it
    answers. The webhook is left registered on exit: Telegram keeps the updates until the bot is
    back (a route answering 503 while stopping or not yet started makes it retry).
    """
    settings = replace(
        settings or WebSettings(enabled=True),
        listen=listen,
        port=port,
        public_url=public_url.rstrip("/"),
        webhook_path_secret=url_path_secret,
        webhook_secret_token=secret_token,
    )
    attach_web(application, settings)

    async def connect() -> None:
        await application.bot.set_webhook(
            f"{settings.public_url}{WEBHOOK_PREFIX}{url_path_secret}",
            secret_token=secret_token,
            allowed_updates=Update.ALL_TYPES,
        )

    async def disconnect() -> None:
        pass  # the webhook stays: Telegram keeps the updates meanwhile

    await run_application(application, stop, connect, disconnect, start_first=True)


Runner = Callable[[AnyApplication, asyncio.Event], Awaitable[None]]


def runner_for(mode: str, config_secret: str, settings: WebSettings) -> Runner:
    """The CLI's choice: `--mode polling` (default; the web server runs if [web] is enabled) or webhook."""
    if mode == "webhook":
        if not settings.public_url:
            raise ConfigError("webhook mode needs web.public_url (the https:// address Telegram posts to)")
        path_secret, token = webhook_secrets(config_secret, settings)

        async def webhook(application: AnyApplication, stop: asyncio.Event) -> None:
            await run_webhook(
                application,
                stop,
                listen=settings.listen,
                port=settings.port,
                url_path_secret=path_secret,
                public_url=settings.public_url,
                secret_token=token,
                settings=settings,
            )

        return webhook
    if settings.enabled:
        return lambda application, stop: run_polling_with_web(application, stop, settings)
    return run_bot
