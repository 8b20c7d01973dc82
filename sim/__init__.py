"""recip: agent-based simulation of the norm of reciprocity between buyers and sellers."""

from importlib.metadata import PackageNotFoundError, version

from sim import numba_setup

numba_setup.configure()  # before anything imports numba: its cache folder, no SVML

from typing import TYPE_CHECKING  # noqa: E402

from sim.config import Scenario, ScenarioError, list_scenarios, load_scenario  # noqa: E402

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
