"""The rules of reciprocity, one small named function each.

Every function is pure and vectorised: arguments may be plain values or numpy arrays of matching
shape (the engine calls them on the ties a phase acts on, and its compiled kernels on one tie at
a time), and parameters are named arguments so that each rule can be read, pinned and tested on
its own. The numbered rules follow ``RECIPROCITY.md``; the engine (``sim.engine``) decides when
each rule fires.

Every rule is compiled (:data:`rule`), so a rule is one call however many numpy expressions it
has. Write a rule in the numpy functions numba compiles; choose between values with
:func:`_where`, test a condition on every element with :func:`_all` and raise to a power with
:func:`_power`, so that the rule gives the same values on plain values as on arrays.

Units: gift values and ask sizes are in today's US dollars (any currency: only ratios enter the
rules); *obligation* is felt debt in units of the stakes of the exchange (the value of a benefit
after rules 1 and 5, divided by the size of the exchange it belongs to); *drive* is a shift on the
log-odds of complying (yes/no asks) or on the log of the amount given (tips, tickets, donations).
"""

from __future__ import annotations

import numba
import numpy as np
from numba.core import types
from numba.extending import overload

# Readings of a gift's motive (rule 7), stored as small ints in the tie state.
SINCERE, TACTIC, MANIPULATION = 0, 1, 2

rule = numba.njit(cache=True, error_model="numpy", nogil=True)
"""Compile a rule with numba. On arrays, a rule's numpy expressions are fused into one loop,
without the temporary arrays numpy would make; the engine's kernels call it on plain values.
Its ``exp``, ``log`` and ``pow`` are the C library's, which are numpy's too on a CPU without
AVX-512 (there numba and numpy agree bit for bit); with AVX-512, numpy has faster versions of its
own that can differ in the last bit, which the rules do not use. Compiled once per version of
the source on a machine and cached (:mod:`sim.numba_setup`); ``error_model="numpy"``: a
division by zero gives inf or nan, as in numpy."""


def _where(condition, yes, no):
    """``np.where``, but a plain value (not a 0-d array) when all three are plain values, as
    the engine's kernels pass them."""
    return np.where(condition, yes, no)


@overload(_where)
def _where_compiled(condition, yes, no):
    if any(isinstance(arg, types.Array) for arg in (condition, yes, no)):
        return lambda condition, yes, no: np.where(condition, yes, no)
    return lambda condition, yes, no: yes if condition else no


def _all(condition):
    """Whether ``condition`` holds everywhere (a plain value or an array)."""
    return bool(np.all(condition))


@overload(_all)
def _all_compiled(condition):
    if isinstance(condition, types.Array):
        return lambda condition: condition.all()
    return lambda condition: bool(condition)


@numba.vectorize(cache=True)
def _power(base, exponent):
    """``base ** exponent`` element by element, with a square, a square root and a reciprocal
    computed as such, whatever the shapes, so that a run's results do not depend on whether its
    parameters are plain values or columns of a stack. (numpy computes an array, but not a plain
    value, to the power 2, 0.5 or -1 this way; the C library's ``pow`` can differ in the last
    bit. The numpy engine's results are kept wherever the base was an array, and for every
    other exponent.)"""
    if exponent == 2.0:
        return base * base
    if exponent == 0.5:
        return np.sqrt(base)
    if exponent == -1.0:
        return 1.0 / base
    return base ** exponent


@rule
def _unit(x):
    """``x`` clipped to [0, 1], NaN kept."""
    return np.minimum(np.maximum(x, 0.0), 1.0)


@rule
def _ratio(numerator, denominator, where, otherwise):
    """``numerator / denominator`` where ``where`` holds, ``otherwise`` elsewhere (no division
    by zero is attempted)."""
    return _where(where, numerator / _where(where, denominator, 1.0), otherwise)


# --- Rule 1 -----------------------------------------------------------------------------------


@rule
def benefit_value(perceived_value, need, cost_to_means, imputed_motive, freedom,
                  need_weight: float, cost_weight: float):
    """Rule 1, value of a benefit: the debt a gift creates.

    Gouldner (1960): the value of a benefit, and so the debt, varies with the recipient's need at
    the time, with what the gift cost the giver relative to the giver's means, with the motive
    imputed to the giver ("without thought of gain") and with the freedom of the giving (not
    coerced, no strings). Conditional or gated gifts (``freedom`` < 1) create little debt; a gift
    read as a tactic (``imputed_motive`` 0) none; one read as manipulation (negative motive)
    creates resentment, a negative debt.

    ``need`` is in [0, 1] (0.5 is typical), ``cost_to_means`` in [0, 1].

    >>> float(benefit_value(2.0, 0.5, 0.0, 1.0, 1.0, need_weight=1.0, cost_weight=0.5))
    2.0
    >>> float(benefit_value(2.0, 1.0, 1.0, 1.0, 0.5, need_weight=1.0, cost_weight=0.5))
    2.25
    >>> float(benefit_value(2.0, 0.5, 0.0, 0.0, 1.0, need_weight=1.0, cost_weight=0.5))
    0.0
    """
    need_factor = 1.0 + need_weight * (need - 0.5)
    cost_factor = 1.0 + cost_weight * cost_to_means
    return perceived_value * need_factor * cost_factor * imputed_motive * freedom


@rule
def relative_value(value, stakes):
    """Rule 1: a benefit is weighed against the size of the exchange it belongs to, not in
    absolute dollars: a $5 gift is a lot beside a $10 tip and little beside a $10,000 contract.
    The result has no unit, so the debt does not depend on the currency.

    >>> relative_value(np.array([5.0, 5.0]), np.array([10.0, 10_000.0])).tolist()
    [0.5, 0.0005]
    """
    return value / stakes


CHANNELS = ("in_person", "addressed", "mass")
"""How a gift is given, in the order of ``channel_weight``'s codes."""


