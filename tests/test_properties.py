"""Invariants of the rules and the engine, checked by hypothesis."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import rules
from sim.model import ReciprocityModel

unit = st.floats(0.0, 1.0)
positive = st.floats(0.01, 1000.0)


@given(unit, unit, unit, unit, st.floats(0, 5), unit, unit)
def test_probabilities_stay_in_unit_interval(resent, excess, skill, susp, hostility, trust, restr):
    p = rules.retaliation_probability(resent * 10, excess * 10, skill > 0.5, susp > 0.5, restr,
                                      base_logit=-hostility, resentment_weight=2.0,
                                      reactance_weight=1.5, deception_weight=2.0,
                                      punisher_weight=1.0)
    assert 0.0 <= p <= 1.0
    h = rules.churn_hazard(trust, excess * 10, resent * 10, skill > 0.5, susp > 0.5,
                           base_hazard=0.5, trust_weight=2.0, neutral_trust=0.5,
                           reactance_weight=3.0,
                           resentment_weight=3.0, keep_giving_effect=1.0,
                           closed_account_effect=1.0)
    assert 0.0 <= h <= 1.0
    s = rules.perceived_sincerity(susp * 10, skill, prior=trust)
    assert 0.0 <= s <= 1.0


@given(positive, st.integers(1, 5), st.floats(0, 3), unit, unit, unit)
def test_perceived_value_never_negative(value, quantity, expected, surprise, personal, need):
    v = rules.perceived_gift_value(value, quantity, expected, surprise, personal,
                                   value_exponent=0.7, expected_weight=0.2, surprise_bonus=0.1,
                                   personal_bonus=0.1)
    assert v >= 0.0
    debt = rules.benefit_value(v, need, 0.5, 1.0, 0.5, need_weight=1.0, cost_weight=0.5)
    assert debt >= 0.0


@given(st.floats(0.0, 1e4), st.floats(0.0, 1e4))
def test_settling_never_leaves_negative_debt(obligation, repayment):
    remaining, _ = rules.settle_account(obligation, repayment, exact_tolerance=0.1)
    assert 0.0 <= remaining <= obligation


@given(positive, positive, st.floats(1.0, 10.0), positive)
def test_higher_ask_to_gift_ratio_never_raises_compliance(gift, ask, factor, tolerance):
    """All else equal, a larger ask against the same gift is no more persuasive (rule 3)."""
    small = rules.ask_disproportion(ask, gift, equivalence_tolerance=tolerance)
    large = rules.ask_disproportion(ask * factor, gift, equivalence_tolerance=tolerance)
    assert large >= small
    kw = dict(base=0.1, urgency_weight=0.2, no_opt_out=0.15, after_no_weight=0.3,
              disproportion_weight=0.3)
    assert rules.ask_pressure(0, True, False, large, **kw) >= rules.ask_pressure(0, True, False,
                                                                                 small, **kw)


def _run(overrides, seed, steps=25):
    model = ReciprocityModel("pushy_vs_active", rng=seed, build_agents=False, collect=False,
                             overrides={"buyers.n": 150, **overrides})
    for _ in range(steps):
        model.step()
    return model


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_engine_state_invariants(seed):
    engine = _run({}, seed).engine
    st = engine.state
    assert (st.gross >= 0).all() and (st.concession >= 0).all()
    assert ((st.trust >= 0) & (st.trust <= 1)).all()
    assert (st.reactance >= 0).all()
    s = engine.sincerity
    assert ((s >= 0) & (s <= 1)).all()


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_no_gift_means_no_debt(seed):
    engine = _run({"strategies.pushy.gift.value": 0.0, "strategies.active.gift.value": 0.0},
                  seed).engine
    assert not engine.state.accepted_gift.any()
    assert (engine.state.gross == 0).all()
    assert engine.effective_obligation().max() <= engine.state.concession.max()


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_without_detection_no_gift_is_read_as_a_tactic(seed):
    engine = _run({"rules.detection_enabled": False}, seed).engine
    assert engine.state.accepted_gift.any()
    assert (engine.reading[engine.state.accepted_gift] == rules.SINCERE).all()
    assert not engine.state.backfired.any()


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_larger_asks_never_raise_conversions_all_else_equal(seed):
    """Same seed and population; only the ask-to-gift ratio differs."""
    def converted(size):
        e = _run({"strategies.active.ask.size": size}, seed, steps=40).engine
        return e.tallies.first_asks_yes[1] / max(e.tallies.first_asks[1], 1)
    assert converted(400.0) <= converted(80.0)


def test_drive_is_monotone_in_disproportion():
    from sim.engine.phases.responses import compliance_drive

    e = _run({}, 3, steps=15).engine
    ties = e.ties(np.ones((e.s, e.n), dtype=bool))
    zero = np.zeros(ties.size)
    assert (compliance_drive(e, ties, zero + 0.5, zero) < compliance_drive(e, ties, zero, zero)).all()


KINDS = ["watts_strogatz", "erdos_renyi", "barabasi_albert", "stochastic_block", "complete"]


@settings(max_examples=12, deadline=None)
@given(st.integers(12, 90),
       st.lists(st.tuples(st.sampled_from(KINDS), unit, st.integers(0, 2**31)), min_size=2,
                max_size=4),
       st.sampled_from(["pushy_vs_active", "door_in_the_face", "backfire_demo"]))
def test_stacked_runs_equal_runs_alone_on_any_network(n, runs, scenario):
    """Runs stacked in one engine (a disjoint union of their networks) give exactly the rows
    each gives alone, whatever the networks, their size, and the buyers' detection skill."""
    from sim.runner import run_many, run_metrics

    runs = [({"buyers.n": n, "network.kind": kind, "network.m": 2,
              "buyers.detection_skill.mean": skill}, seed) for kind, skill, seed in runs]
    names = ["conversion_rate", "complaint_rate", "negative_wom", "referrals", "mean_trust"]
    stacked = run_many(scenario, runs=runs, steps=40, metrics=names, every=20)
    alone = [run_metrics(scenario, overrides=overrides, seed=seed, steps=40, metrics=names,
                         every=20) for overrides, seed in runs]
    np.testing.assert_array_equal(
        [[list(row.values()) for row in run] for run in stacked],
        [[list(row.values()) for row in run] for run in alone])
