"""The golden snapshot: refactors that must not change results are checked bit for bit against
``tests/golden/snapshot.parquet`` (made by ``tests/golden/make_golden.py``), to rounding on a
machine with another C library (the compiled rules take ``exp``, ``log`` and ``pow`` from it)."""

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent / "golden"))
import make_golden

GOLDEN = pd.read_parquet(make_golden.SNAPSHOT)
MADE_WITH = json.loads(make_golden.MADE_WITH.read_text())
SAME_MATH = make_golden.made_with() == MADE_WITH
ROUNDING = 1e-9
"""Relative tolerance on floats where the math paths differ: they differ in the last bits."""


@pytest.mark.parametrize(("name", "arm"), make_golden.cases())
def test_results_match_the_golden_snapshot_bit_for_bit(name, arm):
    expected = GOLDEN[(GOLDEN.scenario == name) & (GOLDEN.arm == (arm or ""))]
    assert len(expected), f"{name}/{arm} is not in the snapshot: regenerate it on purpose"
    actual = pd.concat([make_golden.run_case(name, arm, seed) for seed in make_golden.SEEDS],
                       ignore_index=True)
    # the snapshot holds every scenario's outcome columns; another scenario's are empty here
    assert expected.drop(columns=actual.columns).isna().all().all()
    assert set(actual.columns) <= set(expected.columns)
    for column in actual.columns:
        got, want = actual[column].to_numpy(), expected[column].to_numpy()
        if not SAME_MATH and column.removeprefix("sha_") in make_golden.FLOAT_ARRAYS:
            continue  # a digest of floats cannot be compared to rounding
        if got.dtype.kind == "f" and SAME_MATH:
            np.testing.assert_array_equal(got, want, err_msg=f"{name}/{arm}: {column}")
        elif got.dtype.kind == "f":
            np.testing.assert_allclose(got, want, rtol=ROUNDING, atol=0,
                                       err_msg=f"{name}/{arm}: {column} (to rounding)")
        else:
            assert got.tolist() == want.tolist(), f"{name}/{arm}: {column}"


def test_the_snapshot_covers_every_shipped_scenario_and_arm():
    shipped = {(name, arm or "") for name, arm in make_golden.cases()}
    assert set(zip(GOLDEN.scenario, GOLDEN.arm, strict=True)) == shipped


def _numpy_simd_math() -> bool:
    """numpy has SIMD code of its own for float64 exp, log or power on this CPU (AVX-512), which
    can differ from the C library's in the last bit."""
    from sim.provenance import numpy_math_paths

    return any(path.startswith("X86_V4") or path.startswith("AVX512")
               for path in numpy_math_paths().values())


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64") or not SAME_MATH
                    or not _numpy_simd_math(),
                    reason="needs a CPU where numpy has its own SIMD exp, log and power (AVX-512)")
def test_results_do_not_depend_on_numpy_simd_math():
    """The rules are compiled and call the C library: switching numpy's AVX-512 code for exp,
    log and power off must leave every result bit for bit as it was (with numpy's own code
    they differed in the last bits in 2 of 81 cases before the rules were compiled)."""
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"}
    check = subprocess.run([sys.executable, "-c", "import json; from sim.provenance import "
                            "numpy_math_paths; print(json.dumps(numpy_math_paths()))"],
                           env=env, capture_output=True, text=True, check=True)
    assert "X86_V4" not in json.loads(check.stdout)["exp"]  # the other path is taken
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "-k", "bit_for_bit", __file__], env=env, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout[-3000:]
