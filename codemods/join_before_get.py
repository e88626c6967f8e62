"""MP003 join-before-get: drain the queue a process feeds before joining the process."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Iterable, Iterator, Optional, Sequence, Union

import libcst as cst

from mpfix.analysis.module import (
    QUEUE_PUT_METHODS, CallableUse, ModuleAnalysis, QueueUse, argument, keyword, method_name,
    statement_names,
)
from mpfix.findings import Safety
from mpfix.rulekit.rule import Fix, Rule, Violation
from mpfix.rulekit.helpers import RuleCommand, split_leading_lines, unused_name
from mpfix.analysis.starters import QUEUE_KINDS, Kind

GET_METHODS = frozenset({"get", "get_nowait"})
# What a parent may do with a queue between the gets without changing how many items they take.
DRAIN_METHODS = GET_METHODS | {"task_done"}
# What a process may do with a queue it feeds without putting more items on it.
QUIET_QUEUE_METHODS = frozenset({"close", "join_thread"})
# Uses of a queue that only ever take items out of it or look at it.
CONSUMER_METHODS = DRAIN_METHODS | QUIET_QUEUE_METHODS | {"empty", "qsize", "full", "join"}
# Builtins that consume a generator expression passed to them completely.
CONSUMING_BUILTINS = frozenset({"list", "tuple", "set", "frozenset", "dict", "sorted", "sum", "min", "max"})
CONSUMING_METHODS = frozenset({"extend", "update", "join"})
# Builtins that neither change anything nor do anything visible.
PURE_BUILTINS = CONSUMING_BUILTINS | {
    "len", "range", "enumerate", "zip", "reversed", "str", "int", "float", "bool", "repr",
    "abs", "round", "isinstance", "any", "all", "map", "filter", "divmod", "iter", "type",
}
EXITS = frozenset({"sys.exit", "builtins.exit", "builtins.quit", "os._exit", "os.abort"})
Block = Union[cst.IndentedBlock, cst.Module]
# What the parent reads a queue through: a name, or an attribute such as `self.queue`.
Queue = cst.BaseExpression
# A pipe holds about 64 KiB: this many items of a few hundred bytes each fit, so producers
# that put no more than that can always exit, joined before or after the gets.
FEW_ITEMS = 64
SHORT_TEXT = 200
# Calls whose result is one number (or a short text) whatever the input.
SMALL_RESULTS = frozenset({"os.getpid", "os.getppid", "builtins.len", "builtins.int",
                           "builtins.float", "builtins.bool", "builtins.abs", "builtins.round",
                           "time.time", "time.monotonic", "time.perf_counter"})

class JoinBeforeGet(Rule):
    """A process that put items on a queue cannot be joined before they are taken off.

    What it finds:
    `p.join()` (or a loop of joins) followed by the `get()` calls that take the
    items `p` put on a multiprocessing `Queue`, `JoinableQueue` or `SimpleQueue`.
    That `p` feeds the queue comes from its target: the queue is passed to it in
    `args=`/`kwargs=`/`functools.partial` (also unpacked, `args=(*rest, q)`, or through
    a helper that forwards its target and arguments to the Process) and the target
    puts on it, or the target puts on a module-level queue. When the target is not
    visible (imported), the queue being passed to the process is taken as the
    evidence, and the finding says so. The queue may be kept in an attribute
    (`self.queue = Queue()` in `__init__`, handed over or put on by a method such as
    `target=self.produce`, got from in another method), and the gets may happen in a
    helper the queue is handed to (`results = collect(q, n)`); the process may be
    made by a helper that forwards the target and its `*args` and returns it.

    Why:
    The guideline "joining processes that use queues": a process that has put
    items on a queue does not exit until its feeder thread has flushed them all
    into the underlying pipe (a `SimpleQueue` writes into the pipe directly). A
    parent that joins first and gets afterwards therefore deadlocks as soon as
    the items exceed the pipe buffer (about 64 KiB on Linux), under every start
    method, fork included. The cure is to get the items first, then join.

    Example:
        from multiprocessing import Process, Queue

        def f(q):
            q.put('X' * 1000000)

        if __name__ == '__main__':
            queue = Queue()
            p = Process(target=f, args=(queue,))
            p.start()
            p.join()                    # this deadlocks
            obj = queue.get()

    Fixed:
        from multiprocessing import Process, Queue

        def f(q):
            q.put('X' * 1000000)

        if __name__ == '__main__':
            queue = Queue()
            p = Process(target=f, args=(queue,))
            p.start()
            obj = queue.get()
            p.join()                    # this deadlocks

    Fix safety:
    Safe. The join (or loop of joins) moves to just after the statement whose
    gets take the last item the producers of that queue put, counted from their
    targets (`range(n)` loops, one item per process in a list of processes, ...);
    every other statement keeps its order (a `return` whose value holds the gets
    first keeps that value in a new variable, so the join can run before the
    function returns). The join never moves past a statement
    that reads a process's state (`exitcode`, `is_alive()`), uses another
    multiprocessing object, or may leave the block. Where it cannot move, the
    gets move above the join instead, if no statement they pass uses what they
    return, may leave the block, or has side effects in an order that would
    change. Otherwise, and wherever the number of gets cannot be matched to what
    the producers put (a loop until a sentinel, an imported target, a
    non-blocking get, gets or puts inside a helper, processes started in another
    method, an attribute set to more than one queue), the rule reports and
    rewrites nothing, naming where the queue or the processes were kept. A move past a
    `get(timeout=...)` is marked unsafe: the timeout then also runs while the
    producer works, and a slow producer makes the get raise `queue.Empty`.
    """

    code = "MP003"
    name = "join-before-get"
    fix_safety = "mixed"

    def check(self) -> Iterable[Violation]:
        examined: set[int] = set()
        for join in self._join_calls:
            for statement in self._statements_around(join):
                if id(statement) in examined:
                    break
                feeds = self._feeds(statement)
                drained = self._drained_queues(statement, feeds) if feeds else None
                if drained is None:
                    break
                if drained:
                    examined.add(id(statement))
                    violation = _JoinMove(self, statement, feeds, drained).violation()
                    if violation is not None:
                        yield violation
                    break

    # -- what the statement joins and what those processes feed -----------------------

    @cached_property
    def _join_calls(self) -> list[cst.Call]:
        return [call for call in self.analysis.calls if method_name(call) == "join"
                and self.analysis.receiver_kind(call) is Kind.PROCESS]

    @cached_property
    def targets(self) -> dict[int, list[CallableUse]]:
        """Process creation calls (by id) and the targets each hands over: one, or one per
        call of a helper that forwards its target and arguments to the Process."""
        found: dict[int, list[CallableUse]] = {}
        for use in self.analysis.callable_uses():
            if use.role == "target" and use.owner_kind is Kind.PROCESS:
                found.setdefault(id(use.call), []).append(use)
        return found

    def _statements_around(self, node: cst.CSTNode) -> Iterator[cst.BaseStatement]:
        """The statements holding `node` that sit directly in a block, innermost first."""
        for ancestor in self.analysis.ancestors(node):
            if isinstance(ancestor, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                return
            if isinstance(ancestor, cst.BaseStatement) and \
                    isinstance(self.analysis.parent(ancestor), (cst.IndentedBlock, cst.Module)):
                yield ancestor

    def joins_in(self, statement: cst.CSTNode) -> list[cst.Call]:
        return [call for call in self._join_calls if self.analysis.names.contains(statement, call)
                and not _inside_definition(self.analysis, call, statement)]

    def _feeds(self, statement: cst.BaseStatement) -> list["_Feed"]:
        feeds: list[_Feed] = []
        for join in self.joins_in(statement):
            receiver = join.func.value  # type: ignore[attr-defined]
            for creation in self.analysis.creation_calls(receiver):
                for use, queue_use in self._queues_fed_by(creation):
                    if self.may_put(queue_use):
                        feeds.append(_Feed(join, receiver, use, queue_use))
                run = self._run_method(creation)
                for queue_use in self.analysis.attribute_queue_uses(run) if run else ():
                    if queue_use.puts:
                        feeds.append(_Feed(join, receiver, None, queue_use, run, creation))
        return feeds

    def _run_method(self, creation: cst.Call) -> Optional[cst.FunctionDef]:
        """The `run()` of the module's own Process subclass `creation` makes, when it
        defines one: the child's code, which reaches the queues `__init__` kept in
        attributes (`self.results = results`)."""
        cls = self.analysis.process_class(creation.func)
        body = cls.body.body if cls is not None and isinstance(cls.body, cst.IndentedBlock) else ()
        return next((s for s in body if isinstance(s, cst.FunctionDef) and s.name.value == "run"),
                    None)

    def _queues_fed_by(self, creation: cst.Call) -> Iterator[tuple[CallableUse, QueueUse]]:
        """The queues the process `creation` makes can reach, with the target reaching
        each (a helper's calls may hand it several)."""
        for use in self.targets.get(id(creation), ()):
            if self._method_of_this_module(use) and \
                    self.analysis.method_target(self.analysis.unwrap_partial(use.callable_arg.value)) is None:
                continue  # its code is here but not found: no evidence either way
            for queue_use in self.analysis.queue_uses(use):
                yield use, queue_use

    def _method_of_this_module(self, use: CallableUse) -> bool:
        """A target such as `self.produce`, `cls.produce` or `Worker.produce`, where the
        class is the module's own: being passed the queue is evidence of puts only for
        code that lives elsewhere."""
        target = self.analysis.unwrap_partial(use.callable_arg.value)
        if not isinstance(target, cst.Attribute) or not isinstance(target.value, cst.Name):
            return False
        owner = target.value
        if owner.value in {"self", "cls"}:
            return any(isinstance(a, cst.ClassDef) for a in self.analysis.ancestors(owner))
        return isinstance(self.analysis.definition_of(owner), cst.ClassDef)

    def may_put(self, queue_use: QueueUse) -> bool:
        if not queue_use.visible or queue_use.puts:
            return True
        return not all(receiver_method(self.analysis, node) in CONSUMER_METHODS
                       for node in queue_use.other_uses)

    def _drained_queues(self, statement: cst.BaseStatement,
                        feeds: list["_Feed"]) -> Optional[list[Queue]]:
        """The fed queues that statements after `statement` in its block get from; None
        when the statement gets from one itself (a loop that joins and gets)."""
        queues: list[Queue] = []
        for feed in feeds:
            if not any(self.same_queue(feed.queue, q) for q in queues):
                queues.append(feed.queue)
        if any(self.takes_from(queue, statement) for queue in queues):
            return None
        later = _block_body(self.analysis, statement)[_index(self.analysis, statement) + 1:]
        drained = [queue for queue in queues if any(self.takes_from(queue, s) for s in later)]
        # Named as the parent reads it (`q`, not the `self.q` of a subclass's `run()`).
        return [next((g.func.value for s in later for g in self.gets_on(queue, s)), queue)  # type: ignore[attr-defined]
                for queue in drained]

    def takes_from(self, queue: Queue, node: cst.CSTNode) -> bool:
        return bool(self.gets_on(queue, node) or self.helper_gets_on(queue, node))

    def helper_gets_on(self, queue: Queue, node: cst.CSTNode) -> list[cst.Call]:
        """Calls inside `node` that hand `queue` to a function of the module that gets from
        the parameter receiving it (`drain(q)`, `results = collect(self.queue, n)`)."""
        return [call for call in self.analysis.calls
                if self.analysis.names.contains(node, call) and not method_name(call) in GET_METHODS
                and any(self._getting_parameter(call, arg, 3) for arg in call.args
                        if not arg.star and self.same_queue(arg.value, queue))]

    def _summary_gets(self, call: cst.Call, arg: cst.Arg) -> bool:
        """Whether `call` calls a function of another module of the run whose summary says
        it gets from the parameter `arg` fills (mpfix.analysis.summaries)."""
        for name in self.analysis.qualified_names(call.func):
            for parameter in self.analysis.starters.queue_parameters(name, "gets"):
                passed = argument(call, parameter.name, parameter.position) \
                    if parameter.position is not None else keyword(call, parameter.name)
                if passed is arg:
                    return True
        return False

    def _getting_parameter(self, call: cst.Call, arg: cst.Arg, depth: int) -> bool:
        """Whether the function `call` calls gets from the parameter `arg` fills, itself or
        through the functions it hands it to (`depth` calls down)."""
        function = self.analysis.called_function(call)
        if function is None:
            return self._summary_gets(call, arg)
        if depth == 0:
            return False
        for param in (*function.params.posonly_params, *function.params.params,
                      *function.params.kwonly_params):
            if not any(value is arg.value for value in
                       self.analysis.parameter_arguments(function, param)):
                continue
            for read in self.analysis.parameter_reads(function, param.name.value):
                if receiver_method(self.analysis, read) in GET_METHODS:
                    return True
                passed = self.analysis.parent(read)
                inner = self.analysis.parent(passed) if isinstance(passed, cst.Arg) else None
                if isinstance(inner, cst.Call) and self._getting_parameter(inner, passed, depth - 1):  # type: ignore[arg-type]
                    return True
        return False

    def same_queue(self, left: cst.CSTNode, right: cst.CSTNode) -> bool:
        """Whether two reads take the same queue: the same variable, or (for an attribute
        such as `self.queue`) places the flow analysis shows share it."""
        if isinstance(left, cst.Name) and isinstance(right, cst.Name):
            return self.analysis.same_variable(left, right)
        return self.analysis.same_place(left, right)

    def queue_reads(self, queue: Queue, node: cst.CSTNode) -> list[cst.CSTNode]:
        """The reads of `queue` inside `node`: names, or attributes such as `self.queue`."""
        return [read for read in object_reads(self.analysis, node) if self.same_queue(read, queue)]

    def gets_on(self, queue: Queue, node: cst.CSTNode) -> list[cst.Call]:
        """`queue.get(...)` calls inside `node` on the same variable as `queue`."""
        return [call for call in self.analysis.calls
                if method_name(call) in GET_METHODS and self.analysis.names.contains(node, call)
                and self.same_queue(call.func.value, queue)]  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Feed:
    """One joined process's target reaching one queue it may put on."""

    join: cst.Call
    process: cst.BaseExpression  # what the join is called on
    use: Optional[CallableUse]   # None for the `run()` of a Process subclass
    queue_use: QueueUse
    run: Optional[cst.FunctionDef] = None
    creation: Optional[cst.Call] = None  # the Process subclass's creation, with `run`

    @property
    def queue(self) -> Queue:
        return self.queue_use.queue


class _JoinMove:
    """One join statement followed by gets: where its join can go, or why it cannot."""

    def __init__(self, rule: JoinBeforeGet, statement: cst.BaseStatement, feeds: list[_Feed],
                 drained: list[Queue]) -> None:
        self.rule = rule
        self.analysis = rule.analysis
        self.statement = statement
        self.feeds = feeds
        self.drained = drained
        self.block: Block = self.analysis.parent(statement)  # type: ignore[assignment]
        self.body = list(self.block.body)
        self.start = _index(self.analysis, statement)
        self.sizes = _Sizes(self.analysis)
        self.process_uses = [use for join in rule.joins_in(statement)
                             for creation in self.analysis.creation_calls(join.func.value)  # type: ignore[attr-defined]
                             for use in rule.targets.get(id(creation), ())]

    def violation(self) -> Optional[Violation]:
        join = next(feed.join for feed in self.feeds
                    if any(self.rule.same_queue(feed.queue, q) for q in self.drained))
        if self._few_small_items():
            return None
        head = (f"`{self._code(join)}` before the gets on {self._queue_names()} deadlocks once "
                f"{self._evidence()} the pipe")
        end = self._drain_end()
        if isinstance(end, str):
            return Violation(join, f"{head}; {end}: drain the queue first")
        if end == self.start:
            return None  # the items were all taken before the join
        gets = [get for s in self.body[self.start + 1:end + 1] for q in self.drained
                for get in self.rule.gets_on(q, s)]
        waitless = [get for get in gets if _get_mode(get) == "nonblocking"]
        if waitless:
            return Violation(join, f"{head}; the get at line {self._line(waitless[0])} does not "
                             "wait for items, so it finds them only once the producers are done: "
                             "drain the queue with blocking gets before joining")
        new_body, blocker = self._join_moved_down(end)
        how = f"join after the gets (line {self._line(self.body[end])})"
        if new_body is None:
            new_body, _ = self._gets_moved_up(end)
            how = "get the items before joining (the gets move above the join)"
            if new_body is None:
                return Violation(join, f"{head}; not fixed: {blocker}")
        uncertain = self._uncertain_process() or self._uncertain_queue()
        if uncertain is not None:
            return Violation(join, f"{head}; not fixed: {uncertain}")
        timed = [get for get in gets if _get_mode(get) == "timeout"]
        safety = Safety.UNSAFE if timed else Safety.SAFE
        if timed:
            how += f" (unsafe: the timeout at line {self._line(timed[0])} starts sooner)"
        fix = Fix({self.block: self.block.with_changes(body=new_body)}, safety)
        return Violation(join, f"{head}; {how}", fix)

    def _uncertain_process(self) -> Optional[str]:
        """Why a joined object the flow analysis followed (an attribute, a container, a
        parameter) may be something other than a Process, if it may: then no rewrite."""
        for feed in self.feeds:
            process = feed.process
            if self.analysis.through_flow(process) and self.analysis.must_hold(process) is not Kind.PROCESS:
                return (f"`{self._code(process)}` may be another object (kept in "
                        f"{self.analysis.held_path(process)})")
        return None

    def _uncertain_queue(self) -> Optional[str]:
        """Why a drained queue the flow analysis followed (an attribute such as `self.queue`)
        may not be the one queue the producers were handed, if it may: then no rewrite."""
        for feed in self.feeds:
            drained = [q for q in self.drained if self.rule.same_queue(feed.queue, q)]
            if any(not self.analysis.same_variable(feed.queue, q)
                   and not self.analysis.same_place(feed.queue, q, aliases=False) for q in drained):
                return f"`{_text(feed.queue)}` and `{_text(drained[0])}` may differ"
        for queue in self.drained:
            if isinstance(queue, cst.Name) and not self.analysis.through_flow(queue):
                continue
            creations = self.analysis.flow_creations(queue)
            if self.analysis.must_hold(queue) not in QUEUE_KINDS or len(creations) != 1:
                kept = self.analysis.held_path(queue) or f"`{_text(queue)}`"
                return f"{kept} may be another queue"
        return None

    def _few_small_items(self) -> bool:
        """Whether the producers put at most FEW_ITEMS items in all, each a small value
        (a number, a constant, a short string, a caught exception...): they fit in the
        pipe's buffer, so the join cannot deadlock, whichever comes first."""
        total = 0
        for feed in self.feeds:
            if not any(self.rule.same_queue(feed.queue, q) for q in self.drained):
                continue
            if feed.use is None:
                every = self._small_puts_of_run(feed)
                runs = self.sizes.repeats(feed.creation, self.statement)  # type: ignore[arg-type]
            else:
                every = _few_small_puts(self.analysis, feed.use, feed.queue_use, depth=2)
                runs = self.sizes.repeats(feed.use.call, self.statement)
            if every is None or runs is None or set(runs.terms) - {()}:
                return False
            total += runs.terms.get((), 0) * every
        return total <= FEW_ITEMS

    def _small_puts_of_run(self, feed: _Feed) -> Optional[int]:
        """How many small items a Process subclass's `run()` puts, when no loop with an
        unknown count or condition decides it and nothing else is done with the queue."""
        if any(receiver_method(self.analysis, node) not in QUIET_QUEUE_METHODS
               for node in feed.queue_use.other_uses):
            return None
        total = 0
        for put in feed.queue_use.puts:
            runs = self.sizes.repeats(put, feed.run)  # type: ignore[arg-type]
            count = runs.constant() if runs is not None else None
            if count is None or not _small_item(self.analysis, put):
                return None
            total += count
        return total

    # -- the message --------------------------------------------------------------------

    def _code(self, node: cst.CSTNode) -> str:
        return self.analysis.module.code_for_node(node).strip()

    def _line(self, node: cst.CSTNode) -> int:
        return self.analysis.position(node).start.line

    def _queue_names(self) -> str:
        return " and ".join(f"`{_text(queue)}`" for queue in self.drained)

    def _evidence(self) -> str:
        """Who fills the drained queues: "`square` fills", "`a` and `b` fill" (itself, through
        code it hands the queue to, or, if its code is not here, by being passed the queue)."""
        targets: list[str] = []
        for feed in self.feeds:
            if not any(self.rule.same_queue(feed.queue, q) for q in self.drained):
                continue
            if feed.use is None:
                owner = self.analysis.parent(self.analysis.parent(feed.run))
                target = f"`{owner.name.value}.run`"  # type: ignore[union-attr]
            else:
                target = f"`{self._code(self.analysis.unwrap_partial(feed.use.callable_arg.value))}`"
            if target not in targets:
                targets.append(target)
        verb = "fills" if len(targets) == 1 else "fill"
        return f"{' and '.join(targets)} {verb}"

    # -- how many items are left, and where the gets have taken them ------------------------

    def _drain_end(self) -> Union[int, str]:
        """The index of the statement whose gets take the last item left on the drained
        queues, or why that cannot be told."""
        end = self.start
        for queue in self.drained:
            left = self._items_left(queue)
            if isinstance(left, str):
                return left
            reached = self._drained_at(queue, left)
            if isinstance(reached, str):
                return reached
            end = max(end, reached)
        return end

    def _items_left(self, queue: Queue) -> Union["Amount", str]:
        """What the producers started before the join put on `queue`, less the gets before it."""
        function = self.analysis.enclosing_function(self.statement)
        start_order = self.analysis.names.order[self.statement]
        total = Amount.of(0)
        counted: set[int] = set()
        for anchor, uses, inner in self._creations_before(function, start_order):
            counted.update(id(use.call) for use in uses)
            # One amount per creation: each call of a helper that forwards the target
            # runs one of its targets, and they must all put the same number of items.
            amounts: list[Amount] = []
            for use in uses:
                amount = self._put_by(use, queue)
                if isinstance(amount, str):
                    return amount
                if amount is not None and amounts and amount != amounts[0]:
                    return "their item counts differ"
                if amount is not None:
                    amounts.append(amount)
            if amounts:
                runs = self.sizes.repeats(anchor, self.statement)
                if runs is None or inner is None:
                    return (f"how many processes line {self._line(anchor)} creates depends "
                            "on the data")
                total = total + runs * inner * amounts[0]
        for feed in self.feeds:
            if feed.use is None and self.rule.same_queue(feed.queue, queue):
                line = self._line(feed.queue_use.puts[0])
                return f"`run()` puts on `{_text(feed.queue)}` (line {line}), not counted"
            if feed.use is None:
                continue
            where = feed.use.site if feed.use.site is not None else feed.use.call
            if id(feed.use.call) not in counted and self.rule.same_queue(feed.queue, queue) \
                    and self.analysis.enclosing_function(where) is not function:
                kept = self.analysis.held_path(feed.process) or f"line {self._line(feed.use.call)}"
                return f"started elsewhere: {kept}"
        before = self._counter(queue, self.body[:self.start]).statements(self.body[:self.start])
        if before is None:
            return f"how many items the gets on `{_text(queue)}` before the join take depends on the data"
        return total - before

    def _creations_before(self, function: Optional[cst.FunctionDef], start_order: int
                          ) -> Iterator[tuple[cst.CSTNode, list[CallableUse], Optional["Amount"]]]:
        """The Process creations that run before the join statement in its function, each
        with its uses and how many processes one run of it makes: a creation in the
        function itself, or the call of a helper that creates the process from the target
        and arguments it forwards (`p = launch(worker, q)`, then `p.join()`)."""
        for uses in self.rule.targets.values():
            creation = uses[0].call
            helper = self.analysis.enclosing_function(creation)
            if helper is function:
                if self.analysis.names.order[creation] <= start_order:
                    yield creation, uses, Amount.of(1)
                continue
            inner = self.sizes.repeats(creation, helper) if helper is not None else None
            sites: dict[int, list[CallableUse]] = {}
            for use in uses:
                if use.site is not None:
                    sites.setdefault(id(use.site), []).append(use)
            for at_site in sites.values():
                site = at_site[0].site
                if self.analysis.enclosing_function(site) is function \
                        and self.analysis.names.order[site] <= start_order:  # type: ignore[index]
                    yield site, at_site, inner  # type: ignore[misc]

    def _put_by(self, use: CallableUse, queue: cst.Name) -> Union["Amount", str, None]:
        """How many items one run of `use`'s target puts on `queue`; None when it cannot
        put on it at all."""
        total: Optional[Amount] = None
        for queue_use in self.analysis.queue_uses(use):
            if not self.rule.same_queue(queue_use.queue, queue) \
                    or not self.rule.may_put(queue_use):
                continue
            target = self._code(self.analysis.unwrap_partial(use.callable_arg.value))
            if not queue_use.visible:
                if self._summary_puts(use, queue_use.queue):
                    return f"`{target}` puts on `{_text(queue)}` in another module"
                return f"the code of `{target}` is not visible here"
            puts = _puts(self.analysis, use, queue_use)
            if puts is None:
                every = _puts_on_every_path(self.analysis, use, queue_use)
                if every is not None:
                    return f"`{target}` puts {_items(every)} on `{_text(queue)}` on every path"
                other = next((node for node in queue_use.other_uses if receiver_method(
                    self.analysis, node) not in QUIET_QUEUE_METHODS), None)
                handed = self.analysis.parent(other) if other is not None else None
                call = self.analysis.parent(handed) if isinstance(handed, cst.Arg) else None
                if isinstance(call, cst.Call) and call.func is not other:
                    return (f"`{target}` puts via `{self._code(call.func)}()` "
                            f"(line {self._line(other)})")
                if other is not None:
                    return (f"`{target}` also uses `{_text(queue)}` otherwise (line "
                            f"{self._line(other)})")
                return f"how many items `{target}` puts depends on the data"
            total = puts if total is None else total + puts
        return total

    def _summary_puts(self, use: CallableUse, value: cst.BaseExpression) -> bool:
        """Whether the summary of `use`'s target, a function of another module of the run,
        says it puts on the parameter that receives `value` (mpfix.analysis.summaries)."""
        passed = self.analysis.arguments(use)
        target = self.analysis.unwrap_partial(use.callable_arg.value)
        for name in self.analysis.qualified_names(target):
            for parameter in self.analysis.starters.queue_parameters(name, "puts"):
                at = passed.positional[parameter.position] \
                    if parameter.position is not None and parameter.position < len(passed.positional) \
                    else None
                if at is value or passed.keywords.get(parameter.name) is value:
                    return True
        return False

    def _drained_at(self, queue: Queue, left: "Amount") -> Union[int, str]:
        if left == Amount.of(0):
            return self.start
        region = self.body[self.start + 1:]
        counter = self._counter(queue, region)
        taken = Amount.of(0)
        for offset, statement in enumerate(region):
            count = counter.statement(statement)
            helper = self.rule.helper_gets_on(queue, statement)
            if helper:
                name = self._code(helper[0].func)
                return f"`{name}()` gets them (line {self._line(helper[0])})"
            if count is None:
                return (f"how many items the gets on `{_text(queue)}` at line "
                        f"{self._line(statement)} take depends on the data")
            taken = taken + count
            if taken == left:
                return self.start + 1 + offset
        return f"the gets after the join take {taken} of {left} items"

    def _counter(self, queue: Queue, statements: Sequence[cst.BaseStatement]) -> "_Counter":
        gets: list[cst.Call] = []
        spoilers: list[cst.CSTNode] = []
        for statement in statements:
            here = self.rule.gets_on(queue, statement)
            gets += here
            spoilers += self.rule.helper_gets_on(queue, statement)
            for read in self.rule.queue_reads(queue, statement):
                method = receiver_method(self.analysis, read)
                if method not in DRAIN_METHODS and (here or method in QUEUE_PUT_METHODS):
                    spoilers.append(read)  # the parent adds items, or walks the queue otherwise
        return _Counter(self.analysis, self.sizes, gets, spoilers)

    # -- the two moves ------------------------------------------------------------------------

    def _join_moved_down(self, end: int) -> tuple[Optional[list[cst.BaseStatement]], str]:
        """The body with the join statement after `end`, or what holds it back."""
        if not self._is_pure_join(self.statement):
            return None, (f"the statement at line {self._line(self.statement)} does more than "
                          "join, so the join cannot move alone")
        last = self.body[end]
        returned = _returned_value(last)
        passed = self.body[self.start + 1:end + (0 if returned is not None else 1)]
        for statement in passed:
            reason = self._holds_join(statement)
            if reason:
                return None, f"line {self._line(statement)} needs the join ({reason})"
        body = self.body
        reordered = [*body[:self.start], *body[self.start + 1:end + 1], self.statement, *body[end + 1:]]
        laid = _relaid(body, reordered, [self.statement])
        if returned is not None:
            # `return [q.get() ...]` drains: keep the value, join, then return it.
            name = unused_name(self.analysis, "results")
            kept = laid[end - 1]
            keep = cst.SimpleStatementLine(
                [cst.Assign([cst.AssignTarget(cst.Name(name))], returned)],
                leading_lines=kept.leading_lines)
            give_back = kept.with_changes(
                body=[kept.body[0].with_changes(value=cst.Name(name))], leading_lines=())  # type: ignore[attr-defined]
            laid[end - 1:end + 1] = [keep, laid[end], give_back]
        return laid, ""

    def _holds_join(self, statement: cst.BaseStatement) -> str:
        if self._is_pure_join(statement):
            return ""  # joins commute
        for name in object_reads(self.analysis, statement):
            if _reads_process_state(self.analysis, name):
                return f"it reads the state of `{_text(name)}`"
        if _may_leave(self.analysis, statement):
            return "it may leave the block, and the join would be skipped"
        for name in object_reads(self.analysis, statement):
            kind = self.analysis.kind_of(name)
            if kind is None or _is_process_name(self.analysis, name):
                continue
            if kind not in QUEUE_KINDS or receiver_method(self.analysis, name) not in DRAIN_METHODS:
                return f"it uses `{_text(name)}`, which the joined process may change"
            if self._consumed_by_joined(name):
                return f"the joined process takes items from `{_text(name)}` too"
        return ""

    def _consumed_by_joined(self, queue: Queue) -> bool:
        """Whether a joined process takes items from `queue` (a get there would race it)."""
        for use in self.process_uses:
            for queue_use in self.analysis.queue_uses(use):
                if self.rule.same_queue(queue_use.queue, queue) and any(
                        receiver_method(self.analysis, node) in GET_METHODS
                        for node in queue_use.other_uses):
                    return True
        return False

    def _is_pure_join(self, statement: cst.BaseStatement) -> bool:
        """`p.join()` lines, or a `for` loop whose body only joins."""
        if isinstance(statement, cst.SimpleStatementLine):
            return _only_joins(self.rule, statement)
        if isinstance(statement, cst.For) and statement.orelse is None \
                and statement.asynchronous is None:
            body = statement.body
            lines = body.body if isinstance(body, cst.IndentedBlock) else [body]
            iterable_calls = [c for c in self.analysis.calls
                              if self.analysis.names.contains(statement.iter, c)]
            return all(_builtin(self.analysis, c.func) in PURE_BUILTINS for c in iterable_calls) \
                and all(self._is_pure_join(line) if isinstance(line, cst.SimpleStatementLine)
                        else _suite_joins(self.rule, line) for line in lines)
        return False

    def _gets_moved_up(self, end: int) -> tuple[Optional[list[cst.BaseStatement]], str]:
        """The body with the statements that get moved above the join, or why they cannot."""
        region = self.body[self.start + 1:end + 1]
        moved = [s for s in region if any(self.rule.gets_on(q, s) for q in self.drained)]
        for getter in moved:
            problem = self._unmovable_getter(getter)
            if problem:
                return None, problem
            passed = [self.statement, *[s for s in region if s not in moved
                                        and self._order(s) < self._order(getter)]]
            for statement in passed:
                problem = self._keeps_getter_below(getter, statement)
                if problem:
                    return None, problem
        stay = [s for s in region if s not in moved]
        body = self.body
        reordered = [*body[:self.start], *moved, self.statement, *stay, *body[end + 1:]]
        return _relaid(body, reordered, moved), ""

    def _order(self, node: cst.CSTNode) -> int:
        return self.analysis.names.order[node]

    def _unmovable_getter(self, getter: cst.BaseStatement) -> str:
        line = self._line(getter)
        if _may_leave(self.analysis, getter):
            return f"the statement at line {line} may leave the block"
        for name in object_reads(self.analysis, getter):
            if _reads_process_state(self.analysis, name):
                return f"line {line} reads the state of `{_text(name)}`"
            kind = self.analysis.kind_of(name)
            if kind is not None and not _is_process_name(self.analysis, name) and (kind not in QUEUE_KINDS
                                     or receiver_method(self.analysis, name) not in DRAIN_METHODS):
                return f"line {line} also uses `{_text(name)}`"
        return ""

    def _keeps_getter_below(self, getter: cst.BaseStatement, statement: cst.BaseStatement) -> str:
        line, get_line = self._line(statement), self._line(getter)
        if _may_leave(self.analysis, statement):
            return (f"line {line} may leave the block, and a get moved above it would wait "
                    "for items that never come")
        for name in object_reads(self.analysis, statement):
            kind = self.analysis.kind_of(name)
            if kind is not None and not _is_process_name(self.analysis, name):
                return f"line {line} uses `{_text(name)}`"
        get_reads, get_writes = _variables(self.analysis, getter)
        reads, writes = _variables(self.analysis, statement)
        shared = sorted((get_writes & reads) | (get_reads & writes))
        if shared:
            return f"line {line} uses `{shared[0]}`, which the get at line {get_line} sets or reads"
        if _has_effects(self.analysis, getter) and _has_effects(self.analysis, statement):
            return f"line {line} and the get at line {get_line} both have effects whose order would change"
        return ""


# -- counting -----------------------------------------------------------------------------------


class Amount:
    """A count that may depend on the program's values: a polynomial with integer
    coefficients in symbols such as `len(procs)` or `n`, so that `[q.get() for _ in
    procs]` can be matched with one put by each process of `procs`."""

    def __init__(self, terms: dict[tuple[str, ...], int]) -> None:
        self.terms = {key: value for key, value in terms.items() if value}

    @classmethod
    def of(cls, number: int) -> "Amount":
        return cls({(): number})

    @classmethod
    def symbol(cls, label: str, identity: object) -> "Amount":
        return cls({(f"{label}#{id(identity)}",): 1})

    def __add__(self, other: "Amount") -> "Amount":
        terms = dict(self.terms)
        for key, value in other.terms.items():
            terms[key] = terms.get(key, 0) + value
        return Amount(terms)

    def __sub__(self, other: "Amount") -> "Amount":
        return self + Amount({key: -value for key, value in other.terms.items()})

    def __mul__(self, other: "Amount") -> "Amount":
        terms: dict[tuple[str, ...], int] = {}
        for left, a in self.terms.items():
            for right, b in other.terms.items():
                key = tuple(sorted(left + right))
                terms[key] = terms.get(key, 0) + a * b
        return Amount(terms)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Amount) and self.terms == other.terms

    __hash__ = None  # type: ignore[assignment]

    def constant(self) -> Optional[int]:
        if set(self.terms) <= {()}:
            return self.terms.get((), 0)
        return None

    def __str__(self) -> str:
        if not self.terms:
            return "0"
        parts = []
        for key, value in sorted(self.terms.items()):
            factors = [symbol.split("#")[0] for symbol in key]
            if value != 1 or not factors:
                factors.insert(0, str(value))
            parts.append("*".join(factors))
        return " + ".join(parts)


