"""`recip validate`: passes on the shipped defaults, writes its report, and moves with the rules."""

import json

from typer.testing import CliRunner

from sim.cli import app
from sim.validate import run_validation

runner = CliRunner()


def test_validate_quick_passes_and_writes_report(tmp_path):
    result = runner.invoke(app, ["validate", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "validation.json").read_text())
    assert data["passed"] and len(data["rows"]) >= 20
    report = (tmp_path / "REPORT.md").read_text()
    assert "Strohmetz" in report and "Regan 1971" in report
    assert list(tmp_path.glob("*.png"))


def test_editing_a_fitted_parameter_moves_the_table():
    rows = run_validation(reps=3, quick=True, scenarios=["mint_study"],
                          overrides={"rules.debt_weight": 0.0})
    lifts = {r.condition: r for r in rows}
    assert not lifts["two candies each (relative lift)"].passed
    assert not all(r.passed for r in rows)


def test_validate_exits_nonzero_on_a_miss(tmp_path, monkeypatch):
    import sim.validate as v

    real = v.run_validation

    def broken(**kw):
        return real(**kw, overrides={"rules.liking_weight": 0.0, "rules.debt_weight": 0.2})

    monkeypatch.setattr(v, "run_validation", broken)
    result = runner.invoke(app, ["validate", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "FAIL" in result.output


def test_workers_do_not_change_results():
    kw = dict(reps=2, quick=True, scenarios=["door_in_the_face", "regan_1971"])
    serial = [(r.condition, r.model_mean) for r in run_validation(**kw)]
    parallel = [(r.condition, r.model_mean) for r in run_validation(**kw, workers=2)]
    assert serial == parallel


def test_facts_fail_without_their_mechanism():
    """The fact checks are not true by construction: removing the rule behind them breaks them."""
    def failed(scenario, **rules):
        rows = run_validation(reps=3, quick=True, scenarios=[scenario],
                              overrides={f"rules.{k}": v for k, v in rules.items()})
        return [r.condition for r in rows if not r.passed]

    assert not failed("door_in_the_face")
    assert failed("door_in_the_face", concession_weight=0.0)      # rule 11
    assert not failed("backfire_demo")
    assert failed("backfire_demo", detection_enabled=False)        # rule 7
    assert failed("budgeting_app_calculator", obligation_half_life=1000.0)  # rule 6
