"""Provenance: what made an output, in one JSON-ready dict.

Every output that records results (``recip run``'s ``summary.json``, ``recip validate``'s
``validation.json``, a sweep's ``manifest.json``, calibration results) stores
``provenance(...)`` under the key ``"provenance"``::

    from sim.provenance import provenance, scenario_inputs

    config = load_scenario("pushy_vs_active", overrides=overrides)
    record = provenance(inputs=scenario_inputs(config), overrides=overrides)
    summary["provenance"] = record

The dict, every value JSON-safe (strings, numbers, booleans, None, lists, dicts)::

    recip_version  the package version. In a git checkout (``sim`` imported from a work tree) it
                   is read from git now, in setuptools-scm's default scheme: ``X.Y.Z`` on a tag
                   ``vX.Y.Z`` with a clean tree, else ``X.Y.(Z+1).devN+gHASH`` (N commits since
                   the tag; before any tag, since the start, from ``fallback_version`` in
                   pyproject.toml) with ``.dYYYYMMDD`` appended when the tree is dirty. Outside
                   a checkout: the installed package's version.
    git            ``{"commit": full hash, "dirty": bool, "describe": git describe}`` in a
                   checkout (dirty: tracked files changed, as setuptools-scm counts it), else
                   None. ``{"error": ...}`` when git could not be asked.
    python         ``platform.python_version()``
    packages       versions of the libraries that decide results: mesa, numpy, numba, llvmlite,
                   pandas, scipy, networkx, SALib, pyarrow, pydantic (None when not installed)
    platform       ``platform.platform()``
    libm           the C library whose ``exp``, ``log`` and ``pow`` the compiled rules call
                   (``"glibc 2.36"``): runs on machines with the same one agree bit for bit
                   (README, the Python API's ``rng``)
    numpy_math     the CPU code path numpy runs for float64 ``exp``, ``log`` and ``power`` on
                   this machine, e.g. ``{"exp": "X86_V4", ...}`` (AVX-512) or ``"X86_V3"``
                   (AVX2), from ``numpy.lib.introspect.opt_func_info``. The model does not use
                   it (its rules are compiled); numpy's own statistics of the results (means,
                   intervals) do. ``{"error": ...}`` when numpy cannot say.
    timestamp      now, UTC, ISO 8601 with seconds (``2026-11-24T11:07:38Z``)
    command_line   the command, shell-quoted (``recip sweep spec.toml --out x``)
    cwd            the working directory (relative paths in the command line are against it)
    overrides      the overrides given (``--set`` values as a dict, or a sweep's ``set``), or {}
    inputs         one entry per input file: ``{"role", "path" (absolute), "sha256", "bytes"}``;
                   a file that cannot be read has ``"sha256": None`` and ``"error"``

Functions: :func:`provenance` (the dict), :func:`scenario_inputs` (a resolved scenario's input
files: the scenario, ``_defaults.toml``, ``_strategies.toml``, its network file),
:func:`libm`, :func:`numpy_math_paths`, :func:`file_sha256`, :func:`package_version` and :func:`git_state`.

Cost: a few git calls and package metadata reads, some tens of milliseconds, paid once per
command by the process that writes the output; this module is never imported by sweep workers.
"""

from __future__ import annotations

import hashlib
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["file_sha256", "git_state", "libm", "numpy_math_paths", "package_version", "provenance",
           "scenario_inputs"]

MATH_FUNCTIONS = ("exp", "log", "power")
"""The transcendental functions the rules use (``sim/rules.py``: ``np.exp``, ``np.log``, ``**``)."""

PACKAGES = ("mesa", "numpy", "numba", "llvmlite", "pandas", "scipy", "networkx", "SALib",
            "pyarrow", "pydantic")
"""Libraries whose versions are recorded: the ones whose behaviour can change a result."""

GIT_TIMEOUT = 10.0
"""Seconds a git query may take; a slow network file system must not hang an output."""

_TAG = re.compile(r"^v?(?P<release>\d+(?:\.\d+)*)$")
_HASH_LENGTH = 9  # as setuptools-scm: "g" and 9 hex digits


