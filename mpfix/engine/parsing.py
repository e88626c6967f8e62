"""libcst's parse, made safe and lean: screened by CPython first, parsed a stretch at a time.

libcst's native parser holds the tokens and its own tree of a whole module while it
builds the Python nodes, about 400 bytes of memory per byte of source at the peak
(a 250 KB test module peaks above 100 MB). Parsing the module a few top-level
statements at a time and joining the parts gives the same tree (the same nodes,
the same whitespace and comments, `module.code == source`) at a fraction of that
peak, and faster, since the parser's working set stays in cache. The split points
come from CPython's own AST, which the depth screen builds anyway.
"""

from __future__ import annotations

import ast
import threading
import warnings
from typing import Optional

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
            # The full compile, not only the AST: before 3.11 the AST of a 20,000-term
            # chain builds fine while its compile (and libcst's parse) is too deep.
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


def _parse(source: bytes, tree: Optional[ast.Module], stretch: int = STRETCH_BYTES) -> cst.Module:
    stretches = _stretches(source, tree, stretch) if tree is not None else None
    if stretches is None:
        return cst.parse_module(source)
    first = cst.parse_module(stretches[0])
    parts = [first]
    for data in stretches[1:]:
        part = cst.parse_module(data.decode(first.encoding))
        if part.default_newline != first.default_newline:
            # A line ending a part takes as its default is stored as "the default":
            # joined, it would take the first part's.
            return cst.parse_module(source)
        body = list(part.body)
        # Alone, a stretch's leading blank lines and comments are its module's header;
        # in the whole module they lead its first statement.
        body[0] = body[0].with_changes(leading_lines=(*part.header, *body[0].leading_lines))
        parts.append(part.with_changes(body=body))
    if any(part.footer for part in parts[:-1]):
        return cst.parse_module(source)  # lines the cut gave the wrong stretch: never lose them
    # A block indented by its part's default stores no indent of its own: every part
    # with a block must share the default the whole module would have.
    indents = [part.default_indent for part in parts if any(map(_has_indented_block, part.body))]
    if len(set(indents)) > 1:
        return cst.parse_module(source)
    return first.with_changes(
        body=[statement for part in parts for statement in part.body],
        footer=parts[-1].footer,
        default_indent=indents[0] if indents else first.default_indent,
        has_trailing_newline=parts[-1].has_trailing_newline,
    )


def _stretches(source: bytes, tree: ast.Module, stretch: int) -> Optional[list[bytes]]:
    """The source cut at top-level statement boundaries into stretches of about
    `stretch` bytes; None when it is better parsed whole."""
    if len(source) <= stretch or len(tree.body) < 2 or not _plain_newlines(source):
        return None
    lines = source.splitlines(keepends=True)
    stretches: list[bytes] = []
    begin = 0  # index of the first line of the current stretch
    size = 0
    statements = tree.body
    for index, statement in enumerate(statements):
        end = statement.end_lineno or statement.lineno
        size += sum(len(line) for line in lines[_first_line(statement) - 1:end])
        following = statements[index + 1] if index + 1 < len(statements) else None
        if following is None or size < stretch:
            continue
        start = _first_line(following)
        if start <= end:  # `a = 1; b = 2`: one line, one libcst statement
            continue
        cut = _cut(lines, end, start)
        stretches.append(b"".join(lines[begin:cut]))
        begin, size = cut, 0
    stretches.append(b"".join(lines[begin:]))
    return stretches if len(stretches) > 1 else None


def _plain_newlines(source: bytes) -> bool:
    """Line numbers mean the same to CPython and to bytes.splitlines (a lone `\\r` is
    a line break to one and not always to the other)."""
    return source.count(b"\r") == source.count(b"\r\n")


def _first_line(statement: ast.stmt) -> int:
    decorators = getattr(statement, "decorator_list", None)
    return min([statement.lineno, *(d.lineno for d in decorators)]) if decorators \
        else statement.lineno


def _cut(lines: list[bytes], end: int, start: int) -> int:
    """The index of the line a new stretch begins at, between a statement ending on
    line `end` and the next starting on line `start`: after the last indented comment
    or whitespace-only line in between, which libcst gives to the indented block
    above as its footer; the blank lines and comments after it lead the next
    statement."""
    cut = end
    for number in range(end + 1, start):
        line = lines[number - 1]
        if line[:1] in (b" ", b"\t", b"\f") and line.lstrip()[:1] in (b"#", b""):
            cut = number
    return cut


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
