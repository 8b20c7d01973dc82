"""The vectorised engine of a reciprocity model: state in numpy arrays, one day per step.

- :mod:`sim.engine.core`: :class:`Engine`, the state of one run or of several runs stacked.
- :mod:`sim.engine.day`: the day's schedule; :mod:`sim.engine.phases`: one module per phase.
- :mod:`sim.engine.state`: the typed state; :mod:`sim.engine.stack`: the layout of stacked runs
  and tie selections; :mod:`sim.engine.draws`: random streams and counter-based draws.

The model's mathematics is not here: every phase calls the named rules of :mod:`sim.rules`.
"""

from sim.engine.core import Engine, RunInputs
from sim.engine.draws import Purpose, Streams, counter_uniforms, seed_sequence_from
from sim.engine.state import (
    CHURNED,
    CUSTOMER,
    EVENT_KINDS,
    OPTED_OUT,
    PROSPECT,
    RETENTION_DAYS,
    STATUS_NAMES,
    UNREACHED,
)

__all__ = ["CHURNED", "CUSTOMER", "EVENT_KINDS", "OPTED_OUT", "PROSPECT", "RETENTION_DAYS",
           "STATUS_NAMES", "UNREACHED", "Engine", "Purpose", "RunInputs", "Streams", "counter_uniforms",
           "seed_sequence_from"]
