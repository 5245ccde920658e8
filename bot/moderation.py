"""Moderation: what staff can do to an incident, the card they see, and what reporters hear.

Plain Python: `handlers/staff.py` checks staff rights (`handlers/rights.py`) and turns button presses
into store calls (`Store.review_incident`, `merge_into`, `split_out`, `assign`, `undo_decision`, …);
this module decides what each state looks like. Everything that
goes to a public destination is built by :func:`public_post`, which only ever sees the
obscured grid cell — the precise point and the reporter never reach it.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum

from bot.cards import (
    KIND_ICONS,
    answer_lines,
    card_refresh,
    describe_place,
    format_coordinates,
    labelled,
    location_line,
    media_lines,
    named_place_text,
    place_label,
    user_text,
)
from bot.config import Config
from bot.gazetteer import Place
from bot.geo import haversine_m, obscure
from bot.i18n import N_, Translator, translator
from bot.locations import gazetteer, report_township
from bot.records import CardState, Outgoing, ReportRow, Review
from bot.report import KIND_LABELS, Kind


class Action(StrEnum):
    """A card button. The callback data is a token naming a row of `card_actions`, never this."""

    VERIFY = "verify"
    REJECT = "reject"  # opens the reasons
    REJECT_WITH = "reject_with"  # arg: reason
    MERGE = "merge"  # opens the candidates
    MERGE_INTO = "merge_into"  # arg: target incident id
    SPLIT = "split"  # opens the reports
    SPLIT_OUT = "split_out"  # arg: report id
    ASK = "ask"
    ASSIGN = "assign"
    EXACT = "exact"
    WARN = "warn"  # alert opted-in residents of the township; a person decides, never automatic
    ORIGINALS = "originals"
    BACK = "back"
    PLACE = "place"  # staff give the village a report named a point (a taught place)
    WARN_IN = "warn_in"  # arg: township id, chosen by staff when the township is unknown
    UNDO = "undo"  # a decision inside its undo window
    ASK_REPORT = "ask_report"  # arg: report id (one reporter, never all of them)
    ACCEPT = "accept"  # arg: report id of a report that joined after the decision
    REJECT_REPORT = "reject_report"  # arg: report id; opens the reasons
    REJECT_REPORT_WITH = "reject_report_with"  # arg: "report_id:reason"
    WARN_SEND = "warn_send"  # the warning's preview was shown; this sends it


CARD_ANSWER_LIMIT = 500
LATER_SHOWN = 3  # reports that joined after a decision, each with its own buttons
LATER_ANSWER_LIMIT = 200

REJECT_REASONS = {
    "not_leopard": N_("Not a leopard"),
    "no_evidence": N_("Not enough evidence"),
    "duplicate": N_("Duplicate"),
    "outside": N_("Outside the area"),
    "spam": N_("Spam"),
}

# Kind reasons for the reporter: the staff reason names are too blunt to send as they are.
REPORTER_REASONS = {
    "not_leopard": N_("From the photos and details it was probably another animal."),
    "no_evidence": N_("There was not enough to be sure this time."),
    "duplicate": N_("Someone had already reported the same thing."),
    "outside": N_("It happened outside the area we look after."),
    "spam": N_("It could not be used."),
}

BUTTON_LABELS = {
    Action.VERIFY: N_("✅ Verify"),
    Action.REJECT: N_("❌ Reject"),
    Action.MERGE: N_("🔀 Merge into…"),
    Action.SPLIT: N_("✂️ Split a report out"),
    Action.ASK: N_("❓ Ask the reporter"),
    Action.ASSIGN: N_("🧭 Assign to me"),
    Action.EXACT: N_("📍 Exact location"),
    Action.WARN: N_("📢 Warn residents"),
    Action.ORIGINALS: N_("🖼 Original photos"),
    Action.BACK: N_("« Back"),
    Action.PLACE: N_("📍 Place it"),
    Action.UNDO: N_("↩️ Undo"),
}


def main_buttons(state: CardState) -> list[list[tuple[Action, str]]]:
    """Rows of (action, arg) for the card in this state."""
    info = [(Action.EXACT, ""), (Action.ORIGINALS, "")]
    if state.status == "merged":
        return []
    if any(r.place_id and r.latitude is None for r in state.reports):
        info = [(Action.PLACE, ""), *info]  # a village named without a point: staff can place it
    if state.effects_due is not None:
        return [[(Action.UNDO, "")], info]
    if state.review is not Review.PENDING:
        rows = [
            [(Action.ACCEPT, str(r.id))]
            + ([(Action.REJECT_REPORT, str(r.id))] if state.review is Review.VERIFIED else [])
            + [(Action.SPLIT_OUT, str(r.id))]
            for r in state.later_reports[:LATER_SHOWN]
        ]
        if state.review is Review.VERIFIED and state.kind in (Kind.SIGHTING.value, Kind.LIVESTOCK.value):
            rows.append([(Action.WARN, "")])
        return [*rows, info]
    rows = [[(Action.VERIFY, ""), (Action.REJECT, "")], [(Action.MERGE, ""), (Action.ASK, "")]]
    if len(state.reports) > 1:
        rows[1].insert(1, (Action.SPLIT, ""))
    rows.append([(Action.ASSIGN, "")])
    rows.append(info)
    return rows


def askable(state: CardState) -> list[ReportRow]:
    """The reports whose reporter can be asked a question (anonymous tipsters cannot)."""
    return [r for r in state.reports if r.reporter_id is not None and r.notify_reporter]


def spread_m(reports: tuple[ReportRow, ...]) -> float:
    """How far the incident's reports with a point lie from the first of them (named places: none)."""
    points = [r.point for r in reports if r.point is not None]
    return max((haversine_m(points[0], p) for p in points), default=0.0)


