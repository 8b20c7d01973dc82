"""Responses (rules 2, 3, 4, 8, 10, 11, 12): how a buyer answers an ask (yes, an explicit no,
silence, opting out, or an amount), and what a yes does: revenue, conversion, repayment of the
felt debt, thanks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import rules
from sim.engine.compiled import kernel, positive_part
from sim.engine.draws import Purpose, tie_address, uniform
from sim.engine.phases import gifts
from sim.engine.stack import Ties
from sim.engine.state import CUSTOMER, OPTED_OUT, PROSPECT, felt_debt

if TYPE_CHECKING:
    from sim.engine.core import Engine

YES, REPLY, OPT_OUT, ROUND, BOOMERANG = (int(Purpose.YES), int(Purpose.REPLY),
                                         int(Purpose.OPT_OUT), int(Purpose.ROUND),
                                         int(Purpose.BOOMERANG))
"""The behaviour draws of an answer (as plain numbers, which a kernel takes)."""


def respond(e: Engine, day: int, ties: Ties, size: np.ndarray, reference: np.ndarray,
            disproportion: np.ndarray, concede: np.ndarray, reactance: np.ndarray) -> None:
    """The asked ``ties`` answer an ask of ``size`` dollars, a larger request ``reference``
    having been seen before or beside it (0: none), out of proportion to what was given by
    ``disproportion`` (rule 3), a retreat where ``concede``, with ``reactance`` after the ask."""
    complied, said_no, ignored, opt_out = _answer(
        day, ties.index, ties.row, ties.buyer, size, reference, disproportion, concede,
        reactance, e.tie_arrays, e.buyer_arrays, e.ask_rows, e.gift_rows, e.plan.liking[:, 0],
        e.plan.thanks[:, 0], e.rules.by_row, e.reading_arrays()[2], e.tally_arrays, e.n,
        e.stack.row_run, e.stack.first_row, e.stack.sellers, e.stack.row_address, e.row_keys)
    if e.plan.gift.promised.any():
        gifts.hand_over_promised(e, day, ties.where(
            complied & e.plan.gift.promised[ties.row, 0] & (e.plan.gift.value[ties.row, 0] > 0)))
    if e.record_events:
        for kind, mask in (("ask", None), ("yes", complied), ("no", said_no),
                           ("ignored", ignored), ("opt_out", opt_out)):
            e.record(kind, ties, mask)


@kernel
def _answer(day, index, row, buyer, size, reference, disproportion, concede, reactance, ties,
            buyers, ask, gift, liking, thanks, params, motive, tallies, width, row_run, first_row,
            sellers, row_address, row_key):
    """:func:`respond`. Every answer is decided first (each reads the buyer's ties to the other
    sellers as they stood before anyone answered), then the answers are booked and the debts
    they repay settled. Returns, per tie, whether the buyer complied, said "no" out loud,
    ignored the ask, or opted out."""
    count, options = index.size, 1 + ask.choices.shape[1]
    drive, debt_push = np.empty(count), np.empty(count)
    avoiding = np.empty(count, dtype=np.bool_)
    u_yes, u_reply, u_opt_out, u_round = (np.empty(count), np.empty(count), np.empty(count),
                                          np.empty(count))
    utilities = np.empty((options, count))  # each option's log-odds against saying no
    for i in range(count):
        tie, r, b = index[i], row[i], buyer[i]
        p = params[r]
        address = tie_address(tie, r, width, row_address)
        u_yes[i], u_reply[i] = uniform(day, YES, address, row_key[r]), uniform(day, REPLY, address,
                                                                              row_key[r])
        u_opt_out[i] = uniform(day, OPT_OUT, address, row_key[r])
        u_round[i] = uniform(day, ROUND, address, row_key[r])
        excess = rules.reactance_excess(reactance[i], threshold=p.reactance_threshold)
        avoiding[i] = reactance[i] > p.avoid_threshold
        push, debt = drive_of(tie, r, disproportion[i], excess, ties, motive, liking, p, width,
                              row_run, first_row, sellers)
        # Rule 1 turned around: the pull a gift promised with this ask takes away (or adds).
        push = push + rules.trade_framing(
            gift.promised[r] and gift.value[r] > 0,
            rules.relative_value(gift.value[r] * gift.quantity[r], ask.stakes[r]),
            crowding_out=p.crowding_out, incentive_weight=p.incentive_weight)
        # Rule 8: past the threshold some do the opposite, going below their own baseline.
        if excess > 0 and uniform(day, BOOMERANG, address, row_key[r]) < \
                rules.boomerang_probability(excess, boomerang_rate=p.boomerang_rate):
            push, debt = -p.boomerang_strength, 0.0
        drive[i], debt_push[i] = push, debt
        _option_utilities(utilities, i, push, size[i], reference[i], r, b, ask, buyers, p)
    chances = rules.choice_probabilities(utilities)

    chosen, amount = np.zeros(count), np.zeros(count)
    yes, said_no = np.empty(count, dtype=np.bool_), np.empty(count, dtype=np.bool_)
    ignored, opt_out = np.empty(count, dtype=np.bool_), np.empty(count, dtype=np.bool_)
    complied, replied = np.empty(count, dtype=np.bool_), np.empty(count, dtype=np.bool_)
    any_amount = False
    for i in range(count):
        r, b = row[i], buyer[i]
        p = params[r]
        # the size said yes to (0: none): one of the options in proportion to its chance
        if options == 1:
            chosen[i] = size[i] if u_yes[i] < chances[0, i] else 0.0
        else:
            picked, cumulative = 0, 0.0
            for k in range(options):
                cumulative = chances[0, i] if k == 0 else cumulative + chances[k, i]
                picked += u_yes[i] >= cumulative
            if picked < options:
                chosen[i] = size[i] if picked == 0 else ask.choices[r, picked - 1]
        yes_no = not ask.amount_mode[r]
        answers = yes_no and not avoiding[i]
        yes[i] = answers and chosen[i] > 0
        said_no[i] = answers and not yes[i] and u_reply[i] < p.decline_reply_share
        ignored[i] = yes_no and not yes[i] and not said_no[i]
        opt_out[i] = (ignored[i] and avoiding[i] and ask.opt_out[r]
                      and u_opt_out[i] < p.opt_out_rate)
        # Amount asks: the buyer chooses how much (rule 4's drive scales the amount).
        if ask.amount_mode[r]:
            any_amount = True
            if not avoiding[i]:
                amount[i] = rules.amount_given(buyers.base_amount[b], drive[i])
            if ask.integer[r]:
                amount[i] = rules.whole_units(amount[i], u_round[i])
        gave = ask.amount_mode[r] and amount[i] > 0
        complied[i], replied[i] = yes[i] or gave, yes[i] or said_no[i] or gave

    _book_answers(day, index, row, yes, complied, said_no, replied, concede, opt_out, chosen,
                  amount, any_amount, ask, thanks, params, ties, tallies)
    # Rule 2: what the buyer gave beyond what they would have given anyway (the chance of a yes
    # without the debt's push) repays the debt; worked out only for those who complied.
    who = np.flatnonzero(complied)
    anyway = np.empty((options, who.size))
    for k, i in enumerate(who):
        _option_utilities(anyway, k, drive[i] - debt_push[i], size[i], reference[i], row[i],
                          buyer[i], ask, buyers, params[row[i]])
    anyway = rules.choice_probabilities(anyway)
    for k, i in enumerate(who):
        r = row[i]
        repaid = rules.repayment_by_yes(chosen[i] if chosen[i] > 0 else size[i], ask.stakes[r],
                                        1.0 - anyway[options, k], 1.0 - chances[options, i])
        if ask.amount_mode[r]:
            repaid = rules.repayment_by_amount(amount[i], buyers.base_amount[buyer[i]],
                                               ask.revenue[r], ask.stakes[r])
        settle(index[i], r, repaid, ties, motive, tallies, params[r].exact_tolerance)
    return complied, said_no, ignored, opt_out


@kernel
def _option_utilities(utilities, i, push, size, reference, r, b, ask, buyers, p):
    """Rules 4, 11 and 12 on a yes/no ask of ``size`` with the row's other sizes offered at once
    (padded with 0: not offered): each option's log-odds of a yes against saying no, given the
    push towards yes, into column ``i`` of ``utilities`` (-inf where not offered). The largest
    request seen (``reference``: one described or refused before) is the reference point that
    makes the others seem smaller."""
    largest = size
    for k in range(utilities.shape[0] - 1):
        largest = np.maximum(largest, ask.choices[r, k])
    largest = np.maximum(reference, largest)
    means = buyers.budget[b] if ask.money[r] else buyers.time_budget[b]
    for k in range(utilities.shape[0]):
        option = size if k == 0 else ask.choices[r, k - 1]
        offered = option > 0
        option = option if offered else 1.0
        contrast = rules.reference_contrast(option, largest, contrast_weight=p.contrast_weight)
        utilities[k, i] = rules.yes_logit(buyers.base_logit[b], push + contrast, option, means,
                                          ask.weighed[r], price_weight=p.price_weight) \
            if offered else -np.inf


@kernel
def _book_answers(day, index, row, yes, complied, said_no, replied, concede, opt_out, chosen,
                  amount, any_amount, ask, thanks, params, ties, tallies):
    """The answers' bookkeeping, per seller row: the ask tallies (asks, yeses, first asks,
    retreats, amount asks and amounts), revenue and discounts, the cost of the contact, new
    customers (status, day, days from first gift or contact), opt-outs, thanks (rule 12's trust
    for a yes), and each tie's ask record (asks made, day of the last ask, explicit noes, the
    once-only "asked" and "replied" flags).

    A yes earns the revenue in proportion to the size agreed to against the ask's own size: a
    yes to the retreat (or to a smaller option) earns that much less. Sums are made per row in
    tie order and then added to the tallies, as ``np.bincount`` would."""
    rows = tallies.revenue.size
    earned, discounted, cost = np.zeros(rows), np.zeros(rows), np.zeros(rows)
    converted, waited, opted = np.zeros(rows), np.zeros(rows), np.zeros(rows)
    counts, amounts = np.zeros((7, rows)), np.zeros(rows)
    for i in range(index.size):
        tie, r = index[i], row[i]
        amount_mode = ask.amount_mode[r]
        first = ties.asks_made[tie] == 0
        counts[0, r] += 1
        counts[1, r] += complied[i]
        counts[2, r] += first
        counts[3, r] += first and complied[i]
        counts[4, r] += concede[i]
        counts[5, r] += concede[i] and complied[i]
        counts[6, r] += amount_mode
        amounts[r] += amount[i] if amount_mode else 0.0
        per_yes = ask.revenue[r] * (chosen[i] / ask.size[r] if chosen[i] > 0 else 1.0)
        earned[r] += ((per_yes * (1.0 - ask.discount[r]) if yes[i] else 0.0)
                      + amount[i] * ask.revenue[r])
        discounted[r] += per_yes * ask.discount[r] if yes[i] else 0.0
        cost[r] += ask.unit_cost[r]
        if complied[i] and ties.status[tie] == PROSPECT:
            converted[r] += 1
            ties.converted_day[tie], ties.status[tie] = day, CUSTOMER
            since = (ties.first_gift_day[tie] if ties.first_gift_day[tie] >= 0
                     else ties.contact_day[tie])
            waited[r] += (day - since) * params[r].step_days
        if opt_out[i]:
            ties.status[tie] = OPTED_OUT
            opted[r] += 1
        ties.trust[tie] += params[r].thank_trust if complied[i] and thanks[r] else 0.0
        ties.asks_made[tie] += 1
        ties.last_ask_day[tie] = day
        ties.said_no[tie] += said_no[i]
        if not ties.asked[tie]:
            ties.asked[tie] = True
            tallies.asked[r] += 1
        if replied[i] and not ties.replied[tie]:
            ties.replied[tie] = True
            tallies.replied[r] += 1
    for r in range(rows):
        tallies.asks_made[r] += counts[0, r]
        tallies.asks_answered_yes[r] += counts[1, r]
        tallies.first_asks[r] += counts[2, r]
        tallies.first_asks_yes[r] += counts[3, r]
        tallies.conceded_asks[r] += counts[4, r]
        tallies.conceded_asks_yes[r] += counts[5, r]
        tallies.amount_asks[r] += counts[6, r]
        if any_amount:
            tallies.amount_total[r] += amounts[r]
        tallies.revenue[r] += earned[r]
        tallies.discounts[r] += discounted[r]
        tallies.contact_cost[r] += cost[r]
        tallies.conversions[r] += converted[r]
        tallies.days_to_convert[r] += waited[r]
        tallies.opted_out[r] += opted[r]


@kernel
def drive_of(tie, row, disproportion, excess_reactance, ties, motive, liking, p, width, row_run,
             first_row, sellers):
    """Rules 3, 4, 8, 10: the push towards yes on one asked tie
    (:func:`sim.rules.compliance_drive`) and the part of it that is the debt's own push
    (:func:`sim.rules.obligation_drive` of what is owed to this seller plus the share of the
    buyer's positive gift debts to the run's other sellers that spills over). The buyer's ties
    are its column in each of its run's seller rows; ``p`` is the row's parameters."""
    run = row_run[row]
    first = first_row[run] * width + tie - row * width
    total, customers = 0.0, 0
    for k in range(sellers[run]):
        other = first + k * width
        debt = positive_part((ties.gross[other] + ties.gratitude[other]) * motive[other])
        total = debt if k == 0 else total + debt
        customers += ties.status[other] == CUSTOMER
    debt_to_others = total - positive_part((ties.gross[tie] + ties.gratitude[tie]) * motive[tie])
    customer_elsewhere = customers - (ties.status[tie] == CUSTOMER) > 0
    owed = felt_debt(ties.gross[tie], ties.gratitude[tie], motive[tie], ties.concession[tie])
    indirect = rules.indirect_obligation(debt_to_others, indirect_share=p.indirect_share)
    debt_push = rules.obligation_drive(owed + indirect, debt_weight=p.debt_weight,
                                       debt_saturation=p.debt_saturation,
                                       debt_sharpness=p.debt_sharpness)
    drive = rules.compliance_drive(
        debt_push, liking[row], ties.trust[tie], disproportion, excess_reactance,
        customer_elsewhere, liking_weight=p.liking_weight, trust_weight=p.trust_weight,
        neutral_trust=p.neutral_trust, disproportion_weight=p.disproportion_weight,
        reactance_weight=p.reactance_weight, competition_weight=p.competition_weight)
    return drive, debt_push


def compliance_drive(e: Engine, ties: Ties, disproportion: np.ndarray,
                     excess: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`drive_of` for ``ties`` as the state stands (to inspect the model: the engine
    works it out inside :func:`respond`)."""
    return _drives(ties.index, ties.row, disproportion, excess, e.tie_arrays,
                   e.reading_arrays()[2], e.plan.liking[:, 0], e.rules.by_row, e.n,
                   e.stack.row_run, e.stack.first_row, e.stack.sellers)