@rule
def channel_weight(channel, addressed_weight: float, mass_weight: float):
    """Rule 1, how personally it was given: a gift handed over in person (code 0) weighs fully,
    a personally addressed one (1) ``addressed_weight``, a mass-mailed one (2) ``mass_weight``
    (Gouldner 1960: the value of a benefit depends on the giver's effort and motive; Falk 2007:
    gifts enclosed in a charity mailing).

    >>> channel_weight(np.array([0, 1, 2]), addressed_weight=0.7, mass_weight=0.4).tolist()
    [1.0, 0.7, 0.4]
    """
    return _where(channel == 0, 1.0, _where(channel == 1, addressed_weight, mass_weight))


@rule
def form_weight(cash, cash_weight: float):
    """Rule 1: money given reads as payment more than as a gift, so it weighs ``cash_weight`` of
    a gift in kind of the same value (Heyman & Ariely 2004; Kube, Maréchal & Puppe 2012).

    >>> form_weight(np.array([False, True]), cash_weight=0.3).tolist()
    [1.0, 0.3]
    """
    return _where(cash, cash_weight, 1.0)


@rule
def freedom_of_giving(conditional, gated, strings_freedom: float, gate_freedom: float):
    """Rule 1, the freedom of the giving: 1 for a free gift, less with strings or a gate.

    Gouldner (1960): benefits given under constraint or with strings attached are valued less.

    >>> float(freedom_of_giving(False, False, strings_freedom=0.3, gate_freedom=0.6))
    1.0
    >>> round(float(freedom_of_giving(True, True, strings_freedom=0.3, gate_freedom=0.6)), 2)
    0.18
    """
    return _where(conditional, strings_freedom, 1.0) * _where(gated, gate_freedom, 1.0)


@rule
def trade_framing(promised, value_relative, crowding_out: float, incentive_weight: float):
    """Rule 1 turned around: a gift promised with the ask and handed over only on compliance (a
    premium, a thank-you gift) is not given freely, so it creates no debt; it frames the
    exchange as a trade, which takes ``crowding_out`` from the pull towards yes, while the
    reward itself adds ``incentive_weight`` per unit of its value relative to the stakes
    (Newman & Shen 2012: a promised thank-you gift lowered giving; Deci, Koestner & Ryan 1999;
    Fehr & Gächter 2000 on incentives crowding out voluntary cooperation).

    >>> trade_framing(np.array([False, True]), 0.2, crowding_out=0.3,
    ...               incentive_weight=0.5).round(3).tolist()
    [0.0, -0.2]
    """
    return _where(promised, incentive_weight * value_relative - crowding_out, 0.0)


# --- Rule 2 -----------------------------------------------------------------------------------


@rule
def settle_account(obligation, repayment, exact_tolerance: float):
    """Rule 2, outstanding debts: a repayment lowers the debt; exact repayment closes the account.

    Gouldner (1960): exact repayment ends the exchange; rough, inexact repayment keeps the
    relationship open, as does an outstanding debt. Returns ``(remaining, closed)`` where
    ``closed`` is true when the repayment matched the debt within ``exact_tolerance`` (a share of
    the debt). Over-repayment leaves no debt and the account open.

    >>> rem, closed = settle_account(np.array([10.0, 10.0, 10.0]), np.array([10.5, 4.0, 30.0]),
    ...                              exact_tolerance=0.1)
    >>> rem.tolist(), closed.tolist()
    ([0.0, 6.0, 0.0], [True, False, False])
    """
    closed = (obligation > 0) & (np.abs(repayment - obligation) <= exact_tolerance * obligation)
    remaining = _where(closed, 0.0, np.maximum(obligation - repayment, 0.0))
    return remaining, closed


@rule
def repayment_by_amount(amount, baseline, unit_value, stakes):
    """Rule 2: what an amount given repays is what the buyer gives beyond what they would have
    given anyway (their own baseline), in units of the stakes.

    >>> repayment_by_amount(np.array([30.0, 15.0]), 20.0, 1.0, 40.0).tolist()
    [0.25, 0.0]
    """
    return np.maximum(amount - baseline, 0.0) * unit_value / stakes


@rule
def repayment_by_yes(size, stakes, p_anyway, p_yes):
    """Rule 2: what a yes repays is the part of it the debt brought about: the ask's size (in
    units of the stakes) times the share of the chance of yes that is owed to the debt,
    ``1 - p_anyway / p_yes`` (a yes the buyer would have given anyway repays nothing).

    >>> repayment_by_yes(80.0, 80.0, np.array([0.2, 0.2]), np.array([0.2, 0.5])).round(2).tolist()
    [0.0, 0.6]
    """
    share = np.maximum(1.0 - _ratio(p_anyway, p_yes, where=p_yes > 0, otherwise=1.0),
                       0.0)
    return size / stakes * share


@rule
def hostility_restrained(positive_obligation, restraint: float):
    """Rule 2, the starting mechanism: while a debt is outstanding, hostility towards the giver
    is held back. Returns the factor (in [1 - restraint, 1]) applied to complaint odds.

    Gouldner (1960): "obligations of repayment ... [are] a kind of moral cement", during the
    period before repayment the debtor is restrained from hostility towards the benefactor.

    >>> hostility_restrained(np.array([0.0, 3.0]), restraint=0.6).tolist()
    [1.0, 0.4]
    """
    return _where(positive_obligation > 0, 1.0 - restraint, 1.0)


# --- Rule 3 -----------------------------------------------------------------------------------


