"""Gifts (rules 1, 5, 7, 8, 13): who is due a gift today, whether they take it, what it is worth to
them and what it tells them about the giver; and hidden conditions coming to light."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import rules
from sim.engine.compiled import kernel
from sim.engine.draws import Purpose
from sim.engine.stack import PerTie, Ties
from sim.engine.state import CUSTOMER, PROSPECT

if TYPE_CHECKING:
    from sim.engine.core import Engine


def discover_hidden_conditions(e: Engine, day: int) -> Ties:
    """Rules 7, 9, 13: hidden strings of accepted gifts are found out at ``discovery_rate`` a
    day; the deception is a strong cue (and is resented, rule 9). Returns the ties it happened to."""
    st = e.state
    hidden = e.plan.gift.hidden_conditions
    if not hidden.any():
        return Ties.none()
    ties = e.ties(hidden & st.accepted_gift & ~st.deceived)
    p = e.params(ties)
    ties = ties.where(e.draw(day, Purpose.DISCOVER, ties)
                      < rules.per_step_probability(p.discovery_rate, p.step_days))
    ties.put(st.deceived, True)
    e.add_suspicion(ties, e.params(ties).cue_strings)
    e.record("deception_found", ties)
    return ties


def due(e: Engine, day: int) -> np.ndarray:
    """Flat indices of the ties due a gift today. To a prospect: the first gift ``first_day`` days
    after first contact, then one every ``every`` days up to ``max_gifts``; to a customer, one
    every ``after_sale_every`` days (keep giving). Never for a strategy whose gift has no value
    or is promised (handed over on compliance)."""
    g, st = e.plan.gift, e.state
    return _due(day, st.status, st.gifts_offered, st.contact_day, st.last_offer_day,
                ((g.value > 0) & ~g.promised)[:, 0], g.first_day[:, 0], g.every[:, 0],
                g.max_gifts[:, 0], g.after_sale_every[:, 0])


@kernel
def _due(day, status, gifts_offered, contact_day, last_offer_day, gives, first_day, every,
         max_gifts, after_sale_every):
    """:func:`due`'s scan of every tie, one seller row at a time."""
    rows, n = status.shape
    due_ties = np.empty(rows * n, dtype=np.int64)
    count = 0
    for r in range(rows):
        if not gives[r]:
            continue
        for j in range(n):
            offered = gifts_offered[r, j]
            if status[r, j] == PROSPECT:
                gift_due = ((offered == 0 and contact_day[r, j] <= day - first_day[r])
                            or (offered > 0 and offered < max_gifts[r] and every[r] > 0
                                and last_offer_day[r, j] <= day - every[r]))
            else:
                gift_due = (status[r, j] == CUSTOMER and after_sale_every[r] > 0
                            and last_offer_day[r, j] <= day - after_sale_every[r])
            if gift_due:
                due_ties[count] = r * n + j
                count += 1
    return due_ties[:count].copy()


def give(e: Engine, day: int) -> Ties:
    """Today's gifts and how they are received (rules 1, 5, 7, 8, 13). Returns the ties offered one.

    The schedule is checked on the whole tie arrays; everything else runs only on the ties
    offered a gift today.
    """
    st, buyers, plan = e.state, e.buyers, e.plan.gift
    ties = Ties.at(due(e, day), e.stack)
    if ties.size == 0:
        return ties
    g, p = PerTie(plan, ties.row), e.params(ties)
    reactance, bound_by_rules = _offer(day, ties.index, ties.row, ties.buyer,
                                       st.offered_gift.ravel(), st.gifts_offered.ravel(),
                                       st.last_offer_day.ravel(), st.reactance.ravel(),
                                       buyers.gift_rules, e.tallies.offered)
    refused = rules.gift_refused(bound_by_rules, g.value, reactance, g.gated,
                                 e.draw(day, Purpose.GATE, ties), gift_limit=p.gift_limit,
                                 avoid_threshold=p.avoid_threshold, gate_uptake=p.gate_uptake)
    e.record("gift_refused", ties, refused)
    took = ties.where(~refused)
    if took.size == 0:
        return ties
    g, p, b = PerTie(plan, took.row), e.params(took), took.buyer
    _accept(day, took.index, took.row, st.accepted_gift.ravel(), st.last_gift_day.ravel(),
            st.first_gift_day.ravel(), e.tallies.accepted)
    e.add_suspicion(took, rules.gift_cues(g.personalised, g.usefulness, g.claimed_value, g.value,
                                          cue_generic=p.cue_generic,
                                          useless_weight=p.cue_useless,
                                          overclaim_weight=p.cue_overclaim))
    obligation, gratitude = rules.gratitude_and_obligation(
        np.where(buyers.reciprocator[b], felt_value(e, took), 0.0),
        gratitude_share=p.gratitude_share)
    sincerity, reading = e.readings()[:2]
    sincerity, reading = _book_gift(took.index, took.row, obligation, gratitude,
                                    st.gross.ravel(), st.gratitude.ravel(), st.given.ravel(),
                                    plan.value[:, 0], plan.quantity[:, 0],
                                    plan.unexpected_second[:, 0], plan.unit_cost[:, 0],
                                    e.tallies.gift_cost, sincerity.ravel(), reading.ravel())
    if g.conditional.any():  # rule 8: visible strings restrict freedom
        with_strings = took.where(g.conditional)
        with_strings.put(st.reactance, rules.accumulate_reactance(
            with_strings.get(st.reactance), e.params(with_strings).pressure_strings,
            buyers.reactance_proneness[with_strings.buyer],
            typical_proneness=e.params(with_strings).typical_proneness))
    took.add(st.trust, rules.trust_from_gift(reading, sincerity, gift_trust=p.gift_trust,
                                             manipulation_trust_factor=p.manipulation_trust_factor))
    e.record("gift", took)
    e.record("tactic", took, reading == rules.TACTIC)
    e.record("manipulation", took, reading == rules.MANIPULATION)
    return ties


