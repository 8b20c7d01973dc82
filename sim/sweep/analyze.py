"""``recip analyze``: a sweep's results by design point, sensitivity indices and figures.

Reads the chunks one at a time and keeps only each run's final step, so memory grows with the
number of runs, not with ``every``. Writes the folder ``OUT/analysis`` (built in a temporary
folder beside it and moved into place at the end: a failed or interrupted analysis leaves the
previous one, or nothing, never half of one):

- ``summary.csv``: per design point its parameters, runs, failed runs, and per metric the mean
  and a 95% t-interval over replications (``<metric>_mean``, ``_ci_low``, ``_ci_high``);
- ``sensitivity.csv`` for continuous designs, one row per metric and parameter, from the
  replication means per point (:mod:`sim.sweep.sensitivity`): Sobol S1, S1_conf, ST, ST_conf;
  Morris mu, mu_star, mu_star_conf, sigma; Latin hypercube PRCC, p_value, ci_low, ci_high; and
  ``reliable`` (False: not to be read as a result, see the warnings);
- ``figures/*.png``: index bars (Sobol, Morris, PRCC), scatter plots of each metric against each
  parameter (lhs), heatmaps and effect plots (grids and lists);
- ``REPORT.md`` tying it together, with the sweep's provenance and every warning.

Warnings (a degenerate metric, unreliable indices, failed runs) are returned to the caller and
printed by ``recip analyze``.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import secrets
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.config import ScenarioError, load_scenario
from sim.provenance import package_version
from sim.sweep.design import design_points, sample_matrix
from sim.sweep.sensitivity import METHODS, Sensitivity, analyse
from sim.sweep.spec import METRIC_NAME, SweepSpec, SweepSpecError, parse_spec
from sim.sweep.store import ID_COLUMNS, SweepStore, now

ANALYSIS = "analysis"
FIGURES = "figures"
MAX_SCATTER_METRICS = 24
MAX_SCATTER_PARAMETERS = 12
MAX_TABLE_ROWS = 60
MAX_HEATMAP_LEVELS = 40
MAX_LINES = 8


# --- reading ------------------------------------------------------------------------------------


def load_sweep(out: str | Path) -> tuple[SweepStore, SweepSpec, dict[str, Any]]:
    """The store, spec and manifest of a sweep folder."""
    store = SweepStore(out)
    if not store.out.is_dir():
        raise SweepSpecError(f"{out}: no such folder; give the --out folder of `recip sweep`")
    manifest = store.read_manifest()
    if manifest is None:
        raise SweepSpecError(f"{out}: no manifest.json; give the --out folder of `recip sweep`")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("spec"), dict):
        raise SweepSpecError(f"{store.manifest_path}: not a sweep manifest (no spec in it)")
    spec = parse_spec(manifest["spec"], origin=str(manifest.get("spec_file", out)))
    return store, spec, manifest


def final_rows(store: SweepStore, spec: SweepSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each finished run's last row (runs that raised left out) and the failed runs' ids.

    Chunk by chunk: a run's rows are all in one chunk, so its last step is found there.
    """
    params = spec.design.parameter_names
    columns = [*ID_COLUMNS, *params, "step", *spec.sweep.metrics, "error"]
    finals, failures = [], []
    for table in store.iter_tables(columns=columns):
        frame = table.to_pandas()
        failed = frame["error"].notna()
        failures.append(frame.loc[failed, [*ID_COLUMNS, "error"]])
        ok = frame[~failed]
        if not ok.empty:
            finals.append(ok.loc[ok.groupby("run_id")["step"].idxmax()])
    final = (pd.concat(finals, ignore_index=True) if finals
             else pd.DataFrame(columns=[c for c in columns if c != "error"]))
    failed = (pd.concat(failures, ignore_index=True) if failures
              else pd.DataFrame(columns=[*ID_COLUMNS, "error"]))
    return (final.drop(columns="error", errors="ignore").sort_values("run_id")
            .reset_index(drop=True), failed)


# --- summaries ----------------------------------------------------------------------------------


