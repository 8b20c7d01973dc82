"""Engine benchmark: buyer-steps per second against mesa's own BoltzmannWealth, same run, same N.

Every measurement runs in a fresh child process, so one size cannot warm or bloat another and
peak memory (the child's maximum resident set, read by the parent from ``os.wait4``) is that
run's own.

recip: ``pushy_vs_active`` headless (``build_agents=False``), metrics collected every step, run for
the same 100 days at every N (the cost of a day changes over a run, so all sizes time the same
days). The sellers' reach is widened to N/50 and N/30 buyers a day, so they reach the whole
population within about 50 days: the default (~10 buyers a day) would make large N trivially
cheap. Buyer-steps = N x steps.

Reference: ``mesa.examples.basic.boltzmann_wealth_model`` (``BoltzmannWealth``) at the same N on
a ceil(sqrt(N)) square grid (the example's density, 100 agents on 10 x 10). Its steps are
time-boxed (steps until at least 2 s have passed, at least 2 and at most 200 steps), so the 1M
reference takes only a few steps; rates are per agent-step, and ratios are per agent-step too.

The README's own call is measured too, exactly as a user makes it:
``ReciprocityModel("pushy_vs_active", overrides={"buyers.n": 1_000_000}).run_for(100)`` with the
default arguments (mesa agents offered, built only if used; metrics collected; default reach),
set-up included.

Targets, reported PASS/FAIL and never asserted: at 10,000 buyers 50x the reference (bar: 35x);
the README call with 1,000,000 buyers in under 30 s and 2 GiB (bar: 60 s, 4 GiB).

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
REPO = HERE.parent
START, END = "<!-- bench_engine:start -->", "<!-- bench_engine:end -->"
HEADER = ("# Benchmarks\n\n"
          "Written by the scripts in `experiments/`; each replaces only its own section.\n")
SEED = 1
RECIP_STEPS = 100
REF_MIN_SECONDS, REF_MIN_STEPS, REF_MAX_STEPS = 2.0, 2, 200
TARGET_RATIO_10K, BAR_RATIO_10K = 50.0, 35.0
TARGET_1M_SECONDS, TARGET_1M_GIB = 30.0, 2.0
BAR_1M_SECONDS, BAR_1M_GIB = 60.0, 4.0
GiB = 2**30


# --- measurements (run inside a child process) ------------------------------------------------


def workload(n: int, build_agents: bool = False):
    """The benchmark's model at ``n`` buyers (the module docstring says why the reach is wider)."""
    from sim import ReciprocityModel

    return ReciprocityModel(
        "pushy_vs_active", rng=SEED, build_agents=build_agents, collect=True,
        overrides={"buyers.n": n, "network.kind": "watts_strogatz",
                   "strategies.pushy.reach.per_day": n / 50,
                   "strategies.active.reach.per_day": n / 30})


def load_kernels() -> None:
    """Load the engine's compiled kernels (numba compiles them once per machine and caches them;
    each process loads them on first use, about 0.3 s): a 200-buyer run of the workload for 30
    days, before anything is timed, so that the per-day rates are the engine's steady cost. The
    README's call below is timed from a fresh process without this, set-up included."""
    model = workload(200)
    for _ in range(30):
        model.step()


def measure_recip(n: int, steps: int = RECIP_STEPS, build_agents: bool = False) -> dict:
    load_kernels()
    began = time.perf_counter()
    model = workload(n, build_agents)
    if build_agents:
        len(model.buyers)  # agents are built when first used: use them, to time their cost
    setup = time.perf_counter() - began
    began = time.perf_counter()
    for _ in range(steps):
        model.step()
    run = time.perf_counter() - began
    return {"setup_s": setup, "run_s": run, "steps": steps, "rate": n * steps / run}


def measure_readme(n: int, steps: int = RECIP_STEPS) -> dict:
    """The README's call, default arguments, set-up included in the time."""
    began = time.perf_counter()
    from sim import ReciprocityModel

    model = ReciprocityModel("pushy_vs_active", overrides={"buyers.n": n})
    setup = time.perf_counter() - began
    model.run_for(steps)
    total = time.perf_counter() - began
    return {"setup_s": setup, "run_s": total - setup, "total_s": total, "steps": steps}


PHASES = [  # (label, module, function) of what run_day calls, in the ODD's order
    ("decay (rule 6)", "sim.engine.phases.decay", "fade"),
    ("reach", "sim.engine.phases.reach", "widen"),
    ("hidden conditions found", "sim.engine.phases.gifts", "discover_hidden_conditions"),
    ("gifts", "sim.engine.phases.gifts", "give"),
    ("asks and responses", "sim.engine.phases.asks", "ask"),
    ("retaliation", "sim.engine.phases.retaliation", "retaliate"),
    ("churn", "sim.engine.phases.churn", "leave"),
    ("referrals", "sim.engine.phases.word_of_mouth", "refer"),
    ("word of mouth spreads", "sim.engine.phases.word_of_mouth", "spread"),
]


