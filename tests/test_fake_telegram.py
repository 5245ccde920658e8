"""The fake Telegram Bot API server, exercised over real HTTP by the real python-telegram-bot."""

from __future__ import annotations

import asyncio
import datetime as dtm
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import telegram
from aiohttp import web
from PIL import Image
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.fake_telegram import ApiError, FakeTelegram, RateLimits
from bot.fake_telegram.formatting import parse_html
from bot.fake_telegram.spec import check_object, load_spec

USER = 1001
OTHER = 1002
GROUP = -1001234567890


def png(width: int, height: int, color: tuple[int, int, int] = (200, 120, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def retry_seconds(exc: RetryAfter) -> float:
    value = exc._retry_after  # PTB 22 warns when reading .retry_after as int
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        server.add_user(USER, "Li", username="li_watcher")
        server.add_user(OTHER, "Wang", language_code="en")
        server.add_group(GROUP, "Moderators", admins=[USER], members=[OTHER])
        yield server
        assert server.problems == [], server.problems


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[telegram.Bot]:
    async with telegram.Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as b:
        yield b


async def started(fake: FakeTelegram, *users: int) -> None:
    """People who have written to the bot (so it may write to them), without an Application."""
    for user in users:
        fake.send_text(user, "/start")


async def raw_post(
    fake: FakeTelegram, method: str, data: Any = None, *, token: str | None = None
) -> tuple[int, Any]:
    url = f"{fake.base_url}{token or fake.token}/{method}"
    async with aiohttp.ClientSession() as session, session.post(url, json=data) as response:
        return response.status, await response.json()


# ---------------------------------------------------------------------------------------------- polling


async def test_application_polling_start_and_echo(fake: FakeTelegram) -> None:
    app = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        payload = " ".join(context.args or [])
        await update.effective_message.reply_html(f"<b>Welcome</b> {payload}".strip())

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text is not None
        await update.effective_message.reply_text("echo: " + update.effective_message.text)

    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=5)
        try:
            sent = fake.send_text(USER, "/start sighting_42")
            assert sent["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
            welcome = await fake.wait_for_message(USER, contains="Welcome")
            assert welcome["text"] == "Welcome sighting_42"
            assert welcome["entities"] == [{"type": "bold", "offset": 0, "length": 7}]
            assert welcome["from"]["is_bot"] is True

            fake.send_text(USER, "hello leopard")
            echo_msg = await fake.wait_for_message(USER, contains="echo:", after=welcome["message_id"])
            assert echo_msg["text"] == "echo: hello leopard"
            fake.send_text(USER, "/cancel@heshun_leopard_bot")  # no handler; must not crash anything
            await fake.wait_until_idle()
        finally:
            await app.updater.stop()
            await app.stop()
    assert [m["text"] for m in fake.messages_in(USER)] == ["Welcome sighting_42", "echo: hello leopard"]
    assert fake.calls_to("getMe") and fake.calls_to("deleteWebhook")
    assert fake.pending_update_ids == []  # every update confirmed by the offset
    polls = fake.calls_to("getUpdates")
    assert all(c.ok or c.error_code == 499 for c in polls), [(c.params, c.description) for c in polls]
    fake.assert_clean()


async def test_deliver_again_redelivers_same_update(fake: FakeTelegram) -> None:
    seen: list[int] = []
    app = Application.builder().token(fake.token).base_url(fake.base_url).build()

    async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update.update_id)

    app.add_handler(MessageHandler(filters.ALL, record))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=5)
        try:
            fake.send_text(USER, "/start")
            await fake.wait_until_idle()
            assert len(seen) == 1
            fake.deliver_again(seen[0])
            await fake.wait_until_idle()
            fake.send_text(USER, "after")
            await fake.wait_until_idle()
        finally:
            await app.updater.stop()
            await app.stop()
    assert seen[0] == seen[1] and len(seen) == 3 and seen[2] > seen[0]


