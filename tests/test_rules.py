"""Each rule of reciprocity pinned on tiny hand-built cases with exact expected values."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import rules

VALUE_KW = dict(value_exponent=0.5, expected_weight=0.25, surprise_bonus=0.2, personal_bonus=0.1)


def test_rule1_benefit_value_grows_with_need_cost_motive_and_freedom():
    kw = dict(need_weight=1.0, cost_weight=0.5)
    base = rules.benefit_value(4.0, 0.5, 0.0, 1.0, 1.0, **kw)
    assert base == pytest.approx(4.0)
    assert rules.benefit_value(4.0, 1.0, 0.0, 1.0, 1.0, **kw) == pytest.approx(6.0)   # need
    assert rules.benefit_value(4.0, 0.5, 1.0, 1.0, 1.0, **kw) == pytest.approx(6.0)   # cost
    assert rules.benefit_value(4.0, 0.5, 0.0, 0.0, 1.0, **kw) == pytest.approx(0.0)   # tactic
    assert rules.benefit_value(4.0, 0.5, 0.0, -0.5, 1.0, **kw) == pytest.approx(-2.0)  # resented
    assert rules.benefit_value(4.0, 0.5, 0.0, 1.0, 0.3, **kw) == pytest.approx(1.2)   # strings


def test_rule1_freedom_strings_and_gate_multiply():
    f = rules.freedom_of_giving(np.array([False, True, False, True]),
                                np.array([False, False, True, True]),
                                strings_freedom=0.3, gate_freedom=0.6)
    assert f.tolist() == pytest.approx([1.0, 0.3, 0.6, 0.18])


def test_rule2_exact_repayment_closes_rough_keeps_open():
    remaining, closed = rules.settle_account(np.array([10.0, 10.0, 10.0, 0.0]),
                                             np.array([9.5, 5.0, 25.0, 3.0]), exact_tolerance=0.1)
    assert remaining.tolist() == [0.0, 5.0, 0.0, 0.0]
    assert closed.tolist() == [True, False, False, False]


def test_rule2_outstanding_debt_restrains_hostility():
    assert rules.hostility_restrained(np.array([0.0, 0.01]), restraint=0.6).tolist() == [1.0, 0.4]


def test_rule3_rough_equivalence_pressure_only_beyond_tolerance():
    d = rules.ask_disproportion(np.array([20.0, 40.0, 80.0, 80.0]), np.array([5.0, 5.0, 5.0, 0.0]),
                                equivalence_tolerance=4.0)
    assert d.tolist() == pytest.approx([0.0, 0.5, 0.75, 0.0])


def test_rule4_debt_channel_independent_of_liking():
    debt = rules.obligation_drive(3.0, debt_weight=2.0, debt_saturation=1.0, debt_sharpness=1.0)
    assert debt == pytest.approx(1.5)
    # Liking adds on its own channel and is weaker than a favour's push.
    liked = debt + rules.liking_drive(1.0, liking_weight=0.1)
    disliked = debt + rules.liking_drive(-1.0, liking_weight=0.1)
    assert liked - disliked == pytest.approx(0.2)
    assert disliked > rules.liking_drive(1.0, liking_weight=0.1)


@pytest.mark.parametrize("sharpness", [1.0, 2.0, 4.0, 8.0])
def test_rule4_the_debts_push_is_proportional_when_small_and_bounded_when_large(sharpness):
    """Small debts push in proportion (slope debt_weight / debt_saturation at 0); the push never
    exceeds debt_weight; the sharper the bend, the closer to proportional below it (Falk 2007:
    four small gifts do nearly four times what one does)."""
    kw = dict(debt_weight=1.5, debt_saturation=0.2, debt_sharpness=sharpness)
    tiny = rules.obligation_drive(1e-6, **kw)
    assert tiny == pytest.approx(1.5 / 0.2 * 1e-6, rel=1e-4)
    x = np.linspace(0.0, 50.0, 2001)
    push = rules.obligation_drive(x, **kw)
    # far out the push is flat, up to rounding
    assert (np.diff(push) > -1e-12).all() and (push <= 1.5 + 1e-12).all()
    assert rules.obligation_drive(-x, **kw).tolist() == (-push).tolist()
    four_over_one = rules.obligation_drive(0.1, **kw) / rules.obligation_drive(0.025, **kw)
    sharper = {**kw, "debt_sharpness": sharpness * 2}
    assert four_over_one < rules.obligation_drive(0.1, **sharper) / rules.obligation_drive(
        0.025, **sharper) < 4.0


def test_rule5_quantity_has_diminishing_returns_but_value_counts_in_proportion():
    """q units at once are worth q ** value_exponent units; a unit worth twice as much counts
    twice as much (the curvature is in the count, not in the dollars)."""
    one = rules.perceived_gift_value(0.05, 1, 0, 0, 0, **VALUE_KW)
    four = rules.perceived_gift_value(0.05, 4, 0, 0, 0, **VALUE_KW)
    assert four == pytest.approx(4 ** 0.5 * one)
    assert rules.perceived_gift_value(0.10, 1, 0, 0, 0, **VALUE_KW) == pytest.approx(2 * one)


def test_rule5_expected_gift_adds_little_surprise_and_personal_add_more():
    standard = rules.perceived_gift_value(1.0, 1, 1, 0, 0, **VALUE_KW)
    unexpected = rules.perceived_gift_value(1.0, 1, 0, 0, 0, **VALUE_KW)
    personal_surprise = rules.perceived_gift_value(1.0, 1, 0, 1, 1, **VALUE_KW)
    assert standard == pytest.approx(0.25)
    assert unexpected == pytest.approx(1.0)
    assert personal_surprise == pytest.approx(1.32)


def test_rule5_two_separate_gifts_weigh_more_than_both_at_once():
    at_once = rules.perceived_gift_value(1.0, 2, 1, 0, 0, **VALUE_KW)
    one_then_second = (rules.perceived_gift_value(1.0, 1, 1, 0, 0, **VALUE_KW)
                       + rules.perceived_gift_value(1.0, 1, 0, 1, 1, **VALUE_KW))
    assert at_once == pytest.approx(0.25 + (np.sqrt(2) - 1))
    assert one_then_second == pytest.approx(1.57)
    assert one_then_second > at_once


def test_rule6_half_life():
    assert rules.decay_factor(np.array([0, 10, 20]), half_life=10).tolist() == [1.0, 0.5, 0.25]


def test_rule7_cues_skill_and_readings():
    assert rules.ask_timing_cue(np.array([0.0, 1.5, 3.0]), cue_weight=0.4,
                                window_days=3.0).tolist() == pytest.approx([0.4, 0.2, 0.0])
    sincerity = rules.perceived_sincerity(np.array([1.0, 0.6, 0.9]), np.array([0.0, 0.5, 0.9]),
                                          prior=0.8)
    assert sincerity.tolist() == pytest.approx([0.8, 0.6, 0.17])
    reading = rules.read_motive(sincerity, tactic_threshold=0.7, manipulation_threshold=0.25)
    assert reading.tolist() == [rules.SINCERE, rules.TACTIC, rules.MANIPULATION]
    assert rules.imputed_motive(reading, sincerity, manipulation_penalty=0.6).tolist() == \
        pytest.approx([0.8, 0.0, -0.6])


def test_rule7_skill_exposes_tactics_and_recognises_effort():
    clean, tactical = 0.0, 1.2
    naive, skilled = 0.0, 0.9
    assert rules.perceived_sincerity(clean, skilled, prior=0.75) > rules.perceived_sincerity(
        clean, naive, prior=0.75)
    assert rules.perceived_sincerity(tactical, skilled, prior=0.75) < rules.perceived_sincerity(
        tactical, naive, prior=0.75)


def test_rule8_pressure_and_reactance_threshold():
    kw = dict(base=0.1, urgency_weight=0.2, no_opt_out=0.15, after_no_weight=0.3,
              disproportion_weight=0.3)
    gentle = rules.ask_pressure(0.0, True, False, 0.0, **kw)
    pushy = rules.ask_pressure(1.0, False, True, 1.0, **kw)
    assert gentle == pytest.approx(0.1)
    assert pushy == pytest.approx(1.05)
    r = rules.accumulate_reactance(np.zeros(2), np.array([pushy, pushy]), np.array([0.5, 1.0]),
                                   typical_proneness=0.5)
    assert r.tolist() == pytest.approx([1.05, 2.1])
    assert rules.reactance_excess(r, threshold=1.0).tolist() == pytest.approx([0.05, 1.1])


def test_rule9_retaliation_rises_with_resentment_and_is_restrained_by_debt():
    kw = dict(base_logit=-4.0, resentment_weight=2.0, reactance_weight=1.5, deception_weight=2.0,
              punisher_weight=1.0)
    calm = rules.retaliation_probability(0.0, 0.0, False, False, 1.0, **kw)
    resentful = rules.retaliation_probability(1.0, 0.0, False, False, 1.0, **kw)
    restrained = rules.retaliation_probability(1.0, 0.0, False, False, 0.4, **kw)
    assert calm == pytest.approx(1 / (1 + np.exp(4.0)))
    assert resentful == pytest.approx(1 / (1 + np.exp(2.0)))
    assert restrained == pytest.approx(0.4 * resentful)


def test_rule10_indirect_share():
    assert rules.indirect_obligation(4.0, indirect_share=0.25) == pytest.approx(1.0)


def test_rule11_concession_only_towards_same_requester():
    debt = rules.concession_debt(np.array([200.0, 200.0, 20.0]), np.array([20.0, 20.0, 20.0]),
                                 np.array([True, False, True]), concession_weight=2.0)
    assert debt.tolist() == pytest.approx([1.8, 0.0, 0.0])


def test_rule12_keep_giving_halves_hazard_and_choice_bonus():
    kw = dict(base_hazard=0.01, trust_weight=2.0, neutral_trust=0.5, reactance_weight=1.0,
              resentment_weight=1.0, keep_giving_effect=1.0, closed_account_effect=0.0)
    h = rules.churn_hazard(np.array([0.5, 0.5, 1.0]), 0.0, 0.0, np.array([False, True, False]),
                           False, **kw)
    assert h.tolist() == pytest.approx([0.01, 0.005, 0.01 * np.exp(-1.0)])
    assert rules.response_choice_bonus(np.array([True]), choice_weight=1.0).tolist() == [2.0]


def test_rule13_boundaries_refusal_and_bait():
    refused = rules.gift_refused_by_rules(np.array([True, False]), np.array([5.0, 5.0]),
                                          gift_limit=0.0)
    assert refused.tolist() == [True, False]
    cue = rules.bait_cue(np.array([0.5]), np.array([10.0]), np.array([10.0]), useless_weight=0.4,
                         overclaim_weight=0.3)
    assert cue.tolist() == pytest.approx([0.2])


# --- Model 2: stakes, channel, form, gratitude, repayment, promised gifts, freedom, choices ----


def test_rule1_debt_is_relative_to_the_stakes_and_currency_free():
    # a $5 gift beside a $10 tip is a lot; beside a $10,000 contract it is nothing
    assert rules.relative_value(5.0, 10.0) == 0.5 and rules.relative_value(5.0, 10_000.0) < 0.001
    # changing the currency unit changes nothing
    assert rules.relative_value(5.0 * 0.9, 10.0 * 0.9) == pytest.approx(rules.relative_value(5.0, 10.0))


def test_rule1_how_personally_and_in_what_form_it_was_given():
    weights = rules.channel_weight(np.array([0, 1, 2]), addressed_weight=0.7, mass_weight=0.4)
    assert weights.tolist() == [1.0, 0.7, 0.4]  # in person > addressed > mass-mailed (Falk 2007)
    assert rules.form_weight(True, cash_weight=0.3) < rules.form_weight(False, cash_weight=0.3)


def test_rule1_a_promised_gift_frames_a_trade():
    # a small promised thank-you gift lowers the pull (Newman & Shen 2012) ...
    small = rules.trade_framing(True, 0.2, crowding_out=0.3, incentive_weight=0.5)
    assert small < 0
    # ... a large promised reward can outweigh the crowding out, and no promise changes nothing
    assert rules.trade_framing(True, 2.0, crowding_out=0.3, incentive_weight=0.5) > 0
    assert rules.trade_framing(False, 2.0, crowding_out=0.3, incentive_weight=0.5) == 0


def test_rule2_repayment_is_what_is_given_beyond_the_baseline():
    # a tip of 20 points where 15 would have been given anyway repays 5 points' worth
    assert rules.repayment_by_amount(20.0, 15.0, 0.3, 6.0) == pytest.approx(5 * 0.3 / 6.0)
    assert rules.repayment_by_amount(10.0, 15.0, 0.3, 6.0) == 0.0  # less than usual repays nothing
    # a yes the buyer would have given anyway repays nothing; one the debt brought about does
    assert rules.repayment_by_yes(80.0, 80.0, 0.4, 0.4) == 0.0
    assert rules.repayment_by_yes(80.0, 80.0, 0.2, 0.4) == pytest.approx(0.5)
    # exact repayment of what is owed closes the account (Gouldner 1960)
    owed = 0.5
    _, closed = rules.settle_account(owed, rules.repayment_by_yes(80.0, 80.0, 0.2, 0.4),
                                     exact_tolerance=0.1)
    assert bool(closed)


def test_rule6_gratitude_is_the_fast_part_of_a_gift():
    obligation, gratitude = rules.gratitude_and_obligation(2.0, gratitude_share=0.25)
    assert obligation + gratitude == pytest.approx(2.0)
    hour = 1 / 24
    # after six hours gratitude (half-life one hour) is nearly gone; obligation (days) is not
    assert rules.decay_factor(6 * hour, half_life=hour) < 0.02
    assert rules.decay_factor(6 * hour, half_life=3.0) > 0.9


def test_rule6_daily_rates_mean_the_same_whatever_the_step():
    daily = 0.2
    hourly = rules.per_step_probability(daily, 1 / 24)
    assert 1 - (1 - hourly) ** 24 == pytest.approx(daily)
    assert rules.per_step_probability(daily, 1.0) == daily


def test_rule8_a_favour_restricting_an_important_freedom_turns_against_the_giver():
    kw = dict(restriction_weight=1.5, typical_proneness=0.5)
    assert rules.favour_restriction(1.0, 0.0, 0.5, **kw) == 1.0   # no freedom at stake
    assert 0 < rules.favour_restriction(1.0, 0.2, 0.5, **kw) < 1.0
    assert rules.favour_restriction(1.0, 1.0, 0.5, **kw) < 0      # Brehm & Cole (1966)
    # past the threshold some do the opposite, more the further past it
    p = rules.boomerang_probability(np.array([0.0, 0.5, 2.0]), boomerang_rate=0.5)
    assert p[0] == 0 and p[1] < p[2] < 1


def test_rule11_a_larger_request_is_a_reference_point():
    assert rules.reference_contrast(30.0, 0.0, contrast_weight=0.1) == 0.0     # none seen
    assert rules.reference_contrast(30.0, 10.0, contrast_weight=0.1) == 0.0    # smaller: none
    assert rules.reference_contrast(30.0, 3000.0, contrast_weight=0.1) == pytest.approx(
        0.1 * np.log(100))


def test_rule12_a_choice_of_asks_is_a_multinomial_logit():
    one = rules.choice_probabilities(np.array([[0.3]]))
    assert one[0, 0] == pytest.approx(1 / (1 + np.exp(-0.3)))   # one option: the usual yes
    several = rules.choice_probabilities(np.array([[1.0], [-2.0]]))
    assert several.sum() == pytest.approx(1.0) and several[0, 0] > several[1, 0]


def test_rule4_effort_asks_are_not_weighed_against_the_budget():
    money = rules.yes_logit(0.0, 0.0, 1000.0, 100.0, True, price_weight=1.0)
    effort = rules.yes_logit(0.0, 0.0, 1000.0, 100.0, False, price_weight=1.0)
    assert effort == 0.0 and money == pytest.approx(-np.log(10.0))


@settings(max_examples=300, deadline=None)
@given(trust=st.floats(-0.5, 1.5), owed=st.floats(-1e6, 1e6), choice=st.booleans(),
       rate=st.floats(0.0, 0.5), weight=st.floats(0.0, 5.0), saturation=st.floats(1e-3, 10.0),
       sharpness=st.sampled_from([1.0, 2.5, 7.23665]), step=st.sampled_from([1.0, 1 / 24, 7.0]))
def test_rule10_no_draw_at_or_above_the_referral_ceiling_could_refer(
        trust, owed, choice, rate, weight, saturation, sharpness, step):
    """The engine works out the exact referral chance only below the ceiling: no chance may be
    above it, whatever is owed (else a referral would be lost)."""
    kw = dict(referral_rate=rate, neutral_trust=0.5, choice_weight=1.0, debt_weight=weight)
    exact = rules.per_step_probability(rules.referral_probability(
        trust, owed, choice, debt_saturation=saturation, debt_sharpness=sharpness, **kw), step)
    ceiling = rules.referral_chance_ceiling(trust, choice, step, **kw)
    # a draw is in [0, 1): a chance past 1 is a certainty, a NaN chance never refers
    assert np.isnan(exact) or min(exact, 1.0) <= ceiling


def test_rule10_the_referral_ceiling_is_close_to_the_largest_chance():
    kw = dict(referral_rate=0.002, neutral_trust=0.5, choice_weight=1.0, debt_weight=0.8)
    largest = rules.referral_probability(0.9, 1e9, True, debt_saturation=0.04,
                                         debt_sharpness=7.2, **kw)
    assert rules.referral_chance_ceiling(0.9, True, 1.0, **kw) == pytest.approx(largest, rel=1e-8)


@pytest.mark.parametrize("exponent", [2.0, 0.5, -1.0, 7.23665])
def test_a_rule_gives_the_same_on_plain_values_as_on_arrays_and_columns(exponent):
    """The engine's kernels call the rules on one tie at a time, its phases on arrays, and a
    stack of runs passes a parameter as a column: all three must agree bit for bit, powers
    included (numpy computes an array to the power 2, 0.5 or -1 otherwise than ``pow``)."""
    rng = np.random.default_rng(1)
    owed, days = rng.normal(0.0, 0.3, 200), rng.random(200) * 3.0
    kw = dict(debt_weight=0.77, debt_saturation=0.044)
    on_arrays = rules.obligation_drive(owed, debt_sharpness=exponent, **kw)
    as_column = rules.obligation_drive(owed, debt_sharpness=np.full(200, exponent), **kw)
    one_by_one = [rules.obligation_drive(float(x), debt_sharpness=exponent, **kw) for x in owed]
    assert on_arrays.tolist() == as_column.tolist() == one_by_one
    steps = rules.per_step_probability(days / 10.0, exponent)
    assert steps.tolist() == [rules.per_step_probability(float(d) / 10.0, exponent) for d in days]
    many = rng.random(100_000) * 10.0  # pow and the shortcuts differ on ~0.1% of values
    shortcut = {2.0: many * many, 0.5: np.sqrt(many), -1.0: 1.0 / many}.get(exponent)
    if shortcut is not None:  # as numpy computes an array to this power
        assert rules._power(many, exponent).tolist() == shortcut.tolist()
