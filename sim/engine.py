"""The vectorised state of a reciprocity model and its daily update.

All hot state lives in numpy arrays: per buyer (traits), per seller (strategy parameters, tallies)
and per seller-buyer tie (obligation, suspicion, trust, reactance, status...). One day is one
``Engine.step``; every rule of :mod:`sim.rules` is applied to whole tie arrays at once. Mesa agents
(:mod:`sim.agents`) read this state through properties; the engine never loops over agents.

Random numbers come from three independent streams (network, population, behaviour) spawned from
one ``SeedSequence``, and the behaviour stream draws the same fixed-shape block every day, so two
arms of a scenario run on the same seed share network, population and daily draws (common random
numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim import rules
from sim.config import Scenario
from sim.network import BuyerNetwork, bfs_order, build_network

# Tie status codes.
UNREACHED, PROSPECT, CUSTOMER, CHURNED, OPTED_OUT = 0, 1, 2, 3, 4
STATUS_NAMES = {UNREACHED: "unreached", PROSPECT: "prospect", CUSTOMER: "customer",
                CHURNED: "churned", OPTED_OUT: "opted out"}
RETENTION_DAYS = 90

# Rows of the daily block of uniform draws (fixed, so that arms share draws).
(U_GATE, U_YES, U_REPLY, U_RETALIATE, U_OPT_OUT, U_CHURN, U_REFER, U_DISCOVER, U_ROUND,
 U_WARN) = range(10)
N_DRAWS = 10

EVENT_KINDS = ("gift", "gift_refused", "ask", "yes", "no", "ignored", "tactic", "manipulation",
               "complaint", "warning", "referral", "opt_out", "churn", "deception_found")


def _trait(rng, spec, n, low, high):
    values = spec.mean + spec.sd * rng.standard_normal(n) if spec.sd > 0 else np.full(n, spec.mean)
    return np.clip(values, low, high)


def _logit(p):
    return np.log(p / (1.0 - p))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class Streams:
    """The model's independent random streams, spawned from one seed."""

    network: np.random.Generator
    population: np.random.Generator
    behaviour: np.random.Generator

    @classmethod
    def from_seed_sequence(cls, seq: np.random.SeedSequence) -> Streams:
        net, pop, beh = seq.spawn(3)
        return cls(np.random.default_rng(net), np.random.default_rng(pop), np.random.default_rng(beh))


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

    def __post_init__(self):
        for name in self.__dataclass_fields__:
            if name != "n_sellers":
                setattr(self, name, np.zeros(self.n_sellers))


