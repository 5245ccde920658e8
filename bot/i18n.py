"""Languages: message catalogs, the person's locale, and locale-aware formatting.

Catalogs are compiled from `locales/<lang>/LC_MESSAGES/messages.po` in memory when the bot
starts. There is no `.mo` file to forget to rebuild, so a stale compiled catalog cannot ship;
a catalog with a fuzzy or missing translation is caught by the tests (tests/test_i18n.py).
"""

from __future__ import annotations

import functools
import io
from datetime import datetime
from gettext import GNUTranslations, NullTranslations
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime, format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
LANGUAGES = ("zh_Hans", "en")
DOMAIN = "messages"


def N_(message: str) -> str:
    """Marks a message for extraction without translating it yet (translated where it is shown)."""
    return message


def language_for(language_code: str | None, default: str = "en") -> str:
    """Telegram's `language_code` (IETF tag) to one of ours: Chinese for zh*, English otherwise."""
    if not language_code:
        return default
    return "zh_Hans" if language_code.lower().startswith("zh") else "en"


@functools.cache
def _compiled(language: str, locales_dir: Path = LOCALES_DIR) -> NullTranslations:
    po_path = locales_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return GNUTranslations(buffer)


class Translator:
    """Translates and formats for one language; `gettext` fills `{placeholders}` from keywords."""

    def __init__(self, language: str, tz: ZoneInfo | None = None) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"unsupported language {language!r}")
        self.language = language
        self.locale = Locale.parse(language)
        self.tz = tz or ZoneInfo("Asia/Shanghai")
        self._translations = _compiled(language)

    def gettext(self, message: str, **params: object) -> str:
        text = self._translations.gettext(message)
        return text.format(**params) if params else text

    def ngettext(self, singular: str, plural: str, n: int, **params: object) -> str:
        text = self._translations.ngettext(singular, plural, n)
        return text.format(n=self.number(n), **params)

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self.locale)

    def datetime(self, moment: datetime) -> str:
        """A date and time in the county's time zone, written the way this language writes it."""
        day = format_skeleton("yMMMd", moment, tzinfo=self.tz, locale=self.locale)
        return f"{day} {format_datetime(moment, 'HH:mm', tzinfo=self.tz, locale=self.locale)}"

    def distance(self, metres: float) -> str:
        """'850 m' or '2.3 km' (Chinese: '850米', '2.3公里')."""
        if metres < 1000:
            return self.gettext("{distance} m", distance=self.number(round(metres)))
        km = round(metres / 1000, 1 if metres < 100_000 else 0)
        return self.gettext("{distance} km", distance=self.number(km))


@functools.cache
def translator(language: str, tz_name: str = "Asia/Shanghai") -> Translator:
    """A shared Translator per language (they are immutable)."""
    return Translator(language, ZoneInfo(tz_name))
