"""Cards and receipts: escaping, anonymity and Telegram's length limits."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from bot.cards import TEXT_LIMIT, report_messages, split_message, user_text, visible_length
from bot.fake_telegram.formatting import parse_html
from bot.i18n import translator
from bot.moderation import card_text, public_post
from bot.records import CardState, ReportRow, Review, StoredPhoto, SubmittedReport

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
NEW = SubmittedReport(1, "HS-2026-00001", created=True, incident_id=1)
JOINED = SubmittedReport(2, "HS-2026-00002", created=True, incident_id=1, joined_existing=True)


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


def state(*reports: ReportRow) -> CardState:
    return CardState(1, reports[0].kind, "open", None, Review.PENDING, None, None, None, None, reports, (2,))


def test_card_escapes_and_fits_one_message() -> None:
    for language in ("en", "zh_Hans"):
        text = card_text(
            state(row(), row(id=2, ref_code="HS-2026-00002", latitude=37.331)), translator(language)
        )
        plain, _entities = parse_html(text)  # valid HTML as Telegram parses it
        assert len(plain) <= TEXT_LIMIT
        assert "&lt;b&gt;Bob&lt;/b&gt; &amp; co" in text and "&lt;i&gt;paw" in text
        assert "HS-2026-00002" in text and "#2" in text  # both reports, and the merge suggestion


def test_new_incident_posts_an_album_and_a_card_but_a_joining_report_only_refreshes() -> None:
    new = report_messages(row(), NEW, -100, translator("en"), 5)
    # No separate location message: the card links its coordinates to a map.
    assert [m.method for m in new] == ["send_message", "send_photos", "card"]
    assert new[1].payload["paths"] == ["d0", "d1", "d2"]
    joined = report_messages(row(id=2), JOINED, -100, translator("en"), 5)
    assert [m.method for m in joined] == ["send_message", "card"]
    # The reporter's receipt is the same whether their report started an incident, joined one or
    # updated their own earlier report: only the code differs (a receipt is no oracle).
    updated = SubmittedReport(3, "HS-7K3F-9Q", created=True, incident_id=1, updated_existing=True)
    receipts = {
        report_messages(row(id=n, ref_code="HS-2026-00001"), outcome, -100, translator(language), 5)[0]
        .payload["text"].replace(outcome.ref_code, "CODE")
        for n, outcome in ((1, NEW), (2, JOINED), (3, updated))
        for language in ("en",)
    }
    assert len(receipts) == 1 and "CODE" in receipts.pop()
    safe = report_messages(row(id=3), JOINED, -100, translator("en"), 5, after_receipt="🛡 Stay calm")
    assert safe[0].payload["text"].endswith("\n\n🛡 Stay calm") and "Reference code" in safe[0].payload["text"]


def test_anonymous_reports_stay_anonymous() -> None:
    tip = row(
        kind="tip",
        reporter_id=None,
        reporter_name=None,
        reporter_username=None,
        details={"threat": "snares"},
        notify_reporter=False,
    )
    messages = report_messages(tip, NEW, -100, translator("en"), 5)
    assert messages[0].private and not any(m.private for m in messages[1:])
    card = card_text(state(tip), translator("en"))
    assert "Anonymous" in card and "tg://user" not in card
    public = public_post(state(tip), translator("en"), 0.2)
    assert "37.33" not in public and "URGENT" in public


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


def test_phone_numbers_stay_off_staff_cards_and_channels() -> None:
    loss = row(kind="livestock", details={"animal": "sheep", "killed": 2, "injured": 0, "penned": "penned",
                                          "owner_name": "张三", "phone": "13912345678"})
    texts = (card_text(state(loss), translator("zh_Hans")), public_post(state(loss), translator("en"), 0.2))
    for text in texts:
        assert "13912345678" not in text
