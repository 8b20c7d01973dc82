"""recip: agent-based simulation of the norm of reciprocity between buyers and sellers."""

import os
from importlib.metadata import PackageNotFoundError, version

# The compiled rules must take exp, log and pow from the C library wherever they run, so that one
# seed gives the same results bit for bit on every machine with it: numba would otherwise use
# Intel's SVML for them where that is installed. (Read when numba is first imported.)
os.environ.setdefault("NUMBA_DISABLE_INTEL_SVML", "1")
from typing import TYPE_CHECKING

from sim.config import Scenario, ScenarioError, list_scenarios, load_scenario

if TYPE_CHECKING:
    from sim.model import ReciprocityModel

try:
    __version__ = version("recip")
except PackageNotFoundError:  # running from a checkout without installing
    __version__ = "0.0.0+checkout"

__all__ = ["ReciprocityModel", "Scenario", "ScenarioError", "__version__", "list_scenarios",
           "load_scenario"]


def __getattr__(name: str):
    # The model pulls in mesa (and with it pandas and scipy); sweep workers, which run the engine
    # only, start faster without it.
    if name == "ReciprocityModel":
        from sim.model import ReciprocityModel
        return ReciprocityModel
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
