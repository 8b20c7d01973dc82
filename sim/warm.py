"""Compile the model for this machine ahead of its first run: ``python -m sim.warm``.

numba compiles the rules and the phases' kernels on their first call with each kind of argument
and caches the result on disk (a folder per version of the source, :mod:`sim.numba_setup`), so
only the first run of a version on a machine pays for it (about 40 s on 2 cores). ``make setup``
runs this, so that the quick start's first run, the test suite and the app start at full speed.
It runs every shipped scenario and arm for a few days on a small population, alone and stacked
with runs that differ in rule parameters (a sweep's case), and prints how long it took. Results
are never written.
"""

from __future__ import annotations

import time


def warm_up() -> float:
    """Run what compiles the model's kernels and rules; the seconds it took."""
    from sim import list_scenarios, load_scenario
    from sim.model import ReciprocityModel
    from sim.runner import run_many

    began = time.perf_counter()
    for name in list_scenarios():
        for arm in [None, *load_scenario(name).arms]:
            model = ReciprocityModel(name, arm=arm, rng=1, build_agents=False,
                                     overrides={"buyers.n": 40})
            model.run_for(min(model.horizon, 4))
    run_many("pushy_vs_active", steps=4, metrics=["conversion_rate"],
             runs=[({"buyers.n": 40}, 1), ({"buyers.n": 30, "rules.debt_weight": 0.5}, 2)])
    return time.perf_counter() - began


if __name__ == "__main__":
    print(f"the model is compiled for this machine ({warm_up():.0f} s)")
