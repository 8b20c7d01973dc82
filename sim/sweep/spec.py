"""The sweep spec: its schema, loading, and checks against the scenario before any run.

Every error is a :class:`SweepSpecError` whose message names the spec file, the field, the value
and what is allowed, e.g.::

    study.toml: design.kind = 'grd': must be one of 'grid', 'list', 'lhs', 'sobol', 'morris'
"""

from __future__ import annotations

import hashlib
import json
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

# A parameter value as TOML gives it. Strict types so that `true` stays a bool and `1` an int.
Scalar = StrictBool | StrictInt | StrictFloat | StrictStr
Number = StrictInt | StrictFloat


class SweepSpecError(ScenarioError):
    """A sweep spec that cannot be run; the message says where and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


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

    scenario: str
    arm: str | None = None
    steps: Annotated[int, Field(ge=1)] | None = None
    replications: Annotated[int, Field(ge=1)] = 1
    seed: Annotated[int, Field(ge=0)] = 0
    metrics: list[str] = Field(min_length=1)
    every: Annotated[int, Field(ge=0)] = 0
    batch: Annotated[int, Field(ge=1)] | None = None
    fixed: dict[str, Scalar] = Field(default={}, alias="set")

    @model_validator(mode="before")
    @classmethod
    def _flatten_set(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("set"), dict):
            data = {**data, "set": flatten(data["set"])}
        return data

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
    parameters: dict[str, list[Scalar] | Bounds] = {}
    points: list[dict[str, Scalar]] = []
    samples: Annotated[int, Field(ge=1)] | None = None
    levels: Annotated[int, Field(ge=2)] = DEFAULT_LEVELS
    second_order: bool = False

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
            data["parameters"] = flatten(data["parameters"])
            for name, value in data["parameters"].items():
                _check_parameter_shape(kind, name, value)
        if isinstance(data.get("points"), list):
            data["points"] = [flatten(p) if isinstance(p, dict) else p for p in data["points"]]
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
        if self.kind == "grid":
            for name, values in self.parameters.items():
                _check_grid_values(name, values)  # type: ignore[arg-type]
        return self

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
        return self

    def fingerprint(self) -> str:
        """A hash of everything that decides the rows (not ``batch`` nor the file's location):
        ``--resume`` refuses to add runs of a different spec to an output folder."""
        content = self.model_dump(mode="json", by_alias=True, exclude={"source"})
        content["sweep"].pop("batch", None)
        text = json.dumps(content, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
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
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _check_parameter_shape(kind: Any, name: str, value: Any) -> None:
    where = f'design.parameters."{name}" = {value!r}'
    if kind in CONTINUOUS_KINDS:
        if not (isinstance(value, dict) and set(value) == {"low", "high"}):
            raise ValueError(f"{where}: kind = {kind!r} takes bounds, e.g. "
                             f'"{name}" = {{ low = 0.1, high = 0.9 }}')
        low, high = value["low"], value["high"]
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high))
        if not numbers:
            raise ValueError(f"{where}: low and high must be numbers")
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

    A relative scenario path (``scenario = "my.toml"``) is taken relative to the spec file.
    Raises :class:`SweepSpecError` naming the file, the field, the value and what is allowed.
    """
    path = Path(path)
    if not path.is_file():
        raise SweepSpecError(f"sweep spec {str(path)!r} does not exist")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SweepSpecError(f"{path}: not valid TOML: {exc}") from None
    spec = parse_spec(raw, origin=str(path))
    spec.sweep.scenario = _resolve_scenario(spec.sweep.scenario, path.parent)
    if check_scenario:
        check_against_scenario(spec)
    return spec


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
    return str(candidate.resolve()) if candidate.is_file() else scenario


def describe_errors(exc: ValidationError, origin: str) -> str:
    """One line per problem: ``field = value: what is wrong and what is allowed``."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(part) for part in err["loc"] if part != "source")
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            allowed = _allowed_fields(err["loc"][:-1])
            lines.append(f"{loc} = {err['input']!r}: unknown field; allowed: {', '.join(allowed)}")
        elif err["type"] == "missing":
            lines.append(f"{loc}: missing; this field is required")
        elif err["type"] == "literal_error":
            allowed = ", ".join(repr(k) for k in DESIGN_KINDS)
            lines.append(f"{loc} = {err['input']!r}: must be one of {allowed}")
        elif err["type"] == "value_error":
            lines.append(msg)  # our own checks: the message already names field and value
        else:
            lines.append(f"{loc} = {err['input']!r}: {msg}" if loc else msg)
    return f"{origin}: " + ("\n  " if len(lines) > 1 else "") + "\n  ".join(lines)


def _allowed_fields(loc: tuple) -> list[str]:
    models: dict[tuple, type[BaseModel]] = {(): SweepSpec, ("sweep",): Sweep, ("design",): Design}
    model = models.get(tuple(loc))
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items() if name != "source"]


# --- checks against the scenario ---------------------------------------------------------------


def check_against_scenario(spec: SweepSpec) -> None:
    """Fail before any run if the scenario, arm, a parameter, a value or a metric is not usable.

    Each parameter is tried with its extreme values (numbers) or every value (strings,
    booleans), the other parameters at their first value, so a bad name or an out-of-range value
    is found without running anything.
    """
    from sim.config import load_scenario

    origin, sweep = spec.source, spec.sweep

    def attempt(field: str, overrides: Mapping[str, Any], arm: str | None = sweep.arm):
        try:
            return load_scenario(sweep.scenario, arm=arm, overrides=overrides)
        except ScenarioError as exc:
            raise SweepSpecError(f"{origin}: {field}: {exc}") from None

    attempt(f"sweep.scenario = {sweep.scenario!r}", {}, arm=None)
    if sweep.arm is not None:
        attempt(f"sweep.arm = {sweep.arm!r}", {})
    config = attempt("sweep.set", dict(sweep.fixed))
    base = {**sweep.fixed, **_first_values(spec)}
    for name, values in _values_to_try(spec).items():
        for value in values:
            attempt(f'design.parameters."{name}" = {value!r}', {**base, name: value})
    _check_metrics(spec, config)


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
