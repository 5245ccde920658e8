"""The tip line in a real headless Chromium: choose a kind, attach a photo, type coordinates, send.

Uses Debian's chromium (``apt-get install chromium``) driven by Playwright for Python at that
binary; Playwright's own browser download is never used. Skipped when either is missing.
"""

from __future__ import annotations

import asyncio
import io
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config import Config
from bot.fake_telegram import FakeTelegram
from handlers.web import web_url
from tests.kit import CODE, make_jpeg
from tests.test_web import bot_with_web, rows, staff_card, web_config  # noqa: F401 (fixture)

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
        report = rows(web_config.storage.database, "SELECT * FROM reports WHERE ref_code = ?", code)[0]
        assert report["kind"] == "sighting" and report["language"] == "en"
        assert (
            rows(
                web_config.storage.database,
                "SELECT COUNT(*) AS n FROM photos WHERE report_id = ?",
                report["id"],
            )[0]["n"]
            == 1
        )


# --- weak signal -------------------------------------------------------------------------------


def gps_photo(path: Path, width: int = 3000, height: int = 2000) -> None:
    """A phone-like JPEG bigger than 2048 px with GPS (in the county) and the time it was taken."""
    from PIL import Image
    from PIL.TiffImagePlugin import IFDRational

    image = Image.open(io.BytesIO(make_jpeg(width, height, seed=33)))
    exif = Image.Exif()
    exif[0x8769] = {0x9003: TAKEN.strftime("%Y:%m:%d %H:%M:%S")}
    exif[0x8825] = {1: "N", 2: (IFDRational(37), IFDRational(19), IFDRational(4656, 100)),
                    3: "E", 4: (IFDRational(113), IFDRational(34), IFDRational(1272, 100))}
    image.save(path, "JPEG", quality=95, exif=exif.tobytes())


TAKEN = datetime.now(ZoneInfo("Asia/Shanghai")).replace(second=0, microsecond=0) - timedelta(hours=3)


async def phone(playwright: Any, **options: Any) -> tuple[Any, Any]:
    browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
    settings = {"locale": "en-US", "viewport": {"width": 360, "height": 640}, "is_mobile": True,
                "has_touch": True, **options}
    context = await browser.new_context(**settings)
    return browser, context


async def answer_sighting(page: Any) -> None:
    await page.get_by_label("2", exact=True).check()
    await page.get_by_label("No", exact=True).check()
    await page.get_by_label("Walking", exact=True).check()
    await page.get_by_label("50 to 200 m").check()


async def test_photos_are_shrunk_and_their_place_and_time_offered(
    fake: FakeTelegram, web_config: Config, tmp_path: Path  # noqa: F811
) -> None:
    photo = tmp_path / "IMG_0001.jpg"
    gps_photo(photo)
    async with bot_with_web(web_config) as application, async_api.async_playwright() as playwright:
        browser, context = await phone(playwright)
        try:
            page = await context.new_page()
            page.set_default_timeout(20_000)
            await page.goto(f"{web_url(application)}/report/sighting?lang=en")
            await page.set_input_files("input[name=photo]", str(photo))
            await page.wait_for_selector("form[data-prepared]", state="attached")
            offers = page.locator("#photo-offers button")
            assert await offers.count() == 2
            place_offer = await offers.nth(0).inner_text()
            assert "37.32960, 113.57020" in place_offer
            assert await page.input_value("#location") == ""  # offered, not applied
            await offers.nth(0).click()  # the place in the photo
            assert await page.input_value("#location") == "37.32960, 113.57020"
            await page.locator("#photo-offers button").nth(0).click()  # its time
            assert await page.input_value("input[name=when]") == TAKEN.strftime("%Y-%m-%dT%H:%M")
            await answer_sighting(page)

            # The form is kept in the tab: a reload (or Back) brings the answers back.
            await page.reload()
            assert await page.input_value("#location") == "37.32960, 113.57020"
            assert await page.get_by_label("Walking", exact=True).is_checked()
            await page.set_input_files("input[name=photo]", str(photo))
            await page.wait_for_selector("form[data-prepared]", state="attached")

            send = page.get_by_role("button", name=re.compile("Send report"))
            await send.click()
            code = (await page.locator("#ref-code").text_content() or "").strip()
            assert CODE.fullmatch(code), await page.content()
        finally:
            await browser.close()
        report = rows(web_config.storage.database, "SELECT * FROM reports WHERE ref_code = ?", code)[0]
        assert report["location_source"] == "exif"
        assert abs(report["latitude"] - 37.3296) < 1e-4 and abs(report["longitude"] - 113.5702) < 1e-4
        assert TAKEN.strftime("%Y-%m-%dT%H:%M") in report["observed_at"]
        stored = rows(web_config.storage.database, "SELECT * FROM photos WHERE report_id = ?", report["id"])
        assert len(stored) == 1
        from PIL import Image

        with Image.open(stored[0]["original_path"]) as original:
            assert max(original.size) == 2048  # shrunk in the browser before it was sent


