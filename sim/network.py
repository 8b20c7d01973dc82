"""The buyers' network as CSR adjacency arrays, built from the scenario's ``[network]`` table.

Small-world, random and block graphs are drawn directly as numpy edge arrays (a million buyers in
about a second); scale-free, complete and file graphs go through networkx, imported only then
(sweep workers start faster without it). The same arrays serve runs with and without mesa agents,
so both give identical results; ``to_networkx`` builds the graph for mesa's ``Network`` space only
when agents are wanted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.config import NetworkSpec, ScenarioError

if TYPE_CHECKING:
    import networkx as nx

COMPLETE_GRAPH_LIMIT = 5_000


@dataclass(frozen=True)
class BuyerNetwork:
    """Undirected buyer graph in CSR form: neighbours of ``i`` are ``indices[indptr[i]:indptr[i+1]]``."""

    n: int
    indptr: np.ndarray
    indices: np.ndarray

    @property
    def n_edges(self) -> int:
        return int(self.indices.size // 2)

    def degrees(self) -> np.ndarray:
        return np.diff(self.indptr)

    def neighbours(self, node: int) -> np.ndarray:
        return self.indices[self.indptr[node]: self.indptr[node + 1]]

    def neighbours_of_many(self, nodes: np.ndarray) -> np.ndarray:
        """The neighbours of every node in ``nodes``, concatenated (repeats kept)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        starts, lengths = self.indptr[nodes], self.indptr[nodes + 1] - self.indptr[nodes]
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        return self.indices[offsets + np.arange(offsets.size)]

    def edges(self) -> np.ndarray:
        """Each undirected edge once, as an (m, 2) array with the smaller node first."""
        rows = np.repeat(np.arange(self.n), self.degrees())
        keep = rows < self.indices
        return np.column_stack([rows[keep], self.indices[keep]])

    def to_networkx(self) -> nx.Graph:
        graph = _nx().Graph()
        graph.add_nodes_from(range(self.n))
        graph.add_edges_from(self.edges().tolist())
        return graph


