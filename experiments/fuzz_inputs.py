"""Fuzz corpus for recip's inputs: generate malformed inputs, run each through the CLI, count
what went wrong.

Kinds:

- ``sweep`` (sweep specs, run with ``recip sweep``). Each case starts from a small valid spec
  (grid, list, lhs, sobol, morris, a grid over network files) and gets one to three mutations:
  wrong types, out-of-range and non-finite numbers, huge sizes, unknown names, broken TOML,
  non-UTF-8 bytes, missing and malformed network files.
- ``scenario`` (scenario files, run with ``recip run CASE.toml --steps 2``). Each case is a
  shipped scenario with 60 buyers and one to three mutations: every field of the schema (its
  range read from ``sim.config``) just outside its range, far outside, non-finite and of the
  wrong type; tables replaced by values, a top-level ``arm``, unknown fields; bad references
  (strategies, bases, network kinds); broken arms; bad ``[calibration]`` tables; sizes beyond
  any machine and generators that would take minutes; missing and malformed network files;
  broken TOML; and some values a field allows, which must run and write whole outputs.
- ``set`` (``--set`` items, run with ``recip run pushy_vs_active --steps 2 --set ITEM``):
  fields set out of range, non-finite or to the wrong type, tables set to values, keys that are
  no field, items that are not ``key=value``.

Every case runs in its own process with a fresh ``--out`` and a time limit, and is classified:

- ``ok``: exit 0 (a valid input ran; the output folder is complete: for a sweep its manifest, for
  a run its three files with strict JSON) or, for sweeps, 4 (it ran, some runs raised: every
  other row is written);
- ``clean error``: exit 2 with one ``error:`` line naming the input file and the mutated field;
- ``traceback``: a Python traceback in the output, or any other exit code (1 is an unexpected
  error reported on one line: counted as a traceback, it is a bug);
- ``hang``: still running at the time limit;
- ``non-finite accepted``: a nan or inf was put in the input and it ran;
- ``partial output``: a refused input left its ``--out`` folder behind, an accepted one left an
  incomplete folder, or a staging folder was left beside it;
- ``error without field``: exit 2 but the message does not name the file or the field.

The bar is 0 of each but the first two.

Usage::

    python experiments/fuzz_inputs.py --kind sweep|scenario|set [--count N] [--seed 1]
        [--jobs 2] [--timeout 60] [--corpus DIR] [--report FILE.json]

(default counts: 320 sweep specs, 1,400 scenario files, 240 ``--set`` items). The generators
(:func:`make_cases`, :data:`MUTATIONS`, :data:`SCENARIO_MUTATORS`, :func:`make_set_cases`,
:func:`emit_toml`) are also what ``tests/test_sweep_fuzz.py`` and ``tests/test_scenario_fuzz.py``
draw from with hypothesis.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# --- a TOML writer that writes anything, including what a spec must not contain -------------------


def emit_toml(doc: dict[str, Any]) -> str:
    """``doc`` as TOML: top-level tables as ``[name]`` with inline values; non-table top-level
    values as plain keys. nan and inf are written as TOML's ``nan`` and ``inf``.

    >>> print(emit_toml({"sweep": {"steps": float("nan"), "set": {"a.b": [1, "x"]}}}))
    [sweep]
    steps = nan
    set = { "a.b" = [1, "x"] }
    <BLANKLINE>
    """
    plain = {k: v for k, v in doc.items() if not isinstance(v, dict)}
    lines = [f"{_key(k)} = {_value(v)}" for k, v in plain.items()]
    for name, table in doc.items():
        if isinstance(table, dict):
            lines += ["", f"[{_key(name)}]"] if lines else [f"[{_key(name)}]"]
            lines += [f"{_key(k)} = {_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def _key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key)
    return key if bare else _string(key)


def _string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped, the rest as is
    (JSON's surrogate pairs for characters beyond U+FFFF are not valid TOML)."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


# --- valid starting points ------------------------------------------------------------------------

SWEEP = {"scenario": "pushy_vs_active", "steps": 8, "replications": 2, "seed": 3,
         "metrics": ["conversion_rate", "complaint_rate[pushy]"], "set": {"buyers.n": 40}}
CONTINUOUS = {"strategies.active.gift.value": {"low": 0.5, "high": 20.0},
              "strategies.active.ask.delay": {"low": 0, "high": 14}}

BASES: dict[str, dict[str, Any]] = {
    "grid": {"sweep": dict(SWEEP), "design": {"kind": "grid", "parameters": {
        "buyers.detection_skill.mean": [0.2, 0.8], "network.kind": ["watts_strogatz"]}}},
    "list": {"sweep": dict(SWEEP), "design": {"kind": "list", "points": [
        {"buyers.need.mean": 0.3, "strategies.pushy.ask.size": 100.0},
        {"buyers.need.mean": 0.7, "strategies.pushy.ask.size": 50.0}]}},
    "lhs": {"sweep": {**SWEEP, "replications": 1}, "design": {
        "kind": "lhs", "samples": 4, "parameters": dict(CONTINUOUS)}},
    "sobol": {"sweep": {**SWEEP, "replications": 1}, "design": {
        "kind": "sobol", "samples": 1, "parameters": dict(CONTINUOUS)}},
    "morris": {"sweep": {**SWEEP, "replications": 1}, "design": {
        "kind": "morris", "samples": 2, "parameters": dict(CONTINUOUS)}},
    "network": {"sweep": {**SWEEP, "set": {"buyers.n": 30, "network.kind": "edgelist"}},
                "design": {"kind": "grid", "parameters": {
                    "network.path": ["nets/ring.edges", "nets/pairs.edges"]}}},
}
"""Small valid specs: each runs in about a second."""


def network_files(folder: Path) -> None:
    """The files the ``network`` base needs, and the malformed ones mutations point at."""
    nets = folder / "nets"
    nets.mkdir(parents=True, exist_ok=True)
    (nets / "ring.edges").write_text("".join(f"{i} {(i + 1) % 30}\n" for i in range(30)))
    (nets / "pairs.edges").write_text("".join(f"{i} {(i + 2) % 30}\n" for i in range(30)))
    (nets / "empty.edges").write_text("")
    (nets / "weighted.edges").write_text("".join(f"{i} {(i + 1) % 30} {{'w': }}\n"
                                                 for i in range(30)))
    (nets / "header.edges").write_text("source target\n" + (nets / "ring.edges").read_text())
    (nets / "small.edges").write_text("".join(f"{i} {(i + 1) % 10}\n" for i in range(10)))
    (nets / "binary.edges").write_bytes(bytes(range(256)) * 8)
    (nets / "latin1.edges").write_bytes("0 1\n1 2\ncaf\xe9 3\n".encode("latin-1"))
    (nets / "folder.edges").mkdir(exist_ok=True)


# --- mutations ------------------------------------------------------------------------------------


@dataclass
class Mutation:
    """A change to a spec. ``expect``: text a refusal must contain (the field); ``nonfinite``:
    it puts a nan or inf in the spec."""

    label: str
    expect: str
    nonfinite: bool = False


WRONG_TYPES = [1.5, float("nan"), float("inf"), float("-inf"), "12", True, [3], {"a": 1}, "",
               1e308, -(2**63)]
NUMBERS = {
    # per field: just outside its range, far outside, and one small valid value; never a valid
    # but expensive one (100,000 steps or 500,000 runs are valid: they would run for minutes)
    "sweep": {"steps": [0, -1, 100_001, 10**12, 2**63 - 1, 3],
              "replications": [0, -1, 1_000_001, 10**12, 2**63 - 1, 3],
              "seed": [-1, -(2**62), 2**63 - 1, 0],
              "every": [-1, 100_001, 10**12, 2],
              "batch": [0, -1, 10_001, 10**12, 3]},
    "design": {"samples": [0, -1, 1_000_001, 2**40, 3],
               "levels": [0, 1, 3, 101, 10**6, 6]},
}
BAD_PARAMETER_VALUES = [float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 10**18,
                        "wheel", "", "\u0000", True, "x" * 5000, [1], {"a": 1}]
BAD_NAMES = ["buyers.nn", "", "buyers..n", "rules", "buyers.n.x", "b\u00fcyers.n", "x" * 300,
             "sellers.7.strategy", "strategies.nobody.gift.value", "network", "\t"]
BAD_METRICS = ["convertion_rate", "conversion_rate[nobody]", "", "revenue[", "revenue[]",
               "x" * 500, 5, {"a": 1}, "revenue[pushy][active]"]
BAD_SCENARIOS = ["nope", "pushy_vs_pasive", "missing.toml", "/dev/zero", "/etc/passwd",
                 "../../../etc/hosts.toml", "", "\u0000", "nets", "_defaults", 5]
BAD_NETWORKS = ["nets/missing.edges", "nets/empty.edges", "nets/weighted.edges",
                "nets/header.edges", "nets/small.edges", "nets/binary.edges",
                "nets/latin1.edges", "nets/folder.edges", "/dev/zero", "/nonexistent/x.edges",
                "", "nets/\u0000.edges", 5, float("nan")]


def _nonfinite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _params(doc: dict[str, Any]) -> dict[str, Any]:
    design = doc.setdefault("design", {})
    if not isinstance(design, dict):
        return {}
    if design.get("kind") == "list" and isinstance(design.get("points"), list):
        point = design["points"][0] if design["points"] else {}
        return point if isinstance(point, dict) else {}
    params = design.setdefault("parameters", {})
    return params if isinstance(params, dict) else {}


def _table(doc: dict[str, Any], name: str) -> dict[str, Any]:
    table = doc.get(name)
    if not isinstance(table, dict):
        table = doc[name] = {}
    return table


def mutate(doc: dict[str, Any], rng: random.Random) -> Mutation:
    """Apply one random mutation to ``doc`` (in place); say what a refusal must name."""
    return rng.choice(MUTATORS)(doc, rng)


def m_number(doc, rng):
    table = rng.choice(list(NUMBERS))
    key = rng.choice(list(NUMBERS[table]))
    value = copy.deepcopy(rng.choice(NUMBERS[table][key] + WRONG_TYPES))
    _table(doc, table)[key] = value
    return Mutation(f"{table}.{key} = {value!r:.40}", f"{table}.{key}", _nonfinite(value))


def m_parameter_value(doc, rng):
    params = _params(doc)
    if not params:
        return m_number(doc, rng)
    name = rng.choice(list(params))
    value = copy.deepcopy(rng.choice(BAD_PARAMETER_VALUES))
    current = params[name]
    if isinstance(current, dict):  # bounds
        side = rng.choice(["low", "high"])
        params[name] = {**current, side: value}
    elif isinstance(current, list):
        params[name] = [value] if rng.random() < 0.5 else [*current, value]
    else:
        params[name] = value
    return Mutation(f"parameter {name} = {value!r:.40}", name, _nonfinite(value))


def m_bounds(doc, rng):
    params = _params(doc)
    if not params:
        return m_number(doc, rng)
    name = rng.choice(list(params))
    params[name] = copy.deepcopy(rng.choice([
        {"low": 5, "high": 1}, {"low": 1}, {"low": 1, "high": 1}, {"low": 0.0, "high": "x"},
        {"low": float("-inf"), "high": 0.0}, {"low": 0.0, "high": float("nan")},
        {"low": 1, "high": 2, "mid": 3}, [], {}, {"low": -1e308, "high": 1e308}]))
    value = params[name]
    nonfinite = isinstance(value, dict) and any(_nonfinite(v) for v in value.values())
    return Mutation(f"bounds {name} = {value!r:.60}", name, nonfinite)


def m_set_value(doc, rng):
    sweep = _table(doc, "sweep")
    fixed = sweep.get("set")
    if not isinstance(fixed, dict):
        fixed = sweep["set"] = {}
    key = rng.choice(["buyers.n", "buyers.need.mean", "buyers.compliance_sd",
                      "network.mean_degree", "rules.debt_weight", "steps", "network.kind"])
    value = copy.deepcopy(rng.choice(BAD_PARAMETER_VALUES))
    fixed[key] = value
    return Mutation(f"set {key} = {value!r:.40}", key, _nonfinite(value))


def m_name(doc, rng):
    params = _params(doc)
    name = rng.choice(BAD_NAMES)
    if params and rng.random() < 0.5:
        old = rng.choice(list(params))
        params[name] = params.pop(old)
    else:
        _table(doc, "sweep").setdefault("set", {})
        if isinstance(doc["sweep"]["set"], dict):
            doc["sweep"]["set"][name] = 1
    return Mutation(f"name {name!r:.40}", name if name.strip() else "")


def m_metric(doc, rng):
    value = copy.deepcopy(rng.choice([*BAD_METRICS, []]))
    sweep = _table(doc, "sweep")
    sweep["metrics"] = value if isinstance(value, list) else [value]
    return Mutation(f"metrics {sweep['metrics']!r:.40}", "sweep.metrics")


def m_scenario(doc, rng):
    value = rng.choice(BAD_SCENARIOS)
    field_name = rng.choice(["scenario", "arm"])
    _table(doc, "sweep")[field_name] = value if field_name == "scenario" else "no_such_arm"
    return Mutation(f"{field_name} = {value!r}", f"sweep.{field_name}")


def m_structure(doc, rng):
    choice = rng.randrange(8)
    if choice == 0:
        doc.pop("sweep", None)
        return Mutation("no [sweep]", "sweep")
    if choice == 1:
        doc.pop("design", None)
        return Mutation("no [design]", "design")
    if choice == 2:
        doc["sweep"] = rng.choice([5, "x", [1]])
        return Mutation("sweep is not a table", "sweep")
    if choice == 3:
        _table(doc, "sweep")["workers"] = 4
        return Mutation("unknown field sweep.workers", "workers")
    if choice == 4:
        doc["sweeps"] = {"a": 1}
        return Mutation("unknown table [sweeps]", "sweeps")
    if choice == 5:
        _table(doc, "design")["kind"] = rng.choice(["grd", 5, "", "LHS"])
        return Mutation("bad design.kind", "design.kind")
    if choice == 6:
        _table(doc, "sweep").pop(rng.choice(["scenario", "metrics"]), None)
        return Mutation("a required field missing", "sweep.")
    design = _table(doc, "design")
    design["points"] = [{"buyers.n": 50}, {"network.k": 4}]
    return Mutation("points that set different parameters", "design.")


def m_size(doc, rng):
    choice = rng.randrange(4)
    design = _table(doc, "design")
    if choice == 0:
        doc["design"] = {"kind": "grid", "parameters": {
            f"buyers.{name}": [round(0.1 * v, 1) for v in range(1, 11)]
            for name in ("reciprocator_share", "gift_rules_share", "punisher_share",
                         "decline_reply_share", "initial_trust", "gate_uptake",
                         "prior_sincerity")}}
        return Mutation("a grid of 10**7 points", "design points")
    if choice == 1:
        doc["design"] = {"kind": "sobol", "samples": 2**40, "parameters": dict(CONTINUOUS)}
        return Mutation("sobol samples 2**40", "design.samples")
    if choice == 2:
        _table(doc, "sweep")["replications"] = 900_000
        return Mutation("900,000 replications", "sweep.replications")
    design["kind"] = "list"
    design.pop("parameters", None)
    count = rng.choice([0, 60_000])  # 60,000 points do not fit in a spec's 1 MiB
    design["points"] = [{"buyers.n": 50}] * count
    return Mutation(f"a list of {count:,} points", "design.points" if not count else "bytes")


def m_network(doc, rng):
    value = rng.choice(BAD_NETWORKS)
    doc.clear()
    doc.update(copy.deepcopy(BASES["network"]))
    where = rng.randrange(3)
    if where == 0:
        doc["design"]["parameters"]["network.path"] = ["nets/ring.edges", value]
    elif where == 1:
        doc["sweep"]["set"]["network.path"] = value
        doc["design"] = {"kind": "grid", "parameters": {"buyers.need.mean": [0.3, 0.6]}}
    else:
        doc["design"] = {"kind": "list", "points": [{"network.path": "nets/ring.edges"},
                                                     {"network.path": value}]}
    return Mutation(f"network file {value!r:.40}", "network.path", _nonfinite(value))


MUTATORS: list[Callable[[dict, random.Random], Mutation]] = [
    m_number, m_number, m_parameter_value, m_parameter_value, m_bounds, m_set_value, m_name,
    m_metric, m_scenario, m_structure, m_size, m_network]
MUTATIONS = [f.__name__ for f in MUTATORS]


# Mutations of the file's text, after it is written as TOML.
def t_truncate(text: str, rng: random.Random) -> tuple[bytes, Mutation]:
    cut = rng.randrange(1, max(2, len(text)))
    return text[:cut].encode(), Mutation(f"truncated at {cut}", "")


def t_bytes(text: str, rng: random.Random) -> tuple[bytes, Mutation]:
    at = rng.randrange(len(text))
    return (text[:at].encode() + b"\xff\xfe\x80" + text[at:].encode(),
            Mutation("non-UTF-8 bytes", "not UTF-8"))


def t_empty(text: str, rng: random.Random) -> tuple[bytes, Mutation]:
    return b"", Mutation("empty file", "sweep")


def t_huge(text: str, rng: random.Random) -> tuple[bytes, Mutation]:
    return (text + "#" * (1 << 20 | rng.randrange(1000)) + "\n").encode(), Mutation(
        "a file over 1 MiB", "bytes")


def t_nested(text: str, rng: random.Random) -> tuple[bytes, Mutation]:
    depth = rng.choice([20, 200, 2000])
    nested = "{ a = " * depth + "1" + " }" * depth
    return (text.replace("[sweep]", f"[sweep]\nset = {nested}", 1).encode(),
            Mutation(f"tables nested {depth} deep", ""))


def t_garbage(text: str, rng: random.Random) -> tuple[bytes, Mutation]:
    junk = rng.choice(["[[[", "= = =", "key = \"unterminated", "[sweep]\n[sweep]", "\x00",
                       "a = 1\na = 2", "x = 0x", "d = 1979-05-27T07:32:00Z"])
    at = text.find("\n", rng.randrange(len(text))) + 1
    return (text[:at] + junk + "\n" + text[at:]).encode(), Mutation(f"junk {junk!r}", "")


TEXT_MUTATORS = [t_truncate, t_bytes, t_empty, t_huge, t_nested, t_garbage]


@dataclass
class Case:
    """One generated input (a spec or scenario file at ``path``, or ``--set`` items in ``args``)
    and what its mutations expect."""

    name: str
    base: str
    mutations: list[dict[str, Any]]
    path: str = ""
    args: list[str] = field(default_factory=list)

    @property
    def expects(self) -> list[str]:
        return [m["expect"] for m in self.mutations]

    @property
    def nonfinite(self) -> bool:
        return any(m["nonfinite"] for m in self.mutations)


def make_case(index: int, rng: random.Random) -> tuple[Case, bytes]:
    """One malformed spec: a base, one to three document mutations, and sometimes a text
    mutation."""
    base = rng.choice(list(BASES))
    doc = copy.deepcopy(BASES[base])
    applied = [mutate(doc, rng) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
    text = emit_toml(doc)
    data = text.encode()
    if rng.random() < 0.15:
        data, mutation = rng.choice(TEXT_MUTATORS)(text, rng)
        applied.append(mutation)
    case = Case(f"case-{index:04d}", base, [asdict(m) for m in applied])
    return case, data


def make_cases(count: int, seed: int, folder: Path, make_one=None) -> list[Case]:
    """Write ``count`` cases made by ``make_one(index, rng)`` (default :func:`make_case`: sweep
    specs) and the network files they use into ``folder``."""
    make_one = make_one or make_case
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    network_files(folder)
    cases = []
    for index in range(count):
        case, data = make_one(index, rng)
        path = folder / f"{case.name}.toml"
        path.write_bytes(data)
        case.path = str(path)
        cases.append(case)
    (folder / "corpus.json").write_text(json.dumps([asdict(c) for c in cases], indent=1))
    return cases


# --- scenario files ---------------------------------------------------------------------------------
#
# Each case is a shipped scenario made small (buyers.n = 60) with one to three mutations, run with
# `recip run CASE.toml --steps 2`. The numeric mutations take each field's range from the schema
# (sim.config), so every field is tried just outside its range, far outside, non-finite and with
# the wrong type; never with a valid but expensive value (that would be counted as a hang).

SMALL_BUYERS = 60


@functools.cache
def scenario_bases() -> dict[str, dict[str, Any]]:
    """The shipped scenarios as TOML documents, each with 60 buyers."""
    import tomllib

    from sim.config import list_scenarios
    from sim.paths import scenarios_dir

    bases = {}
    for name in list_scenarios():
        doc = tomllib.loads((scenarios_dir() / f"{name}.toml").read_text())
        doc.setdefault("buyers", {})["n"] = SMALL_BUYERS
        bases[name] = doc
    return bases


@dataclass(frozen=True)
class Leaf:
    """A field of the schema that holds one value: its dotted path (``{strategy}`` and
    ``{seller}`` stand for a strategy's name and a seller's index), its type and its bounds."""

    path: str
    kind: str  # "int", "float", "bool", "str", "choice"
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False


@functools.cache
def schema_leaves() -> list[Leaf]:
    """Every single-value field of the scenario schema (guide, arms, outcomes and calibration
    have their own mutations)."""
    from sim.config import Scenario

    skip = {"guide", "arms", "outcomes", "calibration", "name", "source", "arm"}
    return [leaf for leaf in _leaves(Scenario, "") if leaf.path.split(".")[0] not in skip]


def _leaves(model, prefix: str) -> list[Leaf]:
    import types
    import typing

    from pydantic import BaseModel

    out = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{info.alias or name}"
        ann, metadata = info.annotation, list(info.metadata)
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        if typing.get_origin(ann) in (typing.Union, types.UnionType) and len(args) == 1:
            ann = args[0]
        if typing.get_origin(ann) is typing.Annotated:
            ann, *extra = typing.get_args(ann)
            metadata += [m for item in extra for m in getattr(item, "metadata", [item])]
        origin = typing.get_origin(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += _leaves(ann, f"{path}.")
        elif origin is dict and name == "strategies":
            out += _leaves(typing.get_args(ann)[1], f"{path}.{{strategy}}.")
        elif origin is list and name == "sellers":
            out += _leaves(typing.get_args(ann)[0], f"{path}.{{seller}}.")
        elif ann in (int, float):
            bounds = {k: getattr(m, k) for m in metadata for k in ("ge", "gt", "le", "lt")
                      if getattr(m, k, None) is not None}
            out.append(Leaf(path, ann.__name__, bounds.get("ge", bounds.get("gt")),
                            bounds.get("le", bounds.get("lt")), "gt" in bounds, "lt" in bounds))
        elif ann is bool:
            out.append(Leaf(path, "bool"))
        elif ann is str:
            out.append(Leaf(path, "str"))
        elif origin is typing.Literal:
            out.append(Leaf(path, "choice"))
    return out


def bad_values(leaf: Leaf) -> list[Any]:
    """Values ``leaf`` must refuse: just outside its range, far outside, non-finite, wrong
    types."""
    if leaf.kind == "bool":
        return ["maybe", 2, 0.5, float("nan"), [True], {"a": 1}]
    if leaf.kind in ("str", "choice"):
        return [5, float("nan"), float("inf"), [1], {"a": 1}, True] + (
            ["no_such_choice", ""] if leaf.kind == "choice" else [])
    values: list[Any] = [float("nan"), float("inf"), float("-inf"), "twelve", True, [3],
                         {"a": 1}, ""]
    integer = leaf.kind == "int"
    if leaf.low is not None:
        span = (leaf.high - leaf.low) if leaf.high is not None else 1.0
        values.append(leaf.low if leaf.low_open else
                      leaf.low - 1 if integer else leaf.low - max(span * 1e-3, 1e-9))
        values.append(-(10**30) if integer else -1e308)
    if leaf.high is not None:
        span = (leaf.high - leaf.low) if leaf.low is not None else 1.0
        values.append(leaf.high if leaf.high_open else
                      int(leaf.high) + 1 if integer else leaf.high + max(span * 1e-3, 1e-9))
        values.append(10**30 if integer else 1e308)
    if integer:
        values.append(2.5)
    return values


def _strategy_names(doc: dict[str, Any]) -> list[str]:
    own = doc.get("strategies")
    return [*(own if isinstance(own, dict) else {}), "pushy", "active"]


def set_path(doc: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.0.c`` in ``doc``, making tables (and a first list item) on the way."""
    parts = dotted.split(".")
    node: Any = doc
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(node, list):
            node = node[int(part)]
            continue
        child = node.get(part)
        if nxt.isdigit():
            if not isinstance(child, list) or not child:
                child = node[part] = [{"strategy": "active"}]
        elif not isinstance(child, dict):
            child = node[part] = {}
        node = child
    if isinstance(node, list):
        node[int(parts[-1])] = value
    else:
        node[parts[-1]] = value


