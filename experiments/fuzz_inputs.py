"""Fuzz corpus for recip's inputs: generate malformed files, run each through the CLI, count
what went wrong.

Kinds: ``sweep`` (sweep specs, run with ``recip sweep``). Each case starts from a small valid
spec (grid, list, lhs, sobol, morris, a grid over network files) and gets one to three mutations:
wrong types, out-of-range and non-finite numbers, huge sizes, unknown names, broken TOML,
non-UTF-8 bytes, missing and malformed network files. Every case runs in its own process with a
fresh ``--out`` and a time limit, and is classified:

- ``ok``: exit 0 (a valid spec ran; the output folder is complete) or 4 (it ran, some runs
  raised: every other row is written);
- ``clean error``: exit 2 with one ``error:`` line naming the spec file and the mutated field;
- ``traceback``: a Python traceback in the output, or an exit code other than 0, 2 and 4
  (1 is an unexpected error reported on one line: counted as a traceback, it is a bug);
- ``hang``: still running at the time limit;
- ``non-finite accepted``: a nan or inf was put in the spec and the sweep ran;
- ``partial output``: a refused sweep left its ``--out`` folder behind, or an accepted one left
  an incomplete folder;
- ``error without field``: exit 2 but the message does not name the file or the field.

The bar is 0 of each but the first two.

Usage::

    python experiments/fuzz_inputs.py --kind sweep [--count 320] [--seed 1] [--jobs 2]
        [--timeout 60] [--corpus DIR] [--report FILE.json]

The generator (:func:`make_cases`, :data:`MUTATIONS`, :func:`emit_toml`) is also what
``tests/test_sweep_fuzz.py`` draws from with hypothesis.
"""

from __future__ import annotations

import argparse
import copy
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
    """One generated spec file and what its mutations expect."""

    name: str
    base: str
    mutations: list[dict[str, Any]]
    path: str = ""

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


def make_cases(count: int, seed: int, folder: Path) -> list[Case]:
    """Write ``count`` cases (and the network files they use) into ``folder``."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    network_files(folder)
    cases = []
    for index in range(count):
        case, data = make_case(index, rng)
        path = folder / f"{case.name}.toml"
        path.write_bytes(data)
        case.path = str(path)
        cases.append(case)
    (folder / "corpus.json").write_text(json.dumps([asdict(c) for c in cases], indent=1))
    return cases


# --- running and judging ----------------------------------------------------------------------------


@dataclass
class Outcome:
    case: str
    verdict: str
    exit_code: int | None
    seconds: float
    problems: list[str] = field(default_factory=list)
    message: str = ""


def judge(case: Case, exit_code: int | None, output: str, out: Path, seconds: float) -> Outcome:
    """Classify one run (see the module docstring)."""
    problems = []
    if exit_code is None:
        problems.append("hang")
    elif "Traceback (most recent call last)" in output or exit_code not in (0, 2, 4):
        problems.append("traceback")
    if exit_code in (0, 4):
        if _holds_nonfinite(Path(case.path)):
            problems.append("non-finite accepted")
        if not _complete(out):
            problems.append("partial output")
    elif out.exists():
        problems.append("partial output")
    if exit_code == 2 and not _names_field(case, output):
        problems.append("error without field")
    verdict = "ok" if exit_code in (0, 4) else "clean error" if exit_code == 2 else "failed"
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


def _names_field(case: Case, output: str) -> bool:
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    if not errors:
        return False
    text = output.replace("\n", " ")
    named_file = Path(case.path).name in text
    if "" in case.expects:  # broken TOML and the like: the file (and its line) is all there is
        return named_file
    return named_file and any(e in text or repr(e)[1:-1] in text for e in case.expects)


def run_case(case: Case, timeout: float, scratch: Path) -> Outcome:
    out = scratch / f"{case.name}-out"
    env = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1"}  # one error per line, unwrapped
    began = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", "sim.cli", "sweep", case.path, "--out",
                               str(out), "--workers", "1"], cwd=ROOT, capture_output=True,
                              text=True, errors="replace", timeout=timeout, env=env)
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        code = None
        output = (exc.stdout or b"").decode(errors="replace") + (exc.stderr or b"").decode(
            errors="replace")
    outcome = judge(case, code, output, out, time.perf_counter() - began)
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["sweep"], default="sweep")
    parser.add_argument("--count", type=int, default=320)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--corpus", type=Path, help="keep the corpus here (default: a temp dir)")
    parser.add_argument("--report", type=Path, help="write every outcome and the counts as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="recip-fuzz-") as tmp:
        corpus = args.corpus or Path(tmp) / "corpus"
        cases = make_cases(args.count, args.seed, corpus)
        scratch = Path(tmp) / "runs"
        scratch.mkdir()
        with ThreadPoolExecutor(args.jobs) as pool:
            outcomes = list(pool.map(lambda c: run_case(c, args.timeout, scratch), cases))
    summary = summarise(outcomes)
    for outcome in outcomes:
        if outcome.problems:
            print(f"{outcome.case}: {', '.join(outcome.problems)} (exit {outcome.exit_code}): "
                  f"{outcome.message}")
    width = max(len(k) for k in summary)
    print(f"\n{args.kind} specs, seed {args.seed}:")
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
