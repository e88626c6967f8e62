"""One pass over a module for mpfix.analysis.flow: every store into an attribute or
variable, every element added to a container, which of the module's functions each call
calls (and how many parameters it binds implicitly), what each function returns, and
which variables and attributes name the same container."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import libcst as cst

if TYPE_CHECKING:
    from mpfix.analysis.flow import FlowMixin

# Calls on a container that add one element (the argument at this position), or every
# element of an iterable.
ADD_ONE = {"append": 0, "add": 0, "appendleft": 0, "insert": 1, "setdefault": 1}
ADD_MANY = frozenset({"extend", "update", "extendleft"})
# Builtins whose result has the elements of their first argument.
COPYING_BUILTINS = frozenset({"list", "tuple", "set", "frozenset", "reversed", "sorted", "iter"})
# The statements (and `with` items) that store or return a value.
_STORING = frozenset({cst.Assign, cst.AnnAssign, cst.AugAssign, cst.WithItem, cst.Return})
# ("name", scope id, name) for a variable, ("attr", owner, attribute) for an attribute.
Location = tuple


@dataclass(frozen=True)
class Source:
    """One place a location receives a value: the value and the statement's position."""

    value: cst.BaseExpression
    node: cst.CSTNode
    many: bool = False     # the value is an iterable whose elements are added


