"""Replications and paired comparisons, with 95% intervals, on common random numbers.

``replicate`` runs a scenario (or one of its arms) ``reps`` times and summarises every metric,
for all sellers and for each strategy, by its mean and 95% t-interval over replications::

    from sim.compare import compare, replicate

    reps = replicate("pushy_vs_active", reps=30, seed=1, steps=90)
    reps.summary()            # strategy, metric, unit, mean, ci_low, ci_high, sd, n (last step)

``compare`` answers "A or B?" for two arms of a scenario, or two strategies in play in it::

    result = compare("pushy_vs_active", "active", "pushy", reps=30, seed=1)
    result.table              # per metric: mean_a, mean_b, difference (A - B), its 95% interval,
                              # a paired t-test's p-value, n
    result.write("results/compare")   # compare.csv, compare.json, compare.png (+ .svg), values.csv

Replication ``r`` runs with seed ``replication_seeds(seed, reps)[r]`` (numpy ``SeedSequence(seed)
.spawn(reps)``; the seeds are recorded). Both sides of a comparison use the same seeds: the same
network, population and daily draws (common random numbers). Two arms run as separate runs with
the same seed; two strategies are compared within each run (the same buyers, the same day). Each
difference is paired by seed, so the interval is of the mean paired difference:
``mean(d) +- t(0.975, n - 1) * sd(d) / sqrt(n)``, and the test is a paired (one-sample) t-test of
``d`` against 0. When every paired difference is the same (sd 0) the p-value is 1 for a
difference of 0 and 0 otherwise. Replications where a metric is NaN on either side (a retention
before any conversion) are left out of that metric's pair count ``n``.

All runs are stacked in engines (:func:`sim.runner.run_stacked`): each is bit for bit the run it
would be alone, and 30 replications cost little more than a few.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import metrics as registry
from sim.config import Scenario, ScenarioError, load_scenario
from sim.runner import replication_seeds, run_stacked

ALL = "all"
"""The strategy label of metrics over all sellers."""
LEVEL = 0.95
SEED_DERIVATION = ("replication r uses int(SeedSequence(seed).spawn(reps)[r].generate_state(1, "
                   "uint64)[0] >> 1) (sim.runner.replication_seeds)")


# --- statistics ---------------------------------------------------------------------------------


def mean_ci(values: Sequence[float] | np.ndarray) -> dict[str, float]:
    """Mean, 95% t-interval, sd and count of the finite values (NaN bounds below two values).

    >>> {k: round(v, 3) for k, v in mean_ci([1.0, 2.0, 3.0, float("nan")]).items()}
    {'mean': 2.0, 'ci_low': -0.484, 'ci_high': 4.484, 'sd': 1.0, 'n': 3}
    """
    from scipy import stats

    array = np.asarray(values, dtype=float)
    array = array[np.isfinite(array)]
    n = int(array.size)
    if n == 0:
        return {"mean": math.nan, "ci_low": math.nan, "ci_high": math.nan, "sd": math.nan, "n": 0}
    mean = float(array.mean())
    if n < 2:
        return {"mean": mean, "ci_low": math.nan, "ci_high": math.nan, "sd": math.nan, "n": 1}
    sd = float(array.std(ddof=1))
    half = float(stats.t.ppf(0.5 + LEVEL / 2, n - 1)) * sd / math.sqrt(n)
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "sd": sd, "n": n}


def paired_test(differences: Sequence[float] | np.ndarray) -> dict[str, float]:
    """:func:`mean_ci` of paired differences, with the paired t-test of their mean against 0
    (``t``, ``p_value``; p = 1 when every difference is 0, p = 0 when all are the same other
    value, up to rounding: 1e-12 relative).

    >>> paired_test([0.0, 0.0, 0.0])["p_value"], paired_test([1.0, 1.0])["p_value"]
    (1.0, 0.0)
    """
    from scipy import stats

    summary = mean_ci(differences)
    array = np.asarray(differences, dtype=float)
    array = array[np.isfinite(array)]
    if summary["n"] < 2:
        return {**summary, "t": math.nan, "p_value": math.nan}
    if np.ptp(array) <= 1e-12 * max(1.0, abs(summary["mean"])):  # the same difference every time
        same = summary["mean"] == 0.0
        return {**summary, "t": 0.0 if same else math.copysign(math.inf, summary["mean"]),
                "p_value": 1.0 if same else 0.0}
    result = stats.ttest_1samp(array, 0.0)
    return {**summary, "t": float(result.statistic), "p_value": float(result.pvalue)}


# --- replications -------------------------------------------------------------------------------


@dataclass
class Replications:
    """Every replication's metrics over time, for all sellers and each strategy."""

    scenario: str
    arm: str | None
    seed: int
    seeds: list[int]
    steps: int
    overrides: dict[str, Any]
    outcomes: dict[str, str]
    strategies: list[str]
    runs: pd.DataFrame
    """Tidy: ``replication``, ``seed``, ``step``, ``strategy`` (``"all"`` or a strategy), then
    one column per metric."""
    config: Scenario = field(repr=False, default=None)

    @property
    def metrics(self) -> list[str]:
        return [c for c in self.runs.columns if c not in ("replication", "seed", "step",
                                                           "strategy")]

    def final(self) -> pd.DataFrame:
        """The rows of the last step."""
        return self.runs[self.runs.step == self.runs.step.max()]

    def summary(self, step: int | None = None) -> pd.DataFrame:
        """Per strategy (``"all"`` first) and metric: unit, mean, 95% interval, sd and n over the
        replications, at ``step`` (default: the last)."""
        rows = self.final() if step is None else self.runs[self.runs.step == step]
        out = []
        for strategy in [ALL, *self.strategies]:
            part = rows[rows.strategy == strategy]
            for metric in self.metrics:
                out.append({"strategy": strategy, "metric": metric,
                            "unit": unit_of(metric, self.outcomes),
                            **mean_ci(part[metric].to_numpy(dtype=float))})
        return pd.DataFrame(out)

    def over_time(self) -> pd.DataFrame:
        """Per step and strategy: each metric's mean and its 95% interval
        (``<metric>_ci_low``, ``<metric>_ci_high``), for figures."""
        from scipy import stats

        groups = self.runs.groupby(["strategy", "step"], sort=False)[self.metrics]
        mean, sd, n = groups.mean(), groups.std(ddof=1), groups.count()
        with np.errstate(invalid="ignore", divide="ignore"):
            half = stats.t.ppf(0.5 + LEVEL / 2, n - 1) * sd / np.sqrt(n)
        half = half.where(n >= 2)
        out = mean.copy()
        for metric in self.metrics:
            out[f"{metric}_ci_low"] = mean[metric] - half[metric]
            out[f"{metric}_ci_high"] = mean[metric] + half[metric]
        return out.reset_index()


