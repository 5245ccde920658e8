"""The tip line's HTML: a base template (string.Template) and small builders for the rest.

Every value that is not our own markup goes through :func:`h` (``html.escape`` with quotes), and
every sentence through the page's :class:`~bot.i18n.Translator`; the catalogs are the bot's.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from string import Template
from urllib.parse import quote

from bot import locations
from bot.cards import (
    KIND_ICONS,
    STATUS_LABELS,
    named_place_text,
    place_choice_label,
    place_label,
    point_outside_text,
)
from bot.compensation import (
    OWNER_DENY_REASONS,
    OWNER_NEEDS,
    STATE_LABELS,
    CasePlan,
    active_deadlines,
    day_text,
    default_plan,
    money,
)
from bot.gazetteer import Place
from bot.i18n import N_, Translator, translator
from bot.records import Case, CaseState, ReportRow
from bot.report import KIND_LABELS, QUESTIONS, AnswerType, Kind, Question
from bot.safety import safety_text
from bot.web import county_map, form
from bot.web.form import Problem

TEMPLATES = Path(__file__).resolve().parent / "templates"
LANGUAGE_NAMES = {"zh_Hans": "中文", "en": "English"}
HTML_LANG = {"zh_Hans": "zh-Hans", "en": "en"}

TITLE = N_("Heshun Leopard Watch")
INTRO = N_(
    "Tell the Heshun county forestry bureau about a North China leopard, an attack on livestock, "
    "leopard signs or poaching. You do not need Telegram."
)
CHOOSE_KIND = N_("What do you want to report?")
SAFETY = N_("Stay safe: never go near a leopard, a trap or a poacher to take a photo.")
PHOTOS_HINT = N_("You can choose several photos. Photos help the staff a lot.")
PHOTOS_KEPT = N_("Photos already received: {n}. You can add more.")
USE_MY_LOCATION = N_("📍 Use my location")
LOCATING = N_("Finding your location…")
NO_GEOLOCATION = N_("Your location could not be found. Please type coordinates or a place name.")
LOCATION_HINT = N_("Coordinates like 37.33, 113.57, a map link, or the name of a village.")
WHEN_PROMPT = N_("When did you see it?")
TYPE_ANSWER = N_("Or type your answer")
TYPE_NUMBER = N_("Or type a number")
SKIP = N_("Skip")
CONTACT_SUMMARY = N_("Contact (optional)")
CONTACT_HINT = N_(
    "Only if you want the forestry bureau to contact you: a name and a phone number. "
    "Leave it empty to stay anonymous."
)
SEND = N_("✅ Send report")
CHECK_ANSWERS = N_("Please check the marked answers.")
SAVED = N_("Thank you! Your report is saved.")
REFERENCE = N_("Reference code:")
KEEP_LINK = N_(
    "Keep this private link to see what happens to your report. Anyone who has the link can see its status:"
)
STATUS_TITLE = N_("Report {code}")
SEEN = N_("Seen on")
STATUS = N_("Status")
KIND = N_("Kind")
BACK = N_("« Back")
NOT_FOUND = N_("This page does not exist. Please check the link.")
EXPIRED = N_("This form has expired. Please go back, reload the page and send it again.")
TOO_MANY = N_(
    "Too many reports have come from your connection. Please try again in an hour, "
    "or call your local forestry station."
)
# Said by tipline.js (read from data- attributes: the page has no inline script).
PREPARING = N_("Preparing photo {i} of {n}…")
SENDING_PHOTOS = N_("Sending {i} of {n} photos, {percent} %")
SENDING_FORM = N_("Sending your report, {percent} %")
SENDING_BUTTON = N_("Sending…")
SAVED_OFFLINE = N_("Saved. It will be sent automatically when there is signal.")
KEEP_OPEN = N_(
    "You can leave this page open. If you close it, open the tip line again when you have signal "
    "and it will be sent then."
)
SENT_LATER = N_("Your saved report has been sent. Reference code:")
SEND_FAILED = N_("Sending did not work. Your answers are kept; please tap Send again.")
PHOTO_PLACE = N_("📷 Use the place in the photo ({place})")
PHOTO_TIME = N_("📷 Use the time of the photo ({time})")
SCRIPT_TEXTS = {
    "preparing": PREPARING,
    "sending-photos": SENDING_PHOTOS,
    "sending-form": SENDING_FORM,
    "sending-button": SENDING_BUTTON,
    "saved-offline": SAVED_OFFLINE,
    "keep-open": KEEP_OPEN,
    "send-failed": SEND_FAILED,
    "photo-place": PHOTO_PLACE,
    "photo-time": PHOTO_TIME,
}
COMPENSATION = N_("Compensation")
APPLY_BRING = N_("To apply, bring these to the Heshun county forestry bureau by {date}:")
CASE_LATER = N_(
    "The forestry bureau opens a compensation case when staff have checked your report. "
    "Its progress is shown here."
)
CASE_STATE = N_("Case {case}:")
BY_DATE = N_("by {date}")
FREE_RANGING = N_("Note: animals that were free-ranging inside a nature reserve are not compensated.")
STAY_SAFE = N_("How to stay safe")
PHONE_OPTIONAL = N_("Phone number (optional): the forestry bureau calls you about compensation.")
# On the web the bot's phone question is optional and asked in its own words (no button to tap).
WEB_PROMPTS = {"phone": PHONE_OPTIONAL}
PICK_VILLAGE = N_("🏘 Choose your village from the list")
VILLAGE_FILTER = N_("Type the village name or its pinyin")
NO_VILLAGE = N_("— choose a township or village —")
TAP_MAP = N_("🗺 Tap the place on the county map")
MAP_ALT = N_("Map of Heshun county: tap where it was")
MAP_HINT = N_("Tap where it was. A tap on this small map is good to about {km} km.")
MAP_CHOSEN = N_("Chosen on the map: {place} (± {km} km).")
WELCOME = N_("Welcome to {place}!")
AT_POSTER = N_("Are you at the place on the poster?")
I_AM_AT = N_("📍 I am at {place}")
ELSEWHERE = N_("Somewhere else (say where above)")
TOO_LARGE = N_("That is too much to send at once (at most {limit} MB). Please send fewer or smaller photos.")


def h(value: object) -> str:
    """Escapes text for HTML content and attribute values."""
    return html.escape(str(value), quote=True)


@functools.cache
def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


def url(path: str, language: str, **params: str) -> str:
    """A link that keeps the page's language."""
    query = "&".join(f"{k}={quote(v)}" for k, v in {**params, "lang": language}.items())
    return f"{path}?{query}"


