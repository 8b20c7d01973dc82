"""``recip sweep`` and ``recip analyze``: typer command functions.

Register them on the main app with ``app.command("sweep")(sweep)`` and
``app.command("analyze")(analyze)``. Every failure is one message on stderr, never a traceback
(set ``RECIP_DEBUG=1`` to see one), and an exit code:

- 0: done; 2: a user error (a bad spec or option, a busy or unusable output folder, an
  unreachable scheduler); 3: aborted (workers kept dying, the cluster failed, the output folder
  could not be written: finished runs are saved, ``--resume`` goes on); 4: the sweep finished
  but some runs raised (all else written; ``--retry-failed`` runs them again); 1: an unexpected
  error; 130: interrupted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from sim.config import ScenarioError

console = Console()
err_console = Console(stderr=True)

EXIT_UNEXPECTED = 1
EXIT_USER_ERROR = 2
EXIT_ABORTED = 3
EXIT_RUNS_FAILED = 4
EXIT_INTERRUPTED = 130
MAX_SEED = 2**63 - 1
WORKERS_PER_CORE = 4
"""--workers above this many per core is refused: more processes than cores only slow a sweep
(and a typo such as --workers 1000 would start a thousand)."""


def _fail(message: str, code: int = EXIT_USER_ERROR) -> typer.Exit:
    # Escaped: messages quote TOML tables such as [design.parameters], which rich would eat.
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextlib.contextmanager
def _one_line_errors(what: str) -> Iterator[None]:
    """Anything unexpected ends as one line and exit code 1 (RECIP_DEBUG=1: the traceback)."""
    try:
        yield
    except (typer.Exit, typer.Abort, KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        if os.environ.get("RECIP_DEBUG"):
            raise
        reason = " ".join(str(exc).split()) or "no message"
        raise _fail(f"{what} failed unexpectedly: {type(exc).__name__}: {reason} (set "
                    f"RECIP_DEBUG=1 for the traceback)", EXIT_UNEXPECTED) from None


def default_out(spec: Path) -> Path:
    """Where a sweep writes when ``--out`` is not given: ``results/sweeps/<spec name>``."""
    return Path("results") / "sweeps" / spec.stem


def sweep(
    spec: Annotated[Path, typer.Argument(help="Sweep spec (TOML); see `sim.sweep` for the format.")],
    workers: Annotated[int | None, typer.Option(
        "--workers", "-w", min=1,
        help="Worker processes (default: all cores). With --scheduler local: the cluster's size.")
    ] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Run on Dask: 'local' starts a LocalCluster, tcp://HOST:PORT uses a running "
             "scheduler (needs the optional dask extra).")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue the sweep in --out, skipping the runs already saved.")] = False,
    retry_failed: Annotated[bool, typer.Option(
        "--retry-failed", help="Resume, and run again the runs that raised (once their cause "
                               "is fixed).")] = False,
    seed: Annotated[int | None, typer.Option(
        min=0, max=MAX_SEED, help="Base seed, instead of the spec's sweep.seed.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Output folder (default: results/sweeps/<spec name>).")] = None,
) -> None:
    """Run a parameter sweep: every design point x replication, streamed to Parquet chunks in
    OUT with a manifest; `recip analyze OUT` summarises it."""
    from sim.sweep.execute import SweepAborted, progress_reporter, run_sweep
    from sim.sweep.spec import load_spec

    out = out or default_out(spec)
    with _one_line_errors("recip sweep"):
        _check_workers(workers)
        try:
            loaded = load_spec(spec)
        except ScenarioError as exc:
            raise _fail(str(exc)) from None
        if seed is not None:
            loaded.sweep.seed = seed
        update, close = progress_reporter(sys.stderr)
        previous_term = signal.signal(signal.SIGTERM, _terminate_as_interrupt)
        try:
            outcome = run_sweep(loaded, out, workers=workers, scheduler=scheduler,
                                resume=resume, retry_failed=retry_failed, progress=update)
        except ScenarioError as exc:
            raise _fail(str(exc)) from None
        except SweepAborted as exc:
            close()
            raise _fail(str(exc), EXIT_ABORTED) from None
        except KeyboardInterrupt:
            close()
            err_console.print(f"interrupted: finished runs are saved in {out}; continue with "
                              f"`recip sweep {spec} --out {out} --resume`", highlight=False,
                              soft_wrap=True, markup=False)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        finally:
            signal.signal(signal.SIGTERM, previous_term)
        close()
    _report(outcome, out)


def _check_workers(workers: int | None) -> None:
    cores = os.cpu_count() or 1
    if workers is not None and workers > WORKERS_PER_CORE * cores:
        raise _fail(f"--workers {workers}: at most {WORKERS_PER_CORE * cores} on this machine "
                    f"({WORKERS_PER_CORE} x its {cores} cores); more processes than cores only "
                    f"slow a sweep")


def _report(outcome, out: Path) -> None:
    """The closing lines; exit code 4 when runs raised (everything else is written)."""
    rate = outcome.runs_this_session / outcome.seconds if outcome.seconds > 0 else 0.0
    retried = f", {outcome.runs_retried} failed runs retried" if outcome.runs_retried else ""
    console.print(f"{outcome.runs_done}/{outcome.runs_total} runs in {out} "
                  f"({outcome.runs_this_session} this time{retried}, {outcome.seconds:.1f} s, "
                  f"{rate:.2f} runs/s, {outcome.backend} x{outcome.workers}, batch "
                  f"{outcome.batch})", highlight=False, soft_wrap=True, markup=False)
    for warning in outcome.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False,
                          soft_wrap=True)
    console.print(f"next: recip analyze {out}", highlight=False, soft_wrap=True, markup=False)
    if outcome.runs_failed:
        raise typer.Exit(EXIT_RUNS_FAILED)


def _terminate_as_interrupt(signum, frame) -> None:
    """SIGTERM (e.g. a batch system's time limit) stops the sweep like Ctrl-C: cleanly."""
    raise KeyboardInterrupt


def analyze(
    out_dir: Annotated[Path, typer.Argument(help="Output folder of `recip sweep`.")],
) -> None:
    """Summarise a sweep by design point (mean and 95% interval of each metric at the final
    step) into OUT_DIR/analysis: summary.csv, REPORT.md and figures; Sobol, Morris or PRCC
    (lhs) indices for sampled designs, heatmaps and effect plots for grids."""
    from sim.sweep.analyze import analyze_sweep

    with _one_line_errors("recip analyze"):
        try:
            result = analyze_sweep(out_dir)
        except ScenarioError as exc:
            raise _fail(str(exc)) from None
        except OSError as exc:
            raise _fail(f"cannot write the analysis into {out_dir}: "
                        f"{exc.strerror or exc}; nothing was changed there", EXIT_ABORTED) from None
    for path in result.files:
        console.print(str(path), highlight=False, soft_wrap=True, markup=False)
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False,
                          soft_wrap=True)
