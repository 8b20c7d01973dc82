"""Responses (rules 2, 3, 4, 8, 10, 12): how a buyer answers an ask (yes, an explicit no,
silence, opting out, or an amount), and what a yes does: revenue, conversion, repayment of the
felt debt, thanks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import rules
from sim.engine.compiled import kernel, positive_part
from sim.engine.draws import Purpose
from sim.engine.phases import gifts
from sim.engine.stack import PerTie, Ties
from sim.engine.state import CUSTOMER, OPTED_OUT, PROSPECT, felt_debt

if TYPE_CHECKING:
    from sim.engine.core import Engine


def respond(e: Engine, day: int, ties: Ties, size: np.ndarray, reference: np.ndarray,
            disproportion: np.ndarray, concede: np.ndarray, reactance: np.ndarray) -> None:
    """The asked ``ties`` answer an ask of ``size`` dollars, a larger request ``reference``
    having been seen before or beside it (0: none)."""
    st, buyers, t = e.state, e.buyers, e.tallies
    a, p, b = PerTie(e.plan.ask, ties.row), e.params(ties), ties.buyer
    excess = rules.reactance_excess(reactance, threshold=p.reactance_threshold)
    avoiding = reactance > p.avoid_threshold
    drive, debt_push = compliance_drive(e, ties, disproportion, excess)
    drive = drive + _framing(e, ties)
    u_yes, u_reply, u_opt_out, u_round, u_opposite = e.draw(
        day, (Purpose.YES, Purpose.REPLY, Purpose.OPT_OUT, Purpose.ROUND, Purpose.BOOMERANG),
        ties)
    # Rule 8: past the threshold some do the opposite, going below their own baseline.
    opposite = (excess > 0) & (u_opposite < rules.boomerang_probability(
        excess, boomerang_rate=p.boomerang_rate))
    drive = np.where(opposite, -p.boomerang_strength, drive)
    debt_push = np.where(opposite, 0.0, debt_push)

    # Yes/no asks (one size, or a choice of sizes offered at once).
    yes_no = ~a.amount_mode
    chosen, p_yes, p_anyway = _choose(e, ties, size, reference, drive, debt_push, u_yes)
    answers = yes_no & ~avoiding
    yes = answers & (chosen > 0)
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

    plan = e.plan.ask
    _book_answers(day, ties.index, ties.row, yes, complied, said_no, yes | said_no | gave,
                  concede, opt_out, a.amount_mode, chosen, amount, bool(a.amount_mode.any()),
                  plan.revenue[:, 0], plan.size[:, 0], plan.discount[:, 0],
                  plan.unit_cost[:, 0], e.row_values("step_days"), e.plan.thanks[:, 0],
                  e.row_values("thank_trust"), st.status.ravel(), st.converted_day.ravel(),
                  st.first_gift_day.ravel(), st.contact_day.ravel(), st.asks_made.ravel(),
                  st.last_ask_day.ravel(), st.said_no.ravel(), st.asked.ravel(),
                  st.replied.ravel(), st.trust.ravel(), t.revenue, t.discounts, t.contact_cost,
                  t.conversions, t.days_to_convert, t.opted_out, t.asks_made,
                  t.asks_answered_yes, t.first_asks, t.first_asks_yes, t.conceded_asks,
                  t.conceded_asks_yes, t.amount_asks, t.amount_total, t.asked, t.replied)

    # Rule 2: what the buyer gave beyond what they would have anyway repays the debt (worked
    # out only for those who complied: nobody else repays).
    c = complied
    repaid = rules.repayment_by_yes(np.where(chosen > 0, chosen, size)[c], a.stakes[c],
                                    p_anyway[c], p_yes[c])
    if a.amount_mode.any():
        repaid = np.where(a.amount_mode[c], rules.repayment_by_amount(
            amount[c], buyers.base_amount[b[c]], a.revenue[c], a.stakes[c]), repaid)
    settle(e, ties.where(c), repaid)
    if e.plan.gift.promised.any():
        gifts.hand_over_promised(e, day, ties.where(
            complied & e.plan.gift.promised[ties.row, 0] & (e.plan.gift.value[ties.row, 0] > 0)))
    if e.record_events:
        for kind, mask in (("ask", None), ("yes", complied), ("no", said_no),
                           ("ignored", ignored), ("opt_out", opt_out)):
            e.record(kind, ties, mask)


def _choose(e: Engine, ties: Ties, size: np.ndarray, reference: np.ndarray, drive: np.ndarray,
            debt_push: np.ndarray, uniform: np.ndarray):
    """Rules 4, 11, 12 on yes/no asks: the size each buyer says yes to (0: none), the chance of
    a yes, and the chance of a yes without the debt's push (what they would have done anyway).
    With several sizes offered at once the buyer picks one or none (a multinomial logit); the
    largest request seen is the reference point that makes the others seem smaller."""
    p, plan = e.params(ties), e.plan.ask
    base_logit, means, weighed = _buyer_side(ties.row, ties.buyer, e.buyers.base_logit,
                                             e.buyers.budget, e.buyers.time_budget,
                                             plan.money[:, 0], plan.weighed[:, 0])
    options = [size, *(plan.choices[ties.row, k] for k in range(plan.choices.shape[1]))]
    largest = np.maximum(reference, size if len(options) == 1 else np.max(options, axis=0))
    # Each option: offered or not (choices are padded with 0), its size (1 where not offered)
    # and how much smaller it seems beside the largest request.
    weighed_options = []
    for option in options:
        size_ = np.where(option > 0, option, 1.0)
        weighed_options.append((option > 0, size_, rules.reference_contrast(
            size_, largest, contrast_weight=p.contrast_weight)))

    def utilities(push):
        return np.array([np.where(offered, rules.yes_logit(
            base_logit, push + contrast, size_, means, weighed, price_weight=p.price_weight),
            -np.inf) for offered, size_, contrast in weighed_options])

    chances = rules.choice_probabilities(utilities(drive))
    anyway = 1.0 - rules.choice_probabilities(utilities(drive - debt_push))[-1]
    if len(options) == 1:
        chosen = np.where(uniform < chances[0], size, 0.0)
    else:
        picked = (uniform[None] >= np.cumsum(chances[:-1], axis=0)).sum(axis=0)
        chosen = np.where(picked < len(options),
                          np.choose(np.minimum(picked, len(options) - 1), options), 0.0)
    return chosen, 1.0 - chances[-1], anyway


@kernel
def _buyer_side(row, buyer, base_logit, budget, time_budget, money, weighed):
    """The asked buyers' own log-odds of a yes, their means (the budget for a money ask, the
    time budget for an effort ask) and whether the ask's size is weighed against them."""
    base, means = np.empty(row.size), np.empty(row.size)
    weighed_ = np.empty(row.size, dtype=np.bool_)
    for i in range(row.size):
        base[i] = base_logit[buyer[i]]
        means[i] = budget[buyer[i]] if money[row[i]] else time_budget[buyer[i]]
        weighed_[i] = weighed[row[i]]
    return base, means, weighed_


