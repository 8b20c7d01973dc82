"""Probe: what would a compiled engine gain, and would it keep results bit for bit?

Issue 9 asks for 35x mesa's BoltzmannWealth at 10,000 buyers (a day in about 1.8 ms) with results
unchanged, and allows a compiled kernel where it keeps them identical. This script measures the
two facts that decide it, on one phase (churn: a scan of every tie, the rule's ``exp``/``log``
on every customer, a counter-based draw each, the bookkeeping), at day 60 of
``bench_engine.workload(10_000)``:

1. the phase as the engine runs it (since then: its bookkeeping compiled, the rule in numpy);
2. its bookkeeping compiled (selection, gathers, draws, writes), the rule's mathematics still
   ``sim.rules`` in numpy, which keeps results bit for bit;
3. all of it compiled, the rule's mathematics included (written out in the kernel, as a compiled
   engine would have it), which is the only way to remove numpy's per-call cost;

and, on 2,000,000 values in the ranges the rules use, how often numba's compiled ``exp``, ``log``
and ``power`` differ from numpy's in the last bit on this machine.

Since this probe, the engine compiles its bookkeeping this way (``sim/engine/compiled.py``), so
row 1 now measures what row 2 did; row 3 (the rules compiled too) is what remains, and it is
not bit for bit. numba is a dependency of recip. Not run by CI. Writes its section of ``BENCHMARKS.md``.

Usage: python experiments/kernel_probe.py [--repeats 300] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench_engine  # noqa: E402

from sim import rules  # noqa: E402
from sim.engine.draws import Purpose, uniform  # noqa: E402  (the engine's compiled hash)
from sim.engine.phases import churn  # noqa: E402
from sim.engine.state import CHURNED, CUSTOMER, RETENTION_DAYS  # noqa: E402
from sim.provenance import numpy_math_paths  # noqa: E402

START, END = "<!-- kernel_probe:start -->", "<!-- kernel_probe:end -->"
DAY = 60


def compiled(numba):
    """The kernels, compiled once numba is imported."""
    njit = numba.njit

    @njit
    def kept_giving(after_sale_every, last_gift, converted, day, step_days, window):
        return (after_sale_every > 0 and last_gift >= 0 and (day - last_gift) * step_days < window
                and converted <= last_gift)

    @njit
    def gather(status, last_gift, converted, closed, trust, reactance, owed, after_sale_every,
               day, step_days, window):
        """Bookkeeping before the rule: the customers and the rule's inputs, in tie order."""
        rows, n = status.shape
        count = 0
        for r in range(rows):
            for j in range(n):
                count += status[r, j] == CUSTOMER
        index, row = np.empty(count, np.int64), np.empty(count, np.int64)
        kept, shut = np.empty(count, np.bool_), np.empty(count, np.bool_)
        trust_, reactance_, owed_ = np.empty(count), np.empty(count), np.empty(count)
        k = 0
        for r in range(rows):
            for j in range(n):
                if status[r, j] == CUSTOMER:
                    index[k], row[k] = r * n + j, r
                    kept[k] = kept_giving(after_sale_every[r], last_gift[r, j], converted[r, j],
                                          day, step_days, window)
                    trust_[k], reactance_[k], owed_[k] = trust[r, j], reactance[r, j], owed[r, j]
                    shut[k] = closed[r, j]
                    k += 1
        return index, row, kept, shut, trust_, reactance_, owed_

    @njit
    def apply(index, row, probability, day, key, step_days, status, churn_day, converted,
              churned, within):
        """Bookkeeping after the rule: draws, departures and tallies."""
        status_, churn_day_, converted_ = status.ravel(), churn_day.ravel(), converted.ravel()
        for i in range(index.size):
            tie = index[i]
            if uniform(day, Purpose.CHURN, tie, key) < probability[i]:
                status_[tie], churn_day_[tie] = CHURNED, day
                churned[row[i]] += 1
                within[row[i]] += (day - converted_[tie]) * step_days < RETENTION_DAYS

    @njit
    def whole_phase(day, key, status, last_gift, converted, closed, trust, reactance, owed,
                    after_sale_every, step_days, window, base, trust_weight, neutral_trust,
                    threshold, reactance_weight, resentment_weight, keep_effect, closed_effect,
                    churn_day, churned, within, hazard_out):
        """Everything compiled, rules.churn_hazard written out (step_days == 1)."""
        rows, n = status.shape
        log_base = np.log(base)
        k = 0
        for r in range(rows):
            for j in range(n):
                if status[r, j] != CUSTOMER:
                    continue
                log_h = (log_base - trust_weight * (trust[r, j] - neutral_trust)
                         + reactance_weight * max(reactance[r, j] - threshold, 0.0)
                         + resentment_weight * max(-owed[r, j], 0.0)
                         + closed_effect * (1.0 if closed[r, j] else 0.0))
                kept = kept_giving(after_sale_every[r], last_gift[r, j], converted[r, j], day,
                                   step_days, window)
                hazard = min(max(np.exp(log_h) / ((1.0 + keep_effect) if kept else 1.0), 0.0), 1.0)
                hazard_out[k] = hazard
                k += 1
                if uniform(day, Purpose.CHURN, r * n + j, key) < hazard:
                    status[r, j], churn_day[r, j] = CHURNED, day
                    churned[r] += 1
                    within[r] += (day - converted[r, j]) * step_days < RETENTION_DAYS

    @njit
    def math(x, y):
        return np.exp(x), np.log(y), y ** x

    return gather, apply, whole_phase, math