def mean_ci(values: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% t-interval of the non-NaN values (NaN bounds below two values).

    >>> [round(v, 3) for v in mean_ci([1.0, 2.0, 3.0])]
    [2.0, -0.484, 4.484]
    """
    from scipy import stats

    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(arr.mean())
    if arr.size < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.975, arr.size - 1) * arr.std(ddof=1) / math.sqrt(arr.size))
    return mean, mean - half, mean + half


def summarise(spec: SweepSpec, final: pd.DataFrame, failed: pd.DataFrame,
              points: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per design point: parameters, runs, failed, and mean / 95% interval per metric
    (as :func:`mean_ci`, computed for all points at once: a million points take seconds)."""
    from scipy import stats

    index = pd.RangeIndex(len(points), name="point")
    summary = pd.DataFrame(points, index=index)
    summary.insert(0, "point", index)
    by_point = final.groupby("point")
    summary["runs"] = by_point.size().reindex(index, fill_value=0).astype(int)
    summary["failed"] = (failed.groupby("point").size().reindex(index, fill_value=0).astype(int)
                         if not failed.empty else 0)
    for metric in spec.sweep.metrics:
        values = by_point[metric]
        mean = values.mean().reindex(index).astype(float)
        count = values.count().reindex(index, fill_value=0).to_numpy(dtype=float)
        sd = values.std(ddof=1).reindex(index).to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            half = stats.t.ppf(0.975, count - 1) * sd / np.sqrt(count)
        half = np.where(count >= 2, half, np.nan)
        summary[f"{metric}_mean"] = mean.to_numpy()
        summary[f"{metric}_ci_low"] = mean.to_numpy() - half
        summary[f"{metric}_ci_high"] = mean.to_numpy() + half
    return summary.reset_index(drop=True)


# --- figures ------------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    """PNG (200 dpi) and SVG in the shared style (:mod:`sim.plots`), into the staging folder."""
    from sim.plots import figure_style, save_figure

    with figure_style():
        fig.tight_layout()
    return save_figure(fig, path)


def _metric_axis(metric: str, spec: SweepSpec) -> str:
    """The metric with its unit, as an axis label (:func:`sim.plots.metric_label`)."""
    from sim.plots import metric_label

    return metric_label(metric, _outcomes(spec.sweep.scenario))


@functools.cache
def _outcomes(scenario: str) -> dict[str, str]:
    try:
        return dict(load_scenario(scenario).outcomes)
    except ScenarioError:
        return {}


def slug(text: str) -> str:
    """A file-name-safe version of a metric or parameter name.

    >>> slug("conversion_rate[pushy]")
    'conversion_rate_pushy'
    """
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def _panels(count: int, width: float = 4.6, height: float = 3.6):
    from sim.plots import figure_style

    plt = _pyplot()
    with figure_style():
        return _panel_grid(plt, count, width, height)


def _panel_grid(plt, count: int, width: float, height: float):
    cols = min(count, 3)
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:count])


