"""Failure safety: what cannot be written is reported, the rest goes on, nothing is torn.

A read-only file or directory, a file an editor saved while mpfix was
running, and a Ctrl-C in the middle of a run must each leave every file
either exactly as it was or fully fixed, with no temporary file behind, and
the command must say what happened in one line instead of a traceback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cli_helpers import mpfix as mpfix_in_process
from safety_support import (
    GUARDED_POOL,
    MPFIX,
    UNGUARDED_POOL,
    assert_no_traceback,
    error_lines,
    run_mpfix,
    snapshot,
)

import mpfix.engine.runner
import mpfix.engine.writer
from mpfix.engine.writer import TEMP_SUFFIX, WriteError, write_atomically

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _temp_files(root: Path) -> list[Path]:
    return list(root.rglob(f"*{TEMP_SUFFIX}"))


def _project(root: Path, names: list[str]) -> list[Path]:
    paths = []
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(UNGUARDED_POOL)
        paths.append(path)
    return paths


# Files and directories that cannot be written ---------------------------------------

def test_read_only_file_is_reported_and_the_rest_are_fixed(tmp_path: Path) -> None:
    locked, free = _project(tmp_path, ["locked.py", "free.py"])
    locked.chmod(0o444)
    before = snapshot([locked])

    completed = run_mpfix("fix", "--no-cache", ".", cwd=tmp_path)

    assert_no_traceback(completed)
    assert completed.returncode == 2
    assert error_lines(completed) == ["locked.py: error: file is read-only; not overwritten"]
    assert snapshot([locked]) == before
    assert free.read_text() == GUARDED_POOL
    assert not _temp_files(tmp_path)


@pytest.mark.skipif(IS_ROOT, reason="root may create files in a read-only directory, so the "
                    "rename succeeds; the simulated test below covers the failure path")
def test_read_only_directory_is_reported_and_the_rest_are_fixed(tmp_path: Path) -> None:
    locked, free = _project(tmp_path, ["locked/script.py", "free/script.py"])
    before = snapshot([locked])
    locked.parent.chmod(0o555)
    try:
        completed = run_mpfix("fix", "--no-cache", ".", cwd=tmp_path)
    finally:
        locked.parent.chmod(0o755)

    assert_no_traceback(completed)
    assert completed.returncode == 2
    assert error_lines(completed) == [
        f"{Path('locked', 'script.py')}: error: cannot write: Permission denied"]
    assert snapshot([locked]) == before
    assert free.read_text() == GUARDED_POOL
    assert not _temp_files(tmp_path)


def test_unwritable_directory_simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same failure as a read-only directory, for root too: no temporary file can be made."""
    locked, free = _project(tmp_path, ["locked/script.py", "free/script.py"])
    before = snapshot([locked])
    real_mkstemp = mpfix.engine.writer.tempfile.mkstemp

    def mkstemp(dir: str, **options):  # type: ignore[no-untyped-def]
        if Path(dir).name == "locked":
            raise PermissionError(13, "Permission denied")
        return real_mkstemp(dir=dir, **options)

    monkeypatch.setattr(mpfix.engine.writer.tempfile, "mkstemp", mkstemp)
    monkeypatch.chdir(tmp_path)
    result = mpfix_in_process("fix", "-j", "1", ".")

    assert result.exit_code == 2
    assert f"{Path('locked', 'script.py')}: error: cannot write: Permission denied" \
        in result.stderr
    assert snapshot([locked]) == before
    assert free.read_text() == GUARDED_POOL


# Files changed on disk while mpfix runs -------------------------------------------------

EDITOR_SAVE = "# saved by an editor while mpfix was running\n" + UNGUARDED_POOL