def card_text(state: CardState, t: Translator) -> str:
    """The incident card for the moderation group, in the staff language. Reports that joined
    after the decision are shown apart, as new work, never under the decision."""
    later = state.later_reports
    state = replace(state, reports=state.decided_reports)
    kind = Kind(state.kind)
    anchor = state.reports[0]
    people = len({r.reporter_id if r.reporter_id is not None else f"anon{r.id}" for r in state.reports})
    codes = ", ".join(r.ref_code for r in state.reports[:5]) + (" …" if len(state.reports) > 5 else "")
    lines = [
        f"{KIND_ICONS[kind]} <b>{html.escape(t.gettext(KIND_LABELS[kind]))}</b> · "
        + html.escape(t.gettext("Incident #{number}", number=state.incident_id)),
        f"<code>{codes}</code>",
        review_line(state, t),
    ]
    first = min(r.observed_at for r in state.reports)
    last = max(r.observed_at for r in state.reports)
    when = t.datetime(first) if first == last else f"{t.datetime(first)} – {t.datetime(last)}"
    lines.append("🕒 " + html.escape(when))
    lines.append(location_line(anchor, t))
    if len(state.reports) > 1:
        lines.append(
            "👥 "
            + html.escape(
                t.ngettext("{n} report", "{n} reports", len(state.reports))
                + " · "
                + t.ngettext("{n} person", "{n} people", people)
                + " · "
                + t.gettext("within {distance}", distance=t.distance(spread_m(state.reports)))
            )
        )
    # A card is one message with buttons: each typed answer is cut so the whole card stays under 4096.
    lines += answer_lines(anchor, t, limit=CARD_ANSWER_LIMIT)
    lines += media_lines(state.reports, t)
    lines += photo_fact_lines(anchor, t)
    lines.append("👤 " + reporter_html(anchor, t))
    if anchor.details.get("channel") == "web":
        lines.append("🌐 " + html.escape(t.gettext("Sent through the web tip line")))
    if anchor.details.get("contact"):
        lines.append(
            "📞 " + labelled(t, t.gettext("Contact"), user_text(str(anchor.details["contact"]), 200))
        )
    if state.assignee:
        lines.append("🧭 " + html.escape(t.gettext("Field visit: {name}", name=state.assignee)))
    if state.merge_suggestions:
        others = ", ".join(f"#{n}" for n in state.merge_suggestions)
        lines.append("🔀 " + html.escape(t.gettext("Possibly the same as {incidents}", incidents=others)))
    if later:
        lines += later_lines(state, later, t)
    return "\n".join(lines)


