"""``recip validate``: the model against the literature.

Targets and facts are data in the scenario files (``[[calibration.targets]]`` and
``[[calibration.facts]]``), so the validation moves with the scenarios and the rule parameters:

- a *target* compares an arm's final outcome with a paper's figure: ``kind = "value"`` (the mean
  itself), ``"relative_lift"`` (arm over ``baseline`` arm, minus one), ``"ratio"`` (arm over
  baseline) or ``"difference"`` (arm minus baseline), passing when the model's mean lies in
  ``[low, high]``;
- a *fact* is a list of checks, each comparing two sides (arm, extra settings, strategy, metric,
  day) paired by seed: the mean of ``more`` minus the mean of ``less`` must exceed ``margin``.

Replications use seeds from ``numpy.random.SeedSequence(seed).spawn(reps)``; arms share seeds
(common random numbers). Each fact check is one row of the table; all runs are stacked in engines
(:func:`sim.runner.run_stacked`) and can be spread over worker processes (``--workers``), without
changing any result.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from sim.config import list_scenarios, load_scenario
from sim.metrics import metric_names
from sim.outputs import check_destination
from sim.runner import replication_seeds, run_stacked

console = Console(width=None if Console().is_terminal else 160)
QUICK_BUYERS = 1000
MAX_REPS = 10_000
MAX_SEED = 2**63 - 1
MAX_WORKERS = 4 * (os.cpu_count() or 1)
"""More worker processes than this only slow the runs down (as for sweeps)."""


@dataclass
class Row:
    """One line of the validation table."""

    study: str
    condition: str
    paper: str
    model_mean: float
    ci_low: float
    ci_high: float
    tolerance: str
    passed: bool
    samples: list[float] = field(default_factory=list, repr=False)
    paper_value: float | None = None
    kind: str = "fact"
    low: float | None = None
    high: float | None = None


def _mean_ci(values: list[float]) -> tuple[float, float, float]:
    arr = np.asarray(values, dtype=float)
    mean = float(arr.mean())
    half = 1.96 * float(arr.std(ddof=1)) / math.sqrt(arr.size) if arr.size > 1 else 0.0
    return mean, mean - half, mean + half


RunKey = tuple  # (scenario, arm, sorted settings, steps, seed)


def _run_keys(keys: list[RunKey]) -> list[dict[str | None, dict[str, float]]]:
    """Run (scenario, arm, settings, steps, seed) keys, all stacked
    (:func:`sim.runner.run_stacked`), and return each one's final metrics by strategy (``None``:
    all sellers). Top-level so that worker processes can run it."""
    loaded: dict[RunKey, Any] = {}
    configs, columns = [], []
    for scenario, arm, settings, _, _ in keys:
        if (scenario, arm, settings) not in loaded:
            loaded[scenario, arm, settings] = load_scenario(scenario, arm=arm,
                                                            overrides=dict(settings))
        config = loaded[scenario, arm, settings]
        configs.append(config)
        columns.append({(strategy, name): name if strategy is None else f"{name}[{strategy}]"
                        for strategy in [None, *config.strategies_in_play]
                        for name in metric_names(config)})
    runs = run_stacked(configs, [key[4] for key in keys], steps=[key[3] for key in keys],
                       metrics=[list(c.values()) for c in columns])
    results = []
    for rows, run_columns in zip(runs, columns, strict=True):
        by_strategy: dict[str | None, dict[str, float]] = {}
        for (strategy, name), column in run_columns.items():
            by_strategy.setdefault(strategy, {})[name] = rows[-1][column]
        results.append(by_strategy)
    return results


class _Runner:
    """Runs (scenario, arm, settings) at a seed, caching final metrics by strategy.

    With ``planning`` set, :meth:`metrics` only records which runs are needed (and returns NaN);
    :meth:`execute` then makes them, in worker processes when ``workers`` > 1. Each run has its
    own seed, so the results do not depend on the number of workers.
    """

    def __init__(self, quick: bool, overrides: dict[str, Any] | None = None, workers: int = 1):
        self.quick = quick
        self.overrides = overrides or {}
        self.workers = workers
        self.planning = False
        self._cache: dict[RunKey, dict[str | None, dict[str, float]]] = {}
        self._needed: dict[RunKey, None] = {}

    def key(self, scenario: str, side: dict[str, Any], seed: int) -> RunKey:
        settings = {**self.overrides, **side.get("set", {})}
        if self.quick and "buyers.n" not in settings:
            settings["buyers.n"] = min(load_scenario(scenario).buyers.n, QUICK_BUYERS)
        return (scenario, side.get("arm"), tuple(sorted(settings.items())), side.get("steps"),
                seed)

    def metrics(self, scenario: str, side: dict[str, Any], seed: int) -> float:
        key = self.key(scenario, side, seed)
        if key not in self._cache:
            if self.planning:
                self._needed[key] = None
                return math.nan
            self._cache[key] = _run_keys([key])[0]
        return self._cache[key][side.get("strategy")][side["metric"]]

    def execute(self) -> None:
        """Make every run recorded while planning, stacked in engines (a share of them per
        worker process)."""
        todo = [key for key in self._needed if key not in self._cache]
        if self.workers > 1 and len(todo) > 1:
            from concurrent.futures import ProcessPoolExecutor

            shares = [todo[i::self.workers] for i in range(self.workers)]
            with ProcessPoolExecutor(self.workers) as pool:
                results = list(pool.map(_run_keys, shares))
            self._cache.update(zip((k for share in shares for k in share),
                                   (r for share in results for r in share), strict=True))
        elif todo:
            self._cache.update(zip(todo, _run_keys(todo), strict=True))
        self._needed.clear()


def _target_row(scenario: str, metric: str, target: dict[str, Any], seeds: list[int],
                runner: _Runner) -> Row:
    kind = target.get("kind", "value")
    values = []
    for seed in seeds:
        value = runner.metrics(scenario, {"arm": target["arm"], "metric": metric}, seed)
        if kind != "value":
            base = runner.metrics(scenario, {"arm": target["baseline"], "metric": metric}, seed)
            value = {"relative_lift": value / base - 1.0, "ratio": value / base,
                     "difference": value - base}[kind]
        values.append(value)
    mean, lo, hi = _mean_ci(values)
    low, high = target.get("low", -math.inf), target.get("high", math.inf)
    shown = {"relative_lift": "{:+.1%}", "ratio": "{:.2f}x", "difference": "{:+.2f}",
             "value": "{:.2f}"}[kind]
    return Row(study=target["study"], condition=target["condition"],
               paper=target.get("paper_text", shown.format(target["paper"])
                                if "paper" in target else "-"),
               model_mean=mean, ci_low=lo, ci_high=hi,
               tolerance=target.get("tolerance_text", f"[{low:g}, {high:g}]"),
               passed=bool(low <= mean <= high), samples=values,
               paper_value=target.get("paper"), kind=kind,
               low=low if math.isfinite(low) else None, high=high if math.isfinite(high) else None)


def _describe(side: dict[str, Any]) -> str:
    """A fact check's side in words: ``active revenue (arm x, day 120, detection 0.8)``."""
    what = f"{side['strategy']} {side['metric']}" if side.get("strategy") else side["metric"]
    where = [f"arm {side['arm']}"] if side.get("arm") else []
    where += [f"day {side['steps']}"] if side.get("steps") else []
    where += [f"{k.split('.')[-2] if k.endswith('.mean') else k.split('.')[-1]} = {v}"
              for k, v in side.get("set", {}).items()]
    return f"{what} ({', '.join(where)})" if where else what


