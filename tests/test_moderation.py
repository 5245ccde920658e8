"""End to end: the moderation group, routing to channels, and what reporters hear."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from bot.config import Destination
from bot.fake_telegram import FakeTelegram
from tests.kit import CODE, STAFF_ADMIN, STAFF_GROUP, Person, code_in, make_jpeg, rows
from tests.kit import sighting as kit_sighting

RESEARCHERS = -1002000000001
PUBLIC = -1002000000002
PATROL = -1002000000003
OTHER_ADMIN = 9002  # a group administrator who is not in the configured list
VILLAGER = 9003  # a member of the group who is not staff


@pytest.fixture
def destinations(fake: FakeTelegram) -> tuple[Destination, ...]:
    fake.add_channel(RESEARCHERS, "Researchers")
    fake.add_channel(PUBLIC, "Heshun leopards (public)")
    fake.add_channel(PATROL, "Anti-poaching patrol")
    fake.add_user(OTHER_ADMIN, "Admin Two")
    fake.add_user(VILLAGER, "Curious Villager")
    fake.add_member(STAFF_GROUP, OTHER_ADMIN, "administrator")
    fake.add_member(STAFF_GROUP, VILLAGER, "member")
    return (
        Destination("researchers", RESEARCHERS, frozenset({"sighting", "signs"}), trusted=True),
        Destination("public", PUBLIC, frozenset({"sighting", "signs"}), trusted=False),
        Destination("patrol", PATROL, frozenset({"tip"}), trusted=True),
    )


async def sighting(person: Person, lat: float = 37.3296, lon: float = 113.5702, photo: int | None = 1) -> str:
    """The kit's short sighting; its reference code."""
    return code_in(await kit_sighting(person, lat, lon, photo))


async def card_for(fake: FakeTelegram, code: str, *, contains: str | None = None) -> dict[str, Any]:
    """The incident card (the group message with buttons) mentioning `code`, once it shows `contains`."""
    for _ in range(200):
        for message in reversed(fake.messages_in(STAFF_GROUP)):
            text = message.get("text") or ""
            if code in text and "Incident" in text and (contains is None or contains in text):
                return message
        await asyncio.sleep(0.05)
    raise AssertionError(
        f"no card for {code} containing {contains!r}: "
        f"{[m.get('text') for m in fake.messages_in(STAFF_GROUP)]}"
    )


def button(message: dict[str, Any], label: str) -> str:
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for b in row:
            if label in b["text"]:
                return b["callback_data"]
    raise AssertionError(f"no button {label!r} on card: {message.get('reply_markup')}")


async def press(fake: FakeTelegram, staff: int, card: dict[str, Any], label: str) -> dict[str, Any]:
    """A staff member presses a card button; returns the answer the bot gave to the press."""
    fresh = next(m for m in fake.messages_in(STAFF_GROUP) if m["message_id"] == card["message_id"])
    query = fake.press_button(staff, fresh, button(fresh, label), chat_id=STAFF_GROUP)
    call = await fake.wait_for_call(
        "answerCallbackQuery", predicate=lambda c: c.params.get("callback_query_id") == query["id"]
    )
    return call.params


@pytest.fixture
async def bot(running, destinations):
    # Staff cards in English here so assertions read plainly; Chinese staff cards are tested elsewhere.
    return await running(destinations=destinations, languages={"staff": "en"})


async def test_verify_notifies_reporter_and_routes_by_trust(fake: FakeTelegram, bot, config) -> None:
    person = Person(fake, 601, "Zhao <Li>", language="en")
    code = await sighting(person)
    card = await card_for(fake, code)
    assert "Waiting for staff" in card["text"]
    answer = await press(fake, STAFF_ADMIN, card, "Verify")
    assert answer.get("text", "").startswith("Done.")
    card = await card_for(fake, code, contains="Verified by")
    assert "Verify" not in str(card["reply_markup"])  # decided: only the evidence buttons remain
    notice = await fake.wait_for_message(person.id, contains="was confirmed")
    assert code in notice["text"]
    trusted = await fake.wait_for_message(RESEARCHERS, contains=code)
    assert "37.32960, 113.57020" in trusted["text"] and "Zhao &lt;Li&gt;" not in trusted["text"]
    assert "Zhao <Li>" in trusted["text"]  # the reporter, escaped on the wire and shown as written
    await fake.wait_for_call(
        "sendDocument", predicate=lambda c: str(c.params.get("chat_id")) == str(RESEARCHERS)
    )
    public = await fake.wait_for_message(PUBLIC, contains="verified")
    assert_public_is_clean(fake, [person])
    assert "Area:" in public["text"]
    audit = rows(config.storage.database, "SELECT action, staff_id FROM audit_log WHERE action = 'verified'")
    assert [tuple(r) for r in audit] == [("verified", STAFF_ADMIN)]


