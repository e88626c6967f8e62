"""Callables handed to other processes: targets, pool tasks, initializers, the
arguments they receive and the queues they reach."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterator, Optional

import libcst as cst

from mpfix.analysis.arguments import (
    Arguments,
    Unseen,
    argument,
    method_name,
)
from mpfix.analysis.flowindex import is_static
from mpfix.analysis.loaders import Workers
from mpfix.analysis.starters import (
    LOADER_HANDOFFS,
    QUEUE_KINDS,
    Kind,
)
from mpfix.analysis.structure import Definition

POOL_CALLABLE_METHODS = frozenset(
    {"map", "imap", "imap_unordered", "starmap", "apply", "apply_async",
     "map_async", "starmap_async"}
)
EXECUTOR_CALLABLE_METHODS = frozenset({"submit", "map"})
_HANDING_METHODS = POOL_CALLABLE_METHODS | EXECUTOR_CALLABLE_METHODS | {"register"}


@dataclass(frozen=True)
class CallableUse:
    """A callable handed to another process: a target, a pool task, an initializer."""

    call: cst.Call             # the call that hands it over
    role: str                  # "target", "task", "initializer", "register"; a DataLoader's
                               # "dataset" (an object, not a callable), "collate_fn",
                               # "worker_init_fn"
    owner_kind: Kind           # PROCESS, POOL, EXECUTOR, MANAGER or DATA_LOADER
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

    # The parent's `args`/`kwargs` element (a name or an attribute such as `self.queue`),
    # the global read, or for a method of the module's own class the first `self.x` read.
    queue: cst.BaseExpression
    puts: tuple[cst.Call, ...] = ()     # its put()/put_nowait() calls in the callable and helpers
    other_uses: tuple[cst.CSTNode, ...] = ()  # every other read (handed on, got from...) or rebinding
    visible: bool = True                # False: the callable's code is not in this module


class CallablesMixin:
    """Part of ModuleAnalysis (mpfix.analysis.module); `self` is the whole analysis."""

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
        if created is Kind.DATA_LOADER:
            yield from self._loader_uses(call)
            return
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
        if method not in _HANDING_METHODS:
            return  # before the receiver's kind, which costs a flow analysis
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

    def _loader_uses(self, call: cst.Call) -> Iterator[CallableUse]:
        """A DataLoader that may start workers hands each its dataset, `collate_fn` and
        `worker_init_fn` (see mpfix.analysis.loaders); one without workers, nothing."""
        if self.loader_workers(call) is Workers.NONE:
            return
        for parameter in LOADER_HANDOFFS:
            passed = argument(call, parameter.name, parameter.position)
            if passed is not None and not (isinstance(passed.value, cst.Name) and passed.value.value == "None"):
                yield CallableUse(call, parameter.name, Kind.DATA_LOADER, passed)

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
        callable_expr = self.unwrap_partial(use.callable_arg.value)
        definition = self.definition_of(callable_expr)
        method = self.method_target(callable_expr)
        if method is not None:
            definition = method
        if not isinstance(definition, (cst.FunctionDef, cst.Lambda)):
            return [QueueUse(value, visible=False) for value in self.arguments(use).values()
                    if _is_queue_reference(self, value)]
        uses: list[QueueUse] = []
        params = definition.params
        bound = (*params.posonly_params, *params.params)[:1] \
            if method is not None and not is_static(method) else ()
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            if param in bound:
                continue
            parameter = param.name.value
            value = self.target_argument(use, parameter)
            if _is_queue_reference(self, value):
                reads = self.parameter_reads(definition, parameter)
                scope = self.names.created.get(definition)
                rebound = scope.bindings.get(parameter, [])[1:] if scope is not None else []
                uses.append(self._queue_use(value, reads, [b.node for b in rebound]))  # type: ignore[arg-type]
        if method is not None:
            uses.extend(self.attribute_queue_uses(method))
        global_reads: dict[str, list[cst.Name]] = {}
        for code in (definition, *self.helpers_called(definition)):
            for name, reads in self.global_reads(code).items():
                global_reads.setdefault(name, []).extend(reads)
        for reads in global_reads.values():
            if self.kind_of(reads[0]) in QUEUE_KINDS:
                uses.append(self._queue_use(reads[0], reads, []))
        return uses

    def method_target(self, expr: cst.BaseExpression) -> Optional[cst.FunctionDef]:
        """The method of one of the module's own classes that `self.produce`,
        `cls.produce`, `Worker.produce` or `worker.produce` (an instance made here) names."""
        if not isinstance(expr, cst.Attribute) or not isinstance(expr.value, cst.Name):
            return None
        owner = self._attribute_owner(expr.value)
        for cls in self.classes:
            if id(cls) == owner and isinstance(cls.body, cst.IndentedBlock):
                for statement in cls.body.body:
                    if isinstance(statement, cst.FunctionDef) \
                            and statement.name.value == expr.attr.value:
                        return statement if self._binding_known(expr.value, statement) else None
        return None

    def _binding_known(self, receiver: cst.Name, method: cst.FunctionDef) -> bool:
        """Whether what fills `method`'s first parameter is known: nothing for a static
        method, the class for a classmethod, the instance for a plain method named
        through one (`self.produce`); not a plain method named through its class
        (`Worker.produce`, `cls.produce`), whose caller passes the instance itself."""
        if is_static(method) or _is_classmethod(method):
            return True
        if isinstance(self.definition_of(receiver), cst.ClassDef):
            return False
        bindings = self.names.resolve(receiver)
        parameter = self._parameter_of_name(bindings[0].node) if len(bindings) == 1 else None
        return parameter is None or not _is_classmethod(parameter[0])

    def target_argument(self, use: CallableUse, parameter: str) -> Optional[cst.BaseExpression]:
        """`argument_for`, also for a bound method of the module's own classes (whose
        first parameter the instance fills)."""
        method = self.method_target(self.unwrap_partial(use.callable_arg.value))
        if method is None:
            return self.argument_for(use, parameter)
        if is_static(method):
            return self.arguments(use).for_parameter(method.params, parameter)
        params = method.params
        if params.posonly_params:
            unbound = params.with_changes(posonly_params=params.posonly_params[1:])
        else:
            unbound = params.with_changes(params=params.params[1:])
        return self.arguments(use).for_parameter(unbound, parameter)

    def attribute_queue_uses(self, method: cst.FunctionDef) -> list[QueueUse]:
        """The queues a method reaches through attributes of its instance (`self.queue`,
        set in `__init__` or anywhere else in the class): one use per attribute that may
        hold a multiprocessing queue, with its puts."""
        reads: dict[str, list[cst.Attribute]] = {}
        for name in self.names.loads_in(method):
            attribute = self.parent(name)
            if isinstance(attribute, cst.Attribute) and attribute.value is name \
                    and self._method_class(name) is not None \
                    and self.enclosing_function(name) is method:
                reads.setdefault(attribute.attr.value, []).append(attribute)
        return [self._queue_use(found[0], found, []) for found in reads.values()  # type: ignore[arg-type]
                if QUEUE_KINDS & self.may_hold(found[0])]

    def parameter_queue_use(self, use: CallableUse, value: cst.Name) -> Optional[QueueUse]:
        """What `use`'s target does with the parameter that receives `value`, as a queue
        (for a queue the parent only knows as a parameter of its own)."""
        target = self.unwrap_partial(use.callable_arg.value)
        definition = self.method_target(target) or self.definition_of(target)
        if not isinstance(definition, cst.FunctionDef):
            return None
        params = definition.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            if self.target_argument(use, param.name.value) is value:
                return self._queue_use(value, self.parameter_reads(definition, param.name.value), [])
        return None

    def _queue_use(self, queue: cst.BaseExpression, reads: list[cst.Name],
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


def _is_queue_reference(analysis: "CallablesMixin", value: object) -> bool:
    """A name or an attribute (`self.queue`) that holds a multiprocessing queue."""
    return isinstance(value, (cst.Name, cst.Attribute)) \
        and analysis.kind_of(value) in QUEUE_KINDS  # type: ignore[attr-defined]


def _is_classmethod(function: cst.FunctionDef) -> bool:
    return any(isinstance(d.decorator, cst.Name) and d.decorator.value == "classmethod"
               for d in function.decorators)