def timed(function, repeats: int, batches: int = 7) -> float:
    """Milliseconds per call: the fastest of ``batches`` batches' means (as ``timeit`` advises:
    slower batches measure the machine's other work, not the code)."""
    function()  # compile, warm
    means = []
    for _ in range(batches):
        began = time.perf_counter()
        for _ in range(repeats):
            function()
        means.append((time.perf_counter() - began) / repeats * 1e3)
    return min(means)


def probe(repeats: int) -> dict:
    import numba

    gather, apply, whole_phase, math = compiled(numba)
    model = bench_engine.workload(10_000)
    for _ in range(DAY):
        model.step()
    e, p = model.engine, model.engine.rules
    st, day, key = e.state, e.day, e.behaviour_keys[0]
    assert float(p.step_days) == 1.0, "the written-out kernel assumes one-day steps"
    owed = e.effective_obligation()
    saved = {name: getattr(st, name).copy() for name in ("status", "churn_day")}
    tallies = {name: getattr(e.tallies, name).copy() for name in ("churned", "churned_within_90d")}
    after_sale = e.plan.gift.after_sale_every[:, 0].astype(np.int64)

    def restore():
        for name, values in saved.items():
            getattr(st, name)[:] = values
        for name, values in tallies.items():
            getattr(e.tallies, name)[:] = values

    def engine_phase():
        restore()
        churn.leave(e, day, owed)

    def bookkeeping_compiled():
        restore()
        index, row, kept, shut, trust, reactance, owed_ = gather(
            st.status, st.last_gift_day, st.converted_day, st.account_closed, st.trust,
            st.reactance, owed, after_sale, day, float(p.step_days), p.keep_giving_window)
        hazard = rules.churn_hazard(
            trust, rules.reactance_excess(reactance, threshold=p.reactance_threshold),
            np.maximum(-owed_, 0.0), kept, shut, base_hazard=p.churn_base,
            trust_weight=p.churn_trust, neutral_trust=p.neutral_trust,
            reactance_weight=p.churn_reactance, resentment_weight=p.churn_resentment,
            keep_giving_effect=p.keep_giving_effect, closed_account_effect=p.closed_account_effect)
        apply(index, row, rules.per_step_probability(hazard, p.step_days), day, key,
              float(p.step_days), st.status, st.churn_day, st.converted_day, e.tallies.churned,
              e.tallies.churned_within_90d)
        return hazard

    customers = int((saved["status"] == CUSTOMER).sum())
    hazard_compiled = np.empty(customers)

    def all_compiled():
        restore()
        whole_phase(day, key, st.status, st.last_gift_day, st.converted_day, st.account_closed,
                    st.trust, st.reactance, owed, after_sale, float(p.step_days),
                    p.keep_giving_window, p.churn_base, p.churn_trust, p.neutral_trust,
                    p.reactance_threshold, p.churn_reactance, p.churn_resentment,
                    p.keep_giving_effect, p.closed_account_effect, st.churn_day,
                    e.tallies.churned, e.tallies.churned_within_90d, hazard_compiled)

    results = {}
    for label, function in (("engine", engine_phase), ("bookkeeping", bookkeeping_compiled),
                            ("compiled", all_compiled)):
        results[label] = timed(function, repeats)
        function()
        results[f"{label}_state"] = (st.status.copy(), st.churn_day.copy(),
                                     e.tallies.churned.copy())
    hazard_numpy = bookkeeping_compiled()
    restore()
    same = {label: all(np.array_equal(a, b) for a, b in zip(results[f"{label}_state"],
                                                             results["engine_state"], strict=True))
            for label in ("bookkeeping", "compiled")}

    rng = np.random.default_rng(1)
    x, y = rng.uniform(-8.0, 3.0, 2_000_000), rng.uniform(1e-6, 50.0, 2_000_000)
    exp_c, log_c, pow_c = math(x, y)
    differ = {"exp": float(np.mean(exp_c != np.exp(x))), "log": float(np.mean(log_c != np.log(y))),
              "power": float(np.mean(pow_c != y ** x))}
    return {"customers": customers, "ms": {k: results[k] for k in ("engine", "bookkeeping",
                                                                    "compiled")},
            "same_state": same, "hazards_differ": float(np.mean(hazard_compiled != hazard_numpy)),
            "math_differ": differ, "numba": numba.__version__, "numpy_math": numpy_math_paths()}


