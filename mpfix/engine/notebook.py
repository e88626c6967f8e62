"""Jupyter notebooks (`.ipynb`): their code cells as one module, and back.

A kernel runs a notebook's code cells one after another in one `__main__`
namespace, so mpfix analyses them as one module, in order (as ruff does). Each
code cell is preceded by a marker statement (`__mpfix_cell__(N)`) that says where
it starts, and the fixed module is split on the markers again. A statement, not a
comment: a fix that moves a statement moves its leading comments with it, and
would carry a comment marker, and the cell boundary, along; no fix moves a
statement it does not own, so code stays in its cell. IPython syntax that is not Python (line magics such as
`%time`, shell escapes `!pip install`, help `?obj`, `x = !ls`) is masked on its
own line as a harmless statement with the original text in a trailing comment,
so line numbers stay and the text comes back unchanged; a cell whose cell magic
makes it something other than Python run in the kernel (`%%bash`,
`%%writefile`, `%%html`) is left out.

Notebooks are read and written through `nbformat`, the Jupyter project's reader,
writer and validator, imported only when a notebook is read. A notebook is
written back only if a cell changed, and only in the JSON layout it was read in
(indent, key order, line splitting, trailing newline), checked by rendering the
unchanged notebook first: it must give back the original bytes exactly, so the
outputs, metadata and every cell that did not change stay byte for byte.
"""

from __future__ import annotations

import io
import json
import os
import re
import tokenize
from bisect import bisect_right
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from mpfix.analysis.cells import CELL_MARKER
from mpfix.findings import FileResult, Finding

if TYPE_CHECKING:
    from mpfix.engine.fixer import Approver, PendingFix
    from mpfix.settings import FileSettings

NOTEBOOK_SUFFIX = ".ipynb"
MAGIC_MARKER = "  # mpfix-magic: "
_CELL_MARKER_LINE = re.compile(r"^__mpfix_cell__\((\d+)\)$")
_MASKED_LINE = re.compile(r"^(?P<indent>[ \t]*)(?:pass|[^#\n]*= None)  # mpfix-magic: (?P<text>.*)$")
# Cell magics whose body is Python run in the kernel's namespace; any other makes the
# cell something else (a shell script, a file written to disk, HTML) and it is left out.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "memit"})
# Lines IPython rewrites before Python sees them.
_MAGIC_START = re.compile(r"^(?:%|!|\?)")
_HELP = re.compile(r"^[A-Za-z_][\w.]*(?:\(\))?\?{1,2}$")
_ASSIGNED_MAGIC = re.compile(r"^(?P<targets>[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*=\s*[%!]")


class NotebookError(Exception):
    """A notebook mpfix cannot read or write back; the message is one line for the user."""


def is_notebook(path: str) -> bool:
    return path.endswith(NOTEBOOK_SUFFIX)


@dataclass(frozen=True)
class CodeCell:
    number: int          # 1-based position among all the notebook's cells, as a reader counts
    first_line: int      # the module line of the cell's first line (just after its marker)
    text: str            # the cell's source as stored
    masked: str          # the cell's source as the module holds it


@dataclass
class NotebookModule:
    """A notebook's code cells as one Python module, with the way back."""

    document: Any                # the raw JSON, key order as read
    cells: list[CodeCell]
    code: str
    raw_cells: list[dict]        # the document's cell objects, in order

    def locate(self, line: int) -> tuple[int, int]:
        """(cell number, line in the cell) of a module line."""
        starts = [cell.first_line for cell in self.cells]
        index = max(0, bisect_right(starts, line) - 1)
        cell = self.cells[index]
        return cell.number, max(1, line - cell.first_line + 1)


def cell_source(cell: dict) -> str:
    """A cell's text: nbformat 4 keeps it in `source`, nbformat 3 code cells in `input`;
    both as one string or as a list of lines."""
    value = cell.get("source", cell.get("input", ""))
    return "".join(value) if isinstance(value, list) else str(value)


def _cells_of(document: dict) -> list[dict]:
    if isinstance(document.get("cells"), list):
        return document["cells"]
    worksheets = document.get("worksheets") or [{}]  # nbformat 3
    return [cell for sheet in worksheets for cell in sheet.get("cells", [])]


