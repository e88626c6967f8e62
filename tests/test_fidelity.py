"""Byte fidelity: a fix changes the lines it must and not one byte more.

MP001 (main-guard) is the fixing rule: an unguarded `Pool` script gets
`if __name__ == "__main__":` and `freeze_support()`, and its two entry lines
move under the guard. Every other line of the file must come out byte for
byte as it went in, whatever its encoding, BOM, line endings, tabs or form
feeds; files without a fix are never rewritten; permissions, symlinks and
link loops are handled.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from safety_support import (
    CLEAN_PROCESS,
    GUARDED_POOL,
    UNGUARDED_POOL,
    assert_no_traceback,
    changed_lines,
    error_lines,
    run_mpfix,
    snapshot,
)

from mpfix import MpfixError, fix_code

GUARD = b'if __name__ == "__main__":'
FREEZE = b"multiprocessing.freeze_support()"
OLD_TIME = 978_307_200  # 2001-01-01: a rewrite could not keep this mtime by accident


@dataclass(frozen=True)
class Script:
    """An unguarded Pool script; `entry` are its last lines, which the fix moves."""

    id: str
    head: bytes  # lines before `import multiprocessing` (a cookie), BOM included
    body: tuple[bytes, ...]  # between the import and the entry lines
    entry: tuple[bytes, ...]
    newlines: tuple[bytes, ...]  # one per line, cycled
    indent: bytes = b"    "
    final_newline: bool = True
    encoding: str = "utf-8"

    def source(self) -> bytes:
        lines = [b"import multiprocessing", b"", *self.body, *self.entry]
        out = []
        for number, line in enumerate(lines):
            ending = self.newlines[number % len(self.newlines)]
            last = number == len(lines) - 1
            out.append(line + (ending if self.final_newline or not last else b""))
        return self.head + b"".join(out)

    @property
    def first_newline(self) -> bytes:
        return self.newlines[0]


WORK = (b"def work(x):", b"    return x * 2", b"")
ENTRY = (b"pool = multiprocessing.Pool(2)", b"print(pool.map(work, [1, 2, 3]))")

SCRIPTS = [
    Script("lf", b"", WORK, ENTRY, (b"\n",)),
    Script("crlf", b"", WORK, ENTRY, (b"\r\n",)),
    Script("mixed-lf-crlf-cr", b"", WORK, ENTRY, (b"\n", b"\r\n", b"\n", b"\r")),
    Script("no-final-newline", b"", WORK, ENTRY, (b"\n",), final_newline=False),
    Script("crlf-no-final-newline", b"", WORK, ENTRY, (b"\r\n",), final_newline=False),
    Script("tabs", b"", (b"def work(x):", b"\treturn x * 2", b""), ENTRY, (b"\n",),
           indent=b"\t"),
    Script("form-feed-lines", b"", (b"\x0c", *WORK, b"\x0c", b"  \x0c  "), ENTRY, (b"\n",)),
    Script("latin-1-cookie", b"# -*- coding: latin-1 -*-\n",
           (b"def work(x):", b"    return x * 2  # caf\xe9", b""),
           (b'nom = "\xe9t\xe9"', b"pool = multiprocessing.Pool(2)",
            b'print(pool.map(work, [nom, "\xe0 la"]))'),
           (b"\n",), encoding="latin-1"),
    Script("cp1252-cookie-crlf", b"# vim: set fileencoding=cp1252 :\r\n",
           (b"def work(x):", b"    return x * 2  # \x93quoted\x94", b""),
           (b"pool = multiprocessing.Pool(2)", b'print(pool.map(work, ["\x80 \x96 \x85"]))'),
           (b"\r\n",), encoding="cp1252"),
    Script("utf-8-cookie", b"# -*- coding: utf-8 -*-\n",
           (b"def work(x):", "    return x * 2  # naïve".encode(), b""),
           (b"pool = multiprocessing.Pool(2)", 'print(pool.map(work, ["日本語"]))'.encode()),
           (b"\n",)),
    Script("utf-8-bom", b"\xef\xbb\xbf", WORK,
           (b"pool = multiprocessing.Pool(2)", 'print(pool.map(work, ["ünï"]))'.encode()),
           (b"\n",), encoding="utf-8-sig"),
    Script("utf-8-bom-crlf", b"\xef\xbb\xbf", WORK, ENTRY, (b"\r\n",), encoding="utf-8-sig"),
    Script("non-ascii-identifiers", b"",
           ("def työ(x):".encode(), b"    return x * 2", b""),
           ("π = 3".encode(), "pool = multiprocessing.Pool(π)".encode(),
            "print(pool.map(työ, [π]))".encode()),
           (b"\n",)),
]


def _entry_moved(script: Script, before: bytes, after: bytes) -> None:
    """The only lines that differ: the entry lines, now indented, plus the guard."""
    removed, added = changed_lines(before, after)
    assert [line.rstrip(b"\r\n") for line in removed] == list(script.entry)
    newline = script.first_newline
    expected = [GUARD + newline, script.indent + FREEZE + newline]
    expected += [script.indent + line for line in removed]
    assert added == expected


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.id for s in SCRIPTS])
def test_fix_changes_only_the_lines_it_moves(script: Script) -> None:
    before = script.source()
    after = fix_code(before, select=["MP001"])
    assert GUARD in after
    _entry_moved(script, before, after)
    assert after.startswith(script.head)
    after.decode(script.encoding)  # still in the file's own encoding
    compile(after, script.id, "exec", dont_inherit=True)
    assert fix_code(after, select=["MP001"]) == after


def test_a_form_feed_libcst_would_drop_blocks_the_fix() -> None:
    """libcst drops a form feed that starts a line of code; the file is left alone."""
    source = UNGUARDED_POOL.replace("pool =", "\x0cpool =").encode()
    with pytest.raises(MpfixError, match="byte for byte"):
        fix_code(source, select=["MP001"])


def test_a_lone_cr_at_the_end_blocks_the_fix() -> None:
    """libcst drops a lone CR that ends the file; the file is left alone."""
    source = UNGUARDED_POOL.replace("\n", "\r").encode()
    with pytest.raises(MpfixError, match="byte for byte"):
        fix_code(source, select=["MP001"])


UNCHANGED = {
    "clean.py": CLEAN_PROCESS.encode(),
    "threads.py": b"import threading\n\nthreading.Thread(target=print).start()\n",
    "comment_only.py": b"# multiprocessing.Pool is not used here\nx = 1\r\n",
    "latin1.py": b"# -*- coding: latin-1 -*-\nimport multiprocessing\nn = multiprocessing"
                 b".cpu_count()  # \xe9\n",
    "broken.py": b"import multiprocessing\npool = multiprocessing.Pool(\n",
    "bom_crlf.py": b"\xef\xbb\xbf" + CLEAN_PROCESS.replace("\n", "\r\n").encode(),
}


def test_cli_writes_what_the_engine_gives_and_keeps_mode_bits(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    modes = [0o644, 0o755, 0o600, 0o640, 0o775, 0o700]
    expected = {}
    for number, script in enumerate(SCRIPTS):
        path = project / f"{script.id.replace('-', '_')}.py"
        path.write_bytes(script.source())
        path.chmod(modes[number % len(modes)])
        expected[path] = fix_code(script.source(), select=["MP001"])
    for name, data in UNCHANGED.items():
        (project / name).write_bytes(data)
        os.utime(project / name, (OLD_TIME, OLD_TIME))
    untouched = snapshot(project / name for name in UNCHANGED)
    modes_before = {path: stat.S_IMODE(path.stat().st_mode) for path in expected}

    completed = run_mpfix("fix", "--no-cache", "--select", "MP001", "project", cwd=tmp_path)

    assert_no_traceback(completed)
    assert completed.returncode == 2  # broken.py cannot be parsed; the rest are fixed
    [error] = error_lines(completed)
    assert error.startswith(f"{Path('project', 'broken.py')}: error: cannot parse: ")
    for path, data in expected.items():
        assert path.read_bytes() == data, path.name
        assert stat.S_IMODE(path.stat().st_mode) == modes_before[path], path.name
    assert snapshot(untouched) == untouched
    assert not list(project.glob(".*mpfix-tmp"))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="only root can give a file another owner")
def test_fix_keeps_the_owner(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(UNGUARDED_POOL)
    os.chown(script, 4321, 4321)
    completed = run_mpfix("fix", "--no-cache", "script.py", cwd=tmp_path)
    assert completed.returncode == 1, completed.stderr
    assert script.read_text() == GUARDED_POOL
    assert (script.stat().st_uid, script.stat().st_gid) == (4321, 4321)


def test_unchanged_files_are_never_rewritten(tmp_path: Path) -> None:
    for name, data in UNCHANGED.items():
        (tmp_path / name).write_bytes(data)
        os.utime(tmp_path / name, (OLD_TIME, OLD_TIME))
    before = snapshot(tmp_path / name for name in UNCHANGED)
    completed = run_mpfix("fix", "--no-cache", "--unsafe-fixes", ".", cwd=tmp_path)
    assert_no_traceback(completed)
    assert "0 changed" in completed.stderr
    assert snapshot(before) == before


needs_symlinks = pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges")


@needs_symlinks
def test_symlinked_file_is_fixed_in_its_target_only_inside_the_paths(tmp_path: Path) -> None:
    project, outside = tmp_path / "project", tmp_path / "outside"
    (project / "real").mkdir(parents=True)
    outside.mkdir()
    inside_target = project / "real" / "target.py"
    inside_target.write_text(UNGUARDED_POOL)
    outside_target = outside / "target.py"
    outside_target.write_text(UNGUARDED_POOL)
    os.utime(outside_target, (OLD_TIME, OLD_TIME))
    (project / "link.py").symlink_to(Path("real") / "target.py")
    (project / "outside_link.py").symlink_to(Path("..") / "outside" / "target.py")
    (project / "outside_dir").symlink_to(Path("..") / "outside", target_is_directory=True)
    outside_before = snapshot([outside_target])

    completed = run_mpfix("fix", "--no-cache", "project", cwd=tmp_path)

    assert_no_traceback(completed)
    assert completed.returncode == 1, completed.stderr
    assert inside_target.read_text() == GUARDED_POOL
    assert snapshot([outside_target]) == outside_before
    for link, target in [("link.py", "real/target.py"),
                         ("outside_link.py", "../outside/target.py")]:
        assert (project / link).is_symlink()
        assert Path(os.readlink(project / link)) == Path(target)
    assert "1 changed" in completed.stderr


@needs_symlinks
def test_a_link_named_on_the_command_line_stays_a_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "target.py"
    target.write_text(UNGUARDED_POOL)
    target.chmod(0o750)
    (tmp_path / "link.py").symlink_to(Path("real") / "target.py")

    completed = run_mpfix("fix", "--no-cache", "link.py", cwd=tmp_path)

    assert completed.returncode == 1, completed.stderr
    assert (tmp_path / "link.py").is_symlink()
    assert target.read_text() == GUARDED_POOL
    assert stat.S_IMODE(target.stat().st_mode) == 0o750
    assert not list(tmp_path.rglob("*.mpfix-tmp"))


@needs_symlinks
def test_directory_symlink_loops_do_not_hang_discovery(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "a" / "b").mkdir(parents=True)
    (project / "a" / "b" / "script.py").write_text(UNGUARDED_POOL)
    (project / "a" / "b" / "up").symlink_to(Path(".."), target_is_directory=True)
    (project / "a" / "self").symlink_to(Path("."), target_is_directory=True)
    (project / "a" / "b" / "root").symlink_to(project, target_is_directory=True)
    (project / "x").symlink_to(Path("y"), target_is_directory=True)
    (project / "y").symlink_to(Path("x"), target_is_directory=True)  # a dangling pair

    completed = run_mpfix("check", "--no-cache", "project", cwd=tmp_path, timeout=120)

    assert_no_traceback(completed)
    assert completed.returncode == 1, completed.stderr
    assert completed.stdout.count("script.py:") == 1
    assert "1 file scanned" in completed.stderr
