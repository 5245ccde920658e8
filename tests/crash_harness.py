"""Crash harness: the real bot as a separate process against the fake Bot API, killed and restarted.

The fake server runs in the test process on 127.0.0.1; the bot runs as ``python -m bot run --config
FILE`` with ``BOT_TOKEN`` in its environment and the fake's URLs in the config's ``[telegram]`` section,
exactly as an operator starts it: the kit's :class:`~tests.kit.BotProcess` starts it, waits until it
polls, and kills it with SIGKILL (no clean-up of any kind runs). :class:`Campaign` drives many scripted
conversations at once through :class:`Driver` (a :class:`tests.kit.Person` that copes with a bot that
vanishes), kills the bot at random moments from a seeded RNG, restarts it, and afterwards reconciles
what the people saw with the database (:meth:`Campaign.reconcile`).

How a driver copes with a crash is how a person would: when an answer does not come and the bot has
been killed meanwhile, it sends /start, taps "Keep my report" and carries on from the step the bot
asks for. That step must be the one the person was at or the one after (the update was delivered
again after the restart). The one before would mean the bot answered before it saved ("lost
acknowledgements"): counted, and required to be zero by tests/test_crash.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.fake_telegram import FakeTelegram
from bot.report import next_step as report_next_step
from tests.kit import (
    CODE,
    GENERIC_ERROR,
    MENU,
    RECEIPT,
    BotProcess,
    Person,
    db_problems,
    machine_speed_limits,
    make_jpeg,
    pending_outbox,
    wait_until,
    write_config,
)
from tests.kit import rows as db_rows

UNSENT = "not sent yet"
# Neighbouring questions whose answers fit each other (see bug 1 in tests/test_crash.py).
AMBIGUOUS = {"livestock": {"killed", "injured", "owner_name", "phone"}}
KNOWN_STUCK = "conversation states are only reached with a draft"


# --- crash points ---------------------------------------------------------------------------------


def kill_on(
    fake: FakeTelegram,
    bot: BotProcess,
    method: str,
    predicate: Callable[[dict[str, Any]], bool],
    before: Callable[[FakeTelegram], bool] | None = None,
) -> None:
    """Kills the bot the moment the fake has carried out a matching call, before the bot hears back.

    Deterministic crash points: e.g. right after a reply was delivered but before the bot could
    save the conversation. `before`, if given, must hold first (the fake holds the answer back until
    it does, e.g. until the bot has confirmed its updates). One-shot: the handler is restored after.
    """

    async def hooked(params: dict[str, Any], files: dict[str, Any], original: Callable[..., Any]) -> Any:
        result = original(params, files)
        if asyncio.iscoroutine(result):
            result = await result
        if predicate(params):
            restore()
            if before is not None:
                await wait_until(lambda: before(fake), 10, "the condition before the crash", step=0.01)
            bot.kill_now()
            await bot.reap()  # dead before it can read this answer
        return result

    restore = fake.intercept(method, hooked)


# --- scripted conversations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One thing a person does and a piece of the bot's answer that shows it took effect."""

    action: str  # send | tap | photo | location
    arg: Any
    expect: str
    stage: str = ""  # what bot.report.next_step says while the bot waits for this step


@dataclass
class Script:
    number: int
    kind: str
    tag: str  # unique words in a typed answer: finds an anonymous tip's report
    steps: list[Step]
    answers: dict[str, Any]  # what the stored report's details must say
    photos: int
    stop: int | None  # None: send the report; else stop (draft left open) after this many steps
    latitude: float
    longitude: float


def _location_for(n: int) -> tuple[float, float]:
    """Points ~4 km apart inside Heshun county, so no two conversations share an incident."""
    row, col = divmod(n, 20)
    return round(37.10 + 0.04 * (row % 13), 5), round(113.10 + 0.04 * col, 5)


