"""Uploads cannot exhaust memory or disk (issue 19 §3).

A 16-bit PNG through Telegram and the web (accepted within the decode budget; a bomb over it
refused from its header), formats decoded without a full-size second copy. The peak RSS per format
is measured by ``bench/bench_formats.py``, never by a timed test.
"""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from PIL import Image

from bot.fake_telegram import FakeTelegram
from bot.photos import DECODE_BUDGET_BYTES, PhotoProblem, PhotoRejected, _decode_cost, process_photo
from tests.conftest import Person, rows

TOO_LARGE = "too large for me to open"


def png(width: int, height: int, *, colour_type: int = 6, depth: int = 16, zeros: bool = False) -> bytes:
    """A real PNG written row band by row band (a bomb when `zeros`: a few kB for any size)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    sample = ">u2" if depth == 16 else np.uint8
    top = (1 << depth) - 1
    compressor = zlib.compressobj(6)
    idat = bytearray()
    x = np.arange(width, dtype=np.uint32)[None, :]
    for y0 in range(0, height, 64):
        n = min(64, height - y0)
        if zeros:
            raw = np.zeros((n, width * channels * depth // 8), np.uint8)
        else:
            y = np.arange(y0, y0 + n, dtype=np.uint32)[:, None]
            planes = [(x * top // max(1, width - 1)) + 0 * y, (y * top // max(1, height - 1)) + 0 * x,
                      np.full((n, width), top // 3, np.uint32), np.full((n, width), top, np.uint32)]
            pick = {1: [0], 2: [0, 3], 3: [0, 1, 2], 4: [0, 1, 2, 3]}[channels]
            raw = np.stack([planes[i] for i in pick], -1).astype(sample).reshape(n, -1).view(np.uint8)
        idat += compressor.compress(np.concatenate([np.zeros((n, 1), np.uint8), raw], 1).tobytes())
    idat += compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", bytes(idat)) + chunk(b"IEND", b"")


# --- the decode budget -------------------------------------------------------------------------


def test_16_bit_rgba_png_is_decoded_and_scaled_not_clipped() -> None:
    result = process_photo(png(2400, 1800))
    derived = Image.open(io.BytesIO(result.derived_jpeg))
    assert derived.mode == "RGB" and max(derived.size) <= 2560
    left, right = derived.getpixel((5, 5)), derived.getpixel((derived.width - 5, 5))
    assert left[0] < 20 and right[0] > 235  # the 16-bit ramp spans the whole 8-bit range
    assert 70 < left[2] < 100  # a third of 65535, scaled (not clipped to 255)


@pytest.mark.parametrize(("colour_type", "depth", "width", "height"), [
    (6, 16, 8000, 6000),  # 16-bit RGBA: 4 bytes a pixel decoded, 192 MB > the budget
    (4, 16, 8000, 6000),  # 16-bit grey + alpha
    (2, 8, 8000, 6000),  # plain RGB: Pillow keeps 4 bytes a pixel too
])
def test_png_bomb_over_the_decode_budget_refused_from_its_header(
    colour_type: int, depth: int, width: int, height: int
) -> None:
    data = png(width, height, colour_type=colour_type, depth=depth, zeros=True)
    assert len(data) < 2_000_000 and width * height < 60_000_000  # under the general pixel cap
    with pytest.raises(PhotoRejected) as refused:
        process_photo(data)
    assert refused.value.problem is PhotoProblem.TOO_MANY_PIXELS


def test_decode_cost_counts_a_progressive_jpegs_coefficients() -> None:
    img = Image.new("RGB", (1600, 1200), (10, 120, 200))
    baseline, progressive = io.BytesIO(), io.BytesIO()
    img.save(baseline, "JPEG", subsampling=0)
    img.save(progressive, "JPEG", subsampling=0, progressive=True)
    base_cost = _decode_cost(Image.open(baseline), "JPEG", 1)
    prog_cost = _decode_cost(Image.open(progressive), "JPEG", 1)
    assert base_cost == 1600 * 1200 * 4
    assert prog_cost == base_cost + 1600 * 1200 * 3 * 2  # 3 full-size components, 2 bytes a coefficient
    # At 60 MP a progressive 4:4:4 JPEG would hold 360 MB of coefficients: over the budget.
    assert DECODE_BUDGET_BYTES < 60_000_000 * 6


def test_16_bit_grey_png_never_held_as_a_full_size_array() -> None:
    """The old path made float64 copies of the whole picture (8 bytes a pixel, twice): numpy's
    allocations are traced by tracemalloc, so a full-size array of any type would show here."""
    data = png(4000, 3000, colour_type=0)
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    tracemalloc.start()
    try:
        process_photo(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4000 * 3000  # one byte a pixel: less than even a uint8 copy of the whole picture


# --- through Telegram --------------------------------------------------------------------------


async def test_16_bit_png_through_telegram(fake: FakeTelegram, running, config) -> None:
    await running()
    person = Person(fake, 901, language="en")
    await person.send("/start")
    await person.tap("Tracks, scat", contains="photos")
    await person.send_file(png(8000, 6000, zeros=True), "bomb.png", "image/png", contains=TOO_LARGE)
    await person.send_file(png(3000, 2000), "scan.png", "image/png", contains="Got 1 photo")
    await person.tap("Done", contains="Where was it")
    await person.send_location(37.3296, 113.5702)
    await person.tap("Just now", contains="What did you find")
    await person.tap("Camera-trap photo", contains="Anything to add")
    await person.tap("Skip", contains="Please check")
    await person.tap("Send report", contains="Reference code")
    photo = rows(config.database_path, "SELECT * FROM photos")
    assert len(photo) == 1 and (photo[0]["width"], photo[0]["height"]) == (3000, 2000)
    derived = Image.open(photo[0]["derived_path"])
    assert derived.mode == "RGB" and derived.getpixel((derived.width - 3, 3))[0] > 235
