"""The :class:`Engine`: the state of one run, or of several runs stacked, and the helpers its
daily phases share. What happens in a day is :func:`sim.engine.day.run_day`."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim import rules
from sim.config import Scenario
from sim.engine.compiled import kernel, positive_part
from sim.engine.day import run_day
from sim.engine.draws import Streams, counter_uniforms
from sim.engine.readings import add_cues
from sim.engine.stack import PerTie, Stack, Ties
from sim.engine.state import (
    CHURNED,
    CUSTOMER,
    OPTED_OUT,
    UNREACHED,
    AskRows,
    BuyerArrays,
    Buyers,
    GiftRows,
    RunParameters,
    SellerPlan,
    Tallies,
    TallyArrays,
    TieArrays,
    TieState,
    felt_debt,
)
from sim.network import BuyerGraph, BuyerNetwork, bfs_order, build_network, padded_union


@dataclass(frozen=True)
class RunInputs:
    """What a run draws before its first day, from its own streams in this order: the buyers'
    network, their traits, each seller's first ties (anchors) and reach order, and the key of
    its behaviour draws. They depend on the scenario's network, population and sellers, not on
    the rule parameters (except ``detection_enabled``), so runs that differ only in rule
    parameters (a calibration) can build them once (:meth:`build`) and share them."""

    graph: BuyerGraph
    population: Buyers
    anchors: list[np.ndarray]
    orders: list[np.ndarray]
    behaviour_key: np.uint64

    @classmethod
    def build(cls, scenario: Scenario, seed: np.random.SeedSequence,
              graph: BuyerGraph | None = None) -> RunInputs:
        streams = Streams.from_seed_sequence(seed)
        n = scenario.buyers.n
        graph = build_network(scenario.network, n, streams.network, graph)
        population = Buyers.draw(scenario, streams.population, graph)
        reach = [scenario.strategy_of(i).reach for i in range(len(scenario.sellers))]
        anchors = [streams.population.choice(n, size=min(n if r.everyone else r.initial, n),
                                             replace=False) for r in reach]
        orders = [bfs_order(graph.network, anchor, streams.population) if anchor.size
                  else streams.population.permutation(n) for anchor in anchors]
        return cls(graph, population, anchors, orders, streams.behaviour_key)


class Engine:
    """Vectorised state and daily update of one model run, or of several runs stacked.

    ``seed`` is one ``SeedSequence`` (one run) or a list of them (one run each). ``scenario`` is
    one scenario for all of them, or a list with one per seed: stacked runs may differ in
    anything (rule parameters, population, network, sellers, strategies). Nothing couples them,
    and each run draws its random numbers exactly as it does alone, so every run stacked gives
    bit for bit the results it gives alone; sweeps and validation stack runs so that the fixed
    cost of a day's numpy calls is paid once for all of them. ``graph`` is a buyer graph handed
    over by the user (one for all runs, or one per run, ``None`` where the scenario's own
    network is used); ``inputs`` each run's :class:`RunInputs` if already built. The layout of
    the arrays is :mod:`sim.engine.stack`'s.
    """

    def __init__(self, scenario: Scenario | Sequence[Scenario],
                 seed: np.random.SeedSequence | Sequence[np.random.SeedSequence], *,
                 record_events: bool = False,
                 graph: BuyerGraph | Sequence[BuyerGraph | None] | None = None,
                 inputs: Sequence[RunInputs | None] | None = None):
        seeds = [seed] if isinstance(seed, np.random.SeedSequence) else list(seed)
        if not seeds:
            raise ValueError("seed: at least one SeedSequence is needed")
        scenarios = (list(scenario) if isinstance(scenario, Sequence)
                     else [scenario] * len(seeds))
        graphs = list(graph) if isinstance(graph, Sequence) else [graph] * len(seeds)
        inputs = list(inputs) if inputs is not None else [None] * len(seeds)
        if len(scenarios) != len(seeds) or len(graphs) != len(seeds):
            raise ValueError(f"scenario, graph: {len(scenarios)} scenarios and {len(graphs)} "
                             f"graphs for {len(seeds)} seeds")
        if record_events and len(seeds) > 1:
            raise ValueError("record_events: events are kept for one run, not a stack "
                             f"of {len(seeds)}")
        self.scenarios = scenarios
        self.scenario = scenarios[0]
        self.stack = Stack.of([len(sc.sellers) for sc in scenarios],
                              [sc.buyers.n for sc in scenarios])
        self.rules = RunParameters(scenarios, self.stack)
        self.plan = SellerPlan.of(scenarios)
        self.day = 0
        self.record_events = record_events
        self.events: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.warning_counts: np.ndarray | None = None
        self._build_runs(scenarios, seeds, graphs, inputs)
        self.tallies = Tallies(self.rows)
        self.state = TieState.start((self.rows, self.n), self.rules.initial_trust)
        self._readings: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def _build_runs(self, scenarios: list[Scenario], seeds: list[np.random.SeedSequence],
                    graphs: list[BuyerGraph | None], inputs: list[RunInputs | None]) -> None:
        """Lay the runs' networks, populations, first ties and reach orders side by side."""
        built = [given if given is not None else RunInputs.build(sc, seq, graph)
                 for sc, seq, graph, given in zip(scenarios, seeds, graphs, inputs, strict=True)]
        self.anchors: list[list[np.ndarray]] = [run.anchors for run in built]
        """``anchors[run][seller]``: the buyers each seller starts from (its own ties)."""
        self.graphs: list[BuyerGraph] = [run.graph for run in built]
        self.network: BuyerNetwork = padded_union([run.graph.network for run in built], self.n)
        self.buyers = Buyers.stack([run.population for run in built], self.n)
        orders = [order for run in built for order in run.orders]
        self.reach_order = np.concatenate(orders)
        """Every row's buyers in the order it reaches them (its run's columns), row after row."""
        self.reach_start = np.concatenate([[0], np.cumsum([o.size for o in orders])[:-1]])
        self.reach_cursor = np.zeros(self.rows, dtype=np.int64)
        self.behaviour_keys = np.array([run.behaviour_key for run in built], dtype=np.uint64)

    # --- layout -------------------------------------------------------------------------------

    @property
    def n(self) -> int:
        """Columns of the tie arrays: the buyers of a run (the most of any, when stacked)."""
        return self.stack.width

    @property
    def s(self) -> int:
        """Sellers of the first run."""
        return int(self.stack.sellers[0])

    @property
    def runs(self) -> int:
        return self.stack.runs

    @property
    def rows(self) -> int:
        return self.stack.rows

    @property
    def buyer_labels(self) -> np.ndarray:
        """The first run's buyers' original labels (their indices for generated networks)."""
        labels = self.graphs[0].labels
        return np.arange(self.graphs[0].n) if labels is None else labels

    def sellers_of(self, strategy: str, run: int = 0) -> np.ndarray:
        """Rows of ``run``'s sellers that follow ``strategy`` (for the first run, the sellers'
        own indices)."""
        names = [seller.strategy for seller in self.scenarios[run].sellers]
        return self.stack.first_row[run] + np.flatnonzero(np.array(names) == strategy)

    # --- helpers the phases share ---------------------------------------------------------------

    def ties(self, mask: np.ndarray) -> Ties:
        """The ties where ``mask`` is set."""
        return Ties.of(mask, self.stack)

    def params(self, ties: Ties) -> PerTie | RunParameters:
        """Rule parameters and context settings, looked up for ``ties`` (plain values when every
        run shares them)."""
        return self.rules if self.rules.uniform else PerTie(self.rules, ties.row)

    # --- what compiled kernels take (views of the arrays above, made once) ---------------------

    @functools.cached_property
    def tie_arrays(self) -> TieArrays:
        return self.state.flat()

    @functools.cached_property
    def buyer_arrays(self) -> BuyerArrays:
        return self.buyers.arrays()

    @functools.cached_property
    def tally_arrays(self) -> TallyArrays:
        return self.tallies.arrays()

    @functools.cached_property
    def ask_rows(self) -> AskRows:
        return self.plan.ask.by_row()

    @functools.cached_property
    def gift_rows(self) -> GiftRows:
        return self.plan.gift.by_row()

    def reading_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The cached sincerity, reading and imputed motive per tie, flattened (views): a kernel
        that adds cues keeps them current (:func:`add_cue`)."""
        return tuple(array.ravel() for array in self.readings())

    @functools.cached_property
    def row_keys(self) -> np.ndarray:
        """The behaviour key of each seller row's run (what a kernel that draws takes)."""
        return self.behaviour_keys[self.stack.row_run]

    def draw(self, day: int, purpose: int | tuple[int, ...], ties: Ties) -> np.ndarray:
        """Behaviour draws for ``ties``, each addressed within its own run and keyed by that
        run's behaviour stream (one row per purpose when ``purpose`` is a tuple)."""
        key = (self.behaviour_keys[0] if self.runs == 1
               else self.behaviour_keys[self.stack.row_run[ties.row]])
        return counter_uniforms(day, purpose, self.stack.draw_address(ties), key)

    def flag(self, ties: Ties, flag: np.ndarray, tally: str, where=None) -> Ties:
        """Set a once-only tie flag on ``ties`` (where ``where``); count newly set ones per seller
        in ``tallies.<tally>``; return the newly set."""
        where = np.ones(ties.size, dtype=bool) if where is None else where
        return ties.where(_set_once(flag.ravel(), ties.index, ties.row, where,
                                    getattr(self.tallies, tally)))

    def record(self, kind: str, ties: Ties, mask: np.ndarray | None = None) -> None:
        """Keep today's ``kind`` events (``ties`` where ``mask``) when events are recorded."""
        if self.record_events:
            chosen = ties if mask is None else ties.where(mask)
            self.events[kind] = (chosen.row, chosen.buyer)

    def add_suspicion(self, ties: Ties, cues) -> None:
        """Add persuasion cues seen by ``ties`` (rule 7; one value, or one per tie), keeping the
        cached readings and the backfire record current (:func:`add_cue` on each tie)."""
        cues = np.asarray(cues, dtype=float)
        add_cues(ties.index, ties.row, ties.buyer, cues if cues.ndim else np.full(ties.size, cues),
                  self.tie_arrays, self.buyer_arrays, self.rules.by_row, self.reading_arrays(),
                  self.tally_arrays)

    def _readings_of(self, suspicion: np.ndarray, skill: np.ndarray, p) -> tuple[np.ndarray, ...]:
        """Rule 7: sincerity, reading and imputed motive from suspicion and skill."""
        sincerity = rules.perceived_sincerity(suspicion, skill, prior=p.prior_sincerity)
        reading = rules.read_motive(sincerity, tactic_threshold=p.tactic_threshold,
                                    manipulation_threshold=p.manipulation_threshold)
        motive = rules.imputed_motive(reading, sincerity,
                                      manipulation_penalty=p.manipulation_penalty)
        return sincerity, reading, motive

    def readings(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sincerity, reading and imputed motive per tie, cached: :meth:`add_suspicion` updates
        the cache for the ties it touches."""
        if self._readings is None:
            self._readings = self._readings_of(
                self.state.suspicion, self.stack.by_tie(self.buyers.detection_skill), self.rules)
        return self._readings

    @property
    def sincerity(self) -> np.ndarray:
        """Perceived sincerity of each seller, per tie (rule 7)."""
        return self.readings()[0]

    @property
    def reading(self) -> np.ndarray:
        """SINCERE, TACTIC or MANIPULATION, per tie (rule 7)."""
        return self.readings()[1]

    @property
    def status(self) -> np.ndarray:
        return self.state.status

    @property
    def trust(self) -> np.ndarray:
        return self.state.trust

    @property
    def last_gift_day(self) -> np.ndarray:
        return self.state.last_gift_day

    def effective_obligation(self) -> np.ndarray:
        """Felt debt towards each seller, in units of the stakes: what gifts left (obligation and
        gratitude) weighed by the motive read, plus concessions. Negative where a gift was read
        as manipulation or restricted an important freedom (resentment).
        (:func:`sim.engine.state.felt_debt` for every tie.)"""
        st = self.state
        return _felt_debt(st.gross, st.gratitude, self.readings()[2], st.concession)

    def step(self) -> None:
        """Advance one day (:func:`sim.engine.day.run_day`)."""
        run_day(self)

    # --- what metrics and agents read -----------------------------------------------------------

    def seller_sums(self) -> dict[str, np.ndarray]:
        """Numerators and denominators of every metric, summed per seller row.

        Counts of once-only events (reached, converted, complained...) are the tallies kept as
        they happen; only the current-state means (trust, sincerity, obligation) take a pass over
        the tie arrays. Every metric is a ratio of these sums (:mod:`sim.metrics`).
        """
        st, sums = self.state, self.stack.row_sums
        sincerity, _, motive = self.readings()
        trust, sincerity, owed = _over_reached(st.status, st.trust, sincerity, st.gross,
                                               st.gratitude, motive, st.concession)
        return {
            "trust": sums(trust),
            "sincerity": sums(sincerity),
            "owed": sums(owed),
            "discounted": self.tallies.conversions * self.plan.ask.discount[:, 0],
            **self.tallies.as_dict(),
        }

    def reached(self, seller: int, run: int = 0) -> np.ndarray:
        """Which of ``run``'s buyers ``seller`` (its index within the run) has reached."""
        row = self.stack.first_row[run] + seller
        return self.state.status[row, : self.stack.buyers[run]] != UNREACHED

    def buyer_state(self, run: int = 0) -> dict[str, np.ndarray]:
        """Per-buyer summaries across a run's sellers, for agents and the app."""
        status = self.stack.block(self.state.status, run)
        customer = (status == CUSTOMER).any(axis=0)
        churned = (status == CHURNED).any(axis=0) & ~customer
        opted = (status == OPTED_OUT).any(axis=0) & ~customer & ~churned
        reached = (status != UNREACHED).any(axis=0)
        state = np.full(status.shape[1], "unreached", dtype=object)
        state[reached] = "prospect"
        state[opted] = "opted out"
        state[churned] = "churned"
        state[customer] = "customer"
        owed = np.maximum(self.stack.block(self.effective_obligation(), run), 0.0).sum(axis=0)
        manipulated = self.stack.block(self.state.accepted_gift & (self.reading
                                                                   == rules.MANIPULATION), run)
        return {"state": state, "obligation": owed, "read_as_manipulation": manipulated.any(axis=0)}


@kernel
def _set_once(flag, index, row, where, counts):
    """:meth:`Engine.flag`: set ``flag`` at ``index`` where ``where`` and not yet set, counting
    the ties newly set per row in ``counts``; which were newly set."""
    new = np.empty(index.size, dtype=np.bool_)
    for i in range(index.size):
        new[i] = where[i] and not flag[index[i]]
        if new[i]:
            flag[index[i]] = True
            counts[row[i]] += 1
    return new


@kernel
def _felt_debt(gross, gratitude, motive, concession):
    """:meth:`Engine.effective_obligation` in one pass: ``(gross + gratitude) * motive +
    concession`` per tie."""
    out = np.empty(gross.shape)
    flat = out.ravel()
    gross, gratitude, concession = gross.ravel(), gratitude.ravel(), concession.ravel()
    motive = motive.ravel()
    for tie in range(flat.size):
        flat[tie] = felt_debt(gross[tie], gratitude[tie], motive[tie], concession[tie])
    return out


@kernel
def _over_reached(status, trust, sincerity, gross, gratitude, motive, concession):
    """Trust, sincerity and positive felt debt (:meth:`Engine.effective_obligation`) per tie, 0
    where the seller has not reached the buyer (what :meth:`Engine.seller_sums` sums per row)."""
    trust_out, sincerity_out, owed_out = (np.empty(status.shape), np.empty(status.shape),
                                          np.empty(status.shape))
    t, s, o = trust_out.ravel(), sincerity_out.ravel(), owed_out.ravel()
    status, trust, sincerity = status.ravel(), trust.ravel(), sincerity.ravel()
    gross, gratitude, motive, concession = (gross.ravel(), gratitude.ravel(), motive.ravel(),
                                            concession.ravel())
    for tie in range(status.size):
        reached = 1.0 if status[tie] != UNREACHED else 0.0
        t[tie], s[tie] = trust[tie] * reached, sincerity[tie] * reached
        o[tie] = positive_part(felt_debt(gross[tie], gratitude[tie], motive[tie],
                                         concession[tie])) * reached
    return trust_out, sincerity_out, owed_out