class _Sizes:
    """How many times loops run and how many elements collections hold, as Amounts.

    Inside a process target (`use` hands `definition` over), a parameter stands for
    the parent's expression passed to it, so `range(n)` there counts what the
    parent passed as `n`."""

    def __init__(self, analysis: ModuleAnalysis, use: Optional[CallableUse] = None,
                 definition: Optional[Union[cst.FunctionDef, cst.Lambda]] = None) -> None:
        self.analysis = analysis
        self.use = use
        self.definition = definition
        self.outer = _Sizes(analysis) if definition is not None else self

    def _argument(self, name: cst.Name) -> Optional[cst.BaseExpression]:
        return self.analysis.target_argument(self.use, name.value) if self.use is not None else None

    def _parameter(self, name: cst.Name) -> Optional[cst.Param]:
        if self.definition is None:
            return None
        for binding in self.analysis.assignments(name):
            param = self.analysis.parent(binding.node)
            if isinstance(param, cst.Param) and self.analysis.parent(self.analysis.parent(param)) \
                    is self.definition:
                return param
        return None

    def value(self, expr: cst.BaseExpression) -> Optional[Amount]:
        """The value of an integer expression."""
        if isinstance(expr, cst.Integer):
            return Amount.of(int(expr.evaluated_value))
        if isinstance(expr, cst.Name):
            param = self._parameter(expr)
            if param is not None:
                passed = self._argument(expr)
                if passed is not None:
                    return self.outer.value(passed)
                return self.value(param.default) if param.default is not None else None
            bindings = self.analysis.assignments(expr)
            if len(bindings) != 1 or _loop_bound(self.analysis, bindings[0].node):
                return None
            value = self.analysis.assigned_value(bindings[0].node)
            if isinstance(value, cst.Integer):
                return Amount.of(int(value.evaluated_value))
            return Amount.symbol(expr.value, bindings[0])
        if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):
            return self._attribute_value(expr)
        if isinstance(expr, cst.Call) and _builtin(self.analysis, expr.func) == "len" \
                and len(expr.args) == 1 and not expr.args[0].star:
            return self.iterations(expr.args[0].value)
        if isinstance(expr, cst.BinaryOperation):
            left, right = self.value(expr.left), self.value(expr.right)
            if left is None or right is None:
                return None
            if isinstance(expr.operator, cst.Add):
                return left + right
            if isinstance(expr.operator, cst.Subtract):
                return left - right
            if isinstance(expr.operator, cst.Multiply):
                return left * right
        return None

    def _attribute_value(self, expr: cst.Attribute) -> Optional[Amount]:
        """`self.pages`, stored once in the whole class: one symbol per object and
        attribute, so the parent's `range(self.pages)` matches the target's `range(pages)`
        it was passed."""
        bindings = self.analysis.assignments(expr.value)
        stores = self.analysis.stores_into(expr)
        if len(bindings) != 1 or len(stores) != 1 or _loop_bound(self.analysis, bindings[0].node):
            return None
        if isinstance(stores[0], cst.Integer):
            return Amount.of(int(stores[0].evaluated_value))
        return Amount({(f"{_text(expr)}#{id(bindings[0])}:{id(stores[0])}",): 1})

    def iterations(self, iterable: cst.BaseExpression) -> Optional[Amount]:
        """How many items iterating over `iterable` gives."""
        if isinstance(iterable, cst.Call):
            return self._call_iterations(iterable)
        if isinstance(iterable, (cst.List, cst.Tuple, cst.Set)):
            if any(isinstance(e, cst.StarredElement) for e in iterable.elements):
                return None
            return Amount.of(len(iterable.elements))
        if isinstance(iterable, (cst.ListComp, cst.SetComp, cst.GeneratorExp)):
            return self.comprehension_runs(iterable)
        if isinstance(iterable, cst.Name):
            return self.elements(iterable)
        return None

    def _call_iterations(self, call: cst.Call) -> Optional[Amount]:
        name = _builtin(self.analysis, call.func)
        args = [a for a in call.args if a.keyword is None]
        if any(a.star for a in call.args) or (len(args) != len(call.args) and name != "enumerate"):
            return None
        if name == "range" and len(args) == 1:
            return self.value(args[0].value)
        if name == "range" and len(args) == 2:
            start, stop = self.value(args[0].value), self.value(args[1].value)
            return stop - start if start is not None and stop is not None else None
        if name in {"list", "tuple", "set"} and not args:
            return Amount.of(0)
        if name in {"enumerate", "list", "tuple", "sorted", "reversed", "iter", "zip"} and len(args) == 1:
            return self.iterations(args[0].value)
        return None

    def comprehension_runs(self, comprehension: cst.BaseExpression) -> Optional[Amount]:
        """How many times a comprehension's element is computed (its `for` clauses)."""
        clause: Optional[cst.CompFor] = comprehension.for_in  # type: ignore[attr-defined]
        runs = Amount.of(1)
        first = True
        while clause is not None:
            if clause.ifs or clause.asynchronous is not None:
                return None
            count = self.iterations(clause.iter)
            if count is None or (not first and count.constant() is None):
                return None  # an inner clause may walk something the outer one picks
            runs, first = runs * count, False
            clause = clause.inner_for_in
        return runs

    def elements(self, name: cst.Name) -> Optional[Amount]:
        """How many elements the collection `name` holds."""
        if self._parameter(name) is not None:
            passed = self._argument(name)
            return self.outer.iterations(passed) if passed is not None else None
        bindings = self.analysis.assignments(name)
        if len(bindings) != 1 or _loop_bound(self.analysis, bindings[0].node):
            return None
        binding = bindings[0]
        value = self.analysis.assigned_value(binding.node)
        appended = self.analysis.appending_calls(name)
        if value is None or not _is_collection_display(self.analysis, value):
            return None if appended else Amount.symbol(f"len({name.value})", binding)
        total = self.iterations(value)
        for call in appended:
            runs = self.repeats(call, binding.node)
            if total is None or runs is None:
                return None
            total = total + runs
        return total

    def repeats(self, node: cst.CSTNode, outside: cst.CSTNode) -> Optional[Amount]:
        """How many times `node` runs each time `outside` runs once: the product of the
        loops and comprehensions around `node` that do not also hold `outside`. None
        when a condition or a `while` loop decides it."""
        total = Amount.of(1)
        child = node
        for ancestor in self.analysis.ancestors(node):
            if isinstance(ancestor, (cst.FunctionDef, cst.Lambda, cst.ClassDef, cst.Module)) \
                    or self.analysis.names.contains(ancestor, outside):
                return total
            runs: Optional[Amount] = Amount.of(1)
            if isinstance(ancestor, cst.For):
                if child is ancestor.body:
                    runs = self.iterations(ancestor.iter)
                elif child is ancestor.orelse:
                    runs = None
            elif isinstance(ancestor, (cst.ListComp, cst.SetComp, cst.GeneratorExp)):
                runs = self.comprehension_runs(ancestor) if child is ancestor.elt else None
            elif isinstance(ancestor, cst.DictComp):
                runs = self.comprehension_runs(ancestor) \
                    if child is ancestor.key or child is ancestor.value else None
            elif isinstance(ancestor, cst.If):
                runs = None if child is not ancestor.test else runs
            elif isinstance(ancestor, (cst.While, cst.ExceptHandler, cst.IfExp, cst.BooleanOperation)):
                runs = None
            if runs is None:
                return None
            total = total * runs
            child = ancestor
        return total

    def while_runs(self, loop: cst.While) -> Optional[Amount]:
        """How many times `while len(items) < N` (one `items.append` a pass) or `while
        n < N` (`n = 0` before, one `n += 1` a pass) runs."""
        test = loop.test
        if loop.orelse is not None or not isinstance(test, cst.Comparison) \
                or len(test.comparisons) != 1 \
                or not isinstance(test.comparisons[0].operator, (cst.LessThan, cst.NotEqual)) \
                or _jumps_out(loop.body) or not isinstance(loop.body, cst.IndentedBlock):
            return None
        limit = self.value(test.comparisons[0].comparator)
        left = test.left
        steps = loop.body.body
        if isinstance(left, cst.Call) and _builtin(self.analysis, left.func) == "len" \
                and len(left.args) == 1 and isinstance(left.args[0].value, cst.Name):
            items = left.args[0].value
            appended = self.analysis.appending_calls(items)
            if len(appended) == 1 and _statement_in(self.analysis, appended[0], steps) \
                    and _starts_empty(self.analysis, items):
                return limit
            return None
        if isinstance(left, cst.Name):
            bindings = self.analysis.assignments(left)
            if len(bindings) != 2:
                return None
            start = self.analysis.assigned_value(bindings[0].node)
            step = self.analysis.parent(bindings[1].node)
            if isinstance(start, cst.Integer) and int(start.evaluated_value) == 0 \
                    and isinstance(step, cst.AugAssign) and isinstance(step.operator, cst.AddAssign) \
                    and isinstance(step.value, cst.Integer) and int(step.value.evaluated_value) == 1 \
                    and _statement_in(self.analysis, step, steps):
                return limit
        return None