def _concrete(doc: dict[str, Any], path: str, rng: random.Random) -> str:
    return path.replace("{strategy}", rng.choice(_strategy_names(doc))).replace("{seller}", "0")


def s_number(doc, rng):
    """A field of the schema set to a value outside what it allows."""
    leaf = rng.choice(schema_leaves())
    path = _concrete(doc, leaf.path, rng)
    value = copy.deepcopy(rng.choice(bad_values(leaf)))
    set_path(doc, path, value)
    return Mutation(f"{path} = {value!r:.40}", path, _nonfinite(value))


def s_valid(doc, rng):
    """A field set to a value it allows (its bounds or between): such cases must run and write
    their outputs whole. Never a valid but expensive value (buyers.n stays small)."""
    leaf = rng.choice([leaf for leaf in schema_leaves() if leaf.kind in ("int", "float")])
    path = _concrete(doc, leaf.path, rng)
    low = leaf.low if leaf.low is not None else -1.0
    high = leaf.high if leaf.high is not None else 1.0
    if path == "buyers.n":
        high = SMALL_BUYERS
    choices = [low + (high - low) / 2] + ([] if leaf.low_open else [low]) + (
        [] if leaf.high_open else [high])
    value = rng.choice(choices)
    value = round(value) if leaf.kind == "int" else float(value)
    set_path(doc, path, value)
    return Mutation(f"{path} = {value!r} (allowed)", "")


