"""A sweep's output folder: Parquet chunks, the manifest and the errors table.

Layout of ``OUT``::

    manifest.json          the spec, versions, status, counts and one entry per session (atomic)
    chunks/chunk-*.parquet one file per finished batch of runs (atomic: temp name, then replace)
    errors.csv             the runs that raised: ids, parameters and the error (if any failed)
    .lock                  held (flock) by the sweep writing here; released when it exits or dies

Every run's rows sit in exactly one chunk, its failure included (one row with ``error`` set and
no metrics), so the chunks alone say which runs are finished: ``--resume`` reads only their
``run_id`` column. ``--retry-failed`` first rewrites each chunk without its failed runs (one
atomic replace per chunk), so a run is never in two chunks, even if that is interrupted. Nothing
ever holds all rows in memory: readers go chunk by chunk. JSON is strict (no NaN or Infinity).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sim.sweep.resolved import changes, describe_changes
from sim.sweep.spec import SweepSpec, SweepSpecError

ID_COLUMNS = ("run_id", "point", "replication", "seed")
MANIFEST = "manifest.json"
ERRORS = "errors.csv"
CHUNKS = "chunks"
LOCK = ".lock"
FORMAT_VERSION = 2
"""2: the manifest records the resolved model and each session's provenance."""


def now() -> str:
    """The time as an ISO 8601 string in UTC (for the manifest)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def strict_json(obj: Any, **dumps: Any) -> str:
    """``json.dumps`` that never writes NaN or Infinity (strict readers reject them): non-finite
    floats become null, numpy scalars Python numbers.

    >>> strict_json({"a": float("nan"), "b": [1.5, float("inf")]})
    '{"a": null, "b": [1.5, null]}'
    """
    return json.dumps(_finite(obj), allow_nan=False, **dumps)


def _finite(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str | bytes):  # numpy scalars
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, str | int | float | bool) or obj is None:
        return obj
    return str(obj)


def result_schema(spec: SweepSpec, points: Sequence[dict[str, Any]]) -> pa.Schema:
    """Columns of every chunk: ids, one column per varied parameter, ``step``, the metrics,
    ``error`` and ``traceback``. One fixed schema, so chunks read back as one table."""
    fields = [pa.field(name, pa.int64(), nullable=False) for name in ID_COLUMNS]
    for name in spec.design.parameter_names:
        fields.append(pa.field(name, _parameter_type([p[name] for p in points])))
    fields.append(pa.field("step", pa.int64()))
    fields += [pa.field(metric, pa.float64()) for metric in spec.sweep.metrics]
    fields += [pa.field("error", pa.string()), pa.field("traceback", pa.string())]
    return pa.schema(fields)


def _parameter_type(values: list[Any]) -> pa.DataType:
    if all(isinstance(v, bool) for v in values):
        return pa.bool_()
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return pa.int64()
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return pa.float64()
    return pa.string()


def rows_to_table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Rows as an Arrow table of the sweep's schema (numbers coerced to the column's type)."""
    columns = {}
    for field in schema:
        values = [row.get(field.name) for row in rows]
        if pa.types.is_floating(field.type):
            values = [None if v is None else float(v) for v in values]
        columns[field.name] = pa.array(values, type=field.type)
    return pa.table(columns, schema=schema)