class _Counter:
    """How many times some calls (gets, puts) run when a piece of code runs once; None
    when that depends on the data. A `spoiler` (another use of the queue) makes any
    code holding it uncountable."""

    def __init__(self, analysis: ModuleAnalysis, sizes: _Sizes, wanted: Iterable[cst.Call],
                 spoilers: Iterable[cst.CSTNode] = ()) -> None:
        self.analysis = analysis
        self.sizes = sizes
        self.wanted = {id(call) for call in wanted}
        self.hot = _with_ancestors(analysis, wanted)
        self.spoiled = _with_ancestors(analysis, spoilers)

    def _holds(self, node: Optional[cst.CSTNode]) -> bool:
        return node is not None and id(node) in self.hot

    def block(self, block: cst.BaseSuite) -> Optional[Amount]:
        if isinstance(block, cst.IndentedBlock):
            return self.statements(block.body)
        return self._sum(block.body)  # type: ignore[attr-defined]

    def statements(self, body: Sequence[cst.BaseStatement]) -> Optional[Amount]:
        total = Amount.of(0)
        for index, statement in enumerate(body):
            count = self.statement(statement)
            if count is None:
                return None
            total = total + count
            if _ends_here(statement):
                break
            if any(self._holds(s) for s in body[index + 1:]) and _may_leave(self.analysis, statement):
                return None
        return total

    def statement(self, statement: cst.BaseStatement) -> Optional[Amount]:
        if id(statement) in self.spoiled:
            return None
        if not self._holds(statement):
            return Amount.of(0)
        if isinstance(statement, cst.SimpleStatementLine):
            return self._sum(statement.body)
        if isinstance(statement, cst.For):
            if self._holds(statement.orelse) or statement.asynchronous is not None \
                    or _jumps_out(statement.body):
                return None
            return self._times(self.sizes.iterations(statement.iter), statement.body,
                               self.expression(statement.iter))
        if isinstance(statement, cst.While):
            if self._holds(statement.test):
                return None
            return self._times(self.sizes.while_runs(statement), statement.body, Amount.of(0))
        if isinstance(statement, cst.If):
            if self._holds(statement.body) or self._holds(statement.orelse):
                return None
            return self.expression(statement.test)
        if isinstance(statement, cst.With):
            items = self._sum([item.item for item in statement.items])
            inner = self.block(statement.body)
            return items + inner if items is not None and inner is not None else None
        if isinstance(statement, cst.Try):
            if any(self._holds(h) for h in statement.handlers) or self._holds(statement.orelse):
                return None
            inner = self.block(statement.body)
            final = self.block(statement.finalbody.body) if statement.finalbody else Amount.of(0)
            return inner + final if inner is not None and final is not None else None
        return None

    def _times(self, runs: Optional[Amount], body: cst.BaseSuite,
               head: Optional[Amount]) -> Optional[Amount]:
        each = self.block(body)
        if runs is None or each is None or head is None:
            return None
        return head + runs * each

    def _sum(self, nodes: Sequence[cst.CSTNode]) -> Optional[Amount]:
        total = Amount.of(0)
        for node in nodes:
            count = self.expression(node)
            if count is None:
                return None
            total = total + count
        return total

    def expression(self, node: cst.CSTNode) -> Optional[Amount]:
        if id(node) in self.spoiled:
            return None
        if not self._holds(node):
            return Amount.of(0)
        if isinstance(node, (cst.Lambda, cst.FunctionDef, cst.ClassDef)):
            return None
        if isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
            return self._comprehension(node)
        if isinstance(node, cst.IfExp) and (self._holds(node.body) or self._holds(node.orelse)):
            return None
        if isinstance(node, cst.BooleanOperation) and self._holds(node.right):
            return None
        own = Amount.of(1 if id(node) in self.wanted else 0)
        children = self._sum(node.children)
        return own + children if children is not None else None

    def _comprehension(self, comprehension: cst.BaseExpression) -> Optional[Amount]:
        if isinstance(comprehension, cst.GeneratorExp) and not self._consumed(comprehension):
            return None
        clause: cst.CompFor = comprehension.for_in  # type: ignore[attr-defined]
        head = self.expression(clause.iter)
        inner = clause.inner_for_in
        while inner is not None:
            if self._holds(inner.iter):
                return None
            inner = inner.inner_for_in
        if isinstance(comprehension, cst.DictComp):
            each = self._sum([comprehension.key, comprehension.value])
        else:
            each = self.expression(comprehension.elt)  # type: ignore[attr-defined]
        runs = self.sizes.comprehension_runs(comprehension)
        if head is None or each is None or (runs is None and each != Amount.of(0)):
            return None
        return head + (runs * each if runs is not None else Amount.of(0))

    def _consumed(self, generator: cst.GeneratorExp) -> bool:
        """Whether a generator of gets runs to its end: the only argument of `list()`,
        `dict()`, `sorted()`, `items.extend()`, `"".join()` and the like."""
        arg = self.analysis.parent(generator)
        call = self.analysis.parent(arg) if isinstance(arg, cst.Arg) else None
        if not isinstance(call, cst.Call) or len(call.args) != 1 or arg.keyword is not None:  # type: ignore[union-attr]
            return False
        return _builtin(self.analysis, call.func) in CONSUMING_BUILTINS or \
            method_name(call) in CONSUMING_METHODS


