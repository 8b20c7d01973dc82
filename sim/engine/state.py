"""The engine's state, typed: buyers' traits, the seller-buyer tie arrays, per-seller tallies, the
sellers' plans (strategy parameters as per-row columns) and the per-run parameters.

Every array is laid out as :mod:`sim.engine.stack` describes: tie arrays ``(rows, width)``,
per-buyer arrays ``runs * width``, per-seller arrays one entry per row.
"""

from __future__ import annotations

import functools
import math
from collections import namedtuple
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from sim import rules
from sim.config import ASK_KINDS, Scenario, Strategy
from sim.engine.compiled import kernel
from sim.engine.stack import Stack
from sim.network import BuyerGraph
from sim.rules import CHANNELS

# Tie status codes.
UNREACHED, PROSPECT, CUSTOMER, CHURNED, OPTED_OUT = 0, 1, 2, 3, 4
STATUS_NAMES = {UNREACHED: "unreached", PROSPECT: "prospect", CUSTOMER: "customer",
                CHURNED: "churned", OPTED_OUT: "opted out"}
RETENTION_DAYS = 90
BUDGET_FLOOR_SHARE = 0.005
"""No buyer's budget is below this share of the mean budget (a budget of nothing would make every
price infinitely heavy). A share, not a dollar amount, so the model does not depend on the
currency unit: at the default mean of $200 the floor is $1."""

EVENT_KINDS = ("gift", "gift_refused", "ask", "yes", "no", "ignored", "tactic", "manipulation",
               "complaint", "warning", "referral", "opt_out", "churn", "deception_found")


def _trait(rng: np.random.Generator, spec: Any, n: int, low: float, high: float) -> np.ndarray:
    values = spec.mean + spec.sd * rng.standard_normal(n) if spec.sd > 0 else np.full(n, spec.mean)
    return np.clip(values, low, high)


@dataclass
class Buyers:
    """Per-buyer traits (RECIPROCITY.md "Who"), drawn once from the population stream; node
    attributes of a graph handed over replace the drawn values where given."""

    need: np.ndarray
    budget: np.ndarray
    time_budget: np.ndarray
    detection_skill: np.ndarray
    reactance_proneness: np.ndarray
    reciprocator: np.ndarray
    gift_rules: np.ndarray
    punisher: np.ndarray
    base_logit: np.ndarray
    base_amount: np.ndarray
    segment: np.ndarray | None = None
    """A label per buyer from the graph (``None`` when the graph has none)."""

    @classmethod
    def draw(cls, scenario: Scenario, rng: np.random.Generator,
             graph: BuyerGraph | None = None) -> Buyers:
        b, n = scenario.buyers, scenario.buyers.n
        skill = _trait(rng, b.detection_skill, n, 0.0, 1.0)
        buyers = cls(
            need=_trait(rng, b.need, n, 0.0, 1.0),
            budget=_trait(rng, b.budget, n, BUDGET_FLOOR_SHARE * b.budget.mean, np.inf),
            detection_skill=skill,
            reactance_proneness=_trait(rng, b.reactance_proneness, n, 0.0, 1.0),
            reciprocator=rng.random(n) < b.reciprocator_share,
            gift_rules=rng.random(n) < b.gift_rules_share,
            punisher=rng.random(n) < b.punisher_share,
            base_logit=(rules.log_odds(b.base_compliance)
                        + b.compliance_sd * rng.standard_normal(n)),
            base_amount=_trait(rng, b.base_amount, n, 0.0, np.inf),
            # drawn last, so that adding it left every other draw as it was
            time_budget=_trait(rng, b.time_budget, n, BUDGET_FLOOR_SHARE * b.time_budget.mean,
                               np.inf),
        )
        if graph is not None and graph.traits:
            buyers._take_graph_traits(graph.traits)
        if not scenario.rules.detection_enabled:
            buyers.detection_skill = np.zeros(n)
        return buyers

    def _take_graph_traits(self, traits: dict[str, np.ndarray]) -> None:
        for name, values in traits.items():
            if name == "segment":
                self.segment = values
                continue
            given = ~np.isnan(values)
            if name == "base_compliance":
                self.base_logit = np.where(given, rules.log_odds(np.where(given, values, 0.5)),
                                           self.base_logit)
            elif name in ("reciprocator", "gift_rules", "punisher"):
                setattr(self, name, np.where(given, values == 1.0, getattr(self, name)))
            else:
                setattr(self, name, np.where(given, values, getattr(self, name)))

    def arrays(self) -> BuyerArrays:
        """The numeric traits (all but ``segment``), for compiled kernels."""
        return BuyerArrays(*(getattr(self, name) for name in BuyerArrays._fields))

    @classmethod
    def stack(cls, populations: list[Buyers], width: int) -> Buyers:
        """The buyers of several runs, each padded to ``width`` (padding is never reached)."""
        if len(populations) == 1 and populations[0].need.size == width:
            return populations[0]
        out = {}
        for f in fields(cls):
            parts = [getattr(pop, f.name) for pop in populations]
            if f.name == "segment":
                if all(part is None for part in parts):
                    out[f.name] = None
                    continue
                parts = [np.full(pop.need.size, None, dtype=object) if part is None else part
                         for pop, part in zip(populations, parts, strict=True)]
            out[f.name] = np.concatenate([_pad(part, width) for part in parts])
        return cls(**out)