def write_atomic(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``: readers never see a partial file, and a
    sweep killed mid-write leaves only a hidden temp file (removed on resume)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        # mkstemp makes the file private; results are for sharing, as the umask allows
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class SweepStore:
    """The output folder of one sweep."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.chunks = self.out / CHUNKS
        self.manifest_path = self.out / MANIFEST
        self.errors_path = self.out / ERRORS
        # Chunk names carry a per-session token: a resumed session never overwrites a chunk.
        self._session = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
        self._written = 0

    # --- opening ------------------------------------------------------------------------------

    def check(self, spec: SweepSpec, *, resume: bool,
              model: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Check that the sweep may write here (nothing is created); return the previous
        manifest when resuming one.

        A folder another sweep is writing is refused. Without ``resume`` an existing non-empty
        folder is refused; with it, the folder must hold a sweep of the same spec (same
        fingerprint) and the same resolved ``model`` (see :mod:`sim.sweep.resolved`), or nothing
        yet.
        """
        if self.out.exists() and not self.out.is_dir():
            raise SweepSpecError(f"--out {self.out} is a file, not a folder; give a folder for the "
                                 f"sweep's results")
        holder = self._lock_holder()
        if holder is not None:
            raise SweepSpecError(f"{self.out}: a sweep is already writing here ({holder}); wait "
                                 f"for it to end or stop it, then --resume")
        previous = None
        if self.out.exists() and any(self.out.iterdir()):
            if not resume:
                raise SweepSpecError(f"--out {self.out} is not empty; pass --resume to continue "
                                     f"the sweep in it, or choose another --out")
            previous = self.read_manifest()
            if previous is None and self.chunk_files():
                raise SweepSpecError(f"{self.out}: chunks without {MANIFEST}; not a sweep folder "
                                     f"this version can resume; choose another --out")
            if previous is not None:
                self._check_same_sweep(spec, previous, model)
        return previous

    def _check_same_sweep(self, spec: SweepSpec, previous: dict[str, Any],
                          model: dict[str, Any] | None) -> None:
        if previous.get("fingerprint") != spec.fingerprint():
            differences = _spec_changes(previous.get("spec"), spec)
            raise SweepSpecError(
                f"{self.out} holds a sweep of a different spec (from "
                f"{previous.get('spec_file')!r}"
                + (f"; changed: {describe_changes(differences)}" if differences else "")
                + "); resuming would mix results. Choose another --out, or restore that spec")
        if model is None:
            return
        old = previous.get("model")
        if not isinstance(old, dict):
            raise SweepSpecError(
                f"{self.out} was written by an older recip that did not record the resolved "
                f"model, so resuming cannot check that new runs use the same rules; start the "
                f"sweep again with another --out")
        if old.get("fingerprint") != model["fingerprint"]:
            changed = changes(old, model)
            raise SweepSpecError(
                f"{self.out}: the model differs from the one its runs were made with, so "
                f"resuming would mix results of two models. Changed since the sweep started "
                f"(from the scenario file, scenarios/_defaults.toml, _strategies.toml or a "
                f"network file): {describe_changes(changed) or 'the resolved parameters'}. "
                f"Restore them, or run the sweep again with another --out")

    def _lock_holder(self) -> str | None:
        """Who holds ``OUT/.lock`` now ("pid N"), or None. Opens the lock only if it exists."""
        path = self.out / LOCK
        if not path.is_file():
            return None
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks
            return None
        try:
            with open(path, "r+") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return handle.read().strip() or "another process"
                fcntl.flock(handle, fcntl.LOCK_UN)
        except OSError:
            return None  # unreadable: writing() will say what is wrong
        return None

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the folder for one sweep: create it, take its lock (two sweeps writing the same
        chunks could duplicate runs) and remove temp files left by a sweep killed mid-write.

        The lock is an ``flock`` on ``OUT/.lock``: the system drops it when the holder dies,
        even by SIGKILL, so a killed sweep never blocks its own resumption.
        """
        try:
            self.chunks.mkdir(parents=True, exist_ok=True)
            handle = open(self.out / LOCK, "a+")  # noqa: SIM115 - held for the whole block
        except OSError as exc:
            raise SweepSpecError(f"--out {self.out}: cannot write there ({exc.strerror or exc}); "
                                 f"choose another --out") from None
        with handle:
            _lock_or_fail(handle, self.out)
            for stale in self.chunks.glob(".*.tmp"):
                stale.unlink(missing_ok=True)
            yield

    # --- chunks -------------------------------------------------------------------------------

    def chunk_files(self) -> list[Path]:
        """The finished chunks, in name order."""
        return sorted(self.chunks.glob("chunk-*.parquet")) if self.chunks.is_dir() else []

    def write_chunk(self, table: pa.Table) -> Path:
        """Write one batch's rows as a new chunk, atomically."""
        first = min(table["run_id"].to_pylist())
        self._written += 1
        path = self.chunks / f"chunk-{self._session}-{self._written:06d}-{first:09d}.parquet"
        write_atomic(path, lambda tmp: pq.write_table(table, tmp))
        return path

    def finished_runs(self) -> tuple[set[int], int]:
        """Run ids present in the chunks (finished, failed or not) and how many of them failed."""
        ids: set[int] = set()
        failed = 0
        for chunk in self.chunk_files():
            table = self._read(chunk, columns=["run_id", "error"])
            ids.update(table["run_id"].to_pylist())
            failed += len({r for r, e in zip(table["run_id"].to_pylist(),
                                             table["error"].to_pylist(), strict=True) if e})
        return ids, failed

    def forget_failed(self) -> int:
        """Remove the failed runs from the chunks, so that they run again; return how many.

        Each chunk holding a failure is rewritten without it (atomically; a chunk of failures
        only is deleted). Interrupted half-way, the runs already removed are simply not done
        yet: the next resume runs them. Their errors stay in ``errors.csv`` until then.
        """
        forgotten = 0
        for chunk in self.chunk_files():
            errors = self._read(chunk, columns=["error"])["error"]
            if errors.null_count == len(errors):
                continue
            table = self._read(chunk)
            ok = table.filter(pc.is_null(table["error"]))
            forgotten += len(set(table["run_id"].to_pylist()) - set(ok["run_id"].to_pylist()))
            if ok.num_rows:
                write_atomic(chunk, lambda tmp, ok=ok: pq.write_table(ok, tmp))
            else:
                chunk.unlink()
        return forgotten

    def iter_tables(self, columns: list[str] | None = None) -> Iterator[pa.Table]:
        """The chunks one at a time (each holds whole runs)."""
        for chunk in self.chunk_files():
            yield self._read(chunk, columns=columns)

    def _read(self, chunk: Path, columns: list[str] | None = None) -> pa.Table:
        try:
            return pq.read_table(chunk, columns=columns)
        except (pa.ArrowException, OSError) as exc:
            raise SweepSpecError(f"{chunk}: cannot read this chunk ({exc}); move it away and run "
                                 f"again with --resume to redo its runs") from None

    # --- manifest and errors --------------------------------------------------------------------

    def read_manifest(self) -> dict[str, Any] | None:
        """The manifest, or None when there is none yet."""
        if not self.manifest_path.is_file():
            return None
        try:
            return json.loads(self.manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise SweepSpecError(f"{self.manifest_path}: not valid JSON ({exc})") from None

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Replace the manifest atomically (strict JSON)."""
        text = strict_json(manifest, indent=2)
        write_atomic(self.manifest_path, lambda tmp: tmp.write_text(text))

    def write_errors(self, parameter_names: Sequence[str]) -> int:
        """Write ``errors.csv`` (one line per failed run) from the chunks; return the count.
        Removes a stale file when no run failed."""
        import pandas as pd

        columns = [*ID_COLUMNS, *parameter_names, "error"]
        failed = []
        for table in self.iter_tables(columns=columns):
            frame = table.to_pandas()
            failed.append(frame[frame["error"].notna()])
        errors = pd.concat(failed, ignore_index=True) if failed else pd.DataFrame(columns=columns)
        if errors.empty:
            self.errors_path.unlink(missing_ok=True)
            return 0
        errors = errors.sort_values("run_id")
        write_atomic(self.errors_path, lambda tmp: errors.to_csv(tmp, index=False))
        return len(errors)


def _spec_changes(old: Any, spec: SweepSpec) -> list[str]:
    """Fields that differ between the spec in a manifest and ``spec`` (empty if unknown)."""
    from sim.sweep.resolved import dotted
    from sim.sweep.spec import parse_spec

    try:
        before = parse_spec(old).model_dump(mode="json", by_alias=True, exclude={"source"})
    except (SweepSpecError, TypeError):
        return []
    after = spec.model_dump(mode="json", by_alias=True, exclude={"source"})
    for dump in (before, after):
        dump["sweep"].pop("batch", None)
    return changes({"parameters": dotted(before)}, {"parameters": dotted(after)})


def _lock_or_fail(handle, out: Path) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; one sweep per folder is up to the user
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        raise SweepSpecError(f"{out}: a sweep is already writing here ({holder}); wait for it "
                             f"to end or stop it, then --resume") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()


def read_results(out: str | Path, columns: list[str] | None = None) -> Any:
    """All rows of a sweep as a pandas DataFrame sorted by run id and step.

    Convenience for notebooks and tests on sweeps that fit in memory; analysis goes chunk by
    chunk instead.
    """
    store = SweepStore(out)
    tables = list(store.iter_tables(columns=columns))
    if not tables:
        raise SweepSpecError(f"{out}: no results (no {CHUNKS}/chunk-*.parquet); run `recip sweep` "
                             f"first")
    frame = pa.concat_tables(tables).to_pandas()
    order = [c for c in ("run_id", "step") if c in frame.columns]
    return frame.sort_values(order, na_position="last").reset_index(drop=True)
