"""Bad scenario files and bad --set values fail with clear errors."""

import pytest
from typer.testing import CliRunner

from sim import ScenarioError, load_scenario
from sim.cli import app

runner = CliRunner()


def _write(tmp_path, text, name="bad.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = """
[[sellers]]
strategy = "active"
"""


def test_a_minimal_file_loads_with_defaults(tmp_path):
    sc = load_scenario(_write(tmp_path, GOOD))
    assert sc.buyers.n == 1000 and sc.sellers[0].strategy == "active"
    assert sc.strategies["active"].gift.value > 0


def test_a_file_read_again_only_when_changed_and_every_load_its_own(tmp_path):
    """Loads of one file share one reading of it (a sweep loads it for every point) until it
    changes; what one caller changes in its scenario is not seen by the next."""
    path = _write(tmp_path, "[buyers]\nn = 200\n" + GOOD, name="mine.toml")
    assert load_scenario(path, overrides={"buyers.n": 500, "rules.debt_weight": 0.5}).buyers.n == 500
    again = load_scenario(path)
    assert again.buyers.n == 200 and again.rules.debt_weight != 0.5
    path.write_text("[buyers]\nn = 3000\n" + GOOD)  # another size, so another version
    assert load_scenario(path).buyers.n == 3000
    path.write_text("[buyers]\nn = -1\n" + GOOD)
    with pytest.raises(ScenarioError, match=r"mine\.toml"):
        load_scenario(path)


@pytest.mark.parametrize(("text", "must_say"), [
    ('[buyers]\nn = -5\n' + GOOD, ["bad.toml", "buyers.n", "-5", "greater than or equal to 1"]),
    ('[buyers]\nn = "many"\n' + GOOD, ["buyers.n", "'many'", "integer"]),
    ('[buyers]\nnn = 5\n' + GOOD, ["buyers.nn", "unknown field", "did you mean 'n'", "allowed:"]),
    ('[network]\nkind = "ring"\n' + GOOD, ["network.kind", "'ring'", "watts_strogatz"]),
    ('[[sellers]]\nstrategy = "sneaky"\n', ["sellers.0.strategy", "'sneaky'", "allowed:", "pushy"]),
    ('[strategies.x]\nbase = "nope"\n' + GOOD, ["strategies.x.base", "'nope'", "allowed:"]),
    ('[strategies.active.gift]\npersonalised = 2\n' + GOOD,
     ["strategies.active.gift.personalised", "2", "less than or equal to 1"]),
    ("[buyers\nn = 5", ["bad.toml", "not valid TOML"]),
    ('step = "1 week"\n[strategies.active.ask]\nevery = 2\n' + GOOD,
     ["strategies.active.ask.every = 2 days", "half a step (7 days)", "never repeat",
      "at least 3.5 days"]),
])
def test_bad_files_name_file_field_value_and_allowed(tmp_path, text, must_say):
    with pytest.raises(ScenarioError) as info:
        load_scenario(_write(tmp_path, text))
    for fragment in must_say:
        assert fragment in str(info.value), (fragment, str(info.value))


def test_strategy_defined_without_code(tmp_path):
    text = """
[strategies.gentle]
base = "active"
ask = { size = 20.0 }

[[sellers]]
strategy = "gentle"
"""
    sc = load_scenario(_write(tmp_path, text))
    gentle = sc.strategies["gentle"]
    assert gentle.ask.size == 20.0
    assert gentle.gift.value == sc.strategies["active"].gift.value


def test_unknown_scenario_and_arm():
    with pytest.raises(ScenarioError, match="did you mean 'pushy_vs_active'"):
        load_scenario("pushy_vs_activ")
    with pytest.raises(ScenarioError, match="arm = 'x' is not an arm"):
        load_scenario("pushy_vs_active", arm="x")


def test_overrides_apply_and_validate():
    sc = load_scenario("pushy_vs_active", overrides={"buyers.n": 10, "sellers.1.strategy": "bait"})
    assert sc.buyers.n == 10 and sc.sellers[1].strategy == "bait"
    with pytest.raises(ScenarioError, match=r"sellers\.7.*allowed: 0\.\.1"):
        load_scenario("pushy_vs_active", overrides={"sellers.7.strategy": "bait"})


@pytest.mark.parametrize(("args", "must_say"), [
    (["--set", "buyers.n=-3"], ["buyers.n = -3", "greater than or equal to 1"]),
    (["--set", "buyers.n=lots"], ["buyers.n = 'lots'", "integer"]),
    (["--set", "buyers.n"], ["expected key=value"]),
    (["--set", "rules.debt_weigth=1"], ["unknown field", "did you mean 'debt_weight'"]),
])
def test_bad_set_values_exit_2_with_clear_error(tmp_path, args, must_say):
    result = runner.invoke(app, ["run", "pushy_vs_active", "--out", str(tmp_path), *args])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    for fragment in must_say:
        assert fragment in text, (fragment, text)
    assert not (tmp_path / "summary.json").exists()


def test_redefining_a_preset_with_base_is_an_error(tmp_path):
    text = '[strategies.bait]\nbase = "active"\n' + GOOD
    with pytest.raises(ScenarioError, match="'bait' is a preset"):
        load_scenario(_write(tmp_path, text))


def test_partial_trait_override_keeps_the_default_spread():
    default = load_scenario("pushy_vs_active").buyers.detection_skill
    changed = load_scenario("pushy_vs_active",
                            overrides={"buyers.detection_skill.mean": 0.7}).buyers.detection_skill
    assert changed.mean == 0.7 and changed.sd == default.sd > 0


def test_overrides_on_a_loaded_scenario():
    sc = load_scenario("pushy_vs_active")
    assert load_scenario(sc, overrides={"buyers.n": 42}).buyers.n == 42


def test_error_text_in_brackets_is_printed(tmp_path):
    result = runner.invoke(app, ["run", "pushy_vs_active", "--out", str(tmp_path), "--set",
                                 "strategies.pushy.ask.size=-1"])
    assert result.exit_code == 2
    assert "strategies.pushy.ask.size" in " ".join(result.output.split())
