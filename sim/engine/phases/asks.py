"""Asks and retreats (rules 3, 7, 8, 11): who is asked today and for what, the retreat to a
smaller ask after a "no" (door-in-the-face), and what the ask itself tells and does to the buyer.
The buyer's answer is :mod:`sim.engine.phases.responses`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import rules
from sim.engine.compiled import kernel
from sim.engine.phases import responses
from sim.engine.stack import PerTie, Ties
from sim.engine.state import CUSTOMER, PROSPECT

if TYPE_CHECKING:
    from sim.engine.core import Engine


def due(e: Engine, day: int) -> np.ndarray:
    """Flat indices of the ties asked today. A prospect: the first ask ``delay`` days after first
    contact; after a first "no", the retreat to the smaller ask (``concede_to``, rule 11) the
    next day; then again every ``every`` days up to ``max_asks``, after a "no" only if the
    strategy follows up (and, with a retreat, only once it has been made). A customer: a repeat
    ask every ``repeat_every`` days. Sellers that only give never ask."""
    a, st = e.plan.ask, e.state
    return _due(day, st.status, st.asks_made, st.contact_day, st.said_no, st.conceded,
                st.last_ask_day, a.asks[:, 0], a.delay[:, 0], a.concede_to[:, 0],
                a.max_asks[:, 0], a.every[:, 0], a.follow_up_after_no[:, 0],
                a.repeat_every[:, 0])


@kernel
def _due(day, status, asks_made, contact_day, said_no, conceded, last_ask_day, asks, delay,
         concede_to, max_asks, every, follow_up_after_no, repeat_every):
    """:func:`due`'s scan of every tie, one seller row at a time."""
    rows, n = status.shape
    due_ties = np.empty(rows * n, dtype=np.int64)
    count = 0
    for r in range(rows):
        retreats = concede_to[r] > 0
        for j in range(n):
            if status[r, j] == PROSPECT and asks[r]:
                made, refused = asks_made[r, j], said_no[r, j] > 0
                first = made == 0 and contact_day[r, j] <= day - delay[r]
                retreat = retreats and refused and not conceded[r, j] and last_ask_day[r, j] < day
                again = (made > 0 and made < max_asks[r] and every[r] > 0
                         and last_ask_day[r, j] <= day - every[r]
                         and (not refused or (follow_up_after_no[r]
                                              and (not retreats or conceded[r, j]))))
                asked = first or retreat or again
            else:
                asked = (status[r, j] == CUSTOMER and asks[r] and repeat_every[r] > 0
                         and last_ask_day[r, j] <= day - repeat_every[r])
            if asked:
                due_ties[count] = r * n + j
                count += 1
    return due_ties[:count].copy()


def ask(e: Engine, day: int) -> Ties:
    """Today's asks: concessions, cues and pressure, then the buyers' responses. Returns the
    ties asked."""
    st, buyers = e.state, e.buyers
    ties = Ties.at(due(e, day), e.stack)
    if ties.size == 0:
        return ties
    a, p, b = PerTie(e.plan.ask, ties.row), e.params(ties), ties.buyer
    plan = e.plan.ask
    # Rule 11: after a first "no", a strategy that concedes retreats to its smaller ask (once);
    # the larger request seen before this one is the reference of the retreat (Cialdini et al.
    # 1975, exp. 2: only when the same requester made it, so contrast alone does not explain
    # the retreat's effect).
    concede, size, reference, after_no, explicit, named, given, days_since_gift, before = \
        _ask_inputs(day, ties.index, ties.row, st.said_no.ravel(), st.conceded.ravel(),
                    st.given.ravel(), st.last_gift_day.ravel(), st.reactance.ravel(),
                    plan.size[:, 0], plan.concede_to[:, 0], plan.same_requester[:, 0],
                    plan.reference[:, 0], plan.implicit[:, 0], plan.open[:, 0],
                    plan.amount_mode[:, 0], e.row_values("step_days"))
    # The retreat itself is a concession, owed only to the requester who made the refused first
    # ask (a retreat by someone else concedes nothing).
    if concede.any():
        retreating = ties.where(concede)
        retreating.add(st.concession, rules.concession_debt(
            a.size[concede], a.concede_to[concede], a.same_requester[concede],
            concession_weight=e.params(retreating).concession_weight))

    # Rule 7: the ask as a cue to the gift's motive (a customary ask gives none).
    disproportion = np.where(named, rules.ask_disproportion(
        size, given, equivalence_tolerance=p.equivalence_tolerance), 0.0)
    cues = rules.ask_cues(days_since_gift, disproportion, after_no, cue_ask_soon=p.cue_ask_soon,
                          ask_soon_window=p.ask_soon_window,
                          cue_disproportion=p.cue_disproportion, cue_after_no=p.cue_after_no)
    e.add_suspicion(ties, np.where(explicit, cues, 0.0))

    # Rule 8: the ask's pressure builds reactance.
    pressure = rules.ask_pressure(a.urgency, a.opt_out, after_no, disproportion,
                                  base=p.pressure_base, urgency_weight=p.pressure_urgency,
                                  no_opt_out=p.pressure_no_opt_out,
                                  after_no_weight=p.pressure_after_no,
                                  disproportion_weight=p.disproportion_weight)
    reactance = np.where(explicit, rules.accumulate_reactance(
        before, pressure, buyers.reactance_proneness[b], typical_proneness=p.typical_proneness),
        before)
    ties.put(st.reactance, reactance)
    responses.respond(e, day, ties, size, reference, disproportion, concede, reactance)
    return ties


@kernel
def _ask_inputs(day, index, row, said_no, conceded, given, last_gift_day, reactance, size,
                concede_to, same_requester, reference, implicit, open_, amount_mode, step_days):
    """What :func:`ask` needs for the asked ties at ``index``: whether the seller retreats
    today, the size asked, the larger request seen before it (its reference), whether it
    follows a "no" without a retreat, whether it is explicit and names its size, the value
    given so far, the days since the last gift (NaN: none) and the reactance before the ask.
    Records that the seller has retreated."""
    count = index.size
    concede, after_no = np.empty(count, dtype=np.bool_), np.empty(count, dtype=np.bool_)
    explicit, named = np.empty(count, dtype=np.bool_), np.empty(count, dtype=np.bool_)
    size_, reference_, given_ = np.empty(count), np.empty(count), np.empty(count)
    days_since_gift, before = np.empty(count), np.empty(count)
    for i in range(count):
        tie, r = index[i], row[i]
        said_no_before, conceded_before = said_no[tie] > 0, conceded[tie]
        concede[i] = said_no_before and concede_to[r] > 0 and not conceded_before
        retreated = concede[i] or conceded_before
        size_[i] = concede_to[r] if retreated and concede_to[r] > 0 else size[r]
        after_no[i] = said_no_before and not concede[i]
        conceded[tie] = retreated
        reference_[i] = size[r] if concede[i] and same_requester[r] else reference[r]
        explicit[i] = not implicit[r]
        named[i] = explicit[i] and not open_[r] and not amount_mode[r]  # names its size
        given_[i] = given[tie]
        last_gift = last_gift_day[tie]
        days_since_gift[i] = (day - last_gift) * step_days[r] if last_gift >= 0 else np.nan
        before[i] = reactance[tie]
    return concede, size_, reference_, after_no, explicit, named, given_, days_since_gift, before
