"""Calibration targets and qualitative facts: the ``[calibration]`` table of a scenario file.

A **target** compares a statistic of the model with a published figure:

- ``value``: an arm's metric (mean over replications);
- ``relative_lift`` / ``ratio`` / ``difference``: an arm's metric against a ``baseline`` arm's
  (``arm / baseline - 1``, ``arm / baseline``, ``arm - baseline``), each side paired by seed;
- ``combination``: a weighted sum of other targets of the same scenario (``terms = {id =
  weight}``), e.g. "block 1 lift at least twice block 3 lift" is ``{block1 = 1, block3 = -2}``
  with ``low = 0``.

Each side reads a metric (``metric``, ``baseline_metric``; default: the table's ``metric``) for
one strategy's sellers or all (``strategy``), at the end of the run or over a ``window = [from,
to]`` of steps (the events between those steps). A target passes when the model's mean is within
``[low, high]``; with ``interval = true`` its whole interval must be. ``paper`` is the published
figure on the statistic's scale (what a fit aims at) and ``sd`` its uncertainty.

A **fact** is a list of checks, each a paired gap ``more - less`` that must exceed ``margin``;
each side names its arm, extra settings (``set``), strategy, metric and day (``steps``).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Window = tuple[int, int]


class _Spec(BaseModel):
    # allow_inf_nan=False: a target or tolerance of nan or inf is never meant (as in sim.config)
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Target(_Spec):
    """One published figure the model should reproduce (see the module docstring)."""

    id: str | None = None
    study: str
    condition: str
    kind: Literal["value", "relative_lift", "ratio", "difference", "combination"] = "value"
    arm: str | None = None
    baseline: str | None = None
    metric: str | None = None
    baseline_metric: str | None = None
    strategy: str | None = None
    window: tuple[int, int] | None = None
    baseline_window: tuple[int, int] | None = None
    terms: dict[str, float] = {}
    paper: float | None = None
    paper_text: str | None = None
    low: float | None = None
    high: float | None = None
    tolerance_text: str | None = None
    interval: bool = False
    """The model's whole interval (not only its mean) must be within the band."""
    sd: float | None = Field(default=None, gt=0.0)
    """For fitting: one standard deviation of the paper's figure on the statistic's scale
    (default: a quarter of a two-sided band)."""

    @model_validator(mode="after")
    def _consistent(self) -> Target:
        for name in ("paper", "low", "high"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{name} = {value!r}: must be a finite number")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low = {self.low} is above high = {self.high}")
        if self.kind == "combination":
            if not self.terms:
                raise ValueError("kind = 'combination' needs terms = {target id = weight, ...}")
        elif self.arm is None:
            raise ValueError(f"kind = {self.kind!r} needs an arm")
        if self.kind in ("relative_lift", "ratio", "difference") and self.baseline is None:
            raise ValueError(f"kind = {self.kind!r} needs a baseline arm")
        for window in (self.window, self.baseline_window):
            if window is not None and not 0 <= window[0] < window[1]:
                raise ValueError(f"window = {list(window)}: needs 0 <= from < to (steps)")
        return self

    @property
    def has_band(self) -> bool:
        """The domain reference gives a tolerance to meet; without one the figure is fitted
        (with ``sd``) and shown beside the model, but it is not a check."""
        return self.low is not None or self.high is not None

    @property
    def tolerance(self) -> str:
        if self.tolerance_text:
            return self.tolerance_text
        if not self.has_band:
            return "none given (fitted" + (f", sd {self.sd:g})" if self.sd else ")")
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"[{low}, {high}]"

    def passes(self, mean: float, ci_low: float, ci_high: float) -> bool:
        values = (ci_low, ci_high) if self.interval else (mean,)
        return all((self.low is None or v >= self.low) and (self.high is None or v <= self.high)
                   for v in values)


class Side(_Spec):
    """One side of a fact's check."""

    arm: str | None = None
    set: dict[str, Any] = {}
    """Dotted keys set for this side's runs (checked as overrides when the side runs)."""
    strategy: str | None = None
    metric: str
    steps: int | None = Field(default=None, ge=1)

    @field_validator("set")
    @classmethod
    def _finite(cls, values: dict[str, Any]) -> dict[str, Any]:
        for key, value in values.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{key} = {value}: must be a finite number (nan and inf are "
                                 f"not allowed)")
        return values


class Check(_Spec):
    more: Side
    less: Side
    margin: float = 0.0


class Fact(_Spec):
    fact: str
    checks: list[Check] = Field(min_length=1)


class CalibrationTable(_Spec):
    """A scenario's ``[calibration]`` table."""

    metric: str | None = None
    targets: list[Target] = []
    facts: list[Fact] = []

    @model_validator(mode="after")
    def _references(self) -> CalibrationTable:
        ids = [t.id for t in self.targets if t.id is not None]
        if len(ids) != len(set(ids)):
            raise ValueError(f"targets: ids must be unique, got {ids}")
        for i, target in enumerate(self.targets):
            if target.kind != "combination" and (target.metric or self.metric) is None:
                raise ValueError(f"targets.{i}: no metric (set metric here or in [calibration])")
            for term in target.terms:
                if term not in ids:
                    raise ValueError(f"targets.{i}.terms: {term!r} is not the id of a target; "
                                     f"ids: {', '.join(ids) or 'none'}")
        return self
