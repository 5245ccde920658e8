"""No oracle in receipts, the attack: probe reports read their own receipts to find unpublished reports.

Someone files reports next to where they suspect a fresh sighting (or their own snare site), with a
photo they showed someone, or twice the same, and compares what the bot tells them with what a report
far from anything gets. Everything each probe's reporter receives, from the receipt on (after every
queued message went out), must be the same apart from the reference code, in text and in number of
Bot API calls. The test first checks that the probes really were grouped, matched by photo and
updated, so it would catch the oracle if it came back.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from bot.fake_telegram import FakeTelegram
from bot.report import REF_IN_TEXT
from tests.kit import Person, rows, sighting

HERE = (37.3296, 113.5702)  # the victim's fresh sighting
SNARES = (37.2100, 113.4100)  # where someone reported snares
FAR = [(37.46, 113.39), (37.05, 113.25), (37.40, 113.80), (37.15, 113.65)]  # 15+ km from both


async def tip(person: Person, lat: float, lon: float) -> dict[str, Any]:
    await person.send("/start")
    await person.tap("Snares, poison", contains="photo")
    await person.tap("No photo", contains="Where was it")
    await person.send_location(lat, lon, accuracy=20, contains="When did you see it")
    await person.tap("Just now", contains="What did you see")
    await person.tap("Snares", contains="Tell us more")
    await person.send("wire snares by the stream", contains="Do you want to hear")
    await person.tap("Stay anonymous", contains="Please check your report")
    return await person.tap("Send report", contains="Reference code")


async def drained(database: Any) -> None:
    """Until every queued message went out (receipts, cards, anything a probe could still get)."""
    for _ in range(400):
        if not rows(database, "SELECT 1 FROM outbox WHERE status = 'pending'"):
            await asyncio.sleep(0.3)  # and nothing new was queued by what was just sent
            if not rows(database, "SELECT 1 FROM outbox WHERE status = 'pending'"):
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the outbox did not drain")


def seen_from_receipt(fake: FakeTelegram, person: Person) -> tuple[list[str], int]:
    """What the person got from their (last) receipt on (codes masked), and how many Bot API calls
    touched their chat from then on."""
    history = [m for m in fake.chat_history(person.id) if m.get("from", {}).get("is_bot")]
    start = max(i for i, m in enumerate(history) if "Reference code" in (m.get("text") or ""))
    texts = [REF_IN_TEXT.sub("CODE", m.get("text") or m.get("caption") or "") for m in history[start:]]
    receipt_id = history[start]["message_id"]
    calls = [
        c for c in fake.calls
        if c.ok and str(c.params.get("chat_id")) == str(person.id)
        and (c.result or {}).get("message_id", receipt_id) >= receipt_id
    ]
    return texts, len(calls)


async def test_probe_reports_learn_nothing_from_their_receipts(
    fake: FakeTelegram, running: Any, config: Any
) -> None:
    await running(languages={"staff": "en"})
    victim = Person(fake, 7101, "Victim", language="en")
    tipster = Person(fake, 7102, "Tipster", language="en")
    await sighting(victim, *HERE, photo=1)
    await tip(tipster, *SNARES)
    await drained(config.storage.database)

    # One account per probe (an attacker has as many as they like), so only probe "repeat" is a repeat.
    probes = {
        "alone": (Person(fake, 7201, "P1", language="en"), lambda p: sighting(p, *FAR[0], photo=None)),
        "near": (Person(fake, 7202, "P2", language="en"), lambda p: sighting(p, 37.3305, 113.5712, None)),
        "photo": (Person(fake, 7203, "P3", language="en"), lambda p: sighting(p, *FAR[1], photo=1)),
        "repeat": (Person(fake, 7204, "P4", language="en"), lambda p: sighting(p, *FAR[2], photo=None)),
    }
    for person, act in probes.values():
        await act(person)
    await sighting(probes["repeat"][0], FAR[2][0] + 0.0005, FAR[2][1], photo=None)  # the same again
    tip_probes = {
        "tip alone": Person(fake, 7301, "T1", language="en"),
        "tip at the snares": Person(fake, 7302, "T2", language="en"),
    }
    await tip(tip_probes["tip alone"], *FAR[3])
    await tip(tip_probes["tip at the snares"], SNARES[0] + 0.0008, SNARES[1])
    await drained(config.storage.database)

    # The premise: the store did group, match and update these (else the test proves nothing).
    reasons = [r[0] for r in rows(config.storage.database, "SELECT match_reason FROM reports ORDER BY id")]
    assert reasons[0] == reasons[1] == reasons[2] == "new"  # victim, tipster, probe alone
    assert reasons[3] != "new" and reasons[4].startswith("photo")  # near, photo
    assert reasons[5] == "new"  # the repeat's first
    assert reasons[6] == "new" and reasons[7] != "new"  # tip alone, tip at the snares
    assert len(rows(config.storage.database, "SELECT 1 FROM report_drafts")) == 1  # the repeat was folded in

    # What each probe saw: receipt and everything after it, codes masked.
    seen = {name: seen_from_receipt(fake, person) for name, (person, _) in probes.items()}
    repeat_texts = [m.get("text") or "" for m in fake.chat_history(probes["repeat"][0].id)]
    receipts = [t for t in repeat_texts if "Reference code" in t]
    assert len(receipts) == 2
    codes = [REF_IN_TEXT.search(t).group(0) for t in receipts]  # type: ignore[union-attr]
    assert codes[0] != codes[1]  # the repeat's receipt has a code of its own
    assert receipts[0].replace(codes[0], "CODE") == receipts[1].replace(codes[1], "CODE")
    baseline = seen["alone"]
    assert "Others saw it too" not in baseline[0][0] and baseline[1] >= 1
    for name in ("near", "photo"):
        assert seen[name] == baseline, name
    # The repeat's second receipt, and all after it, is exactly like a first one.
    assert seen["repeat"] == baseline
    tip_seen = {name: seen_from_receipt(fake, person) for name, person in tip_probes.items()}
    assert tip_seen["tip at the snares"] == tip_seen["tip alone"]
    assert not re.search(r"already|others|too", " ".join(tip_seen["tip at the snares"][0]), re.IGNORECASE)
