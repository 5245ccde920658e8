"""Photos: validation, what the photo knows (EXIF), privacy-safe copies, hashes — off the event loop.

Reporters send sighting photos either as Telegram *photos* (already re-encoded by Telegram, no EXIF)
or as *files* (the phone's original bytes, often with GPS and the capture time). This module:

* validates the bytes with Pillow (it must really decode; decompression bombs, truncated uploads,
  text files named ``.jpg`` and exotic formats are refused with a :class:`PhotoRejected` whose
  :class:`PhotoProblem` maps to a short, kind message in :data:`PROBLEM_MESSAGES`);
* reads the EXIF facts (GPS position, altitude, accuracy, capture time) into :class:`PhotoFacts`
  without ever applying them — the caller offers them to the reporter, who confirms;
* keeps the original bytes untouched as evidence (the caller stores them) and produces a derived
  JPEG and a thumbnail JPEG that are re-encoded from pixels only, so no metadata (EXIF, XMP, ICC,
  comments) can survive — the location of a leopard must not leak through a shared picture;
* computes a SHA-256 of the original (exact duplicates) and a 64-bit perceptual hash (near
  duplicates: the same picture re-sent, resized or re-compressed).

Everything is plain Python (no ``telegram`` import). :func:`process_photo` is synchronous CPU work;
handlers call :func:`process_photo_async`, which runs it in a thread pool. Pillow and numpy release
the GIL while decoding, resizing and encoding, so the event loop keeps serving other people.

Speed: a JPEG is decoded only once, with libjpeg's DCT scaling (``Image.draft``) to the smallest
power-of-two scale that still gives the derived size (see :data:`DERIVED_MIN_SIDE`); the thumbnail
and the hash are then made from that already-small image instead of from a second decode, because
Huffman decoding — which scaling cannot skip — dominates the cost of a scaled decode.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import enum
import functools
import hashlib
import io
import math
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

import numpy as np
import pillow_heif
from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError

from bot.i18n import N_

# Registered once, at import: HEIC/HEIF is what iPhones save by default.
pillow_heif.register_heif_opener()

__all__ = [
    "ACCEPTED_FORMATS",
    "DERIVED_MAX_SIDE",
    "DERIVED_MIN_SIDE",
    "DECODE_BUDGET_BYTES",
    "MAX_DOWNLOAD_BYTES",
    "MAX_PIXELS",
    "PROBLEM_MESSAGES",
    "THUMBNAIL_MAX_SIDE",
    "PhotoFacts",
    "PhotoProblem",
    "PhotoRejected",
    "ProcessedPhoto",
    "hamming",
    "process_photo",
    "process_photo_async",
]

#: The Bot API will not let a bot download a bigger file, so nothing larger can legitimately arrive.
MAX_DOWNLOAD_BYTES: Final = 20 * 1024 * 1024
#: Our own decompression-bomb limit, checked on every call (independent of ``Image.MAX_IMAGE_PIXELS``).
#: 60 MP covers every phone and trail camera we know (48-50 MP sensors) with some margin.
MAX_PIXELS: Final = 60_000_000
#: Long side of the derived JPEG is at most this; Telegram itself delivers photos at most 2560 px.
DERIVED_MAX_SIDE: Final = 2560
#: ... and at least this (unless the original is smaller). Between the two, whatever size the cheap
#: power-of-two JPEG DCT scaling (or an integer box reduce) lands on is kept as is: a 4000x3000
#: photo becomes 2000x1500 straight from the decoder instead of being decoded in full and then
#: resampled to 2560x1920, which costs more than the decode itself. Full HD is plenty for
#: reviewers, and the untouched original stays available as evidence. Set it equal to
#: DERIVED_MAX_SIDE to always get the largest size (about 3x slower for 12 MP photos).
DERIVED_MIN_SIDE: Final = 1920
#: What decoding one upload may hold at once, estimated from its header before any pixel is
#: decoded (:func:`_decode_cost`): the service runs under ``MemoryMax=512M`` with two photo
#: workers, and a file of a few kB can ask for gigabytes (a 16-bit RGBA PNG, a progressive JPEG's
#: coefficient buffers, a HEIC decoded twice by libheif and Pillow). A baseline JPEG is decoded
#: straight to the derived size, so it reaches :data:`MAX_PIXELS`; the other formats are decoded in
#: full and so get a lower cap in practice (about 40 MP for an RGB PNG, 16 MP for a HEIC or AVIF,
#: 8 MP for a WebP).
#: ``bench/bench_formats.py`` measures each format at its cap (peak RSS < 300 MB).
DECODE_BUDGET_BYTES: Final = 160 * 1024 * 1024
DERIVED_QUALITY: Final = 85
THUMBNAIL_MAX_SIDE: Final = 320
THUMBNAIL_QUALITY: Final = 80

#: Pillow format names we accept, with the MIME type used when the plugin does not say.
ACCEPTED_FORMATS: Final[dict[str, str]] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "HEIF": "image/heif",
    "GIF": "image/gif",
    "AVIF": "image/avif",
}

# Capture times are naive local camera times; the region is on Beijing time (UTC+8, no DST since
# 1991), so a fixed offset is exact for every date that can matter and needs no tz database.
_CHINA_TIME: Final = timezone(timedelta(hours=8), "Asia/Shanghai")
# Camera clocks drift; a capture time a few minutes "in the future" is still a real time.
_FUTURE_TOLERANCE: Final = timedelta(minutes=10)
# Older dates are unset camera clocks (1970, 1980 defaults), not real sightings.
_EARLIEST_YEAR: Final = 1990

_WHITE: Final = (255, 255, 255)

# Same table as ImageOps.exif_transpose; we apply it ourselves so the transpose runs on the
# already-downscaled image (cheap) rather than on the full decode.
_ORIENTATION_TRANSPOSE: Final[dict[int, Image.Transpose]] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class PhotoProblem(enum.Enum):
    """Why a photo was refused; each has a user-facing message in :data:`PROBLEM_MESSAGES`."""

    EMPTY = "empty"
    TOO_BIG_FILE = "too_big_file"
    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED = "unsupported"
    TOO_MANY_PIXELS = "too_many_pixels"
    TRUNCATED = "truncated"
    DAMAGED = "damaged"


#: Short, plain messages for the reporter (English source strings; translated where shown).
PROBLEM_MESSAGES: Final[dict[PhotoProblem, str]] = {
    PhotoProblem.EMPTY: N_("The photo arrived empty. Please try sending it again."),
    PhotoProblem.TOO_BIG_FILE: N_(
        "This file is too big for me (more than 20 MB). Please send it as a photo instead, "
        "or send a smaller copy."
    ),
    PhotoProblem.NOT_AN_IMAGE: N_(
        "That file is not a photo I can open. Please send a JPEG, PNG, WebP or HEIC picture."
    ),
    PhotoProblem.UNSUPPORTED: N_(
        "I cannot open this kind of picture. Please send it as a photo, or as a JPEG, PNG, WebP or HEIC file."
    ),
    PhotoProblem.TOO_MANY_PIXELS: N_(
        "This picture is too large for me to open. Please send it as a photo instead of a file."
    ),
    PhotoProblem.TRUNCATED: N_("Only part of this photo arrived. Please try sending it again."),
    PhotoProblem.DAMAGED: N_(
        "This photo seems to be damaged, so I could not open it. Please try sending it again, "
        "or send another photo."
    ),
}


class PhotoRejected(Exception):
    """The bytes are not a photo we can use; ``problem`` says why (see :data:`PROBLEM_MESSAGES`)."""

    def __init__(self, problem: PhotoProblem) -> None:
        # Passing ``problem`` to Exception keeps the exception picklable (process pools).
        super().__init__(problem)
        self.problem = problem

    @property
    def message(self) -> str:
        """The untranslated user-facing message for this problem."""
        return PROBLEM_MESSAGES[self.problem]

    def __str__(self) -> str:
        return f"{self.problem.value}: {self.message}"


@dataclass(frozen=True)
class PhotoFacts:
    """What the original file says about itself. Every field is ``None`` when absent or implausible.

    ``taken_at`` is aware when the camera wrote OffsetTimeOriginal, otherwise naive camera-local
    time that the caller interprets in Asia/Shanghai. Never apply these silently: offer them.
    """

    latitude: float | None = None
    longitude: float | None = None
    altitude_m: float | None = None
    accuracy_m: float | None = None
    taken_at: datetime | None = None

    @property
    def has_location(self) -> bool:
        """True when both coordinates are present (they are only ever set together)."""
        return self.latitude is not None and self.longitude is not None


@dataclass(frozen=True)
class ProcessedPhoto:
    """A validated photo: hashes, size and format of the original, and metadata-free JPEG copies."""

    sha256: str  # hex digest of the original bytes
    phash: int  # 64-bit perceptual hash, compare with hamming()
    width: int  # of the original, after EXIF orientation
    height: int
    format: str  # Pillow format name: JPEG, PNG, WEBP, HEIF, GIF
    mime_type: str
    derived_jpeg: bytes  # oriented, RGB, no metadata; long side <= DERIVED_MAX_SIDE (see DERIVED_MIN_SIDE)
    thumbnail_jpeg: bytes  # oriented, RGB, long side <= THUMBNAIL_MAX_SIDE, no metadata
    facts: PhotoFacts


# --------------------------------------------------------------------------- public functions


def process_photo(
    data: bytes, *, now: datetime | None = None, max_pixels: int = MAX_PIXELS
) -> ProcessedPhoto:
    """Validate ``data`` and build everything the bot keeps about it (CPU-bound; see the async twin).

    ``now`` (default: the current time) is used to discard capture dates in the future; a naive
    ``now`` is taken as Beijing time. Raises :class:`PhotoRejected`.
    """
    return _process(data, now=now, max_pixels=max_pixels, derived_min_side=DERIVED_MIN_SIDE)


def _process(data: bytes, *, now: datetime | None, max_pixels: int, derived_min_side: int) -> ProcessedPhoto:
    """:func:`process_photo` with the derived size policy as a parameter (the benchmark compares both)."""
    if not data:
        raise PhotoRejected(PhotoProblem.EMPTY)
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise PhotoRejected(PhotoProblem.TOO_BIG_FILE)
    if now is None:
        now = datetime.now(UTC)

    with _open(data) as img:
        width, height = img.size
        if width <= 0 or height <= 0:
            raise PhotoRejected(PhotoProblem.DAMAGED)
        if width * height > max_pixels:
            raise PhotoRejected(PhotoProblem.TOO_MANY_PIXELS)
        fmt = str(img.format)
        if fmt == "MPO":
            # A JPEG with extra frames (cameras, some phones: depth or a second lens); Pillow names
            # it MPO. The first frame is a plain JPEG, and the file is one to any viewer.
            fmt = "JPEG"
        mime_type = (
            ACCEPTED_FORMATS[fmt] if fmt == "JPEG" else img.get_format_mimetype() or ACCEPTED_FORMATS[fmt]
        )
        scale = 1
        if fmt == "JPEG":
            # DCT scaling: libjpeg decodes straight to 1/2, 1/4 or 1/8 size, the smallest of those
            # whose long side is still >= the derived minimum, skipping most of the IDCT, chroma
            # upsampling and colour conversion work, and the memory of a full decode.
            scale = _scale_for((width, height), derived_min_side, (8, 4, 2))
        # Refused from the header alone: nothing big has been allocated yet.
        cost = _decode_cost(img, fmt, scale)
        if cost > DECODE_BUDGET_BYTES:
            raise PhotoRejected(PhotoProblem.TOO_MANY_PIXELS)
        if scale > 1:
            # Pillow picks the largest power of two <= size // requested, hence the floor division.
            img.draft("RGB", (width // scale, height // scale))
        # All decodes of the process together stay within the budget: two workers (or the web side
        # and Telegram) never hold two pictures at their cap at once; small ones pass side by side.
        with _DECODE_GATE.hold(cost):
            _load(img)  # the first frame only, for animated GIF/WebP
            exif = _read_exif(img)  # after load(): a PNG may keep its eXIf chunk after the pixels
            orientation = _orientation(exif)
            try:
                derived = _derive(img, derived_min_side)
            except (ValueError, OSError) as exc:  # a mode Pillow cannot convert
                raise PhotoRejected(PhotoProblem.UNSUPPORTED) from exc
            img.close()  # the full-size decode is freed before the gate lets the next one in
    facts = _facts_from_exif(exif, now)
    derived = _orient(derived, orientation)  # transposing the small image is cheap
    thumbnail = _fit(derived, THUMBNAIL_MAX_SIDE, Image.Resampling.LANCZOS, 2.0)
    if orientation in (5, 6, 7, 8):
        width, height = height, width

    return ProcessedPhoto(
        sha256=hashlib.sha256(data).hexdigest(),
        phash=_phash(thumbnail),
        width=width,
        height=height,
        format=fmt,
        mime_type=mime_type,
        derived_jpeg=_encode_clean_jpeg(derived, DERIVED_QUALITY),
        thumbnail_jpeg=_encode_clean_jpeg(thumbnail, THUMBNAIL_QUALITY),
        facts=facts,
    )


class _ByteGate:
    """At most `limit` bytes held at once across threads; a holder of more than is free waits."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def hold(self, size: int) -> Iterator[None]:
        size = min(size, self.limit)  # one over the limit is refused before it gets here
        with self._changed:
            self._changed.wait_for(lambda: self.held + size <= self.limit)
            self.held += size
        try:
            yield
        finally:
            with self._changed:
                self.held -= size
                self._changed.notify_all()