def section(r: dict) -> str:
    ms = r["ms"]
    rows = [("the engine's phase (as it runs now)", "engine", "reference"),
            ("bookkeeping compiled, the rule in numpy (`sim.rules`)", "bookkeeping",
             "bit for bit: " + ("yes" if r["same_state"]["bookkeeping"] else "NO")),
            ("all compiled, the rule's math written into the kernel", "compiled",
             f"{r['hazards_differ']:.1%} of hazards differ in the last bits; same departures: "
             + ("yes" if r["same_state"]["compiled"] else "no"))]
    lines = [
        "## Compiled kernel probe (`experiments/kernel_probe.py`)", "",
        f"{bench_engine.machine()}; numba {r['numba']}; numpy's math paths here: "
        + ", ".join(f"{k} {v}" for k, v in r["numpy_math"].items()) + ".", "",
        f"The churn phase at day {DAY} of the engine benchmark's 10,000-buyer workload "
        f"({r['customers']:,} customer ties of 20,000), milliseconds per call (the fastest of 7 "
        "batches' means).", "",
        "| the phase | ms | vs the engine | results |", "|---|---:|---:|---|"]
    for label, key, note in rows:
        lines.append(f"| {label} | {ms[key]:.3f} | {ms['engine'] / ms[key]:.1f}x | {note} |")
    lines += ["", "numba's compiled math against numpy's on 2,000,000 values in the rules' ranges, "
              "share differing in the last bit: " + ", ".join(
                  f"`{k}` {v:.1%}" for k, v in r["math_differ"].items()) + ".", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--out", type=Path, default=HERE / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    try:
        import numba  # noqa: F401
    except ImportError:
        sys.exit("kernel_probe needs numba (a dependency of recip): pip install -e .")
    text = section(probe(args.repeats))
    print(text)
    bench_engine.write(args.out, f"{START}\n{text}{END}")


if __name__ == "__main__":
    main()
