"""Decay (rule 6): felt obligation fades with time since the gift; reactance cools more slowly."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim import rules

if TYPE_CHECKING:
    from sim.engine.core import Engine


def fade(e: Engine) -> None:
    """One step of decay for every tie (a step lasts ``step_days``): gift debt and concessions by
    ``obligation_half_life``, reactance by ``reactance_half_life``."""
    p, st = e.rules, e.state
    st.gross *= rules.decay_factor(p.step_days, half_life=p.obligation_half_life)
    st.concession *= rules.decay_factor(p.step_days, half_life=p.obligation_half_life)
    st.reactance *= rules.decay_factor(p.step_days, half_life=p.reactance_half_life)
