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


def collect_sums(configs: Sequence[Scenario], seeds: Sequence[int],
                 at: Sequence[Sequence[int]], inputs: Sequence[Any] | None = None,
                 ) -> list[dict[int, dict[str, np.ndarray]]]:
    """Run one model per (scenario, seed), stacked in engines, and return for each run its
    per-seller sums (``Engine.seller_sums``, the rows of that run) at the steps ``at[i]``: what
    every metric is computed from, at any step or over any window of steps (the difference of
    two steps' sums). Each run is exactly the run ``ReciprocityModel(config, rng=seed)`` alone.
    ``inputs``: each run's prebuilt :class:`sim.engine.RunInputs` (or None), for runs that share
    them.
    """
    results: list[dict[int, dict[str, np.ndarray]]] = [{} for _ in configs]
    for chosen in stacks(configs):
        engine = Engine([configs[i] for i in chosen], [seed_sequence_from(seeds[i]) for i in chosen],
                        inputs=None if inputs is None else [inputs[i] for i in chosen])
        wanted = [sorted(set(at[i])) for i in chosen]
        for step in range(1, max(max(w) for w in wanted) + 1):
            engine.step()
            due = [run for run, steps in enumerate(wanted) if step in steps]
            if due:
                sums = engine.seller_sums()
                for run in due:
                    rows = engine.stack.rows_of(run)
                    results[chosen[run]][step] = {name: values[rows] for name, values in sums.items()}
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
                 steps: int | None = None, progress=None, on_step=None) -> ReciprocityModel:
    """Run a scenario with metrics collected every step; ``progress(step, total)`` is called,
    and ``on_step(model, step, total)`` after each step (e.g. to record agents)."""
    from sim.model import ReciprocityModel

    model = ReciprocityModel(scenario, arm=arm, overrides=overrides, rng=seed, build_agents=False)
    horizon = steps if steps is not None else model.horizon
    for step in range(1, horizon + 1):
        model.step()
        if on_step is not None:
            on_step(model, step, horizon)
        if progress is not None:
            progress(step, horizon)
    return model


TABLE_FORMATS = ("parquet", "csv")
"""Formats of the tables ``recip run`` writes (``--format``)."""


def run_provenance(config: Scenario, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """:func:`sim.provenance.provenance` of a run of ``config`` (its input files hashed)."""
    from sim.provenance import provenance, scenario_inputs

    return provenance(inputs=scenario_inputs(config), overrides=dict(overrides or {}))


def write_table(frame, path: Path, fmt: str = "parquet") -> Path:
    """``frame`` as ``path`` with the suffix of ``fmt`` (parquet or csv), atomically."""
    if fmt not in TABLE_FORMATS:
        raise ValueError(f"format = {fmt!r}: allowed: {', '.join(TABLE_FORMATS)}")
    path = path.with_suffix(f".{fmt}")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if fmt == "csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_outputs(model: ReciprocityModel, out: Path, *, seed: int,
                  overrides: Mapping[str, Any] | None = None, fmt: str = "parquet",
                  provenance: Mapping[str, Any] | None = None) -> dict[str, Path]:
    """Write ``timeseries.parquet`` (or ``.csv``), ``summary.json`` (strict JSON, with
    provenance) and ``metrics.png`` (+ ``.svg``) for a finished run into ``out``. ``recip run``
    passes a staging folder (:func:`sim.outputs.staged_output`), so the outputs land whole."""
    import pandas as pd

    from sim.outputs import write_json
    from sim.plots import plot_metrics

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frame = model.metrics_by_strategy()
    model_frame = model.datacollector.get_model_vars_dataframe().assign(strategy="all")
    timeseries = pd.concat([model_frame, frame], ignore_index=True)
    paths = {"timeseries": write_table(timeseries, out / "timeseries.parquet", fmt),
             "summary": out / "summary.json", "figure": out / "metrics.png"}
    record = dict(provenance) if provenance is not None else run_provenance(model.config,
                                                                             overrides)
    final = frame[frame.step == frame.step.max()].set_index("strategy")
    summary = {
        "scenario": model.config.name,
        "arm": model.config.arm,
        "seed": seed,
        "steps": int(model.steps),
        "step_days": model.config.step,
        "recip_version": record["recip_version"],
        "final_by_strategy": _jsonable(final.drop(columns="step").to_dict(orient="index")),
        "final_all": _jsonable(metrics.compute(model.engine)),
        "units": {name: _unit(name, model.config.outcomes) for name in model.metric_names},
        "provenance": record,
        "parameters": model.config.model_dump(mode="json", by_alias=True, exclude={"arms"}),
    }
    write_json(paths["summary"], summary)
    plot_metrics(frame, paths["figure"], title=model.config.guide.title or model.config.name,
                 outcomes=model.config.outcomes, step_days=model.config.step)
    paths["figure (vector)"] = paths["figure"].with_suffix(".svg")
    return paths


def write_replication_outputs(reps: Any, out: Path, *, fmt: str = "parquet",
                              provenance: Mapping[str, Any] | None = None) -> dict[str, Path]:
    """For :func:`sim.compare.replicate`'s result: ``timeseries`` (every replication's rows,
    with ``replication`` and ``seed``), ``summary.json`` (mean, 95% interval, sd and n per
    strategy and metric at the last step; the seeds; provenance) and ``metrics.png`` (+ ``.svg``:
    means with their 95% intervals as bands)."""
    from sim.compare import SEED_DERIVATION
    from sim.outputs import write_json
    from sim.plots import plot_metrics

    out.mkdir(parents=True, exist_ok=True)
    config = reps.config
    paths = {"timeseries": write_table(reps.runs, out / "timeseries.parquet", fmt),
             "summary": out / "summary.json", "figure": out / "metrics.png"}
    record = dict(provenance) if provenance is not None else run_provenance(config,
                                                                             reps.overrides)
    table = reps.summary()
    final = {strategy: {row.metric: {k: getattr(row, k) for k in
                                     ("mean", "ci_low", "ci_high", "sd", "n")}
                        for row in part.itertuples()}
             for strategy, part in table.groupby("strategy", sort=False)}
    summary = {
        "scenario": config.name,
        "arm": config.arm,
        "seed": reps.seed,
        "replications": len(reps.seeds),
        "seeds": reps.seeds,
        "seed_derivation": SEED_DERIVATION,
        "steps": int(reps.runs.step.max()),
        "step_days": config.step,
        "recip_version": record["recip_version"],
        "interval": "95% t-interval of the mean over replications",
        "final_all": _jsonable(final.pop("all")),
        "final_by_strategy": _jsonable(final),
        "units": {name: _unit(name, config.outcomes) for name in reps.metrics},
        "provenance": record,
        "parameters": config.model_dump(mode="json", by_alias=True, exclude={"arms"}),
    }
    write_json(paths["summary"], summary)
    over_time = reps.over_time()
    plot_metrics(over_time[over_time.strategy != "all"], paths["figure"],
                 title=f"{config.guide.title or config.name}: {len(reps.seeds)} replications",
                 outcomes=config.outcomes, replications=len(reps.seeds), step_days=config.step)
    paths["figure (vector)"] = paths["figure"].with_suffix(".svg")
    return paths


def _unit(name: str, outcomes: Mapping[str, str]) -> str:
    kind = outcomes.get(name, name)
    return metrics.METRICS[kind].unit if kind in metrics.METRICS else ""


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, float | np.floating):
        return None if np.isnan(obj) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
