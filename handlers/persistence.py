"""Conversation persistence in the bot's own SQLite database (not a pickle file).

Only user data (the draft, the language) is kept; chat, bot and callback data are unused.
Conversation states are not stored at all: each conversation's state is derived from the person's
user data (for the report conversation, from the draft), so no crash can leave a state that
disagrees with its draft. The SQL is in `bot.store`; this class adapts it to PTB.

Two things are never written, so that the database holds no row keyed by a tipster's Telegram id:
a poaching tip's draft lives only in memory (it expires after `[reports] tip_draft_expiry_hours`,
and a crash or restart loses it: the price of leaving no trace), and a language that only came from
the person's Telegram settings is not worth a row of its own (one chosen with /language is).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeGuard, cast

from telegram import Update
from telegram.ext import Application, BasePersistence, CallbackContext, PersistenceInput
from telegram.ext._utils.types import ConversationDict, ConversationKey

from bot.records import Draft
from bot.report import Kind
from bot.store import Store

UserData = dict[str, Any]
# A conversation's state for a person, from their user data (None: not in the conversation).
StateFromData = Callable[[Mapping[str, Any]], object | None]
DRAFT = "draft"  # the key of a person's report draft in their user data
LANGUAGE_CHOSEN = "lang_chosen"  # set by /language: the language is the person's choice, worth keeping


def draft_of(data: Mapping[str, Any]) -> Draft | None:
    """The report draft in a person's user data, or None."""
    draft = data.get(DRAFT)
    return cast(Draft, draft) if isinstance(draft, dict) else None


def is_tip_draft(draft: object) -> TypeGuard[Draft]:
    """Whether `draft` is a poaching tip's draft (kept in memory only)."""
    return isinstance(draft, dict) and draft.get("kind") == Kind.TIP.value


def persisted(data: Mapping[str, Any]) -> UserData:
    """What of a person's data goes to the database: everything but a tip's draft, and nothing at all
    when only a language Telegram told us is left."""
    kept = {k: v for k, v in data.items() if not (k == DRAFT and is_tip_draft(v))}
    if set(kept) <= {"lang"}:
        return {}
    return kept


class SQLitePersistence(BasePersistence[UserData, dict[Any, Any], dict[Any, Any]]):
    """PTB persistence that opens (and owns) the Store, since PTB loads it before post_init."""

    def __init__(
        self,
        database_path: Path,
        conversation_states: Mapping[str, StateFromData],
        *,
        read_connections: int = 0,
    ) -> None:
        super().__init__(
            store_data=PersistenceInput(bot_data=False, chat_data=False, user_data=True, callback_data=False),
            # Handlers save as they go (`save`), and handlers/app.py saves after every update; this
            # periodic run is only a safety net.
            update_interval=60,
        )
        self.database_path = database_path
        self.conversation_states = conversation_states
        self.read_connections = read_connections  # [storage] read_connections
        self._store: Store | None = None
        # The JSON last written per person, so unchanged data is not rewritten.
        self._saved: dict[int, str] = {}

    async def store(self) -> Store:
        """The database, opened on first use."""
        if self._store is None:
            self._store = await Store.open(self.database_path, readers=self.read_connections)
        return self._store

    async def close(self) -> None:
        if self._store is not None:
            await self._store.close()
            self._store = None

    async def save(self, user_id: int, data: UserData) -> None:
        """Writes what of a person's data is kept (`persisted`) now, unless it is what was last written;
        a person with nothing to keep has no row (an earlier one is deleted)."""
        kept = persisted(data)
        encoded = json.dumps(kept, ensure_ascii=False)
        if self._saved.get(user_id, "{}") == encoded:
            return
        if kept:
            await (await self.store()).save_user_data(user_id, encoded)
            self._saved[user_id] = encoded
        else:
            await (await self.store()).drop_user_data(user_id)
            self._saved.pop(user_id, None)

    async def get_user_data(self) -> dict[int, UserData]:
        loaded = await (await self.store()).load_user_data()
        self._saved = {user_id: json.dumps(data, ensure_ascii=False) for user_id, data in loaded.items()}
        return loaded

    async def update_user_data(self, user_id: int, data: UserData) -> None:
        await self.save(user_id, data)

    async def drop_user_data(self, user_id: int) -> None:
        self._saved.pop(user_id, None)
        await (await self.store()).drop_user_data(user_id)

    async def refresh_user_data(self, user_id: int, user_data: UserData) -> None:
        """Nothing to do: this process is the only writer of user data."""

    async def get_conversations(self, name: str) -> ConversationDict:
        """Each person's state in conversation `name`, derived from their data (private chats: the
        conversation key is (chat id, user id), and a private chat's id is the user's id)."""
        state_of = self.conversation_states.get(name)
        if state_of is None:
            return {}
        states: ConversationDict = {}
        # PTB loads the user data first: decode what that load kept rather than read it all again.
        if self._saved:
            loaded = {user_id: json.loads(text) for user_id, text in self._saved.items()}
        else:
            loaded = await self.get_user_data()
        for user_id, data in loaded.items():
            state = state_of(data)
            if state is not None:
                states[(user_id, user_id)] = state
        return states

    async def update_conversation(self, name: str, key: ConversationKey, new_state: object | None) -> None:
        """Nothing to store: the state is derived from the user data (see `get_conversations`)."""

    async def flush(self) -> None:
        """Every write is committed as it happens."""

    # Unused stores: PTB still requires the methods.
    async def get_chat_data(self) -> dict[int, dict[Any, Any]]:
        return {}

    async def update_chat_data(self, chat_id: int, data: dict[Any, Any]) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[Any, Any]) -> None:
        return None

    async def get_bot_data(self) -> dict[Any, Any]:
        return {}

    async def update_bot_data(self, data: dict[Any, Any]) -> None:
        return None

    async def refresh_bot_data(self, bot_data: dict[Any, Any]) -> None:
        return None

    async def get_callback_data(self) -> None:
        return None

    async def update_callback_data(self, data: Any) -> None:
        return None


async def save_user_data(update: object, context: CallbackContext[Any, Any, Any, Any]) -> None:
    """Writes the data of the person behind this update now (before a reply that relies on it)."""
    user = update.effective_user if isinstance(update, Update) else None
    if user is not None:
        await save_person(context.application, user.id)


async def save_person(application: Application[Any, Any, Any, Any, Any, Any], user_id: int) -> None:
    """Writes one person's data now, if it changed since it was last written."""
    persistence = application.persistence
    if isinstance(persistence, SQLitePersistence) and user_id in application.user_data:
        await persistence.save(user_id, application.user_data[user_id])
