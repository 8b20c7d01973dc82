"""The sweep spec: its schema, loading, and checks against the scenario before any run.

Every error is a :class:`SweepSpecError` whose message names the spec file, the field, the value
and what is allowed, e.g.::

    study.toml: design.kind = 'grd': must be one of 'grid', 'list', 'lhs', 'sobol', 'morris'
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from sim.config import ScenarioError
from sim.metrics import METRIC_NAME

DESIGN_KINDS = ("grid", "list", "lhs", "sobol", "morris")
CONTINUOUS_KINDS = ("lhs", "sobol", "morris")
DEFAULT_LEVELS = 4

# Limits: each large enough for any real study, small enough that nothing is built or run that
# would exhaust the machine before the user hears about it.
MAX_STEPS = 100_000
"""As a scenario's own ``steps`` (sim.config.Scenario.steps)."""
MAX_RUNS = 1_000_000
"""Design points x replications. A million runs of a small model is a day on a workstation;
more is a sign of a typo (a grid of 10 parameters x 10 values is 10**10 points)."""
MAX_POINTS = MAX_RUNS
MAX_PARAMETERS = 100
MAX_METRICS = 200
MAX_BATCH = 10_000
MAX_LEVELS = 100
MAX_SEED = 2**63 - 1
MAX_SPEC_BYTES = 1 << 20
MAX_NESTING = 16
MAX_TEXT = 4096
FILE_PARAMETERS = ("network.path",)
"""Override keys whose values are files: a relative path is relative to the spec's folder."""

# A parameter value as TOML gives it. Strict types so that `true` stays a bool and `1` an int.
Scalar = StrictBool | StrictInt | StrictFloat | StrictStr
Number = StrictInt | StrictFloat
Count = StrictInt  # TOML integers only: `steps = "10"` or `steps = 10.5` is a mistake


class SweepSpecError(ScenarioError):
    """A sweep spec that cannot be run; the message says where and why."""


class _Strict(BaseModel):
    # allow_inf_nan=False: TOML's nan and inf are never a sensible value in a spec (the
    # before-validators give the clearer message; this is the backstop).
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class Bounds(_Strict):
    """The range of a parameter in a continuous design (lhs, sobol, morris)."""

    low: Number
    high: Number

    @property
    def integer(self) -> bool:
        """Both bounds written as integers: sampled values are rounded to integers."""
        return isinstance(self.low, int) and isinstance(self.high, int)


class Sweep(_Strict):
    """The ``[sweep]`` table: what to run and what to record."""

    scenario: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    arm: Annotated[str, Field(max_length=MAX_TEXT)] | None = None
    steps: Annotated[Count, Field(ge=1, le=MAX_STEPS)] | None = None
    replications: Annotated[Count, Field(ge=1, le=MAX_RUNS)] = 1
    seed: Annotated[Count, Field(ge=0, le=MAX_SEED)] = 0
    metrics: list[str] = Field(min_length=1, max_length=MAX_METRICS)
    every: Annotated[Count, Field(ge=0, le=MAX_STEPS)] = 0
    batch: Annotated[Count, Field(ge=1, le=MAX_BATCH)] | None = None
    fixed: dict[str, Scalar] = Field(default={}, alias="set")

    @model_validator(mode="before")
    @classmethod
    def _flatten_set(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("set"), dict):
            data = {**data, "set": flatten(data["set"], where="sweep.set")}
            for name, value in data["set"].items():
                _check_scalar(f'sweep.set."{name}"', value)
        return data

    @model_validator(mode="after")
    def _plain_text(self):
        for field, text in (("sweep.scenario", self.scenario), ("sweep.arm", self.arm)):
            if text is not None and not text.isprintable():
                raise ValueError(f"{field} = {text!r}: control characters are not allowed; give "
                                 f"a scenario name or a path to a .toml file")
        return self

    @model_validator(mode="after")
    def _metric_names(self):
        seen = set()
        for name in self.metrics:
            if not METRIC_NAME.match(name):
                raise ValueError(f"sweep.metrics: {name!r} is not a metric name; write a name such "
                                 f"as 'conversion_rate' or a per-strategy name such as "
                                 f"'conversion_rate[pushy]'")
            if name in seen:
                raise ValueError(f"sweep.metrics: {name!r} is listed twice")
            seen.add(name)
        return self