TABLES = ["network", "buyers", "strategies", "rules", "outcomes", "arms", "calibration", "guide"]


def s_structure(doc, rng):
    choice = rng.randrange(10)
    if choice == 0:
        key = rng.choice([*TABLES, "sellers"])
        doc[key] = rng.choice([3, "x", [1], 1.5])
        return Mutation(f"{key} is not a table", key)
    if choice == 1:
        key = rng.choice(["arm", "source"])
        doc[key] = "no_such_arm" if key == "arm" else "elsewhere.toml"
        return Mutation(f"top-level {key}", key)
    if choice == 2:
        table = rng.choice(["buyers", "network", "rules", "guide"])
        name = rng.choice(["nn", "kindd", "debt_weigth", "x" * 200, "n x"])
        _table(doc, table)[name] = 5
        return Mutation(f"unknown field {table}.{name:.20}", f"{table}.{name}")
    if choice == 3:
        doc["sellers"] = []
        return Mutation("no sellers", "sellers")
    if choice == 4:
        doc["sellers"] = [{"name": "x"}]
        return Mutation("a seller without strategy", "sellers.0.strategy")
    if choice == 5:
        doc["sellers"] = [{"strategy": "active"}] * 1001
        return Mutation("1,001 sellers", "sellers")
    if choice == 6:
        doc["steps"] = rng.choice([0, -1, 100_001, 10**12, 10**30, float("nan"), "many"])
        return Mutation(f"steps = {doc['steps']!r}", "steps", _nonfinite(doc["steps"]))
    if choice == 7:
        doc["wrong_table"] = {"a": 1}
        return Mutation("unknown top-level table", "wrong_table")
    if choice == 8:
        _table(doc, "guide")["script"] = rng.choice([[{"ask": "?"}], [{"show": 5}],
                                                      [{"show": "x", "notice": 99}], "x"])
        return Mutation("bad guide.script", "guide.script")
    _table(doc, "outcomes")[rng.choice(["conversion_rate", "tips"])] = rng.choice(
        ["no_such_metric", 5, float("nan")])
    return Mutation("bad outcome", "outcomes.")