_DECODE_GATE: Final = _ByteGate(DECODE_BUDGET_BYTES)


# Threads, not processes: the heavy lifting happens inside Pillow/numpy with the GIL released, and
# the bytes need no pickling. Two workers bound the memory a burst of uploads can take.
_EXECUTOR: Final = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="photos")


async def process_photo_async(
    data: bytes,
    *,
    executor: concurrent.futures.Executor | None = None,
    now: datetime | None = None,
    max_pixels: int = MAX_PIXELS,
) -> ProcessedPhoto:
    """:func:`process_photo` in ``executor`` (default: this module's 2-thread pool), never on the loop."""
    loop = asyncio.get_running_loop()
    call = functools.partial(process_photo, data, now=now, max_pixels=max_pixels)
    return await loop.run_in_executor(executor or _EXECUTOR, call)


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two perceptual hashes (0 = same picture; <= 4 = near copy)."""
    if a < 0 or b < 0:
        raise ValueError("perceptual hashes are non-negative integers")
    return (a ^ b).bit_count()


# --------------------------------------------------------------------------- opening and decoding


def _open(data: bytes) -> ImageFile.ImageFile:
    """Open (header only) with our accepted formats, mapping failures to a :class:`PhotoProblem`."""
    try:
        return Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's global limit (the warning only matters where warnings are errors); ours follows.
        raise PhotoRejected(PhotoProblem.TOO_MANY_PIXELS) from exc
    except UnidentifiedImageError as exc:
        raise PhotoRejected(_classify_unknown(data)) from exc
    except Exception as exc:  # noqa: BLE001 - untrusted bytes: any parser error means "broken file"
        raise PhotoRejected(PhotoProblem.DAMAGED) from exc


def _classify_unknown(data: bytes) -> PhotoProblem:
    """Tell "a real picture in a format we do not take" (TIFF, BMP, ...) from "not a picture"."""
    try:
        with Image.open(io.BytesIO(data)):  # header only; never decoded
            return PhotoProblem.UNSUPPORTED
    except Exception:  # noqa: BLE001 - whatever goes wrong, it is not a picture we know
        return PhotoProblem.NOT_AN_IMAGE


def _load(img: Image.Image) -> None:
    """Really decode the pixels; a cut-off upload is TRUNCATED, anything else wrong is DAMAGED.

    ``ImageFile.LOAD_TRUNCATED_IMAGES`` stays False: a half photo must be refused, not padded grey.
    """
    try:
        img.load()
    except Image.DecompressionBombError as exc:  # some plugins check again while loading
        raise PhotoRejected(PhotoProblem.TOO_MANY_PIXELS) from exc
    except EOFError as exc:
        raise PhotoRejected(PhotoProblem.TRUNCATED) from exc
    except OSError as exc:
        truncated = "truncated" in str(exc).lower()
        raise PhotoRejected(PhotoProblem.TRUNCATED if truncated else PhotoProblem.DAMAGED) from exc
    except Exception as exc:  # noqa: BLE001 - untrusted bytes: decoders raise all sorts of things
        raise PhotoRejected(PhotoProblem.DAMAGED) from exc


#: Bytes per pixel of Pillow's in-memory modes (RGB is stored as 4 bytes, like RGBA).
_MODE_BYTES: Final[dict[str, int]] = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
#: Rows converted at a time by :func:`_reduce_to_rgb`: a few MB, whatever the picture's width.
_BAND_BYTES: Final = 4 * 1024 * 1024


def _decode_cost(img: Image.Image, fmt: str, scale: int) -> int:
    """Bytes that decoding ``img`` (header read, nothing decoded) will hold at its peak.

    Measured against ``bench/bench_formats.py``: Pillow keeps RGB in 4 bytes a pixel; libwebp,
    libheif and libavif first decode into a buffer of their own (up to 4 bytes a pixel, plus the
    YUV planes) that Pillow then copies; a progressive JPEG keeps every DCT coefficient (2 bytes
    per sample of each component) whatever the scale it is decoded to.
    """
    width, height = img.size
    pixels = width * height
    if fmt == "JPEG":
        cost = -(-width // scale) * -(-height // scale) * 4
        if img.info.get("progressive") or img.info.get("progression"):
            layers = getattr(img, "layer", None) or [("", 1, 1, 0)] * len(img.getbands())
            h_max = max(layer[1] for layer in layers)
            v_max = max(layer[2] for layer in layers)
            cost += sum(2 * pixels * layer[1] * layer[2] // (h_max * v_max) for layer in layers)
        return cost
    native = pixels * _MODE_BYTES.get(img.mode, 4)
    if fmt in ("HEIF", "AVIF"):
        return native + pixels * 6  # the library's RGB(A) buffer and its YUV planes
    if fmt == "WEBP":
        # libwebp's canvas, its previous frame, the bytes handed over: 20 bytes a pixel measured.
        return native + pixels * 16
    return native


def _to_rgb(img: Image.Image) -> Image.Image:
    """Plain 8-bit RGB: transparency flattened on white, 16-bit scaled down (not clipped).

    Integer arithmetic only (a float64 copy of a 16-bit picture is 8 bytes a pixel); callers pass
    bands of rows (:func:`_reduce_to_rgb`), so no conversion ever holds a full-size copy.
    """
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        # Pillow's own conversion clips 16-bit values at 255 (a white picture); scale instead.
        values = np.asarray(img)
        if mode == "F":
            scaled = np.clip(np.nan_to_num(values), 0, 255).astype(np.uint8)
        elif mode == "I" and values.size and int(values.max()) <= 255:
            scaled = np.clip(values, 0, 255).astype(np.uint8)
        else:
            # round(v / 257) in integers, in place: 0..65535 onto 0..255.
            wide = np.clip(values, 0, 65535).astype(np.uint32)
            wide += 128
            wide //= 257
            scaled = wide.astype(np.uint8)
        return Image.fromarray(scaled).convert("RGB")  # 2-D uint8: "L"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, _WHITE)
        background.paste(rgba, mask=rgba)  # the alpha channel is the mask
        return background
    if mode == "RGB":
        return img
    return img.convert("RGB")  # L, 1, P, CMYK (Adobe inversion handled by Pillow), YCbCr, ...


def _reduce_to_rgb(img: Image.Image, factor: int) -> Image.Image:
    """``_to_rgb(img).reduce(factor)``, a band of rows at a time.

    Converting a whole decoded picture at once would hold a second full-size copy (RGBA, a palette
    expanded to RGB, 16-bit scaled to 8-bit); band by band only the decode itself is full size.
    Bands are whole multiples of ``factor`` rows, so the result equals the one-shot reduction.
    """
    if img.mode == "RGB":
        return img.reduce(factor) if factor > 1 else img.copy()
    width, height = img.size
    row_bytes = width * 4
    rows = max(factor, (_BAND_BYTES // max(1, row_bytes)) // factor * factor)
    out = Image.new("RGB", (-(-width // factor), -(-height // factor)))
    for top in range(0, height, rows):
        band = img.crop((0, top, width, min(height, top + rows)))
        band.info = img.info  # "transparency" of a palette or RGB picture lives there
        rgb = _to_rgb(band)
        del band
        out.paste(rgb.reduce(factor) if factor > 1 else rgb, (0, top // factor))
    return out


def _fit_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """``size`` scaled down (never up) so that its long side is at most ``max_side``."""
    width, height = size
    scale = max_side / max(width, height)
    if scale >= 1:
        return size
    return max(1, round(width * scale)), max(1, round(height * scale))


def _scale_for(size: tuple[int, int], min_side: int, scales: Iterable[int]) -> int:
    """The largest of ``scales`` that keeps the long side >= ``min_side`` (1 when none does)."""
    long_side = max(size)
    return next((scale for scale in scales if long_side // scale >= min_side), 1)


def _derive(img: Image.Image, min_side: int) -> Image.Image:
    """The derived RGB picture: an integer box reduce while the long side stays >= ``min_side`` (cheap,
    and the right filter for big steps), then a bilinear resample only if still above the maximum
    (by less than 2x, so bilinear is enough). Always a new image object, so its ``info`` is ours.
    """
    factor = max(1, max(img.size) // min_side)
    if factor == 1 and img.mode == "RGB" and max(img.size) > DERIVED_MAX_SIDE:
        # resize() makes the new image itself; copying the full decode first only added its size to
        # the peak (an 8 MP photo: 150 -> 120 MB, the same bytes out; bench/bench_photos.py).
        return img.resize(_fit_size(img.size, DERIVED_MAX_SIDE), Image.Resampling.BILINEAR)
    reduced = _reduce_to_rgb(img, factor)
    if max(reduced.size) > DERIVED_MAX_SIDE:
        return reduced.resize(_fit_size(reduced.size, DERIVED_MAX_SIDE), Image.Resampling.BILINEAR)
    return reduced


def _fit(img: Image.Image, max_side: int, resample: Image.Resampling, reducing_gap: float) -> Image.Image:
    """Downscale to ``max_side`` (a new image even when no resize is needed, so ``info`` is ours)."""
    size = _fit_size(img.size, max_side)
    if size == img.size:
        return img.copy()
    return img.resize(size, resample, reducing_gap=reducing_gap)


def _orient(img: Image.Image, orientation: int) -> Image.Image:
    """Apply the EXIF orientation, exactly as ``ImageOps.exif_transpose`` would."""
    method = _ORIENTATION_TRANSPOSE.get(orientation)
    return img if method is None else img.transpose(method)


def _encode_clean_jpeg(img: Image.Image, quality: int) -> bytes:
    """Encode pixels only. ``info`` is emptied first because Pillow copies e.g. a JPEG comment from it."""
    img.info = {}
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, optimize=False, progressive=False)
    return out.getvalue()


# --------------------------------------------------------------------------- perceptual hash


def _dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix (float32): ``C @ x`` transforms the columns of ``x``."""
    k = np.arange(n, dtype=np.float32)[:, None]
    i = np.arange(n, dtype=np.float32)[None, :]
    matrix: np.ndarray = np.sqrt(np.float32(2.0 / n)) * np.cos(np.float32(np.pi) * (2 * i + 1) * k / (2 * n))
    matrix[0, :] /= np.sqrt(np.float32(2.0))
    return matrix.astype(np.float32)


