"""The web side: tip line (CSRF, limits, validation, storage, staff card), webhook, metrics, health.

Everything goes through the factories production uses: `handlers.web.make_web_app` for the
aiohttp test client, and `run_polling_with_web` / `run_webhook` against the fake Bot API.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from telegram import Bot
from telegram.error import BadRequest

from bot.config import Config, ConfigError
from bot.fake_telegram import FakeTelegram
from bot.report import Kind
from bot.store import Store
from bot.web import pages
from bot.web.app import TIPLINE, request_language
from bot.web.security import RateLimiter, Signer
from bot.web.settings import MB, WebSettings, web_settings
from handlers.app import build_application, start_running
from handlers.bot_api_http import InstrumentedRequest
from handlers.common import Services
from handlers.web import (
    SECRET_HEADER,
    make_web_app,
    run_polling_with_web,
    run_webhook,
    web_url,
    webhook_secrets,
)
from tests.kit import CODE, Person, make_jpeg, rows
from tests.kit import staff_card as kit_staff_card

SECRET = "test-secret-0123456789abcdef"
SETTINGS = WebSettings(enabled=True, port=0, reports_per_hour=5, posts_per_hour=50)


def ref_code(text: str) -> str:
    match = CODE.search(text)
    assert match, text
    return match.group(0)


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden {name} in page"
    return match.group(1)


def an_hour_ago() -> str:
    return (datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")


def sighting(**changes: Any) -> dict[str, str]:
    fields = {
        "location": "37.3296, 113.5702",
        "when": an_hour_ago(),
        "a_leopards": "2",
        "a_cubs": "no",
        "t_behaviour": "walking along the <b>ridge</b>",
        "a_distance": "50_200",
        "contact": "Li <Wei> 13912345678",
    }
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


def form_path(kind: str) -> str:
    """The form's address (the poaching tip's is the neutral /report)."""
    return pages.form_path(Kind(kind))


@dataclass
class Browserless:
    """A cookie-keeping HTTP client that fills and posts the tip line's form like a browser would."""

    client: TestClient[Any, Any] | aiohttp.ClientSession
    base: str = ""

    async def form(self, kind: str = "sighting", lang: str = "en") -> str:
        async with self.client.get(f"{self.base}{form_path(kind)}?lang={lang}") as response:
            assert response.status == 200
            return await response.text()

    async def form_at(self, path: str) -> str:
        async with self.client.get(f"{self.base}{path}") as response:
            assert response.status == 200
            return await response.text()

    async def post(
        self,
        kind: str = "sighting",
        fields: dict[str, str] | None = None,
        photos: list[bytes] = (),  # type: ignore[assignment]
        *,
        lang: str = "en",
        csrf: bool = True,
        page: str | None = None,
    ) -> aiohttp.ClientResponse:
        page = page if page is not None else await self.form(kind, lang)
        data = aiohttp.FormData()
        if csrf:
            data.add_field("csrf", hidden(page, "csrf"))
        data.add_field("draft_id", hidden(page, "draft_id"))
        for name, value in (fields if fields is not None else sighting()).items():
            data.add_field(name, value)
        for i, photo in enumerate(photos):
            data.add_field("photo", photo, filename=f"p{i}.jpg", content_type="image/jpeg")
        response = await self.client.post(
            f"{self.base}{form_path(kind)}?lang={lang}", data=data, allow_redirects=False
        )
        await response.read()
        return response


@pytest.fixture
def web_config(config: Config) -> Config:
    return replace(config, secret_key=SECRET)


@pytest.fixture
async def tipline(web_config: Config) -> AsyncIterator[Callable[..., Any]]:
    """An aiohttp test client on make_web_app without a running bot (the outbox just fills)."""
    store = await Store.open(web_config.storage.database)
    clients: list[TestClient[Any, Any]] = []

    async def open_client(settings: WebSettings = SETTINGS, **config_changes: Any) -> Browserless:
        svc = Services(config=web_config.with_settings(**config_changes), store=store)
        client = TestClient(TestServer(make_web_app(svc, None, settings)))
        await client.start_server()
        clients.append(client)
        return Browserless(client)

    yield open_client
    for client in clients:
        await client.close()
    await store.close()