def s_reference(doc, rng):
    choice = rng.randrange(5)
    if choice == 0:
        sellers = doc.get("sellers")
        if isinstance(sellers, list) and sellers and isinstance(sellers[0], dict):
            sellers[0]["strategy"] = "sneaky"
        else:
            doc["sellers"] = [{"strategy": "sneaky"}]
        return Mutation("seller's strategy unknown", "sellers.0.strategy")
    strategies = _table(doc, "strategies")
    if choice == 1:
        strategies["gentle2"] = {"base": rng.choice(["nope", 5, "gentle2"])}
        return Mutation("bad base", "strategies.gentle2")
    if choice == 2:
        strategies["pushy"] = {"base": "active"}
        return Mutation("a preset with base", "strategies.pushy.base")
    if choice == 3:
        strategies["loop_a"] = {"base": "loop_b"}
        strategies["loop_b"] = {"base": "loop_a"}
        return Mutation("a cycle of bases", "strategies.loop_")
    _table(doc, "network")["kind"] = rng.choice(["ring", "", 5, "Erdos_Renyi"])
    return Mutation("unknown network kind", "network.kind")


def s_arm(doc, rng):
    arms = _table(doc, "arms")
    name = rng.choice([*(arms or {}), "new_arm"])
    choice = rng.randrange(6)
    if choice == 0:
        arms[name] = rng.choice([3, "x", [1]])
        return Mutation(f"arms.{name} not a table", f"arms.{name}")
    settings = arms.get(name) if isinstance(arms.get(name), dict) else {}
    arms[name] = settings
    if choice == 1:
        settings["buyers.nn"] = 5
    elif choice == 2:
        settings[rng.choice(["buyers.need.mean", "rules.debt_weight", "network.p"])] = rng.choice(
            [float("nan"), float("inf"), -1.0, 1e308, "x"])
    elif choice == 3:
        settings["sellers.9.strategy"] = "active"
    elif choice == 4:
        settings["sellers.0.strategy"] = "sneaky"
    else:
        settings["buyers.n.x"] = 1
    value = next(reversed(settings.values())) if settings else None
    return Mutation(f"arm {name} broken", f"arms.{name}", _nonfinite(value))


