"""Calibration: targets from the literature, evaluating the model on them, and Bayesian fits.

- :mod:`sim.calibration.targets`: the ``[calibration]`` table of a scenario (targets, facts).
- :mod:`sim.calibration.evaluate`: the runs a set of targets needs, for many parameter sets and
  seeds at once (stacked engines), and the targets' statistics.
- :mod:`sim.calibration.fit`: the posterior of chosen parameters given targets (emcee).
"""
