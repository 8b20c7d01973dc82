"""Mesa agents: the friendly face over the engine's arrays.

``Buyer`` and ``Seller`` hold only their index; every property reads the model's numpy state, so
AgentSet selection, DataCollector agent reporters and SolaraViz portrayals work as usual while the
daily update stays vectorised in :class:`sim.engine.Engine`. The model builds them when they are
first used.
"""

from __future__ import annotations

import numpy as np
from mesa.discrete_space import CellAgent

from sim import rules
from sim.engine import CUSTOMER, STATUS_NAMES, UNREACHED


class Buyer(CellAgent):
    """A prospect, customer, diner or donor: one node of the buyers' network.

    ``index`` is the buyer's position in the engine's arrays (from 0), ``label`` its node in the
    graph or network file it came from; every trait of the population is a property.
    """

    def __init__(self, model, index: int, cell):
        super().__init__(model)
        self.index = index
        self.cell = cell

    @property
    def _engine(self):
        return self.model.engine

    @property
    def label(self):
        """The buyer's node label in the graph it came from (its index for generated networks)."""
        label = self.model.buyer_labels[self.index]
        return label.item() if isinstance(label, np.generic) else label

    @property
    def state(self) -> str:
        """prospect, customer, churned, opted out, or unreached (across all sellers)."""
        return self.model.buyer_summary()["state"][self.index]

    @property
    def obligation(self) -> float:
        """Felt debt still owed, summed over sellers (>= 0)."""
        return float(self.model.buyer_summary()["obligation"][self.index])

    @property
    def trust(self) -> float:
        """Mean trust in the sellers that reached this buyer (NaN if none has)."""
        reached = self._engine.state.status[:, self.index] != UNREACHED
        trust = self._engine.state.trust[reached, self.index]
        return float(trust.mean()) if reached.any() else float("nan")

    def _trait(self, name: str):
        return getattr(self._engine.buyers, name)[self.index]

    @property
    def need(self) -> float:
        return float(self._trait("need"))

    @property
    def budget(self) -> float:
        return float(self._trait("budget"))

    @property
    def time_budget(self) -> float:
        return float(self._trait("time_budget"))

    @property
    def detection_skill(self) -> float:
        return float(self._trait("detection_skill"))

    @property
    def reactance_proneness(self) -> float:
        return float(self._trait("reactance_proneness"))

    @property
    def base_compliance(self) -> float:
        """Chance of a yes to a proportionate ask from a stranger who gave nothing."""
        return float(rules.chance_from_log_odds(self._trait("base_logit")))

    @property
    def base_amount(self) -> float:
        """What this buyer gives to an amount ask (a tip, tickets) with no gift."""
        return float(self._trait("base_amount"))

    @property
    def reciprocator(self) -> bool:
        return bool(self._trait("reciprocator"))

    @property
    def gift_rules(self) -> bool:
        """Bound by strict gift or procurement rules (refuses gifts)."""
        return bool(self._trait("gift_rules"))

    @property
    def punisher(self) -> bool:
        """Pays a cost to punish unfair treatment."""
        return bool(self._trait("punisher"))

    @property
    def segment(self):
        """The buyer's segment from the graph's node attributes (None when not given)."""
        segments = self._engine.buyers.segment
        return None if segments is None else segments[self.index]

    def status_with(self, seller: Seller) -> str:
        return STATUS_NAMES[int(self._engine.state.status[seller.index, self.index])]


class Seller(CellAgent):
    """A salesperson, firm, waiter or fundraiser following one strategy."""

    def __init__(self, model, index: int, cell):
        super().__init__(model)
        self.index = index
        self.cell = cell
        spec = model.config.sellers[index]
        self.name = spec.name or f"Seller {index + 1}"
        self.strategy = spec.strategy

    @property
    def revenue(self) -> float:
        return float(self.model.engine.tallies.revenue[self.index])

    @property
    def customers(self) -> int:
        return int(np.count_nonzero(self.model.engine.state.status[self.index] == CUSTOMER))

    @property
    def reached(self) -> int:
        return int(np.count_nonzero(self.model.engine.state.status[self.index] != UNREACHED))