def build_script(n: int, rng: random.Random, *, submit_share: float = 0.2) -> Script:
    """A conversation of a random kind; consecutive answers never fit each other's question, except
    where the form itself makes that impossible (a livestock report's two counts)."""
    kind = rng.choices(["sighting", "signs", "tip", "livestock"], weights=[35, 30, 20, 15])[0]
    tag = f"c{n:03d}x{rng.randrange(10**6):06d}"
    lat, lon = _location_for(n)
    photos = 1 if kind == "livestock" or rng.random() < 0.15 else 0
    steps = [Step("send", "/start", MENU)]
    answers: dict[str, Any]
    menu = {"sighting": "I saw a leopard", "signs": "Tracks, scat", "tip": "Snares, poison",
            "livestock": "attacked my animals"}[kind]
    steps.append(Step("tap", menu, "at least one" if kind == "livestock" else "tap No photo"))
    if photos:
        steps.append(Step("photo", n, "Got 1 photo"))
        steps.append(Step("tap", "Done", "Where was it"))
    else:
        steps.append(Step("tap", "No photo", "Where was it"))
    when = "When did you find it" if kind == "livestock" else "When did you see it"  # a loss is found
    steps.append(Step("location", (lat, lon), when))
    if kind == "sighting":
        steps.append(Step("tap", "Just now", "How many leopards"))
        steps += [
            Step("tap", "2", "Were there cubs"),
            Step("tap", "No", "What was it doing"),
            Step("send", f"walking along the ridge {tag}", "How far away"),
            Step("tap", "50 to 200 m", "Please check your report"),
        ]
        answers = {"leopards": 2, "cubs": "no", "behaviour": f"walking along the ridge {tag}",
                   "distance": "50_200"}
    elif kind == "signs":
        steps.append(Step("tap", "Just now", "What did you find"))
        steps += [
            Step("tap", "Scat", "Anything to add"),
            Step("send", f"fresh scat by the path {tag}", "Please check your report"),
        ]
        answers = {"sign": "scat", "note": f"fresh scat by the path {tag}"}
    elif kind == "tip":
        steps.append(Step("tap", "Just now", "What did you see"))
        steps += [
            Step("tap", "Snares", "Tell us more"),
            Step("send", f"wire snares near the spring {tag}", "Do you want to hear"),
            Step("tap", "Stay anonymous", "Please check your report"),
        ]
        answers = {"threat": "snares", "description": f"wire snares near the spring {tag}",
                   "follow_up": "anonymous"}
    else:
        steps.append(Step("tap", "Just now", "Which animal"))
        steps += [
            Step("tap", "Sheep", "How many were killed"),
            Step("send", "2", "How many were injured"),
            Step("tap", "1", "penned or free-ranging"),
            Step("tap", "Penned", "owner's name"),
            Step("send", f"Zhang {tag}", "phone number"),
            Step("send", "13912345678", "Please check your report"),
        ]
        answers = {"animal": "sheep", "killed": 2, "injured": 1, "penned": "penned",
                   "owner_name": f"Zhang {tag}", "phone": "13912345678"}
    steps.append(Step("tap", "Send report", RECEIPT))
    keys = iter(answers)
    for i, step in enumerate(steps[2:], start=2):
        if step.action == "photo" or step.arg in ("Done", "No photo"):
            stage = "photos"
        elif step.action == "location":
            stage = "location"
        elif step.arg == "Just now":
            stage = "when"
        elif step.expect == RECEIPT:
            stage = "review"
        else:
            stage = next(keys)
        steps[i] = dataclasses.replace(step, stage=stage)
    # Most drafts are left early (as people do); nested choices favour the first steps.
    stop = None if rng.random() < submit_share else rng.randrange(2, rng.randrange(3, len(steps)))
    return Script(n, kind, tag, steps, answers, photos, stop, lat, lon)


class NeedResync(Exception):
    """No answer: `swallowed` when a killed bot had taken the update (the person sends it again),
    else the bot answered something unexpected (the person asks where the draft stands)."""

    def __init__(self, swallowed: bool = False) -> None:
        super().__init__()
        self.swallowed = swallowed


class Failure(AssertionError):
    pass


