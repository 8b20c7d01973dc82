"""Bad input never crashes and nothing half-written is left: scenario values (finite, within
range), sizes against the machine (sim.limits), the command line's errors and exit codes, and
staged outputs (sim.outputs)."""

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import experiment_scripts
import pytest
from typer.testing import CliRunner

from sim import ScenarioError, limits, load_scenario
from sim.cli import app
from sim.outputs import OutputError, check_destination, staged_output, write_json

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
SMALL = ["--steps", "2", "--set", "buyers.n=40"]


def _fuzz():
    return experiment_scripts.load("fuzz_inputs")


def _refused(overrides, scenario="pushy_vs_active") -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario, overrides=overrides)
    return " ".join(str(info.value).split())


def _flat(output: str) -> str:
    return " ".join(output.split())


# --- scenario values ------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "value", "must_say"), [
    ("buyers.compliance_sd", math.inf, ["buyers.compliance_sd = inf", "finite", "from 0 to 100"]),
    ("buyers.need.mean", math.nan, ["buyers.need.mean = nan", "finite", "from 0 to 1"]),
    ("network.mean_degree", 1e308, ["network.mean_degree = 1e+308", "from 0 to 10,000"]),
    ("network.blocks", 1e30, ["network.blocks = 1e+30", "whole number from 1 to 1,000"]),
    ("rules.debt_weight", 1e308, ["rules.debt_weight = 1e+308", "from 0 to 100"]),
    ("strategies.pushy.ask.size", 1e12, ["strategies.pushy.ask.size", "up to 1,000,000,000"]),
    ("strategies.active.gift.first_day", 10**9, ["first_day", "from 0 to 100,000"]),
    ("rules.obligation_half_life", -math.inf, ["obligation_half_life = -inf", "finite"]),
    ("buyers.budget.mean", math.nan, ["buyers.budget.mean = nan", "finite"]),
    ("sellers.0.likeability", math.inf, ["sellers.0.likeability = inf", "from -1 to 1"]),
    ("buyers.n", True, ["buyers.n = true", "must be a number, not true or false"]),
])
def test_bad_values_are_refused_naming_field_value_and_range(key, value, must_say):
    message = _refused({key: value})
    assert "pushy_vs_active.toml" in message
    for fragment in must_say:
        assert fragment in message, (fragment, message)


def test_every_number_of_the_schema_refuses_nan_and_inf():
    fuzz = _fuzz()
    numbers = [leaf for leaf in fuzz.schema_leaves() if leaf.kind in ("int", "float")]
    assert len(numbers) > 100  # the walk reaches rules, strategies, sellers, traits
    for leaf in numbers:
        key = leaf.path.replace("{strategy}", "active").replace("{seller}", "0")
        for value in (math.nan, math.inf, -math.inf):
            message = _refused({key: value})
            assert key in message and "finite" in message, message


def test_every_number_of_the_schema_has_an_upper_bound():
    """A bound on every number, so no value makes the arithmetic overflow or a size explode."""
    unbounded = [leaf.path for leaf in _fuzz().schema_leaves()
                 if leaf.kind in ("int", "float") and (leaf.low is None or leaf.high is None)]
    assert unbounded == []


def test_shipped_scenarios_and_arms_are_within_the_bounds():
    from sim import list_scenarios

    for name in list_scenarios():
        for arm in [None, *load_scenario(name).arms]:
            load_scenario(name, arm=arm)


@pytest.mark.parametrize(("overrides", "must_say"), [
    ({"buyers": 3}, ["buyers = 3", "must be a table"]),
    ({"strategies.pushy": 1}, ["strategies.pushy = 1", "must be a table"]),
    ({"strategies": [1]}, ["strategies = [1]", "must be a table"]),
    ({"sellers": 3}, ["sellers = 3", "must be a list"]),
    ({"sellers.0": "x"}, ["sellers.0 = 'x'", "must be a table"]),
    ({"arms": 1.5}, ["arms = 1.5", "must be a table"]),
    ({"buyers..n": 1}, ["'buyers..n'", "empty part"]),
    ({"network.path": "a\x00b", "network.kind": "edgelist"}, ["network.path", "control"]),
])
def test_a_set_value_of_the_wrong_shape_is_a_scenario_error_naming_the_key(overrides, must_say):
    message = _refused(overrides)
    for fragment in must_say:
        assert fragment in message, (fragment, message)


