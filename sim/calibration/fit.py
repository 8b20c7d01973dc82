"""The posterior of chosen parameters given targets: an affine-invariant ensemble sampler (emcee).

Method. Parameters (dotted keys, rule or context) get uniform priors within bounds (on the log
scale for those spanning orders of magnitude). A parameter set is scored by running the model
(:mod:`sim.calibration.evaluate`) on fixed seeds (common random numbers: the likelihood is a
deterministic function of the parameters) and comparing each target's statistic, averaged over
the seeds, with the paper: a Gaussian term around the published figure where the target gives
its uncertainty (``sd``, or a two-sided band read as +/- 2 sd), and a soft constraint
(``log Phi((statistic - bound) / sd)``) for one-sided bands and fact checks.

Why emcee: its ensemble moves need no gradients (the model has none) and no tuning beyond the
number of walkers, and its *vectorised* log-probability lets all walkers of an iteration be run
as one batch of stacked engines: a whole ensemble costs little more than one parameter set.
pyabc's ABC-SMC samples particle by particle and needs an acceptance threshold schedule; sbi
needs PyTorch. Moves: differential evolution (80%) and its snooker variant (20%), which handle
correlated parameters well (ter Braak & Vrugt 2008).

Checkpoints: the chain is saved after every iteration (atomically); a fit called again with the
same checkpoint continues where it stopped and gives the chain it would have given at once.
"""

from __future__ import annotations

import logging
import math
import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy.special import log_ndtr

from sim.calibration.evaluate import Plan, evaluate