def _framing(e: Engine, ties: Ties) -> np.ndarray:
    """Rule 1 turned around: the pull a gift promised with this ask takes away (or adds)."""
    if not e.plan.gift.promised.any():
        return np.zeros(ties.size)
    promised = e.plan.gift.promised[ties.row, 0]
    g, p = PerTie(e.plan.gift, ties.row), e.params(ties)
    value = rules.relative_value(g.value * g.quantity, e.plan.ask.stakes[ties.row, 0])
    return rules.trade_framing(promised & (g.value > 0), value, crowding_out=p.crowding_out,
                               incentive_weight=p.incentive_weight)


@kernel
def _book_answers(day, index, row, yes, complied, said_no, replied, concede, opt_out, amount_mode,
                  chosen, amount, any_amount, revenue, size, discount, unit_cost, step_days,
                  thanks, thank_trust, status, converted_day, first_gift_day, contact_day,
                  asks_made, last_ask_day, said_no_count, asked_flag, replied_flag, trust,
                  revenue_total, discounts, contact_cost, conversions, days_to_convert,
                  opted_out, asks_total, asks_yes, first_asks, first_asks_yes, conceded_asks,
                  conceded_asks_yes, amount_asks, amount_total, asked_total, replied_total):
    """The answers' bookkeeping, per seller row: the ask tallies (asks, yeses, first asks,
    retreats, amount asks and amounts), revenue and discounts, the cost of the contact, new
    customers (status, day, days from first gift or contact), opt-outs, thanks (rule 12's trust
    for a yes), and each tie's ask record (asks made, day of the last ask, explicit noes, the
    once-only "asked" and "replied" flags).

    A yes earns the revenue in proportion to the size agreed to against the ask's own size: a
    yes to the retreat (or to a smaller option) earns that much less. Sums are made per row in
    tie order and then added to the tallies, as ``np.bincount`` would."""
    rows = revenue_total.size
    earned, discounted, cost = np.zeros(rows), np.zeros(rows), np.zeros(rows)
    converted, waited, opted = np.zeros(rows), np.zeros(rows), np.zeros(rows)
    counts, amounts = np.zeros((7, rows)), np.zeros(rows)
    for i in range(index.size):
        tie, r = index[i], row[i]
        first = asks_made[tie] == 0
        counts[0, r] += 1
        counts[1, r] += complied[i]
        counts[2, r] += first
        counts[3, r] += first and complied[i]
        counts[4, r] += concede[i]
        counts[5, r] += concede[i] and complied[i]
        counts[6, r] += amount_mode[i]
        amounts[r] += amount[i] if amount_mode[i] else 0.0
        per_yes = revenue[r] * (chosen[i] / size[r] if chosen[i] > 0 else 1.0)
        earned[r] += (per_yes * (1.0 - discount[r]) if yes[i] else 0.0) + amount[i] * revenue[r]
        discounted[r] += per_yes * discount[r] if yes[i] else 0.0
        cost[r] += unit_cost[r]
        if complied[i] and status[tie] == PROSPECT:
            converted[r] += 1
            converted_day[tie], status[tie] = day, CUSTOMER
            since = first_gift_day[tie] if first_gift_day[tie] >= 0 else contact_day[tie]
            waited[r] += (day - since) * step_days[r]
        if opt_out[i]:
            status[tie] = OPTED_OUT
            opted[r] += 1
        trust[tie] += thank_trust[r] if complied[i] and thanks[r] else 0.0
        asks_made[tie] += 1
        last_ask_day[tie] = day
        said_no_count[tie] += said_no[i]
        if not asked_flag[tie]:
            asked_flag[tie] = True
            asked_total[r] += 1
        if replied[i] and not replied_flag[tie]:
            replied_flag[tie] = True
            replied_total[r] += 1
    for r in range(rows):
        asks_total[r] += counts[0, r]
        asks_yes[r] += counts[1, r]
        first_asks[r] += counts[2, r]
        first_asks_yes[r] += counts[3, r]
        conceded_asks[r] += counts[4, r]
        conceded_asks_yes[r] += counts[5, r]
        amount_asks[r] += counts[6, r]
        if any_amount:
            amount_total[r] += amounts[r]
        revenue_total[r] += earned[r]
        discounts[r] += discounted[r]
        contact_cost[r] += cost[r]
        conversions[r] += converted[r]
        days_to_convert[r] += waited[r]
        opted_out[r] += opted[r]