def plot_sensitivity(spec: SweepSpec, indices: pd.DataFrame, folder: Path) -> Path | None:
    """Bars per parameter, a panel per metric: S1 and ST (Sobol), mu* and sigma (Morris), or
    PRCC with its 95% interval (lhs). Metrics whose indices are not reliable are left out."""
    if indices.empty:
        return None
    indices = indices[indices["reliable"]]
    if indices.empty:
        return None
    kind = spec.design.kind
    metrics = list(dict.fromkeys(indices["metric"]))
    fig, axes = _panels(len(metrics))
    for ax, metric in zip(axes, metrics, strict=True):
        part = indices[indices["metric"] == metric]
        y = np.arange(len(part))
        if kind == "lhs":
            rho = part["PRCC"].to_numpy(dtype=float)
            error = np.vstack([rho - part["ci_low"].to_numpy(dtype=float),
                               part["ci_high"].to_numpy(dtype=float) - rho])
            # NaN (a parameter the others explain fully) draws no bar; a PRCC of exactly +-1
            # sits a rounding error outside its own interval
            ax.barh(y, np.nan_to_num(rho), 0.6, xerr=np.clip(np.nan_to_num(error), 0, None),
                    capsize=3,
                    color=["tab:blue" if p < 0.05 else "tab:gray" for p in part["p_value"]])
            ax.axvline(0, color="black", lw=0.8)
            ax.set_xlim(-1.05, 1.05)
            ax.set_xlabel("PRCC, bar: 95% CI (blue: p < 0.05)")
        else:
            first, second = ("S1", "ST") if kind == "sobol" else ("mu_star", "sigma")
            ax.barh(y - 0.2, part[first], 0.4, xerr=part[f"{first}_conf"], label=first, capsize=3)
            ax.barh(y + 0.2, part[second], 0.4,
                    xerr=part[f"{second}_conf"] if kind == "sobol" else None,
                    label=second, capsize=3)
            ax.set_xlabel("Sobol index (share of variance), bar: 95% conf." if kind == "sobol"
                          else f"effect on {_metric_axis(metric, spec)} over the parameter's range")
        ax.set_yticks(y, list(part["parameter"]))
        ax.invert_yaxis()
        ax.set_title(metric)
        ax.grid(axis="x", alpha=0.3)
    if kind != "lhs":
        axes[0].legend()
    titles = {"sobol": "Sobol indices (95% conf.)", "morris": "Morris mu* (95% conf.) and sigma",
              "lhs": "Partial rank correlation with 95% intervals"}
    names = {"sobol": "sobol_indices.png", "morris": "morris_indices.png", "lhs": "prcc.png"}
    fig.suptitle(titles[kind])
    return _save(fig, folder / names[kind])


def plot_scatter(spec: SweepSpec, final: pd.DataFrame, n_points: int,
                 folder: Path) -> list[Path]:
    """For sampled designs (lhs): each metric's replication mean per point against each
    parameter, a figure per metric (the first :data:`MAX_SCATTER_METRICS` metrics and
    :data:`MAX_SCATTER_PARAMETERS` parameters)."""
    names = spec.design.parameter_names[:MAX_SCATTER_PARAMETERS]
    sample = sample_matrix(spec)
    means = final.groupby("point")[list(spec.sweep.metrics)].mean().reindex(range(n_points))
    paths = []
    for metric in spec.sweep.metrics[:MAX_SCATTER_METRICS]:
        y = means[metric].to_numpy(dtype=float)
        if np.all(np.isnan(y)):
            continue
        fig, axes = _panels(len(names), width=3.8, height=3.0)
        for ax, (i, name) in zip(axes, enumerate(names), strict=True):
            ax.scatter(sample[:, i], y, s=10, alpha=0.7)
            ax.set_xlabel(name)
            ax.set_ylabel(_metric_axis(metric, spec))
            ax.grid(alpha=0.3)
        fig.suptitle(f"{metric}: replication mean per design point")
        paths.append(_save(fig, folder / f"scatter_{slug(metric)}.png"))
    return paths


def varied_parameters(points: list[dict[str, Any]]) -> list[str]:
    """Parameters that take more than one value across the design points, in spec order."""
    if not points:
        return []
    return [name for name in points[0] if len({repr(p[name]) for p in points}) > 1]


def _is_numeric(points: list[dict[str, Any]], name: str) -> bool:
    return all(isinstance(p[name], int | float) and not isinstance(p[name], bool) for p in points)


def heatmap_axes(points: list[dict[str, Any]]) -> tuple[str, str] | None:
    """The two parameters of the heatmaps: the first two varied numeric ones, else the first
    varied numeric with the first other varied one, else the first two varied; None below two
    varied parameters or with too many levels."""
    varied = [n for n in varied_parameters(points)
              if len({repr(p[n]) for p in points}) <= MAX_HEATMAP_LEVELS]
    numeric = [n for n in varied if _is_numeric(points, n)]
    if len(numeric) >= 2:
        return numeric[0], numeric[1]
    if numeric and len(varied) >= 2:
        return numeric[0], next(n for n in varied if n != numeric[0])
    return (varied[0], varied[1]) if len(varied) >= 2 else None