def later_lines(state: CardState, later: tuple[ReportRow, ...], t: Translator) -> list[str]:
    """The reports that joined after the decision: each with its own facts, apart from the decided ones."""
    title = (
        t.ngettext("{n} new report since verification", "{n} new reports since verification", len(later))
        if state.review is Review.VERIFIED
        else t.ngettext("{n} new report since the decision", "{n} new reports since the decision", len(later))
    )
    lines = ["", "🆕 <b>" + html.escape(title) + "</b>"]
    for report in later[:LATER_SHOWN]:
        lines.append(
            f"<code>{report.ref_code}</code> · 🕒 {html.escape(t.datetime(report.observed_at))} · "
            + reporter_html(report, t)
        )
        lines.append(location_line(report, t))
        lines += answer_lines(report, t, limit=LATER_ANSWER_LIMIT)
        if report.photos:
            lines.append("📷 " + html.escape(t.ngettext("{n} photo", "{n} photos", len(report.photos))))
    if len(later) > LATER_SHOWN:
        lines.append("… " + html.escape(t.gettext("and {n} more: see /pending", n=len(later) - LATER_SHOWN)))
    return lines


def photo_fact_lines(report: ReportRow, t: Translator) -> list[str]:
    """What a tip's photos said about themselves (kept as text: only stripped copies are kept)."""
    lines = []
    for fact in report.details.get("photo_facts") or []:
        parts = []
        if fact.get("taken_at"):
            parts.append(t.gettext("taken {time}", time=t.datetime(datetime.fromisoformat(fact["taken_at"]))))
        if fact.get("latitude") is not None and fact.get("longitude") is not None:
            position = format_coordinates(float(fact["latitude"]), float(fact["longitude"]))
            parts.append(t.gettext("camera position {position}", position=position))
        if parts:
            label = t.gettext("Photo {number}", number=int(fact.get("photo") or 0))
            lines.append("📷 " + html.escape(f"{label}: " + ", ".join(parts)))
    return lines


def review_line(state: CardState, t: Translator) -> str:
    if state.status == "merged":
        return "🔀 " + html.escape(t.gettext("Merged into incident #{number}", number=state.merged_into))
    if state.review is Review.PENDING:
        return "⏳ " + html.escape(t.gettext("Waiting for staff"))
    who = user_text(state.reviewer or "?", 100)
    at = html.escape(t.datetime(state.reviewed_at)) if state.reviewed_at else ""
    if state.effects_due is not None and state.reviewed_at is not None:
        # The decision's messages wait: say so, and how long Undo stays.
        seconds = max(1, round((state.effects_due - state.reviewed_at).total_seconds()))
        if state.review is Review.VERIFIED:
            return "✅ " + t.gettext(
                "Verified — posting in {seconds} s · Undo below ({name})", name=who, seconds=seconds
            )
        return "❌ " + t.gettext(
            "Not confirmed — the reporters are told in {seconds} s · Undo below ({name})",
            name=who,
            seconds=seconds,
        )
    if state.review is Review.VERIFIED:
        return "✅ " + t.gettext("Verified by {name}, {time}", name=who, time=at)
    reason = html.escape(t.gettext(REJECT_REASONS.get(state.reject_reason or "", N_("Not confirmed"))))
    return "❌ " + t.gettext("Not confirmed ({reason}) by {name}, {time}", reason=reason, name=who, time=at)


def reporter_html(report: ReportRow, t: Translator) -> str:
    """Who reported, as a link staff can tap; anonymous tipsters stay anonymous."""
    if report.reporter_id is None:
        return html.escape(t.gettext("Anonymous"))
    who = user_text(report.reporter_name or str(report.reporter_id), 100)
    link = f'<a href="tg://user?id={report.reporter_id}">{who}</a>'
    if report.reporter_username:
        link += " @" + user_text(report.reporter_username, 64)
    return link


