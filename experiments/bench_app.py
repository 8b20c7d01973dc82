"""Benchmark the app's frame: one model step plus the figures the app draws, with 2,000 buyers.

Run: ``.venv/bin/python experiments/bench_app.py [--steps 20] [--buyers 2000]``. Writes its
section of ``experiments/BENCHMARKS.md`` (between the bench_app markers; other sections kept).
Target: the median step + redraw under half a second.
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

import recip_view as rv  # noqa: E402

START, END = "<!-- bench_app:start -->", "<!-- bench_app:end -->"
TARGET_SECONDS = 0.5


def measure(buyers: int, steps: int, warmup: int = 5, trainer: bool = False) -> dict[str, float]:
    overrides = {"buyers.n": buyers}
    if trainer:
        session = rv.Session.trainer("pushy_vs_active", None, overrides, 1, "only pushy",
                                     "only active")
    else:
        session = rv.Session.single("pushy_vs_active", None, overrides, 1)
    for _ in range(warmup):
        session.step()
        session.frames()
    step_t, draw_t, total_t = [], [], []
    for _ in range(steps):
        t0 = time.perf_counter()
        session.step()
        t1 = time.perf_counter()
        session.frames()
        session.gaps()
        t2 = time.perf_counter()
        step_t.append(t1 - t0)
        draw_t.append(t2 - t1)
        total_t.append(t2 - t0)
    return {"step": statistics.median(step_t), "draw": statistics.median(draw_t),
            "total": statistics.median(total_t), "max": max(total_t)}


def write_section(text: str, path: Path) -> None:
    section = f"{START}\n{text.rstrip()}\n{END}"
    if path.exists():
        old = path.read_text()
        if START in old and END in old:
            new = old[: old.index(START)] + section + old[old.index(END) + len(END):]
        else:
            new = old.rstrip() + "\n\n" + section + "\n"
    else:
        new = "# Benchmarks\n\n" + section + "\n"
    path.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--buyers", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=ROOT / "experiments" / "BENCHMARKS.md")
    args = parser.parse_args()
    single = measure(args.buyers, args.steps)
    trainer = measure(args.buyers, args.steps, trainer=True)
    ok = single["total"] < TARGET_SECONDS
    rows = "\n".join(
        f"| {name} | {r['step'] * 1000:.1f} | {r['draw'] * 1000:.0f} | {r['total'] * 1000:.0f} "
        f"| {r['max'] * 1000:.0f} |"
        for name, r in (("one panel", single), ("trainer (two panels)", trainer)))
    text = f"""## App: one step plus redraw (`experiments/bench_app.py`)

pushy_vs_active, {args.buyers:,} buyers, seed 1; median over {args.steps} steps (after 5 warm-up
steps) of `model.step()` plus everything the app draws for a frame: the network figure (buyers by
state and obligation, sellers, highlighted ties) and the metrics figure rendered to PNG, the
latest-metrics table and the event log (`viz/recip_view.py`, `Session.step` + `Session.frames`).

| view | step (ms) | figures (ms) | step + redraw, median (ms) | slowest (ms) |
|---|---:|---:|---:|---:|
{rows}

Target: one step plus redraw under {TARGET_SECONDS * 1000:.0f} ms with one panel:
**{"met" if ok else "NOT met"}**. Measured {date.today().isoformat()} on {platform.machine()},
Python {platform.python_version()}, {platform.system()}.
"""
    write_section(text, args.out)
    print(text)
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