BuyerArrays = namedtuple("BuyerArrays", [f.name for f in fields(Buyers) if f.name != "segment"])
"""The buyers' numeric traits, as a compiled kernel takes them (``buyers.budget[b]``)."""


def _pad(values: np.ndarray, width: int) -> np.ndarray:
    if values.size == width:
        return values
    filler = None if values.dtype == object else (1 if values.dtype.kind == "f" else 0)
    return np.concatenate([values, np.full(width - values.size, filler, dtype=values.dtype)])


@dataclass
class TieState:
    """The state of every seller-buyer tie, one ``(rows, width)`` array per variable."""

    status: np.ndarray
    contact_day: np.ndarray
    gross: np.ndarray
    """Felt obligation from gifts before the motive reading (>= 0), in units of the stakes;
    fades over days."""
    gratitude: np.ndarray
    """Momentary gratitude from gifts before the motive reading (>= 0), in units of the stakes;
    fades within hours."""
    concession: np.ndarray
    """Debt from a requester's concession (>= 0)."""
    given: np.ndarray
    """Nominal dollars given (for rough equivalence)."""
    suspicion: np.ndarray
    """Summed persuasion cues seen (rule 7)."""
    trust: np.ndarray
    reactance: np.ndarray
    gifts_offered: np.ndarray
    last_offer_day: np.ndarray
    first_gift_day: np.ndarray
    """Day of the first gift received (not only offered)."""
    last_gift_day: np.ndarray
    offered_gift: np.ndarray
    accepted_gift: np.ndarray
    asks_made: np.ndarray
    last_ask_day: np.ndarray
    said_no: np.ndarray
    conceded: np.ndarray
    asked: np.ndarray
    replied: np.ndarray
    converted_day: np.ndarray
    churn_day: np.ndarray
    complained: np.ndarray
    backfired: np.ndarray
    deceived: np.ndarray
    account_closed: np.ndarray

    def flat(self) -> TieArrays:
        """The tie arrays flattened (views: writing to them writes the state), for compiled
        kernels."""
        return TieArrays(*(getattr(self, name).ravel() for name in TieArrays._fields))

    @classmethod
    def start(cls, shape: tuple[int, int], initial_trust: Any) -> TieState:
        def days():
            return np.full(shape, -1, dtype=np.int32)

        def counts():
            return np.zeros(shape, dtype=np.int32)

        def flags():
            return np.zeros(shape, dtype=bool)

        def amounts():
            return np.zeros(shape)

        return cls(
            status=np.zeros(shape, dtype=np.int8), contact_day=days(), gross=amounts(),
            gratitude=amounts(),
            concession=amounts(), given=amounts(), suspicion=amounts(),
            trust=np.broadcast_to(np.asarray(initial_trust, dtype=float), shape).copy(),
            reactance=amounts(), gifts_offered=counts(), last_offer_day=days(),
            first_gift_day=days(), last_gift_day=days(), offered_gift=flags(),
            accepted_gift=flags(), asks_made=counts(), last_ask_day=days(), said_no=counts(),
            conceded=flags(), asked=flags(), replied=flags(), converted_day=days(),
            churn_day=days(), complained=flags(), backfired=flags(), deceived=flags(),
            account_closed=flags())


