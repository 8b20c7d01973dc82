"""``recip calibrate``: a small synthetic problem whose answer is known (data made by the model at
chosen parameter values), resuming, workers and Dask, and clear errors for bad specs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sim import load_scenario
from sim.calibration.evaluate import build_plan, evaluate
from sim.calibration.fit import read_draws
from sim.calibration.targets import Target
from sim.cli import app
from sim.runner import replication_seeds

runner = CliRunner()


def _said(result) -> str:
    """The output with the terminal's line wrapping undone."""
    return " ".join(result.output.split())

SHOP = """
steps = 1

[network]
kind = "erdos_renyi"
p = 0.0

[buyers]
n = 400
base_compliance = 0.3
reciprocator_share = 1.0

[strategies.shop]
description = "Asks once, on the first day."
reach = { everyone = true }
gift = { value = 0.0 }
ask = { kind = "reply", size = 10.0, delay = 0, every = 0, max_asks = 1, opt_out = true, unit_cost = 0.0 }
thank = false

[strategies.shop_gift]
base = "shop"
description = "A small personal gift, then the ask."
gift = { value = 2.0, surprise = 1.0, personalised = 1.0, unit_cost = 2.0 }

[[sellers]]
strategy = "shop"

[arms.control]

[arms.gift]
"sellers.0.strategy" = "shop_gift"
"""

TRUTH = {"buyers.base_compliance": 0.1, "rules.debt_weight": 2.0}
BOUNDS = {"buyers.base_compliance": (0.02, 0.4), "rules.debt_weight": (0.2, 5.0)}
SE = 0.015
"""The measurement's standard error: about a conversion rate's on 400 buyers."""


def _measured(scenario: Path) -> dict[str, float]:
    """The data: the model at ``TRUTH``, averaged over 30 seeds the fit never uses."""
    entries = [(str(scenario), Target(study="synthetic", condition=arm, arm=arm,
                                      metric="conversion_rate", paper=0.0, sd=SE))
               for arm in ("control", "gift")]
    values = evaluate(build_plan(entries), [TRUTH], replication_seeds(999, 30))[0].mean(axis=1)
    return {"control": float(values[0]), "gift": float(values[1])}


