"""The package's structure: no import cycles between its modules; no rule the model does not use."""

import ast
import inspect
import re
from pathlib import Path

SIM = Path(__file__).resolve().parent.parent / "sim"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SIM.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path, modules: set[str]) -> set[str]:
    """Modules of the package imported when ``path`` is imported (not in functions, not under
    ``if TYPE_CHECKING``)."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in modules}
    return found


def test_no_import_cycles():
    paths = {_module_name(p): p for p in SIM.rglob("*.py")}
    graph = {name: _top_level_imports(path, set(paths)) - {name} for name, path in paths.items()}
    # a package's __init__ importing its own submodules is how packages work, not a cycle
    for name, deps in graph.items():
        graph[name] = {d for d in deps if not name.startswith(d + ".")}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append([*trail[trail.index(dep):], dep] if dep in trail else [node, dep])
            elif dep not in state:
                visit(dep, [*trail, dep])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, f"import cycles: {cycles}"


def test_every_rule_is_used_by_the_model():
    """``sim/rules.py`` is the model's mathematics: a rule that nothing calls would mislead whoever
    reads or changes it. Every public function there is called from the rest of the package, or
    by a rule that is."""
    from sim import rules

    functions = {name: rule.py_func for name, rule in vars(rules).items()
                 if hasattr(rule, "py_func") and rule.py_func.__module__ == rules.__name__
                 and not name.startswith("_")}
    assert len(functions) > 40, "the rules are compiled functions (rules.rule)"

    elsewhere = "\n".join(p.read_text() for p in SIM.rglob("*.py") if p.name != "rules.py")

    def called_in(text: str) -> set[str]:
        return {name for name in functions if re.search(rf"\b{name}\(", text)}

    used, frontier = set(), called_in(elsewhere)
    while frontier:
        used |= frontier
        body = "\n".join(inspect.getsource(functions[name]).split('"""', 2)[-1]
                         for name in frontier)  # the code, not the docstring's examples
        frontier = called_in(body) - used
    assert sorted(set(functions) - used) == []


def test_warm_up_compiles_every_kernel_of_the_day():
    """``python -m sim.warm`` (run by ``make setup``) leaves every phase's kernels compiled, so
    that no first run stalls on numba (checked in a fresh process: this one has run models)."""
    import subprocess
    import sys

    check = """
from sim.engine.phases import asks, churn, gifts, reach, responses, retaliation, word_of_mouth
from sim.warm import warm_up
warm_up()
kernels = [reach._widen, asks._due, asks._make_asks, responses._answer, gifts._due, gifts._give,
           churn._leave, retaliation._retaliate, word_of_mouth._refer,
           word_of_mouth._hear_warnings, word_of_mouth._hear_referrals]
print([k.py_func.__name__ for k in kernels if not k.signatures])
"""
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"