@rule
def ask_disproportion(ask_size, value_given, equivalence_tolerance: float):
    """Rule 3, rough equivalence: how far an ask exceeds what was given, as pressure in [0, 1).

    Gouldner (1960): a debt is repaid by a response of roughly equivalent value. An ask up to
    ``equivalence_tolerance`` times the value given reads as a chance to repay (0); beyond it, the
    share of the ask not covered by that rough equivalent is felt as pressure. With nothing given
    there is nothing to weigh the ask against, so the rule does not apply (0).

    >>> ask_disproportion(np.array([10.0, 100.0, 100.0]), np.array([5.0, 5.0, 0.0]),
    ...                   equivalence_tolerance=4.0).round(3).tolist()
    [0.0, 0.8, 0.0]
    """
    covered = equivalence_tolerance * value_given
    exceeds = (value_given > 0) & (ask_size > covered)
    return 1.0 - _ratio(covered, ask_size, where=exceeds, otherwise=1.0)


# --- Rule 4 -----------------------------------------------------------------------------------


@rule
def obligation_drive(obligation, debt_weight: float, debt_saturation: float,
                     debt_sharpness: float):
    """Rule 4, favour beats liking: the debt's own push towards compliance.

    Regan (1971): a favour raised compliance on its own channel, as much towards a disliked
    giver as towards a liked one. The push grows in proportion to a small debt and saturates at
    ``debt_weight`` (a large debt cannot buy an unlimited yes); ``debt_saturation`` is where the
    bend is and ``debt_sharpness`` how sharp it is (1: the gentle ``x / (x + s)``; larger: nearly
    proportional up to the bend, then flat). A sharp bend lets a few small gifts add up almost
    in proportion (Falk 2007: four postcards did about four times what one did) while a favour
    worth a large part of the exchange still buys a bounded yes (Regan 1971). Symmetric:
    resentment (negative obligation) pushes towards refusal.

    >>> obligation_drive(np.array([0.0, 1.0, -1.0]), debt_weight=2.0, debt_saturation=1.0,
    ...                  debt_sharpness=1.0).tolist()
    [0.0, 1.0, -1.0]
    >>> [round(float(obligation_drive(x, debt_weight=1.0, debt_saturation=1.0, debt_sharpness=4.0)),
    ...        3) for x in (0.1, 0.4, 1.0, 4.0)]
    [0.1, 0.397, 0.841, 0.999]
    """
    if _all(debt_sharpness == 1.0):  # the common closed form, without powers
        return debt_weight * obligation / (np.abs(obligation) + debt_saturation)
    scale = _power(_power(debt_saturation, debt_sharpness)
                   + _power(np.abs(obligation), debt_sharpness), 1.0 / debt_sharpness)
    return debt_weight * obligation / scale


@rule
def compliance_drive(debt_push, liking, trust, disproportion, excess_reactance,
                     customer_elsewhere, liking_weight: float, trust_weight: float,
                     neutral_trust: float, disproportion_weight: float, reactance_weight: float,
                     competition_weight: float):
    """Rules 3, 4, 8, 10: the push towards yes on one ask, on the log-odds scale (or the log of
    the amount given, for tips, tickets and donations).

    Regan (1971): the debt pushes on its own channel (``debt_push``: :func:`obligation_drive` of
    what is owed to this seller plus the share of debts to others that spills over, rule 10;
    taken as computed because the engine needs it apart too, as what the buyer would not have
    done without the debt) and liking adds a weaker push of its own. Trust above
    ``neutral_trust`` helps (rules 10, 12); an ask out of proportion to what was given (rule 3),
    reactance past the threshold (rule 8) and a need already met by another seller
    (``customer_elsewhere``) push the other way.

    >>> kw = dict(liking_weight=0.1, trust_weight=1.0, neutral_trust=0.5,
    ...           disproportion_weight=0.3, reactance_weight=1.5, competition_weight=1.0)
    >>> push = obligation_drive(1.0, debt_weight=2.0, debt_saturation=1.0, debt_sharpness=1.0)
    >>> float(compliance_drive(push, 0.0, 0.5, 0.0, 0.0, False, **kw))
    1.0
    >>> round(float(compliance_drive(0.0, 1.0, 1.0, 1.0, 1.0, True, **kw)), 2)
    -2.2
    """
    return (debt_push
            + liking_drive(liking, liking_weight=liking_weight)
            + trust_weight * (trust - neutral_trust)
            - disproportion_weight * disproportion
            - reactance_weight * excess_reactance
            - competition_weight * customer_elsewhere)


@rule
def log_odds(chance):
    """Rule 4's scale: a chance as log-odds, ``log(p / (1 - p))``. A buyer's own chance of a yes
    (``buyers.base_compliance``) becomes the baseline :func:`yes_logit` starts from.

    >>> float(log_odds(0.5)), round(float(log_odds(0.75)), 4)
    (0.0, 1.0986)
    """
    return np.log(chance / (1.0 - chance))


@rule
def chance_from_log_odds(log_odds_):
    """Rule 4's scale read back: log-odds as a chance, ``1 / (1 + exp(-x))`` (a buyer's
    baseline log-odds shown as their own chance of a yes). The inverse of :func:`log_odds`.

    >>> float(chance_from_log_odds(0.0)), round(float(chance_from_log_odds(log_odds(0.3))), 12)
    (0.5, 0.3)
    """
    return 1.0 / (1.0 + np.exp(-log_odds_))


@rule
def yes_logit(base_logit, drive, ask_size, means, weighed, price_weight: float):
    """Rule 4 on a yes/no ask: the log-odds of a yes, from the buyer's own baseline, the drive,
    and the size of the ask against the buyer's means (the budget for a money ask, the time
    budget for an effort ask): each e-fold above them costs ``price_weight`` log-odds. An open
    ask (``weighed`` false: the buyer decides how much) is not weighed.

    >>> float(yes_logit(0.0, 0.5, 50.0, 100.0, True, price_weight=1.0))
    0.5
    >>> float(yes_logit(0.0, 0.0, 100.0 * np.e, 100.0, True, price_weight=1.0)).__round__(6)
    -1.0
    >>> float(yes_logit(0.0, 0.0, 100.0 * np.e, 100.0, False, price_weight=1.0))
    0.0
    """
    price = _where(weighed, np.maximum(np.log(ask_size / means), 0.0), 0.0)
    return base_logit + drive - price_weight * price


