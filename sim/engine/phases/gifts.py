"""Gifts (rules 1, 5, 7, 8, 13): who is due a gift today, whether they take it, what it is worth to
them and what it tells them about the giver; and hidden conditions coming to light."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import rules
from sim.engine.compiled import kernel
from sim.engine.draws import Purpose, tie_address, uniform
from sim.engine.readings import add_cue
from sim.engine.stack import PerTie, Ties
from sim.engine.state import CUSTOMER, PROSPECT

if TYPE_CHECKING:
    from sim.engine.core import Engine

GATE = int(Purpose.GATE)
"""The behaviour draw of signing up for a gated gift (a plain number, which a kernel takes)."""


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
    """:func:`due`'s scan of every tie, one seller row at a time (the row's plan read once)."""
    rows, n = status.shape
    due_ties = np.empty(rows * n, dtype=np.int64)
    count = 0
    for r in range(rows):
        if not gives[r]:
            continue
        first_by, again_by, after_sale_by = day - first_day[r], day - every[r], \
            day - after_sale_every[r]
        may_again, most, keeps_giving = every[r] > 0, max_gifts[r], after_sale_every[r] > 0
        for j in range(n):
            if status[r, j] == PROSPECT:
                offered = gifts_offered[r, j]
                due = ((offered == 0 and contact_day[r, j] <= first_by)
                       or (offered > 0 and offered < most and may_again
                           and last_offer_day[r, j] <= again_by))
            elif status[r, j] == CUSTOMER:
                due = keeps_giving and last_offer_day[r, j] <= after_sale_by
            else:
                continue
            if due:
                due_ties[count] = r * n + j
                count += 1
    return due_ties[:count].copy()


def give(e: Engine, day: int) -> Ties:
    """Today's gifts and how they are received (rules 1, 5, 7, 8, 13). Returns the ties offered one.

    The schedule is checked on the whole tie arrays; everything else runs only on the ties
    offered a gift today.
    """
    ties = Ties.at(due(e, day), e.stack)
    if ties.size == 0:
        return ties
    took, reading = _give(day, ties.index, ties.row, ties.buyer, e.tie_arrays, e.buyer_arrays,
                          e.gift_rows, e.ask_rows.stakes, e.rules.by_row, e.reading_arrays(),
                          e.tally_arrays, e.n, e.stack.row_address, e.row_keys)
    if e.record_events:
        e.record("gift_refused", ties, ~took)
        took, reading = ties.where(took), reading[took]
        e.record("gift", took)
        e.record("tactic", took, reading == rules.TACTIC)
        e.record("manipulation", took, reading == rules.MANIPULATION)
    return ties


@kernel
def _give(day, index, row, buyer, ties, buyers, gift, stakes, params, readings, tallies, width,
          row_address, row_key):
    """:func:`give` on the ties at ``index``: the offer, its refusal or acceptance, the cues it
    gives, the debt and gratitude it leaves, the value given and its cost, the reactance of
    visible strings and the trust it adds. Returns whether each tie took the gift and the
    reading of the seller's motive it left."""
    count = index.size
    took, reading = np.zeros(count, dtype=np.bool_), np.zeros(count, dtype=np.int64)
    costs = np.zeros(tallies.gift_cost.size)
    for i in range(count):
        tie, r, b = index[i], row[i], buyer[i]
        p = params[r]
        if not ties.offered_gift[tie]:
            ties.offered_gift[tie] = True
            tallies.offered[r] += 1
        ties.gifts_offered[tie] += 1
        ties.last_offer_day[tie] = day
        # Rules 8, 13: refused under gift rules, by an avoiding buyer, or not signed up for.
        gate = uniform(day, GATE, tie_address(tie, r, width, row_address), row_key[r])
        if rules.gift_refused(buyers.gift_rules[b], gift.value[r], ties.reactance[tie],
                              gift.gated[r], gate, gift_limit=p.gift_limit,
                              avoid_threshold=p.avoid_threshold, gate_uptake=p.gate_uptake):
            continue
        took[i] = True
        if not ties.accepted_gift[tie]:
            ties.accepted_gift[tie] = True
            tallies.accepted[r] += 1
        ties.last_gift_day[tie] = day
        if ties.first_gift_day[tie] < 0:
            ties.first_gift_day[tie] = day
        # Rules 7, 13: what the gift tells about the giver.
        cue = rules.gift_cues(gift.personalised[r], gift.usefulness[r], gift.claimed_value[r],
                              gift.value[r], cue_generic=p.cue_generic,
                              useless_weight=p.cue_useless, overclaim_weight=p.cue_overclaim)
        add_cue(tie, r, b, cue, ties, buyers, params, readings, tallies)
        # Rules 1, 5, 6: what it is worth to a reciprocator, as obligation and gratitude.
        value = felt_value(
            gift.value[r], gift.quantity[r], gift.surprise[r], gift.personalised[r],
            gift.unexpected_second[r], gift.conditional[r], gift.gated[r], gift.cost_to_means[r],
            gift.channel[r], gift.cash[r], gift.freedom_importance[r], stakes[r],
            buyers.need[b], buyers.reactance_proneness[b], p) if buyers.reciprocator[b] else 0.0
        obligation, gratitude = rules.gratitude_and_obligation(
            value, gratitude_share=p.gratitude_share)
        units = gift.quantity[r] + gift.unexpected_second[r]
        ties.gross[tie] += obligation
        ties.gratitude[tie] += gratitude
        ties.given[tie] += gift.value[r] * units
        costs[r] += gift.unit_cost[r] * units
        if gift.conditional[r]:  # rule 8: visible strings restrict freedom
            ties.reactance[tie] = rules.accumulate_reactance(
                ties.reactance[tie], p.pressure_strings, buyers.reactance_proneness[b],
                typical_proneness=p.typical_proneness)
        reading[i] = readings[1][tie]
        ties.trust[tie] += rules.trust_from_gift(
            reading[i], readings[0][tie], gift_trust=p.gift_trust,
            manipulation_trust_factor=p.manipulation_trust_factor)
    for r in range(costs.size):  # summed per row in tie order, then added, as np.bincount does
        tallies.gift_cost[r] += costs[r]
    return took, reading


