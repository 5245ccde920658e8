"""Printable QR posters for scenic spots and trailheads: A4 at 300 dpi, PNG and PDF, Chinese and English.

A poster carries two QR codes: the bot's deep link for the place (``https://t.me/<bot>?start=spot_<id>``)
and, for people without Telegram, the web tip line's address with ``?spot=<id>``. QR codes are made
with `segno` (error correction Q, a 4-module quiet zone, whole-pixel modules) and drawn with Pillow.

Chinese needs a CJK font. :func:`find_cjk_font` looks in this order: the `font` argument, the
``LEOPARD_WATCH_CJK_FONT`` environment variable, then the files of known Debian/Fedora/Arch packages
(:data:`KNOWN_FONTS`; on Debian ``apt-get install fonts-noto-cjk``). A font file that cannot draw
Chinese (it would print tofu boxes) is rejected rather than used.
"""

from __future__ import annotations

import functools
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import segno
from PIL import Image, ImageDraw, ImageFont

from bot.gazetteer import Place
from bot.safety import deep_link

__all__ = [
    "A4_PX",
    "DPI",
    "FONT_ENV",
    "FONT_PACKAGE",
    "KNOWN_FONTS",
    "FontNotFoundError",
    "FontSpec",
    "Poster",
    "draws_glyphs",
    "find_cjk_font",
    "make_poster",
    "web_tip_link",
]

DPI = 300
#: A4 (210 × 297 mm) at 300 dpi.
A4_PX = (2480, 3508)
#: Environment variable naming a font file (.ttc/.otf/.ttf) that overrides the search.
FONT_ENV = "LEOPARD_WATCH_CJK_FONT"
#: The Debian package that provides the preferred font.
FONT_PACKAGE = "fonts-noto-cjk"


@dataclass(frozen=True)
class FontSpec:
    """A font file and its bold sibling (None: bold is drawn with a stroke)."""

    regular: Path
    bold: Path | None = None


#: Known font files, best first: Noto Sans CJK (Debian/Ubuntu ``fonts-noto-cjk``, Fedora, Arch), then
#: WenQuanYi Zen Hei / Micro Hei (``fonts-wqy-zenhei``, ``fonts-wqy-microhei``) and Droid Sans Fallback.
KNOWN_FONTS: tuple[FontSpec, ...] = tuple(
    FontSpec(Path(regular), Path(bold) if bold else None)
    for regular, bold in (
        (
            "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
            "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
        ),
        (
            "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
            "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Bold.ttc",
        ),
        (
            "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
            "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc",
        ),
        ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", None),
        ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", None),
        ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", None),
    )
)

_PROBE = "豹"  # a character every usable font must draw
_NOT_A_CHARACTER = "\U0010fffd"  # private use, plane 16: no font draws it, so it shows the missing glyph


class FontNotFoundError(RuntimeError):
    """No font that can draw Chinese was found; the message says which package to install."""


@dataclass(frozen=True)
class Poster:
    """A rendered poster and the two links its QR codes carry."""

    png: bytes
    pdf: bytes
    telegram_url: str = ""
    web_url: str | None = None


# --- fonts ---------------------------------------------------------------------------------------


@functools.cache
def _face_index(path: Path) -> int:
    """The face of a font collection to use: Simplified Chinese ("… SC") if there is one, else the first."""
    if path.suffix.lower() != ".ttc":
        return 0
    for index in range(32):
        try:
            family = ImageFont.truetype(str(path), 12, index=index).getname()[0] or ""
        except OSError:  # past the last face
            break
        if re.search(r"\b(SC|GB)\b", family):
            return index
    return 0


@functools.cache
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size, index=_face_index(path))


def draws_glyphs(font: ImageFont.FreeTypeFont, text: str) -> bool:
    """True if every character of `text` draws with ink and unlike the font's missing-glyph box."""
    missing = font.getmask(_NOT_A_CHARACTER)
    for char in text:
        mask = font.getmask(char)
        if mask.getbbox() is None or (mask.size == missing.size and bytes(mask) == bytes(missing)):
            return False
    return True


def _usable(path: Path) -> bool:
    try:
        return path.is_file() and draws_glyphs(_font(path, 48), _PROBE)
    except OSError:
        return False


