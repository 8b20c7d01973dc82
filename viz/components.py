"""Solara components of the recip app, reusable in mesa's ``SolaraViz`` and in Jupyter.

Each takes a ``recip_view.Session`` (or, through ``for_model``, a ``ReciprocityModel`` built and
stepped elsewhere) and draws it: ``NetworkView``, ``MetricPlots``, ``EventLog``, ``GuideCard``,
``SnapshotButton``. The plots are Vega-Lite (SVG, drawn in the browser), the network a canvas.
"""

from __future__ import annotations

import html
import math
import sys
import weakref
from pathlib import Path
from typing import Any

import solara

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

import recip_view as rv  # noqa: E402

NORMAL_FONT = 14
LARGE_FONT = 18  # presentation mode: readable from the back row at 1280x720


@solara.component_vue(str(_HERE / "vega_charts.vue"))
def VegaCharts(specs_json: str, rows_json: str, day: int, columns: int):
    """Several Vega-Lite plots in a grid of ``columns``: ``specs_json`` a list of (metric, spec)
    pairs, ``rows_json`` the rows of each metric, as JSON strings (the component decodes them).
    One string per prop: reacton walks and copies every list and dict passed as a prop on every
    render, which cost most of a redraw at 2,000 buyers. One widget for all the plots: a widget
    per plot cost a websocket message each day, each waited for by the server and handled by the
    browser as a task of its own."""
    pass


@solara.component_vue(str(_HERE / "network.vue"))
def NetworkCanvas(statics_json: str, frame_json: str, large: bool, max_size: int):
    """``statics_json`` (serialised once per run) and ``frame_json`` (each day) as JSON strings,
    decoded by the component: see ``VegaCharts``."""
    pass


@solara.component_vue(str(_HERE / "snapshot.vue"))
def SnapshotCanvas(title: str, file_stem: str):
    """The component adds the day the plots show to both (no update from the server each day)."""
    pass


def chart_spec(metric: str, series: list[str], horizon: int, large: bool, height: int) -> dict:
    """One metric: a line per series in distinct colours and dashes, the gap between the first
    two shaded, today marked; fixed axes (0 to the horizon; 0 to 1 for rates) so nothing
    rescales as the run goes on and both arms share one scale."""
    font = LARGE_FONT if large else NORMAL_FONT
    colours = [rv.series_colour(series, s) for s in series]
    x = {"field": "day", "type": "quantitative", "title": "day",
         "scale": {"domain": [0, max(horizon, 1)], "nice": False}}
    y_scale = {"domain": [0, 1]} if rv.is_rate(metric) else {"zero": True}
    y_format = ".0%" if rv.is_rate(metric) else ",.3~r"
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "width": "container", "height": height,
        "autosize": {"type": "fit-x", "contains": "padding"},
        "title": {"text": rv.metric_label(metric), "fontSize": font + 2, "anchor": "start"},
        "layer": [
            {"transform": [{"filter": "datum.kind == 'gap'"}],
             "mark": {"type": "area", "color": "#7f7f7f", "opacity": 0.22},
             "encoding": {"x": x, "y": {"field": "lo", "type": "quantitative", "scale": y_scale},
                          "y2": {"field": "hi"}}},
            {"transform": [{"filter": "datum.kind == 'line'"}],
             "mark": {"type": "line", "strokeWidth": 3.5, "interpolate": "monotone"},
             "encoding": {
                 "x": x,
                 "y": {"field": "value", "type": "quantitative", "title": None, "scale": y_scale,
                       "axis": {"format": y_format}},
                 "color": {"field": "series", "type": "nominal", "title": None,
                           "scale": {"domain": series, "range": colours},
                           "legend": {"orient": "top", "direction": "horizontal"}},
                 "strokeDash": {"field": "series", "type": "nominal", "legend": None,
                                "scale": {"domain": series,
                                          "range": [[1, 0], [8, 4], [2, 3], [10, 3, 2, 3]]}}}},
            {"transform": [{"filter": "datum.kind == 'line'"}],
             "mark": {"type": "point", "size": 90, "opacity": 0, "filled": True},
             "encoding": {"x": x, "y": {"field": "value", "type": "quantitative"},
                          "tooltip": [{"field": "series", "title": "series"},
                                      {"field": "day", "title": "day"},
                                      {"field": "value", "title": rv.metric_label(metric),
                                       "format": y_format}]}},
            {"transform": [{"filter": "datum.kind == 'now'"}],
             "mark": {"type": "rule", "color": "#222", "strokeDash": [4, 4], "strokeWidth": 1.5},
             "encoding": {"x": x}},
        ],
        "config": {"font": "sans-serif",
                   "axis": {"labelFontSize": font, "titleFontSize": font, "tickCount": 5},
                   "legend": {"labelFontSize": font, "symbolStrokeWidth": 4, "symbolSize": 300,
                              "labelLimit": 400},
                   "view": {"stroke": None}},
    }


@solara.component
def MetricPlots(session: rv.Session, tick: int, metrics: list[str], large: bool = False,
                columns: int = 3, height: int = 180):
    """One plot per metric; both arms (trainer) or all strategies (one run) overlaid."""
    names = rv.series_names(session.runs, not session.trainer_mode)
    specs = solara.use_memo(  # rebuilt only when the plots change, not every day
        lambda: rv.to_json([[m, chart_spec(m, names, session.horizon, large, height)] for m in metrics]),
        dependencies=[tuple(metrics), tuple(names), session.horizon, large, height])
    rows = {metric: session.chart(metric)[0] for metric in metrics}
    VegaCharts(specs_json=specs, rows_json=rv.to_json(rows), day=session.day, columns=columns)