class Design(_Strict):
    """The ``[design]`` table: which parameter values to run."""

    kind: Literal["grid", "list", "lhs", "sobol", "morris"]
    parameters: dict[str, list[Scalar] | Bounds] = Field(default={}, max_length=MAX_PARAMETERS)
    points: list[dict[str, Scalar]] = Field(default=[], max_length=MAX_POINTS)
    samples: Annotated[Count, Field(ge=1, le=MAX_POINTS)] | None = None
    levels: Annotated[Count, Field(ge=2, le=MAX_LEVELS)] = DEFAULT_LEVELS
    second_order: StrictBool = False

    @model_validator(mode="before")
    @classmethod
    def _shapes(cls, data: Any) -> Any:
        """Flatten dotted names written as nested tables, and check each parameter's shape here
        so the message is about the user's value, not about pydantic's union members."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        kind = data.get("kind")
        if isinstance(data.get("parameters"), dict):
            data["parameters"] = flatten(data["parameters"], where="design.parameters")
            for name, value in data["parameters"].items():
                _check_parameter_shape(kind, name, value)
        if isinstance(data.get("points"), list):
            data["points"] = [flatten(p, where=f"design.points[{i}]") if isinstance(p, dict) else p
                              for i, p in enumerate(data["points"])]
            for i, point in enumerate(data["points"]):
                for name, value in (point.items() if isinstance(point, dict) else ()):
                    _check_scalar(f'design.points[{i}]."{name}"', value)
        return data

    @model_validator(mode="after")
    def _fits_kind(self):
        if self.kind == "list":
            _check_points(self.points)
        else:
            if self.points:
                raise ValueError(f"design.points: only kind = 'list' takes points (kind is "
                                 f"{self.kind!r}); use [design.parameters]")
            if not self.parameters:
                raise ValueError(f"design.parameters: kind = {self.kind!r} needs at least one "
                                 f"parameter, e.g. \"buyers.n\" = "
                                 f"{'[100, 200]' if self.kind == 'grid' else '{ low = 100, high = 500 }'}")
        if self.kind in CONTINUOUS_KINDS:
            _check_continuous(self)
        elif self.samples is not None:
            raise ValueError(f"design.samples = {self.samples}: only kinds 'lhs', 'sobol' and "
                             f"'morris' take samples (kind is {self.kind!r})")
        # Defaults pass for any kind, so that a spec dumped with its defaults loads back.
        if self.levels != DEFAULT_LEVELS and self.kind != "morris":
            raise ValueError(f"design.levels = {self.levels}: only kind = 'morris' takes levels")
        if self.second_order and self.kind != "sobol":
            raise ValueError("design.second_order = true: only kind = 'sobol' takes "
                             "second_order")
        if self.kind == "morris" and self.levels % 2:
            raise ValueError(f"design.levels = {self.levels}: Morris needs an even number of "
                             f"levels (an odd number biases the sample), e.g. {self.levels + 1}")
        if self.kind == "grid":
            for name, values in self.parameters.items():
                _check_grid_values(name, values)  # type: ignore[arg-type]
        if len(self.parameter_names) > MAX_PARAMETERS:
            raise ValueError(f"design.points: {len(self.parameter_names)} parameters; at most "
                             f"{MAX_PARAMETERS}")
        count = self.point_count()
        if count > MAX_POINTS:
            raise ValueError(f"design: {self._count_text()} = {count:,} design points; at most "
                             f"{MAX_POINTS:,}. Use fewer values or samples (an lhs or sobol "
                             f"design covers many parameters with far fewer points)")
        return self

    def point_count(self) -> int:
        """The number of design points, computed without building them."""
        d = len(self.parameter_names)
        if self.kind == "grid":
            return math.prod(len(v) for v in self.parameters.values())  # type: ignore[arg-type]
        if self.kind == "list":
            return len(self.points)
        n = self.samples or 0
        if self.kind == "sobol":
            return n * (2 * d + 2 if self.second_order else d + 2)
        if self.kind == "morris":
            return n * (d + 1)
        return n

    def _count_text(self) -> str:
        d = len(self.parameter_names)
        if self.kind == "grid":
            return "a grid of " + " x ".join(str(len(v)) for v in self.parameters.values())
        if self.kind == "sobol":
            per_sample = f"2 x {d} + 2" if self.second_order else f"{d} + 2"
            return f"design.samples = {self.samples} x ({per_sample})"
        if self.kind == "morris":
            return f"design.samples = {self.samples} x ({d} + 1)"
        return f"design.{'points' if self.kind == 'list' else 'samples'}"

    @property
    def parameter_names(self) -> list[str]:
        """The varied parameters, in the order written in the spec."""
        if self.kind == "list":
            return list(self.points[0])
        return list(self.parameters)


class SweepSpec(_Strict):
    """A whole sweep spec file."""

    sweep: Sweep
    design: Design
    source: str = ""
    """The spec file this came from (filled in by :func:`load_spec`)."""

    @model_validator(mode="after")
    def _no_overlap(self):
        both = sorted(set(self.sweep.fixed) & set(self.design.parameter_names))
        if both:
            raise ValueError(f"sweep.set and the design both set {', '.join(both)}; a parameter is "
                             f"either fixed (sweep.set) or varied (design), not both")
        runs = self.design.point_count() * self.sweep.replications
        if runs > MAX_RUNS:
            raise ValueError(f"sweep.replications = {self.sweep.replications} x "
                             f"{self.design.point_count():,} design points = {runs:,} runs; at "
                             f"most {MAX_RUNS:,} runs per sweep")
        return self

    @property
    def base_dir(self) -> Path:
        """The folder relative paths in the spec are relative to: the spec file's (the working
        directory for a spec built in code)."""
        source = Path(self.source)
        return source.parent.absolute() if source.suffix == ".toml" else Path.cwd()

    def fingerprint(self) -> str:
        """A hash of everything that decides the rows (not ``batch`` nor the file's location):
        ``--resume`` refuses to add runs of a different spec to an output folder."""
        content = self.model_dump(mode="json", by_alias=True, exclude={"source"})
        content["sweep"].pop("batch", None)
        text = json.dumps(content, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def flatten(table: Mapping[str, Any], prefix: str = "", *, where: str = "") -> dict[str, Any]:
    """Dotted names from nested tables: ``{"buyers": {"n": [1]}}`` -> ``{"buyers.n": [1]}``.

    TOML reads an unquoted ``buyers.n = 5`` as nested tables; a ``{low, high}`` table is bounds,
    not a level of nesting.

    >>> flatten({"buyers": {"n": [1, 2]}, "gift.value": {"low": 1, "high": 2}})
    {'buyers.n': [1, 2], 'gift.value': {'low': 1, 'high': 2}}
    """
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and not set(value) <= {"low", "high"}:
            if name.count(".") >= MAX_NESTING:
                raise ValueError(f'{where}."{name}": nested more than {MAX_NESTING} levels deep; '
                                 f"parameter names are dotted keys such as \"buyers.n\"")
            flat.update(flatten(value, f"{name}.", where=where))
        else:
            flat[name] = value
    return flat


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_scalar(where: str, value: Any) -> None:
    """A parameter value: a finite number, a string without control characters, or a boolean."""
    if not isinstance(value, bool | int | float | str):
        kind = ("a list" if isinstance(value, list) else "a table" if isinstance(value, dict)
                else "a date or time" if hasattr(value, "isoformat") else type(value).__name__)
        raise ValueError(f"{where} = {_shown(value)}: must be one number, string or boolean, "
                         f"not {kind}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} = {value!r}: must be a finite number (nan and inf are not "
                         f"allowed)")
    if isinstance(value, str) and not value.isprintable():
        raise ValueError(f"{where} = {value!r}: control characters are not allowed in a value")
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise ValueError(f"{where}: a text value of {len(value):,} characters; at most "
                         f"{MAX_TEXT:,}")


def _check_parameter_shape(kind: Any, name: str, value: Any) -> None:
    where = f'design.parameters."{name}" = {value!r}'
    if kind in CONTINUOUS_KINDS:
        if not (isinstance(value, dict) and set(value) == {"low", "high"}):
            raise ValueError(f"{where}: kind = {kind!r} takes bounds, e.g. "
                             f'"{name}" = {{ low = 0.1, high = 0.9 }}')
        low, high = value["low"], value["high"]
        if not all(_is_number(v) for v in (low, high)):
            raise ValueError(f"{where}: low and high must be numbers")
        if not all(math.isfinite(v) for v in (low, high)):
            raise ValueError(f"{where}: low and high must be finite numbers (nan and inf are "
                             f"not allowed)")
        if not low < high:
            raise ValueError(f"{where}: low must be below high")
    elif kind == "grid":
        if not isinstance(value, list):
            raise ValueError(f"{where}: kind = 'grid' takes a list of values, e.g. "
                             f'"{name}" = [100, 200]')
        if not value:
            raise ValueError(f"{where}: a grid parameter needs at least one value")
        for item in value:
            if not isinstance(item, bool | int | float | str):
                raise ValueError(f"{where}: values must be numbers, strings or booleans, not "
                                 f"{item!r}")
            _check_scalar(f'design.parameters."{name}"', item)
    elif kind == "list":
        raise ValueError(f"{where}: kind = 'list' takes [[design.points]] tables, not "
                         f"[design.parameters]")


def _family(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


def _check_grid_values(name: str, values: list[Any]) -> None:
    families = {_family(v) for v in values}
    if len(families) > 1:
        raise ValueError(f'design.parameters."{name}" = {values!r}: values must all be numbers, '
                         f"all strings or all booleans")
    if len({(type(v), v) for v in values}) < len(values):
        raise ValueError(f'design.parameters."{name}" = {values!r}: a value is repeated')


def _check_points(points: list[dict[str, Any]]) -> None:
    if not points:
        raise ValueError("design.points: kind = 'list' needs [[design.points]] tables, one per "
                         "point, e.g. [[design.points]] \"buyers.n\" = 100")
    names = set(points[0])
    if not names:
        raise ValueError("design.points[0] is empty; each point sets at least one parameter")
    for i, point in enumerate(points):
        if set(point) != names:
            raise ValueError(f"design.points[{i}] sets {', '.join(sorted(point)) or 'nothing'} but "
                             f"design.points[0] sets {', '.join(sorted(names))}; every point must "
                             f"set the same parameters")
    for name in names:
        families = {_family(p[name]) for p in points}
        if len(families) > 1:
            raise ValueError(f'design.points: "{name}" must be all numbers, all strings or all '
                             f"booleans across points")



def _check_continuous(design: Design) -> None:
    if design.samples is None:
        what = {"lhs": "the number of points", "sobol": "N, giving N*(D+2) points",
                "morris": "the number of trajectories, giving N*(D+1) points"}[design.kind]
        raise ValueError(f"design.samples: kind = {design.kind!r} needs samples ({what}), "
                         f"e.g. samples = 64")
    n = design.samples
    if design.kind == "sobol" and n & (n - 1):
        raise ValueError(f"design.samples = {n}: Sobol (Saltelli) sampling needs a power of two, "
                         f"e.g. {1 << (n.bit_length() - 1)} or {1 << n.bit_length()}")
    if design.kind == "morris" and n < 2:
        raise ValueError(f"design.samples = {n}: Morris needs at least 2 trajectories")


# --- loading ------------------------------------------------------------------------------------


def load_spec(path: str | Path, *, check_scenario: bool = True) -> SweepSpec:
    """Load a sweep spec file and check it, before any run, against the scenario it names.

    A relative scenario path (``scenario = "my.toml"``) and relative network files
    (``network.path``) are taken relative to the spec file. Raises :class:`SweepSpecError`
    naming the file, the field, the value and what is allowed.
    """
    path = Path(path)
    raw = _read_spec(path)
    spec = parse_spec(raw, origin=str(path))
    spec.sweep.scenario = _resolve_scenario(spec.sweep.scenario, path.parent)
    if check_scenario:
        check_against_scenario(spec)
    return spec


def _read_spec(path: Path) -> dict[str, Any]:
    """The spec file's TOML, or a one-line error for anything that is not a small text file."""
    try:
        if not path.exists():
            raise SweepSpecError(f"sweep spec {str(path)!r} does not exist")
        if not path.is_file():
            raise SweepSpecError(f"sweep spec {str(path)!r} is not a regular file; give a .toml "
                                 f"file")
        size = path.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise SweepSpecError(f"{path}: {size:,} bytes; a sweep spec is at most "
                                 f"{MAX_SPEC_BYTES:,} bytes (list long designs as lhs or sobol)")
        data = path.read_bytes()
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise SweepSpecError(f"sweep spec {str(path)!r} cannot be read: "
                             f"{getattr(exc, 'strerror', None) or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SweepSpecError(f"{path}: not UTF-8 text (byte {exc.start}); save the spec as "
                             f"UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SweepSpecError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise SweepSpecError(f"{path}: not valid TOML: arrays or tables nested too deeply"
                             ) from None


def parse_spec(raw: Mapping[str, Any], *, origin: str = "<spec>") -> SweepSpec:
    """Validate a spec already read into a dict (e.g. built in code); no scenario checks."""
    try:
        return SweepSpec.model_validate({**raw, "source": origin})
    except ValidationError as exc:
        raise SweepSpecError(describe_errors(exc, origin)) from None


def _resolve_scenario(scenario: str, base: Path) -> str:
    if not (scenario.endswith(".toml") or "/" in scenario):
        return scenario  # a shipped scenario's name
    candidate = Path(scenario)
    if not candidate.is_absolute():
        candidate = base / candidate
    # An absolute path so that workers started elsewhere (a Dask cluster) find the same file.
    try:
        return str(candidate.resolve()) if candidate.is_file() else scenario
    except (OSError, ValueError):
        return scenario  # unreadable: the scenario check says so


def resolve_files(overrides: Mapping[str, Any], base: str | Path) -> dict[str, Any]:
    """``overrides`` with the values of :data:`FILE_PARAMETERS` made absolute against ``base``
    (the spec's folder), so that a sweep runs the same from any working directory.

    >>> resolve_files({"network.path": "nets/a.edges", "buyers.n": 5}, "/study")
    {'network.path': '/study/nets/a.edges', 'buyers.n': 5}
    """
    resolved = dict(overrides)
    for key in FILE_PARAMETERS:
        value = resolved.get(key)
        if isinstance(value, str) and value and not os.path.isabs(value):
            resolved[key] = os.path.join(str(base), value)
    return resolved


ALLOWED = {
    "sweep": "a table, [sweep]",
    "design": "a table, [design]",
    "sweep.scenario": "a shipped scenario's name or a path to a .toml file",
    "sweep.arm": "the name of one of the scenario's arms",
    "sweep.steps": f"a whole number from 1 to {MAX_STEPS:,} (or none: the scenario's own)",
    "sweep.replications": f"a whole number from 1 to {MAX_RUNS:,}",
    "sweep.seed": "a whole number from 0 to 2**63 - 1",
    "sweep.metrics": f"a list of 1 to {MAX_METRICS} metric names",
    "sweep.every": f"a whole number from 0 (the final step only) to {MAX_STEPS:,}",
    "sweep.batch": f"a whole number from 1 to {MAX_BATCH:,} (or none: automatic)",
    "sweep.set": "a table of dotted keys and numbers, strings or booleans",
    "design.parameters": f"a table of 1 to {MAX_PARAMETERS} parameters",
    "design.points": f"1 to {MAX_POINTS:,} [[design.points]] tables",
    "design.samples": f"a whole number from 1 to {MAX_POINTS:,}",
    "design.levels": f"an even whole number from 2 to {MAX_LEVELS}",
    "design.second_order": "true or false",
}
"""What each field allows, added to pydantic's own messages."""

MAX_SHOWN = 120
"""Characters of a value repeated in a message (a huge value is cut)."""


def describe_errors(exc: ValidationError, origin: str) -> str:
    """One line per problem: ``field = value: what is wrong and what is allowed``."""
    lines = []
    for err in exc.errors():
        parts = [str(part) for part in err["loc"] if part != "source"]
        loc = ".".join(parts)
        msg = err["msg"].removeprefix("Value error, ")
        shown = _shown(err.get("input"))
        if err["type"] == "extra_forbidden":
            allowed = _allowed_fields(err["loc"][:-1])
            lines.append(f"{loc} = {shown}: unknown field; allowed: {', '.join(allowed)}")
        elif err["type"] == "missing":
            lines.append(f"{loc}: missing; this field is required")
        elif err["type"] == "literal_error":
            allowed = ", ".join(repr(k) for k in DESIGN_KINDS)
            lines.append(f"{loc} = {shown}: must be one of {allowed}")
        elif err["type"] == "value_error":
            lines.append(msg)  # our own checks: the message already names field and value
        else:
            field = ".".join(parts[:2])
            allowed = f"; allowed: {ALLOWED[field]}" if field in ALLOWED else ""
            lines.append(f"{loc} = {shown}: {msg}{allowed}" if loc else msg)
    return f"{origin}: " + ("\n  " if len(lines) > 1 else "") + "\n  ".join(lines)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN]}... ({len(text):,} characters)"


