"""MP005 unjoined-process: a process that is started must be joined."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Optional, Union

import libcst as cst

from mpfix.analysis.module import ModuleAnalysis, api_family, is_main_guard, keyword, method_name
from mpfix.findings import Safety
from mpfix.rulekit.rule import Fix, Rule, Violation
from mpfix.rulekit.helpers import RuleCommand, own_nodes
from mpfix.analysis.starters import Kind

# Calls after which the parent has waited for the child, or asked for its exit status:
# multiprocessing reaps the child in each of them (`is_alive()` and `exitcode` poll it).
WAITS = frozenset({"join", "close", "is_alive"})
WAITING_ATTRIBUTES = frozenset({"exitcode"})
# Statements after which the code that follows in the same block never runs.
TERMINATORS = frozenset({"sys.exit", "os._exit", "exit", "quit"})
# Calls that take a container of processes only to read it.
READ_ONLY_CALLS = frozenset({"len", "enumerate", "list", "tuple", "reversed", "sorted"})
Scope = Union[cst.FunctionDef, cst.If]  # a function, or the main guard


@dataclass(frozen=True)
class Started:
    """A process variable started in `scope`: `name` itself, or the loop variable of
    `loop` over the local container `name`."""

    start: cst.Call
    name: cst.Name
    scope: Scope
    loop: Optional[cst.For] = None

    @property
    def receiver(self) -> cst.Name:
        return self.start.func.value  # type: ignore[attr-defined, return-value]


class UnjoinedProcess(Rule):
    """A process that is started and never joined stays a zombie.

    What it finds:
    A Process (or a Process subclass) that a function or the main guard creates and
    starts, keeps to itself (it is not returned, stored in an attribute, a global or a
    container that leaves the function, passed to another call, or made a daemon), and
    never joins: no `join()` on it (nor on the loop variable of a loop over the list
    that holds it), no `is_alive()`, `exitcode` or `close()` that would reap it. Also a
    `return` or `raise` of the function between the start and its only joins, when no
    `finally` joins it: on that path it is never joined.

    Why:
    The guideline "joining zombie processes": a child that has finished stays a zombie
    (an entry in the process table) until its parent joins it; each start of a new
    process joins the finished ones, and a parent that starts many and never joins keeps
    them until it exits. The guideline asks to join every process that is started,
    explicitly. Under spawn (and fork) the parent is the children's parent and collects
    the zombies; under forkserver the server does.

    Example:
        if __name__ == "__main__":
            for path in paths:
                worker = Process(target=convert, args=(path,))
                worker.start()

    Fixed:
        if __name__ == "__main__":
            for path in paths:
                worker = Process(target=convert, args=(path,))
                worker.start()
                worker.join()

    Settings:
    Opt-in: MP005 runs only when selected (`--select MP005`, or `extend-select =
    ["MP005"]` in `[tool.mpfix]`). A zombie lasts only until the parent starts another
    process or exits (the interpreter joins its children at exit), so in most programs an
    unjoined process is untidy rather than broken; turn the rule on for services and
    other long-running parents, where the guideline matters.

    Fix safety:
    Safe in the main guard, where the join is added at the end of the guard's code
    (the interpreter would join the child at exit anyway, so nothing that runs after
    it changes). Unsafe in a function: the join is added at the end of the function,
    so its caller now waits for the child; report only where the function returns
    early or the start is nested in other blocks. A process started in a loop is
    joined by a loop over the same list.
    """

    code = "MP005"
    name = "unjoined-process"
    fix_safety = "mixed"

    def check(self) -> Iterable[Violation]:
        for started in self._started_processes():
            if not self._handed_over_or_waited_for(started):
                yield Violation(started.start, self._message(started), self._fix(started))
                continue
            exit_ = self._exit_before_join(started)
            if exit_ is not None:
                yield Violation(exit_, self._exit_message(started, exit_))

    # -- detection --------------------------------------------------------------------------

    def _started_processes(self) -> Iterator[Started]:
        analysis = self.analysis
        for call in analysis.calls:
            if method_name(call) != "start" or analysis.receiver_kind(call) is not Kind.PROCESS:
                continue
            receiver = call.func.value  # type: ignore[attr-defined]
            scope = _scope(analysis, call)
            if not isinstance(receiver, cst.Name) or scope is None:
                continue
            loop = analysis.enclosing_loop_over(receiver)
            if not analysis.creation_calls(receiver):
                continue
            if loop is not None and isinstance(loop.iter, cst.Name):
                if self._bound_in(loop.iter, scope):
                    yield Started(call, loop.iter, scope, loop)
            elif loop is None and self._bound_in(receiver, scope):
                yield Started(call, receiver, scope)

    def _bound_in(self, name: cst.Name, scope: Scope) -> bool:
        """Every binding of `name` is an assignment in `scope`: the scope's own object, not
        a parameter or a global."""
        bindings = self.analysis.assignments(name)
        owner = scope if isinstance(scope, cst.FunctionDef) else None
        return bool(bindings) and all(
            self.analysis.enclosing_function(b.node) is owner
            and self.analysis.assigned_value(b.node) is not None for b in bindings)

    def _handed_over_or_waited_for(self, started: Started) -> bool:
        analysis = self.analysis
        if any(keyword(call, "daemon") is not None
               for call in analysis.creation_calls(started.receiver)):
            return True
        if self._reaps_children(started.scope):
            return True
        if started.loop is None:
            uses = analysis.attribute_uses(started.name)
            return uses is None or any(_waits_or_configures(use) for use in uses)
        return self._container_handled(started)

    def _exit_before_join(self, started: Started) -> Optional[Union[cst.Return, cst.Raise]]:
        """A `return` or `raise` of the function between the start and the process's only
        joins, not covered by a `finally` that joins: on that path the process is never
        joined. (A loop of joins over a list is left alone: its joins are harder to place.)"""
        analysis = self.analysis
        if started.loop is not None or not isinstance(started.scope, cst.FunctionDef):
            return None
        joins = [use for use in analysis.attribute_uses(started.name) or ()
                 if use.attr.value == "join"
                 and analysis.enclosing_function(use) is started.scope]
        if not joins:
            return None
        order = analysis.names.order
        start, first_join = order[started.start], min(order[join] for join in joins)
        for node in _exits(started.scope):
            if start < order.get(node, -1) < first_join and not self._caught(node, started.scope) \
                    and not self._finally_joins(node, joins, started.scope):
                return node
        return None

    def _caught(self, exit_: cst.CSTNode, scope: cst.FunctionDef) -> bool:
        """A `raise` in the body of a `try` with handlers may be caught there."""
        if not isinstance(exit_, cst.Raise):
            return False
        for ancestor in self.analysis.ancestors(exit_):
            if ancestor is scope:
                return False
            if isinstance(ancestor, cst.Try) and ancestor.handlers \
                    and self.analysis.names.contains(ancestor.body, exit_):
                return True
        return False

    def _finally_joins(self, exit_: cst.CSTNode, joins: list[cst.Attribute],
                       scope: cst.FunctionDef) -> bool:
        for ancestor in self.analysis.ancestors(exit_):
            if ancestor is scope:
                return False
            if isinstance(ancestor, cst.Try) and ancestor.finalbody is not None and any(
                    self.analysis.names.contains(ancestor.finalbody, join) for join in joins):
                return True
        return False

    def _exit_message(self, started: Started, exit_: cst.CSTNode) -> str:
        name = started.name.value
        how = "return" if isinstance(exit_, cst.Return) else "raise"
        return (f"this {how} leaves `{name}` (started at line "
                f"{self.analysis.position(started.start).start.line}) unjoined: it stays a "
                f"zombie once it ends; join it on this path too, or in a `finally`")

    def _reaps_children(self, scope: Scope) -> bool:
        """`active_children()` in the scope joins every child that has ended."""
        analysis = self.analysis
        for call in analysis.names.within(analysis.calls, scope):
            name = analysis.names.qualified_name(call.func) or ""
            if name.endswith(".active_children") and api_family(name) is not None:
                return True
            if method_name(call) == "active_children" and analysis.receiver_kind(call) is Kind.CONTEXT:
                return True
        return False

    def _container_handled(self, started: Started) -> bool:
        """A list of processes is handled when any read of it leaves the function or
        reaches a waiting call: `for p in procs: p.join()`, `procs[0].join()`."""
        analysis = self.analysis
        for read in analysis.reads_of(started.name):
            parent = analysis.parent(read)
            if isinstance(parent, (cst.For, cst.CompFor)) and parent.iter is read:
                if self._loop_hands_over(parent):
                    return True
                continue
            if isinstance(parent, cst.Arg) and isinstance(analysis.parent(parent), cst.Call) \
                    and analysis.names.qualified_name(analysis.parent(parent).func) in READ_ONLY_CALLS:
                continue
            if isinstance(parent, cst.Attribute) and parent.value is read \
                    and parent.attr.value in {"append", "extend", "insert"}:
                continue  # filling the list: its processes are still its own
            return True  # subscripted, returned, passed on, stored: handled or unseen
        return False

    def _loop_hands_over(self, loop: Union[cst.For, cst.CompFor]) -> bool:
        """Whether a loop over the processes waits for them, or lets them go where the
        module cannot follow (any use of the loop variable but an attribute of it)."""
        analysis = self.analysis
        if not isinstance(loop.target, cst.Name):
            return True
        body = loop.body if isinstance(loop, cst.For) else analysis.parent(loop)
        for use in analysis.names.within(analysis.names.name_nodes, body):
            if use.value != loop.target.value or use is loop.target:
                continue
            holder = analysis.parent(use)
            if not isinstance(holder, cst.Attribute) or _waits_or_configures(holder):
                return True
        return False

    def _message(self, started: Started) -> str:
        name = started.name.value
        if started.loop is not None:
            loop_var = started.loop.target.value  # type: ignore[attr-defined]
            return (f"the processes in `{name}` are never joined and stay zombies once they "
                    f"end: join them after their last use (`for {loop_var} in {name}: "
                    f"{loop_var}.join()`)")
        return (f"`{name}` is started and never joined: it stays a zombie once it ends; "
                f"call `{name}.join()` after its last use")

    # -- fix --------------------------------------------------------------------------------

    def _fix(self, started: Started) -> Optional[Fix]:
        scope = started.scope
        anchor = started.loop if started.loop is not None else self.analysis.enclosing_statement(started.start)
        body = scope.body
        if not isinstance(body, cst.IndentedBlock) or anchor not in body.body:
            return None
        if isinstance(scope, cst.FunctionDef) and _returns_or_yields(scope):
            return None
        last = body.body[-1]
        if self._terminates(last):
            return None
        joins = _join_statements(started)
        safety = Safety.SAFE if is_main_guard(scope) else Safety.UNSAFE
        return Fix({last: cst.FlattenSentinel([last, *joins])}, safety)

    def _terminates(self, statement: cst.BaseStatement) -> bool:
        if not isinstance(statement, cst.SimpleStatementLine):
            return False
        for small in statement.body:
            if isinstance(small, (cst.Return, cst.Raise)):
                return True
            call = small.value if isinstance(small, cst.Expr) else None
            if isinstance(call, cst.Call) and \
                    self.analysis.names.qualified_name(call.func) in TERMINATORS:
                return True
        return False


def _scope(analysis: ModuleAnalysis, node: cst.CSTNode) -> Optional[Scope]:
    """The function around `node`, or the main guard when it runs there at module level."""
    function = analysis.enclosing_function(node)
    if function is not None:
        return function
    for ancestor in analysis.ancestors(node):
        if is_main_guard(ancestor):
            return ancestor  # type: ignore[return-value]
    return None


def _waits_or_configures(use: Optional[cst.CSTNode]) -> bool:
    if not isinstance(use, cst.Attribute):
        return False
    return use.attr.value in WAITS | WAITING_ATTRIBUTES or use.attr.value == "daemon"


def _exits(function: cst.FunctionDef) -> Iterator[Union[cst.Return, cst.Raise]]:
    return (node for node in own_nodes(function) if isinstance(node, (cst.Return, cst.Raise)))


def _returns_or_yields(function: cst.FunctionDef) -> bool:
    return any(isinstance(node, (cst.Return, cst.Yield)) for node in own_nodes(function))


def _join_statements(started: Started) -> list[cst.BaseStatement]:
    name = started.name.value
    if started.loop is None:
        return [cst.parse_statement(f"{name}.join()\n")]
    loop_var = started.loop.target.value  # type: ignore[attr-defined]
    return [cst.parse_statement(f"for {loop_var} in {name}:\n    {loop_var}.join()\n")]


class UnjoinedProcessCommand(RuleCommand):
    rule = UnjoinedProcess