@rule
def amount_given(base_amount, drive):
    """Rule 4 on an amount ask (a tip, tickets, a donation): what the buyer would give anyway,
    scaled by the drive on the log scale (Regan 1971: tickets bought; Strohmetz et al. 2002: tip).

    >>> amount_given(np.array([2.0, 2.0]), np.array([0.0, np.log(1.5)])).tolist()
    [2.0, 3.0]
    """
    return base_amount * np.exp(drive)


@rule
def whole_units(amount, uniform):
    """Amounts that come in whole units (raffle tickets): rounded down or up at random, up with
    probability equal to the fraction, so the mean is kept. ``uniform`` is a draw in [0, 1).

    >>> whole_units(np.array([1.25, 1.25]), np.array([0.7, 0.8])).tolist()
    [1.0, 2.0]
    """
    return np.floor(amount + uniform)


@rule
def liking_drive(liking, liking_weight: float):
    """Rule 4, the weaker, separate effect of liking the requester (liking in [-1, 1]).

    Regan (1971): liking raised compliance only modestly and did not moderate the favour effect.

    >>> liking_drive(np.array([-1.0, 0.0, 1.0]), liking_weight=0.1).tolist()
    [-0.1, 0.0, 0.1]
    """
    return liking_weight * liking


# --- Rule 5 -----------------------------------------------------------------------------------


@rule
def perceived_gift_value(unit_value, quantity, expected_quantity, surprise, personalised,
                         value_exponent: float, expected_weight: float, surprise_bonus: float,
                         personal_bonus: float):
    """Rule 5, surprise and personal touch: what one gift event is worth to the buyer.

    Strohmetz, Rind, Fisher & Lynn (2002): a gift counts against what the buyer expected. The
    part of the quantity the buyer expected anyway (``expected_quantity`` still outstanding)
    weighs only ``expected_weight``; the surplus, and any gift that is a surprise rather than the
    expected one, counts in full. Quantity has diminishing returns: ``q`` units at once are
    worth ``q ** value_exponent`` units (``value_exponent`` <= 1), so two candies at once are worth
    less than two separate gifts. The curvature is in the count only, so a unit's worth stays in
    proportion to its value (Falk 2007: four postcards did about four times what one did). An
    unexpected (``surprise``) or personalised act adds a bonus on top.

    >>> kw = dict(value_exponent=0.5, expected_weight=0.25, surprise_bonus=0.2, personal_bonus=0.1)
    >>> float(perceived_gift_value(1.0, 1, 0, 0, 0, **kw))          # one, unexpected quantity
    1.0
    >>> float(perceived_gift_value(1.0, 1, 1, 0, 0, **kw))          # the standard one
    0.25
    >>> round(float(perceived_gift_value(1.0, 2, 1, 0, 0, **kw)), 4)  # two at once
    0.6642
    >>> round(float(perceived_gift_value(1.0, 1, 0, 1, 1, **kw)), 2)  # a personal surprise
    1.32
    >>> round(float(perceived_gift_value(1.0, 1, 1, 1, 1, **kw)), 2)  # ... where a pen was due
    1.32
    """
    # A surprise is not the gift the buyer was expecting, so it is not counted against it.
    expected_part = (np.minimum(quantity, np.maximum(expected_quantity, 0.0))
                     * (1.0 - surprise))
    total = unit_value * _power(quantity, value_exponent)
    within = unit_value * _power(expected_part, value_exponent)
    base = expected_weight * within + (total - within)
    bonus = (1.0 + surprise_bonus * surprise) * (1.0 + personal_bonus * personalised)
    return base * bonus


@rule
def unexpected_second_value(unit_value, expected_quantity, value_exponent: float,
                            expected_weight: float, surprise_bonus: float, personal_bonus: float):
    """Rule 5: one more unit given right after, unexpectedly and visibly meant for this buyer
    (Strohmetz et al. 2002: the waiter turns back with a second candy "for you nice people"): a
    personal surprise. Being a surprise, it is never the gift the buyer was expecting, so it
    counts in full whatever the expected quantity (``expected_quantity`` is passed on for
    :func:`perceived_gift_value`'s bookkeeping and has no effect here).

    >>> kw = dict(value_exponent=0.5, expected_weight=0.25, surprise_bonus=0.2, personal_bonus=0.1)
    >>> round(float(unexpected_second_value(1.0, 1.0, **kw)), 2)
    1.32
    """
    return perceived_gift_value(unit_value, 1, np.maximum(expected_quantity - 1, 0.0), 1.0,
                                1.0, value_exponent=value_exponent,
                                expected_weight=expected_weight, surprise_bonus=surprise_bonus,
                                personal_bonus=personal_bonus)


# --- Rule 6 -----------------------------------------------------------------------------------


@rule
def decay_factor(days, half_life: float):
    """Rule 6, decay: the share of a felt obligation left after ``days`` (exponential); a step
    of any length decays by its own length in days.

    Reciprocity is strongest soon after the gift and fades with time (Burger et al. 1997 found
    the favour effect gone after a week; here the half-life is a parameter).

    >>> decay_factor(np.array([0.0, 7.0, 14.0]), half_life=7.0).tolist()
    [1.0, 0.5, 0.25]
    """
    return _power(0.5, days / half_life)


@rule
def gratitude_and_obligation(felt_value, gratitude_share: float):
    """Rules 5 and 6: a gift's felt value is partly momentary gratitude, which fades within
    hours, and partly felt obligation, which fades over days (Gneezy & List 2006: gift-wage
    effects gone within hours of work; Burger et al. 1997: a favour's effect on compliance gone
    after about a week). Returns ``(obligation, gratitude)``.

    >>> gratitude_and_obligation(np.array([1.0]), gratitude_share=0.25)
    (array([0.75]), array([0.25]))
    """
    return felt_value * (1.0 - gratitude_share), felt_value * gratitude_share


