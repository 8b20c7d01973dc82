"""Word of mouth (rules 10, 12): referrals as a way to repay, and warnings and referrals reaching
the buyers' network neighbours."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import rules
from sim.engine.draws import Purpose
from sim.engine.stack import PerTie, Ties
from sim.engine.state import CUSTOMER, PROSPECT

if TYPE_CHECKING:
    from sim.engine.core import Engine


def refer(e: Engine, day: int, owed: np.ndarray) -> Ties:
    """Satisfied customers (and indebted prospects offered a choice of ways to respond) refer
    neighbours; a referral repays part of the referrer's debt. Returns the referring ties."""
    st = e.state
    choice = e.plan.ask.choice_of_response
    ties = e.ties((st.status == CUSTOMER) | ((st.status == PROSPECT) & (owed > 0) & choice))
    p = e.params(ties)
    prob = rules.referral_probability(
        ties.get(st.trust), np.maximum(ties.get(owed), 0.0), choice[ties.row, 0],
        referral_rate=p.referral_rate, neutral_trust=p.neutral_trust,
        choice_weight=p.choice_weight, debt_weight=p.debt_weight,
        debt_saturation=p.debt_saturation, debt_sharpness=p.debt_sharpness)
    referring = ties.where(e.draw(day, Purpose.REFER, ties)
                           < rules.per_step_probability(prob, p.step_days))
    e.tallies.referrals += referring.count(e.rows)
    repaid = PerTie(e.rules, referring.row).referral_repayment
    for debt in (st.gross, st.gratitude):
        referring.put(debt, rules.debt_after_referral(referring.get(debt),
                                                      referral_repayment=repaid))
    e.record("referral", referring)
    return referring


def spread(e: Engine, day: int, warners: Ties, referrers: Ties) -> None:
    """Warnings raise neighbours' suspicion of the seller and lower their trust; referrals bring
    the seller to neighbours, with goodwill."""
    st = e.state
    counts = np.zeros((e.rows, e.n), dtype=np.int64) if e.record_events else None
    if warners.size:
        told, received = _tell_neighbours(e, warners)
        p = e.params(told)
        e.tallies.warnings_sent += told.per_seller(received, e.rows)
        suspicion, trust = rules.warning_effect(received, cue_warning=p.cue_warning,
                                                warning_trust=p.warning_trust)
        e.add_suspicion(told, suspicion)
        told.add(st.trust, trust)
        if counts is not None:
            told.put(counts, received)
    if referrers.size:
        told, _ = _tell_neighbours(e, referrers)
        told.add(st.trust, e.params(told).referral_trust)
        e.reach(told, day)
    e.warning_counts = counts


def _tell_neighbours(e: Engine, senders: Ties) -> tuple[Ties, np.ndarray]:
    """The ties (same seller, each network neighbour of the sender) that hear from ``senders``,
    and how many messages each hears."""
    receivers, counts = e.network.neighbour_lists(senders.buyer)
    rows = np.repeat(senders.row, counts)
    index = rows * e.n + receivers
    if e.runs > 1:
        index -= e.stack.row_run[rows] * e.n
    index.sort()
    first = np.flatnonzero(np.concatenate(([index.size > 0], index[1:] != index[:-1])))
    received = np.diff(np.append(first, index.size))
    return Ties.at(index[first], e.stack), received
