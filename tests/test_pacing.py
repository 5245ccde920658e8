"""Telegram's limits per chat: the pacer, the PTB rate limiter, and end to end over the
fake Bot API with Telegram's real limits (20 a minute per group, ~1/s per private chat, 30/s overall).
"""

from __future__ import annotations

import asyncio
import time

import pytest
from telegram.error import RetryAfter

from bot.fake_telegram import FakeTelegram
from bot.pacing import ChatPacer, PaceLimits
from handlers.ratelimit import PerChatRateLimiter, counted
from tests.kit import STAFF_GROUP, Person, rows

# Telegram's real private-chat limits and the bot's pacing as shipped (tests/conftest.py).
pytestmark = pytest.mark.real_limits

GROUP, OTHER_GROUP, PERSON, OTHER_PERSON = -1001, -1002, 501, 502


class Clock:
    """A monotonic clock the test moves; asyncio.sleep is patched to move it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    real_sleep = asyncio.sleep

    async def sleep(seconds: float, result: object = None) -> object:
        clock.now += max(0.0, seconds)
        await real_sleep(0)
        return result

    monkeypatch.setattr("bot.pacing.asyncio.sleep", sleep)
    return clock


async def send_times(
    pacer: ChatPacer, clock: Clock, chat: int, n: int, *, private: bool, cost: int = 1
) -> list[float]:
    times = []
    for _ in range(n):
        async with pacer.turn(chat, private=private, cost=cost):
            times.append(clock.now)
    return times


def most_in_window(times: list[float], window: float) -> int:
    return max(sum(1 for u in times if t - window < u <= t) for t in times)


async def test_a_group_gets_at_most_20_in_any_minute(clock: Clock) -> None:
    pacer = ChatPacer(PaceLimits(), clock)
    times = await send_times(pacer, clock, GROUP, 50, private=False)
    assert most_in_window(times, 60.0) == 20
    assert times[19] - times[0] < 1 and times[20] - times[0] >= 61  # 20 at once, then the window
    # an album counts each photo: after 20 at once, an album of 5 waits for 5 of them to age out
    full = await send_times(pacer, clock, OTHER_GROUP, 20, private=False)
    album = await send_times(pacer, clock, OTHER_GROUP, 1, private=False, cost=5)
    assert album[0] >= full[4] + 61


async def test_a_private_chat_gets_a_short_burst_then_one_a_second(clock: Clock) -> None:
    pacer = ChatPacer(PaceLimits(), clock)
    times = await send_times(pacer, clock, PERSON, 14, private=True)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(g < 0.1 for g in gaps[:3]) and all(g >= 0.99 for g in gaps[4:])
    assert most_in_window(times[4:], 1.0) == 1


async def test_one_chats_wait_never_delays_another() -> None:
    pacer = ChatPacer(PaceLimits())  # real time: the waiting turns really wait
    for _ in range(20):  # the group's minute is spent
        async with pacer.turn(GROUP, private=False):
            pass
    pacer.pause(OTHER_GROUP, 40)  # and Telegram told another group to wait 40 s
    waiting = [
        asyncio.create_task(pacer.turn(chat, private=False).__aenter__()) for chat in (GROUP, OTHER_GROUP)
    ]
    await asyncio.sleep(0.05)
    assert not any(task.done() for task in waiting)
    assert pacer.wait_for(GROUP, False, 1) > 55 and pacer.wait_for(OTHER_GROUP, False, 1) > 35
    start = time.monotonic()
    for chat in (PERSON, OTHER_PERSON, PERSON):
        async with pacer.turn(chat, private=True):
            pass
    assert time.monotonic() - start < 0.1
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)


async def test_the_overall_limit_is_evenly_spaced(clock: Clock) -> None:
    pacer = ChatPacer(PaceLimits(), clock)
    times = []
    for person in range(600):
        times += await send_times(pacer, clock, 10_000 + person, 1, private=True)
    assert most_in_window(times, 1.0) <= 28
    assert len(pacer._chats) <= ChatPacer.REMEMBERED  # people met once are forgotten


def test_only_message_sending_methods_are_counted() -> None:
    assert counted("sendMessage") and counted("sendMediaGroup") and counted("copyMessage")
    assert not counted("editMessageText") and not counted("answerCallbackQuery")
    assert not counted("sendChatAction") and not counted("getChatMember")


async def test_a_429_pauses_only_its_chat() -> None:
    """PTB's AIORateLimiter held every request of the bot for a 429; this holds only its chat."""
    limiter = PerChatRateLimiter(PaceLimits(), max_retries=1)
    calls: list[tuple[int, float]] = []
    refused = {GROUP}

    async def call(chat: int) -> dict:
        calls.append((chat, time.monotonic()))
        if chat in refused:
            refused.discard(chat)
            raise RetryAfter(1)
        return {"ok": True}

    start = time.monotonic()
    group = asyncio.create_task(
        limiter.process_request(call, (GROUP,), {}, "sendMessage", {"chat_id": GROUP}, None)
    )
    await asyncio.sleep(0.05)
    person = await limiter.process_request(call, (PERSON,), {}, "sendMessage", {"chat_id": PERSON}, None)
    assert person == {"ok": True} and time.monotonic() - start < 0.5  # not held by the group's 429
    assert await group == {"ok": True}
    group_calls = [at for chat, at in calls if chat == GROUP]
    assert len(group_calls) == 2 and group_calls[1] - group_calls[0] >= 1.0