def _language(document: dict) -> str:
    metadata = document.get("metadata") or {}
    info = metadata.get("language_info") or {}
    kernel = metadata.get("kernelspec") or {}
    return str(info.get("name") or kernel.get("language") or "python").lower()


def read_notebook(data: bytes) -> Any:
    """The notebook's JSON, validated by nbformat; NotebookError with one line if it is not one."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise NotebookError(f"cannot read notebook: not UTF-8 ({error.reason})") from None
    import nbformat  # only now: most runs never read a notebook
    from nbformat.validator import ValidationError

    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotebookError(f"cannot read notebook: invalid JSON: {error.msg} "
                            f"(line {error.lineno}, column {error.colno})") from None
    if not isinstance(document, dict) or "nbformat" not in document:
        raise NotebookError("cannot read notebook: not a Jupyter notebook (no nbformat version)")
    try:
        # On a copy of its own: the validator may fill in what it checks.
        nbformat.validate(json.loads(text), version=document.get("nbformat"))
    except ValidationError as error:
        reason = str(error.message).splitlines()[0] if error.message else "invalid"
        raise NotebookError(f"cannot read notebook: not valid nbformat: {reason}") from None
    except Exception as error:  # noqa: BLE001 - a shape the validator cannot even walk
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        raise NotebookError(f"cannot read notebook: not valid nbformat: {reason}") from None
    return document


def notebook_module(data: bytes) -> Optional[NotebookModule]:
    """The code cells as one module; None for a notebook of another language."""
    document = read_notebook(data)
    if _language(document) != "python":
        return None
    raw_cells = _cells_of(document)
    lines: list[str] = []
    cells: list[CodeCell] = []
    for position, cell in enumerate(raw_cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        text = cell_source(cell)
        if CELL_MARKER in text or MAGIC_MARKER in text:
            raise NotebookError(f"cannot read notebook: cell {position} contains mpfix's own "
                                f"cell marker")
        masked = mask_magics(text)
        if masked is None:
            continue
        lines.append(f"{CELL_MARKER}({position})\n")
        cells.append(CodeCell(position, len(lines) + 1, text, masked))
        if masked:
            lines.extend(masked.splitlines(keepends=True))
            if not masked.endswith("\n"):
                lines[-1] += "\n"
    return NotebookModule(document, cells, "".join(lines), raw_cells)


def mask_magics(text: str) -> Optional[str]:
    """The cell as Python, line for line; None for a cell that is not Python."""
    lines = text.splitlines(keepends=True)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        name = lines[first].strip()[2:].split(maxsplit=1)[0] if lines[first].strip()[2:] else ""
        if name not in PYTHON_CELL_MAGICS:
            return None
        lines[first] = _masked(lines[first])
    for index, line in enumerate(lines):
        if _is_magic(line.strip()) and _at_statement_start(lines[:index]):
            lines[index] = _masked(line)
    return "".join(lines)


def _is_magic(stripped: str) -> bool:
    if not stripped or stripped.startswith("#"):
        return False
    return bool(_MAGIC_START.match(stripped) or _HELP.match(stripped)
                or _ASSIGNED_MAGIC.match(stripped))


def _masked(line: str) -> str:
    body = line.rstrip("\r\n")
    ending = line[len(body):]
    stripped = body.lstrip(" \t")
    indent = body[: len(body) - len(stripped)]
    assigned = _ASSIGNED_MAGIC.match(stripped)
    statement = f"{assigned.group('targets')} = None" if assigned else "pass"
    return f"{indent}{statement}{MAGIC_MARKER}{stripped}{ending}"


def _at_statement_start(before: list[str]) -> bool:
    """Whether a line starts a statement: not inside brackets, a string or after a `\\`."""
    text = "".join(before)
    if not text.strip():
        return True
    if text.rstrip("\r\n").endswith("\\"):
        return False
    try:
        for _ in tokenize.generate_tokens(io.StringIO(text).readline):
            pass
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return False
    return True


def unmask(text: str) -> str:
    """The masked lines' original text back, at the indentation the module gives them."""
    out = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        match = _MASKED_LINE.match(body)
        out.append(f"{match.group('indent')}{match.group('text')}{line[len(body):]}"
                   if match else line)
    return "".join(out)


