"""The people of the fake Telegram: what they send and tap in their app."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from .editing import _Editing
from .model import ApiError
from .records import (
    _COMMAND_RE,
    TEXT_LIMIT,
    _Chat,
    _Msg,
    _probe_media,
    _Query,
    _strip_none,
    _User,
)


class _People(_Editing):
    """What people do in their Telegram app: each action enqueues an Update and returns what it made."""

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
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        """The person shares a location (or starts sharing a live location with ``live_period``),
        optionally as a reply to a message of the chat."""
        location = _strip_none(
            {
                "latitude": float(latitude),
                "longitude": float(longitude),
                "horizontal_accuracy": horizontal_accuracy,
                "live_period": live_period,
            }
        )
        return self._person_message(
            user_id, chat_id, {"location": location}, reply_to_message_id=reply_to_message_id
        )

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
