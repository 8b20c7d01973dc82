"""Where the shipped data lives: inside the installed wheel, or beside ``sim/`` in a checkout."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def shipped_dir(package: str, checkout_folder: str) -> Path:
    """The folder of ``package`` (``sim._scenarios``, ``sim._viz``: data folders shipped in the
    wheel, without ``__init__.py``), or the repository's top-level ``checkout_folder`` when
    ``sim`` is imported from a source checkout."""
    try:
        spec = importlib.util.find_spec(package)
    except ModuleNotFoundError:
        spec = None
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parent.parent / checkout_folder


def scenarios_dir() -> Path:
    return shipped_dir("sim._scenarios", "scenarios")


def viz_dir() -> Path:
    return shipped_dir("sim._viz", "viz")
