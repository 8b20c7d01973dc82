"""The public API, determinism, agents versus headless runs, and the flagship behaviour."""

import numpy as np
import pandas as pd
import pytest

from sim import ReciprocityModel, list_scenarios, load_scenario, metrics, runner
from sim.engine import Engine, stack_key
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


@pytest.mark.parametrize(("name", "arm"), _arms())
def test_stacked_runs_are_exactly_the_runs_alone(name, arm):
    """Every tie array, tally and metric of a run stacked with others is bit-identical to the
    same run alone (the sweeps' speed rests on this): replications of one setting, and design
    points that differ in the network, buyer traits, gifts and asks."""
    base = load_scenario(name, arm=arm).sellers[0].strategy
    variants = [{}, {}, {"buyers.detection_skill.mean": 0.8, "network.kind": "erdos_renyi"},
                {f"strategies.{base}.gift.value": 3.0, f"strategies.{base}.ask.delay": 2,
                 "buyers.punisher_share": 0.5, "sellers.0.likeability": 0.5}]
    configs = [load_scenario(name, arm=arm, overrides={"buyers.n": 120, **v}) for v in variants]
    assert len({stack_key(config) for config in configs}) == 1
    seeds = (3, 11, 5, 3)
    stacked = Engine(configs, [np.random.SeedSequence(seed) for seed in seeds])
    alone = [Engine(config, np.random.SeedSequence(seed))
             for config, seed in zip(configs, seeds, strict=True)]
    for _ in range(45):
        stacked.step()
        for engine in alone:
            engine.step()
    s = stacked.s
    tie_arrays = [key for key, value in vars(alone[0]).items()
                  if isinstance(value, np.ndarray) and value.shape == (s, 120)]
    assert {"status", "trust", "gross", "suspicion", "reactance"} <= set(tie_arrays)
    for r, engine in enumerate(alone):
        rows = slice(r * s, (r + 1) * s)
        for key in tie_arrays:
            np.testing.assert_array_equal(getattr(stacked, key)[rows], getattr(engine, key),
                                          err_msg=key)
        for key, value in vars(engine.tallies).items():
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(getattr(stacked.tallies, key)[rows], value,
                                              err_msg=key)
        assert metrics.compute(stacked, np.arange(s) + r * s) == pytest.approx(
            metrics.compute(engine), rel=0, abs=0, nan_ok=True)


def test_runs_that_cannot_share_an_engine_are_refused_and_run_apart():
    small = {"buyers.n": 80}
    other_rules = load_scenario("pushy_vs_active", overrides={**small, "rules.debt_weight": 0.1})
    with pytest.raises(ValueError, match="differ in more than what stacked runs may"):
        Engine([load_scenario("pushy_vs_active", overrides=small), other_rules],
               [np.random.SeedSequence(1), np.random.SeedSequence(2)])
    names = ["conversion_rate", "revenue[active]"]
    runs = [(small, 1), ({**small, "rules.debt_weight": 0.1}, 1), ({"buyers.n": 60}, 2),
            ({**small, "network.kind": "barabasi_albert"}, 3), (small, 4)]
    many = runner.run_many("pushy_vs_active", runs=runs, steps=25, metrics=names)
    assert many == [run_metrics("pushy_vs_active", overrides=overrides, seed=seed, steps=25,
                                metrics=names) for overrides, seed in runs]
    assert many[0] != many[1]  # the rule change shows


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
    e, t = model.engine, model.engine.tallies
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