CALIBRATION_TARGET = {"study": "s", "condition": "c", "kind": "value", "arm": "A", "paper": 1.0,
                      "low": 0.5, "high": 1.5}


def s_calibration(doc, rng):
    arms = _table(doc, "arms")
    arms.setdefault("A", {})
    calibration = {"metric": "conversion_rate", "targets": [dict(CALIBRATION_TARGET)]}
    target = calibration["targets"][0]
    choice = rng.randrange(10)
    if choice == 0:
        doc["calibration"] = rng.choice([3, "x", [1]])
        return Mutation("calibration not a table", "calibration")
    if choice == 1:
        target["kind"] = rng.choice(["lift", 5, ""])
    elif choice == 2:
        target["arm"] = "no_such_arm"
    elif choice == 3:
        target.update(kind="relative_lift")  # no baseline
    elif choice == 4:
        target[rng.choice(["paper", "low", "high"])] = rng.choice([float("nan"), float("inf"),
                                                                   "x", 1e308])
    elif choice == 5:
        target.update(low=2.0, high=1.0)
    elif choice == 6:
        del target[rng.choice(["study", "arm", "condition"])]
    elif choice == 7:
        calibration["metric"] = rng.choice(["no_such_metric", 5, ""])
    elif choice == 8:
        calibration["facts"] = [rng.choice([
            {"fact": "f", "checks": []},
            {"fact": "f", "checks": [{"more": {"metric": "revenue"}}]},
            {"fact": "f", "checks": [{"more": {"metric": "nope"}, "less": {"metric": "revenue"}}]},
            {"fact": "f", "checks": [{"more": {"metric": "revenue", "set": {"a": float("nan")}},
                                      "less": {"metric": "revenue"}}]},
            {"fact": "f", "checks": [{"more": {"metric": "revenue", "strategy": "nobody"},
                                      "less": {"metric": "revenue", "steps": 0}}]}])]
    else:
        target["unknown_key"] = 1
    doc["calibration"] = calibration
    return Mutation("bad calibration", "calibration", _holds_nan(calibration))