def assert_public_is_clean(fake: FakeTelegram, people: list[Person]) -> None:
    """No precise coordinate, reporter identity, place finer than the grid, or original photo in public."""
    precise = re.compile(r"\d+\.\d{3,}")
    for call in fake.calls:
        if str(call.params.get("chat_id")) != str(PUBLIC) or not call.ok:
            continue
        assert call.method in ("sendMessage", "sendPhoto", "sendMediaGroup"), call.method
        text = str(call.params.get("text") or call.params.get("caption") or "")
        assert not precise.search(text), text
        for person in people:
            assert str(person.id) not in text
        assert "tg://user" not in text and "义兴" not in text and "Yixing" not in text


async def test_reject_with_reason_tells_the_reporter_kindly(fake: FakeTelegram, bot, config) -> None:
    person = Person(fake, 602, language="en")
    code = await sighting(person, photo=None)
    card = await card_for(fake, code)
    await press(fake, STAFF_ADMIN, card, "Reject")
    card = await card_for(fake, code)
    await press(fake, STAFF_ADMIN, card, "Not a leopard")
    await card_for(fake, code, contains="Not confirmed (Not a leopard)")
    notice = await fake.wait_for_message(person.id, contains="could not confirm")
    assert "probably another animal" in notice["text"]
    assert not fake.messages_in(PUBLIC) and not fake.messages_in(RESEARCHERS)
    listing = await person.send("/myreports", contains=code)
    assert "not confirmed" in listing["text"]


async def test_only_staff_act_and_admins_count_as_staff(fake: FakeTelegram, bot, config) -> None:
    person = Person(fake, 603, language="en")
    code = await sighting(person, photo=None)
    card = await card_for(fake, code)
    refused = await press(fake, VILLAGER, card, "Verify")
    assert refused.get("text") == "Staff only." and refused.get("show_alert") is True
    assert "Waiting for staff" in (await card_for(fake, code))["text"]
    denied = rows(config.storage.database, "SELECT staff_id FROM audit_log WHERE action = 'denied'")
    assert [r[0] for r in denied] == [VILLAGER]
    # A current administrator of the group is staff without being configured (getChatMember).
    await press(fake, OTHER_ADMIN, card, "Assign to me")
    await card_for(fake, code, contains="Field visit: Admin Two")
    # A forged button (valid shape, unknown token) and another card's token are refused.
    fake.press_forged_button(STAFF_ADMIN, card["message_id"], "m:forgedtoken1", chat_id=STAFF_GROUP)
    await fake.wait_until_idle()
    assert fake.callback_answers()[-1].get("text") == "That button is from an older message."


async def test_two_staff_pressing_at_once_first_wins(fake: FakeTelegram, bot, config) -> None:
    person = Person(fake, 604, language="en")
    code = await sighting(person, photo=None)
    card = await card_for(fake, code)
    await press(fake, STAFF_ADMIN, card, "Reject")
    card = await card_for(fake, code)
    # Both presses arrive before either is answered.
    fresh = next(m for m in fake.messages_in(STAFF_GROUP) if m["message_id"] == card["message_id"])
    q1 = fake.press_button(STAFF_ADMIN, fresh, button(fresh, "Spam"), chat_id=STAFF_GROUP)
    q2 = fake.press_button(OTHER_ADMIN, fresh, button(fresh, "Not enough evidence"), chat_id=STAFF_GROUP)
    answers = {}
    for q in (q1, q2):
        call = await fake.wait_for_call(
            "answerCallbackQuery", predicate=lambda c, q=q: c.params.get("callback_query_id") == q["id"]
        )
        answers[q["id"]] = call.params.get("text")
    assert answers[q1["id"]].startswith("Done.")
    assert answers[q2["id"]] == "Someone else already decided this incident."
    await card_for(fake, code, contains="Not confirmed (Spam)")
    decided = rows(config.storage.database, "SELECT review, reject_reason FROM incidents")
    assert [tuple(r) for r in decided] == [("rejected", "spam")]


async def test_a_staff_press_held_by_the_group_flood_limit_does_not_hold_up_residents(
    fake: FakeTelegram, bot, config
) -> None:
    person = Person(fake, 611, language="en")
    code = await sighting(person, photo=None)
    card = await card_for(fake, code)
    # The group's flood limit answers the staff's "Reject" (its reason menu) with "retry after 3".
    fake.fail_next("editMessageReplyMarkup", error_code=429, description="Too Many Requests: retry after 3",
                   retry_after=3)
    query = fake.press_button(STAFF_ADMIN, card, button(card, "Reject"), chat_id=STAFF_GROUP)
    resident = Person(fake, 612, language="en")
    await resident.send("/start", contains="Leopard Watch")
    edits = [c for c in fake.calls_to("editMessageReplyMarkup") if c.ok]
    assert not edits, "the resident was answered only after the staff's held edit"
    answer = await fake.wait_for_call(
        "answerCallbackQuery", timeout=15,
        predicate=lambda c: c.params.get("callback_query_id") == query["id"],
    )
    assert answer.ok
    assert "Spam" in str((await card_for(fake, code))["reply_markup"])  # the reasons, after the wait