class Engine:
    """Vectorised state and daily update of one model run."""

    def __init__(self, scenario: Scenario, seed: np.random.SeedSequence, *,
                 record_events: bool = False):
        self.scenario = scenario
        self.p = scenario.rules
        self.streams = Streams.from_seed_sequence(seed)
        self.n = scenario.buyers.n
        self.s = len(scenario.sellers)
        self.day = 0
        self.record_events = record_events
        self.events: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.warning_counts: np.ndarray | None = None

        self.network: BuyerNetwork = build_network(scenario.network, self.n, self.streams.network)
        self.buyers = Buyers.draw(scenario, self.streams.population)
        self._load_strategies()
        self.anchors = [self.streams.population.choice(self.n, size=min(k, self.n), replace=False)
                        for k in self._reach_initial.astype(int)]
        self.reach_order = np.stack([
            bfs_order(self.network, anchor, self.streams.population) if anchor.size
            else self.streams.population.permutation(self.n) for anchor in self.anchors])
        self._reach_cursor = np.zeros(self.s, dtype=np.int64)
        self.tallies = Tallies(self.s)
        self._init_ties()

    # --- set-up ---------------------------------------------------------------------------------

    def _load_strategies(self):
        """Strategy parameters as (sellers, 1) columns that broadcast over buyers."""
        strategies = [self.scenario.strategy_of(i) for i in range(self.s)]

        def col(get, dtype=float):
            return np.array([get(st) for st in strategies], dtype=dtype)[:, None]

        self._reach_initial = col(lambda st: st.reach.initial)[:, 0]
        self._reach_per_day = col(lambda st: st.reach.per_day)[:, 0]
        self._reach_max = col(lambda st: st.reach.max_share)[:, 0]
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
        a["asks"] = np.array([sel.asks for sel in self.scenario.sellers], dtype=bool)[:, None]
        self.gift, self.ask = g, a
        self.thanks = col(lambda st: st.thank, bool)
        self.liking = np.array([sel.likeability for sel in self.scenario.sellers])[:, None]
        self.strategy_names = [sel.strategy for sel in self.scenario.sellers]

    def _init_ties(self):
        shape = (self.s, self.n)
        self.status = np.zeros(shape, dtype=np.int8)
        self.contact_day = np.full(shape, -1, dtype=np.int32)
        self.gross = np.zeros(shape)          # felt gift debt before the motive reading (>= 0)
        self.concession = np.zeros(shape)     # debt from a requester's concession (>= 0)
        self.given = np.zeros(shape)          # nominal dollars given (for rough equivalence)
        self.suspicion = np.zeros(shape)      # summed persuasion cues seen (see add_suspicion)
        self._readings: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.trust = np.full(shape, self.scenario.buyers.initial_trust)
        self.reactance = np.zeros(shape)
        self.gifts_given = np.zeros(shape, dtype=np.int32)
        self.first_gift_day = np.full(shape, -1, dtype=np.int32)
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

    def add_suspicion(self, cues: np.ndarray, seller: int | None = None) -> None:
        """Add persuasion cues (rule 7); every change of suspicion goes through here so that the
        readings derived from it are recomputed only when it changed."""
        if seller is None:
            self.suspicion += cues
        else:
            self.suspicion[seller] += cues
        self._readings = None

    def _derived_readings(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._readings is None:
            sincerity = rules.perceived_sincerity(self.suspicion, self.buyers.detection_skill)
            reading = rules.read_motive(sincerity, tactic_threshold=self.p.tactic_threshold,
                                        manipulation_threshold=self.p.manipulation_threshold)
            motive = rules.imputed_motive(reading,
                                          manipulation_penalty=self.p.manipulation_penalty)
            self._readings = (sincerity, reading, motive)
        return self._readings

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

    @property
    def reached(self) -> np.ndarray:
        return self.status != UNREACHED

    # --- the day --------------------------------------------------------------------------------

    def step(self) -> None:
        """Advance one day: decay, reach, gifts, asks, retaliation, churn, word of mouth."""
        day = self.day
        self.events = {}
        draws = self.streams.behaviour.random((N_DRAWS, self.s, self.n), dtype=np.float32)
        self._decay()
        self._widen_reach(day)
        acted = self._discover_hidden_conditions(day, draws)
        acted |= self._give(day, draws)
        acted |= self._ask(day, draws)
        owed = self.effective_obligation()  # unchanged until referrals settle some of it
        warners = self._retaliate(acted, owed, draws)
        self._churn(day, owed, draws)
        referrers = self._refer(day, owed, draws)
        self._spread_word_of_mouth(day, warners, referrers)
        self.backfired |= self.accepted_gift & (self.reading == rules.MANIPULATION)
        self.trust = np.clip(self.trust, 0.0, 1.0)
        self.day += 1

    def _event(self, kind: str, mask: np.ndarray) -> None:
        if self.record_events:
            sellers, buyers = np.nonzero(mask)
            self.events[kind] = (sellers, buyers)

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
                new = self.reach_order[s, self._reach_cursor[s]: target[s]]
                self._reach(s, new, day)
                self._reach_cursor[s] = target[s]

    def _reach(self, seller: int, buyers: np.ndarray, day: int) -> None:
        fresh = buyers[self.status[seller, buyers] == UNREACHED]
        self.status[seller, fresh] = PROSPECT
        self.contact_day[seller, fresh] = day

    def _avoiding(self) -> np.ndarray:
        return self.reactance > self.p.avoid_threshold

    def _discover_hidden_conditions(self, day: int, draws) -> np.ndarray:
        """Rules 7, 9, 13: hidden strings are found out in time; deception is resented."""
        if not self.gift["hidden_conditions"].any():
            return np.zeros((self.s, self.n), dtype=bool)
        found = (self.gift["hidden_conditions"] & self.accepted_gift & ~self.deceived
                 & (draws[U_DISCOVER] < self.p.discovery_rate))
        self.deceived |= found
        self.add_suspicion(np.where(found, self.p.cue_strings, 0.0))
        self._event("deception_found", found)
        return found

    def _give(self, day: int, draws) -> np.ndarray:
        """Gifts due today: first gift, repeats to prospects, keep-giving to customers."""
        g, p = self.gift, self.p
        since_contact = day - self.contact_day
        since_gift = day - self.last_gift_day
        first = (self.gifts_given == 0) & (since_contact >= g["first_day"])
        repeat = ((self.gifts_given > 0) & (g["every"] > 0) & (since_gift >= g["every"])
                  & (self.gifts_given < g["max_gifts"]))
        keep_giving = (g["after_sale_every"] > 0) & (since_gift >= g["after_sale_every"])
        due = (g["value"] > 0) & (((self.status == PROSPECT) & (first | repeat))
                                  | ((self.status == CUSTOMER) & keep_giving))
        if not due.any():
            return due
        refused = (rules.gift_refused_by_rules(self.buyers.gift_rules, g["value"],
                                               gift_limit=p.gift_limit)
                   | self._avoiding() | (g["gated"] & (draws[U_GATE] >= self.scenario.buyers.gate_uptake)))
        accepted = due & ~refused
        self.offered_gift |= due
        self.gifts_given += due
        self.last_gift_day[due] = day
        self.first_gift_day[due & (self.first_gift_day < 0)] = day
        self._event("gift", accepted)
        self._event("gift_refused", due & refused)
        if not accepted.any():
            return due

        self.accepted_gift |= accepted
        self.add_suspicion(np.where(accepted, p.cue_generic * (1.0 - g["personalised"])
                                    + rules.bait_cue(g["usefulness"], g["claimed_value"],
                                                     g["value"], useless_weight=p.cue_useless,
                                                     overclaim_weight=p.cue_overclaim), 0.0))
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
        debt = rules.benefit_value(perceived, self.buyers.need, g["cost_to_means"], 1.0, freedom,
                                   need_weight=p.need_weight, cost_weight=p.cost_weight)
        self.gross += np.where(accepted & self.buyers.reciprocator, debt, 0.0)
        self.given += np.where(accepted, g["value"] * (g["quantity"] + g["unexpected_second"]), 0.0)
        self.reactance = np.where(
            accepted & g["conditional"],
            rules.accumulate_reactance(self.reactance, p.pressure_strings,
                                       self.buyers.reactance_proneness), self.reactance)
        reading = self.reading
        self.trust += np.where(accepted, np.where(reading == rules.SINCERE, p.gift_trust,
                                                  -2.0 * p.gift_trust), 0.0)
        self._event("tactic", accepted & (reading == rules.TACTIC))
        self._event("manipulation", accepted & (reading == rules.MANIPULATION))
        return due

    def _asks_due(self, day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Which ties are asked today, at what size, and which asks are the conceded retreat."""
        a = self.ask
        since_contact = day - self.contact_day
        since_ask = day - self.last_ask_day
        prospect = (self.status == PROSPECT) & a["asks"]
        first = prospect & (self.asks_made == 0) & (since_contact >= a["delay"])
        concede = (prospect & (a["concede_to"] > 0) & (self.said_no > 0) & ~self.conceded
                   & (since_ask >= 1))
        may_continue = (self.said_no == 0) | a["follow_up_after_no"]
        again = (prospect & (self.asks_made > 0) & (a["every"] > 0) & (since_ask >= a["every"])
                 & (self.asks_made < a["max_asks"]) & may_continue & ~concede
                 & ((a["concede_to"] == 0) | self.conceded | (self.said_no == 0)))
        repeat = ((self.status == CUSTOMER) & a["asks"] & (a["repeat_every"] > 0)
                  & (since_ask >= a["repeat_every"]))
        due = first | concede | again | repeat
        size = np.where(concede | (self.conceded & (a["concede_to"] > 0)), a["concede_to"],
                        a["size"])
        return due, size, concede

    def _ask(self, day: int, draws) -> np.ndarray:
        """Asks due today and the buyers' responses (rules 2-4, 7, 8, 11)."""
        a, p, b = self.ask, self.p, self.buyers
        due, size, concede = self._asks_due(day)
        if not due.any():
            return due
        explicit = due & ~a["implicit"]
        after_no = self.said_no > 0

        # Rule 11: the retreat itself is a concession, owed to this requester only.
        self.concession += np.where(concede, rules.concession_debt(
            a["size"], a["concede_to"], True, concession_weight=p.concession_weight), 0.0)
        self.conceded |= concede

        # Rule 7: the ask as a cue to the gift's motive.
        disproportion = rules.ask_disproportion(size, self.given,
                                                equivalence_tolerance=p.equivalence_tolerance)
        days_since_gift = np.where(self.last_gift_day >= 0, day - self.last_gift_day, np.nan)
        cue = (rules.ask_timing_cue(days_since_gift, cue_weight=p.cue_ask_soon,
                                    window_days=p.ask_soon_window)
               + p.cue_disproportion * disproportion
               + p.cue_after_no * (after_no & ~concede))
        self.add_suspicion(np.where(explicit, cue, 0.0))

        # Rule 8: the ask's pressure builds reactance.
        pressure = rules.ask_pressure(a["urgency"], a["opt_out"], after_no & ~concede, disproportion,
                                      base=p.pressure_base, urgency_weight=p.pressure_urgency,
                                      no_opt_out=p.pressure_no_opt_out,
                                      after_no_weight=p.pressure_after_no,
                                      disproportion_weight=p.disproportion_weight)
        self.reactance = np.where(explicit, rules.accumulate_reactance(
            self.reactance, pressure, b.reactance_proneness), self.reactance)
        excess = rules.reactance_excess(self.reactance, threshold=p.reactance_threshold)
        avoiding = self._avoiding()

        drive = self._compliance_drive(disproportion * explicit, excess)
        amount_mode = a["amount_mode"] & due
        yes_no = due & ~a["amount_mode"]

        # Yes/no asks.
        price = np.maximum(np.log(size / b.budget), 0.0)
        p_yes = _sigmoid(b.base_logit + drive - p.price_weight * price)
        yes = yes_no & ~avoiding & (draws[U_YES] < p_yes)
        said_no = yes_no & ~avoiding & ~yes & (draws[U_REPLY] < self.scenario.buyers.decline_reply_share)
        ignored = yes_no & ~yes & ~said_no
        opt_out = ignored & avoiding & a["opt_out"] & (draws[U_OPT_OUT] < p.opt_out_rate)

        # Amount asks: the buyer chooses how much (rule 4's drive scales the amount).
        amount = np.where(amount_mode & ~avoiding, b.base_amount * np.exp(drive), 0.0)
        amount = np.where(a["integer"], np.floor(amount + draws[U_ROUND]), amount)
        gave = amount_mode & (amount > 0)

        self._record_ask_tallies(due, yes | gave, concede, amount_mode, amount)
        revenue = np.where(yes, a["revenue"] * (1.0 - a["discount"]), 0.0) + amount * a["revenue"]
        self.tallies.revenue += revenue.sum(axis=1)
        complied = yes | gave
        new_customer = complied & (self.status == PROSPECT)
        self.tallies.conversions += new_customer.sum(axis=1)
        self.converted_day[new_customer] = day
        self.status[new_customer] = CUSTOMER
        self.status[opt_out] = OPTED_OUT
        self._settle(complied, np.where(amount_mode, amount * a["revenue"], size))
        self.trust += np.where(complied & self.thanks, p.thank_trust, 0.0)

        self.asked |= due
        self.replied |= yes | said_no | gave
        self.asks_made += due
        self.last_ask_day[due] = day
        self.said_no += said_no
        for kind, mask in (("ask", due), ("yes", complied), ("no", said_no), ("ignored", ignored),
                           ("opt_out", opt_out)):
            self._event(kind, mask)
        return due

    def _compliance_drive(self, disproportion, excess) -> np.ndarray:
        """Rules 3, 4, 8, 10: the push towards yes, on the log-odds (or log-amount) scale."""
        p = self.p
        own = self.effective_obligation()
        gift_debt = own - self.concession
        positive_gift_debt = np.maximum(gift_debt, 0.0)
        others = positive_gift_debt.sum(axis=0, keepdims=True) - positive_gift_debt
        indirect = rules.indirect_obligation(others, indirect_share=p.indirect_share)
        customer_elsewhere = ((self.status == CUSTOMER).sum(axis=0, keepdims=True)
                              - (self.status == CUSTOMER)) > 0
        return (rules.obligation_drive(own + indirect, debt_weight=p.debt_weight,
                                       debt_saturation=p.debt_saturation)
                + rules.liking_drive(self.liking, liking_weight=p.liking_weight)
                + p.trust_weight * (self.trust - 0.5)
                - p.disproportion_weight * disproportion
                - p.reactance_weight * excess
                - p.competition_weight * customer_elsewhere)

    def _settle(self, complied: np.ndarray, repayment: np.ndarray) -> None:
        """Rule 2: a yes repays the felt debt; exact repayment closes the account."""
        owed = np.maximum(self.effective_obligation(), 0.0)
        remaining, closed = rules.settle_account(owed, repayment, exact_tolerance=self.p.exact_tolerance)
        with np.errstate(divide="ignore", invalid="ignore"):
            share_left = np.where(owed > 0, remaining / owed, 1.0)
        self.gross = np.where(complied, self.gross * share_left, self.gross)
        self.concession = np.where(complied, 0.0, self.concession)
        self.account_closed |= complied & closed

    def _record_ask_tallies(self, due, complied, concede, amount_mode, amount) -> None:
        t = self.tallies
        first = due & (self.asks_made == 0)
        t.asks_made += due.sum(axis=1)
        t.asks_answered_yes += complied.sum(axis=1)
        t.first_asks += first.sum(axis=1)
        t.first_asks_yes += (first & complied).sum(axis=1)
        t.conceded_asks += concede.sum(axis=1)
        t.conceded_asks_yes += (concede & complied).sum(axis=1)
        t.amount_asks += amount_mode.sum(axis=1)
        t.amount_total += np.where(amount_mode, amount, 0.0).sum(axis=1)

    def _retaliate(self, acted: np.ndarray, owed: np.ndarray, draws) -> np.ndarray:
        """Rule 9: after today's acts, resentful or reactant buyers complain and warn others."""
        p = self.p
        if not acted.any():
            return acted
        excess = rules.reactance_excess(self.reactance, threshold=p.reactance_threshold)
        restraint = rules.hostility_restrained(np.maximum(owed, 0.0),
                                               restraint=p.hostility_restraint)
        prob = rules.retaliation_probability(
            np.maximum(-owed, 0.0), excess, self.deceived, self.buyers.punisher, restraint,
            base_logit=p.retaliation_base_logit, resentment_weight=p.retaliation_resentment,
            reactance_weight=p.retaliation_reactance, deception_weight=p.retaliation_deception,
            punisher_weight=p.retaliation_punisher)
        retaliates = acted & (draws[U_RETALIATE] < prob)
        complaint = retaliates & ~self.complained
        self.complained |= retaliates
        self.trust -= np.where(retaliates, 0.1, 0.0)
        warners = retaliates & (draws[U_WARN] < p.warn_neighbours)
        self._event("complaint", complaint)
        self._event("warning", warners)
        return warners

    def _churn(self, day: int, owed: np.ndarray, draws) -> None:
        """Rule 12 (and 8, 9): customers leave at a daily hazard; keep-giving holds them."""
        p = self.p
        customers = self.status == CUSTOMER
        if not customers.any():
            return
        kept_giving = (self.gift["after_sale_every"] > 0) & (self.last_gift_day >= 0) & (
            day - self.last_gift_day < p.keep_giving_window) & (self.converted_day <= self.last_gift_day)
        hazard = rules.churn_hazard(
            self.trust, rules.reactance_excess(self.reactance, threshold=p.reactance_threshold),
            np.maximum(-owed, 0.0), kept_giving, self.account_closed, base_hazard=p.churn_base,
            trust_weight=p.churn_trust, reactance_weight=p.churn_reactance,
            resentment_weight=p.churn_resentment, keep_giving_effect=p.keep_giving_effect,
            closed_account_effect=p.closed_account_effect)
        churn = customers & (draws[U_CHURN] < hazard)
        self.status[churn] = CHURNED
        self.churn_day[churn] = day
        self._event("churn", churn)

    def _refer(self, day: int, owed: np.ndarray, draws) -> np.ndarray:
        """Rules 10, 12: satisfied customers (and indebted prospects offered a choice of ways to
        respond) refer neighbours, a way to repay."""
        p, a = self.p, self.ask
        owed = np.maximum(owed, 0.0)
        eligible = (self.status == CUSTOMER) | ((self.status == PROSPECT) & (owed > 0)
                                                & a["choice_of_response"])
        prob = (p.referral_rate * 2.0 * self.trust
                * rules.response_choice_bonus(a["choice_of_response"], choice_weight=p.choice_weight)
                * (1.0 + rules.obligation_drive(owed, debt_weight=p.debt_weight,
                                                debt_saturation=p.debt_saturation)))
        refers = eligible & (draws[U_REFER] < prob)
        self.tallies.referrals += refers.sum(axis=1)
        self.gross = np.where(refers, self.gross * 0.5, self.gross)
        self._event("referral", refers)
        return refers

    def _spread_word_of_mouth(self, day: int, warners: np.ndarray, referrers: np.ndarray) -> None:
        """Rule 10: warnings raise neighbours' suspicion and lower trust; referrals bring the
        seller to neighbours with goodwill."""
        p = self.p
        counts_log = np.zeros((self.s, self.n), dtype=np.int64) if self.record_events else None
        for s in range(self.s):
            senders = np.flatnonzero(warners[s])
            if senders.size:
                counts = rules.neighbour_counts(senders, self.network)
                self.tallies.warnings_sent[s] += counts.sum()
                self.add_suspicion(p.cue_warning * counts, seller=s)
                self.trust[s] -= p.warning_trust * counts
                if counts_log is not None:
                    counts_log[s] = counts
            senders = np.flatnonzero(referrers[s])
            if senders.size:
                counts = rules.neighbour_counts(senders, self.network)
                told = np.flatnonzero(counts)
                self.trust[s, told] += p.referral_trust
                self._reach(s, told, day)
        self.warning_counts = counts_log