@contextlib.asynccontextmanager
async def bot_with_web(config: Config, settings: WebSettings = SETTINGS) -> AsyncIterator[Any]:
    """The real bot (long polling) with the web server beside it, as `--mode polling` runs it."""
    stop = asyncio.Event()
    application = build_application(config)
    task = await start_running(application, run_polling_with_web(application, stop, settings, poll_timeout=1))
    try:
        yield application
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def staff_card(fake: FakeTelegram, code: str) -> str:
    """The text of the staff card naming `code` (the kit's staff_card)."""
    return str((await kit_staff_card(fake, code))["text"])


# --- pure parts --------------------------------------------------------------------------------


def test_tokens_and_rate_limiter() -> None:
    signer = Signer(SECRET)
    token = signer.status_token("HS-2026-00001")
    assert signer.check("status", "HS-2026-00001", token)
    assert not signer.check("status", "HS-2026-00002", token)
    assert not signer.check("status", "HS-2026-00001", token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert Signer("another-secret-0123456789").status_token("HS-2026-00001") != token
    blob = signer.sign_blob({"sha256": "ab", "n": 1})
    assert signer.unsign_blob(blob) == {"sha256": "ab", "n": 1}
    assert signer.unsign_blob(blob.replace(".", "x.", 1)) is None
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", signer.derived("webhook-token"))
    with pytest.raises(ValueError):
        Signer("")

    now = [0.0]
    limiter = RateLimiter(2, 3600, clock=lambda: now[0])
    assert limiter.hit("a") and limiter.hit("a") and not limiter.hit("a") and limiter.hit("b")
    now[0] = 3601
    assert limiter.hit("a")
    limiter.prune()


def test_settings_and_language() -> None:
    assert web_settings({}) == WebSettings()
    parsed = web_settings({"web": {"port": 8443, "public_url": "https://x.org/", "reports_per_hour": 3}})
    assert parsed.enabled and parsed.port == 8443 and parsed.public_url == "https://x.org"
    assert parsed.reports_per_hour == 3 and parsed.secure_cookies
    for bad in ({"port": 70000}, {"public_url": "ftp://x"}, {"reports_per_hour": 0}, {"listen": 5}):
        with pytest.raises(ConfigError):
            web_settings({"web": bad})

    class Request:
        def __init__(self, query: dict[str, str], header: str) -> None:
            self.query, self.headers = query, {"Accept-Language": header}

    def lang(query: dict[str, str], header: str) -> str:
        return request_language(Request(query, header), "zh_Hans")  # type: ignore[arg-type]

    assert lang({}, "zh-CN,zh;q=0.9,en;q=0.8") == "zh_Hans"
    assert lang({}, "en-US,en;q=0.9,zh;q=0.5") == "en"
    assert lang({}, "de;q=0.3, zh-TW;q=0.8") == "zh_Hans"
    assert lang({"lang": "en"}, "zh-CN") == "en"
    assert lang({"lang": "xx"}, "") == "zh_Hans"


# --- the tip line ------------------------------------------------------------------------------


async def test_pages_are_localized_and_escaped(tipline) -> None:
    web = await tipline()
    async with web.client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}) as response:
        text = await response.text()
    assert response.status == 200 and 'lang="zh-Hans"' in text and "目击豹子" in text
    assert "Content-Security-Policy" in response.headers
    async with web.client.get("/report?lang=en") as response:
        page = await response.text()
    assert "Poaching tip" in page and 'value="anonymous" checked' in page  # anonymous by default
    cookie = response.cookies["lw_csrf"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    async with web.client.get("/report/nonsense?lang=en") as response:
        assert response.status == 404 and "does not exist" in await response.text()
    async with web.client.get("/static/tipline.js") as response:
        assert response.status == 200 and "geolocation" in await response.text()


async def test_csrf_is_required(tipline, web_config: Config) -> None:
    web = await tipline()
    response = await web.post(csrf=False)
    assert response.status == 403 and "expired" in await response.text()
    # A token from another browser (another cookie) is refused too.
    other = await tipline()
    page = await other.form()
    web.client.session.cookie_jar.clear()
    response = await web.post(page=page)
    assert response.status == 403
    assert rows(web_config.storage.database, "SELECT COUNT(*) AS n FROM reports")[0]["n"] == 0


async def test_validation_errors_are_localized_and_keep_photos(tipline, web_config: Config) -> None:
    web = await tipline()
    fields = sighting(location="", a_cubs=None, when="2099-01-01T10:00")
    response = await web.post(fields=fields, photos=[make_jpeg(seed=7)])
    text = await response.text()
    assert response.status == 422
    assert "Please say where" in text and "That time is in the future" in text
    assert "Please answer this question." in text
    assert "walking along the &lt;b&gt;ridge&lt;/b&gt;" in text  # typed text comes back escaped
    assert 'name="kept"' in text and "Photos already received: 1" in text
    response = await web.post(fields=fields, lang="zh_Hans")
    assert "这个时间还没到。请发您看到的时间。" in await response.text()
    # Correcting the form sends it with the photo kept from the first attempt.
    page = text
    data = sighting()
    data["kept"] = hidden(page, "kept")
    response = await web.post(fields=data, page=page)
    assert response.status == 303, await response.text()
    code = ref_code(response.headers["Location"])
    report = rows(web_config.storage.database, "SELECT * FROM reports WHERE ref_code = ?", code)[0]
    assert report["reporter_id"] is None and report["location_source"] == "typed"
    assert rows(web_config.storage.database, "SELECT COUNT(*) AS n FROM photos")[0]["n"] == 1


async def test_livestock_needs_a_photo_and_a_place_choice(tipline) -> None:
    web = await tipline()
    fields = {
        "location": "37.33, 113.57",
        "when": an_hour_ago(),
        "a_animal": "sheep",
        "t_killed": "2",
        "t_injured": "0",
        "a_penned": "penned",
        "t_owner_name": "张三",
        "t_phone": "139 1234 5678",
    }
    response = await web.post("livestock", fields)
    assert response.status == 422 and "A photo is needed" in await response.text()


async def test_upload_limits(tipline) -> None:
    small = replace(SETTINGS, max_photo_mb=30_000 / MB, max_request_mb=400_000 / MB)
    web = await tipline(small, reports={"max_photos": 2})
    big = make_jpeg(1600, 1200, seed=2)
    assert 30_000 < len(big) < 400_000
    response = await web.post(photos=[big])
    assert response.status == 422 and "Each photo can be at most 0.03 MB" in await response.text()
    photos = [make_jpeg(200, 150, seed=s) for s in (1, 2, 3)]
    response = await web.post(photos=photos)
    assert "at most 2 photos" in await response.text()
    response = await web.post(photos=[big] * 20)
    assert response.status == 413 and "too much" in await response.text()


async def test_rate_limit_per_address(tipline) -> None:
    web = await tipline(replace(SETTINGS, reports_per_hour=1))
    assert (await web.post()).status == 303
    response = await web.post(lang="zh_Hans")
    assert response.status == 429
    assert 'lang="zh-Hans"' in await response.text()


async def test_same_form_twice_is_one_report(tipline, web_config: Config) -> None:
    web = await tipline()
    page = await web.form()
    first = await web.post(page=page)
    second = await web.post(page=page)
    assert first.headers["Location"] == second.headers["Location"]
    assert rows(web_config.storage.database, "SELECT COUNT(*) AS n FROM reports")[0]["n"] == 1


async def test_a_point_outside_heshun_is_flagged_on_the_status_page(tipline) -> None:
    """Places: the confirmation (the status page right after sending) names the county and distance."""
    from bot.geo import jinzhong_counties

    zuoquan = next(c for c in jinzhong_counties() if c.name_zh == "左权县").shape.representative_point()
    web = await tipline()
    response = await web.post(fields=sighting(location=f"{zuoquan.y:.5f}, {zuoquan.x:.5f}"))
    async with web.client.get(response.headers["Location"]) as page:
        text = await page.text()
    assert 'id="outside-area"' in text and "outside Heshun — in 左权县" in text
    inside = await web.post(fields=sighting(location="37.3296, 113.5702", t_behaviour="resting"))
    async with web.client.get(inside.headers["Location"]) as page:
        assert 'id="outside-area"' not in await page.text()


async def test_status_link_is_private(tipline) -> None:
    web = await tipline()
    response = await web.post()
    location = response.headers["Location"]
    code = ref_code(location)
    async with web.client.get(location) as page:
        text = await page.text()
    assert page.status == 200 and code in text and "waiting for staff" in text and "/r/" in text
    assert "Li &lt;Wei&gt;" not in text  # the status page shows kind, date and status only
    wrong = location.split("?")[0][:-2] + "xx"
    async with web.client.get(wrong) as page:
        assert page.status == 404


async def test_healthz_and_metrics(tipline, web_config: Config) -> None:
    web = await tipline()
    async with web.client.get("/healthz") as response:
        body = await response.json()
    # No bot here: Telegram is not tried, and that does not make the web side unhealthy.
    assert response.status == 200 and body["database"] == "ok" and body["web"] == "ok"
    assert body["telegram"] == "starting" and body["status"] == "degraded"
    assert body["outbox"] == "ok" and not any(isinstance(v, int | float) for v in body.values())  # no counts
    assert (await web.post()).status == 303
    async with web.client.get("/metrics") as response:
        text = await response.text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    reports = {s.labels["kind"]: s.value for s in families["leopard_reports"].samples}
    assert reports["sighting"] == 1 and "tip" not in reports
    assert families["leopard_outbox_depth"].samples[0].value >= 1  # the card (its place is a map link)
    web_reports = [s for s in families["leopard_web_reports"].samples if s.name.endswith("_total")]
    assert {s.labels["kind"]: s.value for s in web_reports}["sighting"] == 1
    assert "leopard_handler_latency_seconds" in families and "leopard_bot_api_errors" in families
    await web.client.app[TIPLINE].services.store.close()
    async with web.client.get("/healthz") as response:
        assert response.status == 503 and (await response.json())["database"] == "unreachable"


def tip_fields(**changes: Any) -> dict[str, str]:
    fields = {"location": "37.3296, 113.5702", "when": an_hour_ago(), "a_threat": "snares",
              "t_description": "wire snares on the path", "a_follow_up": "anonymous"}
    fields.update(changes)
    return fields


async def test_tip_page_is_neutral_and_tips_leave_no_metric(tipline, web_config: Config) -> None:
    """A shared phone's history says "Report"; /metrics and /healthz do not move when a tip arrives."""
    web = await tipline()
    async with web.client.get("/?lang=en") as response:
        index = await response.text()
    assert 'href="/report?lang=en"' in index and "/report/tip" not in index
    async with web.client.get("/report?lang=en") as response:
        page = await response.text()
    assert re.search(r"<title>([^<]*)</title>", page).group(1) == "Report"  # type: ignore[union-attr]
    async with web.client.get("/report/tip?lang=en") as response:
        assert response.status == 404  # the kind never appears in an address
    async with web.client.get("/report?lang=zh_Hans") as response:
        title = re.search(r"<title>([^<]*)</title>", await response.text()).group(1)  # type: ignore[union-attr]
    assert "偷猎" not in title and "举报" not in title

    async def observed() -> tuple[str, dict[str, Any]]:
        async with web.client.get("/metrics") as response:
            text = await response.text()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        counts = {
            f"{s.name}{sorted(s.labels.items())}": s.value
            for name in ("leopard_reports", "leopard_web_reports")
            for s in families[name].samples
        }
        async with web.client.get("/healthz") as response:
            return text, {"counts": counts, "health": await response.json()}

    before_text, before = await observed()
    async with web.client.get("/report?lang=en") as response:
        page = await response.text()
    data = aiohttp.FormData()
    data.add_field("csrf", hidden(page, "csrf"))
    data.add_field("draft_id", hidden(page, "draft_id"))
    for name, value in tip_fields().items():
        data.add_field(name, value)
    response = await web.client.post("/report?lang=en", data=data, allow_redirects=False)
    assert response.status == 303, await response.text()
    assert rows(web_config.storage.database, "SELECT kind FROM reports")[0]["kind"] == "tip"
    after_text, after = await observed()
    assert '"tip"' not in after_text and 'kind="tip"' not in after_text
    assert after["counts"] == before["counts"]  # no reports series moved
    assert {"status", "database", "outbox"} <= set(after["health"]) and after["health"] == before["health"]
    assert not any(isinstance(v, int | float) for v in after["health"].values())


# --- with the bot ------------------------------------------------------------------------------


async def test_web_report_reaches_the_moderation_group(fake: FakeTelegram, web_config: Config) -> None:
    async with (
        bot_with_web(web_config) as application,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session,
    ):
        web = Browserless(session, web_url(application))
        response = await web.post(photos=[make_jpeg(seed=11)])
        assert response.status == 303
        code = ref_code(response.headers["Location"])
        card = await staff_card(fake, code)
        assert "目击豹子" in card and "37.32960, 113.57020" in card
        assert "walking along the <b>ridge</b>" in card and "Li <Wei> 13912345678" in card  # literal text
        assert "🌐" in card
        await fake.wait_for_call("sendPhoto")
        report = rows(web_config.storage.database, "SELECT * FROM reports WHERE ref_code = ?", code)[0]
        assert report["kind"] == "sighting" and report["incident_id"] is not None

        # Telegram updates are counted and timed; the metrics are the bot's.
        person = Person(fake, 777, language="en")
        await person.send("/help")
        async with session.get(f"{web_url(application)}/metrics") as r:
            families = {f.name: f for f in text_string_to_metric_families(await r.text())}
        updates = {
            s.labels["type"]: s.value
            for s in families["leopard_updates_handled"].samples
            if s.name.endswith("_total")
        }
        assert updates.get("message", 0) >= 1
        count = next(
            s.value for s in families["leopard_handler_latency_seconds"].samples if s.name.endswith("_count")
        )
        assert count >= 1


async def test_bot_api_errors_are_counted_by_code(fake: FakeTelegram) -> None:
    seen: list[str] = []
    request = InstrumentedRequest()
    request.observer = seen.append
    bot = Bot(fake.token, base_url=fake.base_url, request=request)
    async with bot:
        with pytest.raises(BadRequest):
            await bot.send_message(424242, "nobody is there")
    assert seen == ["400"]


# --- the webhook -------------------------------------------------------------------------------


async def test_webhook_route_checks_secret_size_and_json(tipline, web_config: Config) -> None:
    application = build_application(web_config)
    store = await Store.open(web_config.storage.database)
    svc = Services(config=web_config, store=store)
    client = TestClient(TestServer(make_web_app(svc, application, replace(SETTINGS, webhook_max_bytes=2000))))
    await client.start_server()
    path, token = webhook_secrets(SECRET, SETTINGS)
    update = {
        "update_id": 1,
        "message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "hi"},
    }
    try:
        for headers in ({}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: token + "x"}, {SECRET_HEADER: ""}):
            async with client.post(f"/telegram/{path}", json=update, headers=headers) as response:
                assert response.status == 403
        async with client.post(
            "/telegram/not-the-path", json=update, headers={SECRET_HEADER: token}
        ) as response:
            assert response.status == 404
        for body in (b"{not json", b"[1, 2]", b'"text"'):
            async with client.post(
                f"/telegram/{path}", data=body, headers={SECRET_HEADER: token}
            ) as response:
                assert response.status == 400
        async with client.post(
            f"/telegram/{path}", data=b" " * 3000, headers={SECRET_HEADER: token}
        ) as response:
            assert response.status == 413
        # The application is not running: a good update is refused with 503 so Telegram retries.
        async with client.post(f"/telegram/{path}", json=update, headers={SECRET_HEADER: token}) as response:
            assert response.status == 503
        assert application.update_queue.empty()
    finally:
        await client.close()
        await store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_webhook_mode_end_to_end(fake: FakeTelegram, web_config: Config) -> None:
    stop = asyncio.Event()
    application = build_application(web_config)
    port = free_port()
    path, token = webhook_secrets(SECRET, SETTINGS)
    task = asyncio.create_task(
        run_webhook(
            application,
            stop,
            listen="127.0.0.1",
            port=port,
            url_path_secret=path,
            public_url=f"http://127.0.0.1:{port}",
            secret_token=token,
            settings=SETTINGS,
        )
    )
    try:
        call = await fake.wait_for_call("setWebhook", timeout=10)
        assert call.params["secret_token"] == token and path in call.params["url"]
        assert "callback_query" in str(call.params["allowed_updates"])
        person = Person(fake, 778, language="en")
        reply = await person.send("/start")
        assert "Leopard Watch" in reply["text"]
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    assert not fake.pending_update_ids


