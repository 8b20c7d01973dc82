"""The public API, determinism, agents versus headless runs, and the flagship behaviour."""

from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

from sim import ReciprocityModel, list_scenarios, load_scenario, metrics, runner
from sim.engine import Engine
from sim.engine.state import TieState
from sim.metrics import CORE_METRICS
from sim.runner import run_metrics

SMALL = {"buyers.n": 300}


def test_issue_example_runs():
    model = ReciprocityModel(scenario="pushy_vs_active", rng=7, overrides={"buyers.n": 500})
    model.run_for(90)
    df = model.datacollector.get_model_vars_dataframe()
    assert len(df) == 90 and df["step"].tolist() == list(range(1, 91))
    assert set(CORE_METRICS) <= set(df.columns)
    by = model.metrics_by_strategy()
    assert list(by.columns[:2]) == ["step", "strategy"]
    assert set(by.strategy) == {"pushy", "active"}
    assert len(by) == 180
    model.run_model()
    assert model.steps == model.config.steps and not model.running


def test_step_and_rng_forms():
    for rng in (5, np.random.SeedSequence(5), np.random.default_rng(5)):
        model = ReciprocityModel("pushy_vs_active", rng=rng, overrides=SMALL)
        model.step()
        assert model.steps == 1
    a = ReciprocityModel("pushy_vs_active", rng=5, overrides=SMALL)
    b = ReciprocityModel("pushy_vs_active", rng=np.random.SeedSequence(5), overrides=SMALL)
    a.run_for(10)
    b.run_for(10)
    pd.testing.assert_frame_equal(a.datacollector.get_model_vars_dataframe(),
                                  b.datacollector.get_model_vars_dataframe())


def test_scenario_forms_name_path_and_object():
    path = load_scenario("pushy_vs_active").source
    by_name = ReciprocityModel("pushy_vs_active", rng=1, overrides=SMALL)
    by_path = ReciprocityModel(path, rng=1, overrides=SMALL)
    by_obj = ReciprocityModel(load_scenario("pushy_vs_active", overrides=SMALL), rng=1)
    for m in (by_name, by_path, by_obj):
        m.run_for(15)
    frames = [m.datacollector.get_model_vars_dataframe() for m in (by_name, by_path, by_obj)]
    pd.testing.assert_frame_equal(frames[0], frames[1])
    pd.testing.assert_frame_equal(frames[0], frames[2])


def _frames(seed, **kw):
    model = ReciprocityModel("pushy_vs_active", rng=seed, overrides=SMALL, **kw)
    model.run_for(40)
    return model.datacollector.get_model_vars_dataframe(), model.metrics_by_strategy()


def test_same_seed_identical_other_seed_differs():
    a, a_by = _frames(11)
    b, b_by = _frames(11)
    c, _ = _frames(12)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a_by, b_by)
    assert not a.equals(c)


def test_results_identical_with_and_without_agents():
    with_agents, by_with = _frames(3, build_agents=True)
    without, by_without = _frames(3, build_agents=False)
    pd.testing.assert_frame_equal(with_agents, without)
    pd.testing.assert_frame_equal(by_with, by_without)


def test_agents_are_views_over_the_arrays():
    model = ReciprocityModel("pushy_vs_active", rng=2, overrides=SMALL)
    model.run_for(30)
    engine = model.engine
    assert len(model.buyers) == 300 and len(model.sellers) == 2
    assert model.grid is not None and len(model.grid.all_cells) == 302
    customers = model.agents.select(lambda a: getattr(a, "state", None) == "customer")
    assert len(customers) == int((engine.status == 2).any(axis=0).sum())
    pat = model.sellers[0]
    assert pat.strategy == "pushy" and pat.revenue == engine.tallies.revenue[0]
    buyer = model.buyers[10]
    assert buyer.obligation == pytest.approx(max(engine.effective_obligation()[:, 10].clip(0).sum(),
                                                 0.0))
    assert buyer.cell.coordinate == 10


def _arms():
    return [(name, arm) for name in list_scenarios() for arm in [None, *load_scenario(name).arms]]


