"""The golden snapshot: refactors that must not change results are checked bit for bit against
``tests/golden/snapshot.parquet`` (made by ``tests/golden/make_golden.py``)."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent / "golden"))
import make_golden

GOLDEN = pd.read_parquet(make_golden.SNAPSHOT)


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
        if got.dtype.kind == "f":
            np.testing.assert_array_equal(got, want, err_msg=f"{name}/{arm}: {column}")
        else:
            assert got.tolist() == want.tolist(), f"{name}/{arm}: {column}"


def test_the_snapshot_covers_every_shipped_scenario_and_arm():
    shipped = {(name, arm or "") for name, arm in make_golden.cases()}
    assert set(zip(GOLDEN.scenario, GOLDEN.arm, strict=True)) == shipped