def _puts(analysis: ModuleAnalysis, use: CallableUse, queue_use: QueueUse) -> Optional[Amount]:
    """How many items one run of the target puts on the queue, or None when that
    depends on the data or on code elsewhere (the queue handed on, puts in helpers)."""
    if any(receiver_method(analysis, node) not in QUIET_QUEUE_METHODS for node in queue_use.other_uses):
        return None
    definition = _target_definition(analysis, use)
    if not isinstance(definition, (cst.FunctionDef, cst.Lambda)) \
            or not all(analysis.names.contains(definition, put) for put in queue_use.puts):
        return None
    sizes = _Sizes(analysis, use, definition)
    counter = _Counter(analysis, sizes, queue_use.puts)
    if isinstance(definition, cst.Lambda):
        return counter.expression(definition.body)
    return counter.block(definition.body)


def _target_definition(analysis: ModuleAnalysis, use: CallableUse) -> Optional[cst.CSTNode]:
    """The code `use`'s target runs: a function or lambda, or a method of the module's own
    class (`target=self.produce`)."""
    target = analysis.unwrap_partial(use.callable_arg.value)
    return analysis.method_target(target) or analysis.definition_of(target)


def _puts_on_every_path(analysis: ModuleAnalysis, use: CallableUse,
                        queue_use: QueueUse) -> Optional[int]:
    """How many items the target puts on the queue on every path through it (to a return or
    its end), when its branches (`if`/`else`, `try`/`except`, an early `return`) all put the
    same number; None when the number differs or cannot be told. Only the message uses it:
    the rewrite counts puts where no branch decides them."""
    if any(receiver_method(analysis, node) not in QUIET_QUEUE_METHODS for node in queue_use.other_uses):
        return None
    definition = _target_definition(analysis, use)
    if not isinstance(definition, cst.FunctionDef) \
            or not all(analysis.names.contains(definition, put) for put in queue_use.puts):
        return None
    counter = _Counter(analysis, _Sizes(analysis, use, definition), queue_use.puts)
    ends = _PathCounts(analysis, counter, queue_use.puts).block(definition.body, {0})
    if ends is None:
        return None
    counts = ends[0] | ends[1]
    return counts.pop() if len(counts) == 1 else None


