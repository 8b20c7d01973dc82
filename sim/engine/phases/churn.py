"""Churn (rules 2, 8, 9, 12): customers leave at a daily hazard; keep-giving holds them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import rules
from sim.engine.compiled import kernel, positive_part
from sim.engine.draws import Purpose, tie_address, uniform
from sim.engine.stack import Ties
from sim.engine.state import CHURNED, CUSTOMER, RETENTION_DAYS

if TYPE_CHECKING:
    from sim.engine.core import Engine

CHURN = int(Purpose.CHURN)
"""The behaviour draw of a customer leaving (a plain number, which a kernel takes)."""


def leave(e: Engine, day: int, owed: np.ndarray) -> None:
    """Customers who leave today, given the felt debt ``owed`` per tie."""
    leaving = _leave(day, e.tie_arrays, owed.ravel(), e.gift_rows.after_sale_every, e.rules.by_row,
                     e.tally_arrays, e.n, e.stack.row_address, e.row_keys)
    if e.record_events:
        e.record("churn", Ties.at(leaving, e.stack))


@kernel
def _leave(day, ties, owed, after_sale_every, params, tallies, width, row_address, row_key):
    """:func:`leave` over every tie: each customer leaves at its daily hazard (rules 2, 8, 9,
    12: trust, reactance, resentment, a closed account; giving again after the sale within
    ``keep_giving_window`` holds it). Returns the flat indices of the ties that left."""
    rows = after_sale_every.size
    leaving, count = np.empty(ties.status.size, dtype=np.int64), 0
    for r in range(rows):
        p = params[r]
        for tie in range(r * width, (r + 1) * width):
            if ties.status[tie] != CUSTOMER:
                continue
            last_gift = ties.last_gift_day[tie]
            kept_giving = (after_sale_every[r] > 0 and last_gift >= 0
                           and (day - last_gift) * p.step_days < p.keep_giving_window
                           and ties.converted_day[tie] <= last_gift)
            hazard = rules.churn_hazard(
                ties.trust[tie], rules.reactance_excess(ties.reactance[tie],
                                                        threshold=p.reactance_threshold),
                positive_part(-owed[tie]), kept_giving, ties.account_closed[tie],
                base_hazard=p.churn_base, trust_weight=p.churn_trust,
                neutral_trust=p.neutral_trust, reactance_weight=p.churn_reactance,
                resentment_weight=p.churn_resentment, keep_giving_effect=p.keep_giving_effect,
                closed_account_effect=p.closed_account_effect)
            if uniform(day, CHURN, tie_address(tie, r, width, row_address), row_key[r]) < \
                    rules.per_step_probability(hazard, p.step_days):
                ties.status[tie], ties.churn_day[tie] = CHURNED, day
                tallies.churned[r] += 1
                tallies.churned_within_90d[r] += ((day - ties.converted_day[tie]) * p.step_days
                                                  < RETENTION_DAYS)
                leaving[count] = tie
                count += 1
    return leaving[:count].copy()
