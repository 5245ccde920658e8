"""A strict fake of the Telegram Bot API over real HTTP, for tests and the local demo sandbox.

The real python-telegram-bot ``Bot``/``Application`` talks to it unchanged::

    async with FakeTelegram() as fake:
        fake.add_user(42, "Li")
        app = (ApplicationBuilder().token(fake.token)
               .base_url(fake.base_url).base_file_url(fake.base_file_url).build())
        ...
        fake.send_text(42, "/start")
        reply = await fake.wait_for_message(42)

Requests are read the way the official server reads them (query string, JSON body, urlencoded or
multipart form; every value is a string that is then parsed as its documented type), checked against
the packaged Bot API method list, and answered in Telegram's JSON shape with Telegram's error texts.
Methods of the API that the fake does not implement answer ``400 fake server: not implemented: <name>``
and are listed in :attr:`FakeTelegram.unimplemented`, so a test can never mistake them for success.

Not thread-safe: use it from the event loop it was started on.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import io
import itertools
import json
import logging
import mimetypes
import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import av
import av.error
from aiohttp import ClientError, ClientSession, ClientTimeout, web
from PIL import Image, UnidentifiedImageError

from .formatting import EntityError, check_entities, normalize, parse_html
from .model import ApiError, Call, UploadedFile
from .ratelimit import RateLimiter, RateLimits
from .spec import Spec, check_object, decode_params, flatten_json_body, load_spec

__all__ = ["FakeTelegram"]

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
ANSWER_TEXT_LIMIT = 200
DOWNLOAD_LIMIT = 20 * 1024 * 1024
UPLOAD_LIMIT = 50 * 1024 * 1024
PHOTO_UPLOAD_LIMIT = 10 * 1024 * 1024
QUERY_TTL = 15 * 60
PHOTO_SIDES = (90, 320, 800, 1280)
IDLE_QUIET = 0.2

_TOKEN_RE = re.compile(r"\d{1,20}:[A-Za-z0-9_-]{1,100}")
_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?=\s|$)")
_BOT_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_LANG_RE = re.compile(r"[a-z]{2}")

# updates delivered when allowed_updates is unset or empty
_DEFAULT_ALLOWED = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_MEDIA_KEYS = ("photo", "document", "video", "audio", "animation", "voice", "sticker", "video_note")
_CONTENT_KEYS = (
    "text",
    "entities",
    "caption",
    "caption_entities",
    "location",
    "venue",
    "contact",
    "has_media_spoiler",
    "show_caption_above_media",
    *_MEDIA_KEYS,
)
_FILE_FOLDERS = {
    "photo": ("photos", "jpg"),
    "document": ("documents", "bin"),
    "video": ("videos", "mp4"),
    "audio": ("music", "mp3"),
    "voice": ("voice", "oga"),
    "animation": ("animations", "mp4"),
    "sticker": ("stickers", "webp"),
    "video_note": ("video_notes", "mp4"),
}


def _probe_media(data: bytes) -> dict[str, int] | None:
    """Width, height and whole seconds of a clip or sound, read with FFmpeg (PyAV) as Telegram's
    servers do; None when the bytes are not media FFmpeg can open."""
    try:
        container: Any
        with av.open(io.BytesIO(data), metadata_errors="ignore") as container:
            found: dict[str, int] = {}
            video = next((s for s in container.streams.video), None)
            if video is not None:
                found.update(width=video.codec_context.width, height=video.codec_context.height)
            if container.duration:
                found["duration"] = max(0, round(container.duration / av.time_base))
            elif video is not None and video.duration and video.time_base:
                found["duration"] = round(float(video.duration * video.time_base))
            return found
    except (av.error.FFmpegError, ValueError, OSError):
        return None


# --------------------------------------------------------------------------------------------------
# internal records


@dataclass
class _User:
    data: dict[str, Any]
    started: bool = False
    blocked: bool = False


@dataclass
class _Msg:
    data: dict[str, Any]
    by_bot: bool
    deleted: bool = False
    editable: bool = True


@dataclass
class _Chat:
    id: int
    type: str
    title: str | None = None
    username: str | None = None
    user_id: int | None = None
    members: dict[int, str] = field(default_factory=dict)
    bot_status: str = "member"
    next_message_id: int = 1
    messages: dict[int, _Msg] = field(default_factory=dict)
    reply_keyboard: dict[str, Any] | None = None


@dataclass
class _File:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    size: int
    media: Any = None  # what a message shows for it (for photos: the list of PhotoSize)
    file_name: str | None = None
    mime_type: str | None = None
    file_path: str | None = None


@dataclass
class _Update:
    update_id: int
    kind: str
    data: dict[str, Any]
    delivered: bool = False
    redelivery: bool = False


@dataclass
class _Query:
    id: str
    issued_at: float
    answered: bool = False


@dataclass
class _Fault:
    method: str | None
    error_code: int
    description: str
    retry_after: int | None
    times: int


class _NotImplementedError(ApiError):
    def __init__(self, what: str) -> None:
        super().__init__(400, f"fake server: not implemented: {what}")


def _strip_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


# --------------------------------------------------------------------------------------------------


class FakeTelegram:
    """An in-process Telegram Bot API server on 127.0.0.1 (see the module docstring).

    World set-up (:meth:`add_user`, :meth:`add_group` ...) and people's actions (:meth:`send_text`,
    :meth:`press_button` ...) are synchronous; each action enqueues an Update and returns what it made.
    What the bot did is in :attr:`calls`, :meth:`messages_in` and the ``wait_for_*`` helpers.
    """

    def __init__(
        self,
        token: str = "123456789:TEST-TOKEN",
        *,
        bot_id: int = 123456789,
        bot_username: str = "heshun_leopard_bot",
        bot_first_name: str = "Heshun Leopard Watch",
        rate_limits: RateLimits | None = None,
        self_check: bool = True,
    ) -> None:
        if not _TOKEN_RE.fullmatch(token):
            raise ValueError(f"not a Telegram bot token: {token!r}")
        self.token = token
        self.bot_user: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.base_url = ""
        self.base_file_url = ""
        self.host = "127.0.0.1"
        self.port = 0
        #: every request, in the order their answers were sent
        self.calls: list[Call] = []
        #: calls of methods (or features) the fake does not implement
        self.unimplemented: list[Call] = []
        #: bugs of the fake itself (results that do not match the Bot API, exceptions)
        self.problems: list[str] = []
        #: validate every result against the documented return type (a bug answers 500)
        self.self_check = self_check
        self.rate_limits = rate_limits or RateLimits()
        #: how long a "timeout" fault keeps the request hanging before answering 504
        self.fault_hang_seconds = 10.0
        #: first delay between webhook delivery retries (doubles up to 2 s)
        self.webhook_retry_delay = 0.05
        #: keep only the newest N calls (None: all); for long-running sandboxes
        self.keep_calls: int | None = None

        self._spec: Spec = load_spec()
        self._time_offset = 0.0
        self._limiter = RateLimiter(self.rate_limits, self._mono)
        self._users: dict[int, _User] = {}
        self._chats: dict[int, _Chat] = {}
        self._files: dict[str, _File] = {}
        self._files_by_path: dict[str, _File] = {}
        self._file_counter = itertools.count(1)
        self._update_ids = itertools.count(100001)
        self._file_paths = itertools.count()
        self._pending: list[_Update] = []
        self._all_updates: dict[int, _Update] = {}
        self._allowed_updates: list[str] | None = None
        self._queries: dict[str, _Query] = {}
        self._query_counter = itertools.count(1)
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._bot_texts: dict[tuple[str, str], str] = {}
        self._menu_buttons: dict[int | None, dict[str, Any]] = {}
        self._faults: list[_Fault] = []
        self._fault_rate = 0.0
        self._fault_kinds: tuple[str, ...] = ()
        self._fault_rng = random.Random(0)
        self._webhook: dict[str, Any] | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_session: ClientSession | None = None
        self._webhook_last_error: tuple[int, str] | None = None
        self._poll_generation = 0
        self._inflight = 0
        self._last_activity = 0.0
        self._change = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._media_group_ids = itertools.count(13_000_000_000_000_001)
        self._handlers: dict[str, Callable[[dict[str, Any], dict[str, UploadedFile]], Any]] = {
            name[len("_api_") :]: getattr(self, name) for name in dir(self) if name.startswith("_api_")
        }
        unknown = set(self._handlers) - set(self._spec.methods)
        assert not unknown, f"handlers for undocumented methods: {unknown}"

    # ------------------------------------------------------------------------------ lifecycle

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

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------------------ clocks

    def _now(self) -> int:
        return int(time.time() + self._time_offset)

    def _mono(self) -> float:
        return time.monotonic() + self._time_offset

    def advance_time(self, seconds: float) -> None:
        """Moves the fake's clock forward (message dates, callback query expiry, rate limits)."""
        self._time_offset += seconds

    def _notify(self) -> None:
        event = self._change
        self._change = asyncio.Event()
        event.set()

    async def _wait_change(self, seconds: float) -> None:
        """Sleeps until the next state change or for ``seconds``, whichever comes first."""
        event = self._change
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)

    # ------------------------------------------------------------------------------ world set-up

    def add_user(
        self,
        user_id: int,
        first_name: str = "User",
        *,
        language_code: str | None = "zh-hans",
        username: str | None = None,
        last_name: str | None = None,
    ) -> dict[str, Any]:
        """Creates a person and their private chat with the bot (chat id == user id).

        The bot may send there only once the person has sent it something (as on Telegram).
        """
        if user_id <= 0:
            raise ValueError("user ids are positive")
        if user_id == self.bot_user["id"] or user_id in self._users:
            raise ValueError(f"user {user_id} already exists")
        data = _strip_none(
            {
                "id": user_id,
                "is_bot": False,
                "first_name": first_name,
                "last_name": last_name,
                "username": username,
                "language_code": language_code,
            }
        )
        self._users[user_id] = _User(data)
        self._chats[user_id] = _Chat(id=user_id, type="private", user_id=user_id)
        return copy.deepcopy(data)

    def add_group(
        self,
        chat_id: int,
        title: str,
        *,
        admins: Iterable[int] = (),
        members: Iterable[int] = (),
        creator: int | None = None,
        username: str | None = None,
    ) -> dict[str, Any]:
        """Creates a supergroup (ids like -100...) where the bot is an administrator.

        ``creator`` defaults to the first of ``admins``; all users must have been added before.
        """
        if chat_id >= 0:
            raise ValueError("group chat ids are negative (supergroups look like -100...)")
        if chat_id in self._chats:
            raise ValueError(f"chat {chat_id} already exists")
        admins = list(admins)
        chat = _Chat(
            id=chat_id, type="supergroup", title=title, username=username, bot_status="administrator"
        )
        if creator is None and admins:
            creator = admins[0]
        for uid in [*admins, *members, *([creator] if creator is not None else [])]:
            self._require_user(uid)
        for uid in members:
            chat.members[uid] = "member"
        for uid in admins:
            chat.members[uid] = "administrator"
        if creator is not None:
            chat.members[creator] = "creator"
        self._chats[chat_id] = chat
        return self._chat_obj(chat)

    def add_channel(self, chat_id: int, title: str, *, username: str | None = None) -> dict[str, Any]:
        """Creates a channel where the bot is an administrator that may post."""
        if chat_id >= 0:
            raise ValueError("channel ids are negative (like -100...)")
        if chat_id in self._chats:
            raise ValueError(f"chat {chat_id} already exists")
        chat = _Chat(id=chat_id, type="channel", title=title, username=username, bot_status="administrator")
        self._chats[chat_id] = chat
        return self._chat_obj(chat)

    def add_member(self, chat_id: int, user_id: int, status: str = "member") -> None:
        """Puts a user into a group with ``status`` (creator, administrator, member, left, kicked)."""
        chat = self._require_chat(chat_id)
        self._require_user(user_id)
        if chat.type == "private":
            raise ValueError("private chats have no members to add")
        chat.members[user_id] = status

    def block_bot(self, user_id: int) -> None:
        """The person blocks the bot: sends to them answer 403, a my_chat_member update is sent."""
        user = self._require_user(user_id)
        if user.blocked:
            return
        user.blocked = True
        self._enqueue_my_chat_member(user, "member", "kicked")

    def unblock_bot(self, user_id: int) -> None:
        """The person unblocks (restarts) the bot."""
        user = self._require_user(user_id)
        if not user.blocked:
            return
        user.blocked = False
        user.started = True
        self._enqueue_my_chat_member(user, "kicked", "member")

    def _enqueue_my_chat_member(self, user: _User, old: str, new: str) -> None:
        chat = self._chats[user.data["id"]]
        bot = self._bot_short()
        new_member: dict[str, Any] = {"status": new, "user": bot}
        if new == "kicked":
            new_member["until_date"] = 0
        old_member: dict[str, Any] = {"status": old, "user": bot}
        if old == "kicked":
            old_member["until_date"] = 0
        self._enqueue(
            "my_chat_member",
            {
                "chat": self._chat_obj(chat),
                "from": copy.deepcopy(user.data),
                "date": self._now(),
                "old_chat_member": old_member,
                "new_chat_member": new_member,
            },
        )

    def _require_user(self, user_id: int) -> _User:
        user = self._users.get(user_id)
        if user is None:
            raise AssertionError(f"no user {user_id}: call add_user({user_id}) first")
        return user

    def _require_chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            raise AssertionError(f"no chat {chat_id}: add it with add_user/add_group/add_channel first")
        return chat

    # ------------------------------------------------------------------------------ objects

    def _bot_short(self) -> dict[str, Any]:
        return {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}

    def _chat_obj(self, chat: _Chat) -> dict[str, Any]:
        if chat.type == "private":
            assert chat.user_id is not None
            user = self._users[chat.user_id].data
            return _strip_none(
                {
                    "id": chat.id,
                    "type": "private",
                    "first_name": user["first_name"],
                    "last_name": user.get("last_name"),
                    "username": user.get("username"),
                }
            )
        return _strip_none({"id": chat.id, "type": chat.type, "title": chat.title, "username": chat.username})

    def _default_for(self, expr: str) -> Any:
        if expr.startswith("Array of"):
            return []
        return {"Integer": 0, "Float": 0.0, "String": "", "Boolean": False, "True": True}.get(expr)

    def _with_required(self, type_name: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Adds documented required fields missing from ``obj`` with neutral values."""
        for f in self._spec.types.get(type_name, {}).get("fields", []):
            if f["required"] and f["name"] not in obj:
                expr = f["types"][0]
                default = self._default_for(expr)
                if default is None and expr in self._spec.types:
                    default = self._with_required(expr, {})
                obj[f["name"]] = default
        return obj

    def _member_obj(self, chat: _Chat, user_id: int) -> dict[str, Any]:
        if user_id == self.bot_user["id"]:
            status = chat.bot_status if chat.type != "private" else "member"
            user = self._bot_short()
        else:
            user = copy.deepcopy(self._users[user_id].data)
            if chat.type == "private":
                status = "member" if chat.user_id == user_id else "left"
            else:
                status = chat.members.get(user_id, "left")
        if status == "creator":
            return self._with_required(
                "ChatMemberOwner", {"status": "creator", "user": user, "is_anonymous": False}
            )
        if status == "administrator":
            rights = {
                "status": "administrator",
                "user": user,
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": True,
                "can_restrict_members": True,
                "can_promote_members": False,
                "can_change_info": True,
                "can_invite_users": True,
                "can_post_stories": True,
                "can_edit_stories": True,
                "can_delete_stories": True,
            }
            if chat.type == "channel":
                rights.update(can_post_messages=True, can_edit_messages=True)
            else:
                rights["can_pin_messages"] = True
            return self._with_required("ChatMemberAdministrator", rights)
        if status == "kicked":
            return {"status": "kicked", "user": user, "until_date": 0}
        if status == "restricted":
            return self._with_required(
                "ChatMemberRestricted",
                {"status": "restricted", "user": user, "is_member": True, "until_date": 0},
            )
        return {"status": status, "user": user}

    # ------------------------------------------------------------------------------ updates

    def _enqueue(self, kind: str, obj: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        update = _Update(update_id, kind, {"update_id": update_id, kind: copy.deepcopy(obj)})
        self._pending.append(update)
        self._all_updates[update_id] = update
        self._notify()
        return update_id

    def deliver_again(self, update_id: int) -> None:
        """Delivers an already delivered update once more, with the same ``update_id``.

        Models Telegram's at-least-once delivery (e.g. after a crash before the offset was confirmed);
        the copy is returned by the next getUpdates even though its id is below the confirmed offset.
        """
        update = self._all_updates.get(update_id)
        if update is None:
            raise AssertionError(f"no update {update_id} was ever enqueued")
        if any(u.update_id == update_id for u in self._pending):
            raise AssertionError(
                f"update {update_id} has not been confirmed yet; it will be delivered anyway"
            )
        again = _Update(update_id, update.kind, copy.deepcopy(update.data), redelivery=True)
        position = sum(1 for u in self._pending if u.redelivery)
        self._pending.insert(position, again)
        self._notify()

    def _allowed(self, kind: str) -> bool:
        allowed = self._allowed_updates
        if not allowed:
            return kind in _DEFAULT_ALLOWED
        return kind in allowed

    def _confirm(self, offset: int | None) -> None:
        if not offset:
            return
        before = len(self._pending)
        if offset < 0:
            keep = -offset
            normal = [u for u in self._pending if not u.redelivery]
            self._pending = normal[-keep:] if keep else []
        else:
            self._pending = [
                u for u in self._pending if u.update_id >= offset or (u.redelivery and not u.delivered)
            ]
        if len(self._pending) != before:
            self._notify()

    def _take_updates(self, limit: int) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        for update in list(self._pending):
            if len(batch) >= limit:
                break
            if not self._allowed(update.kind):
                self._pending.remove(update)
                self._notify()
                continue
            update.delivered = True
            batch.append(copy.deepcopy(update.data))
        return batch

    # ------------------------------------------------------------------------------ people acting

    def _actor_chat(self, user_id: int, chat_id: int | None) -> tuple[_User, _Chat]:
        user = self._require_user(user_id)
        if chat_id is None or chat_id == user_id:
            return user, self._chats[user_id]
        chat = self._require_chat(chat_id)
        if chat.type == "private":
            raise AssertionError(f"user {user_id} cannot write in the private chat of user {chat_id}")
        if chat.type == "channel":
            raise AssertionError("people's channel posts are not modelled; the bot posts in channels")
        if chat.members.get(user_id, "left") in ("left", "kicked"):
            raise AssertionError(
                f"user {user_id} is not a member of chat {chat_id}; use add_group(members=...) or add_member"
            )
        return user, chat

    def _person_message(
        self,
        user_id: int,
        chat_id: int | None,
        content: dict[str, Any],
        *,
        reply_to_message_id: int | None = None,
        kind: str = "message",
    ) -> dict[str, Any]:
        user, chat = self._actor_chat(user_id, chat_id)
        if chat.type == "private":
            if user.blocked:
                self.unblock_bot(user_id)  # writing to a blocked bot means pressing "Restart"
            user.started = True
        message: dict[str, Any] = {
            "message_id": chat.next_message_id,
            "from": copy.deepcopy(user.data),
            "chat": self._chat_obj(chat),
            "date": self._now(),
        }
        if reply_to_message_id is not None:
            target = chat.messages.get(reply_to_message_id)
            if target is None or target.deleted:
                raise AssertionError(f"no message {reply_to_message_id} in chat {chat.id} to reply to")
            message["reply_to_message"] = self._nested(target.data)
        message.update(copy.deepcopy(content))
        chat.next_message_id += 1
        chat.messages[message["message_id"]] = _Msg(message, by_bot=False)
        self._enqueue(kind, message)
        return copy.deepcopy(message)

    @staticmethod
    def _nested(message: dict[str, Any]) -> dict[str, Any]:
        nested = copy.deepcopy(message)
        nested.pop("reply_to_message", None)
        return nested

    def send_text(
        self, user_id: int, text: str, *, chat_id: int | None = None, reply_to_message_id: int | None = None
    ) -> dict[str, Any]:
        """The person sends text; a leading /command gets a ``bot_command`` entity like on Telegram."""
        if not text or not text.strip():
            raise AssertionError("Telegram clients do not send empty messages")
        if len(text) > TEXT_LIMIT:
            raise AssertionError("Telegram clients split texts longer than 4096 characters")
        content: dict[str, Any] = {"text": text}
        match = _COMMAND_RE.match(text)
        if match:
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(match.group(0))}]
        return self._person_message(user_id, chat_id, content, reply_to_message_id=reply_to_message_id)

    def send_photo(
        self,
        user_id: int,
        image: bytes,
        *,
        caption: str | None = None,
        chat_id: int | None = None,
        media_group_id: str | None = None,
    ) -> dict[str, Any]:
        """The person sends a photo: ``image`` is the largest size, smaller JPEG sizes come from Pillow."""
        try:
            sizes = self._store_photo(image)
        except ApiError as exc:
            raise AssertionError(
                f"a Telegram client would not send this as a photo: {exc.description}"
            ) from None
        content: dict[str, Any] = {"photo": sizes}
        if caption:
            content["caption"] = caption
        if media_group_id is not None:
            content["media_group_id"] = media_group_id
        return self._person_message(user_id, chat_id, content)

    def send_document(
        self,
        user_id: int,
        data: bytes,
        *,
        file_name: str,
        mime_type: str | None,
        chat_id: int | None = None,
        caption: str | None = None,
        file_size: int | None = None,
    ) -> dict[str, Any]:
        """The person sends a file. ``file_size`` may claim a larger size (to test the 20 MB limit)."""
        record = self._store_file("document", data, file_name=file_name, mime_type=mime_type, size=file_size)
        record.media = _strip_none(
            {
                "file_id": record.file_id,
                "file_unique_id": record.file_unique_id,
                "file_name": file_name,
                "mime_type": mime_type,
                "file_size": record.size,
            }
        )
        content: dict[str, Any] = {"document": copy.deepcopy(record.media)}
        if caption:
            content["caption"] = caption
        return self._person_message(user_id, chat_id, content)

    def send_location(
        self,
        user_id: int,
        latitude: float,
        longitude: float,
        *,
        horizontal_accuracy: float | None = None,
        live_period: int | None = None,
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        """The person shares a location (or starts sharing a live location with ``live_period``)."""
        location = _strip_none(
            {
                "latitude": float(latitude),
                "longitude": float(longitude),
                "horizontal_accuracy": horizontal_accuracy,
                "live_period": live_period,
            }
        )
        return self._person_message(user_id, chat_id, {"location": location})

    def edit_live_location(
        self, user_id: int, message: dict[str, Any], latitude: float, longitude: float
    ) -> dict[str, Any]:
        """The person's live location moves: the stored message changes, an edited_message update is sent."""
        chat = self._require_chat(message["chat"]["id"])
        record = chat.messages.get(message["message_id"])
        if record is None or record.by_bot or record.data.get("from", {}).get("id") != user_id:
            raise AssertionError("edit_live_location needs a location message this user sent")
        location = record.data.get("location")
        if not location or not location.get("live_period"):
            raise AssertionError("that message is not a live location")
        location.update(latitude=float(latitude), longitude=float(longitude))
        record.data["edit_date"] = self._now()
        self._enqueue("edited_message", record.data)
        return copy.deepcopy(record.data)

    def send_venue(
        self,
        user_id: int,
        latitude: float,
        longitude: float,
        title: str,
        address: str,
        *,
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        location = {"latitude": float(latitude), "longitude": float(longitude)}
        venue = {"location": dict(location), "title": title, "address": address}
        return self._person_message(user_id, chat_id, {"location": location, "venue": venue})

    def send_contact(
        self,
        user_id: int,
        phone_number: str,
        first_name: str,
        *,
        contact_user_id: int | None = None,
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        contact = _strip_none(
            {"phone_number": phone_number, "first_name": first_name, "user_id": contact_user_id}
        )
        return self._person_message(user_id, chat_id, {"contact": contact})

    def send_sticker(self, user_id: int, *, chat_id: int | None = None) -> dict[str, Any]:
        record = self._store_file(
            "sticker", b"RIFF\x00\x00\x00\x00WEBPVP8 fake-sticker", mime_type="image/webp"
        )
        record.media = {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "🐆",
            "file_size": record.size,
        }
        return self._person_message(user_id, chat_id, {"sticker": copy.deepcopy(record.media)})

    def send_voice(
        self,
        user_id: int,
        data: bytes | None = None,
        *,
        duration: int | None = None,
        chat_id: int | None = None,
        file_size: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        """The person sends a voice note (Ogg Opus ``data``; by default a few bytes that only look
        like one). The duration is read from real data, as the client does, unless given."""
        data = data if data is not None else b"OggS" + bytes(60)
        probed = _probe_media(data)
        record = self._store_file("voice", data, mime_type="audio/ogg", size=file_size)
        record.media = {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "duration": duration if duration is not None else (probed or {}).get("duration", 3),
            "mime_type": "audio/ogg",
            "file_size": record.size,
        }
        return self._person_message(user_id, chat_id, {"voice": copy.deepcopy(record.media)},
                                    reply_to_message_id=reply_to_message_id)

    def send_audio(
        self, user_id: int, data: bytes, *, file_name: str, mime_type: str, chat_id: int | None = None
    ) -> dict[str, Any]:
        """The person sends a music/recorder file (an Audio, with its length read from the file)."""
        probed = _probe_media(data) or {}
        record = self._store_file("audio", data, file_name=file_name, mime_type=mime_type)
        record.media = _strip_none({
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "duration": probed.get("duration", 0),
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": record.size,
        })
        return self._person_message(user_id, chat_id, {"audio": copy.deepcopy(record.media)})

    def send_video(
        self,
        user_id: int,
        data: bytes | None = None,
        *,
        kind: str = "video",
        file_name: str | None = None,
        mime_type: str = "video/mp4",
        duration: int | None = None,
        file_size: int | None = None,
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        """The person sends a clip as a ``video``, a round ``video_note`` or an ``animation`` (a GIF,
        which Telegram turns into a silent MP4). Width, height and duration are read from real
        ``data`` like a client does; ``file_size`` may claim more (to test the 20 MB limit)."""
        if kind not in ("video", "video_note", "animation"):
            raise AssertionError(f"not a kind of clip: {kind}")
        data = data if data is not None else b"\x00\x00\x00\x18ftypmp42" + bytes(64)
        probed = _probe_media(data) or {"width": 640, "height": 360, "duration": 5}
        record = self._store_file(kind, data, file_name=file_name, mime_type=mime_type, size=file_size)
        media: dict[str, Any] = {"file_id": record.file_id, "file_unique_id": record.file_unique_id}
        if kind == "video_note":
            if probed.get("width") != probed.get("height"):
                raise AssertionError("a Telegram client records video notes square")
            media["length"] = probed.get("width", 240)
        else:
            media.update(width=probed.get("width", 0), height=probed.get("height", 0), mime_type=mime_type)
            if file_name:
                media["file_name"] = file_name
        media["duration"] = duration if duration is not None else probed.get("duration", 0)
        media["file_size"] = record.size
        record.media = media
        content: dict[str, Any] = {kind: copy.deepcopy(media)}
        if kind == "animation":  # an animation message also carries it as a document, as Telegram does
            content["document"] = {k: v for k, v in media.items() if k not in ("width", "height", "duration")}
        if caption and kind != "video_note":
            content["caption"] = caption
        return self._person_message(user_id, chat_id, content)

    def _bot_message_in(self, chat: _Chat, message_id: int) -> _Msg:
        record = chat.messages.get(message_id)
        if record is None or record.deleted:
            raise AssertionError(f"message {message_id} does not exist (any more) in chat {chat.id}")
        if not record.by_bot:
            raise AssertionError(f"message {message_id} in chat {chat.id} was not sent by the bot")
        return record

    def press_button(
        self, user_id: int, message: dict[str, Any] | int, callback_data: str, *, chat_id: int | None = None
    ) -> dict[str, Any]:
        """The person presses an inline button with exactly ``callback_data`` on a bot message.

        Refuses (AssertionError) unless the message exists in the chat, was sent by the bot and its
        current inline keyboard has that button: a real client only presses buttons that are there.
        """
        if isinstance(message, dict):
            message_id = int(message["message_id"])
            if chat_id is None:
                chat_id = int(message["chat"]["id"])
        else:
            message_id = int(message)
        user, chat = self._actor_chat(user_id, chat_id)
        record = self._bot_message_in(chat, message_id)
        markup = record.data.get("reply_markup") or {}
        datas = [b.get("callback_data") for row in markup.get("inline_keyboard", []) for b in row]
        if callback_data not in datas:
            shown = [d for d in datas if d is not None]
            raise AssertionError(
                f"message {message_id} in chat {chat.id} has no button with callback_data {callback_data!r}; "
                f"its current buttons: {shown}"
            )
        return self._callback_query(user, chat, record, callback_data)

    def press_forged_button(
        self, user_id: int, message_id: int, callback_data: str, *, chat_id: int | None = None
    ) -> dict[str, Any]:
        """A modified client sends a callback query with arbitrary data for any message id."""
        user, chat = self._actor_chat(user_id, chat_id)
        record = chat.messages.get(message_id)
        return self._callback_query(user, chat, record, callback_data, message_id=message_id)

    def _callback_query(
        self, user: _User, chat: _Chat, record: _Msg | None, data: str, *, message_id: int | None = None
    ) -> dict[str, Any]:
        query_id = f"{next(self._query_counter)}{abs(hash((user.data['id'], chat.id))) % 10**9:09d}"
        self._queries[query_id] = _Query(query_id, self._mono())
        query: dict[str, Any] = {
            "id": query_id,
            "from": copy.deepcopy(user.data),
            "chat_instance": str(int(hashlib.sha1(str(chat.id).encode()).hexdigest()[:15], 16)),
            "data": data,
        }
        if record is not None and not record.deleted:
            query["message"] = copy.deepcopy(record.data)
        else:
            query["message"] = {"chat": self._chat_obj(chat), "message_id": message_id or 0, "date": 0}
        self._enqueue("callback_query", query)
        return copy.deepcopy(query)

    def reply_keyboard(self, chat_id: int) -> dict[str, Any] | None:
        """The reply keyboard currently shown in the chat (None if none or removed)."""
        keyboard = self._require_chat(chat_id).reply_keyboard
        return copy.deepcopy(keyboard)

    def reply_key(self, chat_id: int, label: str) -> str | None:
        """The text of the button on the chat's current reply keyboard that is `label`, else the first
        that contains it, else None (for drivers that tap by label, as a person reads the button)."""
        keyboard = self._require_chat(chat_id).reply_keyboard or {}
        texts = [b["text"] if isinstance(b, dict) else b for row in keyboard.get("keyboard", []) for b in row]
        return next((t for t in texts if t == label), None) or next((t for t in texts if label in t), None)

    def press_reply_button(self, user_id: int, text: str, *, chat_id: int | None = None) -> dict[str, Any]:
        """The person taps a plain button of the bot's current reply keyboard in the chat."""
        _user, chat = self._actor_chat(user_id, chat_id)
        keyboard = chat.reply_keyboard
        if keyboard is None:
            raise AssertionError(f"the bot shows no reply keyboard in chat {chat.id}")
        buttons = [b if isinstance(b, dict) else {"text": b} for row in keyboard["keyboard"] for b in row]
        for button in buttons:
            if button["text"] != text:
                continue
            if button.get("request_location"):
                raise AssertionError(f"{text!r} requests a location: use send_location to answer it")
            if button.get("request_contact"):
                raise AssertionError(f"{text!r} requests the phone number: use send_contact to answer it")
            special = [k for k in button if k != "text"]
            if special:
                raise AssertionError(f"{text!r} is a {special[0]} button, which the fake cannot press")
            return self.send_text(user_id, text, chat_id=chat_id)
        raise AssertionError(
            f"the reply keyboard in chat {chat.id} has no button {text!r}; "
            f"it has {[b['text'] for b in buttons]}"
        )

    # ------------------------------------------------------------------------------ inspection

    def last_update_id(self) -> int:
        """The id of the newest update the fake has enqueued (for :meth:`deliver_again`)."""
        if not self._all_updates:
            raise AssertionError("no update has been enqueued yet")
        return max(self._all_updates)

    @property
    def pending_update_ids(self) -> list[int]:
        """Updates not yet confirmed by the bot (getUpdates offset) or accepted by its webhook."""
        return [u.update_id for u in self._pending]

    def calls_to(self, method: str) -> list[Call]:
        """Calls of one method (any spelling of its name)."""
        name = self._spec.canonical(method) or method
        return [c for c in self.calls if c.method == name]

    def messages_in(self, chat_id: int) -> list[dict[str, Any]]:
        """The bot's messages in the chat that still exist, oldest first, as they are now."""
        chat = self._chats.get(chat_id)
        if chat is None:
            return []
        return [copy.deepcopy(m.data) for _, m in sorted(chat.messages.items()) if m.by_bot and not m.deleted]

    def chat_history(self, chat_id: int) -> list[dict[str, Any]]:
        """Every existing message of the chat (people's and the bot's), oldest first."""
        chat = self._require_chat(chat_id)
        return [copy.deepcopy(m.data) for _, m in sorted(chat.messages.items()) if not m.deleted]

    def last_message(self, chat_id: int) -> dict[str, Any]:
        messages = self.messages_in(chat_id)
        if not messages:
            raise AssertionError(f"the bot has no messages in chat {chat_id}")
        return messages[-1]

    def callback_answers(self) -> list[dict[str, Any]]:
        """Parameters of every successful answerCallbackQuery call."""
        return [copy.deepcopy(c.params) for c in self.calls_to("answerCallbackQuery") if c.ok]

    def download(self, file_id: str) -> bytes:
        record = self._files.get(file_id)
        if record is None:
            raise AssertionError(f"unknown file_id {file_id!r}")
        return record.data

    def live_message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """One message as the fake holds it now, *not* copied (read it, never change it), or None when
        the chat or the message does not exist or was deleted. For load generators (``bench/``) that
        look often and cannot afford :meth:`messages_in`'s deep copy of the whole chat."""
        chat = self._chats.get(chat_id)
        record = chat.messages.get(message_id) if chat is not None else None
        if record is None or record.deleted:
            return None
        return record.data

    def recent_sends(self, seconds: float = 1.0) -> int:
        """Messages the overall flood limit (``RateLimits.global_per_second``) counted in the last
        ``seconds`` on the fake's clock; e.g. to tell whether a 429 came from that limit or a chat's."""
        return self._limiter.recent_global(seconds)

    def commands(
        self, *, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        """Commands set with setMyCommands for exactly that scope and language."""
        key = (self._scope_key(scope or {"type": "default"}), language_code)
        return copy.deepcopy(self._commands.get(key, []))

    def assert_clean(self) -> None:
        """Raises if the bot used unimplemented features or the fake hit a bug of its own."""
        problems = list(self.problems)
        problems += [f"unimplemented: {c.method}: {c.description}" for c in self.unimplemented]
        if problems:
            raise AssertionError("fake Telegram problems:\n" + "\n".join(problems))

    def _describe_chat(self, chat_id: int) -> str:
        chat = self._chats.get(chat_id)
        if chat is None:
            return f"chat {chat_id} does not exist"
        lines = []
        for mid, m in sorted(chat.messages.items()):
            who = "bot" if m.by_bot else f"user {m.data.get('from', {}).get('id')}"
            body = (
                m.data.get("text")
                or m.data.get("caption")
                or ",".join(k for k in _CONTENT_KEYS if k in m.data)
            )
            state = " (deleted)" if m.deleted else ""
            lines.append(f"  #{mid} {who}{state}: {body[:200]!r}")
        failures = [
            f"  {c.method} -> {c.error_code} {c.description}"
            for c in self.calls
            if not c.ok and c.method != "getUpdates"
        ][-5:]
        text = "\n".join(lines) or "  (no messages)"
        if failures:
            text += "\nrecent failed calls:\n" + "\n".join(failures)
        return text

    async def wait_for_message(
        self,
        chat_id: int,
        *,
        contains: str | None = None,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109 - the public interface
        after: int = 0,
    ) -> dict[str, Any]:
        """Waits for ``count`` bot messages newer than ``after`` (and one containing ``contains``).

        Returns the newest matching message; raises AssertionError listing the chat on timeout.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            newer = [m for m in self.messages_in(chat_id) if m["message_id"] > after]
            if len(newer) >= count:
                if contains is None:
                    return newer[-1]
                matching = [m for m in newer if contains in (m.get("text") or m.get("caption") or "")]
                if matching:
                    return matching[-1]
            remaining = deadline - loop.time()
            if remaining <= 0:
                want = f"{count} bot message(s) after #{after}" + (
                    f" containing {contains!r}" if contains else ""
                )
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {want} in chat {chat_id}:\n"
                    + self._describe_chat(chat_id)
                )
            await self._wait_change(remaining)

    async def wait_for_call(
        self,
        method: str,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - the public interface
        predicate: Callable[[Call], bool] | None = None,
    ) -> Call:
        """Waits until a call of ``method`` (matching ``predicate``) has been answered; returns the newest."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = [c for c in self.calls_to(method) if predicate is None or predicate(c)]
            if found:
                return found[-1]
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = sorted({c.method for c in self.calls})
                raise AssertionError(
                    f"timed out after {timeout}s waiting for a {method} call; methods called: {seen}"
                )
            await self._wait_change(remaining)

    def _idle(self, now: float) -> bool:
        return not self._pending and self._inflight == 0 and now - self._last_activity >= IDLE_QUIET

    async def wait_until_idle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Waits until every update was fetched and confirmed and no request arrived for ~0.2 s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._idle(loop.time()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"not idle after {timeout}s: {len(self._pending)} update(s) not confirmed "
                    f"({[u.update_id for u in self._pending]}), {self._inflight} request(s) in progress"
                )
            await self._wait_change(min(remaining, IDLE_QUIET / 2))

    # ------------------------------------------------------------------------------ long runs

    def forget_messages(self, chat_id: int, keep: int) -> None:
        """Drops all but the newest ``keep`` messages of a chat (deleted ones included), so that a long
        run does not grow without bound; a dropped message no longer exists for the bot either."""
        chat = self._chats.get(chat_id)
        if chat is not None and len(chat.messages) > keep:
            for mid in sorted(chat.messages)[: len(chat.messages) - keep]:
                del chat.messages[mid]

    def forget_files(self, file_ids: Iterable[str]) -> None:
        """Forgets stored files (their bytes and download paths); unknown ids are ignored. A forgotten
        file_id is unknown to the bot afterwards, as a file Telegram no longer has."""
        for file_id in file_ids:
            record = self._files.pop(file_id, None)
            if record is not None and record.file_path:
                self._files_by_path.pop(record.file_path, None)

    # ------------------------------------------------------------------------------ faults

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

    # ------------------------------------------------------------------------------ HTTP

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
        call.duration = time.monotonic() - started
        self.calls.append(call)
        if self.keep_calls is not None and len(self.calls) > self.keep_calls:
            del self.calls[: len(self.calls) - self.keep_calls]
        if counted:
            self._inflight -= 1
        self._last_activity = asyncio.get_running_loop().time()
        log.debug("%s %s -> %s", call.method, call.params, call.result if call.ok else call.description)
        self._notify()

    # ------------------------------------------------------------------------------ helpers for methods

    def _resolve_chat(self, chat_id: Any) -> _Chat:
        if isinstance(chat_id, int):
            chat = self._chats.get(chat_id)
        elif isinstance(chat_id, str) and chat_id.startswith("@") and len(chat_id) > 1:
            name = chat_id[1:].lower()
            chat = next(
                (
                    c
                    for c in self._chats.values()
                    if c.type != "private" and (c.username or "").lower() == name
                ),
                None,
            )
        else:
            chat = None
        if chat is None:
            raise ApiError.bad("chat not found")
        if chat.type == "private":
            assert chat.user_id is not None
            user = self._users[chat.user_id]
            if not user.started and not user.blocked:
                # the bot has never met this person
                raise ApiError.forbidden("bot can't initiate conversation with a user")
        return chat

    def _chat_for_send(self, chat_id: Any) -> _Chat:
        if chat_id == self.bot_user["id"]:
            raise ApiError.forbidden("bot can't send messages to bots")
        chat = self._resolve_chat(chat_id)
        if chat.type == "private":
            assert chat.user_id is not None
            if self._users[chat.user_id].blocked:
                raise ApiError.forbidden("bot was blocked by the user")
        elif chat.bot_status == "kicked":
            raise ApiError.forbidden(f"bot was kicked from the {chat.type} chat")
        elif chat.bot_status == "left":
            raise ApiError.forbidden(f"bot is not a member of the {chat.type} chat")
        elif chat.type == "channel" and chat.bot_status != "administrator":
            raise ApiError.bad("need administrator rights in the channel chat")
        return chat

    def _format(
        self, text: str | None, parse_mode: str | None, entities: Any, *, caption: bool
    ) -> tuple[str, list[dict[str, Any]]]:
        text = text or ""
        ents: list[dict[str, Any]] = []
        try:
            if entities is not None:
                ents = check_entities(text, entities)
            elif parse_mode:
                mode = parse_mode.lower()
                if mode == "html":
                    text, ents = parse_html(text)
                elif mode in ("markdownv2", "markdown"):
                    raise _NotImplementedError(f"parse_mode {parse_mode}")
                else:
                    raise ApiError.bad("unsupported parse_mode")
        except EntityError as exc:
            raise ApiError.bad(f"can't parse entities: {exc}") from None
        text, ents = normalize(text, ents)
        for entity in ents:
            if entity["type"] == "text_mention" and entity["user"].get("id") in self._users:
                entity["user"] = copy.deepcopy(self._users[entity["user"]["id"]].data)
        if caption:
            if len(text) > CAPTION_LIMIT:
                raise ApiError.bad("message caption is too long")
        else:
            if not text:
                raise ApiError.bad("message text is empty")
            if len(text) > TEXT_LIMIT:
                raise ApiError.bad("message is too long")
        return text, ents

    def _caption_fields(self, p: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        caption, ents = self._format(
            p.get("caption"), p.get("parse_mode"), p.get("caption_entities"), caption=True
        )
        out: dict[str, Any] = {}
        if caption:
            out["caption"] = caption
            if ents:
                out["caption_entities"] = ents
        if p.get("show_caption_above_media"):
            out["show_caption_above_media"] = True
        if p.get("has_spoiler"):
            out["has_media_spoiler"] = True
        return out

    def _check_markup(
        self, markup: Any, chat: _Chat | None, *, inline_only: bool = False
    ) -> tuple[str, dict[str, Any]] | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise ApiError.bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            return "inline", self._check_inline_keyboard(markup["inline_keyboard"])
        if inline_only:
            raise ApiError.bad("inline keyboard expected")
        if "keyboard" in markup:
            return "reply", self._check_reply_keyboard(markup, chat)
        if markup.get("remove_keyboard") is True:
            return "remove", {
                "remove_keyboard": True,
                **({"selective": True} if markup.get("selective") else {}),
            }
        if markup.get("force_reply") is True:
            return "force", dict(markup)
        raise ApiError.bad("can't parse reply keyboard markup JSON object")

    def _check_inline_keyboard(self, rows: Any) -> dict[str, Any]:
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise ApiError.bad("can't parse inline keyboard markup JSON object: expected an Array of Arrays")
        total = 0
        clean_rows: list[list[dict[str, Any]]] = []
        for row in rows:
            clean_row: list[dict[str, Any]] = []
            for button in row:
                total += 1
                if not isinstance(button, dict):
                    raise ApiError.bad(
                        "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                    )
                text = button.get("text")
                if not isinstance(text, str):
                    raise ApiError.bad(
                        'can\'t parse inline keyboard button: Field "text" must be of type String'
                    )
                if not text.strip():
                    raise ApiError.bad("text of an inline keyboard button must be non-empty")
                actions = [k for k in _INLINE_ACTIONS if k in button]
                if not actions:
                    raise ApiError.bad("text buttons are unallowed in the inline keyboard")
                if "callback_data" in button:
                    data = button["callback_data"]
                    if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_LIMIT:
                        raise ApiError.bad("BUTTON_DATA_INVALID")
                if "url" in button:
                    url = button["url"]
                    if not isinstance(url, str) or not re.match(
                        r"(https?|tg)://[^\s/$.?#][^\s]*$", url, re.I
                    ):
                        raise ApiError.bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
                for key in (
                    "web_app",
                    "login_url",
                    "callback_game",
                    "pay",
                    "switch_inline_query_chosen_chat",
                ):
                    if key in button:
                        raise _NotImplementedError(f"inline keyboard button {key}")
                clean_row.append(copy.deepcopy(button))
            if clean_row:
                clean_rows.append(clean_row)
        if total > 100:
            raise ApiError.bad("reply markup is too long")
        return {"inline_keyboard": clean_rows}

    def _check_reply_keyboard(self, markup: dict[str, Any], chat: _Chat | None) -> dict[str, Any]:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise ApiError.bad("can't parse reply keyboard markup JSON object: expected an Array of Arrays")
        private = chat is not None and chat.type == "private"
        total = 0
        for row in rows:
            for button in row:
                total += 1
                if isinstance(button, str):
                    button = {"text": button}
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise ApiError.bad('can\'t parse keyboard button: Field "text" must be of type String')
                if not button["text"].strip():
                    raise ApiError.bad("keyboard button text must be non-empty")
                if button.get("request_location") and not private:
                    raise ApiError.bad("Location can be requested in private chats only")
                if button.get("request_contact") and not private:
                    raise ApiError.bad("Phone number can be requested in private chats only")
                if button.get("request_poll") is not None and not private:
                    raise ApiError.bad("Poll can be requested in private chats only")
        if total == 0:
            raise ApiError.bad("keyboard must be non-empty")
        if total > 300:
            raise ApiError.bad("reply markup is too long")
        return copy.deepcopy(markup)

    def _reply_target(self, p: dict[str, Any], chat: _Chat) -> dict[str, Any] | None:
        params = p.get("reply_parameters")
        allow = bool(p.get("allow_sending_without_reply"))
        target_chat = chat
        if params is not None:
            message_id = params.get("message_id")
            if not isinstance(message_id, int):
                raise ApiError.bad("can't parse reply parameters JSON object: message_id must be an Integer")
            allow = bool(params.get("allow_sending_without_reply", allow))
            if params.get("chat_id") is not None:
                target_chat = self._resolve_chat(params["chat_id"])
        elif p.get("reply_to_message_id"):
            message_id = p["reply_to_message_id"]
        else:
            return None
        target = target_chat.messages.get(message_id)
        if target is None or target.deleted:
            if allow:
                return None
            raise ApiError.bad("message to be replied not found")
        nested = self._nested(target.data)
        if target_chat is not chat:
            return {
                "external_reply": {"origin": self._origin(target.data), "chat": self._chat_obj(target_chat)}
            }
        return {"reply_to_message": nested}

    def _origin(self, message: dict[str, Any]) -> dict[str, Any]:
        chat = message["chat"]
        if chat["type"] == "channel":
            return {
                "type": "channel",
                "date": message["date"],
                "chat": chat,
                "message_id": message["message_id"],
            }
        return {"type": "user", "date": message["date"], "sender_user": copy.deepcopy(message["from"])}

    def _check_thread(self, p: dict[str, Any]) -> None:
        if p.get("message_thread_id"):
            raise ApiError.bad("message thread not found")
        if p.get("business_connection_id"):
            raise _NotImplementedError("business connections")

    def _flood(self, chat: _Chat, cost: int = 1) -> None:
        retry = self._limiter.check(chat.id, chat.type == "private", cost)
        if retry is not None:
            raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})

    def _store_bot_message(
        self,
        chat: _Chat,
        content: dict[str, Any],
        p: dict[str, Any],
        markup: tuple[str, dict[str, Any]] | None,
        reply: dict[str, Any] | None,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"message_id": chat.next_message_id}
        if chat.type == "channel":
            message["sender_chat"] = self._chat_obj(chat)
        else:
            message["from"] = self._bot_short()
        message["chat"] = self._chat_obj(chat)
        message["date"] = self._now()
        if reply:
            message.update(copy.deepcopy(reply))
        message.update(copy.deepcopy(content))
        if p.get("protect_content"):
            message["has_protected_content"] = True
        editable = True
        if markup is not None:
            kind, value = markup
            if kind == "inline":
                message["reply_markup"] = value
            else:
                editable = False  # messages with a reply keyboard/removal/force reply can't be edited
                if kind == "reply":
                    chat.reply_keyboard = copy.deepcopy(value)
                elif kind == "remove":
                    chat.reply_keyboard = None
        chat.next_message_id += 1
        chat.messages[message["message_id"]] = _Msg(message, by_bot=True, editable=editable)
        self._notify()
        return copy.deepcopy(message)

    # ------------------------------------------------------------------------------ files

    def _new_file_ids(self, kind: str) -> tuple[str, str]:
        n = next(self._file_counter)
        digest = hashlib.sha256(f"{self.token}:{kind}:{n}".encode()).hexdigest()
        prefix = {"photo": "AgACAgIAAxkBAA", "document": "BQACAgIAAxkBAA", "sticker": "CAACAgIAAxkBAA"}.get(
            kind, "BAACAgIAAxkBAA"
        )
        return f"{prefix}{n:06d}{digest[:40]}", f"AQAD{n:05d}{digest[40:48]}"

    def _store_file(
        self,
        kind: str,
        data: bytes,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        size: int | None = None,
    ) -> _File:
        file_id, unique_id = self._new_file_ids(kind)
        record = _File(
            file_id=file_id,
            file_unique_id=unique_id,
            kind=kind,
            data=data,
            size=size if size is not None else len(data),
            file_name=file_name,
            mime_type=mime_type,
        )
        self._files[file_id] = record
        return record

    def _store_photo(self, data: bytes) -> list[dict[str, Any]]:
        """Stores a photo like Telegram: smaller JPEG sizes plus the original as the largest size."""
        if not data:
            raise ApiError.bad("file must be non-empty")
        if len(data) > PHOTO_UPLOAD_LIMIT:
            raise ApiError.bad(
                f"file of size {len(data)} bytes is too big for a photo; "
                f"the maximum size is {PHOTO_UPLOAD_LIMIT} bytes"
            )
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                width, height = image.size
                mime = Image.MIME.get(image.format or "", "image/jpeg")
                rgb = image.convert("RGB")
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
            raise ApiError.bad("IMAGE_PROCESS_FAILED") from None
        if width + height > 10000 or max(width, height) > 20 * min(width, height):
            raise ApiError.bad("PHOTO_INVALID_DIMENSIONS")
        sizes: list[dict[str, Any]] = []
        records: list[_File] = []
        for side in PHOTO_SIDES:
            if side >= max(width, height):
                break
            small = rgb.copy()
            small.thumbnail((side, side))
            buffer = io.BytesIO()
            small.save(buffer, format="JPEG", quality=85)
            record = self._store_file("photo", buffer.getvalue(), mime_type="image/jpeg")
            records.append(record)
            sizes.append(
                {
                    "file_id": record.file_id,
                    "file_unique_id": record.file_unique_id,
                    "file_size": record.size,
                    "width": small.width,
                    "height": small.height,
                }
            )
        record = self._store_file("photo", data, mime_type=mime)
        records.append(record)
        sizes.append(
            {
                "file_id": record.file_id,
                "file_unique_id": record.file_unique_id,
                "file_size": record.size,
                "width": width,
                "height": height,
            }
        )
        for r in records:
            r.media = sizes
        return copy.deepcopy(sizes)

    def _input_file(
        self, value: Any, uploads: dict[str, UploadedFile], *, in_media: bool = False
    ) -> UploadedFile | _File:
        """Resolves an InputFile-or-String parameter to an upload or a stored file."""
        if isinstance(value, UploadedFile):
            return value
        if not isinstance(value, str) or not value:
            raise ApiError.bad("wrong file identifier/HTTP URL specified")
        if value.startswith("attach://"):
            part = uploads.get(value[len("attach://") :])
            if part is None:
                if in_media:
                    raise ApiError.bad("can't parse InputMedia: media not found")
                raise ApiError.bad("wrong file identifier/HTTP URL specified")
            return part
        if re.match(r"https?://", value, re.I) or ("." in value and "/" in value):
            raise ApiError.bad("failed to get HTTP URL content")
        record = self._files.get(value)
        if record is None:
            raise ApiError.bad("wrong file identifier/HTTP URL specified")
        return record

    def _media_object(self, kind: str, source: UploadedFile | _File, p: dict[str, Any]) -> Any:
        """The object a message shows for ``kind`` (for photos: the list of PhotoSize)."""
        if isinstance(source, _File):
            if (source.kind == "photo") != (kind == "photo") or (kind == "sticker") != (
                source.kind == "sticker"
            ):
                raise ApiError.bad(f"can't use file of type {source.kind.title()} as {kind.title()}")
            return copy.deepcopy(source.media)
        if not source.data:
            raise ApiError.bad("file must be non-empty")
        if len(source.data) > UPLOAD_LIMIT:  # a bot may upload at most 50 MB
            raise ApiError(413, "Request Entity Too Large")
        if kind == "photo":
            return self._store_photo(source.data)
        file_name = source.filename or None
        mime = source.content_type if source.content_type not in (None, "application/octet-stream") else None
        if mime is None and file_name:
            mime = mimetypes.guess_type(file_name)[0]
        record = self._store_file(kind, source.data, file_name=file_name, mime_type=mime)
        base: dict[str, Any] = {"file_id": record.file_id, "file_unique_id": record.file_unique_id}
        if kind in ("document", "animation", "audio", "video"):
            base["file_name"] = file_name
            base["mime_type"] = mime or "application/octet-stream"
        # Telegram reads a clip's size and length from the file; given parameters take precedence.
        timed = ("video", "animation", "audio", "voice", "video_note")
        probed = (_probe_media(source.data) if kind in timed else None) or {}
        if kind in ("video", "animation"):
            base.update(width=int(p.get("width") or probed.get("width") or 0),
                        height=int(p.get("height") or probed.get("height") or 0))
        if kind in ("video", "animation", "audio", "voice", "video_note"):
            base["duration"] = int(p.get("duration") or probed.get("duration") or 0)
        if kind == "video_note":
            base["length"] = int(p.get("length") or probed.get("width") or 0)
        if kind == "voice":
            base["mime_type"] = mime if mime and mime.startswith("audio/") else "audio/ogg"
        if kind == "audio":
            base.update(performer=p.get("performer"), title=p.get("title"))
        if kind == "sticker":
            base.update(type="regular", width=512, height=512, is_animated=False, is_video=False)
            if p.get("emoji"):
                base["emoji"] = p["emoji"]
        base["file_size"] = record.size
        record.media = _strip_none(base)
        return copy.deepcopy(record.media)

    # ------------------------------------------------------------------------------ API: updates

    def _api_getMe(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return copy.deepcopy(self.bot_user)

    def _api_logOut(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return True

    def _api_close(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return True

    async def _api_getUpdates(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        conflict = ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
        if self._webhook is not None:
            raise conflict
        limit = p.get("limit", 100)
        if limit <= 0 or limit > 100:
            limit = 100  # Telegram silently uses the default
        timeout = max(0, p.get("timeout", 0))
        if "allowed_updates" in p:
            self._allowed_updates = [str(k) for k in p["allowed_updates"]]
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older parked getUpdates ends with a Conflict
        self._confirm(p.get("offset"))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            batch = self._take_updates(limit)
            if batch:
                return batch
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closing:
                return []
            await self._wait_change(remaining)
            if self._poll_generation != generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            if self._webhook is not None:
                raise conflict

    def _api_setWebhook(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        url = p["url"]
        if not url:
            return self._api_deleteWebhook(p, files)
        match = re.match(r"(https?)://([^/:]+)", url)
        if match is None:
            raise ApiError.bad("bad webhook: Wrong HTTP URL specified")
        if match.group(1) == "http" and match.group(2) not in ("127.0.0.1", "localhost", "::1"):
            raise ApiError.bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get("secret_token")
        if secret is not None and not _SECRET_RE.fullmatch(secret):
            raise ApiError.bad("secret token contains unallowed characters")
        if p.get("certificate") is not None:
            raise _NotImplementedError("setWebhook certificate")
        if p.get("drop_pending_updates"):
            self._pending.clear()
        if "allowed_updates" in p:
            self._allowed_updates = [str(k) for k in p["allowed_updates"]]
        max_connections = p.get("max_connections", 40)
        if not 1 <= max_connections <= 100:
            max_connections = 40
        self._webhook = {"url": url, "secret_token": secret, "max_connections": max_connections}
        self._webhook_last_error = None
        self._notify()
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.get_running_loop().create_task(self._webhook_loop())
        return True

    def _api_deleteWebhook(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        self._webhook = None
        if p.get("drop_pending_updates"):
            self._pending.clear()
        self._notify()
        return True

    def _api_getWebhookInfo(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        info: dict[str, Any] = {
            "url": self._webhook["url"] if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self._webhook:
            info["max_connections"] = self._webhook["max_connections"]
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
            if self._webhook_last_error:
                info["last_error_date"], info["last_error_message"] = self._webhook_last_error
        return info

    async def _webhook_loop(self) -> None:
        delay = self.webhook_retry_delay
        while not self._closing:
            webhook = self._webhook
            if webhook is None:
                return
            update = next((u for u in self._pending), None)
            if update is None:
                await self._wait_change(1.0)
                continue
            if not self._allowed(update.kind):
                self._pending.remove(update)
                self._notify()
                continue
            if self._webhook_session is None:
                self._webhook_session = ClientSession(timeout=ClientTimeout(total=10))
            headers = {"Content-Type": "application/json"}
            if webhook.get("secret_token"):
                headers["X-Telegram-Bot-Api-Secret-Token"] = webhook["secret_token"]
            update.delivered = True
            try:
                async with self._webhook_session.post(
                    webhook["url"], data=json.dumps(update.data, ensure_ascii=False).encode(), headers=headers
                ) as response:
                    await response.read()
                    ok = 200 <= response.status < 300
                    error = f"Wrong response from the webhook: {response.status} {response.reason}"
            except (ClientError, TimeoutError, OSError) as exc:
                ok = False
                error = f"Connection failed: {type(exc).__name__}"
            if ok:
                if update in self._pending:
                    self._pending.remove(update)
                delay = self.webhook_retry_delay
                self._notify()
            else:
                self._webhook_last_error = (self._now(), error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    # ------------------------------------------------------------------------------ API: sending

    def _api_sendMessage(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._chat_for_send(p["chat_id"])
        self._check_thread(p)
        text, ents = self._format(p["text"], p.get("parse_mode"), p.get("entities"), caption=False)
        markup = self._check_markup(p.get("reply_markup"), chat)
        reply = self._reply_target(p, chat)
        content: dict[str, Any] = {"text": text}
        if ents:
            content["entities"] = ents
        self._flood(chat)
        return self._store_bot_message(chat, content, p, markup, reply)

    def _send_media(self, kind: str, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._chat_for_send(p["chat_id"])
        self._check_thread(p)
        content = self._caption_fields(p) if kind not in ("sticker", "video_note") else {}
        markup = self._check_markup(p.get("reply_markup"), chat)
        reply = self._reply_target(p, chat)
        source = self._input_file(p[kind], files)
        media = self._media_object(kind, source, p)
        if p.get("thumbnail") is not None and kind not in ("photo", "sticker", "voice"):
            media["thumbnail"] = self._thumbnail(p["thumbnail"], files)
        self._flood(chat)
        content[kind] = media
        if kind == "animation":
            content["document"] = {k: v for k, v in media.items() if k not in ("width", "height", "duration")}
        return self._store_bot_message(chat, content, p, markup, reply)

    def _thumbnail(self, value: Any, files: dict[str, UploadedFile]) -> dict[str, Any]:
        """A sent thumbnail as Telegram keeps it: a new upload, JPEG, under 200 kB, at most 320 px."""
        source = self._input_file(value, files)
        if not isinstance(source, UploadedFile):
            raise ApiError.bad("thumbnail can't be reused and can be only uploaded as a new file")
        if len(source.data) >= 200 * 1024:
            raise ApiError.bad("thumbnail must be less than 200 kB")
        try:
            with Image.open(io.BytesIO(source.data)) as image:
                fmt, (width, height) = image.format, image.size
        except (UnidentifiedImageError, OSError):
            raise ApiError.bad("IMAGE_PROCESS_FAILED") from None
        if fmt != "JPEG" or width > 320 or height > 320:
            raise ApiError.bad("thumbnail must be a JPEG of at most 320x320")
        record = self._store_file("photo", source.data, mime_type="image/jpeg")
        size = {"file_id": record.file_id, "file_unique_id": record.file_unique_id,
                "file_size": record.size, "width": width, "height": height}
        record.media = [size]
        return size

    def _api_sendPhoto(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return self._send_media("photo", p, files)

    def _api_sendDocument(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return self._send_media("document", p, files)

    def _api_sendVideo(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return self._send_media("video", p, files)

    def _api_sendAudio(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return self._send_media("audio", p, files)

    def _api_sendVoice(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return self._send_media("voice", p, files)

    def _api_sendAnimation(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return self._send_media("animation", p, files)

    def _api_sendVideoNote(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return self._send_media("video_note", p, files)

    def _api_sendSticker(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return self._send_media("sticker", p, files)

    def _location(self, p: dict[str, Any]) -> dict[str, Any]:
        lat, lon = p["latitude"], p["longitude"]
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ApiError.bad("wrong location specified")
        location: dict[str, Any] = {"latitude": float(lat), "longitude": float(lon)}
        accuracy = p.get("horizontal_accuracy")
        if accuracy is not None:
            if not 0 <= accuracy <= 1500:
                raise ApiError.bad("wrong horizontal accuracy specified: must be 0-1500")
            if accuracy:
                location["horizontal_accuracy"] = float(accuracy)
        live = p.get("live_period")
        if live is not None:
            if not (60 <= live <= 86400 or live == 0x7FFFFFFF):
                raise ApiError.bad("wrong live period specified: must be 60-86400 or 2147483647")
            location["live_period"] = live
        heading = p.get("heading")
        if heading is not None:
            if not 1 <= heading <= 360:
                raise ApiError.bad("wrong heading specified: must be 1-360")
            location["heading"] = heading
        return location

    def _api_sendLocation(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._chat_for_send(p["chat_id"])
        self._check_thread(p)
        location = self._location(p)
        markup = self._check_markup(p.get("reply_markup"), chat)
        reply = self._reply_target(p, chat)
        self._flood(chat)
        return self._store_bot_message(chat, {"location": location}, p, markup, reply)

    def _api_sendVenue(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._chat_for_send(p["chat_id"])
        self._check_thread(p)
        location = self._location(p)
        if not p["title"].strip():
            raise ApiError.bad("venue title must be non-empty")
        venue = _strip_none(
            {
                "location": dict(location),
                "title": p["title"],
                "address": p["address"],
                "foursquare_id": p.get("foursquare_id"),
                "foursquare_type": p.get("foursquare_type"),
                "google_place_id": p.get("google_place_id"),
                "google_place_type": p.get("google_place_type"),
            }
        )
        markup = self._check_markup(p.get("reply_markup"), chat)
        reply = self._reply_target(p, chat)
        self._flood(chat)
        return self._store_bot_message(chat, {"location": location, "venue": venue}, p, markup, reply)

    def _api_sendContact(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._chat_for_send(p["chat_id"])
        self._check_thread(p)
        if not p["phone_number"].strip():
            raise ApiError.bad("phone number must be non-empty")
        contact = _strip_none(
            {
                "phone_number": p["phone_number"],
                "first_name": p["first_name"],
                "last_name": p.get("last_name"),
                "vcard": p.get("vcard"),
            }
        )
        markup = self._check_markup(p.get("reply_markup"), chat)
        reply = self._reply_target(p, chat)
        self._flood(chat)
        return self._store_bot_message(chat, {"contact": contact}, p, markup, reply)

    def _api_sendMediaGroup(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._chat_for_send(p["chat_id"])
        self._check_thread(p)
        media = p["media"]
        if not media:
            raise ApiError.bad("there are no messages to send")
        if len(media) > 10:
            raise ApiError.bad("too many messages to send as an album")
        if len(media) < 2:
            raise ApiError.bad(
                "fake server: sendMediaGroup needs 2-10 items as documented "
                "(the real server sends a single item as a plain message)"
            )
        kinds = []
        for item in media:
            if not isinstance(item, dict) or "type" not in item or "media" not in item:
                raise ApiError.bad("can't parse InputMedia: media not found")
            kind = item["type"]
            if kind == "animation":
                raise ApiError.bad(
                    "can't parse InputMedia: type \"animation\" can't be used in sendMediaGroup"
                )
            if kind not in ("photo", "video", "document", "audio"):
                raise ApiError.bad(f'can\'t parse InputMedia: type "{kind}" is unsupported')
            kinds.append(kind)
        if "document" in kinds and set(kinds) != {"document"}:
            raise ApiError.bad("document can't be mixed with other media types")
        if "audio" in kinds and set(kinds) != {"audio"}:
            raise ApiError.bad("audio can't be mixed with other media types")
        prepared = []
        for item in media:
            captions = self._caption_fields(item)
            source = self._input_file(item["media"], files, in_media=True)
            prepared.append((item, captions, source))
        reply = self._reply_target(p, chat)
        self._flood(chat, len(media))
        group_id = str(next(self._media_group_ids))
        messages = []
        for item, captions, source in prepared:
            content = dict(captions)
            content[item["type"]] = self._media_object(item["type"], source, item)
            if item.get("thumbnail") is not None and item["type"] != "photo":
                content[item["type"]]["thumbnail"] = self._thumbnail(item["thumbnail"], files)
            content["media_group_id"] = group_id
            messages.append(self._store_bot_message(chat, content, p, None, reply))
        return messages

    def _api_sendChatAction(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        self._chat_for_send(p["chat_id"])
        self._check_thread(p)
        if p["action"] not in _CHAT_ACTIONS:
            raise ApiError.bad("wrong parameter action in request")
        return True

    def _source_message(self, p: dict[str, Any], what: str) -> tuple[_Chat, _Msg]:
        from_chat = self._resolve_chat(p["from_chat_id"])
        record = from_chat.messages.get(p["message_id"])
        if record is None or record.deleted:
            raise ApiError.bad(f"message to {what} not found")
        return from_chat, record

    def _api_copyMessage(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._chat_for_send(p["chat_id"])
        self._check_thread(p)
        _from_chat, record = self._source_message(p, "copy")
        content = {k: copy.deepcopy(v) for k, v in record.data.items() if k in _CONTENT_KEYS}
        if "caption" in p and "text" not in content:
            content.pop("caption", None)
            content.pop("caption_entities", None)
            content.update(self._caption_fields(p))
        markup = self._check_markup(p.get("reply_markup"), chat)
        reply = self._reply_target(p, chat)
        self._flood(chat)
        message = self._store_bot_message(chat, content, p, markup, reply)
        return {"message_id": message["message_id"]}

    def _api_forwardMessage(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._chat_for_send(p["chat_id"])
        self._check_thread(p)
        _from_chat, record = self._source_message(p, "forward")
        if record.data.get("has_protected_content"):
            raise ApiError.bad("message can't be forwarded")
        content = {k: copy.deepcopy(v) for k, v in record.data.items() if k in _CONTENT_KEYS}
        content["forward_origin"] = copy.deepcopy(record.data.get("forward_origin")) or self._origin(
            record.data
        )
        self._flood(chat)
        return self._store_bot_message(chat, content, p, None, None)

    # ------------------------------------------------------------------------------ API: editing

    def _editable(self, p: dict[str, Any]) -> tuple[_Chat, _Msg]:
        if p.get("inline_message_id"):
            raise _NotImplementedError("inline messages")
        if p.get("chat_id") is None or p.get("message_id") is None:
            raise ApiError.bad("message identifier is not specified")
        chat = self._resolve_chat(p["chat_id"])
        if chat.type == "private" and chat.user_id is not None and self._users[chat.user_id].blocked:
            raise ApiError.forbidden("bot was blocked by the user")
        record = chat.messages.get(p["message_id"])
        if record is None or record.deleted:
            raise ApiError.bad("message to edit not found")
        if not record.by_bot or not record.editable or "forward_origin" in record.data:
            raise ApiError.bad("message can't be edited")
        return chat, record

    _NOT_MODIFIED = (
        "message is not modified: specified new message content and reply markup are exactly the same as a "
        "current content and reply markup of the message"
    )

    def _apply_edit(
        self, record: _Msg, changes: dict[str, Any], markup: tuple[str, dict[str, Any]] | None
    ) -> Any:
        """Applies ``changes`` (None removes a field) and the new inline keyboard (None removes it)."""
        old = record.data
        new = copy.deepcopy(old)
        for key, value in changes.items():
            if value is None:
                new.pop(key, None)
            else:
                new[key] = copy.deepcopy(value)
        if markup is None:
            new.pop("reply_markup", None)  # an edit without reply_markup removes the inline keyboard
        else:
            new["reply_markup"] = copy.deepcopy(markup[1])
        if {k: v for k, v in new.items() if k != "edit_date"} == {
            k: v for k, v in old.items() if k != "edit_date"
        }:
            raise ApiError.bad(self._NOT_MODIFIED)
        new["edit_date"] = self._now()
        record.data = new
        self._notify()
        return copy.deepcopy(new)

    def _api_editMessageText(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        _chat, record = self._editable(p)
        if "text" not in record.data:
            raise ApiError.bad("there is no text in the message to edit")
        text, ents = self._format(p["text"], p.get("parse_mode"), p.get("entities"), caption=False)
        markup = self._check_markup(p.get("reply_markup"), None, inline_only=True)
        return self._apply_edit(record, {"text": text, "entities": ents or None}, markup)

    def _api_editMessageCaption(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        _chat, record = self._editable(p)
        if not any(k in record.data for k in _MEDIA_KEYS if k not in ("sticker", "video_note")):
            raise ApiError.bad("there is no caption in the message to edit")
        caption, ents = self._format(
            p.get("caption"), p.get("parse_mode"), p.get("caption_entities"), caption=True
        )
        markup = self._check_markup(p.get("reply_markup"), None, inline_only=True)
        changes = {"caption": caption or None, "caption_entities": ents or None}
        return self._apply_edit(record, changes, markup)

    def _api_editMessageReplyMarkup(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        _chat, record = self._editable(p)
        markup = self._check_markup(p.get("reply_markup"), None, inline_only=True)
        return self._apply_edit(record, {}, markup)

    def _api_editMessageMedia(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        _chat, record = self._editable(p)
        current = [k for k in ("photo", "video", "document", "audio", "animation") if k in record.data]
        if not current:
            raise ApiError.bad("there is no media in the message to edit")
        item = p["media"]
        kind = item.get("type")
        if kind not in ("photo", "video", "document", "audio", "animation"):
            raise ApiError.bad(f'can\'t parse InputMedia: type "{kind}" is unsupported')
        in_album = "media_group_id" in record.data
        if (
            in_album
            and kind != current[0]
            and (kind in ("document", "audio") or current[0] in ("document", "audio"))
        ):
            raise ApiError.bad("can't change media type in the album")
        captions = self._caption_fields(item)
        source = self._input_file(item.get("media"), files, in_media=True)
        markup = self._check_markup(p.get("reply_markup"), None, inline_only=True)
        changes: dict[str, Any] = {k: None for k in ("photo", "video", "document", "audio", "animation")}
        changes.update({"caption": None, "caption_entities": None, "show_caption_above_media": None})
        changes["has_media_spoiler"] = None
        changes.update(captions)
        changes[kind] = self._media_object(kind, source, item)
        return self._apply_edit(record, changes, markup)

    def _api_deleteMessage(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._resolve_chat(p["chat_id"])
        record = chat.messages.get(p["message_id"])
        if record is None or record.deleted:
            raise ApiError.bad("message to delete not found")
        if (
            chat.type != "private"
            and not record.by_bot
            and chat.bot_status not in ("administrator", "creator")
        ):
            raise ApiError.bad("message can't be deleted")
        record.deleted = True
        self._notify()
        return True

    def _api_deleteMessages(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._resolve_chat(p["chat_id"])
        ids = p["message_ids"]
        if not 1 <= len(ids) <= 100:
            raise ApiError.bad(
                "too many message identifiers specified" if ids else "message identifiers are empty"
            )
        for message_id in ids:
            record = chat.messages.get(message_id)
            if record is not None and not record.deleted:
                record.deleted = True
        self._notify()
        return True

    def _api_answerCallbackQuery(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        query = self._queries.get(p["callback_query_id"])
        if query is None or query.answered or self._mono() - query.issued_at > QUERY_TTL:
            raise ApiError.bad("query is too old and response timeout expired or query ID is invalid")
        text = p.get("text")
        if text is not None and len(text) > ANSWER_TEXT_LIMIT:
            raise ApiError.bad("MESSAGE_TOO_LONG")
        if p.get("url"):
            raise ApiError.bad("URL_INVALID")
        query.answered = True
        return True

    # ------------------------------------------------------------------------------ API: chats

    def _api_getChat(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._resolve_chat(p["chat_id"])
        info = self._chat_obj(chat)
        info.update(accent_color_id=0, max_reaction_count=11)
        info["accepted_gift_types"] = {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        }
        return self._with_required("ChatFullInfo", info)

    def _api_getChatMember(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._resolve_chat(p["chat_id"])
        user_id = p["user_id"]
        if user_id != self.bot_user["id"] and user_id not in self._users:
            raise ApiError.bad("user not found")
        return self._member_obj(chat, user_id)

    def _api_getChatAdministrators(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._resolve_chat(p["chat_id"])
        if chat.type == "private":
            raise ApiError.bad("there are no administrators in the private chat")
        admins = [uid for uid, s in chat.members.items() if s == "creator"]
        admins += [uid for uid, s in chat.members.items() if s == "administrator"]
        result = [self._member_obj(chat, uid) for uid in admins]
        if chat.bot_status == "administrator":
            result.append(self._member_obj(chat, self.bot_user["id"]))
        return result

    def _api_getChatMemberCount(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._resolve_chat(p["chat_id"])
        if chat.type == "private":
            return 2
        members = sum(1 for s in chat.members.values() if s not in ("left", "kicked"))
        return members + (1 if chat.bot_status not in ("left", "kicked") else 0)

    def _api_leaveChat(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._resolve_chat(p["chat_id"])
        if chat.type == "private":
            raise ApiError.bad("chat member status can't be changed in private chats")
        chat.bot_status = "left"
        return True

    def _api_pinChatMessage(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._resolve_chat(p["chat_id"])
        record = chat.messages.get(p["message_id"])
        if record is None or record.deleted:
            raise ApiError.bad("message to pin not found")
        return True

    def _api_unpinChatMessage(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        self._resolve_chat(p["chat_id"])
        return True

    def _api_getFile(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        record = self._files.get(p["file_id"])
        if record is None:
            raise ApiError.bad("wrong file identifier/HTTP URL specified")
        if record.size > DOWNLOAD_LIMIT:
            raise ApiError.bad("file is too big")
        if record.file_path is None:
            folder, ext = _FILE_FOLDERS.get(record.kind, ("documents", "bin"))
            if record.file_name and "." in record.file_name:
                ext = record.file_name.rsplit(".", 1)[1].lower()[:10] or ext
            # A counter, not len(self._files_by_path): that shrinks when files are forgotten, and
            # a new path would then take a live file's place (another person's photo).
            record.file_path = f"{folder}/file_{next(self._file_paths)}.{ext}"
            self._files_by_path[record.file_path] = record
        return {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "file_size": record.size,
            "file_path": record.file_path,
        }

    # ------------------------------------------------------------------------------ API: bot settings

    def _scope_key(self, scope: Any) -> str:
        if not isinstance(scope, dict) or "type" not in scope:
            raise ApiError.bad("can't parse BotCommandScope JSON object")
        kind = scope["type"]
        if kind in ("default", "all_private_chats", "all_group_chats", "all_chat_administrators"):
            return kind
        if kind in ("chat", "chat_administrators", "chat_member"):
            chat = self._resolve_chat(scope.get("chat_id"))
            if kind == "chat_member":
                user_id = scope.get("user_id")
                if user_id not in self._users:
                    raise ApiError.bad("user not found")
                return f"{kind}:{chat.id}:{user_id}"
            return f"{kind}:{chat.id}"
        raise ApiError.bad("wrong parameter scope in request")

    @staticmethod
    def _language(p: dict[str, Any]) -> str:
        language = p.get("language_code") or ""
        if language and not _LANG_RE.fullmatch(language):
            raise ApiError.bad("invalid language code specified (a two-letter ISO 639-1 code)")
        return language

    def _api_setMyCommands(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        commands = p["commands"]
        if len(commands) > 100:
            raise ApiError.bad("too many commands specified")
        clean: list[dict[str, str]] = []
        for item in commands:
            if not isinstance(item, dict):
                raise ApiError.bad("can't parse BotCommand JSON object")
            command = item.get("command")
            description = item.get("description")
            if not isinstance(command, str) or not isinstance(description, str):
                raise ApiError.bad("can't parse BotCommand JSON object")
            if not _BOT_COMMAND_RE.fullmatch(command):
                raise ApiError.bad("BOT_COMMAND_INVALID")
            if not description.strip():
                raise ApiError.bad("command description must be non-empty")
            if len(description) > 256:
                raise ApiError.bad("command description is too long")
            clean.append({"command": command, "description": description})
        key = (self._scope_key(p.get("scope") or {"type": "default"}), self._language(p))
        if clean:
            self._commands[key] = clean
        else:
            self._commands.pop(key, None)
        return True

    def _api_getMyCommands(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        key = (self._scope_key(p.get("scope") or {"type": "default"}), self._language(p))
        return copy.deepcopy(self._commands.get(key, []))

    def _api_deleteMyCommands(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        key = (self._scope_key(p.get("scope") or {"type": "default"}), self._language(p))
        self._commands.pop(key, None)
        return True

    def _set_text(self, field_name: str, p: dict[str, Any], limit: int) -> Any:
        value = p.get(field_name) or ""
        if len(value) > limit:
            raise ApiError.bad(f"{field_name.replace('_', ' ')} is too long")
        self._bot_texts[(field_name, self._language(p))] = value
        return True

    def _get_text(self, field_name: str, p: dict[str, Any]) -> Any:
        return {field_name: self._bot_texts.get((field_name, self._language(p)), "")}

    def _api_setMyDescription(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return self._set_text("description", p, 512)

    def _api_getMyDescription(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return self._get_text("description", p)

    def _api_setMyShortDescription(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return self._set_text("short_description", p, 120)

    def _api_getMyShortDescription(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return self._get_text("short_description", p)

    def _api_setMyName(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return self._set_text("name", p, 64)

    def _api_getMyName(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        result = self._get_text("name", p)
        return result if result["name"] else {"name": self.bot_user["first_name"]}

    def _api_setChatMenuButton(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat_id = p.get("chat_id")
        if chat_id is not None:
            chat = self._resolve_chat(chat_id)
            if chat.type != "private":
                raise ApiError.bad("chat menu button can be set only in private chats")
            chat_id = chat.id
        button = p.get("menu_button") or {"type": "default"}
        if button.get("type") not in ("default", "commands", "web_app"):
            raise ApiError.bad("can't parse MenuButton JSON object")
        self._menu_buttons[chat_id] = button
        return True

    def _api_getChatMenuButton(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat_id = p.get("chat_id")
        button = self._menu_buttons.get(chat_id) or self._menu_buttons.get(None) or {"type": "commands"}
        return copy.deepcopy(button if button.get("type") != "default" else {"type": "commands"})
