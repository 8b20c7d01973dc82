"""The README's Python examples run as written (docs that match the code)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_python_block_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an example that writes files writes them here
    exec(compile(code, str(README), "exec"), {"__name__": "readme"})


TOML_BLOCKS = re.findall(r"```toml\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_calibrate_spec_is_the_shipped_example():
    import tomllib

    from sim.calibration.spec import load_spec

    example = README.parent / "experiments" / "calibrate_car_dealer.toml"
    block = next(b for b in TOML_BLOCKS if b.startswith("[calibrate]"))
    assert tomllib.loads(block) == tomllib.loads(example.read_text())
    load_spec(example)


def test_readme_scenario_example_loads(tmp_path):
    from sim import load_scenario

    block = next(b for b in TOML_BLOCKS if b.startswith("steps ="))
    path = tmp_path / "gentle.toml"
    path.write_text(block)
    scenario = load_scenario(path)
    assert scenario.guide.checks and "gentle" in scenario.strategies