def page(
    t: Translator, title: str, body: str, path: str = "/", params: Mapping[str, str] | None = None
) -> str:
    """A whole page: `title` is plain text, `body` is our markup; `params` stay in the language links."""
    languages = " ".join(
        f'<a href="{h(url(path, code, **(params or {})))}" hreflang="{HTML_LANG[code]}"'
        + (' aria-current="true"' if code == t.language else "")
        + f">{h(name)}</a>"
        for code, name in LANGUAGE_NAMES.items()
    )
    return _template("base.html").substitute(
        sent_later=h(t.gettext(SENT_LATER)),
        html_lang=HTML_LANG[t.language],
        lang=h(t.language),
        title=h(title),
        brand=h(t.gettext(TITLE)),
        languages=languages,
        body=body,
        footer=h(t.gettext(SAFETY)),
    )


def message_page(t: Translator, message: str, **params: object) -> str:
    """A page that only says one thing (an error), with a way back."""
    body = f'<p class="notice" role="alert">{h(t.gettext(message, **params))}</p>'
    body += f'<p><a class="button secondary" href="{h(url("/", t.language))}">{h(t.gettext(BACK))}</a></p>'
    return page(t, t.gettext(TITLE), body)


def kind_title(t: Translator, kind: Kind) -> str:
    return f"{KIND_ICONS[kind]} {t.gettext(KIND_LABELS[kind])}"


#: The poaching tip's form has a neutral address and title: a shared phone's history (or a tab
#: left open) must not say "poaching tip" to whoever picks the phone up next.
NEUTRAL_TITLE = N_("Report")
TIP_PATH = "/report"


def form_path(kind: Kind) -> str:
    """Where the form of `kind` lives (the tip's address names no kind)."""
    return TIP_PATH if kind is Kind.TIP else f"/report/{kind.value}"


def form_title(t: Translator, kind: Kind) -> str:
    """The browser title of a form (what the history keeps)."""
    return t.gettext(NEUTRAL_TITLE) if kind is Kind.TIP else kind_title(t, kind)


