"""handlers/updates.py: different people at once, one person's updates one at a time and in order."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from telegram import Chat, Message, Update, User

from handlers.updates import PerPersonUpdateProcessor, person_of


def message_from(user_id: int, update_id: int) -> Update:
    user = User(user_id, f"Person {user_id}", is_bot=False)
    chat = Chat(user_id, Chat.PRIVATE)
    message = Message(update_id, datetime.now(UTC), chat, from_user=user, text=f"m{update_id}")
    return Update(update_id, message=message)


class Recorder:
    """Coroutines that log when each update starts and ends, and how many run at once."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []
        self.running = 0
        self.most = 0

    async def handle(self, update_id: int, seconds: float) -> None:
        self.running += 1
        self.most = max(self.most, self.running)
        self.events.append(("start", update_id))
        await asyncio.sleep(seconds)
        self.events.append(("end", update_id))
        self.running -= 1


async def process_all(processor: PerPersonUpdateProcessor, recorder: Recorder, plan) -> None:
    """Starts every update at once, as PTB does with concurrent updates (a task per update)."""
    await asyncio.gather(
        *(
            processor.process_update(message_from(user, uid), recorder.handle(uid, seconds))
            for user, uid, seconds in plan
        )
    )


async def test_one_persons_updates_run_in_order_and_never_overlap() -> None:
    processor, recorder = PerPersonUpdateProcessor(8), Recorder()
    # The first update is the slowest: a naive concurrent processor would finish 3 before 1.
    await process_all(processor, recorder, [(1, 1, 0.05), (1, 2, 0.01), (1, 3, 0.0)])
    assert recorder.events == [("start", 1), ("end", 1), ("start", 2), ("end", 2), ("start", 3), ("end", 3)]
    assert processor.people_waiting == 0


async def test_different_people_do_not_wait_for_each_other() -> None:
    processor, recorder = PerPersonUpdateProcessor(8), Recorder()
    await process_all(processor, recorder, [(1, 1, 0.05), (2, 2, 0.0), (3, 3, 0.0)])
    # 2 and 3 start and finish while 1 (a slow photo, say) is still being handled.
    assert recorder.events.index(("end", 3)) < recorder.events.index(("end", 1))
    assert recorder.events.index(("end", 2)) < recorder.events.index(("end", 1))
    assert recorder.most == 3


async def test_at_most_max_concurrent_updates_and_a_waiting_person_holds_no_slot() -> None:
    processor, recorder = PerPersonUpdateProcessor(2), Recorder()
    # Person 1 sends ten photos at once; persons 2 and 3 one message each. With two slots, person
    # 1's queue must hold one slot at most, so 2 and 3 are not stuck behind all ten.
    plan = [(1, uid, 0.01) for uid in range(1, 11)] + [(2, 11, 0.01), (3, 12, 0.01)]
    await process_all(processor, recorder, plan)
    assert recorder.most == 2
    assert recorder.events.index(("end", 11)) < recorder.events.index(("start", 5))
    assert recorder.events.index(("end", 12)) < recorder.events.index(("start", 5))
    assert processor.people_waiting == 0


async def test_a_failing_update_frees_the_person_for_the_next() -> None:
    processor = PerPersonUpdateProcessor(4)

    async def fails() -> None:
        raise RuntimeError("handler error")

    recorder = Recorder()
    results = await asyncio.gather(
        processor.process_update(message_from(1, 1), fails()),
        processor.process_update(message_from(1, 2), recorder.handle(2, 0.0)),
        return_exceptions=True,
    )
    assert isinstance(results[0], RuntimeError)
    assert recorder.events == [("start", 2), ("end", 2)]
    assert processor.people_waiting == 0


def test_whose_turn() -> None:
    assert person_of(message_from(42, 1)) == 42
    assert person_of(Update(2)) is None  # no user and no chat: one shared turn
    assert person_of("not an update") is None
