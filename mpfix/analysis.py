"""The shared analysis every rule asks: what an expression is, what a call starts,
which callable a process runs and what that callable reads.

Built once per file over one MetadataWrapper; rules never re-derive any of it.
Resolution is by qualified name and by following assignments within scopes, so
`threading.Thread`, `queue.Queue` and `subprocess.Popen` are never mistaken for
multiprocessing objects, whatever they are called locally.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Iterator, Optional, Sequence, Union

import libcst as cst
import libcst.matchers as m
from libcst.metadata import CodeRange, MetadataWrapper

from mpfix.arguments import (  # noqa: F401 - the call helpers rules import from here
    ArgumentReader, Arguments, Unseen, argument, keyword, method_name, positional,
)
from mpfix.names import Binding, NameIndex, Scope
from mpfix.positions import SourceMap, StatementTexts

from mpfix.starters import (
    BY_VALUE_FAMILIES, CONTEXT_API, FAMILIES, MANAGER_API, QUEUE_KINDS, STARTING_KINDS, Kind,
    StarterTable,
)

# Kept for callers that name the old libcst type; bindings are mpfix.names.Binding now.
Assignment = Binding
Definition = Union[cst.FunctionDef, cst.ClassDef, cst.Lambda]

POOL_CALLABLE_METHODS = frozenset(
    {"map", "imap", "imap_unordered", "starmap", "apply", "apply_async",
     "map_async", "starmap_async"}
)
EXECUTOR_CALLABLE_METHODS = frozenset({"submit", "map"})
# Methods of the built-in containers that change them in place.
MUTATING_METHODS = frozenset(
    {"append", "extend", "insert", "update", "setdefault", "add", "clear", "pop", "popitem",
     "remove", "discard", "sort", "reverse"}
)
# Constructors that take their context as an argument (name, position) instead of
# using the default one; keyed on the name below the module family.
CONTEXT_PARAMETERS = {
    "pool.Pool": ("context", 4),
    "managers.SyncManager": ("ctx", 3),
    "managers.BaseManager": ("ctx", 3),
}
EXECUTOR_CONTEXT_PARAMETER = ("mp_context", 1)
# Families that re-export another's API and so share its default context.
SHARED_DEFAULT_CONTEXT = {"torch.multiprocessing": "multiprocessing"}


@dataclass(frozen=True)
class CallableUse:
    """A callable handed to another process: a target, a pool task, an initializer."""

    call: cst.Call             # the call that hands it over
    role: str                  # "target", "task", "initializer", "register"
    owner_kind: Kind           # PROCESS, POOL, EXECUTOR or MANAGER
    callable_arg: cst.Arg      # the argument holding the callable
    args_arg: Optional[cst.Arg] = None  # `args=`/`initargs=` where the role has one
    # The call of the function around `call` that binds the parameters it forwards
    # (`def start(fn, *args): Process(target=fn, args=args)` called as `start(work, q)`).
    site: Optional[cst.Call] = None

    @property
    def callable_at_site(self) -> bool:
        """Whether the callable is the one `site` passes, not one `call` names itself."""
        return self.site is not None and all(a is not self.callable_arg for a in self.call.args)


QUEUE_PUT_METHODS = frozenset({"put", "put_nowait"})


@dataclass(frozen=True)
class QueueUse:
    """A queue a callable handed to another process can reach, and what it does with it."""

    queue: cst.Name                     # the parent's `args`/`kwargs` element, or the global read
    puts: tuple[cst.Call, ...] = ()     # its put()/put_nowait() calls in the callable and helpers
    other_uses: tuple[cst.CSTNode, ...] = ()  # every other read (handed on, got from...) or rebinding
    visible: bool = True                # False: the callable's code is not in this module


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


class ModuleAnalysis:
    def __init__(self, wrapper: MetadataWrapper, starters: StarterTable,
                 statement_texts: Optional[StatementTexts] = None) -> None:
        self.wrapper = wrapper
        self._statement_texts = statement_texts or StatementTexts()
        self._callable_uses: Optional[list[CallableUse]] = None
        self._direct_uses: Optional[list[CallableUse]] = None
        self._arguments: dict[CallableUse, Arguments] = {}
        self._argument_reader = ArgumentReader(self)
        self._call_kinds: dict[int, Optional[Kind]] = {}
        self.module = wrapper.module
        self.starters = starters
        self.names = NameIndex.build(self.module)
        self.calls = self.names.calls
        self.functions = self.names.functions
        self.classes = self.names.classes
        self.lambdas = self.names.lambdas
        self._kind_cache: dict[int, Optional[Kind]] = {}
        self._element_cache: dict[int, Optional[Kind]] = {}
        self._starts_cache: dict[int, bool] = {}

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
        key = id(expr)
        if key not in self._element_cache:
            self._element_cache[key] = None  # breaks cycles such as `procs = list(procs)`
            self._element_cache[key] = self._compute_element_kind(expr)
        return self._element_cache[key]

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
        if kind in (Kind.PIPE, Kind.FREEZE_SUPPORT):
            return None
        if kind is Kind.CONTEXT:
            method = argument(call, "method", 0)
            if method is not None and not m.matches(method.value, m.Name("None")):
                return None
        return default_family(name)

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

    def is_partial(self, expr: cst.BaseExpression) -> bool:
        """`functools.partial(f, ...)`, however functools or partial is imported."""
        return isinstance(expr, cst.Call) and bool(expr.args) \
            and "functools.partial" in self.qualified_names(expr.func)

    def unwrap_partial(self, expr: cst.BaseExpression) -> cst.BaseExpression:
        while self.is_partial(expr):
            expr = expr.args[0].value  # type: ignore[attr-defined]
        return expr

    def parameter_read(self, name: cst.Name) -> Optional[tuple[cst.FunctionDef, cst.Param]]:
        """The function and parameter whose value the read `name` takes, when it reads one."""
        bindings = self.assignments(name)
        if len(bindings) != 1:
            return None
        param = self.parent(bindings[0].node)
        function = self.parent(self.parent(param)) if isinstance(param, cst.Param) else None
        if isinstance(function, cst.FunctionDef) and param.name is bindings[0].node:  # type: ignore[union-attr]
            return function, param  # type: ignore[return-value]
        return None

    def callable_uses(self, *, through_helpers: bool = True) -> list[CallableUse]:
        """Computed once per file: every rule asks. A use inside a helper that forwards
        its parameters to the process is listed once per call of the helper this module
        shows (see `CallableUse.site`), or as it is when no call is shown. Without
        `through_helpers`, every use as its creating call shows it: what a rule that
        rewrites that call may rely on being visible there."""
        if self._direct_uses is None:
            self._direct_uses = [use for call in self.calls for use in self._callable_uses_of(call)]
            self._callable_uses = [forwarded for use in self._direct_uses
                                   for forwarded in self._through_helper(use)]
        return list(self._callable_uses if through_helpers else self._direct_uses)  # type: ignore[arg-type]

    def _through_helper(self, use: CallableUse) -> list[CallableUse]:
        function = self.enclosing_function(use.call)
        if function is None or not self._forwards(use, function):
            return [use]
        target = self._parameter_of(use.callable_arg.value, function)
        found: list[CallableUse] = []
        for site in self.call_sites(function):
            if target is None:
                found.append(replace(use, site=site))
                continue
            given = self._argument_reader.binding(function, site).args.get(target.name.value)
            if given is not None:
                found.append(replace(use, callable_arg=given, site=site))
        return found or [use]

    def _parameter_of(self, expr: cst.CSTNode, function: cst.FunctionDef) -> Optional[cst.Param]:
        found = self.parameter_read(expr) if isinstance(expr, cst.Name) else None
        return found[1] if found is not None and found[0] is function else None

    def _forwards(self, use: CallableUse, function: cst.FunctionDef) -> bool:
        """Whether `use` hands over what `function`'s callers pass it: its callable is a
        parameter, or its arguments are one or unpack `*args`/`**kwargs`."""
        if self._parameter_of(use.callable_arg.value, function) is not None:
            return True
        passed: list[cst.BaseExpression] = []
        expr = use.callable_arg.value
        while self.is_partial(expr):
            passed.extend(arg.value for arg in expr.args[1:])  # type: ignore[attr-defined]
            expr = expr.args[0].value  # type: ignore[attr-defined]
        containers = [use.args_arg]
        if use.role == "target":
            containers.append(argument(use.call, "kwargs", 4))
        passed.extend(arg.value for arg in containers if arg is not None)
        params = function.params
        packed = {id(p) for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param)}
        for value in passed:
            if self._parameter_of(value, function) is not None:
                return True
            if any(id(self._parameter_of(name, function)) in packed
                   for name in self.names.loads_in(value)):
                return True
        return False

    def arguments(self, use: CallableUse) -> Arguments:
        """What the callable `use` hands over is called with in the other process."""
        if use not in self._arguments:
            self._arguments[use] = self._argument_reader.of_use(use)
        return self._arguments[use]

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

    def child_functions(self) -> list[cst.FunctionDef]:
        """Functions that run in a child process (or a manager's server process): Process
        targets, pool and executor tasks, initializers, registered callables, the `run`
        method of Process subclasses, and the module functions those call."""
        roots: list[cst.FunctionDef] = []
        for use in self.callable_uses():
            definition = self.definition_of(self.unwrap_partial(use.callable_arg.value))
            if isinstance(definition, cst.FunctionDef):
                roots.append(definition)
        for cls in self.classes:
            if self._is_process_class(cls, set()):
                roots.extend(s for s in cls.body.body
                             if isinstance(s, cst.FunctionDef) and s.name.value == "run")
        found: list[cst.FunctionDef] = []
        for root in roots:
            for function in (root, *self.helpers_called(root)):
                if function not in found:
                    found.append(function)
        return found

    def _is_manager_class(self, expr: cst.BaseExpression) -> bool:
        if self._qualified_kind(expr) is Kind.MANAGER:
            return True
        definition = self.definition_of(expr)
        if isinstance(definition, cst.ClassDef):
            return any(self._is_manager_class(base.value) for base in definition.bases)
        return False

    # -- loops, collections and the queues callables feed -------------------------------

    def enclosing_loop_over(self, name: cst.Name) -> Optional[cst.For]:
        """The `for` whose body reads `name` as its own loop variable (`for p in procs:
        p.join()`), when the body does not rebind it: that loop decides what it is,
        whatever other loops reuse the name for."""
        for ancestor in self.ancestors(name):
            if isinstance(ancestor, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                return None
            if isinstance(ancestor, cst.For) and self.names.contains(ancestor.body, name):
                target = ancestor.target
                if not isinstance(target, cst.Name) or target.value != name.value:
                    continue
                rebound = any(b.node is not target and self.names.contains(ancestor.body, b.node)
                              for b in self.assignments(name))
                return None if rebound else ancestor
        return None

    def appending_calls(self, name: cst.Name) -> list[cst.Call]:
        """`name.append(x)` / `name.add(x)` calls on the variable `name` reads."""
        found = []
        for call in self.calls:
            func = call.func
            if isinstance(func, cst.Attribute) and func.attr.value in {"append", "add"} \
                    and len(call.args) == 1 and not call.args[0].star \
                    and self.same_variable(func.value, name):
                found.append(call)
        return found

    def passed_arguments(self, use: CallableUse) -> Optional[tuple[list[cst.BaseExpression],
                                                                   dict[str, cst.BaseExpression]]]:
        """The positional and keyword values a callable is called with in the other
        process (see `arguments`); None when the module does not show all of them."""
        passed = self.arguments(use)
        if passed.more_keywords or any(isinstance(v, Unseen) for v in passed.positional):
            return None
        return list(passed.positional), dict(passed.keywords)  # type: ignore[arg-type]

    def queue_uses(self, use: CallableUse) -> list[QueueUse]:
        """The queues a callable handed to another process can reach, and its put calls
        on each: queues passed through `args=`/`kwargs=`/`partial` (matched to its
        parameters) and module-level queues it or the module functions it calls read.
        When its code is not in this module (imported, a method), every queue passed to
        it is listed with `visible=False`: being handed over is the only evidence."""
        definition = self.definition_of(self.unwrap_partial(use.callable_arg.value))
        if not isinstance(definition, (cst.FunctionDef, cst.Lambda)):
            return [QueueUse(value, visible=False) for value in self.arguments(use).values()
                    if isinstance(value, cst.Name) and self.kind_of(value) in QUEUE_KINDS]
        uses: list[QueueUse] = []
        params = definition.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            parameter = param.name.value
            value = self.argument_for(use, parameter)
            if isinstance(value, cst.Name) and self.kind_of(value) in QUEUE_KINDS:
                reads = self.parameter_reads(definition, parameter)
                scope = self.names.created.get(definition)
                rebound = scope.bindings.get(parameter, [])[1:] if scope is not None else []
                uses.append(self._queue_use(value, reads, [b.node for b in rebound]))
        global_reads: dict[str, list[cst.Name]] = {}
        for code in (definition, *self.helpers_called(definition)):
            for name, reads in self.global_reads(code).items():
                global_reads.setdefault(name, []).extend(reads)
        for reads in global_reads.values():
            if self.kind_of(reads[0]) in QUEUE_KINDS:
                uses.append(self._queue_use(reads[0], reads, []))
        return uses

    def parameter_queue_use(self, use: CallableUse, value: cst.Name) -> Optional[QueueUse]:
        """What `use`'s target does with the parameter that receives `value`, as a queue
        (for a queue the parent only knows as a parameter of its own)."""
        definition = self.definition_of(self.unwrap_partial(use.callable_arg.value))
        if not isinstance(definition, cst.FunctionDef):
            return None
        params = definition.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            if self.argument_for(use, param.name.value) is value:
                return self._queue_use(value, self.parameter_reads(definition, param.name.value), [])
        return None

    def _queue_use(self, queue: cst.Name, reads: list[cst.Name],
                   rebinds: list[cst.CSTNode]) -> QueueUse:
        puts: list[cst.Call] = []
        others: list[cst.CSTNode] = list(rebinds)
        for read in reads:
            attribute = self.parent(read)
            call = self.parent(attribute) if isinstance(attribute, cst.Attribute) else None
            if isinstance(call, cst.Call) and call.func is attribute \
                    and attribute.attr.value in QUEUE_PUT_METHODS:  # type: ignore[union-attr]
                puts.append(call)
            else:
                others.append(read)
        return QueueUse(queue, tuple(puts), tuple(others))

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
        if node in self.names.order:
            return iter(self._indexed_calls_under(node, into_functions))
        return self._visited_calls_under(node, into_functions)

    def _indexed_calls_under(self, node: cst.CSTNode, into_functions: bool) -> list[cst.Call]:
        """The calls in `node`'s pre-order range; a visitor per statement costs far more."""
        calls = self.names.within(self.calls, node)
        if into_functions:
            return calls
        return [call for call in calls if not self._nested_in_definition(call, node)]

    def _nested_in_definition(self, call: cst.Call, outer: cst.CSTNode) -> bool:
        for ancestor in self.ancestors(call):
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
