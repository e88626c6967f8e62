"""Following findings through the rounds of a fix run: which finding of one round is
which in the next (tests/test_findings_survive.py says why it matters; test_corpus.py
applies it to the real corpus).

A finding of one round is matched in the next by its rule code and the text of the
node it points at; where a fix rewrote that node, by the node's first line, then by
where its line went (a line diff between the two rounds' code).
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher
from typing import Callable

from mpfix.engine.fixer import FixRound
from mpfix.findings import Finding


def node_text(lines: Sequence[str], finding: Finding) -> str:
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
        return finding.code, node_text(lines, finding)

    def first_line(finding: Finding, lines: Sequence[str]) -> object:
        return finding.code, node_text(lines, finding).split("\n", 1)[0].strip()

    def old_place(finding: Finding, lines: Sequence[str]) -> object:
        return finding.code, line_map.get(finding.line), finding.col

    def new_place(finding: Finding, lines: Sequence[str]) -> object:
        return finding.code, finding.line, finding.col

    def old_line(finding: Finding, lines: Sequence[str]) -> object:
        return finding.code, line_map.get(finding.line)

    def new_line(finding: Finding, lines: Sequence[str]) -> object:
        return finding.code, finding.line

    return (text, text), (first_line, first_line), (old_place, new_place), (old_line, new_line)


def lost(earlier: FixRound, later: FixRound) -> list[Finding]:
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


def lost_in(rounds: Sequence[FixRound]) -> list[tuple[int, Finding]]:
    """Every finding that a round reports, does not fix, and the next round no longer
    reports, with the number of its round (0 the first)."""
    return [(number, finding) for number, (earlier, later) in enumerate(zip(rounds, rounds[1:]))
            for finding in lost(earlier, later)]


def describe(label: str, number: int, round_: FixRound, finding: Finding) -> str:
    lines = round_.code.splitlines(keepends=True)
    text = node_text(lines, finding).split("\n", 1)[0].strip()
    fixed = ", ".join(sorted({f.code for f in round_.fixed}))
    return (f"{label}: {finding.code} at {finding.line}:{finding.col} `{text[:60]}` of round "
            f"{number + 1} vanished after its fixes ({fixed}) without being fixed: "
            f"{finding.message[:160]}")