def split_cells(notebook: NotebookModule, code: str) -> dict[int, str]:
    """The new source of every code cell, by cell number, from the fixed module."""
    numbers: list[int] = []
    parts: list[list[str]] = []
    for line in code.splitlines(keepends=True):
        marker = _CELL_MARKER_LINE.match(line.rstrip("\r\n"))
        if marker:
            numbers.append(int(marker.group(1)))
            parts.append([])
        elif parts:
            parts[-1].append(line)
        elif line.strip():
            raise NotebookError("cannot fix: a fix put code before the first cell; "
                                "notebook left unchanged")
    if numbers != [cell.number for cell in notebook.cells]:
        raise NotebookError("cannot fix: a fix moved code across cells; notebook left unchanged")
    new: dict[int, str] = {}
    for cell, part in zip(notebook.cells, parts):
        text = unmask("".join(part))
        if not cell.text.endswith("\n"):  # a line a fix added after its last one
            text = text.rstrip("\n")
        new[cell.number] = text
    return new


# Writing ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Layout:
    writer: str                  # "nbformat", or "json" for a layout nbformat does not write
    indent: Optional[int] = 1
    sort_keys: bool = True
    ensure_ascii: bool = False
    final_newline: bool = True


def _render(document: Any, layout: Layout) -> str:
    if layout.writer == "nbformat":
        import nbformat

        text = nbformat.writes(nbformat.from_dict(document), version=nbformat.NO_CONVERT)
    else:
        text = json.dumps(document, indent=layout.indent, sort_keys=layout.sort_keys,
                          ensure_ascii=layout.ensure_ascii, separators=(",", ": "))
    return text + "\n" if layout.final_newline else text


def _layout(document: Any, original: str) -> Layout:
    """The layout that renders the unchanged notebook as its original text, exactly."""
    candidates = [Layout("nbformat", final_newline=newline) for newline in (True, False)]
    candidates += [Layout("json", indent, sort_keys, ascii_only, newline)
                   for indent in (1, 2, 4, 0, None) for sort_keys in (False, True)
                   for ascii_only in (False, True) for newline in (True, False)]
    for layout in candidates:
        try:
            if _render(document, layout) == original:
                return layout
        except Exception:  # noqa: BLE001 - a layout nbformat cannot write is not the one
            continue
    raise NotebookError("cannot fix: mpfix cannot reproduce this notebook's JSON layout byte "
                        "for byte; notebook left unchanged")


def _set_source(cell: dict, text: str) -> None:
    key = "source" if "source" in cell else "input"
    cell[key] = text.splitlines(keepends=True) if isinstance(cell.get(key), list) else text


def write_notebook(data: bytes, notebook: NotebookModule, new_code: str) -> Optional[bytes]:
    """The notebook's new bytes, or None when no cell changed."""
    sources = split_cells(notebook, new_code)
    changed = {cell.number: sources[cell.number] for cell in notebook.cells
               if sources[cell.number] != cell.text}
    if not changed:
        return None
    original = data.decode("utf-8-sig")
    layout = _layout(notebook.document, original)
    for number, text in changed.items():
        _set_source(notebook.raw_cells[number - 1], text)
    bom = "\ufeff" if data.startswith(b"\xef\xbb\xbf") else ""
    return (bom + _render(notebook.document, layout)).encode("utf-8")


# The engine's side -----------------------------------------------------------------------

def in_cells(notebook: NotebookModule, finding: Finding) -> Finding:
    """A finding of the module, placed in its cell (lines counted from the cell's first)."""
    cell, line = notebook.locate(finding.line)
    start = notebook.cells[[c.number for c in notebook.cells].index(cell)].first_line
    end_line = max(line, finding.end_line - start + 1) if finding.end_line else 0
    message = _MESSAGE_LINE.sub(lambda m: _cell_line(notebook, m), finding.message)
    return replace(finding, cell=cell, line=line, end_line=end_line, edits=None,
                   message=message)


