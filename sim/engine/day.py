"""One day of the model, in the order of the ODD's schedule (ODD.md, section 3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.engine.phases import asks, churn, decay, gifts, reach, retaliation, word_of_mouth

if TYPE_CHECKING:
    from sim.engine.core import Engine


def run_day(e: Engine) -> None:
    """Within a phase every tie is updated at once; each phase sees what the previous left."""
    day = e.day
    e.events = {}
    decay.fade(e)                                           # rule 6
    reach.widen(e, day)
    found = gifts.discover_hidden_conditions(e, day)        # rules 7, 9, 13
    offered = gifts.give(e, day)                            # rules 1, 5, 7, 8, 13
    asked = asks.ask(e, day)                                # rules 2-4, 7, 8, 10, 11
    acted = found.union(offered).union(asked)
    owed = e.effective_obligation()                         # as it stands after today's acts
    warners = retaliation.retaliate(e, day, acted, owed)    # rules 2, 9
    churn.leave(e, day, owed)                               # rules 2, 8, 9, 12
    referrers = word_of_mouth.refer(e, day, owed)           # rules 10, 12
    word_of_mouth.spread(e, day, warners, referrers)        # rule 10
    np.clip(e.state.trust, 0.0, 1.0, out=e.state.trust)
    e.day += 1
