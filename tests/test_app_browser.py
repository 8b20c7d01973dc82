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
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)  # fresh profile
        context = browser.new_context(viewport={"width": 1500, "height": 1150})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(server, wait_until="domcontentloaded")
        page.requests = requests
        yield page
        browser.close()


def _day(page) -> str:
    return page.locator(".recip-day").first.inner_text()


def _image_src(page, name: str) -> str:
    return page.locator(f"img.recip-{name}").first.get_attribute("src") or ""


def _select(page, label: str, option: str) -> None:
    page.locator(".v-select").filter(has_text=label).first.click()
    page.locator(".v-menu__content .v-list-item").filter(has_text=option).first.click()


def test_app_end_to_end(page, tmp_path):
    shots = tmp_path
    # the page loads and the model is drawn
    page.locator(".recip-day").wait_for()
    page.locator("img.recip-network").first.wait_for()
    assert _day(page) == "Day 0 of 180"
    assert "Pushy versus active selling" in page.locator(".recip-guide").inner_text()
    page.screenshot(path=str(shots / "01_loaded.png"))

    # ten steps change the step counter, the plotted data and the latest metrics
    metrics_before = _image_src(page, "metrics")
    latest_before = page.locator(".recip-latest").inner_text()
    step = page.get_by_role("button", name="Step")
    for i in range(1, 11):
        step.click()
        page.locator(".recip-day", has_text=f"Day {i} of 180").wait_for()
    assert _day(page) == "Day 10 of 180"
    page.wait_for_function(
        "before => document.querySelector('img.recip-metrics').src !== before", arg=metrics_before)
    assert page.locator(".recip-latest").inner_text() != latest_before
    assert "asked Buyer" in page.locator(".recip-log").inner_text()
    page.screenshot(path=str(shots / "02_ten_steps.png"), full_page=True)

    # play runs on by itself; pause stops it
    page.get_by_role("button", name="Play").click()
    page.wait_for_function(
        "() => !document.querySelector('.recip-day').innerText.startsWith('Day 10 ')")
    page.get_by_role("button", name="Pause").click()
    page.get_by_role("button", name="Play").wait_for()

    # trainer mode: two panels and the gaps between them
    page.get_by_text("Trainer mode (two panels)").click()
    page.locator(".recip-gaps").wait_for()
    assert page.locator(".recip-panel").count() == 2
    assert "gap (B - A)" in page.locator(".recip-gaps").inner_text()
    step.click()
    page.locator(".recip-day", has_text="Day 1 of 180").wait_for()
    page.locator(".recip-gaps td", has_text="0.").first.wait_for()
    page.screenshot(path=str(shots / "03_trainer.png"), full_page=True)
    page.get_by_text("Trainer mode (two panels)").click()
    page.locator(".recip-gaps").wait_for(state="detached")

    # a bad seed shows an error, a good one clears it
    seed = page.get_by_label("Seed")
    seed.fill("not a seed")
    seed.press("Enter")
    page.locator(".recip-seed-error").wait_for()
    seed.fill("7")
    seed.press("Enter")
    page.locator(".recip-seed-error").wait_for(state="detached")

    # the scenario picker switches scenario (and its guide)
    other = load_scenario(OTHER_SCENARIO)
    _select(page, "Scenario", OTHER_SCENARIO)
    page.locator(".recip-guide", has_text=other.guide.title or other.name).wait_for()
    page.locator(".recip-day", has_text=f"Day 0 of {other.steps}").wait_for()
    page.screenshot(path=str(shots / "04_mint_study.png"), full_page=True)

    # offline: every request stayed on the loopback server
    outside = [url for url in page.requests
               if not url.startswith(("http://127.0.0.1", "data:", "blob:", "ws://127.0.0.1"))]
    assert not outside, f"requests left the machine: {outside[:5]}"
    print(f"screenshots in {shots}")
