"""Faults: the fake Bot API fails a share of calls with 5xx, 429 (retry_after) and timeouts.

Time is compressed: the outage lasts FAULT_WINDOW_S seconds instead of a minute, and a "timeout"
hangs FAULT_HANG_S before the fake answers 504. Throughout, the bot must stay up; afterwards every
receipt and staff card must have been delivered, through the outbox, exactly as queued.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from pathlib import Path

from bot.fake_telegram import FakeTelegram
from tests.crash_harness import Driver, build_script
from tests.kit import MENU, STAFF_ADMIN, STAFF_GROUP, Person, db_problems, pending_outbox, wait_until
from tests.kit import rows as db_rows

FAULT_RATE = 0.2
FAULT_WINDOW_S = 15.0
FAULT_HANG_S = 1.0
READY_PEOPLE = 5  # fill in a report before the outage and press Send during it
TALKING_PEOPLE = 3  # go through a whole report during the outage


@dataclasses.dataclass
class AlwaysUp:
    """What crash_harness.Driver needs to know about a bot that is never killed."""

    database: Path
    up: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    up_at: float = 0.0
    generation: int = 0
    at_risk: set[int] = dataclasses.field(default_factory=set)

    def __post_init__(self) -> None:
        self.up.set()


async def test_the_bot_rides_out_an_outage_and_delivers_everything(
    fake: FakeTelegram, running, config
) -> None:
    bot = await running()
    fake.send_text(STAFF_ADMIN, "/start")  # so the bot may write to the admin (error alerts)
    await fake.wait_for_message(STAFF_ADMIN)
    rng = random.Random(10)
    stub = AlwaysUp(config.storage.database)
    drivers = []
    for i in range(READY_PEOPLE + TALKING_PEOPLE):
        script = dataclasses.replace(build_script(300 + i, rng), stop=None)
        if i < READY_PEOPLE:
            script.stop = len(script.steps) - 1  # up to the review, before the outage
        driver = Driver(fake, stub, script, 800 + i)  # type: ignore[arg-type]
        driver.patience_s = 3.0  # a bot that is up but says nothing: try again soon
        driver.cancel_when_stuck = False
        drivers.append(driver)
    ready = drivers[:READY_PEOPLE]
    await asyncio.gather(*(d.run() for d in ready))
    assert all(d.out.done for d in ready), [d.out.failures for d in ready]
    for d in ready:
        d.script.stop = None  # now Send, during the outage (pressed again if nothing comes back)

    fake.fault_hang_seconds = FAULT_HANG_S
    fake.set_fault_rate(FAULT_RATE, seed=20261123, kinds=("5xx", "429", "timeout"))
    started, wall_started = time.monotonic(), time.time()
    people = [asyncio.create_task(d.run()) for d in drivers]
    while time.monotonic() - started < FAULT_WINDOW_S:
        assert not bot.task.done(), "the bot stopped during the outage"
        await asyncio.sleep(0.5)
    fake.set_fault_rate(0)
    outage_calls = [c for c in fake.calls if wall_started <= c.at]
    failed = [c for c in outage_calls if not c.ok and c.method != "getUpdates"]

    outcomes = await asyncio.gather(*people)
    talked = time.monotonic() - started
    for outcome in outcomes:
        assert outcome.done and outcome.receipt_code, "\n".join([str(outcome.failures), *outcome.trace[-40:]])
    codes = {o.user_id: o.receipt_code for o in outcomes}

    def drained() -> bool:
        return pending_outbox(config.storage.database) == 0

    await wait_until(drained, 60, "the outbox to drain")
    assert not bot.task.done(), "the bot stopped"
    print(f"\noutage of {FAULT_WINDOW_S:.0f}s: {len(outage_calls)} calls, {len(failed)} failed "
          f"({sorted({str(c.error_code) for c in failed})}); {len(codes)} reports; "
          f"people tried again {sum(o.resyncs for o in outcomes)} times after "
          f"{sum(o.generic_errors for o in outcomes)} 'something went wrong' answers; "
          f"{len(fake.messages_in(STAFF_ADMIN)) - 1} error alerts to the admin; "
          f"people done after {talked:.1f}s, outbox drained after {time.monotonic() - started:.1f}s")
    assert len(failed) >= 10, "the outage did not happen"
    assert {c.error_code for c in failed} <= {429, 502, 504}, [(c.method, c.description) for c in failed]

    reports = db_rows(config.storage.database, "SELECT ref_code, reporter_id, details FROM reports")
    assert sorted(r["ref_code"] for r in reports) == sorted(codes.values())
    for d in drivers:
        row = next(r for r in reports if r["ref_code"] == codes[d.id])
        assert d.script.tag in row["details"] or d.script.kind == "livestock"
    not_sent = db_rows(config.storage.database,
                       "SELECT purpose, status, last_error FROM outbox WHERE status != 'sent'")
    assert not not_sent, not_sent
    cards = [m.get("text") or "" for m in fake.messages_in(STAFF_GROUP)]
    for user_id, code in codes.items():
        assert sum(code in t for t in cards) >= 1, f"no staff card for {code}"
        assert any(code in (m.get("text") or "") for m in fake.messages_in(user_id)), f"no receipt for {code}"
    assert not db_problems(config.storage.database)
    fake.assert_clean()


# --- deterministic faults --------------------------------------------------------------------------


async def test_the_bot_starts_while_telegram_hiccups(fake: FakeTelegram, running) -> None:
    fake.fail_next("setMyCommands", error_code=502, description="Bad Gateway")
    bot = await running()
    person = Person(fake, 820, language="en")
    await person.send("/start", contains=MENU)
    assert not bot.task.done()


async def test_a_question_that_failed_to_send_does_not_desync_the_draft(fake: FakeTelegram, running) -> None:
    bot = await running()
    person = Person(fake, 821, language="en")
    await person.send("/start", contains=MENU)
    await person.tap("I saw a leopard", contains="photos")
    # "Where was it?" fails once: the draft has moved on, so the question goes out through the outbox.
    fake.fail_next("sendMessage", error_code=502, description="Bad Gateway")
    await person.tap("No photo", contains="Where was it")
    await person.send_location(37.3, 113.6, accuracy=10, contains="When did you see it")
    assert not bot.task.done()


async def test_a_failed_callback_answer_does_not_lose_the_press(fake: FakeTelegram, running, config) -> None:
    """answerCallbackQuery only stops the button's spinner: its failure must not cost the press."""
    await running()
    person = Person(fake, 822, language="en")
    await person.send("/start", contains=MENU)
    fake.fail_next("answerCallbackQuery", error_code=502, description="Bad Gateway")
    await person.tap("Tracks, scat", contains="photos")
    await person.tap("No photo", contains="Where was it")


async def test_a_question_that_hangs_past_the_read_timeout_is_queued(
    fake: FakeTelegram, running, config
) -> None:
    """A hang longer than PTB's 5 s read timeout (TimedOut) takes the same path as a 5xx: the reply
    goes through the outbox and the draft's state moves on."""
    bot = await running()
    person = Person(fake, 823, language="en")
    await person.send("/start", contains=MENU)
    await person.tap("I saw a leopard", contains="photos")
    fake.fault_hang_seconds = 6.0
    fake.set_fault_rate(1.0, kinds=("timeout",))
    fake.press_reply_button(person.id, person.key("No photo") or "")

    def queued() -> bool:
        rows = db_rows(config.storage.database, "SELECT COUNT(*) AS n FROM outbox WHERE purpose = 'reply'")
        return rows[0]["n"] > 0

    await wait_until(queued, 20, "the timed-out question in the outbox")
    fake.set_fault_rate(0)
    await fake.wait_for_message(person.id, contains="Where was it", timeout=20)
    await person.send_location(37.3, 113.6, accuracy=10, contains="When did you see it")
    assert not bot.task.done()
