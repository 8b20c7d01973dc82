"""Write the golden snapshot that guards refactors which must not change results.

Every shipped scenario and arm, three seeds, a small population (at most 300 buyers) and at most
100 days: every model-level metric and every per-strategy metric at chosen days, plus a digest
of each tie array's bytes on the last day. ``tests/test_golden.py`` recomputes all of it and
requires a bit-for-bit match on a machine with the C library the snapshot was made with (the
compiled rules take ``exp``, ``log`` and ``pow`` from it; recorded beside the snapshot in
``snapshot.json`` with numpy's version); elsewhere those functions can differ in the last bit,
so floats are compared to rounding there and the digests of float arrays are not compared.

Regenerate only when a change is *meant* to change results (a rule, a default, a scenario), and
say so in the commit message:

    .venv/bin/python tests/golden/make_golden.py
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from sim import list_scenarios, load_scenario
from sim.model import ReciprocityModel
from sim.provenance import libm

SNAPSHOT = Path(__file__).with_name("snapshot.parquet")
MADE_WITH = SNAPSHOT.with_suffix(".json")
"""The C library (:func:`sim.provenance.libm`) and numpy version the snapshot was made with."""
SEEDS = (1, 2, 3)
MAX_BUYERS = 300
MAX_STEPS = 100
DAYS = (1, 2, 3, 5, 10, 20, 40, 70, 100)
TIE_ARRAYS = ("status", "trust", "gross", "concession", "given", "suspicion", "reactance",
              "asks_made", "said_no", "converted_day", "churn_day", "complained", "backfired",
              "account_closed")
FLOAT_ARRAYS = ("trust", "gross", "concession", "given", "suspicion", "reactance")
"""The tie arrays of floats: their digests can only be compared where the math paths agree."""


def cases() -> list[tuple[str, str | None]]:
    return [(name, arm) for name in list_scenarios() for arm in [None, *load_scenario(name).arms]]


def run_case(name: str, arm: str | None, seed: int) -> pd.DataFrame:
    """Metrics of one run at the chosen days (and its last day), with tie-array digests."""
    n = min(load_scenario(name, arm=arm).buyers.n, MAX_BUYERS)
    model = ReciprocityModel(name, arm=arm, rng=seed, overrides={"buyers.n": n},
                             build_agents=False)
    steps = min(model.horizon, MAX_STEPS)
    model.run_for(steps)
    days = sorted({d for d in DAYS if d <= steps} | {steps})
    overall = model.datacollector.get_model_vars_dataframe().assign(strategy="all")
    frame = pd.concat([overall, model.metrics_by_strategy()], ignore_index=True)
    frame = frame[frame.step.isin(days)].copy()
    engine = model.engine
    for array in TIE_ARRAYS:
        values = getattr(engine.state, array)
        assert (values.dtype.kind == "f") == (array in FLOAT_ARRAYS), f"FLOAT_ARRAYS and {array}"
        digest = hashlib.sha256(np.ascontiguousarray(values).tobytes()).hexdigest()
        frame[f"sha_{array}"] = np.where(frame.step == steps, digest[:16], "")
    frame.insert(0, "seed", seed)
    frame.insert(0, "arm", arm or "")
    frame.insert(0, "scenario", name)
    return frame


def made_with() -> dict:
    """What decides the snapshot's last bits here: the C library the compiled rules take
    ``exp``, ``log`` and ``pow`` from, and numpy (its sums)."""
    return {"libm": libm(), "numpy": np.__version__}


def snapshot() -> pd.DataFrame:
    return pd.concat([run_case(name, arm, seed) for name, arm in cases() for seed in SEEDS],
                     ignore_index=True)


if __name__ == "__main__":
    table = snapshot()
    table.to_parquet(SNAPSHOT, index=False, compression="zstd")
    MADE_WITH.write_text(json.dumps(made_with(), indent=2, sort_keys=True) + "\n")
    print(f"{SNAPSHOT}: {len(table)} rows, {SNAPSHOT.stat().st_size / 1024:.0f} KiB")
