"""Seller strategies: the presets (pushy, active, no_gift, bait, mint variants, door-in-the-face)
and strategies defined in scenario files without code.

Presets are data, in ``scenarios/_strategies.toml``. A scenario may override any field of a
preset (``strategies.pushy.ask.size = 400``) or define a new strategy from one:

.. code-block:: toml

    [strategies.gentle]
    base = "active"
    ask = { size = 30.0 }

The fields and their meaning are the ``Strategy`` model in :mod:`sim.config`.

>>> sorted(presets())[:3]
['active', 'bait', 'door_in_the_face']
"""

from __future__ import annotations

from typing import Any

from sim.errors import ScenarioError
from sim.files import deep_merge, read_toml
from sim.paths import scenarios_dir


def presets() -> dict[str, Any]:
    """The strategy presets of RECIPROCITY.md, as raw tables from ``scenarios/_strategies.toml``."""
    return read_toml(scenarios_dir() / "_strategies.toml")


def resolve_bases(strategies: dict[str, Any], origin: str) -> dict[str, Any]:
    """Strategies may say ``base = "active"`` and override only what differs."""
    resolved: dict[str, Any] = {}

    def resolve(name: str, chain: tuple[str, ...]) -> dict[str, Any]:
        if name in resolved:
            return resolved[name]
        if name in chain:
            raise ScenarioError(f"{origin}: strategies.{name}.base forms a cycle: "
                                f"{' -> '.join((*chain, name))}")
        spec = dict(strategies[name])
        base = spec.pop("base", None)
        if base is not None:
            if base not in strategies:
                raise ScenarioError(f"{origin}: strategies.{name}.base = {base!r} is not a known "
                                    f"strategy; allowed: {', '.join(sorted(strategies))}")
            spec = deep_merge(resolve(base, (*chain, name)), spec)
        resolved[name] = spec
        return spec

    for name in strategies:
        resolve(name, ())
    return resolved
