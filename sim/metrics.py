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

import numpy as np

from sim import rules
from sim.engine import CHURNED, CUSTOMER, OPTED_OUT, RETENTION_DAYS, UNREACHED, Engine

CORE_METRICS = (
    "gift_acceptance_rate", "conversion_rate", "reply_rate", "revenue", "discount_depth",
    "complaint_rate", "opt_out_rate", "churn_rate", "retention_90d", "referrals", "negative_wom",
    "mean_trust", "mean_perceived_sincerity", "outstanding_obligation", "backfire_rate",
    "mean_time_to_conversion",
)


def _share(numerator: np.ndarray, denominator: np.ndarray) -> float:
    d = int(denominator.sum())
    return float(numerator.sum()) / d if d else 0.0


def _mean(values: np.ndarray, mask: np.ndarray) -> float:
    return float(values[mask].mean()) if mask.any() else float("nan")


def compute(engine: Engine, sellers: np.ndarray | None = None) -> dict[str, float]:
    """All core metrics and the scenario's named outcomes, over ``sellers`` (default: all)."""
    rows = slice(None) if sellers is None else np.asarray(sellers)
    e, t = engine, engine.tallies
    status = e.status[rows]
    reached = status != UNREACHED
    converted = e.converted_day[rows] >= 0
    churned = status == CHURNED
    churned_within = churned & (e.churn_day[rows] - e.converted_day[rows] < RETENTION_DAYS)
    owed = e.effective_obligation()[rows]
    start = np.where(e.first_gift_day[rows] >= 0, e.first_gift_day[rows], e.contact_day[rows])
    out = {
        "gift_acceptance_rate": _share(e.accepted_gift[rows], e.offered_gift[rows]),
        "conversion_rate": _share(converted, reached),
        "reply_rate": _share(e.replied[rows], e.asked[rows]),
        "revenue": float(t.revenue[rows].sum()),
        "discount_depth": compute_discount(e, rows),
        "complaint_rate": _share(e.complained[rows], reached),
        "opt_out_rate": _share(status == OPTED_OUT, reached),
        "churn_rate": _share(churned & converted, converted),
        "retention_90d": 1.0 - _share(churned_within, converted) if converted.any() else float("nan"),
        "referrals": float(t.referrals[rows].sum()),
        "negative_wom": float(t.warnings_sent[rows].sum()),
        "mean_trust": _mean(e.trust[rows], reached),
        "mean_perceived_sincerity": _mean(e.sincerity[rows], reached),
        "outstanding_obligation": _mean(np.maximum(owed, 0.0), reached),
        "backfire_rate": _share(e.backfired[rows], e.accepted_gift[rows]),
        "mean_time_to_conversion": _mean((e.converted_day[rows] - start).astype(float), converted),
    }
    out.update(outcomes(engine, rows))
    return out


def outcomes(engine: Engine, rows) -> dict[str, float]:
    """The scenario's named outcome metrics (``[outcomes]`` in the scenario file)."""
    t = engine.tallies

    def ratio(num, den):
        d = float(den[rows].sum())
        return float(num[rows].sum()) / d if d else float("nan")

    status = engine.status[rows]
    n_reached = max(int((status != UNREACHED).sum()), 1)
    kinds = {
        "mean_amount": lambda: ratio(t.amount_total, t.amount_asks),
        "ask_compliance": lambda: ratio(t.asks_answered_yes, t.asks_made),
        "first_ask_compliance": lambda: ratio(t.first_asks_yes, t.first_asks),
        "conceded_ask_compliance": lambda: ratio(t.conceded_asks_yes, t.conceded_asks),
        "revenue_per_buyer": lambda: float(t.revenue[rows].sum()) / n_reached,
        "conversion_rate": lambda: _share(engine.converted_day[rows] >= 0, status != UNREACHED),
        "gift_acceptance_rate": lambda: _share(engine.accepted_gift[rows], engine.offered_gift[rows]),
        "discount_depth": lambda: compute_discount(engine, rows),
        "referrals_per_buyer": lambda: float(t.referrals[rows].sum()) / n_reached,
    }
    return {name: kinds[kind]() for name, kind in engine.scenario.outcomes.items()}


def compute_discount(engine: Engine, rows) -> float:
    conversions = engine.tallies.conversions[rows]
    discount = engine.ask["discount"][rows, 0]
    return float((conversions * discount).sum() / conversions.sum()) if conversions.sum() else 0.0


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
