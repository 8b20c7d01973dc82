"""The buyers' network: CSR adjacency arrays, the registry of network kinds, and the boundary to
networkx graphs and network files.

Small-world, random, block and complete graphs are drawn directly as numpy arrays (a million
buyers in about a second); the scale-free generator is networkx's (imported only then, so sweep
workers start faster). A graph handed over by a user (:func:`from_networkx`) or read from a file
(:func:`read_edgelist`, :func:`read_graphml`) becomes a :class:`BuyerGraph`: the same arrays plus
the original node labels and any node attributes named like buyer traits.

Adding a network kind: write its builder below, decorated with :func:`network_kind` (the name, the
``[network]`` fields it reads); add those fields to ``NetworkSpec`` in :mod:`sim.config` if new;
and a test in ``tests/test_network.py``. The scenario schema, the app and the docs read the kinds
from :data:`NETWORK_KINDS`.
"""

from __future__ import annotations

import functools
import math
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.parsers import expat

import numpy as np

from sim.errors import ScenarioError

if TYPE_CHECKING:
    import networkx as nx

    from sim.config import NetworkSpec

COMPLETE_GRAPH_LIMIT = 5_000
"""The complete graph has n(n-1) directed ties; beyond this many buyers it would not fit."""


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
        return self.neighbour_lists(nodes)[0]

    def neighbour_lists(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The neighbours of every node in ``nodes``, concatenated, and how many each has."""
        nodes = np.asarray(nodes, dtype=np.int64)
        starts = self.indptr[nodes]
        lengths = self.indptr[nodes + 1] - starts
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        return self.indices[offsets + np.arange(offsets.size)], lengths

    def edges(self) -> np.ndarray:
        """Each undirected edge once, as an (m, 2) array with the smaller node first."""
        rows = np.repeat(np.arange(self.n), self.degrees())
        keep = rows < self.indices
        return np.column_stack([rows[keep], self.indices[keep]])

    def to_networkx(self, labels: np.ndarray | None = None) -> nx.Graph:
        """The graph as networkx, nodes ``0..n-1`` (or ``labels[i]`` for buyer ``i``)."""
        graph = _nx().Graph()
        edges = self.edges()
        if labels is None:
            graph.add_nodes_from(range(self.n))
        else:
            labels = np.asarray(labels, dtype=object)
            graph.add_nodes_from(labels.tolist())
            edges = labels[edges]
        graph.add_edges_from(edges.tolist())
        return graph


TRAIT_ATTRIBUTES: dict[str, tuple[str, float, float]] = {
    "need": ("number", 0.0, 1.0),
    "budget": ("number", 1.0, math.inf),
    "time_budget": ("number", 1.0, math.inf),
    "detection_skill": ("number", 0.0, 1.0),
    "reactance_proneness": ("number", 0.0, 1.0),
    "base_compliance": ("probability", 0.0, 1.0),
    "base_amount": ("number", 0.0, math.inf),
    "reciprocator": ("flag", 0.0, 1.0),
    "gift_rules": ("flag", 0.0, 1.0),
    "punisher": ("flag", 0.0, 1.0),
    "segment": ("label", 0.0, 0.0),
}
"""Node attributes read as buyer traits (kind, low, high): numbers within [low, high],
probabilities strictly inside (0, 1), flags true/false, labels any text."""


@dataclass(frozen=True)
class BuyerGraph:
    """A buyer network with what came with it: the original node labels (``labels[i]`` is buyer
    ``i``'s label, ``None`` for generated graphs) and node attributes named like buyer traits
    (``traits[name]``: floats with NaN where a node has none; ``segment``: labels, ``None``
    where missing)."""

    network: BuyerNetwork
    labels: np.ndarray | None = None
    traits: dict[str, np.ndarray] = field(default_factory=dict)
    source: str = "the graph"

    @property
    def n(self) -> int:
        return self.network.n


def from_edges(n: int, a: np.ndarray, b: np.ndarray) -> BuyerNetwork:
    """CSR from undirected edge endpoints, dropping self-loops and duplicate edges."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    keep = a != b
    lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
    key = np.sort(lo * n + hi)
    key = key[np.concatenate([[True], key[1:] != key[:-1]])] if key.size else key
    lo, hi = np.divmod(key, n)
    mirrored = hi * n + lo  # each edge seen from its other end
    mirrored.sort()
    both = np.concatenate([key, mirrored])
    both.sort(kind="stable")  # two sorted runs: timsort merges them in one pass
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(lo, minlength=n) + np.bincount(hi, minlength=n), out=indptr[1:])
    return BuyerNetwork(n=n, indptr=indptr, indices=both % n)


def padded_union(networks: list[BuyerNetwork], width: int) -> BuyerNetwork:
    """Several networks side by side, the nodes of the i-th shifted by ``i * width`` (nodes past a
    network's own size are isolated): how stacked runs share one engine without any tie between
    them.

    >>> path = from_edges(3, np.array([0, 1]), np.array([1, 2]))
    >>> both = padded_union([path, path], 4)
    >>> both.n, both.neighbours(5).tolist(), both.degrees()[3]
    (8, [4, 6], np.int64(0))
    """
    if len(networks) == 1 and networks[0].n == width:
        return networks[0]
    edge_offsets = np.cumsum([0, *(net.indices.size for net in networks)])
    indptr = [np.zeros(1, dtype=np.int64)]
    for net, start in zip(networks, edge_offsets[:-1], strict=True):
        padding = np.full(width - net.n, net.indptr[-1], dtype=np.int64)
        indptr.append(np.concatenate([net.indptr[1:], padding]) + start)
    indices = np.concatenate([net.indices + i * width for i, net in enumerate(networks)])
    return BuyerNetwork(n=len(networks) * width, indptr=np.concatenate(indptr),
                        indices=indices.astype(np.int64))


# --- the registry of network kinds -----------------------------------------------------------

Builder = Callable[["NetworkSpec", int, np.random.Generator, int], "BuyerNetwork | BuyerGraph"]


@dataclass(frozen=True)
class NetworkKind:
    """A kind of buyer network: how to build it and which ``[network]`` fields it reads."""

    name: str
    description: str
    parameters: tuple[str, ...]
    build: Builder
    from_file: bool = False


NETWORK_KINDS: dict[str, NetworkKind] = {}
"""Every network kind, by the name a scenario's ``network.kind`` gives."""


def network_kind(name: str, *, parameters: tuple[str, ...] = (), from_file: bool = False):
    """Register a builder ``build(spec, n, rng, seed)`` as network kind ``name``; its docstring's
    first line describes it. ``seed`` is an int drawn from ``rng`` for generators that take one."""
    def register(build: Builder) -> Builder:
        description = (build.__doc__ or name).strip().splitlines()[0]
        NETWORK_KINDS[name] = NetworkKind(name, description, parameters, build, from_file)
        return build
    return register


@network_kind("watts_strogatz", parameters=("k", "p"))
def watts_strogatz(spec, n: int, rng: np.random.Generator, seed: int = 0) -> BuyerNetwork:
    """Small world (Watts & Strogatz 1998): a ring, each buyer tied to its k nearest, each tie's
    far end rewired with probability p to a uniformly chosen buyer."""
    half = max(spec.k // 2, 0)
    if n < 2 or half == 0:
        return from_edges(n, np.empty(0, np.int64), np.empty(0, np.int64))
    half = min(half, (n - 1) // 2 or 1)
    src = np.repeat(np.arange(n, dtype=np.int64), half)
    dst = (src + np.tile(np.arange(1, half + 1, dtype=np.int64), n)) % n
    rewire = rng.random(src.size) < spec.p
    dst = np.where(rewire, rng.integers(0, n, size=src.size), dst)
    return from_edges(n, src, dst)


@network_kind("erdos_renyi", parameters=("p", "mean_degree"))
def erdos_renyi(spec, n: int, rng: np.random.Generator, seed: int = 0) -> BuyerNetwork:
    """Random (Erdős & Rényi): G(n, p), or expected degree mean_degree when it is set, drawn as
    a binomial number of uniform random pairs."""
    pairs = n * (n - 1) // 2
    prob = spec.mean_degree / max(n - 1, 1) if spec.mean_degree > 0 else spec.p
    m = int(rng.binomial(pairs, min(prob, 1.0))) if pairs else 0
    return from_edges(n, rng.integers(0, n, size=m), rng.integers(0, n, size=m))


@network_kind("stochastic_block", parameters=("blocks", "p_in", "p_out"))
def stochastic_block(spec, n: int, rng: np.random.Generator, seed: int = 0) -> BuyerNetwork:
    """Clustered segments: equal blocks, tie probability p_in inside a block and p_out across."""
    bounds = np.linspace(0, n, spec.blocks + 1).astype(np.int64)
    a_parts, b_parts = [], []
    for i in range(spec.blocks):
        for j in range(i, spec.blocks):
            size_i, size_j = bounds[i + 1] - bounds[i], bounds[j + 1] - bounds[j]
            pairs = size_i * (size_i - 1) // 2 if i == j else size_i * size_j
            m = int(rng.binomial(pairs, spec.p_in if i == j else spec.p_out)) if pairs else 0
            a_parts.append(rng.integers(bounds[i], bounds[i + 1], size=m))
            b_parts.append(rng.integers(bounds[j], bounds[j + 1], size=m))
    return from_edges(n, np.concatenate(a_parts), np.concatenate(b_parts))


@network_kind("barabasi_albert", parameters=("m",))
def barabasi_albert(spec, n: int, rng: np.random.Generator, seed: int = 0) -> BuyerNetwork:
    """Scale-free (Barabási & Albert 1999): each new buyer ties to m existing ones, preferring
    the well connected (networkx's generator)."""
    if spec.m >= n:
        raise ScenarioError(f"network.m = {spec.m}: must be below buyers.n = {n}")
    return from_networkx(_nx().barabasi_albert_graph(n, spec.m, seed=seed)).network


@network_kind("complete")
def complete(spec, n: int, rng: np.random.Generator, seed: int = 0) -> BuyerNetwork:
    """Complete: every buyer knows every other (a small room, a classroom)."""
    if n > COMPLETE_GRAPH_LIMIT:
        raise ScenarioError(f"network.kind = 'complete' with buyers.n = {n}: allowed up to "
                            f"{COMPLETE_GRAPH_LIMIT} buyers (n^2 ties); use watts_strogatz or "
                            f"erdos_renyi with a large mean_degree instead")
    if n < 2:
        return from_edges(n, np.empty(0, np.int64), np.empty(0, np.int64))
    others = np.tile(np.arange(n - 1, dtype=np.int64), n).reshape(n, n - 1)
    others += others >= np.arange(n)[:, None]  # skip the buyer itself
    return BuyerNetwork(n=n, indptr=np.arange(n + 1, dtype=np.int64) * (n - 1),
                        indices=others.reshape(-1))


@network_kind("edgelist", parameters=("path",), from_file=True)
def edgelist(spec, n: int, rng: np.random.Generator, seed: int = 0) -> BuyerGraph:
    """From a file: an edge list, two node labels per line, '#' comments (network.path)."""
    return load_network_file("edgelist", spec.path)


@network_kind("graphml", parameters=("path",), from_file=True)
def graphml(spec, n: int, rng: np.random.Generator, seed: int = 0) -> BuyerGraph:
    """From a file: GraphML, node attributes named like buyer traits become traits (network.path)."""
    return load_network_file("graphml", spec.path)


def build_network(spec: NetworkSpec, n: int, rng: np.random.Generator,
                  graph: BuyerGraph | None = None) -> BuyerGraph:
    """The buyer network the scenario names (or ``graph``, handed over), seeded from ``rng``."""
    seed = int(rng.integers(2**31 - 1))
    if graph is None:
        built = NETWORK_KINDS[spec.kind].build(spec, n, rng, seed)
        graph = built if isinstance(built, BuyerGraph) else BuyerGraph(built)
    if graph.n != n:
        raise ScenarioError(f"{graph.source} has {graph.n} nodes but buyers.n = {n}; leave "
                            f"buyers.n out (it then follows the graph) or set it to {graph.n}")
    return graph


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


# --- the boundary: networkx graphs and files -------------------------------------------------


def _nx():
    import networkx

    return networkx


def _ordered_labels(first_seen: list[Any]) -> tuple[np.ndarray, np.ndarray | None]:
    """Buyer order for labels in order of first appearance: integer labels (``3``, ``"3"``) are
    sorted numerically, so that a graph labelled 0..n-1 keeps buyer i = node i; other labels keep
    their order. Returns the labels in buyer order and, if reordered, each label's new index."""
    try:
        numbers = [int(label) for label in first_seen]
    except (TypeError, ValueError):
        return np.array(first_seen, dtype=object), None
    if any(isinstance(label, float | bool) for label in first_seen) or len(set(numbers)) < len(
            numbers):  # 1.5 is not an integer label; 3 and "3" are two nodes
        return np.array(first_seen, dtype=object), None
    keys = np.array(numbers, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    new_index = np.empty_like(order)
    new_index[order] = np.arange(order.size)
    return keys[order], new_index


def _graph_from_labelled_edges(ends: np.ndarray, first_seen: list[Any],
                               node_data: dict[str, Any], source: str) -> BuyerGraph:
    """A :class:`BuyerGraph` from edge ends given as indices into ``first_seen`` (flat: a0, b0,
    a1, b1, ...) and per-node attribute values in the same order (lists or object arrays, None
    where missing)."""
    labels, new_index = _ordered_labels(first_seen)
    if new_index is not None:
        ends = new_index[ends]
        order = np.argsort(new_index)
        node_data = {name: _object_array(values)[order] for name, values in node_data.items()}
    return _buyer_graph(labels, ends, node_data, source)


def _buyer_graph(labels: np.ndarray, ends: np.ndarray, node_data: dict[str, Any],
                 source: str) -> BuyerGraph:
    """A :class:`BuyerGraph` from labels already in buyer order, edge ends as buyer indices (flat)
    and per-buyer attribute values."""
    network = from_edges(len(labels), ends[0::2], ends[1::2])
    traits = {name: _trait_values(name, values, source, labels)
              for name, values in node_data.items() if name in TRAIT_ATTRIBUTES}
    return BuyerGraph(network, labels, traits, source)


def _object_array(values: Any) -> np.ndarray:
    """``values`` as a 1-d object array, one element per value (a list value stays one list)."""
    if isinstance(values, np.ndarray) and values.dtype == object and values.ndim == 1:
        return values
    return np.fromiter(values, dtype=object, count=len(values))


def _trait_values(name: str, values: Any, source: str, labels: np.ndarray) -> np.ndarray:
    """One node attribute as a trait array, each value checked (clear error on the first bad one).
    Text and plain numbers are converted all at once (:func:`_trait_values_at_once`); any other
    value, or a bad one, sends the attribute through the loop below, which names it."""
    kind, low, high = TRAIT_ATTRIBUTES[name]
    if kind == "label":
        return np.array([None if v is None else str(v) for v in values], dtype=object)
    values = _object_array(values)
    out = _trait_values_at_once(kind, low, high, values)
    if out is not None:
        return out
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        if value is None:
            continue
        number = _as_flag(value) if kind == "flag" else _as_number(value)
        ok = number is not None and math.isfinite(number) and (
            low < number < high if kind == "probability" else low <= number <= high)
        if not ok:
            allowed = {"flag": "true or false",
                       "probability": f"a number strictly between {low:g} and {high:g}"}.get(
                kind, f"a number in [{low:g}, {high:g}]")
            label = labels[i].item() if isinstance(labels[i], np.generic) else labels[i]
            raise ScenarioError(f"{source}: node {label!r}: {name} = {value!r}: "
                                f"allowed: {allowed}")
        out[i] = number
    return out


def _trait_values_at_once(kind: str, low: float, high: float, values: np.ndarray
                          ) -> np.ndarray | None:
    """What the loop in :func:`_trait_values` gives, computed with whole arrays (a million values
    take a loop a second), or None when a value is of another type or not allowed.

    Numbers: numpy's cast of an object array calls ``float()`` on each value (None gives NaN),
    the same as :func:`_as_number` for text, floats and ints (bools are left to the loop).
    Flags: text only, each distinct text read once by :func:`_as_flag`."""
    import pandas as pd

    types = set(map(type, values)) - {type(None)}
    if kind == "flag":
        if not types <= {str}:
            return None
        codes, texts = pd.factorize(values)  # None gets code -1
        flags = [_as_flag(text) for text in texts]
        if None in flags:
            return None
        return np.array([*flags, np.nan])[codes]  # code -1 picks the NaN at the end
    if not types <= {str, float, int}:
        return None
    try:
        out = values.astype(np.float64)
    except (TypeError, ValueError, OverflowError):
        return None
    given = out[~np.equal(values, None)]
    within = ((low < given) & (given < high) if kind == "probability"
              else (low <= given) & (given <= high))
    return out if (np.isfinite(given) & within).all() else None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):  # (an int too large for a float)
        return None


def _as_flag(value: Any) -> float | None:
    if isinstance(value, bool | int | np.integer) and value in (0, 1):
        return float(value)
    text = str(value).strip().lower()
    return {"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0}.get(text)


def from_networkx(graph: nx.Graph, source: str = "the graph") -> BuyerGraph:
    """A networkx graph (any kind; directed edges count as undirected) as a :class:`BuyerGraph`.

    Buyers are the nodes in the graph's order, integer labels sorted numerically; node attributes
    named like buyer traits (:data:`TRAIT_ATTRIBUTES`) become those buyers' traits.

    >>> import networkx as nx
    >>> g = nx.Graph([("ann", "bo"), ("bo", "cy")])
    >>> g.nodes["bo"]["budget"] = 500
    >>> bg = from_networkx(g)
    >>> bg.labels.tolist(), bg.network.neighbours(1).tolist(), bg.traits["budget"].tolist()
    (['ann', 'bo', 'cy'], [0, 2], [nan, 500.0, nan])
    """
    nodes = list(graph)
    if not nodes:
        raise ScenarioError(f"{source} has no nodes; a buyer network needs at least one buyer")
    index = dict(zip(nodes, range(len(nodes)), strict=True))
    # edges() yields (u, v) pairs for every networkx graph class (multigraph keys left out)
    ends = np.fromiter(map(index.__getitem__, chain.from_iterable(graph.edges())),
                       dtype=np.int64, count=2 * graph.number_of_edges())
    node_data: dict[str, list[Any]] = {}
    for i, (_, data) in enumerate(graph.nodes(data=True)):
        for name, value in data.items():
            if name in TRAIT_ATTRIBUTES:
                node_data.setdefault(name, [None] * len(nodes))[i] = value
    return _graph_from_labelled_edges(ends, nodes, node_data, source)


MAX_FILE_SHARE_OF_MEMORY = 0.05
"""A network file may take up to this share of the available memory: loading one takes up to
about 20 bytes of memory per byte of file (measured on a million-node graph, peak memory over
file size: an edge list about 15, GraphML about 5)."""


def _check_file(path: str | Path) -> Path:
    """The file exists, is a regular file, and is small enough to load."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ScenarioError(f"network file {str(path)!r} does not exist (network.path is "
                            f"relative to the scenario or spec file)") from None
    except OSError as exc:
        raise ScenarioError(f"network file {str(path)!r} cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ScenarioError(f"network file {str(path)!r} is not a regular file; allowed: an "
                            f"edge list or GraphML file")
    if not os.access(path, os.R_OK):
        raise ScenarioError(f"network file {str(path)!r} cannot be read (permission denied)")
    if info.st_size == 0:
        raise ScenarioError(f"network file {str(path)!r} is empty; allowed: an edge list or "
                            f"GraphML file with at least one edge")
    limit = _available_memory() * MAX_FILE_SHARE_OF_MEMORY
    if info.st_size > limit:
        raise ScenarioError(f"network file {str(path)!r} is {info.st_size / 2**30:.1f} GiB; "
                            f"loading it needs about 20x that in memory and this machine has "
                            f"{_available_memory() / 2**30:.1f} GiB available")
    return path


def _available_memory() -> float:
    try:
        import psutil

        return float(psutil.virtual_memory().available)
    except Exception:  # psutil missing or unsupported platform: assume a modest machine
        return 4.0 * 2**30


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ScenarioError(f"{path}, line {line}: not UTF-8 text (byte {exc.start}); allowed: "
                            f"a UTF-8 text file") from None


def read_edgelist(path: str | Path) -> BuyerGraph:
    """An edge-list file: one edge per line as two node labels separated by spaces or tabs;
    ``#`` starts a comment; blank lines are skipped. Weights, headers or other columns are
    refused with the line that has them. Parsed by pandas' C reader (a million nodes in
    seconds); a file it cannot read as two columns is scanned line by line for the message."""
    import io

    import pandas as pd

    path = _check_file(path)
    text = _decode(path, path.read_bytes())
    read = dict(sep=r"\s+", header=None, comment="#", engine="c")
    try:  # the common case, integer labels: parsed as numbers, sorted by np.unique
        table = pd.read_csv(io.StringIO(text), dtype=np.int64, **read)
        if table.shape[1] == 2 and table.shape[0] > 0:
            labels, ends = np.unique(table.to_numpy().ravel(), return_inverse=True)
            return BuyerGraph(from_edges(labels.size, ends[0::2], ends[1::2]), labels, {},
                              str(path))
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        pass
    try:  # any text labels; only a missing field is NaN (a node may be called "NA")
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[],
                            **read)
    except (pd.errors.ParserError, pd.errors.EmptyDataError):
        table = None
    if table is None or table.shape[1] != 2 or table.shape[0] == 0 or table.isna().any(axis=None):
        _explain_bad_edgelist(path, text)
    ends, labels = pd.factorize(table.to_numpy().ravel())  # row by row: first-appearance order
    labels = labels.tolist()
    _refuse_header(path, text, labels)
    return _graph_from_labelled_edges(ends.astype(np.int64), labels, {}, str(path))


def _explain_bad_edgelist(path: Path, text: str) -> None:
    """Find the line that makes ``text`` not an edge list, and say so."""
    numbered = [(number, line.split("#", 1)[0].split())
                for number, line in enumerate(text.splitlines(), start=1)]
    numbered = [(number, fields) for number, fields in numbered if fields]
    if not numbered:
        raise ScenarioError(f"{path}: no edges (only blank lines or comments); allowed: two "
                            f"node labels per line")
    for number, fields in numbered:
        if len(fields) != 2:
            raise ScenarioError(
                f"{path}, line {number}: {' '.join(fields)!r} has {len(fields)} fields; allowed: "
                f"exactly two node labels per line (an unweighted edge list: remove weights or "
                f"other columns)")
    raise ScenarioError(f"{path}: not an edge list; allowed: two node labels per line")


def _refuse_header(path: Path, text: str, labels: list[str]) -> None:
    """A first line of words above lines of numbers is a header, not an edge."""
    lines = (line.split("#", 1)[0].split() for line in text.splitlines())
    number, first = next((n, fields) for n, fields in enumerate(lines, start=1) if fields)
    if len(labels) > 2 and not all(f.lstrip("-").isdigit() for f in first) and all(
            label.lstrip("-").isdigit() for label in labels if label not in first):
        raise ScenarioError(f"{path}, line {number}: {' '.join(first)!r} looks like a header; "
                            f"allowed: edges only (delete the line or start it with '#')")


def read_graphml(path: str | Path) -> BuyerGraph:
    """A GraphML file, read as a stream. Node ``<data>`` whose key's ``attr.name`` (or id) is a
    buyer trait becomes that trait, the key's ``<default>`` filling in for nodes without it;
    other data is ignored; edges count as undirected. Buyers are the node ids and edge ends in
    order of first appearance (a node counts when it closes), integer ids sorted numerically.

    Fast because no element objects are built (:func:`_scan_graphml`: expat's callbacks, an
    edge costing two list appends), and the ids are numbered afterwards with whole arrays:
    plain integer ids (most files) by value, others in one pandas factorize."""
    import pandas as pd

    path = _check_file(path)
    ids, node_at, found, keys = _scan_graphml(path)
    if not ids:
        raise ScenarioError(f"{path}: no nodes; allowed: a GraphML file with at least one node")
    numbers = _plain_integers(ids)
    if numbers is not None:  # buyers in numeric order, as _ordered_labels would put them
        labels, index = _rank_integers(numbers)
    else:
        index, labels = pd.factorize(np.array(ids, dtype=object))  # order of first appearance
    is_end = np.ones(len(ids), dtype=bool)
    is_end[node_at] = False
    ends = index[is_end].astype(np.int64, copy=False)  # source, target, source, target, ...
    node_data: dict[str, np.ndarray] = {}
    for trait, (places, texts) in found.items():
        nodes, texts = index[places], np.array(texts, dtype=object)
        if np.bincount(nodes).max() > 1:  # a node given twice: its last value counts
            nodes, last = np.unique(nodes[::-1], return_index=True)
            texts = texts[::-1][last]
        node_data[trait] = np.full(labels.size, None, dtype=object)
        node_data[trait][nodes] = texts
    for trait, default in keys.values():
        if trait in node_data and default is not None:
            node_data[trait][np.equal(node_data[trait], None)] = default
    if numbers is not None:
        return _buyer_graph(labels, ends, node_data, str(path))
    return _graph_from_labelled_edges(ends, labels.tolist(), node_data, str(path))


_POWERS_OF_TEN = 10 ** np.arange(1, 19, dtype=np.int64)


def _plain_integers(texts: list[str]) -> np.ndarray | None:
    """``texts`` as int64 if every one is an integer written plainly ("12", "-3"; not "012",
    "+3", " 3", "1_2" or other digits than ASCII), so that equal numbers are equal texts."""
    joined = "".join(texts)
    if not joined.isascii():
        return None
    try:
        numbers = np.fromiter(map(int, texts), dtype=np.int64, count=len(texts))
    except (ValueError, OverflowError):
        return None
    # int() reads other spellings too, but each is longer than the plain one: if the lengths
    # add up, every text is plain (the most negative int64 counts short: never taken as plain)
    plain = np.searchsorted(_POWERS_OF_TEN, np.abs(numbers), side="right") + 1 + (numbers < 0)
    return numbers if int(plain.sum()) == len(joined) else None


def _rank_integers(numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``numbers`` in increasing order, and each number's place among them."""
    low, high = int(numbers.min()), int(numbers.max())
    if high - low > 4 * numbers.size:  # sparse: sort them
        return np.unique(numbers, return_inverse=True)
    present = np.zeros(high - low + 1, dtype=bool)  # dense (labels 0..n-1): no sort needed
    present[numbers - low] = True
    return np.flatnonzero(present) + low, (np.cumsum(present) - 1)[numbers - low]


_TraitTexts = dict[str, tuple[list[int], list[str | None]]]
"""Per trait, the places of the nodes that have it (in the list of ids) and its texts."""


def _scan_graphml(path: Path) -> tuple[list[str], list[int], _TraitTexts, dict[str, list[Any]]]:
    """What :func:`read_graphml` needs from the file, in one pass of expat (the C parser under
    ElementTree) without building elements: expat hands each start tag with its attributes to
    one callback, and an edge, most of a network file, costs two list appends. Closing tags
    and text are asked for only inside a ``<node>`` or ``<key>``, where a node's data has to be
    told from the next node's and a key's default read.

    Returns the node ids (each when its node closes) and edge ends (source, target) in file
    order; where each node id sits among them; per trait, the places of the nodes that have it
    and the texts; and the node keys named like traits (key id -> [trait, default text])."""
    # "}" as ElementTree: tags come as "uri}name" (or "name"), and an unbound prefix is an error
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True  # a data element's text in one piece
    local_names: dict[str, str] = {}  # tag as expat gives it -> name without the namespace
    keys: dict[str, list[Any]] = {}
    ids: list[str] = []
    node_at: list[int] = []
    found: _TraitTexts = {}
    # The elements open inside the outermost open <node> or <key>, each [name, what it belongs
    # to, its text so far]; empty elsewhere, and then no closing tags are asked for.
    inside: list[list[Any]] = []

    def local_name(tag: str) -> str:
        name = local_names[tag] = tag.rpartition("}")[2]
        return name

    def without(attribute: str) -> ScenarioError:
        what = "a <node>" if attribute == "id" else "an <edge>"
        return ScenarioError(f"{path}, line {parser.CurrentLineNumber}, column "
                             f"{parser.CurrentColumnNumber}: {what} without {attribute!r}; "
                             f"allowed: nodes with an id, edges with a source and a target")

    def start(tag: str, attrs: dict[str, str]) -> None:
        name = local_names.get(tag) or local_name(tag)
        if name == "edge":
            try:  # costs nothing unless raised
                ids.append(attrs["source"])
                ids.append(attrs["target"])
            except KeyError as missing:
                raise without(missing.args[0]) from None
            if not inside:
                return
        elif not inside and name != "node" and name != "key":
            return  # <graphml>, <graph> and data outside nodes: nothing to keep
        parser.CharacterDataHandler = None  # text after a child element is not the data's
        parent = inside[-1] if inside else None
        item = [name, None, None]
        if name == "node":
            if "id" not in attrs:
                raise without("id")
            item[1] = [attrs["id"], []]  # the node's id and its (trait, text) pairs
        elif name == "key" and attrs.get("for", "all") in ("node", "all"):
            trait = attrs.get("attr.name", attrs.get("id"))
            if trait in TRAIT_ATTRIBUTES:
                item[1] = keys[attrs.get("id")] = [trait, None]
        elif name == "data" and parent[0] == "node":
            key = keys.get(attrs.get("key"))
            if key is not None:
                item[1], item[2] = (parent[1][1], key[0]), []
        elif name == "default" and parent[0] == "key" and parent[1] is not None:
            item[1], item[2] = parent[1], []
        if item[2] is not None:
            parser.CharacterDataHandler = item[2].append
        inside.append(item)
        parser.EndElementHandler = end

    def end(tag: str) -> None:
        name, belongs, text = inside.pop()
        if text is not None:
            parser.CharacterDataHandler = None
            text = "".join(text) or None  # an empty element has no text, as in ElementTree
        if name == "node":
            node_id, data = belongs
            place = len(ids)
            node_at.append(place)
            ids.append(node_id)
            for trait, value in data:
                places, texts = found.setdefault(trait, ([], []))
                places.append(place)
                texts.append(value)
        elif name == "data" and belongs is not None:
            data, trait = belongs
            data.append((trait, text))
        elif name == "default" and belongs is not None and belongs[1] is None:
            belongs[1] = text
        if not inside:
            parser.EndElementHandler = None

    parser.StartElementHandler = start
    try:
        with path.open("rb") as file:
            parser.ParseFile(file)
    except expat.ExpatError as exc:
        raise ScenarioError(f"{path}, line {exc.lineno}, column {exc.offset}: not valid GraphML "
                            f"({expat.ErrorString(exc.code)}); allowed: a GraphML file") from None
    return ids, node_at, found, keys


_READERS = {"edgelist": read_edgelist, "graphml": read_graphml}


def load_network_file(kind: str, path: str | Path) -> BuyerGraph:
    """A network file, read once and kept while it is unchanged (size and modification time)."""
    resolved = Path(path).resolve()
    try:
        info = resolved.stat()
        version = (info.st_size, info.st_mtime_ns)
    except OSError:
        version = None
    return _load_cached(kind, str(resolved), version)


@functools.lru_cache(maxsize=4)
def _load_cached(kind: str, path: str, version: tuple[int, int] | None) -> BuyerGraph:
    return _READERS[kind](path)
