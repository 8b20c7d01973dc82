"""Fuzzing scenario files and ``--set`` values: generated and mutated inputs either run (and write
their outputs whole, as strict JSON) or exit 2 with a message naming the file and the field;
never a traceback, a hang, an accepted nan/inf, a partial output or a staging folder left behind.

The mutations are those of ``experiments/fuzz_inputs.py`` (which also runs corpora of 1,400
scenario files and 240 ``--set`` items through the real command line), drawn here by hypothesis
together with arbitrary values (any number, string or structure) for any field of the schema.
Bounded for CI; ``pytest -m release`` runs the long version.
"""

from __future__ import annotations

import copy
import random
import shutil
import tempfile
from pathlib import Path

import experiment_scripts
import pytest
from fuzz_support import invoke_within
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli import app

ROOT = Path(__file__).resolve().parents[1]
TIME_LIMIT = 60  # seconds per case: a valid generated scenario runs in well under one
CI_EXAMPLES, RELEASE_EXAMPLES = 100, 1500
SET_CI_EXAMPLES, SET_RELEASE_EXAMPLES = 60, 2000
EXPENSIVE = {"buyers.n": 1000, "network.blocks": 100}
"""Valid values above these would only make a case slow (the corpus never uses them either)."""


def _load_fuzz():
    return experiment_scripts.load("fuzz_inputs")


fuzz = _load_fuzz()

scalars = (st.integers(min_value=-(2**63), max_value=2**63 - 1)
           | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=30) | st.booleans())
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=12), inner, max_size=3), max_leaves=8)


def _cheap(path: str, value) -> bool:
    limit = EXPENSIVE.get(path)
    return limit is None or not isinstance(value, int | float) or isinstance(value, bool) or (
        value != value or value <= limit or value > 10**12)


@st.composite
def mutated_scenarios(draw):
    """A shipped scenario with 60 buyers, a few of the corpus mutations, maybe an arbitrary
    value in a field, maybe a mutation of the file's text."""
    bases = fuzz.scenario_bases()
    doc = copy.deepcopy(bases[draw(st.sampled_from(sorted(bases)))])
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    mutations = [mutator(doc, rng)
                 for mutator in draw(st.lists(st.sampled_from(fuzz.SCENARIO_MUTATORS),
                                              max_size=3))]
    if draw(st.booleans()):
        leaf = draw(st.sampled_from(fuzz.schema_leaves()))
        path = leaf.path.replace("{strategy}", draw(st.sampled_from(["pushy", "active"]))
                                 ).replace("{seller}", "0")
        value = draw(values.filter(lambda v, path=path: _cheap(path, v)))
        fuzz.set_path(doc, path, value)
        mutations.append(fuzz.Mutation(f"{path} = {value!r:.60}", path,
                                       fuzz._holds_nan(value)))
    data = fuzz.emit_toml(doc).encode()
    if draw(st.integers(0, 9)) == 0:
        data, mutation = draw(st.sampled_from(fuzz.SCENARIO_TEXT_MUTATORS))(data.decode(), rng)
        mutations.append(mutation)
    return data, mutations


@st.composite
def set_items(draw):
    """A ``--set`` item: a field of the schema, a table or any key, and any value as typed."""
    leaf = draw(st.sampled_from(fuzz.schema_leaves()))
    key = draw(st.sampled_from([
        leaf.path.replace("{strategy}", "pushy").replace("{seller}", "1"),
        *fuzz.SET_TABLES, *fuzz.SET_KEYS_BAD]))
    text = draw(st.sampled_from(fuzz.SET_VALUES) | values.map(fuzz._toml_text)
                | st.text(max_size=20).filter(lambda t: "\x00" not in t))
    return key, text


@pytest.fixture(scope="module")
def corpus():
    folder = Path(tempfile.mkdtemp(prefix="recip-scenario-fuzz-"))
    fuzz.network_files(folder)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _invoke(args: list[str]) -> tuple[int | None, str]:
    """``recip ARGS`` in this process, with a time limit; (exit code or None, output)."""
    return invoke_within(app, args, TIME_LIMIT,
                         env={"COLUMNS": "400", "NO_COLOR": "1", "RECIP_DEBUG": None})


