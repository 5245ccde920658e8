"""Resync: whatever a person sends again is recognised, and the current question comes back with
its keyboard; the durable inbox in webhook mode (§1).

A person who gets no reply sends the same again: the same pin, photo or contact, tapped or sent before
the bot's answer to the first one reached them. Here both copies go out back to back, so the second
is sent before the reply to the first exists (the numbering of the chat shows it): it must bring the
current question again, with its keyboard, and never a hint about buttons the person cannot see.
"""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import replace
from typing import Any

import aiohttp

from bot.config import Config
from bot.fake_telegram import FakeTelegram
from bot.web.settings import WebSettings
from handlers.app import build_application
from handlers.web import SECRET_HEADER, run_webhook, webhook_secrets
from tests.kit import HESHUN, Person, make_jpeg, rows, wait_until

SECRET = "test-secret-0123456789abcdef"
SETTINGS = WebSettings(enabled=True, port=0)


def bot_messages_after(fake: FakeTelegram, person: Person, after: int) -> list[dict[str, Any]]:
    found = fake.messages_in(person.id)
    return [m for m in found if m["message_id"] > after and m.get("from", {}).get("is_bot")]


async def two_answers(fake: FakeTelegram, person: Person, after: int, contains: str) -> list[dict[str, Any]]:
    """Waits for two bot messages after `after` that contain `contains`; returns every bot message."""
    for _ in range(200):
        found = bot_messages_after(fake, person, after)
        if sum(contains in (m.get("text") or "") for m in found) >= 2:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError([m.get("text") for m in bot_messages_after(fake, person, after)])


def no_hint_without_buttons(messages: list[dict[str, Any]]) -> None:
    for m in messages:
        text = m.get("text") or ""
        assert "buttons about the time" not in text and "under your report" not in text, text


async def test_a_pin_sent_twice_asks_when_again_with_its_buttons(fake: FakeTelegram, running, config) -> None:
    await running()
    person = Person(fake, 901, language="en")
    await person.send("/start")
    await person.tap("I saw a leopard", contains="photos")
    await person.tap("No photo", contains="Where was it")
    seen = person.seen()
    fake.send_location(person.id, *HESHUN, horizontal_accuracy=10)
    fake.send_location(person.id, *HESHUN, horizontal_accuracy=10)
    answers = await two_answers(fake, person, seen, "When did you see it")
    no_hint_without_buttons(answers)
    assert person.key("Just now") is not None
    await person.tap("Just now", contains="How many leopards")


async def test_a_photo_sent_twice_is_kept_once_and_done_stays_on_screen(fake: FakeTelegram, running) -> None:
    await running()
    person = Person(fake, 902, language="en")
    await person.send("/start")
    await person.tap("Tracks, scat", contains="photos")
    seen = person.seen()
    photo = make_jpeg(320, 240, seed=902)
    fake.send_photo(person.id, photo)
    fake.send_photo(person.id, photo)
    answers = await two_answers(fake, person, seen, "Got 1 photo")
    assert not any("2 photos" in (m.get("text") or "") for m in answers)
    assert person.key("Done") is not None
    await person.tap("Done", contains="Where was it")


async def test_a_contact_sent_twice_shows_the_review_again(fake: FakeTelegram, running, config) -> None:
    await running()
    person = Person(fake, 903, language="en")
    await person.send("/start")
    await person.tap("attacked my animals", contains="at least one")
    await person.send_photo(make_jpeg(seed=903), contains="Got 1 photo")
    await person.tap("Done", contains="Where was it")
    await person.send_location(*HESHUN, accuracy=10, contains="When did you")
    await person.tap("Just now", contains="Which animal")
    await person.tap("Sheep", contains="How many were killed")
    await person.send("2", contains="How many were injured")
    await person.tap("1", contains="penned")
    await person.tap("Penned", contains="name")
    await person.send("Zhang San", contains="phone")
    seen = person.seen()
    fake.send_contact(person.id, "13912345678", "Zhang", contact_user_id=person.id)
    fake.send_contact(person.id, "13912345678", "Zhang", contact_user_id=person.id)
    answers = await two_answers(fake, person, seen, "Please check your report")
    no_hint_without_buttons(answers)
    reply = await person.tap("Send report", contains="Reference code")
    assert "Reference code" in reply["text"]
    details = json.loads(rows(config.storage.database, "SELECT details FROM reports")[0]["details"])
    assert details["phone"] == "13912345678" and details["injured"] == 1


async def test_a_typed_word_at_a_button_step_brings_the_question_and_its_buttons(
    fake: FakeTelegram, running
) -> None:
    await running()
    person = Person(fake, 904, language="en")
    await person.send("/start")
    await person.tap("I saw a leopard", contains="photos")
    await person.tap("No photo", contains="Where was it")
    await person.send_location(*HESHUN, accuracy=10, contains="When did you see it")
    await person.tap("Just now", contains="How many leopards")
    await person.tap("2", contains="cubs")
    reply = await person.send("perhaps", contains="Were there cubs")
    assert reply.get("text", "").count("Were there cubs") == 1
    assert person.key("No") is not None
    await person.tap("No", contains="What was it doing")


# --- the durable inbox in webhook mode ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_webhook_update_is_stored_before_the_200_and_a_second_delivery_is_dropped(
    fake: FakeTelegram, config: Config
) -> None:
    web_config = replace(config, secret_key=SECRET)
    stop = asyncio.Event()
    application = build_application(web_config)
    port = free_port()
    path, token = webhook_secrets(SECRET, SETTINGS)
    task = asyncio.create_task(
        run_webhook(application, stop, listen="127.0.0.1", port=port, url_path_secret=path,
                    public_url=f"http://127.0.0.1:{port}", secret_token=token, settings=SETTINGS)
    )
    try:
        await fake.wait_for_call("setWebhook", timeout=10)
        person = Person(fake, 905, language="en")
        await person.send("/help", contains="forestry bureau")
        update_id = fake.last_update_id()

        def done() -> bool:
            found = rows(web_config.storage.database,
                         "SELECT done_at FROM inbox WHERE update_id = ?", update_id)
            return bool(found) and found[0]["done_at"] is not None

        await wait_until(done, 10, "the update marked done in the inbox")
        seen = person.seen()
        # Telegram delivers the same update again (its 200 was lost on the way, say).
        data = fake.update(update_id)
        async with aiohttp.ClientSession() as session, session.post(
            f"http://127.0.0.1:{port}/telegram/{path}", json=data, headers={SECRET_HEADER: token}
        ) as response:
            assert response.status == 200
        await asyncio.sleep(0.5)
        assert not bot_messages_after(fake, person, seen), "a second delivery was handled again"
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
