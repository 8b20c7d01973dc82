"""Engine benchmark: buyer-steps per second against mesa's own BoltzmannWealth, same run, same N.

Each measurement runs in a fresh subprocess (so memory is measured per run and one size cannot
warm or bloat another). The recip model runs ``pushy_vs_active`` headless with per-step metric
collection, its sellers' reach widened to the whole population within about 50 days (the default
reach of ~10 buyers a day would make large N trivially cheap). The reference is
``mesa.examples.basic.boltzmann_wealth_model`` at the same number of agents on a square grid of
the example's density (one agent per cell). Results are ratios measured in the same run; the
1M-buyer run reports wall time and peak memory against the targets. Never a timed assertion.

Usage: python experiments/bench_engine.py [--quick] [--sizes 1000 10000 ...] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
START, END = "<!-- bench_engine:start -->", "<!-- bench_engine:end -->"
TARGET_RATIO_10K = 20.0
TARGET_1M_SECONDS, TARGET_1M_GIB = 60.0, 4.0


def measure_recip(n: int, steps: int, build_agents: bool = False) -> dict:
    from sim import ReciprocityModel

    began = time.perf_counter()
    model = ReciprocityModel("pushy_vs_active", rng=1, build_agents=build_agents, overrides={
        "buyers.n": n, "strategies.pushy.reach.per_day": n / 50,
        "strategies.active.reach.per_day": n / 30})
    setup = time.perf_counter() - began
    began = time.perf_counter()
    for _ in range(steps):
        model.step()
    run = time.perf_counter() - began
    return {"setup_s": setup, "run_s": run, "steps": steps, "rate": n * steps / run}


def measure_boltzmann(n: int, min_seconds: float, max_steps: int) -> dict:
    from mesa.examples.basic.boltzmann_wealth_model.model import (
        BoltzmannScenario,
        BoltzmannWealth,
    )

    side = math.ceil(math.sqrt(n))
    model = BoltzmannWealth(scenario=BoltzmannScenario(n=n, width=side, height=side, rng=1))
    steps, began = 0, time.perf_counter()
    while steps < max_steps and (steps < 2 or time.perf_counter() - began < min_seconds):
        model.step()
        steps += 1
    run = time.perf_counter() - began
    return {"run_s": run, "steps": steps, "rate": n * steps / run}


def child(kind: str, n: int, **kwargs) -> dict:
    """Run one measurement in a subprocess; returns its JSON with peak memory (GiB)."""
    code = (f"import json, resource, sys; sys.path.insert(0, {str(HERE)!r}); "
            f"import bench_engine as b; r = b.measure_{kind}({n}, **{kwargs!r}); "
            "r['peak_gib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20; "
            "print(json.dumps(r))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    import mesa
    import numpy

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.processor())
    mem = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))) / 2**20
    return (f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB; Python {platform.python_version()}, "
            f"numpy {numpy.__version__}, mesa {mesa.__version__}; "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k and 10k only, fewer repeats")
    parser.add_argument("--sizes", type=int, nargs="+")
    parser.add_argument("--out", type=Path, default=HERE / "BENCHMARKS.md")
    args = parser.parse_args()
    sizes = args.sizes or ([1_000, 10_000] if args.quick else [1_000, 10_000, 100_000, 1_000_000])
    repeats = 1 if args.quick else 3

    rows = []
    for n in sizes:
        steps = max(10, min(200, 2_000_000 // n))
        recip = [child("recip", n, steps=steps) for _ in range(repeats)]
        ref = [child("boltzmann", n, min_seconds=2.0 if n <= 100_000 else 4.0, max_steps=200)
               for _ in range(repeats)]
        r_rate = statistics.median(x["rate"] for x in recip)
        b_rate = statistics.median(x["rate"] for x in ref)
        rows.append((n, steps, r_rate, b_rate, r_rate / b_rate))
        print(f"N={n:>9,}: recip {r_rate:>12,.0f} buyer-steps/s, BoltzmannWealth "
              f"{b_rate:>10,.0f} agent-steps/s, ratio {r_rate / b_rate:6.1f}x", flush=True)

    agents = None
    if 10_000 in sizes:
        with_agents = child("recip", 10_000, steps=100, build_agents=True)
        without = child("recip", 10_000, steps=100, build_agents=False)
        agents = (with_agents, without)

    million = child("recip", 1_000_000, steps=100) if 1_000_000 in sizes else None
    write(args.out, rows, agents, million, repeats)


def write(path: Path, rows, agents, million, repeats) -> None:
    lines = [START, "## Engine (`experiments/bench_engine.py`)", "",
             f"Machine: {machine()}.", "",
             "Workload: `pushy_vs_active`, metrics collected every step, sellers' reach widened to",
             "N/50 and N/30 buyers a day. Reference: mesa's `BoltzmannWealth` example at the same",
             f"N (one agent per grid cell), in the same run. Medians of {repeats} runs, each in a "
             "fresh process.", "",
             "| buyers (N) | steps | recip buyer-steps/s | BoltzmannWealth agent-steps/s | ratio |",
             "|---:|---:|---:|---:|---:|"]
    for n, steps, r_rate, b_rate, ratio in rows:
        lines.append(f"| {n:,} | {steps} | {r_rate:,.0f} | {b_rate:,.0f} | {ratio:.1f}x |")
    lines.append("")
    ten_k = next((ratio for n, *_, ratio in rows if n == 10_000), None)
    if ten_k is not None:
        verdict = "PASS" if ten_k >= TARGET_RATIO_10K else "FAIL"
        lines.append(f"- Target at 10,000 buyers: at least {TARGET_RATIO_10K:.0f}x the reference: "
                     f"**{ten_k:.1f}x, {verdict}**.")
    if million is not None:
        total = million["setup_s"] + million["run_s"]
        ok = total < TARGET_1M_SECONDS and million["peak_gib"] < TARGET_1M_GIB
        lines.append(f"- 1,000,000 buyers, small-world network, 100 steps: {total:.1f} s "
                     f"({million['setup_s']:.1f} s set-up + {million['run_s']:.1f} s run), peak "
                     f"memory {million['peak_gib']:.2f} GiB; target < {TARGET_1M_SECONDS:.0f} s "
                     f"and < {TARGET_1M_GIB:.0f} GiB: **{'PASS' if ok else 'FAIL'}**.")
    if agents is not None:
        with_agents, without = agents
        lines.append(f"- 10,000 buyers with mesa agents on a `Network` space: set-up "
                     f"{with_agents['setup_s']:.2f} s vs {without['setup_s']:.2f} s without; "
                     f"100 steps {with_agents['run_s']:.2f} s vs {without['run_s']:.2f} s "
                     "(agents are views: they cost set-up, not steps).")
    lines.append(END)
    section = "\n".join(lines)
    text = path.read_text() if path.exists() else "# Benchmarks\n\nWritten by the scripts in " \
        "`experiments/`; each replaces only its own section.\n\n"
    if START in text and END in text:
        text = text[:text.index(START)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
