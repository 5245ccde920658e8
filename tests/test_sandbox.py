"""The sandbox: its JSON API drives the real bot through the fake Bot API.

The page's API is used exactly as the page uses it; what happens behind it is the real application
(`build_application` + `run_bot`) against `FakeTelegram`, writing the configured SQLite database.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.fake_telegram.ratelimit import RateLimits
from bot.sandbox.app import SANDBOX, make_sandbox_app
from bot.sandbox.render import entities_to_html
from bot.sandbox.world import COMPENSATION_GROUP, PUBLIC, RESEARCHERS, SandboxSettings
from tests.kit import CODE, make_jpeg

HEADERS = {"X-Sandbox": "1"}
GROUP = -1005550000001
FAST = RateLimits(private_burst=20, private_per_second=20)


def sandbox_toml(tmp_path: Path, staff: str = "en") -> Path:
    """A configuration file as an operator would write it (no token: the sandbox brings the fake's)."""
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[telegram]
moderation_chat_id = {GROUP}

[storage]
database = "state/sandbox.sqlite3"
media_dir = "state/media"

[languages]
staff = "{staff}"

[moderation]
undo_seconds = 1
""",
        encoding="utf-8",
    )
    return path


async def open_sandbox(tmp_path: Path, **settings: Any) -> TestClient[Any, Any]:
    settings = {"config_path": sandbox_toml(tmp_path), "rate_limits": FAST, "poll_timeout": 1, **settings}
    client = TestClient(TestServer(make_sandbox_app(SandboxSettings(**settings))))
    await client.start_server()
    return client


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    client = await open_sandbox(tmp_path)
    yield client
    await client.close()


async def get_state(client: TestClient[Any, Any]) -> dict[str, Any]:
    response = await client.get("/api/state")
    assert response.status == 200, await response.text()
    return await response.json()


async def until(
    client: TestClient[Any, Any], found: Callable[[dict[str, Any]], Any], what: str, seconds: float = 10
) -> Any:
    """Polls the state like the page does until `found(state)` is truthy; returns that value."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        state = await get_state(client)
        value = found(state)
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            texts = [m.get("html") for m in state["resident"]["messages"][-4:]]
            staff = [m.get("html", "")[:80] for m in state["staff"]["messages"][-3:]]
            raise AssertionError(f"timed out waiting for {what}; resident: {texts}; staff: {staff}")
        await asyncio.sleep(0.1)


def bot_says(text: str, after: int = 0) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    def found(state: dict[str, Any]) -> dict[str, Any] | None:
        for m in reversed(state["resident"]["messages"]):
            if m["id"] > after and m["by_bot"] and text in (m.get("html") or ""):
                return m
        return None

    return found


async def post(client: TestClient[Any, Any], path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=HEADERS)
    answer = await response.json()
    assert response.status == 200 and answer["ok"], answer
    return answer


async def say(client: TestClient[Any, Any], text: str, expect: str) -> dict[str, Any]:
    sent = await post(client, "/api/text", {"text": text})
    return await until(client, bot_says(expect, sent["message_id"]), f"{expect!r} after {text!r}")


async def tap(client: TestClient[Any, Any], label: str, expect: str | None = None) -> dict[str, Any]:
    """Taps `label` on the resident's reply keyboard, else the newest inline button containing it
    (waiting a little for it: under load the previous answer's reply may not be there yet)."""
    for _ in range(50):
        state = await get_state(client)
        keyboard = state["resident"]["reply_keyboard"] or []
        inline = [b for m in state["resident"]["messages"] for row in m.get("buttons", []) for b in row]
        keys = [b for row in keyboard for b in row]
        if any(label in b["text"] for b in keys + inline):
            break
        await asyncio.sleep(0.1)
    keyboard = state["resident"]["reply_keyboard"] or []
    keys = [b["text"] for row in keyboard for b in row if b["kind"] == "text"]
    key = next((k for k in keys if k == label), None) or next((k for k in keys if label in k), None)
    if key is not None:
        sent = await post(client, "/api/reply_button", {"text": key})
        if expect is None:
            return sent
        return await until(client, bot_says(expect, sent["message_id"]), f"{expect!r} after tapping {key!r}")
    for m in reversed(state["resident"]["messages"]):
        for row in m.get("buttons", []):
            for b in row:
                if label in b["text"]:
                    await post(
                        client, "/api/press", {"chat": "resident", "message_id": m["id"], "data": b["data"]}
                    )
                    if expect is None:
                        return m
                    return await until(
                        client, bot_says(expect, m["id"]), f"{expect!r} after tapping {label!r}"
                    )
    raise AssertionError(f"no button {label!r}")


async def upload(
    client: TestClient[Any, Any], data: bytes, name: str = "leopard.jpg", **fields: str
) -> list[int]:
    form = aiohttp.FormData()
    form.add_field("photo", data, filename=name, content_type="image/jpeg")
    for key, value in fields.items():
        form.add_field(key, value)
    response = await client.post("/api/photo", data=form, headers=HEADERS)
    answer = await response.json()
    assert response.status == 200 and answer["ok"], answer
    return answer["message_ids"]


async def report_sighting(client: TestClient[Any, Any]) -> str:
    """A whole sighting through the page's API: menu, photo, map point, answers, send."""
    await post(client, "/api/language", {"language": "en"})
    await say(client, "/start", "What do you want to report?")
    await tap(client, "I saw a leopard", "photos")
    [photo_id] = await upload(client, make_jpeg(seed=5))
    await until(client, bot_says("Got 1 photo", photo_id), "the photo receipt")
    where = await tap(client, "Done", "Where was it")
    state = await get_state(client)
    keyboard = state["resident"]["reply_keyboard"]
    location = next(b for row in keyboard for b in row if b["kind"] == "location")
    await post(client, "/api/reply_button", {"text": location["text"], "lat": 37.3296, "lon": 113.5702})
    await until(client, bot_says("When did you see it", where["id"]), "the time question")
    await tap(client, "Just now", "How many")
    # Each answer waits for the next question: the bot paces a person's chat to Telegram's real
    # limit (about one message a second after a short burst), as the sandbox's fake enforces it.
    for label, then in (
        ("1", "cubs"),
        ("Not sure", "What was it doing"),
        ("Resting", "How far"),
        ("Over 1 km", "Please check your report"),
    ):
        await tap(client, label, then)
    receipt = await tap(client, "Send report", "Reference code")
    return CODE.search(receipt["html"]).group(0)


def staff_card(code: str, contains: str = "") -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    def found(state: dict[str, Any]) -> dict[str, Any] | None:
        for m in reversed(state["staff"]["messages"]):
            text = m.get("html") or ""
            if code in text and "Incident" in text and contains in text and m.get("buttons"):
                return m
        return None

    return found


def rows(db: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# ---- the API ------------------------------------------------------------------------------------


async def test_state_map_and_guard(sandbox: TestClient[Any, Any], tmp_path: Path) -> None:
    state = await get_state(sandbox)
    assert state["staff"]["id"] == GROUP and state["staff"]["messages"] == []
    # The sandbox's compensation cases go to its own compensation group (a group, not a channel).
    assert [(c["id"], c["trusted"]) for c in state["channels"]] == [
        (RESEARCHERS, True), (PUBLIC, False), (COMPENSATION_GROUP, True)
    ]
    resident = state["resident"]
    assert resident["messages"] == [] and resident["reply_keyboard"] is None
    assert resident["language"] == "zh" and resident["language_code"] == "zh-hans"
    assert any(c["command"] == "start" for c in resident["commands"])  # set by the bot's post_init
    assert Path(state["database"]) == tmp_path / "state" / "sandbox.sqlite3"

    area = await (await sandbox.get("/api/map")).json()
    box = area["bbox"]
    assert (
        box["south"] < area["centre"]["lat"] < box["north"]
        and box["west"] < area["centre"]["lon"] < box["east"]
    )
    assert area["polygons"] and any(p["kind"] == "county_seat" for p in area["places"])

    page = await sandbox.get("/")
    assert page.status == 200 and "sandbox.js" in await page.text()
    assert (await sandbox.get("/static/sandbox.js")).status == 200

    # A cross-site form cannot set the header: refused before anything reaches the fake.
    refused = await sandbox.post("/api/text", json={"text": "/start"})
    assert refused.status == 403
    # Something a Telegram app cannot do is answered as a JSON error the page shows.
    gone = await sandbox.post(
        "/api/press", json={"chat": "staff", "message_id": 99, "data": "x"}, headers=HEADERS
    )
    assert gone.status == 409 and "99" in (await gone.json())["error"]

    # Chinese by default; the switch changes the resident's Telegram language before the first chat.
    await post(sandbox, "/api/language", {"language": "en"})
    menu = await say(sandbox, "/start", "What do you want to report?")
    assert any("I saw a leopard" in b["text"] for row in menu["buttons"] for b in row)


async def test_text_location_and_photo_reach_the_bot(sandbox: TestClient[Any, Any]) -> None:
    await post(sandbox, "/api/language", {"language": "en"})
    await say(sandbox, "/start", "What do you want to report?")
    await tap(sandbox, "Tracks, scat", "photos")
    ids = await upload(sandbox, make_jpeg(seed=7), caption="paw prints by the stream")
    await until(sandbox, bot_says("Got 1 photo", ids[0]), "the photo receipt")
    state = await get_state(sandbox)
    mine = next(m for m in state["resident"]["messages"] if m["id"] == ids[0])
    assert mine["photo"] and not mine["by_bot"] and "paw prints" in mine["html"]
    image = await sandbox.get(f"/api/file/{mine['photo']['file_id']}")
    assert image.status == 200 and image.content_type == "image/jpeg"
    # "Send as file" keeps the original (and its EXIF), as a document.
    [as_file] = await upload(sandbox, make_jpeg(seed=8), name="IMG_0001.jpg", as_file="1")
    await until(sandbox, bot_says("Got 2 photos", as_file), "the second photo receipt")
    state = await get_state(sandbox)
    document = next(m for m in state["resident"]["messages"] if m["id"] == as_file)["document"]
    assert document["name"] == "IMG_0001.jpg" and document["mime"] == "image/jpeg"
    where = await tap(sandbox, "Done", "Where was it")
    # A point from the map (or typed into the lat/lon fields) is shared as a Telegram location.
    sent = await post(sandbox, "/api/location", {"lat": 37.3296, "lon": 113.5702})
    await until(sandbox, bot_says("When did you see it", sent["message_id"]), "the time question")
    assert where["id"] < sent["message_id"]
    state = await get_state(sandbox)
    shared = next(m for m in state["resident"]["messages"] if m["id"] == sent["message_id"])
    assert shared["location"] == {"lat": 37.3296, "lon": 113.5702, "live": False}
    # /cancel ends the draft; plain text outside a report gets the bot's hint.
    await say(sandbox, "/cancel", "")
    await asyncio.sleep(0.3)
    reply = await say(sandbox, "hello", "/start")
    assert 'class="cmd"' in reply["html"]  # tappable, as in Telegram's apps


async def test_full_report_becomes_a_card_and_staff_verify(
    sandbox: TestClient[Any, Any], tmp_path: Path
) -> None:
    code = await report_sighting(sandbox)
    card = await until(sandbox, staff_card(code), "the staff card")
    verify = next(b for row in card["buttons"] for b in row if "Verify" in b["text"])
    pressed = await post(
        sandbox, "/api/press", {"chat": "staff", "message_id": card["id"], "data": verify["data"]}
    )
    assert pressed["answer"] == {"text": "Done. Nothing is sent for 1 s: Undo is on the card."}
    await until(sandbox, staff_card(code, "Verified by"), "the verified card")

    def posted(channel: int) -> Callable[[dict[str, Any]], Any]:
        return lambda s: [m for c in s["channels"] if c["id"] == channel for m in c["messages"]]

    trusted = await until(sandbox, posted(RESEARCHERS), "the researchers' post")
    public = await until(sandbox, posted(PUBLIC), "the public post")
    assert any(code in (m.get("html") or "") for m in trusted)
    assert not any("37.3296" in (m.get("html") or "") for m in public)  # the public gets the grid cell
    await until(sandbox, bot_says("was confirmed"), "the reporter's notice")
    db = tmp_path / "state" / "sandbox.sqlite3"
    assert rows(db, "SELECT kind FROM reports WHERE ref_code = ?", code) == [("sighting",)]
    assert rows(db, "SELECT action, staff_id FROM audit_log WHERE action = 'verified'") == [
        ("verified", sandbox.server.app[SANDBOX].staff)
    ]


def test_entities_become_safe_html() -> None:
    text = "<b>x</b> 🐆 bold /start link"
    entities = [
        {"type": "bold", "offset": 12, "length": 4},  # after the emoji (2 UTF-16 units)
        {"type": "text_link", "offset": 24, "length": 4, "url": "javascript:alert(1)"},
    ]
    out = entities_to_html(text, entities)
    assert out.startswith("&lt;b&gt;x&lt;/b&gt; 🐆 <b>bold</b> ")
    assert '<a href="#" class="cmd" data-cmd="/start">/start</a>' in out
    assert "javascript" not in out.split('title="')[0] and '<a href="javascript' not in out
    nested = entities_to_html(
        "abcdef", [{"type": "bold", "offset": 0, "length": 4}, {"type": "italic", "offset": 2, "length": 4}]
    )
    assert nested == "<b>ab<i>cd</i></b><i>ef</i>"


# ---- the command line ---------------------------------------------------------------------------


def test_run_without_token_starts_the_sandbox(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(tmp_path)}
    process = subprocess.Popen(
        # 127.0.0.2 is this computer too: a LAN address would be given the same way.
        [sys.executable, "-m", "bot", "run", "--sandbox-port", "0", "--sandbox-host", "127.0.0.2"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "BOT_TOKEN is not set" in first and "sandbox" in first and "--no-sandbox" in first
        line = process.stdout.readline()
        match = re.fullmatch(r"Sandbox: open (http://127\.0\.0\.2:(\d+)/)\n", line)
        assert match, line + (process.stderr.read() if process.poll() is not None and process.stderr else "")
        with urllib.request.urlopen(match.group(1) + "api/state", timeout=10) as response:
            state = json.loads(response.read())
        assert "resident" in state
        announced = process.stdout.readline()
        tipline = re.fullmatch(r"Sandbox web tip line: (http://127\.0\.0\.2:(\d+)/)\n", announced)
        assert tipline and int(tipline.group(2)) == state["tipline_port"]
        with urllib.request.urlopen(tipline.group(1) + "report/sighting?lang=en", timeout=10) as response:
            assert b'name="csrf"' in response.read()  # the web tip line, beside the sandbox
        assert (tmp_path / "sandbox-data" / "leopard-watch.sqlite3").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr


def test_taken_port_is_one_line(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(tmp_path)}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "bot", "run", "--sandbox-port", str(port)],
            cwd=tmp_path,
            env={**env, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"leopard-watch: sandbox: cannot listen on 127.0.0.1:{port} (Address already in use); "
        "choose another port with --sandbox-port (or another address with --sandbox-host)"
    ]
    assert not (tmp_path / "sandbox-data").exists()