def test_file_changed_between_read_and_write_is_not_overwritten(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    edited, other = _project(tmp_path, ["edited.py", "other.py"])
    real_run = mpfix.engine.runner.run

    def run_then_edit(*args, **kwargs):  # type: ignore[no-untyped-def]
        report = real_run(*args, **kwargs)
        edited.write_text(EDITOR_SAVE)  # after mpfix read the file, before it writes
        return report

    monkeypatch.setattr(mpfix.engine.runner, "run", run_then_edit)
    monkeypatch.chdir(tmp_path)
    result = mpfix_in_process("fix", "-j", "1", ".")

    assert result.exit_code == 2
    assert "edited.py: error: changed on disk while mpfix was running; not overwritten" \
        in result.stderr
    assert edited.read_text() == EDITOR_SAVE
    assert other.read_text() == GUARDED_POOL
    assert not _temp_files(tmp_path)


def test_change_during_the_write_itself_is_caught(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The content check runs after the temporary file is written, just before the rename."""
    [script] = _project(tmp_path, ["script.py"])
    real_fsync = os.fsync

    def fsync_while_an_editor_saves(descriptor: int) -> None:
        real_fsync(descriptor)
        script.write_text(EDITOR_SAVE)

    monkeypatch.setattr(mpfix.engine.writer.os, "fsync", fsync_while_an_editor_saves)
    with pytest.raises(WriteError, match="changed on disk"):
        write_atomically(script, UNGUARDED_POOL.encode(), GUARDED_POOL.encode())
    assert script.read_text() == EDITOR_SAVE
    assert not _temp_files(tmp_path)


def test_a_failed_rename_leaves_the_original_and_no_temporary_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    [script] = _project(tmp_path, ["script.py"])

    def full_disk(source: str, target: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mpfix.engine.writer.os, "replace", full_disk)
    with pytest.raises(WriteError, match="No space left on device"):
        write_atomically(script, UNGUARDED_POOL.encode(), GUARDED_POOL.encode())
    assert script.read_text() == UNGUARDED_POOL
    assert not _temp_files(tmp_path)


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="needs POSIX signal masks")
def test_an_interrupt_waits_until_the_file_in_hand_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    [script] = _project(tmp_path, ["script.py"])
    real_fsync = os.fsync

    def fsync_then_ctrl_c(descriptor: int) -> None:
        real_fsync(descriptor)
        # To this thread, as a terminal's Ctrl-C reaches a one-thread mpfix: sent to the
        # process, another thread of the test run (a behaviour run's) could take it.
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)

    monkeypatch.setattr(mpfix.engine.writer.os, "fsync", fsync_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(script, UNGUARDED_POOL.encode(), GUARDED_POOL.encode())
    assert script.read_text() == GUARDED_POOL
    assert not _temp_files(tmp_path)


# Ctrl-C in the middle of a run -----------------------------------------------------------

TREE_FILES = 300
# Padding makes the files large enough, together, for the parallel path of the runner.
PADDING_LINE = "# padding " + "." * 70 + "\n"
PADDING = PADDING_LINE * (2 * mpfix.engine.runner.PARALLEL_THRESHOLD // TREE_FILES // len(PADDING_LINE))
SCRIPT = PADDING + UNGUARDED_POOL


def _tree(root: Path, count: int) -> list[Path]:
    paths = []
    for number in range(count):
        path = root / f"pkg{number // 50:02d}" / f"mod{number:03d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(SCRIPT)
        paths.append(path)
    return paths


def _fixed_script(tmp_path: Path) -> str:
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "script.py").write_text(SCRIPT)
    completed = run_mpfix("fix", "--no-cache", "script.py", cwd=reference)
    assert completed.returncode == 1, completed.stderr
    fixed = (reference / "script.py").read_text()
    assert 'if __name__ == "__main__":' in fixed
    return fixed


def _start(tree: Path, *options: str) -> subprocess.Popen:
    return subprocess.Popen([*MPFIX, "fix", "--no-cache", *options, tree.name], cwd=tree.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def _wait_until(condition, process: subprocess.Popen, timeout: float = 240) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "mpfix finished before it could be interrupted"
        assert time.monotonic() < deadline, "mpfix never reached the point to interrupt"
        time.sleep(0.002)


def _assert_interrupted_cleanly(process: subprocess.Popen, paths: list[Path],
                                fixed: str) -> tuple[int, int]:
    """Every file original or fully fixed, and the one line on stderr says how many
    were written and how many are untouched."""
    stdout, stderr = process.communicate(timeout=120)
    err = stderr.decode()
    assert "Traceback" not in err + stdout.decode(), err
    assert process.returncode == 130, err
    contents = [path.read_text() for path in paths]
    assert all(text in (SCRIPT, fixed) for text in contents)
    assert not _temp_files(paths[0].parent.parent)
    written, untouched = contents.count(fixed), contents.count(SCRIPT)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    if written:
        assert lines[0].startswith(f"mpfix: interrupted; wrote {written} file"), err
        rest = "1 file to write is" if untouched == 1 else f"{untouched} files to write are"
        assert lines[0].endswith(f"; the other {rest} untouched"), err
    else:
        assert lines[0] == "mpfix: interrupted; nothing was written"
    return written, untouched


def test_sigint_while_writing_leaves_files_original_or_fully_fixed(tmp_path: Path) -> None:
    fixed = _fixed_script(tmp_path)
    tree = tmp_path / "tree"
    paths = _tree(tree, TREE_FILES)
    first = paths[0]  # the runner writes in discovery order, so this file is written first

    process = _start(tree, "-j", "1")
    _wait_until(lambda: first.read_text() != SCRIPT, process)
    process.send_signal(signal.SIGINT)

    written, untouched = _assert_interrupted_cleanly(process, paths, fixed)
    assert written >= 1 and untouched >= 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds workers through /proc")
def test_ctrl_c_while_workers_compute_stops_everything_quietly(tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches the whole process group: mpfix and its workers."""
    fixed = _fixed_script(tmp_path)
    tree = tmp_path / "tree"
    paths = _tree(tree, TREE_FILES)

    process = _start(tree, "-j", "2")
    _wait_until(lambda: len(_children(process.pid)) >= 2, process)
    workers = _children(process.pid)
    os.killpg(process.pid, signal.SIGINT)

    _assert_interrupted_cleanly(process, paths, fixed)
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in workers):
        assert time.monotonic() < deadline, "a worker outlived the interrupted run"
        time.sleep(0.05)


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(entry.name))
    return children
