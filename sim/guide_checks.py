"""A trainer guide's claims, checked by running the model with replications.

Every "thing to try" in a scenario's guide (``[guide] try``) makes a claim: change this, and
that happens. Each claim has a check beside it in the same file (``[[guide.checks]]``): the
change (``set``, dotted keys), and what must hold (``expect``) on the means over replications of
the metrics at the end of the run (or at ``steps``)::

    [[guide.checks]]
    try = 1                                   # the first "thing to try"
    set = { "rules.liking_weight" = 0.5 }
    expect = "tickets_bought@favor_unpleasant > 1.5 * was:tickets_bought@favor_unpleasant"

``expect`` compares arithmetic (``+ - * /``, parentheses, numbers) of terms, joined by ``and``::

    term: [was:]metric[strategy]@arm          (``[strategy]`` and ``@arm`` optional)

A term is the metric with the change made; ``was:`` the same without it (the scenario as
shipped); ``@arm`` the arm (the scenario as it is without one). The arms with and without the
change run on the same seeds (common random numbers). ``recip scenarios --check NAME`` prints
each claim with the values; ``tests/test_guides.py`` runs them all.
"""

from __future__ import annotations

import ast
import operator
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

TERM = re.compile(r"(?P<was>was:)?(?P<metric>[a-z_][a-z0-9_]*)(?:\[(?P<strategy>[\w-]+)\])?"
                  r"(?:@(?P<arm>[\w-]+))?")
DEFAULT_REPS = 6
_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
              ast.Div: operator.truediv, ast.Gt: operator.gt, ast.Lt: operator.lt,
              ast.GtE: operator.ge, ast.LtE: operator.le}


class ClaimError(ValueError):
    """An ``expect`` that does not parse or names what the scenario lacks."""


@dataclass(frozen=True)
class Term:
    name: str
    """The placeholder in the parsed expression."""
    metric: str
    strategy: str | None
    arm: str | None
    changed: bool

    @property
    def column(self) -> str:
        return f"{self.metric}[{self.strategy}]" if self.strategy else self.metric


@dataclass
class Claim:
    """One parsed ``expect``: its terms and its expression over them."""

    text: str
    terms: list[Term]
    tree: ast.Expression

    def holds(self, values: dict[str, float]) -> bool:
        return bool(_evaluate(self.tree.body, values))


def parse_claim(text: str) -> Claim:
    """``text`` parsed; its terms named ``t0, t1, ...``.

    >>> claim = parse_claim("a@x - was:a@x > 0.1 and b[s] < 2")
    >>> [(t.metric, t.strategy, t.arm, t.changed) for t in claim.terms]
    [('a', None, 'x', True), ('a', None, 'x', False), ('b', 's', None, True)]
    >>> claim.holds({"t0": 1.0, "t1": 0.5, "t2": 1.0})
    True
    """
    terms: list[Term] = []

    def name(match: re.Match) -> str:
        if match["metric"] == "and":
            return "and"
        term = Term(f"t{len(terms)}", match["metric"], match["strategy"], match["arm"],
                    not match["was"])
        terms.append(term)
        return term.name

    code = re.sub(r"(?<![\w.])" + TERM.pattern, name, text)
    try:
        tree = ast.parse(code, mode="eval")
    except SyntaxError:
        raise ClaimError(f"expect = {text!r}: not 'expression op expression' (op one of > < >= "
                         f"<=, joined by 'and')") from None
    _check_nodes(tree.body, text)
    if not isinstance(tree.body, ast.Compare | ast.BoolOp):
        raise ClaimError(f"expect = {text!r}: needs a comparison (> < >= <=)")
    return Claim(text, terms, tree)


def _check_nodes(node: ast.AST, text: str) -> None:
    allowed = (ast.BoolOp, ast.And, ast.Compare, ast.BinOp, ast.UnaryOp, ast.USub, ast.Constant,
               ast.Name, ast.Load, *_OPERATORS)
    for child in ast.walk(node):
        if not isinstance(child, allowed) or (isinstance(child, ast.Constant)
                                              and not isinstance(child.value, int | float)):
            raise ClaimError(f"expect = {text!r}: only numbers, metric terms, + - * /, "
                             f"parentheses, comparisons and 'and' are allowed")


def _evaluate(node: ast.AST, values: dict[str, float]) -> Any:
    if isinstance(node, ast.BoolOp):
        return all(_evaluate(v, values) for v in node.values)
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, values)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _evaluate(right_node, values)
            if not _OPERATORS[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.BinOp):
        return _OPERATORS[type(node.op)](_evaluate(node.left, values),
                                         _evaluate(node.right, values))
    if isinstance(node, ast.UnaryOp):
        return -_evaluate(node.operand, values)
    if isinstance(node, ast.Constant):
        return float(node.value)
    return values[node.id]


@dataclass
class CheckResult:
    """A claim checked: the guide's text, the change, the expectation and the values."""

    scenario: str
    item: int
    text: str
    change: dict[str, Any]
    expect: str
    reps: int
    values: dict[str, float] = field(default_factory=dict)
    """Each term as written (``was:metric@arm``) -> its mean over the replications."""
    passed: bool = False


def check_claims(name: str, *, reps: int | None = None, seed: int = 0,
                 items: list[int] | None = None) -> list[CheckResult]:
    """Run every check of scenario ``name``'s guide (or those of the 1-based ``items``)."""
    from sim.config import load_scenario

    scenario = load_scenario(name)
    return [check_one(scenario, check, reps=reps, seed=seed)
            for check in scenario.guide.checks
            if items is None or check.try_item in items]


def check_one(scenario: Any, check: Any, *, reps: int | None = None,
              seed: int = 0) -> CheckResult:
    from sim.runner import replication_seeds, run_many

    claim = parse_claim(check.expect)
    reps = reps or check.reps or DEFAULT_REPS
    seeds = replication_seeds(seed, reps)
    runs: dict[tuple[str | None, bool], set[str]] = {}
    for term in claim.terms:
        runs.setdefault((term.arm, term.changed), set()).add(term.column)
    means: dict[tuple[str | None, bool, str], float] = {}
    for (arm, changed), columns in runs.items():
        overrides = dict(check.set) if changed else None
        rows = run_many(scenario.source or scenario.name, arm=arm, steps=check.steps,
                        metrics=sorted(columns), runs=[(overrides, s) for s in seeds])
        for column in columns:
            means[arm, changed, column] = float(np.nanmean([run[-1][column] for run in rows]))
    values = {t.name: means[t.arm, t.changed, t.column] for t in claim.terms}
    shown = {_written(t): values[t.name] for t in claim.terms}
    text = scenario.guide.try_[check.try_item - 1]
    return CheckResult(scenario.name, check.try_item, text, dict(check.set), check.expect, reps,
                       shown, claim.holds(values))


def _written(term: Term) -> str:
    return (("was:" if not term.changed else "") + term.column
            + (f"@{term.arm}" if term.arm else ""))