def _few_small_puts(analysis: ModuleAnalysis, use: CallableUse, queue_use: QueueUse,
                    depth: int) -> Optional[int]:
    """How many small items one run of `use`'s target puts on the queue on every path,
    with those of the processes it starts once and hands the queue to (`depth` levels
    down); None when a number or a size is not known."""
    if not queue_use.visible or not all(_small_item(analysis, put) for put in queue_use.puts):
        return None
    nested = 0
    for other in queue_use.other_uses:
        if receiver_method(analysis, other) in QUIET_QUEUE_METHODS:
            continue
        starts = [u for u in analysis.callable_uses() if u.owner_kind is Kind.PROCESS
                  and any(value is other for value in analysis.arguments(u).values())]
        if depth == 0 or len(starts) != 1 or analysis.in_loop(starts[0].call):
            return None
        inner = analysis.parameter_queue_use(starts[0], other)  # type: ignore[arg-type]
        count = None if inner is None else _few_small_puts(analysis, starts[0], inner, depth - 1)
        if count is None:
            return None
        nested += count
    every = _puts_on_every_path(analysis, use, replace(queue_use, other_uses=()))
    return None if every is None else every + nested


def _small_item(analysis: ModuleAnalysis, put: cst.Call) -> bool:
    return bool(put.args) and _small_value(analysis, put.args[0].value, depth=3)


