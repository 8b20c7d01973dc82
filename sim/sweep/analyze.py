"""``recip analyze``: a sweep's results by design point, sensitivity indices and figures.

Reads the chunks one at a time and keeps only each run's final step, so memory grows with the
number of runs, not with ``every``. Writes into the sweep's folder:

- ``summary.csv``: per design point its parameters, runs, failed runs, and per metric the mean
  and a 95% t-interval over replications (``<metric>_mean``, ``_ci_low``, ``_ci_high``);
- ``sensitivity.csv`` (Sobol: S1, S1_conf, ST, ST_conf; Morris: mu, mu_star, mu_star_conf,
  sigma), one row per metric and parameter, from SALib on the replication means per point;
- ``figures/*.png`` (index bars; heatmaps and effect plots for grids and lists);
- ``REPORT.md`` tying it together.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.sweep.design import design_points, salib_problem, sample_matrix
from sim.sweep.spec import METRIC_NAME, SweepSpec, SweepSpecError, parse_spec
from sim.sweep.store import ID_COLUMNS, SweepStore, now, write_atomic

FIGURES = "figures"
MAX_TABLE_ROWS = 60
MAX_HEATMAP_LEVELS = 40
MAX_LINES = 8


# --- reading ------------------------------------------------------------------------------------


def load_sweep(out: str | Path) -> tuple[SweepStore, SweepSpec, dict[str, Any]]:
    """The store, spec and manifest of a sweep folder."""
    store = SweepStore(out)
    manifest = store.read_manifest()
    if manifest is None:
        raise SweepSpecError(f"{out}: no manifest.json; give the --out folder of `recip sweep`")
    spec = parse_spec(manifest["spec"], origin=manifest.get("spec_file", str(out)))
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
    """One row per design point: parameters, runs, failed, and mean / 95% interval per metric."""
    by_point = dict(tuple(final.groupby("point"))) if not final.empty else {}
    failures = failed.groupby("point").size().to_dict() if not failed.empty else {}
    rows = []
    for point, params in enumerate(points):
        group = by_point.get(point)
        row: dict[str, Any] = {"point": point, **params,
                               "runs": 0 if group is None else len(group),
                               "failed": int(failures.get(point, 0))}
        for metric in spec.sweep.metrics:
            values = [] if group is None else group[metric].to_numpy(dtype=float)
            row[f"{metric}_mean"], row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = \
                mean_ci(values)
        rows.append(row)
    return pd.DataFrame(rows)


def point_means(spec: SweepSpec, final: pd.DataFrame, n_points: int) -> pd.DataFrame:
    """Replication means of each metric per design point (NaN where no run finished), indexed
    0..n_points-1 as the design's sample."""
    means = final.groupby("point")[list(spec.sweep.metrics)].mean()
    return means.reindex(range(n_points))


# --- sensitivity --------------------------------------------------------------------------------


def sensitivity(spec: SweepSpec, final: pd.DataFrame, n_points: int
                ) -> tuple[pd.DataFrame, list[str]]:
    """Sobol or Morris indices per metric and parameter with SALib, and notes on any metric
    that could not be analysed (missing points, no variance)."""
    problem = salib_problem(spec)
    means = point_means(spec, final, n_points)
    rows, notes = [], []
    for metric in spec.sweep.metrics:
        y = means[metric].to_numpy(dtype=float)
        missing = int(np.isnan(y).sum())
        if missing:
            notes.append(f"`{metric}`: not analysed, {missing} of {n_points} design points have "
                         f"no value (runs failed, not finished, or the metric is undefined)")
            continue
        if np.ptp(y) == 0:
            notes.append(f"`{metric}`: not analysed, the same value at every design point")
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if spec.design.kind == "sobol":
                rows += _sobol_rows(spec, problem, metric, y)
            else:
                rows += _morris_rows(spec, problem, metric, y)
    return pd.DataFrame(rows), notes


