"""The sandbox page in a real headless Chromium: a resident reports, a staff member verifies.

Uses Debian's chromium (``apt-get install chromium``) driven by Playwright for Python at that binary;
Playwright's own browser download is never used. Skipped when either is missing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.kit import CODE, make_jpeg
from tests.test_sandbox import open_sandbox
from tests.test_web_browser import ARGS, CHROMIUM

async_api = pytest.importorskip("playwright.async_api", reason="pip install playwright (no browser download)")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
)
SCREENSHOT = Path("/tmp/leopard-watch-sandbox.png")


async def test_resident_reports_and_staff_verify_in_the_browser(tmp_path: Path) -> None:
    photo = tmp_path / "leopard.jpg"
    photo.write_bytes(make_jpeg(seed=31))
    client = await open_sandbox(tmp_path)
    try:
        async with async_api.async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                context = await browser.new_context(locale="en-US", viewport={"width": 1440, "height": 900})
                page = await context.new_page()
                page.set_default_timeout(15_000)
                await page.goto(str(client.make_url("/")))
                resident = page.locator("#resident-messages")
                # The resident's Telegram speaks English; the page's own labels follow the browser.
                await page.get_by_role("button", name="English", exact=True).click()
                await page.wait_for_selector("#resident-lang button.on[data-lang=en]")
                await page.locator("#menu-button").click()
                await page.locator("#commands button[data-command=start]").click()
                await resident.get_by_role("button", name=re.compile("I saw a leopard")).click()
                keyboard = page.locator("#reply-keyboard")
                await keyboard.get_by_role("button", name="No photo").wait_for()
                await page.set_input_files("#photo-input", str(photo))
                await resident.locator(".msg.out .photo img").wait_for()
                await keyboard.get_by_role("button", name="Done", exact=True).click()
                # The bot asks for a location: the map opens with the location keyboard.
                await page.locator("#mapbox").wait_for(state="visible")
                box = await page.locator("#map").bounding_box()
                assert box is not None
                await page.locator("#map").click(
                    position={"x": box["width"] * 0.55, "y": box["height"] * 0.5}
                )
                lat, lon = float(await page.input_value("#lat")), float(await page.input_value("#lon"))
                assert 37.05 < lat < 37.62 and 113.05 < lon < 113.98, (lat, lon)
                await page.locator("#reply-keyboard button.location").click()
                await resident.locator(".msg.out .loc").wait_for()
                for label in ("Just now", "1", "Not sure", "Resting", "Over 1 km"):
                    asked = await resident.locator(".msg.bot").count()
                    await keyboard.get_by_role("button", name=label, exact=True).click()
                    # Each question brings its own keyboard: wait for it before answering.
                    await resident.locator(".msg.bot").nth(asked).wait_for()
                await keyboard.get_by_role("button", name=re.compile("Send report")).click()
                receipt = resident.locator(".msg.bot", has_text="Reference code").last
                code = CODE.search(await receipt.inner_text()).group(0)  # type: ignore[union-attr]
                assert f"{lat:.5f}" in await resident.inner_text()

                staff = page.locator("#staff-messages")
                card = staff.locator(".msg", has_text=code).filter(
                    has=page.get_by_role("button", name="Verify")
                )
                await card.get_by_role("button", name="Verify").click()
                await staff.locator(".msg", has_text="Verified").first.wait_for()
                await page.locator("#toast", has_text="Done.").wait_for()
                await page.locator(".channel .msg", has_text=code).first.wait_for()
                await resident.locator(".msg.bot", has_text="was confirmed").wait_for()
                await page.screenshot(path=str(SCREENSHOT))
            finally:
                await browser.close()
    finally:
        await client.close()