@solara.component
def NetworkView(session: rv.Session, tick: int, index: int = 0, large: bool = False,
                max_size: int = 100_000):
    run = session.runs[index]
    statics = rv.network_static_json(run)  # serialised once per run
    with solara.Div(classes=["recip-network-box"]):
        if session.trainer_mode:
            solara.HTML(tag="div", unsafe_innerHTML=html.escape(run.label),
                        classes=["recip-panel-label"])
        NetworkCanvas(statics_json=statics, frame_json=rv.to_json(session.network(index)),
                      large=large, max_size=max_size)


@solara.component
def EventLog(session: rv.Session, tick: int, limit: int = 40):
    """Latest first; the notable lines (first backfire, complaint, cascade, referral chain, a
    thing to notice) highlighted."""
    lines = session.log_lines(limit)
    items = []
    for line in lines:
        cls = "recip-log-notable" if line.notable else "recip-log-line"
        tag = f"<b>{html.escape(line.notable)}</b> · " if line.notable else ""
        items.append(f'<li class="{cls}"><span class="recip-log-day">day {line.day}</span> '
                     f"{tag}{html.escape(line.text)}</li>")
    body = "".join(items) or '<li class="recip-log-line">Nothing has happened yet: press Step or Play.</li>'
    solara.HTML(tag="div", unsafe_innerHTML=f"<ul>{body}</ul>", classes=["recip-log"])


@solara.component
def GuideCard(session: rv.Session | None, resolved, tick: int = 0, show_script: bool = True):
    """The guide; each thing to notice ticked with the day the run showed it."""
    g = resolved.guide
    ticked = session.notices.ticked_notices() if session else {}
    parts = [f"<h3>{html.escape(g.title or resolved.name)}</h3>"]
    if g.what:
        parts.append(f"<p>{html.escape(g.what)}</p>")
    if g.notice:
        items = []
        for i, text in enumerate(g.notice):
            moment = ticked.get(i)
            if moment is not None:
                where = f" ({html.escape(moment.panel)})" if moment.panel else ""
                items.append(f'<li class="recip-noticed">✔ <b>day {moment.day}{where}:</b> '
                             f"{html.escape(text)}</li>")
            else:
                items.append(f'<li class="recip-not-yet">{html.escape(text)}</li>')
        parts.append("<h4>Things to notice</h4><ul>" + "".join(items) + "</ul>")
        waiting = session.notices.waiting_for_arms() if session else set()
        if waiting:
            parts.append(f'<p class="recip-hint">Some compare arms: put '
                         f"{html.escape(', '.join(sorted(waiting)))} side by side in trainer mode.</p>")
    if show_script and getattr(g, "script", None):
        steps = "".join(f"<li>{html.escape(m.get('show', ''))}"
                        + (f" <i>Ask: {html.escape(m['ask'])}</i>" if m.get("ask") else "") + "</li>"
                        for m in g.script)
        parts.append(f"<details><summary>Teaching script (10 minutes)</summary><ol>{steps}</ol></details>")
    if g.try_:
        parts.append("<details><summary>Things to try</summary><ul>"
                     + "".join(f"<li>{html.escape(t)}</li>" for t in g.try_) + "</ul></details>")
    solara.HTML(tag="div", unsafe_innerHTML="".join(parts), classes=["recip-guide"])


def fmt(value: Any) -> str:
    """A metric for a table: rates and small numbers with 3 decimals, counts as whole numbers.

    >>> fmt(2000.0), fmt(250), fmt(0.12345), fmt(float("nan"))
    ('2,000', '250', '0.123', '–')
    """
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if float(value).is_integer() or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3f}"


@solara.component
def Table(rows: list[dict], classes: list[str]):
    if not rows:
        solara.HTML(tag="div", unsafe_innerHTML="<i>No data yet: press Step or Play.</i>", classes=classes)
        return
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(fmt(v))}</td>" for v in row.values()) + "</tr>"
                   for row in rows)
    solara.HTML(tag="div", unsafe_innerHTML=f"<table><tr>{head}</tr>{body}</table>", classes=classes)


# --- a model built elsewhere (mesa's SolaraViz, a notebook) -------------------------------------

_SESSIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def for_model(model) -> rv.Session:
    """A session showing ``model`` (a ``ReciprocityModel``), caught up with its steps."""
    session = _SESSIONS.get(model)
    if session is None:
        session = rv.Session([rv.Run.of_model(model)], model.config)
        _SESSIONS[model] = session
    for run in session.runs:
        run.sync()
    return session


def make_network_component(large: bool = False):
    """For ``SolaraViz(model, components=[...])``: the network of the model on screen."""
    def network(model):
        NetworkView(for_model(model), tick=model.steps, large=large, max_size=520)
    return network


def make_plots_component(metrics: list[str] | None = None, large: bool = False):
    """For ``SolaraViz``: the key metrics per strategy (or ``metrics``)."""
    def plots(model):
        session = for_model(model)
        MetricPlots(session, tick=model.steps, metrics=metrics or session.metrics(6), large=large,
                    columns=2)
    return plots


def make_event_log_component():
    def event_log(model):
        EventLog(for_model(model), tick=model.steps)
    return event_log


def make_guide_component():
    def guide(model):
        session = for_model(model)
        GuideCard(session, model.config, tick=model.steps)
    return guide