@kernel
def felt_value(value, quantity, surprise, personalised, unexpected_second, conditional, gated,
               cost_to_means, channel, cash, freedom_importance, stakes, need, proneness, p):
    """What a gift is worth to the buyer, in units of the ``stakes`` of the exchange it belongs to
    (rules 1, 5, 8): the perceived value of what was given (surprise, personal touch, quantity
    against what was expected, an unexpected second one), by the buyer's ``need``, the giver's
    cost and the freedom of the giving, by how personally it was given (``channel``) and in what
    form (``cash``), less the reactance it causes if it restricts a freedom that matters to a
    buyer of this ``proneness``. ``p``: the rules' parameters. (Without an unexpected second
    gift or an important freedom, the numpy phase added exactly 0 or multiplied by exactly 1:
    skipping them is the same.)"""
    unit = rules.relative_value(value, stakes)
    perceived = rules.perceived_gift_value(
        unit, quantity, p.expected_gift_quantity, surprise, personalised,
        value_exponent=p.value_exponent, expected_weight=p.expected_weight,
        surprise_bonus=p.surprise_bonus, personal_bonus=p.personal_bonus)
    if unexpected_second:
        perceived = perceived + rules.unexpected_second_value(
            unit, p.expected_gift_quantity, value_exponent=p.value_exponent,
            expected_weight=p.expected_weight, surprise_bonus=p.surprise_bonus,
            personal_bonus=p.personal_bonus)
    freedom = rules.freedom_of_giving(conditional, gated, strings_freedom=p.strings_freedom,
                                      gate_freedom=p.gate_freedom)
    debt = rules.benefit_value(perceived, need, cost_to_means, 1.0, freedom,
                               need_weight=p.need_weight, cost_weight=p.cost_weight)
    debt = (debt * rules.channel_weight(channel, addressed_weight=p.addressed_weight,
                                        mass_weight=p.mass_weight)
            * rules.form_weight(cash, cash_weight=p.cash_weight))
    if freedom_importance != 0:
        debt = rules.favour_restriction(debt, freedom_importance, proneness,
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
