"""Sweeps under bad input and bad luck: spec limits, network files beside the spec, resuming a
changed model, failed runs (exit code, retry), a full disk, two sweeps on one folder, a killed
driver's workers, strict JSON, commands that cannot vanish. Fake run functions keep it fast
wherever the model itself is not the point."""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
import typer
from test_sweep import MINIMAL, SMALL_GRID, fake_run, sorted_rows, write
from typer.testing import CliRunner

import sim.paths
from sim.provenance import file_sha256
from sim.sweep.cli import analyze, sweep
from sim.sweep.execute import SweepWriteError, run_sweep
from sim.sweep.spec import MAX_STEPS, SweepSpecError, load_spec, parse_spec
from sim.sweep.store import SweepStore, read_results

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cli():
    app = typer.Typer()
    app.command("sweep")(sweep)
    app.command("analyze")(analyze)
    return lambda *args: CliRunner().invoke(app, [str(a) for a in args])


def strict_json(path: Path):
    """Parse as a strict JSON reader would: NaN or Infinity is an error."""
    def refuse(name):
        raise ValueError(f"{path}: {name} is not JSON")
    return json.loads(path.read_text(), parse_constant=refuse)


# --- spec limits ----------------------------------------------------------------------------------

LIMITS = [
    # (change to MINIMAL, what the message must contain)
    (("steps = 30", "steps = 100001"), ["sweep.steps = 100001", "100,000"]),
    (("steps = 30", "steps = 1e12"), ["sweep.steps = 1000000000000.0", "whole number from 1 to 100,000"]),
    (("steps = 30", 'steps = "30"'), ["sweep.steps = '30'", "whole number"]),
    (("steps = 30", "steps = nan"), ["sweep.steps = nan", "whole number"]),
    (("seed = 1", "seed = -1"), ["sweep.seed = -1", "greater than or equal to 0"]),
    (("replications = 2", "replications = 600000"),
     ["sweep.replications = 600000 x 2 design points = 1,200,000 runs", "at most 1,000,000"]),
    (("seed = 1", "seed = 1\nevery = -3"), ["sweep.every = -3", "from 0"]),
    (("seed = 1", "seed = 1\nbatch = 0"), ["sweep.batch = 0", "from 1 to 10,000"]),
    (("seed = 1", 'seed = 1\nset = { "buyers.need.mean" = nan }'),
     ['sweep.set."buyers.need.mean" = nan', "finite number"]),
    (("seed = 1", 'seed = 1\nset = { "buyers.need.mean" = inf }'),
     ['sweep.set."buyers.need.mean" = inf', "finite number"]),
    (('"buyers.n" = [100, 200]', '"buyers.n" = [100, inf]'),
     ['design.parameters."buyers.n" = inf', "finite number"]),
    (('scenario = "pushy_vs_active"', 'scenario = "pushy\\u0000"'),
     ["sweep.scenario", "control characters"]),
    (('kind = "grid"', 'kind = "lhs"\nsamples = 8'),
     ["takes bounds"]),
    (("seed = 1", 'seed = 1\nset = { "buyers.need.mean" = 1979-05-27 }'),
     ['sweep.set."buyers.need.mean"', "must be one number, string or boolean, not a date"]),
    (('"buyers.n" = [100, 200]', '"buyers.n" = [100, [200]]'),
     ['design.parameters."buyers.n"', "numbers, strings or booleans, not [200]"]),
]