async def test_get_updates_long_poll_offset_limit_allowed_and_conflict(
    bot: telegram.Bot, fake: FakeTelegram
) -> None:
    loop = asyncio.get_running_loop()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    started_at = loop.time()
    fake.send_text(USER, "/start")
    updates = await poll
    assert loop.time() - started_at < 1.0  # returned early, not after 5 s
    assert len(updates) == 1 and updates[0].message is not None and updates[0].message.text == "/start"

    fake.send_text(USER, "two")
    fake.send_text(USER, "three")
    again = await bot.get_updates(limit=1)
    assert [u.update_id for u in again] == [updates[0].update_id]  # not confirmed yet
    rest = await bot.get_updates(offset=updates[0].update_id + 1)
    assert [u.message.text for u in rest if u.message] == ["two", "three"]

    # only callback queries wanted: the next message update is dropped
    await bot.get_updates(offset=rest[-1].update_id + 1, allowed_updates=["callback_query"])
    fake.send_text(USER, "ignored")
    assert await bot.get_updates(timeout=0) == ()

    # a second poller terminates the first one
    first = asyncio.create_task(bot.get_updates(timeout=5, allowed_updates=[]))
    await asyncio.sleep(0.1)
    async with telegram.Bot(fake.token, base_url=fake.base_url) as second:
        await second.get_updates(timeout=0)
    with pytest.raises(Conflict, match="(?i)terminated by other getUpdates"):
        await first


async def test_webhook_conflict_and_delivery(bot: telegram.Bot, fake: FakeTelegram) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    attempts = 0

    async def hook(request: web.Request) -> web.Response:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            return web.Response(status=500)
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        with pytest.raises(BadRequest, match="(?i)HTTPS URL must be provided"):
            await bot.set_webhook("http://example.com/hook")
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret-token")
        with pytest.raises(Conflict, match="(?i)can't use getUpdates method while webhook is active"):
            await bot.get_updates()
        fake.send_text(USER, "/start")
        await fake.wait_until_idle()
        assert attempts == 2  # the 500 was retried
        assert received[0][0] == "s3cret-token"
        assert received[0][1]["message"]["text"] == "/start"
        info = await bot.get_webhook_info()
        assert info.url.endswith("/hook") and info.pending_update_count == 0
        assert info.last_error_message and "500" in info.last_error_message
        assert await bot.delete_webhook(drop_pending_updates=True)
        assert await bot.get_updates(timeout=0) == ()
    finally:
        await runner.cleanup()


# ---------------------------------------------------------------------------------------------- protocol


async def test_auth_unknown_method_case_and_required_params(bot: telegram.Bot, fake: FakeTelegram) -> None:
    status, body = await raw_post(fake, "getMe", token="123456789:WRONG")
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    status, body = await raw_post(fake, "sendLeopard", {})
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    status, body = await raw_post(fake, "GETME")
    assert status == 200 and body["result"]["username"] == "heshun_leopard_bot"
    assert fake.calls[-1].method == "getMe"

    await started(fake, USER)
    status, body = await raw_post(fake, "sendMessage", {"chat_id": USER})
    assert status == 400 and body["description"] == 'Bad Request: parameter "text" is required'
    status, body = await raw_post(fake, "sendMessage", {"chat_id": "not-a-chat", "text": "x"})
    assert status == 400 and body["description"] == "Bad Request: chat not found"
    status, body = await raw_post(fake, "deleteMessage", {"chat_id": USER, "message_id": "abc"})
    assert status == 400 and "message_id" in body["description"]
    # JSON bodies, query strings and numbers as strings are all accepted, as by Telegram
    status, body = await raw_post(fake, "sendMessage", {"chat_id": str(USER), "text": 42})
    assert status == 200 and body["result"]["text"] == "42"

    # PTB turns a 404 into InvalidToken, and in do_api_request into EndPointNotFound
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendLeopard")
    with pytest.raises(InvalidToken, match="was rejected by the server"):
        async with telegram.Bot("123456789:WRONG", base_url=fake.base_url):
            pass


async def test_unimplemented_methods_are_flagged(bot: telegram.Bot, fake: FakeTelegram) -> None:
    await started(fake, USER)
    with pytest.raises(BadRequest, match="(?i)fake server: not implemented: sendPoll"):
        await bot.send_poll(USER, "Seen it?", ["yes", "no"])
    assert [c.method for c in fake.unimplemented] == ["sendPoll"]
    with pytest.raises(AssertionError, match="unimplemented: sendPoll"):
        fake.assert_clean()
    fake.unimplemented.clear()
    # every documented method exists (answers something other than 404)
    status, _ = await raw_post(fake, "getStarTransactions", {})
    assert status == 400
    fake.unimplemented.clear()


async def test_chats_blocking_and_unknown(bot: telegram.Bot, fake: FakeTelegram) -> None:
    with pytest.raises(Forbidden, match="(?i)bot can't initiate conversation with a user"):
        await bot.send_message(USER, "hi")
    with pytest.raises(BadRequest, match="(?i)Chat not found"):
        await bot.send_message(999, "hi")
    await started(fake, USER)
    await bot.send_message(USER, "hi")
    fake.block_bot(USER)
    with pytest.raises(Forbidden, match="(?i)bot was blocked by the user"):
        await bot.send_message(USER, "hi again")
    updates = await bot.get_updates()
    member_update = updates[-1].my_chat_member
    assert member_update is not None and member_update.new_chat_member.status == "kicked"
    with pytest.raises(Forbidden, match="(?i)bot can't send messages to bots"):
        await bot.send_message(fake.bot_user["id"], "me")


