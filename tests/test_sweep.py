"""Sweeps: spec checks, designs, identical rows on any backend, resume after SIGKILL, failed runs,
analysis. Runs are tiny (50-100 buyers, a few dozen steps) so the file stays fast."""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from sim.sweep.cli import analyze, sweep
from sim.sweep.design import design_points, plan_runs, sample_matrix
from sim.sweep.execute import run_sweep
from sim.sweep.spec import SweepSpecError, load_spec, parse_spec
from sim.sweep.store import read_results
from sim.sweep.worker import RunSettings, run_batch

ROOT = Path(__file__).resolve().parents[1]

MINIMAL = """
[sweep]
scenario = "pushy_vs_active"
steps = 30
replications = 2
seed = 1
metrics = ["conversion_rate", "complaint_rate", "retention_90d"]

[design]
kind = "grid"            # or "list", "lhs", "sobol", "morris"

[design.parameters]
"buyers.n" = [100, 200]
"""

SMALL_GRID = """
[sweep]
scenario = "pushy_vs_active"
steps = 20
replications = 2
seed = 3
metrics = ["conversion_rate[pushy]", "conversion_rate[active]", "complaint_rate"]
set = {{ "buyers.n" = 60 }}
{extra}

[design]
kind = "grid"

[design.parameters]
"buyers.detection_skill.mean" = [0.2, 0.8]
"network.kind" = ["watts_strogatz", "erdos_renyi"]
"""


