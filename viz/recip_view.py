"""What the recip app shows, without the UI: controls as dotted overrides, runs of the model with
a cached layout, the figures (PNG bytes), the event log in plain words and the trainer's gaps.

Kept free of solara so the benchmark and the tests can use it directly. Only ``sim.*`` is
imported, so the file works from the checkout (``viz/``) and from the wheel (``sim._viz``).
"""

from __future__ import annotations

import io
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.config import Scenario, ScenarioError, list_scenarios, load_scenario
from sim.engine import EVENT_KINDS
from sim.model import ReciprocityModel

DEFAULT_SCENARIO = "pushy_vs_active"
DEFAULT_SEED = 1
AS_WRITTEN = "(as written)"
SEED_MAX = 2**63 - 1

KEY_METRICS = (
    ("conversion_rate", "Conversion"),
    ("complaint_rate", "Complaints"),
    ("retention_90d", "90-day retention"),
    ("referrals", "Referrals"),
    ("mean_perceived_sincerity", "Mean perceived sincerity"),
    ("backfire_rate", "Backfire rate"),
)
GAP_METRICS = (*KEY_METRICS, ("revenue", "Revenue ($)"))

STATE_COLOURS = {
    "unreached": "#d9d9d9",
    "prospect": "#6baed6",
    "customer": "#31a354",
    "churned": "#8c6d31",
    "opted out": "#756bb1",
}
TIE_COLOURS = {"gift": "#2ca02c", "ask": "#1f77b4", "complaint": "#d62728", "warning": "#ff7f0e"}
STRATEGY_COLOURS = ("#e6550d", "#3182bd", "#31a354", "#756bb1", "#636363", "#e7298a", "#a6761d")
STRATEGY_MARKERS = ("s", "D", "^", "v", "P", "X", "*")
MAX_BACKGROUND_EDGES = 3000
MAX_TIES_PER_KIND = 400
LOG_LINES = 50
LOG_SAMPLE_PER_STEP = 6


# --- controls ------------------------------------------------------------------------------------


def parse_seed(text: Any) -> tuple[int | None, str | None]:
    """The seed typed by the user, or an error message saying what is allowed.

    >>> parse_seed(" 42 "), parse_seed("abc")[1]
    ((42, None), "seed = 'abc' is not a whole number; use 0 to 9223372036854775807")
    """
    raw = str(text).strip()
    try:
        seed = int(raw)
    except ValueError:
        return None, f"seed = {raw!r} is not a whole number; use 0 to {SEED_MAX}"
    if not 0 <= seed <= SEED_MAX:
        return None, f"seed = {seed} is out of range; use 0 to {SEED_MAX}"
    return seed, None


def get_dotted(obj: Any, key: str) -> Any:
    """``a.b.0.c`` read from a resolved scenario (models, dicts and lists)."""
    for part in key.split("."):
        if isinstance(obj, dict):
            obj = obj[part]
        elif isinstance(obj, list):
            obj = obj[int(part)]
        else:
            obj = getattr(obj, "try_" if part == "try" else part)
    return obj