@dataclass(frozen=True)
class Parameter:
    """A parameter to fit: its dotted key, prior bounds and scale."""

    key: str
    low: float
    high: float
    scale: Literal["linear", "log"] = "linear"
    note: str = ""
    """Why it is fitted and what identifies it (for reports)."""

    def to_unit(self, value: np.ndarray) -> np.ndarray:
        if self.scale == "log":
            return (np.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (value - self.low) / (self.high - self.low)

    def from_unit(self, unit: np.ndarray) -> np.ndarray:
        if self.scale == "log":
            return np.exp(math.log(self.low) + unit * (math.log(self.high) - math.log(self.low)))
        return self.low + unit * (self.high - self.low)


@dataclass(frozen=True)
class Term:
    """One term of the log-likelihood, for one plan item."""

    kind: Literal["gaussian", "constraint"]
    center: float = math.nan
    sd: float = math.nan
    low: float | None = None
    high: float | None = None

    def log_density(self, statistic: np.ndarray) -> np.ndarray:
        statistic = np.where(np.isfinite(statistic), statistic, np.inf)
        if self.kind == "gaussian":
            return -0.5 * ((statistic - self.center) / self.sd) ** 2
        out = np.zeros_like(statistic)
        if self.low is not None:
            out = out + log_ndtr((statistic - self.low) / self.sd)
        if self.high is not None:
            out = out + log_ndtr((self.high - statistic) / self.sd)
        return out


def terms_for(plan: Plan) -> list[list[Term]]:
    """The likelihood terms of each plan item: a target with a published figure and an
    uncertainty is Gaussian around it; bands are soft constraints; fact checks must exceed
    their margin."""
    out = []
    for item in plan.items:
        if item.check is not None:
            out.append([Term("constraint", sd=0.02, low=item.check.margin)])
            continue
        t = item.target
        two_sided = t.low is not None and t.high is not None
        sd = t.sd if t.sd is not None else ((t.high - t.low) / 4 if two_sided else None)
        terms = []
        if t.paper is not None and sd is not None:
            terms.append(Term("gaussian", center=t.paper, sd=sd))
        if not two_sided and (t.low is not None or t.high is not None):
            scale = sd if sd is not None else 0.1 * max(abs(t.paper or 0.0), abs(t.low or 0.0),
                                                          abs(t.high or 0.0), 0.2)
            terms.append(Term("constraint", sd=scale, low=t.low, high=t.high))
        out.append(terms)
    return out


@dataclass
class Problem:
    """What to fit: a plan of targets, the parameters, the seeds and fixed settings."""

    plan: Plan
    parameters: list[Parameter]
    seeds: list[int]
    fixed: dict[str, Any] = field(default_factory=dict)
    """Dotted settings applied to every parameter set (not fitted)."""
    terms: list[list[Term]] = field(init=False)

    def __post_init__(self):
        self.terms = terms_for(self.plan)

    @property
    def ndim(self) -> int:
        return len(self.parameters)

    def values(self, units: np.ndarray) -> list[dict[str, float]]:
        """Parameter sets (dotted keys) from points of the unit cube."""
        return [{**self.fixed, **{p.key: float(p.from_unit(u)) for p, u in
                                  zip(self.parameters, point, strict=True)}} for point in units]

    def log_likelihood(self, statistics: np.ndarray) -> np.ndarray:
        """``statistics``: (sets, items, seeds) -> (sets,)."""
        mean = np.nanmean(statistics, axis=2) if statistics.shape[2] > 1 else statistics[:, :, 0]
        total = np.zeros(mean.shape[0])
        for i, terms in enumerate(self.terms):
            for term in terms:
                total += term.log_density(mean[:, i])
        return total

    def log_probability(self, units: np.ndarray, *, workers: int = 1,
                        pool: Any = None) -> np.ndarray:
        """Uniform prior on the unit cube (in each parameter's scale) times the likelihood; the
        parameter sets inside the prior are run as one batch."""
        units = np.atleast_2d(units)
        inside = np.all((units >= 0.0) & (units <= 1.0), axis=1)
        out = np.full(units.shape[0], -np.inf)
        if inside.any():
            statistics = evaluate(self.plan, self.values(units[inside]), self.seeds,
                                  workers=workers, pool=pool)
            out[inside] = self.log_likelihood(statistics)
        return out


@dataclass
class Chain:
    """A sampler's history: positions in the unit cube and log-probabilities per iteration."""

    units: np.ndarray          # (iterations, walkers, ndim)
    log_prob: np.ndarray       # (iterations, walkers)
    accepted: np.ndarray       # (walkers,) moves accepted so far
    random_state: Any = None
    seconds: float = 0.0       # sampling time so far, summed over the sessions that sampled it
    sessions: int = 1          # how many runs sampled it (more than one: resumed from a checkpoint)

    @property
    def iterations(self) -> int:
        return self.units.shape[0]


def sample(problem: Problem, *, walkers: int, iterations: int, start: dict[str, float],
           seed: int = 0, workers: int = 1, pool: Any = None, checkpoint: Path | None = None,
           spread: float = 0.01,
           progress: Callable[[int, int], None] | None = None) -> Chain:
    """Run emcee for ``iterations`` (continuing a checkpoint if there is one), walkers started
    in a ball around ``start`` (dotted keys; missing ones at the middle of their prior) of
    ``spread`` (a share of each prior's range)."""
    import emcee

    chain = _load(checkpoint) if checkpoint is not None and Path(checkpoint).exists() else None
    rng = np.random.default_rng(seed)
    center = np.array([float(np.clip(p.to_unit(start[p.key]), 0.02, 0.98)) if p.key in start
                       else 0.5 for p in problem.parameters])
    if workers > 1 and pool is None:  # one pool for the whole run: workers keep their caches
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as shared:
            return sample(problem, walkers=walkers, iterations=iterations, start=start,
                          seed=seed, pool=shared, checkpoint=checkpoint, spread=spread,
                          progress=progress)
    moves = [(emcee.moves.DEMove(), 0.8), (emcee.moves.DESnookerMove(), 0.2)]
    sampler = emcee.EnsembleSampler(
        walkers, problem.ndim, lambda units: problem.log_probability(
            units, workers=workers, pool=pool), vectorize=True, moves=moves)
    if chain is None:
        position = np.clip(center + spread * rng.standard_normal((walkers, problem.ndim)), 0, 1)
        state = emcee.State(position, random_state=np.random.RandomState(seed).get_state())
        chain = Chain(np.empty((0, walkers, problem.ndim)), np.empty((0, walkers)),
                      np.zeros(walkers))
    else:
        state = emcee.State(chain.units[-1], log_prob=chain.log_prob[-1],
                            random_state=chain.random_state)
        if chain.iterations < iterations:  # this run samples it too
            chain.sessions += 1
    began = time.perf_counter() - chain.seconds
    for new in sampler.sample(state, iterations=max(iterations - chain.iterations, 0),
                              store=False):
        if chain.iterations:
            chain.accepted = chain.accepted + np.any(new.coords != chain.units[-1], axis=1)
        chain.units = np.concatenate([chain.units, new.coords[None]])
        chain.log_prob = np.concatenate([chain.log_prob, new.log_prob[None]])
        chain.random_state = new.random_state
        chain.seconds = time.perf_counter() - began
        if checkpoint is not None:
            _save(checkpoint, chain)
        if progress is not None:
            progress(chain.iterations, iterations)
    return chain


def _save(path: Path, chain: Chain) -> None:
    from sim.runner import write_atomic

    write_atomic(Path(path), pickle.dumps(chain))


def _load(path: Path) -> Chain:
    with Path(path).open("rb") as handle:
        return pickle.load(handle)


@dataclass
class Posterior:
    """Draws of the parameters after burn-in, with diagnostics."""

    parameters: list[Parameter]
    draws: np.ndarray              # (n, ndim) parameter values
    log_prob: np.ndarray           # (n,)
    acceptance: float
    autocorr: np.ndarray           # (ndim,) integrated autocorrelation time, iterations
    burn_in: int
    thin: int
    iterations: int
    walkers: int
    seconds: float

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.parameters]

    def best(self) -> dict[str, float]:
        """The draw with the highest posterior density (the point estimate)."""
        return dict(zip(self.keys, self.draws[int(np.argmax(self.log_prob))].tolist(),
                        strict=True))

    def median(self) -> dict[str, float]:
        return dict(zip(self.keys, np.median(self.draws, axis=0).tolist(), strict=True))

    def interval(self, level: float = 0.95) -> dict[str, tuple[float, float]]:
        tail = (1 - level) / 2 * 100
        low, high = np.percentile(self.draws, [tail, 100 - tail], axis=0)
        return {k: (float(a), float(b)) for k, a, b in zip(self.keys, low, high, strict=True)}

    def effective_samples(self) -> np.ndarray:
        kept = (self.iterations - self.burn_in) * self.walkers
        return kept / np.maximum(self.autocorr, 1.0)

    def sample_sets(self, count: int, seed: int = 0) -> list[dict[str, float]]:
        """``count`` parameter sets drawn from the posterior (without replacement when it can)."""
        rng = np.random.default_rng(seed)
        rows = rng.choice(len(self.draws), size=min(count, len(self.draws)), replace=False)
        return [dict(zip(self.keys, self.draws[r].tolist(), strict=True)) for r in rows]


