"""The sandbox page and its JSON API, over the fake Bot API server the real bot is running against.

:func:`make_sandbox_app` is the one factory (typed ``AppKey`` state, ``cleanup_ctx``): while the
aiohttp application runs, its cleanup context runs the whole world — the fake Telegram server with
a resident, a staff member, the moderation group and the channels, and the real bot built by
:func:`handlers.app.build_application` and run by :func:`handlers.app.run_bot`.

The page plays people, never the bot: every POST is something a person does in a Telegram app
(send text, a photo, a location, a contact; tap an inline or a reply-keyboard button) and goes
through :class:`~bot.fake_telegram.FakeTelegram`'s people API, which enqueues an Update that the
bot fetches with getUpdates exactly as from Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web

from bot.fake_telegram import FakeTelegram
from bot.fake_telegram.records import PHOTO_UPLOAD_LIMIT
from bot.sandbox.render import message_json, reply_keyboard_json
from bot.sandbox.world import RESIDENT_PHONE, Sandbox, SandboxSettings, county_centre, map_data

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
SANDBOX = web.AppKey("sandbox", Sandbox)
HOST = web.AppKey("host", str)
MAX_MESSAGES = 200  # per chat in the state: enough for a demo, small enough to poll every 700 ms
MAX_UPLOAD = 4 * PHOTO_UPLOAD_LIMIT
ANSWER_WAIT = 3.0  # how long a button press waits for the bot's answerCallbackQuery
HEADER = "X-Sandbox"  # a custom header a cross-site form cannot send: POSTs must come from the page


class ActionError(Exception):
    """A person's action the Telegram app would not allow (a button that is gone ...)."""


# --- the world's lifetime ----------------------------------------------------------------------


async def _run_world(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: starts the fake server and the real bot; stops both (the bot first)."""
    # Imported here: the page's helpers stay importable without python-telegram-bot.
    from bot.web.settings import WebSettings
    from handlers.app import build_application, run_bot, start_running
    from handlers.web import WEB_RUNNER_KEY, attach_web

    sandbox = app[SANDBOX]
    await sandbox.start()
    stop = asyncio.Event()
    task: asyncio.Task[None] | None = None
    try:
        application = build_application(sandbox.bot_config())
        if sandbox.settings.tipline_port is not None:
            # The web tip line too, on the page's address: web reports reach the same staff group.
            settings = WebSettings(enabled=True, listen=app[HOST], port=sandbox.settings.tipline_port)
            attach_web(application, settings)
        polling = run_bot(application, stop, poll_timeout=sandbox.settings.poll_timeout)
        task = await start_running(application, polling, name="sandbox-bot")
        runner = application.bot_data.get(WEB_RUNNER_KEY)
        if runner is not None:
            sandbox.tipline_port = int(runner.addresses[0][1])
        yield
    finally:
        stop.set()
        if task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 30)
        await sandbox.stop()


# --- state -----------------------------------------------------------------------------------


def _commands(fake: FakeTelegram, language_code: str) -> list[dict[str, str]]:
    """The command menu a Telegram app shows this person: their language's list, else the default."""
    lang = language_code[:2].lower()
    for scope in ({"type": "all_private_chats"}, {"type": "default"}):
        for code in (lang, ""):
            found = fake.commands(scope=scope, language_code=code)
            if found:
                return found
    return []


def _chat(sandbox: Sandbox, chat_id: int, *, history: bool) -> dict[str, Any]:
    fake = sandbox.server()
    bot_id = int(fake.bot_user["id"])
    messages = fake.chat_history(chat_id) if history else fake.messages_in(chat_id)
    return {"id": chat_id, "messages": [message_json(m, bot_id) for m in messages[-MAX_MESSAGES:]]}


def state(sandbox: Sandbox) -> dict[str, Any]:
    """Everything the page shows: the resident's chat, the staff group, the channels."""
    fake = sandbox.server()
    config = sandbox.bot_config()
    language = sandbox.resident_language()
    resident = _chat(sandbox, sandbox.resident, history=True)
    resident.update(
        user_id=sandbox.resident,
        name=sandbox.person_name(sandbox.resident),
        language=language,
        language_code=sandbox.language_code(),
        reply_keyboard=reply_keyboard_json(fake.reply_keyboard(sandbox.resident)),
        commands=_commands(fake, "zh" if language == "zh" else "en"),
        phone=RESIDENT_PHONE,
    )
    staff = _chat(sandbox, sandbox.group, history=True)
    staff.update(
        user_id=sandbox.staff, name=sandbox.person_name(sandbox.staff), staff_language=config.languages.staff
    )
    channels = []
    for chat_id, title in sandbox.channels.items():
        routes = [d for d in config.destinations if d.chat_id == chat_id]
        channel = _chat(sandbox, chat_id, history=False)
        channel.update(
            name=routes[0].name,
            title=title,
            trusted=routes[0].trusted,
            kinds=sorted({kind for d in routes for kind in d.kinds}),
        )
        channels.append(channel)
    return {
        "bot": {"name": fake.bot_user["first_name"], "username": fake.bot_user["username"]},
        "database": str(config.storage.database),
        "resident": resident,
        "staff": staff,
        "channels": channels,
        "tipline_port": sandbox.tipline_port,  # the page links to it on the address it was opened with
    }


# --- requests --------------------------------------------------------------------------------


def _sandbox(request: web.Request) -> Sandbox:
    sandbox = request.app[SANDBOX]
    if not sandbox.ready:
        raise web.HTTPServiceUnavailable(text="the sandbox is starting")
    return sandbox


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="expected a JSON body") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="expected a JSON object")
    return body