def _holds_nan(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_nan(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_nan(v) for v in value)
    return _nonfinite(value)


HUGE_SIZES = [
    # each far beyond this or any machine, or a generator that would take minutes: refused
    # before anything is allocated. Every network parameter that matters is given, so that the
    # base scenario's own network cannot make the case small enough to run.
    ({"buyers.n": 20_000_000, "network.kind": "erdos_renyi", "network.p": 0.1,
      "network.mean_degree": 0.0}, "buyers.n"),
    ({"buyers.n": 20_000_001}, "buyers.n"),
    ({"buyers.n": 10_000_000, "network.kind": "watts_strogatz", "network.k": 10_000},
     "buyers.n"),
    ({"buyers.n": 15_000_000, "network.kind": "stochastic_block", "network.blocks": 4,
      "network.p_in": 0.2}, "buyers.n"),
    ({"network.kind": "stochastic_block", "network.blocks": 3000}, "network.blocks"),
    ({"network.kind": "stochastic_block", "network.blocks": 100_000}, "network.blocks"),
    ({"network.kind": "stochastic_block", "network.blocks": 10**30}, "network.blocks"),
    ({"buyers.n": 2_000_000, "network.kind": "barabasi_albert", "network.m": 3},
     "barabasi_albert"),
    ({"buyers.n": 100_000, "network.kind": "barabasi_albert", "network.m": 5000},
     "barabasi_albert"),
    ({"buyers.n": 100_000, "network.kind": "complete"}, "complete"),
    ({"buyers.n": 5_000_000, "network.kind": "watts_strogatz", "network.p": 0.0,
      "network.k": 10, "sellers": [{"strategy": "active"}]}, "network.p"),
    ({"network.mean_degree": 1e308, "network.kind": "erdos_renyi"}, "network.mean_degree"),
    ({"buyers.n": 20_000_000, "network.kind": "erdos_renyi", "network.mean_degree": 9000.0},
     "buyers.n"),
    ({"strategies.active.reach.per_day": 1e12}, "per_day"),
]


def s_size(doc, rng):
    settings, expect = rng.choice(HUGE_SIZES)
    for key, value in copy.deepcopy(settings).items():
        if "." in key:
            set_path(doc, key, value)
        else:  # new sellers: arms, calibration and guide checks may name the old ones
            doc[key] = value
            doc.pop("arms", None)
            doc.pop("calibration", None)
            if isinstance(doc.get("guide"), dict):
                doc["guide"].pop("checks", None)
                doc["guide"].pop("script", None)
    return Mutation(f"size {settings}", expect)


def s_network(doc, rng):
    value = rng.choice(BAD_NETWORKS)
    network = _table(doc, "network")
    network["kind"] = rng.choice(["edgelist", "graphml"]) if rng.random() < 0.3 else "edgelist"
    network["path"] = value
    if isinstance(doc.get("buyers"), dict):
        doc["buyers"].pop("n", None)  # buyers.n follows the file
    expect = Path(value).name if isinstance(value, str) and Path(value).name else "network.path"
    return Mutation(f"network file {value!r:.40}", expect, _nonfinite(value))


SCENARIO_MUTATORS: list[Callable[[dict, random.Random], Mutation]] = [
    s_number, s_number, s_number, s_number, s_structure, s_reference, s_arm, s_calibration,
    s_size, s_network, s_valid]


def t_scenario_empty(text: str, rng: random.Random) -> tuple[bytes, Mutation]:
    return b"", Mutation("empty file", "sellers")


def t_scenario_nested(text: str, rng: random.Random) -> tuple[bytes, Mutation]:
    depth = rng.choice([20, 200, 2000])
    nested = "{ a = " * depth + "1" + " }" * depth
    return f"deep = {nested}\n{text}".encode(), Mutation(f"tables nested {depth} deep", "")


SCENARIO_TEXT_MUTATORS = [t_truncate, t_bytes, t_scenario_empty, t_huge, t_scenario_nested,
                          t_garbage]


def make_scenario_case(index: int, rng: random.Random) -> tuple[Case, bytes]:
    """One malformed scenario file: a shipped scenario with 60 buyers, one to three mutations,
    and sometimes a mutation of its text."""
    base = rng.choice(sorted(scenario_bases()))
    doc = copy.deepcopy(scenario_bases()[base])
    applied = [rng.choice(SCENARIO_MUTATORS)(doc, rng) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
    text = emit_toml(doc)
    data = text.encode()
    if rng.random() < 0.12:
        data, mutation = rng.choice(SCENARIO_TEXT_MUTATORS)(text, rng)
        applied.append(mutation)
    return Case(f"scenario-{index:04d}", base, [asdict(m) for m in applied]), data


# --- --set values -------------------------------------------------------------------------------------

SET_KEYS_BAD = ["buyers.nn", "", " ", "buyers..n", ".", "sellers.9.strategy", "sellers.x.strategy",
                "sellers.-1.strategy", "x" * 300, "buyers.n.x", "arm", "source", "rules.debt_weigth",
                "sellers.0.strategy.x", "network.kind.x", "strategies.pushy.ask.size.x"]
SET_TABLES = ["buyers", "strategies", "strategies.pushy", "strategies.pushy.gift", "network",
              "rules", "sellers", "sellers.0", "arms", "calibration", "guide", "outcomes",
              "buyers.need"]
SET_VALUES = ["nan", "inf", "-inf", "+inf", "1e308", "-1e308", "10**12", "1e30", "-1",
              "[1, 2]", "{a = 1}", "{}", "[]", "true", '"x"', "1979-05-27", "07:32:00",
              '"unterminated', "", "x" * 5000, "9" * 40, "0x10", "nan nan", "[nan]",
              "{n = inf}", "{ mean = nan }", "1e-400"]


def make_set_cases(count: int, seed: int) -> list[Case]:
    """``count`` bad ``--set`` items: schema fields with values outside their range, tables set
    to values, bad keys, and malformed items; each run as ``recip run pushy_vs_active --steps 2
    --set buyers.n=40 --set ITEM``."""
    from sim.config import parse_value

    rng = random.Random(seed)
    cases = []
    for index in range(count):
        choice = rng.randrange(6)
        if choice <= 2:  # a field of the schema, out of range or of the wrong type
            leaf = rng.choice(schema_leaves())
            key = leaf.path.replace("{strategy}", rng.choice(["pushy", "active"])).replace(
                "{seller}", rng.choice(["0", "1"]))
            value = (rng.choice([_toml_text(v) for v in bad_values(leaf)]) if choice < 2
                     else rng.choice(SET_VALUES))
        elif choice == 3:  # a table set to a value
            key, value = rng.choice(SET_TABLES), rng.choice(["3", "nan", '"x"', "[1]", "true"])
        elif choice == 4:  # a key that is no field
            key, value = rng.choice(SET_KEYS_BAD), rng.choice(["1", "0.5", "nan", '"active"'])
        else:  # not key=value
            item = rng.choice(["=5", "noequals", "buyers.n", "= =", "==", "=", "  =1"])
            cases.append(Case(f"set-{index:04d}", "pushy_vs_active",
                              [asdict(Mutation(f"--set {item!r}", item))], args=[item]))
            continue
        item = f"{key}={value}"
        expect = key.strip() or item[:60]
        cases.append(Case(f"set-{index:04d}", "pushy_vs_active",
                          [asdict(Mutation(f"--set {item!r:.60}", expect,
                                           _holds_nan(parse_value(value.strip()))))],
                          args=[item]))
    return cases


def _toml_text(value: Any) -> str:
    """A value as a ``--set`` user would type it (TOML; bare words stay strings)."""
    return _value(value).strip()


def make_scenario_cases(count: int, seed: int, folder: Path) -> list[Case]:
    """Write ``count`` malformed scenario files (and the network files they use) into
    ``folder``."""
    return make_cases(count, seed, folder, make_scenario_case)


# --- running and judging ----------------------------------------------------------------------------


@dataclass
class Outcome:
    case: str
    verdict: str
    exit_code: int | None
    seconds: float
    problems: list[str] = field(default_factory=list)
    message: str = ""


def judge(case: Case, exit_code: int | None, output: str, out: Path, seconds: float, *,
          kind: str = "sweep") -> Outcome:
    """Classify one run of ``recip sweep`` (kind ``sweep``) or ``recip run`` (kinds ``scenario``
    and ``set``; exit 4 does not exist there); see the module docstring."""
    problems = []
    ran = (0, 4) if kind == "sweep" else (0,)
    complete = _complete if kind == "sweep" else _run_complete
    if exit_code is None:
        problems.append("hang")
    elif "Traceback (most recent call last)" in output or exit_code not in (*ran, 2):
        problems.append("traceback")
    if exit_code in ran:
        nonfinite = (_holds_nonfinite(Path(case.path)) if case.path.endswith(".toml")
                     else case.nonfinite)
        if nonfinite:
            problems.append("non-finite accepted")
        if not complete(out):
            problems.append("partial output")
    elif out.exists():
        problems.append("partial output")
    if _staging_left(out):
        problems.append("partial output")
    if exit_code == 2 and not _names_field(case, output, file=kind != "set"):
        problems.append("error without field")
    verdict = "ok" if exit_code in ran else "clean error" if exit_code == 2 else "failed"
    message = " ".join(output.split())[:300]
    return Outcome(case.name, verdict if not problems else "problem", exit_code,
                   round(seconds, 2), problems, message)


def _holds_nonfinite(path: Path) -> bool:
    """The spec file, as TOML, holds a nan or inf somewhere (a later mutation may have removed
    the one an earlier one put in)."""
    import tomllib

    def walk(value: Any) -> bool:
        if isinstance(value, float):
            return not math.isfinite(value)
        if isinstance(value, list):
            return any(walk(v) for v in value)
        if isinstance(value, dict):
            return any(walk(v) for v in value.values())
        return False

    try:
        return walk(tomllib.loads(path.read_bytes().decode("utf-8")))
    except (OSError, ValueError, RecursionError):
        return False  # not TOML: it cannot have been accepted


def _complete(out: Path) -> bool:
    try:
        manifest = json.loads((out / "manifest.json").read_text(),
                              parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
    except (OSError, ValueError):
        return False
    return manifest.get("status") == "complete" and \
        manifest.get("runs_done") == manifest.get("runs_total")


RUN_OUTPUTS = {"timeseries.parquet", "summary.json", "metrics.png", "metrics.svg"}


def _run_complete(out: Path) -> bool:
    """``recip run`` wrote its four files, and summary.json is strict JSON."""
    try:
        if {p.name for p in out.iterdir()} != RUN_OUTPUTS:
            return False
        json.loads((out / "summary.json").read_text(),
                   parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
    except (OSError, ValueError):
        return False
    return True


def _staging_left(out: Path) -> bool:
    """A staging folder of sim.outputs left beside ``out`` (or a sweep's analysis)."""
    return any(out.parent.glob(f".{out.name}.tmp-*"))


def _names_field(case: Case, output: str, *, file: bool = True) -> bool:
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    if not errors:
        return False
    text = output.replace("\n", " ")
    named_file = Path(case.path).name in text if file else True
    if "" in case.expects:  # broken TOML and the like: the file (and its line) is all there is
        return named_file
    return named_file and any(e in text or repr(e)[1:-1] in text for e in case.expects)


def command(case: Case, kind: str, out: Path) -> list[str]:
    """The recip command line that runs ``case``."""
    if kind == "sweep":
        return ["sweep", case.path, "--out", str(out), "--workers", "1"]
    if kind == "scenario":
        return ["run", case.path, "--steps", "2", "--out", str(out)]
    sets = [arg for item in case.args for arg in ("--set", item)]
    return ["run", case.base, "--steps", "2", "--set", "buyers.n=40", *sets, "--out", str(out)]


def run_case(case: Case, timeout: float, scratch: Path, kind: str = "sweep") -> Outcome:
    out = scratch / f"{case.name}-out"
    env = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1"}  # one error per line, unwrapped
    env.pop("RECIP_DEBUG", None)
    began = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", "sim.cli", *command(case, kind, out)],
                              cwd=ROOT, capture_output=True,
                              text=True, errors="replace", timeout=timeout, env=env)
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        code = None
        output = (exc.stdout or b"").decode(errors="replace") + (exc.stderr or b"").decode(
            errors="replace")
    outcome = judge(case, code, output, out, time.perf_counter() - began, kind=kind)
    shutil.rmtree(out, ignore_errors=True)
    return outcome


def summarise(outcomes: list[Outcome]) -> dict[str, Any]:
    counts = Counter(p for o in outcomes for p in o.problems)
    verdicts = Counter(o.verdict for o in outcomes)
    return {
        "cases": len(outcomes),
        "ran": verdicts["ok"],
        "clean errors": verdicts["clean error"],
        "tracebacks": counts["traceback"],
        "hangs": counts["hang"],
        "non-finite accepted": counts["non-finite accepted"],
        "partial outputs": counts["partial output"],
        "errors without field": counts["error without field"],
        "slowest case (s)": max((o.seconds for o in outcomes), default=0.0),
    }


DEFAULT_COUNTS = {"sweep": 320, "scenario": 1400, "set": 240}
WHAT = {"sweep": "sweep specs", "scenario": "scenario files", "set": "--set values"}


def make_kind(kind: str, count: int, seed: int, corpus: Path) -> list[Case]:
    """The cases of one kind (files written into ``corpus``)."""
    if kind == "sweep":
        return make_cases(count, seed, corpus)
    if kind == "scenario":
        return make_scenario_cases(count, seed, corpus)
    cases = make_set_cases(count, seed)
    corpus.mkdir(parents=True, exist_ok=True)
    (corpus / "corpus.json").write_text(json.dumps([asdict(c) for c in cases], indent=1))
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=sorted(DEFAULT_COUNTS), default="sweep")
    parser.add_argument("--count", type=int, help="cases (default: 320 sweep specs, 1,400 "
                                                   "scenario files, 240 --set values)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--corpus", type=Path, help="keep the corpus here (default: a temp dir)")
    parser.add_argument("--report", type=Path, help="write every outcome and the counts as JSON")
    args = parser.parse_args()
    count = args.count if args.count is not None else DEFAULT_COUNTS[args.kind]
    with tempfile.TemporaryDirectory(prefix="recip-fuzz-") as tmp:
        corpus = args.corpus or Path(tmp) / "corpus"
        cases = make_kind(args.kind, count, args.seed, corpus)
        scratch = Path(tmp) / "runs"
        scratch.mkdir()
        with ThreadPoolExecutor(args.jobs) as pool:
            outcomes = list(pool.map(lambda c: run_case(c, args.timeout, scratch, args.kind),
                                     cases))
    summary = summarise(outcomes)
    for outcome in outcomes:
        if outcome.problems:
            print(f"{outcome.case}: {', '.join(outcome.problems)} (exit {outcome.exit_code}): "
                  f"{outcome.message}")
    width = max(len(k) for k in summary)
    print(f"\n{WHAT[args.kind]}, seed {args.seed}:")
    for key, value in summary.items():
        print(f"  {key:<{width}}  {value}")
    if args.report:
        args.report.write_text(json.dumps({"summary": summary,
                                           "outcomes": [asdict(o) for o in outcomes]}, indent=1))
    bad = sum(summary[k] for k in ("tracebacks", "hangs", "non-finite accepted",
                                   "partial outputs", "errors without field"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
