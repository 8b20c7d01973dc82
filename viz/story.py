"""The story of a run: notable events, and the guide's "things to notice" ticked off when the run
shows them.

A scenario's teaching script (``[[guide.script]]``) names, for each moment, a condition on the
run (``when``) and the thing to notice it shows (``notice``, 1-based). The condition is computed
from the metrics of the runs on screen, every step; a moment is ticked on the first day it holds.

Condition grammar (``and`` joins comparisons)::

    term op term [and term op term ...]      op: > < >= <=
    term: a number | day | metric | metric[strategy] | metric@arm | metric[strategy]@arm

``metric`` alone is the whole model; ``[strategy]`` one strategy's sellers; ``@arm`` the trainer
panel running that arm (the condition waits until both arms it names are on screen).
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import Any

OPERATORS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
_TERM = re.compile(r"^(?P<metric>[a-z_][a-z0-9_]*)(\[(?P<strategy>[A-Za-z0-9_]+)\])?"
                   r"(@(?P<arm>[A-Za-z0-9_]+))?$")
_COMPARISON = re.compile(r"^\s*(?P<left>\S+)\s*(?P<op>>=|<=|>|<)\s*(?P<right>\S+)\s*$")


class ConditionError(ValueError):
    """A ``when`` condition that does not parse or names what the scenario lacks."""


@dataclass(frozen=True)
class Term:
    metric: str | None = None  # None: a number or the day
    strategy: str | None = None
    arm: str | None = None
    number: float | None = None

    def value(self, views: dict[str | None, RunView], day: int) -> float | None:
        if self.number is not None:
            return self.number
        if self.metric == "day":
            return float(day)
        view = views.get(self.arm) if self.arm else views.get(None)
        if view is None:
            return None
        return view.metric(self.metric, self.strategy)


@dataclass(frozen=True)
class Condition:
    text: str
    comparisons: tuple[tuple[Term, str, Term], ...]

    @property
    def arms(self) -> set[str]:
        return {t.arm for c in self.comparisons for t in (c[0], c[2]) if t.arm}

    def holds(self, views: dict[str | None, RunView], day: int) -> bool:
        for left, op, right in self.comparisons:
            a, b = left.value(views, day), right.value(views, day)
            if a is None or b is None or math.isnan(a) or math.isnan(b) or not OPERATORS[op](a, b):
                return False
        return True


def _term(text: str) -> Term:
    try:
        return Term(number=float(text))
    except ValueError:
        pass
    match = _TERM.match(text)
    if not match:
        raise ConditionError(f"{text!r} is not a number, 'day', metric, metric[strategy] or "
                             f"metric@arm")
    return Term(match["metric"], match["strategy"], match["arm"])


def parse_condition(text: str, metrics: set[str] | None = None, strategies: set[str] | None = None,
                    arms: set[str] | None = None) -> Condition:
    """Parse ``text``; with ``metrics``/``strategies``/``arms`` given, check the names too.

    >>> parse_condition("complaint_rate[pushy] > complaint_rate[active] and day >= 14").arms
    set()
    """
    comparisons = []
    for part in re.split(r"\band\b", text):
        match = _COMPARISON.match(part)
        if not match:
            raise ConditionError(f"when = {text!r}: {part.strip()!r} is not 'term op term' "
                                 f"(op one of > < >= <=)")
        left, right = _term(match["left"]), _term(match["right"])
        for term in (left, right):
            _check_names(text, term, metrics, strategies, arms)
        comparisons.append((left, match["op"], right))
    return Condition(text, tuple(comparisons))


def _check_names(text: str, term: Term, metrics, strategies, arms) -> None:
    if term.metric in (None, "day"):
        return
    if metrics is not None and term.metric not in metrics:
        raise ConditionError(f"when = {text!r}: no metric {term.metric!r}")
    if strategies is not None and term.strategy and term.strategy not in strategies:
        raise ConditionError(f"when = {text!r}: no strategy {term.strategy!r} in play")
    if arms is not None and term.arm and term.arm not in arms:
        raise ConditionError(f"when = {text!r}: no arm {term.arm!r}")


class RunView:
    """The latest metrics of one run, as conditions read them."""

    def __init__(self, whole: dict[str, float], by_strategy: dict[str, dict[str, float]]):
        self.whole, self.by_strategy = whole, by_strategy

    def metric(self, name: str, strategy: str | None) -> float | None:
        source = self.by_strategy.get(strategy) if strategy else self.whole
        value = None if source is None else source.get(name)
        return None if value is None else float(value)


@dataclass
class Moment:
    """One moment of a teaching script, and when (if yet) the run showed it."""

    show: str
    ask: str
    condition: Condition | None
    notice: int | None  # 0-based index into the guide's notice list
    day: int | None = None
    panel: str | None = None


def script_moments(guide: Any) -> list[Moment]:
    moments = []
    for entry in getattr(guide, "script", None) or []:
        when = entry.get("when")
        notice = entry.get("notice")
        moments.append(Moment(show=entry.get("show", ""), ask=entry.get("ask", ""),
                              condition=parse_condition(when) if when else None,
                              notice=None if notice is None else int(notice) - 1))
    return moments


class NoticeTracker:
    """Ticks the guide's moments off on the day the runs on screen first show them."""

    def __init__(self, guide: Any, arms_on_screen: list[str | None]):
        self.moments = script_moments(guide)
        self.arms_on_screen = arms_on_screen

    def update(self, day: int, views: dict[str | None, RunView],
               panel_of: dict[str | None, str]) -> list[Moment]:
        """Check every open moment; return those ticked now."""
        ticked = []
        for moment in self.moments:
            if moment.day is not None or moment.condition is None:
                continue
            if not moment.condition.arms <= set(views):
                continue  # an arm it compares is not on screen
            if moment.condition.holds(views, day):
                moment.day = day
                arms = sorted(moment.condition.arms)
                moment.panel = " vs ".join(panel_of.get(a, a) for a in arms) if arms else None
                ticked.append(moment)
        return ticked

    def ticked_notices(self) -> dict[int, Moment]:
        """notice index -> the first moment that showed it."""
        out: dict[int, Moment] = {}
        for moment in self.moments:
            if moment.notice is not None and moment.day is not None and moment.notice not in out:
                out[moment.notice] = moment
        return out

    def waiting_for_arms(self) -> set[str]:
        return {a for m in self.moments if m.condition for a in m.condition.arms} - {
            a for a in self.arms_on_screen if a}


# --- notable events ------------------------------------------------------------------------------


NOTABLE_FIRSTS = {
    "manipulation": "first backfire: a gift read as manipulation",
    "complaint": "first complaint",
    "referral": "first referral",
    "churn": "first customer lost",
}
CASCADE_WARNERS = 5  # warnings from this many buyers in one day make a cascade


@dataclass(frozen=True)
class LogLine:
    day: int
    text: str
    notable: str = ""  # why it stands out ("" for an ordinary line)
