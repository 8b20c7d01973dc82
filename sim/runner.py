"""Run simulations headless: one run's metrics (for sweeps) and a full run with its outputs."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim import metrics
from sim.config import ScenarioError, load_scenario
from sim.engine import Engine, seed_sequence_from

if TYPE_CHECKING:
    from sim.model import ReciprocityModel

STACKED_TIES = 40_000
"""Replications stacked in one engine by :func:`run_replications` hold at most this many ties
together (or one replication, if bigger). Below it a day's cost is mostly the fixed cost of its
numpy calls, paid once for the stack; experiments/bench_sweep.py measures the effect."""


def _metric_reader(engine: Engine, names: Sequence[str]):
    """Check metric names (``name`` or ``name[strategy]``) up front; return a function that reads
    them for every replication in ``engine`` from its current state."""
    scenario = engine.scenario
    known = metrics.metric_names(scenario)
    in_play = scenario.strategies_in_play
    parsed = []
    for name in names:
        match = metrics.METRIC_NAME.match(name)
        metric, strategy = (match["metric"], match["strategy"]) if match else (name, None)
        if metric not in known:
            raise ScenarioError(f"metrics: {name!r} is not a metric of this scenario; allowed: "
                                f"{', '.join(known)} (optionally as name[strategy])")
        if strategy is not None and strategy not in in_play:
            raise ScenarioError(f"metrics: {name!r}: strategy {strategy!r} is not in play; in "
                                f"play: {', '.join(in_play)}")
        parsed.append((name, metric, strategy))
    sellers = {strategy: np.arange(engine.s) if strategy is None else
               np.flatnonzero(np.array(engine.strategy_names) == strategy)
               for strategy in {strategy for _, _, strategy in parsed}}

    def read() -> list[dict[str, float]]:
        sums = metrics.seller_sums(engine)
        values = []
        for replication in range(engine.replications):
            rows = replication * engine.s
            by_strategy = {strategy: metrics.compute(engine, rows + chosen, sums=sums)
                           for strategy, chosen in sellers.items()}
            values.append({name: by_strategy[strategy][metric] for name, metric, strategy in parsed})
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


def run_replications(scenario: Any, *, arm: str | None = None,
                     overrides: Mapping[str, Any] | None = None, seeds: Sequence[int],
                     steps: int | None = None, metrics: Sequence[str],
                     every: int | None = None) -> list[list[dict[str, Any]]]:
    """Run one model per seed, without per-agent objects, and return each run's rows
    ``{"step": t, metric: value}``, in the order of ``seeds``.

    Runs are stacked in engines of up to :data:`STACKED_TIES` ties; each run's rows are exactly
    those of ``ReciprocityModel(..., rng=seed)`` run alone. ``every=None`` returns the final step
    only; ``every=k`` returns steps k, 2k, ... and the last. Metric names are core metrics, the
    scenario's outcomes, or ``name[strategy]``.

    >>> rows = run_replications("pushy_vs_active", overrides={"buyers.n": 100}, seeds=[1, 2],
    ...                         steps=10, metrics=["conversion_rate[pushy]"], every=5)
    >>> [[r["step"] for r in run] for run in rows]
    [[5, 10], [5, 10]]
    >>> rows[0] == run_metrics("pushy_vs_active", overrides={"buyers.n": 100}, seed=1, steps=10,
    ...                        metrics=["conversion_rate[pushy]"], every=5)
    True
    """
    config = load_scenario(scenario, arm=arm, overrides=overrides)
    horizon = steps if steps is not None else config.steps
    ties_per_run = config.buyers.n * len(config.sellers)
    stacks = math.ceil(len(seeds) / max(1, STACKED_TIES // max(ties_per_run, 1)))
    stack = math.ceil(len(seeds) / stacks) if seeds else 1  # stacks of even size
    results: list[list[dict[str, Any]]] = []
    for first in range(0, len(seeds), stack):
        engine = Engine(config, [seed_sequence_from(seed) for seed in seeds[first: first + stack]])
        read = _metric_reader(engine, metrics)
        runs: list[list[dict[str, Any]]] = [[] for _ in range(engine.replications)]
        for step in range(1, horizon + 1):
            engine.step()
            if step == horizon or (every and step % every == 0):
                for run, values in zip(runs, read(), strict=True):
                    run.append({"step": step, **values})
        results.extend(runs)
    return results


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
    """Write ``timeseries.parquet``, ``summary.json`` and ``metrics.png`` for a finished run."""
    import pandas as pd

    import sim
    from sim.plots import plot_metrics

    out.mkdir(parents=True, exist_ok=True)
    frame = model.metrics_by_strategy()
    model_frame = model.datacollector.get_model_vars_dataframe().assign(strategy="all")
    timeseries = pd.concat([model_frame, frame], ignore_index=True)
    paths = {"timeseries": out / "timeseries.parquet", "summary": out / "summary.json",
             "figure": out / "metrics.png"}
    tmp = out / ".timeseries.parquet.tmp"
    timeseries.to_parquet(tmp, index=False)
    os.replace(tmp, paths["timeseries"])
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
    write_atomic(paths["summary"], json.dumps(summary, indent=2).encode())
    plot_metrics(frame, paths["figure"], title=model.config.guide.title or model.config.name)
    return paths


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, float | np.floating):
        return None if np.isnan(obj) else float(obj)
    return obj
