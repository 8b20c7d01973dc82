"""Parameter sweeps: a spec file, many replicated runs, nothing lost when interrupted.

Commands::

    recip sweep SPEC.toml [--workers N] [--scheduler ADDRESS|local] [--resume] [--retry-failed]
                          [--seed N] [--out DIR]
    recip analyze OUT_DIR

The spec file
-------------
A TOML file with two tables. Every key, with its default::

    [sweep]
    scenario = "pushy_vs_active"  # required: a shipped scenario's name, or a path to a .toml
                                  #   file (relative paths: relative to the spec file)
    arm = "..."                   # default: none; one of the scenario's arms
    steps = 120                   # default: the scenario's own horizon (its `steps`); at most
                                  #   100,000, as in scenarios
    replications = 4              # default 1: runs per design point
    seed = 1                      # default 0: base seed of replications and of the sampler
                                  #   (0 to 2**63 - 1; `recip sweep --seed N` replaces it)
    metrics = ["conversion_rate", "revenue[active]"]
                                  # required: metric names, or name[strategy] for the sellers
                                  #   following one strategy (the scenario's metrics are checked)
    every = 0                     # default 0: record the final step only; k: steps k, 2k, ...
                                  #   and the last
    batch = 8                     # default: automatic (about 8 tasks per worker, at most 32
                                  #   runs per task); runs per task and per chunk file (at
                                  #   most 10,000). A task's runs are stacked in engines where
                                  #   they may be (sim.runner.run_many): same rows, faster
    set = { "buyers.n" = 500 }    # default {}: fixed overrides for every run (dotted keys)

    [design]
    kind = "grid"                 # required: grid | list | lhs | sobol | morris
    samples = 64                  # lhs: number of points; sobol: N, giving N*(D+2) points
                                  #   (N*(2D+2) with second_order; N a power of two); morris:
                                  #   trajectories, giving N*(D+1) points. Required for these
                                  #   three kinds, not allowed for grid and list
    levels = 4                    # morris only, default 4: grid levels of the trajectories
                                  #   (even, 2 to 100)
    second_order = false          # sobol only, default false: also sample for S2 indices

    [design.parameters]           # grid: a list of values per parameter (full factorial)
    "buyers.n" = [100, 200]
    "network.kind" = ["watts_strogatz", "erdos_renyi"]   # strings and booleans too

    # lhs, sobol, morris: bounds per parameter instead of lists
    # "strategies.active.gift.value" = { low = 0.5, high = 5.0 }
    # "strategies.active.ask.delay" = { low = 0, high = 21 }  # integer bounds: rounded

    # list: one [[design.points]] table per point (every point sets the same parameters)
    # [[design.points]]
    # "buyers.n" = 100
    # "network.kind" = "complete"

Parameter names are the dotted override keys of ``recip run --set`` ("buyers.n",
"buyers.detection_skill.mean", "network.kind", "strategies.active.gift.value"...); quote them,
or TOML reads ``buyers.n = [1]`` as nested tables (which is accepted too). Grid values of one
parameter must be all numbers, all strings or all booleans. In continuous designs a parameter
whose bounds are both integers is rounded to the nearest integer after sampling (halves to
even); write ``1.0`` to keep it continuous. A parameter is either fixed (``sweep.set``) or
varied (the design), not both. Network files (``"network.path"`` in ``set``, a grid or points)
are relative to the spec's folder, whatever the working directory; rows keep the path as
written.

Limits: every number finite (``nan`` and ``inf`` are refused), counts whole numbers; at most
1,000,000 design points and 1,000,000 runs (points x replications), counted before any point is
built; at most 100 parameters and 200 metrics; the file at most 1 MiB of UTF-8 TOML. The file is
checked before any run: the scenario, arm, every parameter at its extreme values, every network
file (it exists, is a readable regular file, and its network builds) and every metric; an error
names the file, the field, the value and what is allowed, and exits with code 2.

Runs, seeds and rows
--------------------
Design points are numbered in order: a grid varies the last parameter fastest; sampled designs
follow the sampler's order (SALib for Sobol and Morris, ``scipy.stats.qmc.LatinHypercube`` for
lhs, all seeded with ``seed``). Replication ``r`` uses the same seed at every design point
(common random numbers): the int
``SeedSequence(seed).spawn(replications)[r].generate_state(1, uint64)[0] >> 1``. Run ids are
``point * replications + replication``.

Every output row has ``run_id``, ``point``, ``replication``, ``seed``, one column per varied
parameter (named as in the spec; the fixed ``set`` values are in the manifest), ``step``, one
float column per metric, and ``error`` and ``traceback`` (null unless the run raised; a failed
run has one row, with no step nor metrics).
The same spec gives the same rows whatever the number of workers, the batch size or the backend.

The output folder
-----------------
``OUT/chunks/chunk-*.parquet``: one file per finished batch, written atomically (a temp name in
the same folder, then ``os.replace``), all with the same schema. ``OUT/manifest.json`` (atomic,
strict JSON): the spec and its fingerprint, the resolved model (below), the seed rule, counts,
status (running, complete, incomplete, interrupted, failed), the provenance of the latest
session (:mod:`sim.provenance`: recip version and git commit, library versions, command line,
SHA-256 of the spec, the scenario, ``_defaults.toml``, ``_strategies.toml`` and network files)
and one entry per session with its own provenance, timing, backend, workers and batch size.
``OUT/errors.csv``: the runs that raised, with their parameters and error.

``--resume`` reads the run ids already in the chunks and runs the rest. It refuses a folder
holding a different spec (naming the changed fields) or a different resolved model: the
scenario as every run starts from it, after the scenario file, ``_defaults.toml``,
``_strategies.toml``, the arm and ``set``, with network files by content
(:mod:`sim.sweep.resolved`); the message names the changed keys (``rules.debt_weight: 1.93 ->
2.5``). Runs that raised count as finished; ``--retry-failed`` (a resume) runs them again, for
when their cause is fixed. Without ``--resume`` a non-empty folder is refused; a folder another
sweep is writing (``OUT/.lock``, released by the system even when that sweep is killed) is
refused too. Default folder: ``results/sweeps/<spec name>``.

Execution
---------
Local worker processes by default (all cores, ``--workers N``); ``--scheduler local`` starts a
Dask ``LocalCluster``; ``--scheduler tcp://HOST:PORT`` uses a running Dask cluster (its workers
need the same recip). Dask is the optional extra ``recip[dask]``. A terminal shows a progress
bar with counts, rate and ETA; otherwise a line every 30 s and at the end. Ctrl-C (or SIGTERM)
stops cleanly and a killed sweep loses only the batches in flight; ``--resume`` goes on. Local
worker processes exit when the sweep's process dies, however it dies (SIGKILL included).
Exit codes: 0 done; 2 a user error (spec, option, folder, scheduler: one message, no
traceback); 3 aborted (workers kept dying, the cluster failed, the output folder could not be
written, e.g. a full disk: the runs finished before are saved and ``--resume`` goes on); 4
finished, but some runs raised (every other row is written; they are in ``errors.csv``); 1 an
unexpected error (one line; ``RECIP_DEBUG=1`` shows the traceback); 130 interrupted.

Analysis
--------
``recip analyze OUT`` reads the final step of every finished run and writes the folder
``OUT/analysis`` (built beside it and moved into place at the end: never half an analysis):
``summary.csv`` (per design point: parameters, runs, failures, and for each metric the mean and
a 95% t-interval over replications), ``REPORT.md`` (with the sweep's provenance), and figures in
``figures/``. Sampled designs get a sensitivity analysis from the replication means per point
(``sensitivity.csv``, a table per metric and bar charts): Sobol S1 and ST with 95% confidence
(SALib), Morris mu*, its confidence and sigma (SALib), Latin hypercube partial rank correlation
coefficients (PRCC) with p-values and 95% intervals, plus scatter plots of each metric against
each parameter. A metric that is constant or near-constant over the design is not analysed, and
one that takes one value almost everywhere, is mostly replication noise, or gives Sobol indices
outside [0, 1] beyond sampling error gets a warning (printed and in the report) instead of
indices to be read as results (:mod:`sim.sweep.sensitivity`). Grids and lists over two or more
parameters get a heatmap of each metric over two parameters (the first two numeric ones when
there are two, averaged over the others), and grids a plot of each metric against the first
numeric parameter.

Example, a shorter ``experiments/pushy_vs_active_detection.toml``::

    [sweep]
    scenario = "pushy_vs_active"
    steps = 120
    replications = 6
    seed = 2026
    metrics = ["conversion_rate[pushy]", "conversion_rate[active]"]
    set = { "buyers.n" = 500, "network.mean_degree" = 10.0, "network.m" = 5 }

    [design]
    kind = "grid"

    [design.parameters]
    "buyers.detection_skill.mean" = [0.1, 0.3, 0.5, 0.7, 0.9]
    "network.kind" = ["watts_strogatz", "barabasi_albert", "erdos_renyi"]

Python API: :func:`load_spec`, :func:`run_sweep`, :func:`read_results`, :func:`analyze_sweep`.
"""

from sim.sweep.spec import SweepSpec, SweepSpecError, load_spec, parse_spec

__all__ = ["SweepSpec", "SweepSpecError", "analyze_sweep", "load_spec", "parse_spec",
           "read_results", "run_sweep"]


def __getattr__(name: str):
    # The runner and the analysis import heavier modules (pyarrow, SALib, matplotlib): load them
    # only when used, so that `import sim.sweep.spec` stays light.
    if name == "run_sweep":
        from sim.sweep.execute import run_sweep
        return run_sweep
    if name == "read_results":
        from sim.sweep.store import read_results
        return read_results
    if name == "analyze_sweep":
        from sim.sweep.analyze import analyze_sweep
        return analyze_sweep
    raise AttributeError(f"module 'sim.sweep' has no attribute {name!r}")