_DCT32: Final = _dct_matrix(32)


def _phash(img: Image.Image) -> int:
    """64-bit pHash: 32x32 greyscale, 2-D DCT, 8x8 lowest frequencies compared with their median.

    Low frequencies describe the picture's layout, which survives resizing and re-compression.
    The median excludes the DC term (overall brightness, always far above it).
    """
    grey = img.convert("L").resize((32, 32), Image.Resampling.LANCZOS)
    # float32 on the 32x32 thumbnail of the thumbnail: no float64 array anywhere in this module.
    pixels = np.asarray(grey, dtype=np.float32)
    low = (_DCT32 @ pixels @ _DCT32.T)[:8, :8].ravel()
    median = np.median(low[1:])
    value = 0
    for bit in low > median:
        value = (value << 1) | int(bit)
    return value


# --------------------------------------------------------------------------- EXIF facts


def _read_exif(img: Image.Image) -> Image.Exif | None:
    """The EXIF block, or None when absent or unreadable (a broken EXIF never rejects a photo)."""
    try:
        exif = img.getexif()
    except Exception:  # noqa: BLE001 - corrupt EXIF is common and harmless: just ignore it
        return None
    return exif if len(exif) else None


def _orientation(exif: Image.Exif | None) -> int:
    """EXIF orientation 1-8; anything else counts as 1 (upright)."""
    if exif is None:
        return 1
    try:
        value = int(exif.get(ExifTags.Base.Orientation, 1))
    except (TypeError, ValueError):
        return 1
    return value if value in _ORIENTATION_TRANSPOSE else 1


