"""Sizes against this machine: what a scenario needs, estimated before anything is allocated.

:func:`load_scenario <sim.config.load_scenario>` calls :func:`check_scenario` on every scenario
it returns, so a run, a sweep's checks, the app and validation all refuse a scenario this machine
cannot hold, or whose network would take minutes to build, with one message naming the file, the
fields, the values and what to change. Nothing is allocated to find out: the estimate is
arithmetic on the scenario's sizes (buyers, sellers, the network's expected ties).

The constants are measured peaks of a run (``ReciprocityModel(...).step()``, numpy 2.5) rounded
up: the tie state and a day's working arrays, the CSR network with the temporaries of its
construction, the buyers' traits and reach orders. Use :func:`estimate` to see the figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.errors import ScenarioError

BYTES_PER_TIE = 250
"""A seller-buyer tie: its state (~100 bytes), its place in the reach order, and the day's
working arrays when every tie is acted on at once (measured peak: ~220)."""
BYTES_PER_EDGE = 90
"""A network tie: both directions in the CSR arrays and the temporaries of building them
(measured peak: 45 to 90)."""
BYTES_PER_BUYER = 150
"""A buyer's traits, network row and search state."""

ALWAYS_FITS = 64 * 2**20
"""Below this estimate the memory is not looked up (it costs more than a small load)."""

BARABASI_ALBERT_MAX_EDGES = 3_000_000
"""networkx's scale-free generator builds a Python graph first (~15 s and ~2 GiB for 3 million
ties, a million buyers with m = 3); beyond, it takes minutes."""
REACH_MAX_SECONDS = 60.0
"""Reaching buyers outward through a ring lattice (watts_strogatz with few shortcuts) takes one
pass over all buyers per step outward; refused when that would take longer than this."""
SECONDS_PER_BUYER_PASS = 10e-9
"""One buyer of one such pass (measured: ~8 ns)."""


@dataclass(frozen=True)
class Estimate:
    """What a scenario needs: its sizes and the memory they take at the peak of a run."""

    buyers: int
    ties: int
    """Seller-buyer ties: sellers x buyers."""
    edges: float
    """Expected network ties (undirected)."""

    @property
    def bytes(self) -> float:
        return (self.ties * BYTES_PER_TIE + self.edges * BYTES_PER_EDGE
                + self.buyers * BYTES_PER_BUYER)


def available_memory() -> float:
    """Bytes this process may still allocate (psutil's ``available``; 4 GiB if unknown)."""
    from sim.network import _available_memory

    return _available_memory()


