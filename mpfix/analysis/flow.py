"""What kinds of object an expression can hold, following them through the places real
code keeps them within one module: attributes of `self`/`cls` across the methods of a
class (and of a module-level instance), containers (literals, comprehensions,
`append`/`extend`/`insert`/`add`/`setdefault`/subscript stores; read back by iteration,
indexing, slicing copies, `.values()`/`.items()`/`.pop()`/`.get()`, unpacking), parameters
bound at every call site of the module, return values, `or`/conditional expressions and
aliases.

Flow-insensitive, with two answers: `may_hold` (every kind any path brings: for rules
that report) and `must_hold` (the one kind every path brings, with no path the module
does not show: for rules that rewrite). `held_path` says where the object was kept, for
the messages of findings made through this flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Iterator, Optional, Union

import libcst as cst

from mpfix.analysis.flowindex import COPYING_BUILTINS, FlowIndex, Location, is_static
from mpfix.analysis.heldpath import HeldPathMixin
from mpfix.analysis.starters import Kind

# Calls on a container that give back one of its elements, or a container of them.
TAKE_ONE = frozenset({"pop", "get", "popleft", "setdefault"})
SAME_ELEMENTS = frozenset({"copy", "values"})


@dataclass(frozen=True)
class Held:
    """The kinds an expression may hold; `complete` when the module shows every way a
    value reaches it (no parameter of a function others may call, no unknown call)."""

    kinds: frozenset = frozenset()
    complete: bool = True
    origins: tuple = ()    # the calls creating the objects, in the order found

    def __or__(self, other: "Held") -> "Held":
        origins = self.origins + tuple(c for c in other.origins
                                       if all(c is not o for o in self.origins))
        return Held(self.kinds | other.kinds, self.complete and other.complete, origins)


NOTHING = Held()          # `None`, literals: hold no multiprocessing object
UNKNOWN = Held(frozenset(), False)


class FlowMixin(HeldPathMixin):
    """Part of ModuleAnalysis (mpfix.analysis.module); `self` is the whole analysis."""

    # -- public answers -----------------------------------------------------------------

    def may_hold(self, expr: cst.CSTNode) -> frozenset:
        return self._held(expr).kinds

    def must_hold(self, expr: cst.CSTNode) -> Optional[Kind]:
        held = self._held(expr)
        return next(iter(held.kinds)) if held.complete and len(held.kinds) == 1 else None

    def may_contain(self, expr: cst.CSTNode) -> frozenset:
        return self._contents(expr).kinds

    def must_contain(self, expr: cst.CSTNode) -> Optional[Kind]:
        held = self._contents(expr)
        return next(iter(held.kinds)) if held.complete and len(held.kinds) == 1 else None

    def same_place(self, left: cst.CSTNode, right: cst.CSTNode, *, aliases: bool = True) -> bool:
        """Whether two variables or attributes share one object: the same place, or (with
        `aliases`) two that one was assigned to the other or passed for it as an argument
        of a function of the module (`self.queue = q`, `drain(self.queue)` and `drain`'s
        parameter)."""
        if not isinstance(left, (cst.Name, cst.Attribute)) \
                or not isinstance(right, (cst.Name, cst.Attribute)):
            return False
        a, b = self._location(left), self._location(right)
        if a is None or b is None:
            return False
        return a == b or (aliases and self._flow_index.root(a) == self._flow_index.root(b))

    def stores_into(self, expr: cst.CSTNode) -> list[cst.BaseExpression]:
        """The values the module stores into the attribute `expr` reads (`self.pages = n`
        anywhere in its class), in module order; none when it is not followed."""
        location = self._location(expr) if isinstance(expr, cst.Attribute) else None
        return [source.value for source in self._flow_index.stores.get(location, ())] \
            if location is not None else []

    def called_function(self, call: cst.Call) -> Optional[cst.FunctionDef]:
        """The module's function (or method of one of its classes) `call` calls."""
        return self._called_function(call)

    def flow_creations(self, expr: cst.CSTNode, *, elements: bool = False) -> list[cst.Call]:
        """The calls creating the objects `expr` (or its elements) may hold, through the flow."""
        return list((self._contents(expr) if elements else self._held(expr)).origins)

    def flow_kind(self, expr: cst.CSTNode, *, elements: bool = False) -> Optional[Kind]:
        """One kind for `kind_of`/`element_kind`: the kind the paths bring, or when they bring
        several the first by name (a rule that rewrites asks `must_hold` instead)."""
        held = self._contents(expr) if elements else self._held(expr)
        return min(held.kinds, key=lambda k: k.value) if held.kinds else None

    # -- values ---------------------------------------------------------------------

    def _held(self, expr: cst.CSTNode) -> Held:
        return self._memo(self._flow_values, expr, self._compute_held)

    def _contents(self, expr: cst.CSTNode) -> Held:
        return self._memo(self._flow_elements, expr, self._compute_contents)

    @staticmethod
    def _memo(cache: dict, expr: cst.CSTNode, compute) -> Held:
        key = id(expr)
        if key not in cache:
            cache[key] = NOTHING  # a cycle adds nothing new
            cache[key] = compute(expr)
        return cache[key]

    @cached_property
    def _flow_values(self) -> dict:
        return {}

    @cached_property
    def _flow_elements(self) -> dict:
        return {}

    def _compute_held(self, expr: cst.CSTNode) -> Held:
        if isinstance(expr, cst.Call):
            return self._call_held(expr)
        if isinstance(expr, cst.Name):
            if expr.value in ("None", "True", "False"):
                return NOTHING
            return self._name_held(expr)
        if isinstance(expr, cst.Attribute):
            kind = self._qualified_kind(expr)
            if kind is not None:
                return Held(frozenset({kind}))
            location = self._location(expr)
            return self._location_held(location) if location else UNKNOWN
        if isinstance(expr, cst.Subscript):
            if _is_slice(expr):
                return NOTHING
            return self._contents(expr.value)
        if isinstance(expr, cst.BooleanOperation):
            return self._held(expr.left) | self._held(expr.right)
        if isinstance(expr, cst.IfExp):
            return self._held(expr.body) | self._held(expr.orelse)
        if isinstance(expr, cst.NamedExpr):
            return self._held(expr.value)
        if isinstance(expr, (cst.BaseNumber, cst.BaseString, cst.List, cst.Tuple, cst.Set,
                             cst.Dict, cst.ListComp, cst.SetComp, cst.DictComp, cst.Lambda,
                             cst.BinaryOperation, cst.Comparison, cst.UnaryOperation)):
            return NOTHING
        return UNKNOWN

    def _call_held(self, call: cst.Call) -> Held:
        kind = self.call_kind(call)
        if kind is not None:
            return Held(frozenset({kind}), origins=(call,))
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value in TAKE_ONE \
                and self._location(func.value) is not None:
            return self._contents(func.value)
        if (isinstance(func, cst.Name) and func.value == "next") and call.args:
            return self._contents(call.args[0].value)
        function = self._called_function(call)
        if function is not None:
            return self._returns_held(function)
        return UNKNOWN

    def _name_held(self, name: cst.Name) -> Held:
        bindings = self.assignments(name)
        if not bindings:
            return UNKNOWN
        held = NOTHING
        for binding in bindings:
            held = held | self._binding_held(binding.node)
        return held

    def _binding_held(self, target: cst.CSTNode) -> Held:
        if isinstance(target, (cst.FunctionDef, cst.ClassDef, cst.ImportAlias)):
            return NOTHING
        value = self.assigned_value(target)
        if value is not None:
            return self._held(value)
        source = self._loop_source(target)
        if source is not None:
            return self._contents(source)
        parameter = self._parameter_of_name(target)
        if parameter is not None:
            return self._parameter_held(*parameter)
        return self._unpacked_held(target)

    def _unpacked_held(self, target: cst.CSTNode) -> Held:
        """`a, b = procs`, `for name, p in procs.items()`, `for i, p in enumerate(procs)`."""
        element = self.parent(target)
        pattern = self.parent(element) if isinstance(element, cst.Element) else None
        if not isinstance(pattern, (cst.Tuple, cst.List)):
            return UNKNOWN
        index = next(i for i, e in enumerate(pattern.elements) if e is element)
        paired = self.paired_value(target)
        if paired is not None:
            return self._held(paired)
        value = self.assigned_value(pattern)
        if value is not None:
            return self._part(value, index)
        source = self._loop_source(pattern)
        if source is None:
            return UNKNOWN
        return self._pair_element(source, index)

    def _part(self, value: cst.BaseExpression, index: int, depth: int = 0) -> Held:
        """What the `index`-th name of `a, b = value` receives: the matching element of a
        tuple (also one a function here returns), else any element of the container."""
        if isinstance(value, (cst.Tuple, cst.List)) \
                and not any(isinstance(e, cst.StarredElement) for e in value.elements):
            return self._held(value.elements[index].value) if index < len(value.elements) else NOTHING
        if isinstance(value, cst.Call):
            if self.call_kind(value) is Kind.PIPE:
                return Held(frozenset({Kind.PIPE}), origins=(value,))
            function = self._called_function(value)
            if function is not None and depth < 3:
                held = NOTHING if self._returned_values(function) else UNKNOWN
                for returned in self._returned_values(function):
                    held = held | self._part(returned, index, depth + 1)
                return held
        if isinstance(value, cst.Name) and depth < 3:
            values = [self.assigned_value(b.node) for b in self.assignments(value)]
            if values and all(isinstance(v, (cst.Tuple, cst.Call)) for v in values):
                held = NOTHING
                for bound in values:
                    held = held | self._part(bound, index, depth + 1)  # type: ignore[arg-type]
                return held
        return self._contents(value)

    def _pair_element(self, source: cst.BaseExpression, index: int) -> Held:
        """The `index`-th part of each element of `source`, when its elements are pairs."""
        if isinstance(source, cst.Call):
            func = source.func
            if isinstance(func, cst.Attribute) and func.attr.value == "items":
                return self._contents(func.value) if index == 1 else NOTHING
            if (isinstance(func, cst.Name) and func.value == "enumerate") and source.args:
                return self._contents(source.args[0].value) if index == 1 else NOTHING
            if (isinstance(func, cst.Name) and func.value == "zip") and index < len(source.args):
                return self._contents(source.args[index].value)
        location = self._location(source) if isinstance(source, (cst.Name, cst.Attribute)) else None
        if location is not None:  # `procs.append((p.pid, p))` ... `for pid, p in procs`
            held = NOTHING
            for member in self._aliases(location):
                for added in self._flow_index.added.get(member, ()):
                    held = held | (UNKNOWN if added.many else self._part(added.value, index))
            return held if held.kinds else UNKNOWN
        return UNKNOWN

    # -- contents ---------------------------------------------------------------------

    def _compute_contents(self, expr: cst.CSTNode) -> Held:
        if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
            held = NOTHING
            for element in expr.elements:
                held = held | (self._contents(element.value)
                               if isinstance(element, cst.StarredElement)
                               else self._held(element.value))
            return held
        if isinstance(expr, cst.Dict):
            held = NOTHING
            for element in expr.elements:
                held = held | (self._held(element.value) if isinstance(element, cst.DictElement)
                               else self._contents(element.value))
            return held
        if isinstance(expr, (cst.ListComp, cst.SetComp, cst.GeneratorExp)):
            return self._held(expr.elt)
        if isinstance(expr, cst.DictComp):
            return self._held(expr.value)
        if isinstance(expr, cst.Subscript):
            return self._contents(expr.value) if _is_slice(expr) else UNKNOWN
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
            return self._contents(expr.left) | self._contents(expr.right)
        if isinstance(expr, (cst.BooleanOperation, cst.IfExp)):
            parts = (expr.left, expr.right) if isinstance(expr, cst.BooleanOperation) \
                else (expr.body, expr.orelse)
            return self._contents(parts[0]) | self._contents(parts[1])
        if isinstance(expr, cst.Call):
            return self._call_contents(expr)
        if isinstance(expr, (cst.Name, cst.Attribute)):
            return self._location_contents(expr)
        return UNKNOWN

    def _call_contents(self, call: cst.Call) -> Held:
        func = call.func
        if isinstance(func, cst.Name) and func.value in COPYING_BUILTINS \
                and not self.assignments(func):
            return self._contents(call.args[0].value) if call.args else NOTHING
        if isinstance(func, cst.Attribute) and func.attr.value in SAME_ELEMENTS:
            return self._contents(func.value)
        if self.call_kind(call) is Kind.PIPE:
            return Held(frozenset({Kind.PIPE}))
        function = self._called_function(call)
        if function is not None:
            held = NOTHING
            for value in self._returned_values(function):
                held = held | self._contents(value)
            return held
        return UNKNOWN

    def _location_contents(self, expr: Union[cst.Name, cst.Attribute]) -> Held:
        """What the container `expr` names holds: what its bindings were made of, and what
        anything sharing it (an alias, a parameter it was passed as) added to it."""
        location = self._location(expr)
        if location is None:
            return UNKNOWN
        held = NOTHING if location[0] != "name" else self._own_contents(location)
        for member in self._aliases(location):
            for source in self._flow_index.stores.get(member, ()):
                held = held | self._contents(source.value)
            for source in self._flow_index.added.get(member, ()):
                held = held | (self._contents(source.value) if source.many
                               else self._held(source.value))
            if member[0] == "name":
                for target in self._name_targets(member):
                    held = held | self._binding_contents(target)
        return held

    def _binding_contents(self, target: cst.CSTNode) -> Held:
        """What an alias's own binding put in the shared container (a parameter or a loop
        variable brings what its source holds, and that arrives through the alias)."""
        value = self.assigned_value(target)
        return self._contents(value) if value is not None else NOTHING

    def _own_contents(self, location: Location) -> Held:
        """A variable bound other than by `=` (a parameter, a loop variable, an import)
        may hold what the module does not show."""
        for target in self._name_targets(location):
            if self.assigned_value(target) is None \
                    and not isinstance(target, (cst.FunctionDef, cst.ClassDef)):
                return UNKNOWN
        return NOTHING

    # -- locations --------------------------------------------------------------------

    def _location(self, expr: cst.CSTNode) -> Optional[Location]:
        """A key for the variable or attribute `expr` reads or stores: ("name", scope id,
        name) or ("attr", owner key, attribute)."""
        if isinstance(expr, cst.Name):
            bindings = self.names.resolve(expr)
            return ("name", id(bindings[0].scope), expr.value) if bindings else None
        if isinstance(expr, cst.Attribute):
            owner = self._attribute_owner(expr.value)
            return ("attr", owner, expr.attr.value) if owner is not None else None
        return None

    def _attribute_owner(self, receiver: cst.CSTNode) -> Optional[object]:
        """The class whose instances (or which itself) `receiver` is: `self`/`cls` in its
        methods, the class name, or a name bound to one of its instances; else the
        variable itself for a module-level object."""
        if not isinstance(receiver, cst.Name):
            return None
        owner = self._method_class(receiver)
        if owner is not None:
            return id(owner)
        definition = self.definition_of(receiver)
        if isinstance(definition, cst.ClassDef):
            return id(definition)
        for binding in self.assignments(receiver):
            value = self.assigned_value(binding.node)
            if isinstance(value, cst.Call):
                made = self.definition_of(value.func)
                if isinstance(made, cst.ClassDef):
                    return id(made)
        bindings = self.names.resolve(receiver)
        if bindings and bindings[0].scope is self.global_scope:
            return ("global", receiver.value)
        return None

    def _method_class(self, name: cst.Name) -> Optional[cst.ClassDef]:
        """The class when `name` is the first parameter (`self`, `cls`) of one of its methods."""
        bindings = self.names.resolve(name)
        if len(bindings) != 1:
            return None
        parameter = self._parameter_of_name(bindings[0].node)
        if parameter is None:
            return None
        function, param = parameter
        owner = self._class_of_method(function)
        params = function.params.params or function.params.posonly_params
        if owner is None or not params or params[0] is not param or is_static(function):
            return None
        return owner

    def _class_of_method(self, function: cst.FunctionDef) -> Optional[cst.ClassDef]:
        block = self.parent(function)
        owner = self.parent(block) if block is not None else None
        return owner if isinstance(owner, cst.ClassDef) else None

    def _location_held(self, location: Location) -> Held:
        held = NOTHING
        for source in self._flow_index.stores.get(location, ()):
            held = held | self._held(source.value)
        return held if location in self._flow_index.stores else UNKNOWN

    def _aliases(self, location: Location) -> list[Location]:
        index = self._flow_index
        root = index.root(location)
        return index.members.get(root, [location])

    def _name_targets(self, location: Location) -> Iterator[cst.CSTNode]:
        _, scope_id, name = location
        for scope in self._scopes_by_id().get(scope_id, ()):
            for binding in scope.bindings.get(name, ()):
                yield binding.node

    def _scopes_by_id(self) -> dict:
        return self._flow_index.scopes

    @cached_property
    def _flow_index(self) -> "FlowIndex":
        return FlowIndex.build(self)

    # -- parameters and returns ------------------------------------------------------

    def _parameter_of_name(self, target: cst.CSTNode) -> Optional[tuple[cst.FunctionDef, cst.Param]]:
        param = self.parent(target)
        if not isinstance(param, cst.Param) or param.name is not target:
            return None
        function = self.parent(self.parent(param))
        return (function, param) if isinstance(function, cst.FunctionDef) else None

    def _parameter_held(self, function: cst.FunctionDef, param: cst.Param) -> Held:
        """The arguments the module passes for `param` (never complete: others may call)."""
        held = Held(frozenset(), False)
        if param.star:
            return held
        for value in self.parameter_arguments(function, param):
            held = held | self._held(value)
        if param.default is not None:
            held = held | self._held(param.default)
        return held

    def parameter_arguments(self, function: cst.FunctionDef,
                            param: cst.Param) -> list[cst.BaseExpression]:
        """The values this module's calls of `function` pass for `param`."""
        names = [p.name.value for p in (*function.params.posonly_params, *function.params.params)]
        position = names.index(param.name.value) if param.name.value in names else None
        found = []
        for call, skipped in self._flow_index.sites.get(id(function), ()):
            for index, arg in enumerate(a for a in call.args if a.keyword is None):
                if arg.star:
                    break
                if position is not None and index + skipped == position:
                    found.append(arg.value)
            for arg in call.args:
                if arg.keyword is not None and arg.keyword.value == param.name.value:
                    found.append(arg.value)
        return found

    def _called_function(self, call: cst.Call) -> Optional[cst.FunctionDef]:
        return self._flow_index.called.get(id(call))

    def _returned_values(self, function: cst.FunctionDef) -> list[cst.BaseExpression]:
        return self._flow_index.returns.get(id(function), [])

    def _returns_held(self, function: cst.FunctionDef) -> Held:
        values = self._returned_values(function)
        held = NOTHING if values else UNKNOWN
        for value in values:
            held = held | self._held(value)
        return held


def _is_slice(expr: cst.Subscript) -> bool:
    return any(isinstance(element.slice, cst.Slice) for element in expr.slice)