async def test_edits_and_answers_are_not_held_by_a_spent_budget() -> None:
    """Telegram limits messages, not edits: a moderator's submenu edit goes at once even while the
    group's cards wait for its minute or a 429."""
    limiter = PerChatRateLimiter(PaceLimits())
    for _ in range(20):  # the group's minute is spent
        async with limiter.pacer.turn(GROUP, private=False):
            pass
    limiter.pacer.pause(GROUP, 40)

    async def call() -> bool:
        return True

    start = time.monotonic()
    assert await limiter.process_request(call, (), {}, "editMessageReplyMarkup", {"chat_id": GROUP}, None)
    assert await limiter.process_request(call, (), {}, "getChatMember", {"chat_id": GROUP}, None)
    assert time.monotonic() - start < 0.1
    assert limiter.pacer.wait_for(GROUP, False, 1) > 35


# --- end to end, with Telegram's real limits ---------------------------------------------------




# Far apart (about 4.4 km): each report is an incident of its own, with a card of its own.
FAR_APART = [(round(37.20 + 0.04 * i, 4), round(113.40 + 0.05 * j, 4)) for i in range(8) for j in range(8)]


async def sighting_at(person: Person, lat: float, lon: float) -> None:
    await person.send("/start", contains="What do you want to report")
    await person.tap("I saw a leopard", contains="photos")
    await person.tap("No photo", contains="Where was it")
    await person.send_location(lat, lon, accuracy=25, contains="When did you see it")
    await person.tap("Just now", contains="How many")
    for label in ("1", "Not sure", "Resting", "Over 1 km"):
        await person.tap(label)
    await person.tap("Send report", contains="Reference code")


def group_sends(fake: FakeTelegram) -> list[float]:
    """When each message the staff group took arrived (an album counts each item)."""
    times = []
    for call in fake.calls:
        if call.ok and call.method.startswith("send") and str(call.params.get("chat_id")) == str(STAFF_GROUP):
            times += [call.at] * (len(call.params.get("media") or ()) or 1)
    return times