def expected_edges(network, n: int) -> float:
    """Expected undirected ties of ``network`` (a ``NetworkSpec``) among ``n`` buyers, from its
    parameters; for a network file, the file's own ties."""
    pairs = n * (n - 1) / 2
    match network.kind:
        case "watts_strogatz":
            half = network.k // 2
            return float(n * min(half, (n - 1) // 2 or 1)) if n >= 2 and half > 0 else 0.0
        case "erdos_renyi":
            prob = network.mean_degree / max(n - 1, 1) if network.mean_degree > 0 else network.p
            return pairs * min(prob, 1.0)
        case "stochastic_block":
            inside = n * n / network.blocks / 2  # pairs within blocks, about
            return inside * network.p_in + max(pairs - inside, 0.0) * network.p_out
        case "barabasi_albert":
            return float(network.m * max(n - network.m, 0))
        case "complete":
            return pairs
    from sim.network import NETWORK_KINDS, load_network_file

    if NETWORK_KINDS[network.kind].from_file and network.path:
        return float(load_network_file(network.kind, network.path).network.n_edges)
    neighbours = network.mean_neighbours(n)
    return n * neighbours / 2 if neighbours else 0.0


def estimate(scenario, *, generated: bool = True) -> Estimate:
    """The sizes and peak memory of one run of ``scenario`` (a resolved ``Scenario``);
    ``generated=False``: its network is a graph handed over (already in memory).

    >>> from sim.config import load_scenario
    >>> e = estimate(load_scenario("pushy_vs_active", overrides={"buyers.n": 1000}))
    >>> e.ties, e.edges
    (2000, 5000.0)
    """
    n = scenario.buyers.n
    return Estimate(buyers=n, ties=n * len(scenario.sellers),
                    edges=expected_edges(scenario.network, n) if generated else 0.0)


def check_scenario(scenario, *, generated: bool = True) -> None:
    """Refuse (:class:`ScenarioError`) a scenario this machine cannot hold, or whose network
    would take minutes to build or to search, before anything is allocated. ``generated=False``:
    the buyers' network is a graph handed over, not the scenario's generator."""
    origin = scenario.source or scenario.name
    if generated:
        _check_generator(scenario, origin)
    needed = estimate(scenario, generated=generated)
    available = available_memory() if needed.bytes > ALWAYS_FITS else math.inf
    if needed.bytes > available:
        raise ScenarioError(f"{origin}: {_sizes(scenario, needed)} needs about "
                            f"{_human(needed.bytes)} of memory; this machine has "
                            f"{_human(available)} available. {_advice(scenario, needed)}")
    if generated:
        _check_reach(scenario, origin)


def _sizes(scenario, needed: Estimate) -> str:
    network = scenario.network
    from sim.network import NETWORK_KINDS

    parameters = ", ".join(f"network.{name} = {getattr(network, name)!r}"
                           for name in NETWORK_KINDS[network.kind].parameters)
    return (f"buyers.n = {needed.buyers:,} with {len(scenario.sellers)} sellers "
            f"({needed.ties:,} seller-buyer ties) on network.kind = {network.kind!r}"
            f"{' (' + parameters + ')' if parameters else ''}, about {needed.edges:,.0f} "
            f"network ties,")


def _advice(scenario, needed: Estimate) -> str:
    """What to change: the part that weighs most."""
    network = scenario.network
    if needed.edges * BYTES_PER_EDGE < needed.ties * BYTES_PER_TIE:
        return "Use fewer buyers (buyers.n) or fewer sellers."
    advice = {
        "erdos_renyi": ("set network.mean_degree (e.g. 10: each buyer's expected neighbours) "
                        "instead of network.p, which gives every buyer p x (buyers.n - 1)"
                        if network.mean_degree == 0 else "lower network.mean_degree"),
        "stochastic_block": "lower network.p_in and network.p_out (or use more blocks)",
        "watts_strogatz": "lower network.k",
        "barabasi_albert": "lower network.m",
        "complete": "use watts_strogatz or erdos_renyi with a mean_degree",
    }.get(network.kind, "use a smaller network")
    return f"Use fewer buyers (buyers.n), or {advice}."


def _check_generator(scenario, origin: str) -> None:
    """Generators that would take minutes at this size: refused, with the faster alternative."""
    from sim.network import COMPLETE_GRAPH_LIMIT

    network, n = scenario.network, scenario.buyers.n
    if network.kind == "complete" and n > COMPLETE_GRAPH_LIMIT:
        raise ScenarioError(f"{origin}: network.kind = 'complete' with buyers.n = {n:,}: allowed "
                            f"up to {COMPLETE_GRAPH_LIMIT:,} buyers (every pair is a tie); use "
                            f"watts_strogatz, or erdos_renyi with a large mean_degree")
    if network.kind == "barabasi_albert":
        if network.m >= n:
            raise ScenarioError(f"{origin}: network.m = {network.m}: must be below buyers.n = "
                                f"{n} (each new buyer ties to m earlier ones)")
        edges = expected_edges(network, n)
        if edges > BARABASI_ALBERT_MAX_EDGES:
            raise ScenarioError(
                f"{origin}: network.kind = 'barabasi_albert' with buyers.n = {n:,} and network.m "
                f"= {network.m}: {edges:,.0f} ties drawn by networkx's generator, which takes "
                f"minutes at this size (allowed: up to {BARABASI_ALBERT_MAX_EDGES:,} ties, about "
                f"a million buyers with m = 3). Use watts_strogatz or erdos_renyi (drawn in "
                f"numpy: a million buyers in about a second), or fewer buyers")


def _check_reach(scenario, origin: str) -> None:
    """Sellers reach buyers outward through the network, one pass over all buyers per step out
    from their first ties. A ring lattice with few shortcuts (watts_strogatz, small p) is
    ``n / (k x starts)`` steps across: at a million buyers that is minutes."""
    network, n = scenario.network, scenario.buyers.n
    if network.kind != "watts_strogatz" or n < 2:
        return
    neighbours = 2 * min(network.k // 2, (n - 1) // 2 or 1)
    if neighbours == 0:
        return  # no ties: reach orders are random permutations, no search
    shortcuts = network.p * n * neighbours / 2
    seconds = 0.0
    for seller in range(len(scenario.sellers)):
        reach = scenario.strategy_of(seller).reach
        starts = min(reach.initial, n)
        if reach.everyone or starts == 0:
            continue
        steps_out = n / (neighbours * max(starts, shortcuts, 1.0))
        seconds += steps_out * n * SECONDS_PER_BUYER_PASS
    if seconds > REACH_MAX_SECONDS:
        raise ScenarioError(
            f"{origin}: network.kind = 'watts_strogatz' with buyers.n = {n:,}, network.k = "
            f"{network.k} and network.p = {network.p:g} is a ring with few shortcuts: reaching "
            f"buyers outward through it would take about {_duration(seconds)}. Raise network.p "
            f"(e.g. 0.01: {0.01 * n * neighbours / 2:,.0f} shortcuts) or network.k, or use "
            f"fewer buyers")


def _human(size: float) -> str:
    """Bytes in binary units: ``1.5 GiB``."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024:
            return f"{size:.0f} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} PiB"


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{math.ceil(seconds / 60)} minutes"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} hours"
    return f"{seconds / 86400:,.0f} days"