def _facts_from_exif(exif: Image.Exif | None, now: datetime) -> PhotoFacts:
    """Collect every plausible fact; each field fails on its own, never the photo."""
    if exif is None:
        return PhotoFacts()
    gps = _sub_ifd(exif, ExifTags.IFD.GPSInfo)
    details = _sub_ifd(exif, ExifTags.IFD.Exif)
    latitude, longitude = _position(gps)
    return PhotoFacts(
        latitude=latitude,
        longitude=longitude,
        altitude_m=_altitude(gps),
        accuracy_m=_accuracy(gps),
        taken_at=_taken_at(details, now),
    )


def _sub_ifd(exif: Image.Exif, ifd: ExifTags.IFD) -> dict[int, Any]:
    try:
        return dict(exif.get_ifd(ifd))
    except Exception:  # noqa: BLE001 - a broken pointer to a sub-IFD just means "no data"
        return {}


def _number(value: Any) -> float | None:
    """A finite float from an EXIF rational/int/float (zero denominators give NaN: rejected)."""
    try:
        if isinstance(value, tuple) and len(value) == 2:  # raw (numerator, denominator)
            number = float(value[0]) / float(value[1])
        else:
            number = float(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value).strip("\x00 \t\r\n").upper() if value is not None else ""


def _degrees(value: Any, ref: Any, positive: str, negative: str, limit: float) -> float | None:
    """Degrees/minutes/seconds + hemisphere letter to signed decimal degrees, or None."""
    hemisphere = _text(ref)[:1]
    if hemisphere not in (positive, negative):
        return None  # without the hemisphere the sign is a guess; do not guess
    parts = value if isinstance(value, tuple | list) else (value,)
    if not 1 <= len(parts) <= 3:
        return None
    numbers: list[float] = []
    for part in parts:
        number = _number(part)
        if number is None or number < 0:
            return None
        numbers.append(number)
    degrees, minutes, seconds = (numbers + [0.0, 0.0])[:3]
    if minutes >= 60 or seconds >= 60:
        return None
    total = degrees + minutes / 60 + seconds / 3600
    if total > limit:
        return None
    return -total if hemisphere == negative else total