async def test_a_report_sent_without_signal_is_kept_and_sent_when_it_returns(
    fake: FakeTelegram, web_config: Config, tmp_path: Path  # noqa: F811
) -> None:
    photo = tmp_path / "leopard.jpg"
    photo.write_bytes(make_jpeg(seed=34))
    async with bot_with_web(web_config) as application, async_api.async_playwright() as playwright:
        browser, context = await phone(playwright, locale="zh-CN")
        try:
            page = await context.new_page()
            page.set_default_timeout(20_000)
            cdp = await context.new_cdp_session(page)
            await cdp.send("Network.enable")
            await page.goto(f"{web_url(application)}/report/sighting?lang=zh_Hans")
            await page.set_input_files("input[name=photo]", str(photo))
            await page.fill("#location", "37.3296, 113.5702")
            for label in ("2", "没有", "在走动", "50到200米"):
                await page.get_by_label(label, exact=True).check()
            await page.wait_for_selector("form[data-prepared]", state="attached")
            conditions = {"latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
            await cdp.send("Network.emulateNetworkConditions", {"offline": True, **conditions})
            await page.get_by_role("button", name=re.compile("提交")).click()
            saved = await page.locator("#saved-offline").inner_text()
            assert "保存好了，有信号时会自动发送" in saved
            await asyncio.sleep(1)
            assert rows(web_config.storage.database, "SELECT COUNT(*) AS n FROM reports")[0]["n"] == 0

            await cdp.send("Network.emulateNetworkConditions", {"offline": False, **conditions})
            code = (await page.locator("#sent-code").inner_text()).strip()
            assert CODE.fullmatch(code)
            assert "已经发出去了" in await page.locator(".sent-later").inner_text()
        finally:
            await browser.close()
        assert rows(web_config.storage.database, "SELECT kind FROM reports WHERE ref_code = ?", code)
        await staff_card(fake, code)


async def test_without_javascript_the_plain_form_still_works(
    fake: FakeTelegram, web_config: Config, tmp_path: Path  # noqa: F811
) -> None:
    photo = tmp_path / "leopard.jpg"
    photo.write_bytes(make_jpeg(seed=35))
    async with bot_with_web(web_config) as application, async_api.async_playwright() as playwright:
        browser, context = await phone(playwright, java_script_enabled=False)
        try:
            page = await context.new_page()
            page.set_default_timeout(20_000)
            await page.goto(f"{web_url(application)}/?lang=en")
            await page.get_by_role("link", name=re.compile("Leopard sighting")).click()
            await page.set_input_files("input[name=photo]", str(photo))
            await page.fill("#location", "37.3296, 113.5702")
            await answer_sighting(page)
            await page.get_by_role("button", name=re.compile("Send report")).click()
            code = (await page.locator("#ref-code").text_content() or "").strip()
            assert CODE.fullmatch(code), await page.content()
        finally:
            await browser.close()
        await staff_card(fake, code)


# --- the phones people have --------------------------------------------------------------------

TAP_TARGETS = """() => {
  const small = [];
  const targets = 'a, button, summary, label.choice, input:not([type=hidden]):not([type=radio]), textarea';
  for (const el of document.querySelectorAll(targets)) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || el.hidden) continue;
    const what = (el.textContent || el.name || '').trim().slice(0, 30);
    if (box.height < 44 || box.width < 44) small.push(`${el.tagName} ${what} ${box.width}x${box.height}`);
  }
  return small;
}"""


@pytest.mark.parametrize("text_size", [16, 32])  # the browser's default and its 200 % larger text
async def test_pages_fit_a_small_phone_with_large_text_and_big_tap_targets(
    fake: FakeTelegram, web_config: Config, tmp_path: Path, text_size: int  # noqa: F811
) -> None:
    async with bot_with_web(web_config) as application, async_api.async_playwright() as playwright:
        browser, context = await phone(playwright, locale="zh-CN")
        try:
            page = await context.new_page()
            cdp = await context.new_cdp_session(page)
            await cdp.send("Page.enable")
            await cdp.send("Page.setFontSizes", {"fontSizes": {"standard": text_size, "fixed": text_size}})
            base = web_url(application)
            paths = ["/?lang=zh_Hans&spot=yixing", *(f"/report/{k}?lang=zh_Hans" for k in
                                                      ("sighting", "livestock", "signs")),
                     "/report?lang=zh_Hans"]  # the poaching tip's neutral address
            for path in paths:
                await page.goto(base + path)
                # The village list, the county map and the contact box open too.
                await page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
                assert await page.evaluate("document.documentElement.scrollWidth") <= 360, path
                assert await page.evaluate(TAP_TARGETS) == [], path
            # A form with problems, and a status page with its long private link.
            await page.goto(base + "/report/livestock?lang=zh_Hans")
            await page.get_by_role("button", name=re.compile("提交")).click()
            await page.wait_for_selector(".error")
            assert await page.evaluate("document.documentElement.scrollWidth") <= 360
            assert await page.evaluate(TAP_TARGETS) == []
        finally:
            await browser.close()


async def test_without_gps_a_village_is_found_by_pinyin_and_the_map_is_tapped(
    fake: FakeTelegram, web_config: Config, tmp_path: Path  # noqa: F811
) -> None:
    from bot.web import county_map

    photo = tmp_path / "leopard.jpg"
    photo.write_bytes(make_jpeg(seed=36))
    async with bot_with_web(web_config) as application, async_api.async_playwright() as playwright:
        browser, context = await phone(playwright)
        try:
            page = await context.new_page()
            page.set_default_timeout(20_000)
            await page.goto(f"{web_url(application)}/report/sighting?lang=en")
            await page.get_by_text("Choose your village").click()
            await page.fill("#village-filter", "Dōng Rén")  # pinyin with tones and a space
            assert await page.input_value("#village") == "140723100200"  # 东仁村, the only match
            await page.fill("#village-filter", "义兴")
            assert await page.locator("#village option:not([hidden])").count() >= 1

            # The map instead: a tap where 37.40 N, 113.50 E is drawn.
            await page.get_by_text("Tap the place on the county map").click()
            box = await page.locator("#county-map").bounding_box()
            assert box is not None and round(box["width"]) == county_map.SHOWN_WIDTH_PX
            x, y = county_map.frame().to_svg(37.40, 113.50)
            scale = box["width"] / county_map.VIEW_WIDTH
            await page.mouse.click(box["x"] + x * scale, box["y"] + y * scale)
            assert await page.locator("#map-marker").is_visible()
            assert "± 5.8 km" in await page.locator("#map-status").inner_text()
            assert await page.input_value("#village") == ""  # the tap replaced the village

            await page.set_input_files("input[name=photo]", str(photo))
            await answer_sighting(page)
            await page.get_by_role("button", name=re.compile("Send report")).click()
            code = (await page.locator("#ref-code").text_content() or "").strip()
            assert CODE.fullmatch(code), await page.content()
        finally:
            await browser.close()
        report = rows(web_config.storage.database, "SELECT * FROM reports WHERE ref_code = ?", code)[0]
        assert report["location_source"] == "map" and report["accuracy_m"] == 5800
        assert abs(report["latitude"] - 37.40) < 0.005 and abs(report["longitude"] - 113.50) < 0.005
