"""Getting a photo's bytes from Telegram, within the Bot API's 20 MB download limit."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from telegram import Bot, Document, PhotoSize
from telegram.error import BadRequest

from bot.i18n import N_
from bot.media import TOO_BIG, PhotoProblemError, store_photo
from bot.photos import MAX_DOWNLOAD_BYTES
from handlers.common import retried

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
