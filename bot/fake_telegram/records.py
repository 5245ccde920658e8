"""The fake Bot API's limits and internal records (a person, a chat, a message, a file, an update).

Telegram's documented limits live here once; the server's parts (bot/fake_telegram/*.py) share them.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any

import av
import av.error

from .model import ApiError

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

