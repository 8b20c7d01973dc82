"""The README's "who made money" table for pushy versus active, and the paired differences in
net revenue by day, from 30 replications (``recip run pushy_vs_active --reps 30 --seed 1``).

    .venv/bin/python experiments/money_table.py

prints the markdown the README carries; ``tests/test_costs.py`` checks that the README matches
what the code gives now (after a change to the rules, run this and paste its output).
"""

from __future__ import annotations

from sim.compare import paired_test, replicate

SCENARIO, REPS, SEED = "pushy_vs_active", 30, 1
METRICS = ("revenue", "discounts_given", "gift_cost", "contact_cost", "net_revenue",
           "return_on_gifts", "cost_per_conversion", "value_per_buyer_reached")
DAYS = (30, 90, 180)


def number(value: float) -> str:
    if value == 0:
        return "0"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


def signed(value: float) -> str:
    return ("+" if value > 0 else "") + f"{value:,.0f}"


def run():
    return replicate(SCENARIO, reps=REPS, seed=SEED, every=30)


def table(reps) -> list[str]:
    summary = reps.summary().set_index(["strategy", "metric"])
    lines = ["| metric | unit | pushy | active |", "|---|---|---|---|"]
    for metric in METRICS:
        cells = []
        for strategy in ("pushy", "active"):
            row = summary.loc[(strategy, metric)]
            cells.append(f"{number(row['mean'])} [{number(row['ci_low'])}, "
                         f"{number(row['ci_high'])}]")
        lines.append(f"| `{metric}` | {summary.loc[('all', metric), 'unit']} | "
                     + " | ".join(cells) + " |")
    return lines


def differences(reps) -> dict[int, str]:
    """Active's net revenue minus pushy's on each of :data:`DAYS`, paired within each run."""
    out = {}
    for day in DAYS:
        at = reps.runs[reps.runs.step == day].set_index(["replication", "strategy"])
        d = (at.xs("active", level="strategy")["net_revenue"]
             - at.xs("pushy", level="strategy")["net_revenue"]).to_numpy()
        test = paired_test(d)
        out[day] = (f"{signed(test['mean'])} [{signed(test['ci_low'])}, "
                    f"{signed(test['ci_high'])}]")
    return out


if __name__ == "__main__":
    reps = run()
    print("\n".join(table(reps)))
    for day, text in differences(reps).items():
        print(f"day {day}: active - pushy net revenue {text} dollars")