def _fact_rows(scenario: str, fact: dict[str, Any], seeds: list[int],
               runner: _Runner) -> list[Row]:
    """One row per check of a fact: the paired (same seed) gap ``more - less`` must exceed the
    check's ``margin`` (default 0)."""
    rows = []
    for i, check in enumerate(fact["checks"]):
        more = [runner.metrics(scenario, check["more"], seed) for seed in seeds]
        less = [runner.metrics(scenario, check["less"], seed) for seed in seeds]
        mean, lo, hi = _mean_ci([a - b for a, b in zip(more, less, strict=True)])
        margin = check.get("margin", 0.0)
        rows.append(Row(
            study=f"fact ({scenario})" if i else f"fact ({scenario}): {fact['fact']}",
            condition=(f"{_describe(check['more'])} = {np.mean(more):.3g} > "
                       f"{_describe(check['less'])} = {np.mean(less):.3g}"),
            paper="holds", model_mean=mean, ci_low=lo, ci_high=hi,
            tolerance=f"gap > {margin:g}", passed=bool(mean > margin),
            samples=[a - b for a, b in zip(more, less, strict=True)], low=margin))
    return rows


def run_validation(*, reps: int, quick: bool, seed: int = 0, scenarios: list[str] | None = None,
                   overrides: dict[str, Any] | None = None, facts: bool = True,
                   workers: int = 1) -> list[Row]:
    """Every calibration target (and, with ``facts``, qualitative fact) of the shipped scenarios,
    with ``overrides`` (dotted keys) applied to every run, over ``workers`` processes."""
    seeds = replication_seeds(seed, reps)
    runner = _Runner(quick, overrides, workers)

    def rows() -> list[Row]:
        specs = {name: load_scenario(name).calibration for name in scenarios or list_scenarios()}
        out = [_target_row(name, spec.get("metric"), target, seeds, runner)
               for name, spec in specs.items() for target in spec.get("targets", [])]
        for name, spec in specs.items():  # facts after the calibration targets
            for fact in spec.get("facts", []) if facts else []:
                out.extend(_fact_rows(name, fact, seeds, runner))
        return out

    runner.planning = True
    with np.errstate(all="ignore"):
        rows()
    runner.planning = False
    runner.execute()
    return rows()