@rule
def per_step_probability(daily, step_days):
    """Rule 6's clock for events with a daily rate (churn, referrals, discovery): the chance of
    at least one in a step of ``step_days`` days, ``1 - (1 - daily)^step_days``; a one-day step
    keeps the daily value as it is.

    >>> hourly = per_step_probability(0.1, 1 / 24)
    >>> round(float(1 - (1 - hourly) ** 24), 6)     # 24 hourly chances make the daily one
    0.1
    >>> float(per_step_probability(0.1, 1.0)), round(float(per_step_probability(0.1, 7.0)), 3)
    (0.1, 0.522)
    """
    if _all(step_days == 1.0):  # the common case, without powers
        return daily * 1.0
    return _where(step_days == 1.0, daily, 1.0 - _power(1.0 - daily, step_days))


# --- Rule 7 -----------------------------------------------------------------------------------


@rule
def ask_timing_cue(days_since_gift, cue_weight: float, window_days: float):
    """Rule 7, cue: an ask right after the gift betrays the motive (Campbell & Kirmani 2000).

    Strongest on the day of the gift, fading linearly to nothing after ``window_days``. With no
    gift (``days_since_gift`` NaN) there is no cue.

    >>> ask_timing_cue(np.array([0.0, 1.0, 5.0, np.nan]), cue_weight=0.4, window_days=2.0).tolist()
    [0.4, 0.2, 0.0, 0.0]
    """
    strength = _unit(1.0 - _where(np.isnan(days_since_gift), np.inf, days_since_gift)
                     / window_days)
    return cue_weight * strength


@rule
def gift_cues(personalised, usefulness, claimed_value, value, cue_generic: float,
              useless_weight: float, overclaim_weight: float):
    """Rules 7 and 13: the suspicion a gift adds when received. A generic gift is a weak cue
    (the standard pen; Campbell & Kirmani 2000), a useless or over-claimed one reads as bait.

    >>> gift_cues(np.array([1.0, 0.0]), np.array([1.0, 0.0]), np.array([5.0, 50.0]),
    ...           np.array([5.0, 5.0]), cue_generic=0.15, useless_weight=0.5,
    ...           overclaim_weight=0.2).round(3).tolist()
    [0.0, 1.111]
    """
    return (cue_generic * (1.0 - personalised)
            + bait_cue(usefulness, claimed_value, value, useless_weight=useless_weight,
                       overclaim_weight=overclaim_weight))


@rule
def ask_cues(days_since_gift, disproportion, after_no, cue_ask_soon: float,
             ask_soon_window: float, cue_disproportion: float, cue_after_no: float):
    """Rule 7: the suspicion an explicit ask adds, as a cue to the gift's motive: an ask right
    after the gift (:func:`ask_timing_cue`), one out of proportion to it (rule 3), and pressure
    after a "no" (Friestad & Wright 1994; Campbell & Kirmani 2000).

    >>> round(float(ask_cues(0.0, 1.0, True, cue_ask_soon=0.4, ask_soon_window=3.0,
    ...                      cue_disproportion=0.35, cue_after_no=0.3)), 2)
    1.05
    """
    return (ask_timing_cue(days_since_gift, cue_weight=cue_ask_soon, window_days=ask_soon_window)
            + cue_disproportion * disproportion + cue_after_no * after_no)


@rule
def warning_effect(warnings_received, cue_warning: float, warning_trust: float):
    """Rules 7 and 10: what neighbours' warnings about a seller do to a buyer: each is a cue
    (suspicion) and takes a little trust away. Returns ``(suspicion added, trust change)``.

    >>> warning_effect(np.array([0, 2]), cue_warning=0.25, warning_trust=0.05)[1].tolist()
    [-0.0, -0.1]
    """
    return cue_warning * warnings_received, -warning_trust * warnings_received


@rule
def perceived_sincerity(suspicion, detection_skill, prior: float):
    """Rule 7, sincerity detection: the motive a buyer imputes, from cues and skill.

    Friestad & Wright (1994), persuasion knowledge: buyers read persuasion attempts through cues,
    and skill at reading them varies. A naive buyer cannot read the cues and falls back on a
    ``prior`` (how sincere sellers' gifts seem in general); a skilled buyer reads the evidence:
    the summed strength of the cues seen from this seller (``suspicion``: generic gift, ask soon
    after, disproportionate ask, strings found, pressure after a "no", neighbours' warnings).
    Skill therefore cuts both ways: it exposes tactics and recognises genuine effort (Morales
    2005). ``detection_skill`` in [0, 1].

    >>> perceived_sincerity(np.array([0.0, 0.0, 0.5, 2.0]), np.array([0.0, 1.0, 0.8, 0.5]),
    ...                     prior=0.7).round(2).tolist()
    [0.7, 1.0, 0.54, 0.35]
    """
    evidence = _unit(1.0 - suspicion)
    return (1.0 - detection_skill) * prior + detection_skill * evidence


@rule
def read_motive(sincerity, tactic_threshold: float, manipulation_threshold: float):
    """Rule 7, the reading of a gift: sincere, a tactic, or manipulation.

    Campbell & Kirmani (2000); Morales (2005): a favour seen as an ulterior-motive tactic loses its
    effect; seen as manipulation, it is resented.

    >>> read_motive(np.array([0.9, 0.4, 0.1]), tactic_threshold=0.5,
    ...             manipulation_threshold=0.2).tolist()
    [0, 1, 2]
    """
    return _where(sincerity >= tactic_threshold, SINCERE,
                  _where(sincerity >= manipulation_threshold, TACTIC, MANIPULATION))


