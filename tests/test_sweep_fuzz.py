"""Fuzzing sweep specs: generated and mutated specs either run or exit 2 with a message naming
the file and the field; never a traceback, a hang, an accepted nan/inf or a partial output.

The mutations are those of ``experiments/fuzz_inputs.py`` (which also runs a corpus of 300+
specs through the real command line), drawn here by hypothesis together with arbitrary values
(any number, string or structure) for any field. Bounded for CI; ``pytest -m release`` runs the
long version.
"""

from __future__ import annotations

import copy
import random
import shutil
import tempfile
from pathlib import Path

import experiment_scripts
import pytest
import typer
from fuzz_support import invoke_within
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.sweep.cli import sweep

ROOT = Path(__file__).resolve().parents[1]
TIME_LIMIT = 60  # seconds per spec: a valid generated spec runs in about one
CI_EXAMPLES, RELEASE_EXAMPLES = 100, 2000


def _load_fuzz():
    return experiment_scripts.load("fuzz_inputs")


fuzz = _load_fuzz()

FIELDS = [("sweep", "steps"), ("sweep", "replications"), ("sweep", "seed"), ("sweep", "every"),
          ("sweep", "batch"), ("sweep", "scenario"), ("sweep", "arm"), ("sweep", "metrics"),
          ("sweep", "set"), ("design", "kind"), ("design", "samples"), ("design", "levels"),
          ("design", "second_order"), ("design", "parameters"), ("design", "points")]

scalars = (st.integers(min_value=-(2**63), max_value=2**63 - 1)
           | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=30) | st.booleans())
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=12), inner, max_size=3), max_leaves=8)


def _nonfinite(value) -> bool:
    if isinstance(value, float):
        return value != value or value in (float("inf"), float("-inf"))
    if isinstance(value, list):
        return any(_nonfinite(v) for v in value)
    if isinstance(value, dict):
        return any(_nonfinite(v) for v in value.values())
    return False


@st.composite
def mutated_specs(draw):
    """A base spec, a few of the corpus mutations, maybe an arbitrary value in a field, maybe
    a mutation of the file's text."""
    base = draw(st.sampled_from(sorted(fuzz.BASES)))
    doc = copy.deepcopy(fuzz.BASES[base])
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    mutations = []
    for mutator in draw(st.lists(st.sampled_from(fuzz.MUTATORS), max_size=3)):
        mutations.append(mutator(doc, rng))
    if draw(st.booleans()):
        table, key = draw(st.sampled_from(FIELDS))
        value = draw(values)
        if isinstance(doc.get(table), dict):
            doc[table][key] = value
            mutations.append(fuzz.Mutation(f"{table}.{key} = {value!r:.60}", f"{table}.{key}",
                                           _nonfinite(value)))
    data = fuzz.emit_toml(doc).encode()
    if draw(st.integers(0, 9)) == 0:
        data, mutation = draw(st.sampled_from(fuzz.TEXT_MUTATORS))(data.decode(), rng)
        mutations.append(mutation)
    return base, data, mutations


@pytest.fixture(scope="module")
def corpus():
    folder = Path(tempfile.mkdtemp(prefix="recip-fuzz-test-"))
    fuzz.network_files(folder)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def check_one(folder: Path, data: bytes, mutations: list) -> None:
    """Run one spec through `recip sweep` in this process and judge it as the corpus does."""
    path = Path(tempfile.mkstemp(dir=folder, suffix=".toml")[1])
    path.write_bytes(data)
    out = folder / f"{path.stem}-out"
    case = fuzz.Case(path.stem, "", [vars(m) for m in mutations], str(path))
    app = typer.Typer()
    app.command("sweep")(sweep)
    app.command("unused")(lambda: None)
    code, output = invoke_within(app, ["sweep", str(path), "--out", str(out), "--workers", "1"],
                                 TIME_LIMIT, env={"COLUMNS": "400", "NO_COLOR": "1"})
    outcome = fuzz.judge(case, code, output, out, 0.0)
    shutil.rmtree(out, ignore_errors=True)
    path.unlink()
    assert not outcome.problems, (f"{outcome.problems} (exit {code}) for {data[:400]!r} "
                                  f"[{', '.join(m.label for m in mutations)}]: {output[-600:]}")


@settings(max_examples=CI_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(mutated_specs())
def test_generated_specs_run_or_exit_2_naming_the_field(corpus, generated):
    _, data, mutations = generated
    check_one(corpus, data, mutations)


@pytest.mark.release
@settings(max_examples=RELEASE_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(mutated_specs())
def test_release_many_generated_specs(request, corpus, generated):
    if "release" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("a release check: run with pytest -m release")
    _, data, mutations = generated
    check_one(corpus, data, mutations)


def test_the_judge_catches_what_it_must():
    """The checks the fuzz tests rely on find each kind of failure."""
    folder = Path(tempfile.mkdtemp())
    spec = folder / "c.toml"
    spec.write_text("[sweep]\nsteps = nan\n")
    case = fuzz.Case("c", "grid", [vars(fuzz.Mutation("x", "sweep.steps", nonfinite=True))],
                     str(spec))
    missing = folder / "out"
    assert fuzz.judge(case, None, "", missing, 0).problems == ["hang"]
    assert "traceback" in fuzz.judge(case, 1, "Traceback (most recent call last):", missing,
                                     0).problems
    assert fuzz.judge(case, 0, "", missing, 0).problems == ["non-finite accepted",
                                                             "partial output"]
    missing.mkdir()
    assert fuzz.judge(case, 2, f"error: {spec}: sweep.steps = nan: ...", missing,
                      0).problems == ["partial output"]
    missing.rmdir()
    assert fuzz.judge(case, 2, f"error: {spec}: design.kind = 'x'", missing,
                      0).problems == ["error without field"]
    assert fuzz.judge(case, 2, f"error: {spec}: sweep.steps = nan: must be finite",
                      missing, 0).problems == []
    spec.write_text("[sweep]\nsteps = 5\n")  # a later mutation took the nan out again
    assert "non-finite accepted" not in fuzz.judge(case, 0, "", missing, 0).problems
    shutil.rmtree(folder)
