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

A finding of one round is matched in the next by its rule code and the text of the
node it points at; where a fix rewrote that node, by the node's first line, then by
where its line went (a line diff between the two rounds' code).

Programs: every fixture's before.py (with the options of its case), and the real
corpus of tests/test_corpus.py (the standard library and site-packages: the files
that mention processes and pass the prefilter, which are the ones `mpfix fix`
parses; the others never get a finding from the command line).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Callable, Iterator, Optional

import pytest
from fixture_cases import Case, load_cases
from safety_support import UNGUARDED_POOL
from test_corpus import MENTIONS, _sources

from mpfix.api import _file_settings
from mpfix.engine.fixer import FixRound, run_rules
from mpfix.findings import Finding, Safety
from mpfix.engine.pipeline import needs_parse
from mpfix.engine.registry import ALL_CODES
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


def _corpus_programs() -> list[Program]:
    stdlib, site = _sources()
    skip = {*site, stdlib / "site-packages", stdlib / "dist-packages"}
    every_rule = FileSettings(rules=ALL_CODES)
    programs = [Program("seed: unguarded pool", UNGUARDED_POOL.encode(), "unguarded_pool.py")]
    for root in (stdlib, *site):
        for path in sorted(root.rglob("*.py")):
            if any(path.is_relative_to(s) for s in skip if s != root) or not path.is_file():
                continue
            data = path.read_bytes()
            if MENTIONS.search(data) and needs_parse(data, every_rule):
                programs.append(Program(str(path), data, path.name))
    return programs


# -- following findings through the rounds --------------------------------------------------


def _node_text(lines: Sequence[str], finding: Finding) -> str:
    first, last = finding.line - 1, (finding.end_line or finding.line) - 1
    if not 0 <= first <= last < len(lines):
        return ""
    if first == last:
        return lines[first][finding.col - 1:max(finding.end_col - 1, finding.col - 1)]
    return lines[first][finding.col - 1:] + "".join(lines[first + 1:last]) \
        + lines[last][:finding.end_col - 1]


def _line_map(old: Sequence[str], new: Sequence[str]) -> dict[int, int]:
    """Old line number -> new line number, for the lines a diff keeps or rewrites one
    for one."""
    kept: dict[int, int] = {}
    for tag, old_start, old_end, new_start, new_end in SequenceMatcher(
            None, old, new, autojunk=False).get_opcodes():
        if tag == "equal" or (tag == "replace" and old_end - old_start == new_end - new_start):
            for offset in range(old_end - old_start):
                kept[old_start + offset + 1] = new_start + offset + 1
    return kept


Key = Callable[[Finding, Sequence[str]], object]


def _keys(line_map: dict[int, int]) -> tuple[tuple[Key, Key], ...]:
    """From strictest to loosest: (key in the earlier round, key in the later round)."""
    def text(finding: Finding, lines: Sequence[str]) -> object:
        return finding.code, _node_text(lines, finding)

    def first_line(finding: Finding, lines: Sequence[str]) -> object:
        return finding.code, _node_text(lines, finding).split("\n", 1)[0].strip()

    def old_place(finding: Finding, lines: Sequence[str]) -> object:
        return finding.code, line_map.get(finding.line), finding.col

    def new_place(finding: Finding, lines: Sequence[str]) -> object:
        return finding.code, finding.line, finding.col

    def old_line(finding: Finding, lines: Sequence[str]) -> object:
        return finding.code, line_map.get(finding.line)

    def new_line(finding: Finding, lines: Sequence[str]) -> object:
        return finding.code, finding.line

    return (text, text), (first_line, first_line), (old_place, new_place), (old_line, new_line)


def _lost(earlier: FixRound, later: FixRound) -> list[Finding]:
    """The findings of `earlier` not fixed there and not reported again by `later`."""
    old_lines = earlier.code.splitlines(keepends=True)
    new_lines = later.code.splitlines(keepends=True)
    fixed = list(earlier.fixed)
    waiting = []
    for finding in earlier.findings:
        if finding in fixed:
            fixed.remove(finding)
        else:
            waiting.append(finding)
    candidates = list(later.findings)
    for old_key, new_key in _keys(_line_map(old_lines, new_lines)):
        unmatched = []
        for finding in waiting:
            key = old_key(finding, old_lines)
            match = next((c for c in candidates if new_key(c, new_lines) == key), None)
            if match is None:
                unmatched.append(finding)
            else:
                candidates.remove(match)
        waiting = unmatched
    return waiting


def _describe(program: Program, unsafe_fixes: bool, number: int, round_: FixRound,
              finding: Finding) -> str:
    lines = round_.code.splitlines(keepends=True)
    text = _node_text(lines, finding).split("\n", 1)[0].strip()
    fixes = "unsafe fixes on" if unsafe_fixes else "unsafe fixes off"
    fixed = ", ".join(sorted({f.code for f in round_.fixed}))
    return (f"{program.label} ({fixes}): {finding.code} at {finding.line}:{finding.col} "
            f"`{text[:60]}` of round {number + 1} vanished after its fixes ({fixed}) without "
            f"being fixed: {finding.message[:160]}")


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
        for number, (earlier, later) in enumerate(zip(rounds, rounds[1:])):
            problems += [_describe(program, unsafe_fixes, number, earlier, finding)
                         for finding in _lost(earlier, later)]
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


def test_corpus_findings_are_fixed_or_still_reported(workers: ProcessPoolExecutor) -> None:
    programs = _corpus_programs()
    assert len(programs) > 10, "the corpus should hold the multiprocessing test suite"
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
    assert _lost(earlier, later) == []


def test_a_finding_gone_unfixed_is_lost_and_a_fixed_one_is_not() -> None:
    code = "p.join()\nq.join()\n"
    earlier = _round(code, [_at(1, 1, 9), _at(2, 1, 9)], fixed=[_at(2, 1, 9)])
    assert _lost(earlier, _round(code, [])) == [_at(1, 1, 9)]
    assert _lost(earlier, _round(code, [_at(1, 1, 9)])) == []


def test_one_later_finding_answers_for_one_earlier_finding() -> None:
    code = "p.join()\np.join()\n"
    earlier = _round(code, [_at(1, 1, 9), _at(2, 1, 9)])
    assert len(_lost(earlier, _round(code, [_at(1, 1, 9)]))) == 1


def test_a_rewritten_node_is_matched_by_its_first_line_or_its_place() -> None:
    earlier = _round("if x:\n    a()\n", [Finding(1, 1, "MP001", "m", end_line=2, end_col=8)])
    later = _round("if x:\n    b()\n    a()\n", [Finding(1, 1, "MP001", "m", end_line=3, end_col=8)])
    assert _lost(earlier, later) == []
    moved = _round("z = 0\nf(y)\n", [_at(2, 1, 5, "MP007")])
    assert _lost(moved, _round("z = 0\nf(y, w)\n", [_at(2, 1, 8, "MP007")])) == []
    assert len(_lost(moved, _round("z = 0\nf(y, w)\n", [_at(2, 1, 8, "MP002")]))) == 1
