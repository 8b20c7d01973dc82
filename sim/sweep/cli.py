"""``recip sweep`` and ``recip analyze``: typer command functions.

Register them on the main app with ``app.command("sweep")(sweep)`` and
``app.command("analyze")(analyze)``. User errors (a bad spec, a busy output folder, an
unreachable scheduler) print one message to stderr, without a traceback, and exit with code 2.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from sim.config import ScenarioError

console = Console()
err_console = Console(stderr=True)

EXIT_USER_ERROR = 2
EXIT_ABORTED = 3
EXIT_INTERRUPTED = 130


def _fail(message: str, code: int = EXIT_USER_ERROR) -> typer.Exit:
    # Escaped: messages quote TOML tables such as [design.parameters], which rich would eat.
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


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
    out: Annotated[Path | None, typer.Option(
        help="Output folder (default: results/sweeps/<spec name>).")] = None,
) -> None:
    """Run a parameter sweep: every design point x replication, streamed to Parquet chunks in
    OUT with a manifest; `recip analyze OUT` summarises it."""
    from sim.sweep.execute import SweepAborted, progress_reporter, run_sweep
    from sim.sweep.spec import load_spec

    out = out or default_out(spec)
    try:
        loaded = load_spec(spec)
    except ScenarioError as exc:
        raise _fail(str(exc)) from None
    update, close = progress_reporter(sys.stderr)
    previous_term = signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    try:
        outcome = run_sweep(loaded, out, workers=workers, scheduler=scheduler, resume=resume,
                            progress=update)
    except ScenarioError as exc:
        raise _fail(str(exc)) from None
    except SweepAborted as exc:
        raise _fail(str(exc), EXIT_ABORTED) from None
    except KeyboardInterrupt:
        close()
        err_console.print(f"interrupted: finished runs are saved in {out}; continue with "
                          f"`recip sweep {spec} --out {out} --resume`", highlight=False, soft_wrap=True,
                          markup=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        signal.signal(signal.SIGTERM, previous_term)
    close()
    rate = outcome.runs_this_session / outcome.seconds if outcome.seconds > 0 else 0.0
    console.print(f"{outcome.runs_done}/{outcome.runs_total} runs in {out} "
                  f"({outcome.runs_this_session} this time, {outcome.seconds:.1f} s, "
                  f"{rate:.2f} runs/s, {outcome.backend} x{outcome.workers}, batch "
                  f"{outcome.batch})", highlight=False, soft_wrap=True, markup=False)
    if outcome.runs_failed:
        err_console.print(f"[yellow]warning:[/] {outcome.runs_failed} runs raised; see "
                          f"{escape(str(out / 'errors.csv'))}", highlight=False, soft_wrap=True)
    console.print(f"next: recip analyze {out}", highlight=False, soft_wrap=True, markup=False)


def _terminate_as_interrupt(signum, frame) -> None:
    """SIGTERM (e.g. a batch system's time limit) stops the sweep like Ctrl-C: cleanly."""
    raise KeyboardInterrupt


def analyze(
    out_dir: Annotated[Path, typer.Argument(help="Output folder of `recip sweep`.")],
) -> None:
    """Summarise a sweep by design point (mean and 95% interval of each metric at the final
    step): summary.csv, REPORT.md and figures in OUT_DIR; Sobol and Morris indices for those
    designs, heatmaps for grids over two or more parameters."""
    from sim.sweep.analyze import analyze_sweep

    try:
        written = analyze_sweep(out_dir)
    except ScenarioError as exc:
        raise _fail(str(exc)) from None
    for path in written:
        console.print(str(path), highlight=False, soft_wrap=True, markup=False)
