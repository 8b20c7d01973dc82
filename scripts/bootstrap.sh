#!/usr/bin/env bash
# Creates .venv with Python 3.12+ and installs recip with every extra (app, dask, tests).
# Idempotent: re-running only reinstalls when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  for cand in python3.13 python3.12; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then
      command -v "$cand"; return 0
    fi
  done
  # pyenv keeps versions that are installed but not selected by its shims.
  for cand in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3; do
    if [ -x "$cand" ]; then echo "$cand"; return 0; fi
  done
  if command -v python3 >/dev/null 2>&1 && python3 -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then
    command -v python3; return 0
  fi
  echo "bootstrap: recip needs Python 3.12 or newer (mesa 3.4+ requires it); none found on PATH or in pyenv" >&2
  return 1
}

if [ ! -x .venv/bin/python ]; then
  py=$(find_python)
  echo "bootstrap: creating .venv with $py"
  "$py" -m venv .venv
fi
stamp=.venv/.recip-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[viz,dask,dev]"
  touch "$stamp"
fi
# numba compiles the model's rules and kernels once per machine and caches them (sim/warm.py);
# doing it here keeps the first run, the tests and the app from stalling on it.
echo "bootstrap: compiling the model for this machine if needed (about 40 s the first time)"
.venv/bin/python -m sim.warm