def _sobol_rows(spec: SweepSpec, problem: dict, metric: str, y: np.ndarray) -> list[dict]:
    from SALib.analyze import sobol

    result = sobol.analyze(problem, y, calc_second_order=spec.design.second_order,
                           conf_level=0.95, seed=spec.sweep.seed)
    return [{"metric": metric, "parameter": name, "S1": result["S1"][i],
             "S1_conf": result["S1_conf"][i], "ST": result["ST"][i],
             "ST_conf": result["ST_conf"][i]}
            for i, name in enumerate(problem["names"])]


def _morris_rows(spec: SweepSpec, problem: dict, metric: str, y: np.ndarray) -> list[dict]:
    from SALib.analyze import morris

    result = morris.analyze(problem, sample_matrix(spec), y, conf_level=0.95,
                            num_levels=spec.design.levels, seed=spec.sweep.seed)
    return [{"metric": metric, "parameter": name, "mu": result["mu"][i],
             "mu_star": result["mu_star"][i], "mu_star_conf": result["mu_star_conf"][i],
             "sigma": result["sigma"][i]}
            for i, name in enumerate(problem["names"])]


# --- figures ------------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    plt = _pyplot()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.tight_layout()
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def slug(text: str) -> str:
    """A file-name-safe version of a metric or parameter name.

    >>> slug("conversion_rate[pushy]")
    'conversion_rate_pushy'
    """
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def _panels(count: int, width: float = 4.6, height: float = 3.6):
    plt = _pyplot()
    cols = min(count, 3)
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:count])


def plot_sensitivity(spec: SweepSpec, indices: pd.DataFrame, folder: Path) -> Path | None:
    """Bars of S1 and ST (Sobol) or mu* and sigma (Morris) per parameter, a panel per metric."""
    if indices.empty:
        return None
    sobol = spec.design.kind == "sobol"
    first, second = ("S1", "ST") if sobol else ("mu_star", "sigma")
    metrics = list(dict.fromkeys(indices["metric"]))
    fig, axes = _panels(len(metrics))
    for ax, metric in zip(axes, metrics, strict=True):
        part = indices[indices["metric"] == metric]
        y = np.arange(len(part))
        ax.barh(y - 0.2, part[first], 0.4, xerr=part[f"{first}_conf"], label=first, capsize=3)
        ax.barh(y + 0.2, part[second], 0.4, xerr=part[f"{second}_conf"] if sobol else None,
                label=second, capsize=3)
        ax.set_yticks(y, [_short(p) for p in part["parameter"]])
        ax.invert_yaxis()
        ax.set_title(metric)
        ax.grid(axis="x", alpha=0.3)
    axes[0].legend()
    fig.suptitle("Sobol indices (95% conf.)" if sobol else "Morris mu* (95% conf.) and sigma")
    return _save(fig, folder / ("sobol_indices.png" if sobol else "morris_indices.png"))


def _short(parameter: str) -> str:
    parts = parameter.split(".")
    return ".".join(parts[-2:]) if len(parts) > 2 else parameter


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
            ax.set_xlabel(_short(x_name))
            ax.set_ylabel(_short(y_name))
            ax.set_title(metric)
            if table.size <= 150:
                _annotate(ax, table.to_numpy(dtype=float), low, high)
            fig.colorbar(image, ax=ax, shrink=0.85)
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
            ax.set_xlabel(_short(x_name))
            ax.set_title(metric)
            ax.grid(alpha=0.3)
        if hue is not None:
            axes[0].legend(title=_short(hue), fontsize=8)
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
    version = manifest.get("environment", {}).get("recip", "?")
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
        f"{seconds:.1f} s of sweeping over {len(sessions)} session(s); recip {version}",
        f"- Analysed {now()}; values are at each run's final step; intervals are 95% "
        f"t-intervals over replications.", ""]
    if manifest.get("runs_total") and len(final) + len(failed) < manifest["runs_total"]:
        lines += ["> The sweep is not finished: these figures cover the runs done so far. "
                  f"Continue it with `recip sweep {spec.source} --out {out} --resume`.", ""]
    return lines


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


