"""numba's cache follows the whole source: an edit to a rule reaches the kernels that call it."""

import os
import subprocess
import sys
import time
from pathlib import Path

from sim import numba_setup


def _package(folder: Path) -> Path:
    (folder / "engine").mkdir(parents=True)
    (folder / "rules.py").write_text("def rule(x):\n    return x\n")
    (folder / "engine" / "phase.py").write_text("from rules import rule\n")
    return folder


def test_the_cache_folder_changes_with_any_source_file(tmp_path):
    package = _package(tmp_path / "pkg")
    before = numba_setup.source_digest(package)
    assert numba_setup.source_digest(package) == before  # the same source, the same folder
    (package / "rules.py").write_text("def rule(x):\n    return 2 * x\n")  # not the kernel's file
    assert numba_setup.source_digest(package) != before


def test_only_the_most_recently_used_cache_folders_are_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    package = _package(tmp_path / "pkg")
    made = []
    for version in range(numba_setup.KEEP + 2):
        (package / "rules.py").write_text(f"def rule(x):\n    return {version} * x\n")
        made.append(numba_setup.cache_dir(package))
        os.utime(made[-1], (time.time() + version, time.time() + version))
    kept = sorted(p.name for p in numba_setup.cache_root().iterdir())
    assert kept == sorted(p.name for p in made[-numba_setup.KEEP:])


def test_sim_points_numba_at_its_cache_and_off_svml():
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "NUMBA_DISABLE_INTEL_SVML")}
    out = subprocess.run(
        [sys.executable, "-c", "import sim; from numba.core import config; "
         "print(config.CACHE_DIR); print(config.DISABLE_INTEL_SVML)"],
        env=env, capture_output=True, text=True, check=True).stdout.split()
    package = Path(numba_setup.__file__).resolve().parent
    assert out == [str(numba_setup.cache_root() / numba_setup.source_digest(package)), "1"]


def test_engines_in_one_process_share_the_parameter_record_type():
    """numba matches a record array by its dtype object: a second engine with an equal but new
    dtype would pay a field-by-field comparison on every kernel call (sim.engine.state)."""
    import numpy as np

    from sim.config import load_scenario
    from sim.engine import Engine

    first, second = (Engine(load_scenario("pushy_vs_active"), np.random.SeedSequence(seed))
                     for seed in (1, 2))
    assert first.rules.by_row.dtype is second.rules.by_row.dtype
    assert first.rules.by_row.dtype.names[0] == "need_weight"
