"""Small real clips and voice notes for the tests, made with PyAV (H.264/AAC, MPEG-4, Opus).

A clip shows a fixed random picture sliding sideways, drawn at any size from the same source
image, so two encodings of one "scene" (another size, another bitrate: what Telegram does to a
forwarded video) are the same pictures, and two seeds are different ones.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image


def _scene(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 255, (9, 16, 3), dtype=np.uint8)
    return Image.fromarray(blocks).resize((640, 360), Image.Resampling.BICUBIC)


def make_clip(
    path: Path,
    *,
    fmt: str = "mp4",
    seconds: float = 2.0,
    size: tuple[int, int] = (320, 180),
    rate: int = 12,
    codec: str = "libx264",
    metadata: dict[str, str] | None = None,
    seed: int = 1,
    bit_rate: int | None = None,
    audio: bool = True,
) -> Path:
    """Writes a clip and returns its path; `metadata` are container tags (``location`` is ©xyz)."""
    scene = _scene(seed)
    out = av.open(str(path), "w", format=fmt)
    for key, value in (metadata or {}).items():
        out.metadata[key] = value
    video = out.add_stream(codec, rate=rate)
    video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
    if bit_rate:
        video.bit_rate = bit_rate
    # Bit-exact: FFmpeg's AAC encoder otherwise writes its own name ("Lavc") into the sound, which
    # phones' encoders do not, and which a copied sound track would keep.
    sound = out.add_stream("aac", rate=16000, options={"flags": "+bitexact"}) if audio else None
    frames = max(1, round(seconds * rate))
    for i in range(frames):
        shifted = Image.fromarray(np.roll(np.asarray(scene), i * 4, axis=1)).resize(size)
        frame = av.VideoFrame.from_ndarray(np.asarray(shifted.convert("RGB")), format="rgb24")
        out.mux(video.encode(frame))
    out.mux(video.encode(None))
    if sound is not None:
        _tone(out, sound, seconds, 16000)
    out.close()
    return path


def _tone(out: Any, stream: Any, seconds: float, rate: int) -> None:
    n = 1024
    for start in range(0, int(seconds * rate), n):
        t = (np.arange(n) + start) / rate
        samples = (0.2 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = rate
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def make_voice(path: Path, seconds: float = 3.0, *, metadata: dict[str, str] | None = None) -> Path:
    """An Ogg Opus voice note like Telegram's, with optional tags."""
    out = av.open(str(path), "w", format="ogg")
    for key, value in (metadata or {}).items():
        out.metadata[key] = value
    stream = out.add_stream("libopus", rate=48000)
    stream.layout = "mono"
    _tone(out, stream, seconds, 48000)
    out.close()
    return path


def add_loci(path: Path, latitude: float, longitude: float, altitude: float = 0.0) -> None:
    """Appends a 3GPP ``loci`` box (in a new ``udta``) to the clip's moov, which must be the last box."""
    data = bytearray(path.read_bytes())
    position = 0
    moov = -1
    while position < len(data):
        size, kind = struct.unpack(">I4s", data[position:position + 8])
        if kind == b"moov":
            moov = position
        position += size
    size = struct.unpack(">I", data[moov:moov + 4])[0]
    assert moov + size == len(data), "moov must be the last box"
    fixed = struct.pack(">iii", *(round(v * 65536) for v in (longitude, latitude, altitude)))
    payload = b"\0\0\0\0" + b"\x15\xc7" + b"leopard\0" + b"\0" + fixed + b"Earth\0" + b"\0"
    loci = struct.pack(">I4s", 8 + len(payload), b"loci") + payload
    udta = struct.pack(">I4s", 8 + len(loci), b"udta") + loci
    data[moov:moov + 4] = struct.pack(">I", size + len(udta))
    path.write_bytes(bytes(data) + udta)
