"""The phases of a day, one module each, in the order :func:`sim.engine.day.run_day` runs them.

Each phase selects the ties it acts on, reads their state, calls the named rules of
:mod:`sim.rules` with the rule parameters of each tie's run, and writes the results back. A phase
holds no mathematics of its own: schedules (who is due today), bookkeeping and random draws.
"""
