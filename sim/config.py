"""Scenario files: schema, loading, arms, dotted overrides and clear errors.

A scenario is a TOML file in ``scenarios/``. It is merged over ``scenarios/_defaults.toml`` (the
calibrated global rule parameters and default populations), strategy presets come from
``scenarios/_strategies.toml``, then an arm's settings and the user's ``overrides`` are applied as
dotted keys, and the result is validated. Any bad key, type or range raises :class:`ScenarioError`
naming the file, the field, the value and what is allowed.
"""

from __future__ import annotations

import copy
import difflib
import functools
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from sim import strategies
from sim.calibration.targets import CalibrationTable
from sim.errors import ScenarioError
from sim.files import deep_merge, read_toml
from sim.metrics import CORE_METRICS, OUTCOME_KINDS
from sim.network import NETWORK_KINDS, load_network_file
from sim.paths import scenarios_dir

# Ranges. Every number in a scenario is finite (nan and inf are refused: _Spec) and bounded: wide
# enough for any real context, narrow enough that no value makes the arithmetic overflow or the
# run allocate what no machine has (sim.limits checks the sizes together against this machine).
MAX_STEPS = 100_000
"""Days in a run (about 274 years); also the longest day count, half-life or window."""
MAX_BUYERS = 20_000_000
MAX_SELLERS = 1_000
MAX_DOLLARS = 1e9
"""Any amount of money: prices, budgets, gift values, revenue (a billion dollars)."""
MAX_WEIGHT = 100.0
"""Rule weights, spreads and thresholds. On the log-odds scale e^100 is about 10^43: far beyond
any effect, and still finite in every rule's arithmetic."""
MAX_COUNT = 100_000
"""Gifts, asks and gift units per tie."""
MAX_DEGREE = 10_000
"""Neighbours per buyer (k, m, mean_degree): a complete graph of 10,000 buyers."""
MAX_BLOCKS = 1_000
"""stochastic_block visits every pair of blocks: 1,000 blocks are half a million pairs."""

Unit = Annotated[float, Field(ge=0.0, le=1.0)]
"""A share or a probability."""
NonNeg = Annotated[float, Field(ge=0.0, le=MAX_WEIGHT)]
"""A non-negative weight, spread or count of units."""
Pos = Annotated[float, Field(gt=0.0, le=MAX_WEIGHT)]
"""A positive weight or threshold."""
Dollars = Annotated[float, Field(ge=0.0, le=MAX_DOLLARS)]
Days = Annotated[float, Field(gt=0.0, le=MAX_STEPS)]
"""A half-life or a window, in days (MAX_STEPS: longer than any run, so no decay)."""
Day = Annotated[int, Field(ge=0, le=MAX_STEPS)]
"""A day count: a delay or days between acts (0: at once, or never again)."""
Count = Annotated[int, Field(ge=1, le=MAX_COUNT)]

DURATION_UNITS = {"minute": 1 / 1440, "minutes": 1 / 1440, "min": 1 / 1440, "hour": 1 / 24,
                  "hours": 1 / 24, "h": 1 / 24, "day": 1.0, "days": 1.0, "d": 1.0, "week": 7.0,
                  "weeks": 7.0, "w": 7.0}


def parse_duration(value: Any) -> Any:
    """A duration in days: a number (days) or text with a unit, ``"90 minutes"``, ``"2 hours"``,
    ``"1 day"``, ``"3 weeks"``.

    >>> parse_duration("90 minutes"), parse_duration("1 week"), parse_duration(2)
    (0.0625, 7.0, 2)
    """
    if not isinstance(value, str):
        return value
    number, _, unit = value.strip().partition(" ")
    try:
        return float(number) * DURATION_UNITS[unit.strip().lower() or "days"]
    except (ValueError, KeyError):
        raise ValueError(f"not a duration; allowed: a number of days, or a number and a unit "
                         f"({', '.join(sorted(set(DURATION_UNITS)))}), e.g. \"90 minutes\"") from None


Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0.0, le=MAX_STEPS)]
"""A length of time in days; scenario files may write ``"2 hours"`` or ``"90 minutes"``."""
PosDuration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0.0, le=MAX_STEPS)]


class _Spec(BaseModel):
    # allow_inf_nan=False: TOML's nan and inf are never a usable value in a scenario
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, data: Any) -> Any:
        """``true`` where a number is due is a mistake (pydantic would read it as 1): it is
        handed on as a value the field's own check refuses."""
        if isinstance(data, dict):
            wrong = [name for name in _number_fields(cls) if isinstance(data.get(name), bool)]
            if wrong:
                data = {**data, **{name: _Boolean(data[name]) for name in wrong}}
        return data


class _Boolean:
    """True or false given for a number (see ``_Spec``); no number type accepts it."""

    def __init__(self, value: bool):
        self.value = value

    def __repr__(self) -> str:
        return "true" if self.value else "false"


@functools.cache
def _number_fields(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(name for name, field in model.model_fields.items()
                 if _is_number_field(field.annotation))


def _is_number_field(annotation: Any) -> bool:
    """The field takes an int or a float (possibly optional), not a bool."""
    if typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_number_field(arg) for arg in typing.get_args(annotation))
    return annotation in (int, float)


# --- the world ----------------------------------------------------------------------------------

NetworkKind = Literal[tuple(NETWORK_KINDS)]  # the registry in sim.network