# A message that names another line of the module (`... otherwise (line 51)`).
_MESSAGE_LINE = re.compile(r"\bline (\d+)\b")


def _cell_line(notebook: NotebookModule, match: re.Match) -> str:
    cell, line = notebook.locate(int(match.group(1)))
    return f"cell {cell} line {line}"


_MODULE_LINE = re.compile(r"\(line (\d+)")


def _error_in_cells(notebook: NotebookModule, error: str) -> str:
    """A parse error's module line, as a cell and a line in it."""
    def placed(match: re.Match) -> str:
        cell, line = notebook.locate(int(match.group(1)))
        return f"(cell {cell}, line {line}"

    return _MODULE_LINE.sub(placed, error, count=1)


def process_notebook(source: bytes, settings: "FileSettings", *, path: str, fix: bool,
                     approve: "Optional[Approver]" = None,
                     companions: bool = False) -> FileResult:
    """With `companions` (the notebook is a file on disk, which a fix run writes), a fix may
    move its definitions to the module beside it (see MP007): the result's companions."""
    from mpfix.engine.pipeline import needs_parse

    if not settings.rules:
        return FileResult(path=path)
    try:
        notebook = notebook_module(source)
    except NotebookError as error:
        return FileResult(path=path, error=str(error))
    if notebook is None or not notebook.cells:
        return FileResult(path=path)
    code = notebook.code.encode("utf-8")
    if not needs_parse(code, settings):
        return FileResult(path=path)
    from mpfix.engine.companions import SiblingModules
    from mpfix.engine.fixer import run_rules

    siblings = SiblingModules(Path(path).parent, os.path.dirname(path)) if companions else None
    result = run_rules(code, settings, path=path, fix=fix,
                       approve=_approver_in_cells(notebook, approve), siblings=siblings)
    result.findings = sorted((in_cells(notebook, f) for f in result.findings),
                             key=lambda f: (f.cell or 0, f.line, f.col, f.code))
    if result.error:
        result.error = _error_in_cells(notebook, result.error)
    if result.new_source is not None:
        try:
            result.new_source = write_notebook(source, notebook,
                                               result.new_source.decode("utf-8"))
        except NotebookError as error:
            result.error, result.new_source, result.fixed = str(error), None, {}
            result.companions = []
    return result


def _approver_in_cells(notebook: NotebookModule,
                       approve: "Optional[Approver]") -> "Optional[Approver]":
    if approve is None:
        return None

    def decide(pending: "PendingFix") -> bool:
        return approve(CellsReview(notebook, pending))  # type: ignore[arg-type]

    return decide


class CellsReview:
    """A pending fix as the review shows it in a notebook: its finding in its cell, and
    the cells it changes, as the notebook holds them, before and after."""

    def __init__(self, notebook: NotebookModule, pending: "PendingFix") -> None:
        self.rule, self.violation = pending.rule, pending.violation
        self.finding = in_cells(notebook, pending.finding)
        before, after = _changed_cells(notebook, pending.module.code, pending.preview())
        self.module = _Text(before)
        self._after = after
        self.companion_previews = pending.companion_previews

    def preview(self) -> str:
        return self._after


@dataclass(frozen=True)
class _Text:
    code: str


def _changed_cells(notebook: NotebookModule, old: str, new: str) -> tuple[str, str]:
    try:
        before, after = split_cells(notebook, old), split_cells(notebook, new)
    except NotebookError:  # the fix moves code across cells: show the module as it is
        return unmask(old), unmask(new)
    numbers = [n for n in before if before[n] != after[n]]
    def shown(cells: dict[int, str]) -> str:
        return "".join(f"# cell {n}\n{cells[n]}" + ("" if cells[n].endswith("\n") else "\n")
                       for n in numbers)
    return shown(before), shown(after)


def cell_lines(data: bytes, cell: int) -> list[str]:
    """The lines of one cell of a notebook's bytes (for showing a finding in its cell)."""
    try:
        cells = _cells_of(json.loads(data.decode("utf-8-sig")))
        return cell_source(cells[cell - 1]).splitlines()
    except (ValueError, IndexError, AttributeError, TypeError):
        return []

