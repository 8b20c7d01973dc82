"""A network layout that keeps neighbours near each other, fast enough for thousands of buyers.

Pivot MDS (Brandes & Pich 2006) gives the global shape from breadth-first distances to a few
pivot buyers (a small world stays a ring, segments separate, hubs sit in the middle); a short
force-directed refinement (Fruchterman & Reingold 1991, repulsion from a fixed sample of buyers)
then pulls each buyer next to its own neighbours. Deterministic, cached per network.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import shortest_path

PIVOTS = 24
REFINE_ITERATIONS = 40
REPULSION_SAMPLE = 100
CACHE_SIZE = 16


def layout_for(n: int, edges: np.ndarray) -> np.ndarray:
    """Buyer positions in [0, 1]², shape (n, 2), for an (m, 2) array of undirected ties."""
    edges = np.ascontiguousarray(edges, dtype=np.int64).reshape(-1, 2)
    key = hashlib.blake2b(edges.tobytes(), digest_size=16).hexdigest()
    return _cached_layout(n, key, edges.tobytes()).copy()


@lru_cache(maxsize=CACHE_SIZE)
def _cached_layout(n: int, _key: str, edge_bytes: bytes) -> np.ndarray:
    edges = np.frombuffer(edge_bytes, dtype=np.int64).reshape(-1, 2)
    if n == 0:
        return np.zeros((0, 2))
    rng = np.random.default_rng(n)
    xy = pivot_mds(n, edges, rng) if len(edges) else rng.random((n, 2))
    xy = refine(xy, edges, rng)
    return _normalise(xy)


def pivot_mds(n: int, edges: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Classical MDS over hop distances to ``PIVOTS`` pivots chosen far apart (max-min)."""
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
    k = min(PIVOTS, n)
    pivots = [int(rng.integers(n))]
    distance = np.empty((k, n))
    nearest = np.full(n, np.inf)
    for i in range(k):
        d = shortest_path(graph, directed=False, unweighted=True, indices=pivots[i])
        distance[i] = d
        nearest = np.minimum(nearest, np.where(np.isfinite(d), d, -1))
        if i + 1 < k:
            pivots.append(int(np.argmax(nearest + rng.random(n) * 1e-3)))
    finite = np.isfinite(distance)
    distance[~finite] = (distance[finite].max() if finite.any() else 0) + 1  # other components
    squared = distance.T ** 2  # n x k
    centred = squared - squared.mean(axis=0) - squared.mean(axis=1, keepdims=True) + squared.mean()
    u, s, _ = np.linalg.svd(-0.5 * centred, full_matrices=False)
    xy = u[:, :2] * s[:2]
    if xy.shape[1] < 2 or not np.isfinite(xy).all() or np.ptp(xy, axis=0).min() == 0:
        return rng.random((n, 2))
    return xy + rng.normal(0, 1e-3 * np.ptp(xy), xy.shape)  # separate buyers at one spot


def refine(xy: np.ndarray, edges: np.ndarray, rng: np.random.Generator,
           iterations: int = REFINE_ITERATIONS) -> np.ndarray:
    """Fruchterman-Reingold steps: ties pull, a fixed sample of buyers pushes."""
    n = len(xy)
    xy = _normalise(xy).astype(np.float32)  # float32: half the memory traffic, ample precision
    ideal = 1.0 / np.sqrt(n)  # the spacing of n buyers in the unit square
    sample = rng.choice(n, size=min(REPULSION_SAMPLE, n), replace=False)
    scale = n / len(sample)
    a, b = edges[:, 0], edges[:, 1]
    temperature = 0.1
    for _ in range(iterations):
        delta = xy[:, None, :] - xy[None, sample, :]
        dist2 = np.maximum((delta ** 2).sum(-1), 1e-9)
        push = scale * (delta * (ideal ** 2 / dist2)[..., None]).sum(axis=1)
        tie = xy[a] - xy[b]
        length = np.sqrt((tie ** 2).sum(-1))[:, None]
        pull = tie * length / ideal
        force = push
        np.add.at(force, a, -pull)
        np.add.at(force, b, pull)
        size = np.sqrt((force ** 2).sum(-1))[:, None]
        xy = xy + force / np.maximum(size, 1e-9) * np.minimum(size, temperature)
        temperature *= 0.93
    return xy.astype(np.float64)


def _normalise(xy: np.ndarray) -> np.ndarray:
    """Into [0, 1]² keeping the aspect ratio; outliers (far-flung leaves) clipped."""
    low, high = np.percentile(xy, [0.5, 99.5], axis=0)
    span = max(float((high - low).max()), 1e-9)
    centre = (low + high) / 2
    return np.clip((xy - centre) / span + 0.5, 0.0, 1.0)