def index_page(t: Translator, spot: Place | None = None) -> str:
    """The kinds to choose from; from a poster's QR code, a welcome to its place (kept in the links)."""
    extra = {form.SPOT: spot.id} if spot else {}
    links = "".join(
        f'<li><a class="button kind" href="{h(url(form_path(kind), t.language, **extra))}">'
        f"{h(kind_title(t, kind))}</a></li>"
        for kind in Kind
    )
    welcome = (
        f'<p class="notice ok">📍 {h(t.gettext(WELCOME, place=place_label(spot, t)))}</p>' if spot else ""
    )
    body = (
        f"<h1>{h(t.gettext(TITLE))}</h1>{welcome}<p>{h(t.gettext(INTRO))}</p>"
        f'<h2>{h(t.gettext(CHOOSE_KIND))}</h2><ul class="kinds">{links}</ul>'
    )
    return page(t, t.gettext(TITLE), body, "/", extra)


def _error(t: Translator, problems: Mapping[str, Problem], name: str) -> str:
    problem = problems.get(name)
    return f'<p class="error" role="alert">{h(problem.text(t))}</p>' if problem else ""


def _fieldset(name: str, legend: str, inner: str, problems: Mapping[str, Problem]) -> str:
    invalid = ' class="invalid"' if name in problems else ""
    return f'<fieldset id="f-{h(name)}"{invalid}><legend>{h(legend)}</legend>{inner}</fieldset>'


def _radio(name: str, value: str, label: str, checked: bool) -> str:
    mark = " checked" if checked else ""
    return (
        f'<label class="choice"><input type="radio" name="{h(name)}" value="{h(value)}"{mark}>'
        f" <span>{h(label)}</span></label>"
    )


def _question(t: Translator, q: Question, fields: Mapping[str, str], problems: Mapping[str, Problem]) -> str:
    choice_name, text_name = form.answer_field(q), form.text_field(q)
    chosen = fields.get(choice_name, "skip" if q.optional else ("anonymous" if q.key == "follow_up" else ""))
    inner = "".join(_radio(choice_name, c.value, t.gettext(c.label), chosen == c.value) for c in q.choices)
    if q.optional:
        inner += _radio(choice_name, "skip", t.gettext(SKIP), chosen == "skip")
    if form.accepts_text(q):
        value = h(fields.get(text_name, ""))
        if q.answer is AnswerType.COUNT:
            placeholder = h(t.gettext(TYPE_NUMBER))
            attrs = f'type="text" inputmode="numeric" pattern="[0-9０-９]*" placeholder="{placeholder}"'
        elif q.answer is AnswerType.PHONE:
            attrs = 'type="tel" autocomplete="tel"'
        else:
            limit = q.max_length or 1000
            placeholder = f' placeholder="{h(t.gettext(TYPE_ANSWER))}"' if q.choices else ""
            attrs = f'type="text" maxlength="{limit}"{placeholder}'
        if q.answer is AnswerType.TEXT and (q.max_length or 1000) > 200:
            inner += f'<textarea name="{h(text_name)}" rows="4" maxlength="{q.max_length}">{value}</textarea>'
        else:
            inner += f'<input name="{h(text_name)}" {attrs} value="{value}">'
    prompt = WEB_PROMPTS.get(q.key, q.prompt)
    return _fieldset(q.key, t.gettext(prompt), inner + _error(t, problems, q.key), problems)


def _places(t: Translator, places: Iterable[Place], chosen: str) -> str:
    return "".join(_radio(form.PLACE, p.id, place_choice_label(p, t), chosen == p.id) for p in places)


def _km(metres: float) -> str:
    return f"{metres / 1000:.1f}".rstrip("0").rstrip(".")


@functools.cache
def _village_options(language: str) -> str:
    """The townships and their villages as <optgroup>s, each option with its search keys (names and
    pinyin, normalised) for the picker's filter. Built once per language: 191 places."""
    t = translator(language)
    gaz = locations.gazetteer()
    groups = []
    for town in gaz.townships():
        villages = sorted(
            (p for p in gaz if p.kind == "village" and gaz.township_of_place(p) == town),
            key=lambda p: (p.pinyin, p.name_zh),
        )
        options = "".join(
            f'<option value="{h(p.id)}" data-keys="{h(" ".join(sorted(p.keys)))}">'
            f"{h(place_label(p, t))}</option>"
            for p in (town, *villages)
        )
        groups.append(f'<optgroup label="{h(place_label(town, t))}">{options}</optgroup>')
    return "".join(groups)