@rule
def imputed_motive(reading, sincerity, manipulation_penalty: float):
    """Rule 7 feeding rule 1: the motive imputed to the giver, which scales the gift's debt.

    Gouldner (1960): the debt grows with the motive imputed ("without thought of gain"): a gift
    read as sincere counts in proportion to its perceived sincerity. "A gift read as a tactic
    loses its gratitude and its debt; one read as manipulation turns reciprocity negative"
    (Campbell & Kirmani 2000; Morales 2005).

    >>> imputed_motive(np.array([0, 0, 1, 2]), np.array([1.0, 0.8, 0.4, 0.1]),
    ...                manipulation_penalty=0.5).tolist()
    [1.0, 0.8, 0.0, -0.5]
    """
    return _where(reading == SINCERE, sincerity,
                  _where(reading == TACTIC, 0.0, -manipulation_penalty))


@rule
def trust_from_gift(reading, sincerity, gift_trust: float, manipulation_trust_factor: float):
    """Rule 7: the trust a received gift adds: in proportion to its perceived sincerity when read
    as sincere, none when read as a tactic, and ``manipulation_trust_factor`` times
    ``gift_trust`` taken away when read as manipulation (Morales 2005; Fehr & Gächter 2000).

    >>> trust_from_gift(np.array([0, 1, 2]), np.array([0.5, 0.4, 0.1]), gift_trust=0.02,
    ...                 manipulation_trust_factor=2.0).tolist()
    [0.01, 0.0, -0.04]
    """
    return _where(reading == SINCERE, gift_trust * sincerity,
                  _where(reading == TACTIC, 0.0, -manipulation_trust_factor * gift_trust))


# --- Rule 8 -----------------------------------------------------------------------------------


@rule
def ask_pressure(urgency, opt_out_offered, after_no, disproportion, base: float,
                 urgency_weight: float, no_opt_out: float, after_no_weight: float,
                 disproportion_weight: float):
    """Rule 8, reactance: the pressure one ask puts on the buyer's freedom.

    Brehm (1966): threats to freedom arouse reactance. Every ask carries a little (``base``);
    urgency, no way to opt out, asking again after a "no" and an ask out of proportion to what
    was given (rule 3) carry more.

    >>> float(ask_pressure(0.0, True, False, 0.0, base=0.1, urgency_weight=0.3, no_opt_out=0.2,
    ...                    after_no_weight=0.4, disproportion_weight=0.5))
    0.1
    >>> round(float(ask_pressure(1.0, False, True, 1.0, base=0.1, urgency_weight=0.3,
    ...                          no_opt_out=0.2, after_no_weight=0.4, disproportion_weight=0.5)), 2)
    1.5
    """
    return (base + urgency_weight * urgency + no_opt_out * (1.0 - opt_out_offered)
            + after_no_weight * after_no + disproportion_weight * disproportion)


@rule
def accumulate_reactance(reactance, pressure, proneness, typical_proneness: float):
    """Rule 8: reactance builds with each act of pressure, scaled by the buyer's proneness.

    Brehm & Cole (1966): reactance depends on the importance of the threatened freedom, which
    varies between people (``proneness`` in [0, 1]; a buyer at ``typical_proneness`` feels the
    pressure as it is, one twice as prone twice as much).

    >>> accumulate_reactance(np.array([1.0, 1.0]), np.array([0.5, 0.5]), np.array([0.5, 1.0]),
    ...                      typical_proneness=0.5).tolist()
    [1.5, 2.0]
    """
    return reactance + proneness / typical_proneness * pressure


@rule
def favour_restriction(debt, importance, proneness, restriction_weight: float,
                       typical_proneness: float):
    """Rule 8: a favour that restricts a freedom that matters to the buyer causes reactance that
    offsets, continuously, the obligation it creates: the debt keeps ``1 - restriction_weight x
    importance x (proneness / typical)`` of itself, which turns negative (resentment) for an
    important freedom, so that such a favour lowers compliance below no favour (Brehm & Cole
    1966).

    >>> favour_restriction(np.array([1.0, 1.0, 1.0]), np.array([0.0, 0.5, 1.0]), 0.5,
    ...                    restriction_weight=1.5, typical_proneness=0.5).tolist()
    [1.0, 0.25, -0.5]
    """
    return debt * (1.0 - restriction_weight * importance * proneness
                       / typical_proneness)


@rule
def boomerang_probability(excess_reactance, boomerang_rate: float):
    """Rule 8: past the threshold some buyers do the opposite of what is asked (Brehm 1966,
    boomerang): the chance grows with the reactance beyond the threshold.

    >>> boomerang_probability(np.array([0.0, 1.0]), boomerang_rate=0.5).round(3).tolist()
    [0.0, 0.393]
    """
    return 1.0 - np.exp(-boomerang_rate * excess_reactance)


@rule
def reactance_excess(reactance, threshold: float):
    """Rule 8: reactance beyond the buyer's threshold, where avoidance and refusal begin.

    >>> reactance_excess(np.array([0.5, 1.5]), threshold=1.0).tolist()
    [0.0, 0.5]
    """
    return np.maximum(reactance - threshold, 0.0)


# --- Rule 9 -----------------------------------------------------------------------------------


@rule
def retaliation_probability(resentment, excess_reactance, deceived, punisher, restraint_factor,
                            base_logit: float, resentment_weight: float, reactance_weight: float,
                            deception_weight: float, punisher_weight: float):
    """Rule 9, negative reciprocity: the chance a buyer strikes back (complains, warns others).

    Fehr & Gächter (2000): hostile or deceptive acts are returned, and some people pay a cost to
    punish. Resentment (the negative debt of a gift read as manipulation), reactance beyond the
    threshold and deception found raise the odds; ``punisher`` buyers retaliate more readily; an
    outstanding positive debt holds hostility back (rule 2, ``restraint_factor``).

    >>> p = retaliation_probability(0.0, 0.0, False, False, 1.0, base_logit=-4.0,
    ...     resentment_weight=2.0, reactance_weight=1.5, deception_weight=2.0, punisher_weight=1.0)
    >>> round(float(p), 4)
    0.018
    >>> p = retaliation_probability(1.0, 1.0, True, True, 1.0, base_logit=-4.0,
    ...     resentment_weight=2.0, reactance_weight=1.5, deception_weight=2.0, punisher_weight=1.0)
    >>> round(float(p), 4)
    0.9241
    """
    logit = (base_logit + resentment_weight * resentment
             + reactance_weight * excess_reactance + deception_weight * deceived
             + punisher_weight * punisher)
    return restraint_factor / (1.0 + np.exp(-logit))


