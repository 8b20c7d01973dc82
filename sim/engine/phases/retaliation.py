"""Retaliation (rules 2, 9): after today's acts, resentful, reactant or deceived buyers complain,
and some warn their neighbours."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import rules
from sim.engine.draws import Purpose
from sim.engine.stack import Ties

if TYPE_CHECKING:
    from sim.engine.core import Engine


def retaliate(e: Engine, day: int, acted: np.ndarray, owed: np.ndarray) -> Ties:
    """Complaints on the ties acted on today (``acted``), given the felt debt ``owed`` per tie.
    Returns the ties whose buyers also warn their neighbours about the seller."""
    st = e.state
    ties = e.ties(acted)
    p = e.params(ties)
    owed_t = ties.get(owed)
    prob = rules.retaliation_probability(
        np.maximum(-owed_t, 0.0),
        rules.reactance_excess(ties.get(st.reactance), threshold=p.reactance_threshold),
        ties.get(st.deceived), e.buyers.punisher[ties.buyer],
        rules.hostility_restrained(np.maximum(owed_t, 0.0), restraint=p.hostility_restraint),
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
