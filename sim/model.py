"""``ReciprocityModel``: the mesa 3.5 model of buyers and sellers under the norm of reciprocity."""

from __future__ import annotations

import bisect
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mesa import Model
from mesa.datacollection import DataCollector

from sim import metrics
from sim.config import Scenario, load_scenario
from sim.engine import Engine, seed_sequence_from
from sim.network import BuyerGraph, from_networkx

BY_STRATEGY = "by_strategy"
"""The DataCollector table with one row per step and strategy."""


class ReciprocityModel(Model):
    """Buyers and sellers on a network exchanging gifts and asks.

    Args:
        scenario: a shipped scenario name, a path to a TOML file, or a loaded ``Scenario``.
        arm: one of the scenario's named conditions.
        overrides: dotted keys applied last, e.g. ``{"buyers.n": 500}``.
        rng: int, SeedSequence or Generator (as mesa 3.5); one seed gives identical results.
        graph: your own buyer network, any networkx graph: its nodes are the buyers (``buyers.n``
            follows it), node attributes named like buyer traits (``budget``, ``need``,
            ``detection_skill``, ``reactance_proneness``, ``base_compliance``, ``base_amount``,
            ``reciprocator``, ``gift_rules``, ``punisher``, ``segment``) become those buyers'
            traits, and the node labels are kept (:attr:`buyer_labels`).
        build_agents: offer mesa ``Buyer``/``Seller`` agents on a ``Network`` space. They are
            built when first used (``model.buyers``, ``model.agents``, ``model.grid``...), so a
            run that never reads them pays nothing; results are identical either way. False:
            never build them.
        collect: record metrics every step in ``datacollector`` (model level, and the
            ``"by_strategy"`` table that :meth:`metrics_by_strategy` returns).
        record_events: keep each step's events (who gave, asked, complained...) for the app.

    >>> model = ReciprocityModel("pushy_vs_active", rng=7, overrides={"buyers.n": 200})
    >>> model.run_for(5)
    >>> len(model.datacollector.get_model_vars_dataframe())
    5
    """

    def __init__(self, scenario: str | Path | Scenario = "pushy_vs_active", *,
                 arm: str | None = None, overrides: Mapping[str, Any] | None = None,
                 rng: Any = None, graph: Any = None, build_agents: bool = True,
                 collect: bool = True, record_events: bool = False):
        super().__init__(rng=rng)
        buyer_graph = None
        if graph is not None:
            buyer_graph = graph if isinstance(graph, BuyerGraph) else from_networkx(graph)
        self.config: Scenario = load_scenario(
            scenario, arm=arm, overrides=overrides,
            graph_nodes=None if buyer_graph is None else buyer_graph.n)
        self.seed_sequence = seed_sequence_from(rng if rng is not None else self.rng)
        self.seed_entropy = self.seed_sequence.entropy
        self.engine = Engine(self.config, self.seed_sequence, record_events=record_events,
                             graph=buyer_graph)
        self.horizon = self.config.steps
        self.collect = collect
        self._summary_cache: tuple[int, dict[str, np.ndarray]] | None = None
        self.latest_metrics: dict[str, float] = {}
        """The whole model's metrics after the last step (with ``collect``)."""
        self.latest_by_strategy: dict[str, dict[str, float]] = {}
        """Each strategy's metrics after the last step (with ``collect``)."""
        self._agents_offered = build_agents
        self._grid = None
        reporters = {"step": lambda m: m.steps}
        reporters.update({name: _reporter(name) for name in self.metric_names})
        self.datacollector = DataCollector(
            model_reporters=reporters,
            tables={BY_STRATEGY: ["step", "strategy", *self.metric_names]})

    # --- structure ------------------------------------------------------------------------------

    @property
    def metric_names(self) -> list[str]:
        """Core metrics followed by the scenario's named outcomes."""
        return metrics.metric_names(self.config)

    @property
    def strategies(self) -> list[str]:
        """Strategies in play, in seller order, without repeats."""
        return self.config.strategies_in_play

    @property
    def buyer_labels(self) -> np.ndarray:
        """Each buyer's original label: the node of the graph or network file it came from (its
        index for generated networks). Per-buyer outputs are keyed by it."""
        return self.engine.buyer_labels

    # --- mesa agents, built on first use ----------------------------------------------------------

    @property
    def grid(self):
        """mesa's ``Network`` space: buyers' cells ``0..n-1``, then one cell per seller tied to
        the buyers it starts from."""
        self._build_agents()
        return self._grid

    @property
    def buyers(self) -> list:
        self._build_agents()
        return self._buyers

    @property
    def sellers(self) -> list:
        self._build_agents()
        return self._sellers

    @property
    def agents(self):
        self._build_agents(required=False)
        return super().agents

    @property
    def agents_by_type(self):
        self._build_agents(required=False)
        return super().agents_by_type

    @property
    def agent_types(self) -> list[type]:
        self._build_agents(required=False)
        return super().agent_types

    def _build_agents(self, required: bool = True) -> None:
        if "engine" not in self.__dict__ or self._grid is not None:
            return  # mesa's own set-up reads the agent sets before there is anything to build
        if not self._agents_offered:
            if required:
                raise AttributeError("this model was made with build_agents=False: it has no "
                                     "mesa agents or Network space")
            return
        from mesa.discrete_space import Network

        from sim.agents import Buyer, Seller

        graph = self.engine.network.to_networkx()
        n = self.engine.n
        for s, anchors in enumerate(self.engine.anchors[0]):
            graph.add_node(n + s)
            graph.add_edges_from((n + s, int(b)) for b in anchors)
        grid = Network(graph, random=self.random, layout=None)
        cells = grid._cells
        self._buyers = [Buyer(self, i, cells[i]) for i in range(n)]
        self._sellers = [Seller(self, s, cells[n + s]) for s in range(self.engine.s)]
        self._grid = grid

    def buyer_summary(self) -> dict[str, np.ndarray]:
        """Per-buyer state across sellers (cached for the current step)."""
        if self._summary_cache is None or self._summary_cache[0] != self.engine.day:
            self._summary_cache = (self.engine.day, self.engine.buyer_state())
        return self._summary_cache[1]

    # --- running --------------------------------------------------------------------------------

    def step(self) -> None:
        """One day."""
        self.engine.step()
        if self.collect:
            values = metrics.evaluate_many(self.engine.seller_sums(), self._selections,
                                           self.config.outcomes)
            self.latest_metrics = values[None]
            self.latest_by_strategy = {strategy: values[strategy] for strategy in self.strategies}
            self.datacollector.collect(self)
            for strategy in self.strategies:
                self.datacollector.add_table_row(
                    BY_STRATEGY, {"step": self.steps, "strategy": strategy, **values[strategy]})
        self.running = self.engine.day < self.horizon

    @functools.cached_property
    def _selections(self) -> dict[str | None, np.ndarray]:
        """The seller rows each step's metrics are taken over: all, then each strategy's (they
        do not change during a run)."""
        return {None: self.engine.stack.rows_of(0),
                **{strategy: self.sellers_of(strategy) for strategy in self.strategies}}

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
        return self.datacollector.get_table_dataframe(BY_STRATEGY)

    def metric_rows(self, since: int = 0) -> list[dict[str, Any]]:
        """The rows collected after step ``since``, as dicts: for each step, the whole model
        (``strategy = "all"``) then each strategy. Reads only the new rows (the app calls it
        every redraw)."""
        model_vars = self.datacollector.model_vars
        table = self.datacollector.tables[BY_STRATEGY]
        first = bisect.bisect_right(model_vars["step"], since)
        per_step = len(self.strategies)
        rows = []
        for i in range(first, len(model_vars["step"])):
            rows.append({**{name: values[i] for name, values in model_vars.items()},
                         "strategy": "all"})
            for j in range(i * per_step, (i + 1) * per_step):
                rows.append({name: values[j] for name, values in table.items()})
        return rows


def _reporter(name: str):
    def report(model: ReciprocityModel) -> float:
        return model.latest_metrics[name]
    report.__name__ = name
    return report
