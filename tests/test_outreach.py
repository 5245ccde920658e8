"""End to end: safety advice, township warnings for opted-in residents, QR posters and their deep links."""

from __future__ import annotations

import io
import re

import zxingcpp
from PIL import Image

from bot.fake_telegram import FakeTelegram
from tests.kit import STAFF_ADMIN, STAFF_GROUP, Person
from tests.test_moderation import card_for, press, sighting


async def test_safety_advice_on_request_and_after_a_sighting(fake: FakeTelegram, running, config) -> None:
    await running(safety={"hotline": "0354-1234567"})
    person = Person(fake, 801, language="zh-hans")
    advice = await person.send("/safety", contains="不要靠近豹子")
    assert "0354-1234567" in advice["text"] and "国家一级保护" in advice["text"]
    english = Person(fake, 802, language="en")
    await sighting(english, photo=None)
    after = await fake.wait_for_message(english.id, contains="back away slowly")
    assert "0354-1234567" in after["text"] and "Reference code" in after["text"]  # one message


async def test_no_hotline_configured_means_no_invented_number(fake: FakeTelegram, running, config) -> None:
    await running()
    person = Person(fake, 803, language="en")
    advice = await person.send("/safety", contains="Do not go near")
    assert re.findall(r"\d{3,}", advice["text"]) == ["110"]


async def test_warn_residents_reaches_opted_in_people_with_the_township_only(
    fake: FakeTelegram, running, config
) -> None:
    await running(languages={"staff": "en"})
    resident, bystander, reporter = (
        Person(fake, 804, language="zh-hans"),
        Person(fake, 805, language="en"),
        Person(fake, 806, language="en"),
    )
    await resident.send("/alerts", contains="乡镇")
    message, data = resident.button("义兴镇")
    fake.press_button(resident.id, message, data)
    await fake.wait_until_idle()
    assert "✅" in str(fake.messages_in(resident.id)[-1]["reply_markup"])
    code = await sighting(reporter, 37.3500, 113.6000, photo=None)
    card = await card_for(fake, code)
    assert "Warn residents" not in str(card["reply_markup"])  # only once staff have verified
    await press(fake, STAFF_ADMIN, card, "Verify")
    card = await card_for(fake, code, contains="Verified by Staff,")  # the undo window is over
    # Warn residents shows what would be sent, where, to how many; nothing goes out on that tap.
    answer = await press(fake, STAFF_ADMIN, card, "Warn residents")
    assert not answer.get("text")
    preview = await card_for(fake, code, contains="will get this")
    assert "Warning for Yixing Town (义兴镇): 1 person will get this" in preview["text"]
    assert "林业局确认义兴镇附近有豹子出没。" in preview["text"]  # the resident's own words, exactly
    await fake.wait_until_idle()
    assert not [m for m in fake.messages_in(resident.id) if "⚠️" in (m.get("text") or "")]
    answer = await press(fake, STAFF_ADMIN, preview, "Send the warning to 1")
    assert answer.get("text") == "Warning sent to 1 person."
    warning = await fake.wait_for_message(resident.id, contains="义兴镇")
    assert not re.search(r"\d+\.\d+", warning["text"])  # a township, never coordinates
    await fake.wait_until_idle()  # the card is back as it was, without the preview
    assert "will get this" not in (await card_for(fake, code))["text"]
    again = await press(fake, STAFF_ADMIN, card, "Warn residents")
    assert again.get("text") == "Residents were already warned about this incident."
    await fake.wait_until_idle()
    assert not [m for m in fake.messages_in(bystander.id) if "⚠️" in (m.get("text") or "")]


async def test_poster_qr_codes_lead_to_the_bot_and_the_spot_is_recorded(
    fake: FakeTelegram, running, config
) -> None:
    await running(languages={"staff": "en"})
    fake.send_text(STAFF_ADMIN, "/poster 云龙山", chat_id=STAFF_GROUP)
    png_call = await fake.wait_for_call("sendDocument", predicate=lambda c: c.ok and "png" in str(c.files))
    png = next(
        m
        for m in fake.messages_in(STAFF_GROUP)
        if m.get("document", {}).get("file_name", "").endswith(".png")
    )
    assert png_call
    image = Image.open(io.BytesIO(fake.download(png["document"]["file_id"])))
    links = {r.text for r in zxingcpp.read_barcodes(image)}
    assert links == {"https://t.me/heshun_leopard_bot?start=spot_yunlongshan"}  # no web tip line configured

    # A tourist scanning a poster: the spot is offered as the place (when the gazetteer locates it)
    # and recorded on the report, so /stats shows which posters work.
    tourist = Person(fake, 807, language="en")
    await tourist.send("/start spot_yixing", contains="Leopard Watch")
    assert "Welcome to Yixing Town" in " ".join(tourist.texts())
    await tourist.tap("I saw a leopard", contains="photos")
    await tourist.tap("No photo", contains="Where was it")
    await tourist.tap("I am at Yixing Town", contains="When did you see it")
    await tourist.finish_sighting()
    fake.send_text(STAFF_ADMIN, "/stats", chat_id=STAFF_GROUP)
    stats = await fake.wait_for_message(STAFF_GROUP, contains="Poster at")
    assert "Poster at Yixing Town (义兴镇): 1" in stats["text"]
