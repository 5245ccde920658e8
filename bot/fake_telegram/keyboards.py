"""The fake Bot API's keyboards (inline and reply markup) and callback query answers."""

from __future__ import annotations

import copy
import re
from typing import Any

from .chats import _Chats
from .model import ApiError, UploadedFile
from .records import (
    _INLINE_ACTIONS,
    ANSWER_TEXT_LIMIT,
    CALLBACK_DATA_LIMIT,
    QUERY_TTL,
    _Chat,
    _NotImplementedError,
)


class _Keyboards(_Chats):
    """Inline and reply keyboards as Telegram checks them, and answers to callback queries."""

    def _check_markup(
        self, markup: Any, chat: _Chat | None, *, inline_only: bool = False
    ) -> tuple[str, dict[str, Any]] | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise ApiError.bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            return "inline", self._check_inline_keyboard(markup["inline_keyboard"])
        if inline_only:
            raise ApiError.bad("inline keyboard expected")
        if "keyboard" in markup:
            return "reply", self._check_reply_keyboard(markup, chat)
        if markup.get("remove_keyboard") is True:
            return "remove", {
                "remove_keyboard": True,
                **({"selective": True} if markup.get("selective") else {}),
            }
        if markup.get("force_reply") is True:
            return "force", dict(markup)
        raise ApiError.bad("can't parse reply keyboard markup JSON object")

    def _check_inline_keyboard(self, rows: Any) -> dict[str, Any]:
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise ApiError.bad("can't parse inline keyboard markup JSON object: expected an Array of Arrays")
        total = 0
        clean_rows: list[list[dict[str, Any]]] = []
        for row in rows:
            clean_row: list[dict[str, Any]] = []
            for button in row:
                total += 1
                if not isinstance(button, dict):
                    raise ApiError.bad(
                        "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                    )
                text = button.get("text")
                if not isinstance(text, str):
                    raise ApiError.bad(
                        'can\'t parse inline keyboard button: Field "text" must be of type String'
                    )
                if not text.strip():
                    raise ApiError.bad("text of an inline keyboard button must be non-empty")
                actions = [k for k in _INLINE_ACTIONS if k in button]
                if not actions:
                    raise ApiError.bad("text buttons are unallowed in the inline keyboard")
                if "callback_data" in button:
                    data = button["callback_data"]
                    if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_LIMIT:
                        raise ApiError.bad("BUTTON_DATA_INVALID")
                if "url" in button:
                    url = button["url"]
                    if not isinstance(url, str) or not re.match(
                        r"(https?|tg)://[^\s/$.?#][^\s]*$", url, re.I
                    ):
                        raise ApiError.bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
                for key in (
                    "web_app",
                    "login_url",
                    "callback_game",
                    "pay",
                    "switch_inline_query_chosen_chat",
                ):
                    if key in button:
                        raise _NotImplementedError(f"inline keyboard button {key}")
                clean_row.append(copy.deepcopy(button))
            if clean_row:
                clean_rows.append(clean_row)
        if total > 100:
            raise ApiError.bad("reply markup is too long")
        return {"inline_keyboard": clean_rows}

    def _check_reply_keyboard(self, markup: dict[str, Any], chat: _Chat | None) -> dict[str, Any]:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise ApiError.bad("can't parse reply keyboard markup JSON object: expected an Array of Arrays")
        private = chat is not None and chat.type == "private"
        total = 0
        for row in rows:
            for button in row:
                total += 1
                if isinstance(button, str):
                    button = {"text": button}
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise ApiError.bad('can\'t parse keyboard button: Field "text" must be of type String')
                if not button["text"].strip():
                    raise ApiError.bad("keyboard button text must be non-empty")
                if button.get("request_location") and not private:
                    raise ApiError.bad("Location can be requested in private chats only")
                if button.get("request_contact") and not private:
                    raise ApiError.bad("Phone number can be requested in private chats only")
                if button.get("request_poll") is not None and not private:
                    raise ApiError.bad("Poll can be requested in private chats only")
        if total == 0:
            raise ApiError.bad("keyboard must be non-empty")
        if total > 300:
            raise ApiError.bad("reply markup is too long")
        return copy.deepcopy(markup)

    def _api_answerCallbackQuery(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        query = self._queries.get(p["callback_query_id"])
        if query is None or query.answered or self._mono() - query.issued_at > QUERY_TTL:
            raise ApiError.bad("query is too old and response timeout expired or query ID is invalid")
        text = p.get("text")
        if text is not None and len(text) > ANSWER_TEXT_LIMIT:
            raise ApiError.bad("MESSAGE_TOO_LONG")
        if p.get("url"):
            raise ApiError.bad("URL_INVALID")
        query.answered = True
        return True
