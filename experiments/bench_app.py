"""Benchmark the app at 2,000 buyers: Python side (one step plus the data of a redraw) and in a
real browser (headless Chromium via Playwright): from the Step click to the redraw finished (in
the page's own clock, and as the test driver sees it), and days per second while playing, with
one panel and in trainer mode.

Run: ``.venv/bin/python experiments/bench_app.py [--steps 20] [--buyers 2000] [--no-browser]
[--view one|trainer] [--out FILE]``. Writes its section of ``experiments/BENCHMARKS.md`` (between
the bench_app markers; other sections kept). Targets (issue 12): browser Step under 150 ms (one
panel) and 300 ms (trainer); Play at least 5 days a second. Timings are reported, never asserted
by the tests. If the app fails during the run (its log says so, or a redraw never comes), the
benchmark stops with the log's tail and exit code 1 instead of reporting meaningless timings.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "viz"))

import harness  # noqa: E402
import recip_view as rv  # noqa: E402

START, END = "<!-- bench_app:start -->", "<!-- bench_app:end -->"
SCENARIO = "pushy_vs_active"
TARGETS_MS = {"one panel": 150, "trainer (two panels)": 300}
TARGET_PLAY_DAYS_PER_SECOND = 5
PLAY_SECONDS = 8
VIEWS = {"one": "one panel", "trainer": "trainer (two panels)"}
# what the server logs when the page or an event handler raised (viz/app.py, viz/server.py)
APP_FAILED = ("the app failed", "uncaught exception in the app", "Traceback (most recent call last)")
LOG_TAIL_LINES = 40


def python_side(buyers: int, steps: int, trainer: bool, warmup: int = 5) -> dict[str, float]:
    overrides = {"buyers.n": buyers}
    if trainer:
        session = rv.Session.trainer(SCENARIO, None, overrides, 1, "only pushy", "only active")
    else:
        session = rv.Session.single(SCENARIO, None, overrides, 1)
    metrics = session.metrics()

    def redraw_data():
        for metric in metrics:
            session.chart(metric)
        for index in range(len(session.runs)):
            session.network(index)
        session.log_lines()
        session.gaps()

    for _ in range(warmup):
        session.step()
        redraw_data()
    step_t, draw_t = [], []
    for _ in range(steps):
        t0 = time.perf_counter()
        session.step()
        t1 = time.perf_counter()
        redraw_data()
        step_t.append(t1 - t0)
        draw_t.append(time.perf_counter() - t1)
    return {"step": statistics.median(step_t), "draw": statistics.median(draw_t),
            "total": statistics.median([a + b for a, b in zip(step_t, draw_t, strict=True)])}


# In the page's own clock: when the Step click reaches the page (a capturing listener, so before
# the app's handler), and the first animation frame in which the day counter and every plot show
# the new day (the predicate runs in each frame, before it is painted). Playwright's own work
# around a click (its actionability checks, the round trips to the browser) is not the app's.
CLICK_CLOCK = """() => { window.__recipClickAt = null; window.__recipRedrawnAt = null;
  document.addEventListener('click', () => { window.__recipClickAt = performance.now(); },
                            {capture: true, once: true}); }"""
REDRAWN = """day => {
  const done = [...document.querySelectorAll('.recip-chart')].every(c => c.dataset.drawnDay == day)
    && document.querySelector('.recip-day').innerText.startsWith('Day ' + day + ' ');
  if (done && window.__recipRedrawnAt == null) window.__recipRedrawnAt = performance.now();
  return done; }"""
IN_PAGE = "() => (window.__recipRedrawnAt - window.__recipClickAt) / 1000"


PLAYING = "day => parseInt(document.querySelector('.recip-day').innerText.split(' ')[1]) >= day"


def _day(page) -> int:
    return int(page.locator(".recip-day").inner_text().split()[1])


def browser_side(url: str, steps: int, trainer: bool) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=harness.CHROMIUM, args=harness.CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.set_default_timeout(60_000)
        page.goto(url)
        page.locator(".recip-chart svg").first.wait_for()
        if trainer:
            page.get_by_text("Trainer mode").click()
            page.locator(".recip-day", has_text="Day 0 of").wait_for()
            page.locator(".recip-chart svg").first.wait_for()
        times, driven = [], []
        for day in range(1, steps + 6):
            page.evaluate(CLICK_CLOCK)
            t0 = time.perf_counter()
            page.locator(".recip-step").click()
            page.wait_for_function(REDRAWN, arg=str(day), polling="raf")
            if day > 5:  # warm-up days excluded
                driven.append(time.perf_counter() - t0)
                times.append(page.evaluate(IN_PAGE))
        start_day = steps + 5
        page.locator(".recip-play").click()
        page.wait_for_function(PLAYING, arg=start_day + 1, polling="raf")
        t0, d0 = time.perf_counter(), _day(page)
        page.wait_for_timeout(PLAY_SECONDS * 1000)
        d1 = _day(page)
        rate = (d1 - d0) / (time.perf_counter() - t0)
        page.locator(".recip-play").click()
        browser.close()
    return {"click_to_redraw": statistics.median(times), "slowest": max(times), "play": rate,
            "driven": statistics.median(driven)}


def app_failure(log: str) -> str | None:
    """The line of the app's log that says it failed (the most telling kind first), if any."""
    lines = log.splitlines()
    return next((line for marker in APP_FAILED for line in lines if marker in line), None)