@kernel
def _drives(index, row, disproportion, excess, ties, motive, liking, params, width, row_run,
            first_row, sellers):
    drive, debt_push = np.empty(index.size), np.empty(index.size)
    for i in range(index.size):
        drive[i], debt_push[i] = drive_of(index[i], row[i], disproportion[i], excess[i], ties,
                                          motive, liking, params[row[i]], width, row_run,
                                          first_row, sellers)
    return drive, debt_push


@kernel
def settle(tie, row, repayment, ties, motive, tallies, exact_tolerance):
    """Rule 2 on one tie: what the buyer gave beyond their baseline (``repayment``, in units of
    the stakes) repays the felt debt (:func:`sim.rules.settle_account`): the gift debt keeps the
    share of it left unpaid, the concession is repaid in full, and an exact repayment closes the
    account (once, counted per row)."""
    owed = positive_part(felt_debt(ties.gross[tie], ties.gratitude[tie], motive[tie],
                                   ties.concession[tie]))
    remaining, closed = rules.settle_account(owed, repayment, exact_tolerance=exact_tolerance)
    share_left = remaining / owed if owed > 0 else 1.0
    ties.gross[tie] = ties.gross[tie] * share_left
    ties.gratitude[tie] = ties.gratitude[tie] * share_left
    ties.concession[tie] = 0.0
    if closed and not ties.account_closed[tie]:
        ties.account_closed[tie] = True
        tallies.closed[row] += 1
