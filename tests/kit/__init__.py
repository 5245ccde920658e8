"""One kit for the tests, the benchmarks (bench/ puts the repository root on sys.path) and the crash
campaigns.

- :mod:`tests.kit.world`: the staff group and its administrator, the reference-code pattern, the
  fake Bot API started with its staff group, limits for people who tap at machine speed, real JPEGs,
  the bot's database read as an operator reads it, waiting for a condition.
- :mod:`tests.kit.person`: :class:`Person`, a Telegram user driving the bot through the fake (the
  crash campaigns' drivers and the benchmarks' timed people are built on it), and whole
  conversations (:func:`report_sighting`, :func:`sighting`).
- :mod:`tests.kit.app`: the real Application started in this process in the background
  (:func:`~tests.kit.app.start_bot`; imported from there, as it imports python-telegram-bot).
- :mod:`tests.kit.process`: the bot as a separate process, exactly ``python -m bot run --config FILE``
  (:class:`BotProcess`, :func:`write_config`).

Hooks into the fake (timestamps, counting, crashing at a chosen call) use its public API:
``FakeTelegram.on_bot_message``, ``on_call`` and ``intercept``.
"""

from tests.kit.person import Person, code_in, report_sighting, sighting
from tests.kit.process import ROOT, BotProcess, write_config
from tests.kit.world import (
    CODE,
    GENERIC_ERROR,
    HESHUN,
    MENU,
    RECEIPT,
    STAFF_ADMIN,
    STAFF_GROUP,
    STAFF_GROUP_TITLE,
    db_problems,
    machine_speed_limits,
    make_jpeg,
    pending_outbox,
    rows,
    staff_card,
    start_fake,
    wait_until,
)

__all__ = [
    "CODE",
    "GENERIC_ERROR",
    "HESHUN",
    "MENU",
    "RECEIPT",
    "ROOT",
    "STAFF_ADMIN",
    "STAFF_GROUP",
    "STAFF_GROUP_TITLE",
    "BotProcess",
    "Person",
    "code_in",
    "db_problems",
    "machine_speed_limits",
    "make_jpeg",
    "pending_outbox",
    "report_sighting",
    "rows",
    "sighting",
    "staff_card",
    "start_fake",
    "wait_until",
    "write_config",
]
