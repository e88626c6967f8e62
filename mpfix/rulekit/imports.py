"""Imports that fixes need, added in the order the file already uses.

Rules name the imports they need (`Fix.imports`); they are added once per fix round
with libcst's AddImportsVisitor, which knows what the file already imports, and each
added name and line is then put where the file's own order wants it.

A block sorted as isort (profile black) and ruff (default settings) sort it stays
sorted: sections `__future__`, standard library, other absolute imports, relative
imports, one blank line apart; in a section `import x` lines before `from x import y`
lines, each by module name with case ignored; in one `from` import CONSTANTS, then
Classes, then the rest. A `from` import whose names are sorted gets the new name at
its place (wrapped one name a line, as both tools do, when the line outgrows 88
columns); an `x as y` import is never extended, as both tools keep those on lines
of their own. Where the order is the file's own, libcst's placement stands: a new
name first in its `from` import, a new line at the end of the import block.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence, Union

import libcst as cst

from mpfix.analysis.names import dotted_name
from mpfix.rulekit.rule import ImportSpec
from mpfix.rulekit.helpers import split_leading_lines

# The line length both sorters default to; a `from` import that outgrows it is wrapped.
LINE_LENGTH = 88
INDENT = "    "

FUTURE, STDLIB, OTHER, FIRST_PARTY, LOCAL = range(5)
# The folder of the file being fixed: a module or package in it is first-party to isort and
# ruff (their source roots), so its imports form a section of their own.
_FOLDER: ContextVar[Optional[str]] = ContextVar("mpfix_import_folder", default=None)
_STDLIB: Optional[frozenset[str]] = getattr(sys, "stdlib_module_names", None)
_DIGITS = re.compile(r"(\d+)")
_SORTER_DIRECTIVE = re.compile(r"\bisort\s*:\s*(?:skip|off)")

ImportLine = cst.SimpleStatementLine
Key = tuple


def add_imports(module: cst.Module, imports: Sequence[ImportSpec]) -> cst.Module:
    """The module with `imports` added to its top-level import block, in the block's order.

    AddImportsVisitor only ever edits top-level import lines and the spacing of the
    first statement after them, but it walks the whole tree (seconds on a large
    file). Every run of other statements is swapped for a one-line stand-in that
    carries the run's leading lines, and put back afterwards.
    """
    runs: dict[str, list[cst.BaseStatement]] = {}
    shallow: list[cst.BaseStatement] = []
    for index, statement in enumerate(module.body):
        if index == 0 or _is_import_line(statement):
            shallow.append(statement)
            continue
        marker = _stand_in_marker(shallow[-1])
        if marker in runs:
            runs[marker].append(statement)
            continue
        marker = f"__mpfix_stand_in_{index}__"
        runs[marker] = [statement]
        shallow.append(cst.SimpleStatementLine(body=[cst.Expr(cst.Name(marker))],
                                               leading_lines=statement.leading_lines))
    # libcst.codemod imports libcst.matchers: paid only by a fix that adds an import.
    from libcst.codemod import CodemodContext
    from libcst.codemod.visitors import AddImportsVisitor

    from mpfix.rulekit.addimports import OrderedAddImportsVisitor

    context = CodemodContext()
    for module_name, obj, alias in imports:
        AddImportsVisitor.add_needed_import(context, module_name, obj, alias)
    visitor = OrderedAddImportsVisitor(context)
    result = visitor.transform_module(module.with_changes(body=shallow))
    body: list[cst.BaseStatement] = []
    for statement in result.body:
        run = runs.get(_stand_in_marker(statement) or "")
        restored = [statement] if run is None else [
            run[0].with_changes(leading_lines=statement.leading_lines), *run[1:]]
        if statement is visitor.new_block_ends_before:
            restored[0] = _spaced_after_imports(restored[0])
        body.extend(restored)
    return result.with_changes(body=body)


# --- sort keys (ruff's defaults, which isort's black profile shares) ---

def _natural(text: str) -> tuple:
    """`a2` before `a10`: digit runs compare as numbers."""
    return tuple(int(part) if index % 2 else part
                 for index, part in enumerate(_DIGITS.split(text)))


def member_key(name: str, asname: Optional[str] = None) -> Key:
    """Order of names in one `from` import: CONSTANTS, Classes, the rest; case ignored."""
    kind = 0 if len(name) > 1 and name.isupper() else 1 if name[:1].isupper() else 2
    return (kind, _natural(name.lower()), _natural(name), _natural(asname or ""))


def _alias_key(alias: cst.ImportAlias) -> Key:
    asname = alias.asname.name if alias.asname is not None else None
    return member_key(dotted_name(alias.name),
                      dotted_name(asname) if asname is not None else None)


def _names_sorted(names: Sequence[cst.ImportAlias]) -> bool:
    keys = [_alias_key(alias) for alias in names]
    return all(a <= b for a, b in zip(keys, keys[1:]))


@dataclass(frozen=True)
class _Entry:
    section: int
    key: Key
    package: str  # the top-level package, to find its group among other absolute imports


def _entry(statement: cst.BaseStatement) -> Optional[_Entry]:
    """Where an import line sorts, or None where that cannot be told."""
    if _STDLIB is None or not _is_import_line(statement) or len(statement.body) != 1:
        return None
    node = statement.body[0]
    if isinstance(node, cst.Import):
        name = dotted_name(node.names[0].name)
        key = (0, _natural(name.lower()), _natural(name), _alias_key(node.names[0]))
        return _Entry(_section_of(name), key, name.split(".")[0])
    assert isinstance(node, cst.ImportFrom)
    if node.relative:
        return _Entry(LOCAL, (), "")
    name = dotted_name(node.module) if node.module is not None else ""
    first = () if isinstance(node.names, cst.ImportStar) else _alias_key(node.names[0])
    key = (1, _natural(name.lower()), _natural(name), first)
    return _Entry(FUTURE if name == "__future__" else _section_of(name), key, name.split(".")[0])


def _section_of(module_name: str) -> int:
    top = module_name.split(".")[0]
    if _STDLIB is not None and top in _STDLIB:
        return STDLIB
    folder = _FOLDER.get()
    return FIRST_PARTY if folder is not None and top in _modules_in(folder) else OTHER


@contextmanager
def first_party_folder(folder: Optional[str]) -> Iterator[None]:
    """Within the block, imports added sort modules of `folder` as first-party."""
    token = _FOLDER.set(folder)
    try:
        yield
    finally:
        _FOLDER.reset(token)


@functools.lru_cache(maxsize=64)
def _modules_in(folder: str) -> frozenset[str]:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return frozenset()
    return frozenset(entry.name[:-3] if entry.name.endswith(".py") else entry.name
                     for entry in entries
                     if entry.name.endswith(".py") or entry.is_dir() and entry.name.isidentifier())


# --- the block's order ---

def _block_sorted(block: Sequence[cst.BaseStatement]) -> bool:
    """Sorted as the sorters want, as far as the file shows it. Third-party and first-party
    imports cannot be told apart here, so among other absolute imports the order may
    start again after a blank line (the next section)."""
    previous: Optional[_Entry] = None
    for statement in block:
        entry = _entry(statement)
        if entry is None or _has_sorter_directive(statement):
            return False
        if previous is not None:
            if entry.section < previous.section:
                return False
            if entry.section == previous.section and entry.section != LOCAL \
                    and entry.key < previous.key \
                    and not (entry.section == OTHER and _blank_lines_above(statement)):
                return False
        previous = entry
    return True


def _insert_in_order(block: list[cst.BaseStatement], new: ImportLine) -> list[cst.BaseStatement]:
    entry = _entry(new)
    if entry is None:
        return [*block, new]
    entries = [_entry(statement) for statement in block]
    group = _group_for(block, entries, entry)
    if group:
        for index in group:
            if entry.key < entries[index].key:  # type: ignore[union-attr]
                return _insert_before(block, index, new, new_section=False,
                                      group_start=index == group[0])
        return [*block[:group[-1] + 1], new.with_changes(leading_lines=()),
                *block[group[-1] + 1:]]
    for index, other in enumerate(entries):
        if other is not None and other.section > entry.section:
            return _insert_before(block, index, new, new_section=True, group_start=True)
    separator = (cst.EmptyLine(),) if block else ()
    return [*block, new.with_changes(leading_lines=separator)]


def _group_for(block: Sequence[cst.BaseStatement], entries: Sequence[Optional[_Entry]],
               entry: _Entry) -> list[int]:
    """The indices of the run of imports the new one belongs to (empty: none yet)."""
    same = [index for index, other in enumerate(entries)
            if other is not None and other.section == entry.section]
    groups: list[list[int]] = []
    for index in same:
        if not groups or entry.section == OTHER and _starts_section(
                block[index], entries[index - 1], entries[index]):
            groups.append([])
        groups[-1].append(index)
    for group in groups:
        if any(entries[index].package == entry.package for index in group):  # type: ignore[union-attr]
            return group
    return groups[0] if groups else []


def _insert_before(block: list[cst.BaseStatement], index: int, new: ImportLine, *,
                   new_section: bool, group_start: bool) -> list[cst.BaseStatement]:
    """Put `new` above block[index]. At the head of a group the new line takes over the
    blank lines above it; the comment lines stay with the import they describe, a blank
    line above them (isort's black profile wants one before a comment after an import)."""
    following = block[index]
    if not group_start:
        return [*block[:index], new.with_changes(leading_lines=()), *block[index:]]
    blank, comments = split_leading_lines(following.leading_lines)
    separated = [cst.EmptyLine()] if comments or new_section else []
    return [*block[:index], new.with_changes(leading_lines=blank),
            following.with_changes(leading_lines=[*separated, *comments]), *block[index + 1:]]


def _has_sorter_directive(statement: cst.BaseStatement) -> bool:
    """`# isort: skip`, `# isort: off`...: the file orders these lines by hand."""
    assert isinstance(statement, cst.SimpleStatementLine)
    comments = [line.comment for line in statement.leading_lines]
    comments.append(statement.trailing_whitespace.comment)
    return any(comment is not None and _SORTER_DIRECTIVE.search(comment.value)
               for comment in comments)


def _blank_lines_above(statement: cst.BaseStatement) -> bool:
    blank, _ = split_leading_lines(statement.leading_lines)
    return bool(blank)


def _starts_section(statement: cst.BaseStatement, previous: Optional[_Entry],
                    current: Optional[_Entry]) -> bool:
    """Among other absolute imports, a blank line not kept for a comment, or the order
    starting again, is where third-party imports end and first-party ones begin."""
    blank, comments = split_leading_lines(statement.leading_lines)
    restarts = previous is not None and current is not None and current.key < previous.key
    return bool(blank) and (restarts or not comments)


# --- names inside one `from` import ---

def _insert_alias(names: list[cst.ImportAlias], alias: cst.ImportAlias,
                  lpar: Optional[cst.LeftParen]) -> list[cst.ImportAlias]:
    """`alias` put at its sorted place, the separators copied from the neighbours."""
    key = _alias_key(alias)
    index = next((i for i, name in enumerate(names) if key < _alias_key(name)), len(names))
    between = _between_comma(names, index, lpar)
    if index < len(names):
        return [*names[:index], alias.with_changes(comma=between), *names[index:]]
    last = names[-1]
    return [*names[:-1], last.with_changes(comma=_keep_comment(last.comma, between)),
            alias.with_changes(comma=_without_comment(last.comma))]


def _between_comma(names: Sequence[cst.ImportAlias], index: int,
                   lpar: Optional[cst.LeftParen]) -> cst.Comma:
    """A comma as the import writes one between two names, without their comments."""
    if len(names) >= 2:
        template = names[min(max(index - 1, 0), len(names) - 2)].comma
        if isinstance(template, cst.Comma):
            return _without_comment(template)  # type: ignore[return-value]
    trailing = names[-1].comma
    if isinstance(trailing, cst.Comma) and isinstance(trailing.whitespace_after,
                                                       cst.ParenthesizedWhitespace):
        indent = INDENT
        if lpar is not None and isinstance(lpar.whitespace_after, cst.ParenthesizedWhitespace):
            indent = lpar.whitespace_after.last_line.value
        return cst.Comma(whitespace_after=cst.ParenthesizedWhitespace(
            last_line=cst.SimpleWhitespace(indent)))
    return cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))