def compliance_drive(e: Engine, ties: Ties, disproportion: np.ndarray,
                     excess: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rules 3, 4, 8, 10: the push towards yes for the asked ``ties``
    (:func:`sim.rules.compliance_drive`), with what each buyer owes the run's other sellers;
    and the part of it that is the debt's own push (:func:`sim.rules.obligation_drive`)."""
    p = e.params(ties)
    debt_to_others, customer_elsewhere, owed, trust = _with_other_sellers(e, ties)
    indirect = rules.indirect_obligation(debt_to_others, indirect_share=p.indirect_share)
    debt_push = rules.obligation_drive(owed + indirect, debt_weight=p.debt_weight,
                                       debt_saturation=p.debt_saturation,
                                       debt_sharpness=p.debt_sharpness)
    drive = rules.compliance_drive(
        debt_push, e.plan.liking[ties.row, 0], trust, disproportion, excess,
        customer_elsewhere, liking_weight=p.liking_weight, trust_weight=p.trust_weight,
        neutral_trust=p.neutral_trust, disproportion_weight=p.disproportion_weight,
        reactance_weight=p.reactance_weight, competition_weight=p.competition_weight)
    return drive, debt_push


def _with_other_sellers(e: Engine, ties: Ties) -> tuple[np.ndarray, ...]:
    """For each tie: the buyer's positive gift debt to the run's other sellers (the debt to all
    of them, added seller by seller, less this one's), whether the buyer is another seller's
    customer, the felt debt to this seller (:func:`sim.engine.state.felt_debt`) and the trust
    in it."""
    st = e.state
    return _debts_elsewhere(ties.index, e.stack.row_run[ties.row], e.stack.first_row,
                            e.stack.sellers, e.n, st.gross.ravel(), st.gratitude.ravel(),
                            e.readings()[2].ravel(), st.concession.ravel(), st.status.ravel(),
                            st.trust.ravel())


@kernel
def _debts_elsewhere(index, run, first_row, sellers, n, gross, gratitude, motive, concession,
                     status, trust):
    """:func:`_with_other_sellers` per tie: its buyer's ties are its column in each of its run's
    seller rows."""
    debt_to_others, owed, trust_ = np.empty(index.size), np.empty(index.size), np.empty(index.size)
    customer_elsewhere = np.empty(index.size, dtype=np.bool_)
    for i in range(index.size):
        first = first_row[run[i]] * n + index[i] % n
        total, customers = 0.0, 0
        for k in range(sellers[run[i]]):
            tie = first + k * n
            debt = positive_part((gross[tie] + gratitude[tie]) * motive[tie])
            total = debt if k == 0 else total + debt
            customers += status[tie] == CUSTOMER
        tie = index[i]
        debt_to_others[i] = total - positive_part((gross[tie] + gratitude[tie]) * motive[tie])
        customer_elsewhere[i] = customers - (status[tie] == CUSTOMER) > 0
        owed[i] = felt_debt(gross[tie], gratitude[tie], motive[tie], concession[tie])
        trust_[i] = trust[tie]
    return debt_to_others, customer_elsewhere, owed, trust_


def settle(e: Engine, ties: Ties, repayment: np.ndarray) -> None:
    """Rule 2: what the buyer gave beyond their baseline (``repayment``, in units of the stakes)
    repays the felt debt; exact repayment closes the account."""
    if ties.size == 0:
        return
    st = e.state
    owed = _owed(ties.index, st.gross.ravel(), st.gratitude.ravel(), e.readings()[2].ravel(),
                 st.concession.ravel())
    remaining, closed = rules.settle_account(owed, repayment,
                                             exact_tolerance=e.params(ties).exact_tolerance)
    _repay(ties.index, ties.row, owed, remaining, closed, st.gross.ravel(),
           st.gratitude.ravel(), st.concession.ravel(), st.account_closed.ravel(),
           e.tallies.closed)


@kernel
def _owed(index, gross, gratitude, motive, concession):
    """The positive felt debt (:func:`sim.engine.state.felt_debt`, at least 0) of the ties at
    ``index``."""
    owed = np.empty(index.size)
    for i in range(index.size):
        tie = index[i]
        owed[i] = positive_part(felt_debt(gross[tie], gratitude[tie], motive[tie],
                                          concession[tie]))
    return owed


@kernel
def _repay(index, row, owed, remaining, closed, gross, gratitude, concession, account_closed,
           closed_total):
    """:func:`settle`'s bookkeeping: the gift debt keeps the share of it left unpaid, the
    concession is repaid in full, and an exact repayment closes the account (once, counted per
    row)."""
    for i in range(index.size):
        tie = index[i]
        share_left = remaining[i] / owed[i] if owed[i] > 0 else 1.0
        gross[tie] = gross[tie] * share_left
        gratitude[tie] = gratitude[tie] * share_left
        concession[tie] = 0.0
        if closed[i] and not account_closed[tie]:
            account_closed[tie] = True
            closed_total[row[i]] += 1
