"""Running a sweep: batches of runs on local processes or a Dask cluster, each finished batch
written as a Parquet chunk at once, so an interrupted sweep loses no finished run.

Backends:

- one worker: runs in this process;
- ``workers > 1`` (default: all cores): a ``ProcessPoolExecutor`` on the ``forkserver`` start
  method (the server preloads the engine and :mod:`sim.sweep.worker`, so workers start in
  milliseconds). A worker that dies
  (killed, out of memory) breaks the pool; the lost batches are run again on a fresh pool, up to
  :data:`MAX_POOL_RESTARTS` times;
- ``scheduler="local"``: a ``distributed.LocalCluster`` with one single-threaded worker process
  per core (or ``workers``); ``scheduler="tcp://HOST:PORT"``: an existing Dask cluster whose
  workers have the same recip installed (and any scenario file at the same path).

Runs are grouped in batches (one task, one chunk each) so that short runs are not dominated by
task overhead; a batch's runs are stacked in engines where they may be
(:func:`sim.runner.run_many`). Results do not depend on the batch size, the backend or the number
of workers.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.sweep.design import Run, design_points, plan_runs
from sim.sweep.spec import SweepSpec, SweepSpecError, base_overrides, resolve_files
from sim.sweep.store import FORMAT_VERSION, SweepStore, now, result_schema, rows_to_table
from sim.sweep.worker import RunFunction, RunSettings, run_batch, start_worker

log = logging.getLogger("recip.sweep")

MAX_POOL_RESTARTS = 3
MAX_BATCH = 32
TASKS_PER_SLOT = 8
"""Auto batch size aims at this many tasks per worker: enough to balance the load and to keep
the work lost to an interruption small, few enough that task overhead stays negligible."""


class SweepAborted(RuntimeError):
    """The sweep could not go on (workers keep dying, the cluster failed, the disk is full);
    finished runs are saved and ``--resume`` continues."""


class SweepWriteError(SweepAborted):
    """The output folder could not be written (a full disk, a lost mount) mid-sweep."""


# --- backends -----------------------------------------------------------------------------------

class InlineBackend:
    """Runs every batch in this process, in order."""

    name = "inline"

    def __init__(self, settings: RunSettings, run_function: RunFunction | None):
        self.settings, self.run_function = settings, run_function
        self.slots = 1

    def __enter__(self) -> InlineBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def results(self, batches: Iterable[list[Run]]) -> Iterator[list[dict[str, Any]]]:
        for batch in batches:
            yield run_batch(self.settings, batch, self.run_function)


class ProcessBackend:
    """A pool of local worker processes; lost batches are retried on a fresh pool."""

    name = "processes"

    def __init__(self, settings: RunSettings, run_function: RunFunction | None, workers: int):
        self.settings, self.run_function = settings, run_function
        self.slots = workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> ProcessBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop(kill=exc[0] is not None)

    def _start(self) -> ProcessPoolExecutor:
        import multiprocessing

        if "forkserver" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["sim.runner", "sim.sweep.worker"])
        else:  # Windows
            context = multiprocessing.get_context("spawn")
        # Workers exit when this process dies, even by SIGKILL (see start_worker).
        self._pool = ProcessPoolExecutor(self.slots, mp_context=context,
                                         initializer=start_worker, initargs=(os.getpid(),))
        return self._pool

    def _stop(self, kill: bool) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if kill:
            # Interrupted: do not wait for running batches (a run can take minutes). Python 3.14
            # has terminate_workers(); before it, the pool's process table is the only handle.
            terminate = getattr(pool, "terminate_workers", None)
            if terminate is not None:
                terminate()
            else:
                for process in list(getattr(pool, "_processes", {}).values()):
                    process.terminate()
        pool.shutdown(wait=not kill, cancel_futures=True)

    def results(self, batches: Iterable[list[Run]]) -> Iterator[list[dict[str, Any]]]:
        todo: Iterator[list[Run]] = iter(batches)
        retry: deque[list[Run]] = deque()
        restarts = 0
        while True:
            lost = yield from self._run_pool(todo, retry)
            if not lost:
                return
            restarts += 1
            log.warning("a worker process died; re-running %d unfinished batches on a fresh pool",
                        len(retry))
            if restarts > MAX_POOL_RESTARTS:
                raise SweepAborted(f"worker processes died {restarts} times (out of memory? "
                                   f"killed?); finished runs are saved, pass --resume to go on")

    def _run_pool(self, todo: Iterator[list[Run]], retry: deque[list[Run]]
                  ) -> Iterator[list[dict[str, Any]]]:
        """Yield batch results from one pool, at most two batches per worker in flight. Returns
        True when the pool broke; the batches it lost are then back in ``retry``."""
        pool = self._start()
        in_flight: dict[Future, list[Run]] = {}
        try:
            while True:
                while len(in_flight) < 2 * self.slots:
                    batch = retry.popleft() if retry else next(todo, None)
                    if batch is None:
                        break
                    try:
                        future = pool.submit(run_batch, self.settings, batch, self.run_function)
                    except BrokenProcessPool:
                        retry.appendleft(batch)
                        raise
                    in_flight[future] = batch
                if not in_flight:
                    self._stop(kill=False)
                    return False
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    rows = future.result()  # BrokenProcessPool if a worker died
                    del in_flight[future]
                    yield rows
        except BrokenProcessPool:
            # Results already yielded are written; every batch still in flight runs again.
            retry.extend(in_flight.values())
            self._stop(kill=True)
            return True

class DaskBackend:
    """An existing Dask cluster (``tcp://HOST:PORT``) or a ``LocalCluster`` (``local``)."""

    def __init__(self, settings: RunSettings, run_function: RunFunction | None, scheduler: str,
                 workers: int | None):
        self.settings, self.run_function = settings, run_function
        self.scheduler, self.workers = scheduler, workers
        self.name = "dask-local" if scheduler == "local" else f"dask {scheduler}"
        self.slots = 1
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> DaskBackend:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise SweepSpecError("--scheduler needs Dask distributed, an optional extra: "
                                 "pip install 'recip[dask]'") from None
        try:
            if self.scheduler == "local":
                cluster = self._stack.enter_context(LocalCluster(
                    n_workers=self.workers or os.cpu_count() or 1, threads_per_worker=1,
                    processes=True, host="127.0.0.1", dashboard_address=None,
                    silence_logs=logging.ERROR))
                self.client = self._stack.enter_context(Client(cluster))
            else:
                self.client = self._stack.enter_context(Client(self.scheduler, timeout="15s"))
        except OSError as exc:
            self._stack.close()
            raise SweepSpecError(f"--scheduler {self.scheduler}: cannot reach the Dask scheduler "
                                 f"({exc}); give tcp://HOST:PORT of a running scheduler, or "
                                 f"'local'") from None
        self.slots = max(1, sum(self.client.nthreads().values()))
        self._warn_on_version_mismatch()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _warn_on_version_mismatch(self) -> None:
        import sim

        versions = self.client.run(_recip_version)
        other = {v for v in versions.values() if v != sim.__version__}
        if other:
            log.warning("Dask workers run recip %s, this process %s: results may differ",
                        ", ".join(sorted(other)), sim.__version__)

    def results(self, batches: Iterable[list[Run]]) -> Iterator[list[dict[str, Any]]]:
        from distributed import as_completed

        todo = iter(batches)
        running = as_completed()
        in_flight = 0

        def submit_next() -> None:
            nonlocal in_flight
            batch = next(todo, None)
            if batch is not None:
                running.add(self.client.submit(run_batch, self.settings, batch, self.run_function,
                                               pure=False))
                in_flight += 1

        for _ in range(2 * self.slots):
            submit_next()
        while in_flight:
            future = next(running)
            in_flight -= 1
            try:
                rows = future.result()
            except Exception as exc:  # a worker lost for good (KilledWorker), the cluster gone
                raise SweepAborted(f"the Dask cluster failed a batch ({type(exc).__name__}: "
                                   f"{exc}); finished runs are saved, pass --resume to go on"
                                   ) from exc
            yield rows
            submit_next()


def _recip_version() -> str:
    import sim

    return sim.__version__


def choose_backend(settings: RunSettings, run_function: RunFunction | None, *,
                   workers: int | None, scheduler: str | None):
    """The backend for ``--workers`` and ``--scheduler`` (see the module docstring)."""
    if scheduler:
        if scheduler != "local" and "://" not in scheduler:
            raise SweepSpecError(f"--scheduler {scheduler!r}: give 'local' or the address of a "
                                 f"Dask scheduler, e.g. tcp://127.0.0.1:8786")
        return DaskBackend(settings, run_function, scheduler, workers)
    workers = workers or os.cpu_count() or 1
    if workers == 1:
        return InlineBackend(settings, run_function)
    return ProcessBackend(settings, run_function, workers)


def auto_batch(runs: int, slots: int) -> int:
    """Runs per task when the spec does not say: about :data:`TASKS_PER_SLOT` tasks per worker,
    at most :data:`MAX_BATCH` runs each.

    >>> auto_batch(1000, 2), auto_batch(10, 2), auto_batch(100_000, 8)
    (32, 1, 32)
    """
    return max(1, min(MAX_BATCH, math.ceil(runs / (slots * TASKS_PER_SLOT))))


def batched(runs: list[Run], size: int) -> Iterator[list[Run]]:
    """Consecutive batches of ``size`` runs."""
    for start in range(0, len(runs), size):
        yield runs[start: start + size]


# --- the driver ---------------------------------------------------------------------------------


@dataclass
class SweepOutcome:
    """What a sweep session did."""

    out: Path
    runs_total: int
    runs_done: int
    runs_failed: int
    runs_this_session: int
    seconds: float
    status: str
    backend: str = ""
    workers: int = 0
    batch: int = 0
    runs_retried: int = 0
    warnings: list[str] = field(default_factory=list)
    """Things the user should know (failed runs kept, a different recip version than before)."""

    @property
    def complete(self) -> bool:
        return self.runs_done == self.runs_total


Progress = Callable[[int, int], None]
"""``progress(done, total)``: called after each chunk with counts of runs (failed included)."""


def run_sweep(spec: SweepSpec, out: str | Path, *, workers: int | None = None,
              scheduler: str | None = None, resume: bool = False, retry_failed: bool = False,
              progress: Progress | None = None, run_function: RunFunction | None = None,
              argv: list[str] | None = None) -> SweepOutcome:
    """Run every run of ``spec`` not yet in ``out``, writing a chunk per finished batch.

    ``resume`` continues the sweep in ``out`` (same spec, same resolved model); ``retry_failed``
    (implies ``resume``) also runs again the runs that raised. ``run_function`` defaults to
    :func:`sim.runner.run_many`; another (for tests) must be importable by name when runs go to
    other processes. ``argv`` is the command line for the provenance (default ``sys.argv``).
    Raises :class:`SweepSpecError` for an unusable ``out``, model or scheduler,
    :class:`SweepAborted` when the workers cannot go on and :class:`SweepWriteError` when ``out``
    cannot be written; on any exit after the start, Ctrl-C included, the manifest says what was
    done.
    """
    from sim.sweep.resolved import resolved_model

    resume = resume or retry_failed
    store = SweepStore(out)
    model = resolved_model(spec)
    previous = store.check(spec, resume=resume, model=model)
    record = _provenance(spec, argv)
    points = design_points(spec)
    runs = plan_runs(spec, points)
    backend = choose_backend(RunSettings.of(spec), run_function, workers=workers,
                             scheduler=scheduler)
    # The backend starts before anything is written: a failed start leaves no trace.
    with backend, store.writing():
        with _writes(store):
            retried = store.forget_failed() if retry_failed else 0
        done, failed = store.finished_runs()
        todo = [run for run in runs if run.run_id not in done]
        batch = spec.sweep.batch or auto_batch(len(todo), backend.slots)
        manifest = _start_manifest(spec, previous, model=model, provenance=record,
                                   points=len(points), runs=len(runs))
        session = _Session(store, manifest, done=len(done), failed=failed)
        try:
            with _writes(store):
                session.begin(backend=backend.name, workers=backend.slots, batch=batch,
                              retried=retried, provenance=record)
            schema = result_schema(spec, points)
            if progress:
                progress(session.done, len(runs))
            for rows in backend.results(batched(todo, batch)):
                with _writes(store):
                    store.write_chunk(rows_to_table(rows, schema))
                    session.add(rows)
                if progress:
                    progress(session.done, len(runs))
        except BaseException as exc:
            interrupted = isinstance(exc, KeyboardInterrupt)
            session.end(spec, "interrupted" if interrupted else "failed",
                        error=None if interrupted else exc, quiet=True)
            raise
        session.end(spec, "complete" if session.done == len(runs) else "incomplete")
    outcome = SweepOutcome(store.out, len(runs), session.done, session.failed,
                           session.this_session, session.seconds, session.status, backend.name,
                           backend.slots, batch, retried)
    outcome.warnings += _warnings(previous, record, outcome)
    return outcome


def _provenance(spec: SweepSpec, argv: list[str] | None) -> dict[str, Any]:
    """Provenance of this session: the spec file, the scenario's files and the network files."""
    from sim.config import load_scenario
    from sim.provenance import provenance, scenario_inputs
    from sim.sweep.resolved import _network_values

    config = load_scenario(spec.sweep.scenario, arm=spec.sweep.arm,
                           overrides=resolve_files(base_overrides(spec), spec.base_dir))
    inputs: dict[str, Any] = {}
    if Path(spec.source).is_file():
        inputs["sweep spec"] = Path(spec.source)
    inputs.update(scenario_inputs(config))
    networks = [resolve_files({"network.path": v}, spec.base_dir)["network.path"]
                for v in _network_values(spec)]
    if networks:
        inputs["network (design)"] = networks
    return provenance(inputs=inputs, overrides=dict(spec.sweep.fixed), argv=argv)


@contextlib.contextmanager
def _writes(store: SweepStore) -> Iterator[None]:
    """Writes to the output folder: an OSError there (a full disk) becomes one clear
    :class:`SweepWriteError`, not a traceback."""
    try:
        yield
    except OSError as exc:
        raise SweepWriteError(_write_failure(store.out, exc)) from None


def _write_failure(out: Path, exc: OSError) -> str:
    """One line for a write that failed mid-sweep: what, where, and how to go on."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    where = f" ({exc.filename})" if exc.filename else ""
    return (f"cannot write to {out}: {reason}{where}. Runs finished before this are saved; "
            f"make room (or fix the folder), then continue with --resume")


def _warnings(previous: dict[str, Any] | None, record: dict[str, Any],
              outcome: SweepOutcome) -> list[str]:
    notes = []
    if outcome.runs_failed:
        notes.append(f"{outcome.runs_failed} runs raised (listed in errors.csv); once their cause "
                     f"is fixed, run them again with --retry-failed")
    before = _code_versions(previous)
    now_version = record["recip_version"]
    if before and before != {now_version}:
        notes.append(f"earlier sessions of this sweep ran recip {', '.join(sorted(before))}; this "
                     f"one ran {now_version}: if the model's code changed, rows may differ "
                     f"between sessions (see each session's provenance in manifest.json)")
    return notes


def _code_versions(previous: dict[str, Any] | None) -> set[str]:
    if not previous:
        return set()
    return {s["provenance"]["recip_version"] for s in previous.get("sessions", [])
            if isinstance(s.get("provenance"), dict) and "recip_version" in s["provenance"]}


class _Session:
    """Counts and the manifest entry of one invocation; the manifest is saved as it goes."""

    SAVE_EVERY = 2.0  # seconds: the manifest's counts lag the chunks by at most this

    def __init__(self, store: SweepStore, manifest: dict[str, Any], *, done: int, failed: int):
        self.store, self.manifest = store, manifest
        self.done, self.failed, self.this_session = done, failed, 0
        self.status = "running"
        self.entry: dict[str, Any] = {"started": now(), "resumed_with": done}
        self.manifest["sessions"].append(self.entry)
        self._clock = time.perf_counter()
        self._saved = 0.0

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self._clock

    def begin(self, **details: Any) -> None:
        self.entry.update(details)
        self.save()

    def add(self, rows: list[dict[str, Any]]) -> None:
        ids = {row["run_id"] for row in rows}
        self.done += len(ids)
        self.this_session += len(ids)
        self.failed += len({row["run_id"] for row in rows if row.get("error")})
        if time.perf_counter() - self._saved > self.SAVE_EVERY:
            self.save()

    def end(self, spec: SweepSpec, status: str, error: BaseException | None = None,
            quiet: bool = False) -> None:
        """Record how the session ended. ``quiet``: the session is ending on an exception, so a
        manifest that cannot be written (a full disk) must not hide that exception."""
        self.status = status
        self.entry["finished"] = now()
        if error is not None:
            self.entry["error"] = f"{type(error).__name__}: {error}"
        try:
            if self.failed or self.store.errors_path.exists():
                self.store.write_errors(spec.design.parameter_names)
            self.save()
        except OSError as exc:
            if not quiet:
                raise SweepWriteError(_write_failure(self.store.out, exc)) from None
            log.debug("could not update %s: %s", self.store.manifest_path, exc)

    def save(self) -> None:
        self.entry.update(status=self.status, runs=self.this_session,
                          seconds=round(self.seconds, 3))
        self.manifest.update(status=self.status, runs_done=self.done, runs_failed=self.failed,
                             updated=now())
        self.store.write_manifest(self.manifest)
        self._saved = time.perf_counter()


SEED_RULE = ("replication r of every design point: "
             "int(SeedSequence(seed).spawn(replications)[r].generate_state(1, uint64)[0] >> 1)")


def _start_manifest(spec: SweepSpec, previous: dict[str, Any] | None, *, model: dict[str, Any],
                    provenance: dict[str, Any], points: int, runs: int) -> dict[str, Any]:
    base = previous or {"started": now(), "sessions": []}
    return {
        "format": FORMAT_VERSION,
        "spec_file": spec.source,
        "fingerprint": spec.fingerprint(),
        # As written (defaults left out), so that it reads like the spec file and loads back.
        "spec": spec.model_dump(mode="json", by_alias=True, exclude={"source"}, exclude_unset=True),
        "parameters": spec.design.parameter_names,
        "metrics": spec.sweep.metrics,
        "points": points,
        "replications": spec.sweep.replications,
        "runs_total": runs,
        "seeds": {"base": spec.sweep.seed, "rule": SEED_RULE},
        "model": model,
        # This session's; every session's own is in its entry below.
        "provenance": provenance,
        "started": base["started"],
        "sessions": base.get("sessions", []),
    }


# --- progress -----------------------------------------------------------------------------------


def progress_reporter(stream=None, *, every_seconds: float = 30.0) -> tuple[Progress, Callable]:
    """A progress bar (counts, rate, ETA) when ``stream`` is a terminal; otherwise a plain line
    at most every ``every_seconds`` and at the end. Returns ``(update, close)``."""
    stream = stream or sys.stderr
    if stream.isatty():
        from tqdm import tqdm

        bar: dict[str, Any] = {}

        def update(done: int, total: int) -> None:
            if "bar" not in bar:
                bar["bar"] = tqdm(total=total, initial=done, unit="run", file=stream,
                                  dynamic_ncols=True, smoothing=0.1)
            bar["bar"].update(done - bar["bar"].n)

        def close() -> None:
            if "bar" in bar:
                bar["bar"].close()
        return update, close

    state = {"first": None, "start": 0.0, "last": 0.0, "done": 0, "total": 0}

    def line(done: int, total: int) -> str:
        elapsed = time.perf_counter() - state["start"]
        rate = (done - state["first"]) / elapsed if elapsed > 0 else 0.0
        eta = f", ETA {(total - done) / rate:.0f} s" if rate > 0 and done < total else ""
        return f"sweep: {done}/{total} runs ({100 * done / max(total, 1):.0f}%), {rate:.2f} runs/s{eta}"

    def update_plain(done: int, total: int) -> None:
        clock = time.perf_counter()
        if state["first"] is None:
            state.update(first=done, start=clock, last=clock)
        state.update(done=done, total=total)
        if clock - state["last"] >= every_seconds:
            print(line(done, total), file=stream, flush=True)
            state["last"] = clock

    def close_plain() -> None:
        if state["first"] is not None and state["done"] > state["first"]:
            print(line(state["done"], state["total"]), file=stream, flush=True)
    return update_plain, close_plain
