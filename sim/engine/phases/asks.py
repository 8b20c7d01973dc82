"""Asks and retreats (rules 3, 7, 8, 11): who is asked today and for what, the retreat to a
smaller ask after a "no" (door-in-the-face), and what the ask itself tells and does to the buyer.
The buyer's answer is :mod:`sim.engine.phases.responses`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import rules
from sim.engine.compiled import kernel
from sim.engine.phases import responses
from sim.engine.readings import add_cue
from sim.engine.stack import Ties
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
    """:func:`due`'s scan of every tie, one seller row at a time (the row's plan read once; a
    tie's state read only as far as its status and the asks made so far need)."""
    rows, n = status.shape
    due_ties = np.empty(rows * n, dtype=np.int64)
    count = 0
    for r in range(rows):
        if not asks[r]:
            continue
        retreats, follows, most = concede_to[r] > 0, follow_up_after_no[r], max_asks[r]
        first_by, again_by, repeat_by = day - delay[r], day - every[r], day - repeat_every[r]
        may_again, may_repeat = every[r] > 0, repeat_every[r] > 0
        for j in range(n):
            if status[r, j] == PROSPECT:
                made, refused, last = asks_made[r, j], said_no[r, j] > 0, last_ask_day[r, j]
                retreat = retreats and refused and not conceded[r, j] and last < day
                if made == 0:
                    asked = contact_day[r, j] <= first_by or retreat
                else:
                    asked = retreat or (made < most and may_again and last <= again_by
                                        and (not refused or (follows and (not retreats
                                                                          or conceded[r, j]))))
            elif status[r, j] == CUSTOMER:
                asked = may_repeat and last_ask_day[r, j] <= repeat_by
            else:
                continue
            if asked:
                due_ties[count] = r * n + j
                count += 1
    return due_ties[:count].copy()


def ask(e: Engine, day: int) -> Ties:
    """Today's asks (rules 3, 7, 8, 11: retreats, cues, pressure), then the buyers' responses
    (:mod:`sim.engine.phases.responses`). Returns the ties asked."""
    ties = Ties.at(due(e, day), e.stack)
    if ties.size == 0:
        return ties
    size, reference, disproportion, concede, reactance = _make_asks(
        day, ties.index, ties.row, ties.buyer, e.tie_arrays, e.buyer_arrays, e.ask_rows,
        e.rules.by_row, e.reading_arrays(), e.tally_arrays)
    responses.respond(e, day, ties, size, reference, disproportion, concede, reactance)
    return ties


@kernel
def _make_asks(day, index, row, buyer, ties, buyers, ask, params, readings, tallies):
    """Each ask at ``index`` as the seller makes it and the buyer takes it in: its size (the
    retreat's after a first "no"), the larger request seen before it (0: none), how far it
    exceeds what was given (rule 3), whether it is a retreat, and the buyer's reactance after
    it. Books the retreat's concession, the ask's cues and its pressure on the tie."""
    count = index.size
    size, reference, disproportion = np.empty(count), np.empty(count), np.empty(count)
    concede, reactance = np.empty(count, dtype=np.bool_), np.empty(count)
    for i in range(count):
        tie, r, b = index[i], row[i], buyer[i]
        p = params[r]
        # Rule 11: after a first "no", a strategy that concedes retreats to its smaller ask
        # (once); the larger request seen before this one is the reference of the retreat
        # (Cialdini et al. 1975, exp. 2: only when the same requester made it, so contrast
        # alone does not explain the retreat's effect).
        refused_before, conceded_before = ties.said_no[tie] > 0, ties.conceded[tie]
        concede[i] = refused_before and ask.concede_to[r] > 0 and not conceded_before
        retreated = concede[i] or conceded_before
        ties.conceded[tie] = retreated
        size[i] = ask.concede_to[r] if retreated and ask.concede_to[r] > 0 else ask.size[r]
        reference[i] = ask.size[r] if concede[i] and ask.same_requester[r] else ask.reference[r]
        after_no = refused_before and not concede[i]
        if concede[i]:  # the retreat is itself a concession, owed only to the same requester
            ties.concession[tie] += rules.concession_debt(
                ask.size[r], ask.concede_to[r], ask.same_requester[r],
                concession_weight=p.concession_weight)
        # Rule 7: the ask as a cue to the gift's motive (a customary, implicit ask gives none).
        explicit = not ask.implicit[r]
        names_its_size = explicit and not ask.open[r] and not ask.amount_mode[r]
        disproportion[i] = rules.ask_disproportion(
            size[i], ties.given[tie], equivalence_tolerance=p.equivalence_tolerance) \
            if names_its_size else 0.0
        last_gift = ties.last_gift_day[tie]
        days_since_gift = (day - last_gift) * p.step_days if last_gift >= 0 else np.nan
        cues = rules.ask_cues(days_since_gift, disproportion[i], after_no,
                              cue_ask_soon=p.cue_ask_soon, ask_soon_window=p.ask_soon_window,
                              cue_disproportion=p.cue_disproportion, cue_after_no=p.cue_after_no)
        add_cue(tie, r, b, cues if explicit else 0.0, ties, buyers, params, readings, tallies)
        # Rule 8: the ask's pressure builds reactance.
        pressure = rules.ask_pressure(ask.urgency[r], ask.opt_out[r], after_no, disproportion[i],
                                      base=p.pressure_base, urgency_weight=p.pressure_urgency,
                                      no_opt_out=p.pressure_no_opt_out,
                                      after_no_weight=p.pressure_after_no,
                                      disproportion_weight=p.disproportion_weight)
        before = ties.reactance[tie]
        reactance[i] = rules.accumulate_reactance(
            before, pressure, buyers.reactance_proneness[b],
            typical_proneness=p.typical_proneness) if explicit else before
        ties.reactance[tie] = reactance[i]
    return size, reference, disproportion, concede, reactance
