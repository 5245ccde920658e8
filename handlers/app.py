"""The application factory: every handler registered in one place, services built in post_init.

Production (`leopard-watch run`) and the tests build the bot through :func:`build_application`
and run it through :func:`run_bot`, so the tests exercise the code path that ships.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import BotCommand, BotCommandScopeAllPrivateChats, Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import locations
from bot.compensation import plan_for
from bot.config import Config
from bot.i18n import N_, translator
from bot.link import TelegramLink, retry_delays
from bot.logs import environment_secrets, redact
from handlers import compensation, export, menu, places, privacy, staff
from handlers.bot_api_http import InstrumentedRequest
from handlers.common import SERVICES_KEY, Services, reply, services, tr
from handlers.inbox import attach_inbox, inbox_key, inbox_of, run_polling
from handlers.outbox import OutboxSender
from handlers.persistence import SQLitePersistence, save_user_data
from handlers.ratelimit import PerChatRateLimiter
from handlers.report import (
    CONVERSATION_NAME,
    build_conversation,
    resent_answer,
    schedule_idle_drafts,
    state_for,
)
from handlers.updates import PerPersonUpdateProcessor

log = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
LINK_KEY = "telegram_link"
# bot_data: start-up steps that need no Telegram (the web side); run before Telegram is tried.
OFFLINE_PARTS = "offline_parts"
OUTBOX_TASK = "outbox_task"
COMMANDS = (
    ("start", N_("Report a leopard, livestock loss, signs or poaching")),
    ("myreports", N_("See your reports")),
    ("cancel", N_("Stop the report you are making")),
    ("help", N_("How this bot works")),
    ("safety", N_("How to stay safe near leopards")),
    ("alerts", N_("Get leopard warnings for your township")),
    ("language", N_("中文 / English")),
    ("privacy", N_("What we keep about you")),
    ("forgetme", N_("Delete your data")),
)
# The last group runs after every other handler has finished with an update.
FLUSH_GROUP = 100
# How long the event loop may hold the GIL while another thread waits for it. Every database call
# is a trip to the SQLite thread, which needs the GIL to hand its result back; with several
# people's updates running, the loop is rarely idle and Python's default (5 ms) made each trip
# wait for it: 92 → 143 updates/s with 16 updates at once (bench_e2e.py --quick, session 3).
SWITCH_INTERVAL_S = 0.0005


async def open_services(application: AnyApplication) -> Services:
    """The database and the shared services: what works without Telegram (built once, kept)."""
    found = application.bot_data.get(SERVICES_KEY)
    if isinstance(found, Services):
        return found
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    config: Config = application.bot_data["config"]
    persistence = application.persistence
    assert isinstance(persistence, SQLitePersistence)
    svc = Services(
        config=config,
        store=await persistence.store(),
        case_plan=plan_for(config),
        telegram=telegram_link(application),
    )
    application.bot_data[SERVICES_KEY] = svc
    # Before Telegram is reached: the webhook route stores updates in it as soon as the web side is up.
    attach_inbox(application, svc.store, inbox_key(config.secret_key, config.storage.database))
    await places.reload_points(svc)  # the points staff taught places, for the web side too
    return svc


def telegram_link(application: AnyApplication) -> TelegramLink:
    """The application's Bot API reachability (its requests report to it)."""
    link = application.bot_data.get(LINK_KEY)
    if not isinstance(link, TelegramLink):
        link = application.bot_data[LINK_KEY] = TelegramLink(secrets=(application.bot.token,))
    return link


async def post_init(application: AnyApplication) -> None:
    """Builds the shared services (unless built), starts the outbox sender and sets the command menu."""
    config: Config = application.bot_data["config"]
    # First, once Telegram answers: a compensation chat that is a channel stops start-up.
    await compensation.check_chat(application, config)
    svc = await open_services(application)
    sender = OutboxSender(
        application.bot,
        svc.store,
        svc.outbox_wakeup,
        svc.staff_translator(),
        config.telegram.outbox_poll_seconds,
    )
    application.bot_data[OUTBOX_TASK] = asyncio.create_task(sender.run(), name="outbox")
    svc.telegram.on_back.append(lambda: _retry_outbox_now(svc))
    await compensation.start_jobs(application)  # case cards, deadline reminders, daily digest
    staff.schedule_decisions(application, config.moderation.undo_seconds)  # decisions after their undo window
    privacy.schedule_retention(application)  # originals of rejected reports, after the retention period
    # "your report is paused" after a quiet spell
    schedule_idle_drafts(application, config.reports.draft_timeout)
    for language, code in (("en", None), ("zh_Hans", "zh")):
        t = translator(language)
        commands = [BotCommand(name, t.gettext(description)) for name, description in COMMANDS]
        try:
            await application.bot.set_my_commands(
                commands, scope=BotCommandScopeAllPrivateChats(), language_code=code
            )
        except TelegramError as error:
            # The command menu is a convenience: a Telegram hiccup at start-up must not stop the bot.
            log.warning("could not set the %s command menu: %s", language, error)
    # Before any update is handled: what an earlier run received and did not finish goes first.
    await inbox_of(application).replay()