def _allowed_fields(loc: tuple) -> list[str]:
    models: dict[tuple, type[BaseModel]] = {(): SweepSpec, ("sweep",): Sweep, ("design",): Design}
    model = models.get(tuple(loc))
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items() if name != "source"]


# --- checks against the scenario ---------------------------------------------------------------


def check_against_scenario(spec: SweepSpec) -> None:
    """Fail before any run if the scenario, arm, a parameter, a value, a network file or a
    metric is not usable.

    Each parameter is tried with its extreme values (numbers) or every value (strings,
    booleans), the other parameters at their first value, so a bad name or an out-of-range value
    is found without running anything. Every network file is opened and its network built once.
    """
    sweep = spec.sweep

    def attempt(field: str, overrides: Mapping[str, Any], arm: str | None = sweep.arm):
        return _load(spec, field, overrides, arm)

    attempt(f"sweep.scenario = {sweep.scenario!r}", {}, arm=None)
    if sweep.arm is not None:
        attempt(f"sweep.arm = {sweep.arm!r}", {})
    base = base_overrides(spec)
    config = _load_base(spec, base)
    # The base loads: a failure below is the value tried, not another parameter.
    for name, values in _values_to_try(spec).items():
        for value in values:
            attempt(f'design.parameters."{name}" = {value!r}', {**base, name: value})
    _check_network_files(spec, base)
    _check_metrics(spec, config)


