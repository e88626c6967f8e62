"""MP004 cooperative-shutdown: ask workers to stop instead of killing them with terminate()."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Optional, Union

import libcst as cst

from mpfix.analysis.module import CallableUse, ModuleAnalysis, api_family, keyword, method_name
from mpfix.findings import Safety
from mpfix.rulekit.rule import Fix, ImportSpec, Rule, Violation
from mpfix.rulekit.helpers import (RuleCommand, import_binding, node_code, own_nodes,
                           simple_statement, unused_name)
from mpfix.analysis.starters import FAMILIES, QUEUE_KINDS, RESOURCE_KINDS, Kind
from mpfix.analysis.testcode import enclosing_test

JOIN_TIMEOUT = 5
ASYNC_METHODS = frozenset({"map_async", "starmap_async", "apply_async", "imap", "imap_unordered"})
# What waits for (or hands over) the outcome of an async pool call.
RESULT_METHODS = frozenset({"get", "wait", "ready", "successful"})
PUT_METHODS = frozenset({"put", "put_nowait"})
# Methods that wait until another process acts: a worker inside one never sees a stop Event.
BLOCKING_METHODS = frozenset({"get", "recv", "recv_bytes", "accept", "acquire", "wait", "join"})
# Reads of a queue or pipe: a loop around one consumes what others send.
CONSUMING_METHODS = frozenset({"get", "get_nowait", "recv", "recv_bytes"})
CHANNEL_KINDS = QUEUE_KINDS | {Kind.PIPE}
# Waits that give up after a timeout, and where the timeout goes when passed by position.
TIMED_WAITS = {"join": 0, "wait": 0, "poll": 0, "get": 1, "acquire": 1}
# Clocks: a terminate() that runs once one of them passes a limit is a watchdog's deadline.
CLOCKS = frozenset({
    "time.time", "time.time_ns", "time.monotonic", "time.monotonic_ns", "time.perf_counter",
    "time.perf_counter_ns", "timeit.default_timer", "datetime.datetime.now",
    "datetime.datetime.utcnow",
})
# Calls after which the parent is gone.
EXIT_CALLS = frozenset({"sys.exit", "os._exit", "builtins.exit", "builtins.quit"})
# What a wait raises when its time runs out: a terminate() in its handler is a deadline's.
TIMEOUT_ERRORS = frozenset({
    "builtins.TimeoutError", "queue.Empty", "concurrent.futures.TimeoutError",
    "subprocess.TimeoutExpired", "asyncio.TimeoutError", "socket.timeout",
    *(f"{family}.{name}" for family in FAMILIES
      for name in ("TimeoutError", "context.TimeoutError", "queues.Empty")),
})
# Builtins whose result is never None: a queue item they produce cannot be a None sentinel.
NEVER_NONE_BUILTINS = frozenset({
    "abs", "bin", "bool", "bytes", "chr", "dict", "divmod", "enumerate", "float", "format",
    "frozenset", "hash", "hex", "int", "len", "list", "oct", "ord", "pow", "range", "repr",
    "round", "set", "sorted", "str", "sum", "tuple", "zip",
})

# The advice where no fix is offered; `mpfix rule MP004` shows the whole shutdown.
COOPERATIVE = "stop it with a sentinel or Event"
KILLS = "`{receiver}.terminate()` may kill the worker holding a lock or pipe"


@dataclass
class QueueConsumer:
    """The worker loops on `<parameter>.get()`; `sentinel` is the value it already stops at."""

    parameter: str
    get_line: Optional[cst.SimpleStatementLine] = None  # `item = q.get()` inside a `while`
    sentinel: Optional[cst.BaseExpression] = None


@dataclass
class PollingLoop:
    """The worker repeats `while True:` (or `while flag:`) until something kills it."""

    loop: cst.While


@dataclass
class EventLoop:
    """The worker already runs `while not <parameter>.is_set():`."""

    parameter: str


Shape = Union[QueueConsumer, PollingLoop, EventLoop]


@dataclass
class Shutdown:
    """One `p.terminate()` the fix turns into a stop signal followed by a join."""

    call: cst.Call
    line: cst.SimpleStatementLine
    receiver: cst.Name
    loop: Optional[cst.For]  # the `for p in procs:` whose body holds the call
    creation: cst.Call
    use: CallableUse
    function: cst.FunctionDef
    shape: Shape
    handle: Optional[cst.Name]  # the parent's queue (consumer) or event (event loop)

    @property
    def anchor(self) -> cst.BaseStatement:
        """The statement of the block the stop signals go before."""
        return self.loop if self.loop is not None else self.line


class CooperativeShutdown(Rule):
    """Stop workers by asking them to, not with `terminate()`.

    What it finds:
    `terminate()` on a multiprocessing Process (resolved by qualified name:
    `subprocess.Popen`, thread pools and other classes with a terminate method are
    never touched) where the guideline's hazard exists and the worker could have
    been asked to stop instead: it loops reading a queue or pipe (a consumer), or it
    was handed a queue, pipe, lock, semaphore, event, shared Value/Array or manager
    proxy that the parent or another process still uses after the kill; and its code
    has a loop, a place where it could check a stop signal. `Pool.terminate()` while
    async work submitted to the pool (`apply_async`, `map_async`, `imap`...) has not
    been waited for. The terminate() hidden in leaving a `with Pool(...) as pool:`
    block, with async results fetched only after the block, is MP006
    pool-lifecycle's to report and fix.

    Accepted, and not reported:
    after a completed `join()` (for a pool, `close()` and `join()`), where
    terminate() is a no-op; after `join(timeout)`, with or without an `is_alive()`
    check, as the last resort; a watchdog's kill at a deadline, under a test of a
    clock (`time.monotonic() - start > limit`) or of a wait's timeout (`if not
    done.wait(5)`), or in the handler of a timeout error (`queue.Empty`,
    `TimeoutError`); a worker whose code runs straight through with no loop (a call
    into C, an external program, one library call), which has nowhere to check a
    signal; a test function or method of a test module, whose subject is the process
    it kills; a worker that shares nothing still in use; a pool whose work has all
    been waited for (what leaving `with Pool()` does); an instance of a Process
    subclass that overrides terminate() (its own shutdown, often an Event it sets).

    Why:
    The guideline "avoid terminating processes": `Process.terminate()` kills a
    worker in the middle of whatever it holds and can leave shared resources broken
    for every other process: a consumer waiting in `Queue.get()` holds the queue's
    read lock, a worker inside `with value.get_lock():` holds the Value's lock, a
    producer may die half-way through writing to a pipe. `Pool.terminate()` throws
    away the outstanding work. The cooperative way is the one the guidelines' own
    worker example shows: the worker stops at a sentinel it reads from its queue,
    or at an Event it checks, and the parent joins it.

    Example:
        def worker(tasks, results):
            while True:
                n = tasks.get()
                results.put(n * n)

        ...
        p.terminate()
        p.join()

    Fixed:
        def worker(tasks, results):
            while True:
                n = tasks.get()
                if n is None:
                    break
                results.put(n * n)

        ...
        tasks.put(None)
        p.join(timeout=5)
        if p.is_alive():
            p.terminate()
        p.join()

    Fix safety:
    Unsafe for processes: the worker's code changes. A queue consumer gets a
    sentinel check (None when no item put on that queue can be None, else a
    module-level string constant) and the parent puts one sentinel per consumer
    of the queue; a polling loop gets a `multiprocessing.Event` parameter, its
    loop runs `while not stop.is_set():`, its `time.sleep(t)` becomes
    `stop.wait(t)` and the parent sets the event. Either way the parent then
    joins with a timeout and terminates only a worker that did not stop; a join
    that already follows is kept, never doubled. `Pool.terminate()` becomes
    `close()` and `join()` (or only `close()` where a join follows): safe, the work
    finishes. Terminating a worker whose code is not visible or whose loop has
    another shape is reported only, and so is one the parent keeps in an attribute, a
    container, a parameter or a return value: the finding says where it was kept.
    """

    code = "MP004"
    name = "cooperative-shutdown"
    fix_safety = "mixed"

    def check(self) -> Iterable[Violation]:
        # As the Process calls show them: a rewrite passes what is visible there.
        self._uses = self.analysis.callable_uses(through_helpers=False)
        self._shapes: dict[int, Union[Shape, str]] = {}
        shutdowns: list[Shutdown] = []
        for call in self.analysis.calls:
            if method_name(call) != "terminate" or call.args:
                continue
            kind = self.analysis.receiver_kind(call)
            if kind not in (Kind.POOL, Kind.PROCESS) or self._accepted(call) \
                    or self._own_terminate(call):
                continue
            if kind is Kind.POOL:
                violation = self._pool_terminate(call)
                if violation is not None:
                    yield violation
                continue
            found = self._shutdown(call)
            if isinstance(found, Shutdown):
                shutdowns.append(found)
            elif found is not None:
                yield Violation(call, found)
        yield from self._rewrites(shutdowns)

    # -- terminate() where the guideline has no objection -------------------------------

    def _accepted(self, call: cst.Call) -> bool:
        """A terminate() that cannot be replaced by asking: the test's own subject, a no-op
        after a completed join, the fallback after `join(timeout)`, or a watchdog's kill
        at a deadline."""
        receiver = call.func.value  # type: ignore[attr-defined]
        return (self.context.is_test_code and enclosing_test(self.analysis, call) is not None) \
            or any(self._joins(s, receiver) and not self._rebound_between(receiver, s, call)
                   for s in self._completed_before(call)) \
            or self._at_deadline(call) or self._aborts_after(call)

    def _aborts_after(self, call: cst.Call) -> bool:
        """The parent gives up right after the kill (`raise`, `sys.exit()` next): nothing
        of its goes on to use what the worker held, as in an error path that stops
        every worker and raises."""
        following = next(self._runs_after(call), None)
        if not isinstance(following, cst.SimpleStatementLine) or not following.body:
            return False
        first = following.body[0]
        if isinstance(first, cst.Raise):
            return True
        return isinstance(first, cst.Expr) and isinstance(first.value, cst.Call) \
            and bool(self.analysis.qualified_names(first.value.func) & EXIT_CALLS)

    def _own_terminate(self, call: cst.Call) -> bool:
        """A Process subclass that overrides terminate(): calling it runs the class's own
        shutdown, not Process.terminate()."""
        receiver = call.func.value  # type: ignore[attr-defined]
        for creation in self.analysis.creation_calls(receiver):
            cls = self.analysis.process_class(creation.func)
            while cls is not None:
                if any(isinstance(s, cst.FunctionDef) and s.name.value == "terminate"
                       for s in cls.body.body):
                    return True
                cls = next((self.analysis.process_class(b.value) for b in cls.bases
                            if self.analysis.process_class(b.value) is not None), None)
        return False

    def _rebound_between(self, name: cst.BaseExpression, first: cst.CSTNode, second: cst.CSTNode) -> bool:
        """Whether the variable `name` reads is bound again after `first` and before `second`,
        so that they see different objects (for a loop variable, the collection it walks)."""
        if not isinstance(name, cst.Name):
            return False
        loop = self.analysis.enclosing_loop_over(name)
        if loop is not None and _before(self.analysis, first, loop):
            return self._rebound_between(loop.iter, first, second)
        return any(_before(self.analysis, first, b.node) and _before(self.analysis, b.node, second)
                   for b in self.analysis.assignments(name))

    def _completed_before(self, node: cst.CSTNode) -> Iterator[cst.BaseStatement]:
        """The statements of `node`'s function that have run to their end whenever `node`
        runs: the earlier ones of each block around it (never a `try` body seen from its
        handlers, which may have left it half-way)."""
        child = node
        for ancestor in self.analysis.ancestors(node):
            if isinstance(ancestor, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                return
            if isinstance(ancestor, (cst.IndentedBlock, cst.Module)):
                yield from ancestor.body[:_index(list(ancestor.body), child)]
            child = ancestor

    def _runs_after(self, node: cst.CSTNode) -> Iterator[cst.BaseStatement]:
        """The statements of `node`'s function that run after it when nothing raises."""
        child = node
        for ancestor in self.analysis.ancestors(node):
            if isinstance(ancestor, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                return
            if isinstance(ancestor, (cst.IndentedBlock, cst.Module)):
                yield from ancestor.body[_index(list(ancestor.body), child) + 1:]
            child = ancestor

    def _joins(self, statement: cst.CSTNode, receiver: cst.BaseExpression,
               timed: Optional[bool] = None) -> bool:
        """Whether `statement` joins the process(es) or pool `receiver` names: a `.join()`
        line, or a `for` loop joining each element of the collection `receiver` iterates.
        `timed`: only joins with (True) or without (False) a timeout."""
        if isinstance(statement, cst.For) and isinstance(statement.target, cst.Name) \
                and isinstance(statement.body, cst.IndentedBlock) and isinstance(receiver, cst.Name):
            loop = self.analysis.enclosing_loop_over(receiver)
            return loop is not None and loop is not statement \
                and self._same_object(loop.iter, statement.iter) \
                and any(self._joins(s, statement.target, timed) for s in statement.body.body)
        if not isinstance(statement, cst.SimpleStatementLine):
            return False
        for small in statement.body:
            call = small.value if isinstance(small, cst.Expr) else None
            if isinstance(call, cst.Call) and method_name(call) == "join" \
                    and (timed is None or bool(call.args) == timed) \
                    and self._same_processes(call.func.value, receiver):  # type: ignore[attr-defined]
                return True
        return False

    def _same_processes(self, left: cst.BaseExpression, right: cst.BaseExpression) -> bool:
        """The same object, or loop variables over the same collection."""
        if self._same_object(left, right):
            return True
        if isinstance(left, cst.Name) and isinstance(right, cst.Name):
            first = self.analysis.enclosing_loop_over(left)
            second = self.analysis.enclosing_loop_over(right)
            return first is not None and second is not None and self._same_object(first.iter, second.iter)
        return False

    def _at_deadline(self, call: cst.Call) -> bool:
        """A watchdog's kill: the terminate() runs once a clock passed a limit or a wait ran
        out of time (under such a test, or in the handler of a timeout error)."""
        for ancestor in self.analysis.ancestors(call):
            if isinstance(ancestor, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                return False
            if isinstance(ancestor, cst.ExceptHandler) and self._catches_timeout(ancestor):
                return True
            if isinstance(ancestor, (cst.If, cst.While)) and self._waited_or_timed(ancestor.test):
                return True
        return False

    def _catches_timeout(self, handler: cst.ExceptHandler) -> bool:
        caught = handler.type
        types = [e.value for e in caught.elements] if isinstance(caught, cst.Tuple) else [caught]
        return any(self.analysis.qualified_names(t) & TIMEOUT_ERRORS for t in types if t is not None)

    def _waited_or_timed(self, expr: cst.BaseExpression, depth: int = 0) -> bool:
        """Whether `expr` reads a clock or the outcome of a wait with a timeout, directly or
        through local variables bound to such expressions."""
        names = self.analysis.names
        for call in names.within(self.analysis.calls, expr):
            if self.analysis.qualified_names(call.func) & CLOCKS or self._is_timed_wait(call):
                return True
        if depth >= 3:
            return False
        for name in names.loads_in(expr):
            for binding in self.analysis.assignments(name):
                value = self.analysis.assigned_value(binding.node)
                if value is not None and value is not expr and self._waited_or_timed(value, depth + 1):
                    return True
        return False

    def _is_timed_wait(self, call: cst.Call) -> bool:
        """`p.join(5)`, `event.wait(timeout=t)`, `conn.poll(1)`, `q.get(True, 5)`: a wait on
        another process that gives up after a while (never `", ".join(parts)`)."""
        method = method_name(call)
        if method not in TIMED_WAITS:
            return False
        if method == "join" and self.analysis.receiver_kind(call) is not Kind.PROCESS:
            return False
        timeout = keyword(call, "timeout")
        if timeout is None:
            arguments = _positional_args(call)
            position = TIMED_WAITS[method]
            blocking = arguments[0].value if position and arguments else None
            if position and not (isinstance(blocking, cst.Name) and blocking.value in ("True", "False")):
                return False  # `d.get(key, default)` is no wait
            timeout = arguments[position] if position < len(arguments) else None
        return timeout is not None and not (isinstance(timeout.value, cst.Name) and timeout.value.value == "None")

    # -- what the killed process holds -----------------------------------------------------

    def _endangers(self, creation: cst.Call, terminate: cst.Call) -> bool:
        """The guideline's hazard, and a worker that could have been asked to stop: it loops
        reading a queue or pipe, or it was handed a shared resource others still use after
        `terminate`; and its code (as far as it can be read) has a loop where it could
        check a stop signal. A worker that runs straight through (a call into C, an external
        program) cannot."""
        code, use = self._worker_code(creation)
        if isinstance(code, cst.Lambda) or (code is not None and not self._loops_in(code)):
            return False
        resources = self._handed_resources(creation, use, code)
        if code is None:  # unreadable code may be blocked reading a queue or pipe it was given
            if any(self._kind(r) in CHANNEL_KINDS for r, _ in resources):
                return True
        elif self._consumes(code, use):
            return True
        return any(global_read or self._still_used(r, creation, terminate) for r, global_read in resources)

    def _kind(self, name: cst.Name) -> Optional[Kind]:
        return self.analysis.kind_of(name) or self.analysis.element_kind(name)

    def _worker_code(self, creation: cst.Call) -> tuple[Union[cst.FunctionDef, cst.Lambda, None],
                                                          Optional[CallableUse]]:
        """What the process runs: the run() of a Process subclass that overrides it, else the
        target function (or lambda), with the use that hands it over; None when mpfix cannot
        read the code."""
        cls = self.analysis.process_class(creation.func)
        while cls is not None:
            run = next((s for s in cls.body.body
                        if isinstance(s, cst.FunctionDef) and s.name.value == "run"), None)
            if run is not None:
                return run, None
            cls = next((b for b in (self.analysis.process_class(base.value) for base in cls.bases)
                        if b is not None), None)
        use = next((u for u in self._uses if u.call is creation and u.role == "target"), None)
        if use is None:
            return None, None
        definition = self.analysis.definition_of(self.analysis.unwrap_partial(use.callable_arg.value))
        return (definition if isinstance(definition, (cst.FunctionDef, cst.Lambda)) else None), use

    def _worker_functions(self, code: cst.FunctionDef) -> list[cst.FunctionDef]:
        return [code, *self.analysis.helpers_called(code)]

    def _loops_in(self, code: cst.FunctionDef) -> bool:
        return any(_own_loops(function) for function in self._worker_functions(code))

    def _consumes(self, code: cst.FunctionDef, use: Optional[CallableUse]) -> bool:
        """A loop that reads a queue or pipe the worker was handed: `x = q.get()` in its body
        or `for x in iter(q.get, STOP)` (where mpfix cannot see what it was handed, a
        `.get()` / `.recv()` with no arguments)."""
        params = {p.name.value for p in (*code.params.posonly_params, *code.params.params,
                                         *code.params.kwonly_params)}
        for function in self._worker_functions(code):
            own = params if function is code else set()
            for loop in _own_loops(function):
                reads = [(c.func, bool(_positional_args(c))) for c in
                         self.analysis.names.within(self.analysis.calls, loop.body)]
                getter = _iterated_getter(loop) if isinstance(loop, cst.For) else None
                if getter is not None and "builtins.iter" in self.analysis.qualified_names(
                        loop.iter.func):  # type: ignore[attr-defined]
                    reads.append((getter, False))
                if any(isinstance(read, cst.Attribute) and read.attr.value in CONSUMING_METHODS
                       and self._is_channel(read.value, own, use, has_arguments)
                       for read, has_arguments in reads):
                    return True
        return False

    def _is_channel(self, receiver: cst.BaseExpression, params: set[str], use: Optional[CallableUse],
                    has_arguments: bool) -> bool:
        """Whether the object read is a queue or pipe (by what the parent passes for a
        parameter, or by its own kind); when that cannot be seen, whether it is read the way
        only queues and pipes are: `.get()` / `.recv()` with no arguments."""
        if isinstance(receiver, cst.Name) and receiver.value in params:
            passed = self.analysis.argument_for(use, receiver.value) if use is not None else None
            if passed is not None:
                return self.analysis.kind_of(passed) in CHANNEL_KINDS
        elif isinstance(receiver, cst.Name):
            return self.analysis.kind_of(receiver) in CHANNEL_KINDS
        return not has_arguments

    def _handed_resources(self, creation: cst.Call, use: Optional[CallableUse],
                          code: Optional[cst.FunctionDef]) -> list[tuple[cst.Name, bool]]:
        """The queues, pipes, locks, semaphores, events, shared values and proxies the
        process receives: its arguments, and the module-level ones its code reads (flagged
        True: any code of the module can reach those)."""
        passed = self.analysis.passed_arguments(use) if use is not None else None
        if passed is not None:
            candidates: list[cst.CSTNode] = [*passed[0], *passed[1].values()]
        else:  # `args=(*rest, q)`, `args=computed`, a Process subclass: every name handed over
            candidates = [n for a in creation.args for n in self.analysis.names.loads_in(a.value)]
        found = [(n, False) for n in candidates
                 if isinstance(n, cst.Name) and self._kind(n) in RESOURCE_KINDS]
        for function in self._worker_functions(code) if code is not None else ():
            for reads in self.analysis.global_reads(function).values():
                if self.analysis.kind_of(reads[0]) in RESOURCE_KINDS:
                    found.append((reads[0], True))
        return found

    def _still_used(self, resource: cst.Name, creation: cst.Call, terminate: cst.Call) -> bool:
        """Whether something besides the killed process uses `resource` (a value handed to
        it) after `terminate`: another process that still holds it, or the parent reading it
        afterwards (for a pipe, through either end)."""
        if self._held_by_other_processes(resource, creation, terminate):
            return True
        # Lines after the kill run after it only in its own function: a process that
        # reaches a helper's terminate() (a parameter, an attribute) was made elsewhere.
        function = self.analysis.enclosing_function(terminate)
        return any(_before(self.analysis, terminate, read) and read is not resource
                   and not self.analysis.names.contains(creation, read)
                   and self.analysis.enclosing_function(read) is function
                   for variable in (resource, *self._other_pipe_ends(resource))
                   for read in self.analysis.reads_of(variable))

    def _held_by_other_processes(self, resource: cst.Name, creation: cst.Call,
                                 terminate: cst.Call) -> bool:
        """Another Process is handed it, or every process a loop creates gets the same one
        while `terminate` stops only one of them."""
        if any(use.call is not creation for use, _ in self.analysis.processes_sharing(resource)):
            return True
        loop = next((a for a in self.analysis.ancestors(creation)
                     if isinstance(a, (cst.For, cst.While, cst.CompFor))), None)
        if loop is None or not self.analysis.in_loop(creation):
            return False
        per_process = all(self.analysis.names.contains(loop, b.node)
                          for b in self.analysis.assignments(resource))
        receiver = terminate.func.value  # type: ignore[attr-defined]
        stops_all = isinstance(receiver, cst.Name) and self.analysis.enclosing_loop_over(receiver) is not None
        return not per_process and not stops_all

    def _other_pipe_ends(self, resource: cst.Name) -> list[cst.Name]:
        """`parent_end` for `child_end` in `parent_end, child_end = Pipe()`."""
        ends: list[cst.Name] = []
        for binding in self.analysis.assignments(resource):
            element = self.analysis.parent(binding.node)
            pair = self.analysis.parent(element) if isinstance(element, cst.Element) else None
            value = self.analysis.assigned_value(pair) if isinstance(pair, (cst.Tuple, cst.List)) else None
            if value is not None and self.analysis.kind_of(value) is Kind.PIPE:
                ends.extend(e.value for e in pair.elements  # type: ignore[union-attr]
                            if isinstance(e.value, cst.Name) and e.value is not binding.node)
        return ends

    # -- Pool -------------------------------------------------------------------------

    def _pool_terminate(self, call: cst.Call) -> Optional[Violation]:
        receiver = call.func.value  # type: ignore[attr-defined]
        lost = self._lost_work(call, receiver)
        if lost is None:
            return None
        message = (f"`{node_code(receiver)}.terminate()` discards outstanding work (`{lost}`) and "
                   f"kills the workers mid-task: close() and join() the pool")
        line = self._sole_statement_line(call)
        certain = not self.analysis.through_flow(receiver) \
            or self.analysis.must_hold(receiver) is Kind.POOL
        fix = self._pool_fix(call, line, receiver) if line is not None and certain else None
        if not certain:
            message += " (if it is one)"  # reached through held_path(receiver)
        return Violation(call, message, fix)

    def _pool_fix(self, call: cst.Call, line: cst.SimpleStatementLine,
                  receiver: cst.BaseExpression) -> Optional[Fix]:
        """close() then join(), with no second join where one already follows."""
        joined_after = any(self._joins(s, receiver, timed=False) and not self._rebound_between(receiver, line, s)
                           for s in self._runs_after(line))
        closed_before = any(self._is_call_line(s, receiver, "close")
                            and not self._rebound_between(receiver, s, line)
                            for s in self._completed_before(line))
        close = call.func.with_changes(attr=cst.Name("close"))  # type: ignore[attr-defined]
        join = simple_statement(f"{node_code(receiver)}.join()")
        replacement: Union[cst.CSTNode, cst.RemovalSentinel, cst.FlattenSentinel]
        if closed_before and joined_after:
            if len(_siblings(self.analysis, line)) == 1:
                return None  # removing the line would leave its block empty
            node, replacement = line, cst.RemovalSentinel.REMOVE
        elif closed_before:
            node, replacement = line, join.with_changes(leading_lines=line.leading_lines)
        elif joined_after:
            node, replacement = call.func.attr, close.attr  # type: ignore[attr-defined]
        else:
            closed = line.with_changes(body=[cst.Expr(call.with_changes(func=close))])
            node, replacement = line, cst.FlattenSentinel([closed, join])
        return Fix({node: replacement}, Safety.SAFE)

    def _lost_work(self, call: cst.Call, pool: cst.BaseExpression) -> Optional[str]:
        """The async work submitted to `pool` before `call` and not yet waited for, which
        terminate() throws away; None when every submission was waited for (or ran
        synchronously: map, apply, starmap)."""
        if not isinstance(pool, cst.Name):
            return None
        function = self.analysis.enclosing_function(call)
        for submit in self.analysis.calls:
            if method_name(submit) in ASYNC_METHODS \
                    and self.analysis.same_variable(submit.func.value, pool) \
                    and self.analysis.enclosing_function(submit) is function \
                    and _before(self.analysis, submit, call) \
                    and not self._rebound_between(pool, submit, call):
                pending = self._unfetched(submit, call)
                if pending is not None:
                    return pending
        return None

    def _unfetched(self, submit: cst.Call, terminate: cst.Call) -> Optional[str]:
        """What names the result of `submit` when nothing has waited for it by `terminate`:
        a result read only afterwards, or (for the side effects of the project's own task
        code) work whose result is never read. A library call nobody reads the result of
        (`time.sleep`) is work nobody wants."""
        parent = self.analysis.parent(submit)
        holder = None if isinstance(parent, cst.Expr) else self._result_variable(submit)
        if holder is None and not isinstance(parent, cst.Expr):
            return None  # iterated, .get() at once, or handed on: consumed where it is used
        read_later = False
        if holder is not None:
            statement = self.analysis.enclosing_statement(submit)
            reads = [r for r in self.analysis.reads_of(holder)
                     if _before(self.analysis, submit, r) and not self._rebound_between(holder, submit, r)
                     and not (statement is not None and self.analysis.names.contains(statement, r))]
            if any(_before(self.analysis, r, terminate) for r in reads):
                return None
            read_later = bool(reads)
        if read_later or self._runs_project_code(submit):
            return holder.value if holder is not None else node_code(submit.func)
        return None

    def _runs_project_code(self, submit: cst.Call) -> bool:
        """Whether the task a pool call submits is a function or lambda of this module."""
        return any(isinstance(self.analysis.definition_of(self.analysis.unwrap_partial(u.callable_arg.value)),
                              (cst.FunctionDef, cst.Lambda))
                   for u in self._uses if u.call is submit)

    def _result_variable(self, call: cst.Call) -> Optional[cst.Name]:
        """`r` in `r = pool.map_async(...)`, `rs = [pool.apply_async(...) for ...]` or
        `rs.append(pool.apply_async(...))`."""
        node: cst.CSTNode = call
        parent = self.analysis.parent(node)
        while isinstance(parent, (cst.ListComp, cst.Element, cst.List, cst.Tuple)):
            if isinstance(parent, cst.ListComp) and parent.elt is not node:
                return None
            node, parent = parent, self.analysis.parent(parent)
        if isinstance(parent, cst.Assign) and len(parent.targets) == 1 \
                and isinstance(parent.targets[0].target, cst.Name):
            return parent.targets[0].target
        appending = self.analysis.parent(parent) if isinstance(parent, cst.Arg) else None
        if isinstance(appending, cst.Call) and method_name(appending) == "append" \
                and isinstance(appending.func.value, cst.Name):  # type: ignore[attr-defined]
            return appending.func.value  # type: ignore[attr-defined]
        return None

    # -- Process: which terminate() can become a cooperative stop ---------------------

    def _shutdown(self, call: cst.Call) -> Union[Shutdown, str, None]:
        """The rewrite for a Process's terminate(), a report message, or None when the
        process it kills holds nothing another process needs, or could not have been asked."""
        analysis = self.analysis
        receiver = call.func.value  # type: ignore[attr-defined]
        creations = [c for c in analysis.creation_calls(receiver) if analysis.call_kind(c) is Kind.PROCESS]
        if not any(self._endangers(c, call) for c in creations):
            return None
        kills = KILLS.format(receiver=node_code(receiver))
        path = analysis.held_path(receiver) if analysis.through_flow(receiver) else None
        if path is not None:
            # Reached through `path` (an attribute, a container, a parameter): not rewritten.
            return f"{kills}: {COOPERATIVE} (not fixed: kept in {path})"
        line = self._sole_statement_line(call)
        if line is None or not isinstance(receiver, cst.Name):
            return f"{kills}: {COOPERATIVE}"
        loop = self._loop_over(line, receiver)
        if len(creations) != 1 or (loop is None and analysis.in_loop(creations[0])) \
                or analysis.enclosing_function(creations[0]) is not analysis.enclosing_function(call):
            return f"{kills}: {COOPERATIVE} (not fixed: it may be one of several processes)"
        creation = creations[0]
        use = next((u for u in self._uses if u.call is creation and u.role == "target"), None)
        function = analysis.definition_of(analysis.unwrap_partial(use.callable_arg.value)) if use else None
        if use is None or not isinstance(function, cst.FunctionDef):
            return f"{kills}: {COOPERATIVE} (not fixed: {self._unseen_code(creation, use)})"
        shape = self._shape(function)
        if isinstance(shape, str):
            return f"{kills}: {COOPERATIVE} (not fixed: `{function.name.value}` {shape})"
        handle = None
        if isinstance(shape, (QueueConsumer, EventLoop)):
            passed = analysis.argument_for(use, shape.parameter)
            kinds = QUEUE_KINDS if isinstance(shape, QueueConsumer) else {Kind.EVENT}
            if not isinstance(passed, cst.Name) or analysis.kind_of(passed) not in kinds:
                return (f"{kills}: {COOPERATIVE} (not fixed: what the parent passes for "
                        f"`{shape.parameter}` is not visible)")
            handle = passed
        if isinstance(shape, QueueConsumer) and shape.sentinel is not None \
                and not self._survives_pickling(shape.sentinel):
            return (f"{kills}: use None or a string as its stop sentinel: "
                    f"`{node_code(shape.sentinel)}` is not equal to itself once pickled")
        return Shutdown(call, line, receiver, loop, creation, use, function, shape, handle)

    def _unseen_code(self, creation: cst.Call, use: Optional[CallableUse]) -> str:
        subclass = self.analysis.process_class(creation.func)
        if subclass is not None:
            return f"it runs `{subclass.name.value}.run()`"
        if use is None:
            return "the code it runs is not visible"
        return f"its target `{node_code(use.callable_arg.value)}` is not defined here"

    def _sole_statement_line(self, call: cst.Call) -> Optional[cst.SimpleStatementLine]:
        """The line holding `call` as its only statement, directly in a block."""
        expr = self.analysis.parent(call)
        line = self.analysis.parent(expr) if isinstance(expr, cst.Expr) else None
        if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 \
                and isinstance(self.analysis.parent(line), (cst.IndentedBlock, cst.Module)):
            return line
        return None

    def _is_call_line(self, statement: cst.CSTNode, receiver: cst.BaseExpression, method: str,
                      with_arguments: bool = False) -> bool:
        """A statement line calling `receiver.method(...)`, with or without arguments."""
        if not isinstance(statement, cst.SimpleStatementLine):
            return False
        for small in statement.body:
            call = small.value if isinstance(small, cst.Expr) else None
            if isinstance(call, cst.Call) and method_name(call) == method \
                    and bool(call.args) == with_arguments \
                    and self._same_object(call.func.value, receiver):  # type: ignore[attr-defined]
                return True
        return False

    def _same_object(self, left: cst.BaseExpression, right: cst.BaseExpression) -> bool:
        if isinstance(left, cst.Name):
            return self.analysis.same_variable(left, right)
        return node_code(left) == node_code(right)

    def _loop_over(self, line: cst.SimpleStatementLine, receiver: cst.Name) -> Optional[cst.For]:
        """The `for receiver in ...:` loop whose body holds `line`."""
        block = self.analysis.parent(line)
        loop = self.analysis.parent(block) if block is not None else None
        if isinstance(loop, cst.For) and loop.body is block and isinstance(loop.target, cst.Name) \
                and loop.target.value == receiver.value:
            return loop
        return None

    # -- the worker's loop --------------------------------------------------------------

    def _shape(self, function: cst.FunctionDef) -> Union[Shape, str]:
        key = id(function)
        if key not in self._shapes:
            self._shapes[key] = self._compute_shape(function)
        return self._shapes[key]

    def _compute_shape(self, function: cst.FunctionDef) -> Union[Shape, str]:
        params = {p.name.value for p in (*function.params.posonly_params, *function.params.params)}
        shapes: list[Union[Shape, str]] = []
        for loop in _top_level_loops(function.body):
            if isinstance(loop, cst.While):
                shapes.append(self._while_shape(loop, params))
            else:
                consumer = self._iter_consumer(loop, params)
                if consumer is not None:
                    shapes.append(consumer)
        if not shapes:
            return "runs no loop at its top level that mpfix can rewrite"
        if len(shapes) > 1:
            return "has several loops, and mpfix cannot tell which one the stop should end"
        shape = shapes[0]
        if isinstance(shape, PollingLoop) and not _can_take_parameter(function):
            return "takes default or keyword-only arguments, so mpfix cannot add a stop parameter"
        return shape

    def _iter_consumer(self, loop: cst.For, params: set[str]) -> Optional[QueueConsumer]:
        """`for item in iter(q.get, SENTINEL):`."""
        source = loop.iter
        if not (isinstance(source, cst.Call) and isinstance(source.func, cst.Name)
                and source.func.value == "iter" and not self.analysis.assignments(source.func)
                and len(source.args) == 2):
            return None
        getter = source.args[0].value
        if isinstance(getter, cst.Attribute) and getter.attr.value == "get" \
                and isinstance(getter.value, cst.Name) and getter.value.value in params:
            return QueueConsumer(getter.value.value, sentinel=source.args[1].value)
        return None

    def _while_shape(self, loop: cst.While, params: set[str]) -> Union[Shape, str]:
        if loop.orelse is not None:
            return "has a loop with an `else:` clause"
        statements = list(loop.body.body) if isinstance(loop.body, cst.IndentedBlock) else []
        for index, statement in enumerate(statements):
            parameter = _queue_get_parameter(statement, params)
            if parameter is not None:
                following = statements[index + 1] if index + 1 < len(statements) else None
                return QueueConsumer(parameter, statement,  # type: ignore[arg-type]
                                     _sentinel_checked(statement, following))  # type: ignore[arg-type]
        blocking = self._blocking_call(loop, params)
        if blocking is not None:
            return f"blocks in `{node_code(blocking)}` inside its loop"
        test = loop.test
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not) \
                and isinstance(test.expression, cst.Call) and method_name(test.expression) == "is_set" \
                and isinstance(test.expression.func.value, cst.Name) \
                and test.expression.func.value.value in params:  # type: ignore[attr-defined]
            return EventLoop(test.expression.func.value.value)  # type: ignore[attr-defined]
        if _is_true(test) or isinstance(test, (cst.Name, cst.Attribute)):
            return PollingLoop(loop)
        return f"loops on `{node_code(test)}`"

    def _blocking_call(self, loop: cst.While, params: set[str]) -> Optional[cst.Call]:
        """A call in the loop that waits without a timeout on an object the worker was given."""
        for call in self.analysis.calls:
            func = call.func
            if (method_name(call) in BLOCKING_METHODS and not call.args
                    and isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)
                    and func.value.value in params
                    and any(a is loop.body for a in self.analysis.ancestors(call))):
                return call
        return None

    def _survives_pickling(self, sentinel: cst.BaseExpression) -> bool:
        """A literal, or a module-level name bound to one: equal to itself in another process."""
        if _is_literal(sentinel):
            return True
        if isinstance(sentinel, cst.Name):
            bindings = self.analysis.assignments(sentinel)
            return bool(bindings) and all(
                b.scope is self.analysis.global_scope
                and _is_literal(self.analysis.assigned_value(b.node)) for b in bindings)
        return False

    # -- the rewrite ----------------------------------------------------------------------

    def _rewrites(self, shutdowns: list[Shutdown]) -> Iterator[Violation]:
        """One fix per block: every stop signal goes before the block's first terminate(),
        so that no worker is joined while the sentinel meant for it could still reach another."""
        blocks: dict[int, list[Shutdown]] = {}
        for shutdown in shutdowns:
            blocks.setdefault(id(self.analysis.parent(shutdown.anchor)), []).append(shutdown)
        for group in blocks.values():
            reports = self._incomplete(group)
            for shutdown, message in reports:
                yield Violation(shutdown.call, message)
            rewritable = [s for s in group if all(s is not r for r, _ in reports)]
            if not rewritable:
                continue
            fix = self._fix(rewritable)
            for shutdown in rewritable:
                yield Violation(shutdown.call, self._message(shutdown), fix)

    def _incomplete(self, group: list[Shutdown]) -> list[tuple[Shutdown, str]]:
        """Shutdowns whose rewrite would stop too much or break another caller, with why."""
        reports: list[tuple[Shutdown, str]] = []
        changed = True
        while changed:
            changed = False
            kept = [s for s in group if all(s is not r for r, _ in reports)]
            for shutdown in kept:
                message = self._why_incomplete(shutdown, kept)
                if message is not None:
                    reports.append((shutdown, message))
                    changed = True
                    break
        return reports

    def _why_incomplete(self, shutdown: Shutdown, group: list[Shutdown]) -> Optional[str]:
        kills = KILLS.format(receiver=shutdown.receiver.value)
        covered = {id(s.creation) for s in group}
        if isinstance(shutdown.shape, QueueConsumer) and shutdown.handle is not None:
            for use, parameter in self.analysis.processes_sharing(shutdown.handle):
                shape = self._consumer_shape(use)
                if isinstance(shape, QueueConsumer) and shape.parameter == parameter \
                        and id(use.call) not in covered:
                    return (f"{kills}: put one sentinel per consumer of "
                            f"`{shutdown.handle.value}` (others are not stopped here), then join "
                            "each")
        if isinstance(shutdown.shape, PollingLoop):
            function = shutdown.function
            uses = self.analysis.uses_of(function)
            handed = {id(u.callable_arg.value) for u in uses}
            elsewhere = [r for r in self.analysis.references_to(function)
                         if not any(id(a) in handed for a in [r, *self.analysis.ancestors(r)])]
            if elsewhere or any(id(u.call) not in covered for u in uses):
                return (f"{kills}: {COOPERATIVE} (not fixed: `{function.name.value}` is used "
                        f"elsewhere too)")
        return None

    def _consumer_shape(self, use: CallableUse) -> Optional[Shape]:
        function = self.analysis.definition_of(self.analysis.unwrap_partial(use.callable_arg.value))
        if not isinstance(function, cst.FunctionDef):
            return None
        shape = self._shape(function)
        return None if isinstance(shape, str) else shape

    def _message(self, shutdown: Shutdown) -> str:
        kills = KILLS.format(receiver=shutdown.receiver.value)
        shape = shutdown.shape
        if isinstance(shape, QueueConsumer):
            signal = f"put a stop sentinel on `{shutdown.handle.value}`"  # type: ignore[union-attr]
        elif isinstance(shape, EventLoop):
            signal = f"set `{shutdown.handle.value}`, the event it watches"  # type: ignore[union-attr]
        else:
            signal = "give the worker an Event to check, set it"
        return f"{kills}: {signal}, join with a timeout, then terminate if alive"

    def _fix(self, group: list[Shutdown]) -> Fix:
        edits = _Edits()
        imports: list[ImportSpec] = []
        taken: set[str] = set()
        signals: list[cst.BaseStatement] = []
        constant = self._stop_constant(group, edits, taken)
        for shutdown in group:
            shape = shutdown.shape
            if isinstance(shape, QueueConsumer):
                sentinel = node_code(shape.sentinel) if shape.sentinel is not None else constant or "None"
                if shape.sentinel is None:
                    self._add_sentinel_check(shape, sentinel, edits, taken)
                signals.append(self._repeated(shutdown, f"{shutdown.handle.value}.put({sentinel})", taken))  # type: ignore[union-attr]
            elif isinstance(shape, EventLoop):
                signal = simple_statement(f"{shutdown.handle.value}.set()")  # type: ignore[union-attr]
                if all(node_code(signal) != node_code(s) for s in signals):  # one set() per event
                    signals.append(signal)
            else:
                signal = simple_statement(f"{self._add_event(shutdown, edits, taken, imports)}.set()")
                if all(node_code(signal) != node_code(s) for s in signals):
                    signals.append(signal)
            edits.replace[shutdown.line] = self._last_resort_replacer(shutdown)
        block = _siblings(self.analysis, group[0].anchor)
        first = min((s.anchor for s in group), key=lambda node: _index(block, node))
        edits.before.setdefault(first, []).extend(signals)
        root = self._root(edits.keys())
        return Fix({root: root.visit(edits)}, Safety.UNSAFE, tuple(dict.fromkeys(imports)))

    def _repeated(self, shutdown: Shutdown, statement: str, taken: set[str]) -> cst.BaseStatement:
        """`statement` once, or once per process when the terminate() runs in a loop over them."""
        if shutdown.loop is None:
            return simple_statement(statement)
        gettext = any(isinstance(c.func, cst.Name) and c.func.value == "_" for c in self.analysis.calls)
        variable = unused_name(self.analysis, "_", taken) if gettext else "_"
        return cst.parse_statement(f"for {variable} in {node_code(shutdown.loop.iter)}:\n    {statement}\n")

    def _last_resort_replacer(self, shutdown: Shutdown) -> Callable[[cst.CSTNode], list[cst.BaseStatement]]:
        """`p.terminate()` -> `p.join(timeout)`, then terminate only a worker still alive."""
        receiver = shutdown.receiver.value
        # A join that already follows (`p.join()` next, or a later loop joining every
        # worker) waits for a terminated worker; a second one would be redundant.
        joined_after = any(self._joins(s, shutdown.receiver, timed=False)
                           and not self._rebound_between(shutdown.receiver, shutdown.line, s)
                           for s in self._runs_after(shutdown.line))

        def replace(updated: cst.CSTNode) -> list[cst.BaseStatement]:
            assert isinstance(updated, cst.SimpleStatementLine)
            body: list[cst.BaseStatement] = [updated.with_changes(leading_lines=())]
            if not joined_after:
                body.append(simple_statement(f"{receiver}.join()"))
            join = simple_statement(f"{receiver}.join(timeout={JOIN_TIMEOUT})")
            guard = cst.If(test=cst.parse_expression(f"{receiver}.is_alive()"),
                           body=cst.IndentedBlock(body=body))
            return [join.with_changes(leading_lines=updated.leading_lines), guard]

        return replace

    # -- sentinels ------------------------------------------------------------------------

    def _stop_constant(self, group: list[Shutdown], edits: "_Edits", taken: set[str]) -> Optional[str]:
        """None when every new sentinel can be None; else a module-level string constant."""
        needing = [s for s in group if isinstance(s.shape, QueueConsumer) and s.shape.sentinel is None]
        if all(self._none_is_free(s) for s in needing):
            return None
        name = unused_name(self.analysis, "STOP", taken)
        taken.add(name)
        put_strings = {arg for s in needing for arg in self._put_strings(s)}
        value, number = name, 2
        while value in put_strings:
            value, number = f"{name}_{number}", number + 1
        constant = simple_statement(f'{name} = "{value}"').with_changes(leading_lines=[cst.EmptyLine()])
        # After the imports and docstring that open the module, before any code that runs.
        body = self.analysis.module.body
        opening = 0
        while opening < len(body) and (_is_import_line(body[opening]) or _is_docstring(body[opening])):
            opening += 1
        if opening:
            edits.after[body[opening - 1]] = [constant]
        else:
            edits.before_keeping_lines[body[0]] = [constant.with_changes(leading_lines=())]
        return name

    def _worker_queues(self, shutdown: Shutdown) -> list[Optional[cst.BaseExpression]]:
        """What every process running this worker passes for its queue parameter."""
        shape = shutdown.shape
        assert isinstance(shape, QueueConsumer)
        return [self.analysis.argument_for(u, shape.parameter)
                for u in self.analysis.uses_of(shutdown.function)]

    def _none_is_free(self, shutdown: Shutdown) -> bool:
        """Whether no item put on any queue this worker reads can be None."""
        for queue in self._worker_queues(shutdown):
            if not isinstance(queue, cst.Name):
                return False
            uses = self.analysis.attribute_uses(queue)
            if uses is None:
                return False
            for attribute in uses:
                if attribute.attr.value not in PUT_METHODS:
                    continue
                call = self.analysis.parent(attribute)
                if not (isinstance(call, cst.Call) and call.args and self._never_none(call.args[0].value)):
                    return False
        return True

    def _put_strings(self, shutdown: Shutdown) -> Iterator[str]:
        for queue in self._worker_queues(shutdown):
            uses = self.analysis.attribute_uses(queue) if isinstance(queue, cst.Name) else None
            for attribute in uses or ():
                call = self.analysis.parent(attribute)
                if attribute.attr.value in PUT_METHODS and isinstance(call, cst.Call) and call.args \
                        and isinstance(call.args[0].value, cst.SimpleString):
                    yield str(call.args[0].value.evaluated_value)

    def _never_none(self, expr: cst.BaseExpression, depth: int = 0) -> bool:
        if isinstance(expr, (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString,
                             cst.ConcatenatedString, cst.FormattedString, cst.Tuple, cst.List,
                             cst.Dict, cst.Set, cst.ListComp, cst.SetComp, cst.DictComp,
                             cst.BinaryOperation, cst.UnaryOperation, cst.Comparison)):
            return True
        if isinstance(expr, cst.IfExp):
            return self._never_none(expr.body, depth) and self._never_none(expr.orelse, depth)
        if isinstance(expr, cst.Call):
            return isinstance(expr.func, cst.Name) and expr.func.value in NEVER_NONE_BUILTINS \
                and not self.analysis.assignments(expr.func)
        if not isinstance(expr, cst.Name) or expr.value == "None" or depth > 4:
            return False
        if expr.value in ("True", "False"):
            return True
        bindings = self.analysis.assignments(expr)
        for binding in bindings:
            value = self.analysis.assigned_value(binding.node)
            loop = self.analysis.parent(binding.node)
            if value is not None:
                if not self._never_none(value, depth + 1):
                    return False
            elif not (isinstance(loop, (cst.For, cst.CompFor)) and loop.target is binding.node
                      and isinstance(loop.iter, cst.Call) and isinstance(loop.iter.func, cst.Name)
                      and loop.iter.func.value == "range"):
                return False
        return bool(bindings)

    def _add_sentinel_check(self, shape: QueueConsumer, sentinel: str, edits: "_Edits",
                            taken: set[str]) -> None:
        """After `item = q.get()`: `if item is None: break` (`== STOP` for a string constant)."""
        line = shape.get_line
        if line is None or line in edits.replace:
            return
        assign = line.body[0]
        assert isinstance(assign, cst.Assign)
        target = assign.targets[0].target
        compare = "is" if sentinel == "None" else "=="
        if isinstance(target, cst.Name):
            item, unpack = target.value, None
        else:
            item = unused_name(self.analysis, "item", taken)
            taken.add(item)
            unpack = simple_statement(f"{node_code(target)} = {item}")
        check = cst.parse_statement(f"if {item} {compare} {sentinel}:\n    break\n")

        def replace(updated: cst.CSTNode) -> list[cst.BaseStatement]:
            assert isinstance(updated, cst.SimpleStatementLine)
            if unpack is not None:
                updated = updated.with_changes(body=[updated.body[0].with_changes(  # type: ignore[attr-defined]
                    targets=[cst.AssignTarget(cst.Name(item))])])
            return [updated, check] + ([unpack] if unpack is not None else [])

        edits.replace[line] = replace

    # -- events -----------------------------------------------------------------------------

    def _add_event(self, shutdown: Shutdown, edits: "_Edits", taken: set[str],
                   imports: list[ImportSpec]) -> str:
        """Create an Event beside the Process, pass it to the worker, loop until it is set."""
        analysis = self.analysis
        if id(shutdown.creation) in edits.events:
            return edits.events[id(shutdown.creation)]
        event = unused_name(analysis, "stop", taken)
        taken.add(event)
        edits.events[id(shutdown.creation)] = event
        self._add_stop_parameter(shutdown, edits)
        factory, needed = self._event_factory(shutdown.creation)
        imports.extend(needed)
        creation_statement = self._statement_beside(shutdown.creation, shutdown.anchor)
        edits.before.setdefault(creation_statement, []).append(simple_statement(f"{event} = {factory}()"))
        edits.replace[shutdown.creation] = _passing(shutdown.use, event)
        return event

    def _add_stop_parameter(self, shutdown: Shutdown, edits: "_Edits") -> None:
        """`stop` for the worker, its loop ending once it is set, its sleeps waiting on it."""
        function = shutdown.function
        if id(function) in edits.parameters:
            return
        # A name of the worker's own scope: it may equal the parent's event variable.
        parameter = unused_name(self.analysis, "stop")
        edits.parameters[id(function)] = parameter
        edits.replace[function.params] = lambda params: params.with_changes(  # type: ignore[attr-defined]
            params=[*params.params, cst.Param(cst.Name(parameter))])  # type: ignore[attr-defined]
        loop = shutdown.shape.loop  # type: ignore[union-attr]
        test = loop.test
        stopped = f"not {parameter}.is_set()"
        new_test = stopped if _is_true(test) else f"{node_code(test)} and {stopped}"
        edits.replace[loop] = lambda updated: updated.with_changes(  # type: ignore[attr-defined]
            test=cst.parse_expression(new_test))
        for sleep in self._sleeps(loop):
            edits.replace[sleep] = lambda updated: updated.with_changes(  # type: ignore[attr-defined]
                func=cst.parse_expression(f"{parameter}.wait"))

    def _sleeps(self, loop: cst.While) -> list[cst.Call]:
        """`time.sleep(t)` statements in the loop (not in functions defined inside it)."""
        found: list[cst.Call] = []
        for call in self.analysis.calls:
            expr = self.analysis.parent(call)
            if not isinstance(expr, cst.Expr) or "time.sleep" not in self.analysis.qualified_names(call.func):
                continue
            for ancestor in self.analysis.ancestors(call):
                if isinstance(ancestor, (cst.FunctionDef, cst.Lambda)):
                    break
                if ancestor is loop.body:
                    found.append(call)
                    break
        return found

    def _event_factory(self, creation: cst.Call) -> tuple[str, tuple[ImportSpec, ...]]:
        """`ctx.Event` beside `ctx.Process(...)`, else Event of the Process's module family."""
        func = creation.func
        if isinstance(func, cst.Attribute) and self.analysis.kind_of(func.value) is Kind.CONTEXT:
            return f"{node_code(func.value)}.Event", ()
        name = self.analysis.api_name(func)
        family = (api_family(name) if name else None) or "multiprocessing"
        return import_binding(self.analysis, family, "Event")

    def _statement_beside(self, node: cst.CSTNode, other: cst.CSTNode) -> cst.BaseStatement:
        """The statement holding `node` in the innermost block that also holds `other`."""
        other_chain = {id(a) for a in [other, *self.analysis.ancestors(other)]}
        child = node
        for ancestor in self.analysis.ancestors(node):
            if isinstance(ancestor, (cst.IndentedBlock, cst.Module)) and id(ancestor) in other_chain:
                return child  # type: ignore[return-value]
            child = ancestor
        raise AssertionError("every node lies in the module")

    def _root(self, nodes: Iterable[cst.CSTNode]) -> cst.CSTNode:
        """The innermost block holding every edited node: the one node the fix replaces."""
        chains = [[n, *self.analysis.ancestors(n)] for n in nodes]
        common = [a for a in chains[0] if all(any(a is b for b in chain) for chain in chains[1:])]
        for candidate in common:
            if isinstance(candidate, (cst.IndentedBlock, cst.Module)) \
                    and all(candidate is not n for n in nodes):
                return candidate
        return self.analysis.module


class _Edits(cst.CSTTransformer):
    """Edits keyed on original nodes and applied in one pass, so that nested ones compose."""

    def __init__(self) -> None:
        super().__init__()
        self.replace: dict[cst.CSTNode, Callable] = {}
        self.before: dict[cst.CSTNode, list[cst.BaseStatement]] = {}  # takes over comments above
        self.before_keeping_lines: dict[cst.CSTNode, list[cst.BaseStatement]] = {}
        self.after: dict[cst.CSTNode, list[cst.BaseStatement]] = {}
        self.parameters: dict[int, str] = {}  # worker function -> its stop parameter
        self.events: dict[int, str] = {}  # Process creation -> the Event passed to it

    def keys(self) -> list[cst.CSTNode]:
        return [*self.replace, *self.before, *self.before_keeping_lines, *self.after]

    def on_leave(self, original_node, updated_node):  # type: ignore[no-untyped-def]
        result = updated_node
        if original_node in self.replace:
            result = self.replace[original_node](updated_node)
        before = self.before.get(original_node, [])
        kept = self.before_keeping_lines.get(original_node, [])
        after = self.after.get(original_node, [])
        if not isinstance(result, list) and not (before or kept or after):
            return result
        statements = list(result) if isinstance(result, list) else [result]
        if before:
            first = statements[0]
            statements = [before[0].with_changes(leading_lines=first.leading_lines), *before[1:],
                          first.with_changes(leading_lines=()), *statements[1:]]
        return cst.FlattenSentinel([*kept, *statements, *after])


def _passing(use: CallableUse, value: str) -> Callable[[cst.CSTNode], cst.CSTNode]:
    """A replacer adding `value` as the last argument the Process passes to its target."""
    args_arg = use.args_arg

    def replace(updated: cst.CSTNode) -> cst.CSTNode:
        assert isinstance(updated, cst.Call)
        new_element = cst.Element(cst.Name(value))
        if args_arg is None:
            added = cst.Arg(keyword=cst.Name("args"), value=cst.parse_expression(f"({value},)"),
                            equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))
            return updated.with_changes(args=[*_with_comma(updated.args), added])
        new_args = []
        for arg in updated.args:
            if _same_arg(arg, args_arg):
                values = arg.value
                if isinstance(values, (cst.Tuple, cst.List)) and \
                        not any(isinstance(e, cst.StarredElement) for e in values.elements):
                    values = values.with_changes(elements=[*_with_comma(values.elements), new_element])
                else:
                    values = cst.parse_expression(f"(*{node_code(values)}, {value})")
                arg = arg.with_changes(value=values)
            new_args.append(arg)
        return updated.with_changes(args=new_args)

    return replace


def _same_arg(updated: cst.Arg, original: cst.Arg) -> bool:
    if original.keyword is not None:
        return updated.keyword is not None and updated.keyword.value == original.keyword.value
    return updated.keyword is None and node_code(updated.value) == node_code(original.value)


def _with_comma(items: Iterable) -> list:  # type: ignore[type-arg]
    """`items` with a ", " after the last one, so that one more can follow."""
    items = list(items)
    if items:
        items[-1] = items[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    return items


def _can_take_parameter(function: cst.FunctionDef) -> bool:
    params = function.params
    return (not isinstance(params.star_arg, (cst.Param, cst.ParamStar)) and not params.kwonly_params
            and params.star_kwarg is None
            and all(p.default is None for p in (*params.posonly_params, *params.params)))


def _top_level_loops(block: cst.BaseSuite) -> Iterator[Union[cst.While, cst.For]]:
    """Loops that run in every call of a function: in its body, or in a `try`/`with` there."""
    if not isinstance(block, cst.IndentedBlock):
        return
    for statement in block.body:
        if isinstance(statement, (cst.While, cst.For)):
            yield statement
        elif isinstance(statement, (cst.Try, cst.With)):
            yield from _top_level_loops(statement.body)


def _queue_get_parameter(statement: cst.BaseStatement, params: set[str]) -> Optional[str]:
    """`item = q.get()` with `q` a parameter: the parameter's name."""
    if not (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1):
        return None
    assign = statement.body[0]
    if not (isinstance(assign, cst.Assign) and len(assign.targets) == 1):
        return None
    call = assign.value
    if isinstance(call, cst.Call) and method_name(call) == "get" and not call.args \
            and isinstance(call.func.value, cst.Name) and call.func.value.value in params:  # type: ignore[attr-defined]
        return call.func.value.value  # type: ignore[attr-defined]
    return None


def _sentinel_checked(get_line: cst.SimpleStatementLine,
                      following: Optional[cst.BaseStatement]) -> Optional[cst.BaseExpression]:
    """The X of an existing `if item is X: break` (or `== X`, or `return`) after the get."""
    target = get_line.body[0].targets[0].target  # type: ignore[attr-defined]
    if not (isinstance(target, cst.Name) and isinstance(following, cst.If)
            and isinstance(following.body, cst.IndentedBlock)):
        return None
    test = following.test
    exits = following.body.body
    if not (len(exits) == 1 and isinstance(exits[0], cst.SimpleStatementLine)
            and isinstance(exits[0].body[0], (cst.Break, cst.Return))):
        return None
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        comparison = test.comparisons[0]
        if isinstance(comparison.operator, (cst.Is, cst.Equal)) and isinstance(test.left, cst.Name) \
                and test.left.value == target.value:
            return comparison.comparator
    return None


def _is_true(test: cst.BaseExpression) -> bool:
    return (isinstance(test, cst.Name) and test.value == "True") or \
        (isinstance(test, cst.Integer) and test.evaluated_value != 0)


def _is_literal(expr: Optional[cst.BaseExpression]) -> bool:
    return isinstance(expr, (cst.SimpleString, cst.Integer, cst.Float)) or \
        (isinstance(expr, cst.Name) and expr.value in ("None", "True", "False"))


def _is_import_line(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and \
        all(isinstance(s, (cst.Import, cst.ImportFrom)) for s in statement.body)


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1 \
        and isinstance(statement.body[0], cst.Expr) \
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))


def _siblings(analysis: ModuleAnalysis, statement: cst.CSTNode) -> list[cst.CSTNode]:
    block = analysis.parent(statement)
    return list(block.body) if isinstance(block, (cst.IndentedBlock, cst.Module)) else []


def _index(siblings: list[cst.CSTNode], statement: cst.CSTNode) -> int:
    return next((i for i, s in enumerate(siblings) if s is statement), len(siblings))


def _before(analysis: ModuleAnalysis, first: cst.CSTNode, second: cst.CSTNode) -> bool:
    """Whether `first` starts before `second` in the source."""
    start, other = analysis.position(first).start, analysis.position(second).start
    return (start.line, start.column) < (other.line, other.column)


def _own_loops(function: cst.FunctionDef) -> list[Union[cst.While, cst.For]]:
    """The `while` and `for` loops of a function's own body (not of functions or classes
    defined in it): the places where its code comes back and could check a stop signal."""
    return [node for node in own_nodes(function) if isinstance(node, (cst.While, cst.For))]


def _positional_args(call: cst.Call) -> list[cst.Arg]:
    return [a for a in call.args if a.keyword is None]


def _iterated_getter(loop: cst.For) -> Optional[cst.BaseExpression]:
    """`q.get` in `for item in iter(q.get, STOP):`."""
    source = loop.iter
    if isinstance(source, cst.Call) and isinstance(source.func, cst.Name) and len(source.args) == 2:
        return source.args[0].value
    return None


class CooperativeShutdownCommand(RuleCommand):
    rule = CooperativeShutdown