def _small_value(analysis: ModuleAnalysis, value: cst.BaseExpression, depth: int) -> bool:
    """A value whose pickle is a few hundred bytes at most, whatever the program's data."""
    if depth == 0:
        return False
    if isinstance(value, (cst.Integer, cst.Float, cst.Imaginary)):
        return True
    if isinstance(value, cst.SimpleString):
        return len(value.value) <= SHORT_TEXT
    if isinstance(value, cst.UnaryOperation):
        return _small_value(analysis, value.expression, depth)
    if isinstance(value, (cst.Tuple, cst.List)):
        return len(value.elements) <= 8 and all(
            _small_value(analysis, e.value, depth - 1) for e in value.elements)
    if isinstance(value, cst.Call):
        return analysis.names.qualified_name(value.func) in SMALL_RESULTS
    if isinstance(value, cst.Name):
        if value.value in {"None", "True", "False"}:
            return True
        bindings = analysis.assignments(value)
        return bool(bindings) and all(_small_binding(analysis, b.node, depth) for b in bindings)
    return False


def _small_binding(analysis: ModuleAnalysis, target: cst.CSTNode, depth: int) -> bool:
    """A name bound to a small value, or to the exception an `except` caught (pickled as
    its class and arguments)."""
    holder = analysis.parent(target)
    if isinstance(holder, cst.AsName) and isinstance(analysis.parent(holder), cst.ExceptHandler):
        return True
    value = analysis.assigned_value(target)
    return value is not None and _small_value(analysis, value, depth - 1)


