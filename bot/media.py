"""The media directory: a checked photo's original, derived copy and thumbnail on disk.

Files are named by the SHA-256 of the original bytes, so writing the same photo twice is
harmless and a crash between writing files and committing the report leaves nothing wrong,
only an unreferenced file.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from bot import photos
from bot.i18n import N_

EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/heic": "heic",
    "image/heif": "heif",
    "image/gif": "gif",
}

TOO_BIG = N_(
    "That file is bigger than 20 MB, too big for the bot to download. "
    "Please send it as a photo instead (not as a file)."
)


class PhotoProblemError(Exception):
    """A photo cannot be used; `message` (translatable) tells the person what to send instead."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _write(path: Path, data: bytes) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)  # atomic: a reader never sees half a file


async def store_photo(
    data: bytes, media_dir: Path, *, now: datetime, keep_original: bool = True
) -> dict[str, Any]:
    """Checks the bytes, writes original/derived/thumbnail, and returns what the draft keeps.

    `keep_original=False` (a poaching tip's photo, issue 19): only the metadata-free copies are
    written, named by the copy's own SHA-256, and the copy stands in for the original everywhere
    (staff's "Original photos", trusted channels): no owner name, serial number or device model of
    the tipster's camera is kept or sent, nor a hash that would recognise their original file."""
    if len(data) > photos.MAX_DOWNLOAD_BYTES:
        raise PhotoProblemError(TOO_BIG)
    try:
        processed = await photos.process_photo_async(data, now=now)
    except photos.PhotoRejected as rejected:
        raise PhotoProblemError(photos.PROBLEM_MESSAGES[rejected.problem]) from None
    ext = EXTENSIONS.get(processed.mime_type, "bin")
    sha256 = processed.sha256 if keep_original else hashlib.sha256(processed.derived_jpeg).hexdigest()
    derived = media_dir / "derived" / f"{sha256}.jpg"
    original = media_dir / "originals" / f"{sha256}.{ext}" if keep_original else derived
    thumbnail = media_dir / "thumbnails" / f"{sha256}.jpg"
    if keep_original:
        await asyncio.to_thread(_write, original, data)
    await asyncio.to_thread(_write, derived, processed.derived_jpeg)
    await asyncio.to_thread(_write, thumbnail, processed.thumbnail_jpeg)
    facts = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(processed.facts).items()}
    return {
        "sha256": sha256,
        "phash": processed.phash,
        "mime_type": processed.mime_type if keep_original else "image/jpeg",
        "width": processed.width,
        "height": processed.height,
        "original_path": str(original),
        "derived_path": str(derived),
        "thumbnail_path": str(thumbnail),
        "facts": facts,
    }
