"""No finding disappears in a fix round without being fixed.

`mpfix fix` applies the fixes of a round together and analyses the new code again
(engine.py's fix loop). A fix of one rule must never make another finding vanish
unfixed: the summary would then say "0 findings remain" for a program that is still
broken (an MP002 rewrite to `args=(*r, q)` once hid the MP003 deadlock on `q`).

The property, followed through every round of `run_rules(fix=True)` with all
rules, unsafe fixes on and off: each finding a round reports is either one whose
fix that round applied, or it is reported again by the next round. Since the first
round's findings are exactly `check`'s, every finding of `check` is thereby either
fixed or still reported after `fix`.

How a finding of one round is found in the next: tests/finding_rounds.py.

Programs: every fixture's before.py (with the options of its case). The real corpus
(the standard library and site-packages) is followed through its rounds where
tests/test_corpus.py runs the engine on every file that mentions processes, so that
each of those files is parsed and fixed once.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Iterator, Optional

import pytest
from finding_rounds import describe, lost, lost_in
from fixture_cases import Case, load_cases

from mpfix.api import _file_settings
from mpfix.engine.fixer import FixRound, run_rules
from mpfix.findings import Finding, Safety
from mpfix.settings import FileSettings


@dataclass(frozen=True)
class Program:
    label: str
    source: bytes
    path: str
    options: tuple[tuple[str, object], ...] = ()

    def settings(self, unsafe_fixes: bool) -> FileSettings:
        options = dict(self.options)
        return _file_settings(None, options.get("ignore", ()), unsafe_fixes,
                              options.get("target_start_method"),  # type: ignore[arg-type]
                              options.get("extra_starters"),  # type: ignore[arg-type]
                              options.get("is_library"), self.path)  # type: ignore[arg-type]


def _fixture_program(case: Case) -> Program:
    options = {k: v for k, v in case.options.items() if k not in ("select", "unsafe_fixes")}
    path = str(options.pop("path", "main.py"))
    return Program(case.id, case.before, path, tuple(sorted(options.items())))


def _rounds(program: Program, unsafe_fixes: bool) -> Optional[list[FixRound]]:
    """The rounds of a fix run; None when nothing was written (an error)."""
    rounds: list[FixRound] = []
    result = run_rules(program.source, program.settings(unsafe_fixes), path=program.path,
                       fix=True, observe=rounds.append)
    return None if result.error else rounds


def vanished(program: Program) -> list[str]:
    """Every finding that disappears in a round of `fix` without being fixed; runs in a
    worker process."""
    problems: list[str] = []
    for unsafe_fixes in (True, False):
        rounds = _rounds(program, unsafe_fixes)
        if rounds is None:
            continue
        label = f"{program.label} (unsafe fixes {'on' if unsafe_fixes else 'off'})"
        problems += [describe(label, number, rounds[number], finding)
                     for number, finding in lost_in(rounds)]
        if unsafe_fixes and not any(f.fix_safety is Safety.UNSAFE
                                    for round_ in rounds for f in round_.findings):
            break  # with no unsafe fix on offer, the run without them is the same run
    return problems


@pytest.fixture(scope="module")
def workers() -> Iterator[ProcessPoolExecutor]:
    """Two processes (the machines have two cores), started the way the guidelines say."""
    with ProcessPoolExecutor(max_workers=2,
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


def _check(programs: list[Program], workers: ProcessPoolExecutor) -> list[str]:
    largest_first = sorted(programs, key=lambda p: len(p.source), reverse=True)
    return [problem for problems in workers.map(vanished, largest_first, chunksize=1)
            for problem in problems]


def test_fixture_findings_are_fixed_or_still_reported(workers: ProcessPoolExecutor) -> None:
    programs = [_fixture_program(case) for case in load_cases()]
    assert len(programs) > 100
    problems = _check(programs, workers)
    assert not problems, "\n".join(problems)


# -- the matching itself --------------------------------------------------------------------


def _round(code: str, findings: list[Finding], fixed: Sequence[Finding] = ()) -> FixRound:
    return FixRound(code, tuple(findings), tuple(fixed))


def _at(line: int, col: int, end_col: int, code: str = "MP003") -> Finding:
    return Finding(line=line, col=col, code=code, message="m", end_line=line, end_col=end_col)


def test_a_finding_moved_by_a_fix_is_still_the_same_finding() -> None:
    earlier = _round("a = 1\np.join()\n", [_at(2, 1, 9)])
    later = _round("# added\na = 1\np.join()\n", [_at(3, 1, 9)])
    assert lost(earlier, later) == []


def test_a_finding_gone_unfixed_is_lost_and_a_fixed_one_is_not() -> None:
    code = "p.join()\nq.join()\n"
    earlier = _round(code, [_at(1, 1, 9), _at(2, 1, 9)], fixed=[_at(2, 1, 9)])
    assert lost(earlier, _round(code, [])) == [_at(1, 1, 9)]
    assert lost(earlier, _round(code, [_at(1, 1, 9)])) == []


def test_one_later_finding_answers_for_one_earlier_finding() -> None:
    code = "p.join()\np.join()\n"
    earlier = _round(code, [_at(1, 1, 9), _at(2, 1, 9)])
    assert len(lost(earlier, _round(code, [_at(1, 1, 9)]))) == 1


def test_a_rewritten_node_is_matched_by_its_first_line_or_its_place() -> None:
    earlier = _round("if x:\n    a()\n", [Finding(1, 1, "MP001", "m", end_line=2, end_col=8)])
    later = _round("if x:\n    b()\n    a()\n", [Finding(1, 1, "MP001", "m", end_line=3, end_col=8)])
    assert lost(earlier, later) == []
    moved = _round("z = 0\nf(y)\n", [_at(2, 1, 5, "MP007")])
    assert lost(moved, _round("z = 0\nf(y, w)\n", [_at(2, 1, 8, "MP007")])) == []
    assert len(lost(moved, _round("z = 0\nf(y, w)\n", [_at(2, 1, 8, "MP002")]))) == 1