@pytest.mark.parametrize(("change", "expected"), LIMITS, ids=[c[1] for c, _ in LIMITS])
def test_out_of_range_and_non_finite_values_are_refused_with_field_and_allowed(
        tmp_path, change, expected):
    old, new = change
    assert old in MINIMAL
    path = write(tmp_path, MINIMAL.replace(old, new), name="study.toml")
    with pytest.raises(SweepSpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    for part in expected:
        assert part in message, f"{part!r} not in: {message}"


def test_limits_match_the_scenario_schema():
    from sim.config import Scenario

    steps = Scenario.model_fields["steps"].metadata
    assert any(getattr(m, "le", None) == MAX_STEPS for m in steps)


@pytest.mark.parametrize(("design", "expected"), [
    # 10 parameters of 16 values: 2**40 points, refused before anything is built
    ("kind = 'grid'\n[design.parameters]\n" + "\n".join(
        f'"p{i}" = [{", ".join(str(v) for v in range(16))}]' for i in range(10)),
     ["a grid of 16 x 16", "= 1,099,511,627,776 design points", "at most 1,000,000"]),
    ("kind = 'sobol'\nsamples = 1099511627776\n[design.parameters]\n"
     '"buyers.n" = { low = 10, high = 100 }', ["design.samples = 1099511627776", "1,000,000"]),
    ("kind = 'sobol'\nsamples = 262144\n[design.parameters]\n"
     + "\n".join(f'"p{i}" = {{ low = 0.0, high = 1.0 }}' for i in range(3)),
     ["design.samples = 262144 x (3 + 2) = 1,310,720 design points"]),
    ("kind = 'morris'\nsamples = 4\nlevels = 5\n[design.parameters]\n"
     '"buyers.n" = { low = 10, high = 100 }', ["design.levels = 5", "even number", "6"]),
    ("kind = 'lhs'\nsamples = 4\n[design.parameters]\n"
     '"buyers.n" = { low = 10, high = inf }', ['"buyers.n"', "finite numbers"]),
])
def test_huge_or_broken_designs_are_refused_before_they_are_built(tmp_path, design, expected,
                                                                  monkeypatch):
    head = MINIMAL.split("[design]")[0]
    path = write(tmp_path, head + "[design]\n" + design + "\n")

    def never(*args, **kwargs):
        raise AssertionError("the design was built before it was refused")

    monkeypatch.setattr("sim.sweep.design.design_points", never)
    monkeypatch.setattr("sim.sweep.design.sample_matrix", never)
    monkeypatch.setattr("itertools.product", never)
    with pytest.raises(SweepSpecError) as info:
        load_spec(path)
    for part in expected:
        assert part in str(info.value), f"{part!r} not in: {info.value}"


def test_files_that_are_not_small_utf8_toml_are_refused(tmp_path):
    folder = tmp_path / "a_folder.toml"
    folder.mkdir()
    with pytest.raises(SweepSpecError, match="is not a regular file"):
        load_spec(folder)
    latin = tmp_path / "latin.toml"
    latin.write_bytes(MINIMAL.replace("grid", "gr\xe9d").encode("latin-1"))
    with pytest.raises(SweepSpecError, match=r"not UTF-8 text \(byte \d+\)"):
        load_spec(latin)
    huge = tmp_path / "huge.toml"
    huge.write_text(MINIMAL + "#" * (1 << 20))
    with pytest.raises(SweepSpecError, match="a sweep spec is at most 1,048,576 bytes"):
        load_spec(huge)
    nested = tmp_path / "nested.toml"
    nested.write_text(MINIMAL.replace("seed = 1", "seed = 1\nset = { " + "a = { " * 40
                                      + "b = 1" + " }" * 40 + " }"))
    with pytest.raises(SweepSpecError, match="nested more than 16 levels"):
        load_spec(nested)
    with pytest.raises(SweepSpecError, match="cannot be read"):
        load_spec(tmp_path / "nul\0.toml")


def test_cli_bad_seed_and_workers_exit_2_with_the_option_named(tmp_path, cli):
    spec = write(tmp_path, MINIMAL)
    result = cli("sweep", spec, "--seed", "-1", "--out", tmp_path / "out")
    assert result.exit_code == 2 and "--seed" in result.output and "greater than or equal to 0" \
        in result.output
    result = cli("sweep", spec, "--workers", "100000", "--out", tmp_path / "out")
    assert result.exit_code == 2 and "--workers 100000: at most" in result.output
    assert not (tmp_path / "out").exists()


def test_seed_option_replaces_the_spec_seed(tmp_path, cli, monkeypatch):
    monkeypatch.setattr("sim.runner.run_many", fake_run)
    spec = write(tmp_path, MINIMAL)
    assert cli("sweep", spec, "--seed", "9", "--workers", "1", "--out", tmp_path / "a").exit_code == 0
    nine = load_spec(spec)
    nine.sweep.seed = 9
    run_sweep(nine, tmp_path / "b", workers=1, run_function=fake_run)
    pd.testing.assert_frame_equal(sorted_rows(tmp_path / "a"), sorted_rows(tmp_path / "b"))
    result = cli("sweep", spec, "--workers", "1", "--out", tmp_path / "a", "--resume")
    assert result.exit_code == 2 and "changed: sweep.seed: 9 -> 1" in result.output


# --- network files beside the spec ------------------------------------------------------------------

NETWORK_SPEC = """
[sweep]
scenario = "pushy_vs_active"
steps = 10
replications = 2
seed = 5
metrics = ["conversion_rate", "negative_wom"]
set = {{ "buyers.n" = 40, "network.kind" = "edgelist" }}

[design]
kind = "grid"

[design.parameters]
"network.path" = [{paths}]
"""


def ring(path: Path, n: int = 40, step: int = 1, width: int = 1) -> Path:
    """An edge list: each of ``n`` buyers tied to the ``width`` next ones, ``step`` apart."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{i} {(i + step * k) % n}\n" for i in range(n)
                            for k in range(1, width + 1)))
    return path


def test_network_files_resolve_against_the_spec_folder_from_any_directory(tmp_path, monkeypatch):
    study = tmp_path / "study"
    ring(study / "nets" / "ring.edges")
    ring(study / "nets" / "skip.edges", step=3, width=5)
    spec_path = write(study, NETWORK_SPEC.format(paths='"nets/ring.edges", "nets/skip.edges"'))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    outcome = run_sweep(load_spec(spec_path), tmp_path / "out", workers=2)
    assert outcome.complete and outcome.runs_failed == 0
    rows = sorted_rows(tmp_path / "out")
    assert list(rows["network.path"].unique()) == ["nets/ring.edges", "nets/skip.edges"]  # as written
    assert rows.groupby("network.path")["negative_wom"].sum().nunique() == 2  # two networks
    record = strict_json(tmp_path / "out" / "manifest.json")["provenance"]
    hashed = {Path(r["path"]).name: r["sha256"] for r in record["inputs"]}
    assert {"spec.toml", "ring.edges", "skip.edges", "_defaults.toml", "_strategies.toml",
            "pushy_vs_active.toml"} <= set(hashed)
    assert all(hashed.values())


@pytest.mark.parametrize(("paths", "make", "expected"), [
    ('"nets/ring.edges", "nets/none.edges"', None,
     ['design.parameters."network.path" = \'nets/none.edges\'', "does not exist",
      "relative to the scenario or spec file"]),
    ('"nets/ring.edges", "nets/empty.edges"', lambda d: (d / "empty.edges").write_text(""),
     ["'nets/empty.edges'", "is empty"]),
    ('"nets/ring.edges", "nets"', None, ["'nets'", "is not a regular file"]),
    ('"nets/ring.edges", "nets/small.edges"', lambda d: ring(d / "small.edges", n=30),
     ["'nets/small.edges'", "buyers.n = 40, but", "has 30 nodes"]),
    ('"nets/ring.edges", "nets/weighted.edges"',
     lambda d: (d / "weighted.edges").write_text("0 1 {'w': }\n"),
     ["'nets/weighted.edges'", "line 1", "has 4 fields"]),
])
def test_bad_network_files_are_refused_before_the_sweep_starts(tmp_path, paths, make, expected):
    ring(tmp_path / "nets" / "ring.edges")
    if make:
        make(tmp_path / "nets")
    spec_path = write(tmp_path, NETWORK_SPEC.format(paths=paths))
    with pytest.raises(SweepSpecError) as info:
        load_spec(spec_path)
    message = str(info.value)
    assert message.startswith(str(spec_path))
    for part in expected:
        assert part in message, f"{part!r} not in: {message}"


@pytest.mark.parametrize(("set_", "design", "expected"), [
    # a bad set key beside a set value that needs the design (edgelist needs network.path)
    ('"network.kind" = "edgelist", "buyers.nn" = 3', '"network.path" = ["nets/ring.edges"]',
     ['sweep.set."buyers.nn" = 3', "unknown field"]),
    # a bad design parameter beside it
    ('"network.kind" = "edgelist"', '"network.path" = ["nets/ring.edges"]\n"buyers.nn" = [1]',
     ['design.parameters."buyers.nn" = 1', "unknown field"]),
    # a bad set value on its own
    ('"buyers.n" = 0', '"buyers.need.mean" = [0.2]', ['sweep.set."buyers.n" = 0']),
    # two bad set values beside one that needs the design: one of the bad ones is named
    ('"network.kind" = "edgelist", "rules.debt_weight" = -1.0, "steps" = 0',
     '"network.path" = ["nets/ring.edges"]', ['sweep.set."rules.debt_weight" = -1.0']),
])
def test_the_value_at_fault_is_named_when_set_and_design_depend_on_each_other(
        tmp_path, set_, design, expected):
    ring(tmp_path / "nets" / "ring.edges")
    text = (f'[sweep]\nscenario = "pushy_vs_active"\nmetrics = ["revenue"]\nset = {{ {set_} }}\n'
            f'[design]\nkind = "grid"\n[design.parameters]\n{design}\n')
    with pytest.raises(SweepSpecError) as info:
        load_spec(write(tmp_path, text))
    for part in expected:
        assert part in str(info.value), f"{part!r} not in: {info.value}"


# --- resuming: same spec, same model ------------------------------------------------------------------


def test_resume_refuses_a_changed_scenario_file_and_names_the_keys(tmp_path):
    scenario = tmp_path / "mine.toml"
    shutil.copy(ROOT / "scenarios" / "pushy_vs_active.toml", scenario)
    spec_path = write(tmp_path, MINIMAL.replace('"pushy_vs_active"', '"mine.toml"'))
    spec = load_spec(spec_path)
    out = tmp_path / "out"
    run_sweep(spec, out, workers=1, run_function=fake_run)
    scenario.write_text(scenario.read_text().replace("steps = 180", "steps = 150")
                        .replace('name = "Pushy Pat"', 'name = "Pushy Pat"\nlikeability = 0.3'))
    with pytest.raises(SweepSpecError) as info:
        run_sweep(load_spec(spec_path), out, workers=1, resume=True, run_function=fake_run)
    message = str(info.value)
    assert "resuming would mix results of two models" in message
    assert "steps: 180 -> 150" in message and "sellers.0.likeability: 0.0 -> 0.3" in message
    # a change under a design parameter changes no run: resuming is fine
    scenario.write_text(scenario.read_text().replace("steps = 150", "steps = 180")
                        .replace("likeability = 0.3", "").replace("n = 1000", "n = 700"))
    again = run_sweep(load_spec(spec_path), out, workers=1, resume=True, run_function=fake_run)
    assert again.complete and again.runs_this_session == 0


@pytest.fixture
def own_scenarios(tmp_path, monkeypatch):
    """A copy of the shipped scenario folder that tests may edit (every module that looks the
    folder up is pointed at it)."""
    copy = tmp_path / "scenarios"
    shutil.copytree(ROOT / "scenarios", copy)
    original = sim.paths.scenarios_dir
    for name, module in list(sys.modules.items()):
        if name.startswith("sim") and getattr(module, "scenarios_dir", None) is original:
            monkeypatch.setattr(module, "scenarios_dir", lambda: copy)
    return copy


def test_resume_refuses_runs_under_changed_defaults(tmp_path, own_scenarios):
    spec_path = write(tmp_path, MINIMAL)
    out = tmp_path / "out"
    first = run_sweep(load_spec(spec_path), out, workers=1, run_function=fake_run)
    assert first.complete
    defaults = own_scenarios / "_defaults.toml"
    text = defaults.read_text()
    was = re.search(r"^debt_weight = (\S+)", text, re.MULTILINE).group(1)
    defaults.write_text(text.replace(f"debt_weight = {was}", "debt_weight = 2.5"))
    with pytest.raises(SweepSpecError) as info:
        run_sweep(load_spec(spec_path), out, workers=1, resume=True, run_function=fake_run)
    assert f"rules.debt_weight: {float(was):g} -> 2.5" in str(info.value)
    assert "_defaults.toml" in str(info.value)
    recorded = {r["role"]: r["sha256"] for r in
                strict_json(out / "manifest.json")["provenance"]["inputs"]}
    assert recorded["defaults"] != file_sha256(defaults)


def test_resume_refuses_a_changed_network_file(tmp_path):
    ring(tmp_path / "nets" / "ring.edges")
    ring(tmp_path / "nets" / "skip.edges", step=3)
    spec_path = write(tmp_path, NETWORK_SPEC.format(paths='"nets/ring.edges", "nets/skip.edges"'))
    run_sweep(load_spec(spec_path), tmp_path / "out", workers=1, run_function=fake_run)
    ring(tmp_path / "nets" / "skip.edges", step=5)
    with pytest.raises(SweepSpecError, match=r"network file 'nets/skip\.edges': content changed"):
        run_sweep(load_spec(spec_path), tmp_path / "out", workers=1, resume=True,
                  run_function=fake_run)


def test_an_old_manifest_without_the_model_is_not_resumed(tmp_path):
    spec = load_spec(write(tmp_path, MINIMAL))
    run_sweep(spec, tmp_path / "out", workers=1, run_function=fake_run)
    manifest = strict_json(tmp_path / "out" / "manifest.json")
    del manifest["model"]
    (tmp_path / "out" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SweepSpecError, match="older recip that did not record the resolved model"):
        run_sweep(spec, tmp_path / "out", workers=1, resume=True, run_function=fake_run)


# --- failed runs: exit code, retry ---------------------------------------------------------------------


def flaky_run(scenario, *, marker: str, **kwargs):
    """fake_run, but runs with buyers.n = 200 raise while ``marker`` exists (the cause)."""
    return fake_run(scenario, fail_point_n=200 if os.path.exists(marker) else None, **kwargs)


def test_failed_runs_exit_4_after_writing_the_rest(tmp_path, cli, monkeypatch):
    def broken(scenario, *, runs, **kwargs):
        return fake_run(scenario, runs=runs, fail_point_n=200, **kwargs)

    monkeypatch.setattr("sim.runner.run_many", broken)
    spec = write(tmp_path, MINIMAL)
    result = cli("sweep", spec, "--workers", "1", "--out", tmp_path / "out")
    assert result.exit_code == 4, result.output
    assert "2 runs raised" in result.output and "--retry-failed" in result.output
    assert "Traceback" not in result.output
    rows = sorted_rows(tmp_path / "out")
    assert rows[rows["error"].isna()]["run_id"].tolist() == [0, 1]
    assert strict_json(tmp_path / "out" / "manifest.json")["status"] == "complete"


def test_retry_failed_runs_them_again_once_the_cause_is_fixed(tmp_path):
    marker = tmp_path / "cause"
    marker.touch()
    run = functools.partial(flaky_run, marker=str(marker))
    spec = load_spec(write(tmp_path, MINIMAL))
    out = tmp_path / "out"
    first = run_sweep(spec, out, workers=1, run_function=run)
    assert first.runs_failed == 2 and any("--retry-failed" in w for w in first.warnings)
    resumed = run_sweep(spec, out, workers=1, resume=True, run_function=run)
    assert resumed.runs_this_session == 0 and resumed.runs_failed == 2  # kept unless asked
    still = run_sweep(spec, out, workers=1, retry_failed=True, run_function=run)
    assert still.runs_retried == 2 and still.runs_failed == 2  # the cause is still there
    marker.unlink()
    fixed = run_sweep(spec, out, workers=1, retry_failed=True, run_function=run)
    assert fixed.complete and fixed.runs_retried == 2 and fixed.runs_failed == 0
    assert fixed.runs_this_session == 2 and not (out / "errors.csv").exists()
    run_sweep(spec, tmp_path / "clean", workers=1, run_function=run)
    pd.testing.assert_frame_equal(sorted_rows(out), sorted_rows(tmp_path / "clean"))
    sessions = strict_json(out / "manifest.json")["sessions"]
    assert [s["retried"] for s in sessions] == [0, 0, 2, 2]


# --- a full disk -------------------------------------------------------------------------------------


def test_a_full_disk_is_one_line_and_a_resume_recovers_every_row(tmp_path, cli, monkeypatch):
    monkeypatch.setattr("sim.runner.run_many", fake_run)
    spec = write(tmp_path, SMALL_GRID.format(extra="batch = 1"))
    real_write = SweepStore.write_chunk
    calls = {"n": 0}

    def full_after_three(self, table):
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.chunks / "x.tmp"))
        return real_write(self, table)

    monkeypatch.setattr(SweepStore, "write_chunk", full_after_three)
    result = cli("sweep", spec, "--workers", "1", "--out", tmp_path / "out")
    assert result.exit_code == 3, result.output
    assert "No space left on device" in result.output and "--resume" in result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    manifest = strict_json(tmp_path / "out" / "manifest.json")
    assert manifest["status"] == "failed" and "No space left" in manifest["sessions"][0]["error"]
    assert read_results(tmp_path / "out")["run_id"].nunique() == 3
    monkeypatch.setattr(SweepStore, "write_chunk", real_write)
    result = cli("sweep", spec, "--workers", "1", "--out", tmp_path / "out", "--resume")
    assert result.exit_code == 0, result.output
    run_sweep(load_spec(spec), tmp_path / "ref", workers=1, run_function=fake_run)
    pd.testing.assert_frame_equal(sorted_rows(tmp_path / "out"), sorted_rows(tmp_path / "ref"))


def test_a_full_disk_for_the_manifest_too_still_gives_one_clear_error(tmp_path, monkeypatch):
    import sim.sweep.store as store_module

    spec = load_spec(write(tmp_path, SMALL_GRID.format(extra="batch = 1")))
    real = store_module.write_atomic
    calls = {"n": 0}

    def full(path, write):
        calls["n"] += 1
        if calls["n"] > 4:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, write)

    monkeypatch.setattr(store_module, "write_atomic", full)
    with pytest.raises(SweepWriteError, match="No space left on device"):
        run_sweep(spec, tmp_path / "out", workers=1, run_function=fake_run)
    monkeypatch.setattr(store_module, "write_atomic", real)
    done = run_sweep(spec, tmp_path / "out", workers=1, resume=True, run_function=fake_run)
    assert done.complete and list(sorted_rows(tmp_path / "out")["run_id"]) == list(range(8))


def test_out_that_is_a_file_or_unwritable_is_refused_first(tmp_path):
    spec = load_spec(write(tmp_path, MINIMAL))
    (tmp_path / "file").write_text("x")
    with pytest.raises(SweepSpecError, match="is a file, not a folder"):
        run_sweep(spec, tmp_path / "file", workers=1, run_function=fake_run)
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(SweepSpecError, match="cannot write there"):
            run_sweep(spec, locked / "out", workers=1, run_function=fake_run)


# --- processes: a second sweep, a killed driver ------------------------------------------------------


def slow_spec(tmp_path: Path) -> Path:
    """A real sweep whose batches take a while (so it can be caught running)."""
    return write(tmp_path, SMALL_GRID.format(extra="batch = 1")
                 .replace("replications = 2", "replications = 40")
                 .replace("steps = 20", "steps = 200")
                 .replace('"buyers.n" = 60', '"buyers.n" = 400'))


def start_sweep(spec: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sim.cli", "sweep", str(spec), "--out",
                             str(out), *extra], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for_chunks(process: subprocess.Popen, out: Path, count: int) -> None:
    deadline = time.monotonic() + 120
    while len(list((out / "chunks").glob("chunk-*.parquet"))) < count:
        assert process.poll() is None, "the sweep ended before it could be caught running"
        assert time.monotonic() < deadline, "no chunks landed"
        time.sleep(0.05)


def test_a_second_sweep_on_the_same_folder_is_refused_and_a_dead_ones_lock_is_not_kept(
        tmp_path, cli):
    spec, out = slow_spec(tmp_path), tmp_path / "out"
    first = start_sweep(spec, out, "--workers", "1")
    try:
        wait_for_chunks(first, out, 1)
        for extra in ((), ("--resume",), ("--retry-failed",)):
            result = cli("sweep", spec, "--out", out, "--workers", "1", *extra)
            assert result.exit_code == 2, result.output
            assert f"a sweep is already writing here (pid {first.pid})" in result.output
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert SweepStore(out)._lock_holder() is None  # the kernel dropped the dead sweep's lock


def test_workers_exit_when_the_driver_is_killed(tmp_path):
    spec, out = slow_spec(tmp_path), tmp_path / "out"
    driver = start_sweep(spec, out, "--workers", "2")
    children: list[psutil.Process] = []
    try:
        wait_for_chunks(driver, out, 1)
        children = psutil.Process(driver.pid).children(recursive=True)
        workers = [c for c in children if c.ppid() != driver.pid]  # the forkserver's children
        assert len(workers) == 2
        driver.send_signal(signal.SIGKILL)  # the driver alone: it cannot stop its pool
        driver.wait()
        _, alive = psutil.wait_procs(children, timeout=30)
        assert not alive, f"still running after the driver died: {alive}"
    finally:
        driver.kill()
        driver.wait()
        for process in children:  # only what this test started, if the assertion failed
            with contextlib.suppress(psutil.Error):
                process.kill()


# --- JSON, and commands that never vanish --------------------------------------------------------------


def test_manifest_is_strict_json(tmp_path):
    spec = parse_spec({"sweep": {"scenario": "pushy_vs_active", "metrics": ["revenue"],
                                 "steps": 5, "set": {"buyers.n": 50}},
                       "design": {"kind": "grid", "parameters": {"buyers.need.mean": [0.5]}}},
                      origin=str(tmp_path / "s.toml"))
    run_sweep(spec, tmp_path / "out", workers=1, run_function=fake_run)
    manifest = strict_json(tmp_path / "out" / "manifest.json")
    assert manifest["format"] == 2 and manifest["seeds"]["base"] == 0
    assert "SeedSequence" in manifest["seeds"]["rule"]


def test_sweep_analyze_and_validate_are_always_commands(monkeypatch):
    from sim import cli as main_cli

    names = {c.name or c.callback.__name__ for c in main_cli.app.registered_commands}
    assert {"validate", "sweep", "analyze"} <= names
    help_text = CliRunner().invoke(main_cli.app, ["--help"]).output
    for command in ("validate", "sweep", "analyze"):
        assert command in help_text
    monkeypatch.setitem(sys.modules, "sim.sweep.cli", None)  # a broken install
    with pytest.raises(ImportError):
        main_cli._register_optional_commands()


def test_outputs_are_readable_as_the_umask_allows(tmp_path):
    spec = load_spec(write(tmp_path, MINIMAL))
    old = os.umask(0o022)
    try:
        run_sweep(spec, tmp_path / "out", workers=1, run_function=fake_run)
    finally:
        os.umask(old)
    for path in [tmp_path / "out" / "manifest.json", *(tmp_path / "out" / "chunks").iterdir()]:
        assert path.stat().st_mode & 0o777 == 0o644, path