def _variants(name: str, arm: str | None) -> list[dict]:
    """Settings that stacked runs may differ in: anything (network, traits, gifts and asks, rule
    parameters, context settings, the number of buyers, the sellers and their reach)."""
    config = load_scenario(name, arm=arm)
    base = config.sellers[0].strategy
    sellers = [seller.model_dump() for seller in config.sellers]
    return [
        {}, {},
        {"buyers.detection_skill.mean": 0.8, "network.kind": "erdos_renyi"},
        {f"strategies.{base}.gift.value": 3.0, f"strategies.{base}.ask.delay": 2,
         "buyers.punisher_share": 0.5, "sellers.0.likeability": 0.5},
        {"rules.debt_weight": 0.7, "rules.obligation_half_life": 4.0,
         "rules.reactance_threshold": 0.6, "rules.manipulation_threshold": 0.4,
         "buyers.prior_sincerity": 0.5, "buyers.initial_trust": 0.3,
         "buyers.decline_reply_share": 0.9, "buyers.expected_gift_quantity": 0.5},
        {"buyers.n": 90, f"strategies.{base}.reach.per_day": 2.0,
         f"strategies.{base}.reach.everyone": False,
         "sellers": [*sellers, {"name": "Extra", "strategy": "no_gift"}]},
    ]


@pytest.mark.parametrize(("name", "arm"), _arms())
def test_stacked_runs_are_exactly_the_runs_alone(name, arm):
    """Every tie array, tally and metric of a run stacked with others is bit-identical to the
    same run alone (the speed of sweeps, validation and calibration rests on this), whatever
    the runs differ in."""
    configs = [load_scenario(name, arm=arm, overrides={"buyers.n": 120, **v})
               for v in _variants(name, arm)]
    seeds = (3, 11, 5, 3, 3, 3)
    stacked = Engine(configs, [np.random.SeedSequence(seed) for seed in seeds])
    alone = [Engine(config, np.random.SeedSequence(seed))
             for config, seed in zip(configs, seeds, strict=True)]
    assert stacked.stack.padded and not stacked.stack.same_sellers
    for _ in range(45):
        stacked.step()
        for engine in alone:
            engine.step()
    for r, engine in enumerate(alone):
        for f in fields(TieState):
            np.testing.assert_array_equal(stacked.stack.block(getattr(stacked.state, f.name), r),
                                          getattr(engine.state, f.name), err_msg=f.name)
        rows = stacked.stack.rows_of(r)
        for key, value in engine.tallies.as_dict().items():
            np.testing.assert_array_equal(getattr(stacked.tallies, key)[rows], value, err_msg=key)
        assert metrics.compute(stacked, rows) == pytest.approx(
            metrics.compute(engine), rel=0, abs=0, nan_ok=True)


def test_run_many_stacks_any_runs_and_matches_runs_alone(monkeypatch):
    monkeypatch.setattr(runner, "STACKED_TIES", 400)  # several stacks of mixed runs
    small = {"buyers.n": 80}
    names = ["conversion_rate", "revenue[active]"]
    runs = [(small, 1), ({**small, "rules.debt_weight": 0.1}, 1), ({"buyers.n": 60}, 2),
            ({**small, "network.kind": "barabasi_albert"}, 3), (small, 4),
            ({"buyers.n": 50, "sellers.0.strategy": "no_gift"}, 5)]
    many = runner.run_many("pushy_vs_active", runs=runs, steps=25, metrics=names, every=10)
    assert len(runner.stacks([load_scenario("pushy_vs_active", overrides=o) for o, _ in runs],
                             400)) > 1
    assert many == [run_metrics("pushy_vs_active", overrides=overrides, seed=seed, steps=25,
                                metrics=names, every=10) for overrides, seed in runs]
    assert many[0] != many[1]  # the rule change shows


def test_stacked_runs_may_have_different_horizons():
    configs = [load_scenario("pushy_vs_active", overrides={"buyers.n": 60, "steps": steps})
               for steps in (10, 25)]
    rows = runner.run_stacked(configs, [1, 1], metrics=["revenue"], every=10)
    assert [[r["step"] for r in run] for run in rows] == [[10], [10, 20, 25]]
    assert rows[0][0] == rows[1][0]


