"""Where an object the flow analysis followed was kept, for the messages of findings made
through it: "`self._workers` (filled in `start()`, line 41)", "`procs` (a parameter of
`stop_all()`, passed at line 30)", "`make_pool()` (returned at line 5)"."""

from __future__ import annotations

from typing import Optional

import libcst as cst

from mpfix.analysis.flowindex import COPYING_BUILTINS


class HeldPathMixin:
    """Part of ModuleAnalysis, through mpfix.analysis.flow.FlowMixin; `self` is the whole analysis."""

    def held_path(self, expr: cst.CSTNode) -> Optional[str]:
        """Where the object `expr` reads was kept, when it came through an attribute, a
        container, a parameter or a return: "`self._workers` (filled in `start()`, line 41)"."""
        if isinstance(expr, cst.Name):
            for binding in self.assignments(expr):
                source = self._binding_source(binding.node)
                if source is not None and source is not expr:
                    path = self._container_path(source) or self.held_path(source)
                    if path:
                        return path
                parameter = self._parameter_of_name(binding.node)
                if parameter is not None:
                    sites = self.parameter_arguments(*parameter)
                    where = f"passed at line {self.position(sites[0]).start.line}" if sites else "a parameter"
                    return f"`{expr.value}` ({where})"
            return None
        if isinstance(expr, cst.Subscript):
            return self._container_path(expr.value)
        if isinstance(expr, cst.Attribute):
            location = self._location(expr)
            sources = self._flow_index.stores.get(location, ()) if location else ()
            # The store that brings an object, not `self._worker = None` in `__init__`.
            bringing = [s for s in sources if self._held(s.value).kinds] or list(sources)
            if bringing:
                return f"`{_text(expr)}` ({self._where('set', bringing[0].node)})"
        if isinstance(expr, cst.Call):
            function = self._called_function(expr)
            if function is not None and self._returned_values(function):
                line = self.position(self._returned_values(function)[0]).start.line
                return f"`{function.name.value}()` (returned at line {line})"
        return None

    def _binding_source(self, target: cst.CSTNode) -> Optional[cst.BaseExpression]:
        """The expression a name's binding takes its object from, also when the name is
        one part of an unpacking (`for name, p in procs.items()`)."""
        source = self._loop_source(target) or self.assigned_value(target)
        if source is not None:
            return source
        element = self.parent(target)
        pattern = self.parent(element) if isinstance(element, cst.Element) else None
        if isinstance(pattern, (cst.Tuple, cst.List)):
            return self._loop_source(pattern) or self.assigned_value(pattern)
        return None

    def _container_path(self, expr: cst.CSTNode) -> Optional[str]:
        if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
            return self._container_path(expr.func.value)
        if isinstance(expr, cst.Subscript):
            return self._container_path(expr.value)
        if isinstance(expr, cst.Call) and expr.args and isinstance(expr.func, cst.Name) \
                and expr.func.value in COPYING_BUILTINS | {"enumerate", "zip"}:
            return self._container_path(expr.args[0].value)
        location = self._location(expr) if isinstance(expr, (cst.Name, cst.Attribute)) else None
        if location is None:
            return None
        if isinstance(expr, cst.Name) and any(self._parameter_of_name(b.node)
                                              for b in self.assignments(expr)):
            return self.held_path(expr)
        for member in self._aliases(location):
            added = self._flow_index.added.get(member)
            if added:
                return f"`{_text(expr)}` ({self._where('filled', added[0].node)})"
        if isinstance(expr, cst.Attribute):
            return self.held_path(expr)
        return None

    def _where(self, verb: str, node: cst.CSTNode) -> str:
        # The line alone: finding messages stay under about 160 characters.
        return f"{verb} at line {self.position(node).start.line}"


def _text(expr: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(expr)