def elapsed(config: Scenario | None, steps: int) -> str:
    """``steps`` as time: ``day 180``, or ``step 48 (2 days)`` when a step is not one day.

    >>> elapsed(None, 180)
    'day 180'
    """
    step = 1.0 if config is None else config.step
    return f"day {steps}" if step == 1.0 else f"step {steps} ({steps * step:g} days)"


def unit_of(metric: str, outcomes: Mapping[str, str] | None = None) -> str:
    kind = (outcomes or {}).get(metric, metric)
    return registry.METRICS[kind].unit if kind in registry.METRICS else ""


def replicate(scenario: Any, *, reps: int = 30, seed: int = 0, arm: str | None = None,
              overrides: Mapping[str, Any] | None = None, steps: int | None = None,
              every: int | None = 1, metrics: Sequence[str] | None = None) -> Replications:
    """Run ``reps`` replications of a scenario (or one arm), stacked, and keep every metric for
    all sellers and each strategy at steps ``every``, ``2 * every``, ... and the last (``every =
    None``: the last step only). ``metrics`` defaults to the core metrics and the scenario's
    outcomes."""
    if reps < 1:
        raise ScenarioError(f"reps = {reps}: at least 1 replication is needed")
    config = load_scenario(scenario, arm=arm, overrides=overrides)
    names = _metric_list(config, metrics)
    strategies = config.strategies_in_play
    columns = {(strategy, m): m if strategy == ALL else f"{m}[{strategy}]"
               for strategy in [ALL, *strategies] for m in names}
    seeds = replication_seeds(seed, reps)
    runs = run_stacked([config] * reps, seeds, steps=steps, metrics=list(columns.values()),
                       every=every)
    records = []
    for replication, (run_seed, rows) in enumerate(zip(seeds, runs, strict=True)):
        for row in rows:
            for strategy in [ALL, *strategies]:
                records.append({"replication": replication, "seed": run_seed, "step": row["step"],
                                "strategy": strategy,
                                **{m: row[columns[strategy, m]] for m in names}})
    return Replications(scenario=config.name, arm=config.arm, seed=seed, seeds=seeds,
                        steps=steps or config.steps, overrides=dict(overrides or {}),
                        outcomes=dict(config.outcomes), strategies=strategies,
                        runs=pd.DataFrame(records), config=config)


def _metric_list(config: Scenario, chosen: Sequence[str] | None) -> list[str]:
    known = registry.metric_names(config)
    if not chosen:
        return known
    for name in chosen:
        if name not in known:
            raise ScenarioError(f"metric = {name!r} is not a metric of {config.name}; allowed: "
                                f"{', '.join(known)}")
    return list(dict.fromkeys(chosen))


