"""MP006 pool-lifecycle: a pool or executor is closed where it is made, made once, and its
results are read before `with Pool()` terminates it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator, Optional, Sequence, Union

import libcst as cst

from mpfix.analysis.module import ModuleAnalysis, method_name
from mpfix.findings import Safety
from mpfix.analysis.lifecycle import FUNCTION_NODES, Fate, ResultReads, Shape, deferred_calls, owner
from mpfix.analysis.names import dotted_name
from mpfix.rulekit.rule import Fix, Rule, Violation
from mpfix.rulekit.helpers import (RuleCommand, node_code, simple_statement, split_leading_lines,
                           unused_name)
from mpfix.analysis.starters import Kind

POOL_KINDS = frozenset({Kind.POOL, Kind.EXECUTOR})
# Calls after which a pool or executor runs no more work.
CLOSING_METHODS = frozenset({"close", "terminate", "shutdown", "__exit__"})
# Methods whose call may wait for a pool's tasks another way (a queue they feed, a sleep).
MAYBE_WAITING = frozenset({"get", "get_nowait", "recv", "wait", "join", "result", "sleep",
                           "acquire", "poll"})
# Statements under which code runs on some iterations only.
BRANCHES = (cst.If, cst.Else, cst.IfExp, cst.ExceptHandler, cst.BooleanOperation, cst.MatchCase)
COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)
Block = Union[cst.IndentedBlock, cst.Module]
Loop = Union[cst.For, cst.While]


@dataclass
class Ownership:
    """A pool or executor whose whole life mpfix can see: what it is bound to and every use."""

    creation: cst.Call
    kind: Kind
    variable: Optional[cst.Name]  # the Name it is bound to; None for `Pool(4).map(...)`
    reads: list[cst.Name] = field(default_factory=list)
    closed: bool = False
    results: list[tuple[cst.Call, Fate]] = field(default_factory=list)

    @property
    def noun(self) -> str:
        return "pool" if self.kind is Kind.POOL else "executor"


class PoolLifecycle(Rule):
    """A pool or executor is left open, started anew on every iteration, or read after `with Pool()` ended it.

    What it finds:
    Pools of the multiprocessing family (`Pool`, `ctx.Pool`, `multiprocessing.pool.Pool`)
    and `concurrent.futures.ProcessPoolExecutor`, resolved by name (thread pools are
    never reported):
    a pool that is never closed, terminated or used in `with`, where it stays in the
    function that made it, or that got it from a function of the module that only makes
    and returns it (not returned, stored, or handed to a call that could close it;
    a ProcessPoolExecutor left open is not reported: when its function returns, its
    manager thread sees it freed, finishes the pending work and joins the workers); one
    started on every iteration of a loop, or on every call of a function
    that a loop calls, with the same arguments each time; and results of `map_async`,
    `apply_async`, `imap`... read after the `with Pool()` block they were submitted in,
    returned out of it, or submitted at its end with nothing waiting for them.

    Why:
    A pool's workers live as long as the Pool object: an open pool keeps its processes,
    pipes and threads until the garbage collector terminates it, and any pending result or
    a traceback that holds the function's frame keeps it alive, so the workers pile up
    ("Too many open files"), are killed with SIGTERM instead of finishing, and Python
    warns "unclosed running multiprocessing pool". A pool made per iteration starts its
    workers again every time, and under spawn and forkserver each of them imports the main
    module anew. `Pool.__exit__` calls `terminate()` (ProcessPoolExecutor's waits): a
    result read after the block never arrives, `get()` or the iterator hangs, and work
    nobody waited for inside the block is discarded.

    Example:
        def total(numbers):
            pool = multiprocessing.Pool(4)
            return sum(pool.map(square, numbers))

        with multiprocessing.Pool(4) as pool:
            pending = pool.map_async(square, numbers)
        print(pending.get())

    Fixed:
        def total(numbers):
            with multiprocessing.Pool(4) as pool:
                return sum(pool.map(square, numbers))

        with multiprocessing.Pool(4) as pool:
            pending = pool.map_async(square, numbers)
            print(pending.get())

    Fix safety:
    Safe: a pool or executor used in one block becomes a `with` block around its uses
    when every result is waited for inside it (an executor's exit waits for its work
    anyway); otherwise `close()` and `join()` follow its last use, when no return or
    break leaves that stretch early. Reads after `with Pool()` move into the block when
    they follow it in the same block and do not touch the pool; work submitted at the end
    of the block gets `close()` and `join()` before the block ends. Unsafe: a pool made on
    every iteration is made once before the loop and closed after it (a `with` around the
    loop): its workers then outlive one iteration, run the initializer once and, under
    fork, no longer see what the loop changed. Everything else is reported with what to do.
    """

    code = "MP006"
    name = "pool-lifecycle"
    fix_safety = "mixed"

    def check(self) -> Iterable[Violation]:
        self._results = ResultReads(self.analysis)
        for call in self.analysis.calls:
            kind = self.analysis.call_kind(call)
            if kind not in POOL_KINDS:
                kind = self._factory_kind(call)
            if kind in POOL_KINDS and not self._manager_proxy(call):
                violation = self._creation(call, kind)  # type: ignore[arg-type]
                if violation is not None:
                    yield violation
        for block, pool in self._pool_blocks():
            yield from self._results_after_block(block, pool)

    def _factory_kind(self, call: cst.Call) -> Optional[Kind]:
        """The kind of pool a call of one of the module's functions hands its caller when
        that function makes a fresh pool and only returns it (`def make_pool(n): return
        Pool(n)`): the caller owns that pool as if it had made it."""
        analysis = self.analysis
        factory = analysis.definition_of(call.func) if isinstance(call.func, cst.Name) else None
        if not isinstance(factory, cst.FunctionDef):
            return None
        kind = analysis.must_hold(call)
        creations = analysis.flow_creations(call)
        if kind not in POOL_KINDS or not creations:
            return None
        fresh = all(analysis.enclosing_function(creation) is factory
                    and not self._manager_proxy(creation) and self._only_returned(creation)
                    for creation in creations)
        return kind if fresh else None

    def _only_returned(self, creation: cst.Call) -> bool:
        """The pool leaves the function that made it only by `return`: a pool it also keeps
        (a cached singleton, an attribute) is shared, and no caller may close it."""
        analysis = self.analysis
        if isinstance(analysis.parent(creation), cst.Return):
            return True
        variable = self._bound_name(creation)
        if variable is None or not self._function_local(variable):
            return False
        reads = analysis.reads_of(variable)
        returned = {id(read) for read in reads if isinstance(analysis.parent(read), cst.Return)}
        return bool(returned) and all(id(read) in returned or self._use(read) == "uses"
                                      for read in reads)

    def _manager_proxy(self, call: cst.Call) -> bool:
        """`manager.Pool()`: the manager's process owns it."""
        func = call.func
        return isinstance(func, cst.Attribute) and self.analysis.kind_of(func.value) is Kind.MANAGER

    # -- one pool's life ------------------------------------------------------------------

    def _creation(self, call: cst.Call, kind: Kind) -> Optional[Violation]:
        ownership = self._ownership(call, kind)
        if ownership is None:
            return None
        loop = self._repeating_loop(call)
        local = ownership.variable is None or self._function_local(ownership.variable)
        if not ownership.closed and local and ownership.kind is Kind.EXECUTOR:
            # Freed when its function returns, an executor's manager thread sees it gone,
            # finishes the pending work and joins the workers: nothing leaks.
            return None
        if not ownership.closed and local:
            return self._unclosed(ownership, loop)
        if loop is not None:
            return self._per_iteration(ownership, loop)
        return self._per_call(ownership)

    def _ownership(self, call: cst.Call, kind: Kind) -> Optional[Ownership]:
        """The pool's uses, when it is a `with` item, a temporary or a variable that never
        leaves mpfix's sight; None when it is handed elsewhere."""
        analysis = self.analysis
        parent = analysis.parent(call)
        if isinstance(parent, cst.WithItem) and parent.item is call:
            return Ownership(call, kind, None, closed=True)
        if isinstance(parent, cst.Attribute) and parent.value is call:
            method_call = analysis.parent(parent)
            if not (isinstance(method_call, cst.Call) and method_call.func is parent):
                return None
            ownership = Ownership(call, kind, None, closed=parent.attr.value in CLOSING_METHODS)
            ownership.results = self._fates(deferred_calls([method_call], kind is Kind.POOL))
            return ownership
        variable = self._bound_name(call)
        if variable is None:
            return None
        function = owner(analysis, variable)
        ownership = Ownership(call, kind, variable, reads=analysis.reads_of(variable))
        for read in ownership.reads:
            use = self._use(read) if owner(analysis, read) is function else "escapes"
            if use == "escapes":
                return None
            ownership.closed = ownership.closed or use == "closes"
        calls = deferred_calls(self._method_calls(ownership.reads), kind is Kind.POOL)
        ownership.results = self._fates(calls)
        return ownership

    def _method_calls(self, reads: Iterable[cst.Name]) -> list[cst.Call]:
        """`read.method(...)` for each read that calls a method."""
        found = []
        for read in reads:
            attribute = self.analysis.parent(read)
            call = self.analysis.parent(attribute) if isinstance(attribute, cst.Attribute) else None
            if isinstance(call, cst.Call) and call.func is attribute:
                found.append(call)
        return found

    def _fates(self, calls: Iterable[tuple[cst.Call, Shape]]) -> list[tuple[cst.Call, Fate]]:
        return [(call, self._results.of_call(call, shape)) for call, shape in calls]

    def _bound_name(self, call: cst.Call) -> Optional[cst.Name]:
        """The Name an `=` binds the pool to (`pool = Pool()`, also as one branch of
        `Pool() if parallel else None`)."""
        node: cst.CSTNode = call
        parent = self.analysis.parent(node)
        while isinstance(parent, (cst.IfExp, cst.BooleanOperation)) and parent is not None \
                and getattr(parent, "test", None) is not node:
            node, parent = parent, self.analysis.parent(parent)
        if isinstance(parent, cst.Assign) and parent.value is node and len(parent.targets) == 1:
            target = parent.targets[0].target
            return target if isinstance(target, cst.Name) else None
        if isinstance(parent, cst.AnnAssign) and parent.value is node \
                and isinstance(parent.target, cst.Name):
            return parent.target
        return None

    def _use(self, read: cst.Name) -> str:
        """What a read of the pool's variable does with it: "closes", "uses" (a method call,
        a test), or "escapes" (hands it to code mpfix does not follow)."""
        analysis = self.analysis
        parent = analysis.parent(read)
        if isinstance(parent, cst.Attribute) and parent.value is read:
            call = analysis.parent(parent)
            if isinstance(call, cst.Call) and call.func is parent:
                return "closes" if parent.attr.value in CLOSING_METHODS else "uses"
            # A bound method handed on (`atexit.register(pool.close)`), or the pool's
            # internals (`pool._pool`): code elsewhere may end it or depend on it running.
            return "escapes"
        if isinstance(parent, cst.WithItem) and parent.item is read:
            return "closes"
        if isinstance(parent, (cst.Comparison, cst.ComparisonTarget, cst.UnaryOperation)):
            return "uses"
        if isinstance(parent, (cst.If, cst.While, cst.IfExp)) and parent.test is read:
            return "uses"
        if isinstance(parent, cst.BooleanOperation) and self._in_test(parent):
            return "uses"
        return "escapes"

    def _in_test(self, node: cst.CSTNode) -> bool:
        parent = self.analysis.parent(node)
        while isinstance(parent, (cst.BooleanOperation, cst.UnaryOperation)):
            node, parent = parent, self.analysis.parent(parent)
        return isinstance(parent, (cst.If, cst.While, cst.IfExp, cst.Assert)) \
            and parent.test is node

    def _function_local(self, variable: cst.Name) -> bool:
        """Bound in a function's own scope (not a global, not shared with a nested def)."""
        function = owner(self.analysis, variable)
        bindings = self.analysis.assignments(variable)
        return isinstance(function, cst.FunctionDef) and bool(bindings) \
            and all(b.scope.node is function for b in bindings)

    # -- never closed ---------------------------------------------------------------------------

    def _unclosed(self, ownership: Ownership, loop: Optional[cst.CSTNode]) -> Violation:
        name = ownership.variable.value if ownership.variable is not None else None
        what = f"`{name}`" if name else f"`{node_code(ownership.creation)}`"
        if ownership.kind is Kind.POOL:
            unclosed = f"pool {what} is never closed"
            message = f"{unclosed}, so the garbage collector terminates it"
            remedy = "use it in a `with` block, or close() and join() it after its last use"
        else:
            unclosed = f"executor {what} is never shut down"
            message = f"{unclosed}: its workers live on until the garbage collector finds it"
            remedy = "use it in a `with` block, or call shutdown() after its last use"
        if loop is not None:
            message = (f"{unclosed}, and a new one starts on every iteration of the loop at line "
                       f"{self._line(loop)}")
            remedy = "create it once, before the loop, and close it after its last use"
        return Violation(ownership.creation, f"{message}: {remedy}", self._closing_fix(ownership))

    def _closing_fix(self, ownership: Ownership) -> Optional[Fix]:
        if ownership.variable is None:
            return self._temporary_fix(ownership)
        analysis = self.analysis
        line = analysis.enclosing_statement(ownership.creation)
        block = analysis.parent(line) if line is not None else None
        if not (isinstance(line, cst.SimpleStatementLine) and isinstance(block, cst.IndentedBlock)
                and _single_assignment(line, ownership.creation)):
            return None
        index = _index(block.body, line)
        pool_end = self._last_statement(block, index, ownership.reads)
        if pool_end is None:
            return None
        fates = [fate for _, fate in ownership.results]
        # Where the results are read or handed on in this block: the pool lives past them,
        # so that code reading results as they come still does.
        inside, outside = self._split_outcomes(block, index, fates)
        end = max([pool_end, *inside])
        if self._rebound_within(ownership.variable, block.body[index + 1:end + 1]):
            return None
        if ownership.kind is Kind.EXECUTOR:  # its exit waits for every future
            return self._with_fix(block, index, end, ownership)
        if all(fate.waited_for for fate in fates) and not outside:
            return self._with_fix(block, index, end, ownership)
        # Results handed to other code may be inspected there while pending (a test of
        # timeouts): joining first would change what it sees.
        if all(fate.tracked for fate in fates) and not _leaves_early(block.body[index + 1:end + 1]):
            return self._close_join_fix(block, end, ownership.variable.value)
        return None

    def _last_statement(self, block: Block, index: int, nodes: Sequence[cst.CSTNode]) -> Optional[int]:
        """The last statement of `block` after `index` holding one of `nodes`; None when one
        lies elsewhere (or there are none)."""
        last = None
        for node in nodes:
            position = self._statement_index(block, node)
            if position is None or position <= index:
                return None
            last = position if last is None else max(last, position)
        return last

    def _split_outcomes(self, block: Block, index: int,
                        fates: list[Fate]) -> tuple[list[int], list[cst.CSTNode]]:
        """Statement indexes in `block` after `index` where results are read or handed on,
        and the reads that lie outside those statements."""
        inside: list[int] = []
        outside: list[cst.CSTNode] = []
        for fate in fates:
            for node in [*fate.reads, *fate.escapes]:
                position = self._statement_index(block, node)
                if position is not None and position > index:
                    inside.append(position)
                else:
                    outside.append(node)
        return inside, outside

    def _statement_index(self, block: Block, node: cst.CSTNode) -> Optional[int]:
        contains = self.analysis.names.contains
        for position, statement in enumerate(block.body):
            if contains(statement, node):
                return position
        return None

    def _rebound_within(self, variable: cst.Name, statements: Sequence[cst.CSTNode]) -> bool:
        contains = self.analysis.names.contains
        return any(b.node is not variable and any(contains(s, b.node) for s in statements)
                   for b in self.analysis.assignments(variable))

    def _with_fix(self, block: cst.IndentedBlock, index: int, end: int,
                  ownership: Ownership) -> Fix:
        line = block.body[index]
        assert isinstance(line, cst.SimpleStatementLine) and ownership.variable is not None
        moved = list(block.body[index + 1:end + 1])
        # The blank lines that set the creation apart do not belong under the `with` line.
        moved[0] = moved[0].with_changes(leading_lines=split_leading_lines(moved[0].leading_lines)[1])
        statement = cst.With(
            items=[cst.WithItem(ownership.creation,
                                asname=cst.AsName(cst.Name(ownership.variable.value)))],
            body=cst.IndentedBlock(body=moved, header=line.trailing_whitespace),
            leading_lines=line.leading_lines,
        )
        body = [*block.body[:index], statement, *block.body[end + 1:]]
        return Fix({block: block.with_changes(body=body)}, Safety.SAFE)

    def _close_join_fix(self, block: cst.IndentedBlock, end: int, name: str) -> Fix:
        closing = [simple_statement(f"{name}.close()"), simple_statement(f"{name}.join()")]
        body = [*block.body[:end + 1], *closing, *block.body[end + 1:]]
        return Fix({block: block.with_changes(body=body)}, Safety.SAFE)

    def _temporary_fix(self, ownership: Ownership) -> Optional[Fix]:
        """`Pool(4).map(f, xs)` -> `with Pool(4) as pool: ... pool.map(f, xs)`, for the calls
        whose results are complete when they return (an executor's exit waits for all)."""
        analysis = self.analysis
        line = analysis.enclosing_statement(ownership.creation)
        block = analysis.parent(line) if line is not None else None
        if not (isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1
                and isinstance(block, (cst.IndentedBlock, cst.Module))):
            return None
        if ownership.kind is Kind.POOL and not all(
                fate.waited_for and all(analysis.names.contains(line, r) for r in fate.reads)
                for _, fate in ownership.results):
            return None  # `Pool().imap(...)` read later: the block's exit would end its work
        if any(isinstance(a, (*COMPREHENSIONS, cst.Lambda))
               for a in _ancestors_below(analysis, ownership.creation, line)):
            return None
        name = self._fresh_name(line, ownership.noun)
        small = line.body[0].deep_replace(ownership.creation, cst.Name(name))
        statement = cst.With(
            items=[cst.WithItem(ownership.creation, asname=cst.AsName(cst.Name(name)))],
            body=cst.IndentedBlock(body=[line.with_changes(body=[small], leading_lines=())]),
            leading_lines=line.leading_lines,
        )
        return Fix({line: statement}, Safety.SAFE)

    # -- a pool per iteration -------------------------------------------------------------------

    def _repeating_loop(self, call: cst.Call) -> Optional[cst.CSTNode]:
        """The loop (or comprehension) that runs `call` on every iteration with the same
        arguments, when that loop goes through all its iterations (no break or return: a
        retry or search loop makes a pool again only when it must)."""
        analysis = self.analysis
        child: cst.CSTNode = call
        for ancestor in analysis.ancestors(call):
            if isinstance(ancestor, FUNCTION_NODES) or isinstance(ancestor, BRANCHES):
                return None
            if isinstance(ancestor, COMPREHENSIONS) and child is not getattr(ancestor, "for_in", None):
                return ancestor if self._invariant(call, ancestor) else None
            if isinstance(ancestor, (cst.For, cst.While)) and child is ancestor.body:
                if _leaves_loop(ancestor) or not self._invariant(call, ancestor):
                    return None
                return ancestor
            child = ancestor
        return None

    def _invariant(self, call: cst.Call, loop: cst.CSTNode) -> bool:
        """No name or attribute the creation reads is bound inside the loop."""
        analysis = self.analysis
        contains = analysis.names.contains
        for name in analysis.names.loads_in(call):
            if any(contains(loop, b.node) and b.imported is None for b in analysis.assignments(name)):
                return False
        read = {dotted_name(a) for a in _attributes(call)} - {""}
        return not (read & _assigned_attributes(loop))

    def _per_iteration(self, ownership: Ownership, loop: cst.CSTNode) -> Optional[Violation]:
        if not self._iteration_scoped(ownership, loop):
            return None
        message = (f"a new {ownership.noun}, with new worker processes, starts on every iteration "
                   f"of the loop at line {self._line(loop)}: create it once, before the loop, and "
                   f"close it after the loop")
        fix = self._hoist_fix(ownership, loop) if isinstance(loop, (cst.For, cst.While)) else None
        return Violation(ownership.creation, message, fix)

    def _iteration_scoped(self, ownership: Ownership, loop: cst.CSTNode) -> bool:
        """The pool lives within one iteration: every use of it lies in the loop."""
        contains = self.analysis.names.contains
        return all(contains(loop, read) for read in ownership.reads)

    def _hoist_fix(self, ownership: Ownership, loop: Loop) -> Optional[Fix]:
        body = loop.body
        if not isinstance(body, cst.IndentedBlock):
            return None
        item = self.analysis.parent(ownership.creation)
        if isinstance(item, cst.WithItem):
            block = self.analysis.parent(item)
            if isinstance(block, cst.With) and len(block.items) == 1 \
                    and any(s is block for s in body.body) and self._used_only_inside(block):
                return self._hoist_with(loop, body, block)
            return None
        return self._hoist_assignment(ownership, loop, body)

    def _used_only_inside(self, block: cst.With) -> bool:
        """The `as` name of the block is read and bound in its body only: hoisted, the pool
        stays open where code after the block (`pool.join()`) met it closed."""
        asname = block.items[0].asname
        if asname is None:
            return True
        if not isinstance(asname.name, cst.Name):
            return False
        contains = self.analysis.names.contains
        return all(contains(block.body, read) for read in self.analysis.reads_of(asname.name)) \
            and all(b.node is asname.name or contains(block.body, b.node)
                    for b in self.analysis.assignments(asname.name))

    def _hoist_with(self, loop: Loop, body: cst.IndentedBlock, block: cst.With) -> Optional[Fix]:
        """`for ...: with Pool() as p: BODY` -> `with Pool() as p: for ...: BODY`."""
        inner = block.body
        if not isinstance(inner, cst.IndentedBlock) or not inner.body:
            return None
        moved = list(inner.body)
        moved[0] = moved[0].with_changes(
            leading_lines=[*_comments(block.leading_lines), *moved[0].leading_lines])
        index = _index(body.body, block)
        new_loop = loop.with_changes(
            body=body.with_changes(body=[*body.body[:index], *moved, *body.body[index + 1:]]),
            leading_lines=())
        statement = block.with_changes(
            body=cst.IndentedBlock(body=[new_loop], header=inner.header),
            leading_lines=loop.leading_lines)
        return Fix({loop: statement}, Safety.UNSAFE)

    def _hoist_assignment(self, ownership: Ownership, loop: Loop,
                          body: cst.IndentedBlock) -> Optional[Fix]:
        """`for ...: pool = Pool(); ...; pool.close(); pool.join()` -> the creation before
        the loop, the closing lines after it."""
        variable = ownership.variable
        line = self.analysis.enclosing_statement(ownership.creation)
        if variable is None or not (isinstance(line, cst.SimpleStatementLine)
                                    and any(s is line for s in body.body)
                                    and _single_assignment(line, ownership.creation)):
            return None
        closing = [s for s in body.body if self._closing_line(s, variable)]
        if not closing or self._rebound_within(variable, [loop]):
            return None
        first_close = self.analysis.names.order[closing[0]]
        if any(self.analysis.names.order[r] > first_close and not any(
                self.analysis.names.contains(c, r) for c in closing) for r in ownership.reads):
            return None
        kept = [s for s in body.body if s is not line and all(s is not c for c in closing)]
        if not kept:
            return None
        created = line.with_changes(
            leading_lines=[*loop.leading_lines, *_comments(line.leading_lines)])
        new_loop = loop.with_changes(body=body.with_changes(body=kept), leading_lines=())
        after = [c.with_changes(leading_lines=()) for c in closing]
        return Fix({loop: cst.FlattenSentinel([created, new_loop, *after])}, Safety.UNSAFE)

    def _closing_line(self, statement: cst.BaseStatement, variable: cst.Name) -> bool:
        """`pool.close()`, `pool.join()`, `pool.terminate()`, `pool.shutdown(...)` alone on
        a line."""
        if not (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1):
            return False
        small = statement.body[0]
        call = small.value if isinstance(small, cst.Expr) else None
        return isinstance(call, cst.Call) and method_name(call) in CLOSING_METHODS | {"join"} \
            and self.analysis.same_variable(call.func.value, variable)  # type: ignore[attr-defined]

    def _per_call(self, ownership: Ownership) -> Optional[Violation]:
        """A function that makes a pool each time it runs, called in a loop."""
        analysis = self.analysis
        function = owner(analysis, ownership.creation)
        if not isinstance(function, cst.FunctionDef) or not self._every_call(ownership.creation, function) \
                or not self._iteration_scoped(ownership, function):
            return None
        for site in analysis.call_sites(function):
            loop = self._site_loop(site)
            if loop is not None:
                return Violation(ownership.creation, (
                    f"`{function.name.value}()` starts a new {ownership.noun} on every call, and "
                    f"the loop at line {self._line(loop)} calls it each time: create the "
                    f"{ownership.noun} once in the caller and pass it in"))
        return None

    def _every_call(self, call: cst.Call, function: cst.FunctionDef) -> bool:
        """`call` runs whenever `function` does, with arguments that do not depend on the
        call: no branch or loop around it, no name bound in the function read by it."""
        for ancestor in self.analysis.ancestors(call):
            if ancestor is function:
                break
            if isinstance(ancestor, (*BRANCHES, *COMPREHENSIONS, cst.For, cst.While, cst.Lambda)):
                return False
        return self._invariant(call, function)

    def _site_loop(self, site: cst.Call) -> Optional[Loop]:
        """The loop whose body runs `site` on every iteration, when it runs them all."""
        child: cst.CSTNode = site
        for ancestor in self.analysis.ancestors(site):
            if isinstance(ancestor, FUNCTION_NODES):
                return None
            if isinstance(ancestor, (cst.For, cst.While)) and child is ancestor.body:
                return None if _leaves_loop(ancestor) else ancestor
            child = ancestor
        return None

    # -- results read after `with Pool()` ended -----------------------------------------------

    def _pool_blocks(self) -> Iterator[tuple[cst.With, cst.Name]]:
        """`with Pool() as pool:` and `with pool:` blocks, with the pool's variable."""
        analysis = self.analysis
        for call in analysis.calls:
            item = analysis.parent(call)
            if isinstance(item, cst.WithItem) and item.item is call and item.asname is not None \
                    and isinstance(item.asname.name, cst.Name) \
                    and analysis.call_kind(call) is Kind.POOL and not self._manager_proxy(call):
                yield analysis.parent(item), item.asname.name  # type: ignore[misc]
        for name in analysis.names.loads:
            item = analysis.parent(name)
            if isinstance(item, cst.WithItem) and item.item is name \
                    and analysis.kind_of(name) is Kind.POOL:
                yield analysis.parent(item), name  # type: ignore[misc]

    def _results_after_block(self, block: cst.With, pool: cst.Name) -> Iterator[Violation]:
        analysis = self.analysis
        contains = analysis.names.contains
        submissions = [c for c in analysis.names.within(analysis.calls, block.body)
                       if isinstance(c.func, cst.Attribute)
                       and analysis.same_variable(c.func.value, pool)]
        if any(method_name(c) == "join" for c in submissions):
            return  # joined inside: every result is complete when the block ends
        late_reads: list[cst.CSTNode] = []
        first_wait: Optional[tuple[cst.CSTNode, cst.Call]] = None
        unwaited: list[cst.Call] = []
        for call, fate in self._fates(deferred_calls(submissions, receiver_is_pool=True)):
            if any(w.complete and contains(block, w.node) for w in fate.waits):
                continue  # waited for inside: complete before the exit
            if fate.discarded and not fate.reads and not fate.escapes:
                unwaited.append(call)  # `pool.apply_async(...)` alone on its line
            for escape in fate.escapes:
                if isinstance(escape, cst.Return) and contains(block, escape):
                    yield Violation(escape, (
                        f"the result of `{node_code(call.func)}()` is returned from `with ... as "
                        f"{pool.value}:`, which terminates the pool, so the caller's read hangs: "
                        f"wait for the results inside the block"))
            after = self.analysis.names.end[block]
            late = [r for r in fate.reads if analysis.names.order[r] > after]
            late_reads.extend(late)
            waits = [w.node for w in fate.waits if analysis.names.order[w.node] > after]
            if waits and first_wait is None:
                first_wait = (min(waits, key=analysis.names.order.__getitem__), call)
        if unwaited and first_wait is None:
            violation = self._work_lost(block, pool, unwaited)
            if violation is not None:
                yield violation
        if first_wait is None:
            return
        read, call = first_wait
        message = (f"{self._describe_read(read)} a result of `{node_code(call.func)}()` after "
                   f"`with ... as {pool.value}:` terminated the pool, and hangs: read it inside "
                   f"the block")
        yield Violation(read, message, self._move_reads_fix(block, pool, late_reads))

    def _work_lost(self, block: cst.With, pool: cst.Name,
                   unwaited: list[cst.Call]) -> Optional[Violation]:
        """Work submitted at the end of the block that nothing waits for: the exit's
        terminate() discards what has not finished. Only where the block ends right after
        the submissions: later code may wait another way (a queue the tasks feed, a sleep)."""
        body = block.body
        if not isinstance(body, cst.IndentedBlock):
            return None
        last = body.body[-1]
        calls = self.analysis.names.within(self.analysis.calls, last)
        submitted = [c for c in unwaited if self.analysis.names.contains(last, c)]
        if not submitted:
            return None
        after = self.analysis.names.order[submitted[0]]
        if any(self.analysis.names.order[c] > after and method_name(c) in MAYBE_WAITING
               for c in calls):
            return None
        call = submitted[0]
        message = (f"`{node_code(call.func)}()` submits work nobody waits for, which leaving "
                   f"`with ... as {pool.value}:` discards: call {pool.value}.close() and "
                   f"{pool.value}.join() at the end of the block")
        fix = None
        if not _leaves_early(body.body) and not _comments(body.footer):
            closing = [simple_statement(f"{pool.value}.close()"), simple_statement(f"{pool.value}.join()")]
            fix = Fix({body: body.with_changes(body=[*body.body, *closing])}, Safety.SAFE)
        return Violation(call, message, fix)

    def _describe_read(self, read: cst.CSTNode) -> str:
        loop = self.analysis.parent(read)
        if isinstance(loop, (cst.For, cst.CompFor)) and loop.iter is read:
            return f"`for ... in {node_code(read)}` iterates"
        return f"`{node_code(read)}` reads"

    def _move_reads_fix(self, block: cst.With, pool: cst.Name,
                        reads: list[cst.CSTNode]) -> Optional[Fix]:
        """The statements after the block, up to the last late read, moved into it."""
        analysis = self.analysis
        outer = analysis.parent(block)
        body = block.body
        if not (isinstance(outer, (cst.IndentedBlock, cst.Module)) and len(block.items) == 1
                and isinstance(body, cst.IndentedBlock) and not _comments(body.footer)):
            return None
        index = _index(outer.body, block)
        end = self._last_statement(outer, index, reads)
        if end is None:
            return None
        moved = list(outer.body[index + 1:end + 1])
        contains = analysis.names.contains
        touches = [*analysis.reads_of(pool), *(b.node for b in analysis.assignments(pool))]
        if any(contains(statement, node) for statement in moved for node in touches):
            return None  # `pool.join()` after the block would meet a running pool inside it
        statement = block.with_changes(body=body.with_changes(body=[*body.body, *moved]))
        new_body = [*outer.body[:index], statement, *outer.body[end + 1:]]
        return Fix({outer: outer.with_changes(body=new_body)}, Safety.SAFE)

    def _fresh_name(self, node: cst.CSTNode, base: str) -> str:
        """`base` where no code of the function around `node` names it, else a name no scope
        of the module uses."""
        function = owner(self.analysis, node)
        names = self.analysis.names
        if isinstance(function, cst.FunctionDef) \
                and all(n.value != base for n in names.within(names.name_nodes, function)):
            return base
        return unused_name(self.analysis, base)

    def _line(self, node: cst.CSTNode) -> int:
        return self.analysis.position(node).start.line


def _single_assignment(line: cst.SimpleStatementLine, creation: cst.Call) -> bool:
    """`name = <creation>` alone on its line."""
    if len(line.body) != 1 or not isinstance(line.body[0], cst.Assign):
        return False
    assign = line.body[0]
    return assign.value is creation and len(assign.targets) == 1 \
        and isinstance(assign.targets[0].target, cst.Name)


def _leaves_early(statements: Sequence[cst.CSTNode]) -> bool:
    """A return or raise among `statements`, or a break or continue of a loop around them:
    code after them would not run on that path."""
    for statement in statements:
        for node, loops in _walk_with_loops(statement):
            if isinstance(node, (cst.Return, cst.Raise)):
                return True
            if isinstance(node, (cst.Break, cst.Continue)) and not loops:
                return True
    return False


def _leaves_loop(loop: Loop) -> bool:
    """A return, or a break of this loop, in its body: it may stop after any iteration."""
    for node, loops in _walk_with_loops(loop.body):
        if isinstance(node, cst.Return) or (isinstance(node, cst.Break) and not loops):
            return True
    return False


def _walk_with_loops(root: cst.CSTNode) -> Iterator[tuple[cst.CSTNode, int]]:
    """Every node under `root` (not inside nested defs), with how many loops at or below
    `root` run it in their body (a loop's `else` belongs to the loop around it)."""
    stack: list[tuple[cst.CSTNode, int]] = [(root, 0)]
    while stack:
        node, loops = stack.pop()
        yield node, loops
        if isinstance(node, FUNCTION_NODES) and node is not root:
            continue
        for child in node.children:
            inside = isinstance(node, (cst.For, cst.While)) and child is node.body
            stack.append((child, loops + 1 if inside else loops))


def _attributes(node: cst.CSTNode) -> Iterator[cst.Attribute]:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Attribute):
            yield current
        stack.extend(current.children)


def _assigned_attributes(loop: cst.CSTNode) -> set[str]:
    """Dotted names of the attributes the loop assigns (`self.size = ...`)."""
    found: set[str] = set()
    for node, _ in _walk_with_loops(loop):
        targets: list[cst.CSTNode] = []
        if isinstance(node, cst.AssignTarget):
            targets.append(node.target)
        elif isinstance(node, (cst.AugAssign, cst.AnnAssign)):
            targets.append(node.target)
        found.update(dotted_name(t) for t in targets if isinstance(t, cst.Attribute))
    return found - {""}


def _ancestors_below(analysis: ModuleAnalysis, node: cst.CSTNode,
                     top: cst.CSTNode) -> Iterator[cst.CSTNode]:
    for ancestor in analysis.ancestors(node):
        if ancestor is top:
            return
        yield ancestor


def _comments(lines: Sequence[cst.EmptyLine]) -> list[cst.EmptyLine]:
    return [line for line in lines if line.comment is not None]


def _index(items: Sequence[cst.CSTNode], node: cst.CSTNode) -> int:
    return next(i for i, item in enumerate(items) if item is node)


class PoolLifecycleCommand(RuleCommand):
    rule = PoolLifecycle
