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
from sim.config import Scenario, ScenarioError, load_scenario
from sim.engine import Engine, seed_sequence_from, stack_key

if TYPE_CHECKING:
    from sim.model import ReciprocityModel

STACKED_TIES = 40_000
"""Runs stacked in one engine by :func:`run_many` hold at most this many ties
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
    sellers = {strategy: np.arange(engine.s) if strategy is None else engine.sellers_of(strategy)
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


def run_many(scenario: Any, *, arm: str | None = None,
             runs: Sequence[tuple[Mapping[str, Any] | None, int]], steps: int | None = None,
             metrics: Sequence[str], every: int | None = None) -> list[list[dict[str, Any]]]:
    """Run one model per ``(overrides, seed)`` in ``runs``, without per-agent objects, and return
    each run's rows ``{"step": t, metric: value}``, in the order of ``runs``.

    Runs whose scenarios may share an engine (same :func:`sim.engine.stack_key`: they differ at
    most in the network, buyer traits, gifts and asks) are stacked in engines of up to
    :data:`STACKED_TIES` ties; each run's rows are exactly those of
    ``ReciprocityModel(..., overrides=overrides, rng=seed)`` run alone. ``every=None`` returns the
    final step only; ``every=k`` returns steps k, 2k, ... and the last. Metric names are core
    metrics, the scenario's outcomes, or ``name[strategy]``.

    >>> rows = run_many("pushy_vs_active", steps=10, metrics=["conversion_rate[pushy]"],
    ...                 runs=[({"buyers.n": 100, "buyers.detection_skill.mean": 0.2}, 1),
    ...                       ({"buyers.n": 100, "buyers.detection_skill.mean": 0.8}, 1)])
    >>> rows[1] == run_metrics("pushy_vs_active", seed=1, steps=10,
    ...                        overrides={"buyers.n": 100, "buyers.detection_skill.mean": 0.8},
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
    groups: dict[str, list[int]] = {}
    for i, config in enumerate(configs):
        groups.setdefault(stack_key(config), []).append(i)
    results: list[list[dict[str, Any]]] = [[] for _ in runs]
    for members in groups.values():
        first = configs[members[0]]
        ties_per_run = first.buyers.n * len(first.sellers)
        stacks = math.ceil(len(members) / max(1, STACKED_TIES // max(ties_per_run, 1)))
        size = math.ceil(len(members) / stacks)  # stacks of even size
        for start in range(0, len(members), size):
            chosen = members[start: start + size]
            engine = Engine([configs[i] for i in chosen],
                            [seed_sequence_from(runs[i][1]) for i in chosen])
            for i, rows in zip(chosen, _run_engine(engine, steps, metrics, every), strict=True):
                results[i] = rows
    return results


def _run_engine(engine: Engine, steps: int | None, metrics: Sequence[str],
                every: int | None) -> list[list[dict[str, Any]]]:
    """Step ``engine`` to ``steps`` (default: the scenario's horizon); rows of each run in it."""
    horizon = steps if steps is not None else engine.scenario.steps
    read = _metric_reader(engine, metrics)
    rows: list[list[dict[str, Any]]] = [[] for _ in range(engine.replications)]
    for step in range(1, horizon + 1):
        engine.step()
        if step == horizon or (every and step % every == 0):
            for run, values in zip(rows, read(), strict=True):
                run.append({"step": step, **values})
    return rows


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
