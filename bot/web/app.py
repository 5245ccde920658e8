"""The tip line as an aiohttp application: form, status pages, /healthz and /metrics.

Built by :func:`make_tipline_app` (aiohttp-demos "polls" style: one factory, typed ``AppKey``
state, ``cleanup_ctx`` for background work). `handlers/web.py` adds the Telegram webhook to the
same application and runs it; the tests build it through the same factory.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from aiohttp import BodyPartReader, web
from aiohttp.typedefs import Handler

from bot.cards import report_messages
from bot.compensation import CasePlan
from bot.config import Config
from bot.export import Format, Level, build_export, export_token, parse_since
from bot.i18n import LANGUAGES, N_, Translator, language_for, translator
from bot.link import TelegramLink
from bot.media import PhotoProblemError
from bot.records import Outgoing, Reporter, ReportRow, StoredPhoto, SubmittedReport
from bot.report import Kind, tip_for_storage, to_minute
from bot.store import Store
from bot.video import is_video_file
from bot.web import county_map, form, pages
from bot.web.form import Problem
from bot.web.metrics import CONTENT_TYPE, Metrics, outbox_state
from bot.web.security import RateLimiter, Signer, new_cookie_value
from bot.web.settings import MB, WebSettings
from bot.web.staging import Staging

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
CSRF_COOKIE = "lw_csrf"
SCRIPT_HEADER = "X-Tipline-Script"
MAX_FIELD_BYTES = 8 * 1024  # one text field; the longest answer is 1000 characters
PHOTO_TOO_BIG = N_("Each photo can be at most {limit} MB. Please choose a smaller one.")
VIDEO_TOO_BIG = N_("Each video can be at most {limit} MB. Please choose a shorter clip.")


TOO_MANY_PHOTOS = N_("You can send at most {limit} photos.")


class TiplineServices(Protocol):
    """What the tip line uses of `handlers.common.Services` (kept Telegram-free here)."""

    config: Config
    store: Store
    case_plan: CasePlan
    outbox_wakeup: asyncio.Event
    telegram: TelegramLink

    def now(self) -> datetime: ...

    def staff_translator(self) -> Translator: ...


@dataclass
class Tipline:
    """The web application's state."""

    services: TiplineServices
    settings: WebSettings
    signer: Signer
    metrics: Metrics
    reports: RateLimiter  # stored reports per address
    posts: RateLimiter  # any form post per address
    uploads: RateLimiter  # bytes of form posts per address (weighted)
    staging: Staging  # web photos until their report is stored
    # Photos checked at once by this web side: each holds its bytes and a decode (bot/photos.py).
    photo_slots: asyncio.Semaphore


TIPLINE = web.AppKey("tipline", Tipline)


def megabytes(size: int) -> str:
    """A byte limit as people read it: 20, or 0.5 for small test limits."""
    return f"{round(size / MB, 2):g}"


class TooLargeError(Exception):
    """The request body is over the configured total."""


#: The suffix of a received part that is a video (is_video_file): staged through the clip code.
CLIP_SUFFIX = ".mp4"


class BudgetSpentError(TooLargeError):
    """The body is over what this address may still send this hour."""


# --- requests ------------------------------------------------------------------------------------


def request_language(request: web.Request, default: str) -> str:
    """?lang= if valid, else the best of Accept-Language (zh* → Chinese, else English), else `default`."""
    asked = request.query.get("lang", "")
    if asked in LANGUAGES:
        return asked
    best: tuple[float, str] | None = None
    for item in request.headers.get("Accept-Language", "").split(","):
        tag, _, params = item.strip().partition(";")
        if not tag or tag == "*":
            continue
        q = 1.0
        if params.strip().startswith("q="):
            with contextlib.suppress(ValueError):
                q = float(params.strip()[2:])
        if best is None or q > best[0]:
            best = (q, tag)
    return language_for(best[1]) if best else default


def client_key(request: web.Request, state: Tipline) -> str:
    """A pseudonym of the sender's address for rate limits (the address itself is never kept)."""
    address = request.remote or "unknown"
    if state.settings.trust_forwarded_for:
        hops = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",") if a.strip()]
        address = hops[-1] if hops else address
    return state.signer.mac("address", address)


def _t(request: web.Request) -> Translator:
    state = request.app[TIPLINE]
    config = state.services.config
    return translator(request_language(request, config.languages.default), config.region.timezone.key)


