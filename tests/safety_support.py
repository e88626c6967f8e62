"""Shared by the safety tests: the real command line in a subprocess (or in this process,
where a process of its own shows nothing more), and sources to fix.

`python -I` keeps the directory under test off `sys.path`, as the installed
`mpfix` script does: a `click.py` or `signal.py` in a user's project is never
imported in place of the real module.
"""

from __future__ import annotations

import os
import subprocess
import sys
from difflib import SequenceMatcher
from pathlib import Path
from typing import Iterable, Union

MPFIX = (sys.executable, "-I", "-m", "mpfix")

# MP001 (main-guard) fixes this safely into GUARDED_POOL: the last two lines move.
UNGUARDED_POOL = """\
import multiprocessing

def work(x):
    return x * 2

pool = multiprocessing.Pool(2)
print(pool.map(work, [1, 2, 3]))
"""

GUARDED_POOL = """\
import multiprocessing

def work(x):
    return x * 2

if __name__ == "__main__":
    multiprocessing.freeze_support()
    pool = multiprocessing.Pool(2)
    print(pool.map(work, [1, 2, 3]))
"""

# Follows every guideline: no rule has anything to say about it, now or later.
CLEAN_PROCESS = """\
import multiprocessing


def work():
    print("hello")


if __name__ == "__main__":
    multiprocessing.freeze_support()
    process = multiprocessing.Process(target=work)
    process.start()
    process.join()
"""


def run_mpfix(*args: Union[str, Path], cwd: Path,
              timeout: float = 300) -> subprocess.CompletedProcess:
    """`mpfix ARGS` as a user runs it; stdout and stderr decoded, never raising on exit codes."""
    completed = subprocess.run([*MPFIX, *map(str, args)], cwd=cwd, capture_output=True,
                               timeout=timeout)
    return subprocess.CompletedProcess(
        completed.args, completed.returncode,
        completed.stdout.decode("utf-8", "replace"), completed.stderr.decode("utf-8", "replace"),
    )


def run_mpfix_in_process(*args: Union[str, Path], cwd: Path) -> subprocess.CompletedProcess:
    """`mpfix ARGS` from `cwd`, run in this process by click's test runner: the same exit
    code and output lines as run_mpfix, without the interpreter start and the imports each
    subprocess pays; an exception escaping the command fails the test with its traceback.
    What only a process of its own shows (a crash, a signal, bytes on stdin, the installed
    script) stays with run_mpfix."""
    from cli_helpers import cli_runner

    from mpfix.cli.app import main

    here = os.getcwd()
    os.chdir(cwd)
    try:
        result = cli_runner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(["mpfix", *map(str, args)], result.exit_code,
                                       result.stdout, result.stderr)


def assert_no_traceback(completed: subprocess.CompletedProcess) -> None:
    for stream in (completed.stdout, completed.stderr):
        assert "Traceback (most recent call last)" not in stream, stream


def error_lines(completed: subprocess.CompletedProcess) -> list[str]:
    return [line for line in completed.stderr.splitlines() if ": error: " in line]


def snapshot(paths: Iterable[Path]) -> dict[Path, tuple[bytes, int, int]]:
    """Content, inode and modification time of each file: whether it was rewritten."""
    found = {}
    for path in paths:
        status = path.stat()
        found[path] = (path.read_bytes(), status.st_ino, status.st_mtime_ns)
    return found


def write_files(root: Path, files: "dict[str, Union[str, bytes]]") -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")


def changed_lines(before: bytes, after: bytes) -> tuple[list[bytes], list[bytes]]:
    """(lines only in `before`, lines only in `after`), line endings included."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    removed: list[bytes] = []
    added: list[bytes] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag != "equal":
            removed.extend(old[i1:i2])
            added.extend(new[j1:j2])
    return removed, added
