"""Run simulations headless: one run's metrics (for sweeps) and a full run with its outputs."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim import metrics
from sim.config import Scenario, ScenarioError, load_scenario
from sim.engine import Engine, seed_sequence_from

if TYPE_CHECKING:
    from sim.model import ReciprocityModel

STACKED_TIES = 40_000
"""Runs stacked in one engine by :func:`run_stacked` hold about this many ties together (or one
run, if bigger). Below it a day's cost is mostly the fixed cost of its numpy calls, paid once for
the stack; experiments/bench_sweep.py measures the effect."""


def _metric_reader(engine: Engine, names: Sequence[Sequence[str]]):
    """Check each run's metric names (``name`` or ``name[strategy]``) up front; return a function
    that reads them for every run in ``engine`` from its current state."""
    plans = []
    for run, (scenario, run_names) in enumerate(zip(engine.scenarios, names, strict=True)):
        known = metrics.metric_names(scenario)
        in_play = scenario.strategies_in_play
        parsed = []
        for name in run_names:
            match = metrics.METRIC_NAME.match(name)
            metric, strategy = (match["metric"], match["strategy"]) if match else (name, None)
            if metric not in known:
                raise ScenarioError(f"metrics: {name!r} is not a metric of this scenario; "
                                    f"allowed: {', '.join(known)} (optionally as name[strategy])")
            if strategy is not None and strategy not in in_play:
                raise ScenarioError(f"metrics: {name!r}: strategy {strategy!r} is not in play; "
                                    f"in play: {', '.join(in_play)}")
            parsed.append((name, metric, strategy))
        rows = {strategy: engine.stack.rows_of(run) if strategy is None
                else engine.sellers_of(strategy, run)
                for strategy in {strategy for _, _, strategy in parsed}}
        plans.append((parsed, rows, scenario.outcomes))

    def read(runs: Sequence[int]) -> list[dict[str, float]]:
        sums = engine.seller_sums()
        values = []
        for run in runs:
            parsed, rows, outcomes = plans[run]
            by_strategy = metrics.evaluate_many(sums, rows, outcomes)
            values.append({name: by_strategy[strategy][metric]
                           for name, metric, strategy in parsed})
        return values

    return read


def replication_seeds(seed: int, replications: int) -> list[int]:
    """Seeds for replications, derived from one base seed: replication r gets the int
    ``SeedSequence(seed).spawn(replications)[r].generate_state(1, uint64)[0] >> 1``.

    >>> replication_seeds(1, 3) == replication_seeds(1, 3), len(set(replication_seeds(1, 3)))
    (True, 3)
    """
    return [int(child.generate_state(1, dtype=np.uint64)[0] >> 1)
            for child in np.random.SeedSequence(seed).spawn(replications)]


def stacks(configs: Sequence[Scenario], budget: int | None = None) -> list[list[int]]:
    """Runs (by index) grouped into engines of about ``budget`` ties each (default
    :data:`STACKED_TIES`): runs sorted by size, so that a stack's smaller runs waste few padded
    columns, then cut into stacks of about equal cost."""
    budget = STACKED_TIES if budget is None else budget
    order = sorted(range(len(configs)), key=lambda i: configs[i].buyers.n)
    costs = np.array([configs[i].buyers.n * len(configs[i].sellers) for i in order], dtype=float)
    count = max(1, math.ceil(costs.sum() / budget)) if costs.size else 0
    cut = np.searchsorted(np.cumsum(costs) - costs / 2, costs.sum() * np.arange(1, count) / count)
    return [chunk.tolist() for chunk in np.split(np.array(order, dtype=np.int64), cut)
            if chunk.size]


def run_stacked(configs: Sequence[Scenario], seeds: Sequence[int], *,
                steps: Sequence[int | None] | int | None = None,
                metrics: Sequence[str] | Sequence[Sequence[str]],
                every: int | None = None) -> list[list[dict[str, Any]]]:
    """Run one model per (scenario, seed) pair, stacked in engines (:func:`stacks`), without
    per-agent objects; return each run's rows ``{"step": t, metric: value}`` in input order.

    Each run's rows are exactly those of ``ReciprocityModel(config, rng=seed)`` run alone.
    ``steps`` is the horizon (one for all runs, or one per run; None: the scenario's);
    ``every=None`` returns the last step only, ``every=k`` steps k, 2k, ... and the last.
    ``metrics`` is one list of names for all runs or one per run: core metrics, the scenario's
    outcomes, or ``name[strategy]``.
    """
    n = len(configs)
    horizons = [steps] * n if steps is None or isinstance(steps, int) else list(steps)
    horizons = [config.steps if h is None else h for config, h in zip(configs, horizons,
                                                                      strict=True)]
    names = ([list(metrics)] * n if metrics and isinstance(metrics[0], str)
             else [list(m) for m in metrics]) if metrics else [[] for _ in configs]
    results: list[list[dict[str, Any]]] = [[] for _ in configs]
    for chosen in stacks(configs):
        engine = Engine([configs[i] for i in chosen], [seed_sequence_from(seeds[i]) for i in chosen])
        rows = _run_engine(engine, [horizons[i] for i in chosen], [names[i] for i in chosen],
                           every)
        for i, run_rows in zip(chosen, rows, strict=True):
            results[i] = run_rows
    return results


def _run_engine(engine: Engine, horizons: list[int], names: list[list[str]],
                every: int | None) -> list[list[dict[str, Any]]]:
    """Step ``engine`` to the longest horizon; the rows of each run in it at its own steps."""
    read = _metric_reader(engine, names)
    rows: list[list[dict[str, Any]]] = [[] for _ in horizons]
    for step in range(1, max(horizons) + 1):
        engine.step()
        due = [run for run, horizon in enumerate(horizons)
               if step == horizon or (every and step % every == 0 and step < horizon)]
        if due:
            for run, values in zip(due, read(due), strict=True):
                rows[run].append({"step": step, **values})
    return rows


def run_many(scenario: Any, *, arm: str | None = None,
             runs: Sequence[tuple[Mapping[str, Any] | None, int]], steps: int | None = None,
             metrics: Sequence[str], every: int | None = None) -> list[list[dict[str, Any]]]:
    """Run one model per ``(overrides, seed)`` in ``runs`` (:func:`run_stacked`) and return each
    run's rows ``{"step": t, metric: value}``, in the order of ``runs``.

    Any runs may share an engine (they may differ in rule parameters, population, network,
    sellers): each run's rows are exactly those of
    ``ReciprocityModel(..., overrides=overrides, rng=seed)`` run alone.

    >>> rows = run_many("pushy_vs_active", steps=10, metrics=["conversion_rate[pushy]"],
    ...                 runs=[({"buyers.n": 100, "rules.debt_weight": 0.5}, 1),
    ...                       ({"buyers.n": 150, "rules.debt_weight": 2.0}, 1)])
    >>> rows[1] == run_metrics("pushy_vs_active", seed=1, steps=10,
    ...                        overrides={"buyers.n": 150, "rules.debt_weight": 2.0},
    ...                        metrics=["conversion_rate[pushy]"])
    True
    """
    loaded: dict[str, Scenario] = {}
    configs = []
    for overrides, _ in runs:
        key = repr(sorted((overrides or {}).items()))
        if key not in loaded:
            loaded[key] = load_scenario(scenario, arm=arm, overrides=overrides)
        configs.append(loaded[key])
    return run_stacked(configs, [seed for _, seed in runs], steps=steps, metrics=metrics,
                       every=every)

def run_replications(scenario: Any, *, arm: str | None = None,
                     overrides: Mapping[str, Any] | None = None, seeds: Sequence[int],
                     steps: int | None = None, metrics: Sequence[str],
                     every: int | None = None) -> list[list[dict[str, Any]]]:
    """:func:`run_many` for replications of one setting, one per seed.

    >>> rows = run_replications("pushy_vs_active", overrides={"buyers.n": 100}, seeds=[1, 2],
    ...                         steps=10, metrics=["conversion_rate[pushy]"], every=5)
    >>> [[r["step"] for r in run] for run in rows]
    [[5, 10], [5, 10]]
    >>> rows[0] == run_metrics("pushy_vs_active", overrides={"buyers.n": 100}, seed=1, steps=10,
    ...                        metrics=["conversion_rate[pushy]"], every=5)
    True
    """
    return run_many(scenario, arm=arm, runs=[(overrides, seed) for seed in seeds], steps=steps,
                    metrics=metrics, every=every)


def run_metrics(scenario: Any, *, arm: str | None = None,
                overrides: Mapping[str, Any] | None = None, seed: int, steps: int | None = None,
                metrics: Sequence[str], every: int | None = None) -> list[dict[str, Any]]:
    """The rows of one run: :func:`run_replications` with one seed.

    >>> rows = run_metrics("pushy_vs_active", overrides={"buyers.n": 100}, seed=1, steps=10,
    ...                    metrics=["conversion_rate", "conversion_rate[pushy]"], every=5)
    >>> [r["step"] for r in rows]
    [5, 10]
    """
    return run_replications(scenario, arm=arm, overrides=overrides, seeds=[seed], steps=steps,
                            metrics=metrics, every=every)[0]


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; outputs are for sharing
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_scenario(scenario: Any, *, arm: str | None = None,
                 overrides: Mapping[str, Any] | None = None, seed: int = 0,
                 steps: int | None = None, progress=None) -> ReciprocityModel:
    """Run a scenario with metrics collected every step; ``progress(step, total)`` is called."""
    from sim.model import ReciprocityModel

    model = ReciprocityModel(scenario, arm=arm, overrides=overrides, rng=seed, build_agents=False)
    horizon = steps if steps is not None else model.horizon
    for step in range(1, horizon + 1):
        model.step()
        if progress is not None:
            progress(step, horizon)
    return model


def write_outputs(model: ReciprocityModel, out: Path, *, seed: int) -> dict[str, Path]:
    """Write ``timeseries.parquet``, ``summary.json`` (strict JSON) and ``metrics.png`` for a
    finished run into ``out``, whole or not at all (:func:`sim.outputs.staged_output`)."""
    import pandas as pd

    import sim
    from sim.outputs import staged_output, write_json
    from sim.plots import plot_metrics

    out = Path(out)
    frame = model.metrics_by_strategy()
    model_frame = model.datacollector.get_model_vars_dataframe().assign(strategy="all")
    timeseries = pd.concat([model_frame, frame], ignore_index=True)
    names = {"timeseries": "timeseries.parquet", "summary": "summary.json",
             "figure": "metrics.png"}
    final = frame[frame.step == frame.step.max()].set_index("strategy")
    summary = {
        "scenario": model.config.name,
        "arm": model.config.arm,
        "seed": seed,
        "steps": int(model.steps),
        "recip_version": sim.__version__,
        "final_by_strategy": _jsonable(final.drop(columns="step").to_dict(orient="index")),
        "final_all": _jsonable(metrics.compute(model.engine)),
        "parameters": model.config.model_dump(mode="json", by_alias=True, exclude={"arms"}),
    }
    with staged_output(out) as folder:
        timeseries.to_parquet(folder / names["timeseries"], index=False)
        write_json(folder / names["summary"], summary)
        plot_metrics(frame, folder / names["figure"],
                     title=model.config.guide.title or model.config.name)
    return {label: out / name for label, name in names.items()}


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, float | np.floating):
        return None if np.isnan(obj) else float(obj)
    return obj