def _without_comment(comma: Union[cst.Comma, cst.MaybeSentinel]) -> Union[cst.Comma, cst.MaybeSentinel]:
    if isinstance(comma, cst.Comma) and isinstance(comma.whitespace_after,
                                                   cst.ParenthesizedWhitespace):
        return comma.with_changes(whitespace_after=comma.whitespace_after.with_changes(
            first_line=cst.TrailingWhitespace(), empty_lines=()))
    return comma


def _keep_comment(old: Union[cst.Comma, cst.MaybeSentinel], between: cst.Comma) -> cst.Comma:
    """`between`, keeping the comment that followed the old last name on its line."""
    if isinstance(old, cst.Comma) and isinstance(old.whitespace_after, cst.ParenthesizedWhitespace) \
            and isinstance(between.whitespace_after, cst.ParenthesizedWhitespace):
        return old.with_changes(whitespace_after=old.whitespace_after.with_changes(
            last_line=between.whitespace_after.last_line))
    return between


def _with_sorted_names(statement: cst.BaseStatement) -> cst.BaseStatement:
    """A new `from` line's names in member order (libcst sorts them by code point)."""
    node = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) else None
    if not isinstance(node, cst.ImportFrom) or isinstance(node.names, cst.ImportStar):
        return statement
    ordered = sorted(node.names, key=_alias_key)
    names = [alias.with_changes(comma=slot.comma) for alias, slot in zip(ordered, node.names)]
    return statement.with_changes(body=[node.with_changes(names=names)])