async def test_chat_info_members_and_admins_parse_in_ptb(bot: telegram.Bot, fake: FakeTelegram) -> None:
    await started(fake, USER)
    chat = await bot.get_chat(GROUP)
    assert chat.type == "supergroup" and chat.title == "Moderators"
    private = await bot.get_chat(USER)
    assert private.first_name == "Li" and private.username == "li_watcher"
    assert (await bot.get_chat_member(GROUP, USER)).status == "creator"
    assert (await bot.get_chat_member(GROUP, OTHER)).status == "member"
    me = await bot.get_chat_member(GROUP, fake.bot_user["id"])
    assert isinstance(me, telegram.ChatMemberAdministrator) and me.can_delete_messages
    fake.add_user(1003, "Zhao")
    assert (await bot.get_chat_member(GROUP, 1003)).status == "left"
    admins = await bot.get_chat_administrators(GROUP)
    assert [a.user.id for a in admins] == [USER, fake.bot_user["id"]]
    assert await bot.get_chat_member_count(GROUP) == 3
    with pytest.raises(BadRequest, match="(?i)User not found"):
        await bot.get_chat_member(GROUP, 424242)


# ---------------------------------------------------------------------------------------------- text


def test_parse_html_units() -> None:
    text, entities = parse_html(
        '<b>豹</b> 🐆 <a href="https://example.org/a?b=1&amp;c=2">map</a> &lt;3 & &nbsp;'
    )
    assert text == "豹 🐆 map <3 & &nbsp;"
    assert entities == [
        {"offset": 0, "length": 1, "type": "bold"},
        {"offset": 5, "length": 3, "type": "text_link", "url": "https://example.org/a?b=1&c=2"},
    ]  # 🐆 is two UTF-16 code units
    text, entities = parse_html('<pre><code class="language-python">x = 1</code></pre>')
    assert entities == [{"offset": 0, "length": 5, "type": "pre", "language": "python"}]
    _, entities = parse_html('<span class="tg-spoiler">s</span><blockquote expandable>q</blockquote>')
    assert [e["type"] for e in entities] == ["spoiler", "expandable_blockquote"]


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("豹<br>", 'Unsupported start tag "br" at byte offset 3'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
async def test_html_parse_errors(bot: telegram.Bot, fake: FakeTelegram, html: str, error: str) -> None:
    await started(fake, USER)
    with pytest.raises(BadRequest):
        await bot.send_message(USER, html, parse_mode="HTML")
    assert fake.calls[-1].description == f"Bad Request: can't parse entities: {error}"


async def test_length_limits(bot: telegram.Bot, fake: FakeTelegram) -> None:
    await started(fake, USER)
    assert (await bot.send_message(USER, "豹" * 4096)).text == "豹" * 4096
    with pytest.raises(BadRequest, match="(?i)Message is too long"):
        await bot.send_message(USER, "豹" * 4097)
    # the limit applies after entity parsing
    await bot.send_message(USER, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)Message text is empty"):
        await bot.send_message(USER, "  \n <b> </b>", parse_mode="HTML")
    photo = png(50, 40)
    await bot.send_photo(USER, photo, caption="c" * 1024)
    with pytest.raises(BadRequest, match="(?i)Message caption is too long"):
        await bot.send_photo(USER, photo, caption="c" * 1025)
    ok = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="豹" * 21)]])  # 63 bytes
    await bot.send_message(USER, "keyboard", reply_markup=ok)
    for data in ("x" * 65, "豹" * 22):
        bad = InlineKeyboardMarkup([[InlineKeyboardButton("bad", callback_data=data)]])
        with pytest.raises(BadRequest, match="(?i)Button_data_invalid"):
            await bot.send_message(USER, "keyboard", reply_markup=bad)
    status, body = await raw_post(
        fake,
        "sendMessage",
        {"chat_id": USER, "text": "t", "reply_markup": {"inline_keyboard": [[{"text": "plain"}]]}},
    )
    assert body["description"] == "Bad Request: text buttons are unallowed in the inline keyboard"


