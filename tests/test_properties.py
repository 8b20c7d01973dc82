"""Invariants of the rules and the engine, checked by hypothesis."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import load_scenario, rules
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
    assert (compliance_drive(e, ties, zero + 0.5, zero)[0]
            < compliance_drive(e, ties, zero, zero)[0]).all()


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


# --- Model 2 properties ------------------------------------------------------------------------


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(1.0, 200.0), st.floats(0.0, 1.0))
def test_a_promised_gift_never_creates_debt_before_compliance(seed, value, detection):
    """A gift promised with the ask and given only on compliance creates no debt, ever: before
    compliance there is nothing given, and when handed over it is payment in a trade."""
    model = ReciprocityModel("pushy_vs_active", rng=seed, build_agents=False, collect=False,
                             overrides={"buyers.n": 150, "strategies.active.gift.promised": True,
                                        "strategies.active.gift.value": value,
                                        "buyers.detection_skill.mean": detection})
    active = model.sellers_of("active")
    for _ in range(30):
        model.step()
        st_ = model.engine.state
        assert (st_.gross[active] == 0).all() and (st_.gratitude[active] == 0).all()
    complied = model.engine.state.converted_day[active] >= 0
    assert (model.engine.state.accepted_gift[active] == complied).all()


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1 / 128, 0.25, 4.0, 128.0]))
def test_obligation_does_not_depend_on_the_currency_unit(seed, rate):
    """Every dollar amount times ``rate`` (gifts, asks, stakes, revenue, budgets): the felt debt,
    in units of the stakes, and every decision stay the same. The rates are powers of two so the
    rescaling is exact in binary floating point; with 0.01 a budget exactly equal to a price can
    round to either side and one decision in thousands flips, which is rounding, not the model."""
    base = load_scenario("pushy_vs_active", overrides={"buyers.n": 150})
    money = {}
    for name in ("pushy", "active"):
        s = base.strategies[name]
        money.update({f"strategies.{name}.gift.value": s.gift.value * rate,
                      f"strategies.{name}.ask.size": s.ask.size * rate})
    money.update({"buyers.budget.mean": base.buyers.budget.mean * rate,
                  "buyers.budget.sd": base.buyers.budget.sd * rate})
    runs = [_run(extra, seed, steps=30).engine for extra in ({}, money)]
    np.testing.assert_allclose(runs[0].effective_obligation(), runs[1].effective_obligation(),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(runs[0].state.status, runs[1].state.status)
    assert runs[1].tallies.revenue.sum() == pytest.approx(runs[0].tallies.revenue.sum() * rate)


def test_a_day_of_hours_gives_the_daily_results_within_noise():
    """The same scenario with a step of one day and of one hour (24 steps a day): every
    duration and daily rate means the same real time, so daily-scale results agree within
    noise (replications on common seeds)."""
    from sim.runner import replication_seeds, run_many

    names = ["conversion_rate", "complaint_rate", "referrals", "retention_90d", "mean_trust"]
    seeds = replication_seeds(3, 12)
    daily = run_many("pushy_vs_active", metrics=names,
                     runs=[({"buyers.n": 300, "steps": 45}, s) for s in seeds])
    hourly = run_many("pushy_vs_active", metrics=names,
                      runs=[({"buyers.n": 300, "steps": 45 * 24, "step": "1 hour"}, s)
                            for s in seeds])
    for name in names:
        a = np.array([r[-1][name] for r in daily])
        b = np.array([r[-1][name] for r in hourly])
        se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size) + 1e-12
        assert abs(a.mean() - b.mean()) < 3 * se + 0.02 * abs(a.mean()), name


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(100.0, 10_000.0), st.floats(5.0, 90.0),
       st.floats(0.1, 5.0))
def test_a_concession_from_another_requester_never_helps(seed, large, small, weight):
    """Rule 11: a retreat made by someone other than the requester who was refused concedes
    nothing: no concession debt, and no more yeses than from that requester's own retreat."""
    settings_ = {"buyers.n": 200, "rules.concession_weight": weight,
                 "strategies.door_in_the_face.ask.size": large,
                 "strategies.door_in_the_face.ask.concede_to": small}

    def run(arm):
        model = ReciprocityModel("door_in_the_face", arm=arm, rng=seed, build_agents=False,
                                 overrides=settings_)
        model.run_model()
        return model

    other, same = run("other_requester"), run("same_requester")
    assert (other.engine.state.concession == 0).all()
    assert (other.latest_metrics["conceded_ask_compliance"]
            <= same.latest_metrics["conceded_ask_compliance"])
