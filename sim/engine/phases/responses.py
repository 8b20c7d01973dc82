"""Responses (rules 2, 3, 4, 8, 10, 12): how a buyer answers an ask (yes, an explicit no,
silence, opting out, or an amount), and what a yes does: revenue, conversion, repayment of the
felt debt, thanks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import rules
from sim.engine.draws import Purpose
from sim.engine.stack import PerTie, Ties
from sim.engine.state import CUSTOMER, OPTED_OUT, PROSPECT

if TYPE_CHECKING:
    from sim.engine.core import Engine


def respond(e: Engine, day: int, ties: Ties, size: np.ndarray, disproportion: np.ndarray,
            concede: np.ndarray, reactance: np.ndarray) -> None:
    """The asked ``ties`` answer an ask of ``size`` dollars."""
    st, buyers, t = e.state, e.buyers, e.tallies
    a, p, b = PerTie(e.plan.ask, ties.row), e.params(ties), ties.buyer
    excess = rules.reactance_excess(reactance, threshold=p.reactance_threshold)
    avoiding = reactance > p.avoid_threshold
    drive = compliance_drive(e, ties, disproportion, excess)

    # Yes/no asks.
    yes_no = ~a.amount_mode
    p_yes = rules.compliance_probability(buyers.base_logit[b], drive, size, buyers.budget[b],
                                         price_weight=p.price_weight)
    u_yes, u_reply, u_opt_out, u_round = e.draw(
        day, (Purpose.YES, Purpose.REPLY, Purpose.OPT_OUT, Purpose.ROUND), ties)
    answers = yes_no & ~avoiding
    yes = answers & (u_yes < p_yes)
    said_no = answers & ~yes & (u_reply < p.decline_reply_share)
    ignored = yes_no & ~yes & ~said_no
    opt_out = ignored & avoiding & a.opt_out & (u_opt_out < p.opt_out_rate)

    # Amount asks: the buyer chooses how much (rule 4's drive scales the amount).
    amount = np.zeros(ties.size)
    if a.amount_mode.any():
        amount = np.where(a.amount_mode & ~avoiding,
                          rules.amount_given(buyers.base_amount[b], drive), 0.0)
        amount = np.where(a.integer, rules.whole_units(amount, u_round), amount)
    gave = a.amount_mode & (amount > 0)
    complied = yes | gave

    _count_asks(e, ties, complied, concede, a.amount_mode, amount)
    t.revenue += ties.per_seller(np.where(yes, a.revenue * (1.0 - a.discount), 0.0)
                                 + amount * a.revenue, e.rows)
    t.discounts += ties.per_seller(np.where(yes, a.revenue * a.discount, 0.0), e.rows)
    t.contact_cost += ties.per_seller(a.unit_cost, e.rows)
    new_customer = complied & (ties.get(st.status) == PROSPECT)
    t.conversions += ties.count(e.rows, new_customer)
    converted = ties.where(new_customer)
    converted.put(st.converted_day, day)
    converted.put(st.status, CUSTOMER)
    first_gift = converted.get(st.first_gift_day)
    t.days_to_convert += converted.per_seller(
        (day - np.where(first_gift >= 0, first_gift, converted.get(st.contact_day)))
        * e.params(converted).step_days, e.rows)
    opting_out = ties.where(opt_out)
    opting_out.put(st.status, OPTED_OUT)
    t.opted_out += opting_out.count(e.rows)
    settle(e, ties.where(complied), np.where(a.amount_mode, amount * a.revenue, size)[complied])
    ties.add(st.trust, np.where(complied & e.plan.thanks[ties.row, 0], p.thank_trust, 0.0))

    e.flag(ties, st.asked, "asked")
    e.flag(ties, st.replied, "replied", yes | said_no | gave)
    ties.put(st.asks_made, ties.get(st.asks_made) + 1)
    ties.put(st.last_ask_day, day)
    ties.put(st.said_no, ties.get(st.said_no) + said_no)
    for kind, mask in (("ask", None), ("yes", complied), ("no", said_no), ("ignored", ignored),
                       ("opt_out", opt_out)):
        e.record(kind, ties, mask)


def compliance_drive(e: Engine, ties: Ties, disproportion: np.ndarray,
                     excess: np.ndarray) -> np.ndarray:
    """Rules 3, 4, 8, 10: the push towards yes for the asked ``ties``
    (:func:`sim.rules.compliance_drive`), with what each buyer owes the run's other sellers."""
    st, p = e.state, e.params(ties)
    debt_to_others, customer_elsewhere = _with_other_sellers(e, ties)
    indirect = rules.indirect_obligation(debt_to_others, indirect_share=p.indirect_share)
    return rules.compliance_drive(
        e.obligation_of(ties), indirect, e.plan.liking[ties.row, 0], ties.get(st.trust),
        disproportion, excess, customer_elsewhere, debt_weight=p.debt_weight,
        debt_saturation=p.debt_saturation, liking_weight=p.liking_weight,
        trust_weight=p.trust_weight, neutral_trust=p.neutral_trust,
        disproportion_weight=p.disproportion_weight, reactance_weight=p.reactance_weight,
        competition_weight=p.competition_weight)