# --- Rule 10 ----------------------------------------------------------------------------------


@rule
def indirect_obligation(obligation_to_others, indirect_share: float):
    """Rule 10, indirect (generalised) reciprocity: a debt to one party spills onto others.

    Gouldner (1960) describes the norm as generalised, not only owed to the benefactor; Nowak &
    Sigmund (2005) call this upstream reciprocity. Regan's (1971) "irrelevant favour" (a Coke from
    the experimenter) still raised compliance with the confederate. Only gift debts spill;
    concessions do not (rule 11).

    >>> float(indirect_obligation(2.0, indirect_share=0.5))
    1.0
    """
    return indirect_share * obligation_to_others


# --- Rule 11 ----------------------------------------------------------------------------------


@rule
def concession_debt(first_ask, second_ask, same_requester, concession_weight: float):
    """Rule 11, reciprocal concessions: a retreat to a smaller ask is itself a concession.

    Cialdini et al. (1975), door-in-the-face: a requester who moves from a large request to a
    smaller one creates an obligation to concede in turn, but only towards the same requester.
    The debt grows with the share given up.

    >>> concession_debt(np.array([100.0, 100.0]), np.array([25.0, 25.0]), np.array([True, False]),
    ...                 concession_weight=2.0).tolist()
    [1.5, 0.0]
    """
    kept = _ratio(second_ask, first_ask, where=first_ask > 0, otherwise=1.0)
    share_given_up = _unit(1.0 - kept)
    return _where(same_requester, concession_weight * share_given_up, 0.0)


@rule
def reference_contrast(size, reference, contrast_weight: float):
    """Rule 11's companion: a larger request seen before or beside this one (the refused large
    ask, or one described but not made) is a reference point that makes this ask seem smaller:
    ``contrast_weight`` log-odds per e-fold of the larger over this one (Cialdini et al. 1975,
    experiment 1: the exposure control raised compliance less than the retreat did).

    >>> reference_contrast(30.0, np.array([0.0, 30.0, 3000.0]), contrast_weight=0.1).round(3).tolist()
    [0.0, 0.0, 0.461]
    """
    return contrast_weight * np.log(np.maximum(reference, size) / size)


@rule
def choice_probabilities(utilities):
    """Rule 11 with several requests offered at once (``ask.choices``: Cialdini et al. 1975's
    exposure control): the chance of picking each option (rows of ``utilities``, log-odds
    against saying no), or none (last row): a multinomial logit, which for one option is the
    usual chance of a yes.

    >>> choice_probabilities(np.array([[0.0], [-np.inf]])).round(3).ravel().tolist()
    [0.5, 0.0, 0.5]
    """
    options, ties = utilities.shape
    chances = np.empty((options + 1, ties))
    for tie in range(ties):
        top = utilities[0, tie]
        for option in range(1, options):
            top = np.maximum(top, utilities[option, tie])
        top = np.maximum(top, 0.0)  # saying no has utility 0
        none = np.exp(-top)
        total = 0.0
        for option in range(options):
            chances[option, tie] = np.exp(utilities[option, tie] - top)
            total += chances[option, tie]
        total += none
        for option in range(options):
            chances[option, tie] /= total
        chances[options, tie] = none / total
    return chances


# --- Rule 12 ----------------------------------------------------------------------------------


@rule
def churn_hazard(trust, excess_reactance, resentment, kept_giving, account_closed,
                 base_hazard: float, trust_weight: float, neutral_trust: float,
                 reactance_weight: float,
                 resentment_weight: float, keep_giving_effect: float, closed_account_effect: float):
    """Rule 12, keep the circle going: the daily chance a customer leaves.

    Giving again after a sale keeps the relationship (a one-time buyer becomes a partner): a
    recent gift to a customer divides the hazard by ``1 + keep_giving_effect``. Trust keeps
    customers; reactance and resentment drive them away (rules 8, 9); an account closed by
    exact repayment (rule 2) leaves less to hold the relationship.

    >>> kw = dict(base_hazard=0.01, trust_weight=2.0, neutral_trust=0.5, reactance_weight=1.0,
    ...           resentment_weight=1.0, keep_giving_effect=1.0, closed_account_effect=0.5)
    >>> round(float(churn_hazard(0.5, 0.0, 0.0, False, False, **kw)), 4)
    0.01
    >>> round(float(churn_hazard(0.5, 0.0, 0.0, True, False, **kw)), 4)
    0.005
    """
    log_h = (np.log(base_hazard) - trust_weight * (trust - neutral_trust)
             + reactance_weight * excess_reactance + resentment_weight * resentment
             + closed_account_effect * account_closed)
    hazard = np.exp(log_h) / _where(kept_giving, 1.0 + keep_giving_effect, 1.0)
    return _unit(hazard)


