"""Retaliation (rules 2, 9): after today's acts, resentful, reactant or deceived buyers complain,
and some warn their neighbours."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import rules
from sim.engine.compiled import kernel, positive_part
from sim.engine.draws import Purpose
from sim.engine.stack import Ties

if TYPE_CHECKING:
    from sim.engine.core import Engine


def retaliate(e: Engine, day: int, ties: Ties, owed: np.ndarray) -> Ties:
    """Complaints on the ties acted on today, given the felt debt ``owed`` per tie. Returns the
    ties whose buyers also warn their neighbours about the seller."""
    st = e.state
    p = e.params(ties)
    resentment, positive_debt, reactance, deceived, punisher = _retaliation_inputs(
        ties.index, ties.buyer, owed.ravel(), st.reactance.ravel(), st.deceived.ravel(),
        e.buyers.punisher)
    prob = rules.retaliation_probability(
        resentment, rules.reactance_excess(reactance, threshold=p.reactance_threshold),
        deceived, punisher,
        rules.hostility_restrained(positive_debt, restraint=p.hostility_restraint),
        base_logit=p.retaliation_base_logit, resentment_weight=p.retaliation_resentment,
        reactance_weight=p.retaliation_reactance, deception_weight=p.retaliation_deception,
        punisher_weight=p.retaliation_punisher)
    u_retaliate, u_warn = e.draw(day, (Purpose.RETALIATE, Purpose.WARN), ties)
    strikes = u_retaliate < prob
    retaliating = ties.where(strikes)
    first_complaints = e.flag(retaliating, st.complained, "complained")
    p = e.params(retaliating)
    retaliating.add(st.trust, -p.complaint_trust)
    warners = retaliating.where(u_warn[strikes] < p.warn_neighbours)
    e.record("complaint", first_complaints)
    e.record("warning", warners)
    return warners


@kernel
def _retaliation_inputs(index, buyer, owed, reactance, deceived, punisher):
    """The retaliation rule's inputs for the ties at ``index``: resentment (the negative part of
    the felt debt) and the positive part, reactance, deception found, a punisher buyer."""
    size = index.size
    resentment, positive_debt = np.empty(size), np.empty(size)
    reactance_ = np.empty(size)
    deceived_, punisher_ = np.empty(size, dtype=np.bool_), np.empty(size, dtype=np.bool_)
    for i in range(size):
        tie = index[i]
        resentment[i], positive_debt[i] = positive_part(-owed[tie]), positive_part(owed[tie])
        reactance_[i], deceived_[i], punisher_[i] = reactance[tie], deceived[tie], punisher[buyer[i]]
    return resentment, positive_debt, reactance_, deceived_, punisher_
