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


def test_a_section_written_through_bench_engine_replaces_only_its_own(tmp_path):
    """bench_network writes through bench_engine.write: its section once replaced the engine's."""
    from experiment_scripts import load

    write = load("bench_engine").write
    out = tmp_path / "BENCHMARKS.md"
    write(out, "<!-- bench_engine:start -->\nengine\n<!-- bench_engine:end -->")
    write(out, "<!-- bench_network:start -->\nnetwork 1\n<!-- bench_network:end -->")
    write(out, "<!-- bench_network:start -->\nnetwork 2\n<!-- bench_network:end -->")
    text = out.read_text()
    assert "<!-- bench_engine:start -->\nengine\n<!-- bench_engine:end -->" in text
    assert "network 2" in text and "network 1" not in text
