"""The vectorised state of a reciprocity model and its daily update.

All hot state lives in numpy arrays: per buyer (traits), per seller (strategy parameters, tallies)
and per seller-buyer tie (obligation, suspicion, trust, reactance, status...). One day is one
``Engine.step``; every rule of :mod:`sim.rules` is applied to whole tie arrays at once. Mesa agents
(:mod:`sim.agents`) read this state through properties; the engine never loops over agents.

Random numbers come from three independent streams spawned from one ``SeedSequence``: the
network, the population, and behaviour. Behaviour draws are counter-based (:func:`counter_uniforms`):
each is addressed by (day, purpose, tie), so it does not depend on which other draws were made.
Only the ties that need a draw compute one, and two arms of a scenario run on the same seed share
network, population and every daily draw (common random numbers).

One engine can hold several runs stacked (one seed each; the same scenario, or scenarios that
differ only in what each run lays out for itself: see :func:`stack_key`): their sellers are the
rows of the tie arrays (run-major), their buyers a disjoint union of networks. Every run keeps its
own streams and draw keys, so each gives exactly the numbers it gives alone; sweeps stack runs so
that the fixed cost of a day's numpy calls is paid once for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim import rules
from sim.config import Scenario
from sim.network import BuyerNetwork, bfs_order, build_network, disjoint_union

# Tie status codes.
UNREACHED, PROSPECT, CUSTOMER, CHURNED, OPTED_OUT = 0, 1, 2, 3, 4
STATUS_NAMES = {UNREACHED: "unreached", PROSPECT: "prospect", CUSTOMER: "customer",
                CHURNED: "churned", OPTED_OUT: "opted out"}
RETENTION_DAYS = 90

# Purposes of behaviour draws: part of each draw's address (see counter_uniforms).
(U_GATE, U_YES, U_REPLY, U_RETALIATE, U_OPT_OUT, U_CHURN, U_REFER, U_DISCOVER, U_ROUND,
 U_WARN) = range(10)

EVENT_KINDS = ("gift", "gift_refused", "ask", "yes", "no", "ignored", "tactic", "manipulation",
               "complaint", "warning", "referral", "opt_out", "churn", "deception_found")


def _trait(rng, spec, n, low, high):
    values = spec.mean + spec.sd * rng.standard_normal(n) if spec.sd > 0 else np.full(n, spec.mean)
    return np.clip(values, low, high)


def _logit(p):
    return np.log(p / (1.0 - p))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def counter_uniforms(day: int, purpose: int, index: np.ndarray, key) -> np.ndarray:
    """Counter-based uniform draws in [0, 1): draw (day, purpose, tie) is a hash of that address
    and a key, so draws can be made for any subset of ties, in any order, and stay the same.

    The hash is the SplitMix64 output function (Steele, Lea & Flood 2014) applied to a Weyl
    sequence over the address, as in numpy's own seeding; 53 bits make the double. ``key`` may be
    an array (one key per draw), for replications stacked in one engine.

    >>> a = counter_uniforms(3, 1, np.arange(5), key=7)
    >>> bool(((a >= 0) & (a < 1)).all())
    True
    >>> bool((counter_uniforms(3, 1, np.array([4, 2]), key=7) == a[[4, 2]]).all())
    True
    """
    address = (np.uint64(day) << np.uint64(40)) | (np.uint64(purpose) << np.uint64(36))
    z = (np.asarray(index, dtype=np.uint64) | address) * _GOLDEN + np.asarray(key, np.uint64)
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z ^= z >> np.uint64(31)
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def seed_sequence_from(rng: Any) -> np.random.SeedSequence:
    """The root ``SeedSequence`` for an ``rng`` argument as mesa 3.5 takes it.

    An int or a SeedSequence gives a reproducible root; a Generator is drawn from once; None
    takes fresh entropy (recorded in ``model.seed_entropy``).
    """
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if isinstance(rng, np.random.Generator):
        return np.random.SeedSequence(int(rng.integers(2**63)))
    if isinstance(rng, np.random.BitGenerator):
        return np.random.SeedSequence(int(np.random.Generator(rng).integers(2**63)))
    return np.random.SeedSequence(rng)


@dataclass
class Streams:
    """The model's independent random streams, spawned from one seed."""

    network: np.random.Generator
    population: np.random.Generator
    behaviour_key: np.uint64
    """The key of this run's :func:`counter_uniforms` draws."""

    @classmethod
    def from_seed_sequence(cls, seq: np.random.SeedSequence) -> Streams:
        net, pop, beh = seq.spawn(3)
        return cls(np.random.default_rng(net), np.random.default_rng(pop),
                   beh.generate_state(1, dtype=np.uint64)[0])


@dataclass
class Buyers:
    """Per-buyer traits (RECIPROCITY.md "Who"), drawn once from the population stream."""

    need: np.ndarray
    budget: np.ndarray
    detection_skill: np.ndarray
    reactance_proneness: np.ndarray
    reciprocator: np.ndarray
    gift_rules: np.ndarray
    punisher: np.ndarray
    base_logit: np.ndarray
    base_amount: np.ndarray

    @classmethod
    def draw(cls, scenario: Scenario, rng: np.random.Generator) -> Buyers:
        b, n = scenario.buyers, scenario.buyers.n
        skill = _trait(rng, b.detection_skill, n, 0.0, 1.0)
        if not scenario.rules.detection_enabled:
            skill = np.zeros(n)
        return cls(
            need=_trait(rng, b.need, n, 0.0, 1.0),
            budget=_trait(rng, b.budget, n, 1.0, np.inf),
            detection_skill=skill,
            reactance_proneness=_trait(rng, b.reactance_proneness, n, 0.0, 1.0),
            reciprocator=rng.random(n) < b.reciprocator_share,
            gift_rules=rng.random(n) < b.gift_rules_share,
            punisher=rng.random(n) < b.punisher_share,
            base_logit=_logit(b.base_compliance) + b.compliance_sd * rng.standard_normal(n),
            base_amount=_trait(rng, b.base_amount, n, 0.0, np.inf),
        )

    @classmethod
    def stack(cls, populations: list[Buyers]) -> Buyers:
        """The buyers of several replications, one after the other."""
        if len(populations) == 1:
            return populations[0]
        return cls(**{name: np.concatenate([getattr(pop, name) for pop in populations])
                      for name in cls.__dataclass_fields__})


