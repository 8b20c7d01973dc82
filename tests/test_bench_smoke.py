"""Smoke test of the engine benchmark: it runs and writes its section (no timing assertions)."""

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "experiments" / "bench_engine.py"


def test_bench_engine_quick_writes_its_section(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\n<!-- other:start -->\nkept\n<!-- other:end -->\n")
    subprocess.run([sys.executable, str(SCRIPT), "--quick", "--sizes", "1000", "--out", str(out)],
                   check=True, capture_output=True, text=True, timeout=300)
    text = out.read_text()
    assert "<!-- other:start -->\nkept\n<!-- other:end -->" in text
    assert text.count("<!-- bench_engine:start -->") == 1
    assert text.count("<!-- bench_engine:end -->") == 1
    body = text.split("<!-- bench_engine:start -->")[1].split("<!-- bench_engine:end -->")[0]
    row = re.search(r"^\| 1,000 \|.*\| (\d+(?:\.\d+)?)x \|$", body, re.MULTILINE)
    assert row is not None, body
    assert float(row.group(1)) > 0
