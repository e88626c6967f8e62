"""Comments that describe the behaviour a fix removes.

A comment right above a statement a fix moves or rewrites ("This fails, as lambdas
aren't pickleable", "without a main guard this crashes under spawn") would describe
code that now works. A rule names what its fix changes (`subject`); a comment that
names it and a failure is stale and goes with the old code; one that names only a
failure may be about something else, so it stays and the finding says so.
"""

from __future__ import annotations

import re
from typing import Optional, Sequence

import libcst as cst

FAILURE = re.compile(r"fail|pickl|error|can'?t\b|cannot|can not|n[o']t work|\bbreak|crash|\bhang",
                     re.IGNORECASE)


def attached_comment(statement: Optional[cst.CSTNode]) -> list[cst.EmptyLine]:
    """The comment lines right above a statement, with no blank line between."""
    lines: Sequence[cst.EmptyLine] = getattr(statement, "leading_lines", ())
    attached = len(lines)
    while attached and lines[attached - 1].comment is not None:
        attached -= 1
    return list(lines[attached:])


def describes_old_behaviour(statement: Optional[cst.CSTNode],
                            subject: "re.Pattern[str]") -> Optional[bool]:
    """True when the comment attached to `statement` names `subject` and a failure; None
    when it names a failure only (it may or may not be about what the fix changes);
    False otherwise (no comment, or one about something else)."""
    text = " ".join(line.comment.value for line in attached_comment(statement)
                    if line.comment is not None)
    if not FAILURE.search(text):
        return False
    return True if subject.search(text) else None


def without_attached_comment(lines: Sequence[cst.EmptyLine]) -> list[cst.EmptyLine]:
    """`lines` (a statement's leading lines) without the comment right above it."""
    kept = len(lines)
    while kept and lines[kept - 1].comment is not None:
        kept -= 1
    return list(lines[:kept])