def _village_picker(t: Translator, chosen: str) -> str:
    """A list of the county's townships and villages: a named place, for people without GPS."""
    options = _village_options(t.language)
    if chosen:
        options = options.replace(f'value="{h(chosen)}"', f'value="{h(chosen)}" selected', 1)
    return (
        f'<details class="picker"{" open" if chosen else ""}><summary>{h(t.gettext(PICK_VILLAGE))}</summary>'
        f'<input type="search" id="village-filter" hidden autocomplete="off"'
        f' placeholder="{h(t.gettext(VILLAGE_FILTER))}" aria-label="{h(t.gettext(VILLAGE_FILTER))}">'
        f'<select name="{form.VILLAGE}" id="village" aria-label="{h(t.gettext(PICK_VILLAGE))}">'
        f'<option value="">{h(t.gettext(NO_VILLAGE))}</option>{options}</select></details>'
    )


def _county_map(t: Translator, fields: Mapping[str, str]) -> str:
    """The county map to tap: an image button, so the plain form sends the tap and the page comes back
    with the point; with the script the point is set at once."""
    f = county_map.frame()
    accuracy = f.tap_accuracy_m()
    tapped = fields.get(form.SOURCE) == form.MAP_SOURCE and fields.get(form.LATITUDE)
    chosen = ""
    if tapped:
        place = f"{fields.get(form.LATITUDE)}, {fields.get(form.LONGITUDE)}"
        chosen = h(t.gettext(MAP_CHOSEN, place=place, km=_km(accuracy)))
    frame_data = (
        f'data-west="{f.west}" data-north="{f.north}" data-scale="{f.scale}" data-cos="{f.cos_lat}"'
        f' data-view="{county_map.VIEW_WIDTH}" data-accuracy="{accuracy:.0f}"'
        f' data-t-chosen="{h(t.gettext(MAP_CHOSEN))}"'
    )
    return (
        f'<details class="picker map"{" open" if tapped else ""}><summary>{h(t.gettext(TAP_MAP))}</summary>'
        f'<div class="map-box"><input type="image" name="map" id="county-map" formnovalidate'
        f' src="{h(url("/county.svg", t.language))}" alt="{h(t.gettext(MAP_ALT))}"'
        f' width="{county_map.SHOWN_WIDTH_PX}" height="{county_map.shown_height()}" {frame_data}>'
        f'<span class="marker" id="map-marker" hidden></span></div>'
        f'<p class="hint" id="map-status" role="status">'
        f"{chosen or h(t.gettext(MAP_HINT, km=_km(accuracy)))}</p>"
        f"</details>"
    )


def _spot_offer(t: Translator, spot: Place | None, places: list[Place], chosen: str) -> str:
    """The poster's place offered (not chosen) as the location, like the bot's "I am at …" button."""
    if spot is None or any(p.id == spot.id for p in places):
        return ""  # without a point yet, the spot is taken as a named place (as the bot does)
    return (
        f'<p class="offer">{h(t.gettext(AT_POSTER))}</p>'
        + _radio(form.PLACE, spot.id, t.gettext(I_AM_AT, place=place_label(spot, t)), chosen == spot.id)
        + _radio(form.PLACE, "", t.gettext(ELSEWHERE), chosen != spot.id)
    )


