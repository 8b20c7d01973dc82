"""How the runs of one engine are laid out, and selections of seller-buyer ties.

Every tie array has one row per seller of every run (run-major: the first run's sellers, then the
second's...) and ``width`` columns, the largest run's number of buyers; a run with fewer buyers
leaves the columns past its own size empty (never reached, never drawn for). Buyers are numbered
across runs as ``run * width + column``; the buyers' network is the union of the runs' networks
laid out the same way, so nothing links two runs.

A :class:`Ties` is a set of ties as flat indices into the tie arrays, with each tie's seller row
and buyer: phases select the ties they act on (the due gifts, the asked ties...) and work on
those only.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.engine.compiled import kernel


@dataclass(frozen=True)
class Stack:
    """The layout of the runs of one engine (see the module docstring)."""

    sellers: np.ndarray
    """Sellers of each run."""
    buyers: np.ndarray
    """Buyers of each run."""
    width: int
    """Columns of the tie arrays: the most buyers of any run."""
    first_row: np.ndarray
    """Row of each run's first seller, and the number of rows at the end."""
    row_run: np.ndarray
    """The run of each row."""
    row_seller: np.ndarray
    """Each row's seller, numbered within its run."""

    @classmethod
    def of(cls, sellers: list[int], buyers: list[int]) -> Stack:
        sellers_arr = np.asarray(sellers, dtype=np.int64)
        first_row = np.concatenate([[0], np.cumsum(sellers_arr)])
        row_run = np.repeat(np.arange(sellers_arr.size), sellers_arr)
        return cls(sellers=sellers_arr, buyers=np.asarray(buyers, dtype=np.int64),
                   width=int(max(buyers)), first_row=first_row, row_run=row_run,
                   row_seller=np.arange(row_run.size) - first_row[row_run])

    @functools.cached_property
    def runs(self) -> int:
        return int(self.sellers.size)

    @functools.cached_property
    def rows(self) -> int:
        return int(self.first_row[-1])

    @property
    def same_sellers(self) -> bool:
        """Every run has the same number of sellers."""
        return bool((self.sellers == self.sellers[0]).all())

    @functools.cached_property
    def padded(self) -> bool:
        """Some run has fewer buyers than the width (its tail columns are empty)."""
        return bool((self.buyers < self.width).any())

    def rows_of(self, run: int) -> np.ndarray:
        """The seller rows of ``run``."""
        return np.arange(self.first_row[run], self.first_row[run + 1])

    def block(self, array: np.ndarray, run: int) -> np.ndarray:
        """``run``'s own part of a tie array: its sellers' rows, its buyers' columns (a view)."""
        return array[self.first_row[run]: self.first_row[run + 1], : self.buyers[run]]

    def row_sums(self, array: np.ndarray) -> np.ndarray:
        """Sum of a tie array over each row's own buyers, summed exactly as a run alone sums it."""
        if not self.padded:
            return array.sum(axis=1)
        return np.concatenate([self.block(array, run).sum(axis=1) for run in range(self.runs)])

    def by_tie(self, per_buyer: np.ndarray) -> np.ndarray:
        """A per-buyer array laid out like the tie arrays (each run's buyers under its sellers)."""
        if self.runs == 1:
            return per_buyer
        return per_buyer.reshape(self.runs, self.width)[self.row_run]

    def per_row(self, per_run: np.ndarray) -> np.ndarray:
        """A per-run array as one value per seller row."""
        return np.asarray(per_run)[self.row_run]

    @functools.cached_property
    def row_address(self) -> np.ndarray:
        """Where each row's ties start among its run's draw addresses (:meth:`draw_address`):
        the address of the tie of row ``r`` and column ``j`` is ``row_address[r] + j``."""
        return (np.arange(self.rows) - self.first_row[self.row_run]) * self.buyers[self.row_run]

    def draw_address(self, ties: Ties) -> np.ndarray:
        """Each tie's index within its own run laid out alone: the address of its draws."""
        if self.runs == 1:
            return ties.index
        run = self.row_run[ties.row]
        column = ties.buyer - run * self.width
        return (ties.row - self.first_row[run]) * self.buyers[run] + column