def trusted_post(state: CardState, t: Translator) -> str:
    """A verified incident for a trusted destination: exact place and reporter contact."""
    urgent = Kind(state.kind) is Kind.TIP
    head = "🚨 <b>" + html.escape(t.gettext("URGENT")) + "</b>\n" if urgent else ""
    body = card_text(state, t).split("\n")
    body[2] = "✅ " + html.escape(t.gettext("Verified by the forestry bureau"))
    return head + "\n".join(body)


def public_post(state: CardState, t: Translator, cell_deg: float) -> str:
    """A verified incident for a public destination: grid cell only, no names, no people."""
    kind = Kind(state.kind)
    anchor = state.reports[0]
    if anchor.latitude is None or anchor.longitude is None:
        # A named place: a village is finer than the grid, so the public sees its township at most.
        town = incident_township(state)
        area = place_label(town, t) if town else t.gettext("Heshun county")
    else:
        area = obscure(anchor.latitude, anchor.longitude, cell_deg).label
    first = min(r.observed_at for r in state.reports)
    lines = []
    if kind is Kind.TIP:
        lines.append("🚨 <b>" + html.escape(t.gettext("URGENT")) + "</b>")
    lines += [
        f"{KIND_ICONS[kind]} <b>{html.escape(t.gettext(KIND_LABELS[kind]))}</b> · "
        + html.escape(t.gettext("verified")),
        "🕒 " + html.escape(t.datetime(first.replace(minute=0, second=0, microsecond=0))),
        "🗺 " + html.escape(t.gettext("Area: {cell}", cell=area)),
    ]
    if len(state.reports) > 1:
        lines.append("👥 " + html.escape(t.ngettext("{n} report", "{n} reports", len(state.reports))))
    return "\n".join(lines)


def exact_locations_text(state: CardState, t: Translator) -> str:
    """Every report's precise point, for staff who pressed "Exact location"."""
    lines = ["📍 <b>" + html.escape(t.gettext("Exact locations")) + "</b>"]
    for r in state.reports:
        if r.latitude is None or r.longitude is None:
            named = named_place_text(r.place_id, r.place_name, t)
            lines.append(f"<code>{r.ref_code}</code> {html.escape(named)}")
            continue
        where = format_coordinates(r.latitude, r.longitude)
        if r.accuracy_m:
            where += " " + t.gettext("±{distance}", distance=t.distance(r.accuracy_m))
        nearby = describe_place(r.latitude, r.longitude, t)
        lines.append(f"<code>{r.ref_code}</code> {where}" + (f" · {html.escape(nearby)}" if nearby else ""))
    return "\n".join(lines)


def reporter_notice(review: Review, reason: str | None, ref_code: str, t: Translator) -> str:
    """What a reporter hears when staff decide, in the reporter's language."""
    if review is Review.VERIFIED:
        return "✅ " + html.escape(
            t.gettext(
                "Your report {code} was confirmed by the forestry bureau. Thank you for helping the "
                "leopards!",
                code=ref_code,
            )
        )
    kind_reason = t.gettext(REPORTER_REASONS.get(reason or "", REPORTER_REASONS["no_evidence"]))
    return html.escape(
        t.gettext(
            "Thank you for report {code}. The forestry bureau could not confirm it: {reason} "
            "Please keep telling us what you see.",
            code=ref_code,
            reason=kind_reason,
        )
    )