def form_page(
    t: Translator,
    kind: Kind,
    *,
    action: str,
    csrf: str,
    draft_id: str,
    fields: Mapping[str, str],
    kept_photos: list[str],
    places: list[Place],
    problems: Mapping[str, Problem],
    now_local: datetime,
    max_photos: int,
    spot: Place | None = None,
) -> str:
    """The report form for one kind, filled with `fields` and marked with `problems`."""
    summary = f'<p class="notice" role="alert">{h(t.gettext(CHECK_ANSWERS))}</p>' if problems else ""
    script_texts = " ".join(f'data-t-{k}="{h(t.gettext(v))}"' for k, v in SCRIPT_TEXTS.items())
    kept = "".join(f'<input type="hidden" name="kept" value="{h(blob)}">' for blob in kept_photos)
    if kept_photos:
        kept += f'<p class="hint">{h(t.gettext(PHOTOS_KEPT, n=len(kept_photos)))}</p>'
    photos = (
        f'<input type="file" name="photo" accept="image/*,video/*" multiple data-max="{max_photos}">'
        f'<p class="hint">{h(t.gettext(PHOTOS_HINT))}</p>{kept}'
    )
    geo_attrs = " ".join(
        f'data-{k}="{h(t.gettext(v))}"' for k, v in (("locating", LOCATING), ("failed", NO_GEOLOCATION))
    )
    hidden_geo = "".join(
        f'<input type="hidden" name="{n}" value="{h(fields.get(n, ""))}">'
        for n in (form.LATITUDE, form.LONGITUDE, form.ACCURACY, form.SOURCE)
    )
    location = (
        f'<button type="button" class="secondary" id="use-location" hidden {geo_attrs}>'
        f"{h(t.gettext(USE_MY_LOCATION))}</button>{hidden_geo}"
        f'<input type="text" name="{form.LOCATION}" id="location" value="{h(fields.get(form.LOCATION, ""))}"'
        f' autocomplete="off" placeholder="37.33, 113.57">'
        f'<p class="hint" id="location-status">{h(t.gettext(LOCATION_HINT))}</p>'
        + _spot_offer(t, spot, places, fields.get(form.PLACE, ""))
        + _places(t, places, fields.get(form.PLACE, ""))
        + _village_picker(t, fields.get(form.VILLAGE, ""))
        + _county_map(t, fields)
    )
    spot_field = f'<input type="hidden" name="{form.SPOT}" value="{h(spot.id)}">' if spot else ""
    when_value = fields.get(form.WHEN) or now_local.strftime("%Y-%m-%dT%H:%M")
    when = (
        f'<input type="datetime-local" name="{form.WHEN}" value="{h(when_value)}"'
        f' max="{now_local.strftime("%Y-%m-%dT%H:%M")}">'
    )
    questions = "".join(_question(t, q, fields, problems) for q in QUESTIONS[kind])
    contact_open = " open" if fields.get(form.CONTACT) or form.CONTACT in problems else ""
    contact = (
        f"<details{contact_open}><summary>{h(t.gettext(CONTACT_SUMMARY))}</summary>"
        f'<input type="text" name="{form.CONTACT}" maxlength="{form.MAX_CONTACT}" autocomplete="off"'
        f' value="{h(fields.get(form.CONTACT, ""))}"><p class="hint">{h(t.gettext(CONTACT_HINT))}</p>'
        f"{_error(t, problems, form.CONTACT)}</details>"
    )
    body = (
        f"<h1>{h(kind_title(t, kind))}</h1>{summary}{_error(t, problems, form.FORM)}"
        f'<form method="post" action="{h(action)}" enctype="multipart/form-data" id="report"'
        f' data-kind="{h(kind.value)}"{"" if problems or fields else " data-fresh"} {script_texts}>'
        f'<input type="hidden" name="csrf" value="{h(csrf)}">'
        f'<input type="hidden" name="draft_id" value="{h(draft_id)}">{spot_field}'
        + _fieldset(form.PHOTOS, t.gettext("Photos"), photos + _error(t, problems, form.PHOTOS), problems)
        + _fieldset(
            form.LOCATION, t.gettext("Location"), location + _error(t, problems, form.LOCATION), problems
        )
        + _fieldset(form.WHEN, t.gettext(WHEN_PROMPT), when + _error(t, problems, form.WHEN), problems)
        + questions
        + contact
        + f'<button type="submit" class="send">{h(t.gettext(SEND))}</button>'
        + '<p id="progress" class="progress" role="status" aria-live="polite"></p></form>'
        + f'<p><a href="{h(url("/", t.language))}">{h(t.gettext(BACK))}</a></p>'
    )
    return page(t, form_title(t, kind), body, form_path(kind), {form.SPOT: spot.id} if spot else None)


def _steps(t: Translator, case: Case, plan: CasePlan) -> str:
    """The case's progress as the owner follows it: reported, surveyed, decided, paid."""

    def step(done: bool, label: str, detail: str) -> str:
        mark = "✅" if done else "⏳"
        return (f'<li class="{"done" if done else "todo"}"><span aria-hidden="true">{mark}</span> '
                f"<strong>{h(t.gettext(label))}</strong> {h(detail)}</li>")

    surveyed = case.surveyed_on is not None
    survey_day = case.surveyed_on or case.survey_on or case.survey_due
    items = [
        step(True, STATE_LABELS[CaseState.REPORTED], day_text(t, case.reported_on)),
        step(surveyed, STATE_LABELS[CaseState.SURVEYED],
             day_text(t, survey_day) if surveyed else t.gettext(BY_DATE, date=day_text(t, survey_day))),
    ]
    if case.state is CaseState.DENIED or case.deny_reason:
        reason = case.deny_reason or ""
        said = t.gettext(OWNER_DENY_REASONS[reason]) if reason in OWNER_DENY_REASONS else reason
        items.append(step(True, STATE_LABELS[CaseState.DENIED], said))
    else:
        decided = case.decided_on is not None
        items.append(step(decided, STATE_LABELS[CaseState.APPROVED],
                          f"{money(t, case.approved_fen)}, {day_text(t, case.decided_on)}"
                          if decided and case.decided_on else ""))
        paid = case.paid_on is not None
        due = case.payment_due
        detail = (f"{money(t, case.paid_fen)}, {day_text(t, case.paid_on)}" if paid and case.paid_on
                  else t.gettext(BY_DATE, date=day_text(t, due)) if due else "")
        items.append(step(paid, STATE_LABELS[CaseState.PAID], detail))
    return '<ol class="steps">' + "".join(items) + "</ol>"


