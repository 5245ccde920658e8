"""Telegram's text formatting, as the fake Bot API server applies it.

* :func:`parse_html` follows the HTML parser of TDLib (``parse_html`` in ``MessageEntity.cpp``), which is
  what the official Bot API server runs for ``parse_mode=HTML``: the same supported tags, the same
  handling of ``&`` entities, and the same error texts (``Unsupported start tag "foo" at byte offset 3``,
  ``Can't find end tag corresponding to start tag "b"`` ...).
* :func:`normalize` trims surrounding whitespace as Telegram does and drops empty entities.
* Entity offsets and lengths are in UTF-16 code units, as in the Bot API.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "EntityError",
    "check_entities",
    "normalize",
    "parse_html",
    "utf16_len",
]

# tag -> entity type (None: decided by attributes)
_TAG_TYPES: dict[str, str | None] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": None,
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}

ENTITY_TYPES = frozenset(
    {
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "blockquote",
        "expandable_blockquote",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
        "date_time",
    }
)

_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_NUMERIC_ENTITY = re.compile(r"#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")
_NAMED_ENTITY = re.compile(r"([a-zA-Z]{2,4});")


class EntityError(ValueError):
    """The text cannot be parsed; ``str(error)`` is what follows ``can't parse entities: ``."""


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (how the Bot API measures entity offsets)."""
    return len(text.encode("utf-16-le")) // 2


def _decode_entity(text: str, pos: int) -> tuple[str, int] | None:
    """Decodes the HTML entity starting at ``text[pos] == '&'``; returns (text, characters used)."""
    m = _NUMERIC_ENTITY.match(text, pos + 1)
    if m:
        code = int(m.group(1), 16) if m.group(1) else int(m.group(2))
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        return chr(code), m.end() - pos
    m = _NAMED_ENTITY.match(text, pos + 1)
    if m and m.group(1) in _NAMED_ENTITIES:
        return _NAMED_ENTITIES[m.group(1)], m.end() - pos
    return None


def _byte_offset(text: str, pos: int) -> int:
    return len(text[:pos].encode("utf-8"))


def _valid_url(url: str) -> bool:
    if url.startswith("tg://"):
        return len(url) > 5
    if "://" not in url:
        url = "http://" + url
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https", "ton", "tonsite") and bool(parts.hostname) and " " not in url


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parses Telegram HTML into plain text and MessageEntity dicts (UTF-16 offsets).

    Raises :class:`EntityError` with Telegram's wording on malformed or unsupported markup.
    """
    out: list[str] = []
    utf16_offset = 0
    # (tag name, argument, utf16 start offset)
    nested: list[tuple[str, str, int]] = []
    entities: list[dict[str, Any]] = []
    n = len(text)
    i = 0

    def emit(piece: str) -> None:
        nonlocal utf16_offset
        out.append(piece)
        utf16_offset += utf16_len(piece)

    while i < n:
        c = text[i]
        if c == "&":
            decoded = _decode_entity(text, i)
            if decoded is not None:
                emit(decoded[0])
                i += decoded[1]
            else:
                emit("&")
                i += 1
            continue
        if c != "<":
            emit(c)
            i += 1
            continue

        begin = i
        begin_byte = _byte_offset(text, begin)
        i += 1
        if i >= n or text[i] != "/":
            # a start tag
            while i < n and not text[i].isspace() and text[i] != ">":
                i += 1
            if i >= n:
                raise EntityError(f"Unclosed start tag at byte offset {begin_byte}")
            tag = text[begin + 1 : i].lower()
            if tag not in _TAG_TYPES:
                raise EntityError(f'Unsupported start tag "{tag}" at byte offset {begin_byte}')
            argument = ""
            expandable = False
            while i < n and text[i] != ">":
                while i < n and text[i].isspace():
                    i += 1
                if i >= n:
                    break
                if text[i] == ">":
                    break
                attr_begin = i
                while i < n and not text[i].isspace() and text[i] not in "=>":
                    i += 1
                attr_name = text[attr_begin:i].lower()
                if not attr_name:
                    raise EntityError(f'Empty attribute name in the tag "{tag}" at byte offset {begin_byte}')
                while i < n and text[i].isspace():
                    i += 1
                if i >= n:
                    break
                if text[i] != "=":
                    if tag == "blockquote" and attr_name == "expandable":
                        expandable = True
                        continue
                    raise EntityError(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag}" at byte offset {begin_byte}'
                    )
                i += 1
                while i < n and text[i].isspace():
                    i += 1
                if i >= n:
                    break
                if text[i] not in "'\"":
                    token_begin = i
                    while i < n and (text[i].isalnum() or text[i] in ".-"):
                        i += 1
                    value = text[token_begin:i].lower()
                    if i < n and not text[i].isspace() and text[i] != ">":
                        raise EntityError(
                            f"Unexpected end of name token at byte offset {_byte_offset(text, token_begin)}"
                        )
                else:
                    quote = text[i]
                    i += 1
                    pieces: list[str] = []
                    while i < n and text[i] != quote:
                        if text[i] == "&":
                            decoded = _decode_entity(text, i)
                            if decoded is not None:
                                pieces.append(decoded[0])
                                i += decoded[1]
                                continue
                        pieces.append(text[i])
                        i += 1
                    if i < n:
                        i += 1
                    value = "".join(pieces)
                if tag == "a" and attr_name == "href":
                    argument = value
                elif tag == "code" and attr_name == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attr_name == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and attr_name == "emoji-id":
                    argument = value
                elif tag == "blockquote" and attr_name == "expandable":
                    expandable = True
            if i >= n:
                raise EntityError(f"Unclosed start tag at byte offset {begin_byte}")
            if tag == "span" and argument != "spoiler":
                raise EntityError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin_byte}')
            if tag == "blockquote" and expandable:
                argument = "expandable"
            nested.append((tag, argument, utf16_offset))
        else:
            # an end tag
            if not nested:
                raise EntityError(f"Unexpected end tag at byte offset {begin_byte}")
            i += 1
            name_begin = i
            while i < n and not text[i].isspace() and text[i] != ">":
                i += 1
            end_name = text[name_begin:i].lower()
            while i < n and text[i].isspace():
                i += 1
            if i >= n or text[i] != ">":
                raise EntityError(f"Unclosed end tag at byte offset {begin_byte}")
            tag, argument, start = nested[-1]
            if end_name and end_name != tag:
                raise EntityError(
                    f"Unmatched end tag at byte offset {begin_byte}, "
                    f'expected "</{tag}>", found "</{end_name}>"'
                )
            nested.pop()
            length = utf16_offset - start
            if length > 0:
                entity = _make_entity(tag, argument, start, length, "".join(out))
                if entity is not None:
                    if (
                        tag == "pre"
                        and entities
                        and entities[-1]["type"] == "code"
                        and entities[-1]["offset"] == start
                        and entities[-1]["length"] == length
                    ):
                        code = entities.pop()
                        if code.get("language"):
                            entity["language"] = code["language"]
                    entities.append(entity)
        i += 1  # the closing '>'

    if nested:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{nested[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _make_entity(
    tag: str, argument: str, offset: int, length: int, text_so_far: str
) -> dict[str, Any] | None:
    kind = _TAG_TYPES[tag]
    entity: dict[str, Any] = {"offset": offset, "length": length}
    if tag == "a":
        url = argument
        if not url:
            # <a> without href: Telegram uses the link text itself as the URL
            url = text_so_far.encode("utf-16-le")[offset * 2 : (offset + length) * 2].decode("utf-16-le")
        if not _valid_url(url):
            return None
        m = re.fullmatch(r"tg://user\?id=(\d+)", url)
        if m:
            entity.update(
                type="text_mention", user={"id": int(m.group(1)), "is_bot": False, "first_name": ""}
            )
            return entity
        entity.update(type="text_link", url=url)
        return entity
    if tag == "code":
        entity["type"] = "code"
        if argument:
            entity["language"] = argument
        return entity
    if tag == "blockquote":
        entity["type"] = "expandable_blockquote" if argument == "expandable" else "blockquote"
        return entity
    if tag == "tg-emoji":
        if not argument.isdigit():
            raise EntityError("Invalid custom emoji identifier specified")
        entity.update(type="custom_emoji", custom_emoji_id=argument)
        return entity
    assert kind is not None
    entity["type"] = kind
    return entity


def normalize(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trims leading and trailing whitespace like Telegram and clips the entities to what remains."""
    stripped_left = text.lstrip()
    removed = utf16_len(text) - utf16_len(stripped_left)
    result = stripped_left.rstrip()
    total = utf16_len(result)
    fixed: list[dict[str, Any]] = []
    for entity in entities:
        start = max(entity["offset"] - removed, 0)
        end = min(entity["offset"] + entity["length"] - removed, total)
        if end > start:
            fixed.append({**entity, "offset": start, "length": end - start})
    return result, fixed


def check_entities(text: str, entities: Any) -> list[dict[str, Any]]:
    """Checks an explicit ``entities``/``caption_entities`` list; raises :class:`EntityError`."""
    if not isinstance(entities, list):
        raise EntityError("entities must be an Array of MessageEntity")
    total = utf16_len(text)
    result: list[dict[str, Any]] = []
    for entity in entities:
        if not isinstance(entity, dict):
            raise EntityError("MessageEntity must be an Object")
        kind = entity.get("type")
        offset = entity.get("offset")
        length = entity.get("length")
        if kind not in ENTITY_TYPES:
            raise EntityError(f"Unsupported entity type {kind!r}")
        if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length < 0:
            raise EntityError("entity offset and length must be non-negative Integers")
        if kind == "text_link" and not _valid_url(str(entity.get("url", ""))):
            raise EntityError("wrong text_link URL specified")
        if kind == "text_mention" and not isinstance(entity.get("user"), dict):
            raise EntityError("text_mention entity must have a user")
        if kind == "custom_emoji" and not entity.get("custom_emoji_id"):
            raise EntityError("custom_emoji entity must have custom_emoji_id")
        end = min(offset + length, total)
        if end > offset:
            result.append({**entity, "offset": offset, "length": end - offset})
    result.sort(key=lambda e: (e["offset"], -e["length"]))
    return result
