"""Tests for bot/photos.py on a corpus generated here with Pillow (no fixture files)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import io
import pickle
import struct
import threading
import time
import zlib
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageDraw
from PIL.TiffImagePlugin import IFDRational as R

from bot import photos
from bot.photos import (
    DERIVED_MAX_SIDE,
    DERIVED_MIN_SIDE,
    MAX_DOWNLOAD_BYTES,
    PROBLEM_MESSAGES,
    THUMBNAIL_MAX_SIDE,
    PhotoFacts,
    PhotoProblem,
    PhotoRejected,
    ProcessedPhoto,
    hamming,
    process_photo,
    process_photo_async,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

# --------------------------------------------------------------------------- corpus helpers


def picture(width: int = 480, height: int = 360, seed: int = 0) -> Image.Image:
    """Photo-like RGB: colour gradients, a few solid shapes, a little noise."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    phase = rng.uniform(0, 6.28, 3).astype(np.float32)
    channels = np.broadcast_arrays(
        120 + 100 * np.sin(3 * x + 2 * y + phase[0]),
        120 + 100 * np.cos(2 * x - 3 * y + phase[1]),
        120 + 80 * np.sin(5 * x * y + phase[2]),
    )
    arr = np.stack(channels, axis=-1) + rng.normal(0, 8, (height, width, 3)).astype(np.float32)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    unit = min(width, height)
    for _ in range(8):
        x0, y0 = int(rng.integers(0, width - unit // 4)), int(rng.integers(0, height - unit // 4))
        size = int(rng.integers(unit // 10, unit // 3))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape([x0, y0, x0 + size, y0 + size], fill=colour)
    return img


def save(img: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()


def exif_bytes(
    *, orientation: int | None = None, gps: dict | None = None, details: dict | None = None
) -> bytes:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if gps is not None:
        exif[0x8825] = gps
    if details is not None:
        exif[0x8769] = details
    return exif.tobytes()


def gps_ifd(lat: tuple, lat_ref: str, lon: tuple, lon_ref: str, **extra: object) -> dict:
    ifd: dict = {1: lat_ref, 2: lat, 3: lon_ref, 4: lon}
    ifd.update({int(k.removeprefix("tag")): v for k, v in extra.items()})
    return ifd


def dms(d: float, m: float, s: float) -> tuple:
    return (R(d), R(m), R(s))


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid 1-bit PNG of 400 megapixels that compresses to a few dozen kilobytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = bytes(1 + (width + 7) // 8)  # filter byte + packed zero bits
    compressor = zlib.compressobj(9)
    block = row * 500
    idat = b"".join(compressor.compress(block) for _ in range(height // 500)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpeg_markers(data: bytes) -> list[int]:
    """Marker codes of a JPEG up to the start of scan (where metadata segments would be)."""
    assert data[:2] == b"\xff\xd8"
    markers, pos = [], 2
    while pos < len(data):
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        markers.append(marker)
        if marker == 0xDA:  # SOS: entropy-coded data follows
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        pos += 2 + length
    return markers


def assert_metadata_free(data: bytes) -> None:
    assert b"Exif" not in data
    assert b"http://ns.adobe.com/xap" not in data
    assert b"ICC_PROFILE" not in data
    assert b"secret" not in data
    # Only SOI-following structure: APP0 (JFIF), DQT, SOF0, DHT, SOS — no APP1..15 nor COM.
    assert set(jpeg_markers(data)) <= {0xE0, 0xDB, 0xC0, 0xC4, 0xDA}
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "JPEG"
        assert img.mode == "RGB"
        assert len(img.getexif()) == 0
        assert not {"exif", "xmp", "icc_profile", "comment", "XML:com.adobe.xmp"} & set(img.info)


def decoded(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return img.copy()


def rejected(data: bytes, **kwargs: object) -> PhotoProblem:
    with pytest.raises(PhotoRejected) as info:
        process_photo(data, now=NOW, **kwargs)  # type: ignore[arg-type]
    return info.value.problem


# --------------------------------------------------------------------------- accepted formats


def animated_gif() -> bytes:
    red = Image.new("RGB", (120, 80), (220, 20, 20))
    blue = Image.new("RGB", (120, 80), (20, 20, 220))
    return save(red, "GIF", save_all=True, append_images=[blue], duration=100, loop=0)


@pytest.mark.parametrize(
    ("fmt", "make", "mime"),
    [
        ("JPEG", lambda: save(picture(), "JPEG", quality=90), "image/jpeg"),
        ("PNG", lambda: save(picture(), "PNG"), "image/png"),
        ("WEBP", lambda: save(picture(), "WEBP", quality=80), "image/webp"),
        ("HEIF", lambda: save(picture(), "HEIF", quality=70), "image/heic"),
        ("GIF", animated_gif, "image/gif"),
    ],
)
def test_accepted_formats(fmt: str, make, mime: str) -> None:
    data = make()
    result = process_photo(data, now=NOW)
    assert isinstance(result, ProcessedPhoto)
    assert (result.format, result.mime_type) == (fmt, mime)
    expected = (120, 80) if fmt == "GIF" else (480, 360)
    assert (result.width, result.height) == expected
    assert decoded(result.derived_jpeg).size == expected  # small: no resize
    assert max(decoded(result.thumbnail_jpeg).size) <= THUMBNAIL_MAX_SIDE
    assert len(result.sha256) == 64 and 0 <= result.phash < 2**64
    assert result.facts == PhotoFacts()


def test_animated_gif_uses_first_frame() -> None:
    pixel = decoded(process_photo(animated_gif(), now=NOW).derived_jpeg).getpixel((60, 40))
    assert pixel[0] > 180 and pixel[2] < 80  # red, not the blue second frame


def test_mpo_is_a_jpeg_first_frame() -> None:
    first, second = Image.new("RGB", (200, 100), (20, 200, 20)), Image.new("RGB", (200, 100), (200, 20, 20))
    data = save(first, "MPO", save_all=True, append_images=[second])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    result = process_photo(data, now=NOW)
    assert (result.format, result.mime_type, result.width) == ("JPEG", "image/jpeg", 200)
    assert decoded(result.derived_jpeg).getpixel((100, 50))[1] > 180


def test_heif_orientation_is_not_applied_twice() -> None:
    img = Image.new("RGB", (64, 48), (200, 20, 20))
    ImageDraw.Draw(img).rectangle([32, 0, 63, 47], fill=(20, 20, 200))
    result = process_photo(save(img, "HEIF", quality=90, exif=exif_bytes(orientation=6)), now=NOW)
    # libheif already turned it (and pillow-heif reset the tag): portrait, red on top, once.
    assert (result.width, result.height) == (48, 64)
    derived = decoded(result.derived_jpeg)
    assert derived.size == (48, 64)
    assert derived.getpixel((24, 10))[0] > 150 and derived.getpixel((24, 54))[2] > 150


def test_cmyk_jpeg_converted_to_rgb() -> None:
    data = save(Image.new("CMYK", (64, 48), (0, 255, 255, 0)), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    r, g, b = decoded(process_photo(data, now=NOW).derived_jpeg).getpixel((32, 24))
    assert r > 220 and g < 40 and b < 40


def test_16_bit_png_is_scaled_not_clipped() -> None:
    ramp = np.tile(np.linspace(0, 65535, 256, dtype=np.uint16), (64, 1))
    data = save(Image.fromarray(ramp), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    derived = decoded(process_photo(data, now=NOW).derived_jpeg)
    left, middle, right = (derived.getpixel((x, 32))[0] for x in (2, 128, 253))
    assert left < 10 and 110 < middle < 145 and right > 245


def test_palette_png_with_transparency_flattened_on_white() -> None:
    img = Image.new("P", (40, 40), 0)
    img.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    ImageDraw.Draw(img).rectangle([20, 0, 39, 39], fill=1)
    data = save(img, "PNG", transparency=0)
    derived = decoded(process_photo(data, now=NOW).derived_jpeg)
    assert min(derived.getpixel((5, 20))) > 240  # transparent black -> white, not black
    assert derived.getpixel((30, 20))[0] > 170


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_flattened_on_white(mode: str) -> None:
    colour = (0, 0, 0, 0) if mode == "RGBA" else (0, 0)
    img = Image.new(mode, (40, 40), colour)
    ImageDraw.Draw(img).rectangle([20, 0, 39, 39], fill=(10, 10, 10, 255) if mode == "RGBA" else (10, 255))
    derived = decoded(process_photo(save(img, "PNG"), now=NOW).derived_jpeg)
    assert min(derived.getpixel((5, 20))) > 240
    assert max(derived.getpixel((34, 20))) < 40


def test_exif_orientation_applied() -> None:
    img = Image.new("RGB", (60, 40), (200, 20, 20))
    ImageDraw.Draw(img).rectangle([30, 0, 59, 39], fill=(20, 20, 200))  # left red, right blue
    result = process_photo(save(img, "JPEG", quality=95, exif=exif_bytes(orientation=6)), now=NOW)
    assert (result.width, result.height) == (40, 60)
    derived = decoded(result.derived_jpeg)
    assert derived.size == (40, 60)
    assert decoded(result.thumbnail_jpeg).size == (40, 60)
    # Orientation 6 = turn 90 degrees clockwise to view: the left (red) half ends up on top.
    assert derived.getpixel((20, 10))[0] > 150 and derived.getpixel((20, 50))[2] > 150


def test_large_jpeg_decoded_at_reduced_scale(photo_12mp: bytes) -> None:
    result = process_photo(photo_12mp, now=NOW)
    assert (result.width, result.height) == (4000, 3000)
    size = decoded(result.derived_jpeg).size
    assert DERIVED_MIN_SIDE <= max(size) <= DERIVED_MAX_SIDE
    assert size == (2000, 1500)  # straight from libjpeg's 1/2 DCT scale
    assert decoded(result.thumbnail_jpeg).size == (320, 240)


def test_jpeg_between_min_and_double_is_resampled_to_the_cap() -> None:
    result = process_photo(save(picture(3000, 2000), quality=85), now=NOW)
    assert decoded(result.derived_jpeg).size == (2560, 1707)


def test_big_png_is_box_reduced() -> None:
    data = save(Image.new("RGB", (4000, 1000), (10, 120, 10)), "PNG")
    assert decoded(process_photo(data, now=NOW).derived_jpeg).size == (2000, 500)


# --------------------------------------------------------------------------- metadata never leaks


def test_derivatives_carry_no_metadata() -> None:
    gps = gps_ifd(dms(37, 30, 36), "N", dms(113, 33, 0), "E", tag6=R(1200))
    exif = exif_bytes(gps=gps, details={0x9003: "2024:05:06 07:08:09"})
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>secret</rdf:RDF></x:xmpmeta>'
    data = save(picture(), "JPEG", exif=exif, icc_profile=icc, xmp=xmp, comment=b"secret place")
    with Image.open(io.BytesIO(data)) as original:  # the original really has all of it
        assert {"exif", "icc_profile", "xmp", "comment"} <= set(original.info)
    result = process_photo(data, now=NOW)
    assert result.facts.has_location
    assert_metadata_free(result.derived_jpeg)
    assert_metadata_free(result.thumbnail_jpeg)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "HEIF"])
def test_derivatives_carry_no_metadata_other_formats(fmt: str) -> None:
    gps = gps_ifd(dms(37, 30, 36), "N", dms(113, 33, 0), "E")
    data = save(picture(), fmt, exif=exif_bytes(gps=gps))
    result = process_photo(data, now=NOW)
    assert result.facts.latitude == pytest.approx(37.51)
    assert_metadata_free(result.derived_jpeg)
    assert_metadata_free(result.thumbnail_jpeg)


# --------------------------------------------------------------------------- EXIF facts


def jpeg_with(**exif: object) -> bytes:
    return save(picture(64, 48), "JPEG", exif=exif_bytes(**exif))  # type: ignore[arg-type]


def test_gps_north_east() -> None:
    gps = gps_ifd(dms(37, 30, 36), "N", dms(113, 33, 0), "E", tag5=b"\x00", tag6=R(1234, 2), tag31=R(5))
    facts = process_photo(jpeg_with(gps=gps), now=NOW).facts
    assert facts.latitude == pytest.approx(37.51)
    assert facts.longitude == pytest.approx(113.55)
    assert facts.altitude_m == pytest.approx(617.0)
    assert facts.accuracy_m == pytest.approx(5.0)
    assert facts.has_location


def test_gps_south_west_and_below_sea_level() -> None:
    gps = gps_ifd(dms(33, 51, 54), "S", dms(151, 12, 36), "W", tag5=b"\x01", tag6=R(20))
    facts = process_photo(jpeg_with(gps=gps), now=NOW).facts
    assert facts.latitude == pytest.approx(-33.865)
    assert facts.longitude == pytest.approx(-151.21)
    assert facts.altitude_m == pytest.approx(-20.0)
    assert facts.accuracy_m is None


@pytest.mark.parametrize(
    "gps",
    [
        gps_ifd((R(37), R(0, 0), R(0)), "N", dms(113, 0, 0), "E"),  # zero denominator
        gps_ifd(dms(37, 0, 0), "N", (R(1, 0), R(0), R(0)), "E"),  # x/0
        gps_ifd(dms(200, 0, 0), "N", dms(113, 0, 0), "E"),  # 200 degrees of latitude
        gps_ifd(dms(37, 0, 0), "N", dms(200, 0, 0), "E"),  # 200 degrees of longitude
        gps_ifd(dms(37, 75, 0), "N", dms(113, 0, 0), "E"),  # 75 minutes
        gps_ifd(dms(0, 0, 0), "N", dms(0, 0, 0), "E"),  # unset GPS: exactly 0,0
        gps_ifd(dms(37, 0, 0), "X", dms(113, 0, 0), "E"),  # no such hemisphere
        {2: dms(37, 0, 0), 4: dms(113, 0, 0)},  # no hemisphere at all
    ],
)
def test_garbage_gps_is_ignored_not_fatal(gps: dict) -> None:
    gps = {**gps, 6: R(5, 0), 31: R(1, 0)}  # broken altitude and accuracy too
    result = process_photo(jpeg_with(gps=gps), now=NOW)
    assert result.facts.latitude is None and result.facts.longitude is None
    assert result.facts.altitude_m is None and result.facts.accuracy_m is None


def test_capture_time_without_offset_is_naive() -> None:
    facts = process_photo(jpeg_with(details={0x9003: "2024:05:06 07:08:09"}), now=NOW).facts
    assert facts.taken_at == datetime(2024, 5, 6, 7, 8, 9)
    assert facts.taken_at.tzinfo is None


def test_capture_time_with_offset_is_aware() -> None:
    details = {0x9003: "2024:05:06 07:08:09", 0x9011: "+08:00"}
    taken = process_photo(jpeg_with(details=details), now=NOW).facts.taken_at
    assert taken == datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=8)))
    assert taken is not None and taken.utcoffset() == timedelta(hours=8)
    details = {0x9003: "2024:05:06 07:08:09", 0x9011: "-05:30"}
    taken = process_photo(jpeg_with(details=details), now=NOW).facts.taken_at
    assert taken is not None and taken.utcoffset() == -timedelta(hours=5, minutes=30)


@pytest.mark.parametrize(
    "details",
    [
        {0x9003: "2025:06:02 12:00:00"},  # tomorrow (naive = Beijing time)
        {0x9003: "2025:06:01 20:30:00"},  # later today in Beijing (now is 20:00 there)
        {0x9003: "2025:06:01 13:00:00", 0x9011: "+00:00"},  # an hour after NOW, in UTC
        {0x9003: "garbage"},
        {0x9003: "0000:00:00 00:00:00"},
        {0x9003: "2024:02:30 10:00:00"},
        {0x9003: "1970:01:01 00:00:00"},  # an unset camera clock
    ],
)
def test_bad_or_future_capture_time_ignored(details: dict) -> None:
    assert process_photo(jpeg_with(details=details), now=NOW).facts.taken_at is None


def test_bad_offset_keeps_naive_time() -> None:
    details = {0x9003: "2024:05:06 07:08:09", 0x9011: "+99:99"}
    assert process_photo(jpeg_with(details=details), now=NOW).facts.taken_at == datetime(2024, 5, 6, 7, 8, 9)


def test_naive_now_is_beijing_time() -> None:
    details = {0x9003: "2025:06:01 19:00:00"}
    facts = process_photo(jpeg_with(details=details), now=datetime(2025, 6, 1, 20, 0)).facts
    assert facts.taken_at == datetime(2025, 6, 1, 19, 0)


def test_telegram_photo_without_exif_has_no_facts() -> None:
    assert process_photo(save(picture(), "JPEG"), now=NOW).facts == PhotoFacts()


# --------------------------------------------------------------------------- refusals


def test_zero_bytes_refused() -> None:
    assert rejected(b"") is PhotoProblem.EMPTY


def test_too_big_file_refused() -> None:
    assert rejected(b"\xff\xd8" + bytes(MAX_DOWNLOAD_BYTES)) is PhotoProblem.TOO_BIG_FILE


@pytest.mark.parametrize(
    "data",
    [b"Dear bot, here is my leopard photo.\n" * 20, b"\x00" * 100, b"\xff\xd8\xff", b"GIF89a"],
)
def test_not_an_image_refused(data: bytes) -> None:
    assert rejected(data) is PhotoProblem.NOT_AN_IMAGE


def test_text_file_named_jpg_is_not_an_image() -> None:
    assert rejected("豹子在山上。A leopard on the hill.".encode() * 50) is PhotoProblem.NOT_AN_IMAGE


def test_other_picture_formats_unsupported() -> None:
    assert rejected(save(picture(), "BMP")) is PhotoProblem.UNSUPPORTED
    assert rejected(save(picture(), "TIFF")) is PhotoProblem.UNSUPPORTED


def test_jpeg_cut_in_half_refused() -> None:
    data = save(picture(800, 600), "JPEG", quality=90)
    assert rejected(data[: len(data) // 2]) is PhotoProblem.TRUNCATED


def test_png_cut_in_half_refused() -> None:
    data = save(picture(300, 200), "PNG")
    assert rejected(data[: len(data) // 2]) is PhotoProblem.TRUNCATED


def test_decompression_bomb_refused() -> None:
    bomb = png_bomb()
    assert len(bomb) < 200_000
    assert rejected(bomb) is PhotoProblem.TOO_MANY_PIXELS


def test_our_pixel_limit_does_not_rely_on_pillows_global(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert rejected(png_bomb()) is PhotoProblem.TOO_MANY_PIXELS
    data = save(picture(400, 300), "JPEG")
    assert rejected(data, max_pixels=400 * 300 - 1) is PhotoProblem.TOO_MANY_PIXELS
    assert process_photo(data, now=NOW, max_pixels=400 * 300).width == 400


def test_every_problem_has_a_kind_message() -> None:
    assert set(PROBLEM_MESSAGES) == set(PhotoProblem)
    for message in PROBLEM_MESSAGES.values():
        assert message.endswith(".") and 20 < len(message) < 140


def test_rejection_is_picklable_and_readable() -> None:
    error = pickle.loads(pickle.dumps(PhotoRejected(PhotoProblem.TRUNCATED)))
    assert error.problem is PhotoProblem.TRUNCATED
    assert error.message == PROBLEM_MESSAGES[PhotoProblem.TRUNCATED]
    assert "truncated" in str(error)


_SMALL_FILES = {fmt: save(picture(48, 32), fmt) for fmt in ("JPEG", "PNG", "WEBP", "GIF")}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut=st.integers(min_value=0, max_value=4000),
    garbage=st.binary(min_size=0, max_size=64),
    base=st.sampled_from(["JPEG", "PNG", "WEBP", "GIF"]),
)
def test_mangled_files_never_crash(cut: int, garbage: bytes, base: str) -> None:
    """Whatever arrives, the result is a photo or a PhotoRejected — never another exception."""
    data = _SMALL_FILES[base]
    mangled = data[:cut] + garbage + data[cut + len(garbage) :]
    with contextlib.suppress(PhotoRejected):
        process_photo(mangled, now=NOW)


# --------------------------------------------------------------------------- hashes


def test_sha256_is_of_the_original_bytes() -> None:
    data = save(picture(), "JPEG")
    assert process_photo(data, now=NOW).sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_phash_stable_across_reencoding_and_resizing(seed: int) -> None:
    original = picture(1600, 1200, seed)
    reference = process_photo(save(original, "JPEG", quality=92), now=NOW).phash
    copies = [
        save(original, "JPEG", quality=50),
        save(original.resize((800, 600), Image.Resampling.LANCZOS), "JPEG", quality=75),
        save(original.resize((480, 360), Image.Resampling.BILINEAR), "JPEG", quality=60),
        save(original.resize((1000, 750)), "PNG"),
        save(original.resize((1280, 960)), "WEBP", quality=70),
    ]
    for copy in copies:
        assert hamming(reference, process_photo(copy, now=NOW).phash) <= 4


def test_phash_tells_different_pictures_apart() -> None:
    hashes = [process_photo(save(picture(400, 300, seed)), now=NOW).phash for seed in range(6)]
    assert min(hamming(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :]) > 10


def test_phash_of_exif_rotated_photo_matches_rotated_pixels() -> None:
    img = picture(400, 300, 9)
    tagged = process_photo(save(img, "JPEG", quality=95, exif=exif_bytes(orientation=6)), now=NOW)
    turned = process_photo(save(img.transpose(Image.Transpose.ROTATE_270), "JPEG", quality=95), now=NOW)
    assert hamming(tagged.phash, turned.phash) <= 2


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_hamming(a: int, b: int) -> None:
    assert hamming(a, b) == bin(a ^ b).count("1") == hamming(b, a)
    assert hamming(a, a) == 0
    assert 0 <= hamming(a, b) <= 64


def test_hamming_refuses_negative() -> None:
    with pytest.raises(ValueError):
        hamming(-1, 0)


# --------------------------------------------------------------------------- off the event loop


@pytest.fixture(scope="module")
def photo_12mp() -> bytes:
    """4000x3000 JPEG: the picture is made small and scaled up (fast), then noise added."""
    base = picture(1000, 750, 5).resize((4000, 3000), Image.Resampling.BILINEAR)
    noise = np.random.default_rng(5).integers(-12, 13, (3000, 4000, 3), dtype=np.int16)
    pixels = np.clip(np.asarray(base, dtype=np.int16) + noise, 0, 255).astype(np.uint8)
    return save(Image.fromarray(pixels), "JPEG", quality=90)


async def test_async_matches_sync_and_accepts_an_executor() -> None:
    data = save(picture(), "JPEG")
    expected = process_photo(data, now=NOW)
    assert await process_photo_async(data, now=NOW) == expected
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert await process_photo_async(data, executor=pool, now=NOW) == expected
    with pytest.raises(PhotoRejected):
        await process_photo_async(b"", now=NOW)


async def test_event_loop_keeps_ticking_while_processing(photo_12mp: bytes) -> None:
    delays: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            delays.append(time.perf_counter() - before - 0.01)

    tick = asyncio.create_task(ticker())
    try:
        for _ in range(3):
            result = await process_photo_async(photo_12mp, now=NOW)
    finally:
        done.set()
        await tick
    assert result.width == 4000
    assert len(delays) >= 5  # the loop really ran while the photos were processed
    assert max(delays) < 0.2


async def test_async_runs_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deterministic half of the proof: the CPU work never runs on the event loop's thread."""
    threads: list[threading.Thread] = []
    original = photos.process_photo

    def spy(data: bytes, **kwargs: object) -> ProcessedPhoto:
        threads.append(threading.current_thread())
        return original(data, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(photos, "process_photo", spy)
    await process_photo_async(save(picture(), "JPEG"), now=NOW)
    assert threads and threads[0] is not threading.current_thread()
    assert threads[0].name.startswith("photos")


def test_module_executor_is_bounded() -> None:
    assert photos._EXECUTOR._max_workers == 2
