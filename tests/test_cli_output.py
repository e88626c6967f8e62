"""What a user reads: finding lines with fix markers, `full` output with source and fix,
colour, --statistics, --show-fixes, `mpfix rule`'s list, rule names, `fix` in JSON/SARIF."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import TERMINATES, UNGUARDED, mpfix, write

from mpfix.cli.docs import documented_rules
from mpfix.findings import FileResult, Finding, Safety
from mpfix.engine.registry import ALL_CODES, CODES_BY_NAME, rule_class
from mpfix.cli.report import write_findings

DATA = Path(__file__).parent / "data"
ANSI = "\033["
MAIN_GUARD = 'if __name__ == "__main__":\n    freeze_support()\n'


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


# Finding lines ------------------------------------------------------------------------

def test_text_marks_what_fix_can_do():
    findings = [Finding(1, 1, "MP001", "safe one", fix_safety=Safety.SAFE, path="a.py"),
                Finding(2, 5, "MP008", "unsafe one", fix_safety=Safety.UNSAFE, path="a.py"),
                Finding(3, 1, "MP010", "report only", path="a.py")]
    out = io.StringIO()
    write_findings("text", [FileResult("a.py", findings=findings)], out)
    assert out.getvalue().splitlines() == [
        "a.py:1:1: MP001 [*] safe one",
        "a.py:2:5: MP008 [U] unsafe one",
        "a.py:3:1: MP010 report only",
    ]


def test_text_is_the_default_off_a_terminal(tmp_path):
    write(tmp_path / "bad.py", UNGUARDED)
    write(tmp_path / "shutdown.py", TERMINATES)
    lines = mpfix("check", "bad.py", "shutdown.py").stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("bad.py:7:1: MP001 [*] module-level code starts processes")
    assert lines[1].startswith("shutdown.py:13:5: MP004 [U] `p.terminate()`")
    assert ANSI not in "".join(lines)


def test_full_shows_source_caret_and_the_fix(tmp_path):
    write(tmp_path / "bad.py", UNGUARDED)
    result = mpfix("check", "--output-format", "full", "bad.py")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("bad.py:7:1: MP001 [*] ")
    # `p.start()` is columns 1 to 9 of line 7: nine carets from column 1.
    assert lines[1:5] == ["  |", "7 | p.start()", "  | ^^^^^^^^^ MP001", "  |"]
    assert lines[5] == "  = fix (safe):"
    hunk = lines[6:]
    assert hunk[0].startswith("  @@ -1,")
    assert "  -p.start()" in hunk and '  +if __name__ == "__main__":' in hunk
    assert "  +    p.start()" in hunk and "  +    freeze_support()" in hunk
    assert ANSI not in result.stdout


def test_full_caret_under_an_indented_call(tmp_path):
    write(tmp_path / "shutdown.py", TERMINATES)
    result = mpfix("check", "--output-format", "full", "--select", "MP004", "shutdown.py")
    lines = result.stdout.splitlines()
    assert lines[0].startswith("shutdown.py:13:5: MP004 [U] ")
    assert lines[2] == "13 |     p.terminate()"
    assert lines[3] == "   |     ^^^^^^^^^^^^^ MP004"
    assert "  = fix (unsafe):" in lines and "  +    q.put(None)" in lines


def test_full_after_fix_points_into_the_fixed_file(tmp_path):
    write(tmp_path / "shutdown.py", TERMINATES.replace("import multiprocessing as mp\n",
                                                       "import multiprocessing as mp\n\n\n"))
    write(tmp_path / "bad.py", UNGUARDED)
    result = mpfix("fix", "--output-format", "full", "--select", "MP001,MP004", ".")
    assert MAIN_GUARD in (tmp_path / "bad.py").read_text()
    [location] = [line for line in result.stdout.splitlines() if " MP004 " in line]
    line = int(location.split(":")[1])
    assert f"{line} |     p.terminate()" in result.stdout


def _in_terminal(args: list[str], cwd: Path, **env: str) -> str:
    """mpfix with stdout on a pseudo-terminal, as a user at a shell runs it."""
    primary, secondary = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    process = subprocess.Popen([sys.executable, "-m", "mpfix", *args], cwd=cwd, stdout=secondary,
                               stderr=subprocess.DEVNULL, env={**environment, **env})
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(primary)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_a_terminal_gets_full_output_in_colour(tmp_path):
    write(tmp_path / "bad.py", UNGUARDED)
    shown = _in_terminal(["check", "--no-cache", "bad.py"], tmp_path)
    assert ANSI in shown and "^^^^^^^^^" in shown and "fix (safe)" in shown


def test_no_color_is_honoured(tmp_path):
    write(tmp_path / "bad.py", UNGUARDED)
    shown = _in_terminal(["check", "--no-cache", "bad.py"], tmp_path, NO_COLOR="1")
    assert ANSI not in shown and "  | ^^^^^^^^^ MP001" in shown


def test_force_color_off_a_terminal(tmp_path, monkeypatch):
    write(tmp_path / "bad.py", UNGUARDED)
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert ANSI in mpfix("check", "--output-format", "full", "bad.py").stdout
    assert ANSI not in mpfix("check", "bad.py").stdout  # text stays plain for tools


# --statistics, --show-fixes -----------------------------------------------------------

def test_statistics_counts_per_rule(tmp_path):
    write(tmp_path / "a.py", UNGUARDED)
    write(tmp_path / "b.py", UNGUARDED)
    write(tmp_path / "shutdown.py", TERMINATES)
    result = mpfix("check", "--statistics", ".")
    assert result.exit_code == 1
    assert [line.split() for line in result.stdout.splitlines()] == [
        ["2", "MP001", "main-guard", "2", "fixable"],
        ["1", "MP004", "cooperative-shutdown", "1", "fixable", "with", "--unsafe-fixes"],
    ]
    records = json.loads(mpfix("check", "--statistics", "--output-format", "json", ".").stdout)
    assert records[0] == {"code": "MP001", "name": "main-guard", "count": 2, "fixable": 2,
                          "unsafe_fixable": 0}
    assert records[1]["code"] == "MP004" and records[1]["unsafe_fixable"] == 1


def test_statistics_with_sarif_is_a_usage_error(tmp_path):
    result = mpfix("check", "--statistics", "--output-format", "sarif", ".")
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1


def test_show_fixes_lists_fixes_per_file_and_rule(tmp_path):
    write(tmp_path / "a.py", UNGUARDED)
    write(tmp_path / "shutdown.py", TERMINATES)
    result = mpfix("fix", "--show-fixes", "--unsafe-fixes", "--select", "MP001,MP004", ".")
    assert result.stdout.splitlines() == [
        "Fixed 2 findings:", "- a.py:", "    1 × MP001 (main-guard)",
        "- shutdown.py:", "    1 × MP004 (cooperative-shutdown)"]
    again = mpfix("fix", "--show-fixes", ".")
    assert again.stdout == "No fixes applied.\n"


def test_show_fixes_with_diff_goes_to_stderr(tmp_path):
    write(tmp_path / "a.py", UNGUARDED)
    result = mpfix("fix", "--diff", "--show-fixes", "a.py")
    assert result.stdout.startswith("--- a/a.py")
    assert "Would fix 1 finding:\n- a.py:\n    1 × MP001 (main-guard)" in result.stderr
    assert (tmp_path / "a.py").read_text() == UNGUARDED


# check without a path, check --fix ---------------------------------------------------

def test_check_without_a_path_checks_the_current_directory(tmp_path):
    write(tmp_path / "pkg" / "bad.py", UNGUARDED)
    result = mpfix("check")
    assert result.exit_code == 1 and result.stdout.startswith("pkg/bad.py:7:1: MP001 ")


def test_check_fix_points_to_mpfix_fix(tmp_path):
    write(tmp_path / "bad.py", UNGUARDED)
    result = mpfix("check", "--fix", "bad.py")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "mpfix: error: `mpfix check` only reports; use `mpfix fix` to apply fixes"]
    assert (tmp_path / "bad.py").read_text() == UNGUARDED


# Rules by name, `mpfix rule` ---------------------------------------------------------

def test_every_rule_name_resolves_to_its_code():
    assert {rule_class(code).name: code for code in ALL_CODES} == CODES_BY_NAME


def test_rule_lists_every_rule_on_one_line_each():
    result = mpfix("rule")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == len(documented_rules())
    by_code = {line.split()[0]: line.split() for line in lines}
    assert by_code["MP001"] == ["MP001", "main-guard", "fix:", "safe", "on"]
    assert by_code["MP005"][1] == "unjoined-process" and by_code["MP005"][-1] == "opt-in"
    assert by_code["MP010"][2:] == ["fix:", "report", "only", "on"]
    assert by_code["MP100"][1] == "unused-noqa" and "off" in by_code["MP100"]


def test_rule_accepts_a_name():
    assert mpfix("rule", "main-guard").stdout == mpfix("rule", "MP001").stdout
    assert mpfix("rule", "unused-noqa").stdout.startswith("MP100 unused-noqa")
    unknown = mpfix("rule", "no-such-rule")
    assert unknown.exit_code == 2 and "no-such-rule" in unknown.stderr


def test_select_and_ignore_accept_names(tmp_path):
    write(tmp_path / "bad.py", UNGUARDED)
    write(tmp_path / "shutdown.py", TERMINATES)
    selected = mpfix("check", "--select", "cooperative-shutdown", ".")
    assert [line.split()[1] for line in selected.stdout.splitlines()] == ["MP004"]
    ignored = mpfix("check", "--ignore", "Main-Guard", ".")
    assert [line.split()[1] for line in ignored.stdout.splitlines()] == ["MP004"]
    unknown = mpfix("check", "--select", "main-guards", ".")
    assert unknown.exit_code == 2 and "main-guards" in unknown.stderr


def test_config_accepts_names(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.mpfix]\nselect = ["main-guard"]\n')
    write(tmp_path / "bad.py", UNGUARDED)
    write(tmp_path / "shutdown.py", TERMINATES)
    result = mpfix("check", ".")
    assert [line.split()[1] for line in result.stdout.splitlines()] == ["MP001"]


# fix in JSON and SARIF, --diff with them ------------------------------------------------

def test_fix_json_reports_fixes_and_what_remains(tmp_path):
    write(tmp_path / "bad.py", UNGUARDED)
    write(tmp_path / "shutdown.py", TERMINATES)
    result = mpfix("fix", "--output-format", "json", "--select", "MP001,MP004", ".")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["fixes"] == [{"path": "bad.py", "code": "MP001", "name": "main-guard",
                                "count": 1}]
    [left] = report["findings"]
    assert (left["path"], left["code"], left["line"]) == ("shutdown.py", "MP004", 13)
    assert left["fix"]["safety"] == "unsafe" and left["fix"]["edits"]
    assert MAIN_GUARD in (tmp_path / "bad.py").read_text()


def test_fix_sarif_reports_fixes_and_validates(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    write(tmp_path / "bad.py", UNGUARDED)
    write(tmp_path / "shutdown.py", TERMINATES)
    result = mpfix("fix", "--output-format", "sarif", "--select", "MP001,MP004", ".")
    log = json.loads(result.stdout)
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(log)
    run = log["runs"][0]
    assert run["invocations"][0]["properties"]["fixesApplied"] == [
        {"uri": "bad.py", "ruleId": "MP001", "count": 1}]
    assert [r["ruleId"] for r in run["results"]] == ["MP004"]


@pytest.mark.parametrize("fmt", ["json", "sarif", "github"])
def test_diff_with_a_machine_format_is_a_usage_error(tmp_path, fmt):
    write(tmp_path / "bad.py", UNGUARDED)
    result = mpfix("fix", "--diff", "--output-format", fmt, "bad.py")
    assert result.exit_code == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "--diff" in result.stderr


def test_diff_with_text_formats_still_prints_the_patch(tmp_path):
    write(tmp_path / "bad.py", UNGUARDED)
    for fmt in ("text", "full"):
        result = mpfix("fix", "--diff", "--output-format", fmt, "bad.py")
        assert result.exit_code == 1 and result.stdout.startswith("--- a/bad.py")