def _spec(folder: Path, *, iterations: int = 60, **extra: str) -> Path:
    scenario = folder / "shop.toml"
    scenario.write_text(SHOP)
    measured = _measured(scenario)
    params = ", ".join(f'"{k}" = [{lo}, {hi}]' for k, (lo, hi) in BOUNDS.items())
    lines = ["[calibrate]", 'scenario = "shop.toml"', f"parameters = {{ {params} }}",
             "walkers = 8", f"iterations = {iterations}", "seeds = 2",
             *(f"{k} = {v}" for k, v in extra.items())]
    for arm, value in measured.items():
        lines += ["", "[[calibrate.targets]]", f'arm = "{arm}"', 'metric = "conversion_rate"',
                  f"value = {value}", f"se = {SE}"]
    path = folder / "spec.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_calibrate_recovers_the_parameters_the_data_were_made_with(tmp_path):
    spec = _spec(tmp_path)
    out = tmp_path / "fit"
    result = runner.invoke(app, ["calibrate", str(spec), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} >= {
        "posterior.csv", "fitted.toml", "REPORT.md", "calibration.json", "trace.png",
        "posterior.png", "predictive.png", "predictive.svg"}
    keys, draws = read_draws(out / "posterior.csv")
    assert keys == list(TRUTH)
    summary = json.loads((out / "calibration.json").read_text())
    for i, parameter in enumerate(summary["parameters"]):
        low, high = parameter["interval_95"]
        assert low <= TRUTH[parameter["key"]] <= high, parameter
        assert draws[:, i].min() >= BOUNDS[parameter["key"]][0]
    # the data pin base compliance down to a small part of its prior
    low, high = summary["parameters"][0]["interval_95"]
    assert high - low < 0.25 * (0.4 - 0.02)
    assert all(row["consistent"] for row in summary["targets"])
    assert summary["provenance"]["inputs"] and summary["seeds"] == replication_seeds(1, 2)
    # the fitted scenario runs, with the posterior's mode set (context and rule)
    fitted = load_scenario(out / "fitted.toml")
    mode = {p["key"]: p["mode"] for p in summary["parameters"]}
    assert fitted.buyers.base_compliance == pytest.approx(mode["buyers.base_compliance"], rel=1e-5)
    assert fitted.rules.debt_weight == pytest.approx(mode["rules.debt_weight"], rel=1e-5)
    assert set(fitted.arms) == {"control", "gift"}
    report = (out / "REPORT.md").read_text()
    assert "emcee" in report and "posterior-predictive" in report
    assert not (tmp_path / ".fit.partial").exists()


def test_an_interrupted_calibration_resumes_to_the_same_posterior(tmp_path, monkeypatch):
    spec = _spec(tmp_path, iterations=24)
    whole = tmp_path / "whole"
    assert runner.invoke(app, ["calibrate", str(spec), "--out", str(whole)]).exit_code == 0

    def stop_at_ten():
        def update(done: int, total: int) -> None:
            if done == 10:
                raise KeyboardInterrupt
        return update

    import sim.calibration.cli as calibrate_cli

    out = tmp_path / "resumed"
    with monkeypatch.context() as patched:
        patched.setattr(calibrate_cli, "_progress_bar", stop_at_ten)
        result = runner.invoke(app, ["calibrate", str(spec), "--out", str(out)])
    assert result.exit_code == 130
    assert not out.exists() and (tmp_path / ".resumed.partial" / "chain.pkl").exists()
    again = runner.invoke(app, ["calibrate", str(spec), "--out", str(out)])
    assert again.exit_code == 2 and "--resume" in _said(again)
    result = runner.invoke(app, ["calibrate", str(spec), "--out", str(out), "--resume"])
    assert result.exit_code == 0, result.output
    assert (out / "posterior.csv").read_bytes() == (whole / "posterior.csv").read_bytes()
    # the time reported is the sampling of both runs, and says it was resumed
    summaries = [json.loads((folder / "calibration.json").read_text()) for folder in (whole, out)]
    assert [summary["sessions"] for summary in summaries] == [1, 2]
    assert "summed over the 2 runs" in (out / "REPORT.md").read_text()


def test_workers_and_dask_give_the_same_posterior(tmp_path):
    pytest.importorskip("distributed")
    spec = _spec(tmp_path, iterations=12)
    files = []
    for name, options in (("one", []), ("two", ["--workers", "2"]),
                          ("dask", ["--scheduler", "local", "--workers", "2"])):
        result = runner.invoke(app, ["calibrate", str(spec), "--out", str(tmp_path / name),
                                     *options])
        assert result.exit_code == 0, result.output
        files.append((tmp_path / name / "posterior.csv").read_bytes())
    assert files[0] == files[1] == files[2]


@pytest.mark.parametrize("change, expected", [
    (('"rules.debt_weight" = [0.2, 5.0]', '"rules.debt_wieght" = [0.2, 5.0]'), "debt_wieght"),
    (('"rules.debt_weight" = [0.2, 5.0]', '"rules.debt_weight" = [5.0, 0.2]'), "low < high"),
    (('arm = "gift"', 'arm = "gfit"'), "'gfit' is not an arm"),
    (('metric = "conversion_rate"\nvalue', 'metric = "conversoin_rate"\nvalue'), "allowed:"),
    (("se = 0.015", "se = -1"), "se"),
    (("walkers = 8", "walkers = 8\nsurprise = 1"), "surprise"),
])
def test_a_bad_spec_is_one_clear_message_and_exit_2(tmp_path, change, expected):
    spec = _spec(tmp_path, iterations=2)
    text = spec.read_text()
    assert change[0] in text
    spec.write_text(text.replace(change[0], change[1], 1))
    result = runner.invoke(app, ["calibrate", str(spec), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert expected in _said(result) and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_calibrate_refuses_a_missing_spec_a_full_folder_and_a_resume_of_nothing(tmp_path):
    result = runner.invoke(app, ["calibrate", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2 and "does not exist" in _said(result)
    spec = _spec(tmp_path, iterations=2)
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["calibrate", str(spec), "--out", str(full)])
    assert result.exit_code == 2 and "not empty" in _said(result)
    assert (full / "keep.txt").read_text() == "mine"
    result = runner.invoke(app, ["calibrate", str(spec), "--out", str(tmp_path / "new"),
                                 "--resume"])
    assert result.exit_code == 2 and "no interrupted fit" in _said(result)


def test_the_fit_is_reproducible(tmp_path):
    """The same spec and seed give the same draws, bit for bit."""
    spec = _spec(tmp_path, iterations=6)
    for name in ("a", "b"):
        assert runner.invoke(app, ["calibrate", str(spec), "--out",
                                   str(tmp_path / name)]).exit_code == 0
    a, b = (np.loadtxt(tmp_path / n / "posterior.csv", delimiter=",", skiprows=1) for n in "ab")
    assert np.array_equal(a, b)
