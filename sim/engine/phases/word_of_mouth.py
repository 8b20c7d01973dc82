"""Word of mouth (rules 10, 12): referrals as a way to repay, and warnings and referrals reaching
the buyers' network neighbours."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import rules
from sim.engine.compiled import kernel, positive_part
from sim.engine.draws import Purpose, uniform
from sim.engine.stack import PerTie, Ties
from sim.engine.state import CUSTOMER, PROSPECT

if TYPE_CHECKING:
    from sim.engine.core import Engine


def refer(e: Engine, day: int, owed: np.ndarray) -> Ties:
    """Satisfied customers (and indebted prospects offered a choice of ways to respond) refer
    neighbours; a referral repays part of the referrer's debt. Returns the referring ties.

    The draws come first: the exact chance (rule 10's debt push costs two powers a tie) is
    worked out only for the ties whose draw falls below its ceiling
    (:func:`sim.rules.referral_chance_ceiling`), a few in a thousand; no other tie could refer."""
    st = e.state
    choice = e.plan.ask.choice_of_response[:, 0]
    index, uniform = _may_refer(day, int(Purpose.REFER), st.status, owed, st.trust, choice,
                                e.rules.by_row, e.stack.row_address, e.row_keys)
    ties = Ties.at(index, e.stack)
    p = e.params(ties)
    trust, debt = _trust_and_debt(ties.index, st.trust.ravel(), owed.ravel())
    prob = rules.referral_probability(
        trust, debt, choice[ties.row],
        referral_rate=p.referral_rate, neutral_trust=p.neutral_trust,
        choice_weight=p.choice_weight, debt_weight=p.debt_weight,
        debt_saturation=p.debt_saturation, debt_sharpness=p.debt_sharpness)
    referring = ties.where(uniform < rules.per_step_probability(prob, p.step_days))
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
    run_offset = (e.stack.row_run[senders.row] * e.n if e.runs > 1
                  else np.zeros(senders.size, dtype=np.int64))
    index, received = _receivers(senders.row, senders.buyer, run_offset, e.network.indptr,
                                 e.network.indices, e.n)
    return Ties.at(index, e.stack), received


@kernel
def _may_refer(day, purpose, status, owed, trust, offers_choice, params, row_address, row_key):
    """The ties that may refer today (customers, and prospects who owe the seller something
    where the seller offers a choice of ways to respond) whose behaviour draw falls below their
    referral ceiling: their flat indices and draws."""
    rows, n = status.shape
    index, drawn = np.empty(rows * n, dtype=np.int64), np.empty(rows * n)
    count = 0
    for r in range(rows):
        p = params[r]
        for j in range(n):
            if status[r, j] == CUSTOMER or (status[r, j] == PROSPECT and owed[r, j] > 0
                                            and offers_choice[r]):
                u = uniform(day, purpose, row_address[r] + j, row_key[r])
                if u < rules.referral_chance_ceiling(
                        trust[r, j], offers_choice[r], p.step_days, p.referral_rate,
                        p.neutral_trust, p.choice_weight, p.debt_weight):
                    index[count], drawn[count] = r * n + j, u
                    count += 1
    return index[:count].copy(), drawn[:count].copy()


@kernel
def _trust_and_debt(index, trust, owed):
    """The referrers' trust and positive felt debt (``np.maximum(owed, 0.0)``)."""
    trust_out, debt = np.empty(index.size), np.empty(index.size)
    for i in range(index.size):
        trust_out[i], debt[i] = trust[index[i]], positive_part(owed[index[i]])
    return trust_out, debt


@kernel
def _receivers(row, buyer, run_offset, indptr, indices, n):
    """The flat indices (sorted) of the ties that hear from senders at (``row``, ``buyer``): the
    same seller's tie to each network neighbour; and how many messages each hears."""
    total = 0
    for i in range(buyer.size):
        total += indptr[buyer[i] + 1] - indptr[buyer[i]]
    heard = np.empty(total, dtype=np.int64)
    k = 0
    for i in range(buyer.size):
        for at in range(indptr[buyer[i]], indptr[buyer[i] + 1]):
            heard[k] = row[i] * n + indices[at] - run_offset[i]
            k += 1
    heard.sort()
    unique = np.empty(total, dtype=np.int64)
    counts = np.empty(total, dtype=np.int64)
    m = 0
    for k in range(total):
        if m > 0 and heard[k] == unique[m - 1]:
            counts[m - 1] += 1
        else:
            unique[m], counts[m] = heard[k], 1
            m += 1
    return unique[:m].copy(), counts[:m].copy()
