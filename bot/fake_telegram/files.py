"""The fake Bot API's files: photo sizes, uploads, file_ids, getFile and downloads."""

from __future__ import annotations

import copy
import hashlib
import io
import mimetypes
import re
from collections.abc import Iterable
from typing import Any

from PIL import Image, UnidentifiedImageError

from .core import _Core
from .model import ApiError, UploadedFile
from .records import (
    _FILE_FOLDERS,
    DOWNLOAD_LIMIT,
    PHOTO_SIDES,
    PHOTO_UPLOAD_LIMIT,
    UPLOAD_LIMIT,
    _File,
    _probe_media,
    _strip_none,
)


class _Files(_Core):
    """Files: photo sizes made like Telegram's, uploads and file_ids, getFile and downloads."""

    def download(self, file_id: str) -> bytes:
        record = self._files.get(file_id)
        if record is None:
            raise AssertionError(f"unknown file_id {file_id!r}")
        return record.data

    def forget_files(self, file_ids: Iterable[str]) -> None:
        """Forgets stored files (their bytes and download paths); unknown ids are ignored. A forgotten
        file_id is unknown to the bot afterwards, as a file Telegram no longer has."""
        for file_id in file_ids:
            record = self._files.pop(file_id, None)
            if record is not None and record.file_path:
                self._files_by_path.pop(record.file_path, None)

    def _new_file_ids(self, kind: str) -> tuple[str, str]:
        n = next(self._file_counter)
        digest = hashlib.sha256(f"{self.token}:{kind}:{n}".encode()).hexdigest()
        prefix = {"photo": "AgACAgIAAxkBAA", "document": "BQACAgIAAxkBAA", "sticker": "CAACAgIAAxkBAA"}.get(
            kind, "BAACAgIAAxkBAA"
        )
        return f"{prefix}{n:06d}{digest[:40]}", f"AQAD{n:05d}{digest[40:48]}"

    def _store_file(
        self,
        kind: str,
        data: bytes,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        size: int | None = None,
    ) -> _File:
        file_id, unique_id = self._new_file_ids(kind)
        record = _File(
            file_id=file_id,
            file_unique_id=unique_id,
            kind=kind,
            data=data,
            size=size if size is not None else len(data),
            file_name=file_name,
            mime_type=mime_type,
        )
        self._files[file_id] = record
        return record

    def _store_photo(self, data: bytes) -> list[dict[str, Any]]:
        """Stores a photo like Telegram: smaller JPEG sizes plus the original as the largest size."""
        if not data:
            raise ApiError.bad("file must be non-empty")
        if len(data) > PHOTO_UPLOAD_LIMIT:
            raise ApiError.bad(
                f"file of size {len(data)} bytes is too big for a photo; "
                f"the maximum size is {PHOTO_UPLOAD_LIMIT} bytes"
            )
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                width, height = image.size
                mime = Image.MIME.get(image.format or "", "image/jpeg")
                rgb = image.convert("RGB")
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
            raise ApiError.bad("IMAGE_PROCESS_FAILED") from None
        if width + height > 10000 or max(width, height) > 20 * min(width, height):
            raise ApiError.bad("PHOTO_INVALID_DIMENSIONS")
        sizes: list[dict[str, Any]] = []
        records: list[_File] = []
        for side in PHOTO_SIDES:
            if side >= max(width, height):
                break
            small = rgb.copy()
            small.thumbnail((side, side))
            buffer = io.BytesIO()
            small.save(buffer, format="JPEG", quality=85)
            record = self._store_file("photo", buffer.getvalue(), mime_type="image/jpeg")
            records.append(record)
            sizes.append(
                {
                    "file_id": record.file_id,
                    "file_unique_id": record.file_unique_id,
                    "file_size": record.size,
                    "width": small.width,
                    "height": small.height,
                }
            )
        record = self._store_file("photo", data, mime_type=mime)
        records.append(record)
        sizes.append(
            {
                "file_id": record.file_id,
                "file_unique_id": record.file_unique_id,
                "file_size": record.size,
                "width": width,
                "height": height,
            }
        )
        for r in records:
            r.media = sizes
        return copy.deepcopy(sizes)

    def _input_file(
        self, value: Any, uploads: dict[str, UploadedFile], *, in_media: bool = False
    ) -> UploadedFile | _File:
        """Resolves an InputFile-or-String parameter to an upload or a stored file."""
        if isinstance(value, UploadedFile):
            return value
        if not isinstance(value, str) or not value:
            raise ApiError.bad("wrong file identifier/HTTP URL specified")
        if value.startswith("attach://"):
            part = uploads.get(value[len("attach://") :])
            if part is None:
                if in_media:
                    raise ApiError.bad("can't parse InputMedia: media not found")
                raise ApiError.bad("wrong file identifier/HTTP URL specified")
            return part
        if re.match(r"https?://", value, re.I) or ("." in value and "/" in value):
            raise ApiError.bad("failed to get HTTP URL content")
        record = self._files.get(value)
        if record is None:
            raise ApiError.bad("wrong file identifier/HTTP URL specified")
        return record

    def _media_object(self, kind: str, source: UploadedFile | _File, p: dict[str, Any]) -> Any:
        """The object a message shows for ``kind`` (for photos: the list of PhotoSize)."""
        if isinstance(source, _File):
            if (source.kind == "photo") != (kind == "photo") or (kind == "sticker") != (
                source.kind == "sticker"
            ):
                raise ApiError.bad(f"can't use file of type {source.kind.title()} as {kind.title()}")
            return copy.deepcopy(source.media)
        if not source.data:
            raise ApiError.bad("file must be non-empty")
        if len(source.data) > UPLOAD_LIMIT:  # a bot may upload at most 50 MB
            raise ApiError(413, "Request Entity Too Large")
        if kind == "photo":
            return self._store_photo(source.data)
        file_name = source.filename or None
        mime = source.content_type if source.content_type not in (None, "application/octet-stream") else None
        if mime is None and file_name:
            mime = mimetypes.guess_type(file_name)[0]
        record = self._store_file(kind, source.data, file_name=file_name, mime_type=mime)
        base: dict[str, Any] = {"file_id": record.file_id, "file_unique_id": record.file_unique_id}
        if kind in ("document", "animation", "audio", "video"):
            base["file_name"] = file_name
            base["mime_type"] = mime or "application/octet-stream"
        # Telegram reads a clip's size and length from the file; given parameters take precedence.
        timed = ("video", "animation", "audio", "voice", "video_note")
        probed = (_probe_media(source.data) if kind in timed else None) or {}
        if kind in ("video", "animation"):
            base.update(width=int(p.get("width") or probed.get("width") or 0),
                        height=int(p.get("height") or probed.get("height") or 0))
        if kind in ("video", "animation", "audio", "voice", "video_note"):
            base["duration"] = int(p.get("duration") or probed.get("duration") or 0)
        if kind == "video_note":
            base["length"] = int(p.get("length") or probed.get("width") or 0)
        if kind == "voice":
            base["mime_type"] = mime if mime and mime.startswith("audio/") else "audio/ogg"
        if kind == "audio":
            base.update(performer=p.get("performer"), title=p.get("title"))
        if kind == "sticker":
            base.update(type="regular", width=512, height=512, is_animated=False, is_video=False)
            if p.get("emoji"):
                base["emoji"] = p["emoji"]
        base["file_size"] = record.size
        record.media = _strip_none(base)
        return copy.deepcopy(record.media)

    def _api_getFile(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        record = self._files.get(p["file_id"])
        if record is None:
            raise ApiError.bad("wrong file identifier/HTTP URL specified")
        if record.size > DOWNLOAD_LIMIT:
            raise ApiError.bad("file is too big")
        if record.file_path is None:
            folder, ext = _FILE_FOLDERS.get(record.kind, ("documents", "bin"))
            if record.file_name and "." in record.file_name:
                ext = record.file_name.rsplit(".", 1)[1].lower()[:10] or ext
            # A counter, not len(self._files_by_path): that shrinks when files are forgotten, and
            # a new path would then take a live file's place (another person's photo).
            record.file_path = f"{folder}/file_{next(self._file_paths)}.{ext}"
            self._files_by_path[record.file_path] = record
        return {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "file_size": record.size,
            "file_path": record.file_path,
        }
