"""Reach: sellers reach their own ties first, then outward through the buyers' network."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.engine.stack import Ties

if TYPE_CHECKING:
    from sim.engine.core import Engine


def widen(e: Engine, day: int) -> None:
    """Each seller's reach grows to ``initial + per_day * days elapsed`` buyers (capped at its
    share of the buyers), taken in its reach order (breadth first from its own ties); newly
    reached buyers become prospects."""
    plan = e.plan
    target = np.minimum(plan.reach_initial + plan.reach_per_day * (day * plan.step_days),
                        plan.reach_max).astype(np.int64)
    rows = np.flatnonzero(target > e.reach_cursor)
    if rows.size == 0:
        return
    counts = target[rows] - e.reach_cursor[rows]
    starts = np.repeat(e.reach_start[rows] + e.reach_cursor[rows] - np.cumsum(counts) + counts,
                       counts)
    columns = e.reach_order[starts + np.arange(starts.size)]
    e.reach(Ties.at(np.repeat(rows, counts) * e.n + columns, e.stack), day)
    e.reach_cursor[rows] = target[rows]