def test_run_replications_in_several_stacks_match_the_model(monkeypatch):
    monkeypatch.setattr(runner, "STACKED_TIES", 2 * 2 * SMALL["buyers.n"])  # two runs a stack
    names = ["conversion_rate", "retention_90d", "referrals[active]", "complaint_rate[pushy]"]
    runs = runner.run_replications("pushy_vs_active", overrides=SMALL, seeds=[4, 9, 2], steps=30,
                                   metrics=names, every=15)
    assert runs[0] == run_metrics("pushy_vs_active", overrides=SMALL, seed=4, steps=30,
                                  metrics=names, every=15)
    for seed, rows in zip([4, 9, 2], runs, strict=True):
        model = ReciprocityModel("pushy_vs_active", rng=seed, overrides=SMALL, build_agents=False)
        model.run_for(30)
        df = model.datacollector.get_model_vars_dataframe().set_index("step")
        by = model.metrics_by_strategy().set_index(["step", "strategy"])
        assert [r["step"] for r in rows] == [15, 30]
        for r in rows:
            assert r["conversion_rate"] == df.loc[r["step"], "conversion_rate"]
            assert r["retention_90d"] == df.loc[r["step"], "retention_90d"]
            assert r["referrals[active]"] == by.loc[(r["step"], "active"), "referrals"]
            assert r["complaint_rate[pushy]"] == by.loc[(r["step"], "pushy"), "complaint_rate"]


def test_rates_are_shares():
    model = ReciprocityModel("pushy_vs_active", rng=9, overrides=SMALL)
    model.run_for(60)
    df = model.datacollector.get_model_vars_dataframe()
    for col in ("gift_acceptance_rate", "conversion_rate", "reply_rate", "complaint_rate",
                "opt_out_rate", "churn_rate", "backfire_rate", "mean_trust",
                "mean_perceived_sincerity"):
        assert df[col].between(0, 1).all(), col
    assert (df["revenue"].diff().dropna() >= 0).all()
    assert (df["referrals"].diff().dropna() >= 0).all()


def test_pushy_leads_early_then_trails_on_retention_complaints_referrals():
    """The flagship behaviour, over replications of the default scenario."""
    early_lead, retention, complaints, referrals = [], [], [], []
    for seed in range(6):
        model = ReciprocityModel("pushy_vs_active", rng=seed, build_agents=False)
        model.run_for(120)
        by = model.metrics_by_strategy().set_index(["step", "strategy"])
        early_lead.append(by.loc[(14, "pushy"), "conversion_rate"]
                          - by.loc[(14, "active"), "conversion_rate"])
        final = by.xs(120, level="step")
        retention.append(final.loc["active", "retention_90d"] - final.loc["pushy", "retention_90d"])
        complaints.append(final.loc["pushy", "complaint_rate"] - final.loc["active", "complaint_rate"])
        referrals.append(final.loc["active", "referrals"] - final.loc["pushy", "referrals"])
    assert np.mean(early_lead) > 0
    assert np.mean(retention) > 0
    assert min(complaints) > 0
    assert min(referrals) > 0


def test_list_scenarios_includes_flagship():
    assert "pushy_vs_active" in list_scenarios()