@dataclass(frozen=True)
class Control:
    """One input of the app, bound to a dotted override key."""

    key: str
    label: str
    kind: str  # "int", "float", "bool" or "choice"
    low: float = 0.0
    high: float = 1.0
    step: float = 0.01
    choices: tuple[str, ...] = ()

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` (as a browser sent it) is one this control offers."""
        if self.kind == "choice":
            return isinstance(value, str) and value in self.choices
        if self.kind == "bool":
            return isinstance(value, bool)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.kind == "int" and value != int(value):
            return False
        return self.low <= value <= self.high

    def fit(self, value: Any) -> Control:
        """The control with its range widened to hold ``value``."""
        if self.kind in ("int", "float") and value is not None and value > self.high:
            return Control(self.key, self.label, self.kind, self.low, float(value) * 2, self.step,
                           self.choices)
        return self


NETWORK_KINDS = ("watts_strogatz", "barabasi_albert", "erdos_renyi", "stochastic_block")
DEGREE_CONTROLS = {
    "watts_strogatz": Control("network.k", "Neighbours per buyer (k)", "int", 2, 30, 2),
    "barabasi_albert": Control("network.m", "Ties each new buyer brings (m)", "int", 1, 15, 1),
    "erdos_renyi": Control("network.mean_degree", "Mean neighbours per buyer", "float", 0, 30, 0.5),
    "stochastic_block": Control("network.p_in", "Tie chance within a segment", "float", 0, 0.2,
                                0.005),
}
POPULATION_CONTROLS = (
    Control("buyers.n", "Buyers", "int", 50, 5000, 50),
    Control("buyers.detection_skill.mean", "Buyers' sincerity-detection skill (mean)", "float"),
    Control("buyers.reactance_proneness.mean", "Buyers' reactance proneness (mean)", "float"),
    Control("rules.obligation_half_life", "Obligation half-life, days (global rule: what-if)",
            "float", 1, 60, 1),
)
STRATEGY_FIELDS = (
    ("gift.value", "Gift value ($)", "float", 0, 100, 1),
    ("gift.surprise", "Surprise", "float", 0, 1, 0.05),
    ("gift.personalised", "Personalisation", "float", 0, 1, 0.05),
    ("ask.delay", "Ask delay (days after contact)", "int", 0, 30, 1),
    ("ask.size", "Ask size ($)", "float", 1, 500, 5),
    ("ask.urgency", "Pressure: urgency", "float", 0, 1, 0.05),
    ("ask.follow_up_after_no", "Pressure: follow up after a no", "bool", 0, 1, 1),
)


def require_shipped(scenario: str, arm: str | None = None) -> None:
    """Refuse anything but a shipped scenario name and one of its arms.

    The app never loads a path: a browser can send any string for the scenario menu, and
    ``load_scenario`` would read a TOML file by path.
    """
    if scenario not in list_scenarios():
        raise ScenarioError(f"unknown scenario {str(scenario)[:80]!r}; pick one from the menu")
    if arm is not None and arm not in load_scenario(scenario).arms:
        raise ScenarioError(f"{scenario} has no arm {str(arm)[:80]!r}; pick one from the menu")


def resolve(scenario: str, arm: str | None, overrides: dict[str, Any]) -> Scenario:
    """The shipped scenario as it will run (raises ``ScenarioError`` with a readable message)."""
    require_shipped(scenario, arm)
    return load_scenario(scenario, arm=arm, overrides=overrides or None)


def global_controls(resolved: Scenario) -> list[Control]:
    kind = resolved.network.kind
    controls = list(POPULATION_CONTROLS[:1])
    kinds = NETWORK_KINDS if kind in NETWORK_KINDS else (*NETWORK_KINDS, kind)
    controls.append(Control("network.kind", "Network type", "choice", choices=kinds))
    if kind in DEGREE_CONTROLS:
        controls.append(DEGREE_CONTROLS[kind])
    controls.extend(POPULATION_CONTROLS[1:])
    return [c.fit(get_dotted(resolved, c.key)) for c in controls]


def mix_controls(resolved: Scenario) -> list[Control]:
    """The strategy mix: one strategy picker per seller."""
    names = tuple(sorted(resolved.strategies))
    return [Control(f"sellers.{i}.strategy", f"{seller.name or f'Seller {i + 1}'}: strategy",
                    "choice", choices=names) for i, seller in enumerate(resolved.sellers)]


def strategy_controls(resolved: Scenario) -> dict[str, list[Control]]:
    """Per strategy in play: gift, ask and pressure controls."""
    out = {}
    for name in dict.fromkeys(seller.strategy for seller in resolved.sellers):
        controls = [Control(f"strategies.{name}.{f}", label, kind, low, high, step)
                    for f, label, kind, low, high, step in STRATEGY_FIELDS]
        out[name] = [c.fit(get_dotted(resolved, c.key)) for c in controls]
    return out


def trainer_options(resolved: Scenario) -> list[str]:
    """What the trainer can put side by side: the scenario's arms, or one strategy alone."""
    options = list(resolved.arms)
    strategies = list(dict.fromkeys(seller.strategy for seller in resolved.sellers))
    if len(strategies) > 1:
        options += [f"only {name}" for name in strategies]
    return options or [AS_WRITTEN]


def panel_spec(resolved: Scenario, option: str) -> tuple[str | None, dict[str, Any]]:
    """(arm, extra overrides) for a trainer option."""
    if option.startswith("only "):
        strategy = option.removeprefix("only ")
        sellers = [s.model_dump() for s in resolved.sellers if s.strategy == strategy]
        return resolved.arm, {"sellers": sellers}
    return (None if option == AS_WRITTEN else option), {}


# --- a run on screen -----------------------------------------------------------------------------


def circular_layout(n_buyers: int, n_sellers: int) -> tuple[np.ndarray, np.ndarray]:
    """Buyers on a ring in index order (a small world's ring stays a ring), sellers inside."""
    angle = 2 * np.pi * np.arange(n_buyers) / max(n_buyers, 1)
    buyers = np.column_stack([np.cos(angle), np.sin(angle)])
    if n_sellers == 1:
        return buyers, np.zeros((1, 2))
    angle = 2 * np.pi * np.arange(n_sellers) / n_sellers + np.pi / 2
    return buyers, 0.35 * np.column_stack([np.cos(angle), np.sin(angle)])


@dataclass
class Run:
    """One model on screen: the model, its layout (computed once), and its event log."""

    scenario: str
    arm: str | None
    overrides: dict[str, Any]
    seed: int
    label: str = ""
    model: ReciprocityModel = field(init=False)
    log: deque = field(init=False)

    def __post_init__(self):
        require_shipped(self.scenario, self.arm)
        self.model = ReciprocityModel(self.scenario, arm=self.arm, overrides=self.overrides or None,
                                      rng=self.seed, record_events=True)
        engine = self.model.engine
        self.buyer_xy, self.seller_xy = circular_layout(engine.n, engine.s)
        edges = engine.network.edges()
        if len(edges) > MAX_BACKGROUND_EDGES:
            keep = np.random.default_rng(0).choice(len(edges), MAX_BACKGROUND_EDGES, replace=False)
            edges = edges[np.sort(keep)]
        self.background = np.stack([self.buyer_xy[edges[:, 0]], self.buyer_xy[edges[:, 1]]], axis=1)
        self.log = deque(maxlen=LOG_LINES)
        self.degrees = engine.network.degrees()
        self.seller_names = [s.name for s in self.model.sellers]
        self.log_rng = np.random.default_rng(self.seed)

    @property
    def day(self) -> int:
        return self.model.engine.day

    @property
    def finished(self) -> bool:
        return not self.model.running

    def step(self) -> None:
        if self.finished:
            return
        self.model.step()
        self.log.extend(describe_events(self))


# --- the event log -------------------------------------------------------------------------------


READINGS = {0: None, 1: "a tactic", 2: "manipulation"}


def describe_events(run: Run, sample: int = LOG_SAMPLE_PER_STEP) -> list[str]:
    """Plain-words lines for the last step's events, one per seller-buyer tie, a sample of them.

    Ties with a complaint, warning, yes or a gift read as manipulation come first.
    """
    engine = run.model.engine
    events = engine.events
    if not events:
        return []
    n = engine.n
    by_tie: dict[int, set[str]] = {}
    for kind in EVENT_KINDS:
        sellers, buyers = events.get(kind, ((), ()))
        for s, b in zip(np.asarray(sellers), np.asarray(buyers), strict=True):
            by_tie.setdefault(int(s) * n + int(b), set()).add(kind)
    if not by_tie:
        return []
    priority = ("complaint", "warning", "manipulation", "yes", "deception_found", "churn",
                "referral", "opt_out", "tactic", "no")
    ties = sorted(by_tie, key=lambda t: next((i for i, k in enumerate(priority) if k in by_tie[t]),
                                             len(priority)))
    head = ties[: sample // 2]
    rest = ties[sample // 2:]
    if len(rest) > sample - len(head):
        rest = sorted(run.log_rng.choice(rest, sample - len(head), replace=False).tolist())
    day = engine.day
    lines = [_sentence(run, t // n, t % n, by_tie[t], day) for t in (*head, *rest)]
    if len(ties) > sample:
        lines.append(f"Day {day}: … and {len(ties) - sample} more ties with events "
                     f"(a sample is shown).")
    return lines


def _sentence(run: Run, s: int, b: int, kinds: set[str], day: int) -> str:
    engine = run.model.engine
    seller = run.seller_names[s]
    buyer = f"Buyer {b}"
    reading = READINGS.get(int(engine.reading[s, b]))
    parts = []
    if "gift_refused" in kinds:
        parts.append(f"{seller} offered {buyer} a gift on day {day}; {buyer} turned it down")
    elif "gift" in kinds:
        gift = f"{seller} gave {buyer} a gift on day {day}"
        if "manipulation" in kinds or "tactic" in kinds:
            read = "manipulation" if "manipulation" in kinds else "a tactic"
            gift += f"; {buyer} read it as {read}"
        parts.append(gift)
    if "ask" in kinds:
        kind = engine.scenario.strategy_of(s).ask.kind
        last_gift = int(engine.last_gift_day[s, b])
        if last_gift < 0:
            when = ", with no gift before"
        elif last_gift == day - 1:
            when = ", the same day as the gift"
        else:
            gap = day - 1 - last_gift
            when = f", {'a day' if gap == 1 else f'{gap} days'} after the gift"
        ask = f"{seller} asked {buyer} for a {kind} on day {day}{when}"
        outcome = ("said yes" if "yes" in kinds else "opted out" if "opt_out" in kinds
                   else "said no" if "no" in kinds else "ignored it" if "ignored" in kinds else "")
        if reading and "gift" not in kinds:
            outcome = f"read it as {reading}" + (f" and {outcome}" if outcome else "")
        parts.append(ask + (f"; {buyer} {outcome}" if outcome else ""))
    if "deception_found" in kinds:
        parts.append(f"{buyer} found the hidden strings in {seller}'s gift")
    if "complaint" in kinds or "warning" in kinds:
        acts = []
        if "complaint" in kinds:
            acts.append("complained")
        k = int(run.degrees[b])
        if "warning" in kinds and k:
            acts.append(f"warned {k} neighbour{'s' if k != 1 else ''}")
        if acts:
            parts.append(f"{buyer} {' and '.join(acts)} about {seller}")
    if "referral" in kinds:
        parts.append(f"{buyer} referred {seller} to their neighbours")
    if "churn" in kinds:
        parts.append(f"{buyer} stopped buying from {seller}")
    if not parts:
        parts.append(f"{buyer} and {seller}: {', '.join(sorted(kinds))} on day {day}")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


# --- figures -------------------------------------------------------------------------------------


def _png(fig: Figure, dpi: int = 72) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def strategy_colour(strategies: list[str], name: str) -> str:
    return STRATEGY_COLOURS[strategies.index(name) % len(STRATEGY_COLOURS)]


def network_figure(run: Run, size: float = 5.2) -> Figure:
    """Buyers coloured by state and sized by outstanding obligation, sellers by strategy, and
    the ties where a gift, an ask, a complaint or a warning just passed."""
    model, engine = run.model, run.model.engine
    summary = model.buyer_summary()
    fig = Figure(figsize=(size, size))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_xlim(-1.12, 1.12)
    ax.set_ylim(-1.12, 1.12)
    ax.set_aspect("equal")
    ax.add_collection(LineCollection(run.background, colors="#bbbbbb", linewidths=0.3, alpha=0.35))
    events = engine.events
    rng = np.random.default_rng(engine.day)
    for kind in ("gift", "ask", "complaint"):
        sellers, buyers = events.get(kind, ((), ()))
        segs = _sample(np.stack([run.seller_xy[np.asarray(sellers, dtype=int)],
                                 run.buyer_xy[np.asarray(buyers, dtype=int)]], axis=1), rng)
        if len(segs):
            ax.add_collection(LineCollection(segs, colors=TIE_COLOURS[kind],
                                             linewidths=1.4 if kind == "complaint" else 0.7,
                                             alpha=0.75))
    _, warners = events.get("warning", ((), ()))
    if len(warners):
        net = engine.network
        warners = np.asarray(warners, dtype=int)
        told = net.neighbours_of_many(warners)
        src = np.repeat(warners, net.degrees()[warners])
        segs = _sample(np.stack([run.buyer_xy[src], run.buyer_xy[told]], axis=1), rng)
        ax.add_collection(LineCollection(segs, colors=TIE_COLOURS["warning"], linewidths=1.0,
                                         alpha=0.8))
    obligation = summary["obligation"]
    sizes = 4 + 60 * np.sqrt(np.clip(obligation, 0, None) / (1 + obligation.max()))
    if engine.n > 500:
        sizes = sizes * (500 / engine.n) ** 0.5 + 2
    colours = np.array([STATE_COLOURS[s] for s in STATE_COLOURS])
    index = {s: i for i, s in enumerate(STATE_COLOURS)}
    codes = np.fromiter((index[s] for s in summary["state"]), dtype=int, count=engine.n)
    ax.scatter(run.buyer_xy[:, 0], run.buyer_xy[:, 1], s=sizes, c=colours[codes], linewidths=0,
               zorder=3)
    strategies = model.strategies
    for i, seller in enumerate(model.sellers):
        j = strategies.index(seller.strategy)
        ax.scatter(*run.seller_xy[i], s=260, marker=STRATEGY_MARKERS[j % len(STRATEGY_MARKERS)],
                   c=strategy_colour(strategies, seller.strategy), edgecolors="black", zorder=4)
        ax.annotate(seller.name, run.seller_xy[i], xytext=(0, -17), textcoords="offset points",
                    ha="center", fontsize=8, zorder=5)
    handles = [Line2D([], [], marker="o", ls="", color=c, label=s)
               for s, c in STATE_COLOURS.items()]
    handles += [Line2D([], [], color=c, label=k) for k, c in TIE_COLOURS.items()]
    ax.legend(handles=handles, loc="lower left", fontsize=7, ncol=2, frameon=False,
              bbox_to_anchor=(0.0, 0.0))
    ax.text(1.1, 1.08, f"day {engine.day}", ha="right", va="top", fontsize=10)
    return fig


def _sample(segs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if len(segs) > MAX_TIES_PER_KIND:
        segs = segs[rng.choice(len(segs), MAX_TIES_PER_KIND, replace=False)]
    return segs


def plotted_metrics(run: Run) -> list[tuple[str, str]]:
    """The key metrics, then up to two of the scenario's own outcomes (e.g. tip_percent)."""
    core = {m for m, _ in KEY_METRICS}
    own = [(name, name.replace("_", " ").capitalize()) for name in run.model.config.outcomes
           if name not in core]
    return [*KEY_METRICS, *own[:2]]


def _by_strategy(run: Run):
    """``metrics_by_strategy()`` with each column once (an outcome may repeat a core metric)."""
    frame = run.model.metrics_by_strategy()
    return frame.loc[:, ~frame.columns.duplicated()]


def metrics_figure(run: Run, size: tuple[float, float] = (7.6, 4.0)) -> Figure:
    """The key metrics over time, one line per strategy."""
    frame = _by_strategy(run)
    strategies = run.model.strategies
    shown = plotted_metrics(run)
    cols = (len(shown) + 1) // 2
    fig = Figure(figsize=(size[0] * cols / 3, size[1]))  # fixed layout: constrained is slow
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, cols, sharex=True).ravel()
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.12, top=0.93, wspace=0.25, hspace=0.3)
    for ax, (metric, label) in zip(axes, shown, strict=False):
        ax.set_title(label, fontsize=9)
        ax.tick_params(labelsize=7)
        for strategy in strategies:
            rows = frame[frame["strategy"] == strategy]
            ax.plot(rows["step"].to_numpy(), rows[metric].to_numpy(), lw=1.5,
                    marker="o" if len(rows) < 3 else None, ms=3,
                    color=strategy_colour(strategies, strategy), label=strategy)
        if metric.endswith("_rate") or metric in ("retention_90d", "mean_perceived_sincerity"):
            ax.set_ylim(-0.02, 1.02)
    for ax in axes[len(shown):]:
        ax.set_axis_off()
    axes[0].legend(fontsize=7, frameon=False)
    for ax in axes[cols:]:
        ax.set_xlabel("day", fontsize=8)
    return fig


def metrics_rows(run: Run) -> list[dict[str, Any]]:
    """The latest key metrics (and the scenario's own outcomes) per strategy."""
    frame = _by_strategy(run)
    if frame.empty:
        return []
    last = frame[frame["step"] == frame["step"].max()]
    shown = plotted_metrics(run)
    return [{"strategy": row["strategy"], **{label: row[m] for m, label in shown}}
            for _, row in last.iterrows()]


def gaps(a: Run, b: Run) -> list[dict[str, Any]]:
    """Key metrics of two trainer panels (whole model) and the gap B - A."""
    ma, mb = a.model.latest_metrics, b.model.latest_metrics
    rows = []
    for metric, label in dict.fromkeys((*GAP_METRICS, *plotted_metrics(a)[len(KEY_METRICS):])):
        va, vb = ma.get(metric, float("nan")), mb.get(metric, float("nan"))
        rows.append({"metric": label, "A": va, "B": vb, "gap (B - A)": vb - va})
    return rows


@dataclass(frozen=True)
class Frame:
    """What one panel shows after a step: built under the session lock, then only displayed."""

    label: str
    day: int
    horizon: int
    finished: bool
    network_png: bytes
    metrics_png: bytes
    rows: list[dict[str, Any]]
    log: list[str]


def frame_of(run: Run, compact: bool = False) -> Frame:
    net = network_figure(run, size=4.4 if compact else 5.2)
    met = metrics_figure(run, size=(5.6, 3.6) if compact else (7.6, 4.0))
    return Frame(run.label, run.day, run.model.horizon, run.finished, _png(net), _png(met),
                 metrics_rows(run), list(run.log))


class Session:
    """The runs on screen (one, or two in trainer mode), stepped together under one lock."""

    def __init__(self, runs: list[Run]):
        self.runs = runs
        self.lock = threading.Lock()
        self.shown = -1  # the app's redraw counter last drawn (the play loop waits for it)

    @classmethod
    def single(cls, scenario: str, arm: str | None, overrides: dict[str, Any],
               seed: int) -> Session:
        return cls([Run(scenario, arm, dict(overrides), seed, label=arm or AS_WRITTEN)])

    @classmethod
    def trainer(cls, scenario: str, arm: str | None, overrides: dict[str, Any], seed: int,
                option_a: str, option_b: str) -> Session:
        resolved = resolve(scenario, arm, overrides)
        runs = []
        for option in (option_a, option_b):
            panel_arm, extra = panel_spec(resolved, option)
            runs.append(Run(scenario, panel_arm, {**overrides, **extra}, seed, label=option))
        return cls(runs)

    @property
    def finished(self) -> bool:
        return all(run.finished for run in self.runs)

    @property
    def day(self) -> int:
        return max(run.day for run in self.runs)

    def step(self, days: int = 1) -> None:
        with self.lock:
            for _ in range(days):
                for run in self.runs:
                    run.step()

    def frames(self) -> list[Frame]:
        with self.lock:
            return [frame_of(run, compact=len(self.runs) > 1) for run in self.runs]

    def gaps(self) -> list[dict[str, Any]]:
        with self.lock:
            return gaps(*self.runs) if len(self.runs) == 2 else []


def scenario_names() -> list[str]:
    return list_scenarios()


__all__ = ["AS_WRITTEN", "DEFAULT_SCENARIO", "Control", "Run", "ScenarioError", "Session",
           "frame_of", "parse_seed"]
