"""What the recip app shows, without the UI: controls as dotted overrides, runs of the model with
a cached layout, the data of the network and of the plots, the event log in plain words with its
notable events, the guide's moments ticked off, and the trainer's gaps.

Kept free of solara so the benchmark, the tests and other front ends (mesa's SolaraViz, a
notebook) can use it directly. Only ``sim.*`` and sibling modules are imported, so the file works
from the checkout (``viz/``) and from the wheel (``sim._viz``).
"""

from __future__ import annotations

import json
import math
import sys
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.config import Scenario, ScenarioError, file_versions, list_scenarios, load_scenario, parse_value
from sim.engine import EVENT_KINDS
from sim.model import ReciprocityModel
from sim.paths import scenarios_dir

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:  # sibling modules, from the checkout (viz/) or the wheel (sim._viz)
    sys.path.insert(0, _HERE)

import layout  # noqa: E402
import story  # noqa: E402

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

STATE_COLOURS = {  # buyers: one colour per state (colour-blind-safe ordering of a muted palette)
    "unreached": "#cfcfcf",
    "prospect": "#6baed6",
    "customer": "#1a9850",
    "churned": "#8c510a",
    "opted out": "#762a83",
}
TIE_COLOURS = {"gift": "#1a9850", "ask": "#2166ac", "complaint": "#d73027", "warning": "#f46d43"}
# Series colours (Okabe-Ito): the two arms or strategies compared are orange and blue.
SERIES_COLOURS = ("#E69F00", "#0072B2", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")
MAX_BACKGROUND_EDGES = 4000
MAX_TIES_PER_KIND = 300
LOG_LINES = 200
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

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "float")

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` (as a browser sent it) is one this control offers."""
        if self.kind == "choice":
            return isinstance(value, str) and value in self.choices
        if self.kind == "bool":
            return isinstance(value, bool)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
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


# Keys the advanced field refuses: they name files on the server (the app loads none).
FORBIDDEN_KEY_PARTS = ("path", "source", "file")
# Upper limits in the app (a classroom server shared by everyone who can reach it): sizes that
# would take the machine's memory or minutes to build are refused before anything is built.
APP_LIMITS = {"buyers.n": 20_000, "steps": 3650, "network.k": 200, "network.m": 100,
              "network.blocks": 100, "network.mean_degree": 500}

NETWORK_KINDS = ("watts_strogatz", "barabasi_albert", "erdos_renyi", "stochastic_block")
DEGREE_CONTROLS = {
    "watts_strogatz": Control("network.k", "Neighbours per buyer (k)", "int", 0, 200, 2),
    "barabasi_albert": Control("network.m", "Ties each new buyer brings (m)", "int", 1, 100, 1),
    "erdos_renyi": Control("network.mean_degree", "Mean neighbours per buyer (0: use p)", "float",
                           0, 500, 0.5),
    "stochastic_block": Control("network.p_in", "Tie chance within a segment", "float", 0, 0.2,
                                0.005),
}
POPULATION_CONTROLS = (
    Control("buyers.n", "Buyers", "int", 10, APP_LIMITS["buyers.n"], 50),
    Control("buyers.detection_skill.mean", "Buyers' sincerity-detection skill (mean)", "float"),
    Control("buyers.reactance_proneness.mean", "Buyers' reactance proneness (mean)", "float"),
    Control("rules.obligation_half_life", "Obligation half-life, days (global rule: what-if)",
            "float", 0.1, 3650, 1),
)
STRATEGY_FIELDS = (
    ("gift.value", "Gift value ($)", "float", 0, 10_000, 1),
    ("gift.surprise", "Surprise", "float", 0, 1, 0.05),
    ("gift.personalised", "Personalisation", "float", 0, 1, 0.05),
    ("ask.delay", "Ask delay (days after contact)", "int", 0, 365, 1),
    ("ask.size", "Ask size ($)", "float", 0, 100_000, 5),
    ("ask.urgency", "Pressure: urgency", "float", 0, 1, 0.05),
    ("ask.follow_up_after_no", "Pressure: follow up after a no", "bool", 0, 1, 1),
    ("ask.opt_out", "Offers an opt-out", "bool", 0, 1, 1),
    ("gift.after_sale_every", "Keeps giving after a sale: every N days (0: never)", "int", 0, 365, 1),
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
    """The shipped scenario as it will run (raises ``ScenarioError`` with a readable message).

    Memoised: the app resolves on every redraw, and a load validates the whole scenario (about
    2 ms, the files' reading being kept by ``load_scenario`` itself). The key is what can change:
    the scenario, the arm, the overrides and the versions of the files it is made from (the
    scenario file, ``_defaults.toml`` and ``_strategies.toml``: an edit to any of them while the
    app runs is picked up). The result is shared between callers, who only read it.
    """
    require_shipped(scenario, arm=None)
    try:
        versions = file_versions(scenarios_dir() / f"{scenario}.toml")
    except OSError:
        versions = None
    key = (scenario, arm, json.dumps(overrides or {}, sort_keys=True, default=repr), versions)
    with _RESOLVED_LOCK:
        found = _RESOLVED.get(key)
        if found is not None:
            _RESOLVED.move_to_end(key)
            return found
    if arm is not None:
        require_shipped(scenario, arm)
    resolved = load_scenario(scenario, arm=arm, overrides=overrides or None)
    with _RESOLVED_LOCK:
        _RESOLVED[key] = resolved
        while len(_RESOLVED) > RESOLVED_CACHE_SIZE:
            _RESOLVED.popitem(last=False)
    return resolved


RESOLVED_CACHE_SIZE = 64
_RESOLVED: OrderedDict[tuple, Scenario] = OrderedDict()
_RESOLVED_LOCK = threading.Lock()


def advanced_override(resolved: Scenario, key: str, text: str) -> tuple[str, Any]:
    """A dotted key and a value typed in the advanced field, checked (raises ``ScenarioError``).

    Only keys the scenario already has, never one naming a file; the value is parsed as TOML.
    """
    key = key.strip()
    if not key or any(part in key.lower() for part in FORBIDDEN_KEY_PARTS):
        raise ScenarioError(f"{key!r}: not a setting the app can change")
    try:
        get_dotted(resolved, key)
    except (AttributeError, KeyError, IndexError, ValueError):
        raise ScenarioError(f"{key!r} is not a setting of {resolved.name}; use a dotted key such "
                            f"as buyers.detection_skill.mean") from None
    value = parse_value(text.strip())
    limit = APP_LIMITS.get(key)
    if limit is not None and isinstance(value, int | float) and value > limit:
        raise ScenarioError(f"{key} = {value}: the app allows at most {limit:,}")
    if key == "network.kind" and value not in NETWORK_KINDS:
        raise ScenarioError(f"network.kind = {value!r}: the app builds {', '.join(NETWORK_KINDS)}")
    load_scenario(resolved, overrides={key: value})  # the schema's own check and message
    return key, value


def global_controls(resolved: Scenario) -> list[Control]:
    kind = resolved.network.kind
    controls = list(POPULATION_CONTROLS[:1])
    if kind in NETWORK_KINDS:  # a loaded network file cannot be swapped for a generator here
        controls.append(Control("network.kind", "Network type", "choice", choices=NETWORK_KINDS))
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


class Run:
    """One model on screen: the model, its layout (computed once per network, cached), its
    metric history, its event log and its notable events.

    ``Run(scenario, arm, overrides, seed)`` builds the model; ``Run.of_model(model)`` shows a
    model built elsewhere (mesa's SolaraViz, a notebook), catching up with it whenever it is
    drawn, however it was stepped.
    """

    def __init__(self, scenario: str, arm: str | None, overrides: dict[str, Any], seed: int,
                 label: str = "", model: ReciprocityModel | None = None):
        self.scenario, self.arm, self.overrides, self.seed = scenario, arm, overrides, seed
        self.label = label
        if model is None:
            require_shipped(scenario, arm)
            model = ReciprocityModel(scenario, arm=arm, overrides=overrides or None, rng=seed,
                                     record_events=True)
        self.model = model
        engine = model.engine
        edges = engine.network.edges()
        self.buyer_xy = layout.layout_for(engine.n, edges)
        if len(edges) > MAX_BACKGROUND_EDGES:  # enough ties to show the structure, fast to draw
            keep = np.random.default_rng(0).choice(len(edges), MAX_BACKGROUND_EDGES, replace=False)
            edges = edges[np.sort(keep)]
        self.background = edges
        self.degrees = engine.network.degrees()
        self.seller_names = [s.name for s in model.sellers]
        self.log: deque[story.LogLine] = deque(maxlen=LOG_LINES)
        self.notables: list[story.LogLine] = []
        self.history: list[dict[str, Any]] = []  # one row per day and strategy (and "all")
        self.log_rng = np.random.default_rng(seed)
        self._seen_firsts: set[str] = set()
        self._referrers: set[int] = set()
        self._chain_told: set[int] = set()
        self._synced_day = 0
        self.sync()

    @classmethod
    def of_model(cls, model: ReciprocityModel, label: str = "") -> Run:
        """A view of a model built and stepped elsewhere (events need ``record_events=True``)."""
        return cls(model.config.name, model.config.arm, {}, 0, label=label or model.config.arm
                   or model.config.name, model=model)

    @property
    def day(self) -> int:
        return self.model.engine.day

    @property
    def finished(self) -> bool:
        return not self.model.running

    @property
    def strategies(self) -> list[str]:
        return self.model.strategies

    def step(self) -> None:
        if not self.finished:
            self.model.step()
            self.sync()

    def sync(self) -> None:
        """Catch up with the model: metric rows of the days since the last sync, and the
        latest day's events (reach, log lines, notable events)."""
        day = self.day
        if day == self._synced_day:
            return
        self._record_metrics(since=self._synced_day)
        self._synced_day = day
        if self.model.engine.events:
            self.log.extend(story.LogLine(day, text) for text in describe_events(self))
            for line in notable_events(self):
                self.notables.append(line)
                self.log.append(line)

    def _record_metrics(self, since: int) -> None:
        for row in self.model.metric_rows(since):
            self.history.append({**row, "day": int(row["step"])})

    def latest(self, strategy: str | None = None) -> dict[str, float]:
        """The latest metrics (whole model, or one strategy's sellers)."""
        want = strategy or "all"
        for row in reversed(self.history):
            if row["strategy"] == want:
                return row
            if row["day"] != self.day:
                break
        return {}

    def view(self) -> story.RunView:
        return story.RunView(self.latest(), {s: self.latest(s) for s in self.strategies})

    def seller_positions(self) -> np.ndarray:
        """Each seller at the centroid of whom they reached; before that, spread on a small ring
        around the centre. Sellers at the same spot are pulled apart so both stay visible."""
        engine = self.model.engine
        s = engine.s
        angle = 2 * np.pi * np.arange(s) / max(s, 1) + np.pi / 2
        ring = 0.5 + 0.12 * np.column_stack([np.cos(angle), np.sin(angle)]) * (s > 1)
        xy = ring.copy()
        for seller in range(s):
            reached = engine.reached(seller)
            if reached.any():
                xy[seller] = self.buyer_xy[reached].mean(axis=0)
        for i in range(s):
            for j in range(i):
                gap = xy[i] - xy[j]
                if np.hypot(*gap) < 0.15:  # overlapping: move i off along its ring direction
                    xy[i] = xy[i] + 1.2 * (ring[i] - 0.5) + (0.04 if not gap.any() else 0)
        return np.clip(xy, 0.04, 0.96)


# --- the event log -------------------------------------------------------------------------------


READINGS = {0: None, 1: "a tactic", 2: "manipulation"}


def _ties_by_kind(run: Run) -> dict[int, set[str]]:
    engine = run.model.engine
    n = engine.n
    by_tie: dict[int, set[str]] = {}
    for kind in EVENT_KINDS:
        sellers, buyers = engine.events.get(kind, ((), ()))
        for s, b in zip(np.asarray(sellers), np.asarray(buyers), strict=True):
            by_tie.setdefault(int(s) * n + int(b), set()).add(kind)
    return by_tie


def describe_events(run: Run, sample: int = LOG_SAMPLE_PER_STEP) -> list[str]:
    """Plain-words lines for the last step's events, one per seller-buyer tie, a sample of them.

    Ties with a complaint, warning, yes or a gift read as manipulation come first.
    """
    engine = run.model.engine
    if not engine.events:
        return []
    n = engine.n
    by_tie = _ties_by_kind(run)
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
        lines.append(f"… and {len(ties) - sample:,} more ties with events today (a sample is shown).")
    return lines


def notable_events(run: Run) -> list[story.LogLine]:
    """The day's events that stand out: each first backfire, complaint, referral and lost
    customer (per seller), a warning cascade, and a referral chain (a buyer refers after a
    neighbour of theirs did)."""
    engine = run.model.engine
    day, out = engine.day, []
    for kind, what in story.NOTABLE_FIRSTS.items():
        sellers, buyers = engine.events.get(kind, ((), ()))
        for s, b in zip(np.asarray(sellers, dtype=int), np.asarray(buyers, dtype=int), strict=True):
            key = f"{kind}:{s}"
            if key not in run._seen_firsts:
                run._seen_firsts.add(key)
                out.append(story.LogLine(day, f"{what.capitalize()} for {run.seller_names[s]}: "
                                              f"Buyer {b}.", notable=what))
    sellers, warners = engine.events.get("warning", ((), ()))
    warners = np.unique(np.asarray(warners, dtype=int))
    cascade_key = "cascade"
    if len(warners) >= story.CASCADE_WARNERS and cascade_key not in run._seen_firsts:
        run._seen_firsts.add(cascade_key)  # the first cascade is the story; later ones repeat it
        told = int(run.degrees[warners].sum())
        names = sorted({run.seller_names[int(s)] for s in np.asarray(sellers, dtype=int)})
        out.append(story.LogLine(day, f"Warning cascade: {len(warners)} buyers warned {told:,} "
                                      f"neighbours about {' and '.join(names)}.",
                                 notable="warning cascade"))
    sellers, referrers = engine.events.get("referral", ((), ()))
    for s, b in zip(np.asarray(sellers, dtype=int), np.asarray(referrers, dtype=int), strict=True):
        earlier = run._referrers.intersection(engine.network.neighbours(int(b)).tolist())
        if earlier and s not in run._chain_told:
            run._chain_told.add(int(s))
            out.append(story.LogLine(day, f"Referral chain for {run.seller_names[s]}: Buyer {b} "
                                          f"referred after their neighbour Buyer {min(earlier)} did.",
                                     notable="referral chain"))
    run._referrers.update(np.asarray(referrers, dtype=int).tolist())
    return out


def _sentence(run: Run, s: int, b: int, kinds: set[str], day: int) -> str:
    engine = run.model.engine
    seller = run.seller_names[s]
    buyer = f"Buyer {b}"
    reading = READINGS.get(int(engine.reading[s, b]))
    parts = []
    if "gift_refused" in kinds:
        parts.append(f"{seller} offered {buyer} a gift; {buyer} turned it down")
    elif "gift" in kinds:
        gift = f"{seller} gave {buyer} a gift"
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
        ask = f"{seller} asked {buyer} for a {kind}{when}"
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
        parts.append(f"{buyer} and {seller}: {', '.join(sorted(kinds))}")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


# --- what the network view draws -----------------------------------------------------------------


STATE_CODES = {state: str(i) for i, state in enumerate(STATE_COLOURS)}


def network_static(run: Run) -> dict[str, Any]:
    """What the network view needs once per run: positions (0-1000 integers) and the ties."""
    xy = np.round(run.buyer_xy * 1000).astype(int)
    return {"x": xy[:, 0].tolist(), "y": xy[:, 1].tolist(),
            "edges": run.background.reshape(-1).astype(int).tolist(),
            "state_colours": list(STATE_COLOURS.values()), "state_names": list(STATE_COLOURS),
            "tie_colours": TIE_COLOURS}


def network_static_json(run: Run) -> str:
    """``network_static`` as JSON, serialised once per run (its network never changes): the
    browser component decodes it, and the app's renders pass one string, not ~12,000 values."""
    cached = getattr(run, "_static_json", None)
    if cached is None:
        cached = run._static_json = to_json(network_static(run))
    return cached


def to_json(value: Any) -> str:
    """Compact JSON for a browser component's prop (one string: the UI library does not walk it)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def network_frame(run: Run) -> dict[str, Any]:
    """What changes each day: buyer states (one digit each), obligation (0-9 each), sellers,
    and the ties where a gift, an ask, a complaint or a warning just passed."""
    model, engine = run.model, run.model.engine
    summary = model.buyer_summary()
    states = "".join(STATE_CODES[s] for s in summary["state"])
    owed = np.clip(summary["obligation"], 0, None)
    top = float(owed.max()) if len(owed) else 0.0
    levels = np.zeros(len(owed), dtype=int) if top <= 0 else np.minimum(
        (np.sqrt(owed / top) * 9).astype(int), 9)
    rng = np.random.default_rng(engine.day)
    flows = {}
    for kind in ("gift", "ask", "complaint"):
        sellers, buyers = engine.events.get(kind, ((), ()))
        pairs = np.column_stack([np.asarray(sellers, dtype=int), np.asarray(buyers, dtype=int)])
        flows[kind] = _sample(pairs, rng).reshape(-1).tolist()
    _, warners = engine.events.get("warning", ((), ()))
    warners = np.asarray(warners, dtype=int)
    if len(warners):
        told = engine.network.neighbours_of_many(warners)
        src = np.repeat(warners, run.degrees[warners])
        flows["warning"] = _sample(np.column_stack([src, told]), rng).reshape(-1).tolist()
    else:
        flows["warning"] = []
    strategies = run.strategies
    sellers_xy = np.round(run.seller_positions() * 1000).astype(int)
    sellers = [{"name": name, "x": int(sellers_xy[i, 0]), "y": int(sellers_xy[i, 1]),
                "colour": series_colour(strategies, model.sellers[i].strategy)}
               for i, name in enumerate(run.seller_names)]
    return {"day": engine.day, "states": states, "obligation": "".join(map(str, levels.tolist())),
            "sellers": sellers, "flows": flows}


def _sample(pairs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if len(pairs) > MAX_TIES_PER_KIND:
        pairs = pairs[np.sort(rng.choice(len(pairs), MAX_TIES_PER_KIND, replace=False))]
    return pairs


def series_colour(names: list[str], name: str) -> str:
    return SERIES_COLOURS[names.index(name) % len(SERIES_COLOURS)] if name in names else "#555555"


# --- what the plots draw -------------------------------------------------------------------------


RATE_METRICS = {"retention_90d", "mean_perceived_sincerity", "mean_trust"}


def is_rate(metric: str) -> bool:
    return metric.endswith("_rate") or metric in RATE_METRICS


def metric_label(metric: str) -> str:
    return dict(GAP_METRICS).get(metric) or metric.replace("_", " ").capitalize()


def plotted_metrics(resolved: Scenario, limit: int | None = None) -> list[str]:
    """The guide's own metrics first (its "watch" line), then the key metrics, then up to two of
    the scenario's outcomes."""
    known = {m for m, _ in GAP_METRICS} | set(resolved.outcomes) | {
        "gift_acceptance_rate", "opt_out_rate", "churn_rate", "negative_wom", "discount_depth",
        "mean_trust", "outstanding_obligation", "reply_rate", "first_ask_compliance"}
    named = [w for w in _words(resolved.guide.metric) if w in known]
    order = [*named, *(m for m, _ in KEY_METRICS), *list(resolved.outcomes)[:2]]
    unique = list(dict.fromkeys(order))
    return unique[:limit] if limit else unique


def _words(text: str) -> list[str]:
    import re

    return re.findall(r"[a-z][a-z0-9_]*", text or "")


def chart_rows(runs: list[Run], metric: str, by_strategy: bool) -> list[dict[str, Any]]:
    """Rows for one metric's plot: one line per series (the strategies of one run, or the runs
    of the trainer), the gap between the first two series, and today's day.

    Each row: ``kind`` (line, gap or now), ``day``, and ``series``/``value`` or ``lo``/``hi``.
    """
    series: dict[str, dict[int, float]] = {}
    for run in runs:
        wanted = run.strategies if by_strategy else ["all"]
        for row in run.history:
            if row["strategy"] in wanted:
                name = row["strategy"] if by_strategy else run.label
                value = row.get(metric)
                if value is not None and math.isfinite(value):
                    series.setdefault(name, {})[row["day"]] = float(value)
    rows: list[dict[str, Any]] = [
        {"kind": "line", "day": day, "series": name, "value": round(value, 5)}
        for name, points in series.items() for day, value in points.items()]
    if len(series) >= 2:
        a, b = list(series.values())[:2]
        rows += [{"kind": "gap", "day": day, "lo": round(min(a[day], b[day]), 5),
                  "hi": round(max(a[day], b[day]), 5)} for day in sorted(a.keys() & b.keys())]
    rows.append({"kind": "now", "day": max((run.day for run in runs), default=0)})
    return rows


def series_names(runs: list[Run], by_strategy: bool) -> list[str]:
    return list(dict.fromkeys(s for run in runs for s in run.strategies)) if by_strategy else [
        run.label for run in runs]


def gaps(a: Run, b: Run, metrics: list[str]) -> list[dict[str, Any]]:
    """Latest value of each metric in two trainer panels (whole model) and the gap B - A."""
    la, lb = a.latest(), b.latest()
    rows = []
    for metric in dict.fromkeys([*metrics, "revenue"]):
        va, vb = la.get(metric, float("nan")), lb.get(metric, float("nan"))
        rows.append({"metric": metric_label(metric), "A": va, "B": vb, "gap (B - A)": vb - va})
    return rows


def latest_rows(run: Run, metrics: list[str]) -> list[dict[str, Any]]:
    """The latest metrics per strategy (and the whole model when several strategies play)."""
    names = run.strategies + (["all"] if len(run.strategies) > 1 else [])
    return [{"strategy": name, **{metric_label(m): run.latest(None if name == "all" else name)
                                  .get(m, float("nan")) for m in metrics}}
            for name in names if run.latest(None if name == "all" else name)]


# --- one or two runs, stepped together -----------------------------------------------------------


class Session:
    """The runs on screen (one, or two in trainer mode), stepped together under one lock, with
    the guide's moments ticked off as the runs show them."""

    def __init__(self, runs: list[Run], resolved: Scenario):
        self.runs = runs
        self.resolved = resolved
        self.lock = threading.Lock()
        arms = [run.arm for run in runs]
        self.notices = story.NoticeTracker(resolved.guide, arms)
        self.playing = False  # read by the play loop before every step: Pause stops it at once

    @classmethod
    def single(cls, scenario: str, arm: str | None, overrides: dict[str, Any],
               seed: int) -> Session:
        run = Run(scenario, arm, dict(overrides), seed, label=arm or AS_WRITTEN)
        return cls([run], run.model.config)

    @classmethod
    def trainer(cls, scenario: str, arm: str | None, overrides: dict[str, Any], seed: int,
                option_a: str, option_b: str) -> Session:
        resolved = resolve(scenario, arm, overrides)
        runs = []
        for option in (option_a, option_b):
            panel_arm, extra = panel_spec(resolved, option)
            runs.append(Run(scenario, panel_arm, {**overrides, **extra}, seed, label=option))
        return cls(runs, resolved)

    @property
    def trainer_mode(self) -> bool:
        return len(self.runs) > 1

    @property
    def finished(self) -> bool:
        return all(run.finished for run in self.runs)

    @property
    def day(self) -> int:
        return max(run.day for run in self.runs)

    @property
    def horizon(self) -> int:
        return max(run.model.horizon for run in self.runs)

    def step(self, days: int = 1) -> None:
        with self.lock:
            for _ in range(days):
                if self.finished:
                    break
                for run in self.runs:
                    run.step()
                self._tick_notices()

    def _tick_notices(self) -> None:
        views: dict[str | None, story.RunView] = {}
        panel_of: dict[str | None, str] = {}
        for i, run in enumerate(self.runs):
            view = run.view()
            if i == 0:
                views[None] = view  # terms without @arm read the first panel
            if run.arm:
                views[run.arm] = view
                panel_of[run.arm] = run.label
        for moment in self.notices.update(self.day, views, panel_of):
            text = self.resolved.guide.notice[moment.notice] if moment.notice is not None else moment.show
            where = f" ({moment.panel})" if moment.panel else ""
            line = story.LogLine(self.day, f"Things to notice{where}: {text}", notable="noticed")
            for run in self.runs[:1]:
                run.notables.append(line)
                run.log.append(line)

    def metrics(self, limit: int | None = None) -> list[str]:
        return plotted_metrics(self.resolved, limit)

    def chart(self, metric: str) -> tuple[list[dict[str, Any]], list[str]]:
        """(rows, series names) of one metric's plot."""
        with self.lock:
            by_strategy = not self.trainer_mode
            return chart_rows(self.runs, metric, by_strategy), series_names(self.runs, by_strategy)

    def network(self, index: int = 0) -> dict[str, Any]:
        with self.lock:
            return network_frame(self.runs[index])

    def log_lines(self, limit: int = 40) -> list[story.LogLine]:
        """Latest first: the notable lines of every panel, then the latest ordinary ones."""
        with self.lock:
            return self._latest_first(lambda run: run.log)[:limit]

    def notable_lines(self) -> list[story.LogLine]:
        with self.lock:
            return self._latest_first(lambda run: run.notables)

    def _latest_first(self, lines_of) -> list[story.LogLine]:
        """Every panel's lines (named by panel in trainer mode), latest day first."""
        out = []
        for run in self.runs:
            prefix = f"{run.label}: " if self.trainer_mode else ""
            out += [story.LogLine(line.day, prefix + line.text, line.notable)
                    for line in lines_of(run)]
        return sorted(out, key=lambda line: line.day, reverse=True)

    def gaps(self) -> list[dict[str, Any]]:
        with self.lock:
            return gaps(*self.runs, self.metrics()) if len(self.runs) == 2 else []


def scenario_names() -> list[str]:
    return list_scenarios()


__all__ = [
    "AS_WRITTEN",
    "DEFAULT_SCENARIO",
    "Control",
    "Run",
    "ScenarioError",
    "Session",
    "parse_seed",
    "parse_value",
]