def posterior(problem: Problem, chain: Chain, *, burn_in: int | None = None) -> Posterior:
    """Draws after discarding ``burn_in`` iterations (default: the first half), thinned by half
    the largest autocorrelation time."""
    import emcee

    iterations, walkers, _ = chain.units.shape
    burn = iterations // 2 if burn_in is None else burn_in
    kept = chain.units[burn:]
    emcee_log = logging.getLogger("emcee")
    level = emcee_log.level
    emcee_log.setLevel(logging.ERROR)  # a short chain is reported as few effective samples
    try:
        with np.errstate(invalid="ignore"):  # a walker that never moved has no autocorrelation
            tau = emcee.autocorr.integrated_time(kept, quiet=True) if len(kept) > 1 else \
                np.ones(problem.ndim)
    finally:
        emcee_log.setLevel(level)
    tau = np.nan_to_num(np.asarray(tau, dtype=float), nan=float(len(kept)))  # too short to tell
    thin = max(1, int(np.max(tau) / 2))
    units = kept[::thin].reshape(-1, problem.ndim)
    values = np.column_stack([p.from_unit(units[:, i]) for i, p in enumerate(problem.parameters)])
    log_prob = chain.log_prob[burn:][::thin].reshape(-1)
    acceptance = float(np.mean(chain.accepted) / max(iterations - 1, 1))
    return Posterior(problem.parameters, values, log_prob, acceptance, np.asarray(tau), burn,
                     thin, iterations, walkers, chain.seconds)


def write_draws(path: Path, post: Posterior) -> None:
    """The posterior draws as CSV: one column per parameter (dotted key), plus log_prob."""
    from sim.runner import write_atomic

    header = ",".join([*post.keys, "log_prob"])
    rows = [",".join(f"{v:.10g}" for v in (*draw, lp)) for draw, lp in
            zip(post.draws, post.log_prob, strict=True)]
    write_atomic(Path(path), ("\n".join([header, *rows]) + "\n").encode())


def read_draws(path: Path) -> tuple[list[str], np.ndarray]:
    """Keys and draws (n, ndim) from :func:`write_draws`'s CSV (log_prob left out)."""
    lines = Path(path).read_text().strip().splitlines()
    keys = lines[0].split(",")[:-1]
    values = np.array([[float(x) for x in line.split(",")[:-1]] for line in lines[1:]])
    return keys, values.reshape(-1, len(keys))


def predictive(plan: Plan, sets: Sequence[dict[str, float]], seeds: Sequence[int], *,
               workers: int = 1, pool: Any = None) -> np.ndarray:
    """Each item's statistic averaged over ``seeds``, for each parameter set: (sets, items)."""
    statistics = evaluate(plan, list(sets), list(seeds), workers=workers, pool=pool)
    return np.nanmean(statistics, axis=2)
