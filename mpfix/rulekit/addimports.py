"""libcst's AddImportsVisitor, putting what it adds where the file's import order wants
it (see mpfix.rulekit.imports, the only user). A module of its own because importing
libcst.codemod costs more than checking a small file: only a fix that adds an import
pays for it."""

from __future__ import annotations

from typing import Optional

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor

from mpfix.rulekit.imports import (_added_run, _alias_key, _block_sorted, _grew_past_line_length,
                                   _insert_alias, _insert_in_order, _is_import_line,
                                   _names_sorted, _with_sorted_names, _wrapped)


class OrderedAddImportsVisitor(AddImportsVisitor):
    """AddImportsVisitor that puts what it adds where the file's import order wants it."""

    def __init__(self, context: CodemodContext) -> None:
        super().__init__(context)
        # The statement after an import block this visitor created in a module that had
        # none: it needs the blank lines the sorters want after imports.
        self.new_block_ends_before: Optional[cst.BaseStatement] = None

    def leave_ImportFrom(self, original_node: cst.ImportFrom,
                         updated_node: cst.ImportFrom) -> cst.ImportFrom:
        if not isinstance(updated_node.names, cst.ImportStar) and any(
                alias.asname is not None for alias in updated_node.names):
            return updated_node  # the name gets a line of its own
        result = super().leave_ImportFrom(original_node, updated_node)
        if isinstance(result.names, cst.ImportStar) or isinstance(updated_node.names, cst.ImportStar):
            return result
        added = len(result.names) - len(updated_node.names)
        if added <= 0 or not _names_sorted(updated_node.names):
            return result
        names = list(updated_node.names)
        for alias in sorted(result.names[:added], key=_alias_key):
            names = _insert_alias(names, alias, updated_node.lpar)
        return updated_node.with_changes(names=names)

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine,
                                  updated_node: cst.SimpleStatementLine) -> cst.SimpleStatementLine:
        if _grew_past_line_length(original_node, updated_node):
            return _wrapped(updated_node)
        return updated_node

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        result = super().leave_Module(original_node, updated_node)
        start, count = _added_run(updated_node.body, result.body)
        if count == 0:
            return result
        block_start = start
        while block_start > 0 and _is_import_line(result.body[block_start - 1]):
            block_start -= 1
        block = list(result.body[block_start:start])
        added = [_with_sorted_names(statement) for statement in result.body[start:start + count]]
        after = list(result.body[start + count:])
        if not block and after:
            self.new_block_ends_before = after[0]
        if _block_sorted(block):
            for statement in added:
                block = _insert_in_order(block, statement)
        else:
            block.extend(added)
        return result.with_changes(body=[*result.body[:block_start], *block, *after])
