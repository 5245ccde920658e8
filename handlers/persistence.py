"""Conversation persistence in the bot's own SQLite database (not a pickle file).

Only user data (the draft, the language) and conversation states are kept; chat, bot and
callback data are unused. The SQL is in `bot.store`; this class adapts it to PTB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput
from telegram.ext._utils.types import ConversationDict, ConversationKey

from bot.store import Store

UserData = dict[str, Any]


class SQLitePersistence(BasePersistence[UserData, dict[Any, Any], dict[Any, Any]]):
    """PTB persistence that opens (and owns) the Store, since PTB loads it before post_init."""

    def __init__(self, database_path: Path) -> None:
        super().__init__(
            store_data=PersistenceInput(bot_data=False, chat_data=False, user_data=True, callback_data=False),
            # We flush after every update ourselves (see handlers/app.py); this is only a safety net.
            update_interval=5,
        )
        self.database_path = database_path
        self._store: Store | None = None

    async def store(self) -> Store:
        """The database, opened on first use."""
        if self._store is None:
            self._store = await Store.open(self.database_path)
        return self._store

    async def close(self) -> None:
        if self._store is not None:
            await self._store.close()
            self._store = None

    async def get_user_data(self) -> dict[int, UserData]:
        return await (await self.store()).load_user_data()

    async def update_user_data(self, user_id: int, data: UserData) -> None:
        await (await self.store()).save_user_data(user_id, data)

    async def drop_user_data(self, user_id: int) -> None:
        await (await self.store()).drop_user_data(user_id)

    async def refresh_user_data(self, user_id: int, user_data: UserData) -> None:
        """Nothing to do: this process is the only writer of user data."""

    async def get_conversations(self, name: str) -> ConversationDict:
        return await (await self.store()).load_conversations(name)

    async def update_conversation(self, name: str, key: ConversationKey, new_state: object | None) -> None:
        await (await self.store()).save_conversation(name, key, new_state)

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
