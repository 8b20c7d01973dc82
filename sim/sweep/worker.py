"""What runs in a sweep's worker processes: a batch of runs, each failure recorded with its run.

Kept apart from the driver (:mod:`sim.sweep.execute`) so that a worker imports only the model's
engine, not the driver's Parquet, progress and cluster machinery: a fresh pool starts faster.
"""

from __future__ import annotations

import os
import signal
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sim.sweep.design import Run
from sim.sweep.spec import resolve_files

if TYPE_CHECKING:
    from sim.sweep.spec import SweepSpec

RunFunction = Callable[..., list[list[dict[str, Any]]]]
"""``run_function(scenario, *, arm, runs, steps, metrics, every) -> rows per run``, ``runs`` being
``(overrides, seed)`` pairs, as :func:`sim.runner.run_many`."""


@dataclass(frozen=True)
class RunSettings:
    """What every run of a sweep shares; sent to the workers with each batch."""

    scenario: str
    arm: str | None
    steps: int | None
    metrics: tuple[str, ...]
    every: int | None
    fixed: Mapping[str, Any] = field(default_factory=dict)
    base: str = ""
    """The spec's folder: relative file parameters (network.path) are relative to it."""

    @classmethod
    def of(cls, spec: SweepSpec) -> RunSettings:
        s = spec.sweep
        return cls(s.scenario, s.arm, s.steps, tuple(s.metrics), s.every or None, dict(s.fixed),
                   str(spec.base_dir))

    def overrides(self, run: Run) -> dict[str, Any]:
        """The overrides of one run: the fixed ones, the design point's, files made absolute."""
        overrides = {**self.fixed, **run.parameters}
        return resolve_files(overrides, self.base) if self.base else overrides


def run_batch(settings: RunSettings, runs: list[Run], run_function: RunFunction | None = None
              ) -> list[dict[str, Any]]:
    """Run a batch; return its rows. The batch's runs go to ``run_function`` together (it may
    stack them in engines). A run that raises gives one row with ``error`` (the exception) and
    ``traceback`` set and no metrics; the other runs go on."""
    if run_function is None:
        from sim.runner import run_many as run_function
    try:
        results: list = _checked_rows(settings, runs, run_function)
    except Exception as exc:  # recorded with the run; the sweep goes on
        results = [exc] if len(runs) == 1 else [_run_alone(settings, run, run_function)
                                                for run in runs]
    rows: list[dict[str, Any]] = []
    for run, result in zip(runs, results, strict=True):
        ids = {"run_id": run.run_id, "point": run.point, "replication": run.replication,
               "seed": run.seed, **run.parameters}
        if isinstance(result, Exception):
            rows.append({**ids, "step": None, "error": f"{type(result).__name__}: {result}",
                         "traceback": "".join(traceback.format_exception(result, limit=-8))})
        else:
            rows.extend({**ids, **values} for values in result)
    return rows


def _run_alone(settings: RunSettings, run: Run, run_function: RunFunction):
    """One run's rows, or the exception it raised: finds the failing runs of a batch."""
    try:
        return _checked_rows(settings, [run], run_function)[0]
    except Exception as exc:
        return exc


def _checked_rows(settings: RunSettings, runs: list[Run], run_function: RunFunction
                  ) -> list[list[dict[str, Any]]]:
    """The checked rows of ``runs``, one list per run."""
    results = run_function(settings.scenario, arm=settings.arm,
                           runs=[(settings.overrides(run), run.seed) for run in runs],
                           steps=settings.steps, metrics=list(settings.metrics),
                           every=settings.every)
    if len(results) != len(runs):
        raise RuntimeError(f"the run function returned {len(results)} runs for {len(runs)}")
    checked = []
    for rows in results:
        if not rows:
            raise RuntimeError("the run returned no rows")
        for row in rows:
            missing = [m for m in settings.metrics if m not in row]
            if missing or "step" not in row:
                raise RuntimeError(f"the run returned a row without {', '.join(missing or ['step'])}")
        checked.append([{"step": int(row["step"]), **{m: row[m] for m in settings.metrics}}
                        for row in rows])
    return checked


def ignore_sigint() -> None:
    """Workers leave Ctrl-C to the driver, which stops them: no traceback from every worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


PARENT_POLL_SECONDS = 0.5


def start_worker(parent_pid: int) -> None:
    """Initializer of a local worker process: ignore Ctrl-C (see :func:`ignore_sigint`) and exit
    as soon as the driver ``parent_pid`` is gone, however it died.

    A driver killed by SIGKILL cannot stop its pool, and a worker blocked on its task queue, or
    busy with a long batch, would not notice; a daemon thread checks the driver every
    :data:`PARENT_POLL_SECONDS` (by pid and start time, so a recycled pid does not fool it).
    """
    ignore_sigint()
    import psutil

    try:
        parent = psutil.Process(parent_pid)
    except psutil.NoSuchProcess:
        os._exit(1)

    def alive() -> bool:
        try:  # a killed driver whose own parent has not reaped it yet is a zombie: gone too
            return parent.is_running() and parent.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def watch() -> None:
        while alive():
            threading.Event().wait(PARENT_POLL_SECONDS)
        os._exit(1)  # no cleanup to do: the driver writes every output

    threading.Thread(target=watch, name="recip-watch-driver", daemon=True).start()