async def test_a_saturated_staff_group_holds_no_resident(fake: FakeTelegram, running, config) -> None:
    """24 new incidents at once: the staff group gets 20 cards in its minute and the rest wait for
    the next, with no 429; meanwhile a resident's replies come at once; no card is lost."""
    await running()
    fake.keep_calls = 5000
    people = [Person(fake, 800 + n, language="en") for n in range(24)]
    await asyncio.gather(*(sighting_at(p, *FAR_APART[n]) for n, p in enumerate(people)))
    for _ in range(100):  # the group's minute fills up
        if len(group_sends(fake)) >= 20:
            break
        await asyncio.sleep(0.1)
    assert len(group_sends(fake)) == 20
    # The group is saturated now; a resident is not held by it.
    resident = Person(fake, 900, language="en")
    waits = []
    for act in (
        lambda: resident.send("/start", contains="What do you want to report"),
        lambda: resident.tap("I saw a leopard", contains="photos"),
        lambda: resident.tap("No photo", contains="Where was it"),
        lambda: resident.send("/cancel", contains="cancelled"),
    ):
        start = time.monotonic()
        await act()
        waits.append(time.monotonic() - start)
    assert max(waits) < 2.0, waits
    assert len(group_sends(fake)) == 20  # the 21st card waits for the group's next minute
    owed = rows(
        config.storage.database,
        "SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending' AND chat_id = ?",
        STAFF_GROUP,
    )[0]["n"]
    assert owed == 4  # on disk, not lost
    assert not [c for c in fake.calls if c.error_code == 429]
    incidents = rows(config.storage.database, "SELECT COUNT(DISTINCT incident_id) AS n FROM reports")[0]["n"]
    assert incidents == 24


async def test_a_person_typing_fast_is_paced_not_refused(fake: FakeTelegram, running, config) -> None:
    """Messages faster than one a second: the bot paces its replies to that person (no 429), and
    another person's reply is not held by it."""
    await running()
    fast, other = Person(fake, 950, language="en"), Person(fake, 951, language="en")
    await fast.send("/start", contains="What do you want to report")
    for _ in range(8):
        fake.send_text(fast.id, "hello?")
    start = time.monotonic()
    await other.send("/start", contains="What do you want to report")
    assert time.monotonic() - start < 1.5
    for _ in range(100):
        if sum("did not understand" in t for t in fast.texts()) == 8:
            break
        await asyncio.sleep(0.2)
    assert sum("did not understand" in t for t in fast.texts()) == 8  # every one answered
    assert not [c for c in fake.calls if c.error_code == 429]


async def test_a_429_for_the_staff_group_pauses_the_group_only(fake: FakeTelegram, running, config) -> None:
    """Telegram answers the staff group "retry after ~60 s" (it counted messages the bot did not
    see): the group waits that long, everyone else carries on at once (PTB's AIORateLimiter held
    every request of the bot for it: a resident's /start waited 48 s)."""
    await running()
    fake.count_sent(STAFF_GROUP, 20)  # the group's minute is already spent at Telegram
    await asyncio.sleep(1.1)  # (those 20 also filled the overall 1 s window: let it pass)
    people = [Person(fake, 820 + n, language="en") for n in range(3)]
    await asyncio.gather(*(sighting_at(p, *FAR_APART[n]) for n, p in enumerate(people)))
    await fake.wait_for_call("sendMessage", predicate=lambda c: c.error_code == 429, timeout=10)
    resident = Person(fake, 901, language="en")
    start = time.monotonic()
    await resident.send("/start", contains="What do you want to report")
    await resident.tap("I saw a leopard", contains="photos")
    assert time.monotonic() - start < 2.0
    # The outbox delivers the resident's receipt while the group's cards wait in it.
    await resident.tap("No photo", contains="Where was it")
    await resident.send_location(*FAR_APART[10], accuracy=25, contains="When did you see it")
    await resident.tap("Just now", contains="How many")
    for label in ("1", "Not sure", "Resting", "Over 1 km"):
        await resident.tap(label)
    start = time.monotonic()
    await resident.tap("Send report", contains="Reference code")
    assert time.monotonic() - start < 2.0
    refused = [c for c in fake.calls if c.error_code == 429]
    assert refused and all(str(c.params.get("chat_id")) == str(STAFF_GROUP) for c in refused)
    assert len(refused) == 1  # paused after the first: the group is not hammered
    owed = rows(
        config.storage.database,
        "SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending' AND chat_id = ?",
        STAFF_GROUP,
    )[0]["n"]
    assert owed == 4  # the four cards wait on disk for the group's minute
