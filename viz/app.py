"""The recip app (Solara): pick a scenario and arm, set the parameters that matter, step or play
the model, and watch the network, the metrics per strategy and an event log in plain words.
Trainer mode runs two arms side by side on the same seed and shows the gaps.

Serve it with ``recip app`` (or ``solara run viz/app.py``). The drawing and the model handling
live in ``recip_view.py`` beside this file.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path

import ipywidgets as widgets
import solara

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:  # the sibling module, from the checkout (viz/) or the wheel (sim._viz)
    sys.path.insert(0, _HERE)

import recip_view as rv  # noqa: E402

PLAY_PAUSE_SECONDS = 0.05
INTERNAL_ERROR = ("The app hit an internal error and logged it on the server. "
                  "Reset the run or reload the page.")

log = logging.getLogger("recip.app")


# --- small pieces --------------------------------------------------------------------------------


def _fmt(value) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3f}"


def _table(rows: list[dict]) -> str:
    if not rows:
        return "_No data yet: press Step or Play._"
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_fmt(row[h]) for h in head) + " |" for row in rows]
    return "\n".join(lines)


@solara.component
def Png(data: bytes, name: str):
    """A PNG figure (an ipywidgets Image, like solara.FigureMatplotlib)."""
    widgets.Image.element(value=data, format="png", _dom_classes=[f"recip-{name}"],
                          layout=widgets.Layout(max_width="100%", height="auto"))


@solara.component
def ControlInput(control: rv.Control, value, on_change):
    if control.kind == "choice":
        solara.Select(label=control.label, value=value, values=list(control.choices),
                      on_value=on_change)
    elif control.kind == "bool":
        solara.Switch(label=control.label, value=bool(value), on_value=on_change)
    elif control.kind == "int":
        solara.Text(f"{control.label}: {int(value)}", classes=["recip-slider-label"])
        solara.SliderInt(label="", value=int(value), min=int(control.low),
                         max=int(control.high), step=int(control.step), on_value=on_change)
    else:
        solara.Text(f"{control.label}: {float(value):g}", classes=["recip-slider-label"])
        solara.SliderFloat(label="", value=float(value), min=control.low, max=control.high,
                           step=control.step, on_value=on_change)


@solara.component
def Guide(resolved):
    g = resolved.guide
    with solara.Card(classes=["recip-guide"]):
        solara.Markdown(f"### {g.title or resolved.name}")
        if g.what:
            solara.Markdown(f"**What it is.** {g.what}")
        if g.context:
            solara.Markdown(f"_{g.context}_")
        if g.notice:
            solara.Markdown("**Things to notice**\n\n" + "\n".join(f"- {x}" for x in g.notice))
        if g.try_:
            solara.Markdown("**Things to try**\n\n" + "\n".join(f"- {x}" for x in g.try_))
        if g.metric:
            solara.Markdown(f"**Watch:** {g.metric}")


@solara.component
def Panel(frame: rv.Frame, compact: bool = False):
    with solara.Column(classes=["recip-panel"]):
        if compact:
            solara.Markdown(f"### {frame.label}")
        with solara.Row(style={"flex-wrap": "wrap", "align-items": "flex-start"}):
            Png(frame.network_png, "network")
            Png(frame.metrics_png, "metrics")
        with solara.Div(classes=["recip-latest"]):
            solara.Markdown(_table(frame.rows))
        lines = frame.log[-(15 if compact else rv.LOG_LINES):]
        with (solara.Details("Event log (latest last)", expand=not compact),
              solara.Div(classes=["recip-log"])):
            solara.Markdown("\n".join(f"- {line}" for line in lines)
                            or "_Nothing has happened yet._")


# --- the page ------------------------------------------------------------------------------------


@solara.component
def Page():
    """The app inside an error boundary: a failure shows one line, never a traceback."""
    exception, clear = solara.use_exception()
    if exception is not None:
        log.error("the app failed", exc_info=exception)
        InternalError(clear).key("internal-error")  # keys: never reconciled with App's hooks
    else:
        App().key("app")


@solara.component
def InternalError(start_again):
    with solara.Column(style={"padding": "24px"}):
        solara.Error(INTERNAL_ERROR, classes=["recip-internal-error"])
        solara.Button("Start again", on_click=start_again)


@solara.component
def App():
    scenarios = rv.scenario_names()
    scenario = solara.use_reactive(rv.DEFAULT_SCENARIO if rv.DEFAULT_SCENARIO in scenarios
                                   else scenarios[0])
    arm = solara.use_reactive(rv.AS_WRITTEN)
    seed_text = solara.use_reactive(str(rv.DEFAULT_SEED))
    changed = solara.use_reactive({})  # dotted overrides the user set
    trainer = solara.use_reactive(False)
    option_a = solara.use_reactive("")
    option_b = solara.use_reactive("")
    render_every = solara.use_reactive(1)
    playing = solara.use_reactive(False)
    tick = solara.use_reactive(0)
    resets = solara.use_reactive(0)

    def pick_scenario(name):
        if name not in scenarios:  # only the menu's names: never a path a browser sent
            log.warning("ignored a scenario the menu does not offer: %.80r", name)
            return
        playing.set(False)
        scenario.set(name)
        arm.set(rv.AS_WRITTEN)
        changed.set({})
        option_a.set("")
        option_b.set("")

    arm_name = None if arm.value == rv.AS_WRITTEN else arm.value
    seed, seed_error = rv.parse_seed(seed_text.value)
    try:
        resolved = rv.resolve(scenario.value, arm_name, changed.value)
        scenario_error = None
    except rv.ScenarioError as exc:
        resolved, scenario_error = None, str(exc)
    if resolved is None:  # show the controls of the scenario as written, with the error
        resolved = rv.resolve(scenario.value, arm_name, {})
    options = rv.trainer_options(resolved)
    a = option_a.value if option_a.value in options else options[0]
    b = option_b.value if option_b.value in options else options[min(1, len(options) - 1)]

    def build():
        if seed_error or scenario_error:
            return None
        try:
            if trainer.value:
                return rv.Session.trainer(scenario.value, arm_name, changed.value, seed, a, b)
            return rv.Session.single(scenario.value, arm_name, changed.value, seed)
        except (rv.ScenarioError, ValueError) as exc:
            return exc

    key = (scenario.value, arm_name, seed, tuple(sorted(changed.value.items(), key=str)),
           trainer.value, a, b, resets.value)
    session = solara.use_memo(build, dependencies=list(key))
    build_error = str(session) if isinstance(session, Exception) else None
    if isinstance(session, Exception):
        session = None

    def make_frames():
        if session is None:
            return []
        out = session.frames()
        session.shown = tick.value  # lets the play loop wait for the drawing (back-pressure)
        return out

    frames = solara.use_memo(make_frames, dependencies=[session, tick.value])
    gap_rows = solara.use_memo(lambda: session.gaps() if session else [],
                               dependencies=[session, tick.value])

    def step():
        if session is not None:
            session.step(1)
            tick.set(tick.value + 1)

    def play_loop(cancel):
        while playing.value and session is not None and not cancel.is_set():
            if session.finished:
                playing.set(False)
                return
            session.step(render_every.value)
            target = tick.value + 1
            tick.set(target)
            # step again only once this frame is drawn, so redraws never pile up
            while session.shown < target and playing.value and not cancel.is_set():
                time.sleep(0.02)
            time.sleep(PLAY_PAUSE_SECONDS)

    solara.use_thread(play_loop, dependencies=[playing.value, session])

    def pick_arm(name):
        if name in (rv.AS_WRITTEN, *resolved.arms):
            arm.set(name)

    def pick_option(option):
        def on_change(name):
            if name in options:
                option.set(name)
        return on_change

    def set_value(control):
        def on_change(value):
            if control.accepts(value):  # only values the control offers
                changed.set({**changed.value, control.key: value})
        return on_change

    def value_of(control):
        return changed.value.get(control.key, rv.get_dotted(resolved, control.key))

    solara.Title("recip: the norm of reciprocity")
    with solara.Columns([1, 3], style={"padding": "8px"}):
        # --- controls ---
        with solara.Column(classes=["recip-controls"]):
            solara.Markdown("## recip")
            solara.Select(label="Scenario", value=scenario.value, values=scenarios,
                          on_value=pick_scenario)
            solara.Select(label="Arm", value=arm.value,
                          values=[rv.AS_WRITTEN, *resolved.arms], on_value=pick_arm)
            solara.InputText("Seed", value=seed_text, continuous_update=False)
            if seed_error:
                solara.Error(seed_error, classes=["recip-seed-error"])
            solara.Switch(label="Trainer mode (two panels)", value=trainer)
            if trainer.value:
                solara.Select(label="Panel A", value=a, values=options, on_value=pick_option(option_a))
                solara.Select(label="Panel B", value=b, values=options, on_value=pick_option(option_b))
            with solara.Details("Population and network", expand=True):
                for control in rv.global_controls(resolved):
                    ControlInput(control, value_of(control), set_value(control))
            with solara.Details("Strategy mix", expand=False):
                for control in rv.mix_controls(resolved):
                    ControlInput(control, value_of(control), set_value(control))
            for strategy, controls in rv.strategy_controls(resolved).items():
                with solara.Details(f"Strategy: {strategy}", expand=False):
                    for control in controls:
                        ControlInput(control, value_of(control), set_value(control))
            solara.Button("Restore scenario settings", on_click=lambda: changed.set({}),
                          text=True, disabled=not changed.value)
            if changed.value:
                solara.Markdown("Overrides: " + ", ".join(f"`{k} = {v}`" for k, v in
                                                          sorted(changed.value.items())))

        # --- the model ---
        with solara.Column():
            day = frames[0].day if frames else 0
            horizon = resolved.steps
            with solara.Row(style={"align-items": "center", "flex-wrap": "wrap"}):
                solara.Button("Step", on_click=step, color="primary",
                              disabled=session is None or playing.value or session.finished)
                solara.Button("Pause" if playing.value else "Play",
                              on_click=lambda: playing.set(not playing.value),
                              disabled=session is None or (session.finished and not playing.value))
                solara.Button("Reset", on_click=lambda: (playing.set(False),
                                                         resets.set(resets.value + 1)))
                solara.Text(f"Day {day} of {horizon}", classes=["recip-day"])
                solara.SliderInt("Redraw every (days)", value=render_every, min=1, max=30)
            for message in (scenario_error, build_error):
                if message:
                    solara.Error(message, classes=["recip-error"])
            if trainer.value and len(frames) == 2:
                with solara.Columns([1, 1]):
                    for frame in frames:
                        Panel(frame, compact=True)
                with solara.Div(classes=["recip-gaps"]):
                    solara.Markdown("### Gap between the panels (whole model)\n\n"
                                    + _table(gap_rows))
                Guide(resolved)
            elif frames:
                with solara.Columns([5, 2]):
                    Panel(frames[0])
                    Guide(resolved)
            else:
                Guide(resolved)
