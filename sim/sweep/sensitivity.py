"""Sensitivity analysis of a sweep's continuous designs, with checks that say when it is not
worth reading.

- Sobol (Saltelli sample): first-order and total indices, S1 and ST (SALib);
- Morris: mu* (its confidence) and sigma (SALib);
- Latin hypercube: partial rank correlation coefficients, PRCC (Marino et al. 2008), with a
  p-value and a 95% interval (Fisher z), computed here (SALib has no PRCC).

All work on the replication means per design point. Before any index is computed each metric is
checked (:func:`degeneracy`): a metric that is constant or near-constant over the design is not
analysed (its indices would be ratios of rounding noise: S1 = -14.2, ST = 282 were seen), and a
warning says so; one that takes a single value at almost every point, or whose point means are
mostly replication noise, is analysed with a warning. Sobol indices outside [0, 1] by more than
sampling error are not shown as results: the warning says the sample is too small.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.sweep.design import salib_problem, sample_matrix
from sim.sweep.spec import SweepSpec

NEAR_CONSTANT = 1e-9
"""Relative spread (range / largest magnitude) below which a metric counts as constant: only
floating-point noise is left."""
MODE_SHARE = 0.95
"""A metric equal to one value at this share of points or more is nearly constant."""
NOISE_SHARE = 0.5
"""Replication noise above this share of the variance of the point means swamps the signal."""
SOBOL_SLACK = 0.15
"""How far outside [0, 1] a Sobol index may fall by sampling error before the metric's indices
are called unreliable. Not widened by the index's confidence half-width: a half-width as wide
as the whole range (ST = 2.1 +- 2.4 was seen) says the estimate means nothing."""

METHODS = {"sobol": "Sobol indices", "morris": "Morris elementary effects",
           "lhs": "partial rank correlation (PRCC)"}


@dataclass
class Sensitivity:
    """Indices (one row per metric and parameter), notes for the report, warnings for the
    user (also in the report)."""

    indices: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    reliable: dict[str, bool] = field(default_factory=dict)
    """Per metric analysed: False when its indices should not be read as results."""


def analyse(spec: SweepSpec, final: pd.DataFrame, n_points: int) -> Sensitivity:
    """The design's sensitivity analysis (see the module docstring) over the final rows."""
    metrics = list(spec.sweep.metrics)
    means = final.groupby("point")[metrics].mean().reindex(range(n_points))
    noise = _replication_noise(final, metrics, n_points)
    result = Sensitivity(pd.DataFrame())
    d = len(spec.design.parameter_names)
    if spec.design.kind == "lhs" and n_points < d + 3:
        note = (f"PRCC needs at least {d + 3} design points for {d} parameters (there are "
                f"{n_points}); raise design.samples")
        result.notes.append(f"not analysed: {note}")
        result.warnings.append(f"no sensitivity indices: {note}")
        return result
    rows: list[dict[str, Any]] = []
    for metric in metrics:
        y = means[metric].to_numpy(dtype=float)
        missing = int(np.isnan(y).sum())
        if missing:
            result.notes.append(f"`{metric}`: not analysed, {missing} of {n_points} design points "
                                f"have no value (runs failed, not finished, or the metric is "
                                f"undefined)")
            continue
        problem, severe = degeneracy(y, noise.get(metric))
        if problem and severe:
            result.notes.append(f"`{metric}`: not analysed, {problem}")
            result.warnings.append(f"{metric}: no sensitivity indices: {problem}")
            continue
        metric_rows = _indices(spec, metric, y)
        reliable = True
        if problem:
            result.warnings.append(f"{metric}: read its indices with care: {problem}")
        if spec.design.kind == "sobol" and _out_of_range(metric_rows):
            reliable = False
            result.warnings.append(
                f"{metric}: Sobol indices fall outside [0, 1] by more than sampling error allows, "
                f"so the sample is too small for this metric (or a few extreme values dominate "
                f"it); not shown as results: raise design.samples or replications")
        result.reliable[metric] = reliable
        rows += [{**row, "reliable": reliable} for row in metric_rows]
    result.indices = pd.DataFrame(rows)
    return result


def degeneracy(y: np.ndarray, noise: float | None = None) -> tuple[str | None, bool]:
    """Why the point means ``y`` make poor input to a sensitivity analysis, and whether it is
    severe (no analysis at all): ``(None, False)`` when they are fine.

    ``noise`` is the variance of a point mean due to replication (within-point variance over
    replications), when there are replications.

    >>> degeneracy(np.array([0.5, 0.5, 0.5]))
    ('the same value (0.5) at every design point', True)
    >>> degeneracy(np.array([0.5, 0.5 + 1e-15, 0.5]))[1]
    True
    >>> degeneracy(np.array([0.1, 0.4, 0.9]))
    (None, False)
    """
    spread = float(np.ptp(y))
    scale = float(np.max(np.abs(y)))
    if spread == 0:
        return f"the same value ({y[0]:.6g}) at every design point", True
    if spread <= NEAR_CONSTANT * scale:
        return (f"near-constant: it varies by {spread:.3g} around {float(np.mean(y)):.6g} "
                f"(relative {spread / scale:.1e}), rounding noise only"), True
    values, counts = np.unique(y, return_counts=True)
    share = counts.max() / y.size
    if share >= MODE_SHARE:
        return (f"{share:.0%} of design points give the same value "
                f"({values[counts.argmax()]:.6g}); its indices rest on the few others"), False
    total = float(np.var(y, ddof=1)) if y.size > 1 else 0.0
    if noise is not None and total > 0 and noise / total >= NOISE_SHARE:
        return (f"replication noise makes up about {min(noise / total, 1):.0%} of the variance "
                f"of its point means (after the common seeds' shared effect), so its indices "
                f"may mostly measure noise: raise sweep.replications"), False
    return None, False


