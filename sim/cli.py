"""The ``recip`` command line: scenarios, run, validate, sweep, analyze, app.

Exit codes: 0 done; 2 a user error (a bad scenario, value, option or output folder: one message
naming the file, the field, the value and what is allowed); 1 an unexpected error (one line;
``recip --debug ...`` or ``RECIP_DEBUG=1`` shows the traceback) or a write failure; 130
interrupted. ``recip sweep`` adds its own (``sim.sweep.cli``), ``recip validate`` exits 1 when a
check fails.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from sim.config import MAX_STEPS, ScenarioError, list_scenarios, load_scenario, parse_value
from sim.outputs import OutputWriteError, check_destination
from sim.sweep.cli import MAX_SEED, _one_line_errors

DEBUG_FLAG = "--debug"
EXIT_INTERRUPTED = 130


class _Commands(TyperGroup):
    """Runs every command (those added later too) so that nothing ends in a wall of traceback:
    a :class:`ScenarioError` a command let through is a user error (its message, exit code 2),
    a write failure one plain line (exit code 1), any other exception one line and exit code 1
    (the sweep's own handler, so both read RECIP_DEBUG), Ctrl-C "interrupted" and exit code 130.
    ``--debug`` is taken before or after the command's name."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        end = args.index("--") if "--" in args else len(args)
        if DEBUG_FLAG in args[:end]:
            _debug_on(ctx)
            args = [arg for i, arg in enumerate(args) if i >= end or arg != DEBUG_FLAG]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except (typer.TyperException, typer.Exit, typer.Abort):
            raise  # usage errors (exit 2, typer's own message) and deliberate exits
        except ScenarioError as exc:  # a user error that a command did not catch itself
            raise fail(str(exc)) from None
        except KeyboardInterrupt:
            err_console.print("interrupted", highlight=False)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except OutputWriteError as exc:  # a full disk is no bug: said plainly, no "unexpectedly"
            if os.environ.get("RECIP_DEBUG"):
                raise
            raise fail(str(exc), 1) from None
        except Exception:
            with _one_line_errors(f"recip {ctx.invoked_subcommand or ''}".strip()):
                raise


def _debug_on(ctx: typer.Context) -> None:
    """RECIP_DEBUG=1 for this command (the sweep's handlers read it too), restored after."""
    previous = os.environ.get("RECIP_DEBUG")
    os.environ["RECIP_DEBUG"] = "1"

    def restore() -> None:
        if previous is None:
            os.environ.pop("RECIP_DEBUG", None)
        else:
            os.environ["RECIP_DEBUG"] = previous

    ctx.call_on_close(restore)


app = typer.Typer(add_completion=False, no_args_is_help=True, cls=_Commands,
                  pretty_exceptions_show_locals=False,
                  help="Agent-based simulation of the norm of reciprocity between buyers and sellers.")
console = Console()
err_console = Console(stderr=True)


@app.callback()
def _options(ctx: typer.Context, debug: Annotated[bool, typer.Option(
        DEBUG_FLAG, help="Show the traceback of an unexpected error (also RECIP_DEBUG=1).")] = False
             ) -> None:
    if debug:
        _debug_on(ctx)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a user error (no traceback) and return the exit to raise."""
    # soft_wrap: a long message is not cut into lines mid-word (a terminal wraps it anyway)
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True,
                      soft_wrap=True)
    return typer.Exit(code)


def parse_sets(sets: list[str]) -> dict[str, object]:
    """``--set key=value`` pairs as overrides; values parsed as TOML (bare words are strings)."""
    overrides = {}
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            shown = repr(item) if len(item) <= 80 else f"{item[:80]!r}... ({len(item):,} characters)"
            raise ScenarioError(f"--set {shown}: expected key=value, e.g. --set buyers.n=500")
        overrides[key.strip()] = parse_value(value.strip())
    return overrides


@app.command()
def scenarios(detail: Annotated[str | None, typer.Option(
        "--detail", help="Print the trainer's guide of one scenario.")] = None) -> None:
    """List the shipped scenarios, one line each (or one scenario in detail)."""
    try:
        if detail is not None:
            _print_detail(detail)
            return
        table = Table(show_header=True, header_style="bold")
        table.add_column("scenario")
        table.add_column("what it shows")
        for name in list_scenarios():
            sc = load_scenario(name)
            table.add_row(name, sc.guide.title or sc.guide.what.split(".")[0])
        console.print(table)
    except ScenarioError as exc:
        raise fail(str(exc)) from None


def _print_detail(name: str) -> None:
    sc = load_scenario(name)
    g = sc.guide
    console.print(f"[bold]{name}[/]: {g.title}\n")
    console.print(f"[bold]What it is[/]\n{g.what}\n")
    console.print(f"[bold]Seed context[/]\n{g.context}\n")
    console.print("[bold]Things to notice[/]")
    for item in g.notice:
        console.print(f"  - {item}")
    console.print("\n[bold]Things to try[/]")
    for item in g.try_:
        console.print(f"  - {item}")
    console.print(f"\n[bold]Metric that shows it[/]\n{g.metric}")
    if sc.arms:
        console.print(f"\n[bold]Arms[/]\n{', '.join(sc.arms)}")


@app.command()
def metrics(markdown: Annotated[bool, typer.Option(
        "--markdown", help="Print the README's markdown table.")] = False) -> None:
    """List the metrics (core, reported for every scenario; and outcome kinds a scenario may
    report under its own name), with their definitions and units."""
    from sim.metrics import METRICS

    if markdown:
        console.print("| column | definition |\n|---|---|", highlight=False)
        for m in METRICS.values():
            if m.core:
                console.print(f"| `{m.name}` | {m.definition} |", highlight=False, soft_wrap=True)
        return
    table = Table(show_header=True, header_style="bold")
    for column in ("metric", "kind", "unit", "definition"):
        table.add_column(column)
    for m in METRICS.values():
        table.add_row(m.name, "core" if m.core else "outcome kind", m.unit, m.definition)
    console.print(table)


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="Shipped scenario name or path to a .toml file.")],
    seed: Annotated[int, typer.Option(help="Random seed; one seed gives identical results.",
                                      min=0, max=MAX_SEED)] = 0,
    steps: Annotated[int | None, typer.Option(help="Days to simulate (default: the scenario's).",
                                              min=1, max=MAX_STEPS)] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a parameter, e.g. --set buyers.n=500 (repeatable).")] = None,
    arm: Annotated[str | None, typer.Option(help="One of the scenario's arms.")] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("results"),
) -> None:
    """Run a scenario: print a summary per strategy; write timeseries.parquet, summary.json and
    metrics.png to OUT."""
    from rich.progress import Progress

    from sim.runner import run_scenario, write_outputs

    try:
        overrides = parse_sets(set_ or [])
        load_scenario(scenario, arm=arm, overrides=overrides)  # fail fast, before any work
        check_destination(out)
        with Progress(console=err_console, transient=True,
                      disable=not err_console.is_terminal) as progress:
            task = progress.add_task(f"running {scenario}", total=steps)
            model = run_scenario(scenario, arm=arm, overrides=overrides, seed=seed, steps=steps,
                                 progress=lambda s, n: progress.update(task, completed=s, total=n))
    except ScenarioError as exc:
        raise fail(str(exc)) from None
    paths = write_outputs(model, out, seed=seed)
    _print_summary(model)
    for label, path in paths.items():
        console.print(f"{label}: {path}")


SUMMARY_METRICS = ("conversion_rate", "revenue", "complaint_rate", "retention_90d", "referrals",
                   "negative_wom", "mean_perceived_sincerity", "backfire_rate", "opt_out_rate")


def _print_summary(model) -> None:
    frame = model.metrics_by_strategy()
    final = frame[frame.step == frame.step.max()]
    extra = [name for name in model.config.outcomes]
    columns = [*SUMMARY_METRICS, *extra]
    table = Table(title=f"{model.config.name} after {model.steps} days (seed-level summary)")
    table.add_column("metric")
    for strategy in final.strategy:
        table.add_column(strategy, justify="right")
    for metric in columns:
        values = [final.loc[final.strategy == s, metric].iloc[0] for s in final.strategy]
        table.add_row(metric, *(_fmt(v) for v in values))
    console.print(table)


def _fmt(value: float) -> str:
    if value != value:  # NaN
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3f}"


@app.command("app")
def app_command(
    host: Annotated[str, typer.Option(help="Interface to serve on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.", min=1, max=65535)] = 8765,
) -> None:
    """Serve the browser app (Solara) on HOST:PORT; Ctrl-C or SIGTERM stops it cleanly."""
    server = _load_app_server()
    if not server.is_loopback(host):
        err_console.print(f"[bold yellow]warning:[/] serving on {escape(host)}: the app has no "
                          f"authentication; anyone who can reach this address can use it (and "
                          f"the CPU of this machine). Use the default 127.0.0.1 unless you mean "
                          f"to share it on a trusted network.", highlight=False)
    console.print(f"serving the recip app on http://{host}:{port} (Ctrl-C to stop)")
    server.serve(host, port)  # in this process: a signal stops the server itself, no orphan


def _load_app_server():
    """``viz/server.py`` (the app's launcher), from the checkout or the wheel."""
    import importlib.util

    from sim.paths import viz_dir

    path = viz_dir() / "server.py"
    if not path.is_file():
        raise fail(f"the app is not installed ({path} missing); reinstall recip with the [viz] extra")
    try:
        import solara  # noqa: F401
    except ImportError:
        raise fail("the app needs solara: pip install 'recip[viz]'") from None
    spec = importlib.util.spec_from_file_location("recip_app_server", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _register_optional_commands() -> None:
    """Commands that live in their own modules (validate, sweep, analyze).

    Imported unconditionally: these modules import only light, required packages at the top
    (their heavy work is imported when a command runs), so an ImportError here is a broken
    install or a bug, and must be seen rather than make a command vanish from the CLI.
    """
    from sim.sweep.cli import analyze, sweep
    from sim.validate import validate

    app.command()(validate)
    app.command()(sweep)
    app.command()(analyze)


_register_optional_commands()

if __name__ == "__main__":
    app()