TieArrays = namedtuple("TieArrays", [f.name for f in fields(TieState)])
"""Every tie array flattened (a view), as a compiled kernel takes them (``ties.gross[tie]``)."""


@dataclass
class Tallies:
    """Per-seller running totals (cumulative counts and sums), kept as events happen so that
    metrics need no pass over the ties."""

    rows: int
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
    # ties whose once-only flag was set (counted when it flips)
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
    closed: np.ndarray = field(init=False)
    """Ties whose account an exact repayment closed (rule 2)."""
    # dollars (sim.metrics' cost metrics)
    gift_cost: np.ndarray = field(init=False)
    contact_cost: np.ndarray = field(init=False)
    discounts: np.ndarray = field(init=False)

    def __post_init__(self):
        for name in self.names():
            setattr(self, name, np.zeros(self.rows))

    @classmethod
    @functools.cache
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls) if f.name != "rows")

    def as_dict(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self.names()}

    def arrays(self) -> TallyArrays:
        """The tallies, as a compiled kernel takes them (``tallies.revenue[row] += ...``)."""
        return TallyArrays(*(getattr(self, name) for name in TallyArrays._fields))


TallyArrays = namedtuple("TallyArrays", Tallies.names())


# --- the sellers' plans -------------------------------------------------------------------------


def _column(values: list[Any], dtype: Any = float) -> np.ndarray:
    """One value per seller row as a ``(rows, 1)`` column that broadcasts over buyers."""
    return np.array(values, dtype=dtype)[:, None]


def _dtype(name: str, flags: tuple[str, ...], counts: tuple[str, ...]) -> type:
    """Flags are booleans; steps and counts are integers like the tie state they are compared
    with (comparing int32 with int32 spares a conversion of every tie); the rest are floats."""
    return bool if name in flags else np.int32 if name in counts else float


def in_steps(durations: list[float], step_days: list[float]) -> list[int]:
    """Durations (days) as whole steps of each row's run, to the nearest step.

    >>> in_steps([7.0, 0.125, 0.0], [1.0, 1 / 48, 1.0])
    [7, 6, 0]
    """
    return [round(days / step) for days, step in zip(durations, step_days, strict=True)]


@dataclass(frozen=True)
class GiftPlan:
    """What each seller row gives and when (``GiftSpec``), as ``(rows, 1)`` columns."""

    value: np.ndarray
    quantity: np.ndarray
    cost_to_means: np.ndarray
    personalised: np.ndarray
    surprise: np.ndarray
    usefulness: np.ndarray
    first_day: np.ndarray
    every: np.ndarray
    max_gifts: np.ndarray
    after_sale_every: np.ndarray
    claimed_value: np.ndarray
    unexpected_second: np.ndarray
    conditional: np.ndarray
    gated: np.ndarray
    hidden_conditions: np.ndarray
    promised: np.ndarray
    freedom_importance: np.ndarray
    channel: np.ndarray
    """0 in person, 1 personally addressed, 2 mass-mailed (``rules.CHANNELS``)."""
    cash: np.ndarray
    unit_cost: np.ndarray

    @classmethod
    def of(cls, strategies: list[Strategy], step_days: list[float]) -> GiftPlan:
        gifts = [st.gift for st in strategies]
        flags = ("unexpected_second", "conditional", "gated", "hidden_conditions", "promised")
        durations = ("first_day", "every", "after_sale_every")
        counts = (*durations, "max_gifts")
        columns = {f.name: _column([getattr(g, f.name) for g in gifts], _dtype(f.name, flags, counts))
                   for f in fields(cls)
                   if f.name not in ("claimed_value", "unit_cost", "channel", "cash")}
        columns["channel"] = _column([CHANNELS.index(g.channel) for g in gifts], np.int8)
        columns["cash"] = _column([g.form == "cash" for g in gifts], bool)
        for name in durations:  # in steps of each row's run
            columns[name] = _column(in_steps([getattr(g, name) for g in gifts], step_days),
                                    np.int32)
        columns["claimed_value"] = _column([g.value if g.claimed_value is None
                                            else g.claimed_value for g in gifts])
        columns["unit_cost"] = _column([g.value if g.unit_cost is None else g.unit_cost
                                        for g in gifts])
        return cls(**columns)

    def by_row(self) -> GiftRows:
        """The plan as one value per seller row, for compiled kernels (``gift.value[row]``)."""
        return _by_row(self, GiftRows)


