"""The recip app (Solara): pick a scenario and arm, step or play the model, and watch the
network, the metrics per strategy or arm, and the story of the run in plain words. Trainer mode
runs two arms side by side on the same seed, in the same plots. Presentation mode (the switch,
or ``?present=1`` in the URL) is for a projector: large type, the comparison in the middle,
the controls folded away.

Serve it with ``recip app``. The model handling lives in ``recip_view.py``, the drawing in
``components.py`` (reusable in mesa's SolaraViz), both beside this file.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs

import solara

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:  # sibling modules, from the checkout (viz/) or the wheel (sim._viz)
    sys.path.insert(0, str(_HERE))

import components as ui  # noqa: E402
import recip_view as rv  # noqa: E402

PLAY_DAYS_PER_SECOND = 8  # the pace of Play (it is slower only if a day takes longer to draw)
PRESENTATION_METRICS = 3
INTERNAL_ERROR = ("The app hit an internal error and logged it on the server. "
                  "Reset the run or reload the page.")
CSS = (_HERE / "app.css").read_text()

log = logging.getLogger("recip.app")


def _page_connected() -> bool:
    """Whether a browser tab still shows this session (a closed tab stops its run)."""
    try:
        from solara.server import kernel_context

        context = kernel_context.get_current_context()
    except Exception:  # no server (solara.render in tests, a notebook): always shown
        return True
    statuses = getattr(context, "page_status", None)
    return not statuses or kernel_context.PageStatus.CONNECTED in statuses.values()


def _server_overrides() -> dict:
    """Overrides the server was started with, for everyone's first run (the operator's choice,
    e.g. ``RECIP_APP_OVERRIDES="buyers.n=2000"`` for the benchmark); never from a browser."""
    out = {}
    for item in filter(None, os.environ.get("RECIP_APP_OVERRIDES", "").split(",")):
        key, _, value = item.partition("=")
        out[key.strip()] = rv.parse_value(value.strip())
    return out


def _presentation_requested() -> bool:
    try:
        search = solara.use_router().search or ""
    except Exception:  # outside a routed app (tests)
        return False
    return parse_qs(search).get("present", ["0"])[0] in ("1", "true", "yes")


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
def ControlInput(control: rv.Control, value, on_change):
    """A number input shows the scenario's exact value (a slider would snap it to its grid) and
    reports only what the user types; viewing it changes nothing."""
    if control.kind == "choice":
        solara.Select(label=control.label, value=value, values=list(control.choices),
                      on_value=on_change)
    elif control.kind == "bool":
        solara.Checkbox(label=control.label, value=bool(value), on_value=on_change)
    elif control.kind == "int":
        solara.InputInt(control.label, value=int(value), on_value=on_change,
                        classes=["recip-number"])
    else:
        solara.InputFloat(control.label, value=float(value), on_value=on_change,
                          classes=["recip-number"])


@solara.component
def App():
    scenarios = rv.scenario_names()
    scenario = solara.use_reactive(rv.DEFAULT_SCENARIO if rv.DEFAULT_SCENARIO in scenarios
                                   else scenarios[0])
    arm = solara.use_reactive(rv.AS_WRITTEN)
    seed_text = solara.use_reactive(str(rv.DEFAULT_SEED))
    applied = solara.use_reactive(_server_overrides())  # overrides the run uses
    draft = solara.use_reactive({})    # overrides typed since: they wait for Reset
    trainer = solara.use_reactive(False)
    presentation = solara.use_reactive(_presentation_requested())
    option_a = solara.use_reactive("")
    option_b = solara.use_reactive("")
    days_per_redraw = solara.use_reactive(1)
    playing = solara.use_reactive(False)
    # Counts the day's redraws. Only DayControls and DayView read it, so a Step or a day of Play
    # re-renders those two and not App (its hooks, the scenario's settings, and the arguments of
    # the controls' ~150 components compared one by one).
    tick = solara.use_reactive(0)
    resets = solara.use_reactive(0)
    advanced_key = solara.use_reactive("")
    advanced_value = solara.use_reactive("")
    advanced_error = solara.use_reactive("")

    arm_name = None if arm.value == rv.AS_WRITTEN else arm.value
    seed, seed_error = rv.parse_seed(seed_text.value)
    try:
        resolved = rv.resolve(scenario.value, arm_name, applied.value)
        scenario_error = None
    except rv.ScenarioError as exc:
        resolved, scenario_error = rv.resolve(scenario.value, arm_name, {}), str(exc)
    options = rv.trainer_options(resolved)
    a = option_a.value if option_a.value in options else options[0]
    b = option_b.value if option_b.value in options else options[min(1, len(options) - 1)]

    def build():
        if seed_error or scenario_error:
            return None
        try:
            if trainer.value:
                return rv.Session.trainer(scenario.value, arm_name, applied.value, seed, a, b)
            return rv.Session.single(scenario.value, arm_name, applied.value, seed)
        except (rv.ScenarioError, ValueError) as exc:
            return exc

    key = (scenario.value, arm_name, seed, tuple(sorted(applied.value.items(), key=str)),
           trainer.value, a, b, resets.value)
    built = solara.use_memo(build, dependencies=list(key))
    build_error = str(built) if isinstance(built, Exception) else None
    session = None if isinstance(built, Exception) else built

    # --- actions ---

    def stop_playing():
        if session is not None:
            session.playing = False  # the play loop reads it before every step
        playing.set(False)

    def pick_scenario(name):
        if name not in scenarios:  # only the menu's names: never a path a browser sent
            log.warning("ignored a scenario the menu does not offer: %.80r", name)
            return
        stop_playing()
        scenario.set(name)
        arm.set(rv.AS_WRITTEN)
        applied.set({})
        draft.set({})
        option_a.set("")
        option_b.set("")

    def pick_arm(name):
        if name in (rv.AS_WRITTEN, *resolved.arms):
            stop_playing()
            arm.set(name)

    def pick_option(option):
        def on_change(name):
            if name in options:
                stop_playing()
                option.set(name)
        return on_change

    def set_value(control):
        def on_change(value):
            if control.accepts(value):  # only values the control offers
                draft.set({**draft.value, control.key: value})
        return on_change

    def value_of(control):
        merged = {**applied.value, **draft.value}
        if control.key in merged:
            return merged[control.key]
        return rv.get_dotted(resolved, control.key)

    def add_advanced():
        try:
            k, v = rv.advanced_override(resolved, advanced_key.value, advanced_value.value)
        except (rv.ScenarioError, ValueError) as exc:
            advanced_error.set(str(exc))
            return
        advanced_error.set("")
        draft.set({**draft.value, k: v})

    def step():
        if session is not None and not playing.value:
            session.step(1)
            tick.set(tick.value + 1)

    def reset():
        stop_playing()
        if draft.value:
            applied.set({**applied.value, **draft.value})
            draft.set({})
        resets.set(resets.value + 1)

    def restore():
        stop_playing()
        applied.set({})
        draft.set({})

    def toggle_play():
        if playing.value:
            stop_playing()
        elif session is not None and not session.finished:
            playing.set(True)

    # Set (by DayView, in an effect) once a day is drawn. tick.set renders in the play thread only
    # when no other thread is rendering: the one handling the Play click, still rendering when the
    # first day comes, takes the play thread's days over. A play thread that did not wait kept
    # changing state during every pass of that render, which then never ended whenever a redraw
    # took longer than a day of Play (trainer mode at 2,000 buyers on a busy server): the page
    # froze, then failed with "Too many renders".
    drawn = solara.use_memo(threading.Event, dependencies=[])

    def play_loop(cancel):
        if not playing.value or session is None:
            return
        session.playing = True
        period = 1 / PLAY_DAYS_PER_SECOND
        while session.playing and not cancel.is_set():
            if session.finished or not _page_connected():
                break
            started = time.monotonic()
            session.step(days_per_redraw.value)
            drawn.clear()
            tick.set(tick.value + 1)
            while not drawn.wait(0.05):  # the next step waits for this day's redraw
                if not session.playing or cancel.is_set() or not _page_connected():
                    break
            cancel.wait(max(0.0, period - (time.monotonic() - started)))
        session.playing = False
        if not cancel.is_set():
            playing.set(False)

    # intrusive_cancel=False: no trace hook slowing every line the play thread runs
    solara.use_thread(play_loop, dependencies=[playing.value, session], intrusive_cancel=False)

    # --- layout ---

    large = presentation.value
    solara.Title("recip: the norm of reciprocity")
    solara.Style(CSS)
    classes = ["recip-app", "recip-present" if large else "recip-normal"]
    with solara.Div(classes=classes):
        with solara.Row(classes=["recip-toolbar"], style={"align-items": "center", "flex-wrap": "wrap"}):
            solara.HTML(tag="span", unsafe_innerHTML=f"<b>{resolved.guide.title or resolved.name}</b>",
                        classes=["recip-title"])
            DayControls(session, resolved.steps, tick, playing.value, step, toggle_play)
            solara.Button("Reset", on_click=reset, classes=["recip-reset"])
            solara.Switch(label="Trainer mode", value=trainer.value,
                          on_value=lambda v: (stop_playing(), trainer.set(bool(v))))
            solara.Switch(label="Presentation", value=presentation)
            if session is not None:
                ui.SnapshotCanvas(title=f"{resolved.name}: {', '.join(r.label for r in session.runs)}",
                                  file_stem=f"recip-{resolved.name}")
        if draft.value:
            with solara.Row(classes=["recip-pending"], style={"align-items": "center"}):
                solara.Text(f"{len(draft.value)} change(s) wait for Reset: "
                            + ", ".join(f"{k} = {v}" for k, v in sorted(draft.value.items())),
                            classes=["recip-pending-text"])
                solara.Button("Apply and reset", on_click=reset, color="warning")
                solara.Button("Discard", on_click=lambda: draft.set({}), text=True)
        for message in (scenario_error, build_error):
            if message:
                solara.Error(message, classes=["recip-error"])

        controls = Controls(scenarios, scenario.value, pick_scenario, arm.value, resolved, pick_arm,
                            seed_text, seed_error, trainer.value, options, a, b, pick_option,
                            option_a, option_b, value_of, set_value, applied.value, restore,
                            advanced_key, advanced_value, advanced_error.value, add_advanced,
                            days_per_redraw)
        if large:
            DayView(session, resolved, tick, drawn, large=True)
            with solara.Details("Controls", expand=False):
                solara.Div(children=[controls])
        else:
            with solara.Columns([1, 3]):
                solara.Div(children=[controls], classes=["recip-controls"])
                DayView(session, resolved, tick, drawn, large=False)


@solara.component
def DayControls(session, steps: int, tick: solara.Reactive, playing: bool, on_step, on_play):
    """The day counter, Step and Play: the toolbar's only parts that change with the day."""
    tick.value  # noqa: B018 -- reading it re-renders this component on every new day
    day = session.day if session else 0
    # display: contents: the three sit in the toolbar's row as if they were its own children
    with solara.Div(style={"display": "contents"}):
        solara.Text(f"Day {day} of {steps}", classes=["recip-day"])
        solara.Button("Step", on_click=on_step, color="primary", classes=["recip-step"],
                      disabled=session is None or playing or session.finished)
        solara.Button("Pause" if playing else "Play", on_click=on_play, classes=["recip-play"],
                      disabled=session is None or (session.finished and not playing))


