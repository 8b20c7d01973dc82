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


def discover_hidden_conditions(e: Engine, day: int) -> np.ndarray:
    """Rules 7, 9, 13: hidden strings of accepted gifts are found out at ``discovery_rate`` a
    day; the deception is a strong cue (and is resented, rule 9). Returns the ties it happened to."""
    st = e.state
    found = np.zeros((e.rows, e.n), dtype=bool)
    hidden = e.plan.gift.hidden_conditions
    if not hidden.any():
        return found
    ties = e.ties(hidden & st.accepted_gift & ~st.deceived)
    p = e.params(ties)
    ties = ties.where(e.draw(day, Purpose.DISCOVER, ties)
                      < rules.per_step_probability(p.discovery_rate, p.step_days))
    ties.put(found, True)
    ties.put(st.deceived, True)
    e.add_suspicion(ties, e.params(ties).cue_strings)
    e.record("deception_found", ties)
    return found


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


def give(e: Engine, day: int) -> np.ndarray:
    """Today's gifts and how they are received (rules 1, 5, 7, 8, 13). Returns the ties offered one.

    The schedule is checked on the whole tie arrays; everything else runs only on the ties
    offered a gift today.
    """
    st, buyers = e.state, e.buyers
    offered = np.zeros((e.rows, e.n), dtype=bool)
    ties = Ties.at(due(e, day), e.stack)
    if ties.size == 0:
        return offered
    ties.put(offered, True)
    g, p, b = PerTie(e.plan.gift, ties.row), e.params(ties), ties.buyer
    refused = rules.gift_refused(buyers.gift_rules[b], g.value, ties.get(st.reactance), g.gated,
                                 e.draw(day, Purpose.GATE, ties), gift_limit=p.gift_limit,
                                 avoid_threshold=p.avoid_threshold, gate_uptake=p.gate_uptake)
    e.flag(ties, st.offered_gift, "offered")
    ties.put(st.gifts_offered, ties.get(st.gifts_offered) + 1)
    ties.put(st.last_offer_day, day)
    e.record("gift_refused", ties, refused)
    took = ties.where(~refused)
    if took.size == 0:
        return offered
    g, p, b = PerTie(e.plan.gift, took.row), e.params(took), took.buyer
    e.flag(took, st.accepted_gift, "accepted")
    took.put(st.last_gift_day, day)
    took.put(st.first_gift_day, np.where(took.get(st.first_gift_day) < 0, day,
                                         took.get(st.first_gift_day)))
    e.add_suspicion(took, rules.gift_cues(g.personalised, g.usefulness, g.claimed_value, g.value,
                                          cue_generic=p.cue_generic,
                                          useless_weight=p.cue_useless,
                                          overclaim_weight=p.cue_overclaim))
    obligation, gratitude = rules.gratitude_and_obligation(
        np.where(buyers.reciprocator[b], felt_value(e, took), 0.0),
        gratitude_share=p.gratitude_share)
    took.add(st.gross, obligation)
    took.add(st.gratitude, gratitude)
    took.add(st.given, g.value * (g.quantity + g.unexpected_second))
    e.tallies.gift_cost += took.per_seller(g.unit_cost * (g.quantity + g.unexpected_second), e.rows)
    if g.conditional.any():  # rule 8: visible strings restrict freedom
        with_strings = took.where(g.conditional)
        with_strings.put(st.reactance, rules.accumulate_reactance(
            with_strings.get(st.reactance), e.params(with_strings).pressure_strings,
            buyers.reactance_proneness[with_strings.buyer],
            typical_proneness=e.params(with_strings).typical_proneness))
    reading = took.get(e.reading)
    took.add(st.trust, rules.trust_from_gift(reading, took.get(e.sincerity),
                                             gift_trust=p.gift_trust,
                                             manipulation_trust_factor=p.manipulation_trust_factor))
    e.record("gift", took)
    e.record("tactic", took, reading == rules.TACTIC)
    e.record("manipulation", took, reading == rules.MANIPULATION)
    return offered


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
