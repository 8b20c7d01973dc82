"""What `recip run` and `recip validate` write: provenance that names the code and the inputs,
agent-level tables keyed by the buyers' own labels, CSV for those without Parquet, and figures
in PNG (200 dpi) and SVG."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import sim.provenance as prov
from sim.cli import app
from sim.model import ReciprocityModel
from sim.paths import scenarios_dir
from sim.provenance import file_sha256
from sim.validate import run_validation, write_report

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

FIELDS = {"recip_version", "git", "python", "packages", "platform", "libm", "numpy_math",
          "timestamp", "command_line", "cwd", "overrides", "inputs"}


def check_provenance(record: dict, *, overrides: dict, scenario_files: list[Path]) -> None:
    assert set(record) == FIELDS
    json.dumps(record, allow_nan=False)
    assert record["recip_version"] == prov.package_version()
    assert record["packages"]["numpy"] == version("numpy")
    assert record["packages"]["mesa"] == version("mesa")
    assert record["overrides"] == overrides
    stamp = datetime.strptime(record["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 3600
    if prov.checkout_root() is not None:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
        assert record["git"]["commit"] == head and isinstance(record["git"]["dirty"], bool)
    hashes = {Path(r["path"]): r["sha256"] for r in record["inputs"]}
    for path in [*scenario_files, scenarios_dir() / "_defaults.toml",
                 scenarios_dir() / "_strategies.toml"]:
        assert hashes[path.resolve()] == file_sha256(path), path


def test_recip_run_records_provenance_with_its_command_line(tmp_path):
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-m", "sim.cli", "run", "pushy_vs_active", "--seed",
                           "3", "--steps", "5", "--set", "buyers.n=80", "--set",
                           "strategies.active.gift.unit_cost=12.5", "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    record = summary["provenance"]
    check_provenance(record, overrides={"buyers.n": 80, "strategies.active.gift.unit_cost": 12.5},
                     scenario_files=[scenarios_dir() / "pushy_vs_active.toml"])
    assert "run pushy_vs_active --seed 3 --steps 5 --set buyers.n=80" in record["command_line"]
    assert record["cwd"] == str(tmp_path)
    assert summary["recip_version"] == record["recip_version"]
    assert summary["units"]["gift_cost"] == "dollars"


def test_recip_validate_records_provenance(tmp_path):
    rows = run_validation(reps=2, quick=True, scenarios=["regan_1971"], facts=False)
    write_report(rows, tmp_path, reps=2, quick=True, seed=0, scenarios=["regan_1971"])
    data = json.loads((tmp_path / "validation.json").read_text())
    check_provenance(data["provenance"], overrides={},
                     scenario_files=[scenarios_dir() / "regan_1971.toml"])
    assert data["recip_version"] == data["provenance"]["recip_version"]
    report = (tmp_path / "REPORT.md").read_text()
    assert f"recip {data['recip_version']}" in report and "Command:" in report
    assert {p.suffix for p in tmp_path.iterdir()} >= {".png", ".svg", ".json", ".md"}


def test_figures_are_png_at_200_dpi_and_svg(tmp_path):
    from PIL import Image

    result = runner.invoke(app, ["run", "pushy_vs_active", "--steps", "5", "--set",
                                 "buyers.n=80", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "metrics.png") as image:
        assert round(image.info["dpi"][0]) == 200
    svg = (tmp_path / "metrics.svg").read_text()
    assert "net revenue (dollars)" in svg and "time since the start (days)" in svg


def agent_tables(out: Path, fmt: str) -> dict[str, pd.DataFrame]:
    read = pd.read_parquet if fmt == "parquet" else pd.read_csv
    return {name: read(out / "agents" / f"{name}.{fmt}")
            for name in ("buyer_traits", "buyers", "ties")}


def test_agents_are_written_at_chosen_steps_and_match_the_model(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "pushy_vs_active", "--seed", "5", "--steps", "12",
                                 "--set", "buyers.n=90", "--agents", "--agents-every", "5",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    tables = agent_tables(out, "parquet")
    assert not list((out / "agents").glob(".*"))  # no partial files left
    buyers, ties, traits = tables["buyers"], tables["ties"], tables["buyer_traits"]
    assert sorted(set(buyers.step)) == sorted(set(ties.step)) == [5, 10, 12]
    model = ReciprocityModel("pushy_vs_active", rng=5, overrides={"buyers.n": 90})
    model.run_for(12)
    assert traits.buyer.tolist() == model.buyer_labels.tolist()
    agents = {a.index: a for a in model.buyers}
    for row in traits.itertuples():
        agent = agents[row.index]
        assert (row.budget, row.punisher, row.gift_rules) == (agent.budget, agent.punisher,
                                                              agent.gift_rules)
    last = buyers[buyers.step == 12].set_index("buyer")
    for agent in model.buyers:
        assert last.loc[agent.label, "state"] == agent.state
        assert last.loc[agent.label, "obligation"] == pytest.approx(agent.obligation)
    final_ties = ties[ties.step == 12]
    for seller in model.sellers:
        mine = final_ties[final_ties.seller == seller.index]
        assert len(mine) == seller.reached
        assert (mine.status == "customer").sum() == seller.customers
        assert set(mine.strategy) == {seller.strategy}
    trust = model.engine.state.trust
    for row in final_ties.head(20).itertuples():
        assert row.trust == trust[row.seller, row.buyer]


def test_agents_keep_original_labels_and_csv_matches_parquet(tmp_path):
    edges = tmp_path / "net.edges"
    edges.write_text("ann bob\nbob cat\ncat dan\ndan ann\neve ann\n")
    tables = {}
    for fmt in ("parquet", "csv"):
        out = tmp_path / fmt
        result = runner.invoke(app, ["run", "pushy_vs_active", "--steps", "4", "--seed", "1",
                                     "--set", "network.kind=edgelist", "--set",
                                     f"network.path={edges}", "--agents", "--format", fmt,
                                     "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert (out / f"timeseries.{fmt}").exists()
        tables[fmt] = agent_tables(out, fmt)
    traits = tables["parquet"]["buyer_traits"]
    assert traits.buyer.tolist() == ["ann", "bob", "cat", "dan", "eve"]
    assert set(tables["parquet"]["ties"].buyer) <= set(traits.buyer)
    for name, frame in tables["parquet"].items():
        csv = tables["csv"][name]
        assert list(csv.columns) == list(frame.columns), name
        for column in frame.columns:
            if frame[column].dtype.kind == "f":
                np.testing.assert_allclose(csv[column], frame[column], rtol=1e-12)
            else:
                assert csv[column].astype(str).tolist() == frame[column].astype(str).tolist()


def test_agent_options_are_checked(tmp_path):
    result = runner.invoke(app, ["run", "pushy_vs_active", "--agents", "--agents-every", "0",
                                 "--out", str(tmp_path / "a")])
    assert result.exit_code == 2 and "agents-every" in result.output
    result = runner.invoke(app, ["run", "pushy_vs_active", "--format", "xlsx",
                                 "--out", str(tmp_path / "b")])
    assert result.exit_code == 2 and "--format = 'xlsx'" in result.output
    assert "parquet, csv" in result.output
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_agent_tables_and_summary_give_time_in_days_when_a_step_is_not_a_day(tmp_path):
    result = runner.invoke(app, ["run", "pushy_vs_active", "--steps", "4", "--set", "buyers.n=60",
                                 "--set", "step=12 hours", "--agents", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["step_days"] == 0.5 and summary["steps"] == 4
    for name in ("buyers", "ties"):
        table = pd.read_parquet(tmp_path / "agents" / f"{name}.parquet")
        assert sorted(set(table.step)) == [1, 2, 3, 4]
        assert (table.day == table.step * 0.5).all()
    ties = pd.read_parquet(tmp_path / "agents" / "ties.parquet")
    assert {"contact_step", "converted_step", "churn_step"} <= set(ties.columns)
    assert (ties.contact_step <= ties.step).all()