# --- posters: ?spot= ---------------------------------------------------------------------------


DETAILS = "SELECT details, place_name FROM reports WHERE ref_code = ?"


async def test_a_posters_spot_is_recorded_and_offered_as_the_place(tipline, web_config: Config) -> None:
    web = await tipline()
    async with web.client.get("/?spot=yixing&lang=en") as response:
        index = await response.text()
    assert "Welcome to" in index and "/report/sighting?spot=yixing&amp;lang=en" in index
    assert "spot=yixing" in index.split('hreflang="zh-Hans"')[0]  # the language links keep it
    async with web.client.get("/?spot=<script>&lang=en") as response:
        assert "Welcome" not in await response.text()  # an unknown spot is ignored
    page = await web.form_at("/report/sighting?spot=yixing&lang=en")
    assert hidden(page, "spot") == "yixing"
    assert 'name="place" value="yixing"' in page and "I am at" in page
    assert 'name="place" value="yixing" checked' not in page  # offered, not chosen

    # Choosing it: the place of the poster, and the spot recorded as the deep link does.
    response = await web.post(fields=sighting(location="", spot="yixing", place="yixing"), page=page)
    assert response.status == 303
    code = ref_code(response.headers["Location"])
    report = rows(web_config.storage.database, DETAILS, code)[0]
    assert '"spot": "yixing"' in report["details"] and "义兴" in report["place_name"]

    # A poster's place without a point is offered too: chosen, it is a named place, no point.
    page = await web.form_at("/report/sighting?spot=yunlongshan&lang=en")
    assert hidden(page, "spot") == "yunlongshan" and "I am at" in page
    chosen = sighting(location="", spot="yunlongshan", place="yunlongshan", t_behaviour="resting")
    response = await web.post(fields=chosen, page=page)
    assert response.status == 303
    code = ref_code(response.headers["Location"])
    named = rows(web_config.storage.database, "SELECT * FROM reports WHERE ref_code = ?", code)[0]
    assert named["latitude"] is None and named["place_id"] == "yunlongshan"
    async with web.client.get(response.headers["Location"]) as status:
        assert "no exact point" in await status.text()  # the status page says what was stored
    # Not chosen: the typed coordinates count.
    page = await web.form_at("/report/sighting?spot=yunlongshan&lang=en")
    response = await web.post(fields=sighting(spot="yunlongshan", t_behaviour="resting"), page=page)
    code = ref_code(response.headers["Location"])
    report = rows(web_config.storage.database, "SELECT details FROM reports WHERE ref_code = ?", code)[0]
    assert '"spot": "yunlongshan"' in report["details"]

    # "Somewhere else": the typed place counts; a poaching tip never records the spot.
    page = await web.form_at("/report?spot=yixing&lang=en")
    fields = {"location": "37.3296, 113.5702", "when": an_hour_ago(), "spot": "yixing", "place": "",
              "a_threat": "snares", "a_follow_up": "anonymous", "t_description": "on the ridge"}
    response = await web.post("tip", fields=fields, page=page)
    assert response.status == 303, await response.text()
    code = ref_code(response.headers["Location"])
    report = rows(web_config.storage.database, DETAILS, code)[0]
    assert "yixing" not in report["details"] and not report["place_name"]