GiftRows = namedtuple("GiftRows", [f.name for f in fields(GiftPlan)])


def _by_row(plan: Any, kind: type) -> tuple:
    """A plan's columns as one value per seller row (``choices`` keeps its second axis)."""
    return kind(*(column[:, 0] if column.shape[1] == 1 and name != "choices" else column
                  for name, column in ((name, getattr(plan, name)) for name in kind._fields)))


@dataclass(frozen=True)
class AskPlan:
    """What each seller row asks for, when and how (``AskSpec``), as ``(rows, 1)`` columns."""

    size: np.ndarray
    delay: np.ndarray
    every: np.ndarray
    max_asks: np.ndarray
    urgency: np.ndarray
    concede_to: np.ndarray
    repeat_every: np.ndarray
    discount: np.ndarray
    revenue: np.ndarray
    follow_up_after_no: np.ndarray
    opt_out: np.ndarray
    choice_of_response: np.ndarray
    implicit: np.ndarray
    integer: np.ndarray
    open: np.ndarray
    amount_mode: np.ndarray
    asks: np.ndarray
    """False for a party that only gives (the seller's ``asks = false``)."""
    stakes: np.ndarray
    """The size of the exchange the seller's gifts belong to (dollars)."""
    money: np.ndarray
    """A money ask (weighed against the budget) rather than an effort ask (against the time
    budget)."""
    weighed: np.ndarray
    """The ask names a size the buyer weighs against their means (not an open ask)."""
    same_requester: np.ndarray
    """The retreat comes from the requester who made the first ask (a concession binds)."""
    reference: np.ndarray
    """A larger request described but not made (0: none)."""
    choices: np.ndarray
    """Other sizes offered at once, padded with 0: shape (rows, most choices of any row)."""
    unit_cost: np.ndarray

    @classmethod
    def of(cls, strategies: list[Strategy], asks: list[bool], step_days: list[float]) -> AskPlan:
        spec = [st.ask for st in strategies]
        flags = ("follow_up_after_no", "opt_out", "choice_of_response", "implicit", "integer",
                 "open")
        durations = ("delay", "every", "repeat_every")
        counts = (*durations, "max_asks")
        columns = {name: _column([getattr(a, name) for a in spec], _dtype(name, flags, counts))
                   for name in ("size", "urgency", "concede_to", "discount", "unit_cost", *counts,
                                *flags)}
        for name in durations:  # in steps of each row's run
            columns[name] = _column(in_steps([getattr(a, name) for a in spec], step_days),
                                    np.int32)
        widest = max((len(a.choices) for a in spec), default=0)
        return cls(**columns,
                   revenue=_column([a.size if a.revenue is None else a.revenue for a in spec]),
                   amount_mode=_column([a.mode == "amount" for a in spec], bool),
                   asks=_column(asks, bool),
                   stakes=_column([a.size if a.stakes is None else a.stakes for a in spec]),
                   money=_column([ASK_KINDS[a.kind] == "money" for a in spec], bool),
                   weighed=_column([not a.open and a.mode == "yes_no" for a in spec], bool),
                   same_requester=_column([a.concede_requester in (None, a.requester)
                                           for a in spec], bool),
                   reference=_column([a.reference for a in spec]),
                   choices=np.array([[*a.choices, *[0.0] * (widest - len(a.choices))]
                                     for a in spec], dtype=float).reshape(len(spec), widest))

    def by_row(self) -> AskRows:
        """The plan as one value per seller row (``choices``: one row of sizes per seller row),
        for compiled kernels (``ask.size[row]``)."""
        return _by_row(self, AskRows)


