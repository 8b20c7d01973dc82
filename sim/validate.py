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

import json
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
from sim.runner import replication_seeds, run_stacked

console = Console(width=None if Console().is_terminal else 160)
QUICK_BUYERS = 1000


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
    metric: str = ""
    """The metric compared (a target's), for the figure's axis."""
    unit: str = ""


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
               low=low if math.isfinite(low) else None, high=high if math.isfinite(high) else None,
               metric=metric, unit=_unit(scenario, metric))


def _unit(scenario: str, metric: str) -> str:
    from sim.metrics import METRICS

    kind = load_scenario(scenario).outcomes.get(metric, metric)
    return METRICS[kind].unit if kind in METRICS else ""


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


def write_report(rows: list[Row], out: Path, *, reps: int, quick: bool, seed: int,
                 scenarios: list[str] | None = None,
                 overrides: dict[str, Any] | None = None) -> None:
    """``validation.json`` (with provenance), ``REPORT.md`` and one figure per study (model vs
    paper; PNG and SVG)."""
    from sim.runner import write_atomic

    out.mkdir(parents=True, exist_ok=True)
    record = validation_provenance(scenarios or list_scenarios(), overrides)
    payload = {"recip_version": record["recip_version"], "reps": reps, "quick": quick,
               "seed": seed, "seeds": replication_seeds(seed, reps),
               "passed": all(r.passed for r in rows), "rows": [asdict(r) for r in rows],
               "provenance": record}
    write_atomic(out / "validation.json", json.dumps(payload, indent=2).encode())
    figures = _figures(rows, out, reps)
    lines = ["# Validation report", "",
             f"`recip validate --reps {reps}{' --quick' if quick else ''} --seed {seed}`, "
             f"recip {record['recip_version']}. Model means over {reps} replications with 95% "
             f"intervals.", "", _made_with(record), "",
             f"**{sum(r.passed for r in rows)} of {len(rows)} checks pass.**", "",
             "| study | condition | paper | model (95% CI) | tolerance | result |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.study} | {r.condition} | {r.paper} | {r.model_mean:.3f} "
                     f"[{r.ci_low:.3f}, {r.ci_high:.3f}] | {r.tolerance} | "
                     f"{'pass' if r.passed else '**FAIL**'} |")
    lines += ["", "## Figures", "",
              "Bars: the paper's figure and the model's mean; error bars: the model's 95% "
              "interval over the replications; black bars or dashed lines: the tolerance or "
              "threshold the model must meet. Each figure is also saved as SVG.", ""]
    lines += [f"![{name}]({path.name})" for name, path in figures]
    write_atomic(out / "REPORT.md", ("\n".join(lines) + "\n").encode())


def validation_provenance(scenarios: list[str], overrides: dict[str, Any] | None
                          ) -> dict[str, Any]:
    """:func:`sim.provenance.provenance` with every validated scenario's files hashed."""
    from sim.provenance import provenance, scenario_inputs

    inputs: dict[str, Any] = {}
    for name in scenarios:
        for role, path in scenario_inputs(load_scenario(name)).items():
            key = f"scenario {name}" if role == "scenario" else role
            inputs.setdefault(key, path)
    return provenance(inputs=inputs, overrides=overrides or {})


def _made_with(record: dict[str, Any]) -> str:
    git = record.get("git") or {}
    commit = (f"commit {git['commit'][:12]}{' (uncommitted changes)' if git.get('dirty') else ''}"
              if git.get("commit") else "no git checkout")
    packages = ", ".join(f"{k} {v}" for k, v in record["packages"].items() if v)
    return (f"Made by recip {record['recip_version']} ({commit}) on {record['timestamp']}, "
            f"Python {record['python']}, {packages}; {record['platform']}. Command: "
            f"`{record['command_line']}`.")


AXIS_LABELS = {
    "relative_lift": "relative lift over the baseline arm (fraction: 0.1 = +10%)",
    "ratio": "ratio to the baseline arm (x)",
}


def _axis_label(kind: str, metric: str, unit: str) -> str:
    if kind in AXIS_LABELS:
        return AXIS_LABELS[kind]
    name = metric.replace("_", " ") or "value"
    if kind == "difference":
        return f"{name}: difference from the baseline arm ({unit or 'metric units'})"
    return f"{name} ({unit})" if unit else name


def _figures(rows: list[Row], out: Path, reps: int) -> list[tuple[str, Path]]:
    from sim.plots import COLOURS, figure_style, save_figure

    figures = []
    groups = dict.fromkeys((r.study, r.kind) for r in rows if r.paper_value is not None)
    for study, kind in groups:
        chosen = [r for r in rows if (r.study, r.kind) == (study, kind)
                  and r.paper_value is not None]
        with figure_style():
            fig, ax = _pyplot().subplots(figsize=(2.6 + 1.5 * len(chosen), 4.0))
            x = np.arange(len(chosen))
            ax.bar(x - 0.2, [r.paper_value for r in chosen], 0.4, label="paper", color="0.65")
            ax.bar(x + 0.2, [r.model_mean for r in chosen], 0.4, color=COLOURS[0],
                   label=f"model mean; error bar: 95% CI ({reps} replications)",
                   yerr=[[r.model_mean - r.ci_low for r in chosen],
                         [r.ci_high - r.model_mean for r in chosen]], capsize=3)
            _draw_tolerances(ax, chosen)
            ax.set_xticks(x, [r.condition for r in chosen], rotation=15, ha="right")
            ax.set_ylabel(_axis_label(kind, chosen[0].metric, chosen[0].unit))
            ax.set_title(f"{study}: {kind.replace('_', ' ')}")
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=1)
        stem = "".join(c if c.isalnum() else "_" for c in f"{study}_{kind}").strip("_").lower()
        figures.append((f"{study}: {kind}", save_figure(fig, out / f"{stem}.png")))
    return figures


def _draw_tolerances(ax, chosen: list[Row]) -> None:
    """A two-sided tolerance as a black bar beside the model's; a one-sided threshold as a
    dashed line across the condition's bars; each named once in the legend."""
    named: set[str] = set()
    for i, r in enumerate(chosen):
        if r.low is not None and r.high is not None:
            label = None if "tolerance" in named else "tolerance (the range the model must hit)"
            named.add("tolerance")
            ax.plot([i + 0.45, i + 0.45], [r.low, r.high], color="k", lw=2.5, label=label)
            continue
        bound = r.low if r.low is not None else r.high
        if bound is None:
            continue
        text = f"threshold: model {'>=' if r.low is not None else '<='} {bound:g}"
        ax.plot([i - 0.45, i + 0.45], [bound, bound], color="k", ls="--", lw=1.4,
                label=None if text in named else text)
        named.add(text)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def validate(
    reps: Annotated[int, typer.Option(help="Replications per condition.", min=2)] = 30,
    quick: Annotated[bool, typer.Option(help="Few replications, small populations (CI).")] = False,
    out: Annotated[Path, typer.Option(help="Folder for validation.json, REPORT.md, figures.")]
    = Path("experiments/validation"),
    seed: Annotated[int, typer.Option(help="Base seed for the replications.")] = 0,
    workers: Annotated[int, typer.Option(
        help="Worker processes (0: one per core). Results do not depend on it.", min=0)] = 1,
) -> None:
    """Run every calibration target and qualitative fact; print model vs paper; exit 1 on a miss."""
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
