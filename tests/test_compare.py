"""Replications and comparisons: intervals that shrink with replications, A versus A exactly 0,
common random numbers (the same seeds, the same runs), and the CLI's table, figure and files."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.compare import compare, mean_ci, paired_test, replicate, resolve_sides
from sim.config import ScenarioError
from sim.runner import replication_seeds, run_metrics

runner = CliRunner()
SMALL = {"buyers.n": 150}


def half_width(row) -> float:
    return (row["ci_high"] - row["ci_low"]) / 2


def test_intervals_shrink_with_replications():
    few = replicate("pushy_vs_active", reps=4, seed=3, steps=30, overrides=SMALL, every=None)
    many = replicate("pushy_vs_active", reps=40, seed=3, steps=30, overrides=SMALL, every=None)
    # the first 4 of 40 replications are the 4 replications: same seeds, same values
    assert many.seeds[:4] == few.seeds == replication_seeds(3, 4)
    pd.testing.assert_frame_equal(many.runs[many.runs.replication < 4].reset_index(drop=True),
                                  few.runs)
    small, large = few.summary().set_index(["strategy", "metric"]), many.summary().set_index(
        ["strategy", "metric"])
    for key in [("all", "conversion_rate"), ("pushy", "net_revenue"),
                ("active", "net_revenue"), ("active", "complaint_rate")]:
        assert half_width(large.loc[key]) < half_width(small.loc[key]), key
        assert large.loc[key, "n"] == 40 and small.loc[key, "n"] == 4


def test_replications_are_the_runs_alone():
    reps = replicate("pushy_vs_active", reps=3, seed=5, steps=20, overrides=SMALL, every=10)
    for r, seed in enumerate(reps.seeds):
        alone = run_metrics("pushy_vs_active", seed=seed, steps=20, overrides=SMALL, every=10,
                            metrics=["net_revenue", "net_revenue[active]", "revenue[pushy]"])
        mine = reps.runs[reps.runs.replication == r]
        for row in alone:
            at = mine[mine.step == row["step"]].set_index("strategy")
            assert at.loc["all", "net_revenue"] == row["net_revenue"]
            assert at.loc["active", "net_revenue"] == row["net_revenue[active]"]
            assert at.loc["pushy", "revenue"] == row["revenue[pushy]"]


def test_summary_is_the_mean_and_t_interval_of_the_replications():
    reps = replicate("pushy_vs_active", reps=5, seed=2, steps=15, overrides=SMALL, every=None)
    values = reps.final().query("strategy == 'active'")["net_revenue"].to_numpy()
    row = reps.summary().set_index(["strategy", "metric"]).loc[("active", "net_revenue")]
    from scipy import stats

    half = stats.t.ppf(0.975, 4) * values.std(ddof=1) / math.sqrt(5)
    assert row["mean"] == pytest.approx(values.mean())
    assert row["ci_low"] == pytest.approx(values.mean() - half)
    assert row["ci_high"] == pytest.approx(values.mean() + half)
    assert row["unit"] == "dollars"


def test_a_versus_a_is_exactly_zero_for_strategies_and_arms():
    for scenario, side, kw in (("pushy_vs_active", "active", {"overrides": SMALL}),
                               ("mint_study", "two_candies", {"overrides": {"buyers.n": 200}})):
        result = compare(scenario, side, side, reps=4, seed=1, steps=20, **kw)
        assert (result.values["difference"].dropna() == 0.0).all()
        table = result.table.dropna(subset=["difference"])
        assert (table["difference"] == 0.0).all()
        assert (table["ci_low"] == 0.0).all() and (table["ci_high"] == 0.0).all()
        assert (table["p_value"] == 1.0).all()


def test_arms_use_common_random_numbers(tmp_path):
    """Two arms that differ only in what the gift costs: with the same seeds every behaviour is
    identical replication by replication, so the paired difference is exactly 0 with no
    interval, while the money differs; each side is the run with that seed alone."""
    path = tmp_path / "costs.toml"
    path.write_text('[buyers]\nn = 150\n[[sellers]]\nstrategy = "active"\n[[sellers]]\n'
                    'strategy = "pushy"\n[arms.cheap]\n"strategies.active.gift.unit_cost" = 2.0\n'
                    '[arms.dear]\n"strategies.active.gift.unit_cost" = 20.0\n')
    result = compare(path, "cheap", "dear", reps=5, seed=9, steps=40, strategy="active")
    assert result.seeds == replication_seeds(9, 5)
    table = result.table.set_index("metric")
    for behaviour in ("conversion_rate", "complaint_rate", "referrals", "revenue",
                      "contact_cost", "mean_trust"):
        assert table.loc[behaviour, "difference"] == 0.0, behaviour
        assert table.loc[behaviour, "ci_low"] == table.loc[behaviour, "ci_high"] == 0.0
    assert table.loc["gift_cost", "difference"] < 0 and table.loc["net_revenue", "difference"] > 0
    # active's gift cost is 10x in every replication: the pairs are the same buyers' same gifts
    pairs = result.values[result.values.metric == "gift_cost"]
    np.testing.assert_allclose(pairs["b"], 10 * pairs["a"])
    for seed, a_value in zip(result.seeds, pairs["a"], strict=True):
        alone = run_metrics(path, arm="cheap", seed=seed, steps=40,
                            metrics=["gift_cost[active]"])
        assert alone[-1]["gift_cost[active]"] == a_value


def test_strategies_are_compared_within_the_same_runs():
    result = compare("pushy_vs_active", "active", "pushy", reps=4, seed=2, steps=30,
                     overrides=SMALL, metrics=["net_revenue", "conversion_rate"])
    for seed, row in zip(result.seeds, result.values.query("metric == 'net_revenue'")
                         .itertuples(), strict=True):
        alone = run_metrics("pushy_vs_active", seed=seed, steps=30, overrides=SMALL,
                            metrics=["net_revenue[active]", "net_revenue[pushy]"])[-1]
        assert (row.a, row.b) == (alone["net_revenue[active]"], alone["net_revenue[pushy]"])
        assert row.difference == row.a - row.b


def test_paired_statistics_on_hand_cases():
    assert paired_test([0.0, 0.0, 0.0])["p_value"] == 1.0
    assert paired_test([2.0, 2.0, 2.0])["p_value"] == 0.0
    from scipy import stats

    d = [1.0, 3.0, 2.0, 6.0]
    test = paired_test(d)
    assert test["p_value"] == pytest.approx(stats.ttest_1samp(d, 0.0).pvalue)
    assert test["mean"] == 3.0 and test["n"] == 4
    assert math.isnan(mean_ci([1.0])["ci_low"]) and mean_ci([])["n"] == 0


def test_sides_must_be_known_and_of_one_kind(tmp_path):
    with pytest.raises(ScenarioError, match="B = 'nope' is not an arm or a strategy"):
        resolve_sides("pushy_vs_active", "active", "nope")
    with pytest.raises(ScenarioError, match="compare two arms or two strategies"):
        resolve_sides("mint_study", "no_candy", "mint_none")
    path = tmp_path / "both.toml"
    path.write_text('[[sellers]]\nstrategy = "active"\n[[sellers]]\nstrategy = "pushy"\n'
                    '[arms.active]\n"buyers.n" = 100\n[arms.pushy]\n"buyers.n" = 100\n')
    with pytest.raises(ScenarioError, match="both an arm and a strategy"):
        resolve_sides(path, "active", "pushy")
    a, b = resolve_sides(path, "strategy:active", "strategy:pushy")
    assert (a.kind, a.name, b.kind) == ("strategy", "active", "strategy")
    assert resolve_sides(path, "arm:active", "arm:pushy")[0].kind == "arm"


def test_recip_compare_writes_table_figure_and_machine_readable_file(tmp_path):
    out = tmp_path / "cmp"
    result = runner.invoke(app, ["compare", "pushy_vs_active", "active", "pushy", "--reps", "3",
                                 "--steps", "20", "--set", "buyers.n=120", "--seed", "4",
                                 "--metric", "net_revenue", "--metric", "conversion_rate",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "net_revenue" in result.output and "95% CI" in result.output
    data = json.loads((out / "compare.json").read_text())
    assert data["seeds"] == replication_seeds(4, 3) and data["common_random_numbers"]
    assert data["a"] == {"kind": "strategy", "name": "active"}
    assert [row["metric"] for row in data["table"]] == ["net_revenue", "conversion_rate"]
    assert data["provenance"]["overrides"] == {"buyers.n": 120}
    table = pd.read_csv(out / "compare.csv")
    assert {"difference", "ci_low", "ci_high", "p_value", "n"} <= set(table.columns)
    assert len(pd.read_csv(out / "values.csv")) == 2 * 3
    assert (out / "compare.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "compare.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize(("args", "message"), [
    (["pushy_vs_active", "active", "nobody"], "B = 'nobody'"),
    (["pushy_vs_active", "active", "pushy", "--metric", "profit"], "metric = 'profit'"),
    (["mint_study", "no_candy", "two_candies", "--arm", "one_candy"], "arm = 'one_candy'"),
    (["pushy_vs_active", "active", "pushy", "--reps", "1"], "reps"),
])
def test_recip_compare_user_errors_exit_2(args, message, tmp_path):
    result = runner.invoke(app, ["compare", *args, "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "x").exists()


def test_recip_run_reps_reports_means_with_intervals(tmp_path):
    out = tmp_path / "reps"
    result = runner.invoke(app, ["run", "pushy_vs_active", "--reps", "4", "--seed", "2",
                                 "--steps", "15", "--set", "buyers.n=120", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "95% CI" in result.output and "net_revenue" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["replications"] == 4 and summary["seeds"] == replication_seeds(2, 4)
    active = summary["final_by_strategy"]["active"]["net_revenue"]
    assert set(active) == {"mean", "ci_low", "ci_high", "sd", "n"} and active["n"] == 4
    assert active["ci_low"] <= active["mean"] <= active["ci_high"]
    assert summary["units"]["net_revenue"] == "dollars"
    assert summary["provenance"]["overrides"] == {"buyers.n": 120}
    runs = pd.read_parquet(out / "timeseries.parquet")
    assert set(runs.replication) == {0, 1, 2, 3} and set(runs.strategy) == {"all", "pushy",
                                                                             "active"}
    final = runs[(runs.step == 15) & (runs.strategy == "active")]["net_revenue"]
    assert active["mean"] == pytest.approx(final.mean())
    assert (out / "metrics.png").stat().st_size > 10_000 and (out / "metrics.svg").exists()
