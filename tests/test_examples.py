"""The README demo's project, end to end: after `mpfix fix --unsafe-fixes` every example
program prints the right answer under fork, spawn and forkserver."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from behaviour import METHODS, run_script
from fixture_cases import ROOT

# What each program should print; written from what the program computes, not from a run.
EXPECTED = {
    "logstats/collect.py": "report sizes: [200000, 200000, 200000]\n",
    "logstats/count_words.py": "distinct words per line: [5, 5, 5, 5, 5, 5, 5, 5]\n",
    # The heartbeat shares nothing with the parent: terminate() is right there, and MP004
    # leaves it (SIGTERM: exit code -15).
    "logstats/heartbeat.py": "monitor exit code: -15\n",
    "logstats/tally.py": "lines with errors: 3\n",
    "imageproc/thumbnails.py": (
        "img0 [[4, 20], [20, 100]]\nimg1 [[5, 21], [21, 101]]\nimg2 [[6, 22], [22, 102]]\n"
    ),
}


@pytest.fixture(scope="module")
def fixed_examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("examples") / "examples"
    shutil.copytree(ROOT / "examples", target)
    completed = subprocess.run(
        [sys.executable, "-m", "mpfix", "fix", "--unsafe-fixes", "--no-cache", str(target)],
        capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 1, completed.stderr  # files changed
    assert "Traceback" not in completed.stderr
    return target


def test_every_example_is_listed() -> None:
    found = {p.relative_to(ROOT / "examples").as_posix() for p in (ROOT / "examples").rglob("*.py")}
    assert found == set(EXPECTED)


def test_fixed_examples_are_clean(fixed_examples: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "mpfix", "check", "--no-cache", str(fixed_examples)],
        capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_fixed_example_runs(fixed_examples: Path, script: str, method: str) -> None:
    outcome = run_script(fixed_examples, script, method, [], timeout=20)
    assert outcome.returncode == 0 and outcome.stdout == EXPECTED[script], outcome.summary()
