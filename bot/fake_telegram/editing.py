"""The fake Bot API's editing and deleting of messages."""

from __future__ import annotations

import copy
from typing import Any

from .model import ApiError, UploadedFile
from .records import (
    _MEDIA_KEYS,
    _Chat,
    _Msg,
    _NotImplementedError,
)
from .sending import _Sending


class _Editing(_Sending):
    """Editing and deleting the bot's messages."""

    _NOT_MODIFIED = (
        "message is not modified: specified new message content and reply markup are exactly the same as a "
        "current content and reply markup of the message"
    )

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