async def test_replies_edits_and_deletes(bot: telegram.Bot, fake: FakeTelegram) -> None:
    user_msg = fake.send_text(USER, "/start")
    reply = await bot.send_message(USER, "reply", reply_parameters=ReplyParameters(user_msg["message_id"]))
    assert reply.reply_to_message is not None and reply.reply_to_message.text == "/start"
    with pytest.raises(BadRequest, match="(?i)Message to be replied not found"):
        await bot.send_message(USER, "x", reply_to_message_id=999)
    await bot.send_message(USER, "x", reply_parameters=ReplyParameters(999, allow_sending_without_reply=True))

    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data="a")]])
    msg = await bot.send_message(USER, "v1", reply_markup=keyboard)
    with pytest.raises(BadRequest, match="(?i)Message is not modified"):
        await bot.edit_message_text("v1", USER, msg.message_id, reply_markup=keyboard)
    edited = await bot.edit_message_text("v2", USER, msg.message_id)
    assert isinstance(edited, telegram.Message) and edited.reply_markup is None  # omitted keyboard is removed
    assert fake.last_message(USER)["text"] == "v2" and "reply_markup" not in fake.last_message(USER)
    with pytest.raises(BadRequest, match="(?i)Message can't be edited"):
        await bot.edit_message_text("hack", USER, user_msg["message_id"])
    with pytest.raises(BadRequest, match="(?i)Message to edit not found"):
        await bot.edit_message_text("x", USER, 9999)
    with pytest.raises(BadRequest, match="(?i)There is no caption in the message to edit"):
        await bot.edit_message_caption(USER, msg.message_id, caption="c")
    assert await bot.delete_message(USER, msg.message_id)
    with pytest.raises(BadRequest, match="(?i)Message to edit not found"):
        await bot.edit_message_text("v3", USER, msg.message_id)
    with pytest.raises(BadRequest, match="(?i)Message to delete not found"):
        await bot.delete_message(USER, msg.message_id)
    assert msg.message_id not in [m["message_id"] for m in fake.messages_in(USER)]

    copied = await bot.copy_message(GROUP, USER, user_msg["message_id"])
    assert fake.last_message(GROUP)["message_id"] == copied.message_id
    forwarded = await bot.forward_message(GROUP, USER, user_msg["message_id"])
    assert forwarded.forward_origin is not None and forwarded.forward_origin.type == "user"


async def test_buttons_callbacks_and_answers(bot: telegram.Bot, fake: FakeTelegram) -> None:
    await started(fake, USER)
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Confirm", callback_data="confirm:7")],
            [InlineKeyboardButton("Map", url="https://osm.org")],
        ]
    )
    msg = await bot.send_message(USER, "Is this a leopard?", reply_markup=keyboard)
    with pytest.raises(AssertionError, match="no button with callback_data 'reject:7'"):
        fake.press_button(USER, msg.message_id, "reject:7")
    query = fake.press_button(USER, msg.to_dict(), "confirm:7")
    forged = fake.press_forged_button(USER, 4242, "../../etc/passwd")
    updates = await bot.get_updates()
    cq = updates[-2].callback_query
    assert cq is not None and cq.data == "confirm:7" and cq.message is not None
    assert updates[-1].callback_query is not None and updates[-1].callback_query.data == "../../etc/passwd"

    with pytest.raises(BadRequest, match="(?i)Message_too_long"):
        await bot.answer_callback_query(query["id"], text="x" * 201)
    assert await bot.answer_callback_query(query["id"], text="Thanks")
    with pytest.raises(BadRequest, match="(?i)Query is too old"):
        await bot.answer_callback_query(query["id"])  # twice
    fake.advance_time(15 * 60 + 1)
    with pytest.raises(BadRequest, match="(?i)Query is too old"):
        await bot.answer_callback_query(forged["id"])
    assert fake.callback_answers() == [{"callback_query_id": query["id"], "text": "Thanks"}]

    await bot.edit_message_reply_markup(USER, msg.message_id, reply_markup=None)
    with pytest.raises(AssertionError, match="current buttons: \\[\\]"):
        fake.press_button(USER, msg.message_id, "confirm:7")
    with pytest.raises(AssertionError, match="not sent by the bot"):
        fake.press_button(USER, 1, "x")


async def test_application_callback_flow(fake: FakeTelegram) -> None:
    app = ApplicationBuilder().token(fake.token).base_url(fake.base_url).build()

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        buttons = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]])
        await update.effective_message.reply_text("Confirm?", reply_markup=buttons)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Saved")
        await query.edit_message_text(f"You said {query.data}")

    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=5)
        try:
            fake.send_text(USER, "/start")
            question = await fake.wait_for_message(USER, contains="Confirm?")
            fake.press_button(USER, question, "yes")
            await fake.wait_for_call("editMessageText")
            await fake.wait_until_idle()
        finally:
            await app.updater.stop()
            await app.stop()
    assert fake.last_message(USER)["text"] == "You said yes"
    assert fake.callback_answers()[0]["text"] == "Saved"


