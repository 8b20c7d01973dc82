"""Model-level metrics (RECIPROCITY.md, "Metrics the seeds name"), computed from engine state.

Every metric is computed over seller-buyer ties: for the whole model (all sellers) or for the
sellers that follow one strategy. Unless its definition says otherwise a rate is a cumulative share
of the ties reached so far. Definitions (also in the README):

- ``gift_acceptance_rate``: ties that accepted at least one gift / ties offered one (lead-magnet
  conversion).
- ``conversion_rate``: ties that became customers (said yes to an ask) / ties reached.
- ``reply_rate``: ties that answered an ask (yes, an explicit no, or an amount) / ties asked.
- ``revenue``: cumulative revenue, tips or donations in dollars.
- ``discount_depth``: mean discount, as a share of the price, over conversions.
- ``complaint_rate``: ties that complained at least once / ties reached.
- ``opt_out_rate``: ties that opted out / ties reached.
- ``churn_rate``: converted ties that have since left / converted ties.
- ``retention_90d``: converted ties still customers 90 days after converting (or now, for those
  converted less than 90 days ago) / converted ties.
- ``referrals``: cumulative referrals made.
- ``negative_wom``: cumulative warnings received by neighbours (one per neighbour told).
- ``mean_trust``: mean trust in the seller over reached ties (now).
- ``mean_perceived_sincerity``: mean perceived sincerity of the seller over reached ties (now).
- ``outstanding_obligation``: mean felt debt still owed (positive part) over reached ties (now).
- ``backfire_rate``: ties whose gift was read as manipulation / ties that accepted a gift.
- ``mean_time_to_conversion``: mean days from the first gift (or first contact, with no gift) to
  conversion, over converted ties (NaN before any conversion).
"""

from __future__ import annotations

import re

import numpy as np

from sim import rules
from sim.engine import CHURNED, CUSTOMER, OPTED_OUT, UNREACHED, Engine

CORE_METRICS = (
    "gift_acceptance_rate", "conversion_rate", "reply_rate", "revenue", "discount_depth",
    "complaint_rate", "opt_out_rate", "churn_rate", "retention_90d", "referrals", "negative_wom",
    "mean_trust", "mean_perceived_sincerity", "outstanding_obligation", "backfire_rate",
    "mean_time_to_conversion",
)


METRIC_NAME = re.compile(r"^(?P<metric>\w+)(?:\[(?P<strategy>[\w-]+)\])?$")
"""A metric as sweeps and runs name it: ``conversion_rate`` or ``conversion_rate[pushy]``."""


def metric_names(scenario) -> list[str]:
    """The metrics a scenario reports: the core list, then its named outcomes."""
    return [*CORE_METRICS, *scenario.outcomes]


def seller_sums(engine: Engine) -> dict[str, np.ndarray]:
    """Numerators and denominators of every metric, summed per seller.

    Counts of once-only events (reached, converted, complained...) are kept by the engine as they
    happen (``engine.tallies``); only the current-state means (trust, sincerity, obligation) take
    a pass over the tie arrays. Every metric is a ratio of these sums, so model-level and
    per-strategy values are combined from them without touching the ties again.
    """
    e, t = engine, engine.tallies
    reached = e.status != UNREACHED
    return {
        "trust": (e.trust * reached).sum(axis=1),
        "sincerity": (e.sincerity * reached).sum(axis=1),
        "owed": (np.maximum(e.effective_obligation(), 0.0) * reached).sum(axis=1),
        "discounted": t.conversions * e.ask["discount"][:, 0],
        **{name: getattr(t, name) for name in t.__dataclass_fields__ if name != "n_sellers"},
    }


def compute(engine: Engine, sellers: np.ndarray | None = None,
            sums: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """All core metrics and the scenario's named outcomes, over ``sellers`` (default: all).

    ``sums`` (from :func:`seller_sums`) may be passed to reuse one pass for several selections.
    """
    sums = seller_sums(engine) if sums is None else sums
    rows = slice(None) if sellers is None else np.asarray(sellers)
    total = {name: float(values[rows].sum()) for name, values in sums.items()}

    def ratio(num: str, den: str, empty: float = 0.0) -> float:
        return total[num] / total[den] if total[den] else empty

    nan = float("nan")
    out = {
        "gift_acceptance_rate": ratio("accepted", "offered"),
        "conversion_rate": ratio("conversions", "reached"),
        "reply_rate": ratio("replied", "asked"),
        "revenue": total["revenue"],
        "discount_depth": ratio("discounted", "conversions"),
        "complaint_rate": ratio("complained", "reached"),
        "opt_out_rate": ratio("opted_out", "reached"),
        "churn_rate": ratio("churned", "conversions"),
        "retention_90d": 1.0 - ratio("churned_within_90d", "conversions", nan),
        "referrals": total["referrals"],
        "negative_wom": total["warnings_sent"],
        "mean_trust": ratio("trust", "reached", nan),
        "mean_perceived_sincerity": ratio("sincerity", "reached", nan),
        "outstanding_obligation": ratio("owed", "reached", nan),
        "backfire_rate": ratio("backfired", "accepted"),
        "mean_time_to_conversion": ratio("days_to_convert", "conversions", nan),
    }
    kinds = {
        "mean_amount": lambda: ratio("amount_total", "amount_asks", nan),
        "ask_compliance": lambda: ratio("asks_answered_yes", "asks_made", nan),
        "first_ask_compliance": lambda: ratio("first_asks_yes", "first_asks", nan),
        "conceded_ask_compliance": lambda: ratio("conceded_asks_yes", "conceded_asks", nan),
        "revenue_per_buyer": lambda: ratio("revenue", "reached"),
        "conversion_rate": lambda: out["conversion_rate"],
        "gift_acceptance_rate": lambda: out["gift_acceptance_rate"],
        "discount_depth": lambda: out["discount_depth"],
        "referrals_per_buyer": lambda: ratio("referrals", "reached"),
    }
    out.update({name: kinds[kind]() for name, kind in engine.scenario.outcomes.items()})
    return out


def buyer_state(engine: Engine) -> dict[str, np.ndarray]:
    """Per-buyer summaries across sellers, for agents and the app."""
    status = engine.status
    customer = (status == CUSTOMER).any(axis=0)
    churned = (status == CHURNED).any(axis=0) & ~customer
    opted = (status == OPTED_OUT).any(axis=0) & ~customer & ~churned
    reached = (status != UNREACHED).any(axis=0)
    state = np.full(engine.n, "unreached", dtype=object)
    state[reached] = "prospect"
    state[opted] = "opted out"
    state[churned] = "churned"
    state[customer] = "customer"
    owed = np.maximum(engine.effective_obligation(), 0.0).sum(axis=0)
    return {"state": state, "obligation": owed,
            "read_as_manipulation": (engine.accepted_gift
                                     & (engine.reading == rules.MANIPULATION)).any(axis=0)}
