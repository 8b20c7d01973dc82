"""Every trainer guide's "things to try" claim holds, checked with replications (each claim's
check sits beside it in the scenario file: ``[[guide.checks]]``, see ``sim.guide_checks``)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sim import list_scenarios, load_scenario
from sim.cli import app
from sim.guide_checks import ClaimError, check_one, parse_claim

CLAIMS = [(name, i) for name in list_scenarios()
          for i in range(len(load_scenario(name).guide.checks))]


@pytest.mark.parametrize("name", list_scenarios())
def test_every_thing_to_try_has_a_check(name):
    guide = load_scenario(name).guide
    assert guide.try_, f"{name}: no things to try"
    assert {c.try_item for c in guide.checks} == set(range(1, len(guide.try_) + 1))


@pytest.mark.parametrize(("name", "index"), CLAIMS, ids=[f"{n}-{i + 1}" for n, i in CLAIMS])
def test_the_guides_claim_holds(name, index):
    scenario = load_scenario(name)
    check = scenario.guide.checks[index]
    result = check_one(scenario, check)
    assert result.passed, (f"{name}, try {check.try_item}: {result.text!r} does not hold: "
                           f"{check.expect} with {result.values}")


def test_a_false_claim_fails():
    """The checker can say no: the opposite of a true claim does not hold."""
    scenario = load_scenario("pushy_vs_active")
    check = scenario.guide.checks[1].model_copy(update={
        "expect": "complaint_rate[pushy] > was:complaint_rate[pushy]", "reps": 2})
    assert not check_one(scenario, check).passed


@pytest.mark.parametrize(("expect", "message"), [
    ("conversion_rate", "comparison"),
    ("conversion_rate > __import__('os')", "only numbers"),
    ("conversion_rate >", "not 'expression op expression'"),
])
def test_a_bad_expectation_is_a_clear_error(expect, message):
    with pytest.raises(ClaimError, match=message):
        parse_claim(expect)


@pytest.mark.parametrize(("expect", "message"), [
    ("conversoin_rate > 0", "no metric 'conversoin_rate'"),
    ("conversion_rate@nope > 0", "no arm 'nope'"),
    ("conversion_rate[nobody] > 0", "no strategy 'nobody'"),
])
def test_a_check_naming_what_the_scenario_lacks_is_refused(expect, message, tmp_path):
    from sim.config import ScenarioError

    checks = [{"try": 1, "set": {}, "expect": expect}]
    with pytest.raises(ScenarioError, match=message):
        load_scenario("gated_lead_magnet", overrides={"guide.checks": checks})


def test_recip_scenarios_check_prints_each_claim_and_exits_0_when_all_hold():
    result = CliRunner().invoke(app, ["scenarios", "--check", "burger_1997", "--reps", "3"])
    assert result.exit_code == 0, result.output
    assert "holds" in result.output and "rules.obligation_" in result.output
