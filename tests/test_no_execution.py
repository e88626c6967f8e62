"""mpfix reads the code it analyses; it never imports or runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SIDE_EFFECT = '''\
import multiprocessing as mp
import pathlib

pathlib.Path({marker!r}).write_text("imported")

def work(x):
    pathlib.Path({marker!r}).write_text("called")
    return x

with mp.Pool(2) as pool:
    pool.map(work, [1])
'''


@pytest.mark.parametrize("command", [("check",), ("fix", "--diff"), ("fix", "--unsafe-fixes")])
def test_analysed_code_never_runs(tmp_path: Path, command: tuple[str, ...]) -> None:
    marker = tmp_path / "marker.txt"
    package = tmp_path / "pkg"
    package.mkdir()
    for name in ("__init__.py", "script.py", "conftest.py", "setup.py"):
        (package / name).write_text(SIDE_EFFECT.format(marker=str(marker)))
    completed = subprocess.run([sys.executable, "-m", "mpfix", *command, "--no-cache",
                                str(package)], capture_output=True, text=True, timeout=120)
    assert completed.returncode in (0, 1), completed.stderr
    assert not marker.exists()
