"""MP009 sync-object-through-queue: locks and queues travel by inheritance, never by pickling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Optional, Sequence

import libcst as cst

from mpfix.analysis.module import (
    Arguments, CallableUse, ModuleAnalysis, Unseen, api_family, argument, method_name,
)
from mpfix.findings import Safety
from mpfix.analysis.names import Binding
from mpfix.rulekit.rule import Fix, Rule, Violation
from mpfix.rulekit.helpers import Item, RuleCommand, appended, own_nodes, split_leading_lines, unused_name
from mpfix.analysis.starters import QUEUE_KINDS, SYNC_KINDS, Kind

# Objects whose pickling raises "... objects should only be shared between processes through
# inheritance" outside a process start. Pipe connections are not among them: they pickle
# through multiprocessing's resource sharer.
INHERIT_ONLY = QUEUE_KINDS | SYNC_KINDS | frozenset({Kind.VALUE, Kind.ARRAY})
MAP_METHODS = frozenset({"map", "imap", "imap_unordered", "starmap", "map_async",
                         "starmap_async"})
QUEUE_PUTS = frozenset({"put", "put_nowait"})
KIND_NAMES = {
    Kind.QUEUE: "Queue", Kind.JOINABLE_QUEUE: "JoinableQueue", Kind.SIMPLE_QUEUE: "SimpleQueue",
    Kind.LOCK: "Lock", Kind.EVENT: "Event", Kind.SEMAPHORE: "Semaphore",
    Kind.CONDITION: "Condition", Kind.BARRIER: "Barrier", Kind.VALUE: "Value",
    Kind.ARRAY: "Array",
}
HOW_TO_SHARE = "pass it through the pool's initializer, or use manager.{name}()"

# Constructors known to take `initializer=`/`initargs=` and hand initargs to each worker
# process as it starts (by inheritance), with the initializer's position. A Manager's
# Pool() would pickle initargs to its server process, and loky ships its own.
EXECUTORS = frozenset({"concurrent.futures.ProcessPoolExecutor",
                       "concurrent.futures.process.ProcessPoolExecutor"})
POOL_INITIALIZER_INDEX = 1
EXECUTOR_INITIALIZER_INDEX = 2
# Pool methods whose items are argument tuples, and their one-argument twins.
STARMAP_TO_MAP = {"starmap": "map", "starmap_async": "map_async"}
APPLY_METHODS = frozenset({"apply", "apply_async"})


class SyncObjectThroughQueue(Rule):
    """A lock, queue or shared value is pickled: put on a queue, sent, or passed to a pool task.

    What it finds:
    A multiprocessing `Lock`, `RLock`, `Semaphore`, `BoundedSemaphore`, `Event`,
    `Condition`, `Barrier`, `Queue`, `JoinableQueue`, `SimpleQueue`, `Value` or `Array`
    (made by the multiprocessing family or a context, not a Manager's proxy) that is put
    on a queue, sent through a Pipe connection, passed as an argument of a Pool or
    ProcessPoolExecutor task (`apply`, `map`, `starmap`, `submit`..., a
    `functools.partial` included), or returned by such a task. Passing one to
    `Process(args=...)` or to a pool's `initargs` is right and not reported; so are
    Manager proxies and Pipe connections, which pickle.

    Why:
    The guideline "better to inherit than pickle/unpickle": these objects can only be
    handed to a child when it starts. Pickling one at any other time raises
    `RuntimeError: Queue objects should only be shared between processes through
    inheritance` (Lock, Condition, Synchronized... likewise), under every start method:
    a task never runs, a `put` loses the item in the queue's feeder thread and the
    reader waits forever.

    Example:
        def work(lock, n):
            with lock:
                print(n)

        if __name__ == "__main__":
            lock = multiprocessing.Lock()
            with multiprocessing.Pool(2) as pool:
                pool.starmap(work, [(lock, n) for n in range(4)])

    Fixed:
        _lock = None


        def _share_lock(lock):
            global _lock
            _lock = lock


        def work(n):
            with _lock:
                print(n)

        if __name__ == "__main__":
            lock = multiprocessing.Lock()
            with multiprocessing.Pool(2, initializer=_share_lock, initargs=(lock,)) as pool:
                pool.map(work, [n for n in range(4)])

    Fix safety:
    Unsafe: the task function loses a parameter. Rewritten only where that is provably
    all it takes: the pool (a multiprocessing Pool or a ProcessPoolExecutor) is created
    in the same function or main block as its tasks and has no initializer yet; the
    object is a variable bound once there, before the pool is created; the task function
    is a module-level function used nowhere but as a task of that pool, every task
    passing it the same object in the same place (an `apply` args tuple, `submit`,
    `starmap` over a list display or comprehension of tuples, `functools.partial`). The
    pool gets an initializer that stores the object in a module global, the function
    reads that global, and the tasks stop passing it (`partial(f, lock)` becomes `f`, a
    `starmap` over one-argument tuples a `map`). Anything else keeps the report, which
    says what to do, or to use a Manager's proxy.
    """

    code = "MP009"
    name = "sync-object-through-queue"
    fix_safety = "unsafe"

    def __init__(self, context) -> None:  # type: ignore[no-untyped-def]
        super().__init__(context)
        self._plans: dict[int, Optional[PoolPlan]] = {}  # by id of the pool's creation
        self._passings: dict[CallableUse, Optional[Passing]] = {}
        # Names the plans of this pass chose: two fixes applied in one round must not
        # define the same global or initializer.
        self._names_taken: set[str] = set()

    def check(self) -> Iterable[Violation]:
        analysis = self.analysis
        for call in analysis.calls:
            method = method_name(call)
            receiver = analysis.receiver_kind(call) if method in QUEUE_PUTS | {"send"} else None
            if method in QUEUE_PUTS and receiver in QUEUE_KINDS:
                yield from self._report([a.value for a in call.args[:1]], "put on a queue")
            elif method == "send" and receiver is Kind.PIPE:
                yield from self._report([a.value for a in call.args[:1]], "sent through a pipe")
        for use in analysis.callable_uses():
            if use.role == "task":
                yield from self._report_task(use)

    def _report_task(self, use: CallableUse) -> Iterator[Violation]:
        analysis = self.analysis
        passed = [*analysis.arguments(use).values(), *_mapped_values(use.call)]
        for violation in self._report(passed, "passed to a pool task"):
            violation.fix = self._fix_for(use, violation.node)
            yield violation
        definition = analysis.definition_of(analysis.unwrap_partial(use.callable_arg.value))
        if isinstance(definition, cst.FunctionDef):
            for returned in _returned_values(definition):
                yield from self._report([returned], "returned by a pool task")

    def _report(self, values: Iterable[cst.BaseExpression], how: str) -> Iterator[Violation]:
        for value in values:
            kind = self._inherit_only_kind(value)
            if kind is not None:
                name = KIND_NAMES[kind]
                yield Violation(value, (
                    f"a multiprocessing {name} {how} is pickled, which raises RuntimeError: "
                    + HOW_TO_SHARE.format(name=name)))

    def _inherit_only_kind(self, expr: cst.BaseExpression) -> Optional[Kind]:
        analysis = self.analysis
        kind = analysis.kind_of(expr)
        if kind not in INHERIT_ONLY:
            return None
        creations = analysis.creation_calls(expr)
        if not creations or any(_is_proxy(analysis, call) for call in creations):
            return None
        return kind

    # -- the fix: hand the objects to the pool's initializer ---------------------------------

    def _fix_for(self, use: CallableUse, value: cst.CSTNode) -> Optional[Fix]:
        pool = self._pool_of(use)
        if pool is None:
            return None
        if id(pool) not in self._plans:
            self._plans[id(pool)] = self._plan(pool)
        plan = self._plans[id(pool)]
        return plan.fix if plan is not None and id(value) in plan.covered else None

    def _pool_of(self, use: CallableUse) -> Optional[cst.Call]:
        """The one call creating the pool a task is handed to, in the task's own function."""
        if use.role != "task" or use.site is not None \
                or not isinstance(use.call.func, cst.Attribute):
            return None
        created = self.analysis.creation_calls(use.call.func.value)
        if len(created) != 1 or self.analysis.enclosing_function(created[0]) \
                is not self.analysis.enclosing_function(use.call):
            return None
        return created[0]

    def _plan(self, pool: cst.Call) -> Optional[PoolPlan]:
        if not self._free_initializer(pool):
            return None
        removals: list[Removal] = []
        for function, positions in self._candidates(pool).items():
            tasks = self._tasks_of(function)
            if not self._only_tasks_of(function, tasks, pool):
                continue
            for position in positions:
                removal = self._removal(function, position, tasks, pool)
                if removal is not None:
                    removals.append(removal)
        if not removals:
            return None
        first = min((removal.function for removal in removals), key=self.analysis.names.order.get)
        if not self._defined_before_use(first, pool):
            return None
        covered = {id(value) for removal in removals for value in removal.values}
        return PoolPlan(covered, self._fix(pool, removals))

    def _defined_before_use(self, anchor: cst.FunctionDef, pool: cst.Call) -> bool:
        """The initializer goes above the first task function: a pool created by the module's
        own top-level code must come after it (in a function, it runs later anyway)."""
        analysis = self.analysis
        if analysis.enclosing_function(pool) is not None:
            return True
        statement = analysis.top_level_statement(pool)
        order = analysis.names.order
        return statement is not None and order[anchor] < order[statement]

    def _free_initializer(self, pool: cst.Call) -> bool:
        """Whether the pool's constructor takes an initializer and is given none (nor
        anything a `*args` or `**kwargs` could hide one in)."""
        index = self._initializer_index(pool)
        return index is not None and not any(arg.star for arg in pool.args) \
            and argument(pool, "initializer", index) is None \
            and argument(pool, "initargs", index + 1) is None

    def _initializer_index(self, pool: cst.Call) -> Optional[int]:
        analysis = self.analysis
        name = analysis.api_name(pool.func)
        if name in EXECUTORS:
            return EXECUTOR_INITIALIZER_INDEX
        family = api_family(name) if name is not None else None
        if family is not None and name in (f"{family}.Pool", f"{family}.pool.Pool"):
            return POOL_INITIALIZER_INDEX
        func = pool.func
        if name is None and isinstance(func, cst.Attribute) and func.attr.value == "Pool" \
                and analysis.kind_of(func.value) is Kind.CONTEXT:
            return POOL_INITIALIZER_INDEX
        return None

    def _candidates(self, pool: cst.Call) -> dict[cst.FunctionDef, dict[int, None]]:
        """The task functions of the pool, each with the argument positions where a task
        passes it an object that must be inherited."""
        found: dict[cst.FunctionDef, dict[int, None]] = {}
        for use in self.analysis.callable_uses(through_helpers=False):
            function = self._task_function(use)
            passing = self._passing(use) if function is not None else None
            if passing is None or self._pool_of(use) is not pool:
                continue
            positions = found.setdefault(function, {})  # type: ignore[arg-type]
            for value in passing.values():
                if self._inherit_only_kind(value) is not None:
                    positions[passing.position_of(value)] = None
        return found

    def _task_function(self, use: CallableUse) -> Optional[cst.FunctionDef]:
        if use.role != "task":
            return None
        analysis = self.analysis
        definition = analysis.definition_of(analysis.unwrap_partial(use.callable_arg.value))
        return definition if isinstance(definition, cst.FunctionDef) else None

    def _tasks_of(self, function: cst.FunctionDef) -> list[CallableUse]:
        return [use for use in self.analysis.callable_uses(through_helpers=False)
                if self._task_function(use) is function]

    def _only_tasks_of(self, function: cst.FunctionDef, tasks: list[CallableUse],
                       pool: cst.Call) -> bool:
        """Whether `function` is a plain module-level def, bound once, that the module uses
        only as a task of `pool` (each task call shown with its arguments)."""
        analysis = self.analysis
        if analysis.parent(function) is not analysis.module or function.decorators \
                or function.asynchronous is not None \
                or len(analysis.global_scope.bindings.get(function.name.value, ())) != 1:
            return False
        if any(self._pool_of(use) is not pool or self._passing(use) is None for use in tasks):
            return False
        handed = [analysis.unwrap_partial(use.callable_arg.value) for use in tasks]
        return bool(tasks) and all(any(reference is name for name in handed)
                                   for reference in analysis.references_to(function))

    def _removal(self, function: cst.FunctionDef, position: int, tasks: list[CallableUse],
                 pool: cst.Call) -> Optional[Removal]:
        """The parameter at `position`, when every task passes it the same object, one the
        pool's initializer can be given."""
        analysis = self.analysis
        params = [*function.params.posonly_params, *function.params.params]
        if position >= len(params):
            return None
        param = params[position]
        name = param.name.value
        own = analysis.names.created[function].bindings.get(name, [])
        if [binding.node for binding in own] != [param.name]:
            return None  # rebound in the function: not the object all along
        binding: Optional[Binding] = None
        values: list[cst.BaseExpression] = []
        for use in tasks:
            passing = self._passing(use)
            passed = analysis.arguments(use)
            nodes = passing.values_at(position) if passing is not None else None
            if not nodes or name in passed.keywords or passed.more_keywords:
                return None
            for node in nodes:
                found = self._object_binding(node, pool)
                if found is None or binding is not None and found is not binding:
                    return None
                binding = found
            values.extend(nodes)
        assert binding is not None
        return Removal(function, position, param, binding, values)

    def _object_binding(self, value: cst.BaseExpression, pool: cst.Call) -> Optional[Binding]:
        """The one assignment of the variable `value` reads, where it is certain to have run
        when `pool` is created: in the same scope, earlier, in a block around the pool."""
        analysis = self.analysis
        if not isinstance(value, cst.Name):
            return None
        bindings = analysis.assignments(value)
        if len(bindings) != 1 or bindings[0].scope is not self._scope_around(pool):
            return None
        assignment = _assignment_of(analysis, bindings[0].node)
        if assignment is None:
            return None
        order = analysis.names.order
        block = analysis.parent(analysis.parent(assignment))
        if order[assignment] >= order[pool] or analysis.names.contains(assignment, pool) \
                or not any(ancestor is block for ancestor in analysis.ancestors(pool)):
            return None
        return bindings[0]

    def _scope_around(self, node: cst.CSTNode):  # type: ignore[no-untyped-def]
        for ancestor in self.analysis.ancestors(node):
            if ancestor in self.analysis.names.created:
                return self.analysis.names.created[ancestor]
        return self.analysis.global_scope

    def _passing(self, use: CallableUse) -> Optional[Passing]:
        if use not in self._passings:
            self._passings[use] = self._read_passing(use)
        return self._passings[use]

    def _read_passing(self, use: CallableUse) -> Optional[Passing]:
        """How `use` passes its function's positional arguments, where each can be removed;
        None where a starred argument, nested partials or an unseen tuple hide some."""
        analysis = self.analysis
        partial: Optional[cst.Call] = None
        expr = use.callable_arg.value
        if analysis.is_partial(expr):
            partial = expr  # type: ignore[assignment]
            if any(arg.star for arg in partial.args) or partial.args[0].keyword is not None \
                    or analysis.is_partial(partial.args[0].value):
                return None
        method = method_name(use.call)
        rows: Optional[list[RowHolder]]
        if use.owner_kind is Kind.POOL and method in APPLY_METHODS:
            rows = self._args_row(use)
        elif use.owner_kind is Kind.EXECUTOR and method == "submit":
            rows = self._submit_row(use)
        elif use.owner_kind is Kind.POOL and method in STARMAP_TO_MAP:
            rows = self._starmap_rows(use)
            if rows is None:
                return None
        elif method in MAP_METHODS:
            rows = None  # each item is one argument: only the partial's can be edited
        else:
            return None
        items = method in MAP_METHODS
        if rows is None and not items:
            return None
        passing = Passing(use, partial, rows, items)
        return passing if passing.agrees_with(analysis.arguments(use)) else None

    def _args_row(self, use: CallableUse) -> Optional[list[RowHolder]]:
        if use.args_arg is None:
            return [RowHolder(None, [])]
        values = use.args_arg.value
        if not isinstance(values, (cst.Tuple, cst.List)) \
                or any(isinstance(e, cst.StarredElement) for e in values.elements):
            return None
        return [RowHolder(values, [e.value for e in values.elements])]

    def _submit_row(self, use: CallableUse) -> Optional[list[RowHolder]]:
        call = use.call
        if not call.args or call.args[0] is not use.callable_arg \
                or any(arg.star for arg in call.args):
            return None
        return [RowHolder(call, [arg.value for arg in call.args[1:] if arg.keyword is None])]

    def _starmap_rows(self, use: CallableUse) -> Optional[list[RowHolder]]:
        iterable = argument(use.call, "iterable", 1)
        if iterable is None:
            return None
        items: list[cst.BaseExpression]
        if isinstance(iterable.value, (cst.List, cst.Tuple)):
            if any(isinstance(e, cst.StarredElement) for e in iterable.value.elements):
                return None
            items = [e.value for e in iterable.value.elements]
        elif isinstance(iterable.value, (cst.ListComp, cst.GeneratorExp)):
            items = [iterable.value.elt]
        else:
            return None
        rows = []
        for item in items:
            if not isinstance(item, (cst.Tuple, cst.List)) \
                    or any(isinstance(e, cst.StarredElement) for e in item.elements):
                return None
            rows.append(RowHolder(item, [e.value for e in item.elements]))
        return rows

    # -- building the fix -----------------------------------------------------------------------

    def _fix(self, pool: cst.Call, removals: list[Removal]) -> Fix:
        analysis = self.analysis
        removals.sort(key=lambda r: (analysis.names.order[r.function], r.position))
        shared = self._shared_objects(removals)
        edits: dict[cst.CSTNode, Edit] = {}
        objects = "_".join(s.parameter.lstrip("_") for s in shared.values())
        initializer_name = unused_name(analysis, f"_share_{objects}", self._names_taken)
        self._names_taken.add(initializer_name)
        initargs = _tuple_of([cst.Name(s.variable) for s in shared.values()])
        edits[pool] = _keywords_added([_keyword("initializer", cst.Name(initializer_name)),
                                             _keyword("initargs", initargs)])
        by_function: dict[cst.FunctionDef, list[Removal]] = {}
        for removal in removals:
            by_function.setdefault(removal.function, []).append(removal)
            global_name = shared[removal.binding].global_name
            for read in analysis.parameter_reads(removal.function, removal.param.name.value):
                edits[read] = _renamed(global_name)
        for function, removed in by_function.items():
            positions = {removal.position for removal in removed}
            edits[function] = _parameters_removed(positions)
            for use in self._tasks_of(function):
                passing = self._passing(use)
                assert passing is not None
                passing.record_removal(positions, edits)
        anchor = removals[0].function  # the first task function: sorted above
        definitions = _initializer_definitions(initializer_name, list(shared.values()))
        replacements: dict[cst.CSTNode, object] = {}
        touched = dict.fromkeys(analysis.top_level_statement(node) for node in edits)
        for statement in touched:
            assert statement is not None
            new = statement.visit(_Edits(edits))
            if statement is anchor:
                new = _after_definitions(anchor, new, definitions)
            replacements[statement] = new
        return Fix(replacements, Safety.UNSAFE)  # type: ignore[arg-type]

    def _shared_objects(self, removals: list[Removal]) -> dict[Binding, Shared]:
        """One module global and one initializer parameter per object, named after the
        first parameter that receives it."""
        shared: dict[Binding, Shared] = {}
        taken = self._names_taken
        parameters: set[str] = set()
        for removal in removals:
            if removal.binding in shared:
                continue
            base = removal.param.name.value.lstrip("_") or "shared"
            global_name = unused_name(self.analysis, f"_{base}", taken)
            taken.add(global_name)
            parameter, number = base, 2
            while parameter in parameters or parameter in taken:
                parameter, number = f"{base}_{number}", number + 1
            parameters.add(parameter)
            shared[removal.binding] = Shared(removal.binding.name, parameter, global_name)
        return shared


def _is_proxy(analysis: ModuleAnalysis, creation: cst.Call) -> bool:
    return isinstance(creation.func, cst.Attribute) \
        and analysis.kind_of(creation.func.value) is Kind.MANAGER


def _mapped_values(call: cst.Call) -> Iterator[cst.BaseExpression]:
    """The values a map-like call hands its tasks, where its iterables are displays or
    comprehensions: `[q] * 4`, `[(lock, n) for n in ...]`, `((q, 1), (q, 2))`."""
    if method_name(call) not in MAP_METHODS:
        return
    for arg in call.args[1:]:
        if arg.keyword is None or arg.keyword.value in {"iterable", "iterables"}:
            yield from _elements(arg.value, depth=2)


def _elements(expr: cst.BaseExpression, depth: int) -> Iterator[cst.BaseExpression]:
    if depth == 0:
        return
    items: list[cst.BaseExpression] = []
    if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
        items = [element.value for element in expr.elements]
    elif isinstance(expr, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
        items = [expr.elt]
    elif isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Multiply):
        yield from _elements(expr.left, depth)
        return
    for item in items:
        if isinstance(item, (cst.Tuple, cst.List)):
            yield from _elements(item, depth - 1)
        else:
            yield item


def _returned_values(function: cst.FunctionDef) -> Iterator[cst.BaseExpression]:
    """What the function's own return statements return (not those of nested defs)."""
    for node in own_nodes(function):
        if isinstance(node, cst.Return) and node.value is not None:
            if isinstance(node.value, cst.Tuple):
                yield from (element.value for element in node.value.elements)
            else:
                yield node.value


Edit = Callable[[cst.CSTNode], cst.CSTNode]


@dataclass(frozen=True)
class Shared:
    """An object the pool's initializer stores in a module global of each worker."""

    variable: str     # the parent's variable, passed in initargs
    parameter: str    # the initializer's parameter
    global_name: str  # the module global the task functions read


@dataclass
class Removal:
    """A task function's parameter that the initializer's global replaces."""

    function: cst.FunctionDef
    position: int
    param: cst.Param
    binding: Binding                   # the parent's variable every task passes
    values: list[cst.BaseExpression]   # where the tasks pass it


@dataclass
class PoolPlan:
    covered: set[int]  # ids of the passed values the fix removes
    fix: Fix


@dataclass
class RowHolder:
    """The positional values one task gets after the partial's, and the node holding them
    (the args tuple of apply, the submit call, one tuple of a starmap); None: no args."""

    node: Optional[cst.CSTNode]
    values: list[cst.BaseExpression]


@dataclass
class Passing:
    """How one task call passes positional arguments to its function: a `functools.partial`'s
    first, then each task's row (None: map()'s items, one argument each, not shown)."""

    use: CallableUse
    partial: Optional[cst.Call]
    rows: Optional[list[RowHolder]]
    items: bool = False  # the rows (or items) come from an iterable: one task each

    @property
    def bound(self) -> list[cst.BaseExpression]:
        """The positional arguments the partial binds."""
        if self.partial is None:
            return []
        return [arg.value for arg in self.partial.args[1:] if arg.keyword is None]

    def values(self) -> list[cst.BaseExpression]:
        return [*self.bound, *(value for row in self.rows or () for value in row.values)]

    def position_of(self, value: cst.BaseExpression) -> int:
        bound = self.bound
        for index, candidate in enumerate(bound):
            if candidate is value:
                return index
        for row in self.rows or ():
            for index, candidate in enumerate(row.values):
                if candidate is value:
                    return len(bound) + index
        raise ValueError("not passed here")

    def values_at(self, position: int) -> Optional[list[cst.BaseExpression]]:
        """What each task gets at `position`, where every task's value is shown."""
        bound = self.bound
        if position < len(bound):
            return [bound[position]]
        index = position - len(bound)
        if not self.rows or any(index >= len(row.values) for row in self.rows):
            return None
        return [row.values[index] for row in self.rows]

    def agrees_with(self, passed: Arguments) -> bool:
        """Whether the shared analysis reads the call's positional arguments the same way."""
        shown: list[object] = list(self.bound)
        if self.items:
            shown.append(Unseen.SOME)
        else:
            assert self.rows is not None and len(self.rows) == 1
            shown.extend(self.rows[0].values)
        return len(passed.positional) == len(shown) \
            and all(a is b for a, b in zip(passed.positional, shown))

    def record_removal(self, positions: set[int], edits: dict[cst.CSTNode, Edit]) -> None:
        """The edits that stop this task call passing the arguments at `positions`."""
        call = self.use.call
        bound = len(self.bound)
        in_partial = {1 + p for p in positions if p < bound}
        in_rows = {p - bound for p in positions if p >= bound}
        if in_partial:
            assert self.partial is not None
            edits[self.partial] = _partial_arguments_removed(in_partial)
        if not in_rows:
            return
        assert self.rows is not None
        if method_name(call) == "submit":
            plain = [i for i, arg in enumerate(call.args) if i > 0 and arg.keyword is None]
            edits[call] = _arguments_removed({plain[i] for i in in_rows})
        elif self.items:
            single = all(len(row.values) - len(in_rows) == 1 for row in self.rows)
            for row in self.rows:
                edits[row.node] = _elements_removed(in_rows, unwrap=single)  # type: ignore[index]
            if single:
                edits[call] = _method_renamed(STARMAP_TO_MAP[method_name(call) or ""])
        else:
            row = self.rows[0]
            edits[row.node] = _elements_removed(in_rows, unwrap=False)  # type: ignore[index]
            if len(row.values) == len(in_rows) and self._args_droppable():
                args_arg = self.use.args_arg
                edits[call] = _arguments_removed({i for i, arg in enumerate(call.args)
                                                  if arg is args_arg})

    def _args_droppable(self) -> bool:
        """Whether an emptied args tuple can go: passed by keyword, or the last positional."""
        args_arg = self.use.args_arg
        if args_arg is None:
            return False
        if args_arg.keyword is not None:
            return True
        positional = [arg for arg in self.use.call.args if arg.keyword is None]
        return positional[-1] is args_arg


def _assignment_of(analysis: ModuleAnalysis, name: cst.CSTNode) -> Optional[cst.BaseSmallStatement]:
    """The `=` (or annotated `=`) that binds `name` as its whole target, in a statement line."""
    parent = analysis.parent(name)
    small: Optional[cst.CSTNode] = None
    if isinstance(parent, cst.AssignTarget) and parent.target is name:
        small = analysis.parent(parent)
    elif isinstance(parent, cst.AnnAssign) and parent.target is name and parent.value is not None:
        small = parent
    if isinstance(small, (cst.Assign, cst.AnnAssign)) \
            and isinstance(analysis.parent(small), cst.SimpleStatementLine):
        return small
    return None


class _Edits(cst.CSTTransformer):
    def __init__(self, edits: dict[cst.CSTNode, Edit]) -> None:
        super().__init__()
        self.edits = edits

    def on_leave(self, original_node, updated_node):  # type: ignore[no-untyped-def]
        edit = self.edits.get(original_node)
        return edit(updated_node) if edit is not None else updated_node


def _removed(items: Sequence[Item], indices: set[int]) -> list[Item]:
    """`items` without those at `indices`; a new last item ends as the old last did."""
    kept = [item for index, item in enumerate(items) if index not in indices]
    if kept and len(items) - 1 in indices:
        kept[-1] = kept[-1].with_changes(comma=items[-1].comma)
    return kept


def _tuple_of(values: list[cst.BaseExpression]) -> cst.Tuple:
    """`(a,)`, `(a, b)`."""
    space = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    elements = [cst.Element(value, comma=space) for value in values[:-1]]
    last_comma = cst.Comma() if len(values) == 1 else cst.MaybeSentinel.DEFAULT
    return cst.Tuple([*elements, cst.Element(values[-1], comma=last_comma)])


def _keyword(name: str, value: cst.BaseExpression) -> cst.Arg:
    no_space = cst.SimpleWhitespace("")
    return cst.Arg(value=value, keyword=cst.Name(name),
                   equal=cst.AssignEqual(whitespace_before=no_space, whitespace_after=no_space))


def _keywords_added(new: list[cst.Arg]) -> Edit:
    def edit(call: cst.CSTNode) -> cst.CSTNode:
        assert isinstance(call, cst.Call)
        return call.with_changes(args=appended(call.args, new, call.whitespace_before_args))

    return edit


def _arguments_removed(indices: set[int]) -> Edit:
    def edit(call: cst.CSTNode) -> cst.CSTNode:
        assert isinstance(call, cst.Call)
        return call.with_changes(args=_removed(call.args, indices))

    return edit


def _partial_arguments_removed(indices: set[int]) -> Edit:
    """`partial(f, lock, n)` -> `partial(f, n)`; `partial(f, lock)` -> `f`."""
    def edit(call: cst.CSTNode) -> cst.CSTNode:
        assert isinstance(call, cst.Call)
        args = _removed(call.args, indices)
        return args[0].value if len(args) == 1 else call.with_changes(args=args)

    return edit


def _elements_removed(indices: set[int], unwrap: bool) -> Edit:
    """`(lock, n)` -> `(n,)`, or `n` with `unwrap`; `(lock,)` -> `()`."""
    def edit(node: cst.CSTNode) -> cst.CSTNode:
        assert isinstance(node, (cst.Tuple, cst.List))
        elements = _removed(node.elements, indices)
        if unwrap:
            return elements[0].value
        if isinstance(node, cst.Tuple):
            if len(elements) == 1 and not isinstance(elements[0].comma, cst.Comma):
                elements[0] = elements[0].with_changes(comma=cst.Comma())
            if not node.lpar:
                return node.with_changes(elements=elements, lpar=[cst.LeftParen()],
                                         rpar=[cst.RightParen()])
        return node.with_changes(elements=elements)

    return edit


def _method_renamed(name: str) -> Edit:
    def edit(call: cst.CSTNode) -> cst.CSTNode:
        assert isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
        return call.with_changes(func=call.func.with_changes(attr=cst.Name(name)))

    return edit


def _renamed(name: str) -> Edit:
    def edit(node: cst.CSTNode) -> cst.CSTNode:
        assert isinstance(node, cst.Name)
        return node.with_changes(value=name)

    return edit


def _parameters_removed(positions: set[int]) -> Edit:
    """The function without its positional parameters at `positions`."""
    def edit(function: cst.CSTNode) -> cst.CSTNode:
        assert isinstance(function, cst.FunctionDef)
        params = function.params
        count = len(params.posonly_params)
        posonly = _removed(params.posonly_params, {p for p in positions if p < count})
        regular = _removed(params.params, {p - count for p in positions if p >= count})
        changes: dict[str, object] = {"posonly_params": posonly, "params": regular}
        if params.posonly_params and not posonly:
            changes["posonly_ind"] = cst.MaybeSentinel.DEFAULT
        elif isinstance(params.posonly_ind, cst.ParamSlash) and params.params and not regular \
                and params.star_arg is cst.MaybeSentinel.DEFAULT and not params.kwonly_params \
                and params.star_kwarg is None:
            slash = params.posonly_ind
            changes["posonly_ind"] = slash.with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return function.with_changes(params=params.with_changes(**changes))

    return edit


def _initializer_definitions(name: str, shared: list[Shared]) -> list[cst.BaseStatement]:
    """The initializer that sets the globals in each worker, then `_lock = None` for each
    object (a def first: right after the imports, isort and ruff want two blank lines
    before a def but one before a plain statement)."""
    globals_ = [cst.parse_statement(f"{s.global_name} = None\n") for s in shared]
    initializer = cst.parse_statement(
        f"def {name}({', '.join(s.parameter for s in shared)}):\n"
        f"    global {', '.join(s.global_name for s in shared)}\n"
        + "".join(f"    {s.global_name} = {s.parameter}\n" for s in shared))
    return [initializer, *globals_]


def _after_definitions(anchor: cst.FunctionDef, new: cst.CSTNode,
                       definitions: list[cst.BaseStatement]) -> cst.FlattenSentinel:
    """`definitions` above the rewritten `anchor`: its blank lines go above them, its
    comments stay with it; two blank lines follow the initializer, and separate the globals
    from the rewritten function."""
    blank, comments = split_leading_lines(anchor.leading_lines)
    gap = [cst.EmptyLine(), cst.EmptyLine()]
    placed = [definitions[0].with_changes(leading_lines=blank)]
    placed += [definition.with_changes(leading_lines=gap if index == 0 else [])
               for index, definition in enumerate(definitions[1:])]
    assert isinstance(new, cst.FunctionDef)
    return cst.FlattenSentinel([*placed, new.with_changes(leading_lines=[*gap, *comments])])


class SyncObjectThroughQueueCommand(RuleCommand):
    rule = SyncObjectThroughQueue
