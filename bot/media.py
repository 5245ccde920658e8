"""The media directory: a checked photo's original, derived copy and thumbnail on disk.

Files are named by the SHA-256 of the original bytes, so writing the same photo twice is
harmless and a crash between writing files and committing the report leaves nothing wrong,
only an unreferenced file.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from bot import photos, video
from bot.i18n import N_

EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/heic": "heic",
    "image/heif": "heif",
    "image/gif": "gif",
    "image/avif": "avif",
}

log = logging.getLogger(__name__)

TOO_BIG = N_(
    "That file is bigger than 20 MB, too big for the bot to download. "
    "Please send it as a photo instead (not as a file)."
)


VIDEO_TOO_BIG = N_(
    "This video is over {limit} MB, too big for me to download. Send a shorter clip, "
    "or send it compressed as a video, not as a file."
)


class PhotoProblemError(Exception):
    """A photo (or clip, or voice note) cannot be used; `message` (translatable, filled with
    `params`) tells the person what to send instead."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


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


async def check_photo(data: bytes, *, now: datetime) -> photos.ProcessedPhoto:
    """Checks and processes the bytes (off the event loop); a refusal is a :class:`PhotoProblemError`."""
    if len(data) > photos.MAX_DOWNLOAD_BYTES:
        raise PhotoProblemError(TOO_BIG)
    try:
        return await photos.process_photo_async(data, now=now)
    except photos.PhotoRejected as rejected:
        raise PhotoProblemError(photos.PROBLEM_MESSAGES[rejected.problem]) from None


async def write_photo(
    processed: photos.ProcessedPhoto, data: bytes, media_dir: Path, *, keep_original: bool = True
) -> dict[str, Any]:
    """Writes original/derived/thumbnail under `media_dir` and returns what the draft keeps.

    `keep_original=False` (a poaching tip's photo): only the metadata-free copies are
    written, named by the copy's own SHA-256, and the copy stands in for the original everywhere
    (staff's "Original photos", trusted channels): no owner name, serial number or device model of
    the tipster's camera is kept or sent, nor a hash that would recognise their original file."""
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


async def store_photo(
    data: bytes, media_dir: Path, *, now: datetime, keep_original: bool = True
) -> dict[str, Any]:
    """Checks the bytes, writes original/derived/thumbnail, and returns what the draft keeps (see
    :func:`write_photo` for `keep_original`)."""
    return await write_photo(await check_photo(data, now=now), data, media_dir, keep_original=keep_original)


#: The three files of a photo entry.
FILE_KEYS = ("original_path", "derived_path", "thumbnail_path")


