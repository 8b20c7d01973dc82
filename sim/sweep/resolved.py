"""The resolved model of a sweep: the parameters every run starts from, after the scenario file,
``_defaults.toml``, ``_strategies.toml``, the arm and ``sweep.set`` are applied, with network
files by content.

The manifest stores it; ``--resume`` recomputes it and refuses to add runs when it differs,
naming what changed (``rules.debt_weight: 0.8 -> 0.9``). Design parameters are left out: each
design point overrides them, so a change under them changes no run. Everything else the
scenario resolves to is in, so a change to any file a run reads is caught, whichever file it
came from.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sim.sweep.spec import SweepSpec, SweepSpecError, base_overrides, resolve_files

EXCLUDED = {"source", "guide", "arms", "calibration", "name"}
"""Scenario fields that do not change a run: where it came from, its texts, the other arms, the
validation targets, its name."""

MAX_LISTED = 12
"""Changed keys named in a refusal; the rest are counted."""


def resolved_model(spec: SweepSpec) -> dict[str, Any]:
    """``{"fingerprint", "parameters", "files"}``: a hash of the rest, the resolved parameters
    as dotted keys (design parameters left out: the scenario is loaded with their first values,
    then they are dropped), and the SHA-256 of each network file the design names, by the value
    written in the spec."""
    from sim.config import ScenarioError, load_scenario

    sweep = spec.sweep
    try:
        config = load_scenario(sweep.scenario, arm=sweep.arm,
                               overrides=resolve_files(base_overrides(spec), spec.base_dir))
    except ScenarioError as exc:
        raise SweepSpecError(f"{spec.source}: {exc}") from None
    data = config.model_dump(mode="json", by_alias=True, exclude=EXCLUDED)
    parameters = {key: value for key, value in dotted(data).items()
                  if not _under(key, spec.design.parameter_names)}
    if isinstance(parameters.get("network.path"), str):
        parameters["network.path"] = _content(Path(parameters["network.path"]))
    files = {value: _content(Path(resolve_files({"network.path": value}, spec.base_dir)
                                  ["network.path"]))
             for value in _network_values(spec)}
    body = {"parameters": parameters, "files": files}
    text = json.dumps(body, sort_keys=True, allow_nan=False)
    return {"fingerprint": hashlib.sha256(text.encode()).hexdigest()[:16], **body}


def changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What differs between two resolved models, one line per key or file.

    >>> changes({"parameters": {"rules.a": 0.8, "b": 1}, "files": {}},
    ...         {"parameters": {"rules.a": 0.9, "b": 1}, "files": {}})
    ['rules.a: 0.8 -> 0.9']
    """
    lines = []
    before, after = old.get("parameters", {}), new.get("parameters", {})
    for key in sorted(set(before) | set(after)):
        if key not in after:
            lines.append(f"{key}: {before[key]!r} -> (gone)")
        elif key not in before:
            lines.append(f"{key}: (new) -> {after[key]!r}")
        elif before[key] != after[key]:
            lines.append(f"{key}: {before[key]!r} -> {after[key]!r}")
    files_before, files_after = old.get("files", {}), new.get("files", {})
    for name in sorted(set(files_before) | set(files_after)):
        if files_before.get(name) != files_after.get(name):
            lines.append(f"network file {name!r}: content changed")
    return lines


def describe_changes(lines: list[str]) -> str:
    """The first :data:`MAX_LISTED` changes, and how many more."""
    shown = "; ".join(lines[:MAX_LISTED])
    more = len(lines) - MAX_LISTED
    return shown + (f"; and {more} more" if more > 0 else "")


def dotted(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts and lists as dotted keys (``sellers.0.strategy``), values JSON-safe.

    >>> dotted({"a": {"b": [1, {"c": float("nan")}]}, "d": {}})
    {'a.b.0': 1, 'a.b.1.c': 'nan', 'd': {}}
    """
    items: Any = (data.items() if isinstance(data, Mapping)
                  else enumerate(data) if isinstance(data, list) else None)
    if items is None or not data:
        return {prefix.rstrip("."): _plain(data)}
    flat: dict[str, Any] = {}
    for key, value in items:
        flat.update(dotted(value, f"{prefix}{key}."))
    return flat


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # strict JSON in the manifest
    return value


def _under(key: str, names: list[str]) -> bool:
    return any(key == name or key.startswith(f"{name}.") for name in names)


def _network_values(spec: SweepSpec) -> list[str]:
    """The network files the design varies over, as written."""
    design = spec.design
    if design.kind == "grid":
        values = design.parameters.get("network.path", [])
        return [v for v in values if isinstance(v, str)]  # type: ignore[union-attr]
    if design.kind == "list":
        return list(dict.fromkeys(p["network.path"] for p in design.points
                                  if isinstance(p.get("network.path"), str)))
    return []


def _content(path: Path) -> str:
    from sim.provenance import file_sha256

    try:
        return f"sha256:{file_sha256(path)}"
    except (OSError, ValueError):
        return f"unreadable: {path}"
