"""Telegram messages (as the fake Bot API stores them) to the small JSON the sandbox page draws.

Texts arrive as Telegram keeps them: plain text plus entities with UTF-16 offsets. They are turned
back into a little safe HTML here (every piece of text escaped, only our own tags added), so the
page never interprets anything the bot or a person wrote as markup.
"""

from __future__ import annotations

import html
import re
from typing import Any

_TAGS = {
    "bold": ("<b>", "</b>"),
    "italic": ("<i>", "</i>"),
    "underline": ("<u>", "</u>"),
    "strikethrough": ("<s>", "</s>"),
    "spoiler": ('<span class="spoiler">', "</span>"),
    "code": ("<code>", "</code>"),
    "pre": ('<code class="pre">', "</code>"),
    "blockquote": ('<span class="quote">', "</span>"),
    "expandable_blockquote": ('<span class="quote">', "</span>"),
    "text_mention": ('<span class="mention">', "</span>"),
    "mention": ('<span class="mention">', "</span>"),
    "hashtag": ('<span class="mention">', "</span>"),
}
_SAFE_URL = re.compile(r"(?i)^(https?://|mailto:)")
_COMMAND = re.compile(r"(?<!\S)/[A-Za-z][A-Za-z0-9_]{0,31}(?![\w/])")
_LIVE_TAGS = ("code", "pre")  # no command links inside code


def _open_tag(entity: dict[str, Any], text: str) -> tuple[str, str]:
    kind = entity.get("type", "")
    if kind in ("text_link", "url"):
        url = entity.get("url") if kind == "text_link" else text
        if url and kind == "url" and "://" not in url:
            url = "http://" + url
        if url and _SAFE_URL.match(url):
            return (
                f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">',
                "</a>",
            )
        return f'<span class="link" title="{html.escape(url or "", quote=True)}">', "</span>"
    if kind == "bot_command":
        return f'<a href="#" class="cmd" data-cmd="{html.escape(text, quote=True)}">', "</a>"
    return _TAGS.get(kind, ("", ""))


def _plain(segment: str, *, commands: bool) -> str:
    """Escapes a run of text; "/start" and friends become tappable, as in Telegram's apps."""
    if not commands:
        return html.escape(segment)
    out, last = [], 0
    for match in _COMMAND.finditer(segment):
        out.append(html.escape(segment[last : match.start()]))
        cmd = html.escape(match.group(0), quote=True)
        out.append(f'<a href="#" class="cmd" data-cmd="{cmd}">{cmd}</a>')
        last = match.end()
    out.append(html.escape(segment[last:]))
    return "".join(out)


def entities_to_html(text: str, entities: list[dict[str, Any]] | None) -> str:
    """Safe HTML for Telegram text with entities (nested properly even if entities overlap)."""
    units = text.encode("utf-16-le")
    length = len(units) // 2

    def piece(start: int, end: int) -> str:
        return units[2 * start : 2 * end].decode("utf-16-le", errors="replace")

    ents = sorted(
        (e for e in entities or [] if e.get("length", 0) > 0),
        key=lambda e: (e["offset"], -e["length"]),
    )
    bounds = sorted({0, length} | {e["offset"] for e in ents} | {e["offset"] + e["length"] for e in ents})
    bounds = [b for b in bounds if 0 <= b <= length]
    out: list[str] = []
    stack: list[tuple[dict[str, Any], str]] = []  # (entity, closing tag)
    for start, end in zip(bounds, bounds[1:], strict=False):
        # Close what ends here; anything opened inside it is closed and reopened (overlaps).
        ending = [i for i, (e, _) in enumerate(stack) if e["offset"] + e["length"] <= start]
        if ending:
            first = min(ending)
            reopen = [item for item in stack[first:] if item[0]["offset"] + item[0]["length"] > start]
            for _, closing in reversed(stack[first:]):
                out.append(closing)
            del stack[first:]
            for entity, _ in reopen:
                opening, closing = _open_tag(
                    entity, piece(entity["offset"], entity["offset"] + entity["length"])
                )
                out.append(opening)
                stack.append((entity, closing))
        for entity in ents:
            if entity["offset"] == start:
                opening, closing = _open_tag(
                    entity, piece(entity["offset"], entity["offset"] + entity["length"])
                )
                out.append(opening)
                stack.append((entity, closing))
        inside_code = any(e.get("type") in _LIVE_TAGS or e.get("type") == "bot_command" for e, _ in stack)
        linked = any(e.get("type") in ("text_link", "url") for e, _ in stack)
        out.append(_plain(piece(start, end), commands=not (inside_code or linked)))
    for _, closing in reversed(stack):
        out.append(closing)
    return "".join(out)


