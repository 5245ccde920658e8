"""The fake Bot API's send* methods: formatting, replies, flood limits, the bot's messages."""

from __future__ import annotations

import copy
import io
from typing import Any

from PIL import Image, UnidentifiedImageError

from .formatting import EntityError, check_entities, normalize, parse_html
from .keyboards import _Keyboards
from .model import ApiError, UploadedFile
from .records import (
    _CHAT_ACTIONS,
    _CONTENT_KEYS,
    CAPTION_LIMIT,
    TEXT_LIMIT,
    _Chat,
    _Msg,
    _NotImplementedError,
    _strip_none,
)


class _Sending(_Keyboards):
    """The send* methods: formatting, captions, replies, per-chat flood limits, storing the bot's messages."""

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

    def count_sent(self, chat_id: int, messages: int) -> None:
        """Counts ``messages`` against the chat's flood limit (and the overall one) as if the bot had
        just sent them: messages Telegram counted that the bot did not see."""
        chat = self._require_chat(chat_id)
        self._limiter.check(chat.id, chat.type == "private", messages)

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
        answer = copy.deepcopy(message)
        for hook in self._message_hooks:
            hook(chat.id, answer)
        return answer

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
