"""Peak memory of one upload per picture format at its pixel cap (uploads cannot exhaust memory).

Run: ``python bench/bench_formats.py``.

The service runs under ``MemoryMax=512M`` (deploy/leopard-watch.service) with two photo workers,
so one photo must stay well under half of it. For each format an attacker (or a camera) can send,
this script writes the largest picture ``bot.photos`` accepts — or, for a format it refuses, one
at the general 60 MP cap — and has a FRESH interpreter process it with ``process_photo``; the
child reports its peak RSS (VmHWM) and what happened (accepted, or refused and why). Target:
every peak < 300 MB.

Pictures are built without holding them decoded where a format allows (PNGs are written row band
by row band with zlib, like the 132 kB file from the issue), and are small files of big pictures:
smooth gradients, the kind of content a decompression bomb uses.

``--code DIR`` runs the children against another checkout (e.g. ``--code /work/main`` for the
figures before this change); ``--only NAME`` runs one case. Ends with a ``RESULT {json}`` line.
"""

from __future__ import annotations

import argparse
import io
import json
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.photos import DECODE_BUDGET_BYTES, MAX_DOWNLOAD_BYTES, MAX_PIXELS  # noqa: E402

TARGET_MB = 300.0


def dims(pixels: int) -> tuple[int, int]:
    """The largest 4:3 size (multiples of 16) with at most ``pixels`` pixels."""
    unit = int((pixels / 12) ** 0.5)
    while (4 * unit // 16 * 16) * (3 * unit // 16 * 16) > pixels:
        unit -= 1
    return 4 * unit // 16 * 16, 3 * unit // 16 * 16


def cap(bytes_per_pixel: int) -> int:
    """Pixels a format costing ``bytes_per_pixel`` may have (mirrors ``bot.photos._decode_cost``)."""
    return min(MAX_PIXELS, DECODE_BUDGET_BYTES // bytes_per_pixel)


# ------------------------------------------------------------------------------------- PNG writer


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def gradient_rows(width: int, top: int, rows: int, channels: int, depth: int) -> np.ndarray:
    """A smooth colour gradient, ``rows`` rows from ``top``, as big-endian samples."""
    top_max = (1 << depth) - 1
    x = np.arange(width, dtype=np.uint32)[None, :]
    y = np.arange(top, top + rows, dtype=np.uint32)[:, None]
    planes = [((x * (3 + c) + y * (5 - c)) * (top_max // 4096 + 1)) % (top_max + 1) for c in range(channels)]
    if channels in (2, 4):  # the alpha plane: opaque with a transparent stripe
        planes[-1] = np.where((x // 97) % 5 == 0, 0, top_max) + 0 * y
    stacked = np.stack(planes, axis=-1).astype(">u2" if depth == 16 else np.uint8)
    return stacked.reshape(rows, -1)


def write_png(
    path: Path, width: int, height: int, colour_type: int, depth: int, palette: bool = False
) -> None:
    """A PNG written band by band (filter Sub, so gradients compress to almost nothing)."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type]
    bpp = max(1, channels * depth // 8)
    compressor = zlib.compressobj(9)
    with path.open("wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n")
        out.write(_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)))
        if palette:
            out.write(_chunk(b"PLTE", bytes(v for i in range(256) for v in (i, 255 - i, (i * 7) % 256))))
            out.write(_chunk(b"tRNS", bytes([0] + [255] * 255)))  # index 0 transparent
        idat = bytearray()
        for top in range(0, height, 64):
            rows = min(64, height - top)
            raw = gradient_rows(width, top, rows, channels, depth).view(np.uint8).reshape(rows, -1)
            filtered = raw.copy()
            filtered[:, bpp:] = raw[:, bpp:] - raw[:, :-bpp]  # uint8 wraps: the Sub filter
            lines = np.concatenate([np.ones((rows, 1), np.uint8), filtered], axis=1)
            idat += compressor.compress(lines.tobytes())
            if len(idat) > 1 << 20:
                out.write(_chunk(b"IDAT", bytes(idat)))
                idat.clear()
        idat += compressor.flush()
        out.write(_chunk(b"IDAT", bytes(idat)))
        out.write(_chunk(b"IEND", b""))


# ------------------------------------------------------------------------------------- other formats


def gradient_image(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """A decoded gradient (for encoders that need one), built band by band."""
    img = Image.new(mode, (width, height))
    channels = len(mode)
    for top in range(0, height, 256):
        rows = min(256, height - top)
        band = gradient_rows(width, top, rows, channels, 8).reshape(rows, width, channels)
        img.paste(Image.fromarray(band.squeeze(-1) if channels == 1 else band, mode), (0, top))
    return img


def pillow_file(
    fmt: str, width: int, height: int, mode: str = "RGB", **params: object
) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        img = gradient_image(width, height, mode)
        out = io.BytesIO()
        img.save(out, fmt, **params)
        path.write_bytes(out.getvalue())

    return write


def png(
    width: int, height: int, colour_type: int, depth: int, palette: bool = False
) -> Callable[[Path], None]:
    return lambda path: write_png(path, width, height, colour_type, depth, palette)


def cases() -> list[tuple[str, tuple[int, int], Callable[[Path], None]]]:
    """(name, size, writer): each format at its cap (see ``bot.photos._decode_cost``)."""
    rgba16 = dims(cap(4))
    grey16 = dims(cap(2))
    pal = dims(cap(1))
    heif = dims(cap(10))
    webp = dims(cap(20))
    prog444 = dims(cap(6 + 1))  # coefficients (3 x 2 bytes) + the 1/2-scaled RGB output (4/4 bytes)
    prog420 = dims(cap(3 + 1))
    full = dims(MAX_PIXELS)
    return [
        ("PNG 16-bit RGBA", rgba16, png(*rgba16, colour_type=6, depth=16)),
        ("PNG 16-bit RGB", rgba16, png(*rgba16, colour_type=2, depth=16)),
        ("PNG 16-bit grey", grey16, png(*grey16, colour_type=0, depth=16)),
        ("PNG 16-bit grey+alpha", rgba16, png(*rgba16, colour_type=4, depth=16)),
        ("PNG palette + transparency", pal, png(*pal, colour_type=3, depth=8, palette=True)),
        ("PNG 8-bit RGBA", rgba16, png(*rgba16, colour_type=6, depth=8)),
        ("GIF (palette)", pal, pillow_file("GIF", *pal, mode="L")),
        ("WebP RGBA", webp, pillow_file("WEBP", *webp, mode="RGBA", quality=50, method=0)),
        ("HEIC", heif, pillow_file("HEIF", *heif, quality=30)),
        ("AVIF", heif, pillow_file("AVIF", *heif, quality=30, speed=10)),
        (
            "TIFF (refused format)",
            full,
            pillow_file("TIFF", *full, mode="L", compression="tiff_adobe_deflate"),
        ),
        ("JPEG progressive 4:4:4", prog444, pillow_file("JPEG", *prog444, progressive=True, subsampling=0)),
        ("JPEG progressive 4:2:0", prog420, pillow_file("JPEG", *prog420, progressive=True, subsampling=2)),
        ("JPEG baseline 4:2:0", full, pillow_file("JPEG", *full, quality=60)),
    ]


# ------------------------------------------------------------------------------------- measuring

# VmHWM of the child's own address space (ru_maxrss would carry this parent's high-water mark).
CHILD = """
import json, sys
sys.path.insert(0, {root!r})
from bot.photos import PhotoRejected, process_photo
def hwm():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
data = open({path!r}, "rb").read()
base = hwm()
try:
    result = process_photo(data)
    outcome = f"accepted ({{result.width}}x{{result.height}} -> derived {{len(result.derived_jpeg):,}} B)"
except PhotoRejected as rejected:
    outcome = f"refused: {{rejected.problem.value}}"
print(json.dumps({{"base_kb": base, "peak_kb": hwm(), "outcome": outcome}}))
"""


def measure(path: Path, code_root: Path) -> dict[str, object]:
    code = CHILD.format(root=str(code_root), path=str(path))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1]
        return {"base_kb": 0, "peak_kb": 0, "outcome": f"crashed (status {done.returncode}): {tail}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose bot.photos is measured")
    parser.add_argument("--only", action="append", help="run only cases whose name contains this")
    args = parser.parse_args()
    rows = []
    print(f"decode budget {DECODE_BUDGET_BYTES / 2**20:.0f} MiB, pixel cap {MAX_PIXELS:,}; code: {args.code}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (width, height), write in cases():
            if args.only and not any(part.lower() in name.lower() for part in args.only):
                continue
            path = Path(tmp) / "picture"
            write(path)
            size = path.stat().st_size
            result = measure(path, args.code)
            path.unlink()
            peak_mb = int(result["peak_kb"]) / 1024  # type: ignore[call-overload]
            base_mb = int(result["base_kb"]) / 1024  # type: ignore[call-overload]
            ok = 0 < peak_mb < TARGET_MB and size <= MAX_DOWNLOAD_BYTES
            rows.append(
                {
                    "name": name,
                    "size": f"{width}x{height}",
                    "megapixels": round(width * height / 1e6, 1),
                    "file_bytes": size,
                    "peak_mb": round(peak_mb, 1),
                    "base_mb": round(base_mb, 1),
                    "outcome": result["outcome"],
                    "ok": ok,
                }
            )
            print(
                f"{name:28} {width:>5}x{height:<5} ({width * height / 1e6:4.1f} MP, "
                f"file {size / 1e3:8.1f} kB): "
                f"peak RSS {peak_mb:6.1f} MB (before processing {base_mb:5.1f} MB) "
                f"{'PASS' if ok else 'MISS'}  {result['outcome']}",
                flush=True,
            )
    worst = max((row["peak_mb"] for row in rows), default=0.0)
    print(f"worst peak RSS {worst:.1f} MB (target < {TARGET_MB:.0f} MB)")
    print("RESULT " + json.dumps({"rows": rows, "worst_mb": worst, "target_mb": TARGET_MB}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
