"""Fit the global rule parameters once, on every calibration target of RECIPROCITY.md (both sets),
with a Bayesian method, and check each study left out.

Method (details in the module docstring of :mod:`sim.calibration.fit` and in the report it
writes, ``experiments/CALIBRATION.md``): emcee's ensemble sampler over the parameters in
``FITTED`` (uniform priors within bounds, log-uniform where marked), the likelihood comparing
each target's statistic (mean of the model over fixed seeds, common random numbers) with the
paper's figure. Every walker of an iteration runs in one batch of stacked engines.

Outputs: ``scenarios/_posterior.csv`` (the posterior draws, shipped: ``recip validate`` draws
its posterior-predictive intervals from them), the ``# fitted`` lines of
``scenarios/_defaults.toml`` (the draw with the highest posterior density: the defaults are the
posterior's point estimate), ``experiments/CALIBRATION.md`` and its figures in
``experiments/calibration/``. Leave-one-study-out: each study (scenario file) is left out in turn,
the parameters refitted without it, and its targets predicted from that posterior.

Scenario files are never changed; no parameter is set per scenario, arm or study.

Usage: python experiments/calibrate.py [--walkers 40] [--iterations 400] [--loso-iterations 200]
       [--workers 2] [--no-loso] [--quick] [--fresh]
Checkpoints in experiments/calibration/ make an interrupted run continue (``--fresh`` restarts).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from sim import list_scenarios, load_scenario
from sim.calibration.evaluate import build_plan
from sim.calibration.fit import (
    Parameter,
    Problem,
    posterior,
    predictive,
    sample,
    write_draws,
)
from sim.paths import scenarios_dir
from sim.runner import replication_seeds

HERE = Path(__file__).resolve().parent
OUT = HERE / "calibration"

FITTED = [
    Parameter("rules.debt_weight", 0.2, 5.0, note="rule 4: the debt's push at saturation"),
    Parameter("rules.debt_saturation", 0.005, 5.0, "log",
              "rule 4: the debt (in units of the stakes) where the push bends towards its most"),
    Parameter("rules.debt_sharpness", 1.0, 10.0,
              note="rule 4: how sharply the push bends (1 gentle; large: proportional, then flat)"),
    Parameter("rules.value_exponent", 0.3, 1.0, note="rule 5: diminishing returns in quantity"),
    Parameter("rules.expected_weight", 0.0, 1.0, note="rule 5: weight of the expected gift"),
    Parameter("rules.surprise_bonus", 0.0, 3.0, note="rule 5: extra weight of a surprise"),
    Parameter("rules.personal_bonus", 0.0, 3.0, note="rule 5: extra weight of a personal gift"),
    Parameter("rules.liking_weight", 0.0, 0.5, note="rule 4: liking's own push"),
    Parameter("rules.indirect_share", 0.0, 1.0, note="rule 10: debt that spills to others"),
    Parameter("rules.mass_weight", 0.02, 1.0, "log", "rule 1: a mass-mailed gift's weight"),
    Parameter("rules.cash_weight", 0.005, 1.0, "log", "rule 1: a gift of money's weight"),
    Parameter("rules.gratitude_share", 0.0, 1.0, note="rule 6: momentary gratitude's share"),
    Parameter("rules.gratitude_half_life", 1 / 96, 1.0, "log",
              "rule 6: gratitude's half-life, days (15 minutes to a day)"),
    Parameter("rules.concession_weight", 0.0, 5.0, note="rule 11: a retreat's debt"),
    Parameter("rules.contrast_weight", 0.0, 0.5, note="rule 11: a larger request as reference"),
    Parameter("rules.crowding_out", 0.0, 1.5, note="rule 1: a promised gift's trade framing"),
]

START = {
    "rules.debt_weight": 0.74, "rules.debt_saturation": 0.053, "rules.debt_sharpness": 7.0,
    "rules.value_exponent": 0.88, "rules.expected_weight": 0.1, "rules.surprise_bonus": 0.28,
    "rules.personal_bonus": 0.18, "rules.liking_weight": 0.09, "rules.indirect_share": 0.07,
    "rules.mass_weight": 0.75, "rules.cash_weight": 0.032, "rules.gratitude_share": 0.61,
    "rules.gratitude_half_life": 0.17, "rules.concession_weight": 1.7,
    "rules.contrast_weight": 0.24, "rules.crowding_out": 0.48,
}
"""Where the walkers start (a ball of 10% of each prior's range around it): a point from a first
exploration of the fit, chosen so that burn-in is short. It does not enter the posterior."""
START_SPREAD = 0.1

FIT_BUYERS = {"falk_2007": 3000}
"""Population per run while fitting (the rest at most ``FIT_CAP``); the checks use each
scenario's own population."""
FIT_CAP = 1200
FIT_SEEDS = replication_seeds(2026, 2)
PREDICT_SEEDS = replication_seeds(7, 3)
PREDICT_DRAWS = 40


def calibration_entries() -> list[tuple[str, object]]:
    """Every target of every shipped scenario, in scenario order."""
    return [(name, target) for name in list_scenarios()
            for target in load_scenario(name).calibration.targets]


def fit_caps() -> dict[str, int]:
    return {name: FIT_BUYERS.get(name, FIT_CAP) for name in list_scenarios()}


def fit(entries, *, walkers, iterations, workers, checkpoint, label, seed=1):
    problem = Problem(build_plan(entries, buyers_cap=fit_caps()), FITTED, FIT_SEEDS)
    began = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if done % 10 == 0 or done == total:
            elapsed = time.perf_counter() - began
            print(f"  {label}: iteration {done}/{total}, {elapsed / 60:.1f} min", flush=True)

    chain = sample(problem, walkers=walkers, iterations=iterations, start=START, seed=seed,
                   workers=workers, checkpoint=checkpoint, spread=START_SPREAD,
                   progress=progress)
    return problem, chain, posterior(problem, chain)


def write_defaults(best: dict[str, float]) -> None:
    """The ``# fitted`` lines of ``_defaults.toml``: each fitted parameter's line gets the
    posterior mode and says where it came from and what the parameter does."""
    path = scenarios_dir() / "_defaults.toml"
    text = path.read_text()
    notes = {p.key: p.note for p in FITTED}
    for key, value in best.items():
        name = key.split(".", 1)[1]
        stamp = (f"# fitted (posterior mode; experiments/calibrate.py, "
                 f"{dt.date.today().isoformat()}): {notes.get(key, '')}").rstrip(": ")
        text, count = re.subn(rf"(?m)^{name} = .*$", f"{name} = {value:.6g}  {stamp}", text)
        if count != 1:
            raise SystemExit(f"{path}: expected one line '{name} = ...', found {count}")
    path.write_text(text)


def summarise(entries, sets, best, workers) -> tuple[np.ndarray, np.ndarray]:
    """Each target at full population: at the point estimate, and over posterior draws."""
    plan = build_plan(entries)
    with ProcessPoolExecutor(workers) as pool:
        at_best = predictive(plan, [best], PREDICT_SEEDS, pool=pool)[0]
        draws = predictive(plan, sets, PREDICT_SEEDS, pool=pool)
    return at_best, draws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--walkers", type=int, default=40)
    parser.add_argument("--iterations", type=int, default=400)
    parser.add_argument("--loso-iterations", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-loso", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a short run to try the script")
    parser.add_argument("--fresh", action="store_true", help="ignore existing checkpoints")
    args = parser.parse_args()
    if args.quick:
        args.walkers, args.iterations, args.loso_iterations = 32, 6, 4
    OUT.mkdir(parents=True, exist_ok=True)
    if args.fresh:
        for old in OUT.glob("chain*.pkl"):
            old.unlink()

    entries = calibration_entries()
    began = time.perf_counter()
    print(f"fitting {len(FITTED)} parameters on {len(entries)} targets", flush=True)
    problem, chain, post = fit(entries, walkers=args.walkers, iterations=args.iterations,
                               workers=args.workers, checkpoint=OUT / "chain.pkl", label="fit")
    best = post.best()
    write_draws(scenarios_dir() / "_posterior.csv", post)
    write_defaults(best)
    at_best, draws = summarise(entries, post.sample_sets(PREDICT_DRAWS, seed=3), best,
                               args.workers)

    loso, loso_chains = [], []
    if not args.no_loso:
        studies = list(dict.fromkeys(name for name, _ in entries))
        for study in studies:
            kept = [entry for entry in entries if entry[0] != study]
            left = [entry for entry in entries if entry[0] == study]
            _, chain_s, post_s = fit(kept, walkers=args.walkers,
                                     iterations=args.loso_iterations, workers=args.workers,
                                     checkpoint=OUT / f"chain_loso_{study}.pkl",
                                     label=f"without {study}")
            loso_chains.append(chain_s)
            plan = build_plan(left)
            with ProcessPoolExecutor(args.workers) as pool:
                predicted = predictive(plan, post_s.sample_sets(PREDICT_DRAWS, seed=5),
                                       PREDICT_SEEDS, pool=pool)
            for i, (_, target) in enumerate(left):
                low, mid, high = np.nanpercentile(predicted[:, i], [2.5, 50, 97.5])
                loso.append({"study": study, "target": target.study, "condition": target.condition,
                             "paper": target.paper_text or target.paper, "band": target.tolerance,
                             "prediction": float(mid), "low": float(low), "high": float(high),
                             "inside": bool(target.passes(mid, low, high)),
                             "checked": target.has_band})
    total_minutes = (time.perf_counter() - began) / 60
    from calibration_report import write_report

    write_report(problem=problem, chain=chain, post=post, entries=entries, at_best=at_best,
                 draws=draws, loso=loso, loso_chains=loso_chains, total_minutes=total_minutes,
                 args=vars(args), out=OUT, report=HERE / "CALIBRATION.md")
    (OUT / "loso.json").write_text(json.dumps(loso, indent=2) + "\n")
    print(f"done in {total_minutes:.0f} min; report: {HERE / 'CALIBRATION.md'}")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
