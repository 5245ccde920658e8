"""Web uploads wait in a staging area until their report is stored: a refused post leaves nothing.

A photo posted with the web form is checked (``bot.media.check_photo``) and written under
``<staging>/<id>/`` (the same originals/derived/thumbnails layout as the media folder), never into the
media folder: only :meth:`Staging.commit`, called when the report is stored, moves its files there.
A refused post (bad CSRF token, limits, a broken or oversized picture) leaves nothing at all; a form
sent back for corrections keeps its photos here for the next attempt; an abandoned form's photos are
removed by :meth:`Staging.sweep` after ``ttl_s`` (a few hours).

The browser keeps a photo across attempts with a *kept-photo token*: ``<id>.<expiry>.<mac>``, a random
id, when it expires, and a MAC binding both to the form's CSRF cookie. It carries no server path and
none of the photo's EXIF facts (those stay in ``meta.json`` beside the files), so a token copied out
of one browser is worthless in another, and worthless after ``ttl_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.media import FILE_KEYS, check_photo, store_video, write_photo
from bot.web.security import Signer

log = logging.getLogger(__name__)

META = "meta.json"
INCOMING = "incoming"  # request bodies being received (one file per photo part)
_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")


class Staging:
    """The staging folder of the web side (see the module docstring)."""

    def __init__(
        self, root: Path, signer: Signer, ttl_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.root = root
        self.signer = signer
        self.ttl_s = ttl_s
        self._clock = clock

    @classmethod
    def beside(cls, media_dir: Path, signer: Signer, ttl_s: float) -> Staging:
        """The staging folder next to the media folder (same file system: commits are renames)."""
        return cls(media_dir.with_name(media_dir.name + ".staging"), signer, ttl_s)

    # --- receiving --------------------------------------------------------------------------------

    def incoming_path(self, suffix: str = "") -> Path:
        """A new file name for a photo or video part being received (the caller deletes it when done)."""
        folder = self.root / INCOMING
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{secrets.token_urlsafe(16)}{suffix}"

    async def stage(self, data: bytes, *, now: Any, keep_original: bool = True) -> tuple[str, dict[str, Any]]:
        """Checks `data` and writes it under a new id; returns (id, photo entry). Raises
        :class:`bot.media.PhotoProblemError` (nothing is written then). `keep_original=False`: only
        the metadata-free copies (a poaching tip's photo, see ``bot.media.write_photo``)."""
        processed = await check_photo(data, now=now)
        staged_id = secrets.token_urlsafe(16)
        folder = self.root / staged_id
        entry = await write_photo(processed, data, folder, keep_original=keep_original)
        relative = {k: str(Path(entry[k]).relative_to(folder)) for k in FILE_KEYS}
        await asyncio.to_thread(self._write_meta, folder, {**entry, **relative})
        return staged_id, entry

    async def stage_video(
        self, source: Path, *, now: Any, max_seconds: float, keep_original: bool = True
    ) -> tuple[str, dict[str, Any]]:
        """:meth:`stage` for a received video file (``bot.media.store_video``; `source` is consumed)."""
        staged_id = secrets.token_urlsafe(16)
        folder = self.root / staged_id
        try:
            entry = await store_video(
                source, folder, now=now, max_seconds=max_seconds, keep_original=keep_original
            )
        except Exception:
            await asyncio.to_thread(shutil.rmtree, folder, True)
            raise
        relative = {k: str(Path(entry[k]).relative_to(folder)) for k in FILE_KEYS if entry.get(k)}
        await asyncio.to_thread(self._write_meta, folder, {**entry, **relative})
        return staged_id, entry

    @staticmethod
    def _write_meta(folder: Path, entry: dict[str, Any]) -> None:
        (folder / META).write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")

    # --- kept-photo tokens ------------------------------------------------------------------------

    def token(self, staged_id: str, cookie: str) -> str:
        """The browser's handle on a staged photo: bound to this form's cookie, expiring."""
        expires = int(self._clock() + self.ttl_s)
        return f"{staged_id}.{expires}.{self.signer.mac('kept', f'{staged_id}.{expires}.{cookie}')}"

    def resolve(self, token: str, cookie: str) -> tuple[str, dict[str, Any]] | None:
        """(id, entry with absolute paths) of a token made for this cookie and not expired, else None."""
        staged_id, _, rest = token.partition(".")
        expires, _, mac = rest.partition(".")
        if not _ID.match(staged_id) or not expires.isdigit() or int(expires) < self._clock():
            return None
        if not cookie or not self.signer.check("kept", f"{staged_id}.{expires}.{cookie}", mac):
            return None
        folder = self.root / staged_id
        try:
            entry = json.loads((folder / META).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # swept, or never finished
        for key in FILE_KEYS:
            if entry.get(key):
                entry[key] = str(folder / entry[key])
        return staged_id, entry

    # --- the report is stored -----------------------------------------------------------------------

    async def commit(self, staged_id: str, entry: dict[str, Any], media_dir: Path) -> dict[str, Any]:
        """Moves a staged photo's files into the media folder; returns the entry with their new paths."""
        return await asyncio.to_thread(self._commit, staged_id, entry, media_dir)

    def _commit(self, staged_id: str, entry: dict[str, Any], media_dir: Path) -> dict[str, Any]:
        folder = self.root / staged_id
        moved = dict(entry)
        for key in (k for k in FILE_KEYS if entry.get(k)):
            source = Path(entry[key])
            target = media_dir / source.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():  # files are named by content: the same photo is already there
                source.unlink(missing_ok=True)
            else:
                shutil.move(source, target)  # a rename on the same file system
            moved[key] = str(target)
        shutil.rmtree(folder, ignore_errors=True)
        return moved

    async def discard(self, staged_ids: list[str]) -> None:
        """Removes staged photos now (e.g. the files of a post that was refused after staging)."""
        await asyncio.to_thread(self._discard, staged_ids)

    def _discard(self, staged_ids: list[str]) -> None:
        for staged_id in staged_ids:
            if _ID.match(staged_id):
                shutil.rmtree(self.root / staged_id, ignore_errors=True)

    # --- housekeeping ---------------------------------------------------------------------------

    def sweep(self) -> int:
        """Deletes staged photos and incoming files older than ``ttl_s``; returns how many went."""
        if not self.root.is_dir():
            return 0
        horizon = self._clock() - self.ttl_s
        removed = 0
        for path in list(self.root.iterdir()):
            if path.name == INCOMING:
                for part in list(path.iterdir()):
                    with contextlib.suppress(OSError):
                        if part.stat().st_mtime < horizon:
                            part.unlink()
                            removed += 1
                continue
            try:
                stamp = os.stat(path).st_mtime
            except OSError:
                continue
            if stamp < horizon:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                removed += 1
        if removed:
            log.info("staging sweep: %d abandoned upload(s) removed", removed)
        return removed
