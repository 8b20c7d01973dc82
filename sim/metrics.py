"""Metrics (RECIPROCITY.md, "Metrics the seeds name"): one registry, :data:`METRICS`.

Every metric is a ratio or a total of per-seller sums that the engine keeps (event tallies such as
``reached``, ``conversions``, ``revenue``, and passes over the tie state such as ``trust``): for
the whole model (all sellers) or for the sellers that follow one strategy. Unless its definition
says otherwise a rate is a cumulative share of the ties reached so far.

Adding a metric: write one function below, decorated with :func:`metric` (its name is the
metric's name, the definition is what the docs and ``recip metrics`` print), and a test in
``tests/test_metrics.py``. If it needs a sum the engine does not keep yet, add that sum to
:meth:`sim.engine.Engine.seller_sums` (or a tally to :class:`sim.engine.state.Tallies`).
*Core* metrics are reported for every scenario; the others are *outcome kinds* that a scenario
reports under a name of its own (``[outcomes] tip_percent = "mean_amount"``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


class Totals(dict):
    """Per-seller sums added up over the chosen sellers, by name."""

    def ratio(self, numerator: str, denominator: str, empty: float = 0.0) -> float:
        """``numerator / denominator``, or ``empty`` when nothing was counted."""
        return self[numerator] / self[denominator] if self[denominator] else empty


@dataclass(frozen=True)
class Metric:
    name: str
    definition: str
    unit: str
    value: Callable[[Totals], float]
    core: bool
    """Reported for every scenario (else only as a scenario's named outcome)."""


METRICS: dict[str, Metric] = {}
"""Every metric, by name, in the order the docs and outputs list them."""


def metric(definition: str, *, unit: str, core: bool = True):
    """Register the decorated function (``Totals -> float``) as a metric named like it."""
    def register(value: Callable[[Totals], float]) -> Callable[[Totals], float]:
        METRICS[value.__name__] = Metric(value.__name__, definition, unit, value, core)
        return value
    return register


NAN = float("nan")


# --- core metrics ------------------------------------------------------------------------------


@metric("ties that accepted at least one gift / ties offered one (lead-magnet conversion)",
        unit="share")
def gift_acceptance_rate(t: Totals) -> float:
    return t.ratio("accepted", "offered")


@metric("ties that became customers (said yes to an ask) / ties reached", unit="share")
def conversion_rate(t: Totals) -> float:
    return t.ratio("conversions", "reached")


@metric("ties that answered an ask (yes, an explicit no, or an amount) / ties asked", unit="share")
def reply_rate(t: Totals) -> float:
    return t.ratio("replied", "asked")


@metric("cumulative revenue, tips or donations", unit="dollars")
def revenue(t: Totals) -> float:
    return t["revenue"]


@metric("mean discount, as a share of the price, over conversions", unit="share")
def discount_depth(t: Totals) -> float:
    return t.ratio("discounted", "conversions")


@metric("ties that complained at least once / ties reached", unit="share")
def complaint_rate(t: Totals) -> float:
    return t.ratio("complained", "reached")


@metric("ties that opted out / ties reached", unit="share")
def opt_out_rate(t: Totals) -> float:
    return t.ratio("opted_out", "reached")


@metric("converted ties that have since left / converted ties", unit="share")
def churn_rate(t: Totals) -> float:
    return t.ratio("churned", "conversions")


@metric("converted ties still customers 90 days after converting (or now, for those converted "
        "less than 90 days ago) / converted ties", unit="share")
def retention_90d(t: Totals) -> float:
    return 1.0 - t.ratio("churned_within_90d", "conversions", NAN)


@metric("cumulative referrals made", unit="referrals")
def referrals(t: Totals) -> float:
    return t["referrals"]


@metric("cumulative warnings received by neighbours (one per neighbour told)", unit="warnings")
def negative_wom(t: Totals) -> float:
    return t["warnings_sent"]


@metric("mean trust in the seller over reached ties, now", unit="0-1")
def mean_trust(t: Totals) -> float:
    return t.ratio("trust", "reached", NAN)


@metric("mean perceived sincerity of the seller over reached ties, now", unit="0-1")
def mean_perceived_sincerity(t: Totals) -> float:
    return t.ratio("sincerity", "reached", NAN)


@metric("mean felt debt still owed (positive part) over reached ties, now", unit="units of the stakes")
def outstanding_obligation(t: Totals) -> float:
    return t.ratio("owed", "reached", NAN)


@metric("ties whose gift was read as manipulation / ties that accepted a gift", unit="share")
def backfire_rate(t: Totals) -> float:
    return t.ratio("backfired", "accepted")


@metric("ties whose account an exact repayment closed (rule 2) / converted ties", unit="share")
def closed_account_rate(t: Totals) -> float:
    return t.ratio("closed", "conversions")


@metric("mean days from the first gift (or first contact, with no gift) to conversion, over "
        "converted ties (NaN before any conversion)", unit="days")
def mean_time_to_conversion(t: Totals) -> float:
    return t.ratio("days_to_convert", "conversions", NAN)


# --- costs and returns (dollars, cumulative; per strategy when read over its sellers) -----------
# Revenue is what buyers paid (after discounts). The seller's costs are its gifts (what each unit
# delivered cost it: ``gift.unit_cost``, not the gift's value to the buyer) and its asks
# (``ask.unit_cost`` per ask made). Neither cost is read by any rule: changing one changes these
# metrics and nothing else.


@metric("dollars the seller spent on the gifts delivered, cumulative: gift units accepted "
        "(quantity, plus the unexpected second) x gift.unit_cost; refused gifts and gated gifts "
        "not signed up for cost nothing", unit="dollars")
def gift_cost(t: Totals) -> float:
    return t["gift_cost"]


@metric("dollars the seller spent on contacting buyers, cumulative: asks made (first asks, "
        "follow-ups, retreats and repeat asks, whatever the answer) x ask.unit_cost",
        unit="dollars")
def contact_cost(t: Totals) -> float:
    return t["contact_cost"]


@metric("dollars taken off the price of sales, cumulative: yes answers x ask.revenue x "
        "ask.discount (already deducted from revenue)", unit="dollars")
def discounts_given(t: Totals) -> float:
    return t["discounts"]


@metric("dollars: revenue (after discounts) - gift cost - contact cost, cumulative",
        unit="dollars")
def net_revenue(t: Totals) -> float:
    return t["revenue"] - t["gift_cost"] - t["contact_cost"]


@metric("net revenue / gift cost, in dollars per gift dollar: what is left per dollar spent on "
        "gifts once gifts and contacts are paid (NaN without gift cost); the gifts' own effect "
        "is the paired difference against a no-gift arm (recip compare)",
        unit="dollars per gift dollar")
def return_on_gifts(t: Totals) -> float:
    return net_revenue(t) / t["gift_cost"] if t["gift_cost"] else NAN


@metric("(gift cost + contact cost) / ties converted, in dollars per conversion (NaN before "
        "any conversion)", unit="dollars per conversion")
def cost_per_conversion(t: Totals) -> float:
    return (t["gift_cost"] + t["contact_cost"]) / t["conversions"] if t["conversions"] else NAN


@metric("net revenue / ties reached, in dollars per buyer reached: what each buyer reached so "
        "far was worth to the seller over the run, after gift and contact costs (NaN before "
        "anyone is reached)",
        unit="dollars per buyer reached")
def value_per_buyer_reached(t: Totals) -> float:
    return net_revenue(t) / t["reached"] if t["reached"] else NAN


# --- outcome kinds: reported when a scenario names them ----------------------------------------


@metric("mean amount given per amount ask (tip percent, tickets, dollars donated)",
        unit="amount per ask: tip %, tickets or dollars", core=False)
def mean_amount(t: Totals) -> float:
    return t.ratio("amount_total", "amount_asks", NAN)


@metric("asks answered yes / asks made", unit="share", core=False)
def ask_compliance(t: Totals) -> float:
    return t.ratio("asks_answered_yes", "asks_made", NAN)


@metric("first asks answered yes / first asks made", unit="share", core=False)
def first_ask_compliance(t: Totals) -> float:
    return t.ratio("first_asks_yes", "first_asks", NAN)


@metric("retreated (conceded) asks answered yes / retreated asks made", unit="share", core=False)
def conceded_ask_compliance(t: Totals) -> float:
    return t.ratio("conceded_asks_yes", "conceded_asks", NAN)


@metric("revenue / ties reached", unit="dollars", core=False)
def revenue_per_buyer(t: Totals) -> float:
    return t.ratio("revenue", "reached")


@metric("referrals / ties reached", unit="referrals", core=False)
def referrals_per_buyer(t: Totals) -> float:
    return t.ratio("referrals", "reached")


# --- names -------------------------------------------------------------------------------------

CORE_METRICS = tuple(name for name, m in METRICS.items() if m.core)
OUTCOME_KINDS = tuple(METRICS)
"""A scenario's ``[outcomes]`` may name any metric as its kind."""

METRIC_NAME = re.compile(r"^(?P<metric>\w+)(?:\[(?P<strategy>[\w-]+)\])?$")
"""A metric as sweeps and runs name it: ``conversion_rate`` or ``conversion_rate[pushy]``."""


def metric_names(scenario: Any) -> list[str]:
    """The metrics a scenario reports: the core list, then its named outcomes."""
    return [*CORE_METRICS, *scenario.outcomes]


def evaluate(sums: Mapping[str, np.ndarray], rows: Any = slice(None),
             outcomes: Mapping[str, str] | None = None) -> dict[str, float]:
    """Every core metric and each named outcome (``{name: kind}``), over the seller ``rows``
    of the per-seller ``sums``."""
    return evaluate_many(sums, {None: rows}, outcomes)[None]


def evaluate_many(sums: Mapping[str, np.ndarray], selections: Mapping[Any, Any],
                  outcomes: Mapping[str, str] | None = None) -> dict[Any, dict[str, float]]:
    """:func:`evaluate` for several selections of seller rows (``{key: rows}``) at once."""
    names = list(sums)
    matrix = np.array([sums[name] for name in names], dtype=float)
    out = {}
    for key, rows in selections.items():
        totals = Totals(zip(names, matrix[:, rows].sum(axis=1).tolist(), strict=True))
        values = {name: METRICS[name].value(totals) for name in CORE_METRICS}
        values.update({name: METRICS[kind].value(totals)
                       for name, kind in (outcomes or {}).items()})
        out[key] = values
    return out


def compute(engine: Any, sellers: np.ndarray | None = None,
            sums: Mapping[str, np.ndarray] | None = None) -> dict[str, float]:
    """All metrics of ``engine``'s first run over ``sellers`` (rows; default: all of that run).

    ``sums`` (from ``engine.seller_sums()``) may be passed to reuse one pass for several
    selections.
    """
    sums = engine.seller_sums() if sums is None else sums
    rows = engine.stack.rows_of(0) if sellers is None else np.asarray(sellers)
    return evaluate(sums, rows, engine.scenario.outcomes)
