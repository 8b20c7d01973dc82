"""Sweep benchmark: runs per second of `recip sweep` against `mesa.batch_run`, same run.

Workload: `pushy_vs_active` with 1,000 buyers for 180 steps, final metrics only, through the
whole sweep machinery (spec, worker pool, Parquet chunks, manifest) at 1 and 2 workers.
Reference: `mesa.batch_run` over mesa's own `BoltzmannWealth` example with 1,000 agents (one per
cell of a 32 x 32 grid) for 180 steps, at 1 and 2 processes. Each measurement runs in a fresh
subprocess; the table gives medians over repeats, end to end (start-up included) and, for recip,
the steady rate between the first and the last chunk. A sweep stacks any runs in engines (runs
may differ in rule parameters, population, network, sellers); two more rows measure designs of
one replication per point: points that differ in buyers' detection skill, and points that differ
in a rule parameter (what calibration and sensitivity analyses of the rules do). Writes its
section of `experiments/BENCHMARKS.md` between the bench_sweep markers. Never a timed assertion.

Usage: python experiments/bench_sweep.py [--runs 2000] [--reference-runs 12] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mesa.examples.basic.boltzmann_wealth_model.model import BoltzmannScenario, BoltzmannWealth

from sim.runner import STACKED_TIES

HERE = Path(__file__).resolve().parent
START, END = "<!-- bench_sweep:start -->", "<!-- bench_sweep:end -->"
BUYERS, STEPS = 1_000, 180
TARGET_VS_REFERENCE, TARGET_SCALING, TARGET_RULES_VS_REFERENCE = 10.0, 1.7, 20.0


# --- measurements (each in its own process) ----------------------------------------------------


DESIGNS = {
    "replications": "replications of one design point",
    "points": "one replication per design point, points differ in buyers' detection skill",
    "rules": "one replication per design point, points differ in a rule parameter",
}
"""The sweeps measured; all of them stack their runs in engines."""


def measure_recip(runs: int, workers: int, design_kind: str = "replications") -> dict:
    """One sweep of ``runs`` runs of the workload (see :data:`DESIGNS`); end-to-end and steady
    rates."""
    from sim.config import load_scenario
    from sim.sweep.execute import run_sweep
    from sim.sweep.spec import parse_spec

    if design_kind == "replications":
        design = {"kind": "grid", "parameters": {"buyers.n": [BUYERS]}}
    elif design_kind == "points":
        design = {"kind": "list", "points": [
            {"buyers.n": BUYERS, "buyers.detection_skill.mean": 0.3 + 0.1 * i / runs}
            for i in range(runs)]}
    else:  # within 1% of the calibrated value: the same work, but no two runs share rules
        debt = load_scenario("pushy_vs_active").rules.debt_weight
        design = {"kind": "list", "points": [
            {"buyers.n": BUYERS, "rules.debt_weight": debt * (0.99 + 0.02 * i / runs)}
            for i in range(runs)]}
    spec = parse_spec({
        "sweep": {"scenario": "pushy_vs_active", "steps": STEPS, "seed": 1,
                  "replications": runs if design_kind == "replications" else 1,
                  "metrics": ["conversion_rate", "complaint_rate", "retention_90d"]},
        "design": design}, origin="bench")
    ticks: list[tuple[float, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        outcome = run_sweep(spec, Path(tmp) / "out", workers=workers,
                            progress=lambda done, total: ticks.append((time.perf_counter(), done)))
        seconds = time.perf_counter() - began
    assert outcome.complete and outcome.runs_failed == 0
    (t0, n0), (t1, n1) = ticks[1], ticks[-1]  # ticks[0] is the call before any run
    steady = (n1 - n0) / (t1 - t0) if t1 > t0 else float("nan")
    return {"rate": runs / seconds, "steady": steady, "seconds": seconds, "batch": outcome.batch}


def measure_reference(runs: int, processes: int) -> dict:
    """``mesa.batch_run`` over BoltzmannWealth at 1,000 agents for 180 steps."""
    import mesa

    began = time.perf_counter()
    results = mesa.batch_run(BoltzmannReference, parameters={"n": BUYERS, "side": 32},
                             rng=list(range(runs)), max_steps=STEPS, number_processes=processes,
                             data_collection_period=-1, display_progress=False)
    seconds = time.perf_counter() - began
    assert {row["Step"] for row in results} == {STEPS}
    return {"rate": runs / seconds, "seconds": seconds}


class BoltzmannReference(BoltzmannWealth):
    """BoltzmannWealth taking batch_run's keyword arguments: in mesa 3.5 its ``__init__`` takes
    only a ``BoltzmannScenario``, while batch_run passes each parameter and ``rng`` as keywords.
    Defined at module level so that batch_run's spawned processes can unpickle it."""

    def __init__(self, n: int = 100, side: int = 10, rng=None):
        super().__init__(scenario=BoltzmannScenario(n=n, width=side, height=side, rng=rng))


