"""Mesa agents: the friendly face over the engine's arrays.

``Buyer`` and ``Seller`` hold only their index; every property reads the model's numpy state, so
AgentSet selection, DataCollector agent reporters and SolaraViz portrayals work as usual while the
daily update stays vectorised in :class:`sim.engine.Engine`.
"""

from __future__ import annotations

import numpy as np
from mesa.discrete_space import CellAgent

from sim.engine import CUSTOMER, STATUS_NAMES, UNREACHED


class Buyer(CellAgent):
    """A prospect, customer, diner or donor: one node of the buyers' network."""

    def __init__(self, model, index: int, cell):
        super().__init__(model)
        self.index = index
        self.cell = cell

    @property
    def _engine(self):
        return self.model.engine

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
        reached = self._engine.status[:, self.index] != UNREACHED
        return float(self._engine.trust[reached, self.index].mean()) if reached.any() else float("nan")

    @property
    def detection_skill(self) -> float:
        return float(self._engine.buyers.detection_skill[self.index])

    @property
    def need(self) -> float:
        return float(self._engine.buyers.need[self.index])

    @property
    def reactance_proneness(self) -> float:
        return float(self._engine.buyers.reactance_proneness[self.index])

    @property
    def reciprocator(self) -> bool:
        return bool(self._engine.buyers.reciprocator[self.index])

    def status_with(self, seller: Seller) -> str:
        return STATUS_NAMES[int(self._engine.status[seller.index, self.index])]


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
        return int(np.count_nonzero(self.model.engine.status[self.index] == CUSTOMER))

    @property
    def reached(self) -> int:
        return int(np.count_nonzero(self.model.engine.status[self.index] != UNREACHED))
