"""Retaliation (rules 2, 9): after today's acts, resentful, reactant or deceived buyers complain,
and some warn their neighbours."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import rules
from sim.engine.compiled import kernel, positive_part
from sim.engine.draws import Purpose, tie_address, uniform
from sim.engine.stack import Ties

if TYPE_CHECKING:
    from sim.engine.core import Engine

RETALIATE, WARN = int(Purpose.RETALIATE), int(Purpose.WARN)
"""The behaviour draws of complaining and of warning (plain numbers, which a kernel takes)."""


def retaliate(e: Engine, day: int, ties: Ties, owed: np.ndarray) -> Ties:
    """Complaints on the ties acted on today, given the felt debt ``owed`` per tie. Returns the
    ties whose buyers also warn their neighbours about the seller."""
    first_complaints, warners = _retaliate(
        day, ties.index, ties.row, ties.buyer, e.tie_arrays, owed.ravel(), e.buyer_arrays.punisher,
        e.rules.by_row, e.tally_arrays, e.n, e.stack.row_address, e.row_keys)
    e.record("complaint", ties, first_complaints)
    warners = ties.where(warners)
    e.record("warning", warners)
    return warners


@kernel
def _retaliate(day, index, row, buyer, ties, owed, punisher, params, tallies, width, row_address,
               row_key):
    """:func:`retaliate` on the ties at ``index``: resentful, reactant or deceived buyers
    complain (rule 9; an outstanding debt holds them back, rule 2), each complaint costing the
    seller trust; some complainers warn their neighbours. Returns, per tie, whether it is the
    tie's first complaint and whether its buyer warns."""
    first_complaint = np.zeros(index.size, dtype=np.bool_)
    warns = np.zeros(index.size, dtype=np.bool_)
    for i in range(index.size):
        tie, r = index[i], row[i]
        p = params[r]
        chance = rules.retaliation_probability(
            positive_part(-owed[tie]),
            rules.reactance_excess(ties.reactance[tie], threshold=p.reactance_threshold),
            ties.deceived[tie], punisher[buyer[i]],
            rules.hostility_restrained(positive_part(owed[tie]), restraint=p.hostility_restraint),
            base_logit=p.retaliation_base_logit, resentment_weight=p.retaliation_resentment,
            reactance_weight=p.retaliation_reactance, deception_weight=p.retaliation_deception,
            punisher_weight=p.retaliation_punisher)
        address = tie_address(tie, r, width, row_address)
        if not uniform(day, RETALIATE, address, row_key[r]) < chance:
            continue
        if not ties.complained[tie]:
            ties.complained[tie] = first_complaint[i] = True
            tallies.complained[r] += 1
        ties.trust[tie] += -p.complaint_trust
        warns[i] = uniform(day, WARN, address, row_key[r]) < p.warn_neighbours
    return first_complaint, warns
