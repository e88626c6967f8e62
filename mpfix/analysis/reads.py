"""What code reads and writes: free variables, module globals, constants, entry-code
rebinding, in-place changes."""

from __future__ import annotations

from functools import cached_property
from typing import Iterator, Optional, Sequence

import libcst as cst

from mpfix.analysis.names import Binding
from mpfix.analysis.structure import Definition

# Methods of the built-in containers that change them in place.
MUTATING_METHODS = frozenset(
    {"append", "extend", "insert", "update", "setdefault", "add", "clear", "pop", "popitem",
     "remove", "discard", "sort", "reverse"}
)


class ReadsMixin:
    """Part of ModuleAnalysis (mpfix.analysis.module); `self` is the whole analysis."""

    # -- what code reads ------------------------------------------------------------

    def _names_in(self, node: cst.CSTNode) -> Iterator[cst.Name]:
        if node in self.names.order:
            return iter(self.names.within(self.names.name_nodes, node))

        class Names(cst.CSTVisitor):
            def __init__(self) -> None:
                self.found: list[cst.Name] = []

            def visit_Name(self, name: cst.Name) -> None:
                self.found.append(name)

        visitor = Names()
        node.visit(visitor)
        return iter(visitor.found)

    def global_reads(self, definition: cst.CSTNode) -> dict[str, list[cst.Name]]:
        """Module-level names `definition` reads, with the Name nodes that read them."""
        reads: dict[str, list[cst.Name]] = {}
        for name in self.names.loads_in(definition):
            for binding in self.names.resolve(name):
                if binding.scope.kind == "module":
                    reads.setdefault(binding.name, []).append(name)
                    break
        return reads

    def free_variables(self, definition: Definition) -> dict[str, list[cst.Name]]:
        """Names a nested def or lambda reads from the functions around it."""
        free: dict[str, list[cst.Name]] = {}
        for name in self.names.loads_in(definition):
            for binding in self.names.resolve(name):
                scope = binding.scope
                if scope.is_function and not self.names.contains(definition, scope.node):
                    free.setdefault(binding.name, []).append(name)
                    break
        return free

    def module_function(self, name: str) -> Optional[cst.FunctionDef]:
        for statement in self.module.body:
            if isinstance(statement, cst.FunctionDef) and statement.name.value == name:
                return statement
        return None

    def helpers_called(self, definition: cst.CSTNode) -> list[cst.FunctionDef]:
        """Module-level functions `definition` calls, transitively, itself excluded."""
        found: list[cst.FunctionDef] = []
        pending = [definition]
        while pending:
            current = pending.pop()
            for name in self.global_reads(current):
                helper = self.module_function(name)
                if helper is not None and helper is not definition and helper not in found:
                    found.append(helper)
                    pending.append(helper)
        return found

    # -- module globals: constants, entry-code rebinding, writes -----------------------

    def global_bindings(self, name: str) -> list[Binding]:
        """Every binding of the module-level `name`, in source order: module statements,
        the main guard, and functions that declare it `global`."""
        return sorted(self.global_scope.bindings.get(name, ()), key=lambda b: self._order(b.node))

    def binds_after_import(self, node: cst.CSTNode) -> bool:
        """Whether `node` runs only once the program is started, not when the module is
        imported: it sits under the main guard or inside a function."""
        return self.in_main_guard(node) or not self.is_module_level(node)

    def entry_rebindings(self, name: str) -> list[cst.CSTNode]:
        """Where the module-level `name` is bound after import: by the entry code under the
        main guard, or by a function through `global`. A spawn or forkserver child
        re-imports the module and never sees these values."""
        return [b.node for b in self.global_bindings(name) if self.binds_after_import(b.node)]

    def is_constant_global(self, name: str, _seen: Optional[set[str]] = None) -> bool:
        """`N = 10`, `NAMES = ("a", "b")`: bound once, at import time, to an immutable literal
        (or to an expression of such literals and other constants)."""
        seen = _seen if _seen is not None else set()
        if name in seen:
            return False
        seen.add(name)
        bindings = self.global_bindings(name)
        if len(bindings) != 1 or self.binds_after_import(bindings[0].node):
            return False
        value = self.assigned_value(bindings[0].node)
        return value is not None and self._is_constant_expression(value, seen)

    def _is_constant_expression(self, expr: cst.BaseExpression, seen: set[str]) -> bool:
        if isinstance(expr, (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString,
                             cst.ConcatenatedString)):
            return True
        if isinstance(expr, cst.Name):
            return expr.value in ("True", "False", "None") or self.is_constant_global(expr.value, seen)
        if isinstance(expr, cst.Tuple):
            return all(isinstance(e, cst.Element) and self._is_constant_expression(e.value, seen)
                       for e in expr.elements)
        if isinstance(expr, cst.UnaryOperation):
            return self._is_constant_expression(expr.expression, seen)
        if isinstance(expr, cst.BinaryOperation):
            return self._is_constant_expression(expr.left, seen) \
                and self._is_constant_expression(expr.right, seen)
        return False

    @cached_property
    def module_name_reads(self) -> dict[str, list[cst.Name]]:
        """Every read of a module-level name anywhere in the module, by name, in source order."""
        reads: dict[str, list[cst.Name]] = {}
        for name in self.names.loads:
            if any(b.scope is self.global_scope for b in self.names.resolve(name)):
                reads.setdefault(name.value, []).append(name)
        return reads

    @cached_property
    def _global_name_bindings(self) -> list[cst.Name]:
        """The Names bound in the module scope, in source order: `global_writes` takes the
        ones inside a node by bisection instead of scanning them all for every function."""
        bound = [b.node for bindings in self.global_scope.bindings.values() for b in bindings
                 if isinstance(b.node, cst.Name) and b.node in self.names.order]
        return sorted(bound, key=self.names.order.__getitem__)

    def global_writes(self, node: cst.CSTNode) -> dict[str, list[cst.CSTNode]]:
        """Module-level names the code under `node` rebinds after import (through `global`
        or in the main guard) or changes in place (`x[k] = v`, `x.attr = v`, `x.append(v)`),
        with the node that does it."""
        writes: dict[str, list[cst.CSTNode]] = {}
        for bound in self.names.within(self._global_name_bindings, node):
            if self.binds_after_import(bound):
                writes.setdefault(bound.value, []).append(bound)
        for name in self.names.loads_in(node):
            if not any(b.scope is self.global_scope for b in self.names.resolve(name)):
                continue
            change = self._in_place_change(name)
            if change is not None:
                writes.setdefault(name.value, []).append(change)
        return writes

    def changes_in_place(self, name: cst.Name) -> bool:
        """Whether the read `name` changes the object it reads (`x.append(v)`, `x[k] = v`)."""
        return self._in_place_change(name) is not None

    def _in_place_change(self, name: cst.Name) -> Optional[cst.CSTNode]:
        """The store or mutating call that changes the object `name` reads, if any."""
        current: cst.CSTNode = name
        parent = self.parent(current)
        while isinstance(parent, (cst.Attribute, cst.Subscript)) and parent.value is current:
            holder = self.parent(parent)
            if isinstance(holder, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.Del)) \
                    and holder.target is parent:
                return parent
            if isinstance(parent, cst.Attribute) and parent.attr.value in MUTATING_METHODS \
                    and isinstance(holder, cst.Call) and holder.func is parent:
                return holder
            current, parent = parent, holder
        return None