# --- compensation on the web -------------------------------------------------------------------


async def test_a_web_livestock_owner_follows_the_compensation_case(tipline, web_config: Config) -> None:
    from bot.compensation import application_received, approve, pay, record_survey
    from bot.records import Review

    web = await tipline(safety={"hotline": "0354-1234567"})
    page = await web.form("livestock")
    assert "Phone number (optional)" in page and "Tap the button" not in page
    fields = {"location": "37.3296, 113.5702", "when": an_hour_ago(), "a_animal": "sheep", "t_killed": "2",
              "t_injured": "0", "a_penned": "free_ranging", "t_owner_name": "张三"}  # no phone
    response = await web.post("livestock", fields, [make_jpeg(seed=41)], page=page)
    assert response.status == 303, await response.text()
    code = ref_code(response.headers["Location"])
    store = web.client.app[TIPLINE].services.store
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    plan = web.client.app[TIPLINE].services.case_plan
    apply_due = plan.apply_due(today if an_hour_ago()[:10] == today.isoformat() else
                               today - timedelta(days=1))  # the loss was an hour ago

    async def status() -> str:
        async with web.client.get(response.headers["Location"]) as page:
            assert page.status == 200
            return await page.text()

    receipt = await status()
    # The receipt: what to bring by when, that a case follows, the safety advice with the hotline.
    assert "To apply, bring these to the Heshun county forestry bureau by" in receipt
    assert "the animals&#x27; ear tags" in receipt and str(apply_due.day) in receipt
    assert "free-ranging inside a nature reserve" in receipt and "0354-1234567" in receipt
    assert "opens a compensation case" in receipt

    report = rows(web_config.storage.database,
                  "SELECT id, incident_id, details FROM reports WHERE ref_code = ?", code)[0]
    assert '"phone": null' in report["details"]
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    assert await store.review_incident(report["incident_id"], Review.VERIFIED, 1, "Staff", None, now,
                                       compose=lambda state: [], cases=plan)
    case = await store.case_by_report_code(code)
    assert case is not None and case.phone is None
    page_text = await status()
    assert f"Case {case.code}:" in page_text and "Reported" in page_text and "⏳" in page_text

    for step in (
        lambda c: record_survey(c, today, "Officer Li", 2, 150_000, True, "bite marks"),
        lambda c: application_received(c, today),  # approval needs the application on record
        lambda c: approve(c, today, "Chief", None, plan),
        lambda c: pay(c, today, None),
    ):
        case = await store.change_case(case.id, 1, "Staff", now, step, cases=plan)
    page_text = await status()
    progress = page_text.split('<ol class="steps">')[1].split("</ol>")[0]
    assert progress.count('class="done"') == 4 and "1,500 yuan" in progress
    assert "To apply, bring these" not in page_text  # applied or decided: nothing left to bring


