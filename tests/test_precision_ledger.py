"""The precision ledger (bench/precision/) stays well-formed, and its script compares right.

The real trees are not here (bench/precision/run.py says how to get them), so these
tests check the files and run the script's logic on small synthetic input.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fixture_cases import ROOT

PRECISION = ROOT / "bench" / "precision"
HEX40 = re.compile(r"[0-9a-f]{40}")


def _load_script():
    spec = importlib.util.spec_from_file_location("precision_run", PRECISION / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


run = _load_script()


# --- the files -------------------------------------------------------------------------

def test_repos_file_pins_every_repository_to_a_commit() -> None:
    repos = run.load_repos()
    assert len(repos) >= 12
    names = [repo.name for repo in repos]
    assert len(names) == len(set(names)), "a repository is listed twice"
    for repo in repos:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", repo.name), repo.name
        assert HEX40.fullmatch(repo.commit), f"{repo.name}: commit {repo.commit!r}"
        assert repo.kind, f"{repo.name}: say what kind of repository it is"
        for path in repo.paths:
            assert not Path(path).is_absolute() and ".." not in Path(path).parts, path


def test_ledger_rows_are_well_formed() -> None:
    header = (PRECISION / "ledger.csv").read_text(encoding="utf-8").splitlines()[0]
    assert tuple(header.split(",")) == run.LEDGER_COLUMNS
    commits = {repo.name: repo.commit for repo in run.load_repos()}
    rows = run.load_ledger()
    assert rows, "the ledger is empty"
    for row in rows:
        where = f"{row.repo} {row.path}:{row.line} {row.rule}"
        assert row.verdict in run.VERDICTS, f"{where}: verdict {row.verdict!r}"
        assert row.repo in commits, f"{where}: repository not in repos.toml"
        assert row.commit == commits[row.repo], f"{where}: commit differs from repos.toml"
        assert row.reason.strip(), f"{where}: no reason"
        assert re.fullmatch(r"MP\d{3}", row.rule), where
        assert row.line >= 1, where
        assert not row.path.startswith("/") and "\\" not in row.path, where


# --- comparison and precision ----------------------------------------------------------

def _finding(line: int, rule: str = "MP001", path: str = "a.py", source: str = "",
             repo: str = "o/r"):
    return run.Finding(repo=repo, path=path, line=line, rule=rule, source=source)


def _row(line: int, verdict: str, rule: str = "MP001", path: str = "a.py", source: str = "",
         repo: str = "o/r"):
    return run.LedgerRow(repo=repo, commit="0" * 40, path=path, line=line, rule=rule,
                         verdict=verdict, reason="why", source=source)


def test_compare_pairs_by_line_then_by_source_text() -> None:
    findings = [
        _finding(10, source="pool.terminate()"),           # same line
        _finding(25, source="p.join()"),                   # moved from line 20
        _finding(30, rule="MP004", source="x()"),          # not in the ledger
        _finding(10, path="b.py"),                         # other file
    ]
    ledger = [
        _row(10, "TP", source="pool.terminate()"),
        _row(20, "FP", source="p.join()"),
        _row(40, "debatable", source="gone()"),
        _row(30, "FP", rule="MP003", source="x()"),        # other rule: no match
    ]
    result = run.compare(findings, ledger)
    assert [(f.line, r.line) for f, r in result.matched] == [(10, 10), (25, 20)]
    assert result.new == [findings[2], findings[3]]
    assert result.gone == [ledger[2], ledger[3]]


def test_compare_is_one_to_one() -> None:
    # Two findings on one line (two globals of one statement) need two rows.
    findings = [_finding(5, rule="MP002", source="a, b = c"),
                _finding(5, rule="MP002", source="a, b = c")]
    result = run.compare(findings, [_row(5, "FP", rule="MP002", source="a, b = c")])
    assert len(result.matched) == 1 and len(result.new) == 1 and not result.gone
    result = run.compare(findings[:1], [_row(5, "FP", rule="MP002", source="a, b = c"),
                                        _row(5, "TP", rule="MP002", source="a, b = c")])
    assert len(result.matched) == 1 and len(result.gone) == 1


def test_precision_counts_debatable_apart() -> None:
    rows = [_row(1, "TP"), _row(2, "TP"), _row(3, "FP"), _row(4, "debatable"),
            _row(5, "TP", rule="MP004"), _row(6, "debatable", rule="MP007")]
    per_rule, overall = run.tally(rows)
    assert (per_rule["MP001"].tp, per_rule["MP001"].fp, per_rule["MP001"].debatable) == (2, 1, 1)
    assert per_rule["MP001"].precision == pytest.approx(2 / 3)
    assert per_rule["MP004"].precision == 1.0
    assert per_rule["MP007"].precision is None  # nothing judged TP or FP
    assert overall.precision == pytest.approx(3 / 4)
    table = run.precision_table(per_rule, overall)
    assert "| MP001 | 4 | 2 | 1 | 1 | 66.7% |" in table
    assert "| MP007 | 1 | 0 | 0 | 1 | n/a |" in table
    assert "| overall | 6 | 3 | 1 | 2 | 75.0% |" in table


def test_prune_drops_vanished_rows_of_the_checked_repositories_only() -> None:
    ledger = [_row(20, "FP", source="p.join()"), _row(40, "TP", source="gone()"),
              _row(7, "FP", repo="x/y")]
    comparison = run.compare([_finding(25, source="p.join()")], ledger[:2])
    pruned = run.pruned_ledger(ledger, comparison, {"o/r"})
    assert [(row.repo, row.line, row.verdict) for row in pruned] == [("o/r", 25, "FP"),
                                                                     ("x/y", 7, "FP")]


def test_ledger_round_trips(tmp_path: Path) -> None:
    rows = [_row(3, "FP", source='print("a, b")'), _row(9, "TP", path="d/e.py")]
    run.write_ledger(rows, tmp_path / "ledger.csv")
    assert run.load_ledger(tmp_path / "ledger.csv") == rows


# --- trees and the whole script --------------------------------------------------------

UNGUARDED = (
    "import multiprocessing as mp\n\n"
    "def square(x):\n    return x * x\n\n"
    "with mp.Pool(2) as pool:\n    print(pool.map(square, range(4)))\n"
)


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture()
def bare_snapshot(tmp_path: Path) -> tuple[Path, str]:
    """A bare git directory DIR/o+r with one commit: an unguarded script and a link."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    work = tmp_path / "work"
    (work / "pkg").mkdir(parents=True)
    (work / "pkg" / "script.py").write_text(UNGUARDED)
    (work / "README").write_text("not python\n")
    (work / "link.py").symlink_to("pkg/script.py")
    _git("init", "-q", cwd=work)
    _git("add", ".", cwd=work)
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "c", cwd=work)
    commit = _git("rev-parse", "HEAD", cwd=work)
    git_dirs = tmp_path / "snapshots"
    git_dirs.mkdir()
    _git("clone", "-q", "--bare", str(work), str(git_dirs / "o+r"), cwd=tmp_path)
    return git_dirs, commit