async def test_reply_keyboards(bot: telegram.Bot, fake: FakeTelegram) -> None:
    await started(fake, USER)
    location_button = KeyboardButton("Share location", request_location=True)
    markup = ReplyKeyboardMarkup(
        [[location_button], ["Cancel"]], one_time_keyboard=True, resize_keyboard=True
    )
    with pytest.raises(BadRequest, match="(?i)Location can be requested in private chats only"):
        await bot.send_message(GROUP, "where?", reply_markup=markup)
    msg = await bot.send_message(USER, "where?", reply_markup=markup)
    assert msg.reply_markup is None  # Telegram returns only inline keyboards
    with pytest.raises(BadRequest, match="(?i)Message can't be edited"):
        await bot.edit_message_text("changed", USER, msg.message_id)
    with pytest.raises(AssertionError, match="use send_location"):
        fake.press_reply_button(USER, "Share location")
    with pytest.raises(AssertionError, match="no button 'Help'"):
        fake.press_reply_button(USER, "Help")
    assert fake.reply_key(USER, "Cancel") == "Cancel" and fake.reply_key(USER, "location") == "Share location"
    assert fake.reply_key(USER, "Help") is None
    pressed = fake.press_reply_button(USER, "Cancel")
    assert pressed["text"] == "Cancel"
    fake.send_location(USER, 37.5, 113.6, horizontal_accuracy=25.0)
    await bot.send_message(USER, "thanks", reply_markup=ReplyKeyboardRemove())
    assert fake.reply_keyboard(USER) is None
    with pytest.raises(AssertionError, match="no reply keyboard"):
        fake.press_reply_button(USER, "Cancel")


# ---------------------------------------------------------------------------------------------- media


async def test_photo_upload_get_file_download_round_trip(bot: telegram.Bot, fake: FakeTelegram) -> None:
    await started(fake, USER)
    original = png(1500, 1000)
    msg = await bot.send_photo(USER, original, caption="<i>Panthera</i>", parse_mode="HTML")
    assert [(p.width, p.height) for p in msg.photo] == [
        (90, 60),
        (320, 213),
        (800, 533),
        (1280, 853),
        (1500, 1000),
    ]
    assert msg.caption == "Panthera" and msg.caption_entities[0].type == "italic"
    largest = await bot.get_file(msg.photo[-1].file_id)
    assert largest.file_path is not None and largest.file_path.startswith(fake.base_file_url)
    assert bytes(await largest.download_as_bytearray()) == original
    small = await (await bot.get_file(msg.photo[0])).download_as_bytearray()
    assert Image.open(io.BytesIO(small)).size == (90, 60)
    assert fake.download(msg.photo[-1].file_id) == original

    # a photo from a person, re-sent by the bot by file_id
    sent = fake.send_photo(USER, png(300, 200), caption="leopard!")
    assert [(p["width"], p["height"]) for p in sent["photo"]] == [(90, 60), (300, 200)]
    again = await bot.send_photo(GROUP, sent["photo"][-1]["file_id"])
    assert again.photo[-1].file_unique_id == sent["photo"][-1]["file_unique_id"]

    with pytest.raises(BadRequest, match="(?i)Wrong file identifier/http url specified"):
        await bot.send_photo(USER, "AgACAgIAAxkBAAnonsense")
    with pytest.raises(BadRequest, match="(?i)Failed to get http url content"):
        await bot.send_photo(USER, "https://example.org/leopard.jpg")
    with pytest.raises(BadRequest, match="(?i)Image_process_failed"):
        await bot.send_photo(USER, b"not an image")

    doc = fake.send_document(USER, b"%PDF-1.4", file_name="report.pdf", mime_type="application/pdf")
    with pytest.raises(BadRequest, match="(?i)can't use file of type Document as Photo"):
        await bot.send_photo(USER, doc["document"]["file_id"])
    big = fake.send_document(
        USER, b"x", file_name="big.zip", mime_type="application/zip", file_size=21 * 2**20
    )
    with pytest.raises(BadRequest, match="(?i)File is too big"):
        await bot.get_file(big["document"]["file_id"])
    url = f"{fake.base_file_url}{fake.token}/photos/nope.jpg"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 404


