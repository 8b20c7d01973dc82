"""``recip calibrate`` specs: fit chosen parameters of a scenario to your own results.

.. code-block:: toml

    [calibrate]
    scenario = "my_campaign.toml"          # relative to this file, or a shipped name
    parameters = { "buyers.base_compliance" = [0.01, 0.3], "rules.obligation_half_life" = [1, 60] }
    # optional: log_scale = ["rules.obligation_half_life"], walkers = 24, iterations = 300,
    #           seeds = 2, seed = 1

    [[calibrate.targets]]
    arm = "gift"                            # optional; the scenario as it is by default
    metric = "conversion_rate"              # any metric, or name[strategy]
    value = 0.084                           # what you measured
    se = 0.006                              # its standard error
    # optional: window = [0, 30] (steps), baseline = "control" with kind = "relative_lift"

Parameters are dotted keys (context, like ``buyers.base_compliance``, or rule, like
``rules.obligation_half_life``) with the bounds of a uniform prior.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sim.calibration.targets import Target
from sim.config import ScenarioError, _format_validation_error, load_scenario
from sim.metrics import METRIC_NAME, metric_names


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Measured(_Spec):
    """One result of yours the model should reproduce."""

    arm: str | None = None
    metric: str
    value: float
    se: float = Field(gt=0.0)
    kind: Literal["value", "relative_lift", "ratio", "difference"] = "value"
    baseline: str | None = None
    window: tuple[int, int] | None = None
    label: str | None = None

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class Calibrate(_Spec):
    scenario: str
    arm: str | None = None
    parameters: dict[str, tuple[float, float]] = Field(min_length=1)
    log_scale: list[str] = []
    targets: list[Measured] = Field(min_length=1)
    walkers: int | None = Field(default=None, ge=4, le=1000)
    iterations: int = Field(default=300, ge=2, le=100_000)
    seeds: int = Field(default=2, ge=1, le=50)
    seed: int = Field(default=1, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> Calibrate:
        for key, (low, high) in self.parameters.items():
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValueError(f"parameters.{key} = [{low}, {high}]: needs two finite numbers, "
                                 f"low < high")
            if key in self.log_scale and low <= 0:
                raise ValueError(f"parameters.{key}: a log-scale prior needs low > 0")
        for key in self.log_scale:
            if key not in self.parameters:
                raise ValueError(f"log_scale: {key!r} is not one of the parameters")
        return self


class CalibrateFile(_Spec):
    calibrate: Calibrate


def load_spec(path: Path) -> tuple[Calibrate, Path]:
    """The spec and the scenario it names (resolved against the spec's folder), checked: the
    parameters are fields of the scenario (both bounds valid values), the arms and metrics
    exist. Errors name the file, the field and what is allowed."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ScenarioError(f"calibration spec {str(path)!r} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    try:
        spec = CalibrateFile.model_validate(raw).calibrate
    except ValidationError as exc:
        raise ScenarioError(_format_validation_error(exc, str(path))) from None
    scenario = spec.scenario
    if scenario.endswith(".toml") or "/" in scenario:
        scenario = str((path.parent / scenario).resolve())
    base = load_scenario(scenario, arm=spec.arm)
    for key, (low, high) in spec.parameters.items():
        for bound in (low, high):
            try:
                load_scenario(base, overrides={key: bound})
            except ScenarioError as exc:
                raise ScenarioError(f"{path}: calibrate.parameters.{key} = [{low}, {high}]: "
                                    f"{exc}") from None
    for i, target in enumerate(spec.targets):
        for arm in (target.arm, target.baseline):
            if arm is not None and arm not in base.arms:
                raise ScenarioError(f"{path}: calibrate.targets.{i}: arm {arm!r} is not an arm "
                                    f"of the scenario; allowed: {', '.join(base.arms) or 'none'}")
        match = METRIC_NAME.match(target.metric)
        known = metric_names(base)
        if not match or match["metric"] not in known:
            raise ScenarioError(f"{path}: calibrate.targets.{i}.metric = {target.metric!r}: "
                                f"allowed: {', '.join(known)} (optionally as name[strategy])")
        if target.kind != "value" and target.baseline is None:
            raise ScenarioError(f"{path}: calibrate.targets.{i}: kind = {target.kind!r} needs a "
                                f"baseline arm")
    return spec, Path(scenario) if Path(scenario).is_file() else Path(base.source)


def as_targets(spec: Calibrate) -> list[Target]:
    """Your results as calibration targets (a Gaussian around each value, sd = its se)."""
    out = []
    for measured in spec.targets:
        match = METRIC_NAME.match(measured.metric)
        out.append(Target(
            study="your data", condition=measured.label or f"{measured.metric}"
            + (f" ({measured.kind} vs {measured.baseline})" if measured.baseline else "")
            + (f", arm {measured.arm}" if measured.arm else ""),
            kind=measured.kind, arm=measured.arm or spec.arm, baseline=measured.baseline,
            metric=match["metric"], baseline_metric=match["metric"], strategy=match["strategy"],
            window=measured.window, paper=measured.value, sd=measured.se,
            paper_text=f"{measured.value:g} (se {measured.se:g})"))
    return out