@solara.component
def DayView(session, resolved, tick: solara.Reactive, drawn: threading.Event, large: bool):
    """The plots, network, log and guide of the day: re-rendered on every new day."""
    # Effects run once this component's widgets are updated, i.e. once the day is drawn.
    solara.use_effect(drawn.set, dependencies=[tick.value])
    if large:
        Presentation(session, resolved, tick.value)
    else:
        Workbench(session, resolved, tick.value)


@solara.component
def Controls(scenarios, scenario, pick_scenario, arm, resolved, pick_arm, seed_text, seed_error,
             trainer, options, a, b, pick_option, option_a, option_b, value_of, set_value, applied,
             restore, advanced_key, advanced_value, advanced_error, add_advanced, days_per_redraw):
    with solara.Column(gap="4px"):
        solara.Select(label="Scenario", value=scenario, values=scenarios, on_value=pick_scenario)
        solara.Select(label="Arm", value=arm, values=[rv.AS_WRITTEN, *resolved.arms],
                      on_value=pick_arm)
        solara.InputText("Seed", value=seed_text, continuous_update=False)
        if seed_error:
            solara.Error(seed_error, classes=["recip-seed-error"])
        if trainer:
            solara.Select(label="Panel A", value=a, values=options, on_value=pick_option(option_a))
            solara.Select(label="Panel B", value=b, values=options, on_value=pick_option(option_b))
        solara.InputInt("Days per redraw while playing", value=days_per_redraw)
        solara.Text("Parameter changes wait for Reset.", classes=["recip-hint"])
        with solara.Details("Population and network", expand=False):
            for control in rv.global_controls(resolved):
                ControlInput(control, value_of(control), set_value(control))
            if resolved.network.kind == "erdos_renyi" and resolved.network.mean_degree == 0:
                implied = resolved.network.mean_neighbours(resolved.buyers.n)
                solara.Text(f"Mean degree 0 means the tie chance p = {resolved.network.p:g} is used:"
                            f" about {implied:,.0f} neighbours per buyer.", classes=["recip-hint"])
        with solara.Details("Strategy mix", expand=False):
            for control in rv.mix_controls(resolved):
                ControlInput(control, value_of(control), set_value(control))
        for strategy, controls in rv.strategy_controls(resolved).items():
            with solara.Details(f"Strategy: {strategy}", expand=False):
                for control in controls:
                    ControlInput(control, value_of(control), set_value(control))
        with solara.Details("Advanced: any setting", expand=False):
            solara.InputText("Dotted key, e.g. strategies.pushy.ask.opt_out", value=advanced_key)
            solara.InputText("Value (TOML: 0.8, true, \"bait\")", value=advanced_value)
            solara.Button("Add (waits for Reset)", on_click=add_advanced, text=True)
            if advanced_error:
                solara.Error(advanced_error, classes=["recip-advanced-error"])
        solara.Button("Restore scenario settings", on_click=restore, text=True, disabled=not applied)
        if applied:
            solara.Text("In this run: " + ", ".join(f"{k} = {v}" for k, v in sorted(applied.items())),
                        classes=["recip-overrides"])


