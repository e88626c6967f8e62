"""`mpfix fix --interactive`: a person decides on each fix before it is applied.

For every fix the review shows its place in the review (`[3/27]`: the third fix
asked about, of the 27 a check of the same files found still to decide), the
rule, the file and position, the message and the fix as a diff hunk, then asks:
y (apply), n (skip), a (apply this one and every remaining fix in this file
without asking), s (skip this one and the rest of this file), r (skip this one
and every fix of its rule, in every file), q (quit: apply nothing more; the
fixes already accepted are still written, each file once, at the end of the
run).

Ctrl-C or the end of input stops the review. The files whose review was
complete are written with the fixes decided in them, the file under review and
the files after it are left untouched, and mpfix says which files it wrote.

The review talks on stderr, so stdout keeps the findings output. It needs a
terminal on stdin: without one (pre-commit, CI, a pipe) `--interactive` is
refused with exit status 2 instead of reading answers from a pipe or hanging.
"""

from __future__ import annotations

import os

import sys
from collections import Counter
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Optional

import click

from mpfix.engine.diff import colorize_text, unified_diff_text
from mpfix.errors import EXIT_ERROR, EXIT_INTERRUPTED
from mpfix.findings import FileResult, Safety

if TYPE_CHECKING:
    from mpfix.engine.fixer import PendingFix

ANSWERS = {
    "y": "y", "yes": "y", "n": "n", "no": "n", "a": "a", "all": "a", "s": "s", "skip": "s",
    "r": "r", "rule": "r", "q": "q", "quit": "q",
}
PROMPT = ("Apply this fix? [y]es, [n]o, [a]ll remaining in this file, [s]kip the rest of "
          "this file, skip this [r]ule everywhere, [q]uit")

Planned = Counter  # (path, rule code) -> fixes a check found there


def stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _read_line() -> str:
    return sys.stdin.readline()


def _ask() -> str:
    """One of the ANSWERS' values from stdin; raises click.Abort at the end of input."""
    while True:
        click.echo(f"{PROMPT}: ", err=True, nl=False)
        try:
            line = _read_line()
        except KeyboardInterrupt:
            click.echo(err=True)  # what follows starts on a line of its own
            raise
        if not line:
            click.echo(err=True)
            raise click.Abort()
        answer = ANSWERS.get(line.strip().lower())
        if answer is not None:
            return answer
        click.echo("Please answer y, n, a, s, r or q.", err=True)


def planned_fixes(results: Iterable[FileResult], unsafe_fixes: Callable[[str], bool]) -> Planned:
    """The fixes a fix run would offer, counted per file and rule, from a check's results.
    `unsafe_fixes(path)`: whether that file's settings allow unsafe fixes."""
    planned: Planned = Counter()
    for result in results:
        for finding in result.findings:
            if finding.fix_safety is Safety.SAFE or \
                    (finding.fix_safety is Safety.UNSAFE and unsafe_fixes(result.path)):
                planned[(result.path, finding.code)] += 1
    return planned


class Reviewer:
    """The engine's `approve` callback: asks about each fix, remembers the answers."""

    def __init__(self, *, color: bool, planned: Optional[Mapping[tuple[str, str], int]] = None
                 ) -> None:
        self.color = color
        self.planned = Counter(planned or {})
        self.seen: Counter = Counter()  # fixes asked about, per (path, code)
        self.apply_all_in: set[str] = set()
        self.skipped_files: set[str] = set()
        self.skipped_rules: set[str] = set()
        self.quit = False
        self.asked = 0

    def __call__(self, pending: "PendingFix") -> bool:
        path, code = pending.finding.path, pending.finding.code
        if self.quit or path in self.skipped_files or code in self.skipped_rules:
            return False
        if path in self.apply_all_in:
            return True
        self.asked += 1
        self.seen[(path, code)] += 1
        self._show(pending)
        answer = _ask()
        if answer == "q":
            self.quit = True
        elif answer == "a":
            self.apply_all_in.add(path)
        elif answer == "s":
            self.skipped_files.add(path)
        elif answer == "r":
            self.skipped_rules.add(code)
        return answer in ("y", "a")

    def total(self) -> int:
        """Fixes asked about so far plus those the check found that are still to ask about:
        an answer that settles several fixes at once shrinks it, a fix that only appears
        after another was applied grows it."""
        remaining = sum(max(0, count - self.seen[key]) for key, count in self.planned.items()
                        if not self._settled(*key))
        return self.asked + remaining

    def _settled(self, path: str, code: str) -> bool:
        return self.quit or path in self.apply_all_in or path in self.skipped_files \
            or code in self.skipped_rules

    def _show(self, pending: "PendingFix") -> None:
        finding, rule = pending.finding, pending.rule
        where = finding.location
        title = f"[{self.asked}/{self.total()}] {finding.code} {rule.name} at {where}"
        patch = unified_diff_text(finding.path, pending.module.code, pending.preview())
        for module, old, new in pending.companion_previews():  # what it adds beside the file
            patch += unified_diff_text(os.path.join(os.path.dirname(finding.path), module),
                                       old, new)
        if self.color:
            title = click.style(title, bold=True)
            patch = colorize_text(patch)
        safety = finding.fix_safety.value
        click.echo(f"\n{title}\n{finding.message}\nfix: {safety}\n{patch}", err=True,
                   color=self.color, nl=False)


class ReviewStopped(click.ClickException):
    """Ctrl-C or the end of input during a review: says what was written, in one line."""

    def __init__(self, written: list[str], failed: list[str], *, interrupted: bool) -> None:
        self.exit_code = EXIT_INTERRUPTED if interrupted else EXIT_ERROR
        super().__init__(_stopped_message(written, failed, interrupted))

    def show(self, file=None) -> None:  # type: ignore[no-untyped-def]
        click.echo(f"mpfix: {self.format_message()}", err=True)


def _stopped_message(written: list[str], failed: list[str], interrupted: bool) -> str:
    how = "interrupted" if interrupted else "review aborted (end of input)"
    if written:
        files = ", ".join(written)
        done = (f"wrote {files} with the fixes decided in them; the file under review and "
                f"the files after it are unchanged")
    else:
        done = "nothing was written"
    if failed:
        done += f"; could not write {', '.join(failed)}"
    return f"{how}; {done}"