class NetworkSpec(_Spec):
    """The buyers' network. Parameters not used by ``kind`` are ignored."""

    kind: NetworkKind = "watts_strogatz"
    k: Annotated[int, Field(ge=0, le=MAX_DEGREE)] = 10
    """watts_strogatz: each buyer's nearest neighbours in the ring (even)."""
    p: Unit = 0.1
    """watts_strogatz: rewiring probability; erdos_renyi: edge probability if ``mean_degree`` unset."""
    m: Annotated[int, Field(ge=1, le=MAX_DEGREE)] = 3
    """barabasi_albert: edges each new buyer brings."""
    mean_degree: Annotated[float, Field(ge=0.0, le=MAX_DEGREE)] = 0.0
    """erdos_renyi: expected degree (overrides ``p`` when > 0, sparse generator)."""
    blocks: Annotated[int, Field(ge=1, le=MAX_BLOCKS)] = 4
    """stochastic_block: number of equal segments."""
    p_in: Unit = 0.05
    p_out: Unit = 0.002
    path: Annotated[str, Field(max_length=4096)] | None = None
    """edgelist / graphml: file to load, relative to the scenario file. Buyers are its nodes
    (integer labels in numerical order, others in file order); ``buyers.n`` follows the file."""

    def mean_neighbours(self, n: int) -> float | None:
        """The expected number of neighbours per buyer among ``n`` buyers, for the generated
        kinds whose parameters say it (None for the others)."""
        match self.kind:
            case "watts_strogatz":
                return float(min(self.k // 2 * 2, max(n - 1, 0)))
            case "erdos_renyi":
                return self.mean_degree if self.mean_degree > 0 else self.p * (n - 1)
            case "barabasi_albert":
                return 2.0 * self.m * (n - self.m) / n if n > self.m else None
            case "complete":
                return float(n - 1)
        return None

    @field_validator("path")
    @classmethod
    def _a_file_name(cls, path: str | None) -> str | None:
        if path is not None and not path.isprintable():
            raise ValueError("control characters are not allowed in a file name")
        return path

    @model_validator(mode="after")
    def _file_needs_path(self):
        if NETWORK_KINDS[self.kind].from_file and not self.path:
            raise ValueError(f"network.kind = {self.kind!r} needs network.path (a file to load)")
        return self


class Trait(_Spec):
    """A buyer trait drawn per buyer: normal(mean, sd), clipped to the trait's range."""

    mean: Annotated[float, Field(ge=-MAX_DOLLARS, le=MAX_DOLLARS)]
    sd: NonNeg = 0.0


class ShareTrait(Trait):
    """A trait in [0, 1] (the mean too: a mean outside would be clipped away)."""

    mean: Unit
    sd: Unit = 0.0


class AmountTrait(Trait):
    """A trait in the unit of money or of an amount ask (dollars, tip percent, tickets)."""

    mean: Dollars
    sd: Dollars = 0.0


class BuyerSpec(_Spec):
    """The buyer population: heterogeneous traits (RECIPROCITY.md, "Who")."""

    n: Annotated[int, Field(ge=1, le=MAX_BUYERS)] = 1000
    reciprocator_share: Unit = 0.85
    """Share who feel obligation; the rest are self-interested and take gifts without debt."""
    need: ShareTrait = ShareTrait(mean=0.5, sd=0.15)
    """Need for what the seller offers, in [0, 1]: raises the value of gifts (rule 1)."""
    budget: AmountTrait = AmountTrait(mean=200.0, sd=60.0)
    """What a buyer can spend, in dollars (>= 1): money asks above it are refused more (rule 4)."""
    time_budget: AmountTrait = AmountTrait(mean=100.0, sd=30.0)
    """What a buyer would give of their time and effort to one request, valued in dollars
    (about three hours at $30 an hour, judgement): effort asks above it are refused more, as
    money asks above the budget (Cialdini et al. 1975: two years of volunteering was refused by
    almost everyone)."""
    detection_skill: ShareTrait = ShareTrait(mean=0.35, sd=0.2)
    """Skill at reading persuasion cues, in [0, 1] (rule 7)."""
    reactance_proneness: ShareTrait = ShareTrait(mean=0.5, sd=0.2)
    """How strongly pressure turns into reactance, in [0, 1] (rule 8)."""
    gift_rules_share: Unit = 0.0
    """Share bound by strict gift or procurement rules, who refuse gifts (rule 13)."""
    punisher_share: Unit = 0.15
    """Share who pay a cost to punish unfair treatment (rule 9)."""
    base_compliance: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.05
    """Chance that a buyer says yes to a proportionate ask from a stranger who gave nothing."""
    compliance_sd: NonNeg = 0.5
    """Spread of buyers' baseline compliance, on the log-odds scale."""
    base_amount: AmountTrait = AmountTrait(mean=1.0, sd=0.0)
    """For amount asks (tips, tickets, donations): what a buyer gives with no gift (>= 0)."""
    expected_gift_quantity: NonNeg = 0.0
    """How many gift units buyers take for granted in this context (rule 5: the standard pen)."""
    gate_uptake: Unit = 0.35
    """Chance that a buyer signs up to get a gated gift (a lead magnet)."""
    decline_reply_share: Unit = 0.5
    """Share of refusals said out loud (a "no") rather than by ignoring the ask."""
    initial_trust: Unit = 0.5
    """Trust in a seller before any contact."""

    @model_validator(mode="before")
    @classmethod
    def _partial_traits_keep_their_defaults(cls, data: Any) -> Any:
        """``detection_skill = {mean = 0.7}`` (or the override ``buyers.detection_skill.mean``)
        changes the mean and keeps the default spread, rather than resetting it to 0."""
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for name, field in cls.model_fields.items():
            if _is_trait(field.annotation) and isinstance(data.get(name), dict):
                merged[name] = {**field.default.model_dump(), **data[name]}
        return merged
    prior_sincerity: Unit = 0.75
    """How sincere a seller's gift seems to a buyer who cannot read the cues (rule 7)."""


def _is_trait(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, Trait)


# --- the sellers' acts --------------------------------------------------------------------------

ASK_KINDS: dict[str, str] = {
    "purchase": "money", "donation": "money", "tip": "money", "tickets": "money",
    "renewal": "money",
    "reply": "effort", "signup": "effort", "meeting": "effort", "review": "effort",
    "referral": "effort", "volunteer": "effort", "work": "effort",
}
"""What each kind of ask costs the buyer: ``money`` asks are weighed against the buyer's budget,
``effort`` asks (time, attention, a name on a list) against the buyer's time budget (an ask above
either is refused more often). Either kind repays a debt in proportion to its size against the
stakes (rule 3: in the same kind or another)."""
AskKind = Literal[tuple(ASK_KINDS)]


class GiftSpec(_Spec):
    """What a seller gives (Acts: value, cost, personalised or generic, expected or a surprise,
    unconditional or with strings, gated or free)."""

    value: Dollars = 0.0
    """Worth of one unit to a typical buyer, in dollars; 0 means no gift."""
    quantity: Count = 1
    unit_cost: Dollars | None = None
    """What one unit costs the seller to give, in dollars (buying or making it, delivery, staff
    time): the gift's cost to the giver, not its value to the buyer. Default: ``value`` (bought at
    what it is worth to the buyer). Read by the cost metrics only, never by the rules."""
    cost_to_means: Unit = 0.1
    """What the gift cost the giver relative to the giver's means (rule 1)."""
    personalised: Unit = 0.0
    surprise: Unit = 0.0
    unexpected_second: bool = False
    """Give one more unit right after, as a personal surprise (the mint study's best arm)."""
    conditional: bool = False
    """Strings attached, visible at the time (rule 1 freedom, rule 8 restriction)."""
    gated: bool = False
    """Behind a sign-up (a gated lead magnet)."""
    usefulness: Unit = 1.0
    """Real use to the buyer; a useless gift reads as bait (rule 13)."""
    claimed_value: Dollars | None = None
    """Value the seller claims; above ``value`` it is an over-claim found out (rule 13)."""
    hidden_conditions: bool = False
    """Strings not disclosed, found out later (rules 7, 9, 13)."""
    channel: Literal["in_person", "addressed", "mass"] = "in_person"
    """How personally it was given: handed over in person, personally addressed, or
    mass-mailed (rule 1: a mass mailing weighs less than a favour done in person)."""
    form: Literal["in_kind", "cash"] = "in_kind"
    """A thing (or a favour), or money (a bonus, a wage rise): money reads as payment more than
    as a gift (rule 1; Heyman & Ariely 2004; Kube, Maréchal & Puppe 2012)."""
    promised: bool = False
    """Promised with the ask and handed over only on compliance (a premium, a thank-you gift):
    no debt before, and it frames the exchange as a trade (Newman & Shen 2012)."""
    freedom_importance: Unit = 0.0
    """How much the buyer cares about a freedom this favour restricts (rule 8: Brehm & Cole
    1966): 0 none; towards 1 the reactance it causes outweighs the obligation it creates."""
    first_day: Duration = 0.0
    """How long after first contact the first gift is given (days, or e.g. ``"2 hours"``)."""
    every: Duration = 0.0
    """Time between further gifts to prospects (0: one gift only)."""
    max_gifts: Count = 1
    after_sale_every: Duration = 0.0
    """Keep giving: time between gifts to customers after a sale (0: never) (rule 12)."""


class AskSpec(_Spec):
    """What a seller asks for, when and how (Acts: ask, follow up, concede, offer choice)."""

    kind: AskKind = "purchase"
    mode: Literal["yes_no", "amount"] = "yes_no"
    """yes_no: comply or not; amount: the buyer chooses how much (tips, tickets, donations)."""
    size: Annotated[float, Field(gt=0.0, le=MAX_DOLLARS)] = 50.0
    """Size of the ask in dollars (for effort asks, what the effort is worth), weighed against
    the gift (rule 3) and, for money asks, the buyer's budget."""
    stakes: Annotated[float, Field(gt=0.0, le=MAX_DOLLARS)] | None = None
    """The size of the exchange the seller's gifts belong to, in dollars (default: ``size``):
    a gift's debt is weighed against it (rule 1). For work asked step after step, the pay for
    the whole job."""
    requester: Annotated[int, Field(ge=0, le=MAX_COUNT)] = 0
    """Which member of the seller's team makes the ask."""
    concede_requester: Annotated[int, Field(ge=0, le=MAX_COUNT)] | None = None
    """Who makes the retreat to ``concede_to`` (default: the same requester). A concession
    binds only towards the requester who made it (rule 11)."""
    choices: list[Annotated[float, Field(gt=0.0, le=MAX_DOLLARS)]] = Field(default=[], max_length=100)
    """Other sizes offered at the same time: the buyer picks one of them, ``size``, or none
    (yes/no asks). The largest shown is a reference point for the smaller ones."""
    reference: Dollars = 0.0
    """A larger request described but not made (0: none): a reference point that makes this
    ask seem smaller (Cialdini et al. 1975, exposure control)."""
    revenue: Dollars | None = None
    """Revenue per yes in dollars (default: ``size``); per unit for amount asks."""
    delay: Duration = 7.0
    """How long after first contact the first ask comes."""
    every: Duration = 7.0
    """Time between asks while the buyer has not said yes (0: ask once)."""
    max_asks: Count = 4
    follow_up_after_no: bool = False
    """Keep asking after a "no" (pressure) instead of respecting it."""
    urgency: Unit = 0.0
    opt_out: bool = True
    """Offer a way to opt out of further asks."""
    choice_of_response: bool = False
    """Offer other ways to repay (reply, review, referral) (rule 12)."""
    concede_to: Dollars = 0.0
    """After a first "no", retreat to this smaller ask (door-in-the-face); 0: no concession."""
    implicit: bool = False
    """A customary ask (the bill and its tip): no timing or proportion cues."""
    open: bool = False
    """The ask names no amount: the buyer decides how much (an appeal, a tip). ``size`` is then
    only what a typical response is worth; it is not weighed against a gift (rule 3) or the
    budget. Amount asks are always open."""
    integer: bool = False
    """Amount asks only: the amount comes in whole units (raffle tickets)."""
    repeat_every: Duration = 0.0
    """Time between repeat asks to customers (re-orders, renewals); 0: none."""
    discount: Unit = 0.0
    """Discount given on each sale, as a share of the price."""
    unit_cost: Dollars = 0.0
    """What one ask costs the seller, in dollars per ask made (a call, a visit, an email, staff
    time), whatever the answer: first asks, follow-ups, retreats and repeat asks alike. Read by
    the cost metrics only, never by the rules."""


class ReachSpec(_Spec):
    """Whom a seller reaches: its own ties first, widening through the network each day."""

    initial: Annotated[int, Field(ge=0, le=MAX_BUYERS)] = 20
    """Buyers the seller is tied to at the start."""
    per_day: Annotated[float, Field(ge=0.0, le=MAX_BUYERS)] = 5.0
    """New buyers reached per day, outward through the network from the seller's ties."""
    max_share: Unit = 1.0
    """Cap on the share of all buyers this seller reaches."""
    everyone: bool = False
    """Reach every buyer on the first day (a restaurant's parties, an experiment's subjects)."""


class Strategy(_Spec):
    """A seller strategy: a named parameter set (presets in ``scenarios/_strategies.toml``)."""

    description: str = ""
    reach: ReachSpec = ReachSpec()
    gift: GiftSpec = GiftSpec()
    ask: AskSpec = AskSpec()
    thank: bool = True
    """Thank after a purchase (adds trust)."""


class SellerSpec(_Spec):
    name: str = ""
    strategy: str
    likeability: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.0
    """How pleasant buyers find this seller, in [-1, 1] (Regan's confederate manipulation)."""
    asks: bool = True
    """False for a party who only gives (Regan's experimenter with the "irrelevant" favour)."""


# --- global mechanism parameters --------------------------------------------------------------


class RuleParams(_Spec):
    """Global parameters of the rules. Calibrated values live in ``scenarios/_defaults.toml``
    with their provenance; scenarios do not override them."""

    # rule 1
    need_weight: NonNeg
    cost_weight: NonNeg
    strings_freedom: Unit
    gate_freedom: Unit
    addressed_weight: Unit
    """A personally addressed gift weighs this much of one handed over in person."""
    mass_weight: Unit
    """A mass-mailed gift weighs this much of one handed over in person."""
    cash_weight: Unit
    """A gift of money weighs this much of a gift in kind of the same value."""
    crowding_out: NonNeg
    """A gift promised in return for compliance frames the exchange as a trade: the pull
    towards yes (log-odds, or log-amount) it takes away."""
    incentive_weight: NonNeg
    """...and the push a promised reward gives as an incentive, per unit of its value relative to
    the stakes."""
    # rule 2
    exact_tolerance: Unit
    hostility_restraint: Unit
    # rule 3
    equivalence_tolerance: Pos
    disproportion_weight: NonNeg
    # rule 4
    debt_weight: NonNeg
    debt_saturation: Pos
    debt_sharpness: Annotated[float, Field(ge=1.0, le=20.0)]
    liking_weight: NonNeg
    trust_weight: NonNeg
    neutral_trust: Unit
    """Trust at which trust neither raises nor lowers compliance, churn or referrals."""
    price_weight: NonNeg
    # rule 5
    value_exponent: Annotated[float, Field(gt=0.0, le=1.0)]
    expected_weight: Unit
    surprise_bonus: NonNeg
    personal_bonus: NonNeg
    # rule 6
    obligation_half_life: PosDuration
    gratitude_share: Unit
    """Share of a gift's felt value that is momentary gratitude rather than lasting obligation."""
    gratitude_half_life: PosDuration
    """Gratitude fades within hours (Gneezy & List 2006); felt obligation over days."""
    # rule 7
    cue_ask_soon: NonNeg
    ask_soon_window: PosDuration
    cue_disproportion: NonNeg
    cue_generic: NonNeg
    cue_strings: NonNeg
    cue_after_no: NonNeg
    cue_warning: NonNeg
    cue_useless: NonNeg
    cue_overclaim: NonNeg
    tactic_threshold: Unit
    manipulation_threshold: Unit
    manipulation_penalty: NonNeg
    manipulation_trust_factor: NonNeg
    """A gift read as manipulation removes this many times ``gift_trust``."""
    detection_enabled: bool
    # rule 8
    pressure_base: NonNeg
    pressure_urgency: NonNeg
    pressure_no_opt_out: NonNeg
    pressure_after_no: NonNeg
    pressure_strings: NonNeg
    typical_proneness: Annotated[float, Field(gt=0.0, le=1.0)]
    """Reactance proneness at which pressure turns into reactance one for one."""
    restriction_weight: NonNeg
    """How much of a favour's debt the reactance it causes cancels, per unit of the importance of
    the freedom it restricts (above 1: an important freedom turns the favour against the giver)."""
    boomerang_rate: NonNeg
    """Past the threshold, the chance of doing the opposite grows with excess reactance at this rate."""
    boomerang_strength: NonNeg
    """How far below their own baseline a buyer who does the opposite goes (log-odds or log-amount)."""
    reactance_threshold: Pos
    reactance_half_life: PosDuration
    reactance_weight: NonNeg
    opt_out_rate: Unit
    avoid_threshold: Pos
    # rule 9
    retaliation_base_logit: Annotated[float, Field(ge=-MAX_WEIGHT, le=MAX_WEIGHT)]
    retaliation_resentment: NonNeg
    retaliation_reactance: NonNeg
    retaliation_deception: NonNeg
    retaliation_punisher: NonNeg
    warn_neighbours: Unit
    complaint_trust: Unit
    """Trust a buyer loses in a seller each time they complain about it."""
    discovery_rate: Unit
    # rule 10
    referral_rate: Unit
    referral_repayment: Unit
    """Share of the felt debt a referral repays (referring is a way to repay)."""
    indirect_share: Unit
    referral_trust: NonNeg
    warning_trust: NonNeg
    # rule 11
    concession_weight: NonNeg
    contrast_weight: NonNeg
    """A larger request seen before or beside an ask makes it seem smaller: log-odds per e-fold
    of the larger one over this one (perceptual contrast, Cialdini et al. 1975)."""
    # rule 12
    competition_weight: NonNeg
    """Log-odds penalty on an ask to a buyer already a customer of another seller (need met)."""
    churn_base: Unit
    churn_trust: NonNeg
    churn_reactance: NonNeg
    churn_resentment: NonNeg
    keep_giving_effect: NonNeg
    keep_giving_window: PosDuration
    closed_account_effect: NonNeg
    choice_weight: NonNeg
    gift_trust: NonNeg
    thank_trust: NonNeg
    # rule 13
    gift_limit: Dollars


# --- the scenario -------------------------------------------------------------------------------

OutcomeKind = Literal[OUTCOME_KINDS]  # any metric of the registry in sim.metrics


class GuideCheck(_Spec):
    """The check of one "thing to try" (``sim.guide_checks``): the change and what must hold."""

    try_item: int = Field(alias="try", ge=1)
    """The 1-based item of ``guide.try`` this checks."""
    set: dict[str, Any] = {}
    """The change the claim is about (dotted keys), made in every term not marked ``was:``."""
    expect: str
    """What must hold on the means over replications, e.g.
    ``"complaint_rate[pushy] < was:complaint_rate[pushy]"``."""
    steps: Annotated[int, Field(ge=1, le=100_000)] | None = None
    reps: Annotated[int, Field(ge=2, le=200)] | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("expect")
    @classmethod
    def _parses(cls, value: str) -> str:
        from sim.guide_checks import parse_claim

        parse_claim(value)
        return value


class Guide(_Spec):
    """What a trainer needs, written in the scenario file."""

    title: str = ""
    what: str = ""
    context: str = ""
    notice: list[str] = []
    try_: list[str] = Field(default=[], alias="try")
    metric: str = ""
    checks: list[GuideCheck] = []
    """One check per "thing to try" (its claim, tested with replications)."""
    script: list[dict[str, str | int]] = []
    """A 10-minute class, one moment per entry: ``show`` (what to show or say), ``ask`` (a
    question for the room), ``when`` (the run's condition to pause on, e.g.
    ``"complaint_rate[pushy] > complaint_rate[active]"``; the app ticks the moment off on the
    day it first holds) and ``notice`` (the 1-based "things to notice" item it shows)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _check_script(self) -> Guide:
        allowed = {"show": str, "ask": str, "when": str, "notice": int}
        for i, moment in enumerate(self.script, start=1):
            for key, value in moment.items():
                if key not in allowed or not isinstance(value, allowed[key]):
                    raise ValueError(f"guide.script[{i}].{key} = {value!r}: a moment takes show, "
                                     f"ask and when (text) and notice (a number)")
            if not moment.get("show"):
                raise ValueError(f"guide.script[{i}]: 'show' (what to show) is required")
            notice = moment.get("notice")
            if notice is not None and not 1 <= notice <= len(self.notice):
                raise ValueError(f"guide.script[{i}].notice = {notice}: use 1 to "
                                 f"{len(self.notice)} (an item of guide.notice)")
        for i, check in enumerate(self.checks):
            if check.try_item > len(self.try_):
                raise ValueError(f"guide.checks.{i}.try = {check.try_item}: use 1 to "
                                 f"{len(self.try_)} (an item of guide.try)")
        return self


def _days_text(days: float) -> str:
    """A duration for messages: ``2 hours``, ``1.5 days``.

    >>> _days_text(1 / 12), _days_text(1.5), _days_text(1 / 48)
    ('2 hours', '1.5 days', '30 minutes')
    """
    for unit, size in (("day", 1.0), ("hour", 1 / 24), ("minute", 1 / 1440)):
        if days >= size * 0.999 or unit == "minute":
            count = round(days / size, 3)
            return f"{count:g} {unit}{'' if count == 1 else 's'}"
    raise AssertionError


class Scenario(_Spec):
    """A fully resolved scenario: what ``ReciprocityModel`` runs."""

    name: str = "unnamed"
    source: str = ""
    """The file this came from (filled in by the loader)."""
    arm: str | None = None
    guide: Guide = Guide()
    step: PosDuration = 1.0
    """The length of one step in days (``"1 day"``, ``"1 hour"``, ``"30 minutes"``): every
    delay, window, half-life and daily rate means the same real time whatever the step."""
    steps: Annotated[int, Field(ge=1, le=MAX_STEPS)] = 180
    """How many steps a run lasts."""
    network: NetworkSpec = NetworkSpec()
    buyers: BuyerSpec = BuyerSpec()
    sellers: list[SellerSpec] = Field(min_length=1, max_length=MAX_SELLERS)
    strategies: dict[str, Strategy] = {}
    rules: RuleParams
    """Global rule parameters (from scenarios/_defaults.toml)."""
    outcomes: dict[str, OutcomeKind] = {}
    """Extra metrics this context reports, by name (e.g. tip_percent = "mean_amount")."""
    arms: dict[str, dict[str, Any]] = {}
    """Named conditions: dotted-key settings applied over the scenario (common random numbers)."""
    calibration: CalibrationTable = CalibrationTable()
    """Targets from the literature and qualitative facts that ``recip validate`` checks
    (:mod:`sim.calibration.targets`)."""

    @model_validator(mode="after")
    def _sellers_have_strategies(self):
        for i, seller in enumerate(self.sellers):
            if seller.strategy not in self.strategies:
                allowed = ", ".join(sorted(self.strategies)) or "none (no strategy is defined)"
                raise ValueError(f"sellers.{i}.strategy = {seller.strategy!r} is not a known "
                                 f"strategy; allowed: {allowed}")
        return self

    @model_validator(mode="after")
    def _outcomes_do_not_shadow_core_metrics(self):
        for name in self.outcomes:
            if name in CORE_METRICS:
                raise ValueError(f"outcomes.{name}: {name!r} is already a core metric, reported "
                                 f"for every scenario; give the outcome another name (core "
                                 f"metrics: {', '.join(CORE_METRICS)})")
        return self

    @model_validator(mode="after")
    def _arm_is_an_arm(self):
        if self.arm is not None and self.arm not in self.arms:
            raise ValueError(f"arm = {self.arm!r} is not an arm of this scenario; allowed: "
                             f"{', '.join(self.arms) or 'none'}")
        return self

    @model_validator(mode="after")
    def _repeat_intervals_last_a_step(self):
        # An interval rounds to whole steps, and 0 means "never repeat": one shorter than half a
        # step would silently switch the repetition off.
        used = {seller.strategy for seller in self.sellers}
        for name in sorted(used):
            strategy = self.strategies[name]
            for act, field_ in (("gift", "every"), ("gift", "after_sale_every"),
                                ("ask", "every"), ("ask", "repeat_every")):
                days = getattr(getattr(strategy, act), field_)
                if 0 < days < self.step / 2:
                    raise ValueError(
                        f"strategies.{name}.{act}.{field_} = {_days_text(days)} is shorter than "
                        f"half a step ({_days_text(self.step)}) and would round to 0 steps, "
                        f"which means never repeat; use at least {_days_text(self.step / 2)}, "
                        f"or a shorter step")
        return self

    @model_validator(mode="after")
    def _guide_checks_name_what_the_scenario_has(self):
        from sim.guide_checks import parse_claim

        metrics = {*CORE_METRICS, *self.outcomes}
        for i, check in enumerate(self.guide.checks):
            for term in parse_claim(check.expect).terms:
                where = f"guide.checks.{i}.expect = {check.expect!r}"
                if term.metric not in metrics:
                    raise ValueError(f"{where}: no metric {term.metric!r}")
                if term.arm is not None and term.arm not in self.arms:
                    raise ValueError(f"{where}: no arm {term.arm!r} in [arms]; allowed: "
                                     f"{', '.join(self.arms) or 'none'}")
                if term.strategy is not None and term.strategy not in self.strategies:
                    raise ValueError(f"{where}: no strategy {term.strategy!r}")
        return self

    @model_validator(mode="after")
    def _calibration_names_real_arms_and_metrics(self):
        arms = {None, *self.arms}
        table = self.calibration
        for i, target in enumerate(table.targets):
            for field in ("arm", "baseline"):
                if getattr(target, field) not in arms:
                    raise ValueError(f"calibration.targets.{i}.{field} = {getattr(target, field)!r}"
                                     f" is not an arm; allowed: {', '.join(self.arms) or 'none'}")
            for field in ("metric", "baseline_metric"):
                self._check_metric(f"calibration.targets.{i}.{field}", getattr(target, field))
        self._check_metric("calibration.metric", table.metric)
        for i, fact in enumerate(table.facts):
            for j, check in enumerate(fact.checks):
                for side in ("more", "less"):
                    where = f"calibration.facts.{i}.checks.{j}.{side}"
                    if getattr(check, side).arm not in arms:
                        raise ValueError(f"{where}.arm = {getattr(check, side).arm!r} is not an "
                                         f"arm; allowed: {', '.join(self.arms) or 'none'}")
                    self._check_metric(f"{where}.metric", getattr(check, side).metric)
                    # a strategy need not be in play: an arm may bring it, overrides may change
                    # the sellers
                    strategy = getattr(check, side).strategy
                    if strategy is not None and strategy not in self.strategies:
                        raise ValueError(f"{where}.strategy = {strategy!r} is not a strategy; "
                                         f"allowed: {', '.join(sorted(self.strategies))}")
        return self

    def _check_metric(self, where: str, name: str | None) -> None:
        known = [*CORE_METRICS, *self.outcomes]
        if name is not None and name not in known:
            raise ValueError(f"{where} = {name!r} is not a metric of this scenario; allowed: "
                             f"{', '.join(known)}")

    @property
    def strategies_in_play(self) -> list[str]:
        """Strategies the sellers follow, in seller order, without repeats."""
        return list(dict.fromkeys(seller.strategy for seller in self.sellers))

    def strategy_of(self, seller: int) -> Strategy:
        return self.strategies[self.sellers[seller].strategy]


# --- loading ------------------------------------------------------------------------------------

SHIPPED_EXTENSION = ".toml"


def list_scenarios() -> list[str]:
    """Names of the shipped scenarios, sorted."""
    return sorted(p.stem for p in scenarios_dir().glob("*.toml") if not p.stem.startswith("_"))


def parse_value(text: str) -> Any:
    """Parse a ``--set`` value as a TOML value; bare words stay strings.

    >>> parse_value("500"), parse_value("0.5"), parse_value("true"), parse_value("barabasi_albert")
    (500, 0.5, True, 'barabasi_albert')
    """
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def set_dotted(data: dict[str, Any], key: str, value: Any, *, origin: str) -> None:
    """Set ``a.b.0.c`` in nested dicts and lists, creating dicts on the way."""
    parts = key.split(".")
    if "" in parts:
        raise ScenarioError(f"{origin}: {key!r} = {_shown(value)}: a dotted key with an empty "
                            f"part; allowed: names joined by dots, e.g. buyers.n")
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            if not (part.isascii() and part.isdigit()) or int(part) >= len(node):
                raise ScenarioError(f"{origin}: {key} = {_shown(value)}: {where} is not an index "
                                    f"of a list of {len(node)} (allowed: 0..{len(node) - 1})")
            index = int(part)
            if last:
                node[index] = value
            else:
                node = node[index]
            continue
        if not isinstance(node, dict):
            raise ScenarioError(f"{origin}: {key} = {_shown(value)}: {'.'.join(parts[:depth])} "
                                f"is a value, not a table")
        if last:
            node[part] = value
        else:
            node = node.setdefault(part, {})


MAX_SHOWN = 120
"""Characters of a value repeated in a message (a huge value is cut)."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN]}... ({len(text):,} characters)"


def _format_validation_error(exc: ValidationError, origin: str) -> str:
    lines = _error_lines(exc, Scenario)
    return f"{origin}: " + ("\n  " if len(lines) > 1 else "") + "\n  ".join(lines)


def _error_lines(exc: ValidationError, root: type[BaseModel], prefix: tuple = ()) -> list[str]:
    """One line per problem: ``field = value: what is wrong; allowed: ...``. ``root`` is the model
    validated, ``prefix`` the path of its data in the scenario."""
    lines = []
    for err in exc.errors():
        where = (*prefix, *err["loc"])
        loc = ".".join(str(x) for x in where)
        value = _shown(err.get("input"))
        kind = err["type"]
        if kind == "extra_forbidden":
            allowed = _allowed_fields(err["loc"][:-1], root)
            close = difflib.get_close_matches(str(err["loc"][-1]), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            lines.append(f"{loc} = {value}: unknown field{hint}; allowed: {', '.join(allowed)}")
            continue
        if isinstance(err.get("input"), _Boolean):
            msg = "must be a number, not true or false"
        elif kind == "value_error":
            msg = err["msg"].removeprefix("Value error, ")
        elif kind == "finite_number":
            msg = "must be a finite number (nan and inf are not allowed)"
        elif kind in ("model_type", "model_attributes_type", "dict_type"):
            msg = "must be a table of fields, not a single value"
        elif kind == "list_type":
            msg = "must be a list"
        else:
            msg = err["msg"]
        allowed = _allowed_range(err["loc"], root) if kind not in ("value_error", "missing") else None
        if allowed and allowed not in msg:
            msg = f"{msg}; allowed: {allowed}"
        lines.append(f"{loc} = {value}: {msg}" if loc else msg)
    return lines


def _walk(loc: tuple, root: type[BaseModel]) -> tuple[Any, list[Any]]:
    """The annotation at ``loc`` under ``root`` (walking models, dict values and list items,
    unwrapping optional and annotated types) and the constraints attached on the way."""
    ann: Any = root
    metadata: list[Any] = []
    for part in loc:
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            field = ann.model_fields.get(str(part))
            if field is None:
                return None, []
            ann, metadata = field.annotation, list(field.metadata)
        elif typing.get_origin(ann) in (dict, list):
            ann, metadata = typing.get_args(ann)[-1], []
        else:
            return None, []
        ann, metadata = _unwrap(ann, metadata)
    return ann, metadata


def _unwrap(ann: Any, metadata: list[Any]) -> tuple[Any, list[Any]]:
    """``X | None`` as ``X``; ``Annotated[X, Field(...)]`` as ``X`` and its constraints."""
    non_none = [a for a in typing.get_args(ann) if a is not type(None)]
    if typing.get_origin(ann) in (typing.Union, types.UnionType) and len(non_none) == 1:
        ann = non_none[0]
    if typing.get_origin(ann) is Annotated:
        base, *extra = typing.get_args(ann)
        for item in extra:
            metadata = [*metadata, *getattr(item, "metadata", [item])]
        ann = base
    return ann, metadata


def _allowed_fields(loc: tuple, root: type[BaseModel] | None = None) -> list[str]:
    """Field names allowed at ``loc`` (walking models, dict values and list items)."""
    ann, _ = _walk(tuple(loc), root or Scenario)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return sorted(f.alias or name for name, f in ann.model_fields.items())
    return []


def _allowed_range(loc: tuple, root: type[BaseModel]) -> str | None:
    """What a field of one value allows, in words: ``a number from 0 to 1``."""
    ann, metadata = _walk(tuple(loc), root)
    if ann is bool:
        return "true or false"
    if ann is str:
        return "text, in quotes"
    if ann not in (int, float):
        return None
    bounds = {name: getattr(item, name) for item in metadata
              for name in ("ge", "gt", "le", "lt") if getattr(item, name, None) is not None}
    what = "a whole number" if ann is int else "a number"
    low = (f"from {_number(bounds['ge'])}" if "ge" in bounds else
           f"above {_number(bounds['gt'])}" if "gt" in bounds else None)
    high = (f"to {_number(bounds['le'])}" if "le" in bounds else
            f"below {_number(bounds['lt'])}" if "lt" in bounds else None)
    if low and high:
        return f"{what} {low} {high}" if "ge" in bounds else f"{what} {low}, {high.replace('to', 'up to')}"
    if low or high:
        return f"{what} {low or high}"
    return f"{what} (finite)"


def _number(x: float) -> str:
    """``1000000`` as ``1,000,000``; ``0.5`` as ``0.5``."""
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:g}"


MAX_SCENARIO_BYTES = 1 << 20
"""A scenario file is text written by hand: a megabyte is far more than any needs (networks
belong in network files)."""
TABLES = ("guide", "network", "buyers", "strategies", "rules", "outcomes", "arms", "calibration")
"""Top-level keys that must be tables; ``strategies`` and ``arms`` are tables of tables."""
SET_BY_THE_LOADER = {"arm": "choose an arm with --arm (or arm=... in Python), not in the file",
                     "source": "the loader records the file a scenario came from"}


def _locate(scenario: str | Path) -> Path:
    if isinstance(scenario, Path) or str(scenario).endswith(SHIPPED_EXTENSION) or "/" in str(scenario):
        path = Path(scenario)
        try:
            exists, regular = path.exists(), path.is_file()
        except (OSError, ValueError):  # a name too long, a NUL byte
            exists = regular = False
        if not exists:
            raise ScenarioError(f"scenario file {_shown(str(path))} does not exist")
        if not regular:
            raise ScenarioError(f"scenario file {_shown(str(path))} is not a regular file; "
                                f"allowed: a .toml file")
        return path
    names = list_scenarios()
    if str(scenario) in names:  # a name, never a path built from any text (too long, NUL...)
        return scenarios_dir() / f"{scenario}{SHIPPED_EXTENSION}"
    close = difflib.get_close_matches(str(scenario), names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ScenarioError(f"unknown scenario {_shown(scenario)}{hint}; shipped scenarios: "
                        f"{', '.join(names)}; or give a path to a .toml file")


def _read_scenario_file(path: Path) -> dict[str, Any]:
    """A scenario file's TOML, or one clear error: too big, not UTF-8, not TOML, nested too deep,
    or a key only the loader sets."""
    try:
        size = path.stat().st_size
        if size > MAX_SCENARIO_BYTES:
            raise ScenarioError(f"{path}: {size:,} bytes; a scenario file is at most "
                                f"{MAX_SCENARIO_BYTES:,} bytes (put networks in network files)")
        data = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ScenarioError(f"{path}, line {line}: not UTF-8 text (byte {exc.start}); save the "
                            f"scenario as UTF-8") from None
    try:
        own = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ScenarioError(f"{path}: not valid TOML: arrays or tables nested too deeply") from None
    for key, why in SET_BY_THE_LOADER.items():
        if key in own:
            raise ScenarioError(f"{path}: {key} = {_shown(own[key])}: not allowed in a scenario "
                                f"file ({why})")
    return own


def _check_shapes(raw: Mapping[str, Any], origin: str) -> None:
    """Tables where tables are due, before the loader walks them (the schema says the rest)."""
    for key in TABLES:
        if key in raw and not isinstance(raw[key], dict):
            raise ScenarioError(f"{origin}: {key} = {_shown(raw[key])}: must be a table, e.g. "
                                f"[{key}]")
    for key, what in (("strategies", "a strategy's fields, e.g. { base = \"active\" }"),
                      ("arms", "dotted keys and values, e.g. { \"buyers.n\" = 500 }")):
        for name, value in raw.get(key, {}).items():
            if not isinstance(value, dict):
                raise ScenarioError(f"{origin}: {key}.{name} = {_shown(value)}: must be a table "
                                    f"of {what}")
    sellers = raw.get("sellers", [])
    if not isinstance(sellers, list):
        raise ScenarioError(f"{origin}: sellers = {_shown(sellers)}: must be a list of "
                            f"[[sellers]] tables")
    for i, seller in enumerate(sellers):
        if not isinstance(seller, dict):
            raise ScenarioError(f"{origin}: sellers.{i} = {_shown(seller)}: must be a table, "
                                f"e.g. {{ strategy = \"active\" }}")


def load_scenario(scenario: str | Path | Scenario = "pushy_vs_active", *, arm: str | None = None,
                  overrides: Mapping[str, Any] | None = None,
                  graph_nodes: int | None = None) -> Scenario:
    """Load a shipped scenario by name, a TOML file by path, or re-resolve a loaded ``Scenario``.

    ``arm`` picks one of the scenario's named conditions; ``overrides`` are dotted keys
    (``{"buyers.n": 500, "strategies.active.gift.value": 10}``) applied last. When the buyers'
    network is a graph handed over (``graph_nodes``: its number of nodes) or a network file,
    ``buyers.n`` follows it; an override that sets another ``buyers.n`` is an error, and so is a
    scenario file that names both a network file and another ``buyers.n``.

    Every arm of a file is checked when the file is loaded (not only the arm picked), and the
    result is checked against this machine (:func:`sim.limits.check_scenario`): any problem is a
    :class:`ScenarioError` naming the file, the field, the value and what is allowed.

    >>> load_scenario("pushy_vs_active", overrides={"buyers.n": 300}).buyers.n
    300
    """
    from sim import limits

    overrides = dict(overrides or {})
    resolved = _load(scenario, arm, overrides, graph_nodes)
    limits.check_scenario(resolved, generated=graph_nodes is None)
    return resolved


def _load(scenario: str | Path | Scenario, arm: str | None, overrides: dict[str, Any],
          graph_nodes: int | None) -> Scenario:
    if isinstance(scenario, Scenario):
        if arm is None and not overrides and graph_nodes in (None, scenario.buyers.n):
            return scenario
        raw = scenario.model_dump(by_alias=True, exclude={"arm"})
        origin = scenario.source or scenario.name
        base_arm = scenario.arm
        if base_arm is not None and arm is not None and arm != base_arm:
            raise ScenarioError(f"{origin}: already resolved for arm {base_arm!r}; load the "
                                f"scenario again to pick arm {arm!r}")
        n_in_file = False
    else:
        path = _locate(scenario)
        origin = str(path)
        raw, n_in_file = _file_raw(path)
        base_arm = None
    try:
        return _resolve(raw, origin, arm, base_arm, overrides, graph_nodes, n_in_file)
    except ScenarioError:
        raise
    except (TypeError, AttributeError, KeyError, IndexError, ValueError, RecursionError) as exc:
        # A value of a shape the loader did not foresee: still one line naming what was set.
        what = (f"--set {', '.join(map(str, overrides))}" if overrides else
                f"arm = {arm!r}" if arm is not None else "the file")
        raise ScenarioError(f"{origin}: {_shown(what)}: not a usable value "
                            f"({type(exc).__name__}: {_shown(str(exc))})") from None


_MERGED_FILES: dict[tuple, tuple[dict[str, Any], bool]] = {}
""":func:`_file_raw`'s results by :func:`file_versions`, the most recent few: a sweep loads its
scenario once per design point, and reading and merging the three TOML files and checking the
arms cost more than the rest of the loading."""
_MERGED_FILES_KEPT = 16


def _file_raw(path: Path) -> tuple[dict[str, Any], bool]:
    """A scenario file merged over the defaults and presets, its arms checked; and whether the
    file itself sets ``buyers.n``. Read again only when one of the files changed; the caller
    gets its own copy to change."""
    try:
        version = file_versions(path)
    except OSError as exc:
        raise ScenarioError(f"{exc.filename or path}: cannot be read: "
                            f"{exc.strerror or exc}") from None
    if version not in _MERGED_FILES:
        if len(_MERGED_FILES) >= _MERGED_FILES_KEPT:
            del _MERGED_FILES[next(iter(_MERGED_FILES))]  # the oldest
        _MERGED_FILES[version] = _merged_file(path)
    raw, n_in_file = _MERGED_FILES[version]
    return copy.deepcopy(raw), n_in_file


def _merged_file(path: Path) -> tuple[dict[str, Any], bool]:
    """:func:`_file_raw`, read from the files."""
    origin = str(path)
    own = _read_scenario_file(path)
    _check_shapes(own, origin)
    n_in_file = "n" in own.get("buyers", {})
    raw = deep_merge(read_toml(scenarios_dir() / "_defaults.toml"), own)
    raw.setdefault("name", path.stem)
    raw["source"] = str(path)
    presets = strategies.presets()
    for name, spec in raw.get("strategies", {}).items():
        if name in presets and isinstance(spec, dict) and "base" in spec:
            raise ScenarioError(f"{origin}: strategies.{name}.base = {_shown(spec['base'])}: "
                                f"{name!r} is a preset; override its fields without 'base', "
                                f"or give the new strategy another name")
    raw["strategies"] = deep_merge(presets, raw.get("strategies", {}))
    network_path = raw["network"].get("path") if isinstance(raw.get("network"), dict) else None
    if isinstance(network_path, str) and network_path.isprintable():  # else the schema says no
        raw["network"]["path"] = str((path.parent / network_path).resolve())
    _check_arms(raw, origin)
    return raw, n_in_file


def _blame_overrides(exc: ScenarioError, overrides: Mapping[str, Any]) -> ScenarioError:
    """An error that an override caused elsewhere (``--set strategies={}`` leaves the sellers
    without their strategy) also names the override."""
    message = str(exc)
    if overrides and not any(str(key) in message for key in overrides):
        keys = ", ".join(f"{key} = {_shown(value)}" for key, value in overrides.items())
        message += f"\n  (with the overrides {keys})"
    return ScenarioError(message)


def file_versions(path: Path) -> tuple:
    """What loading the scenario file ``path`` depends on, as (file, modification time, size)
    for the file and for the defaults and presets merged under it: a key that changes when any
    of them is edited."""
    shipped = scenarios_dir()
    files = (path, shipped / "_defaults.toml", shipped / "_strategies.toml")
    out = []
    for file in files:
        info = file.stat()
        out.append((str(file.resolve()), info.st_mtime_ns, info.st_size))
    return tuple(out)


def _check_arms(raw: dict[str, Any], origin: str) -> None:
    """Every arm applies and validates over the file, so a broken arm fails when the file is
    loaded, not only when someone picks it (once per version of the files: :data:`_MERGED_FILES`
    keeps the result)."""
    base = copy.deepcopy(raw)  # the file's own mistakes first, named as the file's
    base["strategies"] = strategies.resolve_bases(base.get("strategies", {}), origin)
    _validate(base, origin)
    for name, settings in raw.get("arms", {}).items():
        where = f"{origin} [arms.{name}]"
        armed = copy.deepcopy(raw)
        for key, value in settings.items():
            set_dotted(armed, key, value, origin=where)
        _check_shapes(armed, where)
        armed["strategies"] = strategies.resolve_bases(armed.get("strategies", {}), where)
        armed["arm"] = name
        _validate(armed, where)


def _resolve(raw: dict[str, Any], origin: str, arm: str | None, base_arm: str | None,
             overrides: dict[str, Any], graph_nodes: int | None, n_in_file: bool) -> Scenario:
    """``raw`` with the arm and overrides applied, validated, ``buyers.n`` fitted to the
    network."""
    if arm is not None and arm != base_arm:
        arms = raw.get("arms", {})
        if arm not in arms:
            allowed = ", ".join(arms) if arms else "none (this scenario has no arms)"
            raise ScenarioError(f"{origin}: arm = {_shown(arm)} is not an arm of this scenario; "
                                f"allowed: {allowed}")
        for key, value in arms[arm].items():
            set_dotted(raw, key, value, origin=f"{origin} [arms.{arm}]")
            n_in_file |= key == "buyers.n"
        raw["arm"] = arm
    elif base_arm is not None:
        raw["arm"] = base_arm
    for key, value in overrides.items():
        set_dotted(raw, key, value, origin=f"{origin} (override)")
    _check_shapes(raw, f"{origin} (override)" if overrides else origin)
    raw["strategies"] = strategies.resolve_bases(raw.get("strategies", {}), origin)
    try:
        resolved = _validate(raw, origin)
    except ScenarioError as exc:
        raise _blame_overrides(exc, overrides) from None
    nodes = graph_nodes
    if nodes is None and NETWORK_KINDS[resolved.network.kind].from_file:
        try:
            nodes = load_network_file(resolved.network.kind, resolved.network.path).n
        except ScenarioError as exc:  # it names the network file and line; say which field
            raise ScenarioError(f"{origin}: network.path: {exc}") from None
    if nodes is None or nodes == resolved.buyers.n:
        return resolved
    # buyers.n contradicts the network only when set where the network itself is set, or later:
    # a scenario's own n was for its own network, not for a file an override swaps in
    network_overridden = any(key == "network" or key.startswith("network.") for key in overrides)
    where = ("override" if "buyers.n" in overrides else
             "scenario" if n_in_file and graph_nodes is None and not network_overridden else None)
    if where is not None:
        network = ("the graph" if graph_nodes is not None
                   else f"network.path = {resolved.network.path!r}")
        raise ScenarioError(f"{origin} ({where}): buyers.n = {resolved.buyers.n}, but {network} "
                            f"has {nodes} nodes; leave buyers.n out (it follows the network) or "
                            f"set it to {nodes}")
    raw["buyers"]["n"] = nodes
    return _validate(raw, origin)


def _validate(raw: dict[str, Any], origin: str) -> Scenario:
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(_format_validation_error(exc, origin)) from None
