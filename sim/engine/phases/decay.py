"""Decay (rule 6): felt obligation fades with time since the gift; reactance cools more slowly."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim import rules

if TYPE_CHECKING:
    from sim.engine.core import Engine


def fade(e: Engine) -> None:
    """One day of decay for every tie: gift debt and concessions by ``obligation_half_life``,
    reactance by ``reactance_half_life``."""
    p, st = e.rules, e.state
    st.gross *= rules.decay_factor(1.0, half_life=p.obligation_half_life)
    st.concession *= rules.decay_factor(1.0, half_life=p.obligation_half_life)
    st.reactance *= rules.decay_factor(1.0, half_life=p.reactance_half_life)
