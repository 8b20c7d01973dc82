"""Agent-level output of a run (``recip run ... --agents``): per-buyer and per-tie state over
time, keyed by each buyer's original label (``model.buyer_labels``: the node of the graph or
network file it came from, its index for generated networks).

Three tables, Parquet (default) or CSV, in ``OUT/agents/``:

``buyer_traits``  one row per buyer: ``buyer`` (label), ``index`` (position in the engine's
                  arrays), need, budget, time_budget, detection_skill, reactance_proneness, base_compliance,
                  base_amount, reciprocator, gift_rules, punisher, segment (when the graph has one)
``buyers``        one row per buyer and recorded step: ``step``, ``day`` (step x the
                  scenario's step length, in days), ``buyer``, ``state``
                  (unreached, prospect, customer, churned, opted out: across sellers),
                  ``obligation`` (felt debt still owed, summed over sellers, >= 0), ``trust``
                  (mean over the sellers that reached the buyer; empty if none),
                  ``read_as_manipulation`` (some accepted gift read as manipulation)
``ties``          one row per *reached* seller-buyer tie and recorded step: ``step``, ``day``,
                  ``seller``
                  (index), ``seller_name``, ``strategy``, ``buyer``, ``status``, ``trust``,
                  ``perceived_sincerity``, ``reading`` (sincere, tactic, manipulation),
                  ``obligation`` (felt debt, negative when resentful), ``reactance``,
                  ``suspicion``, ``gifts_offered``, ``accepted_gift``, ``asks_made``, ``said_no``,
                  ``complained``, ``backfired``, ``deceived``, ``contact_step``,
                  ``converted_step``, ``churn_step`` (the step it happened on; -1: not yet)

Steps recorded: every ``every`` days and the last. Memory stays bounded by one seller's ties
at one step: each is written as it is made (a Parquet row group, or CSV lines appended), into a
hidden partial file renamed into place when the run ends.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import rules
from sim.engine.state import STATUS_NAMES, UNREACHED

FORMATS = ("parquet", "csv")
READINGS = np.empty(3, dtype=object)
READINGS[[rules.SINCERE, rules.TACTIC, rules.MANIPULATION]] = ["sincere", "tactic", "manipulation"]
STATUSES = np.array([STATUS_NAMES[code] for code in sorted(STATUS_NAMES)], dtype=object)
TIE_COUNTS = ("gifts_offered", "asks_made", "said_no")
TIE_STEPS = {"contact_step": "contact_day", "converted_step": "converted_day",
             "churn_step": "churn_day"}
"""Output column: the engine's tie array (the step it happened on, -1: not yet)."""
TIE_FLAGS = ("accepted_gift", "complained", "backfired", "deceived")


def plain_labels(labels: np.ndarray) -> np.ndarray:
    """Labels as one column type: integers stay integers, anything else becomes text."""
    if labels.dtype.kind in "iu":
        return labels.astype(np.int64)
    if labels.dtype == object and all(isinstance(x, int | np.integer) and not isinstance(x, bool)
                                      for x in labels):
        return labels.astype(np.int64)
    return np.array([str(x) for x in labels], dtype=object)


class TableWriter:
    """Append data frames to one Parquet or CSV file, renamed into place by :meth:`close`."""

    def __init__(self, path: Path, fmt: str):
        self.path, self.fmt = path, fmt
        self.partial = path.with_name(f".{path.name}.partial")
        self._writer: Any = None
        self._schema: Any = None
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        if self.fmt == "csv":
            frame.to_csv(self.partial, mode="a" if self.rows else "w", header=not self.rows,
                         index=False)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._writer is None:
                self._schema = table.schema
                self._writer = pq.ParquetWriter(self.partial, self._schema, compression="zstd")
            self._writer.write_table(table.cast(self._schema))
        self.rows += len(frame)

    def close(self) -> Path:
        if self._writer is not None:
            self._writer.close()
        os.replace(self.partial, self.path)
        return self.path

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self.partial.unlink(missing_ok=True)


