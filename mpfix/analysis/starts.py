"""What starts processes: the calls under a node that start them, directly or through
the module's own functions, and the calls that settle a default context."""

from __future__ import annotations

from typing import Iterator

import libcst as cst

from mpfix.analysis.arguments import (
    method_name,
)
from mpfix.analysis.starters import (
    STARTING_KINDS,
    Kind,
)


class StartsMixin:
    """Part of ModuleAnalysis (mpfix.analysis.module); `self` is the whole analysis."""

    # -- what starts processes ----------------------------------------------------------

    def starting_calls(self, node: cst.CSTNode, *,
                       into_functions: bool = False) -> list[cst.CSTNode]:
        """Calls under `node` that start processes or fix the start method, and loops
        over a DataLoader that starts workers (`for batch in loader:`), in source order.

        A call to a module-level function that does so counts too, so the
        classic unguarded `main()` at the bottom of a script is found.
        """
        found: list[cst.CSTNode] = []
        for call in self._calls_under(node, into_functions):
            if self._starts(call):
                found.append(call)
        loops = self.loader_loops(node, into_functions)
        if loops:
            found = sorted([*found, *loops], key=lambda n: self.names.order.get(n, 0))
        return found

    def _calls_under(self, node: cst.CSTNode, into_functions: bool) -> Iterator[cst.Call]:
        if node in self.names.order:
            return iter(self._indexed_calls_under(node, into_functions))
        return self._visited_calls_under(node, into_functions)

    def _indexed_calls_under(self, node: cst.CSTNode, into_functions: bool) -> list[cst.Call]:
        """The calls in `node`'s pre-order range; a visitor per statement costs far more."""
        calls = self.names.within(self.calls, node)
        if into_functions:
            return calls
        return [call for call in calls if not self._nested_in_definition(call, node)]

    def _nested_in_definition(self, node: cst.CSTNode, outer: cst.CSTNode) -> bool:
        for ancestor in self.ancestors(node):
            if ancestor is outer:
                return False
            if isinstance(ancestor, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                return True
        return False

    def _visited_calls_under(self, node: cst.CSTNode, into_functions: bool) -> Iterator[cst.Call]:
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
        if kind in STARTING_KINDS or kind in (Kind.SET_START_METHOD, Kind.CALLS_SET_START_METHOD):
            return True
        if self.iterates_loader(call):
            return True
        if method_name(call) in {"start", "run_until_complete"} and \
                self.receiver_kind(call) in (Kind.PROCESS, Kind.MANAGER):
            return True
        if method_name(call) == "start" and self.receiver_kind(call) is None:
            receiver = call.func.value  # type: ignore[attr-defined]
            if isinstance(receiver, cst.Call) and self.call_kind(receiver) is Kind.PROCESS:
                return True
        function = self.definition_of(call.func)
        if isinstance(function, cst.FunctionDef) and self._decorated_to_start(function):
            return True
        if isinstance(function, cst.FunctionDef) and self.parent(function) is self.module:
            return self.function_starts(function)
        return False

    def _decorated_to_start(self, function: cst.FunctionDef) -> bool:
        """`@pebble.concurrent.process`: each call of the function starts a process."""
        for decorator in function.decorators:
            expr = decorator.decorator
            expr = expr.func if isinstance(expr, cst.Call) else expr
            if any(self.starters.starts_when_decorated(name)
                   for name in self.qualified_names(expr)):
                return True
        return False

    def default_context_calls(self, node: cst.CSTNode, family: str) -> list[cst.Call]:
        """Calls under `node` (not inside nested defs) after which `family`'s default
        context has settled its start method: direct uses (see `default_context_family`)
        and calls to module functions that make one, transitively."""
        return [call for call in self._calls_under(node, False)
                if self._settles_default_context(call, family, set())]

    def _settles_default_context(self, call: cst.Call, family: str, seen: set[int]) -> bool:
        if self.default_context_family(call) == family:
            return True
        function = self.definition_of(call.func)
        if isinstance(function, cst.FunctionDef) and self.parent(function) is self.module \
                and id(function) not in seen:
            seen.add(id(function))
            return any(self._settles_default_context(inner, family, seen)
                       for inner in self._calls_under(function.body, False))
        return False

    def function_starts(self, function: cst.FunctionDef) -> bool:
        key = id(function)
        if key not in self._starts_cache:
            self._starts_cache[key] = False
            self._starts_cache[key] = bool(self.starting_calls(function.body, into_functions=False))
        return self._starts_cache[key]
