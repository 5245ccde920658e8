"""Benchmark for bot/photos.py (a script, not a test): ``python bench/bench_photos.py``.

Prints, with PASS/MISS against the targets:

* ms per 12-megapixel JPEG (4000x3000, gradients + shapes + noise, quality 90) for the naive path
  (full decode; resize to the derived and thumbnail sizes with Pillow's default filter;
  ``imagehash.phash`` on the full image; encode both JPEGs) and for ``process_photo``; the ratio
  (target >= 5x). The naive figure without the two encodes is printed too, for reference;
* hash stability: the largest Hamming distance between an original and re-encoded/resized copies
  of several synthetic pictures (target <= 4), and the smallest distance between different ones;
* peak RSS of a fresh subprocess processing a 50-megapixel JPEG (target < 200 MB).
"""

from __future__ import annotations

import io
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.photos import (  # noqa: E402 - after the sys.path tweak, so the script runs from anywhere
    DERIVED_MAX_SIDE,
    DERIVED_QUALITY,
    MAX_PIXELS,
    THUMBNAIL_MAX_SIDE,
    THUMBNAIL_QUALITY,
    _process,
    hamming,
    process_photo,
)

REPEATS = 7


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


def fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def naive(data: bytes, *, encode_outputs: bool = True) -> None:
    """What one writes first: decode everything, resize from the full image, hash the full image."""
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        rgb = img.convert("RGB")
    derived = rgb.resize(fit(rgb.size, DERIVED_MAX_SIDE))
    thumbnail = rgb.resize(fit(rgb.size, THUMBNAIL_MAX_SIDE))
    imagehash.phash(rgb)
    if encode_outputs:
        encode(derived, quality=DERIVED_QUALITY)
        encode(thumbnail, quality=THUMBNAIL_QUALITY)


def ms_per_call(func: Callable[[], object]) -> float:
    func()  # warm-up (plugin registration, caches)
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


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


# The child imports only what its path needs, so the baseline is not inflated by imagehash/scipy.
# It reports VmHWM (the peak RSS of its own address space) rather than ru_maxrss: Linux carries
# the *parent's* high-water mark into ru_maxrss across fork/vfork + exec, so RUSAGE_CHILDREN would
# report this (big) benchmark process, not the child.
CHILD = """
import sys
sys.path.insert(0, {root!r})
if {naive!r}:
    from bench.bench_photos import naive as run
else:
    from bot.photos import process_photo as run
def hwm():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
data = open({path!r}, "rb").read()
base = hwm()
run(data)
print(base, hwm())
"""


def peak_rss_mb(path: str, *, naive_path: bool) -> tuple[float, float]:
    """(peak RSS, peak RSS before processing) of a fresh interpreter processing the file, in MB."""
    code = CHILD.format(root=str(ROOT), path=path, naive=naive_path)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    base, peak = (int(field) / 1024 for field in result.stdout.split())  # kB
    return peak, base


def main() -> None:
    verdict: list[tuple[str, str, str, bool]] = []

    photo_12mp = encode(synthetic_image(4000, 3000, seed=42), quality=90)
    ours = ms_per_call(lambda: process_photo(photo_12mp))
    # The same pipeline, with the derived decoded at the 2560 px cap (full decode + resample).
    strict = ms_per_call(
        lambda: _process(photo_12mp, now=None, max_pixels=MAX_PIXELS, derived_min_side=DERIVED_MAX_SIDE)
    )
    naive_ms = ms_per_call(lambda: naive(photo_12mp))
    naive_no_encode = ms_per_call(lambda: naive(photo_12mp, encode_outputs=False))
    ratio = naive_ms / ours
    print(f"12 MP JPEG, {len(photo_12mp) / 1e6:.1f} MB, median of {REPEATS}")
    print(f"  naive (decode, resize x2, imagehash.phash, encode x2):    {naive_ms:8.1f} ms")
    print(f"  naive without the two encodes (reference):                {naive_no_encode:8.1f} ms")
    print(f"  process_photo (derived 2000x1500 from the 1/2 DCT scale): {ours:8.1f} ms")
    print(f"  same, derived at exactly 2560 (DERIVED_MIN_SIDE=2560):   {strict:8.1f} ms")
    verdict.append(("speed-up vs naive", f"{ratio:.1f}x", ">= 5x", ratio >= 5))
    verdict.append(("speed-up vs naive w/o encodes", f"{naive_no_encode / ours:.1f}x", "(info)", True))
    verdict.append(("speed-up, derived at 2560", f"{naive_ms / strict:.1f}x", "(info)", True))

    worst, closest = hash_stability()
    verdict.append(("pHash max distance to copies", str(worst), "<= 4", worst <= 4))
    verdict.append(("pHash min distance, different", str(closest), "(info, want >> 4)", closest > 10))

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "50mp.jpg")
        big = encode(synthetic_image(8192, 6144, seed=7), quality=90)
        Path(path).write_bytes(big)
        del big
        ours_peak, baseline = peak_rss_mb(path, naive_path=False)
        naive_peak, _ = peak_rss_mb(path, naive_path=True)
    print(f"50 MP JPEG (8192x6144): peak RSS naive {naive_peak:.0f} MB, ours {ours_peak:.0f} MB")
    verdict.append(("peak RSS, 50 MP JPEG", f"{ours_peak:.0f} MB", "< 200 MB", ours_peak < 200))
    verdict.append(("  of which before processing", f"{baseline:.0f} MB", "(info)", True))

    print()
    print(f"{'figure':32} {'value':>10}  {'target':18} result")
    for name, value, target, ok in verdict:
        result = "" if target.startswith("(info") else ("PASS" if ok else "MISS")
        print(f"{name:32} {value:>10}  {target:18} {result}")


if __name__ == "__main__":
    main()
