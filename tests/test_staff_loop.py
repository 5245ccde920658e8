"""End to end, with Telegram's limits on: the staff loop has no holes.

Every report is reviewed (one that joins after the decision is new work), no answer to staff is lost
(typed normally, as a photo or a location, by the one reporter asked), and nothing public happens on
one careless tap (Verify can be undone before anything is sent; a warning is previewed first).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.fake_telegram import FakeTelegram
from tests.kit import CODE, STAFF_ADMIN, STAFF_GROUP, Person, make_jpeg, rows
from tests.test_moderation import PUBLIC, RESEARCHERS, card_for, destinations, press, sighting

__all__ = ["destinations"]  # the channels fixture, shared with test_moderation



@pytest.fixture
async def bot(running, destinations):
    return await running(destinations=destinations, languages={"staff": "en"})


def card_message(fake: FakeTelegram, message_id: int) -> dict[str, Any] | None:
    return next((m for m in fake.messages_in(STAFF_GROUP) if m["message_id"] == message_id), None)


def notices(fake: FakeTelegram, person: Person, words: str) -> list[str]:
    return [t for t in person.texts() if words in t]


async def test_a_report_after_verification_is_new_work(fake: FakeTelegram, bot, config) -> None:
    first = Person(fake, 701, "First Reporter", language="en")
    code1 = await sighting(first, photo=None)
    card = await card_for(fake, code1)
    await press(fake, STAFF_ADMIN, card, "Verify")
    await fake.wait_for_message(first.id, contains="was confirmed")
    verified = await card_for(fake, code1, contains="Verified by Staff,")

    # A second person reports the same leopard after the decision.
    late = Person(fake, 702, "Late Reporter", language="en")
    code2 = await sighting(late, lat=37.3297, lon=113.5703, photo=None)
    assert rows(config.storage.database, "SELECT COUNT(DISTINCT incident_id) FROM reports")[0][0] == 1
    card = await card_for(fake, code2, contains="new report since verification")
    # Re-posted at the bottom of the group, where staff notice it; the old copy far up is gone.
    assert card["message_id"] > verified["message_id"]
    await fake.wait_until_idle()
    assert card_message(fake, verified["message_id"]) is None
    head, _, new_part = card["text"].partition("1 new report since verification")
    assert code2 not in head and code2 in new_part  # its facts apart from the verified ones
    assert "Verified by Staff" in head
    buttons = str(card["reply_markup"])
    assert f"Accept {code2}" in buttons and f"Reject {code2}" in buttons and f"Split out {code2}" in buttons
    fake.send_text(STAFF_ADMIN, "/pending", chat_id=STAFF_GROUP)
    pending = await fake.wait_for_message(STAFF_GROUP, contains="Waiting for staff")
    assert code2 in pending["text"] and "1 new report since the decision" in pending["text"]
    listing = await late.send("/myreports", contains=code2)
    assert "waiting for staff" in listing["text"]
    await fake.wait_until_idle()
    assert not notices(fake, late, "was confirmed")  # no verdict for a report nobody reviewed
    public_before = len(fake.messages_in(PUBLIC))

    # Staff accept it into the verified incident: its own reporter hears, nobody else again.
    answer = await press(fake, STAFF_ADMIN, card, f"Accept {code2}")
    assert answer.get("text") == "Done."
    notice = await fake.wait_for_message(late.id, contains="was confirmed")
    assert code2 in notice["text"] and code1 not in notice["text"]
    card = await card_for(fake, code2, contains="2 reports")
    assert "new report" not in card["text"] and "Accept" not in str(card["reply_markup"])
    listing = await late.send("/myreports", contains=code2)
    assert "verified" in listing["text"]
    fake.send_text(STAFF_ADMIN, "/pending", chat_id=STAFF_GROUP)
    await fake.wait_for_message(STAFF_GROUP, contains="Nothing is waiting")
    await fake.wait_until_idle()
    assert len(notices(fake, first, "was confirmed")) == 1
    assert len(fake.messages_in(PUBLIC)) == public_before

    # A third one is rejected on its own, with a reason: only its reporter is told.
    third = Person(fake, 703, "Third Reporter", language="en")
    code3 = await sighting(third, lat=37.3296, lon=113.5704, photo=None)
    card = await card_for(fake, code3, contains="new report since verification")
    await press(fake, STAFF_ADMIN, card, f"Reject {code3}")
    card = await card_for(fake, code3)
    await press(fake, STAFF_ADMIN, card, "Not a leopard")
    refused = await fake.wait_for_message(third.id, contains="could not confirm")
    assert code3 in refused["text"] and "probably another animal" in refused["text"]
    statuses = dict(rows(config.storage.database, "SELECT ref_code, status FROM reports"))
    assert statuses == {code1: "verified", code2: "verified", code3: "rejected"}

    # A fourth is split out: a card of its own, waiting for staff.
    fourth = Person(fake, 704, "Fourth Reporter", language="en")
    code4 = await sighting(fourth, lat=37.3295, lon=113.5702, photo=None)
    card = await card_for(fake, code4, contains="new report since verification")
    await press(fake, STAFF_ADMIN, card, f"Split out {code4}")
    own = await card_for(fake, code4, contains="Waiting for staff")
    assert code1 not in own["text"] and "Verify" in str(own["reply_markup"])
    await fake.wait_until_idle()
    assert not notices(fake, fourth, "confirm")


async def test_verify_waits_for_the_undo_window(fake: FakeTelegram, running, destinations, config) -> None:
    await running(destinations=destinations, languages={"staff": "en"}, moderation={"undo_seconds": 3.0})
    person = Person(fake, 711, language="en")
    code = await sighting(person)
    card = await card_for(fake, code)
    answer = await press(fake, STAFF_ADMIN, card, "Verify")
    assert answer["text"] == "Done. Nothing is sent for 3 s: Undo is on the card."
    card = await card_for(fake, code, contains="posting in 3 s")
    assert "Undo" in str(card["reply_markup"]) and "Warn" not in str(card["reply_markup"])
    answer = await press(fake, STAFF_ADMIN, card, "Undo")
    assert answer["text"] == "Undone: the incident waits for a decision again."
    card = await card_for(fake, code, contains="Waiting for staff")
    await asyncio.sleep(3.5)
    await fake.wait_until_idle()
    assert not fake.messages_in(PUBLIC) and not fake.messages_in(RESEARCHERS)
    assert not notices(fake, person, "confirmed")
    assert rows(config.storage.database, "SELECT status FROM reports")[0][0] == "new"
    # Decided again and left alone: after the window everything goes out, once.
    await press(fake, STAFF_ADMIN, card, "Verify")
    await asyncio.sleep(1)
    assert not fake.messages_in(PUBLIC)  # the public post waits for the window
    await fake.wait_for_message(PUBLIC, contains="verified", timeout=10)
    await fake.wait_for_message(person.id, contains="was confirmed")
    card = await card_for(fake, code, contains="Verified by Staff,")
    answer = await press(fake, STAFF_ADMIN, card, "Exact location")  # Undo is gone; evidence stays
    audit = [r[0] for r in rows(config.storage.database, "SELECT action FROM audit_log ORDER BY id")]
    assert audit == ["verified", "undo", "verified", "exact"]


async def two_reporters(fake: FakeTelegram) -> tuple[Person, str, Person, str]:
    a = Person(fake, 721, "Ann Reporter", language="en")
    code_a = await sighting(a, photo=None)
    b = Person(fake, 722, "Bo Reporter", language="en")
    code_b = await sighting(b, lat=37.3297, lon=113.5703, photo=None)
    return a, code_a, b, code_b


async def ask(fake: FakeTelegram, card: dict[str, Any], label: str, question: str) -> dict[str, Any]:
    """Staff press Ask, pick the report, and reply to the prompt with `question`; returns the prompt."""
    await press(fake, STAFF_ADMIN, card, "Ask the reporter")
    card = next(m for m in fake.messages_in(STAFF_GROUP) if m["message_id"] == card["message_id"])
    await press(fake, STAFF_ADMIN, card, label)
    prompt = await fake.wait_for_message(STAFF_GROUP, contains="Reply to this message with your question")
    fake.send_text(STAFF_ADMIN, question, chat_id=STAFF_GROUP, reply_to_message_id=prompt["message_id"])
    return prompt


async def test_an_answer_typed_normally_reaches_the_card(fake: FakeTelegram, bot, config) -> None:
    a, code_a, b, code_b = await two_reporters(fake)
    card = await card_for(fake, code_b, contains="2 reports")
    await press(fake, STAFF_ADMIN, card, "Ask the reporter")
    card = card_message(fake, card["message_id"])
    assert card is not None
    labels = str(card["reply_markup"])
    assert f"{code_a} · Ann Reporter" in labels and f"{code_b} · Bo Reporter" in labels
    await press(fake, STAFF_ADMIN, card, f"{code_b} · Bo Reporter")
    prompt = await fake.wait_for_message(STAFF_GROUP, contains="Reply to this message with your question")
    assert "Bo Reporter" in prompt["text"] and code_b in prompt["text"] and "Ann" not in prompt["text"]
    fake.send_text(
        STAFF_ADMIN, "Did it have a collar?", chat_id=STAFF_GROUP, reply_to_message_id=prompt["message_id"]
    )
    sent = await fake.wait_for_message(STAFF_GROUP, contains="Sent to")
    assert sent["text"] == f"Sent to Bo Reporter ({code_b})."
    question = await fake.wait_for_message(b.id, contains="Did it have a collar?")
    assert code_b in question["text"] and code_a not in question["text"]
    await fake.wait_until_idle()
    assert not notices(fake, a, "Did it have a collar?")  # never every reporter of the incident

    # Typed normally, not with Telegram's Reply: still the answer.
    thanks = await b.send("Yes, two small ones", contains="Thank you")
    assert "passed on" in thanks["text"]
    answer = await fake.wait_for_message(STAFF_GROUP, contains="Yes, two small ones")
    assert f"Answer from the reporter of {code_b}" in answer["text"]
    assert answer["reply_to_message"]["message_id"] == card["message_id"]  # under the card
    # A photo and a location count as answers too.
    await b.send_photo(make_jpeg(seed=7), contains="Thank you")
    copied = await fake.wait_for_call("copyMessage", predicate=lambda c: c.ok)
    assert str(copied.params["chat_id"]) == str(STAFF_GROUP)
    photo = next(m for m in reversed(fake.messages_in(STAFF_GROUP)) if m.get("photo"))
    assert code_b in photo["caption"] and photo["reply_to_message"]["message_id"] == card["message_id"]
    await b.send_location(37.3301, 113.5711, contains="Thank you")
    await fake.wait_for_message(STAFF_GROUP, contains="37.33010, 113.57110")
    # Three answers close the question: a flood of replies cannot fill the staff group's queue.
    in_group = len(fake.messages_in(STAFF_GROUP))
    for n in range(5):
        await b.send(f"more {n}", contains="did not understand")
    await fake.wait_until_idle()
    assert len(fake.messages_in(STAFF_GROUP)) == in_group
    closed = rows(config.storage.database, "SELECT answers, recipient_id, closed_at FROM questions")
    assert [(r[0], r[1], r[2] is not None) for r in closed] == [(3, None, True)]


async def test_several_open_questions_ask_which_report(fake: FakeTelegram, bot, config) -> None:
    person = Person(fake, 731, "Two Reports", language="en")
    code1 = await sighting(person, photo=None)
    code2 = await sighting(person, lat=37.0, lon=113.3, photo=None)  # far away: an incident of its own
    for code, question in ((code1, "How far away?"), (code2, "What colour?")):
        card = await card_for(fake, code)
        await press(fake, STAFF_ADMIN, card, "Ask the reporter")  # one reporter: asked directly
        prompt = await fake.wait_for_message(STAFF_GROUP, contains=code)
        assert "Two Reports" in prompt["text"]
        fake.send_text(STAFF_ADMIN, question, chat_id=STAFF_GROUP, reply_to_message_id=prompt["message_id"])
        await fake.wait_for_message(person.id, contains=question)
    which = await person.send("About 50 m", contains="Which of your reports")
    assert {b["text"] for row in which["reply_markup"]["inline_keyboard"] for b in row} == {code1, code2}
    await person.tap(code2, contains="Thank you")
    answer = await fake.wait_for_message(STAFF_GROUP, contains="About 50 m")
    assert code2 in answer["text"]


async def test_an_anonymous_card_says_at_once_that_nobody_can_be_asked(
    fake: FakeTelegram, bot, config
) -> None:
    tipster = Person(fake, 741, "Tipster Name", language="en")
    await tipster.send("/start")
    await tipster.tap("Snares", contains="photos")
    await tipster.tap("No photo", contains="Where was it")
    await tipster.send("37.33, 113.57", contains="When")
    await tipster.tap("Just now")
    await tipster.tap("Poison")
    await tipster.tap("Skip")
    await tipster.tap("Stay anonymous", contains="Please check")
    # The hint names what is on screen: the answers are keys of the keyboard below.
    hint = await tipster.send("what now?", contains="keyboard below")
    assert "Please tap Send, Change or Cancel on the keyboard below." in hint["text"]
    assert tipster.key("Send report") and tipster.key("Change something") and tipster.key("Cancel")
    receipt = await tipster.tap("Send report", contains="Reference code")
    # The receipt tells the truth about /myreports: an anonymous tip is not listed there, by design.
    assert "not listed in /myreports" in receipt["text"] and "check it any time" not in receipt["text"]
    listing = await tipster.send("/myreports")
    assert "You have not sent any reports" in listing["text"]
    card = await card_for(fake, CODE.search(receipt["text"]).group(0))
    await fake.wait_until_idle()
    before = len(fake.messages_in(STAFF_GROUP))
    answer = await press(fake, STAFF_ADMIN, card, "Ask the reporter")
    assert answer["text"] == "Nobody can be asked: the reports are anonymous." and answer["show_alert"]
    await fake.wait_until_idle()
    assert len(fake.messages_in(STAFF_GROUP)) == before  # no prompt to type a question into