@dataclass
class Outcome:
    script: Script
    user_id: int
    done: bool = False
    pos: int = 0
    send_pressed: bool = False
    receipt_code: str | None = None
    resyncs: int = 0
    lost_acks: int = 0
    redelivered: int = 0
    resent: int = 0
    mismatches: list[str] = field(default_factory=list)
    stale_unsent: int = 0  # an already stored report offered as "not sent yet"
    tip_drafts_lost: int = 0  # a tip's draft (memory only) gone with a crash: started again
    generic_errors: int = 0
    stuck: int = 0  # a conversation state without a draft: /start fails, /cancel gets out
    unanswered: list[str] = field(default_factory=list)  # what came instead of the expected answer
    failures: list[str] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)


class Driver(Person):
    """A person (tests.kit.Person) working through a :class:`Script` while the bot may die under them."""

    #: how long a person waits for an answer from a bot that is up before trying /start
    patience_s = 8.0
    #: when /start itself fails, the crash campaign knows why (a state without its draft, bug 2)
    #: and gets out with /cancel; during an outage a failed answer is only Telegram's doing
    cancel_when_stuck = True

    def __init__(self, fake: FakeTelegram, bot: BotProcess, script: Script, user_id: int) -> None:
        super().__init__(fake, user_id, f"Person {script.number}", language="en")
        self.bot = bot
        self.script = script
        self.out = Outcome(script, user_id)
        self.last_update = 0
        self._counted: list[dict[str, Any]] | None = None
        self._errors: set[int] = set()

    # --- looking at the chat (cheaply: thousands of wake-ups happen while 30 people talk) ---

    def messages(self) -> list[dict[str, Any]]:
        """Person.messages, counting every generic error message the person was shown."""
        messages = super().messages()
        if messages is not self._counted:
            self._counted = messages
            for message in messages:
                if GENERIC_ERROR in self.text(message) and message["message_id"] not in self._errors:
                    self._errors.add(message["message_id"])
                    self.out.generic_errors += 1
        return messages

    def note(self, what: str) -> None:
        self.out.trace.append(f"{time.monotonic():.2f} g{self.bot.generation} {what}")

    def find(self, wanted: list[str], after: int) -> tuple[str, dict[str, Any]] | None:
        """The first bot message after `after` containing one of `wanted`."""
        for message in self.messages():
            if message["message_id"] > after:
                for w in wanted:
                    if w in self.text(message):
                        return w, message
        return None

    async def until(self, found: Callable[[], Any], what: str, after: int) -> Any:
        """Waits until `found()` gives something.

        NeedResync(swallowed=True) when the update the person sent last was taken by a bot that was
        then killed before answering anything (the person sends it again); NeedResync() when the bot
        answered something else (the person asks where the draft stands); the same after
        :attr:`patience_s` of silence from a bot that is up.
        """
        since = time.monotonic()
        other_since: float | None = None
        while True:
            result = found()
            if result is not None:
                return result
            answered = self.seen() > after
            if answered and other_since is None:
                other_since = time.monotonic()
            if self.bot.up.is_set():
                if self.last_update in self.bot.at_risk and not answered:
                    self.note(f"update {self.last_update} swallowed")
                    raise NeedResync(swallowed=True)
                since = max(since, self.bot.up_at)
                late = other_since is not None and time.monotonic() - max(other_since, self.bot.up_at) > 2.0
                if late or time.monotonic() - since > self.patience_s:
                    latest = self.messages()[-1:]
                    self.out.unanswered.append(f"{what} <- {self.text(latest[0])[:70] if latest else ''}")
                    self.note(f"unanswered: {self.out.unanswered[-1]}")
                    raise NeedResync
            with contextlib.suppress(AssertionError):
                await self.fake.wait_for_message(self.id, after=self.seen(), timeout=0.5)

    def act(self, step: Step) -> bool:
        """Does the step; False when the button it needs is not there (the bot answered differently)."""
        if step.action == "send":
            self.fake.send_text(self.id, step.arg)
        elif step.action == "tap":
            key = self.key(step.arg)
            if key is not None:  # on the reply keyboard shown now
                self.fake.press_reply_button(self.id, key)
                self.last_update = self.fake.last_update_id()
                self.note(f"sent update {self.last_update}: key {step.arg!r}")
                return True
            found = self.find_button(step.arg)
            if found is None:
                return False
            try:
                self.fake.press_button(self.id, found[0], found[1])
            except AssertionError:  # removed in the meantime
                return False
        elif step.action == "photo":
            self.fake.send_photo(self.id, make_jpeg(160, 120, seed=1000 + step.arg))
        elif step.action == "location":
            self.fake.send_location(self.id, *step.arg, horizontal_accuracy=10)
        else:
            raise ValueError(step.action)
        self.last_update = self.fake.last_update_id()
        self.note(f"sent update {self.last_update}: {step.action} {step.arg!r}")
        return True

    def receipt(self) -> str | None:
        for message in self.messages():
            if RECEIPT in self.text(message):
                match = CODE.search(self.text(message))
                assert match, message
                return match.group(0)
        return None

    def stored(self) -> bool:
        """Whether the database already holds this conversation's report."""
        rows = db_rows(self.bot.database, "SELECT COUNT(*) AS n FROM reports WHERE details LIKE ?",
                       f"%{self.script.tag}%")
        return bool(rows[0]["n"])

    # --- the conversation ---

    async def run(self) -> Outcome:
        try:
            await self._run()
        except Failure as failure:
            self.out.failures.append(str(failure))
        return self.out

    async def _run(self) -> None:
        s = self.script
        end = len(s.steps) if s.stop is None else s.stop
        deadline = time.monotonic() + 120
        while self.out.pos < end:
            if time.monotonic() > deadline:
                raise Failure("no progress for 120 s")
            step = s.steps[self.out.pos]
            await self.bot.up.wait()
            self.last_update = 0  # nothing sent yet in this attempt
            try:
                if step.expect == RECEIPT:
                    await self._submit(step)
                    continue
                after = self.seen()
                if not self.act(step):
                    raise NeedResync
                await self.until(
                    lambda step=step, after=after: self.find([step.expect], after), step.expect, after
                )
                self.out.pos += 1
            except NeedResync as why:
                if why.swallowed:
                    self.out.resent += 1  # a person whose message got no answer sends it again
                else:
                    await self.resync()
        self.out.done = True

    async def _submit(self, step: Step) -> None:
        after = self.seen()
        if self.receipt() is None and (self.key(step.arg) or self.find_button(step.arg)) is not None:
            self.act(step)  # (again, if the first press was swallowed or the review shown again)
            self.out.send_pressed = True
        self.out.receipt_code = await self.until(self.receipt, "receipt", after)
        self.out.pos += 1

    def _position_of(self, prompt: str) -> int | None:
        """Which step the bot is waiting for, judged by the prompt it shows."""
        for i, step in enumerate(self.script.steps[1:-1], start=1):
            if step.expect in prompt:
                return i + 1
        return None

    async def resync(self) -> None:
        """/start, then "Keep my report": the bot says where the draft stands."""
        self.out.resyncs += 1
        wanted = [s.expect for s in self.script.steps[1:-1]]
        for _attempt in range(10):
            await self.bot.up.wait()
            self.last_update = 0
            try:
                after = self.seen()
                self.act(Step("send", "/start", ""))
                which, _ = await self.until(
                    lambda after=after: self.find([UNSENT, MENU, GENERIC_ERROR, RECEIPT], after),
                    "menu", after,
                )
                self.note(f"resync: {which}")
                if which == RECEIPT:  # the report was stored after all: nothing to resume
                    self._no_draft()
                    return
                if which == GENERIC_ERROR:
                    if not self.cancel_when_stuck:
                        continue  # Telegram failed the answer (an outage): try again
                    # A conversation state without its draft (an old bug): only /cancel gets out.
                    self.out.stuck += 1
                    after = self.seen()
                    self.act(Step("send", "/cancel", ""))
                    await self.until(lambda after=after: self.find(["cancelled"], after), "cancelled", after)
                    which = MENU
                if which == MENU:
                    self._no_draft()
                    return
                after = self.seen()
                if not self.act(Step("tap", "Keep my report", "")):
                    continue
                _, prompt = await self.until(lambda after=after: self.find(wanted, after), "prompt", after)
            except NeedResync:
                continue
            self.note(f"resync prompt {self.text(prompt)[:50]!r}")
            self._resumed(self._position_of(self.text(prompt)))
            return
        raise Failure("ten attempts to resume failed")

    def _no_draft(self) -> None:
        """The menu came back: fine before the draft began or once the report is stored."""
        if self.script.kind == "tip" and self.out.pos >= 2 and not self.stored():
            # A tip's draft lives only in memory (no row keyed by a tipster's id), so a
            # crash loses it by design: the person starts the tip again from the menu.
            self.out.tip_drafts_lost += 1
            self.out.send_pressed = False
            self.out.pos = 1
            return
        if self.out.send_pressed:
            return  # the receipt must come (waited for in _submit)
        if self.out.pos <= 1:
            self.out.pos = 1
            return
        if self.out.pos == 2:
            self.out.lost_acks += 1  # the new draft was announced but not saved
            self.out.pos = 1
            return
        lost = self.script.steps[self.out.pos].arg
        self.out.failures.append(f"draft lost at step {self.out.pos} ({lost!r})")
        self.out.pos = 1

    def _resumed(self, at: int | None) -> None:
        pos = self.out.pos
        if at is None:
            self.out.failures.append(f"resumed at an unknown prompt (was at step {pos})")
            return
        if at == len(self.script.steps) - 1 and self.out.send_pressed and self.stored():
            self.out.stale_unsent += 1  # a stored report offered as "not sent yet" (bug 3)
        if at == pos - 1:
            self.out.lost_acks += 1
        elif at == pos + 1:
            self.out.redelivered += 1
        elif at != pos:
            # The saved state and the saved draft disagreed (bug 2) or an answer was taken for the
            # wrong question (bug 1); the person follows the bot. The final checks stay strict.
            self.out.mismatches.append(f"resumed at step {at}, was at step {pos}")
        self.out.pos = at