def _items(number: int) -> str:
    return "no item" if number == 0 else "exactly one item" if number == 1 \
        else f"exactly {number} items"


class _PathCounts:
    """The numbers of puts a piece of code may have made when it falls through and when
    it returns, one set each, from the numbers made before it; None when a path's number
    cannot be told (a loop of uncountable puts, a raise, a put inside an expression's branch)."""

    Ends = tuple[set[int], set[int]]  # (falls through, returns)

    def __init__(self, analysis: ModuleAnalysis, counter: _Counter,
                 puts: Iterable[cst.Call]) -> None:
        self.analysis = analysis
        self.counter = counter
        self.puts = {id(put) for put in puts}

    def block(self, block: cst.BaseSuite, before: set[int]) -> Optional["_PathCounts.Ends"]:
        body = block.body if isinstance(block, cst.IndentedBlock) else [block]  # type: ignore[list-item]
        return self.statements(body, before)  # type: ignore[arg-type]

    def statements(self, body: Sequence[cst.BaseStatement],
                   before: set[int]) -> Optional["_PathCounts.Ends"]:
        falls, returns = set(before), set()
        for statement in body:
            if not falls:
                break  # the rest cannot run
            ends = self.statement(statement, falls)
            if ends is None:
                return None
            falls, returns = ends[0], returns | ends[1]
        return falls, returns

    def statement(self, statement: cst.CSTNode,
                  before: set[int]) -> Optional["_PathCounts.Ends"]:
        if isinstance(statement, cst.If):
            if self.counter.expression(statement.test) != Amount.of(0):
                return None
            taken = self.block(statement.body, before)
            other = self.statement(statement.orelse, before) if statement.orelse is not None \
                else (set(before), set())
            if taken is None or other is None:
                return None
            return taken[0] | other[0], taken[1] | other[1]
        if isinstance(statement, cst.Else):
            return self.block(statement.body, before)
        if isinstance(statement, cst.Try):
            return self._try(statement, before)
        if isinstance(statement, cst.With) \
                and not any(self.counter._holds(item) for item in statement.items):
            return self.block(statement.body, before)
        if isinstance(statement, cst.SimpleStatementLine) \
                and any(isinstance(small, cst.Return) for small in statement.body):
            counted = self._counted(statement, before, allow_leaving=True)
            return (set(), counted) if counted is not None else None
        counted = self._counted(statement, before, allow_leaving=False)
        return (counted, set()) if counted is not None else None

    def _counted(self, statement: cst.CSTNode, before: set[int],
                 allow_leaving: bool) -> Optional[set[int]]:
        """`before` plus the puts of a statement every run of which makes the same number."""
        if not allow_leaving and _may_leave(self.analysis, statement):
            return None
        if isinstance(statement, cst.SimpleStatementLine) \
                and any(isinstance(small, cst.Raise) for small in statement.body):
            return None
        amount = self.counter.statement(statement)  # type: ignore[arg-type]
        number = amount.constant() if amount is not None else None
        return {count + number for count in before} if number is not None else None

    def _try(self, statement: cst.Try, before: set[int]) -> Optional["_PathCounts.Ends"]:
        """A handler runs after the body raised, so every put of the body must come at its
        very end (`q.put(result)` as its last line): a raise before it has put nothing."""
        body = statement.body.body
        last = body[-1] if body else None
        final = statement.finalbody
        if any(self.counter._holds(s) for s in body[:-1]) or not self._only_puts(last):
            return None
        if final is not None and (self.counter._holds(final) or _may_leave(self.analysis, final)):
            return None
        done = self.statements(body, before)
        if done is None:
            return None
        if statement.orelse is not None:
            after = self.block(statement.orelse.body, done[0])
            if after is None:
                return None
            done = after[0], done[1] | after[1]
        falls, returns = set(done[0]), set(done[1])
        for handler in statement.handlers:
            caught = self.block(handler.body, before)
            if caught is None:
                return None
            falls, returns = falls | caught[0], returns | caught[1]
        return falls, returns

    def _only_puts(self, statement: Optional[cst.CSTNode]) -> bool:
        """A line holding no puts, or only put calls: nothing after its put can raise."""
        if not self.counter._holds(statement):
            return True
        return isinstance(statement, cst.SimpleStatementLine) and all(
            isinstance(small, cst.Expr) and id(small.value) in self.puts for small in statement.body)


# -- small structural helpers --------------------------------------------------------------------


def receiver_method(analysis: ModuleAnalysis, name: cst.CSTNode) -> Optional[str]:
    """For the `x` of `x.method(...)`, the method's name."""
    attribute = analysis.parent(name)
    call = analysis.parent(attribute) if isinstance(attribute, cst.Attribute) else None
    if isinstance(call, cst.Call) and call.func is attribute and attribute.value is name:  # type: ignore[union-attr]
        return attribute.attr.value  # type: ignore[union-attr]
    return None


def _get_mode(call: cst.Call) -> str:
    """"blocking", "timeout" or "nonblocking" for a queue get."""
    if method_name(call) == "get_nowait":
        return "nonblocking"
    block = argument(call, "block", 0)
    if block is not None and not (isinstance(block.value, cst.Name) and block.value.value == "True"):
        return "nonblocking"
    timeout = argument(call, "timeout", 1)
    if timeout is not None and not (isinstance(timeout.value, cst.Name) and timeout.value.value == "None"):
        return "timeout"
    return "blocking"


def _builtin(analysis: ModuleAnalysis, func: cst.BaseExpression) -> Optional[str]:
    for name in analysis.qualified_names(func):
        if name.startswith("builtins."):
            return name[len("builtins."):]
    return None


def _is_process_name(analysis: ModuleAnalysis, name: cst.Name) -> bool:
    """A process, or a collection of processes."""
    return analysis.kind_of(name) is Kind.PROCESS or analysis.element_kind(name) is Kind.PROCESS


def _reads_process_state(analysis: ModuleAnalysis, name: cst.Name) -> bool:
    """Whether this read of a name can see a process's state (`p.exitcode`,
    `p.is_alive()`, `check(p)`, `procs[0]`); walking a collection of processes
    (`for _ in procs`, `len(procs)`) cannot."""
    if analysis.kind_of(name) is Kind.PROCESS:
        return True
    if analysis.element_kind(name) is not Kind.PROCESS:
        return False
    parent = analysis.parent(name)
    if isinstance(parent, (cst.For, cst.CompFor)) and parent.iter is name:
        return False
    call = analysis.parent(parent) if isinstance(parent, cst.Arg) else None
    return not (isinstance(call, cst.Call) and _builtin(analysis, call.func) in PURE_BUILTINS)


