"""Ctrl-C during `mpfix fix` (outside interactive review): the one line on stderr says
which files were written, each in full, and that the others are untouched. The real
signal is sent in tests/test_failure_safety.py; here the writer is interrupted at chosen
points, in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pytest

import mpfix.cli.app as app
from cli_helpers import GUARDED, UNGUARDED, mpfix, write

NAMES = ["a.py", "b.py", "c.py", "d.py", "e.py"]


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in NAMES:
        write(tmp_path / name, UNGUARDED)
    write(tmp_path / "clean.py", "print('nothing to fix')\n")
    return tmp_path


def _interrupt_writer(monkeypatch: pytest.MonkeyPatch, *, after: int, written: bool) -> None:
    """Ctrl-C on write number `after` + 1: raised as the writer returns, the file written
    (a signal deferred while the file was in hand), or before it starts, the file not."""
    real = app.write_file
    calls = []

    def interrupted(path: Path, original: Optional[bytes], new: bytes) -> None:
        calls.append(path)
        if len(calls) <= after:
            real(path, original, new)
            return
        if written:
            real(path, original, new)
        raise KeyboardInterrupt

    monkeypatch.setattr(app, "write_file", interrupted)


def _contents(tree: Path) -> list[str]:
    return [(tree / name).read_text() for name in NAMES]


def test_interrupt_as_the_second_file_is_written_counts_it(tree, monkeypatch):
    _interrupt_writer(monkeypatch, after=1, written=True)
    result = mpfix("fix", *NAMES, "clean.py")
    assert result.exit_code == 130
    assert _contents(tree) == [GUARDED, GUARDED, UNGUARDED, UNGUARDED, UNGUARDED]
    assert result.stderr.splitlines() == [
        "mpfix: interrupted; wrote 2 files in full (a.py, b.py); the other 3 files to "
        "write are untouched"]
    assert "fully fixed" not in result.stderr


def test_interrupt_before_a_write_starts_does_not_count_it(tree, monkeypatch):
    _interrupt_writer(monkeypatch, after=4, written=False)
    result = mpfix("fix", *NAMES)
    assert result.exit_code == 130
    assert _contents(tree) == [GUARDED] * 4 + [UNGUARDED]
    assert result.stderr.splitlines() == [
        "mpfix: interrupted; wrote 4 files in full (a.py, b.py, c.py, ...); the other "
        "1 file to write is untouched"]


def test_interrupt_after_the_last_write_names_no_untouched_files(tree, monkeypatch):
    _interrupt_writer(monkeypatch, after=0, written=True)
    result = mpfix("fix", "a.py", "clean.py")
    assert result.exit_code == 130
    assert (tree / "a.py").read_text() == GUARDED
    assert result.stderr.splitlines() == ["mpfix: interrupted; wrote 1 file in full (a.py)"]


def test_interrupt_before_writing_writes_nothing_and_says_so(tree, monkeypatch):
    def interrupted_run(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(app.runner, "run", interrupted_run)
    result = mpfix("fix", *NAMES)
    assert result.exit_code == 130
    assert _contents(tree) == [UNGUARDED] * 5
    assert result.stderr.splitlines() == ["mpfix: interrupted; nothing was written"]
