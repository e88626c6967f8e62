"""The shared analysis every rule asks: what an expression is, what a call starts,
which callable a process runs and what that callable reads.

Built once per file over one MetadataWrapper; rules never re-derive any of it.
Resolution is by qualified name and by following assignments within scopes, so
`threading.Thread`, `queue.Queue` and `subprocess.Popen` are never mistaken for
multiprocessing objects, whatever they are called locally.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Iterator, Optional, Sequence, Union

import libcst as cst
import libcst.matchers as m
from libcst.metadata import (
    Assignment,
    ClassScope,
    CodeRange,
    FunctionScope,
    GlobalScope,
    MetadataWrapper,
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
    Scope,
    ScopeProvider,
)

from mpfix.starters import CONTEXT_API, MANAGER_API, STARTING_KINDS, Kind, StarterTable

try:  # libcst resolves some providers lazily since 1.2
    from libcst._metadata_dependent import LazyValue
except ImportError:  # pragma: no cover - older libcst
    LazyValue = ()  # type: ignore[assignment,misc]

Definition = Union[cst.FunctionDef, cst.ClassDef, cst.Lambda]

POOL_CALLABLE_METHODS = frozenset(
    {"map", "imap", "imap_unordered", "starmap", "apply", "apply_async",
     "map_async", "starmap_async"}
)
EXECUTOR_CALLABLE_METHODS = frozenset({"submit", "map"})
METADATA = (ScopeProvider, QualifiedNameProvider, ParentNodeProvider)


@dataclass(frozen=True)
class CallableUse:
    """A callable handed to another process: a target, a pool task, an initializer."""

    call: cst.Call             # the call that hands it over
    role: str                  # "target", "task", "initializer", "register"
    owner_kind: Kind           # PROCESS, POOL, EXECUTOR or MANAGER
    callable_arg: cst.Arg      # the argument holding the callable
    args_arg: Optional[cst.Arg] = None  # `args=`/`initargs=` where the role has one


def is_main_guard(node: cst.CSTNode) -> bool:
    if not isinstance(node, cst.If):
        return False
    name = m.Name("__name__")
    main = m.SimpleString(value=m.MatchIfTrue(lambda v: v.strip("\"'") == "__main__"))
    return m.matches(
        node.test,
        m.Comparison(left=name, comparisons=[m.ComparisonTarget(m.Equal(), main)])
        | m.Comparison(left=main, comparisons=[m.ComparisonTarget(m.Equal(), name)]),
    )


def keyword(call: cst.Call, name: str) -> Optional[cst.Arg]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def positional(call: cst.Call, index: int) -> Optional[cst.Arg]:
    plain = [a for a in call.args if a.keyword is None and not a.star]
    if any(a.star for a in call.args if a.keyword is None):
        stars_before = [a for a in call.args[: index + 1] if a.star]
        if stars_before:
            return None
    return plain[index] if index < len(plain) else None


def argument(call: cst.Call, name: str, index: int) -> Optional[cst.Arg]:
    return keyword(call, name) or positional(call, index)


def method_name(call: cst.Call) -> Optional[str]:
    return call.func.attr.value if isinstance(call.func, cst.Attribute) else None


class _Collector(cst.CSTVisitor):
    def __init__(self) -> None:
        self.calls: list[cst.Call] = []
        self.functions: list[cst.FunctionDef] = []
        self.classes: list[cst.ClassDef] = []
        self.lambdas: list[cst.Lambda] = []

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions.append(node)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.append(node)

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.lambdas.append(node)


class ModuleAnalysis:
    def __init__(self, wrapper: MetadataWrapper, starters: StarterTable) -> None:
        self.wrapper = wrapper
        self.module = wrapper.module
        self.starters = starters
        self._scopes = wrapper.resolve(ScopeProvider)
        self._qualified = wrapper.resolve(QualifiedNameProvider)
        self._parents = wrapper.resolve(ParentNodeProvider)
        collector = _Collector()
        self.module.visit(collector)
        self.calls = collector.calls
        self.functions = collector.functions
        self.classes = collector.classes
        self.lambdas = collector.lambdas
        self._kind_cache: dict[int, Optional[Kind]] = {}
        self._starts_cache: dict[int, bool] = {}

    # -- metadata -----------------------------------------------------------

    @staticmethod
    def _lookup(mapping, node, default=None):  # type: ignore[no-untyped-def]
        value = mapping.get(node, default)
        return value() if isinstance(value, LazyValue) else value

    def parent(self, node: cst.CSTNode) -> Optional[cst.CSTNode]:
        return self._lookup(self._parents, node)

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        current = self.parent(node)
        while current is not None:
            yield current
            current = self.parent(current)

    def scope(self, node: cst.CSTNode) -> Optional[Scope]:
        return self._lookup(self._scopes, node)

    def qualified_names(self, node: cst.CSTNode) -> set[str]:
        return {q.name for q in self._lookup(self._qualified, node, ())}

    @cached_property
    def _positions(self) -> dict:
        return self.wrapper.resolve(PositionProvider)

    def position(self, node: cst.CSTNode) -> CodeRange:
        value = self._positions[node]
        return value() if isinstance(value, LazyValue) else value

    @cached_property
    def global_scope(self) -> Optional[GlobalScope]:
        return self.scope(self.module)  # type: ignore[return-value]

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

    # -- names and assignments --------------------------------------------------

    def assignments(self, name: cst.Name) -> list[Assignment]:
        scope = self.scope(name)
        if scope is None:
            return []
        found: list[Assignment] = []
        try:
            accesses = scope.accesses[name]
        except KeyError:
            accesses = set()
        for access in accesses:
            for referent in access.referents:
                if isinstance(referent, Assignment):
                    found.append(referent)
        if not found and name.value in scope:
            found = [a for a in scope[name.value] if isinstance(a, Assignment)]
        return sorted(found, key=lambda a: self._order(a.node))

    def _order(self, node: cst.CSTNode) -> tuple[int, int]:
        try:
            start = self.position(node).start
            return (start.line, start.column)
        except KeyError:
            return (0, 0)

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

    def _unpacked_from(self, target: cst.CSTNode) -> Optional[cst.BaseExpression]:
        element = self.parent(target)
        container = self.parent(element) if isinstance(element, cst.Element) else None
        if isinstance(container, (cst.Tuple, cst.List)):
            return self.assigned_value(container)
        return None

    # -- kinds ----------------------------------------------------------------------

    def kind_of(self, expr: cst.CSTNode) -> Optional[Kind]:
        key = id(expr)
        if key not in self._kind_cache:
            self._kind_cache[key] = None  # breaks cycles such as `p = p`
            self._kind_cache[key] = self._compute_kind(expr)
        return self._kind_cache[key]

    def _compute_kind(self, expr: cst.CSTNode) -> Optional[Kind]:
        if isinstance(expr, cst.Call):
            return self.call_kind(expr)
        if isinstance(expr, cst.Name):
            return self._name_kind(expr)
        if isinstance(expr, cst.Subscript):
            return self.element_kind(expr.value)
        if isinstance(expr, cst.Attribute):
            return self._qualified_kind(expr)
        return None

    def _qualified_kind(self, node: cst.CSTNode) -> Optional[Kind]:
        for name in sorted(self.qualified_names(node)):
            kind = self.starters.kind_of_name(name)
            if kind is not None:
                return kind
        return None

    def _name_kind(self, name: cst.Name) -> Optional[Kind]:
        for assignment in self.assignments(name):
            target = assignment.node
            value = self.assigned_value(target)
            if value is not None:
                kind = self.kind_of(value)
                if kind is not None:
                    return kind
                continue
            source = self._loop_source(target)
            if source is not None:
                kind = self.element_kind(source)
                if kind is not None:
                    return kind
                continue
            packed = self._unpacked_from(target)
            if packed is not None and self.kind_of(packed) is Kind.PIPE:
                return Kind.PIPE
        return None

    def call_kind(self, call: cst.Call) -> Optional[Kind]:
        """What calling `call.func` creates, if it is a multiprocessing object."""
        func = call.func
        kind = self._qualified_kind(func)
        if kind is not None:
            return kind
        if isinstance(func, cst.Attribute):
            receiver = self.kind_of(func.value)
            attr = func.attr.value
            if receiver is Kind.CONTEXT:
                return CONTEXT_API.get(attr)
            if receiver is Kind.MANAGER:
                return MANAGER_API.get(attr)
        if self.process_class(func) is not None:
            return Kind.PROCESS
        return None

    def element_kind(self, expr: cst.CSTNode) -> Optional[Kind]:
        if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
            for element in expr.elements:
                kind = self.kind_of(element.value)
                if kind is not None:
                    return kind
            return None
        if isinstance(expr, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
            return self.kind_of(expr.elt)
        if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) \
                and expr.func.value in {"list", "tuple", "reversed", "sorted"} and expr.args:
            return self.element_kind(expr.args[0].value)
        if isinstance(expr, cst.Name):
            for assignment in self.assignments(expr):
                value = self.assigned_value(assignment.node)
                if value is None:
                    continue
                kind = self.element_kind(value)
                if kind is not None:
                    return kind
            return self._appended_kind(expr)
        return None

    def _appended_kind(self, name: cst.Name) -> Optional[Kind]:
        """`procs = []` then `procs.append(Process(...))`."""
        for call in self.calls:
            func = call.func
            if (isinstance(func, cst.Attribute) and func.attr.value in {"append", "add"}
                    and isinstance(func.value, cst.Name) and func.value.value == name.value
                    and call.args and self.scope(func.value) is self.scope(name)):
                kind = self.kind_of(call.args[0].value)
                if kind is not None:
                    return kind
        return None

    def receiver_kind(self, call: cst.Call) -> Optional[Kind]:
        """For `x.method(...)`, what `x` is."""
        if isinstance(call.func, cst.Attribute):
            return self.kind_of(call.func.value)
        return None

    def context_method(self, expr: cst.CSTNode) -> Optional[str]:
        """The start method of the context `expr` comes from, when a literal says it."""
        if isinstance(expr, cst.Name):
            for assignment in self.assignments(expr):
                value = self.assigned_value(assignment.node)
                if value is not None:
                    return self.context_method(value)
            return None
        if isinstance(expr, cst.Call) and self.call_kind(expr) is Kind.CONTEXT:
            method = argument(expr, "method", 0)
            if method is not None and isinstance(method.value, cst.SimpleString):
                return method.value.evaluated_value  # type: ignore[return-value]
        return None

    # -- classes and callables --------------------------------------------------------

    def process_class(self, expr: cst.CSTNode) -> Optional[cst.ClassDef]:
        """The module's own Process subclass `expr` names, if any."""
        definition = self.definition_of(expr)
        if isinstance(definition, cst.ClassDef) and self._is_process_class(definition, set()):
            return definition
        return None

    def _is_process_class(self, cls: cst.ClassDef, seen: set[int]) -> bool:
        if id(cls) in seen:
            return False
        seen.add(id(cls))
        for base in cls.bases:
            if self._qualified_kind(base.value) is Kind.PROCESS:
                return True
            parent = self.definition_of(base.value)
            if isinstance(parent, cst.ClassDef) and self._is_process_class(parent, seen):
                return True
        return False

    def definition_of(self, expr: cst.CSTNode) -> Optional[Definition]:
        """The def, class or lambda in this module that `expr` refers to."""
        if isinstance(expr, cst.Lambda):
            return expr
        if not isinstance(expr, cst.Name):
            return None
        for assignment in reversed(self.assignments(expr)):
            node = assignment.node
            if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
                return node
            value = self.assigned_value(node)
            if isinstance(value, cst.Lambda):
                return value
        return None

    def unwrap_partial(self, expr: cst.BaseExpression) -> cst.BaseExpression:
        while isinstance(expr, cst.Call) and "functools.partial" in self.qualified_names(expr.func) \
                and expr.args:
            expr = expr.args[0].value
        return expr

    def callable_uses(self) -> list[CallableUse]:
        uses: list[CallableUse] = []
        for call in self.calls:
            uses.extend(self._callable_uses_of(call))
        return uses

    def _callable_uses_of(self, call: cst.Call) -> Iterator[CallableUse]:
        created = self.call_kind(call)
        if created is Kind.PROCESS:
            target = argument(call, "target", 1)
            if target is not None:
                yield CallableUse(call, "target", Kind.PROCESS, target, argument(call, "args", 3))
        if created in (Kind.POOL, Kind.EXECUTOR):
            index = 1 if created is Kind.POOL else 2
            initializer = argument(call, "initializer", index)
            if initializer is not None:
                yield CallableUse(call, "initializer", created, initializer,
                                  argument(call, "initargs", index + 1))
        method = method_name(call)
        if method is None:
            return
        receiver = self.receiver_kind(call)
        if receiver is Kind.POOL and method in POOL_CALLABLE_METHODS:
            func = argument(call, "func", 0)
            if func is not None:
                yield CallableUse(call, "task", Kind.POOL, func, argument(call, "args", 1)
                                  if method.startswith("apply") else None)
        elif receiver is Kind.EXECUTOR and method in EXECUTOR_CALLABLE_METHODS:
            func = argument(call, "fn", 0)
            if func is not None:
                yield CallableUse(call, "task", Kind.EXECUTOR, func)
        elif method == "register" and self._is_manager_class(call.func.value):  # type: ignore[attr-defined]
            func = argument(call, "callable", 1)
            if func is not None:
                yield CallableUse(call, "register", Kind.MANAGER, func)

    def _is_manager_class(self, expr: cst.BaseExpression) -> bool:
        if self._qualified_kind(expr) is Kind.MANAGER:
            return True
        definition = self.definition_of(expr)
        if isinstance(definition, cst.ClassDef):
            return any(self._is_manager_class(base.value) for base in definition.bases)
        return False

    # -- what code reads ------------------------------------------------------------

    def _names_in(self, node: cst.CSTNode) -> Iterator[cst.Name]:
        class Names(cst.CSTVisitor):
            def __init__(self) -> None:
                self.found: list[cst.Name] = []

            def visit_Name(self, name: cst.Name) -> None:
                self.found.append(name)

        visitor = Names()
        node.visit(visitor)
        return iter(visitor.found)

    def _referents(self, name: cst.Name) -> set[Assignment]:
        scope = self.scope(name)
        if scope is None:
            return set()
        try:
            accesses = scope.accesses[name]
        except KeyError:
            return set()
        return {r for a in accesses for r in a.referents if isinstance(r, Assignment)}

    def global_reads(self, definition: cst.CSTNode) -> dict[str, list[cst.Name]]:
        """Module-level names `definition` reads, with the Name nodes that read them."""
        reads: dict[str, list[cst.Name]] = {}
        for name in self._names_in(definition):
            for referent in self._referents(name):
                if isinstance(referent.scope, GlobalScope):
                    reads.setdefault(referent.name, []).append(name)
        return reads

    def free_variables(self, definition: Definition) -> dict[str, list[cst.Name]]:
        """Names a nested def or lambda reads from the functions around it."""
        inner = self._own_scopes(definition)
        free: dict[str, list[cst.Name]] = {}
        for name in self._names_in(definition):
            for referent in self._referents(name):
                scope = referent.scope
                if isinstance(scope, (FunctionScope, ClassScope)) and scope not in inner \
                        and not isinstance(scope, GlobalScope):
                    if isinstance(scope, ClassScope):
                        continue  # class bodies do not close over
                    free.setdefault(referent.name, []).append(name)
        return free

    def _own_scopes(self, definition: cst.CSTNode) -> set[Scope]:
        scopes: set[Scope] = set()
        for name in self._names_in(definition):
            scope = self.scope(name)
            if scope is not None:
                scopes.add(scope)
        outer = self.scope(definition)
        scopes.discard(outer)  # type: ignore[arg-type]
        return scopes

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

    # -- what starts processes ----------------------------------------------------------

    def starting_calls(self, node: cst.CSTNode, *, into_functions: bool = False) -> list[cst.Call]:
        """Calls under `node` that start processes or fix the start method.

        A call to a module-level function that does so counts too, so the
        classic unguarded `main()` at the bottom of a script is found.
        """
        found: list[cst.Call] = []
        for call in self._calls_under(node, into_functions):
            if self._starts(call):
                found.append(call)
        return found

    def _calls_under(self, node: cst.CSTNode, into_functions: bool) -> Iterator[cst.Call]:
        analysis = self

        class Calls(cst.CSTVisitor):
            def __init__(self) -> None:
                self.found: list[cst.Call] = []

            def visit_Call(self, call: cst.Call) -> None:
                self.found.append(call)

            def visit_FunctionDef(self, _: cst.FunctionDef) -> bool:
                return into_functions

            def visit_Lambda(self, _: cst.Lambda) -> bool:
                return into_functions

            def visit_ClassDef(self, _: cst.ClassDef) -> bool:
                return into_functions

        del analysis
        visitor = Calls()
        node.visit(visitor)
        return iter(visitor.found)

    def _starts(self, call: cst.Call) -> bool:
        kind = self.call_kind(call)
        if kind in STARTING_KINDS or kind is Kind.SET_START_METHOD:
            return True
        if method_name(call) in {"start", "run_until_complete"} and \
                self.receiver_kind(call) in (Kind.PROCESS, Kind.MANAGER):
            return True
        if method_name(call) == "start" and self.receiver_kind(call) is None:
            receiver = call.func.value  # type: ignore[attr-defined]
            if isinstance(receiver, cst.Call) and self.call_kind(receiver) is Kind.PROCESS:
                return True
        function = self.definition_of(call.func)
        if isinstance(function, cst.FunctionDef) and self.parent(function) is self.module:
            return self.function_starts(function)
        return False

    def function_starts(self, function: cst.FunctionDef) -> bool:
        key = id(function)
        if key not in self._starts_cache:
            self._starts_cache[key] = False
            self._starts_cache[key] = bool(self.starting_calls(function.body, into_functions=False))
        return self._starts_cache[key]


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
