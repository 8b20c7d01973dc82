"""Evaluating targets and facts: the runs they need, for many parameter sets and seeds at once.

A :class:`Plan` lists what to evaluate (targets and fact checks of scenarios) and the runs that
needs: each *setting* (scenario, arm, extra settings, horizon) with the steps at which its sums
are read. :func:`evaluate` makes every run of every setting for every parameter set and seed,
stacked in engines (:func:`sim.runner.collect_sums`), optionally spread over worker processes,
and returns one statistic per (parameter set, item, seed): a target's statistic, or a check's
gap ``more - less``. Arms of one scenario on one seed share population, network and draws
(common random numbers), so paired statistics are precise.

Parameter sets are dotted keys (``{"rules.debt_weight": 1.2, "buyers.base_compliance": 0.1}``);
rule parameters are applied without reloading the scenario (the fast path calibration needs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim import metrics
from sim.calibration.targets import Check, Target
from sim.config import Scenario, load_scenario
from sim.engine import RunInputs, seed_sequence_from
from sim.runner import collect_sums


@dataclass(frozen=True)
class Setting:
    """A scenario as a run starts from: scenario, arm, extra dotted settings, horizon."""

    scenario: str
    arm: str | None = None
    overrides: tuple[tuple[str, Any], ...] = ()
    steps: int | None = None


@dataclass(frozen=True)
class Side:
    """A metric of one setting's runs, for one strategy (or all sellers), over a window of steps
    (``None``: from the start to the setting's horizon)."""

    setting: Setting
    metric: str
    strategy: str | None = None
    window: tuple[int, int] | None = None


@dataclass(frozen=True)
class Item:
    """A target or a fact check, as the sides it reads."""

    scenario: str
    kind: str
    sides: tuple[Side, ...]
    target: Target | None = None
    check: Check | None = None
    terms: tuple[tuple[int, float], ...] = ()
    """For a combination: (index of another item, weight)."""


@dataclass
class Plan:
    items: list[Item] = field(default_factory=list)

    @property
    def settings(self) -> list[Setting]:
        return list(dict.fromkeys(side.setting for item in self.items for side in item.sides))


def build_plan(entries: Sequence[tuple[str, Target | Check]], *,
               overrides: Mapping[str, Any] | None = None,
               buyers_cap: int | Mapping[str, int] | None = None,
               scenarios: Mapping[str, Scenario] | None = None) -> Plan:
    """The plan for ``entries``: (scenario, target or fact check) pairs. ``overrides`` (dotted
    keys) apply to every run; ``buyers_cap`` caps each scenario's buyers (one cap, or one per
    scenario name), for quicker runs."""
    scenarios = dict(scenarios or {})
    plan, ids = Plan(), {}
    for name, entry in entries:
        config = scenarios.setdefault(name, load_scenario(name))
        base = dict(overrides or {})
        cap = buyers_cap.get(name) if isinstance(buyers_cap, Mapping) else buyers_cap
        if cap is not None and "buyers.n" not in base:
            base["buyers.n"] = min(config.buyers.n, cap)
        default_metric = config.calibration.metric
        if isinstance(entry, Check):
            sides = tuple(_fact_side(name, side, base) for side in (entry.more, entry.less))
            plan.items.append(Item(name, "check", sides, check=entry))
            continue
        sides: tuple[Side, ...] = ()
        if entry.kind != "combination":
            sides = (Side(_setting(name, entry.arm, base, entry.window), entry.metric
                          or default_metric, entry.strategy, entry.window),)
            if entry.baseline is not None:
                window = entry.baseline_window or entry.window
                sides += (Side(_setting(name, entry.baseline, base, window),
                               entry.baseline_metric or entry.metric or default_metric,
                               entry.strategy, window),)
        terms = tuple((ids[name, term], weight) for term, weight in entry.terms.items())
        if entry.id is not None:
            ids[name, entry.id] = len(plan.items)
        plan.items.append(Item(name, entry.kind, sides, target=entry, terms=terms))
    return plan


def _setting(scenario: str, arm: str | None, base: Mapping[str, Any],
             window: tuple[int, int] | None) -> Setting:
    steps = window[1] if window is not None else None
    return Setting(scenario, arm, tuple(sorted(base.items())), steps)


def _fact_side(scenario: str, side: Any, base: Mapping[str, Any]) -> Side:
    settings = {**base, **side.set}
    return Side(Setting(scenario, side.arm, tuple(sorted(settings.items())), side.steps),
                side.metric, side.strategy, None)


# --- running ----------------------------------------------------------------------------------


def evaluate(plan: Plan, param_sets: Sequence[Mapping[str, Any]], seeds: Sequence[int], *,
             workers: int = 1, pool: Any = None) -> np.ndarray:
    """The statistic of every item for every parameter set and seed: ``(sets, items, seeds)``.
    With ``workers > 1`` (or a ``concurrent.futures`` ``pool``) the parameter sets are shared
    out; the numbers do not depend on it."""
    param_sets = list(param_sets)
    if (workers > 1 or pool is not None) and len(param_sets) > 1:
        shares = np.array_split(np.arange(len(param_sets)), workers if pool is None else
                                max(getattr(pool, "_max_workers", workers), 1))
        shares = [share for share in shares if share.size]
        args = [(plan, [param_sets[i] for i in share], list(seeds)) for share in shares]
        if pool is not None:
            parts = list(pool.map(_evaluate_share, args))
        else:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(len(shares)) as executor:
                parts = list(executor.map(_evaluate_share, args))
        return np.concatenate(parts, axis=0)
    return _evaluate(plan, param_sets, list(seeds))


def _evaluate_share(args: tuple[Plan, list, list]) -> np.ndarray:
    return _evaluate(*args)


_BASE_CONFIGS: dict[Setting, Scenario] = {}


def _base_config(setting: Setting) -> Scenario:
    """The scenario of a setting, loaded once per process."""
    if setting not in _BASE_CONFIGS:
        _BASE_CONFIGS[setting] = load_scenario(setting.scenario, arm=setting.arm,
                                               overrides=dict(setting.overrides))
    return _BASE_CONFIGS[setting]


_INPUTS: dict[tuple[Setting, int], RunInputs] = {}


def _run_inputs(setting: Setting, seed: int, config: Scenario) -> RunInputs:
    """A run's network, population and reach orders, built once per setting and seed: every
    parameter set starts from them (they do not depend on rule parameters)."""
    key = (setting, seed)
    if key not in _INPUTS:
        _INPUTS[key] = RunInputs.build(config, seed_sequence_from(seed))
    return _INPUTS[key]


def with_parameters(config: Scenario, params: Mapping[str, Any]) -> Scenario:
    """``config`` with dotted-key ``params``: rule parameters without reloading (their values are
    checked against the schema by the caller's bounds), anything else through the loader."""
    rules = {key.removeprefix("rules."): value for key, value in params.items()
             if key.startswith("rules.")}
    others = {key: value for key, value in params.items() if not key.startswith("rules.")}
    if others:
        config = load_scenario(config, overrides=others)
    if rules:
        config = config.model_copy(update={"rules": config.rules.model_copy(update=rules)})
    return config


def _evaluate(plan: Plan, param_sets: list[Mapping[str, Any]], seeds: list[int]) -> np.ndarray:
    settings = plan.settings
    needed = {s: set() for s in settings}
    for item in plan.items:
        for side in item.sides:
            horizon = side.setting.steps or _base_config(side.setting).steps
            needed[side.setting].add(horizon)
            if side.window is not None and side.window[0] > 0:
                needed[side.setting].add(side.window[0])
    runs, configs, run_seeds, at, inputs = {}, [], [], [], []
    for p, params in enumerate(param_sets):
        # prebuilt inputs hold when only rule parameters change (detection_enabled aside)
        shared = all(key.startswith("rules.") and key != "rules.detection_enabled"
                     for key in params)
        for setting in settings:
            config = with_parameters(_base_config(setting), params)
            for r, seed in enumerate(seeds):
                runs[p, setting, r] = len(configs)
                configs.append(config)
                run_seeds.append(seed)
                at.append(sorted(needed[setting]))
                inputs.append(_run_inputs(setting, seed, config) if shared else None)
    sums = collect_sums(configs, run_seeds, at, inputs)
    out = np.full((len(param_sets), len(plan.items), len(seeds)), np.nan)
    with np.errstate(all="ignore"):
        for p in range(len(param_sets)):
            for r in range(len(seeds)):
                for i, item in enumerate(plan.items):
                    values = [_side_value(side, sums[runs[p, side.setting, r]])
                              for side in item.sides]
                    out[p, i, r] = _statistic(item, values, out[p, :, r])
    return out


def _side_value(side: Side, sums: Mapping[int, Mapping[str, np.ndarray]]) -> float:
    config = _base_config(side.setting)
    end = side.window[1] if side.window is not None else side.setting.steps or config.steps
    totals = dict(sums[end])
    if side.window is not None and side.window[0] > 0:
        start = sums[side.window[0]]
        totals = {name: values - start[name] for name, values in totals.items()}
    rows = (slice(None) if side.strategy is None else
            np.flatnonzero([s.strategy == side.strategy for s in config.sellers]))
    return metrics.evaluate(totals, rows, config.outcomes)[side.metric]


def _statistic(item: Item, values: list[float], done: np.ndarray) -> float:
    """A target's statistic (or a check's gap) from its sides' values; combinations read the
    statistics of the items before them (``done``)."""
    if item.kind == "check":
        return values[0] - values[1]
    if item.kind == "combination":
        return float(sum(weight * done[index] for index, weight in item.terms))
    if item.kind == "value":
        return values[0]
    arm, base = values
    return {"relative_lift": arm / base - 1.0 if base else math.nan,
            "ratio": arm / base if base else math.nan,
            "difference": arm - base}[item.kind]
