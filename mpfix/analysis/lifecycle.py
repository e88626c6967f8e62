"""Where the outcome of a pool's or executor's work is read.

`pool.map_async(...)`, `pool.imap(...)` and `executor.submit(...)` hand back an object
that the work completes later. Whether it is safe to end the pool, and where, depends on
where that object is read: waited for (`get()`, `result()`, iterated), only looked at
(`ready()`), dropped, or handed somewhere mpfix cannot follow. `ResultReads` follows the
object through local names, lists of results, loops over them and the builtins that
iterate, within the function that made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Iterable, Optional, Union

import libcst as cst

from mpfix.analysis.module import ModuleAnalysis, method_name

# Methods of AsyncResult and Future that block until the work is done.
WAITING_METHODS = frozenset({"get", "wait", "result", "exception"})
# Methods that look at the outcome without waiting for it.
PEEKING_METHODS = frozenset({"ready", "successful", "done", "running", "cancelled",
                             "add_done_callback", "cancel"})
# Builtins that run through an iterable to its end (or until their answer is known).
CONSUMERS = frozenset(f"builtins.{name}" for name in (
    "list", "tuple", "sorted", "sum", "set", "frozenset", "dict", "min", "max", "any", "all"))
# Builtins that wrap an iterable lazily: what consumes them consumes it.
WRAPPERS = frozenset(f"builtins.{name}" for name in (
    "enumerate", "zip", "map", "filter", "reversed", "iter"))
# Functions that wait for every future of the collection they are given.
FUTURE_WAITERS = frozenset({"concurrent.futures.wait", "concurrent.futures.as_completed",
                            "concurrent.futures._base.wait",
                            "concurrent.futures._base.as_completed"})
FUNCTION_NODES = (cst.FunctionDef, cst.Lambda, cst.ClassDef)


class Shape(str, Enum):
    RESULT = "result"      # AsyncResult, Future: waited for with get() / result()
    ITERATOR = "iterator"  # imap's iterator, Executor.map's generator: waited for by iterating
    RESULTS = "results"    # a list of RESULT
    ITERATORS = "iterators"  # a list of ITERATOR


ELEMENT = {Shape.RESULTS: Shape.RESULT, Shape.ITERATORS: Shape.ITERATOR}
CONTAINER = {Shape.RESULT: Shape.RESULTS, Shape.ITERATOR: Shape.ITERATORS}


@dataclass(frozen=True)
class Wait:
    node: cst.CSTNode  # the call that waits, or the iterable a loop runs through
    complete: bool     # waits for all of the work it reads (a get(), a full iteration)


@dataclass
class Fate:
    """Where the outcome of one async call is read."""

    waits: list[Wait] = field(default_factory=list)
    peeks: list[cst.CSTNode] = field(default_factory=list)
    escapes: list[cst.CSTNode] = field(default_factory=list)  # where it leaves mpfix's sight
    discarded: bool = False  # the call's value is dropped: nobody reads the outcome

    @property
    def reads(self) -> list[cst.CSTNode]:
        return [*(w.node for w in self.waits), *self.peeks]

    @property
    def tracked(self) -> bool:
        return not self.escapes

    @property
    def waited_for(self) -> bool:
        """Every outcome is waited for to its end, and nothing else reads it."""
        return self.tracked and not self.discarded and any(w.complete for w in self.waits)

    def merge(self, other: "Fate") -> None:
        self.waits.extend(other.waits)
        self.peeks.extend(other.peeks)
        self.escapes.extend(other.escapes)
        self.discarded = self.discarded or other.discarded


def owner(analysis: ModuleAnalysis, node: cst.CSTNode) -> Optional[cst.CSTNode]:
    """The def, lambda or class body `node` runs in; None at module level."""
    for ancestor in analysis.ancestors(node):
        if isinstance(ancestor, FUNCTION_NODES):
            return ancestor
    return None


def binding_reads(analysis: ModuleAnalysis, target: cst.Name) -> list[cst.Name]:
    """The reads of the value bound at `target`: reads of its variable in the same function
    that come after it and before the next binding of the variable that can follow it (the
    next binding's own value still reads this one; one in the other branch of an `if` does
    not end it). A loop that comes back to an earlier read is not followed: that read lies
    inside the loop, which holds the binding too."""
    if isinstance(analysis.parent(target), cst.CompFor):
        return analysis.reads_of(target)  # the comprehension's own scope: its element comes first
    function = owner(analysis, target)
    order = analysis.names.order
    later = [b.node for b in analysis.assignments(target)
             if b.node is not target and order.get(b.node, -1) > order[target]
             and not exclusive(analysis, target, b.node)]
    limit = min(later, key=order.__getitem__) if later else None
    limit_value = analysis.assigned_value(limit) if limit is not None else None
    reads = []
    for read in analysis.reads_of(target):
        if order[read] < order[target] or owner(analysis, read) is not function:
            continue
        if limit is not None and order[read] > order[limit] and not (
                limit_value is not None and analysis.names.contains(limit_value, read)):
            continue
        reads.append(read)
    return reads


def exclusive(analysis: ModuleAnalysis, first: cst.CSTNode, second: cst.CSTNode) -> bool:
    """No single run executes both: different branches of one `if`, or different cases of
    one `match`."""
    if analysis.exclusive_branches(first, second):
        return True
    cases = [_case_of(analysis, node) for node in (first, second)]
    return None not in cases and cases[0] is not cases[1] \
        and analysis.parent(cases[0]) is analysis.parent(cases[1])


def _case_of(analysis: ModuleAnalysis, node: cst.CSTNode) -> Optional[cst.CSTNode]:
    """The innermost `case` of a `match` holding `node`, within its function."""
    for ancestor in analysis.ancestors(node):
        if isinstance(ancestor, FUNCTION_NODES):
            return None
        if isinstance(ancestor, cst.MatchCase):
            return ancestor
    return None


class ResultReads:
    """Follows the value of an async call to where it is read."""

    def __init__(self, analysis: ModuleAnalysis) -> None:
        self.analysis = analysis
        self._followed: set[int] = set()

    def of_call(self, call: cst.Call, shape: Shape) -> Fate:
        self._followed = set()
        return self._follow(call, shape, owner(self.analysis, call))

    def _follow(self, expr: cst.CSTNode, shape: Shape, function: Optional[cst.CSTNode]) -> Fate:
        analysis = self.analysis
        parent = analysis.parent(expr)
        if isinstance(parent, cst.Attribute) and parent.value is expr:
            return self._method(parent, shape, function)
        if isinstance(parent, (cst.For, cst.CompFor)) and parent.iter is expr:
            return self._iterated(parent, shape, function)
        if isinstance(parent, cst.Arg) and parent.value is expr and not parent.star:
            return self._argument(analysis.parent(parent), expr, shape, function)
        if isinstance(parent, cst.Assign) and parent.value is expr:
            return self._assigned(parent, shape, function)
        if isinstance(parent, (cst.ListComp, cst.GeneratorExp)) and parent.elt is expr \
                and shape in CONTAINER:
            return self._follow(parent, CONTAINER[shape], function)
        if isinstance(parent, cst.Element) and shape in CONTAINER:
            container = analysis.parent(parent)
            if isinstance(container, (cst.List, cst.Tuple)):
                return self._follow(container, CONTAINER[shape], function)
        if isinstance(parent, cst.Subscript) and parent.value is expr and shape in ELEMENT:
            return self._follow(parent, ELEMENT[shape], function)
        if isinstance(parent, cst.Expr):
            return Fate(discarded=True)
        if isinstance(parent, (cst.Comparison, cst.ComparisonTarget, cst.UnaryOperation)) \
                or (isinstance(parent, (cst.If, cst.While, cst.IfExp)) and parent.test is expr):
            return Fate(peeks=[expr])  # `if pending is not None:`
        return Fate(escapes=[parent if parent is not None else expr])

    def _method(self, attribute: cst.Attribute, shape: Shape,
                function: Optional[cst.CSTNode]) -> Fate:
        call = self.analysis.parent(attribute)
        name = attribute.attr.value
        if not (isinstance(call, cst.Call) and call.func is attribute):
            return Fate(escapes=[attribute])
        if shape is Shape.RESULT and name in WAITING_METHODS:
            return Fate(waits=[Wait(call, complete=True)])
        if shape is Shape.ITERATOR and name in {"next", "__next__"}:
            return Fate(waits=[Wait(call, complete=False)])
        if shape is Shape.RESULT and name in PEEKING_METHODS:
            return Fate(peeks=[call])
        if shape in ELEMENT and name in {"append", "extend", "insert"}:
            return Fate()  # where the list is filled, not a read
        return Fate(escapes=[call])

    def _iterated(self, loop: Union[cst.For, cst.CompFor], shape: Shape,
                  function: Optional[cst.CSTNode]) -> Fate:
        if shape is Shape.ITERATOR:
            return Fate(waits=[Wait(loop.iter, complete=True)])
        if shape in ELEMENT and isinstance(loop.target, cst.Name):
            return self._reads_of(loop.target, ELEMENT[shape], function)
        return Fate(escapes=[loop])

    def _argument(self, call: Optional[cst.CSTNode], expr: cst.CSTNode, shape: Shape,
                  function: Optional[cst.CSTNode]) -> Fate:
        if not isinstance(call, cst.Call) or call.func is expr:
            return Fate(escapes=[call or expr])
        names = self.analysis.qualified_names(call.func)
        if shape is Shape.ITERATOR and names & CONSUMERS:
            return Fate(waits=[Wait(call, complete=True)])
        if shape is Shape.ITERATOR and names & WRAPPERS:
            return self._follow(call, shape, function)
        if shape is Shape.ITERATOR and "builtins.next" in names:
            return Fate(waits=[Wait(call, complete=False)])
        if shape is Shape.RESULTS and names & FUTURE_WAITERS:
            return Fate(waits=[Wait(call, complete=True)])
        if "builtins.len" in names:
            return Fate(peeks=[call])
        append = call.func
        if isinstance(append, cst.Attribute) and append.attr.value == "append" \
                and isinstance(append.value, cst.Name) and shape in CONTAINER:
            return self._list_reads(append.value, CONTAINER[shape], function)
        return Fate(escapes=[call])

    def _assigned(self, assign: cst.Assign, shape: Shape,
                  function: Optional[cst.CSTNode]) -> Fate:
        if len(assign.targets) != 1 or not isinstance(assign.targets[0].target, cst.Name):
            return Fate(escapes=[assign])
        return self._reads_of(assign.targets[0].target, shape, function)

    def _reads_of(self, target: cst.Name, shape: Shape, function: Optional[cst.CSTNode]) -> Fate:
        fate = Fate()
        if id(target) in self._followed:
            return fate
        self._followed.add(id(target))
        if owner(self.analysis, target) is not function:
            return Fate(escapes=[target])
        for read in binding_reads(self.analysis, target):
            fate.merge(self._follow(read, shape, function))
        return fate

    def _list_reads(self, holder: cst.Name, shape: Shape,
                    function: Optional[cst.CSTNode]) -> Fate:
        """`holder.append(result)`: the reads of the list, from its one binding on."""
        bindings = [b.node for b in self.analysis.assignments(holder)]
        if len(bindings) != 1 or not isinstance(bindings[0], cst.Name):
            return Fate(escapes=[holder])
        return self._reads_of(bindings[0], shape, function)


def deferred_shape(method: Optional[str], receiver_is_pool: bool) -> Optional[Shape]:
    """What a pool's (or an executor's) method hands back when the work it starts completes
    later; None for methods that return finished values (`map`, `apply`...)."""
    if receiver_is_pool:
        if method in {"map_async", "starmap_async", "apply_async"}:
            return Shape.RESULT
        if method in {"imap", "imap_unordered"}:
            return Shape.ITERATOR
        return None
    if method == "submit":
        return Shape.RESULT
    if method == "map":
        return Shape.ITERATOR
    return None


def deferred_calls(calls: Iterable[cst.Call], receiver_is_pool: bool) -> list[tuple[cst.Call, Shape]]:
    """The method calls among `calls` (on one pool or executor) whose work completes later."""
    found = []
    for call in calls:
        shape = deferred_shape(method_name(call), receiver_is_pool)
        if shape is not None:
            found.append((call, shape))
    return found