class AgentRecorder:
    """Writes a model's per-buyer and per-tie state at chosen steps (:mod:`sim.agent_output`)."""

    def __init__(self, model: Any, out: Path, *, every: int = 1, fmt: str = "parquet"):
        if fmt not in FORMATS:
            raise ValueError(f"format = {fmt!r}: allowed: {', '.join(FORMATS)}")
        if every < 1:
            raise ValueError(f"agents_every = {every}: use 1 or more (days between records)")
        self.model, self.every, self.fmt = model, every, fmt
        self.folder = Path(out) / "agents"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.labels = plain_labels(np.asarray(model.buyer_labels))
        self.writers = {name: TableWriter(self.folder / f"{name}.{fmt}", fmt)
                        for name in ("buyer_traits", "buyers", "ties")}
        self.writers["buyer_traits"].write(self._traits())

    def due(self, step: int, horizon: int) -> bool:
        return step % self.every == 0 or step == horizon

    def record(self, step: int) -> None:
        """The state after day ``step``."""
        self.writers["buyers"].write(self._buyers(step))
        obligation = self.model.engine.effective_obligation()
        for seller in range(self.model.engine.s):
            frame = self._ties(step, seller, obligation)
            if len(frame) or not self.writers["ties"].rows:
                self.writers["ties"].write(frame)

    def close(self) -> dict[str, Path]:
        return {f"agents {name}": writer.close() for name, writer in self.writers.items()}

    def abort(self) -> None:
        for writer in self.writers.values():
            writer.abort()

    # --- tables -----------------------------------------------------------------------------------

    def _traits(self) -> pd.DataFrame:
        buyers, n = self.model.engine.buyers, len(self.labels)
        frame = pd.DataFrame({
            "buyer": self.labels, "index": np.arange(n),
            "need": buyers.need[:n], "budget": buyers.budget[:n],
            "time_budget": buyers.time_budget[:n],
            "detection_skill": buyers.detection_skill[:n],
            "reactance_proneness": buyers.reactance_proneness[:n],
            "base_compliance": rules.chance_from_log_odds(buyers.base_logit[:n]),
            "base_amount": buyers.base_amount[:n], "reciprocator": buyers.reciprocator[:n],
            "gift_rules": buyers.gift_rules[:n], "punisher": buyers.punisher[:n]})
        if buyers.segment is not None:
            frame["segment"] = [None if s is None else str(s) for s in buyers.segment[:n]]
        return frame

    def _buyers(self, step: int) -> pd.DataFrame:
        engine, n = self.model.engine, len(self.labels)
        summary = engine.buyer_state()
        status = engine.state.status[:, :n]
        reached = status != UNREACHED
        count = reached.sum(axis=0)
        trust_sum = np.where(reached, engine.state.trust[:, :n], 0.0).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            trust = np.where(count > 0, trust_sum / np.maximum(count, 1), np.nan)
        return pd.DataFrame({"step": np.full(n, step, dtype=np.int64),
                             "day": np.full(n, step * self.model.config.step),
                             "buyer": self.labels,
                             "state": summary["state"].astype(str),
                             "obligation": summary["obligation"], "trust": trust,
                             "read_as_manipulation": summary["read_as_manipulation"]})

    def _ties(self, step: int, seller: int, obligation: np.ndarray) -> pd.DataFrame:
        engine, n = self.model.engine, len(self.labels)
        st = engine.state
        columns = np.flatnonzero(st.status[seller, :n] != UNREACHED)
        config = self.model.config
        spec = config.sellers[seller]
        frame = pd.DataFrame({
            "step": np.full(columns.size, step, dtype=np.int64),
            "day": np.full(columns.size, step * config.step),
            "seller": np.full(columns.size, seller, dtype=np.int64),
            "seller_name": spec.name or f"Seller {seller + 1}",
            "strategy": spec.strategy,
            "buyer": self.labels[columns],
            "status": STATUSES[st.status[seller, columns]],
            "trust": st.trust[seller, columns],
            "perceived_sincerity": engine.sincerity[seller, columns],
            "reading": READINGS[engine.reading[seller, columns]],
            "obligation": obligation[seller, columns],
            "reactance": st.reactance[seller, columns],
            "suspicion": st.suspicion[seller, columns],
        })
        for name in TIE_COUNTS:
            frame[name] = getattr(st, name)[seller, columns].astype(np.int64)
        for name, array in TIE_STEPS.items():
            frame[name] = getattr(st, array)[seller, columns].astype(np.int64)
        for name in TIE_FLAGS:
            frame[name] = getattr(st, name)[seller, columns].astype(bool)
        return frame
