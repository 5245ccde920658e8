"""The core of the fake Bot API server: state, clocks, Bot API objects, the update queue, hooks."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import random
import time
from collections.abc import Callable
from typing import Any

from aiohttp import ClientSession, web

from .model import Call, UploadedFile
from .ratelimit import RateLimiter, RateLimits
from .records import (
    _DEFAULT_ALLOWED,
    _TOKEN_RE,
    _Chat,
    _Fault,
    _File,
    _Query,
    _strip_none,
    _Update,
    _User,
)
from .spec import Spec, load_spec


class _Core:
    """The fake's state: its clocks, people and chats as Bot API objects, the queue of updates,
    and the public hooks (:meth:`on_bot_message`, :meth:`on_call`, :meth:`intercept`)."""

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
        self._message_hooks: list[Callable[[int, dict[str, Any]], None]] = []
        self._call_hooks: list[Callable[[Call], None]] = []

    # ------------------------------------------------------------------------------ hooks

    def on_bot_message(self, hook: Callable[[int, dict[str, Any]], None]) -> Callable[[], None]:
        """Calls ``hook(chat_id, message)`` the moment the bot's message is stored (sent, copied,
        forwarded, each message of an album), before the bot hears back. ``message`` is the copy the
        bot is answered with: read it, never change it. Returns a function that removes the hook."""
        self._message_hooks.append(hook)
        return lambda: self._message_hooks.remove(hook)

    def on_call(self, hook: Callable[[Call], None]) -> Callable[[], None]:
        """Calls ``hook(call)`` for every request once it is answered, before it joins :attr:`calls`
        (a long run may drop what it does not need, e.g. ``call.result``). Returns its remover."""
        self._call_hooks.append(hook)
        return lambda: self._call_hooks.remove(hook)

    def intercept(self, method: str, handler: Callable[..., Any]) -> Callable[[], None]:
        """Answers Bot API ``method`` with ``handler(params, files, original)`` (sync or async) until the
        returned function is called; ``original(params, files)`` is the fake's own implementation (its
        result may be a coroutine). E.g. a crash test kills the bot once a reply was delivered."""
        name = self._spec.canonical(method)
        if name is None or name not in self._handlers:
            raise ValueError(f"the fake does not implement {method!r}")
        original = self._handlers[name]

        def answer(params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
            return handler(params, files, original)

        self._handlers[name] = answer

        def restore() -> None:
            if self._handlers.get(name) is answer:
                self._handlers[name] = original

        return restore

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

    @staticmethod
    def _nested(message: dict[str, Any]) -> dict[str, Any]:
        nested = copy.deepcopy(message)
        nested.pop("reply_to_message", None)
        return nested