# --- comparisons --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One side of a comparison: an arm of the scenario, or a strategy in play."""

    kind: str
    """``"arm"`` or ``"strategy"``."""
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


def resolve_sides(scenario: Any, a: str, b: str, *, arm: str | None = None,
                  overrides: Mapping[str, Any] | None = None) -> tuple[Side, Side]:
    """``a`` and ``b`` as arms or strategies of ``scenario``: a name that is both (or neither)
    needs a prefix, ``arm:NAME`` or ``strategy:NAME``. Both sides must be of the same kind."""
    base = load_scenario(scenario, overrides=overrides)
    arms = list(base.arms)
    in_play = load_scenario(scenario, arm=arm, overrides=overrides).strategies_in_play
    sides = []
    for label, text in (("A", a), ("B", b)):
        kind, _, name = text.partition(":") if ":" in text else ("", "", text)
        if kind and kind not in ("arm", "strategy"):
            raise ScenarioError(f"{label} = {text!r}: the prefix must be 'arm:' or 'strategy:'")
        is_arm, is_strategy = name in arms, name in in_play
        if not kind:
            if is_arm and is_strategy:
                raise ScenarioError(f"{label} = {text!r} is both an arm and a strategy of "
                                    f"{base.name}; write arm:{name} or strategy:{name}")
            kind = "arm" if is_arm else "strategy" if is_strategy else ""
        if (kind == "arm" and not is_arm) or (kind == "strategy" and not is_strategy) or not kind:
            raise ScenarioError(
                f"{label} = {text!r} is not an arm or a strategy in play of {base.name}; "
                f"arms: {', '.join(arms) or 'none'}; strategies in play: {', '.join(in_play)}")
        sides.append(Side(kind, name))
    if sides[0].kind != sides[1].kind:
        raise ScenarioError(f"A = {a!r} is {sides[0]}, B = {b!r} is {sides[1]}: compare two arms "
                            f"or two strategies")
    if sides[0].kind == "arm" and arm is not None:
        raise ScenarioError(f"arm = {arm!r}: A and B are arms already; --arm picks the arm in "
                            f"which two strategies are compared")
    return sides[0], sides[1]


