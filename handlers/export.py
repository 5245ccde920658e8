"""/export in the moderation group: verified occurrences as a file (see bot/export.py).

    /export [public|trusted] [csv|geojson|dwca] [since]     e.g. /export public dwca 2026-01-01

Arguments in any order; the defaults are ``public`` and ``csv``. Staff only. A trusted export
(exact places and times) is only ever sent into the moderation group itself. The caption counts
the rows. Texts reuse existing catalog messages, so the command needs no new translations.
"""

from __future__ import annotations

import html
import logging

from telegram import Update
from telegram.ext import ContextTypes

from bot.export import Format, Level, build_export, parse_since
from handlers.common import reply, services
from handlers.rights import refuse, staff_only

log = logging.getLogger(__name__)

USAGE = "/export [public|trusted] [csv|geojson|dwca] [YYYY-MM-DD]"
FORMAT_NAMES = {Format.CSV: "CSV", Format.GEOJSON: "GeoJSON", Format.DWCA: "Darwin Core Archive"}


async def export_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Builds the export and sends it as a document into the chat it was asked in."""
    if not await staff_only(update, context):
        return
    svc = services(context)
    chat = update.effective_chat
    assert chat is not None
    level, fmt, since = Level.PUBLIC, Format.CSV, None
    for arg in (a.strip().lower() for a in context.args or []):
        try:
            if arg in {m.value for m in Level}:
                level = Level(arg)
            elif arg in {m.value for m in Format}:
                fmt = Format(arg)
            else:
                since = parse_since(arg, svc.config.region.timezone)
        except ValueError:
            await reply(update, f"<code>{html.escape(USAGE)}</code>")
            return
    if level is Level.TRUSTED and chat.id != svc.config.telegram.moderation_chat_id:
        await refuse(update, context, "export trusted outside the moderation group")
        return
    reports = await svc.store.verified_reports(since)
    export = build_export(reports, level, fmt, svc.config.moderation.public_cell_degrees,
                          tz=svc.config.region.timezone, today=svc.now().date())
    t = svc.staff_translator()
    caption = "📦 " + html.escape(
        t.ngettext("{n} report", "{n} reports", export.rows) + f" · {level.value} · {FORMAT_NAMES[fmt]}"
    )
    user = update.effective_user
    log.info("export %s %s (%d rows) for %s", level.value, fmt.value, export.rows, user.id if user else None)
    await svc.store.record(None, user.id if user else None, user.full_name if user else "?", "export",
                           f"{level.value} {fmt.value} {export.rows}", svc.now())
    await context.bot.send_document(
        chat.id, export.data, filename=export.filename, caption=caption, parse_mode="HTML",
        disable_content_type_detection=True,
    )