@dataclass
class Tallies:
    """Per-seller running totals (cumulative counts and sums)."""

    n_sellers: int
    revenue: np.ndarray = field(init=False)
    referrals: np.ndarray = field(init=False)
    warnings_sent: np.ndarray = field(init=False)
    conversions: np.ndarray = field(init=False)
    amount_total: np.ndarray = field(init=False)
    amount_asks: np.ndarray = field(init=False)
    asks_answered_yes: np.ndarray = field(init=False)
    asks_made: np.ndarray = field(init=False)
    first_asks: np.ndarray = field(init=False)
    first_asks_yes: np.ndarray = field(init=False)
    conceded_asks: np.ndarray = field(init=False)
    conceded_asks_yes: np.ndarray = field(init=False)
    # ties whose once-only flag was set (counted when it flips, so metrics need no full pass)
    reached: np.ndarray = field(init=False)
    offered: np.ndarray = field(init=False)
    accepted: np.ndarray = field(init=False)
    asked: np.ndarray = field(init=False)
    replied: np.ndarray = field(init=False)
    complained: np.ndarray = field(init=False)
    backfired: np.ndarray = field(init=False)
    opted_out: np.ndarray = field(init=False)
    churned: np.ndarray = field(init=False)
    churned_within_90d: np.ndarray = field(init=False)
    days_to_convert: np.ndarray = field(init=False)

    def __post_init__(self):
        for name in self.__dataclass_fields__:
            if name != "n_sellers":
                setattr(self, name, np.zeros(self.n_sellers))


@dataclass(frozen=True)
class _Ties:
    """A subset of seller-buyer ties, as flat indices into the (rows, buyers) tie arrays.

    ``seller`` is the row (replication * sellers + seller) and ``buyer`` the buyer across
    replications (replication * buyers + buyer); with one replication both are the plain indices.
    """

    index: np.ndarray
    seller: np.ndarray
    buyer: np.ndarray

    @classmethod
    def of(cls, mask: np.ndarray, sellers: int) -> _Ties:
        """The ties where ``mask`` (rows, buyers) is set; ``sellers`` per replication."""
        index = np.flatnonzero(mask)
        n = mask.shape[1]
        row = index // n
        buyer = index - row * n
        if mask.shape[0] > sellers:
            buyer += row // sellers * n
        return cls(index, row, buyer)

    @classmethod
    def of_seller(cls, seller: int, buyers: np.ndarray, sellers: int, n: int) -> _Ties:
        """The ties of seller number ``seller`` (in every replication) with ``buyers``."""
        replication = buyers // n
        row = replication * sellers + seller
        return cls(row * n + buyers - replication * n, row, buyers)

    @property
    def size(self) -> int:
        return int(self.index.size)

    def where(self, mask: np.ndarray) -> _Ties:
        return _Ties(self.index[mask], self.seller[mask], self.buyer[mask])

    def get(self, array: np.ndarray) -> np.ndarray:
        return array.reshape(-1)[self.index]

    def put(self, array: np.ndarray, values) -> None:
        array.reshape(-1)[self.index] = values

    def add(self, array: np.ndarray, values) -> None:
        array.reshape(-1)[self.index] += values

    def params(self, columns: dict[str, np.ndarray]) -> _TieParams:
        """Strategy parameters ((rows, 1) columns) for each tie, looked up when first read."""
        return _TieParams(columns, self.seller)

    def per_seller(self, values: np.ndarray, n_sellers: int) -> np.ndarray:
        """Sum of ``values`` (one per tie) per seller row."""
        return np.bincount(self.seller, weights=values, minlength=n_sellers)

    def count(self, n_sellers: int, where: np.ndarray | None = None) -> np.ndarray:
        """Number of ties (where ``where``) per seller row."""
        seller = self.seller if where is None else self.seller[where]
        return np.bincount(seller, minlength=n_sellers)


class _TieParams(dict):
    """Strategy parameters per tie, each taken from its (rows, 1) column on first use: a phase
    reads only some of a strategy's many parameters."""

    def __init__(self, columns: dict[str, np.ndarray], seller: np.ndarray):
        super().__init__()
        self._columns, self._seller = columns, seller

    def __missing__(self, name: str) -> np.ndarray:
        value = self[name] = self._columns[name][self._seller, 0]
        return value


def stack_key(scenario: Scenario) -> str:
    """What runs stacked in one engine must share: everything but the network, the buyers' trait
    distributions and the strategies' gifts and asks (which each replication draws or lays out
    for itself). Two scenarios with the same key can be stacked (:class:`Engine`)."""
    data = scenario.model_dump(mode="json", exclude={"name", "source", "arm", "guide", "arms",
                                                     "network", "strategies"})
    data["buyers"] = {key: value for key, value in data["buyers"].items()
                      if key not in STACKABLE_BUYER_FIELDS}
    data["sellers"] = [{"name": seller["name"], "strategy": seller["strategy"]}
                       for seller in data["sellers"]]
    data["reach"] = [scenario.strategy_of(i).reach.model_dump(mode="json")
                     for i in range(len(scenario.sellers))]
    return repr(data)


