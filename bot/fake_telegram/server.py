"""A strict fake of the Telegram Bot API over real HTTP, for tests and the local demo sandbox.

The real python-telegram-bot ``Bot``/``Application`` talks to it unchanged::

    async with FakeTelegram() as fake:
        fake.add_user(42, "Li")
        app = (ApplicationBuilder().token(fake.token)
               .base_url(fake.base_url).base_file_url(fake.base_file_url).build())
        ...
        fake.send_text(42, "/start")
        reply = await fake.wait_for_message(42)

Requests are read the way the official server reads them (query string, JSON body, urlencoded or
multipart form; every value is a string that is then parsed as its documented type), checked against
the packaged Bot API method list, and answered in Telegram's JSON shape with Telegram's error texts.
Methods of the API that the fake does not implement answer ``400 fake server: not implemented: <name>``
and are listed in :attr:`FakeTelegram.unimplemented`, so a test can never mistake them for success.

Not thread-safe: use it from the event loop it was started on.

The server is one class built in layers, one module per area of the Bot API (each layer may use the
ones below it): ``core`` (state, clocks, Bot API objects, the update queue, hooks), ``files``,
``chats`` (set-up, members, the bot's settings), ``keyboards`` (markup, callback answers),
``sending``, ``editing``, ``people`` (what a person does in the app), ``updates`` (getUpdates,
webhooks) and ``http`` (routes, request parsing, faults, the call log); this module adds what a
test reads and waits for. Limits and records are in ``records``.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any

from .http import _Http
from .model import Call
from .records import (
    _CONTENT_KEYS,
    ANSWER_TEXT_LIMIT,
    CALLBACK_DATA_LIMIT,
    CAPTION_LIMIT,
    DOWNLOAD_LIMIT,
    IDLE_QUIET,
    PHOTO_UPLOAD_LIMIT,
    QUERY_TTL,
    TEXT_LIMIT,
    UPLOAD_LIMIT,
)

__all__ = [
    "ANSWER_TEXT_LIMIT",
    "CALLBACK_DATA_LIMIT",
    "CAPTION_LIMIT",
    "DOWNLOAD_LIMIT",
    "PHOTO_UPLOAD_LIMIT",
    "QUERY_TTL",
    "TEXT_LIMIT",
    "UPLOAD_LIMIT",
    "FakeTelegram",
]


class FakeTelegram(_Http):
    """An in-process Telegram Bot API server on 127.0.0.1 (see the module docstring).

    World set-up (:meth:`add_user`, :meth:`add_group` ...) and people's actions (:meth:`send_text`,
    :meth:`press_button` ...) are synchronous; each action enqueues an Update and returns what it made.
    What the bot did is in :attr:`calls`, :meth:`messages_in` and the ``wait_for_*`` helpers; code
    that must see it as it happens registers :meth:`on_bot_message` / :meth:`on_call` hooks, or
    :meth:`intercept` s a method.
    """

    def last_update_id(self) -> int:
        """The id of the newest update the fake has enqueued (for :meth:`deliver_again`)."""
        if not self._all_updates:
            raise AssertionError("no update has been enqueued yet")
        return max(self._all_updates)

    @property
    def pending_update_ids(self) -> list[int]:
        """Updates not yet confirmed by the bot (getUpdates offset) or accepted by its webhook."""
        return [u.update_id for u in self._pending]

    @property
    def all_update_ids(self) -> list[int]:
        """Every update the fake has enqueued and not forgotten (:meth:`forget_delivered`), oldest first."""
        return list(self._all_updates)

    def update(self, update_id: int) -> dict[str, Any]:
        """An enqueued update as Telegram delivers it (a copy), e.g. to deliver it again by hand."""
        update = self._all_updates.get(update_id)
        if update is None:
            raise AssertionError(f"no update {update_id} was ever enqueued (or it was forgotten)")
        return copy.deepcopy(update.data)

    def last_message_id(self, chat_id: int) -> int:
        """The id of the newest message of the chat, anyone's, deleted or not (0: none, or no such
        chat): it changes when anything is sent there, so a driver can cache what it read."""
        chat = self._chats.get(chat_id)
        return chat.next_message_id - 1 if chat is not None else 0

    def calls_to(self, method: str) -> list[Call]:
        """Calls of one method (any spelling of its name)."""
        name = self._spec.canonical(method) or method
        return [c for c in self.calls if c.method == name]

    def messages_in(self, chat_id: int) -> list[dict[str, Any]]:
        """The bot's messages in the chat that still exist, oldest first, as they are now."""
        chat = self._chats.get(chat_id)
        if chat is None:
            return []
        return [copy.deepcopy(m.data) for _, m in sorted(chat.messages.items()) if m.by_bot and not m.deleted]

    def chat_history(self, chat_id: int) -> list[dict[str, Any]]:
        """Every existing message of the chat (people's and the bot's), oldest first."""
        chat = self._require_chat(chat_id)
        return [copy.deepcopy(m.data) for _, m in sorted(chat.messages.items()) if not m.deleted]

    def last_message(self, chat_id: int) -> dict[str, Any]:
        messages = self.messages_in(chat_id)
        if not messages:
            raise AssertionError(f"the bot has no messages in chat {chat_id}")
        return messages[-1]

    def callback_answers(self) -> list[dict[str, Any]]:
        """Parameters of every successful answerCallbackQuery call."""
        return [copy.deepcopy(c.params) for c in self.calls_to("answerCallbackQuery") if c.ok]

    def live_message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """One message as the fake holds it now, *not* copied (read it, never change it), or None when
        the chat or the message does not exist or was deleted. For load generators (``bench/``) that
        look often and cannot afford :meth:`messages_in`'s deep copy of the whole chat."""
        chat = self._chats.get(chat_id)
        record = chat.messages.get(message_id) if chat is not None else None
        if record is None or record.deleted:
            return None
        return record.data

    def recent_sends(self, seconds: float = 1.0) -> int:
        """Messages the overall flood limit (``RateLimits.global_per_second``) counted in the last
        ``seconds`` on the fake's clock; e.g. to tell whether a 429 came from that limit or a chat's."""
        return self._limiter.recent_global(seconds)

    def assert_clean(self) -> None:
        """Raises if the bot used unimplemented features or the fake hit a bug of its own."""
        problems = list(self.problems)
        problems += [f"unimplemented: {c.method}: {c.description}" for c in self.unimplemented]
        if problems:
            raise AssertionError("fake Telegram problems:\n" + "\n".join(problems))

    def _describe_chat(self, chat_id: int) -> str:
        chat = self._chats.get(chat_id)
        if chat is None:
            return f"chat {chat_id} does not exist"
        lines = []
        for mid, m in sorted(chat.messages.items()):
            who = "bot" if m.by_bot else f"user {m.data.get('from', {}).get('id')}"
            body = (
                m.data.get("text")
                or m.data.get("caption")
                or ",".join(k for k in _CONTENT_KEYS if k in m.data)
            )
            state = " (deleted)" if m.deleted else ""
            lines.append(f"  #{mid} {who}{state}: {body[:200]!r}")
        failures = [
            f"  {c.method} -> {c.error_code} {c.description}"
            for c in self.calls
            if not c.ok and c.method != "getUpdates"
        ][-5:]
        text = "\n".join(lines) or "  (no messages)"
        if failures:
            text += "\nrecent failed calls:\n" + "\n".join(failures)
        return text

    async def wait_for_message(
        self,
        chat_id: int,
        *,
        contains: str | None = None,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109 - the public interface
        after: int = 0,
    ) -> dict[str, Any]:
        """Waits for ``count`` bot messages newer than ``after`` (and one containing ``contains``).

        Returns the newest matching message; raises AssertionError listing the chat on timeout.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            newer = [m for m in self.messages_in(chat_id) if m["message_id"] > after]
            if len(newer) >= count:
                if contains is None:
                    return newer[-1]
                matching = [m for m in newer if contains in (m.get("text") or m.get("caption") or "")]
                if matching:
                    return matching[-1]
            remaining = deadline - loop.time()
            if remaining <= 0:
                want = f"{count} bot message(s) after #{after}" + (
                    f" containing {contains!r}" if contains else ""
                )
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {want} in chat {chat_id}:\n"
                    + self._describe_chat(chat_id)
                )
            await self._wait_change(remaining)

    async def wait_for_call(
        self,
        method: str,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - the public interface
        predicate: Callable[[Call], bool] | None = None,
    ) -> Call:
        """Waits until a call of ``method`` (matching ``predicate``) has been answered; returns the newest."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = [c for c in self.calls_to(method) if predicate is None or predicate(c)]
            if found:
                return found[-1]
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = sorted({c.method for c in self.calls})
                raise AssertionError(
                    f"timed out after {timeout}s waiting for a {method} call; methods called: {seen}"
                )
            await self._wait_change(remaining)

    def _idle(self, now: float) -> bool:
        return not self._pending and self._inflight == 0 and now - self._last_activity >= IDLE_QUIET

    async def wait_until_idle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Waits until every update was fetched and confirmed and no request arrived for ~0.2 s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._idle(loop.time()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"not idle after {timeout}s: {len(self._pending)} update(s) not confirmed "
                    f"({[u.update_id for u in self._pending]}), {self._inflight} request(s) in progress"
                )
            await self._wait_change(min(remaining, IDLE_QUIET / 2))

    def forget_messages(self, chat_id: int, keep: int) -> None:
        """Drops all but the newest ``keep`` messages of a chat (deleted ones included), so that a long
        run does not grow without bound; a dropped message no longer exists for the bot either."""
        chat = self._chats.get(chat_id)
        if chat is not None and len(chat.messages) > keep:
            for mid in sorted(chat.messages)[: len(chat.messages) - keep]:
                del chat.messages[mid]

    def forget_delivered(self) -> None:
        """Forgets updates the bot has confirmed and callback queries it has answered, so that a long
        run does not grow without bound (a forgotten update cannot be delivered again)."""
        pending = {u.update_id for u in self._pending}
        self._all_updates = {k: v for k, v in self._all_updates.items() if k in pending}
        self._queries = {k: q for k, q in self._queries.items() if not q.answered}
