"""Design points of a sweep: full factorial grid, explicit list, Latin hypercube, Sobol (Saltelli)
and Morris, and the replication seeds shared by every point.

Samplers are SALib's (Sobol, Morris) and scipy.stats.qmc's (Latin hypercube), seeded with the
sweep's ``seed``, so a spec always gives the same points. A parameter whose bounds are both
written as integers is rounded to the nearest integer after sampling (Python's ``round``: halves
to even); write ``1.0`` instead of ``1`` to keep it continuous. Sensitivity analysis uses the
unrounded sample (:func:`sample_matrix`), as SALib expects.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.runner import replication_seeds
from sim.sweep.spec import Bounds, SweepSpec

__all__ = ["Run", "design_points", "plan_runs", "replication_seeds", "salib_problem",
           "sample_matrix"]


@dataclass(frozen=True)
class Run:
    """One replicated run of one design point. ``run_id = point * replications + replication``."""

    run_id: int
    point: int
    replication: int
    seed: int
    parameters: dict[str, Any]


def salib_problem(spec: SweepSpec) -> dict[str, Any]:
    """The SALib problem of a continuous design: names and bounds, in spec order."""
    bounds: dict[str, Bounds] = spec.design.parameters  # type: ignore[assignment]
    return {"num_vars": len(bounds), "names": list(bounds),
            "bounds": [[float(b.low), float(b.high)] for b in bounds.values()]}


def sample_matrix(spec: SweepSpec) -> np.ndarray:
    """The unrounded sample of a continuous design, one row per point, one column per parameter.

    Sobol: ``N * (D + 2)`` rows (``N * (2D + 2)`` with ``second_order``); Morris:
    ``N * (D + 1)`` rows; Latin hypercube: ``N`` rows.
    """
    design, seed = spec.design, spec.sweep.seed
    problem = salib_problem(spec)
    if design.kind == "sobol":
        from SALib.sample import sobol

        return sobol.sample(problem, design.samples, calc_second_order=design.second_order,
                            seed=seed)
    if design.kind == "morris":
        from SALib.sample import morris

        return morris.sample(problem, design.samples, num_levels=design.levels, seed=seed)
    if design.kind == "lhs":
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=problem["num_vars"], rng=np.random.default_rng(seed))
        low, high = np.array(problem["bounds"]).T
        return qmc.scale(unit.random(design.samples), low, high)
    raise ValueError(f"design kind {design.kind!r} has no sample matrix")


def design_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """Every design point as ``{parameter: value}``, in a fixed order: a point's id is its index.

    >>> from sim.sweep.spec import parse_spec
    >>> spec = parse_spec({"sweep": {"scenario": "pushy_vs_active", "metrics": ["revenue"]},
    ...     "design": {"kind": "grid", "parameters": {"buyers.n": [100, 200],
    ...                                               "network.kind": ["complete", "erdos_renyi"]}}})
    >>> design_points(spec)[1]
    {'buyers.n': 100, 'network.kind': 'erdos_renyi'}
    """
    design = spec.design
    if design.kind == "grid":
        names = list(design.parameters)
        grids = [design.parameters[name] for name in names]
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*grids)]
    if design.kind == "list":
        return [dict(point) for point in design.points]
    bounds: list[Bounds] = list(design.parameters.values())  # type: ignore[arg-type]
    names = list(design.parameters)
    return [{name: _cast(value, b) for name, value, b in zip(names, row, bounds, strict=True)}
            for row in sample_matrix(spec)]


def _cast(value: float, bounds: Bounds) -> int | float:
    return round(float(value)) if bounds.integer else float(value)


def plan_runs(spec: SweepSpec, points: list[dict[str, Any]] | None = None) -> list[Run]:
    """Every run of the sweep in run-id order (point-major). Replication ``r`` has the same seed
    at every point (common random numbers): see :func:`sim.runner.replication_seeds`."""
    points = design_points(spec) if points is None else points
    seeds = replication_seeds(spec.sweep.seed, spec.sweep.replications)
    return [Run(point * len(seeds) + r, point, r, seed, params)
            for point, params in enumerate(points)
            for r, seed in enumerate(seeds)]
