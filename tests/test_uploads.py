"""Uploads cannot exhaust memory or disk.

A 16-bit PNG through Telegram and the web (accepted within the decode budget; a bomb over it
refused from its header), formats decoded without a full-size second copy. The peak RSS per format
is measured by ``bench/bench_formats.py``, never by a timed test.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import threading
import time
import tracemalloc
import zlib
from dataclasses import replace
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from PIL import Image

from bot.config import Config
from bot.fake_telegram import FakeTelegram
from bot.photos import (
    DECODE_BUDGET_BYTES,
    PhotoProblem,
    PhotoRejected,
    _ByteGate,
    _decode_cost,
    process_photo,
)
from bot.web.app import TIPLINE
from bot.web.settings import MB
from tests.kit import Person, make_jpeg, rows
from tests.test_web import SETTINGS, Browserless, hidden, sighting, tipline, web_config  # noqa: F401

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
    photo = rows(config.storage.database, "SELECT * FROM photos")
    assert len(photo) == 1 and (photo[0]["width"], photo[0]["height"]) == (3000, 2000)
    derived = Image.open(photo[0]["derived_path"])
    assert derived.mode == "RGB" and derived.getpixel((derived.width - 3, 3))[0] > 235


# --- through the web: staging, refused posts, kept-photo tokens, byte budget ----------------------


def disk_bytes(*folders: Path) -> dict[str, int]:
    """Every file under `folders` with its size (a scan of what an upload left on disk)."""
    return {str(p): p.stat().st_size for folder in folders if folder.exists()
            for p in folder.rglob("*") if p.is_file()}


def folders(config: Config) -> tuple[Path, Path]:
    media = config.storage.media_dir
    return media, media.with_name(media.name + ".staging")


def gps_jpeg(seed: int = 3) -> bytes:
    img = Image.open(io.BytesIO(make_jpeg(640, 480, seed=seed)))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (37.0, 25.0, 10.0), 3: "E", 4: (113.0, 40.0, 5.0)}  # 37.41944, 113.66806
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


async def post_raw(web: Browserless, fields: dict[str, str], photos: list[tuple[str, bytes]],
                   page: str | None = None, csrf: bool = True) -> aiohttp.ClientResponse:
    page = page if page is not None else await web.form()
    data = aiohttp.FormData()
    if csrf:
        data.add_field("csrf", hidden(page, "csrf"))
    data.add_field("draft_id", hidden(page, "draft_id"))
    for name, value in fields.items():
        data.add_field(name, value)
    for name, photo in photos:
        data.add_field("photo", photo, filename=name, content_type="image/png")
    response = await web.client.post("/report/sighting?lang=en", data=data, allow_redirects=False)
    await response.read()
    return response


async def test_16_bit_png_through_the_web(tipline, web_config: Config) -> None:
    web = await tipline()
    response = await web.post(photos=[png(3000, 2000)])
    assert response.status == 303, await response.text()
    photo = rows(web_config.storage.database, "SELECT * FROM photos")[0]
    media, staging = folders(web_config)
    assert Path(photo["original_path"]).is_relative_to(media) and Path(photo["derived_path"]).exists()
    derived = Image.open(photo["derived_path"])
    assert derived.mode == "RGB" and derived.getpixel((derived.width - 3, 3))[0] > 235
    assert disk_bytes(staging) == {}  # moved into the media folder, nothing left behind
    response = await web.post(photos=[png(8000, 6000, zeros=True)])
    assert response.status == 422 and TOO_LARGE in await response.text()


async def test_a_hundred_refused_posts_leave_nothing_on_disk(tipline, web_config: Config) -> None:
    settings = replace(SETTINGS, posts_per_hour=1000, reports_per_hour=1000, max_photo_mb=3,
                       max_request_mb=8, upload_mb_per_hour=10_000)
    web = await tipline(settings)
    good, bomb = gps_jpeg(), png(8000, 6000, zeros=True)
    big = np.random.default_rng(1).integers(0, 256, 4 * MB, dtype=np.uint8).tobytes()
    attacks = [
        ("no CSRF token", lambda n: post_raw(web, sighting(), [("a.jpg", good)], csrf=False), 403),
        ("a PNG bomb", lambda n: post_raw(web, sighting(), [("b.png", bomb)]), 422),
        ("not a picture", lambda n: post_raw(web, sighting(), [("c.png", b"GIF89a not really" * 100)]), 422),
        ("one photo over the limit", lambda n: post_raw(web, sighting(), [("d.jpg", big)]), 422),
        ("a body over the limit", lambda n: post_raw(web, sighting(), [("e.jpg", big)] * 3), 413),
        # Sent back for a correction, then abandoned: the photo waits in staging, never in the media folder.
        ("a missing answer", lambda n: post_raw(web, sighting(a_cubs=None), [("h.jpg", gps_jpeg(n))]), 422),
    ]
    statuses: dict[str, set[int]] = {}
    for n in range(100):
        name, attack, expected = attacks[n % len(attacks)]
        response = await attack(n)
        statuses.setdefault(name, set()).add(response.status)
        assert response.status == expected, (name, response.status)
    limited = await tipline(replace(settings, upload_mb_per_hour=5))
    # 4 MB: over the photo limit, and most of the hour's bytes; then the hour's bytes are spent.
    assert (await post_raw(limited, sighting(), [("f.jpg", big)])).status == 422
    assert (await post_raw(limited, sighting(), [("g.jpg", big)])).status == 429
    assert rows(web_config.storage.database, "SELECT COUNT(*) AS n FROM reports")[0]["n"] == 0
    media, staging = folders(web_config)
    assert disk_bytes(media) == {}  # nothing refused ever reaches the media folder
    assert len(disk_bytes(staging)) == 4 * 16  # the 16 corrected-then-abandoned forms' photos wait...
    stage = web.client.app[TIPLINE].staging  # both clients share the folder beside the media folder
    stage._clock = lambda: time.time() + stage.ttl_s + 60  # noqa: SLF001 - ...a few hours
    assert stage.sweep() == 16
    left = disk_bytes(media, staging)
    assert sum(left.values()) == 0 and not left, left


async def test_abandoned_form_photos_are_swept(tipline, web_config: Config) -> None:
    web = await tipline()
    response = await post_raw(web, sighting(location=""), [("a.jpg", gps_jpeg())])
    assert response.status == 422
    media, staging = folders(web_config)
    assert disk_bytes(media) == {} and len(disk_bytes(staging)) == 4  # 3 files and their facts, staged
    stage = web.client.app[TIPLINE].staging
    assert stage.sweep() == 0  # not yet abandoned
    stage._clock = lambda: time.time() + stage.ttl_s + 60  # noqa: SLF001 - hours later
    assert stage.sweep() == 1
    assert disk_bytes(media, staging) == {}


async def test_kept_photo_tokens_are_bound_expiring_counted_and_say_nothing(
    tipline, web_config: Config
) -> None:
    web = await tipline(reports={"max_photos": 2})
    photo = gps_jpeg()
    first = await post_raw(web, sighting(location=""), [("a.jpg", photo)])
    page = await first.text()
    token = hidden(page, "kept")
    # No server path, no hash, no EXIF fact: a random id, an expiry and a MAC.
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}\.\d{10}\.[A-Za-z0-9_-]{22}", token)
    assert "originals" not in page and str(web_config.storage.media_dir.parent) not in page
    assert "37.419" not in page and "113.668" not in page and '"facts"' not in page
    assert hashlib.sha256(photo).hexdigest() not in page

    # Another browser (another CSRF cookie) cannot use the token: the photo is not attached.
    other = await tipline(reports={"max_photos": 2})
    other_page = await other.form()
    stolen = await post_raw(other, {**sighting(), "kept": token}, [], page=other_page)
    assert stolen.status == 303
    assert rows(web_config.storage.database, "SELECT COUNT(*) AS n FROM photos")[0]["n"] == 0

    # The same token twice, and more tokens than max_photos, count as photos against the limit.
    second = await post_raw(web, {**sighting(location=""), "kept": token},
                            [("b.png", png(300, 200)), ("c.png", png(310, 200))], page=page)
    assert "at most 2 photos" in await second.text()
    tokens = re.findall(r'name="kept" value="([^"]*)"', await second.text())
    assert len(tokens) == 2
    flood = aiohttp.FormData()
    flood.add_field("csrf", hidden(page, "csrf"))
    flood.add_field("draft_id", hidden(page, "draft_id"))
    for name, value in sighting(location="").items():
        flood.add_field(name, value)
    for kept in [*tokens, token, *tokens]:
        flood.add_field("kept", kept)
    response = await web.client.post("/report/sighting?lang=en", data=flood, allow_redirects=False)
    assert len(set(re.findall(r'name="kept" value="([^"]*)"', await response.text()))) <= 2

    # Expired: hours later the token no longer attaches anything (and the sweep took the files).
    stage = web.client.app[TIPLINE].staging
    stage._clock = lambda: time.time() + stage.ttl_s + 60  # noqa: SLF001
    late = await post_raw(web, {**sighting(), "kept": tokens[0]}, [], page=page)
    assert late.status == 303
    assert rows(web_config.storage.database, "SELECT COUNT(*) AS n FROM photos")[0]["n"] == 0


async def test_corrected_form_moves_its_kept_photo_into_the_media_folder(tipline, web_config: Config) -> None:
    web = await tipline()
    first = await post_raw(web, sighting(location=""), [("a.jpg", gps_jpeg())])
    page = await first.text()
    response = await post_raw(web, {**sighting(), "kept": hidden(page, "kept")}, [], page=page)
    assert response.status == 303
    media, staging = folders(web_config)
    stored = rows(web_config.storage.database, "SELECT * FROM photos")
    assert len(stored) == 1 and all(Path(stored[0][k]).is_relative_to(media) and Path(stored[0][k]).exists()
                                    for k in ("original_path", "derived_path", "thumbnail_path"))
    assert disk_bytes(staging) == {}


# --- Telegram drafts ---------------------------------------------------------------------------------


async def test_cancelled_and_thrown_away_drafts_delete_their_photos(
    fake: FakeTelegram, running, config
) -> None:
    await running()
    person = Person(fake, 902, language="en")
    await person.send("/start")
    await person.tap("Tracks, scat", contains="photos")
    await person.send_file(gps_jpeg(5), "IMG_1.JPG", "image/jpeg", contains="Got 1 photo")
    assert len(disk_bytes(config.storage.media_dir)) == 3
    await person.send("/cancel", contains="Report cancelled")
    assert disk_bytes(config.storage.media_dir) == {}

    # Thrown away through "keep or throw away?" when starting another report.
    await person.send("/start")
    await person.tap("Tracks, scat", contains="photos")
    await person.send_file(gps_jpeg(6), "IMG_2.JPG", "image/jpeg", contains="Got 1 photo")
    await person.send("/start", contains="not sent yet")
    await person.tap("Throw it away")
    await fake.wait_until_idle()
    assert disk_bytes(config.storage.media_dir) == {}

    # A photo that a stored report also has stays (files are named by their content).
    other = Person(fake, 903, language="en")
    for who in (person, other):
        await who.send("/start")
        await who.tap("Tracks, scat", contains="photos")
        await who.send_file(gps_jpeg(7), "IMG_3.JPG", "image/jpeg", contains="Got 1 photo")
    await other.tap("Done", contains="Where was it")
    await other.send_location(37.3296, 113.5702)
    await other.tap("Just now", contains="What did you find")
    await other.tap("Camera-trap photo", contains="Anything to add")
    await other.tap("Skip", contains="Please check")
    await other.tap("Send report", contains="Reference code")
    await person.send("/cancel", contains="Report cancelled")
    stored = rows(config.storage.database, "SELECT * FROM photos")[0]
    assert all(Path(stored[k]).exists() for k in ("original_path", "derived_path", "thumbnail_path"))


def test_decodes_share_one_budget_across_threads() -> None:
    """Two workers never hold two pictures at their cap at once: the second waits for the first."""
    gate = _ByteGate(100)
    order: list[str] = []
    first_in, release = threading.Event(), threading.Event()

    def big(name: str) -> None:
        with gate.hold(80):
            order.append(f"{name} in")
            first_in.set()
            release.wait(5)
            order.append(f"{name} out")

    one = threading.Thread(target=big, args=("a",))
    one.start()
    first_in.wait(5)
    two = threading.Thread(target=big, args=("b",))
    two.start()
    with gate.hold(20):  # a small one fits beside the big one
        order.append("small")
    time.sleep(0.1)
    assert order == ["a in", "small"]  # b waits while a holds 80 of 100
    release.set()
    one.join(5)
    two.join(5)
    assert order == ["a in", "small", "a out", "b in", "b out"] and gate.held == 0