@dataclass(frozen=True)
class Ties:
    """A set of seller-buyer ties: flat indices into the (rows, width) tie arrays, each tie's
    seller row and its buyer (numbered across runs)."""

    index: np.ndarray
    row: np.ndarray
    buyer: np.ndarray

    @classmethod
    def of(cls, mask: np.ndarray, stack: Stack) -> Ties:
        """The ties where ``mask`` (a boolean tie array) is set."""
        return cls.at(np.flatnonzero(mask), stack)

    @classmethod
    def at(cls, index: np.ndarray, stack: Stack) -> Ties:
        """The ties at flat ``index``."""
        return cls(index, *_rows_and_buyers(index, stack.width, stack.row_run))

    @classmethod
    def none(cls) -> Ties:
        """No ties."""
        empty = np.empty(0, dtype=np.int64)
        return cls(empty, empty, empty)

    @property
    def size(self) -> int:
        return int(self.index.size)

    def union(self, other: Ties) -> Ties:
        """The ties in either set (both in flat-index order, as every selection is), in order."""
        return Ties(*_merge(self.index, self.row, self.buyer,
                            other.index, other.row, other.buyer))

    def where(self, mask: np.ndarray) -> Ties:
        return Ties(*_compress(mask, self.index, self.row, self.buyer))

    def get(self, array: np.ndarray) -> np.ndarray:
        return array.ravel()[self.index]

    def put(self, array: np.ndarray, values: Any) -> None:
        array.ravel()[self.index] = values

    def add(self, array: np.ndarray, values: Any) -> None:
        array.ravel()[self.index] += values

    def per_seller(self, values: np.ndarray, rows: int) -> np.ndarray:
        """Sum of ``values`` (one per tie) per seller row."""
        return np.bincount(self.row, weights=values, minlength=rows)

    def count(self, rows: int, where: np.ndarray | None = None) -> np.ndarray:
        """Number of ties (where ``where``) per seller row."""
        row = self.row if where is None else self.row[where]
        return np.bincount(row, minlength=rows)


class PerTie:
    """Per-row columns (``(rows, 1)`` arrays, or per-row scalars) looked up for a set of ties,
    each column on first use: a phase reads only a few of a strategy's or the rules' many
    parameters. ``view.name`` is the value of column ``name`` for each tie (a scalar when the
    column is the same for every row)."""

    def __init__(self, columns: Any, rows: np.ndarray):
        self._columns, self._rows = columns, rows

    def __getattr__(self, name: str) -> Any:
        column = getattr(self._columns, name)
        value = column.ravel()[self._rows] if isinstance(column, np.ndarray) else column
        setattr(self, name, value)  # later reads skip __getattr__
        return value


@kernel
def _rows_and_buyers(index, width, row_run):
    """:meth:`Ties.at`: each flat index's seller row and buyer (numbered across runs)."""
    row, buyer = np.empty(index.size, dtype=np.int64), np.empty(index.size, dtype=np.int64)
    stacked = row_run.size > 0 and row_run[-1] > 0
    per_column = 1.0 / width
    for i in range(index.size):
        # index // width by a multiplication (an integer division is several times slower),
        # corrected by one where rounding put it on the wrong side: exact below 2**52 ties
        r = np.int64(index[i] * per_column)
        if r * width > index[i]:
            r -= 1
        elif (r + 1) * width <= index[i]:
            r += 1
        row[i], buyer[i] = r, index[i] - r * width
        if stacked:
            buyer[i] += row_run[r] * width
    return row, buyer


@kernel
def _compress(mask, index, row, buyer):
    """:meth:`Ties.where`: the three arrays where ``mask`` is set, in one pass."""
    count = 0
    for i in range(mask.size):
        count += mask[i]
    index_, row_, buyer_ = (np.empty(count, dtype=index.dtype), np.empty(count, dtype=row.dtype),
                            np.empty(count, dtype=buyer.dtype))
    k = 0
    for i in range(mask.size):
        if mask[i]:
            index_[k], row_[k], buyer_[k] = index[i], row[i], buyer[i]
            k += 1
    return index_, row_, buyer_


@kernel
def _merge(index_a, row_a, buyer_a, index_b, row_b, buyer_b):
    """:meth:`Ties.union`: merge two sets of ties sorted by flat index, each tie once."""
    size = index_a.size + index_b.size
    index, row, buyer = (np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64),
                         np.empty(size, dtype=np.int64))
    i = j = k = 0
    while i < index_a.size or j < index_b.size:
        if j == index_b.size or (i < index_a.size and index_a[i] <= index_b[j]):
            index[k], row[k], buyer[k] = index_a[i], row_a[i], buyer_a[i]
            if j < index_b.size and index_b[j] == index_a[i]:
                j += 1
            i += 1
        else:
            index[k], row[k], buyer[k] = index_b[j], row_b[j], buyer_b[j]
            j += 1
        k += 1
    return index[:k].copy(), row[:k].copy(), buyer[:k].copy()
