"""Regenerate ``docs/app.png`` (the README's picture) on purpose: the app in presentation and
trainer mode at 1280x720 after 30 days. Run: ``make app-screenshot``. The tests never write it."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402

DAYS = 30


def main(out: Path = HERE.parent / "docs" / "app.png") -> None:
    from playwright.sync_api import sync_playwright

    with harness.running_app() as app, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=harness.CHROMIUM, args=harness.CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.set_default_timeout(60_000)
        page.goto(app.url + "?present=1")
        page.locator(".recip-chart svg").first.wait_for()
        page.get_by_text("Trainer mode").click()
        page.locator(".recip-day", has_text="Day 0 of").wait_for()
        for day in range(1, DAYS + 1):
            page.locator(".recip-step").click()
            page.locator(".recip-day", has_text=f"Day {day} of").wait_for()
        page.wait_for_timeout(1500)  # the network's animation settles
        out.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
