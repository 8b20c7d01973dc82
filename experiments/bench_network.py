"""Network boundary benchmark: a million-node graph handed to the model, or loaded from a file.

A Barabási-Albert graph (networkx, m = 3) of N nodes is made once and written as an edge list
and as GraphML with a buyer trait (``budget``) on every node; those are the fixtures, not timed.
Each measurement then runs in a fresh child process (its peak memory is the child's own):

- ``graph``: ``ReciprocityModel("pushy_vs_active", graph=G)`` with the networkx graph in memory
  (the graph is built in the child before the clock starts);
- ``edgelist`` / ``graphml``: ``ReciprocityModel(scenario)`` where the scenario's network is
  the file (``network.kind`` and ``network.path``), buyers.n following the file.

The time is the model's construction: conversion or parsing, checks, traits, the engine's set-up.
Target (reported, never asserted): under 15 s at 1,000,000 nodes.

Usage: python experiments/bench_network.py [--nodes 1000000] [--fixtures DIR] [--out FILE]
(``--fixtures``: keep the graph files in DIR and reuse them on the next run.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
START, END = "<!-- bench_network:start -->", "<!-- bench_network:end -->"
TARGET_SECONDS = 15.0
GiB = 2**30


def make_fixtures(nodes: int, folder: Path) -> dict[str, Path]:
    import networkx as nx

    paths = {"edgelist": folder / "graph.txt", "graphml": folder / "graph.graphml"}
    stamp = folder / f"done-{nodes}"
    if stamp.exists():
        return paths
    graph = nx.barabasi_albert_graph(nodes, 3, seed=1)
    for node in graph:
        graph.nodes[node]["budget"] = 100.0 + node % 400
    nx.write_edgelist(graph, paths["edgelist"], data=False)
    nx.write_graphml(graph, paths["graphml"])
    for kind, path in paths.items():
        (folder / f"{kind}.toml").write_text(
            f'[network]\nkind = "{kind}"\npath = "{path.name}"\n'
            '[[sellers]]\nname = "Pat"\nstrategy = "pushy"\n'
            '[[sellers]]\nname = "Alex"\nstrategy = "active"\n')
    stamp.write_text("")
    return paths


def measure(kind: str, nodes: int, folder: str) -> dict:
    from sim import ReciprocityModel

    if kind == "graph":
        import networkx as nx

        graph = nx.barabasi_albert_graph(nodes, 3, seed=1)
        began = time.perf_counter()
        model = ReciprocityModel("pushy_vs_active", graph=graph, rng=1)
    else:
        began = time.perf_counter()
        model = ReciprocityModel(Path(folder) / f"{kind}.toml", rng=1)
    seconds = time.perf_counter() - began
    model.step()
    return {"seconds": seconds, "buyers": model.config.buyers.n}


def child(kind: str, nodes: int, folder: Path) -> dict:
    request = json.dumps({"kind": kind, "nodes": nodes, "folder": str(folder)})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", request],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{kind} failed:\n{err}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_gib"] = usage.ru_maxrss * 1024 / GiB
    return result


def section(nodes: int, results: dict[str, dict], sizes: dict[str, int]) -> str:
    from bench_engine import machine, pass_fail

    labels = {"graph": "networkx graph in memory, `ReciprocityModel(..., graph=G)`",
              "edgelist": "edge-list file", "graphml": "GraphML file with a trait per node"}
    lines = [START, "## Network boundary (`experiments/bench_network.py`)", "",
             f"Machine: {machine()}.", "",
             f"A Barabási-Albert graph of {nodes:,} nodes (m = 3), handed over or loaded; the "
             "time is the model's construction (conversion or parsing, checks, traits, the "
             f"engine's set-up). Target under {TARGET_SECONDS:.0f} s.", "",
             "| input | file size | construction | peak memory | target |", "|---|---:|---:|---:|---|"]
    for kind, result in results.items():
        size = f"{sizes[kind] / 2**20:,.0f} MiB" if kind in sizes else "-"
        lines.append(f"| {labels[kind]} | {size} | {result['seconds']:.1f} s | "
                     f"{result['peak_gib']:.2f} GiB | "
                     f"**{pass_fail(result['seconds'] < TARGET_SECONDS)}** |")
    lines.append(END)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=HERE / "BENCHMARKS.md")
    parser.add_argument("--fixtures", type=Path, help="folder to keep (and reuse) the graph files")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--fixtures-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fixtures_only:
        make_fixtures(args.nodes, args.fixtures)
        return
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(measure(spec["kind"], spec["nodes"], spec["folder"])), flush=True)
        return
    sys.path.insert(0, str(HERE))
    from bench_engine import write

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.fixtures or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"making (or reusing) a {args.nodes:,}-node graph and its files ...", flush=True)
        # in a child of its own: a child's peak memory (ru_maxrss) starts from what its parent
        # held when it was started, so this process must never hold the graph
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--fixtures-only",
                        "--nodes", str(args.nodes), "--fixtures", str(folder)], check=True)
        paths = make_fixtures(args.nodes, folder)  # made by the child: only their paths here
        sizes = {kind: path.stat().st_size for kind, path in paths.items()}
        results = {}
        for kind in ("graph", "edgelist", "graphml"):
            results[kind] = child(kind, args.nodes, folder)
            assert results[kind]["buyers"] == args.nodes
            print(f"{kind}: {results[kind]['seconds']:.1f} s, peak "
                  f"{results[kind]['peak_gib']:.2f} GiB", flush=True)
    write(args.out, section(args.nodes, results, sizes))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