def write(tmp_path: Path, text: str, name: str = "spec.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def sorted_rows(out: Path) -> pd.DataFrame:
    return read_results(out).sort_values(["run_id", "step"]).reset_index(drop=True)


def fake_run(scenario, *, arm=None, runs, steps=None, metrics, every=None, fail_point_n=None,
             fail_seed=None, kill_marker=None):
    """A stand-in for run_many: values from each run's seed and overrides, no model.

    ``fail_point_n``: raise when a run has buyers.n equal to it; ``fail_seed``: raise when a run
    has that seed. ``kill_marker``: the first call to find the marker absent creates it and
    SIGKILLs its own (worker) process."""
    if kill_marker is not None and not os.path.exists(kill_marker):
        Path(kill_marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    last = steps or 10
    wanted = [*range(every, last, every), last] if every else [last]
    results = []
    for overrides, seed in runs:
        n = overrides.get("buyers.n", 0)
        if fail_point_n is not None and n == fail_point_n:
            raise ValueError(f"buyers.n = {n} is cursed")
        if seed == fail_seed:
            raise ValueError(f"seed {fail_seed} is cursed")
        results.append([{"step": t, **{m: (seed % 997) / 997 + n / 1000 + t / 100 for m in metrics}}
                        for t in wanted])
    return results


# --- the spec -----------------------------------------------------------------------------------


def test_minimal_spec_loads_with_points_and_runs(tmp_path):
    spec = load_spec(write(tmp_path, MINIMAL))
    assert design_points(spec) == [{"buyers.n": 100}, {"buyers.n": 200}]
    runs = plan_runs(spec)
    assert [(r.run_id, r.point, r.replication) for r in runs] == [
        (0, 0, 0), (1, 0, 1), (2, 1, 0), (3, 1, 1)]
    # common random numbers: replication r has the same seed at every point
    assert runs[0].seed == runs[2].seed and runs[1].seed == runs[3].seed
    children = np.random.SeedSequence(1).spawn(2)
    assert [runs[0].seed, runs[1].seed] == [int(c.generate_state(1, dtype=np.uint64)[0] >> 1)
                                           for c in children]


BAD_SPECS = [
    # (change to MINIMAL, what the message must contain)
    (('kind = "grid"', 'kind = "grd"'),
     ["design.kind", "'grd'", "'grid'", "'sobol'", "'morris'"]),
    (('"buyers.n" = [100, 200]', '"buyers.nn" = [100, 200]'),
     ['design.parameters."buyers.nn"', "unknown field", "allowed:", "reciprocator_share"]),
    (('"buyers.n" = [100, 200]', '"buyers.n" = [100, 0]'),
     ['design.parameters."buyers.n" = 0', "greater than or equal to 1"]),
    (('kind = "grid"', 'kind = "lhs"\nsamples = 4'),
     ['design.parameters."buyers.n" = [100, 200]', "takes bounds", "low = 0.1, high = 0.9"]),
    (('kind = "grid"', 'kind = "sobol"\nsamples = 8\n#'),
     ['design.parameters."buyers.n"', "bounds"]),
    (('"buyers.n" = [100, 200]', '"buyers.n" = 100'),
     ['design.parameters."buyers.n" = 100', "a list of values"]),
    (('metrics = ["conversion_rate", ', 'metrics = ["convertion_rate", '),
     ["sweep.metrics", "'convertion_rate'", "allowed:", "conversion_rate", "pushy, active"]),
    (('metrics = ["conversion_rate", ', 'metrics = ["conversion_rate[sleazy]", '),
     ["sweep.metrics", "'sleazy'", "in play: pushy, active"]),
    (("seed = 1", "seed = 1\nworkers = 4"),
     ["sweep.workers = 4", "unknown field", "allowed:", "replications", "metrics"]),
    (("replications = 2", "replications = 0"),
     ["sweep.replications = 0", "greater than or equal to 1"]),
    (('scenario = "pushy_vs_active"', 'scenario = "pushy_vs_pasive"'),
     ["sweep.scenario", "'pushy_vs_pasive'", "did you mean 'pushy_vs_active'"]),
    (("seed = 1", 'seed = 1\narm = "nope"'),
     ["sweep.arm = 'nope'", "not an arm", "allowed:"]),
    (("seed = 1", 'seed = 1\nset = { "buyers.n" = 50 }'),
     ["buyers.n", "either fixed (sweep.set) or varied"]),
]


@pytest.mark.parametrize(("change", "expected"), BAD_SPECS,
                         ids=[e[0] for _, e in BAD_SPECS])
def test_bad_spec_message_names_file_field_value_and_allowed(tmp_path, change, expected):
    old, new = change
    assert old in MINIMAL
    path = write(tmp_path, MINIMAL.replace(old, new), name="study.toml")
    with pytest.raises(SweepSpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    for part in expected:
        assert part in message, f"{part!r} not in: {message}"


@pytest.mark.parametrize(("design", "expected"), [
    ('kind = "lhs"\nsamples = 4\n[design.parameters]\n"buyers.n" = { low = 300, high = 100 }',
     ['"buyers.n"', "low must be below high"]),
    ('kind = "sobol"\nsamples = 10\n[design.parameters]\n"buyers.n" = { low = 10, high = 100 }',
     ["design.samples = 10", "power of two", "8 or 16"]),
    ('kind = "morris"\n[design.parameters]\n"buyers.n" = { low = 10, high = 100 }',
     ["design.samples", "needs samples", "trajectories"]),
    ('kind = "grid"\nsamples = 4\n[design.parameters]\n"buyers.n" = [1, 2]',
     ["design.samples = 4", "only kinds 'lhs', 'sobol' and 'morris'"]),
    ('kind = "list"\n[[design.points]]\n"buyers.n" = 50\n[[design.points]]\n"network.k" = 4',
     ["design.points[1] sets network.k", "design.points[0] sets buyers.n"]),
    ('kind = "grid"\n[design.parameters]\n"network.kind" = ["complete", 3]',
     ['"network.kind"', "all be numbers, all strings or all booleans"]),
    ('kind = "grid"\n[design.parameters]\n"network.kind" = ["complete", "wheel"]',
     ['design.parameters."network.kind" = \'wheel\'', "'erdos_renyi'"]),
])
def test_bad_design_message(tmp_path, design, expected):
    head = MINIMAL.split("[design]")[0]
    path = write(tmp_path, head + "[design]\n" + design + "\n")
    with pytest.raises(SweepSpecError) as info:
        load_spec(path)
    for part in expected:
        assert part in str(info.value), f"{part!r} not in: {info.value}"


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(SweepSpecError, match="does not exist"):
        load_spec(tmp_path / "nope.toml")
    with pytest.raises(SweepSpecError, match="not valid TOML"):
        load_spec(write(tmp_path, "[sweep\n"))


def test_unquoted_dotted_names_are_flattened(tmp_path):
    text = MINIMAL.replace('"buyers.n" = [100, 200]', "buyers.n = [100, 200]")
    assert design_points(load_spec(write(tmp_path, text))) == [{"buyers.n": 100},
                                                                {"buyers.n": 200}]


def test_example_specs_are_valid():
    for name in ("pushy_vs_active_detection.toml", "gift_surprise_personalisation.toml"):
        spec = load_spec(ROOT / "experiments" / name)
        assert len(design_points(spec)) >= 15


# --- designs ------------------------------------------------------------------------------------

CONTINUOUS = {"strategies.active.gift.value": {"low": 0.5, "high": 5.0},
              "strategies.active.ask.delay": {"low": 0, "high": 21},
              "strategies.active.gift.surprise": {"low": 0.0, "high": 1.0}}


def continuous_spec(kind: str, samples: int, seed: int = 5, **extra) -> object:
    return parse_spec({"sweep": {"scenario": "pushy_vs_active", "metrics": ["revenue"], "seed": seed},
                       "design": {"kind": kind, "samples": samples, "parameters": CONTINUOUS,
                                  **extra}})


@pytest.mark.parametrize(("kind", "samples", "rows"), [
    ("lhs", 10, 10), ("sobol", 8, 8 * (3 + 2)), ("morris", 4, 4 * (3 + 1))])
def test_continuous_designs_shape_bounds_rounding_and_determinism(kind, samples, rows):
    spec = continuous_spec(kind, samples)
    points = design_points(spec)
    assert len(points) == rows
    assert points == design_points(continuous_spec(kind, samples))  # same seed, same points
    assert points != design_points(continuous_spec(kind, samples, seed=6))
    dumped = spec.model_dump(mode="json", by_alias=True, exclude={"source"})
    assert design_points(parse_spec(dumped)) == points  # a spec dumped in full loads back
    for name, bounds in CONTINUOUS.items():
        values = [p[name] for p in points]
        assert min(values) >= bounds["low"] and max(values) <= bounds["high"]
    delays = [p["strategies.active.ask.delay"] for p in points]
    assert all(type(d) is int for d in delays)  # integer bounds: rounded
    assert all(type(p["strategies.active.gift.value"]) is float for p in points)
    assert sample_matrix(spec).shape == (rows, 3)


def test_sobol_second_order_has_more_points():
    assert len(design_points(continuous_spec("sobol", 8, second_order=True))) == 8 * (2 * 3 + 2)


def test_grid_and_list_designs():
    grid = parse_spec({"sweep": {"scenario": "x", "metrics": ["revenue"]}, "design": {
        "kind": "grid", "parameters": {"a": [1, 2, 3], "b": ["u", "v"], "c": [True]}}})
    points = design_points(grid)
    assert len(points) == 6 and points[0] == {"a": 1, "b": "u", "c": True}
    assert points[1] == {"a": 1, "b": "v", "c": True}  # the last parameter varies fastest
    listed = parse_spec({"sweep": {"scenario": "x", "metrics": ["revenue"]}, "design": {
        "kind": "list", "points": [{"a": 1, "b": "u"}, {"a": 5, "b": "w"}]}})
    assert design_points(listed) == [{"a": 1, "b": "u"}, {"a": 5, "b": "w"}]


# --- running ------------------------------------------------------------------------------------


def test_one_and_two_workers_give_identical_rows(tmp_path):
    spec = load_spec(write(tmp_path, MINIMAL))
    one = run_sweep(spec, tmp_path / "one", workers=1)
    two = run_sweep(spec, tmp_path / "two", workers=2)
    assert one.complete and two.complete and two.backend == "processes"
    a, b = sorted_rows(tmp_path / "one"), sorted_rows(tmp_path / "two")
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns[:5]) == ["run_id", "point", "replication", "seed", "buyers.n"]
    assert len(a) == 4 and a["step"].eq(30).all() and a["error"].isna().all()
    assert a.groupby("replication")["seed"].nunique().eq(1).all()
    manifest = json.loads((tmp_path / "two" / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["runs_done"] == 4
    assert manifest["sessions"][0]["seconds"] > 0
    assert manifest["provenance"] == manifest["sessions"][0]["provenance"]
    assert manifest["provenance"]["recip_version"] and manifest["model"]["fingerprint"]
    assert manifest["spec"]["design"]["parameters"] == {"buyers.n": [100, 200]}


def test_every_k_steps_and_small_batches(tmp_path):
    spec = load_spec(write(tmp_path, SMALL_GRID.format(extra="every = 8\nbatch = 3")))
    outcome = run_sweep(spec, tmp_path / "out", workers=1)
    rows = sorted_rows(tmp_path / "out")
    assert outcome.batch == 3 and len(list((tmp_path / "out" / "chunks").glob("*.parquet"))) == 3
    assert rows.groupby("run_id")["step"].apply(list).tolist() == [[8, 16, 20]] * 8
    assert set(rows["network.kind"]) == {"watts_strogatz", "erdos_renyi"}


def test_dask_local_cluster_and_scheduler_address_give_identical_rows(tmp_path):
    # Not skipped when dask is missing: CI installs the recip[dask] extra and must run this.
    from distributed import LocalCluster

    spec = load_spec(write(tmp_path, SMALL_GRID.format(extra="")))
    run_sweep(spec, tmp_path / "local", workers=1)
    expected = sorted_rows(tmp_path / "local")
    outcome = run_sweep(spec, tmp_path / "dask", workers=2, scheduler="local")
    assert outcome.complete and outcome.backend == "dask-local" and outcome.workers == 2
    pd.testing.assert_frame_equal(sorted_rows(tmp_path / "dask"), expected)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
                      host="127.0.0.1", dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://")
        outcome = run_sweep(spec, tmp_path / "tcp", scheduler=address)
    assert outcome.complete and outcome.backend == f"dask {address}"
    pd.testing.assert_frame_equal(sorted_rows(tmp_path / "tcp"), expected)
    with pytest.raises(SweepSpecError, match="give 'local' or the address"):
        run_sweep(spec, tmp_path / "bad", scheduler="localhost")


def test_a_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path):
    spec = load_spec(write(tmp_path, MINIMAL))
    cursed = functools.partial(fake_run, fail_point_n=200)
    outcome = run_sweep(spec, tmp_path / "out", workers=2, run_function=cursed)
    assert outcome.complete and outcome.runs_failed == 2
    rows = sorted_rows(tmp_path / "out")
    good, bad = rows[rows["error"].isna()], rows[rows["error"].notna()]
    assert list(good["run_id"]) == [0, 1] and list(bad["run_id"]) == [2, 3]
    assert bad["error"].str.contains("ValueError: buyers.n = 200 is cursed").all()
    assert bad["step"].isna().all() and bad["conversion_rate"].isna().all()
    errors = pd.read_csv(tmp_path / "out" / "errors.csv")
    assert list(errors["run_id"]) == [2, 3] and "cursed" in errors["error"][0]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["runs_failed"] == 2 and manifest["status"] == "complete"
    # a resumed sweep counts failed runs as finished
    again = run_sweep(spec, tmp_path / "out", resume=True, workers=1, run_function=cursed)
    assert again.runs_this_session == 0 and again.runs_failed == 2


def test_one_failing_replication_does_not_take_its_design_point_down(tmp_path):
    spec = load_spec(write(tmp_path, MINIMAL))
    runs = plan_runs(spec)
    cursed = functools.partial(fake_run, fail_seed=runs[1].seed)  # replication 1, both points
    rows = pd.DataFrame(run_batch(RunSettings.of(spec), runs, cursed))
    assert list(rows["run_id"]) == [0, 1, 2, 3]
    assert list(rows["error"].notna()) == [False, True, False, True]
    assert rows["error"][1] == f"ValueError: seed {runs[1].seed} is cursed"
    assert "Traceback" in rows["traceback"][1] and "is cursed" in rows["traceback"][1]


def test_a_killed_worker_loses_nothing(tmp_path):
    spec = load_spec(write(tmp_path, SMALL_GRID.format(extra="batch = 1")))
    killer = functools.partial(fake_run, kill_marker=str(tmp_path / "killed-once"))
    outcome = run_sweep(spec, tmp_path / "out", workers=2, run_function=killer)
    assert (tmp_path / "killed-once").exists()
    assert outcome.complete and outcome.runs_failed == 0
    rows = sorted_rows(tmp_path / "out")
    assert list(rows["run_id"]) == list(range(8))


def test_out_folder_rules(tmp_path):
    spec = load_spec(write(tmp_path, MINIMAL))
    run_sweep(spec, tmp_path / "out", workers=1, run_function=fake_run)
    with pytest.raises(SweepSpecError, match=r"not empty; pass --resume .* or choose another --out"):
        run_sweep(spec, tmp_path / "out", workers=1, run_function=fake_run)
    other = load_spec(write(tmp_path, MINIMAL.replace("seed = 1", "seed = 2"), name="other.toml"))
    with pytest.raises(SweepSpecError, match="different spec"):
        run_sweep(other, tmp_path / "out", workers=1, resume=True, run_function=fake_run)
    finished = run_sweep(spec, tmp_path / "out", workers=1, resume=True, run_function=fake_run)
    assert finished.runs_this_session == 0 and finished.complete
    fcntl = pytest.importorskip("fcntl")  # POSIX: one sweep at a time per folder
    with open(tmp_path / "out" / ".lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(SweepSpecError, match="a sweep is already writing here"):
            run_sweep(spec, tmp_path / "out", workers=1, resume=True, run_function=fake_run)


def test_run_batch_records_a_missing_metric():
    settings = RunSettings("pushy_vs_active", None, 5, ("revenue",), None)
    spec = parse_spec({"sweep": {"scenario": "x", "metrics": ["revenue"]},
                       "design": {"kind": "grid", "parameters": {"buyers.n": [1]}}})
    rows = run_batch(settings, plan_runs(spec), lambda *a, **k: [[{"step": 5}]])
    assert rows[0]["error"] == "RuntimeError: the run returned a row without revenue"


def test_resume_after_sigkill_has_no_missing_and_no_duplicate_runs(tmp_path):
    text = SMALL_GRID.format(extra="batch = 1").replace("replications = 2", "replications = 30")
    spec_path = write(tmp_path, text)
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "sweep", str(spec_path), "--out", str(out),
         "--workers", "2"], cwd=ROOT, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while len(list((out / "chunks").glob("chunk-*.parquet"))) < 4:
            assert process.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "no chunks landed"
            time.sleep(0.01)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the driver and its workers, mid-sweep
        process.wait()
    landed = read_results(out)
    assert 4 <= landed["run_id"].nunique() < 120, "the sweep was not interrupted"

    spec = load_spec(spec_path)
    outcome = run_sweep(spec, out, resume=True, workers=1)
    assert outcome.complete and outcome.runs_this_session == 120 - landed["run_id"].nunique()
    resumed = sorted_rows(out)
    assert list(resumed["run_id"]) == list(range(120))  # one final row per run: none missing
    run_sweep(spec, tmp_path / "reference", workers=1)
    pd.testing.assert_frame_equal(resumed, sorted_rows(tmp_path / "reference"))
    sessions = json.loads((out / "manifest.json").read_text())["sessions"]
    assert sessions[0]["status"] == "running" and sessions[-1]["status"] == "complete"


# --- command line and analysis ------------------------------------------------------------------


@pytest.fixture
def cli():
    app = typer.Typer()
    app.command("sweep")(sweep)
    app.command("analyze")(analyze)
    return lambda *args: CliRunner().invoke(app, [str(a) for a in args])


def test_cli_sweep_then_analyze_grid(tmp_path, cli):
    spec = write(tmp_path, SMALL_GRID.format(extra=""))
    result = cli("sweep", spec, "--out", tmp_path / "out", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert "8/8 runs" in result.output and "recip analyze" in result.output
    again = cli("sweep", spec, "--out", tmp_path / "out")
    assert again.exit_code == 2 and "--resume" in again.output and "Traceback" not in again.output
    result = cli("analyze", tmp_path / "out")
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(tmp_path / "out" / "analysis" / "summary.csv")
    assert len(summary) == 4 and summary["runs"].eq(2).all()
    assert {"conversion_rate[pushy]_mean", "conversion_rate[pushy]_ci_low",
            "complaint_rate_ci_high"} <= set(summary.columns)
    low, mean, high = (summary[f"complaint_rate_{s}"] for s in ("ci_low", "mean", "ci_high"))
    assert ((low <= mean) & (mean <= high)).all()
    report = (tmp_path / "out" / "analysis" / "REPORT.md").read_text()
    assert "Metrics by design point" in report and "heatmap_conversion_rate.png" in report
    for figure in ("heatmap_conversion_rate", "heatmap_complaint_rate", "effect_conversion_rate"):
        assert (tmp_path / "out" / "analysis" / "figures" / f"{figure}.png").stat().st_size > 1000


def test_cli_reports_a_bad_spec_without_traceback(tmp_path, cli):
    spec = write(tmp_path, MINIMAL.replace('kind = "grid"', 'kind = "grd"'))
    result = cli("sweep", spec, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "design.kind = 'grd'" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()
    result = cli("analyze", tmp_path / "nothing")
    assert result.exit_code == 2 and "no such folder" in result.output
    (tmp_path / "empty").mkdir()
    result = cli("analyze", tmp_path / "empty")
    assert result.exit_code == 2 and "no manifest.json" in result.output


@pytest.mark.parametrize(("kind", "samples", "columns", "figure"), [
    ("sobol", 32, {"S1", "S1_conf", "ST", "ST_conf"}, "sobol_indices.png"),
    ("morris", 4, {"mu_star", "mu_star_conf", "sigma"}, "morris_indices.png")])
def test_analyze_sensitivity_designs(tmp_path, kind, samples, columns, figure):
    spec = write(tmp_path, f"""
        [sweep]
        scenario = "pushy_vs_active"
        steps = 25
        replications = 2
        seed = 4
        metrics = ["conversion_rate[active]", "revenue[active]"]
        set = {{ "buyers.n" = 50 }}

        [design]
        kind = "{kind}"
        samples = {samples}

        [design.parameters]
        "strategies.active.gift.value" = {{ low = 0.5, high = 40.0 }}
        "strategies.active.ask.delay" = {{ low = 0, high = 14 }}
        "strategies.active.ask.size" = {{ low = 20.0, high = 300.0 }}
    """)
    from sim.sweep.analyze import analyze_sweep

    run_sweep(load_spec(spec), tmp_path / "out", workers=2)
    written = analyze_sweep(tmp_path / "out").files
    indices = pd.read_csv(tmp_path / "out" / "analysis" / "sensitivity.csv")
    assert columns <= set(indices.columns)
    assert set(indices["parameter"]) == {"strategies.active.gift.value",
                                         "strategies.active.ask.delay",
                                         "strategies.active.ask.size"}
    assert tmp_path / "out" / "analysis" / "figures" / figure in written
    report = (tmp_path / "out" / "analysis" / "REPORT.md").read_text()
    assert ("Sobol indices" if kind == "sobol" else "Morris") in report
    # an unfinished sweep is summarised, its indices left out with a note
    shutil.copytree(tmp_path / "out", tmp_path / "partial")
    for chunk in sorted((tmp_path / "partial" / "chunks").glob("*.parquet"))[1:]:
        chunk.unlink()
    analyze_sweep(tmp_path / "partial")
    report = (tmp_path / "partial" / "analysis" / "REPORT.md").read_text()
    assert "The sweep is not finished" in report and "not analysed" in report
