"""Patches a person reviews and `git apply` accepts, and fixes as text edits.

A patch is built from the files' bytes, not from decoded text, so it applies
to exactly the bytes on disk whatever their encoding: the bytes are read as
UTF-8 with undecodable bytes carried through as surrogates and written back
the same way. Lines end at `\\n` only, as git's do (a `\\r` before it is part
of the line), so a CRLF file yields a patch with CRLF lines, and a form feed
or a Unicode line separator never splits a line.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Optional

from mpfix.findings import Edit

NO_NEWLINE = "\\ No newline at end of file\n"
_GIT_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")

_RESET = "\x1b[0m"
_STYLES = {"header": "\x1b[1m", "hunk": "\x1b[36m", "-": "\x1b[31m", "+": "\x1b[32m"}


def _as_text(data: bytes) -> str:
    return data.decode("utf-8", errors="surrogateescape")


def _git_lines(text: str) -> list[str]:
    return _GIT_LINE.findall(text)


def patch_path(path: str, cwd: Optional[Path] = None) -> str:
    """The path as a patch names it: relative to the working directory, with `/`."""
    candidate = Path(path)
    if candidate.is_absolute():
        try:
            candidate = candidate.relative_to(cwd or Path.cwd())
        except ValueError:
            return candidate.as_posix().lstrip("/")
    text = candidate.as_posix()
    while text.startswith("./"):
        text = text[2:]
    return text


def unified_diff_text(path: str, old: Optional[str], new: str, context: int = 3) -> str:
    """A unified diff of two texts under `a/PATH` and `b/PATH` (empty when equal); `old`
    None: a patch that creates the file (from `/dev/null`, as git writes it)."""
    name = patch_path(path)
    old_lines, new_lines = _git_lines(old or ""), _git_lines(new)
    source = "/dev/null" if old is None else f"a/{name}"
    out = []
    for line in difflib.unified_diff(old_lines, new_lines, fromfile=source,
                                     tofile=f"b/{name}", n=context):
        if line.startswith(("---", "+++")):
            out.append(line if line.endswith("\n") else line + "\n")
        elif not line.endswith("\n"):
            out.append(line + "\n" + NO_NEWLINE)
        else:
            out.append(line)
    return "".join(out)


def unified_diff(path: str, old: Optional[bytes], new: bytes, context: int = 3) -> bytes:
    """A patch `git apply` accepts for one file, as bytes to write unchanged."""
    text = unified_diff_text(path, None if old is None else _as_text(old), _as_text(new),
                             context)
    return text.encode("utf-8", errors="surrogateescape")


def colorize_text(patch: str) -> str:
    """The patch with terminal colours: headers bold, hunks cyan, removals red, additions green."""
    out = []
    for line in _git_lines(patch):
        body = line.rstrip("\r\n")
        ending = line[len(body):]
        if line.startswith(("---", "+++")):
            style = _STYLES["header"]
        elif line.startswith("@@"):
            style = _STYLES["hunk"]
        elif line[:1] in ("-", "+"):
            style = _STYLES[line[:1]]
        else:
            out.append(line)
            continue
        out.append(style + body + _RESET + ending)
    return "".join(out)


def colorize(patch: bytes) -> bytes:
    return colorize_text(_as_text(patch)).encode("utf-8", errors="surrogateescape")


def should_color(stream, requested: Optional[bool]) -> bool:  # type: ignore[no-untyped-def]
    """--color/--no-color when given, else NO_COLOR / FORCE_COLOR, else whether a terminal."""
    if requested is not None:
        return requested
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def text_edits(old: str, new: str) -> tuple[Edit, ...]:
    """The change from `old` to `new` as whole-line replacements, in order."""
    old_lines, new_lines = _git_lines(old), _git_lines(new)
    starts = [0]
    for line in old_lines:
        starts.append(starts[-1] + len(line))
    edits = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        line, col = _position(old, starts[i1])
        end_line, end_col = _position(old, starts[i2])
        edits.append(Edit(line, col, end_line, end_col, "".join(new_lines[j1:j2])))
    return tuple(edits)