def test_an_unforeseen_loader_failure_still_names_what_was_set():
    message = _refused({3: "x"})  # a key that is not text (Python API)
    assert "--set 3" in message and "not a usable value" in message


def _scenario(tmp_path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


SELLER = '[[sellers]]\nstrategy = "active"\n'


@pytest.mark.parametrize(("text", "must_say"), [
    ('arm = "no_such_arm"\n' + SELLER, ["arm = 'no_such_arm'", "not allowed in a scenario file"]),
    ('source = "x.toml"\n' + SELLER, ["source = 'x.toml'", "not allowed"]),
    (SELLER + '[arms.big]\n"buyers.n" = nan\n', ["[arms.big]", "buyers.n = nan"]),
    (SELLER + '[arms.big]\n"buyers.nn" = 5\n', ["[arms.big]", "buyers.nn", "unknown field"]),
    (SELLER + '[arms]\nbig = 3\n', ["arms.big = 3", "must be a table"]),
    (SELLER + '[arms.big]\n"sellers.4.strategy" = "pushy"\n', ["[arms.big]", "sellers.4"]),
    ("calibration = 3\n" + SELLER, ["calibration = 3", "must be a table"]),
    (SELLER + '[calibration]\nmetric = "conversion_rate"\n[[calibration.targets]]\n'
     'study = "s"\ncondition = "c"\narm = "nope"\n',
     ["calibration.targets.0.arm = 'nope'", "not an arm"]),
    (SELLER + '[arms.a]\n[calibration]\nmetric = "conversion_rate"\n[[calibration.targets]]\n'
     'study = "s"\ncondition = "c"\narm = "a"\nkind = "lift"\n',
     ["calibration.targets.0.kind = 'lift'", "'relative_lift'"]),
    (SELLER + '[arms.a]\n[calibration]\nmetric = "conversion_rate"\n[[calibration.targets]]\n'
     'study = "s"\ncondition = "c"\narm = "a"\nkind = "ratio"\n', ["baseline"]),
    (SELLER + '[arms.a]\n[calibration]\nmetric = "conversion_rate"\n[[calibration.targets]]\n'
     'study = "s"\ncondition = "c"\narm = "a"\nlow = nan\n', ["calibration.targets.0", "low = nan",
                                                             "finite"]),
    (SELLER + '[calibration]\nmetric = "nope"\n', ["calibration.metric = 'nope'", "not a metric"]),
    (SELLER + '[[calibration.facts]]\nfact = "f"\nchecks = [{ more = { metric = "revenue", set = '
     '{ "rules.debt_weight" = nan } }, less = { metric = "revenue" } }]\n',
     ["calibration.facts.0.checks.0.more.set", "rules.debt_weight = nan", "finite"]),
    ('[buyers]\nn = 60\n[network]\nkind = "barabasi_albert"\nm = 100\n' + SELLER,
     ["network.m = 100", "below buyers.n = 60"]),
    (SELLER + '[guide]\ntry = ["x"]\n[[guide.checks]]\ntry = 1\nexpect = "revenue@gift > 0"\n',
     ["guide.checks.0.expect", "no arm 'gift' in [arms]"]),
    (SELLER + '[[calibration.facts]]\nfact = "f"\nchecks = [{ more = { metric = "revenue" }, '
     'less = { metric = "revenue", strategy = "nobody" } }]\n',
     ["calibration.facts.0.checks.0.less.strategy = 'nobody'"]),
    (SELLER + "[calibration]\nunknown = 1\n", ["calibration.unknown", "unknown field"]),
    ("[buyers]\nn = 5\n" + SELLER + "deep = " + "{ a = " * 2000 + "1" + " }" * 2000 + "\n",
     ["not valid TOML", "nested too deeply"]),
])
def test_bad_scenario_files_fail_when_loaded(tmp_path, text, must_say):
    path = _scenario(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)  # no arm picked: a broken arm fails all the same
    message = " ".join(str(info.value).split())
    assert "s.toml" in message
    for fragment in must_say:
        assert fragment in message, (fragment, message)


def test_the_shipped_calibration_tables_pass_their_schema():
    from sim.calibration.targets import CalibrationTable
    from sim.config import list_scenarios
    from sim.files import read_toml
    from sim.paths import scenarios_dir

    checked = 0
    for name in list_scenarios():
        raw = read_toml(scenarios_dir() / f"{name}.toml").get("calibration")
        if raw is not None:
            CalibrationTable.model_validate(raw)
            checked += 1
    assert checked >= 10


def test_a_huge_or_binary_scenario_file_is_refused(tmp_path):
    big = tmp_path / "big.toml"
    big.write_text(SELLER + "#" * (1 << 20) + "\n")
    with pytest.raises(ScenarioError, match=r"big.toml: .* bytes; a scenario file is at most"):
        load_scenario(big)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(SELLER.encode() + b"\n\xff\xfe")
    with pytest.raises(ScenarioError, match=r"bin.toml, line 4: not UTF-8"):
        load_scenario(binary)
    with pytest.raises(ScenarioError, match="not a regular file"):
        load_scenario(Path(tmp_path))  # a folder
    with pytest.raises(ScenarioError, match="not a regular file"):
        load_scenario("/dev/zero")


# --- sizes against the machine ----------------------------------------------------------------------


@pytest.mark.parametrize(("overrides", "must_say"), [
    ({"buyers.n": 20_000_000, "network.kind": "erdos_renyi", "network.p": 0.1},
     ["buyers.n = 20,000,000", "network.p = 0.1", "PiB of memory", "available",
      "network.mean_degree"]),
    ({"buyers.n": 10_000_000, "network.k": 10_000},
     ["buyers.n = 10,000,000", "network.k = 10000", "TiB of memory", "lower network.k"]),
    ({"buyers.n": 15_000_000, "network.kind": "stochastic_block", "network.p_in": 0.2},
     ["network.p_in = 0.2", "lower network.p_in"]),
    ({"buyers.n": 2_000_000, "network.kind": "barabasi_albert"},
     ["barabasi_albert", "buyers.n = 2,000,000", "minutes", "watts_strogatz"]),
    ({"buyers.n": 10_000, "network.kind": "complete"}, ["'complete'", "up to 5,000"]),
    ({"buyers.n": 1_000_000, "network.p": 0.0}, ["network.p = 0", "ring", "Raise network.p"]),
])
def test_sizes_beyond_the_machine_or_minutes_of_work_are_refused_up_front(overrides, must_say):
    message = _refused(overrides)
    for fragment in must_say:
        assert fragment in message, (fragment, message)


def test_the_memory_check_compares_the_estimate_with_the_available_memory(monkeypatch):
    config = load_scenario("pushy_vs_active", overrides={"buyers.n": 100_000})
    needed = limits.estimate(config)
    assert needed.ties == 200_000 and needed.edges == 500_000
    monkeypatch.setattr(limits, "available_memory", lambda: needed.bytes * 0.99)
    message = _refused({"buyers.n": 100_000})
    assert "200,000 seller-buyer ties" in message and "Use fewer buyers" in message
    monkeypatch.setattr(limits, "available_memory", lambda: needed.bytes * 1.01)
    load_scenario("pushy_vs_active", overrides={"buyers.n": 100_000})


def test_expected_edges_follow_each_generator():
    def spec(**fields):
        return load_scenario("pushy_vs_active", overrides={
            f"network.{k}": v for k, v in fields.items()}).network

    assert limits.expected_edges(spec(kind="watts_strogatz", k=10), 1000) == 5000
    assert limits.expected_edges(spec(kind="erdos_renyi", mean_degree=8.0), 1001) == 4004
    assert limits.expected_edges(spec(kind="erdos_renyi", p=0.5), 11) == 27.5
    assert limits.expected_edges(spec(kind="barabasi_albert", m=3), 100) == 291
    assert limits.expected_edges(spec(kind="complete"), 100) == 4950
    blocks = limits.expected_edges(spec(kind="stochastic_block", blocks=2, p_in=1.0, p_out=0.0),
                                   100)
    assert blocks == 2500  # two blocks of 50: 2 x 1225 pairs, about n^2 / 4


def test_a_network_file_counts_its_own_ties(tmp_path):
    edges = tmp_path / "ring.edges"
    edges.write_text("".join(f"{i} {(i + 1) % 30}\n" for i in range(30)))
    config = load_scenario("pushy_vs_active", overrides={"network.kind": "edgelist",
                                                          "network.path": str(edges)})
    assert limits.estimate(config).edges == 30


# --- the command line ---------------------------------------------------------------------------------


def _boom(*args, **kwargs):
    raise RuntimeError("something broke\nacross lines")


def test_an_unexpected_error_is_one_line_and_exit_1(tmp_path, monkeypatch):
    monkeypatch.setattr("sim.runner.run_scenario", _boom)
    monkeypatch.delenv("RECIP_DEBUG", raising=False)
    result = runner.invoke(app, ["run", "pushy_vs_active", *SMALL, "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "recip run failed unexpectedly: RuntimeError: something broke across lines" in lines[0]
    assert "RECIP_DEBUG=1" in lines[0] and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("how", ["before", "after", "env"])
def test_debug_shows_the_traceback(tmp_path, monkeypatch, how):
    monkeypatch.setattr("sim.runner.run_scenario", _boom)
    monkeypatch.delenv("RECIP_DEBUG", raising=False)
    args = ["run", "pushy_vs_active", *SMALL, "--out", str(tmp_path / "o")]
    args = {"before": ["--debug", *args], "after": [*args, "--debug"], "env": args}[how]
    result = runner.invoke(app, args, env={"RECIP_DEBUG": "1"} if how == "env" else None)
    assert isinstance(result.exception, RuntimeError)  # raised for typer to print in full
    assert "RECIP_DEBUG" not in os.environ or how == "env"  # --debug does not leak


def test_ctrl_c_is_exit_130_and_writes_nothing(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("sim.runner.run_scenario", interrupted)
    result = runner.invoke(app, ["run", "pushy_vs_active", *SMALL, "--out", str(tmp_path / "o")])
    assert result.exit_code == 130 and "interrupted" in result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("args", "must_say"), [
    (["--seed", "-1"], ["--seed", "greater than or equal to 0"]),
    (["--seed", str(2**63)], ["--seed"]),
    (["--steps", "100001"], ["--steps", "less than or equal to 100000"]),
    (["--steps", "0"], ["--steps"]),
])
def test_out_of_range_options_exit_2_before_any_work(tmp_path, monkeypatch, args, must_say):
    monkeypatch.setattr("sim.runner.run_scenario", _boom)  # never reached
    result = runner.invoke(app, ["run", "pushy_vs_active", *args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for fragment in must_say:
        assert fragment in _flat(result.output)


def test_out_naming_a_file_fails_before_the_simulation(tmp_path, monkeypatch):
    monkeypatch.setattr("sim.runner.run_scenario", _boom)  # never reached
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    for out in (afile, afile / "below"):
        result = runner.invoke(app, ["run", "pushy_vs_active", *SMALL, "--out", str(out)])
        assert result.exit_code == 2, result.output
        assert "is a file, not a folder" in _flat(result.output)
    assert afile.read_text() == "keep me"


@pytest.mark.parametrize(("item", "must_say"), [
    ("buyers=3", "buyers = 3"), ("strategies.pushy=1", "strategies.pushy = 1"),
    ("sellers=3", "sellers = 3"), ("network.blocks=1e30", "network.blocks = 1e+30"),
    ("buyers.compliance_sd=inf", "buyers.compliance_sd = inf"),
])
def test_set_values_that_break_the_loader_exit_2_naming_the_key(tmp_path, item, must_say):
    result = runner.invoke(app, ["run", "pushy_vs_active", "--steps", "2", "--set", item,
                                 "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert must_say in _flat(result.output) and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_validate_checks_its_options_and_out_before_running(tmp_path, monkeypatch):
    monkeypatch.setattr("sim.validate.run_validation", _boom)  # never reached
    afile = tmp_path / "afile"
    afile.write_text("")
    for args in (["--seed", "-1"], ["--reps", "10001"], ["--workers", "100000"],
                 ["--out", str(afile)]):
        result = runner.invoke(app, ["validate", *args])
        assert result.exit_code == 2, (args, result.output)


# --- staged outputs ---------------------------------------------------------------------------------


def test_a_run_writes_strict_json_and_replaces_only_its_own_files(tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["run", "pushy_vs_active", *SMALL, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"keep.txt", "timeseries.parquet", "summary.json",
                                                "metrics.png", "metrics.svg"}
    text = (out / "summary.json").read_text()
    summary = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert summary["final_all"]["mean_time_to_conversion"] is None or math.isfinite(
        summary["final_all"]["mean_time_to_conversion"])
    assert not list(tmp_path.glob(".results.tmp-*"))


def test_a_failed_write_leaves_the_previous_good_run(tmp_path, monkeypatch):
    out = tmp_path / "o"
    assert runner.invoke(app, ["run", "pushy_vs_active", *SMALL, "--out", str(out)]).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("sim.plots.plot_metrics", full_disk)
    result = runner.invoke(app, ["run", "pushy_vs_active", "--seed", "9", *SMALL,
                                 "--out", str(out)])
    assert result.exit_code == 1
    assert "No space left on device; nothing was changed there" in _flat(result.output)
    assert "unexpectedly" not in result.output and "Traceback" not in result.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not list(tmp_path.glob(".o.tmp-*"))


def test_staged_output_moves_a_new_folder_into_place_at_the_end(tmp_path):
    out = tmp_path / "a" / "b" / "out"
    with staged_output(out) as folder:
        (folder / "x.txt").write_text("1")
        assert not out.exists() and folder.parent == out.parent
    assert (out / "x.txt").read_text() == "1"
    assert [p.name for p in out.parent.iterdir()] == ["out"]


def test_staged_output_on_failure_leaves_nothing_not_even_the_folders_it_made(tmp_path):
    out = tmp_path / "a" / "b" / "out"
    with pytest.raises(ValueError), staged_output(out) as folder:
        (folder / "x.txt").write_text("1")
        raise ValueError("the run failed")
    assert list(tmp_path.iterdir()) == []


def test_staged_output_replaces_files_and_keeps_the_rest(tmp_path):
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "old.txt").write_text("old")
    (out / "same.txt").write_text("old")
    (out / "sub" / "f").write_text("old")
    with staged_output(out) as folder:
        (folder / "same.txt").write_text("new")
        (folder / "sub").mkdir()
        (folder / "sub" / "g").write_text("new")
    assert (out / "old.txt").read_text() == "old" and (out / "same.txt").read_text() == "new"
    assert [p.name for p in (out / "sub").iterdir()] == ["g"]  # a folder is replaced whole


def test_stale_staging_folders_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f".out.tmp-{dead}-abcdef"
    stale.mkdir()
    mine = tmp_path / f".out.tmp-{os.getpid()}-abcdef"  # alive: left alone
    mine.mkdir()
    with staged_output(tmp_path / "out") as folder:
        (folder / "x").write_text("")
    assert not stale.exists() and mine.exists()


def test_sigterm_while_writing_removes_the_staging_folder(tmp_path):
    out = tmp_path / "out"
    ready = tmp_path / "ready"
    code = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from sim.outputs import staged_output
        with staged_output(Path({str(out)!r})) as folder:
            (folder / "half.txt").write_text("half")
            Path({str(ready)!r}).write_text("")
            while True:
                time.sleep(0.05)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stderr=subprocess.PIPE)
    try:
        while not ready.exists() and child.poll() is None:
            pass
        child.terminate()
        child.wait(timeout=60)
    finally:
        child.kill()
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["ready"]


def test_check_destination_refuses_files_and_paths_under_files(tmp_path):
    afile = tmp_path / "f"
    afile.write_text("")
    for out in (afile, afile / "x" / "y"):
        with pytest.raises(OutputError, match="is a file, not a folder"):
            check_destination(out)
    with pytest.raises(OutputError, match="not a usable folder"):
        check_destination(tmp_path / "a\x00b")
    assert check_destination(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # nothing created


def test_write_json_is_strict(tmp_path):
    import numpy as np

    path = write_json(tmp_path / "x.json", {"a": math.nan, "b": [math.inf, np.float64(1.5)],
                                             "c": np.int64(3)})
    text = path.read_text()
    assert json.loads(text) == {"a": None, "b": [None, 1.5], "c": 3}
    assert "NaN" not in text and "Infinity" not in text and text.endswith("\n")


def test_a_graph_handed_over_is_not_checked_as_the_scenarios_generator():
    import networkx as nx

    from sim import ReciprocityModel

    # a complete network of 6,000 buyers would be refused; a path graph of 6,000 handed over
    # replaces it, so only its buyers and ties count
    model = ReciprocityModel("pushy_vs_active", graph=nx.path_graph(6000), rng=1,
                             overrides={"network.kind": "complete"}, build_agents=False)
    assert model.config.buyers.n == 6000


@pytest.mark.parametrize("args", [["run", "x" * 5000], ["scenarios", "--detail", "x" * 5000],
                                  ["run", "pushy_vs_active", "--steps", "2", "--out", "x" * 5000]])
def test_names_too_long_for_the_file_system_are_user_errors(args):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "characters" in result.output or "not a usable folder" in _flat(result.output)
