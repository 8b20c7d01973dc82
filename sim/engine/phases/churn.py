"""Churn (rules 2, 8, 9, 12): customers leave at a daily hazard; keep-giving holds them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import rules
from sim.engine.draws import Purpose
from sim.engine.state import CHURNED, CUSTOMER, RETENTION_DAYS

if TYPE_CHECKING:
    from sim.engine.core import Engine


def leave(e: Engine, day: int, owed: np.ndarray) -> None:
    """Customers who leave today, given the felt debt ``owed`` per tie."""
    st = e.state
    ties = e.ties(st.status == CUSTOMER)
    if ties.size == 0:
        return
    p = e.params(ties)
    last_gift = ties.get(st.last_gift_day)
    kept_giving = ((e.plan.gift.after_sale_every[ties.row, 0] > 0) & (last_gift >= 0)
                   & ((day - last_gift) * p.step_days < p.keep_giving_window)
                   & (ties.get(st.converted_day) <= last_gift))
    hazard = rules.churn_hazard(
        ties.get(st.trust),
        rules.reactance_excess(ties.get(st.reactance), threshold=p.reactance_threshold),
        np.maximum(-ties.get(owed), 0.0), kept_giving, ties.get(st.account_closed),
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
