"""What the captured output of an `mpfix run` says: the error to show, the line that differs.

A failed run under spawn can leave tens of thousands of lines of child tracebacks
in its log; the one line a user needs is the last error, the way a terminal's last
screen shows it. And a run that passed may still print another answer than the
fork run: the first line where the outputs part is what the migration changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Iterable, Optional

TRACEBACK_HEADER = "Traceback (most recent call last):"
# `RuntimeError: message`, `multiprocessing.context.AuthenticationError`, `KeyboardInterrupt`:
# exception classes are CapWords, which keeps `value: 3` printed after a cut traceback out.
EXCEPTION_LINE = re.compile(r"(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?P<colon>:(?P<message>.*))?")
# pytest's short test summary: `FAILED tests/test_app.py::test_x - AssertionError: ...`,
# not unittest's closing `FAILED (failures=1)`, which says less than its traceback.
PYTEST_SUMMARY_LINE = re.compile(r"(?:FAILED|ERROR) [^\s(]\S*(?: - .+)?")
TAIL_BYTES = 4 * 1024 * 1024  # the last error is near the end; a log can be gigabytes
SHOWN_CHARACTERS = 300

# What legitimately changes between two runs of the same program, whatever the start method
# does to it: the method's own name (also in worker names, `SpawnPoolWorker-1`), durations
# (pytest's `1 passed in 0.52s`), clock times and memory addresses.
VOLATILE = (
    (re.compile(r"(?i)\b(?:forkserver|fork|spawn)(?:process|poolworker)?\b"), "<method>"),
    (re.compile(r"\b0x[0-9a-fA-F]{4,}\b"), "0x<address>"),
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:ns|us|µs|ms|s|secs?|seconds?|min|minutes?)\b"), "<time>"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<time>"),
)


@dataclass(frozen=True)
class ErrorLine:
    text: str
    from_error: bool  # False: no exception or test failure was found, this is the last line


@dataclass(frozen=True)
class Difference:
    line_number: int
    baseline: Optional[str]  # None: that output had ended
    other: Optional[str]


def last_error_line(log: Path) -> Optional[ErrorLine]:
    """The last exception or pytest failure in `log`, else its last non-blank line."""
    lines = _tail_lines(log)
    error = _last_error(lines)
    if error is not None:
        return ErrorLine(shorten(error), True)
    for line in reversed(lines):
        if line.strip():
            return ErrorLine(shorten(line.strip()), False)
    return None


def _tail_lines(log: Path) -> list[str]:
    with open(log, "rb") as file:
        size = file.seek(0, 2)
        file.seek(max(0, size - TAIL_BYTES))
        data = file.read()
    if size > TAIL_BYTES:
        data = data.partition(b"\n")[2]  # the first line is cut
    return data.decode("utf-8", errors="replace").splitlines()


def _last_error(lines: Iterable[str]) -> Optional[str]:
    """Follow tracebacks through the output; interleaved lines of other processes are skipped.

    An exception line counts only after a traceback's frames. A message that starts
    on the next lines (multiprocessing's `RuntimeError: ` about the bootstrapping
    phase) is its first paragraph, joined into one line.
    """
    last: Optional[str] = None
    in_frames = False
    message_of: Optional[str] = None  # an exception whose message is being read
    paragraph: list[str] = []
    for line in lines:
        if message_of is not None:
            if line.strip() and line[:1].isspace():
                paragraph.append(line.strip())
                continue
            last = f"{message_of}: {' '.join(paragraph)}" if paragraph else message_of
            message_of, paragraph = None, []
        if line.startswith(TRACEBACK_HEADER):
            in_frames = True
        elif PYTEST_SUMMARY_LINE.fullmatch(line.rstrip()):
            last, in_frames = line.rstrip(), False
        elif in_frames and line[:1].strip():
            match = EXCEPTION_LINE.fullmatch(line.rstrip())
            if match is None:
                continue  # a line of another process between the frames
            in_frames = False
            name = line[:match.start("colon")] if match.group("colon") else line.rstrip()
            message = (match.group("message") or "").strip()
            if match.group("colon") and not message:
                message_of = name
            else:
                last = f"{name}: {message}" if message else name
    if message_of is not None:
        last = f"{message_of}: {' '.join(paragraph)}" if paragraph else message_of
    return last


def first_difference(baseline: Path, other: Path) -> Optional[Difference]:
    """The first line where `other` differs from `baseline`, volatile parts masked."""
    with open(baseline, encoding="utf-8", errors="replace") as expected, \
            open(other, encoding="utf-8", errors="replace") as actual:
        pairs = zip_longest(expected, actual)
        for number, (wanted, got) in enumerate(pairs, start=1):
            if wanted is None or got is None or masked(wanted) != masked(got):
                return Difference(number, _line(wanted), _line(got))
    return None


def masked(line: str) -> str:
    line = line.rstrip("\r\n")
    for pattern, replacement in VOLATILE:
        line = pattern.sub(replacement, line)
    return line


def _line(line: Optional[str]) -> Optional[str]:
    return None if line is None else shorten(line.rstrip("\r\n"))


def shorten(text: str) -> str:
    return text if len(text) <= SHOWN_CHARACTERS else text[:SHOWN_CHARACTERS - 1] + "…"