def find_cjk_font(font: str | Path | None = None, env: dict[str, str] | None = None) -> FontSpec:
    """The font to draw posters with; see the module docstring for the search order.

    An explicit `font` or ``LEOPARD_WATCH_CJK_FONT`` must exist and draw Chinese, else
    FontNotFoundError names it; it is used for both weights (bold drawn with a stroke).
    """
    env = dict(os.environ) if env is None else env
    override = font or env.get(FONT_ENV, "").strip()
    if override:
        path = Path(override).expanduser()
        if not _usable(path):
            source = "font" if font else FONT_ENV
            raise FontNotFoundError(f"{source}={path} is not a readable font file that can draw Chinese")
        return FontSpec(path)
    for spec in KNOWN_FONTS:
        if _usable(spec.regular):
            bold = spec.bold if spec.bold is not None and _usable(spec.bold) else None
            return FontSpec(spec.regular, bold)
    raise FontNotFoundError(
        "no font that can draw Chinese was found; install the Debian package "
        f"{FONT_PACKAGE} (apt-get install {FONT_PACKAGE}) or set {FONT_ENV} to a .ttc/.otf/.ttf file"
    )


# --- links ---------------------------------------------------------------------------------------


def web_tip_link(web_url: str, place_id: str) -> str:
    """The web tip line's address with ``spot=<id>`` added to its query (other parameters are kept)."""
    parts = urlsplit(web_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"web tip line address must be an http(s) URL, not {web_url!r}")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "spot"]
    query.append(("spot", place_id))
    return urlunsplit(parts._replace(query=urlencode(query)))


# --- drawing -------------------------------------------------------------------------------------

_INK = (25, 25, 25)
_GREY = (95, 95, 95)
_WHITE = (255, 255, 255)
_FOREST = (23, 78, 55)
_AMBER = (214, 128, 20)
_MARGIN = 150
_QR_BORDER = 4  # modules of quiet zone on every side (the QR standard's minimum)
_MIN_MODULE_PX = 10  # 0.85 mm at 300 dpi: comfortably scannable from a printed sheet

# Characters that must not start a line, and the tokens greedy wrapping works with: one CJK character
# (or full-width punctuation) at a time, or a run of other non-space characters with its trailing space.
_NO_LINE_START = set("，。、；：？！）》」』”’,.;:?!)")
_CJK = "\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef"
_TOKENS = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+\s*|\s+")


def _wrap(font: ImageFont.FreeTypeFont, text: str, width: float) -> list[str]:
    """Breaks `text` into lines no wider than `width` (between words, between Chinese characters, or
    anywhere in a word that is too long for a line)."""
    lines: list[str] = []
    line = ""
    tokens: list[str] = []
    for token in _TOKENS.findall(text):
        # A word wider than the line (a long link) is broken between any two characters.
        tokens.extend(token if font.getlength(token.rstrip()) > width else [token])
    for token in tokens:
        candidate = line + token
        if not line or font.getlength(candidate.rstrip()) <= width or token[0] in _NO_LINE_START:
            line = candidate
        else:
            lines.append(line.rstrip())
            line = token.lstrip()
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _qr_image(content: str, box: int) -> Image.Image:
    """A QR code for `content` at the largest whole-pixel module size that fits a `box`-pixel square."""
    qr = segno.make_qr(content, error="q")
    modules = qr.symbol_size(scale=1, border=_QR_BORDER)[0]
    scale = box // modules
    if scale < _MIN_MODULE_PX:
        raise ValueError(f"link too long for a printable QR code ({len(content)} characters): {content}")
    out = io.BytesIO()
    qr.save(out, kind="png", scale=scale, border=_QR_BORDER)
    out.seek(0)
    with Image.open(out) as image:
        return image.convert("RGB")


