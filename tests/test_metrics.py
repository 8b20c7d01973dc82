"""The metrics registry: every metric pinned on hand-built totals, and the docs list them all."""

import math
import re
from pathlib import Path

import numpy as np
import pytest

from sim.metrics import CORE_METRICS, METRICS, OUTCOME_KINDS, Totals, evaluate, evaluate_many

TOTALS = Totals(
    reached=200.0, offered=100.0, accepted=80.0, conversions=40.0, asked=150.0, replied=90.0,
    revenue=4000.0, discounted=4.0, complained=10.0, opted_out=6.0, churned=12.0,
    churned_within_90d=8.0, referrals=7.0, warnings_sent=30.0, trust=120.0, sincerity=140.0,
    owed=50.0, backfired=4.0, days_to_convert=300.0, amount_total=90.0, amount_asks=30.0,
    asks_answered_yes=45.0, asks_made=150.0, first_asks=100.0, first_asks_yes=30.0,
    conceded_asks=20.0, conceded_asks_yes=9.0, closed=6.0, gift_cost=1000.0, contact_cost=600.0,
    discounts=400.0)

# One expectation per registered metric: adding a metric without one here fails.
EXPECTED = {
    "gift_acceptance_rate": 0.8, "conversion_rate": 0.2, "reply_rate": 0.6, "revenue": 4000.0,
    "discount_depth": 0.1, "complaint_rate": 0.05, "opt_out_rate": 0.03, "churn_rate": 0.3,
    "retention_90d": 0.8, "referrals": 7.0, "negative_wom": 30.0, "mean_trust": 0.6,
    "mean_perceived_sincerity": 0.7, "outstanding_obligation": 0.25, "backfire_rate": 0.05,
    "mean_time_to_conversion": 7.5, "closed_account_rate": 0.15, "mean_amount": 3.0,
    "ask_compliance": 0.3,
    "first_ask_compliance": 0.3, "conceded_ask_compliance": 0.45, "revenue_per_buyer": 20.0,
    "referrals_per_buyer": 0.035,
    # costs and returns: net = 4000 - 1000 - 600 = 2400 dollars
    "gift_cost": 1000.0, "contact_cost": 600.0, "discounts_given": 400.0, "net_revenue": 2400.0,
    "return_on_gifts": 2.4, "cost_per_conversion": 40.0, "value_per_buyer_reached": 12.0,
}


def test_every_registered_metric_is_pinned():
    assert set(EXPECTED) == set(METRICS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_metric_values_on_hand_built_totals(name):
    assert METRICS[name].value(TOTALS) == pytest.approx(EXPECTED[name])


def test_empty_denominators_give_zero_for_counts_and_nan_for_means():
    empty = Totals({name: 0.0 for name in TOTALS})
    for name, metric in METRICS.items():
        value = metric.value(empty)
        if name in ("retention_90d", "mean_trust", "mean_perceived_sincerity",
                    "outstanding_obligation", "mean_time_to_conversion", "mean_amount",
                    "ask_compliance", "first_ask_compliance", "conceded_ask_compliance",
                    "return_on_gifts", "cost_per_conversion", "value_per_buyer_reached"):
            assert math.isnan(value), name
        else:
            assert value == 0.0, name


def test_core_metrics_and_outcome_kinds_come_from_the_registry():
    assert tuple(n for n, m in METRICS.items() if m.core) == CORE_METRICS
    assert set(OUTCOME_KINDS) == set(METRICS)
    assert all(METRICS[name].definition and METRICS[name].unit for name in METRICS)


def test_evaluate_many_equals_evaluate_per_selection():
    rng = np.random.default_rng(1)
    sums = {name: rng.random(6) * 10 for name in TOTALS}
    selections = {"a": np.array([0, 2]), "b": np.array([1, 3, 5]), None: slice(None)}
    many = evaluate_many(sums, selections, {"tips": "mean_amount"})
    for key, rows in selections.items():
        assert many[key] == evaluate(sums, rows, {"tips": "mean_amount"})


def test_the_readme_metrics_table_lists_every_core_metric_with_its_definition():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| (.+?) \|$", readme, flags=re.MULTILINE))
    assert set(rows) == set(CORE_METRICS)
    for name, definition in rows.items():
        assert definition == METRICS[name].definition, name