def _loop_bound(analysis: ModuleAnalysis, target: cst.CSTNode) -> bool:
    """A name a loop rebinds on every pass: a symbol for it would stand for many values."""
    return any(isinstance(a, (cst.For, cst.CompFor)) and analysis.names.contains(a.target, target)
               for a in analysis.ancestors(target))


def _returned_value(statement: cst.BaseStatement) -> Optional[cst.BaseExpression]:
    """The value of a line that is only `return value`."""
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1 \
            and isinstance(statement.body[0], cst.Return):
        return statement.body[0].value
    return None


def _starts_empty(analysis: ModuleAnalysis, name: cst.Name) -> bool:
    """Whether `name` is bound once, to `[]` or `list()`."""
    bindings = analysis.assignments(name)
    value = analysis.assigned_value(bindings[0].node) if len(bindings) == 1 else None
    if isinstance(value, cst.List):
        return not value.elements
    return isinstance(value, cst.Call) and not value.args and _builtin(analysis, value.func) == "list"


def _is_collection_display(analysis: ModuleAnalysis, value: cst.BaseExpression) -> bool:
    if isinstance(value, (cst.List, cst.Tuple, cst.Set, cst.ListComp, cst.SetComp)):
        return True
    return isinstance(value, cst.Call) and _builtin(analysis, value.func) in {"list", "tuple", "set"}


def _suite_joins(rule: JoinBeforeGet, suite: cst.CSTNode) -> bool:
    return isinstance(suite, cst.SimpleStatementSuite) and _only_joins(rule, suite)


def _only_joins(rule: JoinBeforeGet, line: Union[cst.SimpleStatementLine, cst.SimpleStatementSuite]) -> bool:
    joins = rule.joins_in(line)
    return all(isinstance(small, cst.Expr) and any(small.value is join for join in joins)
               for small in line.body)


def _block_body(analysis: ModuleAnalysis, statement: cst.BaseStatement) -> Sequence[cst.BaseStatement]:
    return analysis.parent(statement).body  # type: ignore[union-attr]


def _index(analysis: ModuleAnalysis, statement: cst.BaseStatement) -> int:
    return next(i for i, s in enumerate(_block_body(analysis, statement)) if s is statement)


def _statement_in(analysis: ModuleAnalysis, node: cst.CSTNode,
                  statements: Sequence[cst.BaseStatement]) -> bool:
    """Whether `node` is part of one of `statements` itself, not of a block nested in it."""
    statement = analysis.enclosing_statement(node)
    return any(statement is s for s in statements)


def _inside_definition(analysis: ModuleAnalysis, node: cst.CSTNode, outer: cst.CSTNode) -> bool:
    for ancestor in analysis.ancestors(node):
        if ancestor is outer:
            return False
        if isinstance(ancestor, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            return True
    return False


def _with_ancestors(analysis: ModuleAnalysis, nodes: Iterable[cst.CSTNode]) -> set[int]:
    found: set[int] = set()
    for node in nodes:
        found.add(id(node))
        found.update(id(a) for a in analysis.ancestors(node))
    return found


def _ends_here(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and \
        any(isinstance(small, (cst.Return, cst.Raise)) for small in statement.body)


class _Leaving(cst.CSTVisitor):
    """Finds what may end a block early: return, raise, yield, exits, and break or
    continue aimed at a loop outside the visited code."""

    def __init__(self, analysis: ModuleAnalysis) -> None:
        self.analysis = analysis
        self.loops = 0
        self.found = False

    def visit_Return(self, node: cst.Return) -> None:
        self.found = True

    def visit_Raise(self, node: cst.Raise) -> None:
        self.found = True

    def visit_Yield(self, node: cst.Yield) -> None:
        self.found = True

    def visit_Await(self, node: cst.Await) -> None:
        self.found = True

    def visit_Break(self, node: cst.Break) -> None:
        self.found = self.found or self.loops == 0

    def visit_Continue(self, node: cst.Continue) -> None:
        self.found = self.found or self.loops == 0

    def visit_Call(self, node: cst.Call) -> None:
        if self.analysis.qualified_names(node.func) & EXITS:
            self.found = True

    def visit_For(self, node: cst.For) -> None:
        self.loops += 1

    def leave_For(self, original_node: cst.For) -> None:
        self.loops -= 1

    def visit_While(self, node: cst.While) -> None:
        self.loops += 1

    def leave_While(self, original_node: cst.While) -> None:
        self.loops -= 1

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False


def _may_leave(analysis: ModuleAnalysis, statement: cst.CSTNode) -> bool:
    visitor = _Leaving(analysis)
    statement.visit(visitor)
    return visitor.found


def _jumps_out(body: cst.CSTNode) -> bool:
    """A loop body with break or continue for that loop: its passes are not all alike."""

    class Jumps(cst.CSTVisitor):
        found = False

        def visit_Break(self, node: cst.Break) -> None:
            self.found = True

        def visit_Continue(self, node: cst.Continue) -> None:
            self.found = True

        def visit_For(self, node: cst.For) -> bool:
            return False

        def visit_While(self, node: cst.While) -> bool:
            return False

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

    visitor = Jumps()
    body.visit(visitor)
    return visitor.found


def _variables(analysis: ModuleAnalysis, statement: cst.CSTNode) -> tuple[set[str], set[str]]:
    """The variables a statement reads and those it rebinds or changes in place (a method
    called on it, an item or attribute assigned), multiprocessing objects left out."""
    reads: set[str] = set()
    for name in analysis.names.loads_in(statement):
        if analysis.kind_of(name) is not None or _is_process_name(analysis, name):
            continue
        bindings = analysis.assignments(name)
        if bindings and all(b.imported is None and b.scope.kind in ("function", "module")
                            and not isinstance(b.node, (cst.FunctionDef, cst.ClassDef))
                            for b in bindings):
            reads.add(name.value)
    writes = set(statement_names(statement))
    for call in analysis.calls:
        if analysis.names.contains(statement, call) and isinstance(call.func, cst.Attribute) \
                and isinstance(call.func.value, cst.Name) and call.func.value.value in reads:
            writes.add(call.func.value.value)

    class Targets(cst.CSTVisitor):
        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            _root(node.target)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            _root(node.target)

    def _root(target: cst.BaseExpression) -> None:
        while isinstance(target, (cst.Attribute, cst.Subscript)):
            target = target.value
        if isinstance(target, cst.Name):
            writes.add(target.value)

    statement.visit(Targets())
    return reads, writes


def _has_effects(analysis: ModuleAnalysis, statement: cst.CSTNode) -> bool:
    """Whether a statement calls anything beyond queue gets, process queries, pure
    builtins and methods of its own variables (which `_variables` counts as changes)."""
    _, writes = _variables(analysis, statement)
    for call in analysis.calls:
        if not analysis.names.contains(statement, call):
            continue
        func = call.func
        if _builtin(analysis, func) in PURE_BUILTINS:
            continue
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
            receiver = func.value
            if receiver.value in writes or _is_process_name(analysis, receiver) or \
                    (analysis.kind_of(receiver) in QUEUE_KINDS and func.attr.value in DRAIN_METHODS):
                continue
        return True
    return False


def _relaid(original: Sequence[cst.BaseStatement], reordered: Sequence[cst.BaseStatement],
            moved: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement]:
    """Moved statements take their comments along but leave their blank lines to the
    next statement that stays (unless it has blank lines of its own)."""
    moved_ids = {id(s) for s in moved}
    inherited: dict[int, list[cst.EmptyLine]] = {}
    for index, statement in enumerate(original):
        blank, _ = split_leading_lines(statement.leading_lines)
        if id(statement) in moved_ids and blank:
            staying = next((s for s in original[index + 1:] if id(s) not in moved_ids), None)
            if staying is not None:
                inherited.setdefault(id(staying), blank)
    laid = []
    for statement in reordered:
        blank, own = split_leading_lines(statement.leading_lines)
        if id(statement) in moved_ids:
            statement = statement.with_changes(leading_lines=own)
        elif id(statement) in inherited and not blank:
            statement = statement.with_changes(leading_lines=[*inherited[id(statement)], *own])
        laid.append(statement)
    return laid



class JoinBeforeGetCommand(RuleCommand):
    rule = JoinBeforeGet


def _text(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


def object_reads(analysis: ModuleAnalysis, node: cst.CSTNode) -> Iterator[cst.BaseExpression]:
    """The names `node` reads, with `x.attr` in place of `x` where the attribute holds a
    multiprocessing object (`self.queue`, `self.proc`): what the checks below look at."""
    for name in analysis.names.loads_in(node):
        attribute = analysis.parent(name)
        if isinstance(attribute, cst.Attribute) and attribute.value is name \
                and analysis.kind_of(name) is None and analysis.kind_of(attribute) is not None:
            yield attribute
        else:
            yield name
