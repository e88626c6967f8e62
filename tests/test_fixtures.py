"""Every fixture folder becomes these tests (DESIGN.md, "Fixtures")."""

from __future__ import annotations

import pytest

from behaviour import METHODS, expected_output
from conftest import CASES
from fixture_cases import Case, program_code
from project_cases import check_project, fix_notebook, fix_project, is_project
from mpfix import check_code, fix_code
from mpfix.engine.source import compiles

ids = [case.id for case in CASES]
run_cases = [case for case in CASES if case.run is not None]


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_fix_gives_after(case: Case) -> None:
    expected = case.after if case.after is not None else case.before
    assert _fix(case, case.before).decode() == expected.decode()


@pytest.mark.parametrize("case", [c for c in CASES if c.after is not None],
                         ids=[c.id for c in CASES if c.after is not None])
def test_fix_is_idempotent_and_compiles(case: Case) -> None:
    assert case.after is not None
    assert compiles(program_code(case, case.after)) is None
    assert _fix(case, case.after).decode() == case.after.decode()


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_findings(case: Case) -> None:
    findings = [f for f in _check(case, case.before) if f.code == case.code]
    if case.findings is not None:
        assert [f"{_cell(f)}{f.line}:{f.col} {f.code}" for f in findings] == case.findings
    elif case.after is not None:
        assert findings, "a case with after.py must have a finding of its rule"
    else:
        assert not findings, "a case without after.py must have no finding of its rule"


def _fix(case: Case, program: bytes) -> bytes:
    if is_project(case.folder):
        return fix_project(case, program)
    if case.notebook:
        return fix_notebook(case, program)[0]
    return fix_code(program, **case.fix_options())


notebook_cases = [case for case in CASES if case.notebook]


@pytest.mark.parametrize("case", notebook_cases, ids=[c.id for c in notebook_cases])
def test_fix_writes_companions(case: Case) -> None:
    """A notebook's fix may move code to a module beside it: exactly the case's `after.NAME`
    files, and none when it has none; fixed again, with them beside it, nothing changes."""
    _, written = fix_notebook(case, case.before)
    assert {name: text.decode() for name, text in written.items()} == \
        {name: text.decode() for name, text in case.companions().items()}
    if case.after is not None:
        again, rewritten = fix_notebook(case, case.after, case.companions())
        assert (again, rewritten) == (case.after, {})


def _check(case: Case, program: bytes) -> list:
    if is_project(case.folder):
        return check_project(case, program)
    return check_code(program, **case.check_options())


def _cell(finding) -> str:  # type: ignore[no-untyped-def]
    return f"cell {finding.cell}:" if finding.cell is not None else ""


def _methods(case: Case) -> list[tuple[Case, str]]:
    return [(case, method) for method in (case.run or {}).get("methods", METHODS)]


after_runs = [p for c in run_cases if c.after is not None for p in _methods(c)]
before_runs = [p for c in run_cases for p in _methods(c)]


@pytest.mark.parametrize("case,method", after_runs,
                         ids=[f"{c.id}-{m}" for c, m in after_runs])
def test_after_runs_correctly(case: Case, method: str, behaviour_runs) -> None:
    outcome = behaviour_runs.outcome(case, "after", method)
    assert expected_output(case, outcome), outcome.summary()


@pytest.mark.parametrize("case,method", before_runs,
                         ids=[f"{c.id}-{m}" for c, m in before_runs])
def test_before_fails_only_where_stated(case: Case, method: str, behaviour_runs) -> None:
    outcome = behaviour_runs.outcome(case, "before", method)
    should_fail = method in (case.run or {}).get("before_fails", [])
    if should_fail:
        assert not expected_output(case, outcome), f"before.py worked under {method}"
    else:
        assert expected_output(case, outcome), outcome.summary()