@pytest.mark.parametrize(("scenario", "settings"), [
    ("pushy_vs_active", {"buyers.n": 400}),
    ("pushy_vs_active", {"buyers.n": 400, "sellers.0.strategy": "bait",
                         "sellers.1.strategy": "door_in_the_face"}),
    ("backfire_demo", {"buyers.n": 400}),
])
def test_event_tallies_match_a_recount_of_the_tie_arrays(scenario, settings):
    """Metrics read counters kept as events happen; they must equal a full recount."""
    from sim.engine import CHURNED, OPTED_OUT, RETENTION_DAYS, UNREACHED

    model = ReciprocityModel(scenario, rng=8, overrides=settings, build_agents=False,
                             collect=False)
    model.run_for(min(150, model.horizon))
    e, t = model.engine.state, model.engine.tallies
    converted = e.converted_day >= 0
    churned = e.status == CHURNED
    start = np.where(e.first_gift_day >= 0, e.first_gift_day, e.contact_day)
    expected = {
        "reached": e.status != UNREACHED, "offered": e.offered_gift,
        "accepted": e.accepted_gift, "asked": e.asked, "replied": e.replied,
        "complained": e.complained, "backfired": e.backfired, "opted_out": e.status == OPTED_OUT,
        "churned": churned, "conversions": converted,
        "churned_within_90d": churned & (e.churn_day - e.converted_day < RETENTION_DAYS),
    }
    for name, flags in expected.items():
        assert (getattr(t, name) == flags.sum(axis=1)).all(), name
    assert (t.days_to_convert == np.where(converted, e.converted_day - start, 0).sum(axis=1)).all()
    assert t.complained.sum() > 0 and t.conversions.sum() > 0


def test_metric_rows_since_a_step_are_the_collected_rows():
    model = ReciprocityModel("pushy_vs_active", rng=4, overrides=SMALL, build_agents=False)
    model.run_for(6)
    rows = model.metric_rows(since=4)
    assert [(r["step"], r["strategy"]) for r in rows] == [
        (5, "all"), (5, "pushy"), (5, "active"), (6, "all"), (6, "pushy"), (6, "active")]
    by = model.metrics_by_strategy().set_index(["step", "strategy"])
    whole = model.datacollector.get_model_vars_dataframe().set_index("step")
    for r in rows:
        expected = (whole.loc[r["step"]] if r["strategy"] == "all"
                    else by.loc[(r["step"], r["strategy"])])
        assert r["conversion_rate"] == expected["conversion_rate"]
    assert model.latest_by_strategy["active"] == {k: v for k, v in rows[-1].items()
                                                  if k not in ("step", "strategy")}
    assert model.metric_rows(since=6) == []


def test_reached_buyers_of_a_seller():
    model = ReciprocityModel("pushy_vs_active", rng=4, overrides=SMALL, build_agents=False)
    model.run_for(3)
    for seller in range(2):
        reached = model.engine.reached(seller)
        assert reached.shape == (300,)
        assert reached.sum() == int((model.engine.state.status[seller] != 0).sum()) > 0


@pytest.mark.parametrize("width", [1, 3, 49, 103, 1000, 10_007, 1_000_003])
def test_ties_at_splits_flat_indices_exactly_as_divmod(width):
    """Ties.at finds rows by a multiplication, corrected by one: it must agree with divmod on
    every index, at row boundaries and at random, alone and stacked."""
    from sim.engine.stack import Stack, Ties

    rng = np.random.default_rng(width)
    rows = 6
    boundaries = np.arange(1, rows) * width
    index = np.unique(np.concatenate([boundaries - 1, boundaries, [0, rows * width - 1],
                                      rng.integers(0, rows * width, 2_000)])).astype(np.int64)
    row, column = np.divmod(index, width)
    alone = Ties.at(index, Stack.of([rows], [width]))
    assert (alone.row == row).all() and (alone.buyer == column).all()
    stacked = Ties.at(index, Stack.of([2, 2, 2], [width] * 3))
    assert (stacked.row == row).all() and (stacked.buyer == column + row // 2 * width).all()


def test_ties_union_is_the_sorted_set_of_both():
    """run_day's ties acted on today: the union of the day's selections, each tie once, in
    flat-index order (the order retaliation's draws and tallies see)."""
    from sim.engine.stack import Stack, Ties

    stack, rng = Stack.of([2, 2], [50, 50]), np.random.default_rng(3)
    a, b = (np.unique(rng.integers(0, 200, size)) for size in (60, 90))
    union = Ties.at(a, stack).union(Ties.at(b, stack)).union(Ties.none())
    expected = Ties.at(np.union1d(a, b), stack)
    for got, want in zip((union.index, union.row, union.buyer),
                         (expected.index, expected.row, expected.buyer), strict=True):
        assert got.tolist() == want.tolist()
