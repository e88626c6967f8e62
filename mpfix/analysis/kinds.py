"""What an expression holds: the kind of object (Process, Pool, Queue, context...)
a name, call, element or attribute stands for, and which context a call uses."""

from __future__ import annotations

from typing import Optional

import libcst as cst

from mpfix.analysis.arguments import (
    argument,
)
from mpfix.analysis.backends import Choice, backend_choice
from mpfix.analysis.starters import (
    CONTEXT_API,
    FAMILIES,
    LOADER_CONTEXT,
    MANAGER_API,
    Kind,
)

# Constructors that take their context as an argument (name, position) instead of
# using the default one; keyed on the name below the module family.
CONTEXT_PARAMETERS = {
    "pool.Pool": ("context", 4),
    "managers.SyncManager": ("ctx", 3),
    "managers.BaseManager": ("ctx", 3),
}
EXECUTOR_CONTEXT_PARAMETER = ("mp_context", 1)
# Expressions whose object the flow analysis follows when the plain reading finds none.
FLOW_NODES = (cst.Name, cst.Attribute, cst.Subscript, cst.Call, cst.BooleanOperation,
              cst.IfExp, cst.NamedExpr)
# Families that re-export another's API and so share its default context.
SHARED_DEFAULT_CONTEXT = {"torch.multiprocessing": "multiprocessing"}


def api_family(name: str) -> Optional[str]:
    """The module family a starter-table name belongs to: `torch.multiprocessing` for
    `torch.multiprocessing.Pool`; None for names outside the families (executors)."""
    matches = [f for f in FAMILIES if name.startswith(f + ".")]
    return max(matches, key=len) if matches else None


def default_family(name: str) -> Optional[str]:
    """The family whose default context a starter-table name's objects use: torch's
    multiprocessing and concurrent.futures share multiprocessing's; loky has its own."""
    if name.startswith("concurrent.futures."):
        return "multiprocessing"
    family = api_family(name)
    return SHARED_DEFAULT_CONTEXT.get(family, family) if family else None