def fail(app: harness.AppProcess, why: str) -> None:
    tail = "\n".join(app.output().splitlines()[-LOG_TAIL_LINES:])
    sys.exit(f"bench_app: {why}\n--- the last {LOG_TAIL_LINES} lines of recip app's log "
             f"(all of it: {app.log_path}) ---\n{tail}")


def browser_runs(args, views: dict[str, bool]) -> dict[str, dict[str, float]]:
    # the app's own default scenario is pushy_vs_active at 1,000 buyers: serve it at --buyers
    env = {"RECIP_APP_OVERRIDES": f"buyers.n={args.buyers}"}
    with harness.running_app(env=env) as app:
        web = {}
        for name, trainer in views.items():
            try:
                web[name] = browser_side(app.url, args.steps, trainer)
                problem = None
            except Exception as exc:  # e.g. a redraw that never came: the log may say why
                problem = f"the {name} run failed: {type(exc).__name__}: {str(exc).splitlines()[0]}"
            failed = app_failure(app.output())
            if failed:
                fail(app, f"the app failed during the {name} run: {failed.strip()}")
            if problem:
                fail(app, problem)
    return web


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--buyers", type=int, default=2000)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--view", choices=list(VIEWS), help="measure this view only (default: both)")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments" / "BENCHMARKS.md")
    args = parser.parse_args()
    views = {name: name != VIEWS["one"] for key, name in VIEWS.items() if args.view in (None, key)}
    py = {name: python_side(args.buyers, args.steps, trainer) for name, trainer in views.items()}
    web = {} if args.no_browser else browser_runs(args, views)
    rows = []
    for name in views:
        p, w = py[name], web.get(name)
        browser_cols = (f"{w['click_to_redraw'] * 1000:.0f} | {w['slowest'] * 1000:.0f} | "
                        f"{w['driven'] * 1000:.0f} | {w['play']:.1f}") if w else "– | – | – | –"
        rows.append(f"| {name} | {p['step'] * 1000:.1f} | {p['draw'] * 1000:.1f} | "
                    f"{p['total'] * 1000:.1f} | {browser_cols} |")
    verdicts = []
    for name, w in web.items():
        ok = w["click_to_redraw"] * 1000 < TARGETS_MS[name]
        verdicts.append(f"{name}: Step {'met' if ok else 'NOT met'} (target {TARGETS_MS[name]} ms), "
                        f"Play {'met' if w['play'] >= TARGET_PLAY_DAYS_PER_SECOND else 'NOT met'} "
                        f"(target {TARGET_PLAY_DAYS_PER_SECOND} days/s)")
    text = f"""## App: step plus redraw (`experiments/bench_app.py`)

{SCENARIO}, {args.buyers:,} buyers, seed 1; medians over {args.steps} steps after 5 warm-up steps.
Python side: `Session.step` and the data of a redraw (every plot's rows, the network frame, the
event log, the gaps). Browser side: `recip app` in headless Chromium (Playwright, 1440x900), from
the Step click reaching the page until the first frame in which the day counter and every plot
show the new day, in the page's own clock (`performance.now()`); beside it, the same seen from the
test driver, which adds Playwright's own work around a click (its checks before clicking, the
round trips to the browser). Play: days per second over {PLAY_SECONDS} s of playing (the app paces
Play at 8 days/s at most).

| view | step (ms) | redraw data (ms) | Python total (ms) | browser: click to redraw (ms) \
| slowest (ms) | seen from the driver (ms) | Play (days/s) |
|---|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

{'; '.join(verdicts) or 'Browser not measured (--no-browser).'}. Measured {date.today().isoformat()}
on {platform.machine()}, Python {platform.python_version()}, {platform.system()}, 2 cores shared.
"""
    from bench_engine import write  # one writer of BENCHMARKS.md's sections

    write(args.out, f"{START}\n{text.rstrip()}\n{END}")
    print(text)


if __name__ == "__main__":
    main()
