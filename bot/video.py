"""Videos and voice notes: validation, what the clip knows, metadata-free copies, key-frame hashes.

The video twin of :mod:`bot.photos`, on PyAV (FFmpeg's libraries; the wheels bundle FFmpeg, so
nothing outside PyPI is needed on a server). For a clip this module:

* checks that it really is a video FFmpeg can decode (a corrupt, empty or picture-less file is
  refused with a :class:`VideoRejected` whose :class:`VideoProblem` maps to a short message), and
  that it is not longer than the configured cap;
* reads what the clip knows about itself into a :class:`bot.photos.PhotoFacts` — a position from
  QuickTime ``©xyz`` / Apple's ``com.apple.quicktime.location.ISO6709`` (FFmpeg's ``location``
  tag), the 3GPP ``loci`` box in ``udta``, or XMP (``exif:GPSLatitude``), and the creation time —
  never applying it: the caller offers it like a photo's EXIF;
* decodes a few frames (at fixed fractions of the clip, found by an accurate seek so a copy that
  Telegram re-encoded with other key frames still gives the same pictures) for the thumbnail and
  64-bit perceptual hashes (:func:`bot.photos._phash`, so a forwarded clip joins the incident the
  way an identical photo does);
* remuxes the video and audio streams, packets copied untouched, into a new MP4 (WebM for VP8/VP9/
  AV1) written with no container or stream metadata and FFmpeg's bit-exact flag (no encoder tag,
  zero creation times); data streams (a phone's timed GPS track, GoPro telemetry), subtitles and
  attachments are dropped. When the codecs cannot be copied into MP4 (H.263/AMR 3GP), the clip is
  re-encoded to H.264/AAC instead.

Voice notes and audio files are re-encoded to Ogg Opus (what Telegram plays as a voice message)
from samples only, so no tag (an artist name, a phone's encoder string) survives.

Files, not bytes: clips arrive on disk and copies are written to disk, so memory stays bounded by
FFmpeg's buffers and a few small frames, whatever the clip's size. Everything is synchronous CPU
work; handlers call the ``*_async`` twins, which run in a one-thread pool (one clip at a time).
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
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import av
import av.bitstream
import av.error
from PIL import Image

from bot.i18n import N_
from bot.photos import THUMBNAIL_MAX_SIDE, THUMBNAIL_QUALITY, PhotoFacts, _encode_clean_jpeg, _fit, _phash

__all__ = [
    "AUDIO_TYPES",
    "VIDEO_EXTENSIONS",
    "VIDEO_TYPES",
    "ProcessedAudio",
    "ProcessedVideo",
    "VideoProblem",
    "VideoRejected",
    "is_video_file",
    "process_audio",
    "process_audio_async",
    "process_video",
    "process_video_async",
    "read_facts",
]

#: MIME types of documents taken as videos (mp4, QuickTime, 3GP, WebM, Matroska, raw HEVC).
VIDEO_TYPES: Final = (
    "video/mp4", "video/quicktime", "video/3gpp", "video/3gpp2", "video/webm", "video/x-matroska",
    "video/hevc", "video/h265", "video/x-m4v", "video/mpeg",
)
VIDEO_EXTENSIONS: Final = (".mp4", ".m4v", ".mov", ".qt", ".3gp", ".3g2", ".webm", ".mkv", ".hevc", ".h265")
#: Audio files taken as voice additions (a recorder app's m4a, an mp3, an ogg/opus note).
AUDIO_TYPES: Final = ("audio/",)

#: Frames sampled for hashes, as fractions of the clip; the middle one is the thumbnail.
FRAME_FRACTIONS: Final = (0.2, 0.5, 0.8)
#: Frames are scaled to this long side before hashing: a hash looks at 32x32 pixels anyway.
FRAME_SIDE: Final = 480
#: The moov box is read into memory for loci/XMP only up to this size (a 2 h clip's is ~10 MB).
MAX_MOOV_BYTES: Final = 32 * 1024 * 1024
#: Codecs copied as they are; anything else is re-encoded (H.264 + AAC).
# MPEG-4 Part 2 is not copied: its user data holds the encoder's name and no filter removes it.
_MP4_VIDEO: Final = frozenset({"h264", "hevc", "av1"})
_MP4_AUDIO: Final = frozenset({"aac", "mp3", "ac3", "eac3", "alac", "opus"})
_WEBM_VIDEO: Final = frozenset({"vp8", "vp9", "av1"})
_WEBM_AUDIO: Final = frozenset({"opus", "vorbis"})
# Bit-exact: the muxer writes no "encoder" tag and zero creation/modification times.
_CLEAN_OPTIONS: Final = {"fflags": "+bitexact"}
_EARLIEST_YEAR: Final = 1990
# Bitstream filters removing SEI NAL units (H.264 type 6; HEVC prefix/suffix SEI 39, 40).
_SEI_FILTERS: Final = {"h264": "filter_units=remove_types=6"}
_FUTURE_TOLERANCE: Final = timedelta(minutes=10)
_XMP_UUID: Final = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")


class VideoProblem(enum.Enum):
    """Why a clip or a voice note was refused; each has a message in :data:`PROBLEM_MESSAGES`."""

    EMPTY = "empty"
    NOT_A_VIDEO = "not_a_video"
    NO_PICTURE = "no_picture"
    TOO_LONG = "too_long"
    NOT_AUDIO = "not_audio"
    AUDIO_TOO_LONG = "audio_too_long"


PROBLEM_MESSAGES: Final[dict[VideoProblem, str]] = {
    VideoProblem.EMPTY: N_("The video arrived empty. Please try sending it again."),
    VideoProblem.NOT_A_VIDEO: N_(
        "I could not open this video: it seems damaged or of a kind I do not know. "
        "Please send it again as a video (MP4 or MOV), or send a photo."
    ),
    VideoProblem.NO_PICTURE: N_("This video has no picture in it. Please send another clip or a photo."),
    VideoProblem.TOO_LONG: N_(
        "This video is longer than {limit} seconds. Please send a shorter clip with the leopard in it."
    ),
    VideoProblem.NOT_AUDIO: N_("I could not play this voice message. Please record it again, or type it."),
    VideoProblem.AUDIO_TOO_LONG: N_(
        "This voice message is longer than {limit} seconds. Please record a shorter one."
    ),
}


class VideoRejected(Exception):
    """The clip cannot be used; ``problem`` says why, ``params`` fill its message (e.g. the limit)."""

    def __init__(self, problem: VideoProblem, **params: Any) -> None:
        super().__init__(problem, params)  # picklable
        self.problem = problem
        self.params = params

    @property
    def message(self) -> str:
        return PROBLEM_MESSAGES[self.problem]

    def __str__(self) -> str:
        return f"{self.problem.value}: {self.message}"


@dataclass(frozen=True)
class ProcessedVideo:
    """A checked clip: hashes, size, length, what it knows, and where its clean copies were written."""

    sha256: str  # of the original bytes
    phash: int  # the middle frame's perceptual hash (stored; near copies match on it)
    frame_hashes: tuple[int, ...]  # every sampled frame's hash (a new clip is compared with all)
    width: int  # as displayed (rotation applied)
    height: int
    duration_s: float
    size_bytes: int
    mime_type: str  # of the stripped copy: video/mp4 or video/webm
    stripped_path: Path  # the metadata-free copy
    reencoded: bool  # True when the codecs could not be copied and the copy was re-encoded
    thumbnail_jpeg: bytes  # no metadata
    facts: PhotoFacts


@dataclass(frozen=True)
class ProcessedAudio:
    """A checked voice note or audio file, re-encoded to a metadata-free Ogg Opus file."""

    sha256: str
    duration_s: float
    size_bytes: int


def is_video_file(mime_type: str | None, file_name: str | None) -> bool:
    """True for a document that is a video by its type or its name."""
    mime = (mime_type or "").lower()
    return mime in VIDEO_TYPES or mime.startswith("video/") or (file_name or "").lower().endswith(
        VIDEO_EXTENSIONS
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(functools.partial(fh.read, 1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- video


def process_video(
    source: Path, stripped_dir: Path, *, max_seconds: float, now: datetime | None = None
) -> ProcessedVideo:
    """Checks the clip at ``source``, writes its metadata-free copy into ``stripped_dir`` (named by
    the original's SHA-256, ``.mp4`` or ``.webm``), returns the rest. Raises :class:`VideoRejected`;
    a half-written copy is removed on failure."""
    size = source.stat().st_size
    if size == 0:
        raise VideoRejected(VideoProblem.EMPTY)
    now = now or datetime.now(UTC)
    try:
        with av.open(str(source), metadata_errors="ignore") as container:
            video = _video_stream(container)
            duration = _duration(container, video)
            if duration > max_seconds:
                raise VideoRejected(VideoProblem.TOO_LONG, limit=int(max_seconds))
            facts = _facts(container, source, now)
            frames = _sample_frames(container, video, duration)
            codecs = {s.codec_context.name for s in (*container.streams.video, *container.streams.audio)}
    except av.error.FFmpegError:
        raise VideoRejected(VideoProblem.NOT_A_VIDEO) from None
    if not frames:
        raise VideoRejected(VideoProblem.NO_PICTURE)
    sha256 = sha256_of(source)
    webm = codecs <= (_WEBM_VIDEO | _WEBM_AUDIO) and not codecs <= _MP4_VIDEO
    stripped = stripped_dir / f"{sha256}.{'webm' if webm else 'mp4'}"
    stripped_dir.mkdir(parents=True, exist_ok=True)
    try:
        reencoded = not _remux(source, stripped)
        if reencoded:
            stripped = stripped.with_suffix(".mp4")
            _reencode(source, stripped)
    except av.error.FFmpegError:
        stripped.unlink(missing_ok=True)
        raise VideoRejected(VideoProblem.NOT_A_VIDEO) from None
    middle = frames[len(frames) // 2]
    thumbnail = _fit(middle, THUMBNAIL_MAX_SIDE, Image.Resampling.LANCZOS, 2.0)
    return ProcessedVideo(
        sha256=sha256,
        phash=_phash(middle),
        frame_hashes=tuple(_phash(frame) for frame in frames),
        width=middle.width,
        height=middle.height,
        duration_s=round(duration, 3),
        size_bytes=size,
        mime_type="video/webm" if stripped.suffix == ".webm" else "video/mp4",
        stripped_path=stripped,
        reencoded=reencoded,
        thumbnail_jpeg=_encode_clean_jpeg(thumbnail, THUMBNAIL_QUALITY),
        facts=facts,
    )


def _video_stream(container: Any) -> Any:
    for stream in container.streams.video:
        # Cover art in an audio file is a "video" stream of one attached picture: not a clip.
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    raise VideoRejected(VideoProblem.NO_PICTURE)


def _duration(container: Any, stream: Any) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return float(container.duration / av.time_base)
    return 0.0  # unknown (a raw stream): the frames decide


def _rotated(frame: Any) -> Image.Image:
    """The frame as shown (the display matrix's rotation applied), scaled to :data:`FRAME_SIDE`."""
    width, height = frame.width, frame.height
    scale = min(1.0, FRAME_SIDE / max(width, height))
    small = frame.reformat(
        width=max(2, round(width * scale)), height=max(2, round(height * scale)), format="rgb24"
    )
    image: Image.Image = small.to_image()
    rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    # The display matrix turns counter-clockwise; PIL's rotate too (expand keeps the whole picture).
    return image.rotate(rotation, expand=True) if rotation else image


def _sample_frames(container: Any, stream: Any, duration: float) -> list[Image.Image]:
    """Frames at :data:`FRAME_FRACTIONS` of the clip (accurate seek: key frame, then decode forward)."""
    stream.thread_type = "AUTO"
    if duration <= 0:  # unknown length: the first frames will have to do
        return [_rotated(f) for f in _first_frames(container, stream, 1)]
    frames: list[Image.Image] = []
    base = stream.time_base
    start = float(stream.start_time * base) if stream.start_time is not None and base else 0.0
    for fraction in FRAME_FRACTIONS:
        target = start + duration * fraction
        with contextlib.suppress(av.error.FFmpegError):  # not seekable: decode from where we are
            container.seek(int(target / base) if base else int(target * av.time_base),
                           stream=stream if base else None, backward=True, any_frame=False)
        picked = None
        for frame in _decoded(container, stream):
            picked = frame
            if frame.time is None or frame.time >= target - 1e-3:
                break
        if picked is not None:
            frames.append(_rotated(picked))
    return frames


def _first_frames(container: Any, stream: Any, n: int) -> Iterator[Any]:
    for i, frame in enumerate(_decoded(container, stream)):
        if i >= n:
            return
        yield frame


def _decoded(container: Any, stream: Any) -> Iterator[Any]:
    """Decoded frames; a damaged packet in the middle is skipped, as players do."""
    for packet in container.demux(stream):
        try:
            yield from packet.decode()
        except av.error.InvalidDataError:
            continue


def _remux(source: Path, target: Path) -> bool:
    """Copies the video and audio packets into a metadata-free container; False when they cannot be."""
    target.unlink(missing_ok=True)
    with av.open(str(source), metadata_errors="ignore") as src:
        video = _video_stream(src)
        audio = next(iter(src.streams.audio), None)
        webm = target.suffix == ".webm"
        allowed_video, allowed_audio = (_WEBM_VIDEO, _WEBM_AUDIO) if webm else (_MP4_VIDEO, _MP4_AUDIO)
        if video.codec_context.name not in allowed_video:
            return False
        if audio is not None and audio.codec_context.name not in allowed_audio:
            return False
        if src.format.name in ("h264", "hevc", "m4v"):  # raw streams have no timestamps to copy
            return False
        streams = [s for s in (video, audio) if s is not None]
        with av.open(str(target), "w", format="webm" if webm else "mp4", options=_CLEAN_OPTIONS) as out:
            out.metadata.clear()
            mapping = {}
            for s in streams:
                copy = out.add_stream_from_template(s)
                copy.metadata.clear()
                mapping[s.index] = copy
            # SEI units carry the encoder's own text ("x264 - core 164 ...", x265's options, a vendor's
            # user data): dropped from H.264/HEVC, they play the same without them. The output
            # stream takes the filter's parameters, so SEI kept in the extradata (hvcC) goes too.
            sei = _SEI_FILTERS.get(video.codec_context.name)
            bsf = av.bitstream.BitStreamFilterContext(sei, video) if sei else None
            hevc_length = 0  # HEVC: SEI dropped here (FFmpeg's filter_units garbles length-prefixed HEVC)
            if video.codec_context.name == "hevc" and video.codec_context.extradata:
                # x265 and phone encoders also keep SEI in the hvcC record.
                clean = _hvcc_without_sei(bytes(video.codec_context.extradata))
                if clean is not None:
                    mapping[video.index].codec_context.extradata = clean
                    hevc_length = (clean[21] & 3) + 1
            for packet in src.demux(streams):
                if packet.dts is None:  # the demuxer's end-of-stream marker
                    continue
                out_stream = mapping[packet.stream.index]
                if packet.stream is video and hevc_length:
                    filtered = [_without_hevc_sei(packet, hevc_length)]
                elif packet.stream is video and bsf is not None:
                    filtered = bsf.filter(packet)
                else:
                    filtered = [packet]
                for p in filtered:
                    p.stream = out_stream
                    out.mux(p)
            if bsf is not None:
                for p in bsf.filter(None):
                    p.stream = mapping[video.index]
                    out.mux(p)
    return True


def _without_hevc_sei(packet: Any, length_size: int) -> Any:
    """The packet without its SEI NAL units (length-prefixed HEVC, as in MP4/QuickTime)."""
    data = bytes(packet)
    kept = bytearray()
    position = 0
    while position + length_size <= len(data):
        size = int.from_bytes(data[position:position + length_size], "big")
        end = position + length_size + size
        if end > len(data):
            return packet  # not what we expected: leave it as it is
        if size and (data[position + length_size] >> 1) & 0x3F not in (39, 40):
            kept += data[position:end]
        position = end
    if len(kept) == len(data):
        return packet
    clean = av.Packet(bytes(kept))
    clean.pts, clean.dts, clean.time_base = packet.pts, packet.dts, packet.time_base
    clean.duration = packet.duration
    clean.is_keyframe = packet.is_keyframe
    return clean


def _hvcc_without_sei(record: bytes) -> bytes | None:
    """An HEVCDecoderConfigurationRecord with its SEI NAL arrays (types 39, 40) left out; None when
    it is not one (Annex B extradata starts with a start code instead of version 1)."""
    if len(record) < 23 or record[0] != 1:
        return None
    arrays, position = [], 23
    try:
        for _ in range(record[22]):
            start, nal_type = position, record[position] & 0x3F
            count = struct.unpack(">H", record[position + 1:position + 3])[0]
            position += 3
            for _ in range(count):
                position += 2 + struct.unpack(">H", record[position:position + 2])[0]
            if position > len(record):
                return None
            if nal_type not in (39, 40):
                arrays.append(record[start:position])
    except struct.error:
        return None
    return record[:22] + bytes([len(arrays)]) + b"".join(arrays) + record[position:]


def _reencode(source: Path, target: Path, max_side: int = 1280) -> None:
    """Re-encodes to H.264/AAC MP4 from pixels and samples only (codecs MP4 cannot carry), then
    remuxes that through :func:`_remux`, whose filter drops x264's own SEI text."""
    encoded = target.with_name(target.stem + ".encoding.mp4")
    try:
        _encode_h264(source, encoded, max_side)
        if not _remux(encoded, target):
            raise av.error.InvalidDataError(0, "re-encoded copy cannot be remuxed")
    finally:
        encoded.unlink(missing_ok=True)


def _encode_h264(source: Path, target: Path, max_side: int) -> None:
    with av.open(str(source), metadata_errors="ignore") as src:
        video = _video_stream(src)
        audio = next(iter(src.streams.audio), None)
        rate = video.average_rate or 25
        with av.open(str(target), "w", format="mp4", options=_CLEAN_OPTIONS) as out:
            width, height = video.codec_context.width, video.codec_context.height
            scale = min(1.0, max_side / max(width, height, 1))
            v_out = out.add_stream("libx264", rate=rate, options={"preset": "veryfast", "crf": "26"})
            v_out.width = max(2, round(width * scale)) // 2 * 2  # even sizes for 4:2:0
            v_out.height = max(2, round(height * scale)) // 2 * 2
            v_out.pix_fmt = "yuv420p"
            a_out = out.add_stream("aac", rate=44100) if audio is not None else None
            resampler = av.AudioResampler(format="fltp", layout="mono", rate=44100) if audio else None
            streams = [s for s in (video, audio) if s is not None]
            for packet in src.demux(streams):
                try:
                    decoded = packet.decode()
                except av.error.InvalidDataError:
                    continue
                frame: Any
                for frame in decoded:
                    if packet.stream.type == "video":
                        frame = frame.reformat(width=v_out.width, height=v_out.height, format="yuv420p")
                        frame.pts = None
                        out.mux(v_out.encode(frame))
                    elif a_out is not None and resampler is not None:
                        for chunk in resampler.resample(frame):
                            chunk.pts = None
                            out.mux(a_out.encode(chunk))
            out.mux(v_out.encode(None))
            if a_out is not None:
                out.mux(a_out.encode(None))
            for s in out.streams:
                s.metadata.clear()
            out.metadata.clear()


def _facts(container: Any, source: Path, now: datetime) -> PhotoFacts:
    """Position and creation time from the container's tags, the loci box and XMP (first found wins)."""
    tags: dict[str, str] = {k.lower(): v for k, v in container.metadata.items()}
    for stream in container.streams:
        for k, v in stream.metadata.items():
            tags.setdefault(k.lower(), v)
    lat = lon = alt = None
    for key in ("com.apple.quicktime.location.iso6709", "location", "location-eng"):
        if key in tags and (parsed := parse_iso6709(tags[key])) is not None:
            lat, lon, alt = parsed
            break
    boxes = _mp4_boxes(source) if container.format.name.startswith("mov") else {}
    if lat is None and "loci" in boxes:
        parsed = _parse_loci(boxes["loci"])
        if parsed is not None:
            lat, lon, alt = parsed
    xmp = boxes.get("xmp", b"").decode("utf-8", "replace")
    if lat is None and xmp:
        lat, lon = _xmp_position(xmp)
    taken = None
    for key in ("com.apple.quicktime.creationdate", "creation_time", "date"):
        if key in tags and (taken := _plausible_time(tags[key], now)) is not None:
            break
    if taken is None and xmp:
        match = re.search(r"(?:xmp:CreateDate|exif:DateTimeOriginal|photoshop:DateCreated)"
                          r"(?:=\"|>)([0-9T:+\-.Z ]{10,35})", xmp)
        if match:
            taken = _plausible_time(match.group(1), now)
    return PhotoFacts(latitude=lat, longitude=lon, altitude_m=alt, taken_at=taken)


def read_facts(path: Path, *, now: datetime | None = None) -> PhotoFacts:
    """Only what the clip knows (for tests and tools); raises :class:`VideoRejected` for a non-video."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            return _facts(container, path, now or datetime.now(UTC))
    except av.error.FFmpegError:
        raise VideoRejected(VideoProblem.NOT_A_VIDEO) from None


_ISO6709: Final = re.compile(
    r"^\s*([+-]\d+(?:\.\d*)?)([+-]\d+(?:\.\d*)?)([+-]\d+(?:\.\d*)?)?(?:CRS[^/]*)?/?\s*$"
)


def parse_iso6709(text: str) -> tuple[float, float, float | None] | None:
    """'+37.3301+113.5702+1032.5/' (also ±DDMM.M and ±DDMMSS.S forms) → (lat, lon, altitude)."""
    match = _ISO6709.match(text)
    if match is None:
        return None
    lat = _iso_angle(match.group(1), 2)
    lon = _iso_angle(match.group(2), 3)
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    if lat == 0 and lon == 0:
        return None  # "no fix" written as zeros
    alt = float(match.group(3)) if match.group(3) else None
    return lat, lon, alt


def _iso_angle(text: str, degree_digits: int) -> float | None:
    sign = -1.0 if text[0] == "-" else 1.0
    body = text[1:]
    whole = body.split(".")[0]
    fraction = float("0." + body.split(".")[1]) if "." in body and body.split(".")[1] else 0.0
    if len(whole) == degree_digits:
        value = int(whole) + fraction
    elif len(whole) == degree_digits + 2:
        value = int(whole[:degree_digits]) + (int(whole[degree_digits:]) + fraction) / 60
    elif len(whole) == degree_digits + 4:
        value = (int(whole[:degree_digits]) + int(whole[degree_digits:degree_digits + 2]) / 60
                 + (int(whole[degree_digits + 2:]) + fraction) / 3600)
    else:
        return None
    return sign * value


def _plausible_time(text: str, now: datetime) -> datetime | None:
    """An ISO 8601 time (UTC when it says Z; Apple's '+0800' offsets too), if plausible."""
    raw = text.strip().replace("Z", "+00:00").replace(" ", "T")
    raw = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", raw)
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # QuickTime/MP4 creation times are UTC
    reference = now if now.tzinfo else now.replace(tzinfo=UTC)
    if moment.year < _EARLIEST_YEAR or moment > reference + _FUTURE_TOLERANCE:
        return None
    return moment


# ISO BMFF boxes that hold other boxes (meta is a full box in MP4, a plain one in QuickTime).
_CONTAINERS: Final = frozenset({b"moov", b"trak", b"mdia", b"minf", b"udta", b"meta"})


def _mp4_boxes(path: Path) -> dict[str, bytes]:
    """The payloads of the first ``loci`` box and of an XMP packet (udta ``XMP_`` or the XMP uuid)."""
    found: dict[str, bytes] = {}
    try:
        with path.open("rb") as fh:
            for kind, offset, size in _top_level(fh):
                if kind == b"moov" and size <= MAX_MOOV_BYTES:
                    fh.seek(offset)
                    _walk(fh.read(size), found)
                elif kind == b"uuid" and size <= MAX_MOOV_BYTES:
                    fh.seek(offset)
                    payload = fh.read(size)
                    if payload[:16] == _XMP_UUID:
                        found.setdefault("xmp", payload[16:])
    except (OSError, struct.error):
        pass
    return found


def _top_level(fh: Any) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload offset, payload size) of each top-level box, by seeking (nothing big read)."""
    position = 0
    end = fh.seek(0, io.SEEK_END)
    while position + 8 <= end:
        fh.seek(position)
        header = fh.read(16)
        size, kind = struct.unpack(">I4s", header[:8])
        start = 8
        if size == 1:
            size, start = struct.unpack(">Q", header[8:16])[0], 16
        elif size == 0:
            size = end - position
        if size < start:
            return
        yield kind, position + start, size - start
        position += size


def _walk(data: bytes, found: dict[str, bytes]) -> None:
    position = 0
    while position + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[position:position + 8])
        if size < 8 or position + size > len(data):
            return
        payload = data[position + 8:position + size]
        if kind == b"loci":
            found.setdefault("loci", payload)
        elif kind == b"XMP_":
            found.setdefault("xmp", payload)
        elif kind in _CONTAINERS:
            # ISO meta starts with version/flags; QuickTime's starts with its hdlr box directly.
            if kind == b"meta" and payload[4:8] != b"hdlr":
                payload = payload[4:]
            _walk(payload, found)
        position += size


def _parse_loci(payload: bytes) -> tuple[float, float, float | None] | None:
    """3GPP TS 26.244 location box: version/flags, language, name, role, then 16.16 fixed lon/lat/alt."""
    try:
        body = payload[6:]  # 4 bytes version/flags, 2 bytes language
        if body[:2] in (b"\xfe\xff", b"\xff\xfe"):  # UTF-16 name, two-byte terminator
            end = next(i for i in range(2, len(body) - 1, 2) if body[i:i + 2] == b"\0\0") + 2
        else:
            end = body.index(b"\0") + 1
        lon, lat, alt = struct.unpack(">iii", body[end + 1:end + 13])  # after the role byte
    except (ValueError, StopIteration, struct.error):
        return None
    latitude, longitude = lat / 65536, lon / 65536
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180) or (latitude == 0 and longitude == 0):
        return None
    return latitude, longitude, alt / 65536


_XMP_GPS: Final = re.compile(
    r"exif:GPS(Latitude|Longitude)(?:=\"|>)\s*(\d+),(\d+(?:\.\d+)?)(?:,(\d+(?:\.\d+)?))?([NSEW])"
)


def _xmp_position(xmp: str) -> tuple[float | None, float | None]:
    """exif:GPSLatitude / GPSLongitude in XMP's 'DDD,MM.mmk' or 'DDD,MM,SSk' form."""
    values: dict[str, float] = {}
    for axis, degrees, minutes, seconds, ref in _XMP_GPS.findall(xmp):
        value = int(degrees) + float(minutes) / 60 + (float(seconds) / 3600 if seconds else 0)
        values[axis] = -value if ref in "SW" else value
    lat, lon = values.get("Latitude"), values.get("Longitude")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    return lat, lon


# --------------------------------------------------------------------------- voice and audio


def process_audio(source: Path, target: Path, *, max_seconds: float) -> ProcessedAudio:
    """Checks a voice note or audio file and writes it as metadata-free Ogg Opus to ``target``."""
    size = source.stat().st_size
    if size == 0:
        raise VideoRejected(VideoProblem.NOT_AUDIO)
    target.unlink(missing_ok=True)
    try:
        with av.open(str(source), metadata_errors="ignore") as src:
            if not src.streams.audio:
                raise VideoRejected(VideoProblem.NOT_AUDIO)
            stream = src.streams.audio[0]
            duration = _duration(src, stream)
            if duration > max_seconds:
                raise VideoRejected(VideoProblem.AUDIO_TOO_LONG, limit=int(max_seconds))
            samples = 0
            with av.open(str(target), "w", format="ogg", options=_CLEAN_OPTIONS) as out:
                out.metadata.clear()
                opus = out.add_stream("libopus", rate=48000, options={"application": "voip"})
                opus.layout = "mono"
                opus.bit_rate = 32000
                resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
                for packet in src.demux(stream):
                    try:
                        decoded = packet.decode()
                    except av.error.InvalidDataError:
                        continue
                    for frame in decoded:
                        for chunk in resampler.resample(frame):
                            samples += chunk.samples
                            chunk.pts = None
                            out.mux(opus.encode(chunk))
                        if samples > max_seconds * 48000:
                            raise VideoRejected(VideoProblem.AUDIO_TOO_LONG, limit=int(max_seconds))
                out.mux(opus.encode(None))
                opus.metadata.clear()
    except VideoRejected:
        target.unlink(missing_ok=True)
        raise
    except av.error.FFmpegError:
        target.unlink(missing_ok=True)
        raise VideoRejected(VideoProblem.NOT_AUDIO) from None
    if samples == 0:
        target.unlink(missing_ok=True)
        raise VideoRejected(VideoProblem.NOT_AUDIO)
    return ProcessedAudio(sha256=sha256_of(source), duration_s=round(samples / 48000, 2), size_bytes=size)


# One clip at a time: FFmpeg decodes with its own threads, and one worker bounds the memory a burst
# of clips can take (the photo pool stays free for photos).
_EXECUTOR: Final = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="video")


async def process_video_async(source: Path, stripped_dir: Path, *, max_seconds: float,
                              now: datetime | None = None) -> ProcessedVideo:
    """:func:`process_video` in the video thread, never on the event loop."""
    loop = asyncio.get_running_loop()
    call = functools.partial(process_video, source, stripped_dir, max_seconds=max_seconds, now=now)
    return await loop.run_in_executor(_EXECUTOR, call)


async def process_audio_async(source: Path, target: Path, *, max_seconds: float) -> ProcessedAudio:
    """:func:`process_audio` in the video thread."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        _EXECUTOR, functools.partial(process_audio, source, target, max_seconds=max_seconds)
    )


def format_duration(seconds: float) -> str:
    """0:07, 1:35, 1:02:03 — how players show a length."""
    total = max(0, math.ceil(seconds - 1e-6)) if seconds < 1 else round(seconds)
    hours, rest = divmod(int(total), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