def decision_messages(state: CardState, config: Config) -> list[Outgoing]:
    """What a verify or reject causes: the card refreshed, reporters told, destinations posted to."""
    messages = card_refresh(state.incident_id, config.telegram.moderation_chat_id)
    # Only the reports staff decided on: each reporter hears about their own report, never about a
    # report that joined later (that one is reviewed on its own).
    state = replace(state, reports=state.decided_reports)
    for report in state.reports:
        messages += report_notice(state.review, state.reject_reason, report, config)
    if state.review is not Review.VERIFIED:
        return messages
    for destination in config.destinations_for(state.kind):
        t = translator(config.languages.staff, config.region.timezone.key)
        purpose = f"route:{state.incident_id}:{destination.name}"
        if destination.trusted:
            messages.append(
                Outgoing(destination.chat_id, "send_message", {"text": trusted_post(state, t)}, purpose)
            )
            originals = [p.original_path for r in state.reports for p in r.pictures][:10]
            if originals:
                messages.append(
                    Outgoing(destination.chat_id, "send_documents", {"paths": originals}, purpose)
                )
        else:
            text = public_post(state, t, config.moderation.public_cell_degrees)
            messages.append(Outgoing(destination.chat_id, "send_message", {"text": text}, purpose))
            derived = [p.derived_path for r in state.reports for p in r.pictures][:10]
            if derived:
                messages.append(
                    Outgoing(destination.chat_id, "send_photos", {"paths": derived, "caption": ""}, purpose)
                )
    return messages


def report_notice(review: Review, reason: str | None, report: ReportRow, config: Config) -> list[Outgoing]:
    """The decision on one report, to its own reporter (anonymous tipsters hear nothing unless they
    chose to)."""
    if report.reporter_id is None or not report.notify_reporter:
        return []
    t = translator(report.language, config.region.timezone.key)
    text = reporter_notice(review, reason, report.ref_code, t)
    return [Outgoing(report.reporter_id, "send_message", {"text": text}, f"notice:{report.id}")]


def evidence_messages(
    state: CardState, what: str, chat_id: int, card_message_id: int, t: Translator
) -> list[Outgoing]:
    """Exact locations or original photos, sent as replies under the card for staff only."""
    purpose = f"evidence:{state.incident_id}"
    if what == Action.EXACT.value:
        return [
            Outgoing(
                chat_id,
                "send_message",
                {"text": exact_locations_text(state, t), "reply_to": card_message_id},
                purpose,
            )
        ]
    originals = [p.original_path for r in state.reports for p in r.pictures][:10]
    if not originals:
        return [
            Outgoing(
                chat_id,
                "send_message",
                {"text": html.escape(t.gettext("This incident has no photos.")), "reply_to": card_message_id},
                purpose,
            )
        ]
    return [Outgoing(chat_id, "send_documents", {"paths": originals, "reply_to": card_message_id}, purpose)]


def question_message(report: ReportRow, question: str, purpose: str, config: Config) -> Outgoing:
    """A staff question relayed to one reporter, in their language: they answer by simply writing."""
    assert report.reporter_id is not None
    t = translator(report.language, config.region.timezone.key)
    text = "\n".join(
        [
            "❓ "
            + html.escape(
                t.gettext(
                    "A question from the forestry bureau about your report {code}:", code=report.ref_code
                )
            ),
            user_text(question, 1000),
            html.escape(
                t.gettext("Write your answer here as a message; a photo or a location is fine too.")
            ),
        ]
    )
    return Outgoing(report.reporter_id, "send_message", {"text": text, "force_reply": True}, purpose)


def answer_messages(
    incident_id: int,
    ref_code: str,
    card: tuple[int, int] | None,
    config: Config,
    *,
    text: str = "",
    point: tuple[float, float] | None = None,
    copy_of: tuple[int, int] | None = None,
) -> list[Outgoing]:
    """A reporter's answer (a text, a location, or a photo or file copied as it is), threaded under the
    incident's card in the staff language."""
    t = translator(config.languages.staff, config.region.timezone.key)
    head = "💬 " + html.escape(t.gettext("Answer from the reporter of {code}:", code=ref_code))
    chat = card[0] if card else config.telegram.moderation_chat_id
    payload: dict[str, object] = {"reply_to": card[1]} if card is not None else {}
    purpose = f"answer:{incident_id}"
    if copy_of is not None:
        caption = head + ("\n" + user_text(text, 800) if text else "")
        payload |= {"from_chat_id": copy_of[0], "message_id": copy_of[1], "caption": caption}
        return [Outgoing(chat, "copy_message", payload, purpose)]
    body = "📍 " + format_coordinates(*point) if point is not None else user_text(text or "—", 3000)
    return [Outgoing(chat, "send_message", payload | {"text": head + "\n" + body}, purpose)]