def _needs(t: Translator, apply_due: date) -> str:
    needs = "".join(f"<li>{h(t.gettext(need))}</li>" for need in OWNER_NEEDS)
    return f"<p>{h(t.gettext(APPLY_BRING, date=day_text(t, apply_due)))}</p><ul>{needs}</ul>"


def compensation_section(t: Translator, row: ReportRow, case: Case | None, plan: CasePlan) -> str:
    """A livestock report's compensation: what to bring by when, then its case's progress."""
    if case is None:
        inner = _needs(t, plan.apply_due(row.observed_at.astimezone(plan.tz).date()))
        inner += f"<p>{h(t.gettext(CASE_LATER))}</p>"
        free_ranging = row.details.get("penned") == "free_ranging"
    else:
        inner = (f'<p id="case-state">{h(t.gettext(CASE_STATE, case=case.code))} '
                 f"<strong>{h(t.gettext(STATE_LABELS[case.state]))}</strong></p>")
        inner += _steps(t, case, plan)
        if any(what == "apply" for what, _ in active_deadlines(case)):
            inner += _needs(t, case.apply_due)
        free_ranging = case.free_ranging and case.state is not CaseState.DENIED
    if free_ranging:
        inner += f'<p class="hint">⚠️ {h(t.gettext(FREE_RANGING))}</p>'
    return f'<section class="case" id="compensation"><h2>{h(t.gettext(COMPENSATION))}</h2>{inner}</section>'


def status_page(
    t: Translator,
    row: ReportRow,
    link: str,
    *,
    new: bool,
    case: Case | None = None,
    plan: CasePlan | None = None,
    hotline: str = "",
) -> str:
    """A report's kind, date and status; right after sending, also the thanks and the private link.
    A sighting or a livestock loss gets the safety advice; a livestock loss its compensation."""
    kind = Kind(row.kind)
    status = t.gettext(STATUS_LABELS.get(row.status, row.status))
    body = ""
    if new:
        body += f'<p class="notice ok" role="status">✅ {h(t.gettext(SAVED))}</p>'
    body += (
        f"<h1>{h(t.gettext(STATUS_TITLE, code=row.ref_code))}</h1>"
        f'<p>{h(t.gettext(REFERENCE))} <strong class="code" id="ref-code">{h(row.ref_code)}</strong></p>'
        f"<dl><dt>{h(t.gettext(KIND))}</dt><dd>{h(kind_title(t, kind))}</dd>"
        f"<dt>{h(t.gettext(SEEN))}</dt><dd>{h(t.datetime(row.observed_at))}</dd>"
        f'<dt>{h(t.gettext(STATUS))}</dt><dd id="status">{h(status)}</dd></dl>'
    )
    if row.point is None and row.place_id:
        body += f'<p id="named-place">📍 {h(named_place_text(row.place_id, row.place_name, t))}</p>'
    outside = point_outside_text(row.latitude, row.longitude, t)
    if outside:  # the reporter's own page: they are told, as in the bot's review, that it is outside
        body += f'<p class="notice" id="outside-area" role="status">⚠️ {h(outside)}</p>'
    if new:
        body += f'<p>{h(t.gettext(KEEP_LINK))}</p><p class="link"><a href="{h(link)}">{h(link)}</a></p>'
    if kind is Kind.LIVESTOCK:
        body += compensation_section(t, row, case, plan or default_plan())
    if kind in (Kind.SIGHTING, Kind.LIVESTOCK):
        lines = safety_text(t, kind.value, hotline or None).split("\n")
        advice = "".join(f"<li>{h(line)}</li>" for line in lines)
        body += f'<section class="safety"><h2>🛡 {h(t.gettext(STAY_SAFE))}</h2><ul>{advice}</ul></section>'
    return page(t, t.gettext(STATUS_TITLE, code=row.ref_code), body, link.split("?")[0])