def statement_names(statement: cst.CSTNode) -> Sequence[str]:
    """Names a top-level statement binds."""
    names: list[str] = []

    class Targets(cst.CSTVisitor):
        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            _collect(node.target)

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            _collect(node.target)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            _collect(node.target)

        def visit_For(self, node: cst.For) -> None:
            _collect(node.target)

        def visit_AsName(self, node: cst.AsName) -> None:
            _collect(node.name)

        def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
            _collect(node.target)

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            names.append(node.name.value)
            return False

        def visit_ClassDef(self, node: cst.ClassDef) -> bool:
            names.append(node.name.value)
            return False

        def visit_Lambda(self, node: cst.Lambda) -> bool:
            return False

    def _collect(target: cst.CSTNode) -> None:
        if isinstance(target, cst.Name):
            names.append(target.value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                _collect(element.value)
        elif isinstance(target, cst.StarredElement):
            _collect(target.value)

    statement.visit(Targets())
    return names


def statement_mutations(statement: cst.CSTNode) -> Sequence[str]:
    """Names whose object a simple statement changes in place without rebinding them:
    `parser.add_argument(...)`, `config["x"] = 1`, `counter.total += 1`."""
    names: list[str] = []
    if not isinstance(statement, cst.SimpleStatementLine):
        return names
    for small in statement.body:
        roots: list[cst.BaseExpression] = []
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            if isinstance(small.value.func, cst.Attribute):
                roots.append(small.value.func.value)
        elif isinstance(small, cst.Assign):
            roots.extend(t.target for t in small.targets
                         if isinstance(t.target, (cst.Attribute, cst.Subscript)))
        elif isinstance(small, (cst.AugAssign, cst.AnnAssign)):
            if isinstance(small.target, (cst.Attribute, cst.Subscript)):
                roots.append(small.target)
        for root in roots:
            while isinstance(root, (cst.Attribute, cst.Subscript, cst.Call)):
                root = root.func if isinstance(root, cst.Call) else root.value
            if isinstance(root, cst.Name):
                names.append(root.value)
    return names