def child(kind: str, runs: int, workers: int) -> dict:
    """Run one measurement (``reference`` or a key of :data:`DESIGNS`) in a fresh interpreter;
    return its JSON."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--runs", str(runs),
           "--workers", str(workers)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=HERE.parent)
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- report -------------------------------------------------------------------------------------


def machine() -> str:
    """CPU, cores, memory and versions, for the report."""
    import mesa
    import numpy

    from sim.provenance import package_version

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.processor())
    mem = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))) / 2**20
    return (f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB; Python {platform.python_version()}, "
            f"numpy {numpy.__version__}, mesa {mesa.__version__}, recip {package_version()}; "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


def section(results: dict, args: argparse.Namespace) -> str:
    """The Markdown section for BENCHMARKS.md."""
    def med(key: str, field: str = "rate") -> float:
        return statistics.median(r[field] for r in results[key])

    r1, r2, p1, u1 = med("recip1"), med("recip2"), med("points1"), med("rules1")
    s1, s2 = med("recip1", "steady"), med("recip2", "steady")
    b1, b2 = med("ref1"), med("ref2")
    vs_ref, scaling = r1 / b1, r2 / r1
    lines = [
        START, "## Sweeps (`experiments/bench_sweep.py`)", "",
        f"Machine: {machine()}.", "",
        f"Workload: `pushy_vs_active`, {BUYERS:,} buyers, {STEPS} steps, final metrics, through "
        f"`recip sweep` ({args.runs:,} runs per measurement: "
        "pool start-up, Parquet chunks and manifest included). Reference: `mesa.batch_run` over "
        f"mesa's `BoltzmannWealth` at {BUYERS:,} agents (32 x 32 grid) and {STEPS} steps "
        f"({args.reference_runs} runs per measurement), "
        f"in the same run. Medians of {args.repeats} measurements, each in a fresh process; "
        "end to end includes start-up, steady is the rate between the first and last chunk.", "",
        "| | workers | runs/s end to end | runs/s steady | vs reference (same workers) |",
        "|---|---:|---:|---:|---:|",
        f"| mesa.batch_run BoltzmannWealth | 1 | {b1:.2f} | | 1.0x |",
        f"| mesa.batch_run BoltzmannWealth | 2 | {b2:.2f} | | 1.0x |",
        f"| recip sweep, {DESIGNS['replications']} | 1 | {r1:.2f} | {s1:.2f} | {r1 / b1:.1f}x |",
        f"| recip sweep, {DESIGNS['replications']} | 2 | {r2:.2f} | {s2:.2f} | {r2 / b2:.1f}x |",
        f"| recip sweep, {DESIGNS['points']} | 1 | {p1:.2f} | {med('points1', 'steady'):.2f} "
        f"| {p1 / b1:.1f}x |",
        f"| recip sweep, {DESIGNS['rules']} | 1 | {u1:.2f} | {med('rules1', 'steady'):.2f} "
        f"| {u1 / b1:.1f}x |", "",
        "A sweep stacks the runs of a task in engines (about "
        f"{STACKED_TIES:,} ties: {STACKED_TIES // (2 * BUYERS)} runs of 2 sellers x 1,000 buyers, "
        "fewer when a task's batch is smaller), whatever they differ in (rule parameters become "
        "per-run columns); each is exactly the run it would be alone "
        "(`tests/test_model.py`, `tests/test_properties.py`), and a day's fixed cost of numpy "
        "calls is paid once for the stack.", "",
        f"- Target at least {TARGET_VS_REFERENCE:.0f}x the reference's runs per second (1 worker): "
        f"**{vs_ref:.1f}x, {'PASS' if vs_ref >= TARGET_VS_REFERENCE else 'FAIL'}**.",
        f"- Target at least {TARGET_SCALING}x from 1 to 2 workers (end to end): **{scaling:.2f}x, "
        f"{'PASS' if scaling >= TARGET_SCALING else 'FAIL'}** (steady: {s2 / s1:.2f}x).",
        f"- Target, a sweep over a rule parameter, at least {TARGET_RULES_VS_REFERENCE:.0f}x the "
        f"reference (1 worker): **{u1 / b1:.1f}x, "
        f"{'PASS' if u1 / b1 >= TARGET_RULES_VS_REFERENCE else 'FAIL'}**.",
        END]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000,
                        help="recip runs per measurement (replications of one design point)")
    parser.add_argument("--reference-runs", type=int, default=12,
                        help="batch_run runs per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "BENCHMARKS.md")
    parser.add_argument("--child", choices=["reference", *DESIGNS], help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child in DESIGNS:
        print(json.dumps(measure_recip(args.runs, args.workers, args.child)))
        return
    if args.child == "reference":
        print(json.dumps(measure_reference(args.runs, args.workers)))
        return

    results: dict[str, list[dict]] = {"ref1": [], "ref2": [], "recip1": [], "recip2": [],
                                      "points1": [], "rules1": []}
    for repeat in range(args.repeats):
        # Interleaved, so that a change in machine load touches every measurement alike.
        for key, kind, runs, workers in (("ref1", "reference", args.reference_runs, 1),
                                         ("ref2", "reference", args.reference_runs, 2),
                                         ("recip1", "replications", args.runs, 1),
                                         ("recip2", "replications", args.runs, 2),
                                         ("points1", "points", args.runs, 1),
                                         ("rules1", "rules", args.runs, 1)):
            result = child(kind, runs, workers)
            results[key].append(result)
            print(f"[{repeat + 1}/{args.repeats}] {key:7s} {result['rate']:7.2f} runs/s"
                  + (f" (steady {result['steady']:.2f})" if "steady" in result else ""),
                  flush=True)
    text = section(results, args)
    print(text)
    from bench_engine import write  # one writer of BENCHMARKS.md's sections

    write(args.out, text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