def _with_other_sellers(e: Engine, ties: Ties) -> tuple[np.ndarray, np.ndarray]:
    """For each tie: the buyer's positive gift debt to the run's other sellers (the debt to all
    of them, added seller by seller, less this one's) and whether the buyer is another seller's
    customer."""
    gross, motive = e.state.gross.ravel(), e.readings()[2].ravel()
    status = e.state.status.ravel()

    def positive_gift_debt(index):
        return np.maximum(gross[index] * motive[index], 0.0)

    def customer(index):
        return (status[index] == CUSTOMER).astype(np.int64)

    if e.runs > 1:
        own_debt = positive_gift_debt(ties.index)
        debt_to_others = e.over_buyers_sellers(positive_gift_debt, ties) - own_debt
        elsewhere = (e.over_buyers_sellers(customer, ties) - customer(ties.index)) > 0
        return debt_to_others, elsewhere
    # one run: the buyer's ties are its column, seller k's at buyer + k * n; each read once
    debts = [positive_gift_debt(ties.buyer + k * e.n) for k in range(e.s)]
    customers = [customer(ties.buyer + k * e.n) for k in range(e.s)]
    own = ties.row
    total, customers_total = debts[0], customers[0]
    for k in range(1, e.s):
        total = total + debts[k]
        customers_total = customers_total + customers[k]
    own_debt = np.choose(own, debts) if e.s > 1 else debts[0]
    own_customer = np.choose(own, customers) if e.s > 1 else customers[0]
    return total - own_debt, (customers_total - own_customer) > 0


def settle(e: Engine, ties: Ties, repayment: np.ndarray) -> None:
    """Rule 2: a yes repays the felt debt; exact repayment closes the account."""
    if ties.size == 0:
        return
    st = e.state
    owed = np.maximum(e.obligation_of(ties), 0.0)
    remaining, closed = rules.settle_account(owed, repayment,
                                             exact_tolerance=e.params(ties).exact_tolerance)
    share_left = np.divide(remaining, owed, out=np.ones_like(owed), where=owed > 0)
    ties.put(st.gross, ties.get(st.gross) * share_left)
    ties.put(st.concession, 0.0)
    ties.put(st.account_closed, ties.get(st.account_closed) | closed)


def _count_asks(e: Engine, ties: Ties, complied, concede, amount_mode, amount) -> None:
    t = e.tallies
    first = ties.get(e.state.asks_made) == 0
    counted = {"asks_made": np.ones(ties.size, dtype=bool), "asks_answered_yes": complied,
               "first_asks": first, "first_asks_yes": first & complied,
               "conceded_asks": concede, "conceded_asks_yes": concede & complied,
               "amount_asks": np.broadcast_to(amount_mode, (ties.size,))}
    for name, counts in zip(counted, ties.count_each(list(counted.values()), e.rows),
                            strict=True):
        getattr(t, name)[:] += counts
    if np.any(amount_mode):
        t.amount_total += ties.per_seller(np.where(amount_mode, amount, 0.0), e.rows)
