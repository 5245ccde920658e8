"""Benchmark: the web tip line on a weak mobile signal, in a real Chromium (a script, not a test).

``python bench/bench_web_throttled.py [--quick]``

The real bot with its web server (``run_polling_with_web``) against the fake Bot API, and Debian's
Chromium driven by Playwright (``/usr/bin/chromium``; Playwright's own browser download is never
used) at a 360 px phone viewport. The network is throttled through the Chrome DevTools protocol
(``Network.emulateNetworkConditions``): 750 kbit/s up, 1.6 Mbit/s down, 300 ms round trip.

A sighting with two 4 MB phone photos (12 MP JPEGs with GPS and time in their EXIF):

* **plain form post** (JavaScript off: what the tip line did before, the photos sent as taken):
  time from the tap on Send to the reference code on screen — the "today" side (skipped by
  ``--quick``);
* **tip line script** (photos read for EXIF and shrunk to 2048 px, JPEG 0.85, while the form is
  filled in): time from the tap to the code (target <= 15 s), and the time the shrinking took
  after the photos were chosen;
* **offline**: the same report sent with no connection (kept on the phone), then the connection
  returns (same throttling): time from the connection returning to the code on screen (target
  <= 10 s).

Prints each figure with PASS/MISS and the ratio plain / script.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import logging
import re
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402 - after the sys.path tweak, so the script runs from anywhere
from PIL import Image  # noqa: E402
from PIL.TiffImagePlugin import IFDRational  # noqa: E402

from bot.config import Config, StorageSettings, TelegramSettings  # noqa: E402
from bot.fake_telegram import FakeTelegram  # noqa: E402
from bot.web.settings import WebSettings  # noqa: E402
from tests.kit import CODE, STAFF_ADMIN, STAFF_GROUP, start_fake  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
UP_BYTES_S = 750_000 / 8
DOWN_BYTES_S = 1_600_000 / 8
RTT_MS = 300
TZ = ZoneInfo("Asia/Shanghai")
TAP_TO_CODE_TARGET_S = 15.0
OFFLINE_TARGET_S = 10.0


def phone_photo(seed: int, target_bytes: int = 4_000_000) -> bytes:
    """A 12 MP photo-like JPEG of about `target_bytes` with GPS (in the county) and time in EXIF."""
    rng = np.random.default_rng(seed)
    width, height = 4000, 3000
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    phase = rng.uniform(0, 6.28, 3).astype(np.float32)
    arr = np.stack(np.broadcast_arrays(
        120 + 100 * np.sin(3 * x + 2 * y + phase[0]),
        120 + 100 * np.cos(2 * x - 3 * y + phase[1]),
        120 + 80 * np.sin(5 * x * y + phase[2]),
    ), axis=-1)
    arr += rng.normal(0, 10, arr.shape).astype(np.float32)  # sensor noise, as in a real photo
    image = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    exif = Image.Exif()
    taken = (datetime.now(TZ) - timedelta(hours=2)).strftime("%Y:%m:%d %H:%M:%S")
    exif[0x8769] = {0x9003: taken}

    def dms(value: float) -> tuple[IFDRational, ...]:
        d = int(value)
        m = int((value - d) * 60)
        return IFDRational(d), IFDRational(m), IFDRational(round((value - d - m / 60) * 3600 * 100), 100)

    exif[0x8825] = {1: "N", 2: dms(37.3296), 3: "E", 4: dms(113.5702)}
    quality, data = 90, b""
    while quality <= 98:
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality, exif=exif.tobytes())
        data = out.getvalue()
        if len(data) >= target_bytes:
            break
        quality += 1
    return data


@contextlib.asynccontextmanager
async def bot_with_web(tmp: Path) -> AsyncIterator[tuple[FakeTelegram, str]]:
    """The fake Bot API and the real bot with its web server, as `leopard-watch run` with [web]."""
    from handlers.app import build_application, start_running
    from handlers.web import run_polling_with_web, web_url

    fake = await start_fake(FakeTelegram())
    config = Config(
        bot_token=fake.token,
        telegram=TelegramSettings(moderation_chat_id=STAFF_GROUP, base_url=fake.base_url,
                                  base_file_url=fake.base_file_url, staff_user_ids=frozenset({STAFF_ADMIN})),
        storage=StorageSettings(database=tmp / "bot.sqlite3", media_dir=tmp / "media"),
        secret_key="bench-secret-0123456789abcdef",
    )
    settings = WebSettings(enabled=True, port=0, reports_per_hour=1000, posts_per_hour=1000)
    application = build_application(config)
    stop = asyncio.Event()
    task = await start_running(
        application, run_polling_with_web(application, stop, settings, poll_timeout=1), timeout=30
    )
    try:
        yield fake, web_url(application)
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
        await fake.stop()


def reports(tmp: Path) -> int:
    with sqlite3.connect(tmp / "bot.sqlite3") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM reports").fetchone()[0])


async def until_stored(tmp: Path, before: int) -> float:
    """When the database has one report more than `before` (perf_counter time)."""
    for _ in range(6000):  # the database has no change notification to wait on
        if reports(tmp) > before:
            break
        await asyncio.sleep(0.05)
    return time.perf_counter()


async def throttle(cdp: Any, *, offline: bool = False) -> None:
    await cdp.send("Network.emulateNetworkConditions", {
        "offline": offline, "latency": RTT_MS,
        "downloadThroughput": DOWN_BYTES_S, "uploadThroughput": UP_BYTES_S,
    })


async def fill(page: Any, base: str, photos: list[Path]) -> float:
    """Opens the sighting form and answers it as a person would (photos first); when they were chosen."""
    await page.goto(f"{base}/report/sighting?lang=en")
    chosen = time.perf_counter()
    await page.set_input_files("input[name=photo]", [str(p) for p in photos])
    await page.fill("#location", "37.3296, 113.5702")
    await page.get_by_label("2", exact=True).check()
    await page.get_by_label("No", exact=True).check()
    await page.get_by_label("Walking", exact=True).check()
    await page.get_by_label("50 to 200 m").check()
    return chosen


async def prepared(page: Any, began: float) -> tuple[float, list[int]]:
    """Seconds from choosing the photos until the script has read and shrunk them, and their sizes."""
    await page.wait_for_selector("form[data-prepared]", state="attached", timeout=120_000)
    elapsed = time.perf_counter() - began
    sizes = await page.locator("form#report").get_attribute("data-prepared") or ""
    return elapsed, [int(s) for s in sizes.split()]


async def run(quick: bool) -> list[tuple[str, str, str, bool | None]]:
    from playwright.async_api import async_playwright

    rows: list[tuple[str, str, str, bool | None]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        photos = []
        for seed in (1, 2):
            path = tmp / f"IMG_20261206_{seed:04d}.jpg"
            path.write_bytes(phone_photo(seed))
            photos.append(path)
        sizes = ", ".join(f"{p.stat().st_size / 1e6:.1f} MB" for p in photos)
        print(f"photos: {sizes}; network: {UP_BYTES_S * 8 / 1000:.0f} kbit/s up, "
              f"{DOWN_BYTES_S * 8 / 1000:.0f} kbit/s down, {RTT_MS} ms RTT", flush=True)
        async with bot_with_web(tmp) as (fake, base), async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)

            async def phone(javascript: bool = True) -> tuple[Any, Any, Any]:
                context = await browser.new_context(
                    locale="en-US", viewport={"width": 360, "height": 640}, is_mobile=True,
                    has_touch=True, java_script_enabled=javascript,
                )
                page = await context.new_page()
                page.set_default_timeout(300_000)
                cdp = await context.new_cdp_session(page)
                await cdp.send("Network.enable")
                return context, page, cdp

            plain_s: float | None = None
            if not quick:
                context, page, cdp = await phone(javascript=False)
                await fill(page, base, photos)
                await throttle(cdp)
                began = time.perf_counter()
                await page.get_by_role("button", name=re.compile("Send report")).click()
                await page.wait_for_selector("#ref-code")
                plain_s = time.perf_counter() - began
                code = (await page.locator("#ref-code").text_content() or "").strip()
                assert CODE.fullmatch(code), code
                rows.append(("plain form post (no script), tap to code", f"{plain_s:.1f} s", "(today)", None))
                await context.close()

            context, page, cdp = await phone()
            shrink_s, shrunk = await prepared(page, await fill(page, base, photos))
            await throttle(cdp)
            began = time.perf_counter()
            await page.get_by_role("button", name=re.compile("Send report")).click()
            progress: set[str] = set()
            while not await page.locator("#ref-code").count():
                with contextlib.suppress(Exception):
                    said = await page.locator("#progress").text_content(timeout=200)
                    if said:
                        progress.add(said)
                await asyncio.sleep(0.25)
            script_s = time.perf_counter() - began
            code = (await page.locator("#ref-code").text_content() or "").strip()
            assert CODE.fullmatch(code), code
            rows.append(("tip line script, tap to code", f"{script_s:.1f} s",
                         f"<= {TAP_TO_CODE_TARGET_S:.0f} s", script_s <= TAP_TO_CODE_TARGET_S))
            rows.append(("  reading EXIF + shrinking 2 photos after choosing them", f"{shrink_s:.1f} s",
                         "(info)", None))
            rows.append(("  photos as sent", " + ".join(f"{s / 1e3:.0f} kB" for s in shrunk), "(info)", None))
            examples = sorted(progress, key=lambda s: (len(s), s))
            print("progress shown: " + " | ".join(examples[:2] + examples[-2:]), flush=True)
            uploads = [c for c in fake.calls_to("sendPhoto") + fake.calls_to("sendMediaGroup")]
            print(f"staff card photos sent by the bot: {len(uploads)} call(s)", flush=True)
            await context.close()

            context, page, cdp = await phone()
            await prepared(page, await fill(page, base, photos))
            await throttle(cdp, offline=True)
            await page.get_by_role("button", name=re.compile("Send report")).click()
            await page.wait_for_selector("#saved-offline")
            saved = await page.locator("#saved-offline").text_content()
            await asyncio.sleep(3)  # some time without signal
            before = reports(tmp)
            await throttle(cdp)
            began = time.perf_counter()
            stored = asyncio.create_task(until_stored(tmp, before))
            await page.wait_for_selector("#sent-code", timeout=120_000)
            offline_s = time.perf_counter() - began
            stored_s = await stored - began
            code = (await page.locator("#sent-code").text_content() or "").strip()
            assert CODE.fullmatch(code), code
            print(f"offline page said: {saved!r}", flush=True)
            rows.append(("offline report: connection back to stored", f"{stored_s:.1f} s",
                         f"<= {OFFLINE_TARGET_S:.0f} s", stored_s <= OFFLINE_TARGET_S))
            rows.append(("offline report: connection back to code on screen", f"{offline_s:.1f} s",
                         f"<= {OFFLINE_TARGET_S:.0f} s", offline_s <= OFFLINE_TARGET_S))
            upload_s = sum(shrunk) / UP_BYTES_S
            rows.append(("  of which the photos' bytes at 750 kbit/s alone", f"{upload_s:.1f} s", "(info)",
                         None))
            await context.close()
            await browser.close()
            if plain_s is not None:
                rows.append(("ratio plain / script", f"{plain_s / script_s:.1f}x", "(info)", None))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the slow plain-form-post run")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit("needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    logging.basicConfig(level=logging.WARNING)
    rows = asyncio.run(run(args.quick))
    width = max(len(r[0]) for r in rows)
    for name, value, target, ok in rows:
        verdict = "" if ok is None else ("PASS" if ok else "MISS")
        print(f"{name:<{width}}  {value:>8}  {target:>8}  {verdict}")
    for name, value, target, ok in rows:  # for bench/run_all.py
        print("ROW\t" + "\t".join((name.strip(), value, target, "" if ok is None else str(ok))))


if __name__ == "__main__":
    main()