async def test_media_group(bot: telegram.Bot, fake: FakeTelegram) -> None:
    await started(fake, USER)
    media = [InputMediaPhoto(png(40 + i, 30), caption=f"<b>#{i}</b>", parse_mode="HTML") for i in range(3)]
    messages = await bot.send_media_group(GROUP, media)
    assert len(messages) == 3 and len({m.media_group_id for m in messages}) == 1
    assert [m.caption for m in messages] == ["#0", "#1", "#2"]
    call = fake.calls_to("sendMediaGroup")[-1]
    assert len(call.files) == 3 and all(f.data.startswith(b"\x89PNG") for f in call.files.values())
    by_id = await bot.send_media_group(USER, [InputMediaPhoto(m.photo[-1].file_id) for m in messages[:2]])
    assert len(by_id) == 2
    with pytest.raises(BadRequest, match="(?i)2-10 items"):
        await bot.send_media_group(USER, [InputMediaPhoto(png(10, 10))])
    with pytest.raises(BadRequest, match="(?i)Document can't be mixed with other media types"):
        await bot.send_media_group(USER, [InputMediaPhoto(png(10, 10)), InputMediaDocument(b"doc")])
    status, body = await raw_post(
        fake, "sendMediaGroup", {"chat_id": USER, "media": [{"type": "photo", "media": "attach://nope"}] * 2}
    )
    assert body["description"] == "Bad Request: can't parse InputMedia: media not found"


async def test_locations_and_person_media(bot: telegram.Bot, fake: FakeTelegram) -> None:
    await started(fake, USER)
    msg = await bot.send_location(USER, 37.51, 113.56, horizontal_accuracy=30)
    assert msg.location is not None and msg.location.horizontal_accuracy == 30
    with pytest.raises(BadRequest, match="(?i)Wrong location specified"):
        await bot.send_location(USER, 91, 0)
    with pytest.raises(BadRequest, match="(?i)horizontal accuracy"):
        await bot.send_location(USER, 1, 1, horizontal_accuracy=2000)
    venue = await bot.send_venue(USER, 37.5, 113.5, "Heshun", "Shanxi")
    assert venue.venue is not None and venue.venue.title == "Heshun"
    live = fake.send_location(USER, 37.0, 113.0, live_period=900)
    fake.edit_live_location(USER, live, 37.1, 113.1)
    fake.send_venue(USER, 37.2, 113.2, "Forest", "Ridge")
    fake.send_contact(USER, "+8613800000000", "Li", contact_user_id=USER)
    fake.send_sticker(USER)
    voice = fake.send_voice(USER, duration=4)
    fake.send_video(USER)
    updates = await bot.get_updates()
    assert updates[-6].edited_message is not None and updates[-6].edited_message.location.latitude == 37.1
    venue_msg, contact_msg, sticker_msg, voice_msg, video_msg = (u.message for u in updates[-5:])
    assert venue_msg is not None and venue_msg.venue is not None and venue_msg.venue.location.latitude == 37.2
    assert contact_msg is not None and contact_msg.contact is not None and contact_msg.contact.user_id == USER
    assert sticker_msg is not None and sticker_msg.sticker is not None
    assert voice_msg is not None and voice_msg.voice is not None and voice["voice"]["duration"] == 4
    assert video_msg is not None and video_msg.video is not None
    assert (await bot.get_file(voice["voice"]["file_id"])).file_path.endswith(".oga")


# ------------------------------------------------------------------------------------------ limits & faults


async def test_group_rate_limit_gives_retry_after(bot: telegram.Bot, fake: FakeTelegram) -> None:
    for i in range(20):
        await bot.send_message(GROUP, f"alert {i}")
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(GROUP, "one too many")
    assert 1 <= retry_seconds(info.value) <= 60
    assert fake.calls[-1].error_code == 429
    assert len(fake.messages_in(GROUP)) == 20
    await bot.edit_message_text("edits are not limited", GROUP, fake.messages_in(GROUP)[0]["message_id"])
    fake.advance_time(61)
    await bot.send_message(GROUP, "later")


async def test_private_rate_limit_and_disabling(bot: telegram.Bot, fake: FakeTelegram) -> None:
    await started(fake, USER)
    for i in range(5):
        await bot.send_message(USER, f"burst {i}")
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(USER, "too fast")
    assert retry_seconds(info.value) == 1
    fake.advance_time(1.0)
    await bot.send_message(USER, "ok again")
    fake.rate_limits.enabled = False
    for i in range(10):
        await bot.send_message(USER, f"unlimited {i}")