AskRows = namedtuple("AskRows", [f.name for f in fields(AskPlan)])


@dataclass(frozen=True)
class SellerPlan:
    """Every seller row's strategy: gifts, asks, reach, thanks, and how likeable it is."""

    gift: GiftPlan
    ask: AskPlan
    thanks: np.ndarray
    liking: np.ndarray
    reach_initial: np.ndarray
    """Buyers each row is tied to at the start (all of its run's buyers for ``everyone``)."""
    reach_per_day: np.ndarray
    reach_max: np.ndarray
    """Cap on the buyers each row reaches (its share times its run's buyers)."""
    step_days: np.ndarray
    """The length of a step of each row's run, in days."""

    @classmethod
    def of(cls, scenarios: list[Scenario]) -> SellerPlan:
        strategies = [sc.strategy_of(i) for sc in scenarios for i in range(len(sc.sellers))]
        sellers = [seller for sc in scenarios for seller in sc.sellers]
        n = [sc.buyers.n for sc in scenarios for _ in sc.sellers]
        step_days = [sc.step for sc in scenarios for _ in sc.sellers]
        reach = [st.reach for st in strategies]
        return cls(
            gift=GiftPlan.of(strategies, step_days),
            ask=AskPlan.of(strategies, [seller.asks for seller in sellers], step_days),
            step_days=np.array(step_days, dtype=float),
            thanks=_column([st.thank for st in strategies], bool),
            liking=_column([seller.likeability for seller in sellers]),
            reach_initial=np.array([size if r.everyone else r.initial
                                    for r, size in zip(reach, n, strict=True)], dtype=float),
            reach_per_day=np.array([r.per_day for r in reach], dtype=float),
            reach_max=np.array([r.max_share * size for r, size in zip(reach, n, strict=True)]))


CONTEXT_PARAMETERS = ("decline_reply_share", "gate_uptake", "prior_sincerity",
                      "expected_gift_quantity", "initial_trust")
"""Buyer-population settings that the rules read like parameters (``[buyers]`` of a scenario)."""


class RunParameters:
    """The rule parameters (``[rules]``) and context settings of every run, by name: a plain value
    when all runs share it, else a ``(rows, 1)`` column with each row's run's value. Read them
    for a set of ties with ``PerTie(params, ties.row)``, or whole with ``params.name``."""

    def __init__(self, scenarios: list[Scenario], stack: Stack):
        per_run = [{**sc.rules.model_dump(), "step_days": sc.step,
                    **{name: getattr(sc.buyers, name) for name in CONTEXT_PARAMETERS}}
                   for sc in scenarios]
        self.uniform = True
        """Every run has the same value of every parameter (all plain values)."""
        for name in per_run[0]:
            values = [run[name] for run in per_run]
            same = all(_same(v, values[0]) for v in values)
            setattr(self, name, values[0] if same else
                    np.asarray(values)[stack.row_run][:, None])
            self.uniform &= same
        self.by_row = np.empty(stack.rows, dtype=_record_dtype(tuple(
            (name, np.asarray(value).dtype.str) for name, value in per_run[0].items())))
        """Every parameter as a field of one record per seller row, its run's value: what a
        compiled kernel reads (``params[row].debt_weight``)."""
        for name in per_run[0]:
            self.by_row[name] = np.asarray([run[name] for run in per_run])[stack.row_run]


@functools.cache
def _record_dtype(spec: tuple[tuple[str, str], ...]) -> np.dtype:
    """One dtype object per list of fields, shared by every engine in the process. Why: numba
    recognises a record array's type by its dtype object, and an equal dtype that is a different
    object costs a field-by-field comparison (about 4 us for the parameters) on every kernel
    call."""
    return np.dtype(list(spec))


def _same(a: Any, b: Any) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a)
                      and math.isnan(b))


@kernel
def felt_debt(gross, gratitude, motive, concession):
    """A tie's felt debt towards its seller, in units of the stakes: what gifts left (obligation
    and gratitude) weighed by the motive read, plus concessions (negative: resentment). The one
    formula behind :meth:`sim.engine.Engine.effective_obligation` and every kernel that needs
    it."""
    return (gross + gratitude) * motive + concession
