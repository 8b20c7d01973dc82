"""Random numbers: three independent streams per run, and counter-based behaviour draws.

Each run's ``SeedSequence`` spawns three streams: the network, the population (traits, anchors,
reach orders) and behaviour. Behaviour draws are counter-based (:func:`counter_uniforms`): each is
addressed by (day, purpose, tie) and keyed by the run's behaviour key, so it does not depend on
which other draws were made. Two arms of a scenario on the same seed therefore share network,
population and every daily draw (common random numbers), and a run stacked with others draws
exactly what it draws alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np

from sim.engine.compiled import kernel


class Purpose(IntEnum):
    """What a behaviour draw decides: part of each draw's address."""

    GATE = 0          # signing up for a gated gift
    YES = 1           # saying yes to an ask
    REPLY = 2         # saying "no" out loud rather than ignoring
    RETALIATE = 3     # complaining
    OPT_OUT = 4       # opting out while avoiding
    CHURN = 5         # a customer leaving
    REFER = 6         # referring a neighbour
    DISCOVER = 7      # finding hidden conditions
    ROUND = 8         # rounding an amount to whole units
    WARN = 9          # warning neighbours after complaining
    BOOMERANG = 10    # doing the opposite, past the reactance threshold


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def counter_uniforms(day: int, purpose, index: np.ndarray, key) -> np.ndarray:
    """Counter-based uniform draws in [0, 1): draw (day, purpose, tie) is a hash of that address
    and a key, so draws can be made for any subset of ties, in any order, and stay the same.

    The hash is the SplitMix64 output function (Steele, Lea & Flood 2014) applied to a Weyl
    sequence over the address, as in numpy's own seeding; 53 bits make the double. ``key`` may be
    an array (one key per index), for runs stacked in one engine. ``purpose`` may be a sequence:
    then one row of draws per purpose, made in one pass.

    >>> a = counter_uniforms(3, 1, np.arange(5), key=7)
    >>> bool(((a >= 0) & (a < 1)).all())
    True
    >>> bool((counter_uniforms(3, 1, np.array([4, 2]), key=7) == a[[4, 2]]).all())
    True
    >>> bool((counter_uniforms(3, [0, 1], np.arange(5), key=7)[1] == a).all())
    True
    """
    purposes = np.asarray(purpose, dtype=np.uint64)
    keys = np.asarray(key, dtype=np.uint64).reshape(-1)
    draws = _hash_uniforms(np.uint64(day), purposes.reshape(-1),
                           np.asarray(index, dtype=np.int64), keys)
    return draws if purposes.ndim else draws[0]


@kernel
def _hash_uniforms(day, purposes, index, keys):
    """:func:`counter_uniforms`, compiled: one row per purpose, one key or one per index."""
    out = np.empty((purposes.size, index.size))
    for row in range(purposes.size):
        for i in range(index.size):
            out[row, i] = uniform(day, purposes[row], index[i],
                                  keys[0] if keys.size == 1 else keys[i])
    return out


@kernel
def uniform(day, purpose, index, key):
    """One draw of :func:`counter_uniforms`, for use inside a kernel."""
    address = (np.uint64(day) << np.uint64(40)) | (np.uint64(purpose) << np.uint64(36))
    z = (np.uint64(index) | address) * _GOLDEN + np.uint64(key)
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z ^= z >> np.uint64(31)
    return np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)  # 2**-53


@kernel
def tie_address(tie, row, width, row_address):
    """The address of the draws of the tie at flat index ``tie`` of seller row ``row`` (tie
    arrays ``width`` buyers wide): its index within its own run laid out alone, as
    :meth:`sim.engine.stack.Stack.draw_address` gives it, so a run stacked draws what it draws
    alone. For use inside a kernel, with :func:`uniform`."""
    return row_address[row] + tie - row * width


def seed_sequence_from(rng: Any) -> np.random.SeedSequence:
    """The root ``SeedSequence`` for an ``rng`` argument as mesa 3.5 takes it.

    An int or a SeedSequence gives a reproducible root; a Generator is drawn from once; None
    takes fresh entropy (recorded in ``model.seed_entropy``).
    """
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if isinstance(rng, np.random.Generator):
        return np.random.SeedSequence(int(rng.integers(2**63)))
    if isinstance(rng, np.random.BitGenerator):
        return np.random.SeedSequence(int(np.random.Generator(rng).integers(2**63)))
    return np.random.SeedSequence(rng)


@dataclass
class Streams:
    """One run's independent random streams, spawned from its seed."""

    network: np.random.Generator
    population: np.random.Generator
    behaviour_key: np.uint64
    """The key of this run's :func:`counter_uniforms` draws."""

    @classmethod
    def from_seed_sequence(cls, seq: np.random.SeedSequence) -> Streams:
        net, pop, beh = seq.spawn(3)
        return cls(np.random.default_rng(net), np.random.default_rng(pop),
                   beh.generate_state(1, dtype=np.uint64)[0])
