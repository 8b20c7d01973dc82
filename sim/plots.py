"""Figures, in one style: every figure recip writes (``recip run``, ``compare``, ``validate``,
``analyze``) is drawn inside :func:`figure_style` and saved by :func:`save_figure`.

The style, for figures a paper can use:

- every axis labelled, with its unit (:func:`metric_label` takes the unit from the metrics
  registry: ``conversion rate (share)``, ``net revenue (dollars)``);
- parameters by their full dotted names (``strategies.active.gift.value``), never cut;
- intervals drawn and named in the legend or the caption (:func:`interval_label`);
- thresholds drawn as dashed lines and named;
- PNG at :data:`DPI` dots per inch plus SVG (vector, text kept as text), written atomically
  (a reader never sees a partial file);
- one colour per strategy or side, colour-blind safe (Okabe & Ito 2008), with line styles too.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from sim.metrics import METRIC_NAME, METRICS

DPI = 200
"""Resolution of the PNG figures."""
VECTOR_FORMAT = "svg"
"""The vector copy saved beside every PNG."""

COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#F0E442")
"""Okabe & Ito's colour-blind-safe palette, most distinct first."""
LINESTYLES = ("-", "--", "-.", ":")

STYLE: dict[str, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": DPI,
    "savefig.bbox": "tight",
    "savefig.facecolor": "white",
    "font.size": 9,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.6,
    "axes.prop_cycle": matplotlib.cycler(color=COLOURS),
    "svg.fonttype": "none",
}

KEY_METRICS = ("conversion_rate", "complaint_rate", "retention_90d", "referrals",
               "mean_perceived_sincerity", "backfire_rate", "revenue", "net_revenue",
               "cost_per_conversion")
"""The panels of ``recip run``'s figure."""

DAY = "time since the start (days)"


@contextlib.contextmanager
def figure_style() -> Iterator[None]:
    """Draw inside this block to get the shared style."""
    with plt.rc_context(STYLE):
        yield


def save_figure(fig, path: Path) -> Path:
    """Save ``fig`` as ``path`` (PNG, :data:`DPI`) and beside it as SVG, each atomically; close
    it; return the PNG's path."""
    path = Path(path)
    try:
        with figure_style():
            for target in (path, path.with_suffix(f".{VECTOR_FORMAT}")):
                tmp = target.with_name(f".{target.stem}.tmp{target.suffix}")
                try:
                    fig.savefig(tmp, dpi=DPI)
                    os.replace(tmp, target)
                finally:
                    tmp.unlink(missing_ok=True)
    finally:
        plt.close(fig)
    return path


def figure_paths(path: Path) -> list[Path]:
    """The files :func:`save_figure` writes for ``path``."""
    return [Path(path), Path(path).with_suffix(f".{VECTOR_FORMAT}")]


def metric_label(name: str, outcomes: Mapping[str, str] | None = None) -> str:
    """An axis label for a metric, with its unit from the registry: ``name`` is a metric, a
    scenario's outcome (``outcomes``: name to kind) or ``name[strategy]``.

    >>> metric_label("net_revenue[active]")
    'net revenue, active (dollars)'
    >>> metric_label("tip_percent", {"tip_percent": "mean_amount"})
    'tip percent (amount per ask: tip %, tickets or dollars)'
    """
    match = METRIC_NAME.match(name)
    base, strategy = (match["metric"], match["strategy"]) if match else (name, None)
    kind = (outcomes or {}).get(base, base)
    unit = METRICS[kind].unit if kind in METRICS else ""
    text = base.replace("_", " ") + (f", {strategy}" if strategy else "")
    unit = "count" if unit == base else unit
    return f"{text} ({unit})" if unit else text


def interval_label(replications: int, level: float = 0.95) -> str:
    """How an interval band or bar is named.

    >>> interval_label(30)
    '95% CI of the mean (t, 30 replications)'
    """
    return f"{level:.0%} CI of the mean (t, {replications} replications)"


def style_of(i: int) -> dict[str, Any]:
    """Colour and line style of the ``i``-th strategy or side."""
    return {"color": COLOURS[i % len(COLOURS)], "linestyle": LINESTYLES[i % len(LINESTYLES)]}


def panels(count: int, *, columns: int = 3, width: float = 3.6, height: float = 2.8):
    """A figure with ``count`` panels in rows of ``columns`` (spare panels hidden)."""
    columns = max(1, min(count, columns))
    rows = -(-count // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows),
                             squeeze=False)
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:count])


