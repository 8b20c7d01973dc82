"""Compiled kernels: each phase of the day is one or two loops over the ties it acts on, compiled
by numba, that select the ties, draw, call the rules (:mod:`sim.rules`, compiled too) on each
tie's values, and write and tally what they decided, so that a phase costs a call or two instead
of dozens of numpy calls on small arrays.

The model's mathematics stays in :mod:`sim.rules`: a kernel only selects, moves, compares, counts
and adds, and calls the rules. It keeps the order of the phase (where ties read each other, all
are decided before any is written) and the order of its sums (per row in tie order, then added
to the tally), so results are bit for bit those of the numpy engine the kernels replaced (on a
CPU without AVX-512, where numpy's ``exp``, ``log`` and ``pow`` are the C library's, as the
compiled rules' are; the golden snapshot checks it).

Kernels are compiled on first use and cached on disk (``cache=True``), in a folder of their own
for each version of the package's source (:mod:`sim.numba_setup`: numba alone would not notice
an edit to a rule that a kernel in another file calls), so only the first run of a version on a
machine pays for compiling (``python -m sim.warm``). ``error_model="numpy"``: a division by zero
gives inf or nan, as in numpy.
"""

from __future__ import annotations

import numba
import numpy as np

kernel = numba.njit(cache=True, error_model="numpy", nogil=True)
"""Compile a phase's loop over its ties, or a piece of one (the module docstring says what a
kernel may do)."""


@kernel
def positive_part(x):
    """``np.maximum(x, 0.0)`` for one value, in a kernel: NaN stays NaN, as numpy keeps it."""
    return x if x >= 0.0 or np.isnan(x) else 0.0