# --- without GPS: the village list and the county map --------------------------------------------


async def test_the_village_list_and_the_map_give_the_location_the_bot_would_store(
    tipline, web_config: Config
) -> None:
    from bot import locations
    from bot.web import county_map

    # Six stored reports from one address: more than the tests' usual limit of five an hour.
    web = await tipline(replace(SETTINGS, reports_per_hour=10))
    page = await web.form("signs", lang="zh_Hans")
    # Every township and village, grouped by township, searchable by Chinese names and pinyin.
    assert page.count("<optgroup") == 8 and page.count('data-keys="') == len(
        [p for p in locations.gazetteer() if p.kind in ("village", "county_seat", "town", "township")])
    assert 'data-keys="dongren dongrencun 东仁 东仁村"' in page and "东仁村" in page

    async def stored(fields: dict[str, str]) -> tuple[int, dict[str, Any] | str]:
        base = {"when": an_hour_ago(), "a_sign": "tracks", "a_note": "skip", "location": ""}
        response = await web.post("signs", {**base, **fields}, [make_jpeg(seed=len(str(fields)))])
        if response.status != 303:
            return response.status, await response.text()
        code = ref_code(response.headers["Location"])
        row = rows(web_config.storage.database, "SELECT latitude, longitude, accuracy_m, location_source, "
                   "place_name FROM reports WHERE ref_code = ?", code)[0]
        return 303, dict(row)

    # The list and the typed name are the same answer: the county seat's point, as the bot stores it.
    picked, typed = await stored({"village": "yixing"}), await stored({"location": "义兴镇"})
    assert picked[0] == 303 and picked == typed, (picked, typed)
    # A village without a point: the same as typing its name, a named place: no point.
    picked, typed = await stored({"village": "140723100200"}), await stored({"location": "东仁村"})
    assert picked[0] == 303 and picked == typed, (picked, typed)
    assert isinstance(picked[1], dict) and picked[1]["latitude"] is None
    assert picked[1]["location_source"] == "named_place" and picked[1]["place_name"] == "东仁村"

    # The plain form's map button: the page comes back with the tapped point, then it is stored.
    frame = county_map.frame()
    x, y = (v * county_map.SHOWN_WIDTH_PX / county_map.VIEW_WIDTH for v in frame.to_svg(37.40, 113.50))
    page = await web.form("signs")
    response = await web.post("signs", {"when": an_hour_ago(), "a_sign": "tracks", "a_note": "skip",
                                        "location": "", "map.x": str(round(x)), "map.y": str(round(y))},
                              [make_jpeg(seed=77)], page=page)
    assert response.status == 200
    again = await response.text()
    assert hidden(again, "source") == "map" and hidden(again, "kept")
    lat, lon = float(hidden(again, "latitude")), float(hidden(again, "longitude"))
    assert abs(lat - 37.40) < 0.01 and abs(lon - 113.50) < 0.01 and "± 5.8 km" in again
    fields = {n: hidden(again, n) for n in ("latitude", "longitude", "accuracy", "source")}
    response = await web.post("signs", {"when": an_hour_ago(), "a_sign": "tracks", "a_note": "skip",
                                        "location": f"{lat}, {lon}", **fields}, page=again)
    assert response.status == 303
    row = rows(web_config.storage.database, "SELECT * FROM reports WHERE ref_code = ?",
               ref_code(response.headers["Location"]))[0]
    assert row["location_source"] == "map" and row["accuracy_m"] == frame.tap_accuracy_m() == 5800
    assert (row["latitude"], row["longitude"]) == (lat, lon)

    # Enter in a text box "presses" the map at (0, 0): that is a send, not a tap in the corner.
    response = await web.post("signs", {"when": an_hour_ago(), "a_sign": "tracks", "a_note": "skip",
                                        "location": "37.3296, 113.5702", "map.x": "0", "map.y": "0"},
                              [make_jpeg(seed=78)])
    assert response.status == 303
    row = rows(web_config.storage.database, "SELECT * FROM reports WHERE ref_code = ?",
               ref_code(response.headers["Location"]))[0]
    assert row["location_source"] == "typed" and row["latitude"] == 37.3296

    async with web.client.get("/county.svg") as svg:
        assert svg.status == 200 and svg.content_type == "image/svg+xml"
        assert "<path d=\"M" in await svg.text() and "义兴镇" in await svg.text()