def metric_groups(metrics: Sequence[str]) -> dict[str, list[str]]:
    """Metrics grouped by base name, so per-strategy variants share a figure.

    >>> metric_groups(["revenue[pushy]", "revenue[active]", "complaint_rate"])
    {'revenue': ['revenue[pushy]', 'revenue[active]'], 'complaint_rate': ['complaint_rate']}
    """
    groups: dict[str, list[str]] = {}
    for metric in metrics:
        match = METRIC_NAME.match(metric)
        base = match["metric"] if match else metric
        groups.setdefault(base, []).append(metric)
    return groups


def plot_heatmaps(spec: SweepSpec, final: pd.DataFrame, axes_names: tuple[str, str],
                  folder: Path) -> list[Path]:
    """A heatmap of each metric's mean over two parameters (other parameters averaged), one
    figure per base metric with a panel per strategy variant on a shared colour scale."""
    x_name, y_name = axes_names
    paths = []
    for base, metrics in metric_groups(spec.sweep.metrics).items():
        tables = {m: final.groupby([y_name, x_name])[m].mean().unstack(x_name) for m in metrics}
        values = np.concatenate([t.to_numpy(dtype=float).ravel() for t in tables.values()])
        if np.all(np.isnan(values)):
            continue
        low, high = np.nanmin(values), np.nanmax(values)
        fig, axes = _panels(len(metrics), width=5.2, height=4.0)
        for ax, (metric, table) in zip(axes, tables.items(), strict=True):
            image = ax.imshow(table.to_numpy(dtype=float), aspect="auto", origin="lower",
                              vmin=low, vmax=high, cmap="viridis")
            ax.set_xticks(range(table.shape[1]), [_label(v) for v in table.columns],
                          rotation=30, ha="right")
            ax.set_yticks(range(table.shape[0]), [_label(v) for v in table.index])
            ax.grid(False)
            ax.set_xlabel(x_name)
            ax.set_ylabel(y_name)
            ax.set_title(f"{metric}: mean over replications")
            if table.size <= 150:
                _annotate(ax, table.to_numpy(dtype=float), low, high)
            fig.colorbar(image, ax=ax, shrink=0.85).set_label(_metric_axis(metric, spec))
        paths.append(_save(fig, folder / f"heatmap_{slug(base)}.png"))
    return paths


def _annotate(ax, grid: np.ndarray, low: float, high: float) -> None:
    middle = (low + high) / 2
    for (i, j), value in np.ndenumerate(grid):
        if not np.isnan(value):
            ax.text(j, i, fmt(value), ha="center", va="center", fontsize=7,
                    color="black" if value > middle else "white")


def _label(value: Any) -> str:
    return fmt(value) if isinstance(value, float) else str(value)


def plot_effects(spec: SweepSpec, final: pd.DataFrame, points: list[dict[str, Any]],
                 folder: Path) -> list[Path]:
    """Each metric's mean and 95% interval against the first varied numeric parameter, a line
    per level of the next varied parameter (others pooled); a panel per strategy variant."""
    varied = varied_parameters(points)
    numeric = [n for n in varied if _is_numeric(points, n)]
    if not numeric:
        return []
    x_name = numeric[0]
    hue = next((n for n in varied if n != x_name
                and len({repr(p[n]) for p in points}) <= MAX_LINES), None)
    paths = []
    for base, metrics in metric_groups(spec.sweep.metrics).items():
        fig, axes = _panels(len(metrics))
        for ax, metric in zip(axes, metrics, strict=True):
            groups = final.groupby(hue) if hue else [(None, final)]
            for level, part in groups:
                stats = [(x, *mean_ci(g[metric])) for x, g in part.groupby(x_name)]
                if not stats:
                    continue
                xs, mean, lo, hi = (np.array(col, dtype=float) for col in zip(*stats, strict=True))
                (line,) = ax.plot(xs, mean, marker="o", lw=1.6,
                                  label=None if hue is None else str(level))
                ax.fill_between(xs, lo, hi, alpha=0.15, color=line.get_color())
            ax.set_xlabel(x_name)
            ax.set_ylabel(_metric_axis(metric, spec))
            ax.set_title(metric)
            ax.grid(alpha=0.3)
        fig.suptitle("line: mean over replications and pooled points; band: 95% CI of the mean (t)")
        if hue is not None:
            axes[0].legend(title=hue, fontsize=8)
        paths.append(_save(fig, folder / f"effect_{slug(base)}.png"))
    return paths