def _buttons(message: dict[str, Any]) -> list[list[dict[str, Any]]]:
    markup = message.get("reply_markup") or {}
    rows = []
    for row in markup.get("inline_keyboard", []):
        rows.append(
            [
                {
                    k: v
                    for k, v in (
                        ("text", b.get("text")),
                        ("data", b.get("callback_data")),
                        ("url", b.get("url")),
                    )
                    if v is not None
                }
                for b in row
            ]
        )
    return rows


def _sender(message: dict[str, Any], bot_id: int) -> tuple[str, bool]:
    if "sender_chat" in message:
        return str(message["sender_chat"].get("title") or ""), True
    person = message.get("from") or {}
    name = " ".join(p for p in (person.get("first_name"), person.get("last_name")) if p)
    return name, person.get("id") == bot_id


def _snippet(message: dict[str, Any]) -> str:
    text = message.get("text") or message.get("caption") or ""
    if not text:
        for key, icon in (("photo", "🖼"), ("document", "📄"), ("location", "📍"), ("contact", "📞")):
            if key in message:
                return icon
    return text[:80]


def message_json(message: dict[str, Any], bot_id: int) -> dict[str, Any]:
    """One message as the page draws it."""
    name, by_bot = _sender(message, bot_id)
    out: dict[str, Any] = {
        "id": message["message_id"],
        "from": name,
        "from_id": (message.get("from") or {}).get("id"),
        "by_bot": by_bot,
        "date": message.get("date"),
        "edited": "edit_date" in message,
    }
    text = message.get("text")
    if text is not None:
        out["html"] = entities_to_html(text, message.get("entities"))
    elif message.get("caption"):
        out["html"] = entities_to_html(message["caption"], message.get("caption_entities"))
    if message.get("photo"):
        sizes = message["photo"]
        shown = [s for s in sizes if max(s["width"], s["height"]) <= 800] or sizes[:1]
        out["photo"] = {
            "file_id": shown[-1]["file_id"],
            "full": sizes[-1]["file_id"],
            "width": sizes[-1]["width"],
            "height": sizes[-1]["height"],
        }
    if message.get("document"):
        doc = message["document"]
        out["document"] = {
            "file_id": doc["file_id"],
            "name": doc.get("file_name") or "file",
            "mime": doc.get("mime_type") or "",
            "size": doc.get("file_size"),
        }
    if message.get("location"):
        loc = message["location"]
        out["location"] = {
            "lat": loc["latitude"],
            "lon": loc["longitude"],
            "live": bool(loc.get("live_period")),
        }
    if message.get("venue"):
        out["venue"] = {"title": message["venue"].get("title"), "address": message["venue"].get("address")}
    if message.get("contact"):
        contact = message["contact"]
        out["contact"] = {"phone": contact.get("phone_number"), "name": contact.get("first_name")}
    for key in ("sticker", "voice", "video", "audio", "animation", "video_note"):
        if key in message:
            out["other"] = key
    if message.get("media_group_id"):
        out["album"] = message["media_group_id"]
    if message.get("reply_to_message"):
        target = message["reply_to_message"]
        out["reply_to"] = {"id": target["message_id"], "snippet": _snippet(target)}
    buttons = _buttons(message)
    if buttons:
        out["buttons"] = buttons
    return out


def reply_keyboard_json(keyboard: dict[str, Any] | None) -> list[list[dict[str, Any]]] | None:
    """The reply keyboard the person sees under the input field (None when there is none)."""
    if not keyboard:
        return None
    rows = []
    for row in keyboard.get("keyboard", []):
        cells = []
        for button in row:
            b = button if isinstance(button, dict) else {"text": button}
            kind = (
                "location" if b.get("request_location") else "contact" if b.get("request_contact") else "text"
            )
            cells.append({"text": b["text"], "kind": kind})
        rows.append(cells)
    return rows
