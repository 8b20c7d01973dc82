"""Where the shipped data lives: inside the installed wheel, or beside ``sim/`` in a checkout."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def shipped_dir(package: str, checkout_folder: str) -> Path:
    """The folder of ``package`` (``sim._scenarios``, ``sim._viz``) in an installed recip, or the
    repository's top-level ``checkout_folder`` when ``sim`` is imported from a source checkout."""
    try:
        return Path(str(resources.files(package)))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / checkout_folder


def scenarios_dir() -> Path:
    return shipped_dir("sim._scenarios", "scenarios")


def viz_dir() -> Path:
    return shipped_dir("sim._viz", "viz")
