"""Provenance: every field present and right, input hashes, and versions that follow the code
(the same strings setuptools-scm gives at install time)."""

from __future__ import annotations

import hashlib
import json
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import pytest

import sim.provenance as prov
from sim.config import load_scenario
from sim.paths import scenarios_dir
from sim.provenance import file_sha256, git_version, provenance, scenario_inputs

ROOT = Path(__file__).resolve().parents[1]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t",
                           "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    """A small git project configured like recip (fallback_version 0.1.0), one commit."""
    repo = tmp_path / "proj"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "proj"\ndynamic = ["version"]\n\n'
        '[tool.setuptools_scm]\nfallback_version = "0.1.0"\n')
    (repo / "code.py").write_text("x = 1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "one")
    return repo


def scm_version(repo: Path) -> str:
    """What setuptools-scm (used by pip to build recip) says for this tree."""
    pytest.importorskip("setuptools_scm")
    return subprocess.run([sys.executable, "-m", "setuptools_scm"], cwd=repo, check=True,
                          capture_output=True, text=True).stdout.strip().splitlines()[-1]


def commit(repo: Path, text: str) -> None:
    (repo / "code.py").write_text(text)
    git(repo, "commit", "-q", "-am", text)


def test_fields_are_present_correct_and_strict_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "study.toml"
    spec.write_bytes(b"[sweep]\n")
    record = provenance(inputs={"sweep spec": spec, "networks": [spec, tmp_path / "gone.txt"]},
                        overrides={"buyers.n": 500, "x": float("nan")},
                        argv=["/venv/bin/recip", "sweep", "my spec.toml", "--set", "a=1"])
    assert set(record) == {"recip_version", "git", "python", "packages", "platform", "libm",
                           "numpy_math", "timestamp", "command_line", "cwd", "overrides",
                           "inputs"}
    json.dumps(record, allow_nan=False)  # strict JSON: no NaN or Infinity anywhere
    assert record["command_line"] == "recip sweep 'my spec.toml' --set a=1"
    assert record["cwd"] == str(tmp_path)
    assert record["overrides"] == {"buyers.n": 500, "x": "nan"}
    assert record["python"] == platform.python_version()
    assert record["platform"] == platform.platform()
    assert record["packages"]["numpy"] == version("numpy")
    assert record["packages"]["mesa"] == version("mesa")
    assert record["packages"]["pandas"] == version("pandas")
    stamp = datetime.strptime(record["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 3600
    digest = hashlib.sha256(b"[sweep]\n").hexdigest()
    assert record["inputs"][0] == {"role": "sweep spec", "path": str(spec), "sha256": digest,
                                   "bytes": 8}
    assert record["inputs"][1]["role"] == "networks" and record["inputs"][1]["sha256"] == digest
    missing = record["inputs"][2]
    assert missing["sha256"] is None and missing["error"] == "no such file"
    assert provenance(overrides=["buyers.n=5"], argv=["recip"])["overrides"] == ["buyers.n=5"]


def test_scenario_inputs_are_the_files_the_scenario_came_from(tmp_path):
    files = scenario_inputs(load_scenario("pushy_vs_active"))
    assert files == {"scenario": scenarios_dir() / "pushy_vs_active.toml",
                     "defaults": scenarios_dir() / "_defaults.toml",
                     "strategies": scenarios_dir() / "_strategies.toml"}
    (tmp_path / "net.edges").write_text("0 1\n1 2\n")
    config = load_scenario("pushy_vs_active", overrides={"network.kind": "edgelist",
                                                          "network.path": str(tmp_path / "net.edges")})
    files = scenario_inputs(config)
    assert files["network"] == tmp_path / "net.edges"
    record = provenance(inputs=files, argv=["recip"])
    roles = {r["role"]: r for r in record["inputs"]}
    assert roles["network"]["sha256"] == file_sha256(tmp_path / "net.edges")
    assert roles["defaults"]["sha256"] == hashlib.sha256(
        (scenarios_dir() / "_defaults.toml").read_bytes()).hexdigest()


def test_a_changed_input_file_changes_its_hash(tmp_path):
    path = tmp_path / "_defaults.toml"
    path.write_text("debt_weight = 0.8\n")
    before = file_sha256(path)
    path.write_text("debt_weight = 0.9\n")
    assert file_sha256(path) != before


def test_version_in_this_checkout_is_setuptools_scms_and_git_is_recorded():
    if prov.checkout_root() is None:
        pytest.skip("recip is installed, not imported from a checkout")
    record = provenance(argv=["recip"])
    assert record["recip_version"] == scm_version(ROOT)
    assert record["recip_version"] != "0.1.0"
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    assert record["git"]["commit"] == head
    assert isinstance(record["git"]["dirty"], bool)
    assert head[:9] in record["recip_version"]


def test_versions_follow_the_code_as_setuptools_scm_would(repo, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    seen = []
    # before any tag: the fallback version bumped, .devN (N commits), the commit's hash
    first = git_version(repo)
    assert first == scm_version(repo)
    assert re.fullmatch(r"0\.1\.1\.dev1\+g[0-9a-f]{9}", first)
    seen.append(first)
    commit(repo, "x = 2\n")
    seen.append(git_version(repo))
    assert seen[-1] == scm_version(repo) and seen[-1].startswith("0.1.1.dev2+g")
    # a dirty tree: the day is appended
    (repo / "code.py").write_text("x = 3\n")
    dirty = git_version(repo)
    assert dirty == scm_version(repo) and dirty.endswith(datetime.now(UTC).strftime(".d%Y%m%d"))
    assert prov.git_state(repo)["dirty"] is True
    git(repo, "checkout", "-q", "code.py")
    assert prov.git_state(repo)["dirty"] is False
    # on a tag: the tag's version; commits after it: the next patch version, .devN
    git(repo, "tag", "v1.4.0")
    assert git_version(repo) == scm_version(repo) == "1.4.0"
    commit(repo, "x = 4\n")
    after = git_version(repo)
    assert after == scm_version(repo) and after.startswith("1.4.1.dev1+g")
    seen += [dirty, "1.4.0", after]
    assert len(set(seen)) == len(seen)  # every state of the code has its own version


def test_outside_a_checkout_the_installed_version_is_used(monkeypatch):
    monkeypatch.setattr(prov, "checkout_root", lambda: None)
    record = provenance(argv=["recip"])
    assert record["git"] is None
    assert record["recip_version"] == version("recip")


def test_git_failure_is_recorded_not_raised(tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    assert "error" in prov.git_state(tmp_path)  # not a repository
    assert git_version(tmp_path) is None


def test_sweep_workers_do_not_import_provenance():
    code = ("import sys, sim.sweep.worker, sim.runner; "
            "print('sim.provenance' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, cwd=ROOT).stdout.strip()
    assert out == "False"
