"""``ReciprocityModel``: the mesa 3.5 model of buyers and sellers under the norm of reciprocity."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mesa import Model
from mesa.datacollection import DataCollector
from mesa.discrete_space import Network

from sim import metrics
from sim.agents import Buyer, Seller
from sim.config import Scenario, load_scenario
from sim.engine import Engine, seed_sequence_from


class ReciprocityModel(Model):
    """Buyers and sellers on a network exchanging gifts and asks.

    Args:
        scenario: a shipped scenario name, a path to a TOML file, or a loaded ``Scenario``.
        arm: one of the scenario's named conditions.
        overrides: dotted keys applied last, e.g. ``{"buyers.n": 500}``.
        rng: int, SeedSequence or Generator (as mesa 3.5); one seed gives identical results.
        build_agents: build mesa ``Buyer``/``Seller`` agents on a ``Network`` space. Results are
            identical without them; sweeps and very large runs skip them.
        collect: record metrics every step in ``datacollector`` and ``metrics_by_strategy()``.
        record_events: keep each step's events (who gave, asked, complained...) for the app.

    >>> model = ReciprocityModel("pushy_vs_active", rng=7, overrides={"buyers.n": 200})
    >>> model.run_for(5)
    >>> len(model.datacollector.get_model_vars_dataframe())
    5
    """

    def __init__(self, scenario: str | Path | Scenario = "pushy_vs_active", *,
                 arm: str | None = None, overrides: Mapping[str, Any] | None = None,
                 rng: Any = None, build_agents: bool = True, collect: bool = True,
                 record_events: bool = False):
        super().__init__(rng=rng)
        self.config: Scenario = load_scenario(scenario, arm=arm, overrides=overrides)
        self.seed_sequence = seed_sequence_from(rng if rng is not None else self.rng)
        self.seed_entropy = self.seed_sequence.entropy
        self.engine = Engine(self.config, self.seed_sequence, record_events=record_events)
        self.horizon = self.config.steps
        self.collect = collect
        self._strategy_rows: list[dict[str, Any]] = []
        self._summary_cache: tuple[int, dict[str, np.ndarray]] | None = None
        self.latest_metrics: dict[str, float] = {}
        self.grid: Network | None = None
        if build_agents:
            self._build_agents()
        reporters = {"step": lambda m: m.steps}
        reporters.update({name: _reporter(name) for name in self.metric_names})
        self.datacollector = DataCollector(model_reporters=reporters)

    # --- structure ------------------------------------------------------------------------------

    @property
    def metric_names(self) -> list[str]:
        """Core metrics followed by the scenario's named outcomes."""
        return metrics.metric_names(self.config)

    @property
    def strategies(self) -> list[str]:
        """Strategies in play, in seller order, without repeats."""
        return self.config.strategies_in_play

    def _build_agents(self) -> None:
        graph = self.engine.network.to_networkx()
        n = self.engine.n
        for s, anchors in enumerate(self.engine.anchors[0]):
            graph.add_node(n + s)
            graph.add_edges_from((n + s, int(b)) for b in anchors)
        self.grid = Network(graph, random=self.random, layout=None)
        cells = self.grid._cells
        self.buyers = [Buyer(self, i, cells[i]) for i in range(n)]
        self.sellers = [Seller(self, s, cells[n + s]) for s in range(self.engine.s)]

    def buyer_summary(self) -> dict[str, np.ndarray]:
        """Per-buyer state across sellers (cached for the current step)."""
        if self._summary_cache is None or self._summary_cache[0] != self.engine.day:
            self._summary_cache = (self.engine.day, metrics.buyer_state(self.engine))
        return self._summary_cache[1]

    # --- running --------------------------------------------------------------------------------

    def step(self) -> None:
        """One day."""
        self.engine.step()
        if self.collect:
            sums = metrics.seller_sums(self.engine)
            self.latest_metrics = metrics.compute(self.engine, sums=sums)
            self.datacollector.collect(self)
            for strategy in self.strategies:
                self._strategy_rows.append({
                    "step": self.steps, "strategy": strategy,
                    **metrics.compute(self.engine, self.sellers_of(strategy), sums=sums)})
        self.running = self.engine.day < self.horizon

    def run_model(self) -> None:
        """Run to the scenario's horizon (``steps`` in the scenario file)."""
        self.run_until(self.horizon)

    def metrics_now(self, strategy: str | None = None) -> dict[str, float]:
        """Current metrics, for the whole model or one strategy's sellers."""
        if strategy is None:
            return metrics.compute(self.engine)
        if strategy not in self.strategies:
            raise ValueError(f"strategy = {strategy!r} is not in play; in play: "
                             f"{', '.join(self.strategies)}")
        return metrics.compute(self.engine, self.sellers_of(strategy))

    def sellers_of(self, strategy: str) -> np.ndarray:
        """Indices of the sellers that follow ``strategy``."""
        return self.engine.sellers_of(strategy)

    def metrics_by_strategy(self) -> pd.DataFrame:
        """Tidy frame: one row per step and strategy, one column per metric."""
        return pd.DataFrame(self._strategy_rows, columns=["step", "strategy", *self.metric_names])


def _reporter(name: str):
    def report(model: ReciprocityModel) -> float:
        return model.latest_metrics[name]
    report.__name__ = name
    return report