@solara.component
def Presentation(session, resolved, tick: int):
    """For a projector: the comparison across the top, then network, story and guide."""
    if session is None:
        ui.GuideCard(None, resolved)
        return
    ui.MetricPlots(session, tick, session.metrics(PRESENTATION_METRICS), large=True,
                   columns=PRESENTATION_METRICS, height=170)
    with solara.Div(classes=["recip-present-row"]):
        with solara.Div(classes=["recip-present-network"]):
            ui.NetworkView(session, tick, index=len(session.runs) - 1, large=True, max_size=290)
        with solara.Div(classes=["recip-present-log"]):
            ui.EventLog(session, tick, limit=25)
        with solara.Div(classes=["recip-present-guide"]):
            ui.GuideCard(session, resolved, tick, show_script=False)


@solara.component
def Workbench(session, resolved, tick: int):
    if session is None:
        ui.GuideCard(None, resolved)
        return
    ui.MetricPlots(session, tick, session.metrics(), large=False, columns=3, height=150)
    with solara.Div(classes=["recip-work-row"]):
        for index in range(len(session.runs)):
            with solara.Div(classes=["recip-work-network"]):
                ui.NetworkView(session, tick, index=index, large=False, max_size=420)
        with solara.Div(classes=["recip-work-log"]):
            ui.EventLog(session, tick)
    if session.trainer_mode:
        ui.Table(session.gaps(), classes=["recip-gaps"])
    else:
        ui.Table(rv.latest_rows(session.runs[0], session.metrics()), classes=["recip-latest"])
    ui.GuideCard(session, resolved, tick)
