"""QR posters: decoded with zxing-cpp (a decoder independent of the encoder), A4 at 300 dpi, Chinese font."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image, ImageChops, ImageDraw, ImageFont

from bot import posters
from bot.gazetteer import Gazetteer, Place
from bot.posters import (
    A4_PX,
    FONT_ENV,
    FONT_PACKAGE,
    FontNotFoundError,
    Poster,
    draws_glyphs,
    find_cjk_font,
    make_poster,
    web_tip_link,
)

BOT = "heshun_leopard_bot"
WEB = "https://leopard.example.org/tip"
TELEGRAM_LINK = "https://t.me/heshun_leopard_bot?start=spot_yunlongshan"
WEB_LINK = "https://leopard.example.org/tip?spot=yunlongshan"
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@pytest.fixture(scope="module")
def spot() -> Place:
    place = Gazetteer.default().get("yunlongshan")
    assert place is not None and place.kind == "scenic_spot"
    return place


@pytest.fixture(scope="module")
def poster(spot: Place) -> Poster:
    return make_poster(spot, bot_username=BOT, web_url=WEB, hotline="0354-8888888")


@pytest.fixture(scope="module")
def telegram_only(spot: Place) -> Poster:
    return make_poster(spot, bot_username=BOT, web_url=None, hotline=None)


def decode(png: bytes, scale: float = 1.0) -> list[str]:
    """The QR codes in the image, left to right."""
    with Image.open(io.BytesIO(png)) as opened:
        image = opened.convert("RGB")
    if scale != 1.0:
        size = (round(image.width * scale), round(image.height * scale))
        image = image.resize(size, Image.Resampling.LANCZOS)
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    return [code.text for code in sorted(found, key=lambda code: code.position.top_left.x)]


def test_both_qr_codes_decode_to_the_exact_links(poster: Poster) -> None:
    assert decode(poster.png) == [TELEGRAM_LINK, WEB_LINK]
    assert (poster.telegram_url, poster.web_url) == (TELEGRAM_LINK, WEB_LINK)


def test_qr_codes_still_decode_from_a_quarter_size_copy(poster: Poster) -> None:
    """A phone photo of the printed sheet has far fewer pixels; the modules are big enough for that."""
    assert decode(poster.png, scale=0.25) == [TELEGRAM_LINK, WEB_LINK]


def test_without_a_web_tip_line_there_is_one_qr_code(telegram_only: Poster) -> None:
    assert decode(telegram_only.png) == [TELEGRAM_LINK]
    assert telegram_only.web_url is None


@pytest.mark.parametrize("which", ["poster", "telegram_only"])
def test_png_is_a4_at_300_dpi(which: str, request: pytest.FixtureRequest) -> None:
    rendered: Poster = request.getfixturevalue(which)
    assert rendered.png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(rendered.png)) as image:
        assert image.size == A4_PX == (2480, 3508)
        assert tuple(round(d) for d in image.info["dpi"]) == (300, 300)


def test_pdf_is_one_a4_page(poster: Poster) -> None:
    assert poster.pdf.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page\b", poster.pdf)) == 1
    (box,) = re.findall(rb"/MediaBox\s*\[\s*([\d.\s]+)\]", poster.pdf)
    width, height = (float(v) for v in box.split()[2:])
    assert (width, height) == pytest.approx((595.2, 841.92), abs=0.5)  # 210 x 297 mm in points


def test_the_poster_font_draws_chinese_not_tofu() -> None:
    font = _load(find_cjk_font().regular)

    def render(char: str) -> Image.Image:
        image = Image.new("L", (120, 120), 0)
        ImageDraw.Draw(image).text((10, 0), char, font=font, fill=255)
        return image

    leopard, dog, missing = render("豹"), render("狗"), render("\U0010fffd")
    assert leopard.getbbox() is not None, "豹 draws nothing"
    assert ImageChops.difference(leopard, missing).getbbox() is not None, "豹 is the missing-glyph box"
    assert ImageChops.difference(leopard, dog).getbbox() is not None, "different characters look alike"
    assert draws_glyphs(font, "发现豹子请告诉我们用扫码上报没有这个")


def _load(path: Path) -> ImageFont.FreeTypeFont:
    """The Simplified Chinese face of `path`, found by name (independently of bot.posters)."""
    if path.suffix.lower() != ".ttc":
        return ImageFont.truetype(str(path), 96)
    for index in range(32):
        font = ImageFont.truetype(str(path), 96, index=index)
        if (font.getname()[0] or "").endswith(" SC"):
            return font
    return ImageFont.truetype(str(path), 96)


@pytest.mark.skipif(not DEJAVU.is_file(), reason="DejaVu Sans not installed")
def test_a_latin_only_font_is_refused() -> None:
    assert not draws_glyphs(ImageFont.truetype(str(DEJAVU), 48), "豹")
    with pytest.raises(FontNotFoundError, match="DejaVuSans"):
        find_cjk_font(DEJAVU)
    with pytest.raises(FontNotFoundError, match=FONT_ENV):
        find_cjk_font(env={FONT_ENV: str(DEJAVU)})


def test_missing_fonts_name_the_debian_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(posters, "KNOWN_FONTS", ())
    with pytest.raises(FontNotFoundError, match=f"apt-get install {FONT_PACKAGE}"):
        find_cjk_font(env={})
    with pytest.raises(FontNotFoundError, match="nope.ttc"):
        find_cjk_font(tmp_path / "nope.ttc", env={})


def test_font_override_without_bold_face_still_makes_a_scannable_poster(spot: Place) -> None:
    """An overriding font is used for both weights (bold drawn with a stroke)."""
    regular = find_cjk_font().regular
    spec = find_cjk_font(env={FONT_ENV: str(regular)})
    assert (spec.regular, spec.bold) == (regular, None)
    rendered = make_poster(spot, bot_username=BOT, web_url=WEB, hotline=None, font=regular)
    assert decode(rendered.png) == [TELEGRAM_LINK, WEB_LINK]


def test_long_names_wrap_and_still_fit() -> None:
    place = Place(
        id="trail-" + "x" * 40,
        name_zh="和顺县松烟镇牛郎峪村天河梁南坡登山步道入口停车场旁边的小路口",
        name_en="Tianheliang South Slope Hiking Trail Entrance next to the Car Park at Niulangyu Village",
        pinyin="Tianheliang",
        kind="trailhead",
        latitude=None,
        longitude=None,
    )
    web = "https://leopard.example.org/tip/form?lang=zh&source=poster"
    rendered = make_poster(place, bot_username=BOT, web_url=web, hotline="0354-8888888")
    assert decode(rendered.png) == [
        f"https://t.me/{BOT}?start=spot_{place.id}",
        f"https://leopard.example.org/tip/form?lang=zh&source=poster&spot={place.id}",
    ]


def test_bad_inputs_are_refused_before_drawing(spot: Place) -> None:
    with pytest.raises(ValueError, match="username"):
        make_poster(spot, bot_username="not a bot", web_url=None, hotline=None)
    with pytest.raises(ValueError, match="http"):
        make_poster(spot, bot_username=BOT, web_url="ftp://example.org/tip", hotline=None)


def test_web_tip_link() -> None:
    assert web_tip_link(WEB, "yunlongshan") == WEB_LINK
    assert web_tip_link("https://example.org/tip?lang=en&spot=old", "a-b") == (
        "https://example.org/tip?lang=en&spot=a-b"
    )
    for bad in ("example.org/tip", "javascript:alert(1)", "https://"):
        with pytest.raises(ValueError):
            web_tip_link(bad, "yunlongshan")
