"""recip inside mesa's own SolaraViz: the model, stepped by SolaraViz's Step/Play/Reset, drawn
with recip's components (network, plots, event log, guide).

Run: ``solara run viz/mesa_example.py`` (or through ``recip app``'s launcher for its guards:
this example is for reuse, the classroom app is ``viz/app.py``). In a notebook, the same
components work on any ``ReciprocityModel(..., record_events=True)``::

    from components import make_network_component
    make_network_component()(model)   # inside a solara component
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

import components as ui  # noqa: E402
from mesa.visualization import SolaraViz  # noqa: E402

from sim.config import list_scenarios  # noqa: E402
from sim.model import ReciprocityModel  # noqa: E402

MODEL_PARAMS = {
    "scenario": {"type": "Select", "value": "pushy_vs_active", "values": list_scenarios(),
                 "label": "Scenario"},
    "record_events": True,  # the network's flows and the event log read each day's events
    "overrides": {"buyers.n": 500},
}


def build_page(scenario: str = "pushy_vs_active"):
    model = ReciprocityModel(scenario, rng=1, record_events=True, overrides={"buyers.n": 500})
    return SolaraViz(
        model,
        components=[
            (ui.make_plots_component(), 0),
            (ui.make_network_component(), 0),
            (ui.make_event_log_component(), 0),
            (ui.make_guide_component(), 0),
        ],
        model_params=MODEL_PARAMS,
        name="recip in mesa's SolaraViz",
    )


page = build_page()
