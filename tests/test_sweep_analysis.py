"""Sweep analysis: PRCC for Latin hypercube designs, warnings instead of absurd indices for
degenerate metrics, and an analysis folder that is replaced whole or not at all."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
import typer
from scipy import stats
from test_sweep import write
from typer.testing import CliRunner

from sim.sweep.analyze import analyze_sweep
from sim.sweep.cli import analyze
from sim.sweep.design import design_points, sample_matrix
from sim.sweep.execute import run_sweep
from sim.sweep.sensitivity import analyse, degeneracy, prcc
from sim.sweep.spec import load_spec, parse_spec

GIFT, DELAY, SIZE = ("strategies.active.gift.value", "strategies.active.ask.delay",
                     "strategies.active.ask.size")


def formula_run(scenario, *, arm=None, runs, steps=None, metrics, every=None):
    """Metrics as known functions of the parameters, with a little replication noise:
    conversion_rate rises with the gift's value, complaint_rate falls with the ask's delay,
    retention_90d is constant up to rounding noise, revenue depends on nothing but the seed."""
    results = []
    for overrides, seed in runs:
        noise = np.random.default_rng([seed, int(overrides[SIZE] * 1e6)]).random() - 0.5
        values = {
            "conversion_rate": overrides[GIFT] / 50 + 0.05 * noise,
            "complaint_rate": 1 - overrides[DELAY] / 21 + 0.05 * noise,
            "retention_90d": 0.8 + 1e-17 * overrides[SIZE],
            "revenue": 1000 + 100 * noise,
        }
        results.append([{"step": steps or 10, **{m: values[m.split("[")[0]] for m in metrics}}])
    return results


def continuous_spec(tmp_path, kind: str, samples: int, replications: int = 2):
    return write(tmp_path, f"""
        [sweep]
        scenario = "pushy_vs_active"
        steps = 10
        replications = {replications}
        seed = 11
        metrics = ["conversion_rate[active]", "complaint_rate[active]", "retention_90d",
                   "revenue"]

        [design]
        kind = "{kind}"
        samples = {samples}

        [design.parameters]
        "{GIFT}" = {{ low = 0.5, high = 50.0 }}
        "{DELAY}" = {{ low = 0, high = 21 }}
        "{SIZE}" = {{ low = 20.0, high = 300.0 }}
    """)


# --- PRCC -----------------------------------------------------------------------------------------


def prcc_by_inverse(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """PRCC the textbook way: partial correlations from the inverse of the rank correlation
    matrix (an independent computation of what sensitivity.prcc does by regression)."""
    ranks = np.column_stack([stats.rankdata(c) for c in (*x.T, y)])
    precision = np.linalg.inv(np.corrcoef(ranks, rowvar=False))
    last = precision.shape[0] - 1
    return np.array([-precision[i, last] / np.sqrt(precision[i, i] * precision[last, last])
                     for i in range(x.shape[1])])


def test_prcc_matches_the_textbook_formula_and_finds_monotone_effects():
    rng = np.random.default_rng(3)
    x = rng.random((200, 3))
    y = np.exp(4 * x[:, 0]) - 2 * x[:, 1] + 0.3 * rng.standard_normal(200)  # x2 plays no part
    rho, p, low, high = prcc(x, y)
    np.testing.assert_allclose(rho, prcc_by_inverse(x, y), atol=1e-10)
    assert rho[0] > 0.9 and rho[1] < -0.5 and abs(rho[2]) < 0.2
    assert p[0] < 1e-10 and p[1] < 1e-10 and p[2] > 0.01
    assert np.all(low < rho) and np.all(rho < high) and np.all((low >= -1) & (high <= 1))
    # one parameter: Spearman's correlation and its p-value
    one = prcc(x[:, :1], y)
    spearman = stats.spearmanr(x[:, 0], y)
    assert one[0][0] == pytest.approx(spearman.statistic) and one[1][0] == pytest.approx(
        spearman.pvalue)
    with pytest.raises(ValueError, match="at least 6 points for 3 parameters"):
        prcc(x[:5], y[:5])


def test_lhs_sweep_gets_prcc_table_and_figures(tmp_path):
    spec = load_spec(continuous_spec(tmp_path, "lhs", 40))
    run_sweep(spec, tmp_path / "out", workers=1, run_function=formula_run)
    result = analyze_sweep(tmp_path / "out")
    indices = pd.read_csv(tmp_path / "out" / "analysis" / "sensitivity.csv")
    assert {"PRCC", "p_value", "ci_low", "ci_high", "reliable"} <= set(indices.columns)
    value = indices.set_index(["metric", "parameter"])["PRCC"]
    assert value["conversion_rate[active]", GIFT] > 0.95
    assert value["complaint_rate[active]", DELAY] < -0.95
    assert abs(value["conversion_rate[active]", SIZE]) < 0.5
    assert "retention_90d" not in set(indices["metric"])  # near-constant: not analysed
    figures = tmp_path / "out" / "analysis" / "figures"
    assert (figures / "prcc.png") in result.files
    assert (figures / "scatter_conversion_rate_active.png").stat().st_size > 1000
    report = (tmp_path / "out" / "analysis" / "REPORT.md").read_text()
    assert "## Sensitivity: partial rank correlation (PRCC)" in report
    assert "retention_90d`: not analysed, near-constant" in report
    assert any(w.startswith("retention_90d: no sensitivity indices: near-constant")
               for w in result.warnings)
    # revenue is replication noise only: analysed, with a warning to raise replications
    assert any(w.startswith("revenue: read its indices with care: replication noise")
               for w in result.warnings)


def test_lhs_with_too_few_points_says_so(tmp_path):
    spec = load_spec(continuous_spec(tmp_path, "lhs", 4))
    run_sweep(spec, tmp_path / "out", workers=1, run_function=formula_run)
    result = analyze_sweep(tmp_path / "out")
    assert any("PRCC needs at least 6 design points for 3 parameters" in w
               for w in result.warnings)
    assert not (tmp_path / "out" / "analysis" / "sensitivity.csv").exists()


# --- degenerate metrics in Sobol and Morris -------------------------------------------------------


@pytest.mark.parametrize("kind", ["sobol", "morris"])
def test_near_constant_metrics_get_a_warning_not_indices(tmp_path, kind):
    spec = load_spec(continuous_spec(tmp_path, kind, 8))
    run_sweep(spec, tmp_path / "out", workers=1, run_function=formula_run)
    result = CliRunner().invoke(_app(), ["analyze", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "warning: retention_90d: no sensitivity indices: near-constant" in result.output
    indices = pd.read_csv(tmp_path / "out" / "analysis" / "sensitivity.csv")
    assert "retention_90d" not in set(indices["metric"])
    assert {"conversion_rate[active]", "complaint_rate[active]"} <= set(indices["metric"])


def _app():
    app = typer.Typer()
    app.command("analyze")(analyze)
    app.command("unused")(lambda: None)
    return app


def synthetic(kind: str, y: np.ndarray, samples: int = 16) -> tuple:
    spec = parse_spec({"sweep": {"scenario": "pushy_vs_active", "metrics": ["revenue"],
                                 "seed": 1},
                       "design": {"kind": kind, "samples": samples, "parameters": {
                           "a": {"low": 0.0, "high": 1.0}, "b": {"low": 0.0, "high": 1.0},
                           "c": {"low": 0.0, "high": 1.0}}}})
    n = len(design_points(spec))
    final = pd.DataFrame({"run_id": range(n), "point": range(n), "revenue": y(n)})
    return spec, final, n


def test_sobol_indices_far_outside_0_1_are_not_given_as_results():
    # A metric that is 0 but at three points: Saltelli's estimators give ST near 2.
    spike = lambda n: np.isin(np.arange(n), [5, 33, 61]).astype(float)  # noqa: E731
    spec, final, n = synthetic("sobol", spike)
    result = analyse(spec, final, n)
    assert result.reliable == {"revenue": False}
    assert (result.indices["ST"] > 1.5).any()  # the absurd values exist ...
    assert any("fall outside [0, 1] by more than sampling error" in w for w in result.warnings)
    assert any("of design points give the same value (0)" in w for w in result.warnings)
    from sim.sweep.analyze import _sensitivity_section

    text = "\n".join(_sensitivity_section(spec, result))
    assert "### revenue" not in text and "outside [0, 1]" in text  # ... but are not reported


def test_a_well_behaved_metric_has_no_warning():
    spec, final, n = synthetic("sobol", lambda n: None)
    x = sample_matrix(spec)
    final["revenue"] = 3 * x[:, 0] + x[:, 1] ** 2
    result = analyse(spec, final, n)
    assert result.warnings == [] and result.reliable == {"revenue": True}
    st = result.indices.set_index("parameter")["ST"]
    assert st["a"] > st["b"] > st["c"] - 0.05


@pytest.mark.parametrize(("y", "severe", "text"), [
    ([1.0, 1.0, 1.0, 1.0], True, "the same value (1) at every design point"),
    ([1.0, 1.0 + 1e-12, 1.0, 1.0 - 1e-12], True, "near-constant"),
    ([0.0] * 40 + [1.0], False, "98% of design points give the same value (0)"),
    ([0.1, 0.5, 0.9, 0.3], False, None),
])
def test_degeneracy(y, severe, text):
    problem, is_severe = degeneracy(np.array(y))
    assert (problem is None) == (text is None) and is_severe == severe
    if text:
        assert text in problem


def test_replication_noise_is_named():
    problem, severe = degeneracy(np.array([0.1, 0.2, 0.3]), noise=0.02)
    assert not severe and "replication noise makes up about" in problem


# --- the analysis folder: whole or not at all --------------------------------------------------------


def test_a_failed_analysis_leaves_the_previous_one_and_no_temp_folder(tmp_path, monkeypatch):
    spec = load_spec(continuous_spec(tmp_path, "lhs", 12))
    run_sweep(spec, tmp_path / "out", workers=1, run_function=formula_run)
    analyze_sweep(tmp_path / "out")
    report = (tmp_path / "out" / "analysis" / "REPORT.md").read_text()
    stale = tmp_path / "out" / ".analysis-999999999-abcdef.tmp"  # from a process long gone
    stale.mkdir()

    def broken(*args, **kwargs):
        raise RuntimeError("the plotting library fell over")

    monkeypatch.setattr("sim.sweep.analyze.plot_scatter", broken)
    result = CliRunner().invoke(_app(), ["analyze", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "recip analyze failed unexpectedly: RuntimeError: the plotting library fell over" \
        in result.output and "Traceback" not in result.output
    assert (tmp_path / "out" / "analysis" / "REPORT.md").read_text() == report
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".lock", "analysis", "chunks",
                                                                   "manifest.json"]


def test_a_full_disk_during_analysis_is_one_line(tmp_path, monkeypatch):
    import errno

    spec = load_spec(continuous_spec(tmp_path, "lhs", 12))
    run_sweep(spec, tmp_path / "out", workers=1, run_function=formula_run)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("sim.sweep.analyze.plot_sensitivity", full)
    result = CliRunner().invoke(_app(), ["analyze", str(tmp_path / "out")])
    assert result.exit_code == 3 and "No space left on device" in result.output
    assert not (tmp_path / "out" / "analysis").exists()
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")] == [".lock"]


def test_report_carries_provenance(tmp_path):
    spec = load_spec(continuous_spec(tmp_path, "lhs", 12))
    run_sweep(spec, tmp_path / "out", workers=1, run_function=formula_run)
    analyze_sweep(tmp_path / "out")
    report = (tmp_path / "out" / "analysis" / "REPORT.md").read_text()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert f"Made with recip {manifest['provenance']['recip_version']}" in report


def test_summary_equals_mean_ci_point_by_point():
    from sim.sweep.analyze import mean_ci, summarise

    spec = parse_spec({"sweep": {"scenario": "x", "metrics": ["a", "b"]}, "design": {
        "kind": "grid", "parameters": {"p": [1, 2, 3, 4], "q": ["u"]}}})
    points = design_points(spec)
    final = pd.DataFrame({"run_id": range(7), "point": [0, 0, 0, 1, 2, 2, 2],
                          "a": [1, 2, np.nan, 5, 1, 1, 4],
                          "b": [0.1, 0.2, 0.3, 0.4, 0.5, np.nan, np.nan]})
    failed = pd.DataFrame({"run_id": [7], "point": [3], "error": ["x"]})
    summary = summarise(spec, final, failed, points)
    assert summary[["runs", "failed"]].to_numpy().tolist() == [[3, 0], [1, 0], [3, 0], [0, 1]]
    for point in range(4):
        for metric in ("a", "b"):
            expected = mean_ci(final.loc[final["point"] == point, metric].to_numpy(float))
            got = summary.loc[point, [f"{metric}_mean", f"{metric}_ci_low", f"{metric}_ci_high"]]
            np.testing.assert_allclose(got.to_numpy(float), expected, equal_nan=True)


def test_replication_noise_leaves_out_the_common_seeds_shared_effect():
    from sim.sweep.sensitivity import _replication_noise

    rng = np.random.default_rng(1)
    points, reps = 30, 3
    mu = rng.random(points)
    seed_effect = np.array([0.0, 5.0, -5.0])  # large, but the same at every point
    grid = np.add.outer(mu, seed_effect)
    final = pd.DataFrame({"point": np.repeat(np.arange(points), reps),
                          "replication": np.tile(np.arange(reps), points),
                          "shared": grid.ravel(),
                          "noisy": (np.repeat(mu, reps) + rng.normal(0, 1.0, points * reps))})
    noise = _replication_noise(final, ["shared", "noisy"], points)
    assert noise["shared"] == pytest.approx(0.0, abs=1e-20)
    assert noise["noisy"] == pytest.approx(1.0 / reps, rel=0.3)
    means = final.groupby("point")[["shared", "noisy"]].mean()
    assert degeneracy(means["shared"].to_numpy(), noise["shared"]) == (None, False)
    assert "replication noise" in degeneracy(means["noisy"].to_numpy(), noise["noisy"])[0]