@dataclass
class Comparison:
    """Paired differences A - B per metric over replications on common random numbers."""

    scenario: str
    a: Side
    b: Side
    arm: str | None
    strategy: str | None
    seed: int
    seeds: list[int]
    steps: int
    overrides: dict[str, Any]
    outcomes: dict[str, str]
    values: pd.DataFrame
    """Per replication and metric: ``replication``, ``seed``, ``metric``, ``a``, ``b``,
    ``difference``."""
    table: pd.DataFrame
    """Per metric: ``metric``, ``unit``, ``mean_a``, ``mean_b``, ``difference``, ``ci_low``,
    ``ci_high``, ``relative`` (difference / mean_b), ``sd``, ``t``, ``p_value``, ``n``."""
    config: Scenario = field(repr=False, default=None)

    @property
    def title(self) -> str:
        where = [f"arm {self.arm}"] if self.arm else []
        where += [f"strategy {self.strategy}"] if self.strategy else []
        suffix = f" ({', '.join(where)})" if where else ""
        return (f"{self.scenario}{suffix}: {self.a} - {self.b}, {elapsed(self.config, self.steps)}, "
                f"{len(self.seeds)} paired replications")

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready (NaN as None)."""
        return _jsonable({
            "scenario": self.scenario, "a": vars(self.a), "b": vars(self.b), "arm": self.arm,
            "strategy": self.strategy, "steps": self.steps, "seed": self.seed,
            "replications": len(self.seeds), "seeds": self.seeds,
            "seed_derivation": SEED_DERIVATION, "common_random_numbers": True,
            "overrides": self.overrides,
            "method": ("paired differences A - B by seed; mean with a 95% t-interval; paired "
                       "t-test against 0 (p = 1 when every difference is 0)"),
            "table": self.table.to_dict(orient="records"),
            "values": self.values.to_dict(orient="records"),
        })

    def write(self, out: str | Path, *, provenance: Mapping[str, Any] | None = None
              ) -> dict[str, Path]:
        """``compare.csv`` (the table), ``values.csv`` (every pair), ``compare.json`` (both, the
        seeds and ``provenance``) and ``compare.png`` (+ ``.svg``) in ``out``."""
        from sim.plots import plot_differences
        from sim.runner import write_atomic

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"table": out / "compare.csv", "values": out / "values.csv",
                 "json": out / "compare.json", "figure": out / "compare.png"}
        write_atomic(paths["table"], self.table.to_csv(index=False).encode())
        write_atomic(paths["values"], self.values.to_csv(index=False).encode())
        payload = self.to_dict()
        if provenance is not None:
            payload["provenance"] = dict(provenance)
        write_atomic(paths["json"], json.dumps(payload, indent=2, allow_nan=False).encode())
        plot_differences(self.table, paths["figure"], title=self.title,
                         replications=len(self.seeds), outcomes=self.outcomes)
        return paths


def compare(scenario: Any, a: str, b: str, *, reps: int = 30, seed: int = 0,
            arm: str | None = None, strategy: str | None = None,
            overrides: Mapping[str, Any] | None = None, steps: int | None = None,
            metrics: Sequence[str] | None = None) -> Comparison:
    """Compare ``a`` with ``b`` (two arms, or two strategies in play; see :func:`resolve_sides`)
    over ``reps`` replications on the same seeds, at the last step.

    Arms: each metric over all sellers (or over ``strategy``'s sellers) in the arm-A run minus
    the same in the arm-B run with the same seed. Strategies: ``metric[a] - metric[b]`` within
    each run (of ``arm``, if given)."""
    if reps < 2:
        raise ScenarioError(f"reps = {reps}: a comparison needs at least 2 replications")
    side_a, side_b = resolve_sides(scenario, a, b, arm=arm, overrides=overrides)
    if side_a.kind == "strategy" and strategy is not None:
        raise ScenarioError(f"strategy = {strategy!r}: A and B are strategies already; "
                            f"--strategy picks whose metrics two arms are compared on")
    seeds = replication_seeds(seed, reps)
    if side_a.kind == "arm":
        configs = [load_scenario(scenario, arm=side.name, overrides=overrides)
                   for side in (side_a, side_b)]
        for config in configs:
            if strategy is not None and strategy not in config.strategies_in_play:
                raise ScenarioError(f"strategy = {strategy!r} is not in play in arm "
                                    f"{config.arm!r}; in play: "
                                    f"{', '.join(config.strategies_in_play)}")
        names = _metric_list(configs[0], metrics)
        _metric_list(configs[1], names)
        columns = [name if strategy is None else f"{name}[{strategy}]" for name in names]
        rows = run_stacked([configs[0]] * reps + [configs[1]] * reps, seeds + seeds,
                           steps=steps, metrics=columns)
        finals = [run[-1] for run in rows]
        pairs = {name: ([f[column] for f in finals[:reps]], [f[column] for f in finals[reps:]])
                 for name, column in zip(names, columns, strict=True)}
        config = configs[0]
    else:
        config = load_scenario(scenario, arm=arm, overrides=overrides)
        names = _metric_list(config, metrics)
        columns = [f"{name}[{side.name}]" for name in names for side in (side_a, side_b)]
        rows = run_stacked([config] * reps, seeds, steps=steps, metrics=columns)
        finals = [run[-1] for run in rows]
        pairs = {name: ([f[f"{name}[{side_a.name}]"] for f in finals],
                        [f[f"{name}[{side_b.name}]"] for f in finals]) for name in names}
    horizon = finals[0]["step"]
    values, table = _paired_tables(pairs, seeds, config.outcomes)
    return Comparison(scenario=config.name, a=side_a, b=side_b, arm=arm, strategy=strategy,
                      seed=seed, seeds=seeds, steps=horizon, overrides=dict(overrides or {}),
                      outcomes=dict(config.outcomes), values=values, table=table, config=config)


def _paired_tables(pairs: Mapping[str, tuple[list[float], list[float]]], seeds: list[int],
                   outcomes: Mapping[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    values, table = [], []
    for name, (a_values, b_values) in pairs.items():
        a_array, b_array = np.asarray(a_values, float), np.asarray(b_values, float)
        differences = a_array - b_array
        for r, seed in enumerate(seeds):
            values.append({"replication": r, "seed": seed, "metric": name, "a": a_array[r],
                           "b": b_array[r], "difference": differences[r]})
        paired = np.isfinite(differences)
        test = paired_test(differences[paired])
        mean_a, mean_b = (float(x[paired].mean()) if paired.any() else math.nan
                          for x in (a_array, b_array))
        table.append({"metric": name, "unit": unit_of(name, outcomes), "mean_a": mean_a,
                      "mean_b": mean_b, "difference": test["mean"], "ci_low": test["ci_low"],
                      "ci_high": test["ci_high"],
                      "relative": test["mean"] / mean_b if mean_b else math.nan,
                      "sd": test["sd"], "t": test["t"], "p_value": test["p_value"],
                      "n": test["n"]})
    return pd.DataFrame(values), pd.DataFrame(table)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