def _chat_id(sandbox: Sandbox, which: Any) -> tuple[int, int]:
    """(chat id, acting user) for "resident" or "staff"."""
    if which in (None, "resident"):
        return sandbox.resident, sandbox.resident
    if which == "staff":
        return sandbox.group, sandbox.staff
    raise web.HTTPBadRequest(text="chat must be resident or staff")


def _coordinate(body: dict[str, Any], key: str, limit: float) -> float | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise web.HTTPBadRequest(text=f"{key} must be a number") from None
    if not math.isfinite(number) or abs(number) > limit:
        raise web.HTTPBadRequest(text=f"{key} is out of range")
    return number


def _point(body: dict[str, Any]) -> tuple[float, float]:
    """The body's lat/lon, else the county centre (a location button pressed without a map click)."""
    lat, lon = _coordinate(body, "lat", 90), _coordinate(body, "lon", 180)
    if lat is None or lon is None:
        return county_centre()
    return lat, lon


def _act(action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return action()
    except (AssertionError, ValueError) as error:
        raise ActionError(str(error)) from None


@web.middleware
async def _guard(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """POSTs only from the page itself; refused actions answered as JSON the page can show."""
    if request.method == "POST" and request.headers.get(HEADER) != "1":
        return web.json_response({"ok": False, "error": f"missing {HEADER} header"}, status=403)
    try:
        return await handler(request)
    except ActionError as error:
        return web.json_response({"ok": False, "error": str(error)}, status=409)


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def get_state(request: web.Request) -> web.Response:
    return web.json_response(state(_sandbox(request)), headers={"Cache-Control": "no-store"})


async def get_map(request: web.Request) -> web.Response:
    return web.json_response(map_data())


def _sniff(data: bytes) -> str:
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return "application/octet-stream"


async def get_file(request: web.Request) -> web.Response:
    """A file from the fake server's store (photos the bot or the person sent, documents)."""
    fake = _sandbox(request).server()
    try:
        data = fake.download(request.match_info["file_id"])
    except AssertionError:
        raise web.HTTPNotFound() from None
    kind = _sniff(data)
    headers = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
    if kind == "application/octet-stream":
        headers["Content-Disposition"] = "attachment"
    return web.Response(body=data, content_type=kind, headers=headers)


async def send_text(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    body = await _json_body(request)
    chat_id, user = _chat_id(sandbox, body.get("chat"))
    text = str(body.get("text") or "")
    reply_to = body.get("reply_to")
    reply_id = int(reply_to) if isinstance(reply_to, int | str) and str(reply_to).isdigit() else None
    message = _act(
        lambda: sandbox.server().send_text(user, text, chat_id=chat_id, reply_to_message_id=reply_id)
    )
    return web.json_response({"ok": True, "message_id": message["message_id"]})


async def send_location(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    body = await _json_body(request)
    lat, lon = _coordinate(body, "lat", 90), _coordinate(body, "lon", 180)
    if lat is None or lon is None:
        raise web.HTTPBadRequest(text="lat and lon are required")
    message = _act(lambda: sandbox.server().send_location(sandbox.resident, lat, lon, horizontal_accuracy=20))
    return web.json_response({"ok": True, "message_id": message["message_id"]})


async def send_contact(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    body = await _json_body(request)
    phone = str(body.get("phone") or RESIDENT_PHONE).strip()[:32]
    fake = sandbox.server()
    message = _act(
        lambda: fake.send_contact(
            sandbox.resident, phone, sandbox.person_name(sandbox.resident), contact_user_id=sandbox.resident
        )
    )
    return web.json_response({"ok": True, "message_id": message["message_id"]})


async def send_photo(request: web.Request) -> web.Response:
    """multipart: one or more `photo` files, optional `caption`; `as_file=1` sends them as documents.

    Several photos go as an album (one media group), as a Telegram app sends them. A file no Telegram
    app would send as a photo (not a picture, too large) goes as a document, like "send as file".
    """
    sandbox = _sandbox(request)
    fake = sandbox.server()
    reader = await request.multipart()
    files: list[tuple[str, str, bytes]] = []
    fields: dict[str, str] = {}
    total = 0
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.filename is not None:
            data = await part.read(decode=False)
            total += len(data)
            if total > MAX_UPLOAD:
                raise web.HTTPRequestEntityTooLarge(max_size=MAX_UPLOAD, actual_size=total)
            if data:
                mime = part.headers.get("Content-Type", "application/octet-stream")
                files.append((part.filename or "photo.jpg", mime, bytes(data)))
        elif part.name:
            fields[part.name] = (await part.text())[:1024]
    if not files:
        raise web.HTTPBadRequest(text="no file")
    caption = fields.get("caption") or None
    as_file = fields.get("as_file") in ("1", "true", "on")
    album = str(uuid.uuid4().int)[:18] if len(files) > 1 else None
    sent = []
    for index, (name, mime, data) in enumerate(files):
        text = caption if index == 0 else None
        message: dict[str, Any] | None = None
        if not as_file:
            with contextlib.suppress(AssertionError):
                message = fake.send_photo(sandbox.resident, data, caption=text, media_group_id=album)
        if message is None:
            message = _act(
                functools.partial(
                    fake.send_document, sandbox.resident, data, file_name=name, mime_type=mime, caption=text
                )
            )
        sent.append(message["message_id"])
    return web.json_response({"ok": True, "message_ids": sent})


async def press_button(request: web.Request) -> web.Response:
    """An inline button, by the resident in their chat or by the staff member in the group."""
    sandbox = _sandbox(request)
    body = await _json_body(request)
    chat_id, user = _chat_id(sandbox, body.get("chat"))
    try:
        message_id = int(body.get("message_id"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise web.HTTPBadRequest(text="message_id must be a number") from None
    data = str(body.get("data") or "")
    fake = sandbox.server()
    query = _act(lambda: fake.press_button(user, message_id, data, chat_id=chat_id))
    answer: dict[str, Any] = {}
    with contextlib.suppress(AssertionError):
        call = await fake.wait_for_call(
            "answerCallbackQuery",
            timeout=ANSWER_WAIT,
            predicate=lambda c: c.params.get("callback_query_id") == query["id"],
        )
        answer = {k: call.params[k] for k in ("text", "show_alert") if k in call.params}
    return web.json_response({"ok": True, "answer": answer})


async def press_reply_button(request: web.Request) -> web.Response:
    """A reply-keyboard button; a location button sends the map's point (else the county centre)."""
    sandbox = _sandbox(request)
    body = await _json_body(request)
    text = str(body.get("text") or "")
    fake = sandbox.server()
    rows = reply_keyboard_json(fake.reply_keyboard(sandbox.resident)) or []
    button = next((b for row in rows for b in row if b["text"] == text), None)
    if button is None:
        raise ActionError(f"the keyboard has no button {text!r} (any more)")
    if button["kind"] == "location":
        lat, lon = _point(body)
        message = _act(lambda: fake.send_location(sandbox.resident, lat, lon, horizontal_accuracy=20))
    elif button["kind"] == "contact":
        message = _act(
            lambda: fake.send_contact(
                sandbox.resident,
                RESIDENT_PHONE,
                sandbox.person_name(sandbox.resident),
                contact_user_id=sandbox.resident,
            )
        )
    else:
        message = _act(lambda: fake.press_reply_button(sandbox.resident, text))
    return web.json_response({"ok": True, "message_id": message["message_id"]})


async def set_language(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    body = await _json_body(request)
    language = body.get("language")
    if language not in ("zh", "en"):
        raise web.HTTPBadRequest(text="language must be zh or en")
    sandbox.set_resident_language(str(language))
    return web.json_response({"ok": True, "language": language})


async def new_resident(request: web.Request) -> web.Response:
    sandbox = _sandbox(request)
    body = await _json_body(request)
    language = body.get("language")
    if language not in (None, "zh", "en"):
        raise web.HTTPBadRequest(text="language must be zh or en")
    user_id = sandbox.new_resident(language)
    return web.json_response({"ok": True, "user_id": user_id})


def make_sandbox_app(settings: SandboxSettings | None = None, *, host: str = "127.0.0.1") -> web.Application:
    """The sandbox: page, JSON API and (while the app runs) the fake Telegram and the real bot."""
    allowed_hosts = {host, "127.0.0.1", "localhost", "::1"}

    @web.middleware
    async def same_host(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        # A page elsewhere cannot reach the sandbox by rebinding its own name to 127.0.0.1.
        if host not in ("0.0.0.0", "::") and request.url.host not in allowed_hosts:
            return web.Response(status=421, text="wrong host\n")
        return await handler(request)

    app = web.Application(middlewares=[same_host, _guard], client_max_size=MAX_UPLOAD + 1024 * 1024)
    app[SANDBOX] = Sandbox(settings or SandboxSettings())
    app[HOST] = host
    app.cleanup_ctx.append(_run_world)
    app.router.add_get("/", index)
    app.router.add_get("/api/state", get_state)
    app.router.add_get("/api/map", get_map)
    app.router.add_get("/api/file/{file_id}", get_file)
    app.router.add_post("/api/text", send_text)
    app.router.add_post("/api/photo", send_photo)
    app.router.add_post("/api/location", send_location)
    app.router.add_post("/api/contact", send_contact)
    app.router.add_post("/api/press", press_button)
    app.router.add_post("/api/reply_button", press_reply_button)
    app.router.add_post("/api/language", set_language)
    app.router.add_post("/api/new_resident", new_resident)
    app.router.add_static("/static/", STATIC, append_version=False)
    return app