def check_scenario(folder: Path, data: bytes, mutations: list) -> None:
    """Run one scenario file through `recip run` and judge it as the corpus does."""
    path = Path(tempfile.mkstemp(dir=folder, suffix=".toml")[1])
    path.write_bytes(data)
    out = folder / f"{path.stem}-out"
    case = fuzz.Case(path.stem, "", [vars(m) for m in mutations], str(path))
    code, output = _invoke(["run", str(path), "--steps", "2", "--out", str(out)])
    outcome = fuzz.judge(case, code, output, out, 0.0, kind="scenario")
    shutil.rmtree(out, ignore_errors=True)
    path.unlink()
    assert not outcome.problems, (f"{outcome.problems} (exit {code}) for {data[:400]!r} "
                                  f"[{', '.join(m.label for m in mutations)}]: {output[-600:]}")


def check_set(folder: Path, key: str, text: str) -> None:
    from sim.config import parse_value

    item = f"{key}={text}"
    out = folder / "set-out"
    case = fuzz.Case("set", "pushy_vs_active", [vars(fuzz.Mutation(
        item, key.strip() or item[:60], fuzz._holds_nan(parse_value(text.strip()))))],
        args=[item])
    code, output = _invoke(fuzz.command(case, "set", out))
    outcome = fuzz.judge(case, code, output, out, 0.0, kind="set")
    shutil.rmtree(out, ignore_errors=True)
    assert not outcome.problems, f"{outcome.problems} (exit {code}) for --set {item!r}: {output[-600:]}"


SETTINGS = dict(deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture,
    HealthCheck.filter_too_much])


@settings(max_examples=CI_EXAMPLES, derandomize=True, **SETTINGS)
@given(mutated_scenarios())
def test_generated_scenarios_run_or_exit_2_naming_the_field(corpus, generated):
    check_scenario(corpus, *generated)


@settings(max_examples=SET_CI_EXAMPLES, derandomize=True, **SETTINGS)
@given(set_items())
def test_generated_set_values_run_or_exit_2_naming_the_key(corpus, item):
    check_set(corpus, *item)


def _release_only(request) -> None:
    if "release" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("a release check: run with pytest -m release")


@pytest.mark.release
@settings(max_examples=RELEASE_EXAMPLES, **SETTINGS)
@given(mutated_scenarios())
def test_release_many_generated_scenarios(request, corpus, generated):
    _release_only(request)
    check_scenario(corpus, *generated)


@pytest.mark.release
@settings(max_examples=SET_RELEASE_EXAMPLES, **SETTINGS)
@given(set_items())
def test_release_many_generated_set_values(request, corpus, item):
    _release_only(request)
    check_set(corpus, *item)


def test_the_run_judge_catches_what_it_must(tmp_path):
    """The checks the scenario fuzz relies on find each kind of failure of `recip run`."""
    spec = tmp_path / "c.toml"
    spec.write_text("[buyers]\nn = nan\n")
    case = fuzz.Case("c", "x", [vars(fuzz.Mutation("x", "buyers.n", nonfinite=True))], str(spec))
    out = tmp_path / "out"
    assert fuzz.judge(case, 1, "error: x", out, 0, kind="scenario").problems == ["traceback"]
    assert fuzz.judge(case, 0, "", out, 0, kind="scenario").problems == [
        "non-finite accepted", "partial output"]
    out.mkdir()
    for name in fuzz.RUN_OUTPUTS:
        (out / name).write_text("{}")
    spec.write_text("[buyers]\nn = 5\n")
    assert fuzz.judge(case, 0, "", out, 0, kind="scenario").problems == []
    (out / "summary.json").write_text('{"a": NaN}')  # not strict JSON
    assert fuzz.judge(case, 0, "", out, 0, kind="scenario").problems == ["partial output"]
    (tmp_path / ".out.tmp-1-abc").mkdir()  # a staging folder left behind
    shutil.rmtree(out)
    assert fuzz.judge(case, 2, f"error: {spec}: buyers.n = nan: finite", out, 0,
                      kind="scenario").problems == ["partial output"]
    (tmp_path / ".out.tmp-1-abc").rmdir()
    assert fuzz.judge(case, 2, f"error: {spec}: buyers = 3", out, 0,
                      kind="scenario").problems == ["error without field"]
    set_case = fuzz.Case("s", "pushy_vs_active", [vars(fuzz.Mutation("x", "buyers.n"))],
                         args=["buyers.n=nan"])
    assert fuzz.judge(set_case, 2, "error: pushy.toml: buyers.n = nan", out, 0,
                      kind="set").problems == []
