"""Compiled bookkeeping: the loops over ties that select, gather, draw, write and tally, fused by
numba so that a phase costs a few calls instead of dozens of numpy calls on small arrays.

What is compiled here is bookkeeping only. The model's mathematics stays in :mod:`sim.rules`, in
numpy, called between kernels: numba's ``exp``, ``log`` and ``power`` differ from numpy's SIMD
ones in the last bit for about 5% of values (``experiments/kernel_probe.py``), so compiling a
rule would change results. A kernel only moves, compares, counts and adds values, in the same
order as the numpy code it replaces, so results stay bit for bit (the golden snapshot checks it).

Kernels are compiled on first use and cached on disk (``cache=True``, in ``__pycache__`` or
numba's user-wide cache where that is not writable), so only the first run on a machine pays for
compiling. ``error_model="numpy"``: a division by zero gives inf or nan, as in numpy.
"""

from __future__ import annotations

import numba
import numpy as np

kernel = numba.njit(cache=True, error_model="numpy", nogil=True)
"""Compile a bookkeeping loop (see the module docstring for what may be compiled)."""


@kernel
def positive_part(x):
    """``np.maximum(x, 0.0)`` for one value, in a kernel: NaN stays NaN, as numpy keeps it."""
    return x if x >= 0.0 or np.isnan(x) else 0.0