async def test_fail_next_and_fault_rate(bot: telegram.Bot, fake: FakeTelegram) -> None:
    await started(fake, USER)
    fake.fail_next("sendMessage", error_code=502, description="Bad Gateway")
    with pytest.raises(NetworkError, match="(?i)Bad Gateway"):
        await bot.send_message(USER, "lost")
    fake.fail_next(
        None, error_code=429, description="Too Many Requests: retry after 7", retry_after=7, times=2
    )
    for _ in range(2):
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(USER, "throttled")
        assert retry_seconds(info.value) == 7
    assert (await bot.send_message(USER, "fine")).text == "fine"
    assert [m["text"] for m in fake.messages_in(USER)] == ["fine"]

    fake.set_fault_rate(1.0, seed=1, kinds=("5xx",))
    with pytest.raises(NetworkError):
        await bot.get_me()
    fake.set_fault_rate(0)
    assert (await bot.get_me()).username == "heshun_leopard_bot"


# ---------------------------------------------------------------------------------------------- settings


async def test_commands_per_scope_and_language(bot: telegram.Bot, fake: FakeTelegram) -> None:
    await started(fake, USER)
    await bot.set_my_commands([("start", "开始"), ("report", "报告目击")])
    await bot.set_my_commands([("start", "Start")], language_code="en")
    await bot.set_my_commands(
        [("queue", "Review queue")], scope=telegram.BotCommandScopeChat(GROUP), language_code="en"
    )
    assert [c.command for c in await bot.get_my_commands()] == ["start", "report"]
    assert [c.description for c in await bot.get_my_commands(language_code="en")] == ["Start"]
    scoped = await bot.get_my_commands(scope=telegram.BotCommandScopeChat(GROUP), language_code="en")
    assert [c.command for c in scoped] == ["queue"]
    assert await bot.get_my_commands(scope=telegram.BotCommandScopeChat(GROUP)) == ()
    with pytest.raises(BadRequest, match="(?i)Bot_command_invalid"):
        await bot.set_my_commands([("Report", "x")])
    with pytest.raises(BadRequest, match="(?i)invalid language code"):
        await bot.set_my_commands([("start", "x")], language_code="zh-hans")
    await bot.delete_my_commands(language_code="en")
    assert fake.commands(language_code="en") == []
    assert await bot.send_chat_action(USER, "typing")
    with pytest.raises(BadRequest):
        await bot.send_chat_action(USER, "dancing")


def test_spec_copy_and_self_check() -> None:
    spec = load_spec()
    assert spec.version.startswith("Bot API")
    assert spec.canonical("SENDMESSAGE") == "sendMessage" and spec.canonical("nope") is None
    assert spec.methods["sendMessage"].param("text") is not None
    assert check_object(["Message"], {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}) == []
    problems = check_object(["Message"], {"message_id": 1, "date": 0, "chat": {"id": 1}, "form": {}})
    assert any("form" in p for p in problems) and any("type" in p for p in problems)
    raw = json.loads(
        (__import__("pathlib").Path(__file__).parents[1] / "bot/data/bot_api_methods.json").read_text()
    )
    assert len(raw["methods"]) == len(spec.methods) > 150


async def test_wait_helpers_report_clearly(fake: FakeTelegram) -> None:
    fake.send_text(USER, "/start")
    with pytest.raises(AssertionError, match="#1 user 1001: '/start'"):
        await fake.wait_for_message(USER, timeout=0.2)
    with pytest.raises(AssertionError, match="waiting for a sendMessage call"):
        await fake.wait_for_call("sendMessage", timeout=0.1)
    with pytest.raises(AssertionError, match="not idle"):
        await fake.wait_until_idle(timeout=0.3)  # nobody fetches the update
    with pytest.raises(AssertionError, match="not a member"):
        fake.add_user(1004, "Sun")
        fake.send_text(1004, "hi", chat_id=GROUP)


async def test_rate_limits_settings_object() -> None:
    limits = RateLimits(private_burst=1)
    async with FakeTelegram(rate_limits=limits) as server:
        assert server.rate_limits is limits
        assert server.base_url.endswith("/bot") and server.base_file_url.endswith("/file/bot")


