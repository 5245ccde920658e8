"""The fake Bot API's chats and members, and the bot's settings (commands, description, menu button)."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from .files import _Files
from .model import ApiError, UploadedFile
from .records import (
    _BOT_COMMAND_RE,
    _LANG_RE,
    _Chat,
    _strip_none,
    _User,
)


class _Chats(_Files):
    """Chats and members: the world's set-up, who the bot may write to, the chat methods and the
    bot's own settings (commands, description, menu button)."""

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

    @property
    def user_ids(self) -> list[int]:
        """The people added with :meth:`add_user`, in that order."""
        return list(self._users)

    def user(self, user_id: int) -> dict[str, Any]:
        """A person as the bot sees them in an update's ``from`` (a copy)."""
        return copy.deepcopy(self._require_user(user_id).data)

    def set_language(self, user_id: int, language_code: str | None) -> None:
        """The person changes their Telegram app's language: ``language_code`` of their next updates
        (None: the app sends none)."""
        data = self._require_user(user_id).data
        if language_code is None:
            data.pop("language_code", None)
        else:
            data["language_code"] = language_code

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

    def commands(
        self, *, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        """Commands set with setMyCommands for exactly that scope and language."""
        key = (self._scope_key(scope or {"type": "default"}), language_code)
        return copy.deepcopy(self._commands.get(key, []))

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

    def _scope_key(self, scope: Any) -> str:
        if not isinstance(scope, dict) or "type" not in scope:
            raise ApiError.bad("can't parse BotCommandScope JSON object")
        kind = str(scope["type"])
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
