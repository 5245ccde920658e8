"""The crash campaign with people who send again: five figures that must stay at 0.

The bot runs as a process (tests/kit/process.py :class:`BotProcess`), killed with SIGKILL now
and then and started again 1–4 s later (a shortened RestartSec), while residents go through their
reports. Unlike the harness's :class:`Driver`, who asks
"/start → Keep my report" whenever an answer does not come, a :class:`Resender` does what people do:
after 2–3.5 s of silence they send the same again (the same text, tap, pin, photo), still looking at
the old question's keyboard, and they follow whatever question the bot shows next. They send /start
only when nothing else gets them anywhere (a dead end, counted).

Per run (:class:`FiveFigures`):

- ``updates_lost``: an update a person sent that the bot never took in: not in the durable inbox,
  or still not done once the run is over.
- ``updates_handled_twice``: an update whose effect the bot applied twice: a report stored twice,
  a photo stored twice in a report. (A step's answer applied twice is an answer stored at the
  wrong step, the next figure.) Messages are sent at least once, not exactly once: a kill after
  Telegram took a message and before the bot noted it has it sent again (a question, or a receipt
  from the outbox); the summary counts the receipts sent again.
- ``answers_at_wrong_step``: an answer in a stored report, or a saved draft, that is not what the
  person answered to that question.
- ``told_about_unseen_step``: a bot message that names buttons that are not on the person's screen
  when it arrives, or asks a question whose answer button is not on screen.
- ``dead_ends``: a person who could not get on with the report without /start (four tries of the
  same, each after a silence or an answer that was not a question of the report).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.fake_telegram import FakeTelegram
from tests.crash_harness import UNSENT, Campaign, Driver, Failure, NeedResync, Script, Step
from tests.kit import MENU, RECEIPT
from tests.kit import rows as db_rows

#: people send the same again after this much silence (seconds)
SILENCE_S = (2.0, 3.5)
#: how long the killed bot stays down before it is started again (its start takes another second or two)
RESTART_S = (1.0, 4.0)
#: tries of the same step, each after a silence or a stray answer, before a person gives up on it
PATIENCE = 4
#: a step's answer button, by the step's action, for the "is it on screen" check
LOCATION_KEY = "request_location"
#: hints about buttons (this bot's, past and present) and a button one of which must then be on screen
HINTS = {
    "buttons about the time": ("Just now",),
    "buttons under your report": ("Send report",),
    "the button under my last message": ("Done", "No photo"),
    "tap the location button": ("Send my location",),
    "Tap Done": ("Done",),
    "tap Done": ("Done",),
    "tap No photo": ("No photo",),
}


@dataclass
class FiveFigures:
    updates_lost: int = 0
    updates_handled_twice: int = 0
    answers_at_wrong_step: int = 0
    told_about_unseen_step: int = 0
    dead_ends: int = 0

    def zero(self) -> bool:
        return not any(dataclasses.astuple(self))


class Resender(Driver):
    """A person who, after a silence, sends the same again and then follows the question shown."""

    def __init__(
        self, fake: FakeTelegram, bot: Any, script: Script, user_id: int, rng: random.Random
    ) -> None:
        super().__init__(fake, bot, script, user_id)
        self.rng = rng
        self.dead_ends = 0
        self.resends = 0

    def act_again(self, step: Step) -> None:
        """The same as last time: a tap on the key if it is on screen, else its label typed (a person
        with another keyboard on screen types or taps what they mean)."""
        if step.action == "tap" and self.key(step.arg) is None and self.find_button(step.arg) is None:
            self.fake.send_text(self.id, step.arg)
            self.last_update = self.fake.last_update_id()
            self.note(f"sent update {self.last_update}: typed {step.arg!r}")
            return
        self.act(step)

    async def reply_or_silence(self, after: int, silence: float) -> dict[str, Any] | None:
        """The bot's newest message once it has said something after `after` and then gone quiet
        for a moment; None after `silence` seconds without a word."""
        deadline = time.monotonic() + silence
        while time.monotonic() < deadline:
            if self.seen() > after:
                # Let a burst (an acknowledgement, then the question) finish.
                while True:
                    seen = self.seen()
                    await asyncio.sleep(0.3)
                    if self.seen() == seen:
                        break
                bots = [m for m in self.messages() if m["message_id"] > after and _by_bot(m)]
                if bots:
                    return bots[-1]
                after = self.seen()  # only the person's own messages: keep waiting
            with contextlib.suppress(AssertionError):
                await self.fake.wait_for_message(self.id, after=self.seen(), timeout=0.25)
        return None

    def position(self, text: str) -> int | None:
        """The step whose question `text` asks (None: not a question of this report)."""
        if RECEIPT in text:
            return len(self.script.steps)
        at = self._position_of(text)
        if at is not None:
            return at
        if MENU in text and UNSENT not in text:
            return 1
        return None

    async def _run(self) -> None:
        s = self.script
        end = len(s.steps) if s.stop is None else s.stop
        deadline = time.monotonic() + 240
        tries = 0
        first = True
        while self.out.pos < end:
            if time.monotonic() > deadline:
                raise Failure("no progress for 240 s")
            step = s.steps[self.out.pos]
            if step.expect == RECEIPT and self.receipt() is not None:
                self.out.receipt_code = self.receipt()
                self.out.pos += 1
                continue
            after = self.seen()
            if first:
                if not self.act(step):
                    self.act_again(step)
            else:
                self.act_again(step)
                self.resends += 1
            if step.expect == RECEIPT:
                self.out.send_pressed = True
            got = await self.reply_or_silence(after, self.rng.uniform(*SILENCE_S))
            at = self.position(self.text(got)) if got is not None else None
            if at is None and got is not None and _menu_buttons(got):
                at = 1  # the menu's buttons (a tip's draft lives in memory only: a kill ends it)
            if at is None:
                # Silence, or something that is not a question: the same again, as people do.
                tries += 1
                first = False
                if tries >= PATIENCE and self.bot.up.is_set() and time.monotonic() - self.bot.up_at > 4:
                    self.dead_ends += 1
                    self.note(f"dead end at step {self.out.pos}: {self.text(got)[:60] if got else 'silence'}")
                    with contextlib.suppress(NeedResync):
                        await self.resync()
                    tries = 0
                    first = True
                continue
            if at == len(s.steps):
                self.out.receipt_code = self.receipt()
            if at != self.out.pos + 1 and at != self.out.pos:
                self.out.mismatches.append(f"shown step {at} while at step {self.out.pos}")
            self.out.pos = at
            tries = 0
            first = True
        self.out.done = True


def visible_problems(fake: FakeTelegram, person: int, script: Script) -> list[str]:
    """Bot messages that name buttons not on screen, or ask a question whose button is not there."""
    keyboard: list[dict[str, Any]] = []  # the reply keyboard on screen
    problems: list[str] = []
    sends = [c for c in fake.calls if c.ok and c.method == "sendMessage" and _chat(c.params) == person]
    sends.sort(key=lambda c: c.result["message_id"])
    prompts = {step.expect: i + 1 for i, step in enumerate(script.steps[:-1])}
    for call in sends:
        markup = call.params.get("reply_markup") or {}
        if isinstance(markup, str):
            markup = json.loads(markup)
        if "keyboard" in markup:
            keyboard = [b if isinstance(b, dict) else {"text": b} for row in markup["keyboard"] for b in row]
        elif markup.get("remove_keyboard"):
            keyboard = []
        inline = [b for row in markup.get("inline_keyboard", []) for b in row]
        text = str(call.params.get("text", ""))
        labels = [b["text"] for b in keyboard] + [b["text"] for b in inline]
        if ("button" in text.lower() or "tap " in text.lower()) and not labels:
            problems.append(f"{text[:70]!r} with no button on screen")
            continue
        for phrase, needed in HINTS.items():
            if phrase in text and not any(n in label for n in needed for label in labels):
                problems.append(f"{text[:70]!r} while {needed[0]!r} is not on screen")
        for expect, nxt in prompts.items():
            if expect not in text or nxt >= len(script.steps):
                continue
            step = script.steps[nxt]
            if step.action == "tap" and not any(step.arg in label for label in labels):
                problems.append(f"{text[:50]!r} asks for {step.arg!r}, not on screen")
            if step.action == "location" and not any(b.get(LOCATION_KEY) for b in keyboard):
                problems.append(f"{text[:50]!r} asks for the location, no location button")
    return problems


class ResendCampaign(Campaign):
    """:class:`Campaign` with :class:`Resender` people and the five figures; the killed bot is started
    again after RESTART_S (systemd's RestartSec, ten seconds in deploy/, shortened): people wait, then
    send again, while it is down."""

    restart_after = RESTART_S

    def __init__(self, directory: Path, *, seed: int, conversations: int, concurrency: int,
                 kill_every: tuple[float, float], max_kills: int = 1000) -> None:
        super().__init__(directory, seed=seed, conversations=conversations, concurrency=concurrency,
                         kill_every=kill_every, max_kills=max_kills)
        self.people_rng = random.Random(seed + 2)
        self.five = FiveFigures()
        self.no_inbox = False
        self.twice_detail = ""
        self.resenders: list[Resender] = []

    def new_driver(self, script: Script) -> Resender:
        assert self.fake is not None and self.bot is not None
        driver = Resender(self.fake, self.bot, script, 100000 + script.number,
                          random.Random(self.people_rng.random()))
        self.resenders.append(driver)
        return driver

    def count(self) -> list[str]:
        """The five figures (after :meth:`reconcile`); returns what failed beyond them."""
        assert self.fake is not None and self.bot is not None
        db = self.bot.database
        five = self.five
        people = {d.id: d for d in self.resenders}
        # Updates lost: every update from a person of the campaign, stored and done.
        sent = [u for u in self.fake.all_update_ids if _sender(self.fake.update(u)) in people]
        try:
            rows = {r["update_id"]: r["done_at"] for r in db_rows(db, "SELECT update_id, done_at FROM inbox")}
        except sqlite3.OperationalError:  # a bot without the durable inbox (bench: --baseline)
            rows = {}
            self.no_inbox = True
        lost = [u for u in sent if u not in rows or rows[u] is None]
        five.updates_lost = len(lost)
        # Handled twice: a report, receipt or photo twice.
        f = self.figures
        photos = db_rows(
            db, "SELECT report_id, COUNT(*) AS n, COUNT(DISTINCT sha256) AS d FROM photos GROUP BY report_id"
        )
        twice_photos = sum(r["n"] - r["d"] for r in photos)
        five.updates_handled_twice = f.duplicate_reports + twice_photos
        self.twice_detail = f"{f.duplicate_reports} reports, {twice_photos} photos"
        # Wrong step: submitted reports (reconcile), open drafts (saved answers).
        wrong = 0
        reports = db_rows(db, "SELECT ref_code, details FROM reports")
        by_code = {r["ref_code"]: json.loads(r["details"]) for r in reports}
        saved = {r["user_id"]: json.loads(r["data"]).get("draft")
                 for r in db_rows(db, "SELECT user_id, data FROM user_data")}
        for d in self.resenders:
            s = d.script
            if s.stop is None:
                details = by_code.get(d.out.receipt_code or "", {})
                wrong += sum(1 for k in s.answers if details.get(k) != s.answers[k])
                wrong += sum(1 for k in details if k not in s.answers)
            else:
                draft = saved.get(d.id) or {}
                answers = {k: v for k, v in (draft.get("answers") or {}).items() if k != "spot"}
                wrong += sum(1 for k, v in answers.items() if s.answers.get(k) != v)
        five.answers_at_wrong_step = wrong
        unseen = {d.id: visible_problems(self.fake, d.id, d.script) for d in self.resenders}
        five.told_about_unseen_step = sum(len(p) for p in unseen.values())
        five.dead_ends = sum(d.dead_ends for d in self.resenders)
        problems = [f"update {u} lost" for u in lost[:10]]
        problems += [f"person {p}: {x}" for p, xs in unseen.items() for x in xs][:10]
        return problems

    def summary(self) -> str:
        f, five = self.figures, self.five
        resends = sum(d.resends for d in self.resenders)
        lost = "n/a (no inbox)" if self.no_inbox else five.updates_lost
        return (
            f"{f.conversations} conversations, {f.kills} SIGKILLs, {f.submitted} reports sent, "
            f"{resends} messages sent again after a silence, {f.duplicate_receipts} receipts sent again, "
            f"{f.wall_s:.0f} s | "
            f"updates lost {lost}, handled twice {five.updates_handled_twice}"
            f"{f' ({self.twice_detail})' if five.updates_handled_twice else ''}, "
            f"answers at the wrong step {five.answers_at_wrong_step}, told about a step they cannot see "
            f"{five.told_about_unseen_step}, dead ends {five.dead_ends}"
        )


def _menu_buttons(message: dict[str, Any]) -> bool:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return any(str(b.get("callback_data", "")).startswith("report:") for row in rows for b in row)


def _by_bot(message: dict[str, Any]) -> bool:
    return bool(message.get("from", {}).get("is_bot"))


def _chat(params: dict[str, Any]) -> int | None:
    try:
        return int(params.get("chat_id"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _sender(data: dict[str, Any]) -> int | None:
    for kind in ("message", "callback_query", "edited_message"):
        body = data.get(kind)
        if isinstance(body, dict) and isinstance(body.get("from"), dict):
            return int(body["from"]["id"])
    return None


async def run_campaign(directory: Path, *, seed: int, conversations: int = 40, kills: int = 6,
                       concurrency: int = 8, submit_share: float = 0.5) -> tuple[ResendCampaign, list[str]]:
    """One campaign: start, run, drain, stop (SIGTERM), reconcile and count."""
    campaign = ResendCampaign(directory, seed=seed, conversations=conversations, concurrency=concurrency,
                              kill_every=(1.0, 2.5), max_kills=kills)
    # More of them go all the way (the harness's default leaves most drafts early).
    rng = random.Random(seed + 3)
    campaign.scripts = [dataclasses.replace(s, stop=None) if rng.random() < submit_share else s
                        for s in campaign.scripts]
    try:
        await campaign.start()
        await campaign.run()
        await campaign.drain()
        assert campaign.fake is not None
        await campaign.fake.wait_until_idle(timeout=30)
        assert campaign.bot is not None
        exit_code = await campaign.bot.stop()
        problems = campaign.reconcile()
        problems += campaign.count()
        if exit_code != 0:
            problems.append(f"SIGTERM exit code {exit_code}")
    finally:
        await campaign.close()
    return campaign, problems

