"""Refreshes the message catalogs after code changes: extract, update, fill English, list gaps.

    python scripts/update_catalogs.py          # then translate what it lists in locales/zh_Hans/…/messages.po

English message ids are the English text, so the English catalog starts as a copy of them
(editors may improve the English there without touching code). The tests fail while any
Chinese entry is empty or fuzzy, so a gap cannot ship unnoticed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
TEMPLATE = LOCALES / "messages.pot"


def run(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *args], check=True, cwd=ROOT)


def po_path(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / "messages.po"


def main() -> int:
    run(
        "extract",
        "-F",
        "pyproject.toml",
        "-k",
        "N_",
        "--no-location",
        "--sort-output",
        "--omit-header",
        "-o",
        str(TEMPLATE),
        "bot",
        "handlers",
    )
    for language in ("zh_Hans", "en"):
        command = "update" if po_path(language).exists() else "init"
        run(
            command,
            "-i",
            str(TEMPLATE),
            "-d",
            str(LOCALES),
            "-l",
            language,
            "--no-wrap",
            *(["--no-fuzzy-matching", "--ignore-obsolete"] if command == "update" else []),
        )
    with po_path("en").open("rb") as fh:
        english = read_po(fh, locale="en")
    for message in english:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            if not all(message.string):
                message.string = message.id  # English has the same two plural forms
        elif not message.string:
            message.string = message.id
        message.flags.discard("fuzzy")
    with po_path("en").open("wb") as fh:
        write_po(fh, english, omit_header=False, width=0, ignore_obsolete=True)
    with po_path("zh_Hans").open("rb") as fh:
        chinese = read_po(fh, locale="zh_Hans")
    gaps = [m.id for m in chinese if m.id and (not m.string or m.fuzzy)]
    for gap in gaps:
        print(f"untranslated (zh_Hans): {gap!r}")
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(main())
