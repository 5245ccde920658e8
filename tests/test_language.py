"""Language, for real: /language mid-report, the menu's choice, the configured default.

Over the fake Bot API with Telegram's real limits (one message a second per private chat after a
burst of five): the bot's own pacing, not a relaxed fake, keeps these conversations flowing.
"""

from __future__ import annotations

import pytest

from bot.fake_telegram import FakeTelegram
from bot.report import REF_IN_TEXT
from tests.kit import HESHUN, Person, rows

CODE = REF_IN_TEXT


# Telegram's real private-chat limits and the bot's pacing as shipped (tests/conftest.py).
pytestmark = pytest.mark.real_limits


def keyboard_labels(person: Person) -> list[str]:
    """The labels of the reply keyboard the person sees now."""
    markup = person.fake.reply_keyboard(person.id) or {}
    return [b["text"] if isinstance(b, dict) else b for row in markup.get("keyboard", []) for b in row]


async def test_language_changes_in_the_middle_of_a_report(fake: FakeTelegram, running, config) -> None:
    await running()
    person = Person(fake, 601, "Li", language="en")
    await person.send("/start", contains="What do you want to report")
    await person.tap("I saw a leopard", contains="photos")
    await person.tap("No photo", contains="Where was it")
    await person.send_location(*HESHUN, accuracy=30, contains="When did you see it")
    await person.send("/language", contains="Choose your language")
    await person.tap("中文", contains="什么时候")  # the current question again, in Chinese
    assert "刚才" in keyboard_labels(person) and "昨天" in keyboard_labels(person)
    assert "older message" not in " ".join(person.texts())
    # The draft is kept: the place already given is not asked again.
    await person.tap("刚才", contains="几只豹子")
    await person.tap("1", contains="小豹子")
    await person.send("/language", contains="选择语言")
    await person.tap("English", contains="cubs")  # and back, at the question it was on
    assert "Yes" in keyboard_labels(person)
    await person.tap("No", contains="What was it doing")
    for label in ("Resting", "Over 1 km"):
        await person.tap(label)
    receipt = await person.tap("Send report", contains="Reference code")
    code = CODE.search(receipt["text"]).group(0)
    report = rows(config.storage.database, "SELECT * FROM reports WHERE ref_code = ?", code)[0]
    assert (report["latitude"], report["longitude"], report["accuracy_m"]) == (*HESHUN, 30)
    assert report["language"] == "en"


async def test_an_old_language_button_during_a_paused_choice_keeps_the_draft(
    fake: FakeTelegram, running, config
) -> None:
    """The menu's language buttons pressed during a draft (an older menu message) work too."""
    await running()
    person = Person(fake, 602, "王大爷", language="zh-hans")
    menu = await person.send("/start", contains="和顺豹子守护")
    assert "🌐 English" in str(menu["reply_markup"]) and "🌐 中文" in str(menu["reply_markup"])
    await person.tap("我看到豹子了", contains="照片")
    await person.tap("🌐 English", contains="photos")  # the photo question, now in English
    assert "No photo" in keyboard_labels(person)


async def test_the_start_menu_offers_the_language(fake: FakeTelegram, running, config) -> None:
    await running()
    person = Person(fake, 603, "Li", language="en")
    await person.send("/start", contains="What do you want to report")
    menu = await person.tap("🌐 中文", contains="和顺豹子守护")
    assert "我看到豹子了" in str(menu["reply_markup"])
    await person.send("/help", contains="林业局")  # it stays


async def test_no_telegram_language_gets_the_configured_default(fake: FakeTelegram, running, config) -> None:
    await running(languages={"default": "zh_Hans"})
    person = Person(fake, 604, "无语言", language=None)
    await person.send("/start", contains="和顺豹子守护")
    english = Person(fake, 605, "Any", language="de")  # a language we do not have: English
    await english.send("/start", contains="Heshun Leopard Watch")


async def test_no_telegram_language_with_an_english_default(fake: FakeTelegram, running, config) -> None:
    await running(languages={"default": "en"})
    person = Person(fake, 606, "No language", language=None)
    await person.send("/start", contains="Heshun Leopard Watch")
