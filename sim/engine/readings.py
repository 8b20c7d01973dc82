"""What buyers read into a seller's acts (rule 7): the persuasion cues they have seen
(suspicion) and, cached per tie, the sincerity, reading and imputed motive that follow from them.
Every phase that adds a cue goes through :func:`add_cue`, so the cache and the backfire record
stay current."""

from __future__ import annotations

from sim import rules
from sim.engine.compiled import kernel


@kernel
def add_cue(tie, row, buyer, cue, ties, buyers, params, readings, tallies):
    """Rule 7 on one tie: add a persuasion cue to its suspicion, read the seller's motive again
    (sincerity, reading and imputed motive, kept in the cache ``readings``), and count the tie's
    accepted gift as backfired the first time it reads as manipulation. What every phase that
    adds cues calls, in a kernel or through
    :meth:`sim.engine.Engine.add_suspicion`."""
    p = params[row]
    ties.suspicion[tie] += cue
    sincerity = rules.perceived_sincerity(ties.suspicion[tie], buyers.detection_skill[buyer],
                                          prior=p.prior_sincerity)
    reading = rules.read_motive(sincerity, tactic_threshold=p.tactic_threshold,
                                manipulation_threshold=p.manipulation_threshold)
    motive = rules.imputed_motive(reading, sincerity, manipulation_penalty=p.manipulation_penalty)
    readings[0][tie], readings[1][tie], readings[2][tie] = sincerity, reading, motive
    if ties.accepted_gift[tie] and reading == rules.MANIPULATION and not ties.backfired[tie]:
        ties.backfired[tie] = True
        tallies.backfired[row] += 1


@kernel
def add_cues(index, row, buyer, cues, ties, buyers, params, readings, tallies):
    """:meth:`sim.engine.Engine.add_suspicion`: :func:`add_cue` on each tie at ``index``."""
    for i in range(index.size):
        add_cue(index[i], row[i], buyer[i], cues[i], ties, buyers, params, readings, tallies)
