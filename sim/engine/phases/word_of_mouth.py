"""Word of mouth (rules 10, 12): referrals as a way to repay, and warnings and referrals reaching
the buyers' network neighbours."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import rules
from sim.engine.compiled import kernel, positive_part
from sim.engine.draws import Purpose, tie_address, uniform
from sim.engine.phases.reach import contact
from sim.engine.readings import add_cue
from sim.engine.stack import Ties
from sim.engine.state import CUSTOMER, PROSPECT

if TYPE_CHECKING:
    from sim.engine.core import Engine

REFER = int(Purpose.REFER)
"""The behaviour draw of referring a neighbour (a plain number, which a kernel takes)."""


def refer(e: Engine, day: int, owed: np.ndarray) -> Ties:
    """Satisfied customers (and indebted prospects offered a choice of ways to respond) refer
    neighbours; a referral repays part of the referrer's debt. Returns the referring ties."""
    referring = _refer(day, e.tie_arrays, owed.ravel(), e.ask_rows.choice_of_response,
                       e.rules.by_row, e.tally_arrays, e.n, e.stack.row_address, e.row_keys)
    referring = Ties.at(referring, e.stack)
    e.record("referral", referring)
    return referring


@kernel
def _refer(day, ties, owed, offers_choice, params, tallies, width, row_address, row_key):
    """:func:`refer` over every tie: the ties that may refer today (customers, and prospects who
    owe the seller something where the seller offers a choice of ways to respond) refer at rule
    10's chance, and a referral repays part of the debt. The draw comes first: the exact chance
    (the debt's push costs two powers) is worked out only where the draw falls below its
    ceiling (:func:`sim.rules.referral_chance_ceiling`), a few ties in a thousand; no other
    could refer. Returns the flat indices of the referring ties."""
    rows = offers_choice.size
    referring, count = np.empty(ties.status.size, dtype=np.int64), 0
    for r in range(rows):
        p = params[r]
        for tie in range(r * width, (r + 1) * width):
            if not (ties.status[tie] == CUSTOMER or (ties.status[tie] == PROSPECT
                                                     and owed[tie] > 0 and offers_choice[r])):
                continue
            drawn = uniform(day, REFER, tie_address(tie, r, width, row_address), row_key[r])
            trust = ties.trust[tie]
            if not drawn < rules.referral_chance_ceiling(
                    trust, offers_choice[r], p.step_days, referral_rate=p.referral_rate,
                    neutral_trust=p.neutral_trust, choice_weight=p.choice_weight,
                    debt_weight=p.debt_weight):
                continue
            chance = rules.referral_probability(
                trust, positive_part(owed[tie]), offers_choice[r], referral_rate=p.referral_rate,
                neutral_trust=p.neutral_trust, choice_weight=p.choice_weight,
                debt_weight=p.debt_weight, debt_saturation=p.debt_saturation,
                debt_sharpness=p.debt_sharpness)
            if drawn < rules.per_step_probability(chance, p.step_days):
                tallies.referrals[r] += 1
                ties.gross[tie] = rules.debt_after_referral(
                    ties.gross[tie], referral_repayment=p.referral_repayment)
                ties.gratitude[tie] = rules.debt_after_referral(
                    ties.gratitude[tie], referral_repayment=p.referral_repayment)
                referring[count] = tie
                count += 1
    return referring[:count].copy()


def spread(e: Engine, day: int, warners: Ties, referrers: Ties) -> None:
    """Warnings raise neighbours' suspicion of the seller and lower their trust; referrals bring
    the seller to neighbours, with goodwill. Each sender tells every network neighbour once."""
    counts = np.zeros((e.rows, e.n), dtype=np.int64) if e.record_events else None
    network, row_run = e.network, e.stack.row_run
    if warners.size:
        told, received = _hear_warnings(
            warners.row, warners.buyer, network.indptr, network.indices, row_run, e.n,
            e.tie_arrays, e.buyer_arrays, e.rules.by_row, e.reading_arrays(), e.tally_arrays)
        if counts is not None:
            counts.ravel()[told] = received
    if referrers.size:
        _hear_referrals(day, referrers.row, referrers.buyer, network.indptr, network.indices,
                        row_run, e.n, e.tie_arrays, e.rules.by_row, e.tally_arrays)
    e.warning_counts = counts


@kernel
def _hear_warnings(row, buyer, indptr, indices, row_run, width, ties, buyers, params, readings,
                   tallies):
    """Rules 7, 10: the network neighbours of the warners at (``row``, ``buyer``) hear how many
    warnings each about the seller: each is a cue and takes a little trust away. Counts the
    warnings sent per seller row (in tie order, then added, as ``np.bincount`` does). Returns
    the ties told and how many warnings each heard."""
    told, received = _receivers(row, buyer, row_run, indptr, indices, width)
    sent = np.zeros(tallies.warnings_sent.size)
    for i in range(told.size):
        tie = told[i]
        r = tie // width
        p = params[r]
        sent[r] += received[i]
        suspicion, trust = rules.warning_effect(received[i], cue_warning=p.cue_warning,
                                                warning_trust=p.warning_trust)
        add_cue(tie, r, row_run[r] * width + tie - r * width, suspicion, ties, buyers, params,
                readings, tallies)
        ties.trust[tie] += trust
    for r in range(sent.size):
        tallies.warnings_sent[r] += sent[r]
    return told, received


@kernel
def _hear_referrals(day, row, buyer, indptr, indices, row_run, width, ties, params, tallies):
    """Rule 10: the network neighbours of the referrers at (``row``, ``buyer``) hear the seller
    recommended: goodwill, and an unreached buyer becomes the seller's prospect, contacted
    today."""
    told, _ = _receivers(row, buyer, row_run, indptr, indices, width)
    for tie in told:
        r = tie // width
        ties.trust[tie] += params[r].referral_trust
        contact(tie, r, day, ties.status, ties.contact_day, tallies.reached)


@kernel
def _receivers(row, buyer, row_run, indptr, indices, n):
    """The flat indices (sorted) of the ties that hear from senders at (``row``, ``buyer``): the
    same seller's tie to each network neighbour (buyers are numbered across the stacked runs,
    columns within each); and how many messages each hears."""
    total = 0
    for i in range(buyer.size):
        total += indptr[buyer[i] + 1] - indptr[buyer[i]]
    heard = np.empty(total, dtype=np.int64)
    k = 0
    for i in range(buyer.size):
        for at in range(indptr[buyer[i]], indptr[buyer[i] + 1]):
            heard[k] = row[i] * n + indices[at] - row_run[row[i]] * n
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