def pending_text(states: list[CardState], t: Translator) -> str:
    """/pending: open incidents waiting for a decision, oldest first."""
    lines = ["⏳ <b>" + html.escape(t.gettext("Waiting for staff")) + "</b>"]
    for state in states:
        kind = Kind(state.kind)
        first = state.reports[0]
        later = state.later_reports
        if later:  # a decided incident with new work: the reports that wait, not the decided ones
            first = later[0]
            count = t.ngettext(
                "{n} new report since the decision", "{n} new reports since the decision", len(later)
            )
        else:
            count = t.ngettext("{n} report", "{n} reports", len(state.reports))
        lines.append(
            f"{KIND_ICONS[kind]} #{state.incident_id} · <code>{first.ref_code}</code> · "
            + html.escape(t.datetime(first.submitted_at))
            + " · "
            + html.escape(count)
        )
    return "\n".join(lines)


def stats_text(reports: list[ReportRow], now: datetime, t: Translator) -> str:
    """/stats: reports of the last 7 and 30 days, by kind and by nearest place (township when known)."""
    lines = ["📊 <b>" + html.escape(t.gettext("Reports")) + "</b>"]
    for days in (7, 30):
        recent = [r for r in reports if r.submitted_at >= now - timedelta(days=days)]
        lines.append(
            "<b>"
            + html.escape(t.ngettext("Last {n} day", "Last {n} days", days))
            + "</b>: "
            + t.number(len(recent))
        )
        by_kind = Counter(r.kind for r in recent)
        for kind in Kind:
            if by_kind[kind.value]:
                lines.append(
                    f"  {KIND_ICONS[kind]} "
                    + labelled(t, t.gettext(KIND_LABELS[kind]), t.number(by_kind[kind.value]))
                )
        by_place = Counter(area_name(r, t) for r in recent)
        for place, count in sorted(by_place.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append("  🗺 " + labelled(t, place, t.number(count)))
        # Which QR posters bring reports in (the spot the person opened the bot from).
        by_spot = Counter(r.details["spot"] for r in recent if r.details.get("spot"))
        for spot, count in sorted(by_spot.items(), key=lambda kv: (-kv[1], kv[0])):
            poster_place = gazetteer().get(spot)
            name = place_label(poster_place, t) if poster_place else spot
            lines.append("  📮 " + labelled(t, t.gettext("Poster at {place}", place=name), t.number(count)))
    return "\n".join(lines)


def area_name(report: ReportRow, t: Translator) -> str:
    """The township a report falls in, for statistics (bot.locations.report_township)."""
    town = report_township(report.latitude, report.longitude, report.place_id)
    return place_label(town, t) if town else t.gettext("township unknown")


def incident_township(state: CardState) -> Place | None:
    """The township an incident is in (None: unknown, staff choose): the finest a warning may name.
    The first report that names one decides (the anchor first)."""
    for report in state.reports:
        town = report_township(report.latitude, report.longitude, report.place_id)
        if town is not None:
            return town
    return None


def warning_messages(
    state: CardState, township: Place, subscribers: list[tuple[int, str]], config: Config
) -> list[Outgoing]:
    """A short warning to opted-in residents: township only, never the precise place or the reporter."""
    messages = []
    for user_id, language in subscribers:
        t = translator(language if language in ("zh_Hans", "en") else "zh_Hans", config.region.timezone.key)
        text = "⚠️ " + html.escape(
            t.gettext(
                "Forestry staff confirmed a leopard near {place}. Keep children close, pen livestock "
                "at night, "
                "and do not go near it.",
                place=place_label(township, t),
            )
        )
        messages.append(Outgoing(user_id, "send_message", {"text": text}, f"warn:{state.incident_id}"))
    return messages
