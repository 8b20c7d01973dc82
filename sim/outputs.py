"""Output folders written whole or not at all: ``recip run``, ``recip validate`` (and any command
that writes a folder of results).

Use :func:`check_destination` before the work starts (a bad ``--out`` is a user error, said at
once), then write everything inside :func:`staged_output`::

    check_destination(out)                       # before the simulation
    ...
    with staged_output(out) as folder:           # a new folder beside out
        write_json(folder / "summary.json", summary)
        frame.to_parquet(folder / "timeseries.parquet")
    # here, and only here, the files are in out

Everything is written into a hidden folder beside ``out`` (``.NAME.tmp-PID-XXXXXX``, same file
system) and moved into place at the end: ``out`` missing or empty, the folder is renamed to it
(one atomic rename); ``out`` already holding other things (``results/`` with earlier runs), each
file written replaces its namesake in ``out`` (one rename each, with SIGINT and SIGTERM held until
all are in) and everything else in ``out`` is left alone. A failure, Ctrl-C or SIGTERM before that
removes the staging folder: ``out`` keeps what it had, and no half-written folder is left. A
staging folder left by a killed process (``kill -9``) is removed by the next command writing
beside it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sim.errors import ScenarioError

STAGING = ".tmp-"


class OutputError(ScenarioError):
    """An output folder that cannot be used (a user error: exit code 2)."""


class OutputWriteError(OSError):
    """Writing the outputs failed (a full disk, permissions changed...); nothing was moved into
    the output folder."""


def check_destination(out: str | Path) -> Path:
    """``out`` can be written: a folder or nothing yet, under a folder this user can write in.
    Raises :class:`OutputError` naming ``out`` and what is allowed; creates nothing."""
    out = Path(out)
    try:
        if not str(out).isprintable():
            raise ValueError("control characters in the name")
        if out.exists():
            if not out.is_dir():
                raise OutputError(f"--out {out}: is a file, not a folder; allowed: a folder "
                                  f"(created if missing)")
            # the outputs are built beside out, then moved into it
            folders = [out, out.absolute().parent]
        else:
            nearest = _nearest_existing(out.parent)
            if not nearest.is_dir():
                raise OutputError(f"--out {out}: {nearest} is a file, not a folder; allowed: a "
                                  f"folder under a folder")
            folders = [nearest]
        for folder in folders:
            if not os.access(folder, os.W_OK | os.X_OK):
                raise OutputError(f"--out {out}: cannot write in {folder} (permission denied)")
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte
        if isinstance(exc, OutputError):
            raise
        raise OutputError(f"--out {str(out)[:200]!r}: not a usable folder: "
                          f"{getattr(exc, 'strerror', None) or exc}") from None
    return out


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


@contextlib.contextmanager
def staged_output(out: str | Path) -> Iterator[Path]:
    """A new folder beside ``out`` to write into; moved into place when the block ends without
    error, removed otherwise (see the module docstring). Folders missing above ``out`` are
    created, and removed again if nothing ends up in them."""
    out = Path(check_destination(out))
    created = _make_parents(out.parent)
    _remove_stale(out)
    stage = out.with_name(f".{out.name}{STAGING}{os.getpid()}-{secrets.token_hex(3)}")
    try:
        stage.mkdir()
        with _interrupt_on_sigterm():
            yield stage
            with _signals_held():
                _move_into_place(stage, out)
    except OSError as exc:
        _discard(stage, created)
        raise OutputWriteError(exc.errno, f"cannot write the outputs into {out}: "
                                          f"{exc.strerror or exc}; nothing was changed there"
                               ) from exc
    except BaseException:
        _discard(stage, created)
        raise


def write_json(path: str | Path, obj: Any) -> Path:
    """``obj`` as strict JSON (no NaN or Infinity, which strict readers reject: non-finite numbers
    become null; numpy scalars become numbers), indented, with a final newline."""
    from sim.sweep.store import strict_json

    path = Path(path)
    path.write_text(strict_json(obj, indent=2) + "\n")
    return path


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return those created, deepest first."""
    missing = []
    probe = folder.absolute()
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _discard(stage: Path, created: list[Path]) -> None:
    shutil.rmtree(stage, ignore_errors=True)
    for folder in created:  # deepest first; only if still empty (another writer may use it)
        with contextlib.suppress(OSError):
            folder.rmdir()


def _move_into_place(stage: Path, out: Path) -> None:
    if not out.exists() or not any(out.iterdir()):
        try:
            os.replace(stage, out)  # an empty folder is replaced in one rename
            return
        except OSError:
            if not out.is_dir():  # not a race with another writer filling it: a real failure
                raise
    for entry in sorted(stage.iterdir()):
        target = out / entry.name
        if entry.is_dir() and target.is_dir():
            shutil.rmtree(target)
        os.replace(entry, target)
    stage.rmdir()


def _remove_stale(out: Path) -> None:
    """Staging folders beside ``out`` whose process is gone (killed with -9)."""
    import psutil

    for path in out.parent.glob(f".{out.name}{STAGING}*"):
        pid = path.name.removeprefix(f".{out.name}{STAGING}").split("-")[0]
        if pid.isdigit() and not psutil.pid_exists(int(pid)) and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _interrupt_on_sigterm() -> Iterator[None]:
    """SIGTERM (a batch system's time limit, ``kill``) stops the writing like Ctrl-C: the
    staging folder is removed instead of left behind."""
    if not _main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the files are all in place (a few renames)."""
    if not _main_thread():
        yield
        return
    held = (signal.SIGINT, signal.SIGTERM)
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