def entry_files(entries: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(sha256, path) of every file of these photo entries (what Store.unreferenced_files takes)."""
    return [(e["sha256"], e[key]) for e in entries for key in FILE_KEYS if e.get(key) and e.get("sha256")]


def delete_files(paths: list[str]) -> int:
    """Deletes files, logging (not raising) what cannot be deleted; returns how many went."""
    deleted = 0
    for path in paths:
        try:
            Path(path).unlink()
            deleted += 1
        except FileNotFoundError:
            continue
        except OSError as error:
            log.warning("could not delete %s: %s", path, error)
    return deleted


def incoming_path(media_dir: Path, suffix: str = "") -> Path:
    """A fresh file name for a download in progress (moved into place or removed afterwards)."""
    folder = media_dir / "incoming"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{secrets.token_hex(8)}{suffix}"


def _renamed_by_content(path: Path) -> tuple[str, Path]:
    """(SHA-256, new path) of a written copy, renamed to its own hash (same folder and suffix)."""
    sha256 = video.sha256_of(path)
    target = path.with_name(f"{sha256}{path.suffix}")
    if target.exists():
        path.unlink()
    else:
        path.replace(target)
    return sha256, target


def _drop(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _keep(source: Path, target: Path) -> None:
    """Moves a downloaded file into place (the same content may already be there: then drop it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        source.unlink(missing_ok=True)
    else:
        source.replace(target)


async def store_video(
    source: Path, media_dir: Path, *, now: datetime, max_seconds: float, keep_original: bool = True
) -> dict[str, Any]:
    """Checks a downloaded clip, writes its metadata-free copy and thumbnail, keeps the original
    (unless `keep_original` is False: an anonymous tip keeps only the stripped copy), and returns
    what the draft keeps. `source` is consumed."""
    try:
        processed = await video.process_video_async(
            source, media_dir / "derived", max_seconds=max_seconds, now=now
        )
    except video.VideoRejected as rejected:
        await asyncio.to_thread(_drop, source)
        raise PhotoProblemError(rejected.message, **rejected.params) from None
    sha256, stripped = processed.sha256, processed.stripped_path
    if not keep_original:
        # Named by the copy's own hash: no hash that would recognise the tipster's original file.
        sha256, stripped = await asyncio.to_thread(_renamed_by_content, stripped)
    suffix = source.suffix.lower() if source.suffix else ".mp4"
    original = media_dir / "originals" / f"{sha256}{suffix}"
    thumbnail = media_dir / "thumbnails" / f"{sha256}.jpg"
    await asyncio.to_thread(_write, thumbnail, processed.thumbnail_jpeg)
    if keep_original:
        await asyncio.to_thread(_keep, source, original)
    else:
        await asyncio.to_thread(_drop, source)
        original = stripped
    facts = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(processed.facts).items()}
    return {
        "media_kind": "video",
        "sha256": sha256,
        "phash": processed.phash,
        "frame_hashes": list(processed.frame_hashes),
        "mime_type": processed.mime_type,
        "width": processed.width,
        "height": processed.height,
        "duration_s": processed.duration_s,
        "size_bytes": processed.size_bytes,
        "original_path": str(original),
        "derived_path": str(stripped),
        "thumbnail_path": str(thumbnail),
        "facts": facts,
    }


async def store_voice(
    source: Path, media_dir: Path, *, max_seconds: float, keep_original: bool = True,
    answer_key: str | None = None,
) -> dict[str, Any]:
    """Checks a downloaded voice note or audio file, writes its metadata-free Ogg Opus copy, keeps
    the original (unless `keep_original` is False), returns the draft's entry. `source` is consumed."""
    target = incoming_path(media_dir, ".ogg")
    try:
        processed = await video.process_audio_async(source, target, max_seconds=max_seconds)
    except video.VideoRejected as rejected:
        await asyncio.to_thread(_drop, source)
        raise PhotoProblemError(rejected.message, **rejected.params) from None
    sha256 = processed.sha256
    if not keep_original:
        sha256, target = await asyncio.to_thread(_renamed_by_content, target)
    derived = media_dir / "derived" / f"{sha256}.ogg"
    await asyncio.to_thread(_keep, target, derived)
    original = media_dir / "originals" / f"{sha256}{source.suffix.lower() or '.ogg'}"
    if keep_original:
        await asyncio.to_thread(_keep, source, original)
    else:
        await asyncio.to_thread(_drop, source)
        original = derived
    return {
        "media_kind": "voice",
        "sha256": sha256,
        "phash": None,
        "mime_type": "audio/ogg",
        "width": 0,
        "height": 0,
        "duration_s": processed.duration_s,
        "size_bytes": processed.size_bytes,
        "original_path": str(original),
        "derived_path": str(derived),
        "thumbnail_path": "",
        "answer_key": answer_key,
    }


def orphaned_tip_copies(media_dir: Path, older_than: float, used: set[str]) -> list[Path]:
    """The files of tip photos nothing uses any more (`used`: file names still referenced), last
    written before `older_than` (epoch seconds): a tip draft lost with a restart (tip drafts live in
    memory only), a web tip never sent. A tip's copy is named by the SHA-256 of its own bytes (see
    `store_photo`), which tells it from any other photo's copy (named by its original's hash) with
    no marker on disk. Reads only the unused, old files."""
    found = []
    for derived in sorted((media_dir / "derived").glob("*.jpg")):
        if derived.name in used:
            continue
        try:
            if derived.stat().st_mtime > older_than:
                continue
            data = derived.read_bytes()
        except FileNotFoundError:
            continue
        if hashlib.sha256(data).hexdigest() == derived.stem:
            found += [derived, media_dir / "thumbnails" / derived.name]
    return found