async def test_nearby_reports_join_one_card_and_staff_can_split_and_merge(
    fake: FakeTelegram, bot, config
) -> None:
    first, second, far = (
        Person(fake, 605, language="en"),
        Person(fake, 606, language="en"),
        Person(fake, 607, language="en"),
    )
    code1 = await sighting(first, photo=None)
    code2 = await sighting(second, 37.3310, 113.5710, photo=None)  # ~180 m away, minutes later
    receipt = [t for t in second.texts() if "Reference code" in t][-1]
    assert "Others saw it too" not in receipt and "605" not in receipt
    card = await card_for(fake, code1, contains="2 reports")
    assert code2 in card["text"]
    cards = [m for m in fake.messages_in(STAFF_GROUP) if "Incident" in (m.get("text") or "")]
    assert len(cards) == 1  # one card, edited in place

    await press(fake, STAFF_ADMIN, card, "Split a report out")
    card = await card_for(fake, code1)
    await press(fake, STAFF_ADMIN, card, code2)
    for _ in range(100):  # the split-out report gets a card of its own; the old card drops it
        cards = [m for m in fake.messages_in(STAFF_GROUP) if "Incident" in (m.get("text") or "")]
        if len(cards) == 2 and code2 not in cards[0]["text"] and code2 in cards[1]["text"]:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError([m.get("text") for m in cards])

    code3 = await sighting(far, 37.40, 113.65, photo=None)  # ~11 km away: its own incident
    card3 = await card_for(fake, code3)
    await press(fake, STAFF_ADMIN, card3, "Merge into")
    card3 = await card_for(fake, code3)
    target = next(
        b["text"]
        for row in card3["reply_markup"]["inline_keyboard"]
        for b in row
        if "Into incident" in b["text"]
    )
    await press(fake, STAFF_ADMIN, card3, target)
    await card_for(fake, code3, contains="Merged into incident")
    audit = [r[0] for r in rows(config.storage.database, "SELECT action FROM audit_log ORDER BY id")]
    assert "split" in audit and "merge" in audit


async def test_ask_the_reporter_and_the_answer_comes_back_under_the_card(
    fake: FakeTelegram, bot, config
) -> None:
    person = Person(fake, 608, language="en")
    code = await sighting(person, photo=None)
    card = await card_for(fake, code)
    await press(fake, STAFF_ADMIN, card, "Ask the reporter")
    prompt = await fake.wait_for_message(STAFF_GROUP, contains="Reply to this message")
    fake.send_text(
        STAFF_ADMIN,
        "Was it <b>near</b> the school?",
        chat_id=STAFF_GROUP,
        reply_to_message_id=prompt["message_id"],
    )
    question = await fake.wait_for_message(person.id, contains="A question from the forestry bureau")
    assert "Was it <b>near</b> the school?" in question["text"]
    fake.send_text(person.id, "No, by the river", reply_to_message_id=question["message_id"])
    answer = await fake.wait_for_message(STAFF_GROUP, contains="No, by the river")
    assert answer.get("reply_to_message", {}).get("message_id") == card["message_id"]
    await fake.wait_for_message(person.id, contains="passed on")


async def test_evidence_and_staff_commands(fake: FakeTelegram, bot, config) -> None:
    person = Person(fake, 609, language="en")
    code = await sighting(person, photo=7)
    card = await card_for(fake, code)
    await press(fake, STAFF_ADMIN, card, "Exact location")
    exact = await fake.wait_for_message(STAFF_GROUP, contains="Exact locations")
    assert "37.32960, 113.57020" in exact["text"]
    await press(fake, STAFF_ADMIN, card, "Original photos")
    sent = await fake.wait_for_call("sendDocument", predicate=lambda c: c.ok)
    assert sent.params.get("chat_id") in (STAFF_GROUP, str(STAFF_GROUP))

    fake.send_text(STAFF_ADMIN, "/pending", chat_id=STAFF_GROUP)
    pending = await fake.wait_for_message(STAFF_GROUP, contains="Waiting for staff")
    assert code in pending["text"]
    fake.send_text(STAFF_ADMIN, "/stats", chat_id=STAFF_GROUP)
    stats = await fake.wait_for_message(STAFF_GROUP, contains="Last 7 days")
    assert "Leopard sighting: 1" in stats["text"]
    fake.send_text(STAFF_ADMIN, f"/find {code.lower()}", chat_id=STAFF_GROUP)
    found = await fake.wait_for_message(STAFF_GROUP, contains="belongs to incident")
    assert code in found["text"]
    # "Staff only." is said privately, never in the group, whose budget is 20 a minute.
    in_group = len(fake.messages_in(STAFF_GROUP))
    fake.send_text(VILLAGER, "/pending", chat_id=STAFF_GROUP)
    await fake.wait_for_call(
        "sendMessage", predicate=lambda c: not c.ok and str(c.params.get("chat_id")) == str(VILLAGER)
    )
    fake.send_text(VILLAGER, "/start")  # now they have started the bot: it may write to them
    await fake.wait_for_message(VILLAGER)
    fake.send_text(VILLAGER, "/stats", chat_id=STAFF_GROUP)
    await fake.wait_for_message(VILLAGER, contains="Staff only")
    await fake.wait_until_idle()
    assert len(fake.messages_in(STAFF_GROUP)) == in_group  # the bot said nothing there
    denied = rows(config.storage.database, "SELECT detail FROM audit_log WHERE action = 'denied'")
    assert [r[0] for r in denied] == ["/pending", "/stats"]


