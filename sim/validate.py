"""``recip validate``: the model against the literature.

Targets and facts are data in the scenario files (``[[calibration.targets]]`` and
``[[calibration.facts]]``, :mod:`sim.calibration.targets`), so the validation moves with the
scenarios and the rule parameters. Every target of both sets of ``RECIPROCITY.md`` and every
qualitative fact is checked:

- a *target* passes when the model's mean over replications (at the defaults, with any
  ``--set`` settings) is within its band; a target marked ``interval`` needs its whole
  posterior-predictive interval in the band;
- a *fact check* passes when the paired gap ``more - less`` exceeds its margin.

Besides the replications' 95% interval (seed noise), each target shows a **posterior-predictive
interval**: the target's statistic over draws of the calibrated parameters
(``scenarios/_posterior.csv``), each averaged over seeds: how uncertain the prediction is
because the parameters are.

Replications use seeds from ``numpy.random.SeedSequence(seed).spawn(reps)``; arms share seeds
(common random numbers). All runs are stacked in engines (:mod:`sim.calibration.evaluate`) and
can be spread over worker processes (``--workers``), without changing any result.
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

from sim.calibration.evaluate import build_plan, evaluate
from sim.calibration.targets import Check, Target
from sim.config import ScenarioError, list_scenarios, load_scenario
from sim.outputs import check_destination
from sim.paths import scenarios_dir
from sim.runner import replication_seeds

console = Console(width=None if Console().is_terminal else 160)
QUICK_BUYERS = 1000
POSTERIOR_DRAWS, QUICK_POSTERIOR_DRAWS = 40, 8
POSTERIOR_SEEDS = 3
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
    pp_low: float | None = None
    """Posterior-predictive interval (2.5% and 97.5%), when posterior draws are shipped."""
    pp_high: float | None = None
    checked: bool = True
    """False for a figure the domain reference gives no tolerance for: fitted and shown, not a
    check (its ``passed`` is True and it is not counted)."""
    metric: str = ""
    """The metric compared (a target's), for the figure's axis."""
    unit: str = ""


def _mean_ci(values: np.ndarray) -> tuple[float, float, float]:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(values.mean())
    half = 1.96 * float(values.std(ddof=1)) / math.sqrt(values.size) if values.size > 1 else 0.0
    return mean, mean - half, mean + half


def posterior_draws(count: int, *, seed: int = 0, exclude: set[str] = frozenset()
                    ) -> list[dict[str, float]]:
    """``count`` draws of the calibrated parameters (dotted keys), from the shipped
    ``scenarios/_posterior.csv``; keys in ``exclude`` (set by the user) are left out. Empty when
    no posterior is shipped."""
    path = scenarios_dir() / "_posterior.csv"
    if not path.is_file():
        return []
    from sim.calibration.fit import read_draws

    keys, values = read_draws(path)
    rows = np.random.default_rng(seed).choice(len(values), size=min(count, len(values)),
                                              replace=False)
    return [{k: float(v) for k, v in zip(keys, values[r], strict=True) if k not in exclude}
            for r in rows]


def entries_of(names: list[str], *, facts: bool = True) -> list[tuple[str, Target | Check]]:
    """Every target (then every fact check, with ``facts``) of the scenarios ``names``."""
    tables = {name: load_scenario(name).calibration for name in names}
    out: list[tuple[str, Target | Check]] = [(n, t) for n, table in tables.items()
                                             for t in table.targets]
    if facts:
        out += [(n, c) for n, table in tables.items() for f in table.facts for c in f.checks]
    return out


def run_validation(*, reps: int, quick: bool, seed: int = 0, scenarios: list[str] | None = None,
                   overrides: dict[str, Any] | None = None, facts: bool = True,
                   workers: int = 1, posterior: int | None = None) -> list[Row]:
    """Every calibration target (and, with ``facts``, qualitative fact check) of the shipped
    scenarios (or ``scenarios``), with ``overrides`` (dotted keys) applied to every run, over
    ``workers`` processes; ``posterior`` draws for the posterior-predictive intervals (default
    40, quick 8; 0: none)."""
    names = scenarios or list_scenarios()
    entries = entries_of(names, facts=facts)
    plan = build_plan(entries, overrides=overrides, buyers_cap=QUICK_BUYERS if quick else None)
    seeds = replication_seeds(seed, reps)
    stats = evaluate(plan, [{}], seeds, workers=workers)[0]
    draws_wanted = (QUICK_POSTERIOR_DRAWS if quick else POSTERIOR_DRAWS) if posterior is None \
        else posterior
    draws = posterior_draws(draws_wanted, seed=seed, exclude=set(overrides or {}))
    predictive = None
    if draws:
        predictive = np.nanmean(evaluate(plan, draws, seeds[:POSTERIOR_SEEDS],
                                         workers=workers), axis=2)
    rows, first_of_fact = [], _first_checks(names, facts)
    for i, ((name, entry), _item) in enumerate(zip(entries, plan.items, strict=True)):
        samples = stats[i]
        mean, lo, hi = _mean_ci(samples)
        pp = (None, None) if predictive is None else tuple(
            float(x) for x in np.nanpercentile(predictive[:, i], [2.5, 97.5]))
        if isinstance(entry, Target):
            interval = pp if pp[0] is not None else (lo, hi)
            rows.append(Row(
                study=entry.study, condition=entry.condition,
                paper=entry.paper_text or (_shown(entry.kind, entry.paper)
                                           if entry.paper is not None else "-"),
                model_mean=mean, ci_low=lo, ci_high=hi, tolerance=entry.tolerance,
                passed=bool(entry.passes(mean, *interval)), checked=entry.has_band,
                samples=samples.tolist(),
                paper_value=entry.paper, kind=entry.kind, low=entry.low, high=entry.high,
                pp_low=pp[0], pp_high=pp[1], metric=entry.metric or "",
                unit=_unit(name, entry.metric)))
        else:
            fact = first_of_fact.get((name, id(entry)))
            rows.append(Row(
                study=f"fact ({name}): {fact}" if fact else f"fact ({name})",
                condition=f"{_describe(entry.more)} > {_describe(entry.less)}",
                paper="holds", model_mean=mean, ci_low=lo, ci_high=hi,
                tolerance=f"gap > {entry.margin:g}", passed=bool(mean > entry.margin),
                samples=samples.tolist(), low=entry.margin, pp_low=pp[0], pp_high=pp[1]))
    return rows


def _unit(scenario: str, metric: str | None) -> str:
    from sim.metrics import METRICS

    if not metric:
        return ""
    kind = load_scenario(scenario).outcomes.get(metric, metric)
    return METRICS[kind].unit if kind in METRICS else ""


def _first_checks(names: list[str], facts: bool) -> dict[tuple[str, int], str]:
    """The fact's statement, shown on the row of its first check."""
    out = {}
    for name in names if facts else []:
        for fact in load_scenario(name).calibration.facts:
            out[name, id(fact.checks[0])] = fact.fact
    return out


def _shown(kind: str, value: float) -> str:
    return {"relative_lift": "{:+.1%}", "ratio": "{:.2f}x", "difference": "{:+.3g}",
            "combination": "{:+.3g}", "value": "{:.3g}"}[kind].format(value)


def _describe(side: Any) -> str:
    """A fact check's side in words: ``active revenue (arm x, day 120, detection 0.8)``."""
    what = f"{side.strategy} {side.metric}" if side.strategy else side.metric
    where = [f"arm {side.arm}"] if side.arm else []
    where += [f"day {side.steps}"] if side.steps else []
    where += [f"{k.split('.')[-2] if k.endswith('.mean') else k.split('.')[-1]} = {v}"
              for k, v in side.set.items()]
    return f"{what} ({', '.join(where)})" if where else what


def _result(row: Row, *, markup: bool = False) -> str:
    if not row.checked:
        return "[dim]fitted[/]" if markup else "fitted"
    if row.passed:
        return "[green]pass[/]" if markup else "pass"
    return "[bold red]FAIL[/]" if markup else "**FAIL**"


def checks_of(rows: list[Row]) -> list[Row]:
    """The rows that are checks (a tolerance or a fact), not fitted figures alone."""
    return [r for r in rows if r.checked]


def print_table(rows: list[Row]) -> None:
    table = Table(title="recip validate: model vs paper", show_lines=False)
    for column in ("study", "condition", "paper", "model (95% CI)", "posterior-predictive 95%",
                   "tolerance", "result"):
        table.add_column(column)
    for r in rows:
        pp = "-" if r.pp_low is None else f"[{r.pp_low:.3f}, {r.pp_high:.3f}]"
        table.add_row(r.study, r.condition, r.paper,
                      f"{r.model_mean:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}]", pp, r.tolerance,
                      _result(r, markup=True))
    console.print(table)


def write_report(rows: list[Row], out: Path, *, reps: int, quick: bool, seed: int,
                 scenarios: list[str] | None = None,
                 overrides: dict[str, Any] | None = None) -> None:
    """``validation.json`` (strict JSON, with provenance), ``REPORT.md`` and one figure per study
    (model vs paper; PNG and SVG), written whole or not at all (:func:`sim.outputs.staged_output`)."""
    from sim.outputs import staged_output

    record = validation_provenance(scenarios or list_scenarios(), overrides)
    payload = {"recip_version": record["recip_version"], "reps": reps, "quick": quick,
               "seed": seed, "seeds": replication_seeds(seed, reps),
               "overrides": overrides or {}, "passed": all(r.passed for r in rows),
               "rows": [_strict(asdict(r)) for r in rows], "provenance": record}
    with staged_output(out) as folder:
        _write_files(rows, folder, payload, record, reps=reps, quick=quick, seed=seed,
                     overrides=overrides)


def _write_files(rows: list[Row], out: Path, payload: dict[str, Any], record: dict[str, Any], *,
                 reps: int, quick: bool, seed: int, overrides: dict[str, Any] | None) -> None:
    from sim.outputs import write_json

    write_json(out / "validation.json", payload)
    figures = _figures(rows, out, reps)
    settings = "".join(f" --set {k}={v}" for k, v in (overrides or {}).items())
    lines = ["# Validation report", "",
             f"`recip validate --reps {reps}{' --quick' if quick else ''} --seed {seed}{settings}`, "
             f"recip {record['recip_version']}. Model means over {reps} replications with 95% "
             "intervals (seed noise); posterior-predictive intervals over draws of the calibrated "
             "parameters (`scenarios/_posterior.csv`, each draw averaged over "
             f"{POSTERIOR_SEEDS} seeds).", "", _made_with(record), "",
             f"**{sum(r.passed for r in checks_of(rows))} of {len(checks_of(rows))} checks "
             f"pass** ({len(rows) - len(checks_of(rows))} more figures fitted without a "
             "tolerance in the domain reference, shown for comparison).", "",
             "| study | condition | paper | model (95% CI) | posterior-predictive 95% | tolerance "
             "| result |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        pp = "-" if r.pp_low is None else f"[{r.pp_low:.3f}, {r.pp_high:.3f}]"
        lines.append(f"| {r.study} | {r.condition} | {r.paper} | {r.model_mean:.3f} "
                     f"[{r.ci_low:.3f}, {r.ci_high:.3f}] | {pp} | {r.tolerance} | "
                     f"{_result(r)} |")
    lines += ["", "## Figures", "",
              "Bars: the paper's figure and the model's mean; error bars: the model's 95% "
              "interval over the replications; thick green lines: the posterior-predictive 95% "
              "interval; black bars or dashed lines: the tolerance or threshold the model must "
              "meet. Each figure is also saved as SVG.", ""]
    lines += [f"![{name}]({path.name})" for name, path in figures]
    (out / "REPORT.md").write_text("\n".join(lines) + "\n")


def validation_provenance(scenarios: list[str], overrides: dict[str, Any] | None
                          ) -> dict[str, Any]:
    """:func:`sim.provenance.provenance` with every validated scenario's files (and the shipped
    posterior draws) hashed."""
    from sim.provenance import provenance, scenario_inputs

    inputs: dict[str, Any] = {}
    for name in scenarios:
        for role, path in scenario_inputs(load_scenario(name)).items():
            key = f"scenario {name}" if role == "scenario" else role
            inputs.setdefault(key, path)
    posterior = scenarios_dir() / "_posterior.csv"
    if posterior.is_file():
        inputs["posterior draws"] = posterior
    return provenance(inputs=inputs, overrides=overrides or {})


def _made_with(record: dict[str, Any]) -> str:
    git = record.get("git") or {}
    commit = (f"commit {git['commit'][:12]}{' (uncommitted changes)' if git.get('dirty') else ''}"
              if git.get("commit") else "no git checkout")
    packages = ", ".join(f"{k} {v}" for k, v in record["packages"].items() if v)
    return (f"Made by recip {record['recip_version']} ({commit}) on {record['timestamp']}, "
            f"Python {record['python']}, {packages}; {record['platform']}. Command: "
            f"`{record['command_line']}`.")


def _strict(value: Any) -> Any:
    """JSON without NaN or Infinity (null instead)."""
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strict(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


AXIS_LABELS = {
    "relative_lift": "relative lift over the baseline arm (fraction: 0.1 = +10%)",
    "ratio": "ratio to the baseline arm (x)",
    "combination": "combination of conditions (see the target)",
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
            fig, ax = _pyplot().subplots(figsize=(2.6 + 1.6 * len(chosen), 4.2))
            x = np.arange(len(chosen))
            ax.bar(x - 0.2, [r.paper_value for r in chosen], 0.4, label="paper", color="0.65")
            ax.bar(x + 0.2, [r.model_mean for r in chosen], 0.4, color=COLOURS[0],
                   label=f"model mean; error bar: 95% CI ({reps} replications)",
                   yerr=[[r.model_mean - r.ci_low for r in chosen],
                         [r.ci_high - r.model_mean for r in chosen]], capsize=3)
            for i, r in enumerate(chosen):
                if r.pp_low is not None:
                    ax.plot([i + 0.32, i + 0.32], [r.pp_low, r.pp_high], color=COLOURS[2], lw=3,
                            label="posterior-predictive 95% interval" if i == 0 else None)
            _draw_tolerances(ax, chosen)
            ax.set_xticks(x, [r.condition[:40] for r in chosen], rotation=15, ha="right")
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
    reps: Annotated[int, typer.Option(help="Replications per condition.", min=2,
                                      max=MAX_REPS)] = 30,
    quick: Annotated[bool, typer.Option(help="Few replications, small populations (CI).")] = False,
    out: Annotated[Path, typer.Option(help="Folder for validation.json, REPORT.md, figures.")]
    = Path("experiments/validation"),
    seed: Annotated[int, typer.Option(help="Base seed for the replications.", min=0,
                                      max=MAX_SEED)] = 0,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a parameter in every run, e.g. --set rules.debt_weight=0.5 "
                      "(repeatable).")] = None,
    workers: Annotated[int, typer.Option(
        help="Worker processes (0: one per core). Results do not depend on it.", min=0,
        max=MAX_WORKERS)] = 1,
) -> None:
    """Run every calibration target and qualitative fact; print model vs paper with
    posterior-predictive intervals; exit 1 on a miss."""
    from sim.cli import fail, parse_sets

    reps = min(reps, 6) if quick else reps
    workers = workers or os.cpu_count() or 1
    try:
        check_destination(out)  # a bad --out is said before the runs, not after
        overrides = parse_sets(set_ or [])
        for name in list_scenarios():  # a bad --set fails here, before any run
            load_scenario(name, overrides=overrides)
        rows = run_validation(reps=reps, quick=quick, seed=seed, workers=workers,
                              overrides=overrides)
    except ScenarioError as exc:
        raise fail(str(exc)) from None
    print_table(rows)
    write_report(rows, out, reps=reps, quick=quick, seed=seed, overrides=overrides)
    console.print(f"report: {out / 'REPORT.md'}")
    checks = checks_of(rows)
    failed = [r for r in checks if not r.passed]
    if failed:
        console.print(f"[bold red]{len(failed)} of {len(checks)} checks failed[/]")
        raise typer.Exit(1)
    console.print(f"[green]all {len(checks)} checks pass[/]")
