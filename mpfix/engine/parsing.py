"""libcst's parse, made safe and lean: screened by CPython first, parsed a stretch at a time.

libcst's native parser holds the tokens and its own tree of a whole module while it
builds the Python nodes, about 400 bytes of memory per byte of source at the peak
(a 250 KB test module peaks above 100 MB). Parsing the module a few top-level
statements at a time (a large class or function a few statements of its body at a
time) and joining the parts gives the tree libcst's whole parse gives (the same
nodes, whitespace and comments) at a fraction of that peak. The cut points come
from CPython's own AST, which the depth screen builds anyway; where a part could
come out otherwise than in the whole parse, the module is parsed whole.
"""

from __future__ import annotations

import ast
import sys
import threading
import warnings
from dataclasses import dataclass
from typing import Optional, Union

import libcst as cst

# libcst's native parser recurses on the machine stack and a stack overflow kills
# the process. Sources CPython accepts can still be too deep for a default 8 MB
# stack (about 10,000 chained `and`s), so the parse runs on a thread with room for
# them; the memory is only reserved, and pages are used as the recursion needs them.
PARSE_STACK_BYTES = 512 * 1024 * 1024

# A stretch ends at the first statement boundary past this many bytes: large enough
# that the per-call cost of the parser vanishes, small enough to keep its peak low.
STRETCH_BYTES = 16 * 1024


class TooDeeplyNested(Exception):
    pass


def parse_module(source: bytes, path: str = "<mpfix>") -> cst.Module:
    """libcst's parse, safe from the stack overflows of deeply nested sources."""
    tree = screened(source, path)
    outcome: list = []

    def parse() -> None:
        try:
            outcome.append(_parse(source, tree))
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            outcome.append(error)

    try:
        previous = threading.stack_size(PARSE_STACK_BYTES)
    except (ValueError, RuntimeError):  # the platform cannot size thread stacks
        parse()
    else:
        try:
            thread = threading.Thread(target=parse, name="mpfix-parse", daemon=True)
            thread.start()
        finally:
            threading.stack_size(previous)
        thread.join()
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def screened(data: bytes, filename: str = "<mpfix>") -> Optional[ast.Module]:
    """CPython's AST of `data`, or None when CPython cannot read it; raises
    TooDeeplyNested when CPython refuses it for its nesting depth.

    libcst's native parser recurses without a limit and kills the whole process
    (SIGSEGV) on about 1,500 nested brackets. CPython stops cleanly instead (more
    than 200 brackets, or a RecursionError or MemoryError for other deep shapes) at
    a small fraction of libcst's cost, so it screens every file before libcst sees
    it. Any other syntax error (newer syntax than this interpreter's, Python 2
    code) is left for libcst to judge.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = compile(data, filename, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
            if sys.version_info < (3, 11):
                # Before 3.11 the AST of a 20,000-term chain builds fine while its compile
                # (and libcst's parse) is too deep; since, building the AST refuses it.
                compile(tree, filename, "exec", dont_inherit=True)
    except (RecursionError, MemoryError):
        raise TooDeeplyNested from None
    except SyntaxError as error:
        if "too many nested parentheses" in str(getattr(error, "msg", "")):
            raise TooDeeplyNested from None
        return None
    except ValueError:  # null bytes: libcst reports those itself
        return None
    return tree


class _Mismatch(Exception):
    """The parts would not join into the whole module's tree: it is parsed whole."""


@dataclass
class _Block:
    """A top-level class or function larger than a stretch: its body is parsed a stretch
    at a time, each under the statement's own header lines."""

    texts: list[bytes]


def _parse(source: bytes, tree: Optional[ast.Module], stretch: int = STRETCH_BYTES) -> cst.Module:
    stretches = _stretches(source, tree, stretch) if tree is not None else None
    if stretches is None:
        return cst.parse_module(source)
    try:
        return _joined(stretches)
    except _Mismatch:
        return cst.parse_module(source)


