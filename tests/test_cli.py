"""The recip command line: scenarios, run and its outputs, and running from anywhere."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from sim import list_scenarios
from sim.cli import app

runner = CliRunner()


def test_scenarios_lists_one_line_each():
    result = runner.invoke(app, ["scenarios"])
    assert result.exit_code == 0
    assert "pushy_vs_active" in result.output


def test_scenarios_detail_prints_the_guide():
    result = runner.invoke(app, ["scenarios", "--detail", "pushy_vs_active"])
    assert result.exit_code == 0
    for heading in ("What it is", "Things to notice", "Things to try", "Metric that shows it"):
        assert heading in result.output


def test_run_writes_table_parquet_summary_and_figure(tmp_path):
    result = runner.invoke(app, ["run", "pushy_vs_active", "--seed", "3", "--steps", "20",
                                 "--set", "buyers.n=200", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "conversion_rate" in result.output and "pushy" in result.output
    ts = pd.read_parquet(tmp_path / "timeseries.parquet")
    assert set(ts.strategy) == {"all", "pushy", "active"} and ts.step.max() == 20
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["seed"] == 3 and summary["steps"] == 20
    assert summary["parameters"]["buyers"]["n"] == 200
    assert summary["recip_version"]
    assert set(summary["final_by_strategy"]) == {"pushy", "active"}
    png = (tmp_path / "metrics.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_installed_recip_finds_scenarios_from_any_directory(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-m", "sim.cli", "scenarios"], cwd=tmp_path,
                            capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert "pushy_vs_active" in result.stdout


def test_wheel_install_ships_scenarios_and_app(tmp_path):
    """A non-editable install carries every subpackage, scenarios/ (with the posterior draws)
    and viz/ inside the package, and runs a model."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(target), root], check=True,
                   cwd=tmp_path, capture_output=True)
    code = ("import sim; from sim.paths import scenarios_dir, viz_dir; "
            "print(sim.__file__); print(scenarios_dir()); print((viz_dir() / 'app.py').is_file());"
            "print(' '.join(sim.list_scenarios()));"
            "import sim.calibration.fit, sim.sweep; from sim.model import ReciprocityModel;"
            "m = ReciprocityModel('pushy_vs_active', rng=1, overrides={'buyers.n': 50}); m.step();"
            "print((scenarios_dir() / '_posterior.csv').is_file())")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, check=True, env={**os.environ, "PYTHONPATH": str(target)})
    module, scenarios, has_app, names, has_posterior = out.stdout.strip().splitlines()
    assert module.startswith(str(target)) and scenarios.startswith(str(target))
    assert has_app == str(os.path.isfile(os.path.join(root, "viz", "app.py")))
    assert "pushy_vs_active" in names.split()
    assert has_posterior == str(os.path.isfile(os.path.join(root, "scenarios", "_posterior.csv")))


@pytest.mark.parametrize("name", list_scenarios())
def test_recip_run_works_on_every_shipped_scenario(name, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", name, "--steps", "3", "--set", "buyers.n=60",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"timeseries.parquet", "summary.json", "metrics.png",
                                               "metrics.svg"}


def test_an_outcome_may_not_shadow_a_core_metric(tmp_path):
    path = tmp_path / "shadow.toml"
    path.write_text('[[sellers]]\nstrategy = "active"\n[outcomes]\nconversion_rate = "ask_compliance"\n')
    result = runner.invoke(app, ["run", str(path), "--steps", "2", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "outcomes.conversion_rate" in result.output and "core metric" in result.output
    assert not (tmp_path / "o").exists()