# --- the report ---------------------------------------------------------------------------------


def fmt(value: Any) -> str:
    """A number for a table: NaN as '-', large values without decimals, else 3 significant.

    >>> fmt(0.123456), fmt(12345.6), fmt(float("nan")), fmt(7)
    ('0.123', '12,346', '-', '7')
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table (numbers right-aligned, formatted with :func:`fmt`)."""
    def cell(value: Any) -> str:
        return fmt(value).replace("|", "\\|")

    numeric = [all(isinstance(r[i], int | float | np.number) and not isinstance(r[i], bool)
                   for r in rows) for i in range(len(header))]
    lines = ["| " + " | ".join(str(h).replace("|", "\\|") for h in header) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _interval(row: pd.Series, metric: str) -> str:
    mean, low, high = (row[f"{metric}_{s}"] for s in ("mean", "ci_low", "ci_high"))
    if math.isnan(low):
        return fmt(mean)
    return f"{fmt(mean)} [{fmt(low)}, {fmt(high)}]"


def _overview(spec: SweepSpec, manifest: dict[str, Any], summary: pd.DataFrame,
              final: pd.DataFrame, failed: pd.DataFrame, out: Path) -> list[str]:
    s, d = spec.sweep, spec.design
    sessions = manifest.get("sessions", [])
    seconds = sum(x.get("seconds", 0.0) for x in sessions)
    design = f"`{d.kind}`, {len(summary)} points"
    if d.kind in ("lhs", "sobol", "morris"):
        design += f" (samples = {d.samples}{f', levels = {d.levels}' if d.kind == 'morris' else ''})"
    lines = [
        f"# Sweep report: {Path(spec.source).stem}", "",
        f"- Spec: `{spec.source}` (fingerprint `{manifest.get('fingerprint', '?')}`)",
        f"- Scenario: `{s.scenario}`" + (f", arm `{s.arm}`" if s.arm else "")
        + f"; steps: {s.steps or 'the scenario default'}; replications: {s.replications}; "
          f"seed: {s.seed}",
        f"- Fixed: {', '.join(f'`{k}` = {v!r}' for k, v in s.fixed.items()) or 'nothing'}",
        f"- Design: {design}, varying {', '.join(f'`{p}`' for p in d.parameter_names)}",
        f"- Runs: {len(final)} finished and {len(failed)} failed of "
        f"{manifest.get('runs_total', '?')} (status: {manifest.get('status', '?')}); "
        f"{seconds:.1f} s of sweeping over {len(sessions)} session(s)",
        f"- Made with {_made_with(manifest)}",
        f"- Analysed {now()} with recip {package_version()}; values are at each run's final "
        f"step; intervals are 95% t-intervals over replications.", ""]
    if manifest.get("runs_total") and len(final) + len(failed) < manifest["runs_total"]:
        lines += ["> The sweep is not finished: these figures cover the runs done so far. "
                  f"Continue it with `recip sweep {spec.source} --out {out} --resume`.", ""]
    return lines


def _made_with(manifest: dict[str, Any]) -> str:
    """recip's version, git commit and state, and the libraries, from the manifest."""
    record = manifest.get("provenance")
    if not isinstance(record, dict):  # a format-1 manifest
        env = manifest.get("environment", {})
        return f"recip {env.get('recip', '?')}, mesa {env.get('mesa', '?')}, numpy {env.get('numpy', '?')}"
    git = record.get("git") or {}
    commit = (f" (commit `{git['commit'][:10]}`{', uncommitted changes' if git.get('dirty') else ''})"
              if git.get("commit") else "")
    packages = record.get("packages", {})
    versions = sessions_versions(manifest)
    mixed = (f"; sessions ran recip {', '.join(sorted(versions))}" if len(versions) > 1 else "")
    return (f"recip {record.get('recip_version', '?')}{commit}, mesa {packages.get('mesa', '?')}, "
            f"numpy {packages.get('numpy', '?')}, Python {record.get('python', '?')}{mixed}; "
            f"every session's provenance (command, inputs' SHA-256) is in `manifest.json`")


def sessions_versions(manifest: dict[str, Any]) -> set[str]:
    return {s["provenance"].get("recip_version", "?") for s in manifest.get("sessions", [])
            if isinstance(s.get("provenance"), dict)}


def _point_table(spec: SweepSpec, summary: pd.DataFrame) -> list[str]:
    params = spec.design.parameter_names
    metrics = spec.sweep.metrics
    if len(summary) > MAX_TABLE_ROWS:
        rows = [[m, *(summary[f"{m}_mean"].agg(f) for f in ("min", "median", "max"))]
                for m in metrics]
        return ["## Metrics across design points", "",
                f"{len(summary)} points: per-point means and intervals are in `summary.csv`; "
                "here the spread of the point means.", "",
                markdown_table(["metric", "min", "median", "max"], rows), ""]
    header = ["point", *params, "runs", *metrics]
    rows = [[int(r["point"]), *(r[p] for p in params), int(r["runs"]),
             *(_interval(r, m) for m in metrics)] for _, r in summary.iterrows()]
    return ["## Metrics by design point", "", "Mean [95% interval] at the final step.", "",
            markdown_table(header, rows), ""]


def _sensitivity_section(spec: SweepSpec, result: Sensitivity) -> list[str]:
    kind = spec.design.kind
    explain = {
        "sobol": "First-order (S1) and total (ST) indices with 95% confidence half-widths, from "
                 "the replication means at each point (SALib). ST much above S1 means "
                 "interactions.",
        "morris": "mu* (mean absolute elementary effect, with its 95% confidence half-width) "
                  "ranks influence; sigma large against mu* means non-linear effects or "
                  "interactions (SALib).",
        "lhs": "Partial rank correlation of each parameter with the metric's replication mean "
               "per point, the other parameters' ranks regressed out (Marino et al. 2008): the "
               "sign is the direction of a monotone effect, the size its strength; p-value and "
               "95% interval (Fisher z) beside it."}
    columns = {"sobol": ["S1", "S1_conf", "ST", "ST_conf"],
               "morris": ["mu_star", "mu_star_conf", "sigma", "mu"],
               "lhs": ["PRCC", "p_value", "ci_low", "ci_high"]}[kind]
    order_by = {"sobol": "ST", "morris": "mu_star", "lhs": "PRCC"}[kind]
    lines = [f"## Sensitivity: {METHODS[kind]}", "", explain[kind], ""]
    indices = result.indices
    for metric, part in (indices.groupby("metric", sort=False) if not indices.empty else []):
        if not result.reliable.get(metric, True):
            continue  # its warning below says why
        key = part[order_by].abs() if kind == "lhs" else part[order_by]
        order = part.loc[key.sort_values(ascending=False).index]
        lines += [f"### {metric}", "",
                  markdown_table(["parameter", *columns],
                                 [[r["parameter"], *(r[c] for c in columns)]
                                  for _, r in order.iterrows()]), ""]
    lines += [f"- {note}" for note in result.notes]
    lines += [f"- **Warning**: {warning}" for warning in result.warnings
              if not any(warning.startswith(f"{m}: no sensitivity") for m in spec.sweep.metrics)]
    return [*lines, ""] if result.notes or result.warnings else lines


def _failures_section(failed: pd.DataFrame) -> list[str]:
    if failed.empty:
        return []
    counts = failed["error"].str.slice(0, 200).value_counts().head(5)
    rows = [[message, int(count)] for message, count in counts.items()]
    return ["## Failed runs", "", f"{len(failed)} runs raised (all listed in `errors.csv`). "
            "Most frequent errors:", "", markdown_table(["error", "runs"], rows), ""]


# --- entry point --------------------------------------------------------------------------------


@dataclass
class Analysis:
    """What ``analyze_sweep`` wrote, and what the user should be told."""

    folder: Path
    files: list[Path]
    warnings: list[str] = field(default_factory=list)


def analyze_sweep(out: str | Path) -> Analysis:
    """Analyse the sweep in ``out`` into ``out/analysis`` (replaced as a whole, at the end)."""
    store, spec, manifest = load_sweep(out)
    final, failed = final_rows(store, spec)
    if final.empty and failed.empty:
        raise SweepSpecError(f"{out}: no finished runs yet; run `recip sweep` first")
    target = store.out / ANALYSIS
    with staged_folder(target) as folder:
        files, warnings = _write_analysis(folder, spec, manifest, final, failed, store.out)
    return Analysis(target, [target / f.relative_to(folder) for f in files], warnings)


def _write_analysis(folder: Path, spec: SweepSpec, manifest: dict[str, Any], final: pd.DataFrame,
                    failed: pd.DataFrame, out: Path) -> tuple[list[Path], list[str]]:
    points = design_points(spec)
    summary = summarise(spec, final, failed, points)
    files = [folder / "summary.csv"]
    summary.to_csv(files[0], index=False)
    figures_dir = folder / FIGURES
    figures_dir.mkdir()
    figures: list[Path | None] = []
    warnings: list[str] = []
    sections = _point_table(spec, summary)
    if spec.design.kind in ("sobol", "morris", "lhs"):
        result = analyse(spec, final, len(points))
        warnings += result.warnings
        if not result.indices.empty:
            files.append(folder / "sensitivity.csv")
            result.indices.to_csv(files[-1], index=False)
            figures.append(plot_sensitivity(spec, result.indices, figures_dir))
        if spec.design.kind == "lhs" and not final.empty:
            figures += plot_scatter(spec, final, len(points), figures_dir)
        sections += _sensitivity_section(spec, result)
    elif not final.empty:
        axes_names = heatmap_axes(points)
        if axes_names is not None:
            figures += plot_heatmaps(spec, final, axes_names, figures_dir)
        if spec.design.kind == "grid":
            figures += plot_effects(spec, final, points, figures_dir)
    drawn = [f for f in figures if f is not None]
    if drawn:
        sections += ["## Figures", ""]
        sections += [f"![{f.stem}]({FIGURES}/{f.name})" for f in drawn] + [""]
    sections += _failures_section(failed)
    if not failed.empty:
        warnings.append(f"{len(failed)} runs raised; they are left out (see errors.csv)")
    report = folder / "REPORT.md"
    text = "\n".join([*_overview(spec, manifest, summary, final, failed, out), *sections])
    report.write_text(text.rstrip() + "\n")
    vectors = [f.with_suffix(".svg") for f in drawn]
    return [*files, report, *drawn, *vectors], warnings


@contextlib.contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """A new folder beside ``target`` to write into; on success it replaces ``target`` (two
    renames: the old one out of the way, the new one in), on failure it is removed. Staging
    folders left by a killed process are removed first."""
    _remove_stale(target)
    stage = target.with_name(f".{target.name}-{os.getpid()}-{secrets.token_hex(3)}.tmp")
    stage.mkdir()
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    old = target.with_name(f".{target.name}-{os.getpid()}-{secrets.token_hex(3)}.old")
    try:
        if target.exists():
            os.replace(target, old)
        os.replace(stage, target)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        if old.exists() and not target.exists():
            os.replace(old, target)  # put the previous analysis back
        raise
    shutil.rmtree(old, ignore_errors=True)


def _remove_stale(target: Path) -> None:
    """Remove ``.<name>-<pid>-*.tmp|.old`` folders whose process is gone."""
    import psutil

    for path in target.parent.glob(f".{target.name}-*-*.*"):
        pid = path.name.split("-")[1]
        if pid.isdigit() and not psutil.pid_exists(int(pid)) and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