def _load_base(spec: SweepSpec, base: dict[str, Any]) -> Any:
    """The scenario with ``sweep.set`` and the design's first values, or an error blaming the
    value at fault.

    They are loaded together because a set value may need a design value (network.kind =
    "edgelist" needs the design's network.path): on its own, such a value would fail. So the
    value blamed is the one whose removal makes the rest load; failing that (two bad values),
    a design value that fails on its own or a set value that fails with the design's values;
    failing that, the combination.
    """
    design = _first_values(spec)
    field = "sweep.set with the design's first values" if design else "sweep.set"
    try:
        return _load(spec, field, base, spec.sweep.arm)
    except SweepSpecError as together:
        suspects = [(f'design.parameters."{k}" = {v!r}', k, v) for k, v in design.items()]
        suspects += [(f'sweep.set."{k}" = {v!r}', k, v) for k, v in spec.sweep.fixed.items()]
        for where, key, value in suspects:
            rest = {k: v for k, v in base.items() if k != key}
            if _loads(spec, rest):
                _load(spec, where, {key: value}, spec.sweep.arm)  # its own message, if alone
                _load(spec, where, base, spec.sweep.arm)  # else the message in company
        for where, key, value in suspects:  # with the design's values a set value may need
            _load(spec, where, {**design, key: value} if key in spec.sweep.fixed
                  else {key: value}, spec.sweep.arm)
        raise together from None