def from_edges(n: int, a: np.ndarray, b: np.ndarray) -> BuyerNetwork:
    """CSR from undirected edge endpoints, dropping self-loops and duplicate edges."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    keep = a != b
    lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
    key = np.sort(lo * n + hi)
    key = key[np.concatenate([[True], key[1:] != key[:-1]])] if key.size else key
    both = np.concatenate([key, (key % n) * n + key // n])
    both.sort()
    rows, cols = both // n, both % n
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return BuyerNetwork(n=n, indptr=indptr, indices=cols)


def disjoint_union(networks: list[BuyerNetwork]) -> BuyerNetwork:
    """Several networks side by side, the nodes of the i-th shifted by the sizes before it: how
    stacked replications share one engine without any tie between them.

    >>> path = from_edges(3, np.array([0, 1]), np.array([1, 2]))
    >>> both = disjoint_union([path, path])
    >>> both.n, both.neighbours(4).tolist()
    (6, [3, 5])
    """
    if len(networks) == 1:
        return networks[0]
    offsets = np.cumsum([0, *(net.n for net in networks)])
    edge_offsets = np.cumsum([0, *(net.indices.size for net in networks)])
    indptr = np.concatenate([[0], *(net.indptr[1:] + start
                                    for net, start in zip(networks, edge_offsets[:-1], strict=True))])
    indices = np.concatenate([net.indices + start
                              for net, start in zip(networks, offsets[:-1], strict=True)])
    return BuyerNetwork(n=int(offsets[-1]), indptr=indptr.astype(np.int64), indices=indices)


def watts_strogatz(n: int, k: int, p: float, rng: np.random.Generator) -> BuyerNetwork:
    """Watts & Strogatz (1998): a ring where each node links to its k nearest, each link's far end
    rewired with probability p to a uniformly chosen node."""
    half = max(k // 2, 0)
    if n < 2 or half == 0:
        return from_edges(n, np.empty(0, np.int64), np.empty(0, np.int64))
    half = min(half, (n - 1) // 2 or 1)
    src = np.repeat(np.arange(n, dtype=np.int64), half)
    dst = (src + np.tile(np.arange(1, half + 1, dtype=np.int64), n)) % n
    rewire = rng.random(src.size) < p
    dst = np.where(rewire, rng.integers(0, n, size=src.size), dst)
    return from_edges(n, src, dst)


def erdos_renyi(n: int, p: float, mean_degree: float, rng: np.random.Generator) -> BuyerNetwork:
    """Erdős & Rényi G(n, p), drawn as a binomial number of uniform random pairs."""
    pairs = n * (n - 1) // 2
    prob = mean_degree / max(n - 1, 1) if mean_degree > 0 else p
    m = int(rng.binomial(pairs, min(prob, 1.0))) if pairs else 0
    return from_edges(n, rng.integers(0, n, size=m), rng.integers(0, n, size=m))


def stochastic_block(n: int, blocks: int, p_in: float, p_out: float,
                     rng: np.random.Generator) -> BuyerNetwork:
    """Clustered segments: equal blocks, edge probability p_in inside a block and p_out across."""
    bounds = np.linspace(0, n, blocks + 1).astype(np.int64)
    a_parts, b_parts = [], []
    for i in range(blocks):
        for j in range(i, blocks):
            size_i, size_j = bounds[i + 1] - bounds[i], bounds[j + 1] - bounds[j]
            pairs = size_i * (size_i - 1) // 2 if i == j else size_i * size_j
            m = int(rng.binomial(pairs, p_in if i == j else p_out)) if pairs else 0
            a_parts.append(rng.integers(bounds[i], bounds[i + 1], size=m))
            b_parts.append(rng.integers(bounds[j], bounds[j + 1], size=m))
    return from_edges(n, np.concatenate(a_parts), np.concatenate(b_parts))


def from_networkx(graph: nx.Graph, n_expected: int | None = None) -> BuyerNetwork:
    nx = _nx()
    graph = nx.convert_node_labels_to_integers(nx.Graph(graph), ordering="sorted")
    n = graph.number_of_nodes()
    if n_expected is not None and n != n_expected:
        raise ScenarioError(f"network file has {n} nodes but buyers.n = {n_expected}; set "
                            f"buyers.n = {n} (or leave it to the file by matching it)")
    edges = np.array(graph.edges(), dtype=np.int64).reshape(-1, 2)
    return from_edges(n, edges[:, 0], edges[:, 1])


def _nx():
    import networkx

    return networkx


def build_network(spec: NetworkSpec, n: int, rng: np.random.Generator) -> BuyerNetwork:
    """Build the buyer network the scenario names, seeded from ``rng``."""
    seed = int(rng.integers(2**31 - 1))
    match spec.kind:
        case "watts_strogatz":
            return watts_strogatz(n, spec.k, spec.p, rng)
        case "erdos_renyi":
            return erdos_renyi(n, spec.p, spec.mean_degree, rng)
        case "stochastic_block":
            return stochastic_block(n, spec.blocks, spec.p_in, spec.p_out, rng)
        case "barabasi_albert":
            if spec.m >= n:
                raise ScenarioError(f"network.m = {spec.m}: must be below buyers.n = {n}")
            return from_networkx(_nx().barabasi_albert_graph(n, spec.m, seed=seed))
        case "complete":
            if n > COMPLETE_GRAPH_LIMIT:
                raise ScenarioError(f"network.kind = 'complete' with buyers.n = {n}: allowed up to "
                                    f"{COMPLETE_GRAPH_LIMIT} buyers (n^2 ties)")
            return from_networkx(_nx().complete_graph(n))
        case "edgelist":
            return from_networkx(_nx().read_edgelist(spec.path, nodetype=str), n)
        case "graphml":
            return from_networkx(_nx().read_graphml(spec.path), n)
    raise ScenarioError(f"network.kind = {spec.kind!r} is not supported")


def bfs_order(net: BuyerNetwork, sources: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """All buyers ordered by network distance from ``sources`` (random order within a distance;
    buyers unreachable from the sources come last, in random order)."""
    level = np.full(net.n, -1, dtype=np.int64)
    frontier = np.unique(np.asarray(sources, dtype=np.int64))
    depth = 0
    level[frontier] = 0
    while frontier.size:
        nbrs = net.neighbours_of_many(frontier)
        nbrs = nbrs[level[nbrs] < 0]
        nbrs = np.flatnonzero(np.bincount(nbrs, minlength=net.n)) if nbrs.size else nbrs
        frontier = nbrs[level[nbrs] < 0]
        depth += 1
        level[frontier] = depth
    level[level < 0] = depth + 1
    return np.lexsort((rng.random(net.n), level))
