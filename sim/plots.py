"""Figures: key metrics over time, one line per strategy."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

KEY_METRICS = ("conversion_rate", "complaint_rate", "retention_90d", "referrals",
               "mean_perceived_sincerity", "backfire_rate")


def plot_metrics(frame: pd.DataFrame, path: Path, *, title: str = "",
                 metrics: tuple[str, ...] = KEY_METRICS) -> Path:
    """Small multiples of ``metrics`` over ``step``, one line per ``strategy``; saved atomically."""
    fig, axes = plt.subplots(2, 3, figsize=(13, 7), sharex=True)
    for ax, metric in zip(axes.flat, metrics, strict=False):
        for strategy, group in frame.groupby("strategy", sort=False):
            ax.plot(group["step"], group[metric], label=strategy, lw=1.8)
        ax.set_title(metric.replace("_", " "))
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("day")
    axes.flat[0].legend(title="strategy")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path