def measure_phases(n: int, steps: int = RECIP_STEPS) -> dict:
    """Where a day goes: :func:`workload`, each phase of ``run_day`` timed
    (wrapped in place, in this child process only), the rest of the engine's day and the
    model's metrics collection as what is left."""
    import importlib

    from sim.engine import core

    load_kernels()  # before the phases are wrapped, so it is not timed
    spent: dict[str, float] = {label: 0.0 for label, _, _ in PHASES}
    spent["engine day"] = 0.0

    def timed(label, function):
        def wrapper(*args, **kwargs):
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - began
        return wrapper

    for label, module, name in PHASES:
        module = importlib.import_module(module)
        setattr(module, name, timed(label, getattr(module, name)))
    core.Engine.step = timed("engine day", core.Engine.step)
    model = workload(n)
    began = time.perf_counter()
    for _ in range(steps):
        model.step()
    total = time.perf_counter() - began
    phases = {label: spent[label] for label, _, _ in PHASES}
    phases["the day's other work (felt debt, trust bounds)"] = (spent["engine day"]
                                                                 - sum(phases.values()))
    phases["metrics collected (DataCollector)"] = total - spent["engine day"]
    return {"ms_per_day": {label: 1e3 * seconds / steps for label, seconds in phases.items()},
            "total_ms": 1e3 * total / steps}


def measure_boltzmann(n: int) -> dict:
    from mesa.examples.basic.boltzmann_wealth_model.model import (
        BoltzmannScenario,
        BoltzmannWealth,
    )

    side = math.ceil(math.sqrt(n))
    began = time.perf_counter()
    model = BoltzmannWealth(scenario=BoltzmannScenario(n=n, width=side, height=side, rng=SEED))
    setup = time.perf_counter() - began
    steps, began = 0, time.perf_counter()
    while steps < REF_MAX_STEPS and (steps < REF_MIN_STEPS
                                     or time.perf_counter() - began < REF_MIN_SECONDS):
        model.step()
        steps += 1
    run = time.perf_counter() - began
    return {"setup_s": setup, "run_s": run, "steps": steps, "rate": n * steps / run}


def child(kind: str, n: int, **kwargs) -> dict:
    """Run ``measure_<kind>(n, **kwargs)`` in a fresh process; adds its peak memory in GiB."""
    request = json.dumps({"kind": kind, "n": n, "kwargs": kwargs})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", request],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=REPO)
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} at N={n} failed ({proc.returncode}):\n{err}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_gib"] = usage.ru_maxrss * 1024 / GiB  # ru_maxrss is in KiB on Linux
    return result


def run_child(request: str) -> None:
    spec = json.loads(request)
    measure = {"recip": measure_recip, "boltzmann": measure_boltzmann,
               "readme": measure_readme, "phases": measure_phases}[spec["kind"]]
    print(json.dumps(measure(spec["n"], **spec["kwargs"])), flush=True)


# --- report -----------------------------------------------------------------------------------


def machine() -> str:
    import mesa
    import numpy

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() \
        else []
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo
                if line.startswith("model name")), platform.processor() or platform.machine())
    try:
        import psutil

        mem = f"{psutil.virtual_memory().total / GiB:.0f} GiB RAM"
    except ImportError:
        mem = "RAM unknown"
    load = os.getloadavg()[0]
    return (f"{cpu}, {os.cpu_count()} cores, {mem}; Python {platform.python_version()}, "
            f"numpy {numpy.__version__}, mesa {mesa.__version__}; "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
            f"1-minute load average {load:.1f} at the end")


