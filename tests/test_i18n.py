"""Catalogs cannot drift from the code: every message extracted, translated, placeholders intact."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.i18n import LANGUAGES, LOCALES_DIR, Translator, language_for

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def code_messages() -> set[str]:
    found = set()
    for folder in ("bot", "handlers"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, keywords=KEYWORDS, comment_tags=(), strip_comment_tags=True
        ):
            found.add(message[0] if isinstance(message, tuple) else message)
    return found


def catalog(language: str):
    with (LOCALES_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated(language: str) -> None:
    cat = catalog(language)
    ids = {m.id[0] if isinstance(m.id, tuple) else m.id: m for m in cat if m.id}
    missing = sorted(code_messages() - ids.keys())
    assert not missing, f"not in {language} catalog (run scripts/update_catalogs.py): {missing}"
    untranslated = [
        k
        for k, m in ids.items()
        if m.fuzzy or not (all(m.string) if isinstance(m.string, tuple) else m.string)
    ]
    assert not untranslated, f"untranslated or fuzzy in {language}: {untranslated}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_match(language: str) -> None:
    for m in catalog(language):
        if not m.id:
            continue
        originals = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        wanted = set(PLACEHOLDER.findall(originals[0])) | set(PLACEHOLDER.findall(originals[-1]))
        for s in strings:
            assert set(PLACEHOLDER.findall(s)) == wanted, f"{language}: {m.id!r} -> {s!r}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogs_compile(language: str) -> None:
    buffer = io.BytesIO()
    write_mo(buffer, catalog(language), use_fuzzy=False)
    assert buffer.getvalue()


def test_template_is_current() -> None:
    """locales/messages.pot holds exactly what the code uses (scripts/update_catalogs.py refreshes it)."""
    with (LOCALES_DIR / "messages.pot").open("rb") as fh:
        template = {m.id[0] if isinstance(m.id, tuple) else m.id for m in read_po(fh) if m.id}
    assert template == code_messages()


def test_language_choice_and_formatting() -> None:
    assert language_for("zh-hans") == language_for("zh-TW") == language_for("zh") == "zh_Hans"
    assert language_for("en-GB") == language_for("de") == language_for(None) == "en"
    zh, en = Translator("zh_Hans"), Translator("en")
    moment = datetime(2026, 11, 20, 6, 30, tzinfo=UTC)
    assert zh.datetime(moment) == "2026年11月20日 14:30"
    assert en.datetime(moment) == "Nov 20, 2026 14:30"
    assert en.distance(850) == "850 m" and en.distance(2345) == "2.3 km" and zh.distance(2345) == "2.3公里"
    assert en.ngettext("{n} photo", "{n} photos", 1) == "1 photo"
    assert en.ngettext("{n} photo", "{n} photos", 3) == "3 photos"
    assert zh.ngettext("{n} photo", "{n} photos", 3) == "3 张照片"
    assert (
        zh.gettext("Please send a number from {minimum} to {maximum}.", minimum=0, maximum=5)
        == "请发一个 0 到 5 之间的数字。"
    )