def plot_metrics(frame: pd.DataFrame, path: Path, *, title: str = "",
                 metrics: Sequence[str] = KEY_METRICS,
                 outcomes: Mapping[str, str] | None = None,
                 replications: int | None = None, step_days: float = 1.0) -> Path:
    """Small multiples of ``metrics`` over time (``step`` x ``step_days``, the length of a step
    in days), one line per ``strategy``; saved as PNG and SVG (:func:`save_figure`).

    With ``replications``, ``frame`` holds the mean over replications, and columns
    ``<metric>_ci_low`` and ``<metric>_ci_high`` its 95% interval, drawn as a band.
    """
    metrics = [m for m in metrics if m in frame.columns]
    with figure_style():
        fig, axes = panels(len(metrics))
        for ax, metric in zip(axes, metrics, strict=True):
            for i, (strategy, group) in enumerate(frame.groupby("strategy", sort=False)):
                look = style_of(i)
                days = group["step"] * step_days
                ax.plot(days, group[metric], label=strategy, **look)
                if replications and f"{metric}_ci_low" in group:
                    ax.fill_between(days, group[f"{metric}_ci_low"],
                                    group[f"{metric}_ci_high"], color=look["color"], alpha=0.18,
                                    lw=0, label=None)
            ax.set_title(metric.replace("_", " "))
            ax.set_ylabel(metric_label(metric, outcomes))
            ax.set_xlabel(DAY)
        handles, labels = axes[0].get_legend_handles_labels()
        if replications:
            handles.append(Patch(color="0.6", alpha=0.35))
            labels.append(f"band: {interval_label(replications)}")
        fig.legend(handles, labels, title="strategy (line: mean)" if replications
                   else "strategy", loc="lower center", ncol=min(len(labels), 4),
                   bbox_to_anchor=(0.5, -0.02))
        if title:
            fig.suptitle(title)
        fig.tight_layout(rect=(0, 0.06, 1, 1))
    return save_figure(fig, path)


def plot_differences(table: pd.DataFrame, path: Path, *, title: str, replications: int,
                     outcomes: Mapping[str, str] | None = None) -> Path:
    """One panel per metric: the paired difference (A - B) as a point with its 95% interval,
    zero drawn as a dashed line; the x axis in the metric's unit. ``table`` has columns
    ``metric``, ``difference``, ``ci_low``, ``ci_high`` and ``p_value``."""
    rows = table.dropna(subset=["difference"])
    with figure_style():
        fig, axes = panels(len(rows), columns=4, width=3.0, height=1.35)
        for ax, (_, row) in zip(axes, rows.iterrows(), strict=True):
            low, high = row["ci_low"], row["ci_high"]
            colour = COLOURS[1] if row["p_value"] < 0.05 else COLOURS[0]
            ax.errorbar([row["difference"]], [0], xerr=[[row["difference"] - low],
                                                       [high - row["difference"]]],
                        fmt="o", color=colour, capsize=4, ms=4)
            ax.axvline(0, color="0.3", lw=0.8, ls="--")
            span = max(abs(low), abs(high), abs(row["difference"])) if np.isfinite(low) else 0.0
            span = span if span > 0 else 1.0
            ax.set_xlim(-1.15 * span, 1.15 * span)
            ax.xaxis.set_major_locator(MaxNLocator(5))
            ax.set_yticks([])
            ax.grid(axis="y", visible=False)
            ax.set_title(row["metric"].replace("_", " "), fontsize=8.5)
            ax.set_xlabel(f"difference ({_unit(row['metric'], outcomes)})", fontsize=7.5)
        fig.suptitle(f"{title}\npoint: mean paired difference; bar: {interval_label(replications)}"
                     f"; orange: paired t-test p < 0.05; dashed: no difference")
        fig.tight_layout()
    return save_figure(fig, path)


def _unit(metric: str, outcomes: Mapping[str, str] | None) -> str:
    kind = (outcomes or {}).get(metric, metric)
    return METRICS[kind].unit if kind in METRICS else "metric units"


def draw_threshold(ax, value: float, *, label: str, axis: str = "y") -> None:
    """A threshold as a dashed line, named in the legend."""
    line = ax.axhline if axis == "y" else ax.axvline
    line(value, color="0.15", ls="--", lw=1.1, label=label)

