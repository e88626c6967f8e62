"""Objects: the calls that made them, their start method, who shares them and how
they are read."""

from __future__ import annotations

from functools import cached_property
from typing import Optional, Union

import libcst as cst

from mpfix.analysis.arguments import (
    argument,
)
from mpfix.analysis.callables import CallableUse
from mpfix.analysis.starters import (
    BY_VALUE_FAMILIES,
    Kind,
)
from mpfix.analysis.structure import Definition


class ObjectsMixin:
    """Part of ModuleAnalysis (mpfix.analysis.module); `self` is the whole analysis."""

    # -- objects: where they come from, who shares them ----------------------------------

    def same_variable(self, left: cst.CSTNode, right: cst.CSTNode) -> bool:
        """Whether two Names read the same variable (the same name bound in the same place)."""
        if not (isinstance(left, cst.Name) and isinstance(right, cst.Name)) \
                or left.value != right.value:
            return False
        return bool({id(a) for a in self.assignments(left)} & {id(a) for a in self.assignments(right)})

    def creation_calls(self, expr: cst.CSTNode) -> list[cst.Call]:
        """The calls creating the multiprocessing object(s) `expr` may be: through assignments,
        `with ... as`, loops over containers, subscripts and `append`ed lists."""
        found: list[cst.Call] = []
        self._collect_creations(expr, found, set())
        if not found:  # kept in an attribute, a container, a parameter: mpfix.analysis.flow
            found = [c for c in self.flow_creations(expr) if self.call_kind(c) is not None]
        return found

    def _collect_creations(self, expr: cst.CSTNode, found: list[cst.Call], seen: set[int]) -> None:
        if id(expr) in seen:
            return
        seen.add(id(expr))
        if isinstance(expr, cst.Call):
            if self.call_kind(expr) is not None and all(c is not expr for c in found):
                found.append(expr)
        elif isinstance(expr, cst.Subscript):
            self._collect_element_creations(expr.value, found, seen)
        elif isinstance(expr, cst.Name):
            loop = self.enclosing_loop_over(expr)
            if loop is not None:
                self._collect_element_creations(loop.iter, found, seen)
                return
            for assignment in self.assignments(expr):
                target = assignment.node
                value = self.assigned_value(target) or self.paired_value(target)
                if value is not None:
                    self._collect_creations(value, found, seen)
                source = self._loop_source(target)
                if source is not None:
                    self._collect_element_creations(source, found, seen)

    def _collect_element_creations(self, expr: cst.CSTNode, found: list[cst.Call],
                                   seen: set[int]) -> None:
        if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
            for element in expr.elements:
                self._collect_creations(element.value, found, seen)
        elif isinstance(expr, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
            self._collect_creations(expr.elt, found, seen)
        elif isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) \
                and expr.func.value in {"list", "tuple", "reversed", "sorted"} and expr.args:
            self._collect_element_creations(expr.args[0].value, found, seen)
        elif isinstance(expr, cst.Name):
            for assignment in self.assignments(expr):
                value = self.assigned_value(assignment.node)
                if value is not None:
                    self._collect_element_creations(value, found, seen)
            for call in self.calls:
                func = call.func
                if (isinstance(func, cst.Attribute) and func.attr.value in {"append", "add"}
                        and call.args and self.same_variable(func.value, expr)):
                    self._collect_creations(call.args[0].value, found, seen)

    def _made_by(self, expr: cst.CSTNode) -> list[cst.Call]:
        """The creating calls behind `expr`; for a method call on a multiprocessing object
        (`pool.map(...)`), the calls creating that object."""
        if isinstance(expr, cst.Call) and self.call_kind(expr) is None \
                and isinstance(expr.func, cst.Attribute):
            return self.creation_calls(expr.func.value)
        return self.creation_calls(expr)

    def start_method_of(self, expr: cst.CSTNode) -> Optional[str]:
        """The start method a literal chooses for the context the object `expr` names,
        creates or calls a method of comes from: "fork" for `get_context("fork").Process(...)`,
        for `ctx.Pool()` and `pool.map(...)` on such a pool, for
        `ProcessPoolExecutor(mp_context=ctx)`. None where the default context decides."""
        for call in self._made_by(expr):
            if isinstance(call.func, cst.Attribute) and self.kind_of(call.func.value) is Kind.CONTEXT:
                return self.context_method(call.func.value)
            parameter = self.context_parameter(call)
            passed = argument(call, *parameter) if parameter is not None else None
            if passed is not None:
                return self.context_method(passed.value)
        return None

    def pickles_by_value(self, expr: cst.CSTNode) -> bool:
        """Whether the object `expr` names, creates or calls a method of comes from a library
        that serializes callables by value (dill, cloudpickle: multiprocess, pathos, loky),
        so lambdas and local functions reach its workers intact."""
        pending, seen = self._made_by(expr), set()
        while pending:
            call = pending.pop()
            if id(call) in seen:
                continue
            seen.add(id(call))
            if any(name.split(".")[0] in BY_VALUE_FAMILIES for name in self.qualified_names(call.func)):
                return True
            if isinstance(call.func, cst.Attribute):  # ctx.Pool(): where ctx comes from
                pending.extend(self.creation_calls(call.func.value))
        return False

    def uses_of(self, definition: Definition) -> list[CallableUse]:
        """Every place `definition` is handed to another process."""
        return [use for use in self.callable_uses()
                if self.definition_of(self.unwrap_partial(use.callable_arg.value)) is definition]

    def argument_for(self, use: CallableUse, parameter: str) -> Optional[cst.BaseExpression]:
        """The expression `use` passes for `parameter` of its callable, where the module
        shows it (see `arguments`)."""
        definition = self.definition_of(self.unwrap_partial(use.callable_arg.value))
        if not isinstance(definition, (cst.FunctionDef, cst.Lambda)):
            return None
        return self.arguments(use).for_parameter(definition.params, parameter)

    def processes_sharing(self, name: cst.Name) -> list[tuple[CallableUse, str]]:
        """The Process targets handed the object the variable `name` holds, with the parameter
        of the target that receives it."""
        shared: list[tuple[CallableUse, str]] = []
        for use in self.callable_uses():
            if use.role != "target" or use.owner_kind is not Kind.PROCESS:
                continue
            function = self.definition_of(self.unwrap_partial(use.callable_arg.value))
            if not isinstance(function, cst.FunctionDef):
                continue
            for param in (*function.params.posonly_params, *function.params.params):
                passed = self.argument_for(use, param.name.value)
                if passed is not None and self.same_variable(passed, name):
                    shared.append((use, param.name.value))
        return shared

    @cached_property
    def _names_by_value(self) -> dict[str, list[cst.Name]]:
        index: dict[str, list[cst.Name]] = {}
        for name in self._names_in(self.module):
            index.setdefault(name.value, []).append(name)
        return index

    def reads_of(self, name: cst.Name) -> list[cst.Name]:
        """Every Name in the module reading the variable `name` reads or binds."""
        bindings = self.assignments(name)
        stores = {id(b.node) for b in bindings}
        ids = {id(b) for b in bindings}
        return [other for other in self._names_by_value.get(name.value, ())
                if id(other) not in stores and ids & {id(b) for b in self.assignments(other)}]

    def references_to(self, definition: Union[cst.FunctionDef, cst.ClassDef]) -> list[cst.Name]:
        """Every Name in the module that refers to the def or class `definition`."""
        return [name for name in self._names_by_value.get(definition.name.value, ())
                if name is not definition.name and self.definition_of(name) is definition]

    def parameter_reads(self, function: cst.FunctionDef, parameter: str) -> list[cst.Name]:
        """The Names in `function` reading its parameter `parameter`."""
        params = [p for p in (*function.params.posonly_params, *function.params.params,
                              *function.params.kwonly_params) if p.name.value == parameter]
        if not params:
            return []
        param = params[0]
        return [name for name in self._names_by_value.get(parameter, ())
                if name is not param.name
                and any(b.node is param.name for b in self.assignments(name))]

    def attribute_uses(self, name: cst.Name) -> Optional[list[cst.Attribute]]:
        """Every `x.attr` on the object the variable `name` holds, following it into the
        parameters of the Process targets it is handed to. None when the object also goes
        anywhere else (another call, a container, a return), where its uses cannot be seen."""
        found: list[cst.Attribute] = []
        pending: list[list[cst.Name]] = [self.reads_of(name)]
        followed: set[tuple[int, str]] = set()
        while pending:
            for read in pending.pop():
                parent = self.parent(read)
                if isinstance(parent, cst.Attribute) and parent.value is read:
                    found.append(parent)
                    continue
                receivers = self._receiving_parameters(read)
                if receivers is None:
                    return None
                for function, parameter in receivers:
                    if (id(function), parameter) not in followed:
                        followed.add((id(function), parameter))
                        pending.append(self.parameter_reads(function, parameter))
        return found

    def _receiving_parameters(self, read: cst.Name) -> Optional[list[tuple[cst.FunctionDef, str]]]:
        """Where `read` is an argument a Process creation (or a call of a helper that
        forwards it to one) passes to its target: the target's parameters receiving it;
        otherwise None."""
        calls = {id(a) for a in self.ancestors(read) if isinstance(a, cst.Call)}
        uses = [u for u in self.callable_uses() if u.owner_kind is Kind.PROCESS
                and (id(u.call) in calls or u.site is not None and id(u.site) in calls)]
        if not uses:
            return None
        receivers: list[tuple[cst.FunctionDef, str]] = []
        for use in uses:
            function = self.definition_of(self.unwrap_partial(use.callable_arg.value))
            if use.role != "target" or not isinstance(function, cst.FunctionDef):
                continue
            for param in (*function.params.posonly_params, *function.params.params):
                if self.argument_for(use, param.name.value) is read:
                    receivers.append((function, param.name.value))
        return receivers or None