class _Page:
    """An A4 page with a vertical cursor; text is laid out top to bottom."""

    def __init__(self, fonts: FontSpec) -> None:
        self.image = Image.new("RGB", A4_PX, _WHITE)
        self.draw = ImageDraw.Draw(self.image)
        self.fonts = fonts
        self.width = A4_PX[0]
        self.y = 0

    def font(self, size: int, bold: bool) -> tuple[ImageFont.FreeTypeFont, int]:
        """A font of `size` px and the stroke width that fakes bold when there is no bold face."""
        if bold and self.fonts.bold is not None:
            return _font(self.fonts.bold, size), 0
        return _font(self.fonts.regular, size), (max(1, size // 40) if bold else 0)

    def text(
        self,
        text: str,
        size: int,
        *,
        bold: bool = False,
        color: tuple[int, int, int] = _INK,
        left: int = _MARGIN,
        right: int | None = None,
        center: bool = True,
        max_lines: int = 3,
        leading: float = 1.3,
    ) -> None:
        """Draws `text` wrapped between `left` and `right`, centred or left-aligned, and moves down.

        Text that needs more than `max_lines` lines is set smaller (down to 60 %), then cut with "…".
        """
        right = self.width - _MARGIN if right is None else right
        width = right - left
        for step in range(9):
            scaled = round(size * (1 - 0.05 * step))
            font, stroke = self.font(scaled, bold)
            lines = _wrap(font, text, width)
            if len(lines) <= max_lines:
                break
        else:
            lines = lines[:max_lines]
            while len(lines[-1]) > 1 and font.getlength(lines[-1] + "…") > width:
                lines[-1] = lines[-1][:-1]
            lines[-1] = lines[-1].rstrip() + "…"
        x = (left + right) / 2 if center else left
        for line in lines:
            self.draw.text(
                (x, self.y),
                line,
                font=font,
                fill=color,
                anchor="ma" if center else "la",
                stroke_width=stroke,
                stroke_fill=color,
            )
            self.y += round(scaled * leading)

    def space(self, pixels: int) -> None:
        self.y += pixels


# Poster wording: (Chinese, English). Printed text, so it is fixed here rather than in the catalogs.
_TITLE = ("发现豹子？请告诉我们", "Seen a leopard? Tell us")
_SUBTITLE = ("和顺县华北豹守护 · 公民科学观察", "Heshun North China leopard watch")
_PLACE_LABEL = ("地点", "Place")
_TELEGRAM_CAPTION = ("用 Telegram 扫码上报", "Scan with Telegram")
_WEB_CAPTION = ("没有 Telegram？扫这个", "No Telegram? Scan this")
_NOTE_TITLE = ("请注意", "Please note")
_SAFETY: tuple[tuple[str, str], ...] = (
    ("不要靠近、跟随或围堵豹子。", "Do not approach, follow or corner a leopard."),
    ("看好孩子，夜里把牲畜关进圈里。", "Keep children close and livestock penned at night."),
    (
        "华北豹是国家一级保护野生动物，伤害它是违法犯罪。请上报，不要报复。",
        "The North China leopard is a national first-class protected animal. "
        "Harming it is a crime: report, never retaliate.",
    ),
)
_HOTLINE = ("紧急情况请拨打：{hotline}", "Emergency hotline: {hotline}")
_NO_HOTLINE = (
    "紧急情况请联系当地林业站或拨打 110。",
    "In an emergency, call the local forestry station or 110.",
)
_FOOTER = "编号 Spot ID: {id}"


def _header(page: _Page) -> None:
    band_height = 700
    page.draw.rectangle((0, 0, page.width, band_height), fill=_FOREST)
    page.draw.rectangle((0, band_height, page.width, band_height + 24), fill=_AMBER)
    page.y = 100
    page.text(_TITLE[0], 165, bold=True, color=_WHITE, max_lines=2)
    page.space(10)
    page.text(_TITLE[1], 100, bold=True, color=_WHITE, max_lines=2)
    page.space(40)
    page.text(f"{_SUBTITLE[0]}  ·  {_SUBTITLE[1]}", 50, color=_WHITE, max_lines=1)
    page.y = max(page.y, band_height + 24) + 50


def _place(page: _Page, place: Place) -> None:
    page.text(f"{_PLACE_LABEL[0]} · {_PLACE_LABEL[1]}", 52, color=_GREY, max_lines=1)
    page.space(10)
    if place.name_zh:
        page.text(place.name_zh, 130, bold=True, max_lines=2)
    english = place.name_en or place.pinyin
    if english and english != place.name_zh:
        page.text(english, 76, max_lines=2)
    page.space(40)


def _qr_codes(page: _Page, codes: Sequence[tuple[str, tuple[str, str]]], limit: int) -> None:
    """One column per (link, caption): the QR code (at most `limit` px), the caption in Chinese and
    English, and the link in small print."""
    gap = 120
    inner = page.width - 2 * _MARGIN
    column = (inner - gap * (len(codes) - 1)) // len(codes)
    box = min(column, limit)
    images = [_qr_image(link, box) for link, _ in codes]
    top = page.y
    captions = top + max(image.height for image in images) + 30
    bottoms = []
    for i, ((link, (zh, en)), qr) in enumerate(zip(codes, images, strict=True)):
        left = _MARGIN + i * (column + gap)
        right = left + column
        page.image.paste(qr, (left + (column - qr.width) // 2, top))
        page.y = captions
        page.text(zh, 68, bold=True, left=left, right=right, max_lines=2)
        page.text(en, 50, left=left, right=right, max_lines=2)
        page.space(8)
        page.text(link, 34, color=_GREY, left=left, right=right, max_lines=3, leading=1.25)
        bottoms.append(page.y)
    page.y = max(bottoms) + 50


def _safety(page: _Page, hotline: str | None) -> None:
    top = page.y
    left, right = _MARGIN, page.width - _MARGIN
    pad = 60
    page.y += pad
    page.text(f"{_NOTE_TITLE[0]} · {_NOTE_TITLE[1]}", 64, bold=True, color=_AMBER, max_lines=1)
    page.space(20)
    contact = (
        (_HOTLINE[0].format(hotline=hotline), _HOTLINE[1].format(hotline=hotline)) if hotline else _NO_HOTLINE
    )
    for zh, en in (*_SAFETY, contact):
        bullet_y = page.y
        page.text(zh, 58, bold=True, left=left + pad + 60, right=right - pad, center=False)
        page.text(en, 44, color=_GREY, left=left + pad + 60, right=right - pad, center=False)
        radius = 12
        cx, cy = left + pad + 20, bullet_y + 38
        page.draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=_AMBER)
        page.space(22)
    page.y += pad - 22
    page.draw.rounded_rectangle((left, top, right, page.y), radius=40, outline=_AMBER, width=8)


_FOOTER_TOP = A4_PX[1] - _MARGIN + 20
_CONTENT_BOTTOM = _FOOTER_TOP - 40


def _layout(
    fonts: FontSpec,
    place: Place,
    codes: Sequence[tuple[str, tuple[str, str]]],
    hotline: str | None,
    qr_limit: int,
) -> _Page:
    """Everything above the footer; the page's cursor ends below the safety box."""
    page = _Page(fonts)
    _header(page)
    _place(page, place)
    _qr_codes(page, codes, qr_limit)
    _safety(page, hotline)
    return page


def make_poster(
    place: Place,
    *,
    bot_username: str,
    web_url: str | None,
    hotline: str | None,
    font: str | Path | None = None,
) -> Poster:
    """Renders the poster for `place` (see the module docstring). `web_url` None leaves out the second
    QR code; `hotline` None prints the forestry-station/110 line instead of a number.

    Raises ValueError for a username or place id that cannot make a deep link, a bad `web_url`,
    a layout that does not fit the page; FontNotFoundError when no Chinese font is installed.
    """
    telegram = deep_link(bot_username, place.id)
    web = web_tip_link(web_url, place.id) if web_url else None
    number = hotline.strip() if hotline and hotline.strip() else None
    fonts = find_cjk_font(font)
    codes = [(telegram, _TELEGRAM_CAPTION)]
    if web:
        codes.append((web, _WEB_CAPTION))

    # Long names push the rest down; the QR codes give up the room (they stay well scannable).
    limit = 920 if web else 1000
    page = _layout(fonts, place, codes, number, limit)
    overflow = page.y - _CONTENT_BOTTOM
    if overflow > 0:
        page = _layout(fonts, place, codes, number, limit - overflow)
    if page.y > _CONTENT_BOTTOM:
        raise ValueError(f"poster for {place.id!r} does not fit on one A4 page")
    page.y = _FOOTER_TOP
    page.text(_FOOTER.format(id=place.id), 36, color=_GREY, max_lines=1)

    png = io.BytesIO()
    page.image.save(png, "PNG", dpi=(DPI, DPI))
    pdf = io.BytesIO()
    page.image.save(pdf, "PDF", resolution=DPI, quality=95, subsampling=0, title=f"Leopard watch: {place.id}")
    return Poster(png=png.getvalue(), pdf=pdf.getvalue(), telegram_url=telegram, web_url=web)
