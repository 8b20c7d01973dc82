"""How numba compiles and caches the model, set before numba is first imported (``sim/__init__``).

- **One cache per version of the source.** numba checks a cached function against its own file
  only, but a phase's kernel calls the rules in ``sim/rules.py`` and helpers in other files, and
  freezes module constants: after an edit there, a cache kept beside the sources would go on
  running the old rules (the golden snapshot would even pass against them). So the cache lives in
  a folder named by a digest of every ``sim/**/*.py`` and the versions of Python, numpy and
  numba (``~/.cache/recip/numba/<digest>``, or under ``$XDG_CACHE_HOME``): any change to the
  source compiles afresh, and the same source, here or in another checkout, reuses it. The few
  most recently used folders are kept, older ones removed.
- **The C library's math.** Intel's SVML, which numba would use for ``exp``, ``log`` and ``pow``
  where it is installed, is switched off: the rules must give the same values bit for bit
  wherever the C library is the same.

Both are left alone where the user has set them (``NUMBA_CACHE_DIR``,
``NUMBA_DISABLE_INTEL_SVML``). Imported for its effect by ``sim/__init__`` before anything that
imports numba; if numba was imported before ``sim``, the settings are applied to its live
configuration (the SVML setting then only where numba has not used it yet).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import shutil
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

KEEP = 4
"""Cache folders kept (the most recently used), so that switching between a few versions of the
source does not compile each time, while old versions do not pile up."""


def source_digest(package: Path) -> str:
    """A digest of every ``.py`` file of the package (path and bytes) and of the versions of
    Python, numpy and numba, which decide what numba compiles."""
    digest = hashlib.sha256()
    for name in ("numpy", "numba", "llvmlite"):
        try:
            digest.update(f"{name} {version(name)}\n".encode())
        except PackageNotFoundError:
            digest.update(f"{name} none\n".encode())
    digest.update(f"python {platform.python_version()} {sys.platform}\n".encode())
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "recip" / "numba"


def cache_dir(package: Path) -> Path:
    """This source's cache folder, made if need be; the oldest of the others are removed."""
    root = cache_root()
    folder = root / source_digest(package)
    fresh = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    os.utime(folder)  # "most recently used"
    if fresh:
        others = sorted((p for p in root.iterdir() if p.is_dir() and p != folder),
                        key=lambda p: p.stat().st_mtime, reverse=True)
        for old in others[KEEP - 1:]:
            shutil.rmtree(old, ignore_errors=True)  # another process may be removing it too
    return folder


def configure() -> None:
    """Set numba's cache folder and switch SVML off, unless the user chose otherwise."""
    package = Path(__file__).resolve().parent
    settings = {"NUMBA_DISABLE_INTEL_SVML": "1"}
    if "NUMBA_CACHE_DIR" not in os.environ:
        with contextlib.suppress(OSError):  # no writable home: numba's own (beside the sources)
            settings["NUMBA_CACHE_DIR"] = str(cache_dir(package))
    for name, value in settings.items():
        os.environ.setdefault(name, value)
    if "numba" in sys.modules:  # imported before sim: its configuration is already read
        from numba.core import config

        config.CACHE_DIR = os.environ.get("NUMBA_CACHE_DIR", config.CACHE_DIR)
        config.DISABLE_INTEL_SVML = int(os.environ["NUMBA_DISABLE_INTEL_SVML"])
