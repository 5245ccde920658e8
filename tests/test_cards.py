"""Cards and receipts: escaping and Telegram's length limits."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from bot.cards import CAPTION_LIMIT, TEXT_LIMIT, report_messages, split_message, user_text, visible_length
from bot.fake_telegram.formatting import parse_html
from bot.i18n import translator
from bot.store import ReportRow, StoredPhoto

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def row(**changes) -> ReportRow:
    base = dict(
        id=1,
        ref_code="HS-2026-00001",
        kind="signs",
        status="new",
        reporter_id=5,
        reporter_name="<b>Bob</b> & co",
        reporter_username="bob",
        language="en",
        latitude=37.33,
        longitude=113.57,
        accuracy_m=12.0,
        location_source="telegram",
        input_datum="wgs84",
        place_name=None,
        observed_at=NOW,
        submitted_at=NOW,
        details={"sign": "tracks", "note": "<i>" + "paw " * 2000},
        notify_reporter=True,
        incident_id=1,
        photos=tuple(
            StoredPhoto(f"f{i}", f"u{i}", "0" * 64, 1, "image/jpeg", 1, 1, "o", f"d{i}", "t")
            for i in range(3)
        ),
    )
    base.update(changes)
    return ReportRow(**base)


def test_card_escapes_and_fits() -> None:
    for language in ("en", "zh_Hans"):
        messages = report_messages(row(), -100, translator(language), translator("en"), 5)
        texts = [m.payload["text"] for m in messages if m.method == "send_message"]
        for text in texts:
            plain, _entities = parse_html(text)  # valid HTML as Telegram parses it
            assert len(plain) <= TEXT_LIMIT
        assert "&lt;b&gt;Bob&lt;/b&gt; &amp; co" in texts[0] and "&lt;i&gt;paw" in texts[0]
        album = messages[0]
        assert album.method == "send_photos" and album.payload["paths"] == ["d0", "d1", "d2"]
        assert visible_length(album.payload["caption"]) <= CAPTION_LIMIT


def test_anonymous_card_has_no_identity() -> None:
    messages = report_messages(
        row(
            kind="tip",
            reporter_id=None,
            reporter_name=None,
            reporter_username=None,
            details={"threat": "snares"},
            notify_reporter=False,
        ),
        -100,
        translator("en"),
        translator("en"),
        5,
    )
    card = messages[2].payload["text"]
    assert "Anonymous" in card and "tg://user" not in card
    assert messages[-1].private and not messages[0].private


@given(st.lists(st.text(max_size=5000), max_size=8))
def test_split_never_exceeds_the_limit(values: list[str]) -> None:
    lines = [user_text(v, 5000) for v in values]
    for chunk in split_message(lines, limit=TEXT_LIMIT):
        assert visible_length(chunk) <= TEXT_LIMIT
        parse_html(chunk)


def test_split_keeps_everything_when_it_fits() -> None:
    lines = [f"line {i}" for i in range(2000)]
    chunks = split_message(lines)
    assert "\n".join(chunks) == "\n".join(lines) and len(chunks) > 1
