"""A person in the fake Telegram, and the conversations tests and benchmarks walk through with them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from bot.fake_telegram import FakeTelegram
from tests.kit.world import CODE, HESHUN, MENU, RECEIPT, make_jpeg


class Person:
    """A Telegram user driving the bot through the fake server, as a person would.

    The async methods act and wait for the bot's reply (one containing `contains`, if given); the
    crash campaigns' drivers and the benchmarks' timed people build on the same reading and acting.
    """

    def __init__(
        self,
        fake: FakeTelegram,
        user_id: int,
        name: str = "王大爷",
        language: str = "zh-hans",
        *,
        last_name: str | None = None,
        username: str | None = None,
    ) -> None:
        self.fake = fake
        self.id = user_id
        fake.add_user(user_id, name, language_code=language, last_name=last_name, username=username)
        self._cache_key = -1
        self._cache: list[dict[str, Any]] = []

    # --- reading the chat ---------------------------------------------------------------------

    def messages(self) -> list[dict[str, Any]]:
        """The bot's messages in the chat, copied when anything new was sent there (cheap to call
        often; edits of older messages show at the next new message: :meth:`texts` is fresh)."""
        key = self.fake.last_message_id(self.id)
        if key != self._cache_key:
            self._cache_key = key
            self._cache = self.fake.messages_in(self.id)
        return self._cache

    def seen(self) -> int:
        """The id of the bot's newest message in the chat (0: none yet)."""
        messages = self.messages()
        return messages[-1]["message_id"] if messages else 0

    @staticmethod
    def text(message: dict[str, Any]) -> str:
        return message.get("text") or message.get("caption") or ""

    def texts(self) -> list[str]:
        return [self.text(m) for m in self.fake.messages_in(self.id)]

    def last_text(self) -> str:
        return self.texts()[-1]

    def find_button(self, label: str) -> tuple[dict[str, Any], str] | None:
        """The newest bot message with an inline button labelled `label` (exactly, else containing
        it) and that button's callback data; None when there is none."""
        # fresh: buttons are edited away
        return self.button_in(reversed(self.fake.messages_in(self.id)), label)

    @staticmethod
    def button_in(
        newest_first: Iterable[dict[str, Any] | None], label: str
    ) -> tuple[dict[str, Any], str] | None:
        """The first of the messages with an inline button `label` (exactly, else containing it)."""
        for message in newest_first:
            if message is None:
                continue
            rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
            buttons = [b for row in rows for b in row]
            for exact in (True, False):
                for b in buttons:
                    if (b["text"] == label) if exact else (label in b["text"]):
                        return message, b["callback_data"]
        return None

    def button(self, label: str) -> tuple[dict[str, Any], str]:
        """:meth:`find_button`, which must find one."""
        found = self.find_button(label)
        if found is None:
            raise AssertionError(f"no button {label!r}; chat: {self.texts()}")
        return found

    def key(self, label: str) -> str | None:
        """The button of the reply keyboard shown now whose text is `label` (else contains it)."""
        return self.fake.reply_key(self.id, label)

    # --- acting --------------------------------------------------------------------------------

    def press(self, label: str) -> Callable[[], Any]:
        """Tapping `label`: the reply keyboard's key shown now, else the newest inline button with it."""
        key = self.key(label)
        if key is not None:
            return lambda: self.fake.press_reply_button(self.id, key)
        message, data = self.button(label)
        return lambda: self.fake.press_button(self.id, message, data)

    async def _reply_to(self, act: Callable[[], Any], contains: str | None = None) -> dict[str, Any]:
        """Does `act` and waits for the bot's next message (containing `contains`)."""
        seen = self.seen()
        act()
        return await self.fake.wait_for_message(self.id, contains=contains, after=seen)

    async def send(self, text: str, contains: str | None = None) -> dict[str, Any]:
        return await self._reply_to(lambda: self.fake.send_text(self.id, text), contains)

    async def send_photo(self, data: bytes, contains: str | None = None) -> dict[str, Any]:
        return await self._reply_to(lambda: self.fake.send_photo(self.id, data), contains)

    async def send_file(
        self, data: bytes, name: str, mime: str | None, contains: str | None = None
    ) -> dict[str, Any]:
        return await self._reply_to(
            lambda: self.fake.send_document(self.id, data, file_name=name, mime_type=mime), contains
        )

    async def send_location(
        self, lat: float, lon: float, accuracy: float | None = None, contains: str | None = None
    ) -> dict[str, Any]:
        return await self._reply_to(
            lambda: self.fake.send_location(self.id, lat, lon, horizontal_accuracy=accuracy), contains
        )

    async def send_contact(self, phone: str, contains: str | None = None) -> dict[str, Any]:
        return await self._reply_to(
            lambda: self.fake.send_contact(self.id, phone, "王", contact_user_id=self.id), contains
        )

    async def tap(self, label: str, contains: str | None = None) -> dict[str, Any]:
        """Taps `label` on the reply keyboard shown now, else the newest inline button with it."""
        return await self._reply_to(self.press(label), contains)

    async def tap_silently(self, label: str) -> None:
        """Taps a button whose answer may not come at once (or only as a callback answer)."""
        self.press(label)()
        await self.fake.wait_until_idle()

    async def finish_sighting(self) -> dict[str, Any]:
        """From "When did you see it?" to the receipt, with one resting leopard far away."""
        await self.tap("Just now", contains="How many")
        for label in ("1", "Not sure", "Resting", "Over 1 km"):
            await self.tap(label)
        return await self.tap("Send report", contains=RECEIPT)


def code_in(message: dict[str, Any]) -> str:
    """The reference code a receipt (or any message) names."""
    match = CODE.search(Person.text(message))
    assert match, message
    return match.group(0)


async def report_sighting(
    person: Person,
    lat: float = HESHUN[0],
    lon: float = HESHUN[1],
    *,
    photo: bytes | None = None,
    accuracy: float = 25,
) -> str:
    """A whole sighting from the menu to the receipt (10 updates, 11 with a photo); its code."""
    await person.send("/start", contains=MENU)
    await person.tap("I saw a leopard", contains="photos")
    if photo is None:
        await person.tap("No photo", contains="Where was it")
    else:
        await person.send_photo(photo, contains="Got 1 photo")
        await person.tap("Done", contains="Where was it")
    await person.send_location(lat, lon, accuracy=accuracy, contains="When did you see it")
    await person.tap("Just now", contains="How many leopards")
    await person.tap("2", contains="cubs")
    await person.tap("No", contains="What was it doing")
    await person.send("walking along the <b>ridge</b> & into trees", contains="How far")
    await person.tap("50 to 200 m", contains="Please check your report")
    return code_in(await person.tap("Send report", contains=RECEIPT))


async def sighting(
    person: Person, lat: float = HESHUN[0], lon: float = HESHUN[1], photo: int | None = 1
) -> dict[str, Any]:
    """A short sighting from /start to its receipt: one resting leopard far away, with one photo
    (`photo` is :func:`~tests.kit.world.make_jpeg`'s seed; None: no photo)."""
    await person.send("/start")
    await person.tap("I saw a leopard", contains="photos")
    if photo is None:
        await person.tap("No photo", contains="Where was it")
    else:
        await person.send_photo(make_jpeg(seed=photo), contains="Got 1 photo")
        await person.tap("Done", contains="Where was it")
    await person.send_location(lat, lon, accuracy=20, contains="When did you see it")
    return await person.finish_sighting()
