"""The tip line's HTML: a base template (string.Template) and small builders for the rest.

Every value that is not our own markup goes through :func:`h` (``html.escape`` with quotes), and
every sentence through the page's :class:`~bot.i18n.Translator`; the catalogs are the bot's.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from string import Template
from urllib.parse import quote

from bot.cards import KIND_ICONS, STATUS_LABELS, place_label
from bot.gazetteer import Place
from bot.i18n import N_, Translator
from bot.report import KIND_LABELS, QUESTIONS, AnswerType, Kind, Question
from bot.store import ReportRow
from bot.web import form
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


def page(t: Translator, title: str, body: str, path: str = "/") -> str:
    """A whole page: `title` is plain text, `body` is markup built here."""
    languages = " ".join(
        f'<a href="{h(url(path, code))}" hreflang="{HTML_LANG[code]}"'
        + (' aria-current="true"' if code == t.language else "")
        + f">{h(name)}</a>"
        for code, name in LANGUAGE_NAMES.items()
    )
    return _template("base.html").substitute(
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


def index_page(t: Translator) -> str:
    links = "".join(
        f'<li><a class="button kind" href="{h(url(form_path(kind), t.language))}">'
        f"{h(kind_title(t, kind))}</a></li>"
        for kind in Kind
    )
    body = (
        f"<h1>{h(t.gettext(TITLE))}</h1><p>{h(t.gettext(INTRO))}</p>"
        f'<h2>{h(t.gettext(CHOOSE_KIND))}</h2><ul class="kinds">{links}</ul>'
    )
    return page(t, t.gettext(TITLE), body)


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
    return _fieldset(q.key, t.gettext(q.prompt), inner + _error(t, problems, q.key), problems)


def _places(t: Translator, places: Iterable[Place], chosen: str) -> str:
    return "".join(_radio(form.PLACE, p.id, place_label(p, t), chosen == p.id) for p in places)


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
) -> str:
    """The report form for one kind, filled with `fields` and marked with `problems`."""
    summary = f'<p class="notice" role="alert">{h(t.gettext(CHECK_ANSWERS))}</p>' if problems else ""
    kept = "".join(f'<input type="hidden" name="kept" value="{h(blob)}">' for blob in kept_photos)
    if kept_photos:
        kept += f'<p class="hint">{h(t.gettext(PHOTOS_KEPT, n=len(kept_photos)))}</p>'
    photos = (
        f'<input type="file" name="photo" accept="image/*" multiple data-max="{max_photos}">'
        f'<p class="hint">{h(t.gettext(PHOTOS_HINT))}</p>{kept}'
    )
    geo_attrs = " ".join(
        f'data-{k}="{h(t.gettext(v))}"' for k, v in (("locating", LOCATING), ("failed", NO_GEOLOCATION))
    )
    hidden_geo = "".join(
        f'<input type="hidden" name="{n}" value="{h(fields.get(n, ""))}">'
        for n in (form.LATITUDE, form.LONGITUDE, form.ACCURACY)
    )
    location = (
        f'<button type="button" class="secondary" id="use-location" hidden {geo_attrs}>'
        f"{h(t.gettext(USE_MY_LOCATION))}</button>{hidden_geo}"
        f'<input type="text" name="{form.LOCATION}" id="location" value="{h(fields.get(form.LOCATION, ""))}"'
        f' autocomplete="off" placeholder="37.33, 113.57">'
        f'<p class="hint" id="location-status">{h(t.gettext(LOCATION_HINT))}</p>'
        + _places(t, places, fields.get(form.PLACE, ""))
    )
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
        f'<form method="post" action="{h(action)}" enctype="multipart/form-data" id="report">'
        f'<input type="hidden" name="csrf" value="{h(csrf)}">'
        f'<input type="hidden" name="draft_id" value="{h(draft_id)}">'
        + _fieldset(form.PHOTOS, t.gettext("Photos"), photos + _error(t, problems, form.PHOTOS), problems)
        + _fieldset(
            form.LOCATION, t.gettext("Location"), location + _error(t, problems, form.LOCATION), problems
        )
        + _fieldset(form.WHEN, t.gettext(WHEN_PROMPT), when + _error(t, problems, form.WHEN), problems)
        + questions
        + contact
        + f'<button type="submit" class="send">{h(t.gettext(SEND))}</button></form>'
        + f'<p><a href="{h(url("/", t.language))}">{h(t.gettext(BACK))}</a></p>'
    )
    return page(t, form_title(t, kind), body, form_path(kind))


def status_page(t: Translator, row: ReportRow, link: str, *, new: bool) -> str:
    """A report's kind, date and status; right after sending, also the thanks and the private link."""
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
    if new:
        body += f'<p>{h(t.gettext(KEEP_LINK))}</p><p class="link"><a href="{h(link)}">{h(link)}</a></p>'
    return page(t, t.gettext(STATUS_TITLE, code=row.ref_code), body, link.split("?")[0])
