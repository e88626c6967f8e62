"""Whitespace-only lines keep their bytes when a fix moves the code around them.

libcst stores a whitespace-only line inside a block as "indent to the current
level, then this rest": moved into a deeper block (a `__main__` guard, a
`with`), it would be re-rendered with the new, deeper indentation. Before a fix
run, every such line inside a block is rewritten to carry its text literally:
the module renders to the same bytes, and the line keeps them wherever a fix
puts it. Lines with a comment still follow their code's indentation.
"""

from __future__ import annotations

import re

import libcst as cst

_INDENTED_BLANK_LINE = re.compile(rb"^[ \t\f]+\r?$", re.MULTILINE)


class _LiteralBlankLines(cst.CSTTransformer):
    def __init__(self, default_indent: str) -> None:
        super().__init__()
        self.default_indent = default_indent
        self.indents = [""]

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> bool:
        own = self.default_indent if node.indent is None else node.indent
        self.indents.append(self.indents[-1] + own)
        return True

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock,
                            updated_node: cst.IndentedBlock) -> cst.IndentedBlock:
        self.indents.pop()
        return updated_node

    def leave_EmptyLine(self, original_node: cst.EmptyLine,
                        updated_node: cst.EmptyLine) -> cst.EmptyLine:
        indent = self.indents[-1]
        if updated_node.comment is not None or not updated_node.indent or not indent:
            return updated_node
        text = indent + updated_node.whitespace.value
        return updated_node.with_changes(indent=False, whitespace=cst.SimpleWhitespace(text))


def literal_blank_lines(module: cst.Module, source: bytes) -> cst.Module:
    """`module`, its whitespace-only lines inside blocks made independent of indentation.
    Costs a pass over the tree only for a source that has such a line."""
    if not _INDENTED_BLANK_LINE.search(source):
        return module
    literal = module.visit(_LiteralBlankLines(module.default_indent))
    return literal if literal.code == module.code else module