class FlowIndex:
    """One pass over the module: every store into an attribute or variable, every element
    added to a container, which module function each call calls, and what each returns."""

    def __init__(self) -> None:
        self.stores: dict[Location, list[Source]] = {}
        self.added: dict[Location, list[Source]] = {}
        self.sites: dict[int, list[tuple[cst.Call, int]]] = {}
        self.called: dict[int, cst.FunctionDef] = {}
        self.returns: dict[int, list[cst.BaseExpression]] = {}
        self.scopes: dict[int, list] = {}
        self._parent: dict[Location, Location] = {}
        self.members: dict[Location, list[Location]] = {}

    @classmethod
    def build(cls, analysis: "FlowMixin") -> "FlowIndex":
        index = cls()
        for scope in analysis.names.created.values():
            index.scopes.setdefault(id(scope), []).append(scope)
        for node in list(analysis.names.parents):
            if type(node) not in _STORING:
                continue  # most nodes; a set lookup, where isinstance goes through ABCMeta
            if isinstance(node, cst.Assign):
                for target in node.targets:
                    index._store(analysis, target.target, node.value, node)
            elif isinstance(node, cst.AnnAssign) and node.value is not None:
                index._store(analysis, node.target, node.value, node)
            elif isinstance(node, cst.AugAssign) and isinstance(node.operator, cst.AddAssign):
                index._add(analysis, node.target, node.value, node, many=True)
            elif isinstance(node, cst.WithItem) and node.asname is not None:
                index._store(analysis, node.asname.name, node.item, node)
            elif isinstance(node, cst.Return) and node.value is not None:
                function = analysis.enclosing_function(node)
                if function is not None:
                    index.returns.setdefault(id(function), []).append(node.value)
        for call in analysis.calls:
            index._call(analysis, call)
        index._group()
        return index

    def _store(self, analysis: "FlowMixin", target: cst.CSTNode, value: cst.BaseExpression,
               node: cst.CSTNode) -> None:
        if isinstance(target, cst.Subscript):
            self._add(analysis, target.value, value, node, many=False)
            return
        if not isinstance(target, cst.Attribute):
            if isinstance(target, cst.Name):
                self._link(analysis, target, value)
            return
        location = analysis._location(target)
        if location is not None:
            self.stores.setdefault(location, []).append(Source(value, node))
            self._link(analysis, target, value)

    def _add(self, analysis: "FlowMixin", container: cst.CSTNode, value: cst.BaseExpression,
             node: cst.CSTNode, *, many: bool) -> None:
        location = analysis._location(container)
        if location is not None:
            self.added.setdefault(location, []).append(Source(value, node, many))

    def _link(self, analysis: "FlowMixin", target: cst.CSTNode, value: cst.BaseExpression) -> None:
        """`workers = self._workers` or `self._workers = workers`: one container, two names."""
        if isinstance(value, (cst.Name, cst.Attribute)):
            left, right = analysis._location(target), analysis._location(value)
            if left is not None and right is not None:
                self._union(left, right)

    def _call(self, analysis: "FlowMixin", call: cst.Call) -> None:
        func = call.func
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in ADD_ONE and len(call.args) > ADD_ONE[method] \
                    and not call.args[ADD_ONE[method]].star:
                self._add(analysis, func.value, call.args[ADD_ONE[method]].value, call, many=False)
            elif method in ADD_MANY and len(call.args) == 1 and not call.args[0].star:
                self._add(analysis, func.value, call.args[0].value, call, many=True)
        function, skipped = self._callee(analysis, call)
        if function is None:
            return
        self.called[id(call)] = function
        self.sites.setdefault(id(function), []).append((call, skipped))
        for arg in call.args:
            if isinstance(arg.value, (cst.Name, cst.Attribute)) and not arg.star:
                param = _param_for(function, call, arg, skipped)
                if param is not None:
                    self._union(("name", id(analysis.names.created[function]), param),
                                analysis._location(arg.value))

    @staticmethod
    def _callee(analysis: "FlowMixin", call: cst.Call) -> tuple[Optional[cst.FunctionDef], int]:
        """The module's function `call` calls, and how many parameters the call binds
        implicitly (1 for `self` of a method or `__init__`)."""
        func = call.func
        definition = analysis.definition_of(func) if isinstance(func, cst.Name) else None
        if isinstance(definition, cst.FunctionDef):
            return definition, 0
        if isinstance(definition, cst.ClassDef):
            return _method(definition, "__init__"), 1
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
            owner = analysis._method_class(func.value)
            if owner is None:
                made = analysis.definition_of(func.value)
                owner = made if isinstance(made, cst.ClassDef) else None
                if owner is not None:
                    # Looked up on the class, a function binds nothing (`Helper.stop(procs)`
                    # of a `def stop(procs)` written without self); a class method binds cls.
                    method = _method(owner, func.attr.value)
                    return method, 1 if method is not None and is_classmethod(method) else 0
            if owner is not None:
                method = _method(owner, func.attr.value)
                return method, 0 if method is not None and is_static(method) else 1
        return None, 0

    def _union(self, left: Optional[Location], right: Optional[Location]) -> None:
        if left is None or right is None:
            return
        a, b = self.root(left), self.root(right)
        if a != b:
            self._parent[a] = b

    def root(self, location: Location) -> Location:
        while location in self._parent:
            location = self._parent[location]
        return location

    def _group(self) -> None:
        for location in list(self._parent):
            self.members.setdefault(self.root(location), [self.root(location)]).append(location)


def _param_for(function: cst.FunctionDef, call: cst.Call, arg: cst.Arg,
               skipped: int) -> Optional[str]:
    if arg.keyword is not None:
        return arg.keyword.value
    params = [p.name.value for p in (*function.params.posonly_params, *function.params.params)]
    positional = [a for a in call.args if a.keyword is None]
    index = positional.index(arg) + skipped
    if any(a.star for a in positional[:positional.index(arg)]):
        return None
    return params[index] if index < len(params) else None


def _method(owner: cst.ClassDef, name: str) -> Optional[cst.FunctionDef]:
    body = owner.body.body if isinstance(owner.body, cst.IndentedBlock) else ()
    for statement in body:
        if isinstance(statement, cst.FunctionDef) and statement.name.value == name:
            return statement
    return None


def is_static(function: cst.FunctionDef) -> bool:
    return _decorated(function, "staticmethod")


def is_classmethod(function: cst.FunctionDef) -> bool:
    return _decorated(function, "classmethod")


def _decorated(function: cst.FunctionDef, name: str) -> bool:
    return any(isinstance(d.decorator, cst.Name) and d.decorator.value == name
               for d in function.decorators)
