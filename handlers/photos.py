"""Getting a photo's bytes, a clip or a voice note from Telegram, within the Bot API's download limit.

Clips and voice notes are downloaded to a file (never held in memory: a local Bot API server lets a
bot fetch up to 2000 MB), then checked and stored off the event loop by `bot.media`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from telegram import Animation, Audio, Bot, Document, Message, PhotoSize, Video, VideoNote, Voice
from telegram.error import BadRequest

from bot.config import Config
from bot.i18n import N_
from bot.media import (
    TOO_BIG,
    VIDEO_TOO_BIG,
    PhotoProblemError,
    incoming_path,
    store_photo,
    store_video,
    store_voice,
)
from bot.photos import MAX_DOWNLOAD_BYTES
from bot.video import is_video_file
from handlers.common import retried

Clip = Video | VideoNote | Animation | Document
Spoken = Voice | Audio | Document

NOT_AN_IMAGE_FILE = N_("That file is not a picture. Please send a photo (JPEG, PNG, WebP or HEIC).")
IMAGE_TYPES = ("image/",)


async def save_photo(
    bot: Bot, attachment: PhotoSize | Document, media_dir: Path, *, now: datetime, keep_original: bool = True
) -> dict[str, Any]:
    """Downloads a photo or image file, checks it, stores it; returns the draft's photo entry.

    Without `keep_original` (a tip) only the metadata-free copy is kept, and not even Telegram's
    file id, which would fetch the original file again."""
    if isinstance(attachment, Document):
        mime = attachment.mime_type or ""
        name = (attachment.file_name or "").lower()
        if not mime.startswith(IMAGE_TYPES) and not name.endswith(
            (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".gif")
        ):
            raise PhotoProblemError(NOT_AN_IMAGE_FILE)
    if attachment.file_size and attachment.file_size > MAX_DOWNLOAD_BYTES:
        raise PhotoProblemError(TOO_BIG)
    try:
        file = await retried(lambda: bot.get_file(attachment.file_id), "getFile")
    except BadRequest as error:
        if "too big" in error.message.lower():
            raise PhotoProblemError(TOO_BIG) from None
        raise
    # The person waits for "Got 1 photo": a download cut by a short outage is tried again.
    data = bytes(await retried(file.download_as_bytearray, "a photo download"))
    entry = await store_photo(data, media_dir, now=now, keep_original=keep_original)
    entry["file_id"] = attachment.file_id if keep_original else ""
    entry["file_unique_id"] = attachment.file_unique_id if keep_original else f"stripped:{entry['sha256']}"
    return entry


def clip_of(message: Message) -> Clip | None:
    """The message's video: a video, a round video message, a GIF (an MP4 animation), or a file
    that is a video by its type or name."""
    if message.video or message.video_note or message.animation:
        return message.video or message.video_note or message.animation
    document = message.document
    if document is not None and is_video_file(document.mime_type, document.file_name):
        return document
    return None


def spoken_of(message: Message) -> Spoken | None:
    """The message's voice note or audio file (also an audio file sent as a file)."""
    if message.voice or message.audio:
        return message.voice or message.audio
    document = message.document
    if document is not None and (document.mime_type or "").startswith("audio/"):
        return document
    return None


def _suffix(attachment: Clip | Spoken) -> str:
    name = getattr(attachment, "file_name", None) or ""
    if "." in name:
        return "." + name.rsplit(".", 1)[1].lower()[:8]
    mime = getattr(attachment, "mime_type", None) or ""
    known = {"video/quicktime": ".mov", "video/webm": ".webm", "video/3gpp": ".3gp", "audio/ogg": ".ogg",
             "audio/mpeg": ".mp3", "audio/mp4": ".m4a", "audio/x-m4a": ".m4a"}
    if mime in known:
        return known[mime]
    return ".ogg" if isinstance(attachment, Voice) else ".mp4"


async def _download(bot: Bot, attachment: Clip | Spoken, config: Config, media_dir: Path) -> Path:
    """The attachment in a new file under media_dir/incoming, or PhotoProblemError when too big."""
    limit = config.download_limit_bytes
    too_big = PhotoProblemError(VIDEO_TOO_BIG, limit=limit // 2**20)
    if attachment.file_size and attachment.file_size > limit:
        raise too_big
    try:
        file = await retried(lambda: bot.get_file(attachment.file_id), "getFile")
    except BadRequest as error:
        if "too big" in error.message.lower():
            raise too_big from None
        raise
    target = incoming_path(media_dir, _suffix(attachment))
    await retried(lambda: file.download_to_drive(target), "a clip download")  # rewritten from the start
    return target


async def save_video(
    bot: Bot, attachment: Clip, config: Config, *, now: datetime, keep_original: bool = True
) -> dict[str, Any]:
    """Downloads a clip, checks it, stores it (original, stripped copy, key-frame thumbnail)."""
    source = await _download(bot, attachment, config, config.storage.media_dir)
    entry = await store_video(source, config.storage.media_dir, now=now,
                              max_seconds=config.reports.max_video_seconds, keep_original=keep_original)
    entry["file_id"] = attachment.file_id
    entry["file_unique_id"] = attachment.file_unique_id
    return entry


async def save_voice(
    bot: Bot, attachment: Spoken, config: Config, *, keep_original: bool = True, answer_key: str | None = None
) -> dict[str, Any]:
    """Downloads a voice note or audio file, checks it, stores it with a metadata-free copy."""
    source = await _download(bot, attachment, config, config.storage.media_dir)
    entry = await store_voice(source, config.storage.media_dir, max_seconds=config.reports.max_voice_seconds,
                              keep_original=keep_original, answer_key=answer_key)
    entry["file_id"] = attachment.file_id
    entry["file_unique_id"] = attachment.file_unique_id
    return entry