async def test_long_run_helpers_for_load_generators(bot: telegram.Bot, fake: FakeTelegram) -> None:
    """The public API bench/_harness.py uses instead of the fake's private state."""
    await started(fake, OTHER)
    sent = [await bot.send_message(GROUP, f"alert {i}") for i in range(3)]
    assert fake.recent_sends() == 3 and fake.recent_sends(0.0) == 0
    fake.advance_time(1.0)
    assert fake.recent_sends() == 0

    live = fake.live_message(GROUP, sent[0].message_id)
    assert live is not None and live["text"] == "alert 0"
    await bot.delete_message(GROUP, sent[1].message_id)
    assert fake.live_message(GROUP, sent[1].message_id) is None
    assert fake.live_message(GROUP, 999) is None and fake.live_message(-1, 1) is None

    fake.forget_messages(GROUP, keep=1)
    assert [m["text"] for m in fake.messages_in(GROUP)] == ["alert 2"]
    fake.forget_messages(GROUP, keep=0)
    assert fake.messages_in(GROUP) == []

    photo = fake.send_photo(OTHER, png(120, 80))
    ids = [size["file_id"] for size in photo["photo"]]
    path = (await bot.get_file(ids[-1])).file_path
    assert path is not None
    fake.forget_files([*ids, "never-existed"])
    with pytest.raises(AssertionError, match="unknown file_id"):
        fake.download(ids[-1])
    async with aiohttp.ClientSession() as session, session.get(path) as response:
        assert response.status == 404

    # Paths stay unique after files are forgotten: a new file never takes a live file's path
    # (the paths once came from the number of live files, and two people's photos swapped).
    first = fake.send_photo(OTHER, png(64, 48, (10, 20, 30)))["photo"][-1]["file_id"]
    second = fake.send_photo(OTHER, png(96, 64, (40, 50, 60)))["photo"][-1]["file_id"]
    await bot.get_file(first)
    second_path = (await bot.get_file(second)).file_path
    fake.forget_files([first])
    third = fake.send_photo(OTHER, png(80, 60, (70, 80, 90)))["photo"][-1]["file_id"]
    third_path = (await bot.get_file(third)).file_path
    assert third_path != second_path
    async with aiohttp.ClientSession() as session, session.get(second_path) as response:
        assert response.status == 200 and await response.read() == fake.download(second)


# ---------------------------------------------------------------------------------------------- hooks


async def test_hooks_see_what_the_bot_does_and_intercept_replaces_a_method(
    fake: FakeTelegram, bot: telegram.Bot
) -> None:
    """The public hooks tests and benchmarks use instead of the fake's private state."""
    await started(fake, USER)
    stored: list[tuple[int, str]] = []
    answered: list[tuple[str, bool]] = []
    remove_message_hook = fake.on_bot_message(lambda chat, message: stored.append((chat, message["text"])))
    fake.on_call(lambda call: answered.append((call.method, call.ok)))
    await bot.send_message(USER, "one")
    assert stored == [(USER, "one")]
    assert ("sendMessage", True) in answered

    seen: list[str] = []

    def refuse_second(params: dict[str, Any], files: dict[str, Any], original: Any) -> Any:
        seen.append(params["text"])
        if params["text"] == "two":
            raise ApiError.bad("refused by the test")
        return original(params, files)

    restore = fake.intercept("sendmessage", refuse_second)  # any spelling of the method's name
    with pytest.raises(BadRequest, match="(?i)refused by the test"):
        await bot.send_message(USER, "two")
    await bot.send_message(USER, "three")
    restore()
    remove_message_hook()
    await bot.send_message(USER, "four")
    assert seen == ["two", "three"]
    assert stored == [(USER, "one"), (USER, "three")]  # the refused one was never stored
    assert [m["text"] for m in fake.messages_in(USER)] == ["one", "three", "four"]
    with pytest.raises(ValueError):
        fake.intercept("sendCarrierPigeon", refuse_second)


async def test_updates_people_and_flood_budget_through_the_public_api(
    fake: FakeTelegram, bot: telegram.Bot
) -> None:
    message = fake.send_text(USER, "hello")
    update_id = fake.last_update_id()
    assert fake.update(update_id)["message"]["text"] == "hello"
    assert update_id in fake.all_update_ids and update_id in fake.pending_update_ids
    assert fake.last_message_id(USER) == message["message_id"]
    assert fake.last_message_id(424242) == 0
    updates = await bot.get_updates(timeout=0)
    await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)  # confirmed
    fake.forget_delivered()
    assert fake.all_update_ids == []
    with pytest.raises(AssertionError):
        fake.update(update_id)

    assert fake.user(OTHER)["language_code"] == "en" and USER in fake.user_ids
    fake.set_language(OTHER, "zh-hans")
    fake.send_text(OTHER, "你好")
    assert fake.update(fake.last_update_id())["message"]["from"]["language_code"] == "zh-hans"

    fake.count_sent(GROUP, 20)  # Telegram counted a minute's worth the bot did not see
    with pytest.raises(RetryAfter):
        await bot.send_message(GROUP, "one too many")
