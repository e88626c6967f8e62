"""Source positions without regenerating the whole module every fix round.

libcst's PositionProvider re-renders the entire module with position tracking;
in a fix loop that is most of the time spent on a large file, once per round.
Top-level statements that a round did not touch keep their identity (fixes
rebuild only the path to what they replace), so their rendered text is cached
by identity; a node's position is its top-level statement's line offset plus
its position inside a one-statement module, rendered with tracking.
"""

from __future__ import annotations

from typing import Callable, Optional

import libcst as cst
from libcst.metadata import CodePosition, CodeRange, MetadataWrapper, PositionProvider


class StatementTexts:
    """Rendered text of top-level statements, cached across fix rounds."""

    def __init__(self) -> None:
        self._texts: dict[int, tuple[cst.CSTNode, str]] = {}

    def text(self, module: cst.Module, statement: cst.CSTNode) -> str:
        cached = self._texts.get(id(statement))
        if cached is not None and cached[0] is statement:
            return cached[1]
        text = module.code_for_node(statement)
        self._texts[id(statement)] = (statement, text)
        return text


class SourceMap:
    def __init__(self, module: cst.Module, texts: StatementTexts,
                 parent_of: Callable[[cst.CSTNode], Optional[cst.CSTNode]]) -> None:
        self.module = module
        self._parent_of = parent_of
        self._texts = texts
        self._header = "".join(module.code_for_node(line) for line in module.header)
        self._first_line: dict[int, int] = {}
        line = 1 + self._header.count("\n")
        for statement in module.body:
            self._first_line[id(statement)] = line
            line += texts.text(module, statement).count("\n")
        self._local: dict[int, dict] = {}

    @property
    def code(self) -> str:
        """The module's source, as `module.code` renders it."""
        body = "".join(self._texts.text(self.module, s) for s in self.module.body)
        footer = "".join(self.module.code_for_node(line) for line in self.module.footer)
        code = self._header + body + footer
        if not self.module.has_trailing_newline and code.endswith(self.module.default_newline):
            code = code[: -len(self.module.default_newline)]
        return code

    def position(self, node: cst.CSTNode) -> CodeRange:
        statement = self._top_level(node)
        if statement is None:
            return MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)[node]
        offset = self._first_line[id(statement)] - 1
        local = self._local.get(id(statement))
        if local is None:
            alone = self.module.with_changes(header=(), body=(statement,), footer=(),
                                             has_trailing_newline=True)
            local = self._local[id(statement)] = dict(
                MetadataWrapper(alone, unsafe_skip_copy=True).resolve(PositionProvider))
        where = local[node]
        return CodeRange(CodePosition(where.start.line + offset, where.start.column),
                         CodePosition(where.end.line + offset, where.end.column))

    def _top_level(self, node: cst.CSTNode) -> Optional[cst.CSTNode]:
        current: Optional[cst.CSTNode] = node
        while current is not None:
            parent = self._parent_of(current)
            if parent is self.module:
                return current
            current = parent
        return None
