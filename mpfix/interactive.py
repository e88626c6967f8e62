"""`mpfix fix --interactive`: a person decides on each fix before it is applied.

For every fix the review shows the rule, the file and position, the message and
the fix as a diff hunk, then asks: y (apply), n (skip), a (apply this one and
every remaining fix in this file without asking), q (quit: apply nothing more;
the fixes already accepted are still written, each file once, at the end of the
run). Ctrl-C or the end of input aborts the whole run and writes nothing.

The review talks on stderr, so stdout keeps the findings output. It needs a
terminal on stdin: without one (pre-commit, CI, a pipe) `--interactive` is
refused with exit status 2 instead of reading answers from a pipe or hanging.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from mpfix.diff import colorize_text, unified_diff_text

if TYPE_CHECKING:
    from mpfix.engine import PendingFix

ANSWERS = {"y": "y", "yes": "y", "n": "n", "no": "n", "a": "a", "all": "a", "q": "q", "quit": "q"}
PROMPT = "Apply this fix? [y]es, [n]o, [a]ll remaining in this file, [q]uit"


def stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _ask() -> str:
    """One of y, n, a, q from stdin; raises click.Abort at the end of input."""
    while True:
        click.echo(f"{PROMPT}: ", err=True, nl=False)
        line = sys.stdin.readline()
        if not line:
            click.echo(err=True)
            raise click.Abort()
        answer = ANSWERS.get(line.strip().lower())
        if answer is not None:
            return answer
        click.echo("Please answer y, n, a or q.", err=True)


class Reviewer:
    """The engine's `approve` callback: asks about each fix, remembers the answers."""

    def __init__(self, *, color: bool) -> None:
        self.color = color
        self.apply_all_in: set[str] = set()
        self.quit = False
        self.asked = 0

    def __call__(self, pending: "PendingFix") -> bool:
        if self.quit:
            return False
        path = pending.finding.path
        if path in self.apply_all_in:
            return True
        self._show(pending)
        answer = _ask()
        if answer == "q":
            self.quit = True
            return False
        if answer == "a":
            self.apply_all_in.add(path)
        return answer in ("y", "a")

    def _show(self, pending: "PendingFix") -> None:
        self.asked += 1
        finding, rule = pending.finding, pending.rule
        title = f"[{self.asked}] {finding.code} {rule.name} at {finding.path}:{finding.line}:{finding.col}"
        patch = unified_diff_text(finding.path, pending.module.code, pending.preview())
        if self.color:
            title = click.style(title, bold=True)
            patch = colorize_text(patch)
        safety = finding.fix_safety.value
        click.echo(f"\n{title}\n{finding.message}\nfix: {safety}\n{patch}", err=True,
                   color=self.color, nl=False)