def _joined(stretches: list[Union[bytes, _Block]]) -> cst.Module:
    reader = _Reader()
    parts = [reader.part(stretch) for stretch in stretches]
    for number, part in enumerate(parts[1:], start=1):
        if part.header:
            # Alone, a stretch's leading blank lines and comments are its module's header;
            # in the whole module they lead its first statement.
            first, *rest = part.body
            first = first.with_changes(leading_lines=(*part.header, *first.leading_lines))
            parts[number] = part.with_changes(header=(), body=(first, *rest))
    if any(part.footer for part in parts[:-1]):
        raise _Mismatch  # lines the cut gave the wrong stretch: never lose them
    # A block indented by its part's default stores no indent of its own: every part
    # with a block must share the default the whole module would have.
    indents = {part.default_indent for part in parts if any(map(_has_indented_block, part.body))}
    if len(indents) > 1:
        raise _Mismatch
    return parts[0].with_changes(
        body=[statement for part in parts for statement in part.body],
        footer=parts[-1].footer,
        default_indent=indents.pop() if indents else parts[0].default_indent,
        has_trailing_newline=parts[-1].has_trailing_newline,
    )


class _Reader:
    """Parses the parts in order: the first from bytes (its encoding cookie or BOM says
    how to read the file), the others decoded alike, all with the same line ending."""

    def __init__(self) -> None:
        self.first: Optional[cst.Module] = None

    def module(self, data: bytes) -> cst.Module:
        if self.first is None:
            self.first = cst.parse_module(data)
            return self.first
        part = cst.parse_module(data.decode(self.first.encoding))
        if part.default_newline != self.first.default_newline:
            # A line ending a part takes as its default is stored as "the default":
            # joined, it would take the first part's.
            raise _Mismatch
        return part

    def part(self, stretch: Union[bytes, _Block]) -> cst.Module:
        if isinstance(stretch, bytes):
            return self.module(stretch)
        pieces = [self.module(text) for text in stretch.texts]
        if any(len(piece.body) != 1 or piece.footer for piece in pieces[:-1]) \
                or len(pieces[-1].body) != 1:
            raise _Mismatch
        blocks = [piece.body[0] for piece in pieces]
        if any(not isinstance(block.body, cst.IndentedBlock) for block in blocks) \
                or any(block.body.footer for block in blocks[:-1]):
            raise _Mismatch
        body = [statement for block in blocks for statement in block.body.body]
        joined = blocks[0].with_changes(
            body=blocks[0].body.with_changes(body=body, footer=blocks[-1].body.footer))
        return pieces[0].with_changes(body=[joined], footer=pieces[-1].footer,
                                      has_trailing_newline=pieces[-1].has_trailing_newline)


def _stretches(source: bytes, tree: ast.Module,
               stretch: int) -> Optional[list[Union[bytes, _Block]]]:
    """The source cut at top-level statement boundaries into stretches of about
    `stretch` bytes (a larger class or function cut inside its body); None when it is
    better parsed whole."""
    if len(source) <= stretch or not _plain_newlines(source):
        return None
    lines = source.splitlines(keepends=True)
    statements = tree.body
    bounds = _bounds(lines, statements, 0)
    bounds[0], bounds[-1] = 0, len(lines)
    stretches: list[Union[bytes, _Block]] = []
    begin = 0  # index of the first line of the current stretch
    size = 0
    for index, statement in enumerate(statements):
        own = _size(lines, statement)
        before, after = bounds[index], bounds[index + 1]
        if own >= stretch and before is not None and after is not None:
            block = _block(lines, statement, before, after, stretch)
            if block is not None:
                if before > begin:
                    stretches.append(b"".join(lines[begin:before]))
                stretches.append(block)
                begin, size = after, 0
                continue
        size += own
        if size >= stretch and after is not None and index + 1 < len(statements):
            stretches.append(b"".join(lines[begin:after]))
            begin, size = after, 0
    if begin < len(lines):
        stretches.append(b"".join(lines[begin:]))
    return stretches if len(stretches) > 1 or isinstance(stretches[0], _Block) else None