def _retry_outbox_now(svc: Services) -> None:
    """Telegram is back: cards and receipts that waited out a back-off during the outage go now."""

    async def retry() -> None:
        await svc.store.outbox_due_now(time.time())
        svc.outbox_wakeup.set()

    task = asyncio.get_running_loop().create_task(retry())
    svc.background.add(task)  # held until done, so it is not garbage-collected half-way
    task.add_done_callback(svc.background.discard)


async def post_shutdown(application: AnyApplication) -> None:
    """Stops the outbox sender and closes the database (after PTB's last persistence flush)."""
    task = application.bot_data.pop(OUTBOX_TASK, None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    persistence = application.persistence
    if isinstance(persistence, SQLitePersistence):
        await persistence.close()


async def flush_persistence(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Writes the person's data now (if it changed), so a crash right after loses nothing."""
    await save_user_data(update, context)


async def error_handler(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Logs the error, tells the person their draft is safe, and tells the admins (at most once a minute)."""
    log.error("update %s failed", getattr(update, "update_id", None), exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat and update.effective_chat.type == "private":
        with contextlib.suppress(Exception):
            await reply(
                update,
                html.escape(
                    tr(update, context).gettext(
                        "Sorry, something went wrong on our side. "
                        "Your report so far is kept; please try again."
                    )
                ),
            )
    name = type(context.error).__name__
    svc = services(context)
    if time.monotonic() - svc.last_alert.get(name, -1e9) < 60:
        return
    svc.last_alert[name] = time.monotonic()
    detail = "".join(traceback.format_exception_only(context.error)).strip() if context.error else name
    detail = redact(detail, environment_secrets())  # an error text may carry a URL with the token
    for admin in svc.config.telegram.staff_user_ids:
        with contextlib.suppress(Exception):
            await context.bot.send_message(
                admin, f"⚠️ <code>{html.escape(detail[:3500])}</code>", parse_mode="HTML"
            )


def build_application(config: Config) -> Application[Any, Any, Any, Any, Any, Any]:
    """The bot, with every handler registered here, in groups: gatekeeping first, side effects last."""
    locations.configure(margin_m=config.region.area_margin_m, township_max_m=config.region.township_max_m)
    link = TelegramLink(secrets=(config.bot_token,))
    application = (
        ApplicationBuilder()
        .token(config.bot_token)
        .base_url(config.telegram.base_url)
        .base_file_url(config.telegram.base_file_url)
        .local_mode(config.telegram.local_mode)
        .persistence(
            SQLitePersistence(
                config.storage.database,
                {CONVERSATION_NAME: state_for},
                read_connections=config.storage.read_connections,
            )
        )
        .rate_limiter(PerChatRateLimiter(config.pace))
        .request(InstrumentedRequest(connection_pool_size=256, link=link))
        .get_updates_request(InstrumentedRequest(connection_pool_size=1, link=link))
        .concurrent_updates(PerPersonUpdateProcessor(config.telegram.concurrent_updates))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    application.bot_data["config"] = config
    application.bot_data[LINK_KEY] = link
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    staff_group = filters.Chat(config.telegram.moderation_chat_id) & filters.UpdateType.MESSAGE

    # Group -2 — gatekeeping: banned people and message floods stop here.
    application.add_handler(TypeHandler(Update, privacy.gatekeeper), group=-2)

    # Group -1 — replies that belong to a staff question, in either direction; they stop here.
    application.add_handler(MessageHandler(private & filters.REPLY, staff.reporter_reply), group=-1)
    application.add_handler(MessageHandler(staff_group & filters.REPLY & filters.TEXT, staff.staff_question),
                            group=-1)
    # An update taken before a crash, or a message sent again because its reply did not come:
    # the current question again, not a wrong answer (texts, taps, pins, photos, contacts, the
    # report's own inline buttons and the menu's report buttons).
    application.add_handler(MessageHandler(private & ~filters.COMMAND, resent_answer), group=-1)
    application.add_handler(
        CallbackQueryHandler(resent_answer, pattern=r"^(report:|[0-9a-f]{8}\|)"), group=-1
    )
    # /forgetme's buttons: before the report conversation, whose fallback takes any button press.
    forget = CallbackQueryHandler(privacy.forget_button, pattern=r"^privacy:forget:")
    application.add_handler(forget, group=-1)
    # "Which report is your answer about?" (a person with several open questions).
    application.add_handler(CallbackQueryHandler(staff.answer_button, pattern=r"^qa:\d+$"), group=-1)

    # Group 0 — conversations and commands. The report conversation goes first: during a draft
    # its fallbacks own /start and stray messages; outside a draft it lets them through.
    application.add_handler(build_conversation())
    application.add_handler(CommandHandler("start", menu.start, filters=private))
    application.add_handler(CommandHandler("help", menu.help_command, filters=private))
    application.add_handler(CommandHandler("myreports", menu.my_reports, filters=private))
    application.add_handler(CommandHandler("language", menu.language_command, filters=private))
    application.add_handler(CommandHandler("safety", menu.safety_command, filters=private))
    application.add_handler(CommandHandler("chatid", menu.chat_id_command))
    application.add_handler(CommandHandler("privacy", privacy.privacy_command, filters=private))
    application.add_handler(CommandHandler("forgetme", privacy.forget_command, filters=private))
    application.add_handler(CommandHandler("alerts", menu.alerts_command, filters=private))
    application.add_handler(CallbackQueryHandler(menu.language_button, pattern=r"^lang:"))
    application.add_handler(CallbackQueryHandler(menu.alerts_button, pattern=r"^alert:"))
    # The moderation group: card buttons and staff commands (each checks staff rights itself). They
    # do not block: their answers go to the group, whose flood limit (20 a minute) can hold a call
    # for seconds, and the residents' conversations must not wait behind that. (Otherwise one
    # person's updates are handled one at a time; the store serialises the staff's writes, first
    # press first.)
    application.add_handler(CallbackQueryHandler(staff.card_button, pattern=r"^m:", block=False))
    for command, callback in (
        ("pending", staff.pending_command),
        ("stats", staff.stats_command),
        ("find", staff.find_command),
        ("ban", privacy.ban_command),
        ("unban", privacy.unban_command),
        ("poster", staff.poster_command),
        ("export", export.export_command),
        ("place", places.place_command),
        ("places", places.places_command),
    ):
        application.add_handler(CommandHandler(command, callback, filters=staff_group, block=False))
    # Staff replies with a pin or coordinates to a "📍 Place it" prompt or to a named-place card (after
    # group -1, whose staff_question takes the replies to "Ask the reporter" prompts).
    point = filters.LOCATION | filters.VENUE | (filters.TEXT & ~filters.COMMAND)
    application.add_handler(
        MessageHandler(staff_group & filters.REPLY & point, places.place_reply, block=False), group=1
    )
    # The compensation chat: case buttons (group -1), /survey … /monthly, survey photos.
    compensation.register(application, config)
    application.add_handler(CallbackQueryHandler(menu.menu_button, pattern=r"^menu:(mine|help)$"))
    application.add_handler(CallbackQueryHandler(menu.stale_button))
    # Outside a report: an answer to a staff question if one is open, else a pointer to the menu.
    application.add_handler(MessageHandler(private & ~filters.COMMAND, staff.reporter_message))
    application.add_handler(MessageHandler(private & filters.COMMAND, menu.not_understood))

    # Last — side effects after an update is fully handled.
    application.add_handler(TypeHandler(Update, flush_persistence), group=FLUSH_GROUP)
    application.add_error_handler(error_handler)
    return application


async def until_reachable(
    stop: asyncio.Event, link: TelegramLink, attempt: Callable[[], Awaitable[Any]]
) -> bool:
    """Tries `attempt` (Bot API calls) until it works, waiting longer each time; False if `stop` came first.

    The transport tells `link` about each failure (one log line when Telegram becomes unreachable);
    other refusals are logged here once per kind, never as a traceback per try.
    """
    said: set[str] = set()
    for delay in retry_delays():
        trying = asyncio.ensure_future(attempt())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait((trying, stopping), return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not trying.done():
            trying.cancel()
            with contextlib.suppress(asyncio.CancelledError, TelegramError):
                await trying
            return False
        try:
            trying.result()
        except NetworkError as error:  # TimedOut too
            link.unreachable(str(error))  # already known to the link unless it came from elsewhere
        except InvalidToken as error:
            link.refused(str(error))  # already known to the link from the answer's status
        except TelegramError as error:
            # Telegram answered but refused (a bad webhook URL …): it will not fix itself, but
            # exiting would only make systemd restart us into the same refusal.
            kind = type(error).__name__
            if kind not in said:
                said.add(kind)
                reason = link.clean(str(error))
                log.error("Telegram refused to start the bot (%s: %s); retrying", kind, reason)
        else:
            link.reached()
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
            return False
    return False


def polling_error(link: TelegramLink) -> Callable[[TelegramError], None]:
    """PTB's polling error callback: a line when the state changes, instead of a traceback per try."""

    def callback(error: TelegramError) -> None:
        if isinstance(error, NetworkError):
            link.unreachable(str(error))
        else:
            log.warning("polling for updates failed: %s", link.clean(str(error)))

    return callback


async def run_application(
    application: AnyApplication,
    stop: asyncio.Event,
    connect: Callable[[], Awaitable[Any]],
    disconnect: Callable[[], Awaitable[Any]],
    *,
    start_first: bool,
) -> None:
    """Both modes' life cycle: the parts that need no Telegram first (database, web side), then
    Telegram, tried until it answers; then `connect` (polling or the webhook) until `stop`.

    `start_first`: start handling updates before `connect` (webhook) or after (polling).
    """
    link = (await open_services(application)).telegram
    try:
        for start_part in application.bot_data.get(OFFLINE_PARTS, ()):
            await start_part(application)
        if not await until_reachable(stop, link, application.bot.initialize):
            await application.bot.shutdown()  # its connections, opened for the tries
            return
        async with application:  # initialize (the bot is already) … shutdown
            if application.post_init:
                await application.post_init(application)
            try:
                if start_first:
                    await application.start()
                if await until_reachable(stop, link, connect):
                    if not start_first:
                        await application.start()
                    await stop.wait()
                    await disconnect()
                if application.running:
                    await application.stop()
            finally:
                # `async with` shuts down after this; post_shutdown must follow the final flush,
                # so run shutdown here first (it is idempotent).
                await application.shutdown()
    finally:
        # The web side and the database, also when Telegram was never reached.
        if application.post_shutdown:
            await application.post_shutdown(application)


async def run_bot(
    application: AnyApplication,
    stop: asyncio.Event,
    *,
    poll_interval: float = 0.0,
    poll_timeout: int = 10,
) -> None:
    """Runs `application` with long polling until `stop` is set, then shuts down cleanly.

    The polling is the durable inbox's (handlers/inbox.py), not PTB's Updater: an update is stored
    before Telegram is told it arrived (what an earlier run received and did not finish is queued
    first, in post_init)."""
    if not isinstance(application.persistence, SQLitePersistence):
        # Not this bot (the benchmarks' plain PTB echo): PTB's own life cycle and Updater.
        await run_polling(application, stop, poll_interval=poll_interval, poll_timeout=poll_timeout)
        return
    polling: list[asyncio.Task[None]] = []

    async def connect() -> None:
        inbox = inbox_of(application)  # attached with the services (before Telegram is reached)
        await application.bot.delete_webhook(drop_pending_updates=False)  # retried until reachable
        polling.append(
            asyncio.create_task(
                inbox.poll(
                    poll_timeout=poll_timeout,
                    interval=poll_interval,
                    allowed_updates=list(Update.ALL_TYPES),
                    on_error=polling_error(telegram_link(application)),
                ),
                name="inbox-polling",
            )
        )

    async def disconnect() -> None:
        for task in polling:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await inbox_of(application).confirm()

    await run_application(application, stop, connect, disconnect, start_first=False)


async def start_running(
    application: AnyApplication,
    run: Coroutine[Any, Any, None],
    *,
    name: str | None = None,
    timeout: float = 10.0,  # noqa: ASYNC109 - how long to wait for it, not a timeout of `run`
) -> asyncio.Task[None]:
    """Runs `run` (:func:`run_bot` or ``run_polling_with_web`` of `application`) in the background:
    returns its task once the application is running (post_init has built the services and the
    first getUpdates is out), or raises what ended it first. After `timeout` it returns anyway, and
    what the caller waits for next says what is missing. The sandbox and the tests start bots so."""
    task = asyncio.create_task(run, name=name)
    for _ in range(max(1, round(timeout / 0.02))):  # PTB has no "running" event to wait on
        if application.running or task.done():
            break
        await asyncio.sleep(0.02)
    if task.done():
        task.result()
    return task
