"""Where a node sits: parents, scopes, statements, main guards, loops, branches,
and the bindings and references of names."""

from __future__ import annotations

from functools import cached_property
from typing import Iterator, Optional, Union

import libcst as cst
from libcst.metadata import CodeRange

from mpfix.analysis.names import Binding, Scope
from mpfix.analysis.positions import SourceMap

# Kept for callers that name the old libcst type; bindings are mpfix.analysis.names.Binding now.
Assignment = Binding
Definition = Union[cst.FunctionDef, cst.ClassDef, cst.Lambda]


def is_main_guard(node: cst.CSTNode) -> bool:
    """`if __name__ == "__main__":`, either way round (isinstance checks: libcst.matchers
    costs more to import than checking a small file)."""
    if not isinstance(node, cst.If) or not isinstance(node.test, cst.Comparison):
        return False
    test = node.test
    if len(test.comparisons) != 1 or not isinstance(test.comparisons[0].operator, cst.Equal):
        return False
    sides = (test.left, test.comparisons[0].comparator)
    return any(_is_dunder_name(one) and _is_main_string(other)
               for one, other in (sides, sides[::-1]))


def _is_dunder_name(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "__name__"


def _is_main_string(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.SimpleString) and node.value.strip("\"'") == "__main__"



def own_nodes(function: cst.FunctionDef) -> Iterator[cst.CSTNode]:
    """The nodes of `function`'s body that run as part of it, in source order: not those of
    nested defs, lambdas or classes."""
    stack: list[cst.CSTNode] = [function.body]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            continue
        yield node
        stack.extend(reversed(node.children))


class StructureMixin:
    """Part of ModuleAnalysis (mpfix.analysis.module); `self` is the whole analysis."""

    # -- metadata -----------------------------------------------------------

    def parent(self, node: cst.CSTNode) -> Optional[cst.CSTNode]:
        return self.names.parents.get(node)

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        current = self.parent(node)
        while current is not None:
            yield current
            current = self.parent(current)

    def scope(self, node: cst.CSTNode) -> Optional[Scope]:
        return self.names.scope_of.get(node)

    def qualified_names(self, node: cst.CSTNode) -> set[str]:
        name = self.names.qualified_name(node)
        return {name} if name else set()

    @cached_property
    def source_map(self) -> SourceMap:
        return SourceMap(self.module, self._statement_texts, self.parent)

    def position(self, node: cst.CSTNode) -> CodeRange:
        return self.source_map.position(node)

    @cached_property
    def global_scope(self) -> Scope:
        return self.names.created[self.module]

    # -- structure ------------------------------------------------------------

    def enclosing_function(self, node: cst.CSTNode) -> Optional[cst.FunctionDef]:
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, cst.FunctionDef):
                return ancestor
        return None

    def enclosing_statement(self, node: cst.CSTNode) -> Optional[cst.BaseStatement]:
        """The statement (simple line or compound) directly holding `node`."""
        current: Optional[cst.CSTNode] = node
        while current is not None:
            parent = self.parent(current)
            if isinstance(current, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                return current
            current = parent
        return None

    def top_level_statement(self, node: cst.CSTNode) -> Optional[cst.BaseStatement]:
        for candidate in [node, *self.ancestors(node)]:
            if self.parent(candidate) is self.module and isinstance(candidate, cst.BaseStatement):
                return candidate
        return None

    def in_main_guard(self, node: cst.CSTNode) -> bool:
        return any(is_main_guard(a) for a in self.ancestors(node))

    def main_guards(self) -> list[cst.If]:
        return [s for s in self.module.body if is_main_guard(s)]  # type: ignore[misc]

    def is_module_level(self, node: cst.CSTNode) -> bool:
        """True when `node` runs at import time: not inside a def, lambda or class body of a def."""
        return not any(
            isinstance(a, (cst.FunctionDef, cst.Lambda)) for a in self.ancestors(node)
        )

    def in_loop(self, node: cst.CSTNode) -> bool:
        """True when `node` may run several times each time its function (or the module)
        runs: it sits in the body or test of a loop, or in a comprehension."""
        child = node
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, (cst.FunctionDef, cst.Lambda)):
                return False
            if isinstance(ancestor, cst.For) and child is ancestor.body:
                return True
            if isinstance(ancestor, cst.While) and child in (ancestor.body, ancestor.test):
                return True
            if isinstance(ancestor, cst.CompFor) and child is not ancestor.iter:
                return True
            if isinstance(ancestor, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)) \
                    and child is not ancestor.for_in:
                return True
            child = ancestor
        return False

    def exclusive_branches(self, first: cst.CSTNode, second: cst.CSTNode) -> bool:
        """True when `first` and `second` sit in different branches of one `if`/`else`
        (or `elif`), so no single run executes both."""
        first_path = [first, *self.ancestors(first)]
        first_ids = {id(node): index for index, node in enumerate(first_path)}
        child = second
        for ancestor in self.ancestors(second):
            index = first_ids.get(id(ancestor))
            if index is not None:
                if not isinstance(ancestor, cst.If) or index == 0:
                    return False
                branch_of_first = first_path[index - 1]
                return {id(branch_of_first), id(child)} == {id(ancestor.body), id(ancestor.orelse)}
            child = ancestor
        return False

    # -- names and assignments --------------------------------------------------

    def assignments(self, name: cst.Name) -> list[Binding]:
        """Where the name read at `name` may have been bound, in source order."""
        return sorted(self.names.resolve(name), key=lambda b: self._order(b.node))

    def _order(self, node: cst.CSTNode) -> int:
        return self.names.order.get(node, 0)

    def references(self, definition: Union[cst.FunctionDef, cst.ClassDef]) -> list[cst.Name]:
        """The reads of the name a def or class binds that resolve to it, in source order."""
        wanted = definition.name.value
        return [name for name in self.names.loads if name.value == wanted
                and any(b.node is definition for b in self.names.resolve(name))]

    def call_sites(self, definition: Union[cst.FunctionDef, cst.ClassDef]) -> list[cst.Call]:
        """The calls of a def (or instantiations of a class) by its name, in source order."""
        sites: list[cst.Call] = []
        for name in self.references(definition):
            parent = self.parent(name)
            if isinstance(parent, cst.Call) and parent.func is name:
                sites.append(parent)
        return sites

    def assigned_value(self, target: cst.CSTNode) -> Optional[cst.BaseExpression]:
        """The expression bound to a Name by an `=`, `with ... as` or walrus."""
        parent = self.parent(target)
        if isinstance(parent, cst.AssignTarget):
            assign = self.parent(parent)
            return assign.value if isinstance(assign, cst.Assign) else None
        if isinstance(parent, cst.AnnAssign):
            return parent.value
        if isinstance(parent, cst.NamedExpr):
            return parent.value
        if isinstance(parent, cst.AsName):
            item = self.parent(parent)
            if isinstance(item, cst.WithItem):
                return item.item
        return None

    def _loop_source(self, target: cst.CSTNode) -> Optional[cst.BaseExpression]:
        parent = self.parent(target)
        if isinstance(parent, (cst.For, cst.CompFor)) and parent.target is target:
            return parent.iter
        return None

    def paired_value(self, target: cst.CSTNode) -> Optional[cst.BaseExpression]:
        """For a parallel assignment `a, b = x, y`, the value `target` receives."""
        element = self.parent(target)
        container = self.parent(element) if isinstance(element, cst.Element) else None
        if not isinstance(container, (cst.Tuple, cst.List)):
            return None
        value = self.assigned_value(container)
        if not isinstance(value, (cst.Tuple, cst.List)) or len(value.elements) != len(container.elements) \
                or any(isinstance(e, cst.StarredElement) for e in (*value.elements, *container.elements)):
            return None
        index = next(i for i, e in enumerate(container.elements) if e is element)
        return value.elements[index].value

    def _unpacked_from(self, target: cst.CSTNode) -> Optional[cst.BaseExpression]:
        element = self.parent(target)
        container = self.parent(element) if isinstance(element, cst.Element) else None
        if isinstance(container, (cst.Tuple, cst.List)):
            return self.assigned_value(container)
        return None
