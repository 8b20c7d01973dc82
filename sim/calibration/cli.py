"""``recip calibrate SPEC.toml``: fit chosen parameters of a scenario to your own results.

The same method as the shipped calibration (:mod:`sim.calibration.fit`: emcee's ensemble sampler,
uniform priors within your bounds, a Gaussian likelihood around each measured value with its
standard error, the model averaged over fixed seeds). The spec's format is in
:mod:`sim.calibration.spec`.

Outputs in ``--out`` (default ``results/calibrations/<spec name>``), written into a hidden
folder beside it and moved into place when the fit is done:

- ``posterior.csv``: the posterior draws (one column per parameter, plus ``log_prob``);
- ``fitted.toml``: your scenario with the fitted values (the posterior's mode) set in it;
- ``REPORT.md``: method, parameters (prior, mode, median, 95% interval, effective samples),
  diagnostics, the fit to each measured value with posterior-predictive intervals, figures
  (``trace.png``, ``posterior.png``, ``predictive.png``, each also as SVG);
- ``calibration.json``: the same numbers, the seeds and provenance (code version, inputs).

Interrupted (Ctrl-C, a killed job), the chain so far is kept; the same command with
``--resume`` continues it (``--iterations`` may be raised to sample longer). Exit codes: 0 done,
2 a user error (spec, option, folder), 130 interrupted.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from sim.calibration.spec import Calibrate, as_targets, load_spec
from sim.config import ScenarioError

CHECKPOINT = "chain.pkl"
SPEC_HASH = "spec.sha256"
PREDICTIVE_DRAWS = 40
START_SPREAD = 0.1
"""Walkers start in a ball of this share of each prior's range around the scenario's own
values of the parameters (the start does not enter the posterior)."""


def default_out(spec: Path) -> Path:
    return Path("results") / "calibrations" / spec.stem


def _partial(out: Path) -> Path:
    return out.parent / f".{out.name}.partial"


def calibrate(
    spec: Annotated[Path, typer.Argument(help="Calibration spec (TOML); see `sim.calibration.spec`.")],
    out: Annotated[Path | None, typer.Option(
        help="Output folder (default: results/calibrations/<spec name>).")] = None,
    walkers: Annotated[int | None, typer.Option(
        min=4, max=1000, help="Walkers (default: the spec's, else 4 per parameter, at least 8).")
    ] = None,
    iterations: Annotated[int | None, typer.Option(
        min=2, max=100_000, help="Iterations (default: the spec's, else 300).")] = None,
    workers: Annotated[int, typer.Option(
        "--workers", "-w", min=1, max=256,
        help="Local worker processes; the walkers of an iteration are shared out. Results do "
             "not depend on it.")] = 1,
    scheduler: Annotated[str | None, typer.Option(
        help="Run on Dask: 'local' starts a LocalCluster, tcp://HOST:PORT uses a running "
             "scheduler (needs the optional dask extra).")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue an interrupted fit of this spec (kept beside --out).")] = False,
    fresh: Annotated[bool, typer.Option(
        "--fresh", help="Discard an interrupted fit and start again.")] = False,
) -> None:
    """Fit the parameters a spec names (context or rule) to your measured results: posterior
    draws, a report with fit and predictive checks, and your scenario with the fitted values."""
    from sim.cli import fail

    out = out or default_out(spec)
    try:
        loaded, scenario_path = load_spec(spec)
    except ScenarioError as exc:
        raise fail(str(exc)) from None
    if walkers is not None:
        loaded.walkers = walkers
    if iterations is not None:
        loaded.iterations = iterations
    n_walkers = loaded.walkers or max(8, 4 * len(loaded.parameters))
    if n_walkers < 2 * len(loaded.parameters):
        raise fail(f"--walkers {n_walkers}: the ensemble needs at least twice as many walkers as "
                   f"parameters ({2 * len(loaded.parameters)})")
    partial = _partial(out)
    try:
        _prepare(out, partial, spec, resume=resume, fresh=fresh)
    except ScenarioError as exc:
        raise fail(str(exc)) from None
    try:
        with _executor(scheduler, workers) as (pool, slots):
            result = run_calibration(loaded, spec, scenario_path, partial, walkers=n_walkers,
                                     pool=pool, workers=slots, progress=_progress_bar())
    except ScenarioError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        print(f"\ninterrupted: the chain so far is kept in {partial}; continue with "
              f"`recip calibrate {spec} --out {out} --resume`", file=sys.stderr)
        raise typer.Exit(130) from None
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    print(f"{loaded.iterations} iterations x {n_walkers} walkers in {result['seconds']:.0f} s; "
          f"report: {out / 'REPORT.md'}; fitted scenario: {out / 'fitted.toml'}")


def _prepare(out: Path, partial: Path, spec: Path, *, resume: bool, fresh: bool) -> None:
    digest = hashlib.sha256(spec.read_bytes()).hexdigest()
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not fresh:
        raise ScenarioError(f"--out {out}: already exists and is not empty; choose another "
                            f"folder, or --fresh to replace it")
    if partial.exists():
        if fresh:
            shutil.rmtree(partial)
        elif not resume:
            raise ScenarioError(f"{partial} holds an interrupted fit; --resume to continue it or "
                                f"--fresh to discard it")
        elif (partial / SPEC_HASH).read_text().strip() != digest:
            raise ScenarioError(f"{partial} holds an interrupted fit of another version of "
                                f"{spec}; --fresh to discard it")
    elif resume:
        raise ScenarioError(f"--resume: there is no interrupted fit in {partial}")
    partial.mkdir(parents=True, exist_ok=True)
    (partial / SPEC_HASH).write_text(digest + "\n")


class _executor:
    """A pool for the walkers (local processes or a Dask cluster) and how many slots it has."""

    def __init__(self, scheduler: str | None, workers: int):
        self.scheduler, self.workers = scheduler, workers
        self._close: list[Any] = []

    def __enter__(self) -> tuple[Any, int]:
        if self.scheduler is None:
            if self.workers == 1:
                return None, 1
            from concurrent.futures import ProcessPoolExecutor

            pool = ProcessPoolExecutor(self.workers)
            self._close.append(lambda: pool.shutdown(cancel_futures=True))
            return pool, self.workers
        try:
            import logging

            from distributed import Client, LocalCluster
        except ImportError:
            raise ScenarioError("--scheduler needs Dask distributed, an optional extra: "
                                "pip install 'recip[dask]'") from None
        try:
            if self.scheduler == "local":
                cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                       processes=True, host="127.0.0.1", dashboard_address=None,
                                       silence_logs=logging.ERROR)
                self._close.append(cluster.close)
                client = Client(cluster)
            else:
                client = Client(self.scheduler, timeout="15s")
        except OSError as exc:
            self.__exit__()
            raise ScenarioError(f"--scheduler {self.scheduler}: cannot reach the Dask scheduler "
                                f"({exc}); give tcp://HOST:PORT of a running scheduler, or "
                                f"'local'") from None
        self._close.insert(0, client.close)
        return client.get_executor(), max(1, sum(client.nthreads().values()))

    def __exit__(self, *exc: object) -> None:
        for close in self._close:
            close()
        self._close.clear()


def _progress_bar():
    from tqdm import tqdm

    bar: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, initial=done - 1, unit="it", desc="calibrate",
                              file=sys.stderr, disable=None)
        bar["bar"].update(1)
        if done >= total:
            bar["bar"].close()

    return update


def run_calibration(spec: Calibrate, spec_path: Path, scenario_path: Path, folder: Path, *,
                    walkers: int, pool: Any = None, workers: int = 1,
                    progress: Any = None) -> dict[str, Any]:
    """Fit ``spec`` in ``folder`` (continuing its checkpoint) and write every output there."""
    from sim.calibration.evaluate import build_plan
    from sim.calibration.fit import Parameter, Problem, posterior, predictive, sample, write_draws
    from sim.config import load_scenario
    from sim.runner import replication_seeds

    scenario = str(scenario_path)
    targets = as_targets(spec)
    entries = [(scenario, target) for target in targets]
    base = load_scenario(scenario, arm=spec.arm)
    plan = build_plan(entries)
    parameters = [Parameter(key, low, high, "log" if key in spec.log_scale else "linear")
                  for key, (low, high) in spec.parameters.items()]
    seeds = replication_seeds(spec.seed, spec.seeds)
    problem = Problem(plan, parameters, seeds)
    start = {p.key: _current(base, p.key) for p in parameters}
    start = {k: v for k, v in start.items() if v is not None}
    chain = sample(problem, walkers=walkers, iterations=spec.iterations, start=start,
                   seed=spec.seed, pool=pool, workers=workers, checkpoint=folder / CHECKPOINT,
                   spread=START_SPREAD, progress=progress)
    post = posterior(problem, chain)
    write_draws(folder / "posterior.csv", post)
    sets = post.sample_sets(PREDICTIVE_DRAWS, seed=spec.seed)
    pred = predictive(plan, sets, seeds, pool=pool, workers=workers)
    at_best = predictive(plan, [post.best()], seeds, pool=pool, workers=workers)[0]
    rows = []
    for i, target in enumerate(targets):
        low, high = (float(x) for x in np.nanpercentile(pred[:, i], [2.5, 97.5]))
        rows.append({"target": target.condition, "measured": target.paper, "se": target.sd,
                     "model_at_mode": float(at_best[i]), "predictive_low": low,
                     "predictive_high": high,
                     "consistent": bool(low - 1.96 * target.sd <= target.paper
                                        <= high + 1.96 * target.sd)})
    summary = {
        "parameters": [{"key": p.key, "prior": [p.low, p.high], "scale": p.scale,
                        "mode": post.best()[p.key], "median": post.median()[p.key],
                        "interval_95": list(post.interval()[p.key]),
                        "effective_samples": float(ess), "autocorrelation_time": float(tau)}
                       for p, ess, tau in zip(parameters, post.effective_samples(),
                                              post.autocorr, strict=True)],
        "walkers": walkers, "iterations": post.iterations, "burn_in": post.burn_in,
        "thin": post.thin, "draws": len(post.draws), "acceptance": post.acceptance,
        "seconds": post.seconds, "sessions": chain.sessions, "seeds": seeds, "seed": spec.seed,
        "targets": rows,
    }
    _write_fitted(folder / "fitted.toml", scenario_path, post.best(), spec_path)
    figures = _figures(folder, chain, post, rows)
    _write_report(folder, spec_path, summary, figures)
    from sim.provenance import provenance, scenario_inputs
    from sim.runner import write_atomic

    record = provenance(inputs={**scenario_inputs(base), "calibration spec": spec_path})
    write_atomic(folder / "calibration.json",
                 json.dumps({**_strict(summary), "provenance": record}, indent=2).encode())
    (folder / CHECKPOINT).unlink(missing_ok=True)
    (folder / SPEC_HASH).unlink(missing_ok=True)
    return summary


def _current(scenario: Any, key: str) -> float | None:
    node: Any = scenario
    for part in key.split("."):
        node = node[int(part)] if isinstance(node, list) else (
            node.get(part) if isinstance(node, dict) else getattr(node, part, None))
        if node is None:
            return None
    return float(node) if isinstance(node, int | float) and math.isfinite(node) else None


def _write_fitted(path: Path, scenario_path: Path, fitted: dict[str, float],
                  spec_path: Path) -> None:
    """The user's scenario file with the fitted values set (rule parameters in ``[rules]``), its
    relative network path rewritten for the new location."""
    import tomli_w

    from sim.config import set_dotted
    from sim.files import read_toml
    from sim.runner import write_atomic

    raw = read_toml(scenario_path)
    network = raw.get("network")
    if isinstance(network, dict) and isinstance(network.get("path"), str):
        source = (scenario_path.parent / network["path"]).resolve()
        network["path"] = os.path.relpath(source, path.parent.parent.resolve())
    for key, value in fitted.items():
        set_dotted(raw, key, _rounded(value), origin=str(path))
    header = (f"# {scenario_path.name} with the values fitted by `recip calibrate {spec_path}` "
              f"(the posterior's mode;\n# posterior.csv beside this file has the draws):\n"
              + "".join(f"#   {k} = {_rounded(v)!r}\n" for k, v in fitted.items()))
    write_atomic(path, (header + "\n" + tomli_w.dumps(raw)).encode())


def _rounded(value: float) -> float:
    return float(f"{value:.6g}")


def _strict(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _figures(folder: Path, chain: Any, post: Any, rows: list[dict[str, Any]]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.plots import COLOURS, figure_style, save_figure

    names = []
    with figure_style():
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        ax.plot(np.arange(chain.iterations), chain.log_prob, color=COLOURS[0], lw=0.5, alpha=0.4)
        ax.axvline(post.burn_in, color="k", ls="--", lw=1.2, label="end of burn-in")
        finite = chain.log_prob[np.isfinite(chain.log_prob)]
        if finite.size:
            ax.set_ylim(np.percentile(finite, 5) - 1, finite.max() + 1)
        ax.set_xlabel("iteration")
        ax.set_ylabel("log posterior density (each line a walker)")
        ax.legend()
        names.append(save_figure(fig, folder / "trace.png").name)
    with figure_style():
        count = len(post.parameters)
        fig, axes = plt.subplots(1, count, figsize=(3.2 * count, 3.0), squeeze=False)
        for ax, p, column in zip(axes[0], post.parameters, post.draws.T, strict=True):
            ax.hist(column, bins=30, color=COLOURS[0], alpha=0.8)
            ax.axvline(post.best()[p.key], color="k", ls="--", lw=1.2, label="mode (fitted)")
            ax.set_xlim(p.low, p.high)
            if p.scale == "log":
                ax.set_xscale("log")
            ax.set_xlabel(f"{p.key} (prior: {p.low:g} to {p.high:g})")
            ax.set_ylabel("posterior draws")
        axes[0][0].legend()
        names.append(save_figure(fig, folder / "posterior.png").name)
    with figure_style():
        fig, ax = plt.subplots(figsize=(2.6 + 1.6 * len(rows), 4.0))
        x = np.arange(len(rows))
        ax.errorbar(x - 0.1, [r["measured"] for r in rows],
                    yerr=[1.96 * r["se"] for r in rows], fmt="o", color="k", capsize=4,
                    label="measured, 95% interval (1.96 se)")
        ax.errorbar(x + 0.1, [r["model_at_mode"] for r in rows],
                    yerr=[[r["model_at_mode"] - r["predictive_low"] for r in rows],
                          [r["predictive_high"] - r["model_at_mode"] for r in rows]],
                    fmt="s", color=COLOURS[0], capsize=4,
                    label="model at the mode; bar: posterior-predictive 95%")
        ax.set_xticks(x, [r["target"][:40] for r in rows], rotation=15, ha="right")
        ax.set_ylabel("metric value (the target's units)")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3))
        names.append(save_figure(fig, folder / "predictive.png").name)
    return names


def _write_report(folder: Path, spec_path: Path, s: dict[str, Any], figures: list[str]) -> None:
    from sim.runner import write_atomic

    lines = [f"# Calibration of {spec_path.name}", "",
             "Method: emcee's affine-invariant ensemble sampler (differential-evolution moves), "
             "uniform priors within the spec's bounds (log-uniform where `log_scale`), a Gaussian "
             "likelihood around each measured value with its standard error; the model averaged "
             f"over {len(s['seeds'])} fixed seeds (common random numbers). {s['walkers']} "
             f"walkers x {s['iterations']} iterations, the first {s['burn_in']} discarded as "
             f"burn-in, thinned by {s['thin']}: {s['draws']} draws. Acceptance "
             f"{s['acceptance']:.2f} (0.2 to 0.5 is healthy); sampling time {s['seconds']:.0f} s"
             + (f", summed over the {s['sessions']} runs that sampled it (resumed from its "
                "checkpoint)." if s["sessions"] > 1 else "."),
             "", "## Parameters", "",
             "| parameter | prior | mode (fitted) | median | 95% interval | effective samples |",
             "|---|---|---|---|---|---|"]
    for p in s["parameters"]:
        lo, hi = p["interval_95"]
        lines.append(f"| `{p['key']}` | {p['prior'][0]:g} to {p['prior'][1]:g}"
                     f"{' (log)' if p['scale'] == 'log' else ''} | {p['mode']:.4g} | "
                     f"{p['median']:.4g} | [{lo:.4g}, {hi:.4g}] | {p['effective_samples']:.0f} |")
    few = [p["key"] for p in s["parameters"] if p["effective_samples"] < 50]
    if few:
        lines += ["", f"Fewer than 50 effective samples for {', '.join(few)}: sample longer "
                      "(`--iterations`, with `--resume` to continue) before trusting the "
                      "intervals."]
    lines += ["", "## Fit and predictive checks", "",
              "Each measured value beside the model at the fitted values and the 95% "
              f"posterior-predictive interval ({PREDICTIVE_DRAWS} draws). Consistent: the "
              "measured value's 95% interval overlaps the predictive one.", "",
              "| target | measured (se) | model at the mode | posterior-predictive 95% | "
              "consistent |", "|---|---|---|---|---|"]
    for r in s["targets"]:
        lines.append(f"| {r['target']} | {r['measured']:.4g} ({r['se']:.2g}) | "
                     f"{r['model_at_mode']:.4g} | [{r['predictive_low']:.4g}, "
                     f"{r['predictive_high']:.4g}] | {'yes' if r['consistent'] else '**no**'} |")
    lines += ["", "## Figures", ""] + [f"![{name}]({name})" for name in figures]
    lines += ["", "Files: `posterior.csv` (draws), `fitted.toml` (your scenario with the mode "
                  "set), `calibration.json` (these numbers, seeds and provenance)."]
    write_atomic(folder / "REPORT.md", ("\n".join(lines) + "\n").encode())
