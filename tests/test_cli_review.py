"""Review before writing: `fix --diff` (a patch git applies) and `fix --interactive`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Iterable

import libcst as cst
import libcst.matchers as m
import pytest
from cli_helpers import GUARDED, UNGUARDED, mpfix, write

from mpfix.cli import app as cli, interactive
from mpfix.engine import fixer as engine
from mpfix.rulekit.rule import Fix, Rule, Violation

GIT = shutil.which("git")


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


# --diff -------------------------------------------------------------------------------

def _git(repo: Path, *args: str, input: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-c", "core.autocrlf=false", *args], cwd=repo, input=input,
                          capture_output=True, timeout=60)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*.py")) if ".git" not in p.parts}


@pytest.mark.skipif(GIT is None, reason="git is not installed")
def test_diff_is_a_patch_git_applies(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    write(repo / "plain.py", UNGUARDED)
    write(repo / "crlf.py", UNGUARDED.replace("\n", "\r\n").encode())
    write(repo / "no_newline.py", UNGUARDED.rstrip("\n"))
    write(repo / "latin.py", ("# -*- coding: latin-1 -*-\n# caf\xe9\n" + UNGUARDED)
          .encode("latin-1"))
    write(repo / "feeds.py", "# one\x0c page\n" + UNGUARDED.replace("hello", "a\u2028b"))
    write(repo / "deep" / "er" / "name with space.py", UNGUARDED)
    write(repo / "clean.py", GUARDED)
    _git(repo, "init", "-q")
    before = _tree(repo)
    monkeypatch.chdir(repo)
    result = mpfix("fix", "--diff", ".")
    assert result.exit_code == 1
    assert _tree(repo) == before, "--diff must write nothing"
    patch = result.stdout_bytes
    assert b"\x1b[" not in patch
    assert patch.count(b"\n--- a/") + patch.startswith(b"--- a/") == 6

    fixed = tmp_path / "fixed"
    shutil.copytree(repo, fixed)
    monkeypatch.chdir(fixed)
    assert mpfix("fix", ".").exit_code == 1

    check = _git(repo, "apply", "--check", "-", input=patch)
    assert check.returncode == 0, check.stderr.decode()
    applied = _git(repo, "apply", "-", input=patch)
    assert applied.returncode == 0, applied.stderr.decode()
    assert _tree(repo) == _tree(fixed)


def test_diff_colour(tmp_path):
    write(tmp_path / "bad.py", UNGUARDED)
    plain = mpfix("fix", "--diff", "bad.py").stdout
    assert "\x1b[" not in plain and plain.startswith("--- a/bad.py\n+++ b/bad.py\n@@ ")
    coloured = mpfix("fix", "--diff", "--color", "bad.py").stdout
    assert "\x1b[31m-p = Process(target=work)\x1b[0m" in coloured
    assert "\x1b[32m+if __name__ == \"__main__\":\x1b[0m" in coloured
    assert "\x1b[" not in mpfix("fix", "--diff", "--no-color", "bad.py").stdout


def test_diff_of_a_clean_tree_is_empty_and_exit_0(tmp_path):
    write(tmp_path / "ok.py", GUARDED)
    result = mpfix("fix", "--diff", ".")
    assert result.exit_code == 0 and result.stdout == ""


# --interactive ------------------------------------------------------------------------

class Bump(Rule):
    """Turns each literal `1` into `2` (a test rule: one small fix per literal)."""

    code = "MP901"
    name = "bump"
    fix_safety = "safe"

    def check(self) -> Iterable[Violation]:
        for node in m.findall(self.context.module, m.Integer(value="1")):
            assert isinstance(node, cst.Integer)
            yield Violation(node, "one is too few", Fix({node: node.with_changes(value="2")}))


PREFILTER = "from multiprocessing import Process  # makes the file worth a parse\n"
THREE = PREFILTER + "a = 1\nb = 1\nc = 1\n"
ONE = PREFILTER + "d = 1\n"


@pytest.fixture
def review(tmp_path, monkeypatch):
    """Only the Bump rule runs; stdin counts as a terminal; writes are counted."""
    monkeypatch.setattr(engine, "rule_classes", lambda codes: [Bump])
    monkeypatch.setattr(interactive, "stdin_is_terminal", lambda: True)
    writes: list[str] = []
    real_write = cli.write_file

    def counting_write(path, original, new):  # type: ignore[no-untyped-def]
        writes.append(Path(path).name)
        real_write(path, original, new)

    monkeypatch.setattr(cli, "write_file", counting_write)
    write(tmp_path / "a.py", THREE)
    write(tmp_path / "b.py", ONE)
    return writes


def _values(path: Path) -> list[str]:
    return [line.split(" = ")[1] for line in path.read_text().splitlines()[1:]]


def test_interactive_refuses_without_a_terminal(tmp_path):
    write(tmp_path / "bad.py", UNGUARDED)
    result = mpfix("fix", "-i", "bad.py", input="y\n")
    assert result.exit_code == 2
    assert "--interactive needs a terminal" in result.stderr
    assert (tmp_path / "bad.py").read_text() == UNGUARDED


def test_interactive_yes_and_no(tmp_path, review):
    result = mpfix("fix", "--interactive", "a.py", "b.py", input="maybe\ny\nn\ny\ny\n")
    assert "Please answer y, n, a, s, r or q." in result.stderr
    assert _values(tmp_path / "a.py") == ["2", "1", "2"]
    assert _values(tmp_path / "b.py") == ["2"]
    # A declined fix is not asked about again in the engine's next round.
    assert result.stderr.count("Apply this fix?") == 5  # one repeated after "maybe"
    assert sorted(review) == ["a.py", "b.py"], "each file is written once"
    assert "[1/4] MP901 bump at a.py:2:5" in result.stderr
    assert [f"[{n}/4] MP901" in result.stderr for n in range(1, 5)] == [True] * 4
    assert "-a = 1\n+a = 2\n" in result.stderr
    assert result.exit_code == 1


def test_interactive_all_remaining_in_this_file(tmp_path, review):
    result = mpfix("fix", "-i", "a.py", "b.py", input="n\na\nn\n")
    assert _values(tmp_path / "a.py") == ["1", "2", "2"]
    assert _values(tmp_path / "b.py") == ["1"]
    assert result.stderr.count("Apply this fix?") == 3
    assert review == ["a.py"]


def test_interactive_quit_keeps_accepted_fixes_only(tmp_path, review):
    result = mpfix("fix", "-i", "a.py", "b.py", input="y\nq\n")
    assert _values(tmp_path / "a.py") == ["2", "1", "1"]
    assert (tmp_path / "b.py").read_text() == ONE
    assert result.stderr.count("Apply this fix?") == 2
    assert review == ["a.py"]


def test_interactive_end_of_input_writes_nothing(tmp_path, review):
    result = mpfix("fix", "-i", "a.py", "b.py", input="y\n")
    assert result.exit_code == 2
    assert result.stderr.endswith("mpfix: review aborted (end of input); nothing was written\n")
    assert (tmp_path / "a.py").read_text() == THREE
    assert review == []


def test_interactive_end_of_input_writes_the_files_already_decided(tmp_path, review):
    result = mpfix("fix", "-i", "a.py", "b.py", input="y\nn\ny\n")
    assert result.exit_code == 2
    assert _values(tmp_path / "a.py") == ["2", "1", "2"]
    assert (tmp_path / "b.py").read_text() == ONE
    assert review == ["a.py"]
    assert "wrote a.py with the fixes decided in them" in result.stderr


def _answers(monkeypatch, *lines: str) -> None:
    """Answers typed at the prompt, then Ctrl-C."""
    script = iter(lines)

    def read_line() -> str:
        line = next(script, None)
        if line is None:
            raise KeyboardInterrupt
        return line + "\n"

    monkeypatch.setattr(interactive, "_read_line", read_line)


def test_ctrl_c_writes_the_files_already_decided_and_says_which(tmp_path, review,
                                                                 monkeypatch):
    _answers(monkeypatch, "y", "n", "y")
    result = mpfix("fix", "-i", "a.py", "b.py")
    assert result.exit_code == 130
    assert _values(tmp_path / "a.py") == ["2", "1", "2"], "the answered fixes are kept"
    assert (tmp_path / "b.py").read_text() == ONE, "the file under review is untouched"
    assert review == ["a.py"]
    assert result.stderr.splitlines()[-1] == (
        "mpfix: interrupted; wrote a.py with the fixes decided in them; the file under "
        "review and the files after it are unchanged")
    assert "fully fixed" not in result.stderr


def test_ctrl_c_in_the_first_file_writes_nothing_and_says_so(tmp_path, review, monkeypatch):
    _answers(monkeypatch, "y")
    result = mpfix("fix", "-i", "a.py", "b.py")
    assert result.exit_code == 130
    assert (tmp_path / "a.py").read_text() == THREE and (tmp_path / "b.py").read_text() == ONE
    assert review == []
    assert result.stderr.splitlines()[-1] == "mpfix: interrupted; nothing was written"


def test_ctrl_c_with_diff_writes_nothing(tmp_path, review, monkeypatch):
    _answers(monkeypatch, "y", "y", "y")
    result = mpfix("fix", "-i", "--diff", "a.py", "b.py")
    assert result.exit_code == 130 and review == []
    assert result.stderr.splitlines()[-1] == "mpfix: interrupted; nothing was written"


def test_interactive_skip_the_rest_of_this_file(tmp_path, review):
    result = mpfix("fix", "-i", "a.py", "b.py", input="y\ns\ny\n")
    assert _values(tmp_path / "a.py") == ["2", "1", "1"]
    assert _values(tmp_path / "b.py") == ["2"]
    assert result.stderr.count("Apply this fix?") == 3
    # Skipping a.py's last fix unasked shrinks the total.
    assert "[1/4] MP901 bump at a.py:2:5" in result.stderr
    assert "[2/4] MP901 bump at a.py:3:5" in result.stderr
    assert "[3/3] MP901 bump at b.py:2:5" in result.stderr
    assert sorted(review) == ["a.py", "b.py"]


class Five(Rule):
    """Turns each literal `5` into `6` (a second test rule)."""

    code = "MP902"
    name = "five"
    fix_safety = "safe"

    def check(self) -> Iterable[Violation]:
        for node in m.findall(self.context.module, m.Integer(value="5")):
            assert isinstance(node, cst.Integer)
            yield Violation(node, "five is odd", Fix({node: node.with_changes(value="6")}))


def test_interactive_skip_this_rule_everywhere(tmp_path, review, monkeypatch):
    monkeypatch.setattr(engine, "rule_classes", lambda codes: [Bump, Five])
    write(tmp_path / "c.py", PREFILTER + "x = 1\ny = 5\n")
    write(tmp_path / "d.py", PREFILTER + "z = 1\nw = 5\n")
    result = mpfix("fix", "-i", "c.py", "d.py", input="r\ny\ny\n")
    assert _values(tmp_path / "c.py") == ["1", "6"]
    assert _values(tmp_path / "d.py") == ["1", "6"]
    assert result.stderr.count("Apply this fix?") == 3, "MP901 is asked about once"
    assert "[1/4] MP901 bump at c.py:2:5" in result.stderr
    assert "[2/3] MP902 five at c.py:3:5" in result.stderr
    assert "[3/3] MP902 five at d.py:3:5" in result.stderr


def test_interactive_with_diff_prints_the_accepted_fixes(tmp_path, review):
    result = mpfix("fix", "-i", "--diff", "a.py", "b.py", input="n\ny\nn\nn\n")
    assert result.stdout == ("--- a/a.py\n+++ b/a.py\n@@ -1,4 +1,4 @@\n"
                             f" {PREFILTER} a = 1\n-b = 1\n+b = 2\n c = 1\n")
    assert review == []


def test_patch_paths_are_relative_to_the_working_directory(tmp_path):
    from mpfix.engine.diff import patch_path

    assert patch_path(str(tmp_path / "pkg" / "a.py"), tmp_path) == "pkg/a.py"
    assert patch_path("./././a.py") == "a.py"
    assert patch_path(".github/x.py") == ".github/x.py"
    write(tmp_path / "pkg" / "bad.py", UNGUARDED)
    result = mpfix("fix", "--diff", str(tmp_path / "pkg" / "bad.py"))
    assert result.stdout.startswith("--- a/pkg/bad.py\n+++ b/pkg/bad.py\n")
