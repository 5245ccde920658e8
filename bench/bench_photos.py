"""Benchmark for bot/photos.py (a script, not a test): ``python bench/bench_photos.py``.

Like for like: every side makes exactly what ``process_photo`` makes from a phone JPEG — the
derived JPEG at the product's own pixel size, quality 85, 4:2:0, no metadata; a 320 px thumbnail
JPEG at quality 80; a 64-bit pHash (the product's function, on each side's thumbnail); the SHA-256
of the original and the EXIF facts (GPS, capture time) — and the script checks and prints that
the outputs match (pixel sizes, JPEG quantisation tables, subsampling, metadata segments, facts)
before it times anything. The sides:

* ``process_photo``: the product (one JPEG decode at the largest DCT scale that still gives
  >= 1,920 px, then integer box reduce / bilinear, orientation on the small image);
* Pillow, naive: ``Image.open``, ``ImageOps.exif_transpose``, ``thumbnail((N, N))``, save;
* Pillow + ``draft``, the obvious way: ``draft("RGB", (N, N))`` with the same box before
  ``exif_transpose`` and ``thumbnail`` (the box's short side limits the DCT scale);
* Pillow + ``draft`` to the output size: ``draft("RGB", (w, h))`` with the exact output size in
  the file's orientation — the product's own trick, written in four lines;
* libvips: ``pyvips.Image.thumbnail_buffer(data, N)`` (shrink-on-load, auto-rotate), kept in
  memory, ``jpegsave_buffer(Q=85, keep="none")``, ``thumbnail_image(320)``; on one thread, as
  the product decodes one photo per thread, and (information) with libvips' default threads;
* libvips shrink-on-load to the output size: ``new_from_buffer(data, "", shrink=k)`` with the
  product's factor, ``autorot()``, then as above — the product's trick in libvips.

N is the long side the product lands on for that input (2,016 px for a 12 MP phone photo, 2,040
for 50 MP, 2,560 for 8 MP, which the product cannot DCT-scale). Inputs are phone-like JPEGs made
here (gradients + shapes + noise, quality 90, EXIF orientation 6 = a phone held upright, GPS and
capture time). Time per photo: the sides take turns, one call each per round (the order rotates),
median over the rounds with the spread (min-max) and the CPU time; peak RSS: each side in a fresh
process per size. Also: pHash stability (max distance original <-> re-encoded/resized copies, and
min distance between different pictures). Ends with a ``RESULT {json}`` line for run_all.py.

pyvips is a dev dependency (``pyvips`` + ``pyvips-binary``, a wheel bundling libvips); without it
the libvips sides are reported as not measured, and the target with them.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import json
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageOps, JpegImagePlugin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.photos import (  # noqa: E402 - after the sys.path tweak, so the script runs from anywhere
    DERIVED_QUALITY,
    THUMBNAIL_MAX_SIDE,
    THUMBNAIL_QUALITY,
    PhotoFacts,
    _facts_from_exif,
    _phash,
    hamming,
    process_photo,
)

VIPS: Any = None
VIPS_MISSING = ""
VIPS_DEFAULT_THREADS = 0


def load_vips() -> Any:
    """pyvips, imported on first use (the Pillow sides' processes never load libvips); None if absent.

    A dev dependency: without it the benchmark says so instead of crashing.
    """
    global VIPS, VIPS_MISSING, VIPS_DEFAULT_THREADS
    if VIPS is None and not VIPS_MISSING:
        try:
            import pyvips
        except Exception as exc:  # noqa: BLE001 - ImportError, or OSError when libvips itself is absent
            VIPS_MISSING = (f"pyvips is not importable ({type(exc).__name__}: {exc}); "
                            "pip install pyvips pyvips-binary")
            return None
        VIPS, VIPS_DEFAULT_THREADS = pyvips, pyvips.concurrency_get()
    return VIPS


#: Phone sensors: 12 MP (4:3, most phones' default), 50 MP (the big-sensor mode), 8 MP (older
#: phones; the product cannot DCT-scale it and resamples the full decode to 2,560 px).
SIZES: dict[str, tuple[int, int]] = {"12 MP": (4032, 3024), "50 MP": (8160, 6120), "8 MP": (3264, 2448)}
ROUNDS = {"12 MP": 11, "50 MP": 7, "8 MP": 11}
NOW = datetime(2026, 6, 1, tzinfo=UTC)
#: The target: the product's CPU time per photo at most this many times that of the strongest
#: like-for-like anchor a user would pick (libvips' thumbnail), at the sizes where the product's
#: DCT scaling applies (long side >= 2 x 1,920 px: 12 MP and up). At 8 MP it is information only.
TARGET_VS_ANCHOR = 1.0
JUDGED_SIZES = ("12 MP", "50 MP")
TARGET_RSS_MB = 200.0  # at 50 MP


# ------------------------------------------------------------------------------------- inputs


def synthetic_image(width: int, height: int, seed: int) -> Image.Image:
    """A photo-like picture: smooth colour gradients, some solid shapes and sensor-like noise."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    phase = rng.uniform(0, 6.28, 3).astype(np.float32)
    img = Image.new("RGB", (width, height))
    strip = 256  # built in strips so that 50 MP does not need gigabytes of float temporaries
    for top in range(0, height, strip):
        rows = min(strip, height - top)
        y = (np.arange(top, top + rows, dtype=np.float32) / max(1, height - 1))[:, None]
        channels = np.broadcast_arrays(
            120 + 100 * np.sin(3 * x + 2 * y + phase[0]),
            120 + 100 * np.cos(2 * x - 3 * y + phase[1]),
            120 + 80 * np.sin(5 * x * y + phase[2]),
        )
        arr = np.stack(channels, axis=-1)
        arr += rng.normal(0, 10, arr.shape).astype(np.float32)
        img.paste(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB"), (0, top))
    draw = ImageDraw.Draw(img)
    unit = min(width, height)
    for _ in range(12):
        x0, y0 = int(rng.integers(0, width - unit // 4)), int(rng.integers(0, height - unit // 4))
        w, h = int(rng.integers(unit // 20, unit // 4)), int(rng.integers(unit // 20, unit // 4))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=colour)
        else:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=colour)
    return img


def encode(img: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()


def phone_exif() -> bytes:
    """What a phone writes: orientation 6 (held upright), GPS, capture time, make and model."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F], exif[0x0110] = "Xiaomi", "Redmi Note 13"
    exif[0x8825] = {1: "N", 2: (37.0, 19.0, 48.5), 3: "E", 4: (113.0, 34.0, 12.25), 31: 5.0}
    exif[0x8769] = {0x9003: "2026:05:30 18:42:07", 0x9011: "+08:00"}
    return exif.tobytes()


def phone_jpeg(size: tuple[int, int], seed: int) -> bytes:
    return encode(synthetic_image(*size, seed=seed), quality=90, exif=phone_exif())


# -------------------------------------------------------------------------------------- sides


@dataclass(frozen=True)
class Output:
    """What one side made: the same fields the product keeps (minus format and original size)."""

    sha256: str
    phash: int
    derived_jpeg: bytes
    thumbnail_jpeg: bytes
    facts: PhotoFacts


def ours(data: bytes, long_side: int) -> Output:
    """The product (``long_side`` is where it lands by itself; it is not told)."""
    photo = process_photo(data, now=NOW)
    return Output(photo.sha256, photo.phash, photo.derived_jpeg, photo.thumbnail_jpeg, photo.facts)


def rgb(img: Image.Image) -> Image.Image:
    """``convert("RGB")`` only when needed: on an RGB picture it would copy it (a phone JPEG is RGB)."""
    return img if img.mode == "RGB" else img.convert("RGB")


def pillow(data: bytes, long_side: int, *, draft: str = "") -> Output:
    """The Pillow sides: open, exif_transpose (which decodes), thumbnail, save — with ``draft`` first:

    ``""`` none (naive: full decode, full-size transpose); ``"box"`` the thumbnail's box, the obvious
    way; ``"exact"`` the output size in the file's orientation (the product's trick).
    """
    with Image.open(io.BytesIO(data)) as img:
        exif = img.getexif()
        if draft == "box":
            img.draft("RGB", (long_side, long_side))
        elif draft == "exact":
            scale = long_side / max(img.size)
            img.draft("RGB", (round(img.width * scale), round(img.height * scale)))
        derived = rgb(ImageOps.exif_transpose(img))
    derived.thumbnail((long_side, long_side))
    thumbnail = derived.copy()
    thumbnail.thumbnail((THUMBNAIL_MAX_SIDE, THUMBNAIL_MAX_SIDE))
    return Output(
        sha256=hashlib.sha256(data).hexdigest(),
        phash=_phash(thumbnail),
        derived_jpeg=encode(derived, quality=DERIVED_QUALITY),
        thumbnail_jpeg=encode(thumbnail, quality=THUMBNAIL_QUALITY),
        facts=_facts_from_exif(exif, NOW),
    )


def _vips_outputs(data: bytes, derived: Any) -> Output:
    """The small thumbnail, hash and encodes as a libvips user writes them; ``derived`` is in memory."""
    thumbnail = derived.thumbnail_image(THUMBNAIL_MAX_SIDE).copy_memory()
    pixels = np.ndarray(
        buffer=thumbnail.write_to_memory(), dtype=np.uint8, shape=(thumbnail.height, thumbnail.width, 3)
    )
    exif = Image.Exif()
    if "exif-data" in derived.get_fields():
        exif.load(derived.get("exif-data"))
    return Output(
        sha256=hashlib.sha256(data).hexdigest(),
        phash=_phash(Image.fromarray(pixels, "RGB")),
        derived_jpeg=derived.jpegsave_buffer(Q=DERIVED_QUALITY, keep="none"),
        thumbnail_jpeg=thumbnail.jpegsave_buffer(Q=THUMBNAIL_QUALITY, keep="none"),
        facts=_facts_from_exif(exif if len(exif) else None, NOW),
    )


def vips_thumbnail(data: bytes, long_side: int) -> Output:
    """libvips' thumbnail (its own shrink-on-load choice, auto-rotate), decoded once into memory."""
    pyvips = load_vips()
    assert pyvips is not None, VIPS_MISSING
    return _vips_outputs(data, pyvips.Image.thumbnail_buffer(data, long_side).copy_memory())


def vips_shrink_exact(data: bytes, long_side: int) -> Output:
    """libvips' JPEG shrink-on-load at the largest factor that keeps the output size (the product's trick)."""
    pyvips = load_vips()
    assert pyvips is not None, VIPS_MISSING
    header = pyvips.Image.new_from_buffer(data, "")  # lazy: the header only
    shrink = next(k for k in (8, 4, 2, 1) if max(header.width, header.height) // k >= long_side)
    derived = pyvips.Image.new_from_buffer(data, "", shrink=shrink).autorot()
    if max(derived.width, derived.height) > long_side:
        derived = derived.thumbnail_image(long_side)
    return _vips_outputs(data, derived.copy_memory())


Side = Callable[[bytes, int], Output]
#: name -> (function, libvips threads or None for a Pillow side). The first is the product.
SIDES: dict[str, tuple[Side, int | None]] = {
    "process_photo (ours)": (ours, None),
    "Pillow naive": (pillow, None),
    "Pillow draft(), box": (functools.partial(pillow, draft="box"), None),
    "Pillow draft(), exact size": (functools.partial(pillow, draft="exact"), None),
    "libvips thumbnail, 1 thread": (vips_thumbnail, 1),
    "libvips thumbnail, default threads": (vips_thumbnail, 0),
    "libvips shrink-on-load, exact, 1 thread": (vips_shrink_exact, 1),
}
OURS, VIPS_1 = "process_photo (ours)", "libvips thumbnail, 1 thread"


def available_sides() -> list[str]:
    return [name for name, (_, threads) in SIDES.items() if threads is None or load_vips() is not None]


def call(name: str, data: bytes, long_side: int) -> Output:
    func, threads = SIDES[name]
    if threads is not None:
        pyvips = load_vips()
        assert pyvips is not None, VIPS_MISSING
        # 0: libvips' default (one thread per core); no operation cache, so no round reuses another's.
        pyvips.concurrency_set(threads or VIPS_DEFAULT_THREADS)
        pyvips.cache_set_max(0)
    return func(data, long_side)


# --------------------------------------------------------------------------- output equality


def segments(jpeg: bytes) -> list[int]:
    """Marker codes of a JPEG up to the start of scan (where metadata segments would be)."""
    markers, pos = [], 2
    while pos < len(jpeg) and jpeg[pos] == 0xFF:
        marker = jpeg[pos + 1]
        markers.append(marker)
        if marker == 0xDA:
            break
        pos += 2 + struct.unpack(">H", jpeg[pos + 2 : pos + 4])[0]
    return markers


#: SOI-following structure only: APP0 (JFIF), DQT, SOF0, DHT, SOS — no APP1..15 (EXIF, XMP, ICC), no COM.
PLAIN_SEGMENTS = {0xE0, 0xDB, 0xC0, 0xC4, 0xDA}


def describe(jpeg: bytes) -> dict[str, Any]:
    with Image.open(io.BytesIO(jpeg)) as img:
        return {
            "size": img.size,
            "mode": img.mode,
            "tables": img.quantization,
            "sampling": JpegImagePlugin.get_sampling(img),
            "plain": set(segments(jpeg)) <= PLAIN_SEGMENTS and len(img.getexif()) == 0,
            "kb": len(jpeg) / 1000,
        }


def check_equal(label: str, outputs: dict[str, Output]) -> dict[str, str]:
    """Prints what each side made; raises when any differs from the product in kind. -> sizes."""
    reference = outputs[OURS]
    ref_d, ref_t = describe(reference.derived_jpeg), describe(reference.thumbnail_jpeg)
    print(f"  outputs ({label}): derived / thumbnail pixel size, JPEG kB, and equality with process_photo")
    problems = []
    for name, out in outputs.items():
        d, t = describe(out.derived_jpeg), describe(out.thumbnail_jpeg)
        same = {
            "pixel size": d["size"] == ref_d["size"] and t["size"] == ref_t["size"],
            "quality tables": d["tables"] == ref_d["tables"] and t["tables"] == ref_t["tables"],
            "subsampling": d["sampling"] == ref_d["sampling"] == t["sampling"] == 2,
            "RGB": d["mode"] == t["mode"] == "RGB",
            "no metadata": d["plain"] and t["plain"],
            "facts": out.facts == reference.facts and out.facts.has_location and bool(out.facts.taken_at),
            "sha256": out.sha256 == reference.sha256,
        }
        problems += [f"{name}: {what}" for what, ok in same.items() if not ok]
        print(
            f"    {name:40} {d['size'][0]}x{d['size'][1]} q{DERIVED_QUALITY} {d['kb']:6.0f} kB | "
            f"{t['size'][0]}x{t['size'][1]} q{THUMBNAIL_QUALITY} {t['kb']:4.0f} kB | 4:2:0, no metadata, "
            f"same facts | pHash distance to ours {hamming(out.phash, reference.phash)}"
            + ("" if all(same.values()) else "  DIFFERS: " + ", ".join(k for k, v in same.items() if not v))
        )
    if problems:
        raise SystemExit(f"not like for like at {label}: " + "; ".join(problems))
    return {"derived": "x".join(map(str, ref_d["size"])), "thumbnail": "x".join(map(str, ref_t["size"]))}


# ------------------------------------------------------------------------------------- timing


def time_interleaved(
    names: list[str], data: bytes, long_side: int, rounds: int
) -> dict[str, dict[str, float]]:
    """Every side once per round, the order rotating; -> {side: median/min/max wall ms, median CPU ms}."""
    walls: dict[str, list[float]] = {name: [] for name in names}
    cpus: dict[str, list[float]] = {name: [] for name in names}
    for name in names:
        call(name, data, long_side)  # warm-up (plugin registration, libvips start-up)
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            wall, cpu = time.perf_counter(), time.process_time()
            call(name, data, long_side)
            cpus[name].append((time.process_time() - cpu) * 1000)
            walls[name].append((time.perf_counter() - wall) * 1000)
    return {
        name: {
            "ms": statistics.median(walls[name]),
            "min_ms": min(walls[name]),
            "max_ms": max(walls[name]),
            "cpu_ms": statistics.median(cpus[name]),
        }
        for name in names
    }


# ---------------------------------------------------------------------------------- peak RSS

# The child reports VmHWM (the peak RSS of its own address space) rather than ru_maxrss: Linux
# carries the *parent's* high-water mark into ru_maxrss across fork/vfork + exec, so
# RUSAGE_CHILDREN would report this (big) benchmark process, not the child.
CHILD = """
import sys
sys.path.insert(0, {root!r})
from bench.bench_photos import call
def hwm():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
data = open({path!r}, "rb").read()
base = hwm()
call({name!r}, data, {long_side!r})
print(base, hwm())
"""


def peak_rss_mb(name: str, path: str, long_side: int) -> tuple[float, float]:
    """(peak RSS, peak RSS before processing) of a fresh interpreter running one side, in MB."""
    code = CHILD.format(root=str(ROOT), path=path, name=name, long_side=long_side)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    base, peak = (int(field) / 1024 for field in result.stdout.split())  # kB
    return peak, base


# ------------------------------------------------------------------------------ hash stability


def hash_stability() -> tuple[int, int]:
    """(max distance original vs copies, min distance between different pictures)."""
    worst, hashes = 0, []
    for seed in range(5):
        original = synthetic_image(2400, 1800, seed)
        reference = process_photo(encode(original, quality=90)).phash
        hashes.append(reference)
        copies = [
            encode(original, quality=60),
            encode(original.resize((1200, 900), Image.Resampling.LANCZOS), quality=80),
            encode(original.resize((800, 600), Image.Resampling.BICUBIC), quality=70),
            encode(original.resize((640, 480), Image.Resampling.BILINEAR), quality=50),
            encode(original.resize((1000, 750)), "PNG"),
            encode(original.resize((1600, 1200)), "WEBP", quality=75),
        ]
        for copy in copies:
            worst = max(worst, hamming(reference, process_photo(copy).phash))
    closest = min(hamming(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :])
    return worst, closest


# ---------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", action="append", choices=list(SIZES), help="only these inputs (repeatable)")
    parser.add_argument("--rounds", type=int, help="rounds per size (default: 11, 7 for 50 MP)")
    parser.add_argument("--no-rss", action="store_true", help="skip the fresh-process peak RSS runs")
    parser.add_argument("--quick", action="store_true", help="6 rounds per size (4 for 50 MP)")
    args = parser.parse_args()

    names = available_sides()
    pyvips = load_vips()
    if pyvips is None:
        print(f"libvips sides NOT MEASURED: {VIPS_MISSING}")
    else:
        version = ".".join(str(pyvips.version(part)) for part in range(3))
        print(f"libvips {version} (pyvips {pyvips.__version__}), default threads {VIPS_DEFAULT_THREADS}")
    result: dict[str, Any] = {"vips_missing": VIPS_MISSING, "sizes": {}}
    verdicts: list[tuple[str, str, str, bool]] = []
    for label in args.size or list(SIZES):
        size = SIZES[label]
        data = phone_jpeg(size, seed=42)
        probe = process_photo(data, now=NOW)
        long_side = max(Image.open(io.BytesIO(probe.derived_jpeg)).size)
        rounds = args.rounds or ((ROUNDS[label] + 1) // 2 if args.quick else ROUNDS[label])
        print(f"\n{label} phone JPEG {size[0]}x{size[1]}, EXIF orientation 6, {len(data) / 1e6:.1f} MB; "
              f"long side {long_side} px (where process_photo lands)")
        outputs = {name: call(name, data, long_side) for name in names}
        made = check_equal(label, outputs)
        timing = time_interleaved(names, data, long_side, rounds)
        print(f"  time per photo, {rounds} interleaved rounds: wall median (min-max), CPU median; "
              "ratio on CPU (the machine is shared)")
        for name in names:
            t = timing[name]
            versus = ""
            if name != OURS:
                ratio = t["cpu_ms"] / timing[OURS]["cpu_ms"]
                versus = f"ours {ratio:.2f}x faster" if ratio >= 1 else f"ours {1 / ratio:.2f}x SLOWER"
            print(f"    {name:40} {t['ms']:7.1f} ms ({t['min_ms']:4.0f}-{t['max_ms']:4.0f})  "
                  f"CPU {t['cpu_ms']:7.1f} ms  {versus}")
        if VIPS_1 in timing:
            ratio = timing[OURS]["cpu_ms"] / timing[VIPS_1]["cpu_ms"]
            verdicts.append((f"{label}: ours / libvips thumbnail", f"{ratio:.2f}x",
                             f"<= {TARGET_VS_ANCHOR:g}x" if label in JUDGED_SIZES else "(info)",
                             ratio <= TARGET_VS_ANCHOR))
        elif label in JUDGED_SIZES:
            verdicts.append(
                (f"{label}: ours / libvips thumbnail", "not measured", f"<= {TARGET_VS_ANCHOR:g}x", False)
            )
        entry: dict[str, Any] = {
            "input": f"{size[0]}x{size[1]}", "mb": len(data) / 1e6, "long_side": long_side, "rounds": rounds,
            **made, "sides": timing,
        }
        if not args.no_rss:
            with tempfile.TemporaryDirectory() as tmp:
                path = str(Path(tmp) / "photo.jpg")
                Path(path).write_bytes(data)
                print("  peak RSS, each side in a fresh process (before processing)")
                for name in names:
                    peak, base = peak_rss_mb(name, path, long_side)
                    timing[name].update(peak_mb=peak, base_mb=base)
                    print(f"    {name:40} {peak:6.0f} MB ({base:.0f} MB)")
            if label == "50 MP":
                peak = timing[OURS]["peak_mb"]
                verdicts.append(("peak RSS, 50 MP, ours", f"{peak:.0f} MB", f"< {TARGET_RSS_MB:.0f} MB",
                                 peak < TARGET_RSS_MB))
        result["sizes"][label] = entry
        del data, outputs

    worst, closest = hash_stability()
    print(f"\npHash: max distance original <-> copies {worst} (target <= 4); "
          f"min distance between different pictures {closest}")
    verdicts.append(("pHash max distance to copies", str(worst), "<= 4", worst <= 4))
    print(f"\n{'figure':34} {'value':>12}  {'target':10} result")
    for figure, value, target, ok in verdicts:
        verdict = "" if target == "(info)" else "PASS" if ok else "MISS"
        print(f"{figure:34} {value:>12}  {target:10} {verdict}")
    result.update(phash_worst=worst, phash_closest=closest, ours=OURS, target_side=VIPS_1,
                  target_vs_anchor=TARGET_VS_ANCHOR, judged_sizes=JUDGED_SIZES, target_rss_mb=TARGET_RSS_MB,
                  rss_judged_size="50 MP")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