# --- line length ---

def _line_width(statement: cst.SimpleStatementLine) -> int:
    code = cst.Module(body=[]).code_for_node(statement.with_changes(leading_lines=()))
    return max(len(line) for line in code.splitlines())


def _grew_past_line_length(original: cst.SimpleStatementLine,
                           updated: cst.SimpleStatementLine) -> bool:
    """A one-line `from` import that gained names and no longer fits where it used to."""
    if len(updated.body) != 1 or not isinstance(updated.body[0], cst.ImportFrom) \
            or not isinstance(original.body[0], cst.ImportFrom):
        return False
    node, before = updated.body[0], original.body[0]
    if isinstance(node.names, cst.ImportStar) or isinstance(before.names, cst.ImportStar) \
            or node.lpar is not None or len(node.names) <= len(before.names):
        return False
    return _line_width(original) <= LINE_LENGTH < _line_width(updated)


def _wrapped(statement: cst.SimpleStatementLine) -> cst.SimpleStatementLine:
    """One name a line with a trailing comma (a trailing comma keeps it so in both sorters);
    a comment that ended the line follows the opening parenthesis."""
    node = statement.body[0]
    assert isinstance(node, cst.ImportFrom) and not isinstance(node.names, cst.ImportStar)
    comment = statement.trailing_whitespace.comment
    opening = cst.ParenthesizedWhitespace(
        first_line=cst.TrailingWhitespace(
            whitespace=cst.SimpleWhitespace("  " if comment is not None else ""), comment=comment),
        last_line=cst.SimpleWhitespace(INDENT))
    names = []
    for position, alias in enumerate(node.names):
        last = position == len(node.names) - 1
        names.append(alias.with_changes(comma=cst.Comma(
            whitespace_after=cst.ParenthesizedWhitespace(
                last_line=cst.SimpleWhitespace("" if last else INDENT)))))
    wrapped = node.with_changes(names=names, lpar=cst.LeftParen(whitespace_after=opening),
                                rpar=cst.RightParen())
    return statement.with_changes(body=[wrapped], trailing_whitespace=cst.TrailingWhitespace(
        newline=statement.trailing_whitespace.newline))