STACKABLE_BUYER_FIELDS = frozenset({
    "need", "budget", "detection_skill", "reactance_proneness", "reciprocator_share",
    "gift_rules_share", "punisher_share", "base_compliance", "compliance_sd", "base_amount"})
"""Buyer fields drawn into per-buyer arrays, so they may differ between stacked runs."""


class Engine:
    """Vectorised state and daily update of one model run, or of several runs stacked.

    ``seed`` is one ``SeedSequence`` (one run) or a list of them (one run each, stacked: see the
    module docstring). ``scenario`` is one scenario for all of them, or a list, one per seed, of
    scenarios with the same :func:`stack_key` (runs of several design points). Tie arrays have
    one row per seller and run (``rows = replications * s``) and one column per buyer of a run
    (``n``); per-seller tallies have one entry per row.
    """

    def __init__(self, scenario: Scenario | list[Scenario],
                 seed: np.random.SeedSequence | list[np.random.SeedSequence], *,
                 record_events: bool = False):
        seeds = [seed] if isinstance(seed, np.random.SeedSequence) else list(seed)
        scenarios = list(scenario) if isinstance(scenario, list) else [scenario] * len(seeds)
        if not seeds:
            raise ValueError("seed: at least one SeedSequence is needed")
        if len(scenarios) != len(seeds):
            raise ValueError(f"scenario: {len(scenarios)} scenarios for {len(seeds)} seeds")
        distinct = {id(sc): sc for sc in scenarios}.values()
        if len(distinct) > 1 and len({stack_key(sc) for sc in distinct}) > 1:
            raise ValueError("scenario: these scenarios differ in more than what stacked runs may "
                             "(the network, buyer traits, gifts and asks); run them apart")
        if record_events and len(seeds) > 1:
            raise ValueError("record_events: events are kept for one replication, not a stack "
                             f"of {len(seeds)}")
        self.scenarios = scenarios
        scenario = scenarios[0]
        self.scenario = scenario
        self.p = scenario.rules
        self.n = scenario.buyers.n
        self.s = len(scenario.sellers)
        self.replications = len(seeds)
        self.rows = self.replications * self.s
        self.day = 0
        self.record_events = record_events
        self.events: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.warning_counts: np.ndarray | None = None
        self._load_strategies()

        networks, populations, self.anchors, orders, keys = [], [], [], [], []
        for run, streams in zip(scenarios, map(Streams.from_seed_sequence, seeds), strict=True):
            network = build_network(run.network, self.n, streams.network)
            populations.append(Buyers.draw(run, streams.population))
            anchors = [streams.population.choice(self.n, size=min(k, self.n), replace=False)
                       for k in self._reach_initial.astype(int)]
            orders.append(np.stack([
                bfs_order(network, anchor, streams.population) if anchor.size
                else streams.population.permutation(self.n) for anchor in anchors]))
            networks.append(network)
            self.anchors.append(anchors)
            keys.append(streams.behaviour_key)
        # self.anchors[replication][seller]: the buyers each seller starts from (its own ties)
        self.network: BuyerNetwork = disjoint_union(networks)
        self.buyers = Buyers.stack(populations)
        self.reach_order = np.stack(orders)      # (replications, sellers, n)
        self._behaviour_keys = np.array(keys, dtype=np.uint64)
        self._reach_cursor = np.zeros(self.s, dtype=np.int64)
        self.tallies = Tallies(self.rows)
        self._init_ties()

    # --- set-up ---------------------------------------------------------------------------------

    def _load_strategies(self):
        """Strategy parameters as (rows, 1) columns that broadcast over buyers."""
        sellers = [seller for run in self.scenarios for seller in run.sellers]
        strategies = [run.strategy_of(i) for run in self.scenarios for i in range(self.s)]

        def per_row(values, dtype=float):
            """A (rows, 1) column: one value per seller of each run."""
            return np.array(values, dtype=dtype)[:, None]

        def col(get, dtype=float):
            return per_row([get(st) for st in strategies], dtype)

        reach = [st.reach for st in strategies[:self.s]]  # the same in every run (stack_key)
        self._reach_initial = np.array([self.n if r.everyone else r.initial for r in reach],
                                       dtype=float)
        self._reach_per_day = np.array([r.per_day for r in reach], dtype=float)
        self._reach_max = np.array([r.max_share for r in reach], dtype=float)
        g = {name: col(lambda st, name=name: getattr(st.gift, name))
             for name in ("value", "quantity", "cost_to_means", "personalised", "surprise",
                          "usefulness", "first_day", "every", "max_gifts", "after_sale_every")}
        g["claimed_value"] = col(lambda st: st.gift.claimed_value if st.gift.claimed_value
                                 is not None else st.gift.value)
        for flag in ("unexpected_second", "conditional", "gated", "hidden_conditions"):
            g[flag] = col(lambda st, flag=flag: getattr(st.gift, flag), bool)
        a = {name: col(lambda st, name=name: getattr(st.ask, name))
             for name in ("size", "delay", "every", "max_asks", "urgency", "concede_to",
                          "repeat_every", "discount")}
        a["revenue"] = col(lambda st: st.ask.revenue if st.ask.revenue is not None else st.ask.size)
        for flag in ("follow_up_after_no", "opt_out", "choice_of_response", "implicit", "integer"):
            a[flag] = col(lambda st, flag=flag: getattr(st.ask, flag), bool)
        a["amount_mode"] = col(lambda st: st.ask.mode == "amount", bool)
        a["asks"] = per_row([sel.asks for sel in sellers], bool)
        self.gift, self.ask = g, a
        self.thanks = col(lambda st: st.thank, bool)
        self.liking = per_row([sel.likeability for sel in sellers])
        self.strategy_names = [sel.strategy for sel in self.scenario.sellers]

    def _init_ties(self):
        shape = (self.rows, self.n)
        self.status = np.zeros(shape, dtype=np.int8)
        self.contact_day = np.full(shape, -1, dtype=np.int32)
        self.gross = np.zeros(shape)          # felt gift debt before the motive reading (>= 0)
        self.concession = np.zeros(shape)     # debt from a requester's concession (>= 0)
        self.given = np.zeros(shape)          # nominal dollars given (for rough equivalence)
        self.suspicion = np.zeros(shape)      # summed cues seen; reset _readings on change
        self._readings: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.trust = np.full(shape, self.scenario.buyers.initial_trust)
        self.reactance = np.zeros(shape)
        self.gifts_offered = np.zeros(shape, dtype=np.int32)
        self.last_offer_day = np.full(shape, -1, dtype=np.int32)
        self.first_gift_day = np.full(shape, -1, dtype=np.int32)   # gifts received
        self.last_gift_day = np.full(shape, -1, dtype=np.int32)
        self.offered_gift = np.zeros(shape, dtype=bool)
        self.accepted_gift = np.zeros(shape, dtype=bool)
        self.asks_made = np.zeros(shape, dtype=np.int32)
        self.last_ask_day = np.full(shape, -1, dtype=np.int32)
        self.said_no = np.zeros(shape, dtype=np.int32)
        self.conceded = np.zeros(shape, dtype=bool)
        self.asked = np.zeros(shape, dtype=bool)
        self.replied = np.zeros(shape, dtype=bool)
        self.converted_day = np.full(shape, -1, dtype=np.int32)
        self.churn_day = np.full(shape, -1, dtype=np.int32)
        self.complained = np.zeros(shape, dtype=bool)
        self.backfired = np.zeros(shape, dtype=bool)
        self.deceived = np.zeros(shape, dtype=bool)
        self.account_closed = np.zeros(shape, dtype=bool)

    # --- derived views --------------------------------------------------------------------------

    def _readings_of(self, suspicion: np.ndarray, skill: np.ndarray):
        """Rule 7: sincerity, reading and imputed motive from suspicion and skill."""
        sincerity = rules.perceived_sincerity(suspicion, skill,
                                              prior=self.scenario.buyers.prior_sincerity)
        reading = rules.read_motive(sincerity, tactic_threshold=self.p.tactic_threshold,
                                    manipulation_threshold=self.p.manipulation_threshold)
        motive = rules.imputed_motive(reading, sincerity,
                                      manipulation_penalty=self.p.manipulation_penalty)
        return sincerity, reading, motive

    def _derived_readings(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sincerity, reading and imputed motive per tie, cached: :meth:`_add_suspicion`
        updates the cache for the ties it touches; other changes of ``suspicion`` clear it."""
        if self._readings is None:
            self._readings = self._readings_of(self.suspicion,
                                               self.by_tie(self.buyers.detection_skill))
        return self._readings

    def _add_suspicion(self, ties: _Ties, cues) -> None:
        """Add persuasion cues seen by ``ties`` (rule 7), keeping the cached readings and the
        backfire record current."""
        ties.add(self.suspicion, cues)
        fresh = self._readings_of(ties.get(self.suspicion), self.buyers.detection_skill[ties.buyer])
        if self._readings is not None:
            for cached, values in zip(self._readings, fresh, strict=True):
                ties.put(cached, values)
        self._flag(ties, self.backfired, "backfired",
                   ties.get(self.accepted_gift) & (fresh[1] == rules.MANIPULATION))

    def sellers_of(self, strategy: str) -> np.ndarray:
        """Indices of the sellers (within a run) that follow ``strategy``."""
        return np.flatnonzero(np.array(self.strategy_names) == strategy)

    def by_tie(self, values: np.ndarray) -> np.ndarray:
        """A per-buyer array laid out like the tie arrays (broadcast over each replication's
        sellers)."""
        if self.replications == 1:
            return values
        return np.repeat(values.reshape(self.replications, self.n), self.s, axis=0)

    def across_sellers(self, values: np.ndarray) -> np.ndarray:
        """Sum of a tie array over each replication's sellers: one value per buyer."""
        return values.reshape(self.replications, self.s, self.n).sum(axis=1).reshape(-1)

    def _ties(self, mask: np.ndarray) -> _Ties:
        return _Ties.of(mask, self.s)

    def _flag(self, ties: _Ties, flag: np.ndarray, tally: str, where=None) -> _Ties:
        """Set a once-only tie flag on ``ties`` (where ``where``); count newly set ones per seller."""
        chosen = ties if where is None else ties.where(where)
        new = chosen.where(~chosen.get(flag))
        new.put(flag, True)
        getattr(self.tallies, tally)[:] += new.count(self.rows)
        return new

    @property
    def sincerity(self) -> np.ndarray:
        """Perceived sincerity of each seller, per tie (rule 7)."""
        return self._derived_readings()[0]

    @property
    def reading(self) -> np.ndarray:
        """SINCERE, TACTIC or MANIPULATION, per tie (rule 7)."""
        return self._derived_readings()[1]

    def effective_obligation(self) -> np.ndarray:
        """Felt debt towards each seller: gift debt weighed by the motive read, plus concessions.
        Negative where a gift was read as manipulation (resentment)."""
        return self.gross * self._derived_readings()[2] + self.concession

    def _obligation_of(self, ties: _Ties) -> np.ndarray:
        """:meth:`effective_obligation` for ``ties`` only."""
        return ties.get(self.gross) * ties.get(self._derived_readings()[2]) + ties.get(self.concession)

    @property
    def reached(self) -> np.ndarray:
        return self.status != UNREACHED

    # --- the day --------------------------------------------------------------------------------

    def step(self) -> None:
        """Advance one day: decay, reach, gifts, asks, retaliation, churn, word of mouth."""
        day = self.day
        self.events = {}
        self._decay()
        self._widen_reach(day)
        acted = self._discover_hidden_conditions(day)
        acted |= self._give(day)
        acted |= self._ask(day)
        owed = self.effective_obligation()  # unchanged until referrals settle some of it
        warners = self._retaliate(day, acted, owed)
        self._churn(day, owed)
        referrers = self._refer(day, owed)
        self._spread_word_of_mouth(day, warners, referrers)
        np.clip(self.trust, 0.0, 1.0, out=self.trust)
        self.day += 1

    def _event_ties(self, kind: str, ties: _Ties, mask: np.ndarray | None = None) -> None:
        if self.record_events:
            chosen = ties if mask is None else ties.where(mask)
            self.events[kind] = (chosen.seller, chosen.buyer)

    def _decay(self) -> None:
        """Rule 6 for obligations; reactance cools with its own half-life."""
        self.gross *= rules.decay_factor(1.0, half_life=self.p.obligation_half_life)
        self.concession *= rules.decay_factor(1.0, half_life=self.p.obligation_half_life)
        self.reactance *= rules.decay_factor(1.0, half_life=self.p.reactance_half_life)

    def _widen_reach(self, day: int) -> None:
        """Sellers reach their own ties first, then outward through the network each day."""
        target = np.minimum(self._reach_initial + self._reach_per_day * day,
                            self._reach_max * self.n).astype(np.int64)
        for s in range(self.s):
            if target[s] > self._reach_cursor[s]:
                new = self.reach_order[:, s, self._reach_cursor[s]: target[s]]
                new = new + (np.arange(self.replications) * self.n)[:, None]
                self._reach(_Ties.of_seller(s, new.reshape(-1), self.s, self.n), day)
                self._reach_cursor[s] = target[s]

    def _reach(self, ties: _Ties, day: int) -> None:
        fresh = ties.where(ties.get(self.status) == UNREACHED)
        fresh.put(self.status, PROSPECT)
        fresh.put(self.contact_day, day)
        self.tallies.reached += fresh.count(self.rows)

    def _draw(self, day: int, purpose: int, ties: _Ties) -> np.ndarray:
        """Behaviour draws for ``ties``, each addressed within its own replication and keyed by
        that replication's behaviour stream."""
        if self.replications == 1:
            return counter_uniforms(day, purpose, ties.index, self._behaviour_keys[0])
        replication = ties.seller // self.s
        return counter_uniforms(day, purpose, ties.index - replication * (self.s * self.n),
                                self._behaviour_keys[replication])

    def _discover_hidden_conditions(self, day: int) -> np.ndarray:
        """Rules 7, 9, 13: hidden strings are found out in time; deception is resented."""
        found = np.zeros((self.rows, self.n), dtype=bool)
        if not self.gift["hidden_conditions"].any():
            return found
        ties = self._ties(self.gift["hidden_conditions"] & self.accepted_gift & ~self.deceived)
        ties = ties.where(self._draw(day, U_DISCOVER, ties) < self.p.discovery_rate)
        ties.put(found, True)
        ties.put(self.deceived, True)
        self._add_suspicion(ties, self.p.cue_strings)
        self._event_ties("deception_found", ties)
        return found

    def _gifts_due(self, day: int) -> np.ndarray:
        """Gifts due today: first gift, repeats to prospects, keep-giving to customers."""
        g = self.gift
        since_offer = day - self.last_offer_day
        first = (self.gifts_offered == 0) & (day - self.contact_day >= g["first_day"])
        repeat = ((self.gifts_offered > 0) & (g["every"] > 0) & (since_offer >= g["every"])
                  & (self.gifts_offered < g["max_gifts"]))
        keep_giving = (g["after_sale_every"] > 0) & (since_offer >= g["after_sale_every"])
        return (g["value"] > 0) & (((self.status == PROSPECT) & (first | repeat))
                                   | ((self.status == CUSTOMER) & keep_giving))

    def _give(self, day: int) -> np.ndarray:
        """Today's gifts and how they are received (rules 1, 5, 7, 8, 13).

        The schedule is checked on the whole tie arrays; everything else runs only on the ties
        that receive a gift today (flat indices), which keeps the day cheap at any size.
        """
        p = self.p
        due = self._gifts_due(day)
        if not due.any():
            return due
        ties = self._ties(due)
        g = ties.params(self.gift)
        b = ties.buyer
        refused = (rules.gift_refused_by_rules(self.buyers.gift_rules[b], g["value"],
                                               gift_limit=p.gift_limit)
                   | (ties.get(self.reactance) > p.avoid_threshold)
                   | (g["gated"] & (self._draw(day, U_GATE, ties) >= self.scenario.buyers.gate_uptake)))
        self._flag(ties, self.offered_gift, "offered")
        ties.put(self.gifts_offered, ties.get(self.gifts_offered) + 1)
        ties.put(self.last_offer_day, day)
        self._event_ties("gift_refused", ties, refused)
        took = ties.where(~refused)
        if took.size == 0:
            return due
        g = took.params(self.gift)
        b = took.buyer
        self._flag(took, self.accepted_gift, "accepted")
        took.put(self.last_gift_day, day)
        took.put(self.first_gift_day, np.where(took.get(self.first_gift_day) < 0, day,
                                               took.get(self.first_gift_day)))
        self._add_suspicion(took, p.cue_generic * (1.0 - g["personalised"])
                            + rules.bait_cue(g["usefulness"], g["claimed_value"], g["value"],
                                             useless_weight=p.cue_useless,
                                             overclaim_weight=p.cue_overclaim))
        value_kw = dict(value_exponent=p.value_exponent, expected_weight=p.expected_weight,
                        surprise_bonus=p.surprise_bonus, personal_bonus=p.personal_bonus)
        expected = self.scenario.buyers.expected_gift_quantity
        perceived = rules.perceived_gift_value(g["value"], g["quantity"], expected, g["surprise"],
                                               g["personalised"], **value_kw)
        second = rules.perceived_gift_value(g["value"], 1, max(expected - 1, 0.0), 1.0, 1.0,
                                            **value_kw)
        perceived = perceived + np.where(g["unexpected_second"], second, 0.0)
        freedom = rules.freedom_of_giving(g["conditional"], g["gated"],
                                          strings_freedom=p.strings_freedom,
                                          gate_freedom=p.gate_freedom)
        debt = rules.benefit_value(perceived, self.buyers.need[b], g["cost_to_means"], 1.0, freedom,
                                   need_weight=p.need_weight, cost_weight=p.cost_weight)
        took.add(self.gross, np.where(self.buyers.reciprocator[b], debt, 0.0))
        took.add(self.given, g["value"] * (g["quantity"] + g["unexpected_second"]))
        took.put(self.reactance, np.where(
            g["conditional"], rules.accumulate_reactance(
                took.get(self.reactance), p.pressure_strings, self.buyers.reactance_proneness[b]),
            took.get(self.reactance)))
        reading = took.get(self.reading)
        took.add(self.trust, np.select(
            [reading == rules.SINCERE, reading == rules.TACTIC],
            [p.gift_trust * took.get(self.sincerity), 0.0], -2.0 * p.gift_trust))
        self._event_ties("gift", took)
        self._event_ties("tactic", took, reading == rules.TACTIC)
        self._event_ties("manipulation", took, reading == rules.MANIPULATION)
        return due

    def _asks_due(self, day: int) -> np.ndarray:
        """Which ties are asked today: first asks, follow-ups, the conceded retreat, re-orders."""
        a = self.ask
        since_ask = day - self.last_ask_day
        prospect = (self.status == PROSPECT) & a["asks"]
        first = (self.asks_made == 0) & (day - self.contact_day >= a["delay"])
        concede = self._retreats_due(since_ask)
        may_continue = (self.said_no == 0) | a["follow_up_after_no"]
        again = ((self.asks_made > 0) & (a["every"] > 0) & (since_ask >= a["every"])
                 & (self.asks_made < a["max_asks"]) & may_continue
                 & ((a["concede_to"] == 0) | self.conceded | (self.said_no == 0)))
        repeat = ((self.status == CUSTOMER) & a["asks"] & (a["repeat_every"] > 0)
                  & (since_ask >= a["repeat_every"]))
        return (prospect & (first | concede | again)) | repeat

    def _retreats_due(self, since_ask) -> np.ndarray:
        """Door-in-the-face: after a first "no", the retreat to the smaller ask (rule 11)."""
        a = self.ask
        return ((a["concede_to"] > 0) & (self.said_no > 0) & ~self.conceded & (since_ask >= 1)
                & (self.status == PROSPECT) & a["asks"])

    def _ask(self, day: int) -> np.ndarray:
        """Today's asks and the buyers' responses (rules 2-4, 7, 8, 11), on the asked ties only."""
        p = self.p
        due = self._asks_due(day)
        if not due.any():
            return due
        ties = self._ties(due)
        a = ties.params(self.ask)
        b = ties.buyer
        said_no_before = ties.get(self.said_no) > 0
        concede = said_no_before & (a["concede_to"] > 0) & ~ties.get(self.conceded)
        retreated = concede | ties.get(self.conceded)
        size = np.where(retreated & (a["concede_to"] > 0), a["concede_to"], a["size"])
        after_no = said_no_before & ~concede
        explicit = ~a["implicit"]

        # Rule 11: the retreat itself is a concession, owed to this requester only.
        ties.add(self.concession, np.where(concede, rules.concession_debt(
            a["size"], a["concede_to"], True, concession_weight=p.concession_weight), 0.0))
        ties.put(self.conceded, retreated)

        # Rule 7: the ask as a cue to the gift's motive.
        disproportion = np.where(explicit, rules.ask_disproportion(
            size, ties.get(self.given), equivalence_tolerance=p.equivalence_tolerance), 0.0)
        last_gift = ties.get(self.last_gift_day)
        days_since_gift = np.where(last_gift >= 0, day - last_gift, np.nan)
        cue = (rules.ask_timing_cue(days_since_gift, cue_weight=p.cue_ask_soon,
                                    window_days=p.ask_soon_window)
               + p.cue_disproportion * disproportion + p.cue_after_no * after_no)
        self._add_suspicion(ties, np.where(explicit, cue, 0.0))

        # Rule 8: the ask's pressure builds reactance.
        pressure = rules.ask_pressure(a["urgency"], a["opt_out"], after_no, disproportion,
                                      base=p.pressure_base, urgency_weight=p.pressure_urgency,
                                      no_opt_out=p.pressure_no_opt_out,
                                      after_no_weight=p.pressure_after_no,
                                      disproportion_weight=p.disproportion_weight)
        reactance = np.where(explicit, rules.accumulate_reactance(
            ties.get(self.reactance), pressure, self.buyers.reactance_proneness[b]),
            ties.get(self.reactance))
        ties.put(self.reactance, reactance)
        excess = rules.reactance_excess(reactance, threshold=p.reactance_threshold)
        avoiding = reactance > p.avoid_threshold
        drive = self._compliance_drive(ties, disproportion, excess)

        # Yes/no asks.
        yes_no = ~a["amount_mode"]
        price = np.maximum(np.log(size / self.buyers.budget[b]), 0.0)
        p_yes = _sigmoid(self.buyers.base_logit[b] + drive - p.price_weight * price)
        answers = yes_no & ~avoiding
        yes = answers & (self._draw(day, U_YES, ties) < p_yes)
        said_no = answers & ~yes & (self._draw(day, U_REPLY, ties)
                                    < self.scenario.buyers.decline_reply_share)
        ignored = yes_no & ~yes & ~said_no
        opt_out = ignored & avoiding & a["opt_out"] & (self._draw(day, U_OPT_OUT, ties) < p.opt_out_rate)

        # Amount asks: the buyer chooses how much (rule 4's drive scales the amount).
        amount = np.where(a["amount_mode"] & ~avoiding,
                          self.buyers.base_amount[b] * np.exp(drive), 0.0)
        amount = np.where(a["integer"], np.floor(amount + self._draw(day, U_ROUND, ties)), amount)
        gave = a["amount_mode"] & (amount > 0)
        complied = yes | gave

        self._record_ask_tallies(ties, complied, concede, a["amount_mode"], amount)
        self.tallies.revenue += ties.per_seller(
            np.where(yes, a["revenue"] * (1.0 - a["discount"]), 0.0) + amount * a["revenue"],
            self.rows)
        new_customer = complied & (ties.get(self.status) == PROSPECT)
        self.tallies.conversions += ties.count(self.rows, new_customer)
        converted = ties.where(new_customer)
        converted.put(self.converted_day, day)
        converted.put(self.status, CUSTOMER)
        first_gift = converted.get(self.first_gift_day)
        self.tallies.days_to_convert += converted.per_seller(
            day - np.where(first_gift >= 0, first_gift, converted.get(self.contact_day)), self.rows)
        opting_out = ties.where(opt_out)
        opting_out.put(self.status, OPTED_OUT)
        self.tallies.opted_out += opting_out.count(self.rows)
        self._settle(ties.where(complied), np.where(a["amount_mode"], amount * a["revenue"],
                                                    size)[complied])
        ties.add(self.trust, np.where(complied & self.thanks[ties.seller, 0], p.thank_trust, 0.0))

        self._flag(ties, self.asked, "asked")
        self._flag(ties, self.replied, "replied", yes | said_no | gave)
        ties.put(self.asks_made, ties.get(self.asks_made) + 1)
        ties.put(self.last_ask_day, day)
        ties.put(self.said_no, ties.get(self.said_no) + said_no)
        for kind, mask in (("ask", None), ("yes", complied), ("no", said_no),
                           ("ignored", ignored), ("opt_out", opt_out)):
            self._event_ties(kind, ties, mask)
        return due

    def _compliance_drive(self, ties: _Ties, disproportion, excess) -> np.ndarray:
        """Rules 3, 4, 8, 10: the push towards yes for the asked ``ties``, on the log-odds (or
        log-amount) scale."""
        p = self.p
        positive_gift_debt = np.maximum(self.gross * self._derived_readings()[2], 0.0)
        gift_debt_to_others = (self.across_sellers(positive_gift_debt)[ties.buyer]
                               - ties.get(positive_gift_debt))
        customer = self.status == CUSTOMER
        customer_elsewhere = (self.across_sellers(customer)[ties.buyer] - ties.get(customer)) > 0
        own = self._obligation_of(ties)
        indirect = rules.indirect_obligation(gift_debt_to_others, indirect_share=p.indirect_share)
        return (rules.obligation_drive(own + indirect, debt_weight=p.debt_weight,
                                       debt_saturation=p.debt_saturation)
                + rules.liking_drive(self.liking[ties.seller, 0], liking_weight=p.liking_weight)
                + p.trust_weight * (ties.get(self.trust) - 0.5)
                - p.disproportion_weight * disproportion
                - p.reactance_weight * excess
                - p.competition_weight * customer_elsewhere)

    def _settle(self, ties: _Ties, repayment: np.ndarray) -> None:
        """Rule 2: a yes repays the felt debt; exact repayment closes the account."""
        if ties.size == 0:
            return
        owed = np.maximum(self._obligation_of(ties), 0.0)
        remaining, closed = rules.settle_account(owed, repayment,
                                                 exact_tolerance=self.p.exact_tolerance)
        with np.errstate(divide="ignore", invalid="ignore"):
            share_left = np.where(owed > 0, remaining / owed, 1.0)
        ties.put(self.gross, ties.get(self.gross) * share_left)
        ties.put(self.concession, 0.0)
        ties.put(self.account_closed, ties.get(self.account_closed) | closed)

    def _record_ask_tallies(self, ties: _Ties, complied, concede, amount_mode, amount) -> None:
        t, s = self.tallies, self.rows
        first = ties.get(self.asks_made) == 0
        t.asks_made += ties.count(s)
        t.asks_answered_yes += ties.count(s, complied)
        t.first_asks += ties.count(s, first)
        t.first_asks_yes += ties.count(s, first & complied)
        t.conceded_asks += ties.count(s, concede)
        t.conceded_asks_yes += ties.count(s, concede & complied)
        t.amount_asks += ties.count(s, amount_mode)
        t.amount_total += ties.per_seller(np.where(amount_mode, amount, 0.0), s)

    def _retaliate(self, day: int, acted: np.ndarray, owed: np.ndarray) -> _Ties:
        """Rule 9: after today's acts, resentful or reactant buyers complain and warn others."""
        p = self.p
        ties = self._ties(acted)
        owed_t = ties.get(owed)
        prob = rules.retaliation_probability(
            np.maximum(-owed_t, 0.0),
            rules.reactance_excess(ties.get(self.reactance), threshold=p.reactance_threshold),
            ties.get(self.deceived), self.buyers.punisher[ties.buyer],
            rules.hostility_restrained(np.maximum(owed_t, 0.0), restraint=p.hostility_restraint),
            base_logit=p.retaliation_base_logit, resentment_weight=p.retaliation_resentment,
            reactance_weight=p.retaliation_reactance, deception_weight=p.retaliation_deception,
            punisher_weight=p.retaliation_punisher)
        retaliating = ties.where(self._draw(day, U_RETALIATE, ties) < prob)
        first_complaints = self._flag(retaliating, self.complained, "complained")
        retaliating.add(self.trust, -0.1)
        warners = retaliating.where(self._draw(day, U_WARN, retaliating) < p.warn_neighbours)
        self._event_ties("complaint", first_complaints)
        self._event_ties("warning", warners)
        return warners

    def _churn(self, day: int, owed: np.ndarray) -> None:
        """Rule 12 (and 8, 9): customers leave at a daily hazard; keep-giving holds them."""
        p = self.p
        ties = self._ties(self.status == CUSTOMER)
        if ties.size == 0:
            return
        last_gift = ties.get(self.last_gift_day)
        kept_giving = ((self.gift["after_sale_every"][ties.seller, 0] > 0) & (last_gift >= 0)
                       & (day - last_gift < p.keep_giving_window)
                       & (ties.get(self.converted_day) <= last_gift))
        hazard = rules.churn_hazard(
            ties.get(self.trust),
            rules.reactance_excess(ties.get(self.reactance), threshold=p.reactance_threshold),
            np.maximum(-ties.get(owed), 0.0), kept_giving, ties.get(self.account_closed),
            base_hazard=p.churn_base, trust_weight=p.churn_trust,
            reactance_weight=p.churn_reactance, resentment_weight=p.churn_resentment,
            keep_giving_effect=p.keep_giving_effect, closed_account_effect=p.closed_account_effect)
        leaving = ties.where(self._draw(day, U_CHURN, ties) < hazard)
        leaving.put(self.status, CHURNED)
        leaving.put(self.churn_day, day)
        self.tallies.churned += leaving.count(self.rows)
        self.tallies.churned_within_90d += leaving.count(
            self.rows, day - leaving.get(self.converted_day) < RETENTION_DAYS)
        self._event_ties("churn", leaving)

    def _refer(self, day: int, owed: np.ndarray) -> _Ties:
        """Rules 10, 12: satisfied customers (and indebted prospects offered a choice of ways to
        respond) refer neighbours, a way to repay."""
        p = self.p
        positive = np.maximum(owed, 0.0)
        choice = self.ask["choice_of_response"]
        ties = self._ties((self.status == CUSTOMER)
                          | ((self.status == PROSPECT) & (positive > 0) & choice))
        owed_t = ties.get(positive)
        prob = (p.referral_rate * 2.0 * ties.get(self.trust)
                * rules.response_choice_bonus(choice[ties.seller, 0], choice_weight=p.choice_weight)
                * (1.0 + rules.obligation_drive(owed_t, debt_weight=p.debt_weight,
                                                debt_saturation=p.debt_saturation)))
        referring = ties.where(self._draw(day, U_REFER, ties) < prob)
        self.tallies.referrals += referring.count(self.rows)
        referring.put(self.gross, referring.get(self.gross) * 0.5)
        self._event_ties("referral", referring)
        return referring

    def _spread_word_of_mouth(self, day: int, warners: _Ties, referrers: _Ties) -> None:
        """Rule 10: warnings raise neighbours' suspicion and lower trust; referrals bring the
        seller to neighbours with goodwill."""
        p = self.p
        counts_log = np.zeros((self.rows, self.n), dtype=np.int64) if self.record_events else None
        for s in range(self.s):
            senders = warners.buyer[warners.seller % self.s == s]
            if senders.size:
                counts = rules.neighbour_counts(senders, self.network)
                told = _Ties.of_seller(s, np.flatnonzero(counts), self.s, self.n)
                received = counts[told.buyer]
                self.tallies.warnings_sent += told.per_seller(received, self.rows)
                self._add_suspicion(told, p.cue_warning * received)
                told.add(self.trust, -p.warning_trust * received)
                if counts_log is not None:
                    counts_log[s::self.s] = counts.reshape(self.replications, self.n)
            senders = referrers.buyer[referrers.seller % self.s == s]
            if senders.size:
                counts = rules.neighbour_counts(senders, self.network)
                told = _Ties.of_seller(s, np.flatnonzero(counts), self.s, self.n)
                told.add(self.trust, p.referral_trust)
                self._reach(told, day)
        self.warning_counts = counts_log