def pass_fail(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def phase_table(phases: dict[int, dict]) -> list[str]:
    """Milliseconds per day by phase, for each N measured (one run each, timers included)."""
    sizes = sorted(phases)
    lines = ["Where a day goes (one run per N, each phase timed; `asks and responses` includes "
             "the buyers' answers):", "",
             "| phase | " + " | ".join(f"ms per day, N = {n:,}" for n in sizes) + " |",
             "|---|" + "---:|" * len(sizes)]
    for label in phases[sizes[0]]["ms_per_day"]:
        lines.append(f"| {label} | " + " | ".join(
            f"{phases[n]['ms_per_day'][label]:.3f}" for n in sizes) + " |")
    lines.append("| **a day, in all** | " + " | ".join(
        f"**{phases[n]['total_ms']:.3f}**" for n in sizes) + " |")
    lines.append("")
    return lines


def section(rows: list[dict], agents: dict | None, million: dict | None, repeats: int,
            phases: dict[int, dict] | None = None) -> str:
    lines = [
        START, "## Engine (`experiments/bench_engine.py`)", "",
        f"Machine: {machine()}.", "",
        f"recip: `pushy_vs_active`, `build_agents=False`, metrics collected every step, "
        f"{RECIP_STEPS} steps at every N; buyer-steps = N x steps. The sellers' reach is widened "
        "to N/50 (pushy) and N/30 (active) buyers a day, so they reach the whole population "
        "within about 50 days; the default (~10 buyers a day) would make large N trivially "
        "cheap, so this is the honest load.",
        "",
        "Reference: mesa's own `BoltzmannWealth` example (`mesa.examples`) at the same N on a "
        "ceil(sqrt(N)) square grid (the example's density), in the same run; its steps are "
        f"time-boxed (until {REF_MIN_SECONDS:.0f} s have passed, {REF_MIN_STEPS} to "
        f"{REF_MAX_STEPS} steps), so the ratio is per agent-step. Medians of {repeats} "
        f"run{'s' if repeats > 1 else ''}, each in a fresh process.",
        "",
        "| buyers (N) | recip steps | recip buyer-steps/s | reference steps "
        "| BoltzmannWealth agent-steps/s | ratio |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(f"| {row['n']:,} | {row['recip_steps']} | {row['recip_rate']:,.0f} "
                     f"| {row['ref_steps']} | {row['ref_rate']:,.0f} | {row['ratio']:.1f}x |")
    lines.append("")
    if phases:
        lines += phase_table(phases)
    ten_k = next((row for row in rows if row["n"] == 10_000), None)
    if ten_k is not None:
        low, high = ten_k["ratio_range"]
        spread = f" (paired runs: {low:.1f}x to {high:.1f}x)" if repeats > 1 else ""
        lines.append(f"- 10,000 buyers, aim {TARGET_RATIO_10K:.0f}x the reference (bar "
                     f"{BAR_RATIO_10K:.0f}x): {ten_k['ratio']:.1f}x{spread}: aim "
                     f"**{pass_fail(ten_k['ratio'] >= TARGET_RATIO_10K)}**, bar "
                     f"**{pass_fail(ten_k['ratio'] >= BAR_RATIO_10K)}**.")
    if million is not None:
        aim = million["total_s"] < TARGET_1M_SECONDS and million["peak_gib"] < TARGET_1M_GIB
        bar = million["total_s"] < BAR_1M_SECONDS and million["peak_gib"] < BAR_1M_GIB
        lines.append(
            f"- The README's call, `ReciprocityModel(\"pushy_vs_active\", overrides="
            f"{{\"buyers.n\": 1_000_000}}).run_for({million['steps']})` (default arguments), "
            f"set-up included: {million['total_s']:.1f} s ({million['setup_s']:.1f} s set-up), "
            f"peak memory {million['peak_gib']:.2f} GiB (the slowest and largest of "
            f"{million['repeats']} runs, peak resident set of the child process). Aim under "
            f"{TARGET_1M_SECONDS:.0f} s and {TARGET_1M_GIB:.0f} GiB: "
            f"**{pass_fail(aim)}**; "
            f"bar {BAR_1M_SECONDS:.0f} s and {BAR_1M_GIB:.0f} GiB: "
            f"**{pass_fail(bar)}**.")
    if agents is not None:
        on, off = agents["on"], agents["off"]
        lines.append(
            f"- 10,000 buyers with `build_agents=True` (mesa agents on a `Network` space): "
            f"set-up {on['setup_s']:.2f} s vs {off['setup_s']:.2f} s without; "
            f"{on['steps']} steps {on['run_s']:.2f} s vs {off['run_s']:.2f} s "
            "(medians; the agents are views on the engine's arrays: they cost set-up, not steps).")
    lines.append(END)
    return "\n".join(lines)


def write(path: Path, text: str) -> None:
    """Replace only the section that ``text`` is (from its first line, ``<!-- name:start -->``, to
    its last, ``<!-- name:end -->``) in ``path``, created with a header if missing. The markers come
    from the text, not from this script, because the other benchmark scripts write through here
    too: with this script's markers, their section used to replace the engine's."""
    start, end = text.strip().splitlines()[0], text.strip().splitlines()[-1]
    if not (start.startswith("<!-- ") and start.endswith(":start -->")
            and end == start.replace(":start -->", ":end -->")):
        raise ValueError(f"a benchmark section starts with <!-- name:start --> and ends with "
                         f"<!-- name:end -->; got {start!r} ... {end!r}")
    current = path.read_text() if path.exists() else HEADER
    if start in current and end in current and current.index(start) < current.index(end):
        current = current[:current.index(start)] + text + current[current.index(end) + len(end):]
    else:
        current = current.rstrip() + "\n\n" + text + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(current)
    os.replace(tmp, path)


def print_table(rows: list[dict]) -> None:
    headers = ["N", "recip buyer-steps/s", "Boltzmann agent-steps/s", "ratio"]
    cells = [[f"{r['n']:,}", f"{r['recip_rate']:,.0f}", f"{r['ref_rate']:,.0f}",
              f"{r['ratio']:.1f}x"] for r in rows]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
        print("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
        for c in cells:
            print("  ".join(v.rjust(w) for v, w in zip(c, widths, strict=True)))
        return
    table = Table(title="recip engine vs mesa BoltzmannWealth")
    for h in headers:
        table.add_column(h, justify="right")
    for c in cells:
        table.add_row(*c)
    Console().print(table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 1k and 10k buyers only, one run each")
    parser.add_argument("--sizes", type=int, nargs="+", metavar="N",
                        help="numbers of buyers (default 1000 10000 100000 1000000)")
    parser.add_argument("--out", type=Path, default=HERE / "BENCHMARKS.md",
                        help="markdown file whose bench_engine section is replaced")
    parser.add_argument("--repeats", type=int, help="runs per measurement (default 3; quick 1)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_child(args.child)
        return
    sizes = args.sizes or ([1_000, 10_000] if args.quick
                           else [1_000, 10_000, 100_000, 1_000_000])
    repeats = args.repeats or (1 if args.quick else 3)

    rows, million = [], None
    for n in sizes:
        # Interleaved, so that a change in machine load touches both alike; paired ratios give
        # the spread.
        pairs = [(child("recip", n), child("boltzmann", n)) for _ in range(repeats)]
        recip, ref = [a for a, _ in pairs], [b for _, b in pairs]
        recip_rate = statistics.median(r["rate"] for r in recip)
        ref_rate = statistics.median(r["rate"] for r in ref)
        paired = [a["rate"] / b["rate"] for a, b in pairs]
        rows.append({"n": n, "recip_steps": RECIP_STEPS, "recip_rate": recip_rate,
                     "ref_steps": min(r["steps"] for r in ref), "ref_rate": ref_rate,
                     "ratio": recip_rate / ref_rate, "ratio_range": (min(paired), max(paired))})
        print(f"N={n:>9,}: recip {recip_rate:>12,.0f} buyer-steps/s "
              f"(peak {max(r['peak_gib'] for r in recip):.2f} GiB), BoltzmannWealth "
              f"{ref_rate:>10,.0f} agent-steps/s ({min(r['steps'] for r in ref)} steps), "
              f"ratio {recip_rate / ref_rate:.1f}x", flush=True)
        if n == 1_000_000:
            readme = [child("readme", n) for _ in range(repeats)]
            slowest = max(readme, key=lambda r: r["total_s"])
            million = {**slowest, "peak_gib": max(r["peak_gib"] for r in readme),
                       "repeats": repeats}
            print(f"N=1,000,000, the README's call: {slowest['total_s']:.1f} s, peak "
                  f"{million['peak_gib']:.2f} GiB", flush=True)

    agents = None
    if 10_000 in sizes:
        runs = {flag: [child("recip", 10_000, build_agents=flag) for _ in range(repeats)]
                for flag in (True, False)}
        agents = {key: {"steps": RECIP_STEPS,
                        **{f: statistics.median(r[f] for r in runs[flag])
                           for f in ("setup_s", "run_s")}}
                  for key, flag in (("on", True), ("off", False))}
        print(f"N=   10,000 with mesa agents: set-up {agents['on']['setup_s']:.2f} s vs "
              f"{agents['off']['setup_s']:.2f} s, {RECIP_STEPS} steps "
              f"{agents['on']['run_s']:.2f} s vs {agents['off']['run_s']:.2f} s", flush=True)

    phases = {n: child("phases", n) for n in sizes if n <= 10_000}
    for n, result in phases.items():
        print(f"N={n:>9,}: a day {result['total_ms']:.2f} ms: " + ", ".join(
            f"{label} {ms:.2f}" for label, ms in result["ms_per_day"].items()), flush=True)

    print_table(rows)
    text = section(rows, agents, million, repeats, phases)
    for line in text.splitlines():
        if line.startswith("- "):
            print(line)
    write(args.out, text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
