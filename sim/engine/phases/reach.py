"""Reach: sellers reach their own ties first, then outward through the buyers' network."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.engine.compiled import kernel
from sim.engine.state import PROSPECT, UNREACHED

if TYPE_CHECKING:
    from sim.engine.core import Engine


def widen(e: Engine, day: int) -> None:
    """Each seller's reach grows to ``initial + per_day * days elapsed`` buyers (capped at its
    share of the buyers), taken in its reach order (breadth first from its own ties); newly
    reached buyers become prospects."""
    plan, ties = e.plan, e.tie_arrays
    _widen(day, plan.reach_initial, plan.reach_per_day, plan.step_days, plan.reach_max,
           e.reach_cursor, e.reach_start, e.reach_order, ties.status, ties.contact_day,
           e.tally_arrays.reached, e.n)


@kernel
def _widen(day, initial, per_day, step_days, most, cursor, start, order, status, contact_day,
           reached, width):
    """:func:`widen` for every seller row: the buyers from the row's reach cursor up to today's
    reach, in its reach order (``order[start[r]:]``); unreached ones become prospects, contacted
    today, counted per row."""
    for r in range(cursor.size):
        target = np.int64(min(initial[r] + per_day[r] * (day * step_days[r]), most[r]))
        for k in range(cursor[r], target):
            contact(r * width + order[start[r] + k], r, day, status, contact_day, reached)
        cursor[r] = max(cursor[r], target)


@kernel
def contact(tie, row, day, status, contact_day, reached):
    """An unreached tie becomes a prospect, contacted ``day``, counted in ``reached[row]``: how
    a seller reaches a buyer, by its own reach or by a referral (rule 10)."""
    if status[tie] == UNREACHED:
        status[tie], contact_day[tie] = PROSPECT, day
        reached[row] += 1
