"""recip: agent-based simulation of the norm of reciprocity between buyers and sellers."""

from importlib.metadata import PackageNotFoundError, version

from sim.config import Scenario, ScenarioError, list_scenarios, load_scenario
from sim.model import ReciprocityModel

try:
    __version__ = version("recip")
except PackageNotFoundError:  # running from a checkout without installing
    __version__ = "0.0.0+checkout"

__all__ = ["ReciprocityModel", "Scenario", "ScenarioError", "__version__", "list_scenarios",
           "load_scenario"]
