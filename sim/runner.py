"""Run simulations headless: one run's metrics (for sweeps) and a full run with its outputs."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import metrics
from sim.config import ScenarioError
from sim.model import ReciprocityModel


def _metric_reader(model: ReciprocityModel, names: Sequence[str]):
    """Check metric names (``name`` or ``name[strategy]``) up front; return a function that reads
    them from the model's current state."""
    known = model.metric_names
    parsed = []
    for name in names:
        match = metrics.METRIC_NAME.match(name)
        metric, strategy = (match["metric"], match["strategy"]) if match else (name, None)
        if metric not in known:
            raise ScenarioError(f"metrics: {name!r} is not a metric of this scenario; allowed: "
                                f"{', '.join(known)} (optionally as name[strategy])")
        if strategy is not None and strategy not in model.strategies:
            raise ScenarioError(f"metrics: {name!r}: strategy {strategy!r} is not in play; in "
                                f"play: {', '.join(model.strategies)}")
        parsed.append((name, metric, strategy))

    def read() -> dict[str, float]:
        sums = metrics.seller_sums(model.engine)
        by_strategy = {strategy: metrics.compute(
            model.engine, None if strategy is None else model.sellers_of(strategy), sums=sums)
            for strategy in {strategy for _, _, strategy in parsed}}
        return {name: by_strategy[strategy][metric] for name, metric, strategy in parsed}

    return read


def replication_seeds(seed: int, replications: int) -> list[int]:
    """Seeds for replications, derived from one base seed: replication r gets the int
    ``SeedSequence(seed).spawn(replications)[r].generate_state(1, uint64)[0] >> 1``.

    >>> replication_seeds(1, 3) == replication_seeds(1, 3), len(set(replication_seeds(1, 3)))
    (True, 3)
    """
    return [int(child.generate_state(1, dtype=np.uint64)[0] >> 1)
            for child in np.random.SeedSequence(seed).spawn(replications)]


def run_metrics(scenario: Any, *, arm: str | None = None,
                overrides: Mapping[str, Any] | None = None, seed: int, steps: int | None = None,
                metrics: Sequence[str], every: int | None = None) -> list[dict[str, Any]]:
    """Run one model without per-agent objects and return rows ``{"step": t, metric: value}``.

    ``every=None`` returns the final step only; ``every=k`` returns steps k, 2k, ... and the last.
    Metric names are core metrics, the scenario's outcomes, or ``name[strategy]``.

    >>> rows = run_metrics("pushy_vs_active", overrides={"buyers.n": 100}, seed=1, steps=10,
    ...                    metrics=["conversion_rate", "conversion_rate[pushy]"], every=5)
    >>> [r["step"] for r in rows]
    [5, 10]
    """
    model = ReciprocityModel(scenario, arm=arm, overrides=overrides, rng=seed, build_agents=False,
                             collect=False)
    horizon = steps if steps is not None else model.horizon
    read = _metric_reader(model, metrics)
    rows = []
    for step in range(1, horizon + 1):
        model.step()
        if step == horizon or (every and step % every == 0):
            rows.append({"step": step, **read()})
    return rows


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
    model = ReciprocityModel(scenario, arm=arm, overrides=overrides, rng=seed, build_agents=False)
    horizon = steps if steps is not None else model.horizon
    for step in range(1, horizon + 1):
        model.step()
        if progress is not None:
            progress(step, horizon)
    return model


def write_outputs(model: ReciprocityModel, out: Path, *, seed: int) -> dict[str, Path]:
    """Write ``timeseries.parquet``, ``summary.json`` and ``metrics.png`` for a finished run."""
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
