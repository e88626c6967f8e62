"""Every rule also runs alone as a libcst codemod command, with the same result."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import libcst as cst
import pytest
from libcst.codemod import CodemodContext, SkipFile

from conftest import CASES
from fixture_cases import ROOT, Case
from project_cases import is_project
from mpfix.engine.registry import ALL_CODES, rule_class
from mpfix.rulekit.helpers import RuleCommand


def _is_command(value: object) -> bool:
    try:
        return isinstance(value, type) and issubclass(value, RuleCommand)
    except TypeError:  # `list[str]` aliases pass isinstance(type) on Python 3.9
        return False


def command_for(code: str) -> type[RuleCommand]:
    rule = rule_class(code)
    module = sys.modules[rule.__module__]
    commands = [value for value in vars(module).values()
                if _is_command(value) and value is not RuleCommand and value.rule is rule]
    assert len(commands) == 1, f"{rule.__module__} must define exactly one RuleCommand"
    return commands[0]


@pytest.mark.parametrize("code", ALL_CODES)
def test_every_rule_has_a_command(code: str) -> None:
    assert command_for(code).rule.code == code


# A project case's finding needs the other modules of its run; a command sees one module.
plain_cases = [c for c in CASES if c.after is not None and set(c.options) <= {"unsafe_fixes"}
               and not is_project(c.folder)]


@pytest.mark.parametrize("case", plain_cases, ids=[c.id for c in plain_cases])
def test_command_matches_fixture(case: Case) -> None:
    command = command_for(case.code)(CodemodContext(), unsafe_fixes=case.options.get("unsafe_fixes", True))
    try:
        result = command.transform_module(cst.parse_module(case.before))
    except SkipFile:
        pytest.fail("the command skipped a file the engine fixes")
    assert result.bytes == case.after


def test_libcst_tool_runs_a_rule(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.id == "main-guard/process-guideline-example")
    target = tmp_path / "script.py"
    target.write_bytes(case.before)
    shutil.copy(ROOT / ".libcst.codemod.yaml", tmp_path / ".libcst.codemod.yaml")
    completed = subprocess.run(
        [sys.executable, "-m", "libcst.tool", "codemod", "--no-format", "--hide-progress",
         "main_guard.MainGuardCommand", str(target)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert target.read_bytes() == case.after