def _replication_noise(final: pd.DataFrame, metrics: list[str], n_points: int
                       ) -> dict[str, float]:
    """Per metric, the variance a point mean owes to replication noise: the residual variance
    of a two-way (point x replication) table over the number of replications. Replication r has
    the same seed at every point, so a seed's shared effect is taken out first: it moves every
    point alike and changes no index. With failed or missing runs, the within-point variance
    is used instead. Empty without replications."""
    counts = final.groupby("point").size()
    if counts.empty or counts.max() < 2:
        return {}
    noise = {}
    for metric in metrics:
        table = final.pivot_table(index="point", columns="replication", values=metric,
                                  aggfunc="first", dropna=False).to_numpy(dtype=float)
        points, reps = table.shape
        if points >= 2 and reps >= 2 and not np.isnan(table).any():
            residual = (table - table.mean(axis=1, keepdims=True)
                        - table.mean(axis=0, keepdims=True) + table.mean())
            noise[metric] = float((residual**2).sum() / ((points - 1) * (reps - 1)) / reps)
        else:
            per_point = final.groupby("point")[metric].var(ddof=1) / counts
            if per_point.notna().any():
                noise[metric] = float(per_point.mean())
    return noise


def _indices(spec: SweepSpec, metric: str, y: np.ndarray) -> list[dict[str, Any]]:
    problem = salib_problem(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SALib's own warnings: ours above are clearer
        if spec.design.kind == "sobol":
            return _sobol_rows(spec, problem, metric, y)
        if spec.design.kind == "morris":
            return _morris_rows(spec, problem, metric, y)
        return _prcc_rows(spec, problem, metric, y)


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


def _prcc_rows(spec: SweepSpec, problem: dict, metric: str, y: np.ndarray) -> list[dict]:
    rho, p, low, high = prcc(sample_matrix(spec), y)
    return [{"metric": metric, "parameter": name, "PRCC": rho[i], "p_value": p[i],
             "ci_low": low[i], "ci_high": high[i]}
            for i, name in enumerate(problem["names"])]


def _out_of_range(rows: list[dict[str, Any]]) -> bool:
    """Any S1 or ST not finite or outside [0, 1] by more than :data:`SOBOL_SLACK`."""
    values = np.array([[row["S1"], row["ST"]] for row in rows], dtype=float)
    return bool(np.any(~np.isfinite(values) | (values < -SOBOL_SLACK)
                       | (values > 1 + SOBOL_SLACK)))


def prcc(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Partial rank correlation of each column of ``x`` (n points x d parameters) with ``y``:
    the correlation of the rank residuals once the other parameters' ranks are regressed out.
    Returns PRCC, two-sided p-values (t with n - 2 - (d - 1) degrees of freedom) and a 95%
    interval (Fisher z, standard error 1 / sqrt(n - 3 - (d - 1))). Needs n >= d + 3 points.

    With one parameter it is Spearman's rank correlation:

    >>> from scipy.stats import spearmanr
    >>> x = np.array([[1.0], [2.0], [3.0], [4.0], [5.0]]); y = np.array([2.0, 1.0, 4.0, 3.0, 5.0])
    >>> bool(np.isclose(prcc(x, y)[0][0], spearmanr(x[:, 0], y).statistic))
    True
    """
    from scipy import stats

    n, d = x.shape
    if n < d + 3:
        raise ValueError(f"PRCC needs at least {d + 3} points for {d} parameters, not {n}")
    ranks = np.column_stack([stats.rankdata(column) for column in x.T])
    ry = stats.rankdata(y)
    rho = np.full(d, np.nan)
    for i in range(d):
        others = np.column_stack([np.ones(n), np.delete(ranks, i, axis=1)])
        res_x = ranks[:, i] - others @ np.linalg.lstsq(others, ranks[:, i], rcond=None)[0]
        res_y = ry - others @ np.linalg.lstsq(others, ry, rcond=None)[0]
        scale = math.sqrt(float(res_x @ res_x) * float(res_y @ res_y))
        if scale > 1e-12 * n * n:  # else the parameter is explained by the others: undefined
            rho[i] = float(res_x @ res_y) / scale
    df = n - 2 - (d - 1)
    clipped = np.clip(rho, -1 + 1e-12, 1 - 1e-12)
    t = clipped * np.sqrt(df / (1 - clipped**2))
    p = 2 * stats.t.sf(np.abs(t), df)
    half = 1.959963984540054 / math.sqrt(n - 3 - (d - 1))
    z = np.arctanh(clipped)
    return rho, p, np.tanh(z - half), np.tanh(z + half)