def _loads(spec: SweepSpec, overrides: dict[str, Any]) -> bool:
    try:
        _load(spec, "", overrides, spec.sweep.arm)
    except SweepSpecError:
        return False
    return True


def _load(spec: SweepSpec, field: str, overrides: Mapping[str, Any], arm: str | None):
    """The scenario with ``overrides`` (files resolved against the spec), or an error that names
    the spec's ``field``."""
    from sim.config import load_scenario

    try:
        return load_scenario(spec.sweep.scenario, arm=arm,
                             overrides=resolve_files(overrides, spec.base_dir))
    except ScenarioError as exc:
        raise SweepSpecError(f"{spec.source}: {field}: {exc}") from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, RecursionError) as exc:
        # The scenario loader should have said ScenarioError; still one line for the user.
        raise SweepSpecError(f"{spec.source}: {field}: not a usable value "
                             f"({type(exc).__name__}: {exc})") from None


def _file_values(spec: SweepSpec) -> list[tuple[str, str, dict[str, Any]]]:
    """Each file named in the spec (FILE_PARAMETERS): the field, the value as written, and the
    overrides of the first design point that uses it."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    fixed = dict(spec.sweep.fixed)
    design = spec.design
    for key in FILE_PARAMETERS:
        if isinstance(fixed.get(key), str):
            found.setdefault(fixed[key], (f'sweep.set."{key}"', {**fixed, **_first_values(spec)}))
        if design.kind == "grid" and isinstance(design.parameters.get(key), list):
            first = {**fixed, **_first_values(spec)}
            for value in design.parameters[key]:  # type: ignore[union-attr]
                found.setdefault(value, (f'design.parameters."{key}"', {**first, key: value}))
        if design.kind == "list":
            for i, point in enumerate(design.points):
                if isinstance(point.get(key), str):
                    found.setdefault(point[key], (f'design.points[{i}]."{key}"', {**fixed, **point}))
    return [(field, value, overrides) for value, (field, overrides) in found.items()]


def _check_network_files(spec: SweepSpec, base: Mapping[str, Any]) -> None:
    """Every network file (in the spec, or the scenario's own) loads: it exists, is a readable
    regular file, parses, and fits the run (``load_scenario`` reads and checks it, naming the
    file and line). Checked once, before the sweep starts."""
    checks = _file_values(spec)
    if not checks:
        checks = [("sweep.scenario", "", dict(base))]  # the scenario's own network file, if any
    for field, value, overrides in checks:
        _load(spec, f"{field} = {value!r}" if value else field, overrides, spec.sweep.arm)


def base_overrides(spec: SweepSpec) -> dict[str, Any]:
    """``sweep.set`` with each design parameter at its first value: a valid scenario to load
    when the design's own values do not matter (they are overridden per point)."""
    return {**spec.sweep.fixed, **_first_values(spec)}


def _first_values(spec: SweepSpec) -> dict[str, Any]:
    return {name: values[0] for name, values in _values_to_try(spec).items()}


def _values_to_try(spec: SweepSpec) -> dict[str, list[Any]]:
    design = spec.design
    if design.kind in CONTINUOUS_KINDS:
        return {name: [b.low, b.high] if b.integer else [float(b.low), float(b.high)]
                for name, b in design.parameters.items()}  # type: ignore[union-attr]
    if design.kind == "grid":
        columns = {name: list(values) for name, values in design.parameters.items()}
    else:
        columns = {name: [p[name] for p in design.points] for name in design.parameter_names}
    tried = {}
    for name, values in columns.items():
        if all(_family(v) == "number" for v in values):
            tried[name] = list(dict.fromkeys([values[0], min(values), max(values)]))
        else:
            tried[name] = list(dict.fromkeys(values))
    return tried


def _check_metrics(spec: SweepSpec, config: Any) -> None:
    from sim.metrics import metric_names

    known = metric_names(config)
    strategies = config.strategies_in_play
    for name in spec.sweep.metrics:
        match = METRIC_NAME.match(name)
        assert match is not None  # checked by the schema
        if match["metric"] not in known:
            raise SweepSpecError(
                f"{spec.source}: sweep.metrics: {name!r} is not a metric of scenario "
                f"{config.name!r}; allowed: {', '.join(known)}, each also as name[strategy] with "
                f"strategy one of {', '.join(strategies)}")
        if match["strategy"] is not None and match["strategy"] not in strategies:
            raise SweepSpecError(
                f"{spec.source}: sweep.metrics: {name!r}: strategy {match['strategy']!r} is not "
                f"in play in scenario {config.name!r}; in play: {', '.join(strategies)}")