class KindsMixin:
    """Part of ModuleAnalysis (mpfix.analysis.module); `self` is the whole analysis."""

    # -- kinds ----------------------------------------------------------------------

    def kind_of(self, expr: cst.CSTNode) -> Optional[Kind]:
        key = id(expr)
        if key not in self._kind_cache:
            self._kind_cache[key] = None  # breaks cycles such as `p = p`
            self._kind_cache[key] = self._flow_fallback(expr, self._compute_kind, elements=False)
        return self._read_kind(key, self._kind_cache)

    def _flow_fallback(self, expr: cst.CSTNode, compute, *, elements: bool) -> Optional[Kind]:
        """The plain reading of `expr`, else what the flow analysis finds; remembers when
        the answer depends on the flow, directly or through a name it read."""
        reads_before = self._flow_reads
        kind = compute(expr)
        if kind is None and isinstance(expr, FLOW_NODES):
            kind = self.flow_kind(expr, elements=elements)
            if kind is not None:
                self._through_flow.add(id(expr))
        elif kind is not None and self._flow_reads != reads_before:
            self._through_flow.add(id(expr))
        return kind

    def _read_kind(self, key: int, cache: dict[int, Optional[Kind]]) -> Optional[Kind]:
        if key in self._through_flow and cache[key] is not None:
            self._flow_reads += 1
        return cache[key]

    def through_flow(self, expr: cst.CSTNode) -> bool:
        """Whether `kind_of(expr)` or `element_kind(expr)` knew the object only by following it
        through an attribute, a container, a parameter or a return (mpfix.analysis.flow):
        a rule reports such a finding with `held_path`, and rewrites only if `must_hold`
        agrees."""
        self.kind_of(expr)
        self.element_kind(expr)
        return id(expr) in self._through_flow

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
            paired = self.paired_value(target)
            if paired is not None:
                kind = self.kind_of(paired)
                if kind is not None:
                    return kind
                continue
            packed = self._unpacked_from(target)
            if packed is not None and self.kind_of(packed) is Kind.PIPE:
                return Kind.PIPE
        return None

    def call_kind(self, call: cst.Call) -> Optional[Kind]:
        """What calling `call.func` creates, if it is a multiprocessing object."""
        key = id(call)
        if key not in self._call_kinds:
            self._call_kinds[key] = None  # breaks cycles through assignments
            self._call_kinds[key] = self._compute_call_kind(call)
        return self._call_kinds[key]

    def _compute_call_kind(self, call: cst.Call) -> Optional[Kind]:
        func = call.func
        kind = self._qualified_kind(func)
        if kind is not None:
            return kind
        if backend_choice(self, call) is Choice.SPAWNING:  # joblib's multiprocessing backend
            return Kind.STARTS
        if isinstance(func, cst.Attribute):
            attr = func.attr.value
            # The receiver's kind costs a flow analysis: only for the names it can decide.
            receiver = self.kind_of(func.value) if attr in CONTEXT_API or attr in MANAGER_API \
                else None
            if receiver is Kind.CONTEXT:
                return CONTEXT_API.get(attr)
            if receiver is Kind.MANAGER:
                return MANAGER_API.get(attr)
        if self.process_class(func) is not None:
            return Kind.PROCESS
        return None

    def element_kind(self, expr: cst.CSTNode) -> Optional[Kind]:
        key = id(expr)
        if key not in self._element_cache:
            self._element_cache[key] = None  # breaks cycles such as `procs = list(procs)`
            self._element_cache[key] = self._flow_fallback(expr, self._compute_element_kind,
                                                           elements=True)
        return self._read_kind(key, self._element_cache)

    def _compute_element_kind(self, expr: cst.CSTNode) -> Optional[Kind]:
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
        """The start method of the context `expr` comes from, when a literal says it (a
        string stands for its method where a context is expected: DataLoader's
        `multiprocessing_context="fork"`)."""
        if isinstance(expr, cst.SimpleString):
            return expr.evaluated_value  # type: ignore[return-value]
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

    def api_name(self, expr: cst.CSTNode) -> Optional[str]:
        """The starter-table name `expr` refers to: `multiprocessing.Pool` for `mp.Pool`."""
        for name in sorted(self.qualified_names(expr)):
            if self.starters.kind_of_name(name) is not None:
                return name
        return None

    def context_parameter(self, call: cst.Call) -> Optional[tuple[str, int]]:
        """(name, position) of the argument through which the constructor `call` takes
        its context, for the classes that accept one (`ProcessPoolExecutor(mp_context=)`,
        `multiprocessing.pool.Pool(context=)`, `SyncManager(ctx=)`)."""
        name = self.api_name(call.func)
        if name is None:
            return None
        if name.startswith("concurrent.futures."):
            return EXECUTOR_CONTEXT_PARAMETER
        if self.starters.kind_of_name(name) is Kind.DATA_LOADER:
            return LOADER_CONTEXT.name, LOADER_CONTEXT.position
        family = api_family(name)
        return CONTEXT_PARAMETERS.get(name[len(family) + 1:]) if family else None

    def default_context_family(self, call: cst.Call) -> Optional[str]:
        """The family (`multiprocessing`, `multiprocess`, `billiard`) whose default context
        `call` makes settle on a start method, after which `set_start_method()` raises
        "context has already been set": creating an object through the module-level API,
        a constructor given no context, `get_context()` without a method, or
        `set_start_method()` itself. None for calls through an explicit context."""
        name = self.api_name(call.func)
        if name is None:
            return None
        parameter = self.context_parameter(call)
        if parameter is not None:
            return None if argument(call, *parameter) is not None else default_family(name)
        family = api_family(name)
        if family is None or name.count(".") != family.count(".") + 1:
            return None  # submodule classes need an explicit ctx; loky has its own
        kind = self.starters.kind_of_name(name)
        if kind in (Kind.PIPE, Kind.FREEZE_SUPPORT, Kind.STARTS):  # STARTS: its own context
            return None
        if kind is Kind.CONTEXT:
            method = argument(call, "method", 0)
            if method is not None and not (isinstance(method.value, cst.Name)
                                           and method.value.value == "None"):
                return None
        return default_family(name)
