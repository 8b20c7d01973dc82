"""The ``recip`` command line: scenarios, metrics, run, compare, validate, calibrate, sweep,
analyze, app.

Exit codes: 0 done; 2 a user error (a bad scenario, value, option or output folder: one message
naming the file, the field, the value and what is allowed); 1 an unexpected error (one line;
``recip --debug ...`` or ``RECIP_DEBUG=1`` shows the traceback) or a write failure; 130
interrupted. ``recip sweep`` adds its own (``sim.sweep.cli``), ``recip validate`` exits 1 when a
check fails.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from sim.config import MAX_STEPS, ScenarioError, list_scenarios, load_scenario, parse_value
from sim.outputs import OutputWriteError, check_destination, staged_output
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
        "--detail", help="Print the trainer's guide of one scenario.")] = None,
        check: Annotated[str | None, typer.Option(
            "--check", help="Run the checks of one scenario's 'things to try' claims.")] = None,
        reps: Annotated[int | None, typer.Option(
            min=2, max=200, help="Replications per claim (default: each check's own).")] = None,
        ) -> None:
    """List the shipped scenarios, one line each (or one scenario in detail, or its guide's
    claims checked with replications)."""
    try:
        if detail is not None:
            _print_detail(detail)
            return
        if check is not None:
            _print_checks(check, reps)
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


def _print_checks(name: str, reps: int | None) -> None:
    from sim.guide_checks import check_claims

    results = check_claims(name, reps=reps)
    table = Table(show_header=True, header_style="bold")
    for column in ("try", "claim", "expect", "means over replications", "result"):
        table.add_column(column)
    for r in results:
        values = "\n".join(f"{k} = {v:.4g}" for k, v in r.values.items())
        table.add_row(str(r.item), r.text, r.expect, values,
                      "[green]holds[/]" if r.passed else "[bold red]fails[/]")
    console.print(table)
    if not results:
        console.print(f"{name}: its guide has no checked claims")
    if not all(r.passed for r in results):
        raise typer.Exit(1)


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
    reps: Annotated[int, typer.Option(
        help="Replications (seeds derived from --seed); above 1, the table and figure show "
             "means with 95% intervals.", min=1)] = 1,
    agents: Annotated[bool, typer.Option(
        "--agents", help="Also write per-buyer and per-tie state to OUT/agents/.")] = False,
    agents_every: Annotated[int, typer.Option(
        help="With --agents: record every K steps (and the last).", min=1)] = 1,
    format_: Annotated[str, typer.Option(
        "--format", help="Tables as parquet or csv.")] = "parquet",
) -> None:
    """Run a scenario: print a summary per strategy; write timeseries.parquet, summary.json and
    metrics.png (+ .svg) to OUT; with --reps N, N replications with 95% intervals."""
    from sim.runner import TABLE_FORMATS

    try:
        if format_ not in TABLE_FORMATS:
            raise ScenarioError(f"--format = {format_!r}: allowed: {', '.join(TABLE_FORMATS)}")
        if agents and reps > 1:
            raise ScenarioError(f"--agents with --reps = {reps}: agent-level output records one "
                                f"run; use --reps 1 (the default)")
        overrides = parse_sets(set_ or [])
        load_scenario(scenario, arm=arm, overrides=overrides)  # fail fast, before any work
        check_destination(out)  # a bad --out is said before the simulation
        if reps > 1:
            paths = _run_replications(scenario, arm=arm, overrides=overrides, seed=seed,
                                      steps=steps, reps=reps, out=out, fmt=format_)
        else:
            paths = _run_once(scenario, arm=arm, overrides=overrides, seed=seed, steps=steps,
                              out=out, fmt=format_, agents_every=agents_every if agents else 0)
    except ScenarioError as exc:
        raise fail(str(exc)) from None
    for label, path in paths.items():
        console.print(f"{label}: {path}")


def _run_once(scenario, *, arm, overrides, seed, steps, out, fmt, agents_every) -> dict:
    from rich.progress import Progress

    from sim.runner import run_scenario, write_outputs

    recorder = None
    # everything, agent tables recorded during the run included, goes into a staging folder
    # moved into place at the end: a failed or interrupted run leaves OUT as it was
    with staged_output(out) as folder:
        def record(model, step, horizon):
            nonlocal recorder
            if agents_every and recorder is None:
                from sim.agent_output import AgentRecorder

                recorder = AgentRecorder(model, folder, every=agents_every, fmt=fmt)
            if recorder is not None and recorder.due(step, horizon):
                recorder.record(step)

        try:
            with Progress(console=err_console, transient=True,
                          disable=not err_console.is_terminal) as progress:
                task = progress.add_task(f"running {scenario}", total=steps)
                model = run_scenario(
                    scenario, arm=arm, overrides=overrides, seed=seed, steps=steps,
                    progress=lambda s, n: progress.update(task, completed=s, total=n),
                    on_step=record)
        except BaseException:
            if recorder is not None:
                recorder.abort()
            raise
        paths = write_outputs(model, folder, seed=seed, overrides=overrides, fmt=fmt)
        if recorder is not None:
            paths.update(recorder.close())
    _print_summary(model)
    return _moved(paths, folder, out)


def _moved(paths: dict[str, Path], folder: Path, out: Path) -> dict[str, Path]:
    """Where the files written into the staging ``folder`` are now that it is in ``out``."""
    return {label: out / Path(path).relative_to(folder) for label, path in paths.items()}


def _run_replications(scenario, *, arm, overrides, seed, steps, reps, out, fmt) -> dict:
    from sim.compare import replicate
    from sim.runner import write_replication_outputs

    with err_console.status(f"running {reps} replications of {scenario}",
                            spinner="dots") if err_console.is_terminal else _nothing():
        result = replicate(scenario, reps=reps, seed=seed, arm=arm, overrides=overrides,
                           steps=steps)
    with staged_output(out) as folder:
        paths = write_replication_outputs(result, folder, fmt=fmt)
    _print_replication_summary(result)
    return _moved(paths, folder, out)


@contextlib.contextmanager
def _nothing():
    yield


SUMMARY_METRICS = ("conversion_rate", "revenue", "complaint_rate", "retention_90d", "referrals",
                   "negative_wom", "mean_perceived_sincerity", "backfire_rate", "opt_out_rate",
                   "gift_cost", "contact_cost", "discounts_given", "net_revenue",
                   "return_on_gifts", "cost_per_conversion", "value_per_buyer_reached")


def _print_summary(model) -> None:
    frame = model.metrics_by_strategy()
    final = frame[frame.step == frame.step.max()]
    extra = [name for name in model.config.outcomes]
    columns = [*SUMMARY_METRICS, *extra]
    from sim.compare import elapsed

    table = Table(title=f"{model.config.name}, {elapsed(model.config, model.steps)} (seed "
                        f"{model.seed_entropy}, one run)")
    table.add_column("metric")
    for strategy in final.strategy:
        table.add_column(strategy, justify="right")
    for metric in columns:
        values = [final.loc[final.strategy == s, metric].iloc[0] for s in final.strategy]
        table.add_row(metric, *(_fmt(v) for v in values))
    console.print(table)


def _print_replication_summary(result) -> None:
    from sim.compare import elapsed

    summary = result.summary()
    table = Table(title=f"{result.scenario}, {elapsed(result.config, int(result.runs.step.max()))}"
                        f": mean [95% CI] over "
                        f"{len(result.seeds)} replications (base seed {result.seed})")
    table.add_column("metric")
    strategies = result.strategies if len(result.strategies) > 1 else []
    for strategy in [*strategies, "all"]:
        table.add_column(strategy, justify="right")
    for metric in [*SUMMARY_METRICS, *result.outcomes]:
        cells = []
        for strategy in [*strategies, "all"]:
            row = summary[(summary.strategy == strategy) & (summary.metric == metric)].iloc[0]
            cells.append(f"{_fmt(row['mean'])} [{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]")
        table.add_row(metric, *cells)
    console.print(table)


def _fmt(value: float) -> str:
    if value != value:  # NaN
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3f}"


@app.command()
def compare(
    scenario: Annotated[str, typer.Argument(help="Shipped scenario name or path to a .toml file.")],
    a: Annotated[str, typer.Argument(help="Side A: an arm, or a strategy in play (arm:NAME or "
                                          "strategy:NAME when it is both).")],
    b: Annotated[str, typer.Argument(help="Side B, of the same kind as A.")],
    reps: Annotated[int, typer.Option(help="Paired replications (common random numbers).",
                                      min=2)] = 30,
    seed: Annotated[int, typer.Option(help="Base seed of the replications.")] = 0,
    steps: Annotated[int | None, typer.Option(help="Day compared (default: the scenario's "
                                                   "horizon).", min=1)] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a parameter on both sides (repeatable).")] = None,
    arm: Annotated[str | None, typer.Option(
        help="Strategies A and B: the arm they are compared in.")] = None,
    strategy: Annotated[str | None, typer.Option(
        help="Arms A and B: compare this strategy's metrics (default: all sellers).")] = None,
    metric: Annotated[list[str] | None, typer.Option(
        help="Metrics to compare (repeatable; default: all).")] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("results"),
) -> None:
    """Compare two arms or two strategies: paired differences A - B with 95% intervals and a
    paired t-test over replications on the same seeds; writes compare.csv, values.csv,
    compare.json and compare.png (+ .svg) to OUT."""
    from sim.compare import compare as run_comparison
    from sim.runner import run_provenance

    try:
        overrides = parse_sets(set_ or [])
        check_destination(out)  # a bad --out is said before the replications
        result = run_comparison(scenario, a, b, reps=reps, seed=seed, arm=arm,
                                strategy=strategy, overrides=overrides, steps=steps,
                                metrics=metric)
    except ScenarioError as exc:
        raise fail(str(exc)) from None
    with staged_output(out) as folder:
        paths = result.write(folder, provenance=run_provenance(result.config, overrides))
    paths = _moved(paths, folder, out)
    _print_comparison(result)
    for label, path in paths.items():
        console.print(f"{label}: {path}")


def _print_comparison(result) -> None:
    table = Table(title=f"{result.title}\nA - B: mean paired difference [95% CI], paired t-test")
    for column in ("metric", "unit", "A", "B", "A - B [95% CI]", "p"):
        table.add_column(column, justify="left" if column in ("metric", "unit") else "right")
    for row in result.table.itertuples():
        table.add_row(row.metric, row.unit, _fmt(row.mean_a), _fmt(row.mean_b),
                      f"{_fmt(row.difference)} [{_fmt(row.ci_low)}, {_fmt(row.ci_high)}]",
                      "-" if row.p_value != row.p_value else f"{row.p_value:.2g}")
    console.print(table)


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
    """Commands that live in their own modules (validate, calibrate, sweep, analyze).

    Imported unconditionally: these modules import only light, required packages at the top
    (their heavy work is imported when a command runs), so an ImportError here is a broken
    install or a bug, and must be seen rather than make a command vanish from the CLI.
    """
    from sim.calibration.cli import calibrate
    from sim.sweep.cli import analyze, sweep
    from sim.validate import validate

    app.command()(validate)
    app.command()(calibrate)
    app.command()(sweep)
    app.command()(analyze)


_register_optional_commands()

if __name__ == "__main__":
    app()