def test_materialize_writes_the_commit(bare_snapshot, tmp_path: Path) -> None:
    git_dirs, commit = bare_snapshot
    dest = tmp_path / "tree"
    repo = run.Repo(name="o/r", commit=commit)
    assert run.find_git_dir(git_dirs, repo) == git_dirs / "o+r"
    assert run.materialize(git_dirs / "o+r", commit, dest) == 0
    assert (dest / "pkg" / "script.py").read_text() == UNGUARDED
    assert (dest / "README").read_text() == "not python\n"
    assert (dest / "link.py").is_symlink()


def test_missing_trees_say_how_to_get_them(tmp_path: Path, capsys) -> None:
    repos_file = tmp_path / "repos.toml"
    repos_file.write_text(f'[[repo]]\nname = "o/r"\ncommit = "{"a" * 40}"\nkind = "k"\n')
    ledger = tmp_path / "ledger.csv"
    run.write_ledger([], ledger)
    status = run.main(["--trees", str(tmp_path / "none"), "--repos-file", str(repos_file),
                       "--ledger", str(ledger)])
    assert status == 2
    err = capsys.readouterr().err
    assert "o/r: no tree at" in err
    assert sum("git --git-dir=" in line for line in err.splitlines()) == 1


def test_script_end_to_end(bare_snapshot, tmp_path: Path, capsys) -> None:
    """Extract, check with mpfix, list a new finding, then agree with the judged ledger."""
    git_dirs, commit = bare_snapshot
    repos_file = tmp_path / "repos.toml"
    repos_file.write_text(f'[[repo]]\nname = "o/r"\ncommit = "{commit}"\nkind = "k"\n'
                          f'paths = ["pkg"]\n')
    ledger, draft, trees = tmp_path / "ledger.csv", tmp_path / "draft.csv", tmp_path / "trees"
    stale = run.LedgerRow(repo="o/r", commit=commit, path="pkg/old.py", line=1, rule="MP004",
                          verdict="FP", reason="gone since")
    run.write_ledger([stale], ledger)
    args = ["--trees", str(trees), "--repos-file", str(repos_file), "--ledger", str(ledger),
            "-j", "1"]

    assert run.main([*args, "--git-dirs", str(git_dirs), "--draft", str(draft)]) == 1
    out = capsys.readouterr().out
    new = run.load_ledger(draft)
    assert new and all(row.path == "pkg/script.py" and row.verdict == "" for row in new)
    assert f"{len(new)} new findings" in out
    assert "1 ledger rows no longer reported" in out and "pkg/old.py:1 MP004" in out

    judged = [dataclasses.replace(row, verdict="TP", reason="unguarded") for row in new]
    run.write_ledger(judged, ledger)
    assert run.main(args) == 0  # the tree is there now: no --git-dirs needed
    out = capsys.readouterr().out
    assert "new findings" not in out and "no longer reported" not in out
    assert f"| overall | {len(new)} | {len(new)} | 0 | 0 | 100.0% |" in out