def provenance(*, inputs: Mapping[str, Any] | None = None,
               overrides: Mapping[str, Any] | Sequence[str] | None = None,
               argv: Sequence[str] | None = None) -> dict[str, Any]:
    """The provenance dict of an output (fields in the module docstring).

    ``inputs`` maps a role to a path or a list of paths, e.g.
    ``{**scenario_inputs(config), "sweep spec": "study.toml"}``; ``overrides`` are recorded as
    given (a dict of dotted keys, or a list of ``key=value`` strings); ``argv`` defaults to
    ``sys.argv``.

    >>> record = provenance(overrides={"buyers.n": 500}, argv=["recip", "run", "x y"])
    >>> record["command_line"], record["overrides"], record["inputs"]
    ("recip run 'x y'", {'buyers.n': 500}, [])
    """
    argv = list(sys.argv if argv is None else argv)
    if argv:
        argv[0] = Path(argv[0]).name  # "recip", not the venv's absolute path
    root = checkout_root()
    return {
        "recip_version": package_version(root),
        "git": None if root is None else git_state(root),
        "python": platform.python_version(),
        "packages": package_versions(),
        "platform": platform.platform(),
        "libm": libm(),
        "numpy_math": numpy_math_paths(),
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command_line": shlex.join(argv),
        "cwd": os.getcwd(),
        "overrides": _overrides(overrides),
        "inputs": input_records(inputs or {}),
    }


def libm() -> str:
    """The C library the compiled rules take ``exp``, ``log`` and ``pow`` from (numba calls the
    process's own), e.g. ``"glibc 2.36"``.

    >>> isinstance(libm(), str)
    True
    """
    name, release = platform.libc_ver()
    return f"{name} {release}" if name else f"the C library of {platform.system() or 'unknown'}"


def numpy_math_paths() -> dict[str, str]:
    """Which CPU code path numpy dispatches to for the rules' float64 :data:`MATH_FUNCTIONS`
    here (``"X86_V4"``: AVX-512; ``"X86_V3"``: AVX2; ``"baseline(...)"``: the C library's).

    >>> sorted(numpy_math_paths())
    ['exp', 'log', 'power']
    """
    try:
        from numpy.lib.introspect import opt_func_info

        info = opt_func_info(func_name="^(" + "|".join(MATH_FUNCTIONS) + ")$", signature="float64")
        return {name: next(iter(signatures.values()))["current"]
                for name, signatures in sorted(info.items())}
    except Exception as error:  # an older or unusual numpy build: say so, do not fail an output
        return {"error": f"{type(error).__name__}: {error}"}


def scenario_inputs(scenario: Any) -> dict[str, Path | list[Path]]:
    """The files a resolved :class:`sim.config.Scenario` was made from: the scenario file
    (when it came from one), ``_defaults.toml``, ``_strategies.toml`` and its network file
    (edgelist or graphml), by role."""
    from sim.paths import scenarios_dir

    shipped = scenarios_dir()
    files: dict[str, Path | list[Path]] = {}
    if getattr(scenario, "source", ""):
        files["scenario"] = Path(scenario.source)
    files["defaults"] = shipped / "_defaults.toml"
    files["strategies"] = shipped / "_strategies.toml"
    network = scenario.network
    if network.kind in ("edgelist", "graphml") and network.path:
        files["network"] = Path(network.path)
    return files