def print_table(rows: list[Row]) -> None:
    table = Table(title="recip validate: model vs paper", show_lines=False)
    for column in ("study", "condition", "paper", "model (95% CI)", "tolerance", "result"):
        table.add_column(column)
    for r in rows:
        table.add_row(r.study, r.condition, r.paper,
                      f"{r.model_mean:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}]", r.tolerance,
                      "[green]pass[/]" if r.passed else "[bold red]FAIL[/]")
    console.print(table)


def write_report(rows: list[Row], out: Path, *, reps: int, quick: bool, seed: int) -> None:
    """``validation.json``, ``REPORT.md`` and one figure per study (model vs paper)."""
    import sim
    from sim.outputs import staged_output, write_json

    payload = {"recip_version": sim.__version__, "reps": reps, "quick": quick, "seed": seed,
               "passed": all(r.passed for r in rows), "rows": [asdict(r) for r in rows]}
    with staged_output(out) as folder:  # the report is written whole or not at all
        write_json(folder / "validation.json", payload)
        _write_markdown(rows, folder, _figures(rows, folder), reps=reps, quick=quick, seed=seed)


def _write_markdown(rows: list[Row], out: Path, figures: list[tuple[str, Path]], *, reps: int,
                    quick: bool, seed: int) -> None:
    import sim

    lines = ["# Validation report", "",
             f"`recip validate --reps {reps}{' --quick' if quick else ''} --seed {seed}`, "
             f"recip {sim.__version__}. Model means over {reps} replications with 95% intervals.",
             "", f"**{sum(r.passed for r in rows)} of {len(rows)} checks pass.**", "",
             "| study | condition | paper | model (95% CI) | tolerance | result |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.study} | {r.condition} | {r.paper} | {r.model_mean:.3f} "
                     f"[{r.ci_low:.3f}, {r.ci_high:.3f}] | {r.tolerance} | "
                     f"{'pass' if r.passed else '**FAIL**'} |")
    lines += ["", "## Figures", ""] + [f"![{name}]({path.name})" for name, path in figures]
    (out / "REPORT.md").write_text("\n".join(lines) + "\n")


def _figures(rows: list[Row], out: Path) -> list[tuple[str, Path]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = []
    groups = dict.fromkeys((r.study, r.kind) for r in rows if r.paper_value is not None)
    for study, kind in groups:
        chosen = [r for r in rows if (r.study, r.kind) == (study, kind)
                  and r.paper_value is not None]
        fig, ax = plt.subplots(figsize=(2.2 + 1.4 * len(chosen), 3.8))
        x = np.arange(len(chosen))
        ax.bar(x - 0.2, [r.paper_value for r in chosen], 0.4, label="paper", color="#999")
        ax.bar(x + 0.2, [r.model_mean for r in chosen], 0.4, label="model (95% CI)",
               color="#3a7", yerr=[[r.model_mean - r.ci_low for r in chosen],
                                   [r.ci_high - r.model_mean for r in chosen]], capsize=3)
        for i, r in enumerate(chosen):
            if r.low is not None and r.high is not None:
                ax.plot([i + 0.45, i + 0.45], [r.low, r.high], color="k", lw=2,
                        label="tolerance" if i == 0 else None)
        ax.set_xticks(x, [r.condition for r in chosen], rotation=15, ha="right", fontsize=8)
        ax.set_title(f"{study}: {kind.replace('_', ' ')}", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        stem = "".join(c if c.isalnum() else "_" for c in f"{study}_{kind}").strip("_").lower()
        path = out / f"{stem}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        figures.append((f"{study}: {kind}", path))
    return figures


def validate(
    reps: Annotated[int, typer.Option(help="Replications per condition.", min=2,
                                      max=MAX_REPS)] = 30,
    quick: Annotated[bool, typer.Option(help="Few replications, small populations (CI).")] = False,
    out: Annotated[Path, typer.Option(help="Folder for validation.json, REPORT.md, figures.")]
    = Path("experiments/validation"),
    seed: Annotated[int, typer.Option(help="Base seed for the replications.", min=0,
                                      max=MAX_SEED)] = 0,
    workers: Annotated[int, typer.Option(
        help="Worker processes (0: one per core). Results do not depend on it.", min=0,
        max=MAX_WORKERS)] = 1,
) -> None:
    """Run every calibration target and qualitative fact; print model vs paper; exit 1 on a miss."""
    check_destination(out)  # a bad --out is said before the runs, not after
    reps = min(reps, 6) if quick else reps
    workers = workers or os.cpu_count() or 1
    rows = run_validation(reps=reps, quick=quick, seed=seed, workers=workers)
    print_table(rows)
    write_report(rows, out, reps=reps, quick=quick, seed=seed)
    console.print(f"report: {out / 'REPORT.md'}")
    failed = [r for r in rows if not r.passed]
    if failed:
        console.print(f"[bold red]{len(failed)} of {len(rows)} checks failed[/]")
        raise typer.Exit(1)
    console.print(f"[green]all {len(rows)} checks pass[/]")
