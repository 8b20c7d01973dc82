"""End to end: ``recip app`` in a subprocess, driven in headless Chromium through Playwright.

Skipped when /usr/bin/chromium (or Playwright) is missing, unless RECIP_REQUIRE_BROWSER=1.
Screenshots go to a temporary folder; ``docs/app.png`` (the README screenshot) is rewritten
from the run.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sim.config import load_scenario

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    reason = _unavailable()
    if reason:
        if os.environ.get("RECIP_REQUIRE_BROWSER") == "1":
            pytest.fail(f"RECIP_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    port = _free_port()
    recip = shutil.which("recip", path=str(Path(sys.executable).parent)) or "recip"
    proc = subprocess.Popen([recip, "app", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read() if proc.poll() is not None else ""
                pytest.fail(f"recip app did not start on {url}: {out}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
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
    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    page.screenshot(path=str(docs / "app.png"))

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
