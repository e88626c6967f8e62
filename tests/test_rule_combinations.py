"""Several rules on one file: the fixes compose into a program that runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mpfix import fix_code


def _run(path: Path, method: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mpfix.verify.startmethod", method, path.name],
                          cwd=path.parent, capture_output=True, text=True, timeout=20)


UNGUARDED_SHARED_COUNTER = textwrap.dedent("""\
    from multiprocessing import Lock, Process, Value

    lock = Lock()
    total = Value("i", 0)


    def add(n):
        with lock:
            total.value += n


    procs = [Process(target=add, args=(n,)) for n in (1, 2, 3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    print(total.value)
""")


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_mp001_and_mp002_together(tmp_path: Path, method: str) -> None:
    fixed = fix_code(UNGUARDED_SHARED_COUNTER)
    assert 'if __name__ == "__main__":' in fixed
    assert "def add(n, lock, total):" in fixed
    assert fix_code(fixed) == fixed
    program = tmp_path / "main.py"
    program.write_text(fixed)
    result = _run(program, method)
    assert (result.returncode, result.stdout) == (0, "6\n"), result.stderr

    original = tmp_path / "original.py"
    original.write_text(UNGUARDED_SHARED_COUNTER)
    assert _run(original, method).stdout != "6\n"
