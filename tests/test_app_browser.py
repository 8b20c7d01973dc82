"""End to end: ``recip app`` in a subprocess, driven in headless Chromium through Playwright.

Skipped when /usr/bin/chromium (or Playwright) is missing, unless RECIP_REQUIRE_BROWSER=1.
Screenshots go to a temporary folder (never the work tree); the server is stopped (and its whole
process group killed if it lingers) when the module ends, pass or fail.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from sim.config import load_scenario
from sim.paths import viz_dir

sys.path.insert(0, str(viz_dir()))
import harness

pytestmark = pytest.mark.browser

CHROMIUM = harness.CHROMIUM
LAUNCH_ARGS = harness.CHROMIUM_ARGS
TIMEOUT_MS = 30_000
OTHER_SCENARIO = "mint_study"


def _unavailable() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (install Debian's chromium to run the browser test)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None


@pytest.fixture(scope="module")
def server():
    reason = _unavailable()
    if reason:
        if os.environ.get("RECIP_REQUIRE_BROWSER") == "1":
            pytest.fail(f"RECIP_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    with harness.running_app() as app:
        yield app.url


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)  # fresh profile
        yield browser
        browser.close()


def _open(browser, url: str, width: int = 1280, height: int = 720):
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.goto(url, wait_until="domcontentloaded")
    page.locator(".recip-day").wait_for()
    return page


def _day(page) -> int:
    return int(page.locator(".recip-day").first.inner_text().split()[1])


def _step_to(page, day: int) -> None:
    while _day(page) < day:
        target = _day(page) + 1
        page.locator(".recip-step").click()
        page.locator(".recip-day", has_text=f"Day {target} of").wait_for()


def _wait_drawn(page, day: int) -> None:
    page.wait_for_function(
        "day => [...document.querySelectorAll('.recip-chart')].every(c => c.dataset.drawnDay == day)",
        arg=str(day))


def _smallest_chart_text(page) -> float:
    return page.evaluate("""() => Math.min(...[...document.querySelectorAll('.recip-chart svg text')]
        .filter(t => t.textContent.trim()).map(t => parseFloat(getComputedStyle(t).fontSize)))""")


def _select(page, label: str, option: str) -> None:
    page.locator(".v-select").filter(has_text=label).first.click()
    page.locator(".v-menu__content .v-list-item").filter(has_text=option).first.click()


def test_presentation_mode_at_1280x720(browser, server, tmp_path):
    page = _open(browser, server + "?present=1")
    page.locator(".recip-chart svg").first.wait_for()
    _step_to(page, 15)
    _wait_drawn(page, 15)
    assert _smallest_chart_text(page) >= 18
    assert page.locator(".recip-present-log .recip-log li").count() > 3
    assert "Pushy versus active selling" in page.locator(".recip-guide").inner_text()
    guide = page.locator(".recip-guide").bounding_box()
    assert guide["x"] + 100 < 1280 and guide["y"] < 720  # the guide starts on screen
    page.screenshot(path=str(tmp_path / "present_single.png"))

    # trainer mode: both arms in one plot, and Pause stops within a second
    page.get_by_text("Trainer mode").click()
    page.locator(".recip-day", has_text="Day 0 of").wait_for()
    page.locator(".recip-step").click()
    page.locator(".recip-day", has_text="Day 1 of").wait_for()
    _wait_drawn(page, 1)
    legend = page.locator(".recip-chart").first.inner_text()
    assert "only pushy" in legend and "only active" in legend
    page.locator(".recip-play").click()
    page.wait_for_function(
        "() => parseInt(document.querySelector('.recip-day').innerText.split(' ')[1]) >= 6")
    page.locator(".recip-play").click()  # Pause
    paused = _day(page)
    page.wait_for_timeout(1000)
    assert _day(page) <= paused + 1
    settled = _day(page)
    page.wait_for_timeout(1500)
    assert _day(page) == settled
    page.screenshot(path=str(tmp_path / "present_trainer.png"))

    # the snapshot button saves a PNG of the comparison
    with page.expect_download() as download:
        page.locator(".recip-snapshot").click()
    path = tmp_path / "snapshot.png"
    download.value.save_as(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not page.errors, page.errors
    print(f"screenshots in {tmp_path}")


def test_opening_every_control_section_changes_nothing(browser, server):
    page = _open(browser, server, width=1440, height=900)
    _select(page, "Scenario", "mint_study")
    page.locator(".recip-day", has_text="Day 0 of 1").wait_for()
    _select(page, "Arm", "one_candy")
    page.locator(".recip-step").click()
    page.locator(".recip-day", has_text="Day 1 of 1").wait_for()
    values_before = page.eval_on_selector_all(".recip-number input", "els => els.map(e => e.value)")
    for header in page.locator(".v-expansion-panel-header").all():
        header.click()
        page.wait_for_timeout(150)
    page.wait_for_timeout(500)
    assert _day(page) == 1
    assert page.locator(".recip-pending").count() == 0
    values_after = page.eval_on_selector_all(".recip-number input", "els => els.map(e => e.value)")
    assert values_after[:len(values_before)] == values_before
    one_candy = load_scenario("mint_study", arm="one_candy")
    gift = one_candy.strategies[one_candy.sellers[0].strategy].gift.value
    assert str(gift) in values_after  # the candy's exact value, not snapped to a slider's grid
    assert not page.errors, page.errors


def test_offline_25_page_loads(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    outside: list[str] = []

    def block_outside(route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", block_outside)
    failed: list[str] = []
    errors: list[str] = []
    page = context.new_page()
    # the close beacon of the page being left is cancelled by the navigation itself: expected
    page.on("requestfailed", lambda r: None if "/_solara/api/close/" in r.url else failed.append(r.url))
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    for _ in range(25):
        page.goto(server, wait_until="domcontentloaded")
        page.locator(".recip-chart svg").first.wait_for(timeout=TIMEOUT_MS)
    context.close()
    assert not outside, outside[:5]
    assert not failed, failed[:5]
    assert not errors, errors[:5]