# --- the campaign ------------------------------------------------------------------------------------


@dataclass
class Figures:
    conversations: int = 0
    submitted: int = 0
    left_open: int = 0
    kills: int = 0
    starts: int = 0
    reports: int = 0
    duplicate_reports: int = 0
    resyncs: int = 0
    lost_acks: int = 0
    redelivered_steps: int = 0
    stale_unsent_offers: int = 0
    tip_drafts_lost: int = 0
    stale_drafts_after_submit: int = 0
    stuck_states: int = 0
    generic_errors: int = 0
    known_handler_errors: int = 0
    unanswered: int = 0
    drafts_resumed_exactly: int = 0
    drafts_resumed_one_behind: int = 0
    drafts_checked_live: int = 0
    resume_mismatches: int = 0
    misapplied_answers: int = 0
    resent_after_crash: int = 0
    receipts_delivered: int = 0
    duplicate_receipts: int = 0
    staff_messages: int = 0
    duplicate_cards: int = 0
    bot_messages: int = 0
    outbox_sent: int = 0
    wall_s: float = 0.0


class Campaign:
    """Runs scripted conversations against a bot process that is killed at random moments."""

    STAFF_DESK = 9100  # the staff's chat (see `start`)
    ADMIN = 9001
    #: seconds the killed bot stays down before it is started again (None: started at once)
    restart_after: tuple[float, float] | None = None

    def __init__(self, directory: Path, *, seed: int, conversations: int, concurrency: int,
                 kill_every: tuple[float, float], max_kills: int = 1000) -> None:
        self.directory = directory
        self.rng = random.Random(seed)
        self.kill_rng = random.Random(seed + 1)
        self.scripts = [build_script(n, self.rng) for n in range(conversations)]
        self.concurrency = concurrency
        self.kill_every = kill_every
        self.max_kills = max_kills
        self.fake: FakeTelegram | None = None
        self.bot: BotProcess | None = None
        self.drivers: list[Driver] = []
        self.traces: dict[int, list[str]] = {}
        self.phases: dict[str, float] = {}
        self.figures = Figures(conversations=conversations)

    async def start(self) -> None:
        # People here tap at machine speed, so each private chat may take 20 messages a second (as in
        # tests/conftest.py). The staff's cards go to a staff member's private chat rather than a
        # group: the bot itself (AIORateLimiter) holds a group to Telegram's 20 messages a minute, so
        # the cards of a hundred reports would take ten minutes; where the cards go does not change
        # how they survive a crash (the same outbox rows, the same sender).
        # The overall limit is raised too: PTB's AIORateLimiter lets bursts of 30 through, which a
        # sliding 30-a-second window refuses now and then, and each 429 stalls the bot for a second.
        limits = machine_speed_limits(global_per_second=100)
        fake = FakeTelegram(rate_limits=limits)
        await fake.start()
        fake.keep_calls = 20000
        fake.add_user(self.ADMIN, "Admin", language_code="en")
        fake.add_user(self.STAFF_DESK, "Forestry desk", language_code="zh-hans")
        self.fake = fake
        config = write_config(self.directory, fake, moderation_chat_id=self.STAFF_DESK,
                              staff_user_ids=(self.ADMIN,))
        self.bot = BotProcess(fake, config, self.directory / "bot.log")
        await self.bot.start()
        for who in (self.ADMIN, self.STAFF_DESK):  # the bot may write only to people who wrote first
            fake.send_text(who, "/start")
            await fake.wait_for_message(who, timeout=20)

    async def close(self) -> None:
        if self.bot is not None and self.bot.running():
            with contextlib.suppress(Exception):
                await self.bot.stop()
        if self.fake is not None:
            await self.fake.stop()

    async def _killer(self, done: asyncio.Event) -> None:
        assert self.bot is not None
        low, high = self.kill_every
        while not done.is_set() and self.bot.kills < self.max_kills:
            await self.bot.up.wait()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), self.kill_rng.uniform(low, high))
            if done.is_set():
                return
            await self.bot.kill()
            if self.restart_after is not None:
                await asyncio.sleep(self.kill_rng.uniform(*self.restart_after))
            await self.bot.start()

    def new_driver(self, script: Script) -> Driver:
        """The person who goes through `script`."""
        assert self.fake is not None and self.bot is not None
        return Driver(self.fake, self.bot, script, 100000 + script.number)

    async def run(self) -> None:
        """All conversations, `concurrency` at a time, while the bot is killed now and then."""
        assert self.fake is not None and self.bot is not None
        started = time.monotonic()
        done = asyncio.Event()
        killer = asyncio.create_task(self._killer(done))
        semaphore = asyncio.Semaphore(self.concurrency)

        async def one(script: Script) -> None:
            async with semaphore:
                driver = self.new_driver(script)
                self.drivers.append(driver)
                await driver.run()

        try:
            async with asyncio.TaskGroup() as group:
                for s in self.scripts:
                    group.create_task(one(s))
        finally:
            done.set()
            await killer
        await self.bot.up.wait()
        self.figures.wall_s = time.monotonic() - started

    async def check_drafts(self, live_sample: int = 20) -> list[str]:
        """Every draft left open resumes at its step.

        First from the database alone, after one more SIGKILL (what a crash leaves is what counts):
        the saved draft's next step and the saved conversation state must be those of the step the
        person was at. Then, with the bot back, a seeded sample of people send /start and tap "Keep
        my report": the prompt must be that step's. (During the run every resynchronisation was
        such a live check as well.)
        """
        assert self.bot is not None and self.fake is not None
        problems: list[str] = []
        await self.fake.wait_until_idle(timeout=30)
        await self.bot.kill()
        left_open = [d for d in self.drivers if d.script.stop is not None and d.out.done]
        db = self.bot.database
        saved = db_rows(db, "SELECT * FROM user_data")
        drafts = {r["user_id"]: json.loads(r["data"]).get("draft") for r in saved}
        # A tip's draft is never written (no row keyed by a tipster's id): the kill takes it, by design.
        for d in left_open:
            if d.script.kind == "tip" and d.id in drafts:
                problems.append(f"conversation {d.script.number}: a tip's data was written to the database")
        open_drivers = [d for d in left_open if d.script.kind != "tip"]
        for d in open_drivers:
            steps, pos = d.script.steps, d.out.pos
            draft = drafts.get(d.id)
            if draft is None:
                if pos == 2:  # the draft was announced but never saved: a lost acknowledgement
                    self.figures.drafts_resumed_one_behind += 1
                    d.out.pos = 1
                else:
                    problems.append(f"conversation {d.script.number}: open draft at step {pos} not saved")
                continue
            stage = report_next_step(draft)
            if stage == steps[pos].stage:
                self.figures.drafts_resumed_exactly += 1
            elif stage == steps[pos - 1].stage:
                self.figures.drafts_resumed_one_behind += 1
                d.out.lost_acks += 1
                d.out.pos = pos - 1
            else:
                problems.append(
                    f"conversation {d.script.number}: saved draft at {stage!r}, person at step {pos}"
                )
        await self.bot.start()
        sample = random.Random(7).sample(open_drivers, min(live_sample, len(open_drivers)))
        semaphore = asyncio.Semaphore(self.concurrency)

        async def check(d: Driver) -> None:
            async with semaphore:
                pos = d.out.pos
                await d.resync()
                if d.out.pos != pos:
                    problems.append(f"conversation {d.script.number}: resumed at step {d.out.pos}, "
                                    f"the database said {pos}")
                self.figures.drafts_checked_live += 1

        await asyncio.gather(*(check(d) for d in sample))
        return problems

    async def drain(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Waits until the outbox has nothing pending (the bot keeps running)."""
        assert self.bot is not None

        def empty() -> bool:
            return pending_outbox(self.bot.database) == 0

        await wait_until(empty, timeout, "an empty outbox", step=0.2)

    def reconcile(self) -> list[str]:
        """What people saw against what the database holds; fills in :attr:`figures`."""
        assert self.fake is not None and self.bot is not None
        f = self.figures
        db = self.bot.database
        problems = [f"database: {p}" for p in db_problems(db)]
        self.traces = {
            d.script.number: d.out.trace + [
                f"chat #{m['message_id']} {'bot' if m.get('from', {}).get('is_bot') else 'user'}: "
                f"{(Driver.text(m) or ','.join(k for k in m if k in ('location', 'photo')))[:60]!r}"
                for m in self.fake.chat_history(d.id)
            ]
            for d in self.drivers
        }
        reports = db_rows(db, "SELECT id, ref_code, kind, reporter_id, details, draft_id FROM reports")
        f.reports = len(reports)
        by_code = {r["ref_code"]: r for r in reports}
        tag_of = {d.script.tag: d for d in self.drivers}
        users = {d.id: d for d in self.drivers}

        def owner(r: sqlite3.Row) -> Driver | None:
            """A report's conversation: by Telegram id, or (an anonymous tip) by the words typed."""
            if r["reporter_id"] is not None:
                return users.get(r["reporter_id"])
            found = re.findall(r"c\d{3}x\d{6}", r["details"])
            return tag_of.get(found[0]) if found else None

        owners = {r["ref_code"]: owner(r) for r in reports}
        count: Counter[int] = Counter(d.script.number for d in owners.values() if d is not None)
        # Card texts (an album's caption names the code too, but is not the card).
        staff_texts = [m["text"] for m in self.fake.messages_in(Campaign.STAFF_DESK) if m.get("text")]
        f.staff_messages = len(staff_texts)
        for d in self.drivers:
            out, s = d.out, d.script
            f.resyncs += out.resyncs
            f.lost_acks += out.lost_acks
            f.redelivered_steps += out.redelivered
            f.resent_after_crash += out.resent
            f.resume_mismatches += len(out.mismatches)
            f.stale_unsent_offers += out.stale_unsent
            f.tip_drafts_lost += out.tip_drafts_lost
            problems += [f"conversation {s.number}: {p}" for p in out.failures]
            receipts = [CODE.search(Driver.text(m)).group(0)  # type: ignore[union-attr]
                        for m in d.messages() if RECEIPT in Driver.text(m)]
            f.receipts_delivered += len(set(receipts))
            f.duplicate_receipts += len(receipts) - len(set(receipts))
            if len(set(receipts)) > 1:
                problems.append(f"conversation {s.number}: receipts for different reports {receipts}")
            if count[s.number] > 1:
                f.duplicate_reports += count[s.number] - 1
                problems.append(f"conversation {s.number}: {count[s.number]} reports")
            if s.stop is None:
                f.submitted += 1
                code = out.receipt_code
                row = by_code.get(code or "")
                if row is None:
                    problems.append(f"conversation {s.number}: receipt {code} but no such report")
                    continue
                if owners[row["ref_code"]] is not d:
                    problems.append(f"conversation {s.number}: receipt {code} names another report")
                details = json.loads(row["details"])
                wrong = {k for k in s.answers if details.get(k) != s.answers[k]}
                wrong |= set(details) - set(s.answers)
                if wrong and wrong <= AMBIGUOUS.get(s.kind, set()):
                    f.misapplied_answers += 1  # bug 1: an answer taken for the question before
                elif wrong:
                    problems.append(f"conversation {s.number}: stored {details}, answered {s.answers}")
                expected_reporter = None if s.kind == "tip" else d.id
                if row["reporter_id"] != expected_reporter:
                    problems.append(f"conversation {s.number}: reporter_id {row['reporter_id']}")
                cards = sum(1 for t in staff_texts if code in t)
                if cards == 0:
                    problems.append(f"conversation {s.number}: no staff card for {code}")
                f.duplicate_cards += max(0, cards - 1)
            else:
                f.left_open += 1
                if count[s.number]:
                    problems.append(f"conversation {s.number}: left open but stored as a report")
        for r in reports:
            d = owners[r["ref_code"]]
            if d is None or d.out.receipt_code != r["ref_code"]:
                problems.append(f"report {r['ref_code']} has no conversation that got its receipt")
        pending = db_rows(db, "SELECT id, purpose, last_error FROM outbox WHERE status != 'sent'")
        problems += [f"outbox row {dict(r)} not sent" for r in pending]
        f.outbox_sent = db_rows(db, "SELECT COUNT(*) AS n FROM outbox WHERE status = 'sent'")[0]["n"]
        # A submitted draft must be gone from persistence (else it is offered again as unsent).
        for row in db_rows(db, "SELECT user_id, data FROM user_data"):
            draft = json.loads(row["data"]).get("draft")
            d = users.get(row["user_id"])
            if draft and d is not None and d.script.stop is None:
                f.stale_drafts_after_submit += 1
        for d in self.drivers:
            f.generic_errors += d.out.generic_errors
            f.stuck_states += d.out.stuck
            f.unanswered += len(d.out.unanswered)
        # Bug 2 (a conversation state saved without its draft) makes /start raise; it is counted,
        # anything else a handler raises is a failure.
        for line in self.bot.failed_updates():
            if KNOWN_STUCK in line:
                f.known_handler_errors += 1
            else:
                problems.append(f"bot log: {line}")
        admin_alerts = [Driver.text(m) for m in self.fake.messages_in(Campaign.ADMIN)[1:]]
        problems += [f"error alert to the admins: {a[:200]}" for a in admin_alerts if KNOWN_STUCK not in a]
        f.kills, f.starts = self.bot.kills, self.bot.starts
        f.bot_messages = sum(1 for c in self.fake.calls if c.ok and c.method.startswith("send"))
        return problems
