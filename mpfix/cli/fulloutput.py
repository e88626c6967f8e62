"""`--output-format full`: each finding's line, the source it points at, and its fix.

    app.py:7:1: MP001 [*] module-level code starts processes; ...
      |
    7 | p.start()
      | ^^^^^^^^^ MP001
      |
      = fix (safe):
      @@ -1,7 +1,9 @@
      -from multiprocessing import Process
      +from multiprocessing import freeze_support, Process
      ...

The snippet shows at most `MAX_SNIPPET_LINES` of the reported code; the hunk is the
finding's own edits applied to the file, with one line of context.
"""

from __future__ import annotations

import difflib
from typing import IO, Mapping, Optional

from mpfix.findings import Edit, FileResult, Finding

MAX_SNIPPET_LINES = 5
RESET, BOLD, RED, GREEN, CYAN, BLUE = "\033[0m", "\033[1m", "\033[31m", "\033[32m", "\033[36m", "\033[34m"


class _Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, *codes: str) -> str:
        return f"{''.join(codes)}{text}{RESET}" if self.color and text else text


def _lines(source: bytes) -> list[str]:
    # Columns count characters of the decoded text, as the findings' positions do.
    return source.decode("utf-8-sig", errors="replace").splitlines()


def _snippet(f: Finding, lines: list[str], style: _Style) -> list[str]:
    last = max(f.line, min(f.end_line or f.line, f.line + MAX_SNIPPET_LINES - 1))
    shown = [(number, lines[number - 1]) for number in range(f.line, last + 1)
             if number <= len(lines)]
    if not shown:
        return []
    width = len(str(shown[-1][0]))
    gutter = style(" " * width + " |", BLUE)
    out = [gutter]
    for number, text in shown:
        out.append(f"{style(str(number).rjust(width) + ' |', BLUE)} {text.rstrip()}")
        if number == f.line:
            end = f.end_col if f.end_line == f.line and f.end_col > f.col else len(text) + 1
            carets = "^" * max(1, end - f.col)
            out.append(f"{gutter} {' ' * (f.col - 1)}{style(carets + ' ' + f.code, RED, BOLD)}")
    return out + [gutter]


def _offset(starts: list[int], line: int, col: int) -> int:
    return starts[line - 1] + col - 1 if line <= len(starts) else starts[-1]


def apply_edits(text: str, edits: tuple[Edit, ...]) -> str:
    """The text with the edits applied, from the last to the first (they do not overlap)."""
    pieces = text.splitlines(keepends=True)
    starts = [0]
    for piece in pieces:
        starts.append(starts[-1] + len(piece))
    for edit in sorted(edits, reverse=True):
        start = _offset(starts, edit.line, edit.col)
        end = _offset(starts, edit.end_line, edit.end_col)
        text = text[:start] + edit.content + text[end:]
    return text


def _hunk(f: Finding, source: bytes, style: _Style) -> list[str]:
    if not f.edits:
        return []
    text = source.decode("utf-8-sig", errors="replace")
    fixed = apply_edits(text, f.edits)
    diff = difflib.unified_diff(text.splitlines(), fixed.splitlines(), n=1, lineterm="")
    out = [f"  = fix ({f.fix_safety.value}):"]
    for line in list(diff)[2:]:  # without the ---/+++ header
        colour = {"+": GREEN, "-": RED, "@": CYAN}.get(line[:1])
        out.append("  " + (style(line, colour) if colour else line))
    return out


def write_full(results: list[FileResult], out: IO[str], sources: Mapping[str, bytes],
               color: bool = False) -> None:
    from mpfix.cli.report import FIX_MARKERS

    style = _Style(color)
    for result in results:
        source: Optional[bytes] = sources.get(result.path)
        lines = _lines(source) if source is not None else []
        for f in result.findings:
            if f.cell is not None:
                from mpfix.engine.notebook import cell_lines

                lines = cell_lines(source or b"", f.cell)
            location = f"{f.location}:"
            out.write(f"{style(location, BOLD)} {style(f.code, RED, BOLD)} "
                      f"{FIX_MARKERS[f.fix_safety]}{f.message}\n")
            out.write("".join(line + "\n" for line in _snippet(f, lines, style)))
            if source is not None:
                out.write("".join(line + "\n" for line in _hunk(f, source, style)))
            out.write("\n")
