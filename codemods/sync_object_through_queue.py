"""MP009 sync-object-through-queue: locks and queues travel by inheritance, never by pickling."""

from __future__ import annotations

from typing import Iterable, Iterator, Optional

import libcst as cst

from mpfix.analysis import CallableUse, ModuleAnalysis, method_name
from mpfix.rule import Rule, Violation
from mpfix.rulekit import RuleCommand
from mpfix.starters import QUEUE_KINDS, SYNC_KINDS, Kind

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
HOW_TO_SHARE = ("give it to the workers once, through the pool's initializer/initargs, or use "
                "a Manager's proxy (manager.{name}()), which pickles")


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
        def init_worker(shared_lock):
            global lock
            lock = shared_lock

        def work(n):
            with lock:
                print(n)

        if __name__ == "__main__":
            lock = multiprocessing.Lock()
            with multiprocessing.Pool(2, initializer=init_worker, initargs=(lock,)) as pool:
                pool.map(work, range(4))

    Fix safety:
    None: report only. Moving the object into the initializer changes the task
    function's signature and every caller of it; a Manager proxy changes its speed.
    The message says which to use.
    """

    code = "MP009"
    name = "sync-object-through-queue"
    fix_safety = "none"

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
        yield from self._report(passed, "passed to a pool task")
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
                    f"a multiprocessing {name} {how} is pickled, and a {name} can only be "
                    f"shared through inheritance: RuntimeError; "
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
    stack: list[cst.CSTNode] = [function.body]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            continue
        if isinstance(node, cst.Return) and node.value is not None:
            if isinstance(node.value, cst.Tuple):
                yield from (element.value for element in node.value.elements)
            else:
                yield node.value
        stack.extend(node.children)


class SyncObjectThroughQueueCommand(RuleCommand):
    rule = SyncObjectThroughQueue