def _position(gps: dict[int, Any]) -> tuple[float | None, float | None]:
    """(latitude, longitude), both or neither; (0, 0) is an unset GPS, not the Gulf of Guinea."""
    latitude = _degrees(
        gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef), "N", "S", 90.0
    )
    longitude = _degrees(
        gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef), "E", "W", 180.0
    )
    if latitude is None or longitude is None or (latitude == 0 and longitude == 0):
        return None, None
    return latitude, longitude


def _altitude(gps: dict[int, Any]) -> float | None:
    """Metres above sea level (ref 1 = below); outside -1 km..10 km is a broken value."""
    altitude = _number(gps.get(ExifTags.GPS.GPSAltitude))
    if altitude is None:
        return None
    ref = gps.get(ExifTags.GPS.GPSAltitudeRef, 0)
    below = (ref[:1] == b"\x01") if isinstance(ref, bytes) else _number(ref) == 1
    altitude = -altitude if below else altitude
    return altitude if -1000 <= altitude <= 10000 else None


def _accuracy(gps: dict[int, Any]) -> float | None:
    """GPSHPositioningError in metres (phones write it; cameras rarely do)."""
    accuracy = _number(gps.get(ExifTags.GPS.GPSHPositioningError))
    return accuracy if accuracy is not None and 0 <= accuracy <= 100_000 else None


_DATE_RE: Final = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET_RE: Final = re.compile(r"([+-])(\d{2}):(\d{2})")


def _taken_at(details: dict[int, Any], now: datetime) -> datetime | None:
    """DateTimeOriginal (+ OffsetTimeOriginal), or None when missing, unparsable or in the future."""
    raw = details.get(ExifTags.Base.DateTimeOriginal)
    match = _DATE_RE.fullmatch(_text(raw))
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(group) for group in match.groups())
    try:
        taken = datetime(year, month, day, hour, minute, second)
    except ValueError:  # "0000:00:00 00:00:00", February 30th, ...
        return None
    if taken.year < _EARLIEST_YEAR:
        return None
    offset = _OFFSET_RE.fullmatch(_text(details.get(ExifTags.Base.OffsetTimeOriginal)))
    if offset is not None:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        if delta <= timedelta(hours=14) and int(minutes) < 60:
            taken = taken.replace(tzinfo=timezone(-delta if sign == "-" else delta))
    aware = taken if taken.tzinfo is not None else taken.replace(tzinfo=_CHINA_TIME)
    reference = now if now.tzinfo is not None else now.replace(tzinfo=_CHINA_TIME)
    if aware > reference + _FUTURE_TOLERANCE:
        return None
    return taken