def _html(text: str, status: int = 200) -> web.Response:
    response = web.Response(text=text, status=status, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _refuse(request: web.Request, reason: str, status: int, message: str, **params: object) -> web.Response:
    request.app[TIPLINE].metrics.web_refusals.labels(reason).inc()
    return _html(pages.message_page(_t(request), message, **params), status)


def _kind(request: web.Request) -> Kind:
    """The kind from the path; the tip lives at the neutral ``/report`` only (pages.form_path)."""
    if "kind" not in request.match_info:
        return Kind.TIP
    try:
        kind = Kind(request.match_info["kind"])
    except ValueError:
        raise web.HTTPNotFound() from None
    if kind is Kind.TIP:
        raise web.HTTPNotFound()
    return kind


async def _read_limited(part: BodyPartReader, limit: int, budget: list[int]) -> bytes | None:
    """A part's bytes, or None (drained) past `limit`; `budget` is what the whole body may still use."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(64 * 1024):
        size += len(chunk)
        budget[0] -= len(chunk)
        if budget[0] < 0:
            raise TooLargeError
        if size <= limit:
            chunks.append(chunk)
    return b"".join(chunks) if size <= limit else None


async def _spool(part: BodyPartReader, limit: int, budget: list[int], path: Path) -> bool:
    """Writes a photo part to `path` (never holding it in memory); False (file removed) past `limit`."""
    size = 0
    with path.open("wb") as out:  # noqa: ASYNC230 - 64 kB writes to a local disk, as aiohttp does
        while chunk := await part.read_chunk(64 * 1024):
            size += len(chunk)
            budget[0] -= len(chunk)
            if budget[0] < 0:
                raise TooLargeError
            if size <= limit:
                out.write(chunk)
    if size > limit:
        path.unlink(missing_ok=True)  # noqa: ASYNC240 - one local unlink
    return size <= limit


async def read_form(
    request: web.Request, state: Tipline, max_photos: int, allowance: int, incoming: list[Path]
) -> tuple[dict[str, str], list[str], dict[str, Problem]]:
    """(text fields, kept-photo tokens, problems) from a multipart form, within limits.

    Photo parts are written to files in the staging area's incoming folder, listed in `incoming`
    (the caller deletes them whatever happens). `allowance` is what this address may still send this
    hour: past it, :class:`BudgetSpentError`; past the request limit, :class:`TooLargeError`.
    """
    settings = state.settings
    limit = min(settings.max_request_bytes, allowance)
    if request.content_length is not None and request.content_length > limit:
        raise BudgetSpentError if limit < settings.max_request_bytes else TooLargeError
    fields: dict[str, str] = {}
    kept: list[str] = []
    problems: dict[str, Problem] = {}
    budget = [limit]
    if request.content_type != "multipart/form-data":  # a form without files may come url-encoded
        posted = await request.post()  # bounded by client_max_size
        fields = {k: v for k, v in posted.items() if isinstance(v, str) and k != "kept"}
        return fields, [v for v in posted.getall("kept", []) if isinstance(v, str)], problems
    reader = await request.multipart()
    try:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue  # a nested multipart is not something our form sends
            if part.name == "photo" and part.filename is not None:
                clip = is_video_file(part.headers.get("Content-Type"), part.filename)
                part_limit = settings.max_video_bytes if clip else settings.max_photo_bytes
                path = state.staging.incoming_path(CLIP_SUFFIX if clip else "")
                incoming.append(path)
                if not await _spool(part, part_limit, budget, path):
                    problems[form.PHOTOS] = Problem(
                        VIDEO_TOO_BIG if clip else PHOTO_TOO_BIG, {"limit": megabytes(part_limit)}
                    )
                    incoming.remove(path)
                elif path.stat().st_size == 0:  # an empty file input: no photo chosen
                    path.unlink()
                    incoming.remove(path)
                elif len(incoming) > max_photos:
                    problems[form.PHOTOS] = Problem(TOO_MANY_PHOTOS, {"limit": max_photos})
                    path.unlink()
                    incoming.remove(path)
                continue
            raw = await _read_limited(part, MAX_FIELD_BYTES, budget)
            text = raw.decode("utf-8", "replace") if raw is not None else ""
            if part.name == "kept":
                kept.append(text)
            elif part.name and part.name not in fields:
                fields[part.name] = text
    except TooLargeError:
        if limit < settings.max_request_bytes:
            raise BudgetSpentError from None
        raise
    finally:
        state.uploads.record(client_key(request, state), limit - budget[0])
    return fields, kept, problems


# --- photos --------------------------------------------------------------------------------------


def _kept_photos(
    state: Tipline, tokens: Sequence[str], cookie: str, problems: dict[str, Problem]
) -> list[tuple[str, dict[str, Any]]]:
    """Photos staged during an earlier attempt of this form: tokens made for this cookie, not expired,
    each photo once, at most ``max_photos`` of them."""
    limit = state.services.config.reports.max_photos
    kept: dict[str, dict[str, Any]] = {}
    for token in tokens:
        resolved = state.staging.resolve(token, cookie)
        if resolved is None or resolved[0] in kept:
            continue
        if len(kept) >= limit:
            problems[form.PHOTOS] = Problem(TOO_MANY_PHOTOS, {"limit": limit})
            break
        kept[resolved[0]] = resolved[1]
    return list(kept.items())


async def _stage_photos(
    state: Tipline, incoming: Sequence[Path], staged: list[tuple[str, dict[str, Any]]],
    problems: dict[str, Problem], *, keep_original: bool = True,
) -> None:
    """Checks the new photos with the bot's own media code and stages them, appending to `staged` (a
    tip's: only the metadata-free copy, `keep_original=False`)."""
    svc = state.services
    for path in incoming:
        if len(staged) >= svc.config.reports.max_photos:
            problems[form.PHOTOS] = Problem(TOO_MANY_PHOTOS, {"limit": svc.config.reports.max_photos})
            return
        async with state.photo_slots:  # the bytes are read only when a slot is free
            try:
                if path.suffix == CLIP_SUFFIX:  # a video: the clip code reads the file itself
                    staged_id, entry = await state.staging.stage_video(
                        path, now=svc.now(), max_seconds=svc.config.reports.max_video_seconds,
                        keep_original=keep_original,
                    )
                else:
                    data = await asyncio.to_thread(path.read_bytes)
                    staged_id, entry = await state.staging.stage(
                        data, now=svc.now(), keep_original=keep_original
                    )
                    del data
            except PhotoProblemError as problem:
                problems[form.PHOTOS] = Problem(problem.message, problem.params)
                continue
            finally:
                path.unlink(missing_ok=True)
        if any(e["sha256"] == entry["sha256"] for _, e in staged):
            await state.staging.discard([staged_id])
            continue
        staged.append((staged_id, entry))


async def _commit_photos(
    state: Tipline, staged: Sequence[tuple[str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Moves the staged photos into the media folder (the report is being stored)."""
    entries = []
    for staged_id, entry in staged:
        moved = await state.staging.commit(staged_id, entry, state.services.config.storage.media_dir)
        # No Telegram file: the ids name the web upload (the outbox sends the files on disk).
        moved["file_id"] = f"web:{moved['sha256']}"
        moved["file_unique_id"] = f"web-{moved['sha256'][:24]}"
        entries.append(moved)
    return entries


# --- staff card ----------------------------------------------------------------------------------


def web_report_messages(row: ReportRow, outcome: SubmittedReport, config: Config) -> list[Outgoing]:
    """The usual staff card and no receipt (there is no chat); the card says it came from the web."""
    return report_messages(
        row, outcome, config.telegram.moderation_chat_id, translator(config.languages.staff), None
    )


# --- handlers ------------------------------------------------------------------------------------


def _csrf(request: web.Request) -> str:
    """The browser's CSRF cookie value, or a new one."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return cookie if 16 <= len(cookie) <= 64 else new_cookie_value()


def _with_cookie(response: web.Response, state: Tipline, cookie: str) -> web.Response:
    response.set_cookie(
        CSRF_COOKIE, cookie, httponly=True, samesite="Strict", secure=state.settings.secure_cookies, path="/"
    )
    return response


def status_link(state: Tipline, code: str, language: str) -> str:
    path = f"/r/{code}/{state.signer.status_token(code)}"
    return f"{state.settings.public_url}{path}?lang={language}"


async def index(request: web.Request) -> web.Response:
    return _html(pages.index_page(_t(request), form.poster_spot(request.query.get(form.SPOT))))


def _render_form(
    request: web.Request,
    kind: Kind,
    cookie: str,
    *,
    draft_id: str = "",
    fields: dict[str, str] | None = None,
    kept: list[str] | None = None,
    outcome: form.Outcome | None = None,
    problems: dict[str, Problem] | None = None,
    status: int = 200,
) -> web.Response:
    state = request.app[TIPLINE]
    t = _t(request)
    body = pages.form_page(
        t,
        kind,
        action=pages.url(pages.form_path(kind), t.language),
        csrf=state.signer.csrf_token(cookie),
        draft_id=draft_id or uuid.uuid4().hex,
        fields=fields or {},
        kept_photos=kept or [],
        places=outcome.places if outcome else [],
        problems=problems or {},
        now_local=state.services.now().astimezone(state.services.config.region.timezone),
        max_photos=state.services.config.reports.max_photos,
        spot=form.poster_spot((fields or {}).get(form.SPOT) or request.query.get(form.SPOT)),
    )
    return _with_cookie(_html(body, status), state, cookie)


async def report_form(request: web.Request) -> web.Response:
    return _render_form(request, _kind(request), _csrf(request))


async def submit_report(request: web.Request) -> web.StreamResponse:
    """Checks CSRF and limits, builds the draft like the conversation does, stores it, redirects.

    Photos are staged (``bot.web.staging``) and reach the media folder only with the stored report;
    whatever this request received and did not stage is deleted before it returns.
    """
    state = request.app[TIPLINE]
    kind = _kind(request)
    key = client_key(request, state)
    allowance = state.uploads.remaining(key)
    if not state.posts.hit(key) or not state.reports.allowed(key) or allowance <= 0:
        return _refuse(request, "rate_limit", 429, pages.TOO_MANY)
    incoming: list[Path] = []
    try:
        return await _submit(request, state, kind, key, allowance, incoming)
    finally:
        for path in incoming:
            path.unlink(missing_ok=True)


async def _submit(
    request: web.Request, state: Tipline, kind: Kind, key: str, allowance: int, incoming: list[Path]
) -> web.StreamResponse:
    svc = state.services
    try:
        fields, kept_tokens, problems = await read_form(
            request, state, svc.config.reports.max_photos, allowance, incoming
        )
    except BudgetSpentError:
        return _refuse(request, "rate_limit", 429, pages.TOO_MANY)
    except TooLargeError:
        limit = megabytes(state.settings.max_request_bytes)
        return _refuse(request, "too_large", 413, pages.TOO_LARGE, limit=limit)
    except (ValueError, AssertionError, KeyError):  # not multipart at all, or a broken body
        return _refuse(request, "invalid", 400, pages.EXPIRED)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not state.signer.check("csrf", cookie, fields.get("csrf", "")):
        return _refuse(request, "csrf", 403, pages.EXPIRED)

    t = _t(request)
    staged = _kept_photos(state, kept_tokens, cookie, problems)
    await _stage_photos(state, incoming, staged, problems, keep_original=kind is not Kind.TIP)
    tap = form.map_tap(fields)
    if tap is not None:
        # The plain form's map button: the page comes back with the tapped point, nothing stored yet.
        fields.update(tap)
        draft_id = fields.get("draft_id", "")
        return _render_form(
            request, kind, cookie, draft_id=draft_id if form.DRAFT_ID.match(draft_id) else "", fields=fields,
            kept=[state.staging.token(staged_id, cookie) for staged_id, _ in staged], problems=problems,
        )
    outcome = form.build_draft(
        kind,
        fields,
        [entry for _, entry in staged],
        now=svc.now(),
        tz=svc.config.region.timezone,
        max_age=svc.config.reports.max_age,
        language=t.language,
    )
    problems = {**outcome.problems, **problems}
    if problems:
        state.metrics.web_refusals.labels("invalid").inc()
        # The staged photos wait for the corrected form (or the sweep), known to it only by tokens.
        return _render_form(
            request,
            kind,
            cookie,
            draft_id=outcome.draft["id"],
            fields=fields,
            kept=[state.staging.token(staged_id, cookie) for staged_id, _ in staged],
            outcome=outcome,
            problems=problems,
            status=422,
        )

    draft = outcome.draft
    draft["photos"] = await _commit_photos(state, staged)
    draft["answers"]["channel"] = "web"  # the staff card says where the report came from
    photos = [StoredPhoto.from_entry(p) for p in draft["photos"]]
    # Nobody on the web has an account: every web report is anonymous unless it carries a contact.
    # A tip stores no language and no second of a time, like one from Telegram.
    tip = kind is Kind.TIP
    language = svc.config.languages.default if tip else t.language
    reporter = Reporter(user_id=None, name=None, username=None, language=language, notify=False)
    submitted_at = to_minute(svc.now()) if tip else svc.now()
    stored = tip_for_storage(draft, svc.config.region.timezone) if tip else draft
    submitted = await svc.store.submit_report(
        stored, reporter, photos, submitted_at,
        compose=lambda row, result: web_report_messages(row, result, svc.config),
    )
    svc.outbox_wakeup.set()
    if submitted.created:
        state.reports.record(key)
        state.metrics.count_web_report(kind)
    log.info("web report %s stored (new=%s)", submitted.ref_code, submitted.created)
    link = pages.url(f"/r/{submitted.ref_code}/{state.signer.status_token(submitted.ref_code)}",
                     t.language, new="1")
    if request.headers.get(SCRIPT_HEADER) == "1":
        # tipline.js: the code and the page's address in one answer, without following a redirect
        # (one round trip less on a 300 ms link).
        body = {"code": submitted.ref_code, "link": link}
        return web.json_response(body, headers={"Cache-Control": "no-store"})
    raise web.HTTPSeeOther(link)


async def report_status(request: web.Request) -> web.Response:
    """The private status page; an unknown code and a wrong token look the same."""
    state = request.app[TIPLINE]
    code, token = request.match_info["code"], request.match_info["token"]
    t = _t(request)
    row = None
    if state.signer.check("status", code, token):
        row = await state.services.store.report_by_code(code)
    if row is None:
        return _html(pages.message_page(t, pages.NOT_FOUND), 404)
    link = status_link(state, code, t.language)
    store = state.services.store
    case = await store.case_by_report_code(code) if row.kind == Kind.LIVESTOCK.value else None
    return _html(pages.status_page(
        t, row, link, new=request.query.get("new") == "1", case=case, plan=state.services.case_plan,
        hotline=state.services.config.safety.hotline,
    ))


def _since(link: TelegramLink) -> str:
    return datetime.fromtimestamp(link.changed_at, UTC).isoformat(timespec="seconds")


async def county_svg(request: web.Request) -> web.Response:
    """The county map (the same for everyone; cached by the phone)."""
    label = _t(request).gettext(pages.MAP_ALT)
    return web.Response(
        text=county_map.county_svg(label), content_type="image/svg+xml", charset="utf-8",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


async def healthz(request: web.Request) -> web.Response:
    """Which parts are up. 200 while the web side and the database work, whatever Telegram does:
    the tip line and the exports keep working without it (/healthz/telegram checks Telegram)."""
    state = request.app[TIPLINE]
    link = state.services.telegram
    body: dict[str, object] = {"web": "ok", "telegram": link.state.value, "telegram_since": _since(link)}
    try:
        outbox = await asyncio.wait_for(outbox_state(state.services.store), 5)
    except Exception as error:  # any failure to read is "database unreachable"
        log.warning("healthz: database check failed: %s", error)
        body.update(status="error", database="unreachable")
        return web.json_response(body, status=503, headers={"Cache-Control": "no-store"})
    lagging = outbox.lag_s > state.settings.max_outbox_lag_seconds
    # States only, never counts or durations: /healthz is often reachable by anyone, and a queue
    # length or a lag that moves tells an onlooker that someone has just reported.
    body.update(
        status="ok" if link.up and not lagging else "degraded",
        database="ok",
        outbox="lagging" if lagging else "ok",
    )
    return web.json_response(body, headers={"Cache-Control": "no-store"})


async def healthz_telegram(request: web.Request) -> web.Response:
    """The Telegram side: 200 when the Bot API answers and cards and receipts are not overdue."""
    state = request.app[TIPLINE]
    link = state.services.telegram
    try:
        lag = round((await asyncio.wait_for(outbox_state(state.services.store), 5)).lag_s, 1)
    except Exception:  # /healthz says why; here it is enough that messages cannot go out
        lag = None
    ok = link.up and lag is not None and lag <= state.settings.max_outbox_lag_seconds
    body = {"status": "ok" if ok else "error", "telegram": link.state.value, "telegram_since": _since(link),
            "outbox_lag_seconds": lag}
    return web.json_response(body, status=200 if ok else 503, headers={"Cache-Control": "no-store"})


async def metrics_page(request: web.Request) -> web.Response:
    state = request.app[TIPLINE]
    await state.metrics.refresh(state.services.store)
    response = web.Response(body=state.metrics.exposition())
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


@web.middleware
async def friendly_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A localized page for 404/405 and oversized bodies on the HTML routes."""
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        settings = request.app[TIPLINE].settings
        return _refuse(
            request, "too_large", 413, pages.TOO_LARGE, limit=megabytes(settings.max_request_bytes)
        )
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as error:
        if request.path.startswith("/telegram/"):
            raise
        return _html(pages.message_page(_t(request), pages.NOT_FOUND), error.status)


async def _housekeeping(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: sweeps abandoned uploads and forgets idle rate-limit entries while the app runs."""
    state = app[TIPLINE]
    every = max(1.0, min(600.0, state.staging.ttl_s / 4))

    async def prune() -> None:
        while True:
            await asyncio.to_thread(state.staging.sweep)
            for limiter in (state.reports, state.posts, state.uploads):
                limiter.prune()
            await asyncio.sleep(every)

    task = asyncio.create_task(prune(), name="tipline-housekeeping")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


# --- researchers' export: GET /export/{level}.{fmt} with a bearer token -----------------------------
# The token of each level is bot.export.export_token(secret, level); a trusted token also opens the
# public export, a public token never opens the trusted one. See bot/export.py for what each holds.


def _export_authorized(request: web.Request, level: Level) -> bool:
    """Whether the request carries a bearer token good for `level` (compared in constant time)."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    secret = request.app[TIPLINE].services.config.secret_key
    accepted = [Level.TRUSTED] if level is Level.TRUSTED else [Level.PUBLIC, Level.TRUSTED]
    offered = given.strip().encode("utf-8", "replace")
    matches = [hmac.compare_digest(offered, export_token(secret, a).encode()) for a in accepted]
    return any(matches)


async def export_file(request: web.Request) -> web.Response:
    """401 without a good token; 400 for a bad ?since=; else the file as an attachment."""
    level, fmt = Level(request.match_info["level"]), Format(request.match_info["fmt"])
    if not _export_authorized(request, level):
        return web.Response(
            status=401, text="unauthorized\n",
            headers={"WWW-Authenticate": 'Bearer realm="leopard-watch export"', "Cache-Control": "no-store"},
        )
    config = request.app[TIPLINE].services.config
    try:
        since = (
            parse_since(request.query["since"], config.region.timezone) if "since" in request.query else None
        )
    except ValueError:
        return web.Response(status=400, text="since must look like 2026-03-01\n")
    reports = await request.app[TIPLINE].services.store.verified_reports(since)
    export = build_export(
        reports, level, fmt, config.moderation.public_cell_degrees, tz=config.region.timezone,
        today=request.app[TIPLINE].services.now().date(),
    )
    log.info("export %s.%s: %d rows", level.value, fmt.value, export.rows)
    return web.Response(body=export.data, headers={
        "Content-Type": export.content_type,
        "Content-Disposition": f'attachment; filename="{export.filename}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "X-Export-Rows": str(export.rows),
    })


def add_export_routes(app: web.Application) -> None:
    levels = "|".join(m.value for m in Level)
    formats = "|".join(m.value for m in Format)
    app.router.add_get(f"/export/{{level:(?:{levels})}}.{{fmt:(?:{formats})}}", export_file)


def make_tipline_app(
    services: TiplineServices, settings: WebSettings, metrics: Metrics | None = None
) -> web.Application:
    """The tip line, status pages, /healthz, /metrics and static files, as one aiohttp application."""
    app = web.Application(client_max_size=settings.max_request_bytes, middlewares=[friendly_errors])
    signer = Signer(services.config.secret_key)
    app[TIPLINE] = Tipline(
        services=services,
        settings=settings,
        signer=signer,
        metrics=metrics or Metrics(),
        reports=RateLimiter(settings.reports_per_hour),
        posts=RateLimiter(settings.posts_per_hour),
        uploads=RateLimiter(settings.upload_bytes_per_hour),
        staging=Staging.beside(services.config.storage.media_dir, signer, settings.staging_hours * 3600),
        photo_slots=asyncio.Semaphore(2),
    )
    app.cleanup_ctx.append(_housekeeping)
    app.router.add_get("/", index)
    app.router.add_get("/report/{kind}", report_form)
    app.router.add_post("/report/{kind}", submit_report)
    app.router.add_get(pages.TIP_PATH, report_form)
    app.router.add_post(pages.TIP_PATH, submit_report)
    app.router.add_get("/r/{code}/{token}", report_status)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/county.svg", county_svg)
    app.router.add_get("/healthz/telegram", healthz_telegram)
    app.router.add_get("/metrics", metrics_page)
    app.router.add_static("/static", STATIC, append_version=False)
    add_export_routes(app)
    return app