@kernel
def _offer(day, index, row, buyer, offered_flag, gifts_offered, last_offer_day, reactance,
           gift_rules, offered_total):
    """The offer's bookkeeping for the ties at ``index`` (the once-only "offered" flag, counted
    per row; gifts offered; the day of the last offer); and what the refusal rule reads: each
    tie's reactance and whether its buyer is bound by gift rules."""
    reactance_, bound = np.empty(index.size), np.empty(index.size, dtype=np.bool_)
    for i in range(index.size):
        tie = index[i]
        if not offered_flag[tie]:
            offered_flag[tie] = True
            offered_total[row[i]] += 1
        gifts_offered[tie] += 1
        last_offer_day[tie] = day
        reactance_[i], bound[i] = reactance[tie], gift_rules[buyer[i]]
    return reactance_, bound


@kernel
def _accept(day, index, row, accepted_flag, last_gift_day, first_gift_day, accepted_total):
    """A gift taken: the once-only "accepted" flag (counted per row), the day of the last gift
    and, the first time, of the first."""
    for i in range(index.size):
        tie = index[i]
        if not accepted_flag[tie]:
            accepted_flag[tie] = True
            accepted_total[row[i]] += 1
        last_gift_day[tie] = day
        if first_gift_day[tie] < 0:
            first_gift_day[tie] = day


@kernel
def _book_gift(index, row, obligation, gratitude, gross, gratitude_state, given, value,
               quantity, unexpected_second, unit_cost, gift_cost, sincerity, reading):
    """A gift taken, booked: the obligation and gratitude it leaves, the value given, its cost
    per seller row (summed in tie order, then added, as ``np.bincount`` would); and the
    sincerity and reading of the ties, as the gift's cues left them."""
    costs = np.zeros(gift_cost.size)
    sincerity_, reading_ = np.empty(index.size), np.empty(index.size, dtype=reading.dtype)
    for i in range(index.size):
        tie, r = index[i], row[i]
        gross[tie] += obligation[i]
        gratitude_state[tie] += gratitude[i]
        given[tie] += value[r] * (quantity[r] + unexpected_second[r])
        costs[r] += unit_cost[r] * (quantity[r] + unexpected_second[r])
        sincerity_[i], reading_[i] = sincerity[tie], reading[tie]
    for r in range(gift_cost.size):
        gift_cost[r] += costs[r]
    return sincerity_, reading_


def felt_value(e: Engine, ties: Ties) -> np.ndarray:
    """What the gifts ``ties`` receive today are worth to them, in units of the stakes of the
    exchange they belong to (rules 1, 5, 8): the perceived value of what was given (surprise,
    personal touch, quantity against what was expected), by the buyer's need, the giver's cost
    and the freedom of the giving, by how personally it was given and in what form, less the
    reactance it causes if it restricts a freedom that matters."""
    g, p, b, buyers = PerTie(e.plan.gift, ties.row), e.params(ties), ties.buyer, e.buyers
    unit = rules.relative_value(g.value, e.plan.ask.stakes[ties.row, 0])
    value_kw = dict(value_exponent=p.value_exponent, expected_weight=p.expected_weight,
                    surprise_bonus=p.surprise_bonus, personal_bonus=p.personal_bonus)
    perceived = rules.perceived_gift_value(unit, g.quantity, p.expected_gift_quantity,
                                           g.surprise, g.personalised, **value_kw)
    if g.unexpected_second.any():  # (skipped when no one gives one: it would add exact zeros)
        second = rules.unexpected_second_value(unit, p.expected_gift_quantity, **value_kw)
        perceived = perceived + np.where(g.unexpected_second, second, 0.0)
    freedom = rules.freedom_of_giving(g.conditional, g.gated, strings_freedom=p.strings_freedom,
                                      gate_freedom=p.gate_freedom)
    debt = rules.benefit_value(perceived, buyers.need[b], g.cost_to_means, 1.0, freedom,
                               need_weight=p.need_weight, cost_weight=p.cost_weight)
    debt = (debt * rules.channel_weight(g.channel, addressed_weight=p.addressed_weight,
                                        mass_weight=p.mass_weight)
            * rules.form_weight(g.cash, cash_weight=p.cash_weight))
    if np.any(g.freedom_importance):
        debt = rules.favour_restriction(debt, g.freedom_importance,
                                        buyers.reactance_proneness[b],
                                        restriction_weight=p.restriction_weight,
                                        typical_proneness=p.typical_proneness)
    return debt


def hand_over_promised(e: Engine, day: int, ties: Ties) -> None:
    """A promised gift handed over on compliance: payment in a trade, so no debt (rule 1), but
    a kept promise adds trust like a sincere gift."""
    st = e.state
    if ties.size == 0:
        return
    e.flag(ties, st.offered_gift, "offered")
    e.flag(ties, st.accepted_gift, "accepted")
    ties.put(st.last_gift_day, day)
    ties.put(st.last_offer_day, day)
    ties.put(st.first_gift_day, np.where(ties.get(st.first_gift_day) < 0, day,
                                         ties.get(st.first_gift_day)))
    g = PerTie(e.plan.gift, ties.row)
    ties.add(st.given, g.value * g.quantity)
    e.tallies.gift_cost += ties.per_seller(g.unit_cost * g.quantity, e.rows)
    ties.add(st.trust, e.params(ties).gift_trust)
    e.record("gift", ties)