async def test_tip_goes_to_the_patrol_marked_urgent_without_identity(fake: FakeTelegram, bot, config) -> None:
    person = Person(fake, 610, "Tipster Name", language="en")
    await person.send("/start")
    await person.tap("Snares", contains="photos")
    await person.tap("No photo", contains="Where was it")
    await person.send("37.33, 113.57", contains="When")
    await person.tap("Just now")
    await person.tap("Poison")
    await person.tap("Skip")
    await person.tap("Stay anonymous", contains="Please check")
    receipt = await person.tap("Send report", contains="Reference code")
    code = CODE.search(receipt["text"]).group(0)
    card = await card_for(fake, code)
    await press(fake, STAFF_ADMIN, card, "Verify")
    urgent = await fake.wait_for_message(PATROL, contains="URGENT")
    assert "Anonymous" in urgent["text"] and "Tipster" not in urgent["text"]
    await fake.wait_until_idle()
    assert not [m for m in fake.messages_in(person.id) if "confirmed" in (m.get("text") or "")]


async def test_undelivered_cards_survive_a_restart(fake: FakeTelegram, running, destinations, config) -> None:
    bot = await running(destinations=destinations, languages={"staff": "en"})
    person = Person(fake, 611, language="en")
    await person.send("/start")
    await person.tap("I saw a leopard", contains="photos")
    await person.send_photo(make_jpeg(seed=61), contains="Got 1 photo")
    await person.tap("Done", contains="Where was it")
    await person.send("37.33, 113.57", contains="When")
    await person.tap("Just now")
    for label in ("1", "Not sure", "Resting", "Over 1 km"):
        await person.tap(label)
    # Telegram refuses the staff group's messages while the report is sent, then the bot restarts.
    fake.fail_next("sendPhoto", error_code=502, description="Bad Gateway", times=3)
    await person.tap("Send report", contains="Reference code")
    await fake.wait_for_call("sendPhoto", predicate=lambda c: not c.ok)
    await bot.shutdown()
    pending = rows(config.storage.database, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'")[0][0]
    assert pending >= 1  # the card is still owed, on disk
    await running(destinations=destinations, languages={"staff": "en"})
    code = CODE.search([t for t in person.texts() if "Reference code" in t][-1]).group(0)
    await card_for(fake, code)
    for _ in range(100):
        if rows(config.storage.database, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'")[0][0] == 0:
            break
        await asyncio.sleep(0.1)
    assert rows(config.storage.database, "SELECT COUNT(*) FROM outbox WHERE status != 'sent'")[0][0] == 0


async def test_a_burst_around_one_village_makes_one_card_not_a_flood(fake: FakeTelegram, bot, config) -> None:
    """Twenty-five reports within a few hundred metres: one card, edited; the group never sees a 429."""
    people = [Person(fake, 700 + i, language="en") for i in range(25)]
    codes = await asyncio.gather(
        *(
            sighting(p, 37.3296 + (i % 7) * 0.0004, 113.5702 + (i % 5) * 0.0004, photo=None)
            for i, p in enumerate(people)
        )
    )
    assert len(set(codes)) == 25
    # The card names the first few codes in the order the reports were stored (not the order the
    # people started), so it is found by its count.
    await card_for(fake, "Incident", contains="25 reports")
    group_sends = [
        c
        for c in fake.calls
        if str(c.params.get("chat_id")) == str(STAFF_GROUP) and c.method.startswith("send")
    ]
    assert len(group_sends) <= 3  # the pin and the card, not forty alerts
    assert not [
        c for c in fake.calls if c.error_code == 429 and str(c.params.get("chat_id")) == str(STAFF_GROUP)
    ]
    assert rows(config.storage.database, "SELECT COUNT(*) FROM reports")[0][0] == 25