# --- statements ---

def _added_run(before: Sequence[cst.BaseStatement],
               after: Sequence[cst.BaseStatement]) -> tuple[int, int]:
    """Where AddImportsVisitor put its new lines, as (start, count): one run, inserted
    between statements it kept (the one after the run may have gained a blank line).
    (0, 0) when the change has another shape."""
    count = len(after) - len(before)
    if count <= 0:
        return 0, 0
    start = next((i for i, statement in enumerate(before) if after[i] is not statement),
                 len(before))
    kept_tail = all(a is b for a, b in zip(after[start + count + 1:], before[start + 1:]))
    new_lines = all(_is_import_line(statement) for statement in after[start:start + count])
    return (start, count) if kept_tail and new_lines else (0, 0)


def _is_import_line(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and any(
        isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body)


def _stand_in_marker(statement: cst.BaseStatement) -> Optional[str]:
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        small = statement.body[0]
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Name):
            return small.value.value
    return None


def _spaced_after_imports(statement: cst.BaseStatement) -> cst.BaseStatement:
    """Two blank lines between new imports and a def or class, as the sorters want (one
    where a comment comes first)."""
    if not isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
        return statement
    blank, comments = split_leading_lines(statement.leading_lines)
    if len(blank) >= 2 or comments:
        return statement
    return statement.with_changes(
        leading_lines=[*blank, *[cst.EmptyLine()] * (2 - len(blank)), *comments])