@rule
def referral_probability(trust, owed, offers_choice, referral_rate: float,
                         neutral_trust: float, choice_weight: float, debt_weight: float,
                         debt_saturation: float, debt_sharpness: float):
    """Rules 10 and 12: the daily chance that a customer (or an indebted prospect offered a
    choice of ways to respond) refers a neighbour: ``referral_rate`` at neutral trust, in
    proportion to trust, raised by a choice of ways to respond and by what is still owed
    (a referral is a way to repay).

    >>> kw = dict(referral_rate=0.002, neutral_trust=0.5, choice_weight=1.0, debt_weight=2.0,
    ...           debt_saturation=1.0, debt_sharpness=1.0)
    >>> float(referral_probability(0.5, 0.0, False, **kw))
    0.002
    >>> float(referral_probability(1.0, 1.0, True, **kw))
    0.016
    """
    return (referral_rate * (trust / neutral_trust)
            * response_choice_bonus(offers_choice, choice_weight=choice_weight)
            * (1.0 + obligation_drive(owed, debt_weight=debt_weight,
                                      debt_saturation=debt_saturation,
                                      debt_sharpness=debt_sharpness)))


@rule
def referral_chance_ceiling(trust, offers_choice, step_days, referral_rate: float,
                            neutral_trust: float, choice_weight: float, debt_weight: float):
    """A bound on rule 10's referral chance in a step (:func:`referral_probability`, then
    :func:`per_step_probability`), whatever the referrer owes: the debt's push
    (:func:`obligation_drive`) is never more than ``debt_weight`` either way, so the chance lies
    between its values at ``-debt_weight`` and ``+debt_weight``; the bound is taken a little wider
    to cover rounding (and never above 1).

    Not a rule of its own but a ceiling over one, for speed: the engine draws first and works out
    the exact chance (two powers per tie when ``debt_sharpness`` is not 1) only where the draw
    falls below the ceiling. A draw at or above it fails against the exact chance too, so the
    results are those of working out every chance.

    >>> kw = dict(referral_rate=0.002, neutral_trust=0.5, choice_weight=1.0, debt_weight=2.0)
    >>> exact = dict(referral_rate=0.002, neutral_trust=0.5, choice_weight=1.0, debt_weight=2.0,
    ...              debt_saturation=1.0, debt_sharpness=1.0)
    >>> [round(float(referral_probability(0.5, owed, False, **exact)), 6)
    ...  for owed in (-1e9, 0.0, 1e9)]
    [-0.002, 0.002, 0.006]
    >>> round(float(referral_chance_ceiling(0.5, False, 1.0, **kw)), 9)
    0.006
    """
    # multiplied as referral_probability multiplies, so that rounding goes the same way
    base = (referral_rate * (trust / neutral_trust)
            * response_choice_bonus(offers_choice, choice_weight=choice_weight))
    push = np.abs(debt_weight) * (1.0 + 1e-9)
    daily = np.maximum(base * (1.0 + push), base * (1.0 - push))
    # past 1 the exact chance is certain (or NaN in a shorter step): leave it to the exact rule
    ceiling = per_step_probability(np.minimum(daily, 1.0), step_days)
    return ceiling + 1e-9 * np.abs(ceiling)


@rule
def debt_after_referral(gift_debt, referral_repayment: float):
    """Rule 10: a referral repays ``referral_repayment`` of the referrer's felt gift debt.

    >>> debt_after_referral(np.array([2.0]), referral_repayment=0.5).tolist()
    [1.0]
    """
    return gift_debt * (1.0 - referral_repayment)


@rule
def response_choice_bonus(offers_choice, choice_weight: float):
    """Rule 12: offering a choice of ways to respond (reply, review, refer) makes repaying easier.

    Returned as a multiplier on the chance of repaying through a referral or review.

    >>> response_choice_bonus(np.array([False, True]), choice_weight=1.5).tolist()
    [1.0, 2.5]
    """
    return _where(offers_choice, 1.0 + choice_weight, 1.0)


# --- Rule 13 ----------------------------------------------------------------------------------


@rule
def gift_refused(bound_by_gift_rules, gift_value, reactance, gated, uniform, gift_limit: float,
                 avoid_threshold: float, gate_uptake: float):
    """Rules 8 and 13: a gift is refused by buyers under gift rules (over the limit), by buyers
    whose reactance has passed the avoidance threshold (they no longer take anything from this
    seller), and, behind a sign-up gate, by those who do not sign up (``uniform`` >= the uptake).

    >>> gift_refused(np.array([True, False, False, False]), 5.0, np.array([0.0, 3.0, 0.0, 0.0]),
    ...              True, np.array([0.0, 0.0, 0.9, 0.1]), gift_limit=0.0, avoid_threshold=2.0,
    ...              gate_uptake=0.35).tolist()
    [True, True, True, False]
    """
    return (gift_refused_by_rules(bound_by_gift_rules, gift_value, gift_limit=gift_limit)
            | (reactance > avoid_threshold)
            | (gated & (uniform >= gate_uptake)))


@rule
def gift_refused_by_rules(bound_by_gift_rules, gift_value, gift_limit: float):
    """Rule 13, boundaries: buyers under strict gift or procurement rules refuse gifts over
    their limit (Cialdini 2009 on institutional gift policies).

    >>> gift_refused_by_rules(np.array([True, True, False]), np.array([10.0, 0.0, 99.0]),
    ...                       gift_limit=0.0).tolist()
    [True, False, False]
    """
    return bound_by_gift_rules & (gift_value > gift_limit)


@rule
def bait_cue(usefulness, claimed_value, value, useless_weight: float, overclaim_weight: float):
    """Rule 13, boundaries: a gift of no real use reads as bait; over-claimed value as deceit.

    Returns the suspicion the gift adds when received. ``usefulness`` in [0, 1]; an over-claim
    (``claimed_value`` > ``value``) adds suspicion by the log ratio.

    >>> bait_cue(np.array([1.0, 0.0]), np.array([5.0, 50.0]), np.array([5.0, 5.0]),
    ...          useless_weight=0.5, overclaim_weight=0.2).round(3).tolist()
    [0.0, 0.961]
    """
    claimed = _ratio(claimed_value, value, where=value > 0, otherwise=1.0)
    overclaim = np.log(np.maximum(claimed, 1.0))
    return useless_weight * (1.0 - usefulness) + overclaim_weight * overclaim
