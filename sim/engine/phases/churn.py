"""Churn (rules 2, 8, 9, 12): customers leave at a daily hazard; keep-giving holds them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import rules
from sim.engine.compiled import kernel, positive_part
from sim.engine.draws import Purpose
from sim.engine.stack import Ties
from sim.engine.state import CHURNED, CUSTOMER, RETENTION_DAYS

if TYPE_CHECKING:
    from sim.engine.core import Engine


def leave(e: Engine, day: int, owed: np.ndarray) -> None:
    """Customers who leave today, given the felt debt ``owed`` per tie."""
    st = e.state
    ties = Ties.at(_customers(st.status), e.stack)
    if ties.size == 0:
        return
    p = e.params(ties)
    trust, reactance, resentment, closed, kept_giving = _churn_inputs(
        ties.index, ties.row, day, st.trust.ravel(), st.reactance.ravel(), owed.ravel(),
        st.account_closed.ravel(), st.last_gift_day.ravel(), st.converted_day.ravel(),
        e.plan.gift.after_sale_every[:, 0], e.row_values("step_days"),
        e.row_values("keep_giving_window"))
    hazard = rules.churn_hazard(
        trust, rules.reactance_excess(reactance, threshold=p.reactance_threshold),
        resentment, kept_giving, closed,
        base_hazard=p.churn_base, trust_weight=p.churn_trust, neutral_trust=p.neutral_trust,
        reactance_weight=p.churn_reactance, resentment_weight=p.churn_resentment,
        keep_giving_effect=p.keep_giving_effect, closed_account_effect=p.closed_account_effect)
    leaving = ties.where(e.draw(day, Purpose.CHURN, ties)
                         < rules.per_step_probability(hazard, p.step_days))
    leaving.put(st.status, CHURNED)
    leaving.put(st.churn_day, day)
    e.tallies.churned += leaving.count(e.rows)
    e.tallies.churned_within_90d += leaving.count(
        e.rows, (day - leaving.get(st.converted_day)) * e.params(leaving).step_days
        < RETENTION_DAYS)
    e.record("churn", leaving)


@kernel
def _customers(status):
    """Flat indices of the ties whose buyer is the seller's customer."""
    found = np.empty(status.size, dtype=np.int64)
    count = 0
    for tie, code in enumerate(status.ravel()):
        if code == CUSTOMER:
            found[count] = tie
            count += 1
    return found[:count].copy()


@kernel
def _churn_inputs(index, row, day, trust, reactance, owed, closed, last_gift_day, converted_day,
                  after_sale_every, step_days, keep_giving_window):
    """The churn rule's inputs for the customers at ``index``: trust, reactance, resentment (the
    negative part of the felt debt), a closed account, and whether the seller kept giving after
    the sale within ``keep_giving_window`` days."""
    size = index.size
    trust_, reactance_, resentment = np.empty(size), np.empty(size), np.empty(size)
    closed_, kept_giving = np.empty(size, dtype=np.bool_), np.empty(size, dtype=np.bool_)
    for i in range(size):
        tie, r = index[i], row[i]
        trust_[i], reactance_[i], closed_[i] = trust[tie], reactance[tie], closed[tie]
        resentment[i] = positive_part(-owed[tie])
        last_gift = last_gift_day[tie]
        kept_giving[i] = (after_sale_every[r] > 0 and last_gift >= 0
                          and (day - last_gift) * step_days[r] < keep_giving_window[r]
                          and converted_day[tie] <= last_gift)
    return trust_, reactance_, resentment, closed_, kept_giving