def _sensitivity_section(spec: SweepSpec, indices: pd.DataFrame, notes: list[str]) -> list[str]:
    sobol = spec.design.kind == "sobol"
    lines = ["## Sensitivity: " + ("Sobol indices" if sobol else "Morris elementary effects"), "",
             ("First-order (S1) and total (ST) indices with 95% confidence half-widths, from the "
              "replication means at each point (SALib). ST much above S1 means interactions."
              if sobol else
              "mu* (mean absolute elementary effect, with its 95% confidence half-width) ranks "
              "influence; sigma large against mu* means non-linear effects or interactions "
              "(SALib)."), ""]
    for metric, part in (indices.groupby("metric", sort=False) if not indices.empty else []):
        order = part.sort_values("ST" if sobol else "mu_star", ascending=False)
        columns = (["S1", "S1_conf", "ST", "ST_conf"] if sobol
                   else ["mu_star", "mu_star_conf", "sigma", "mu"])
        lines += [f"### {metric}", "",
                  markdown_table(["parameter", *columns],
                                 [[r["parameter"], *(r[c] for c in columns)]
                                  for _, r in order.iterrows()]), ""]
    lines += [f"- {note}" for note in notes]
    return [*lines, ""] if notes else lines


def _failures_section(failed: pd.DataFrame) -> list[str]:
    if failed.empty:
        return []
    counts = failed["error"].str.slice(0, 200).value_counts().head(5)
    rows = [[message, int(count)] for message, count in counts.items()]
    return ["## Failed runs", "", f"{len(failed)} runs raised (all listed in `errors.csv`). "
            "Most frequent errors:", "", markdown_table(["error", "runs"], rows), ""]


# --- entry point --------------------------------------------------------------------------------


def analyze_sweep(out: str | Path) -> list[Path]:
    """Analyse the sweep in ``out``; return the files written (summary.csv, REPORT.md, ...)."""
    store, spec, manifest = load_sweep(out)
    final, failed = final_rows(store, spec)
    if final.empty and failed.empty:
        raise SweepSpecError(f"{out}: no finished runs yet; run `recip sweep` first")
    points = design_points(spec)
    summary = summarise(spec, final, failed, points)
    written = [store.out / "summary.csv"]
    write_atomic(written[0], lambda tmp: summary.to_csv(tmp, index=False))
    folder = store.out / FIGURES
    folder.mkdir(exist_ok=True)
    figures: list[Path] = []
    sections = _point_table(spec, summary)
    if spec.design.kind in ("sobol", "morris"):
        indices, notes = sensitivity(spec, final, len(points))
        if not indices.empty:
            written.append(store.out / "sensitivity.csv")
            write_atomic(written[-1], lambda tmp: indices.to_csv(tmp, index=False))
            figures.append(plot_sensitivity(spec, indices, folder))
        sections += _sensitivity_section(spec, indices, notes)
    elif spec.design.kind in ("grid", "list") and not final.empty:
        axes_names = heatmap_axes(points)
        if axes_names is not None:
            figures += plot_heatmaps(spec, final, axes_names, folder)
        if spec.design.kind == "grid":
            figures += plot_effects(spec, final, points, folder)
    figures = [f for f in figures if f is not None]
    if figures:
        sections += ["## Figures", ""]
        sections += [f"![{f.stem}]({FIGURES}/{f.name})" for f in figures] + [""]
    sections += _failures_section(failed)
    report = store.out / "REPORT.md"
    text = "\n".join([*_overview(spec, manifest, summary, final, failed, store.out), *sections])
    write_atomic(report, lambda tmp: tmp.write_text(text.rstrip() + "\n"))
    return [*written, report, *figures]