def input_records(inputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One record per file, in the order given: role, absolute path, SHA-256 and size."""
    records = []
    for role, value in inputs.items():
        paths = [value] if isinstance(value, str | os.PathLike) else list(value)
        for path in paths:
            records.append({"role": role, **_file_record(Path(path))})
    return records


def _file_record(path: Path) -> dict[str, Any]:
    absolute = str(path.resolve()) if path.exists() else str(path.absolute())
    try:
        if not path.is_file():
            raise OSError("not a regular file" if path.exists() else "no such file")
        return {"path": absolute, "sha256": file_sha256(path), "bytes": path.stat().st_size}
    except OSError as exc:
        return {"path": absolute, "sha256": None, "error": exc.strerror or str(exc)}


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, as hex (read in blocks: any size)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_versions() -> dict[str, str | None]:
    """Installed versions of :data:`PACKAGES` (metadata only: nothing is imported)."""
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def _overrides(overrides: Mapping[str, Any] | Sequence[str] | None) -> Any:
    if overrides is None:
        return {}
    if isinstance(overrides, Mapping):
        return {str(k): _plain(v) for k, v in overrides.items()}
    return [str(item) for item in overrides]


def _plain(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, non-finite floats to their text."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # strict JSON has no NaN or Infinity; keep what was given, as text
    return value


# --- version and git ----------------------------------------------------------------------------


def checkout_root() -> Path | None:
    """The git work tree ``sim`` is imported from, or None (an installed package).

    Only the folder holding this very ``sim`` counts: a wheel installed in a virtual environment
    that happens to sit inside a checkout is not that checkout's code.
    """
    root = Path(__file__).resolve().parent.parent
    if (root / ".git").exists() and (root / "pyproject.toml").is_file():
        return root
    return None


def package_version(root: Path | None = None) -> str:
    """The version of the running code: from git in a checkout, else the installed metadata
    (see the module docstring for the scheme). ``root`` defaults to :func:`checkout_root`."""
    root = checkout_root() if root is None else root
    if root is not None:
        version = git_version(root)
        if version is not None:
            return version
    return installed_version()


def installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("recip")
    except PackageNotFoundError:
        return "0.0.0+unknown"


def git_state(root: Path) -> dict[str, Any]:
    """``{"commit", "dirty", "describe"}`` of the work tree at ``root``, or ``{"error"}``."""
    try:
        commit = _git(root, "rev-parse", "--verify", "HEAD")
        dirty = bool(_git(root, "status", "--porcelain", "--untracked-files=no"))
        describe = _git(root, "describe", "--tags", "--always", "--dirty", "--long")
    except GitError as exc:
        return {"error": str(exc)}
    return {"commit": commit, "dirty": dirty, "describe": describe}


def git_version(root: Path) -> str | None:
    """The setuptools-scm-style version of the work tree at ``root``, or None if git fails.

    >>> _version_string("1.2.0", 0, "ab" * 20, dirty=False, day="20260101")
    '1.2.0'
    >>> _version_string("1.2.0", 3, "ab" * 20, dirty=True, day="20260101")
    '1.2.1.dev3+gababababa.d20260101'
    """
    try:
        commit = _git(root, "rev-parse", "--verify", "HEAD")
        dirty = bool(_git(root, "status", "--porcelain", "--untracked-files=no"))
        tag, distance = _last_tag(root)
    except GitError:
        return None
    if tag is None:
        tag = _fallback_version(root)
        distance = int(_git(root, "rev-list", "--count", "HEAD"))
    return _version_string(tag, distance, commit, dirty=dirty,
                           day=_source_date().strftime("%Y%m%d"))


def _last_tag(root: Path) -> tuple[str | None, int]:
    """The nearest version tag (``v1.2.0`` or ``1.2.0``) and the commits since it."""
    try:
        described = _git(root, "describe", "--tags", "--long", "--abbrev=40", "--match",
                         "*[0-9]*")
    except GitError:
        return None, 0  # no tag yet
    tag, distance, _node = described.rsplit("-", 2)
    release = _TAG.match(tag)
    return (release["release"] if release else None), int(distance)


def _version_string(release: str, distance: int, commit: str, *, dirty: bool, day: str) -> str:
    if distance == 0 and not dirty:
        return release
    parts = release.split(".")
    parts[-1] = str(int(parts[-1]) + 1)
    local = f"g{commit[:_HASH_LENGTH]}" + (f".d{day}" if dirty else "")
    return f"{'.'.join(parts)}.dev{distance}+{local}"


def _fallback_version(root: Path) -> str:
    """``[tool.setuptools_scm] fallback_version`` of the checkout: the base before any tag."""
    try:
        config = tomllib.loads((root / "pyproject.toml").read_text())
        value = str(config["tool"]["setuptools_scm"]["fallback_version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "0.0"
    return value if _TAG.match(value) else "0.0"


def _source_date() -> datetime:
    """Today in UTC, or SOURCE_DATE_EPOCH's day (reproducible builds), as setuptools-scm."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    return datetime.now(UTC)


class GitError(RuntimeError):
    """A git query failed (git missing, not a repository, a timeout)."""


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT, check=False,
                              env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitError(f"git {args[0]}: {exc}") from None
    if done.returncode != 0:
        raise GitError(f"git {args[0]}: {done.stderr.strip() or f'exit {done.returncode}'}")
    return done.stdout.strip()