def _bounds(lines: list[bytes], statements: list[ast.stmt], column: int) -> list[Optional[int]]:
    """For each statement, the index of the line a stretch that starts with it begins at
    (None where no stretch can: `a = 1; b = 2`), and one more for after the last."""
    bounds: list[Optional[int]] = [None]
    for previous, following in zip(statements, statements[1:]):
        end, start = previous.end_lineno or previous.lineno, _first_line(following)
        bounds.append(_cut(lines, end, start, column) if start > end else None)
    bounds.append(None)
    return bounds


def _size(lines: list[bytes], statement: ast.stmt) -> int:
    return sum(len(line) for line in lines[_first_line(statement) - 1:statement.end_lineno])


def _block(lines: list[bytes], statement: ast.stmt, begin: int, end: int,
           stretch: int) -> Optional[_Block]:
    """A large class or function (lines `begin` to `end`) as stretches of its body, each
    under its header; None when it cannot be cut."""
    if not isinstance(statement, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    body = statement.body
    if len(body) < 2 or not _starts_its_line(body[0], lines):
        return None
    opening = _first_line(body[0]) - 1
    header = list(lines[begin:opening])
    while header and header[-1].lstrip()[:1] in (b"#", b""):
        header.pop()  # the comments above the first statement are the first stretch's
    bounds = _bounds(lines, body, body[0].col_offset)
    texts: list[bytes] = []
    start, size = opening, 0
    for index, statement in enumerate(body[:-1]):
        size += _size(lines, statement)
        after = bounds[index + 1]
        if size >= stretch and after is not None:
            texts.append(b"".join(lines[start:after]))
            start, size = after, 0
    if not texts:
        return None
    texts.append(b"".join(lines[start:end]))
    head = b"".join(lines[begin:opening])
    return _Block([head + texts[0], *(b"".join(header) + text for text in texts[1:])])


def _plain_newlines(source: bytes) -> bool:
    """Line numbers mean the same to CPython and to bytes.splitlines (a lone `\\r` is
    a line break to one and not always to the other)."""
    return source.count(b"\r") == source.count(b"\r\n")


def _first_line(statement: ast.stmt) -> int:
    decorators = getattr(statement, "decorator_list", None)
    return min([statement.lineno, *(d.lineno for d in decorators)]) if decorators \
        else statement.lineno


def _cut(lines: list[bytes], end: int, start: int, column: int) -> int:
    """The index of the line a new stretch begins at, between a statement ending on
    line `end` and the next starting on line `start` in a block indented by `column`:
    after the last comment or whitespace-only line in between that is indented
    further, which libcst gives to the indented block above as its footer; the blank
    lines and comments after it lead the next statement."""
    cut = end
    for number in range(end + 1, start):
        line = lines[number - 1]
        text = line.lstrip(b" \t\x0c")
        if len(line) - len(text) > column and text[:1] in (b"#", b"\r", b"\n", b""):
            cut = number
    return cut


def _starts_its_line(statement: ast.stmt, lines: list[bytes]) -> bool:
    line = lines[statement.lineno - 1]
    return not line[:statement.col_offset].strip()


def _has_indented_block(statement: cst.BaseStatement) -> bool:
    """Whether a statement holds an indented block (not only `if x: y`): the module's
    default indentation is its first indented block's."""
    if isinstance(statement, cst.SimpleStatementLine):
        return False
    if isinstance(statement, cst.Match):
        return True
    if isinstance(statement.body, cst.IndentedBlock):
        return True
    clauses = [getattr(statement, "orelse", None), getattr(statement, "finalbody", None),
               *getattr(statement, "handlers", ())]
    for clause in clauses:
        if isinstance(clause, cst.If):
            if _has_indented_block(clause):
                return True
        elif clause is not None and isinstance(clause.body, cst.IndentedBlock):
            return True
    return False
