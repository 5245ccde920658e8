"""The tip line in a real headless Chromium: choose a kind, attach a photo, type coordinates, send.

Uses Debian's chromium (``apt-get install chromium``) driven by Playwright for Python at that
binary; Playwright's own browser download is never used. Skipped when either is missing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import Config
from bot.fake_telegram import FakeTelegram
from handlers.web import web_url
from tests.conftest import make_jpeg
from tests.test_web import CODE, bot_with_web, rows, staff_card, web_config  # noqa: F401 (fixture)

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

async_api = pytest.importorskip("playwright.async_api", reason="pip install playwright (no browser download)")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
)


async def test_report_from_a_phone_browser(fake: FakeTelegram, web_config: Config, tmp_path: Path) -> None:  # noqa: F811
    photo = tmp_path / "leopard.jpg"
    photo.write_bytes(make_jpeg(seed=21))
    async with bot_with_web(web_config) as application, async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = await browser.new_context(
                locale="en-US", viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
            )
            page = await context.new_page()
            page.set_default_timeout(15_000)
            await page.goto(f"{web_url(application)}/")
            await page.get_by_role("link", name=re.compile("Leopard sighting")).click()
            await page.wait_for_selector("form#report")
            await page.set_input_files("input[name=photo]", str(photo))
            await page.fill("#location", "37.3296, 113.5702")
            await page.get_by_label("2", exact=True).check()
            await page.get_by_label("No", exact=True).check()
            await page.get_by_label("Walking", exact=True).check()
            await page.get_by_label("50 to 200 m").check()
            await page.get_by_role("button", name=re.compile("Send report")).click()
            code = (await page.locator("#ref-code").text_content() or "").strip()
            assert CODE.fullmatch(code), await page.content()
            assert "waiting for staff" in await page.locator("#status").inner_text()
            assert f"/r/{code}/" in await page.locator(".link a").inner_text()  # the private link
        finally:
            await browser.close()
        card = await staff_card(fake, code)
        assert "37.32960, 113.57020" in card and "🌐" in card
        await fake.wait_for_call("sendPhoto")
        report = rows(web_config.database_path, "SELECT * FROM reports WHERE ref_code = ?", code)[0]
        assert report["kind"] == "sighting" and report["language"] == "en"
        assert (
            rows(
                web_config.database_path, "SELECT COUNT(*) AS n FROM photos WHERE report_id = ?", report["id"]
            )[0]["n"]
            == 1
        )
