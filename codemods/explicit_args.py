"""MP002 explicit-args: pass the resources a worker uses as arguments instead of reading module globals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Optional, Sequence

import libcst as cst

from mpfix.analysis.module import CallableUse, argument
from mpfix.findings import Safety
from mpfix.rulekit.rule import Fix, ImportSpec, Rule, Violation
from mpfix.rulekit.helpers import RuleCommand, appended, import_binding, unused_name
from mpfix.analysis.starters import FAMILIES, QUEUE_KINDS, RESOURCE_KINDS, SYNC_KINDS, Kind

# Objects a child can receive only by inheritance (as Process arguments): a pool or
# executor pickles its tasks through a queue, which refuses them.
INHERITED_ONLY = QUEUE_KINDS | SYNC_KINDS | frozenset({Kind.VALUE, Kind.ARRAY, Kind.PIPE})
# Objects that cannot be handed to a child at all.
NOT_TRANSFERABLE = frozenset({Kind.PROCESS, Kind.POOL, Kind.EXECUTOR, Kind.MANAGER, Kind.CONTEXT})
# Calls a resource moved into the main block must follow: creating it first would
# settle the default context, and set_start_method() would then raise.
START_SETUP = frozenset({Kind.FREEZE_SUPPORT, Kind.SET_START_METHOD})

_KIND_NAMES = {
    Kind.QUEUE: "Queue", Kind.JOINABLE_QUEUE: "JoinableQueue", Kind.SIMPLE_QUEUE: "SimpleQueue",
    Kind.LOCK: "Lock", Kind.EVENT: "Event", Kind.SEMAPHORE: "Semaphore",
    Kind.CONDITION: "Condition", Kind.BARRIER: "Barrier", Kind.VALUE: "Value",
    Kind.ARRAY: "Array", Kind.PIPE: "Pipe end", Kind.PROXY: "Manager proxy",
}

# What a fix does, for one global and for several.
PASS_AS_ARGUMENTS = ("pass it as an argument", "pass them as arguments")
PASS_BY_INITIALIZER = ("pass it through a pool initializer",
                       "pass them through a pool initializer")

ENTRY_ONLY = "entry-only"   # bound only by the entry code: NameError in the child
RESOURCE = "resource"       # a multiprocessing object: the child makes its own
HELD = "held"               # a container or object holding one: likewise
REBOUND = "rebound"         # rebound or changed by the parent after import

# What a global is, and what a spawn or forkserver child (which re-imports the module)
# gets instead: said once for the globals with the same reason.
_REASONS = {
    ENTRY_ONLY: "set only by the entry code (NameError under spawn and forkserver)",
    RESOURCE: "which spawn and forkserver children recreate",
    HELD: "which spawn and forkserver children recreate",
    REBOUND: "set by the parent after import, which spawn and forkserver children never see",
}


@dataclass(frozen=True)
class Need:
    """A module global a worker reads that the child must receive from the parent."""

    name: str
    reason: str
    kind: Optional[Kind]
    read: cst.Name  # the first read, where the finding points
    # Where the flow analysis found the object (an attribute, a container): no rewrite then.
    path: Optional[str] = None


def _explain(needs: list["Need"]) -> str:
    """What the globals are and what a child gets instead, one clause per reason in order of
    appearance: "the multiprocessing Lock `a` and Value `b`, which ... recreate"."""
    clauses = []
    for reason in dict.fromkeys(n.reason for n in needs):
        group = [n for n in needs if n.reason == reason]
        if reason == RESOURCE:
            named = _and([f"{_KIND_NAMES.get(n.kind, '')} `{n.name}`" for n in group])
            clauses.append(f"the multiprocessing {named}, {_REASONS[reason]}")
        elif reason == HELD:
            named = _and([f"{_KIND_NAMES.get(n.kind, '')} in " + (n.path or f"`{n.name}`")
                          for n in group])
            multiprocessing = "" if any(n.path for n in group) else "multiprocessing "
            clauses.append(f"the {multiprocessing}{named}, {_REASONS[reason]}")
        else:
            clauses.append(f"{_names(group)}, {_REASONS[reason]}")
    return "; and ".join(clauses)


@dataclass
class Edits:
    """Everything one fix changes, keyed on original nodes."""

    calls: dict[cst.Call, Callable[[cst.Call], cst.Call]] = field(default_factory=dict)
    functions: dict[cst.FunctionDef, Callable[[cst.FunctionDef], cst.FunctionDef]] = \
        field(default_factory=dict)
    moved: list[cst.SimpleStatementLine] = field(default_factory=list)
    # New module-level functions, each list placed before the statement keying it.
    new_functions: dict[cst.BaseStatement, list[cst.FunctionDef]] = field(default_factory=dict)
    imports: list[ImportSpec] = field(default_factory=list)
    safety: Safety = Safety.SAFE
    problem: Optional[str] = None  # set when no correct rewrite exists

    def fail(self, problem: str) -> None:
        self.problem = self.problem or problem


class ExplicitArgs(Rule):
    """A worker reads a module global that the parent set up; spawn children never see it.

    What it finds:
    Functions that run in a child process (Process targets, pool and executor tasks,
    initializers, and the module functions they call) reading a module global that
    the child cannot get by re-importing the module: a multiprocessing object
    (Lock, Value, Queue, Event, Semaphore, Array, Pipe ends, Manager proxies) or a
    module-level container or object holding them (`LOCKS[i]` of a list of Locks;
    `state.lock` of an instance whose `__init__` makes it, reported without a fix), a
    global rebound or changed by the parent after import (in the main block, or in a
    setup function through `global`), or one that only the entry code defines. Also
    reported, without a fix: a worker that changes a global the parent reads back as
    if it were shared, a parent that sets an attribute of the module an imported
    worker lives in, an attribute only the parent gives a module-level function or
    class after import (`f.q = Queue()` in `main()`, read as `f.q` by the worker: pickle
    sends `f` by name, without it), and `run()` methods of Process subclasses reading
    such globals.
    Left alone: names read only in annotations, a read under a test of the same global
    against None or for emptiness (`if G is None: G = rebuild()`: the worker expects the
    child's import-time value), and a child's write to a global that no parent code reads
    after the start (an import-time read, or a decorated function nothing here calls).

    Why:
    Under spawn and forkserver (the default on macOS, Windows and, since Python 3.14,
    Linux) a child does not inherit the parent's memory: it re-imports the main module.
    A module-level Lock or Value is created again in every child, so locking protects
    nothing and counters stay 0; the parent waits forever on a module-level Queue no
    child feeds; a global set in the main block is the import-time value, or missing.
    The guideline "explicitly pass resources to child processes" asks for the objects
    to be passed to the child as arguments; "global variables" warns that only
    module-level constants are safe to read.

    Example:
        from multiprocessing import Process, Lock

        def f():
            with lock:
                print("hello")

        if __name__ == "__main__":
            lock = Lock()
            for i in range(10):
                Process(target=f).start()

    Fixed:
        from multiprocessing import Process, Lock

        def f(lock):
            with lock:
                print("hello")

        if __name__ == "__main__":
            lock = Lock()
            for i in range(10):
                Process(target=f, args=(lock,)).start()

    Fix safety:
    Each global becomes a parameter of the worker (and of the helpers that read it),
    passed at every call site in the module: `args=` for a Process, `functools.partial`
    for a pool or executor task and for a target that a helper's caller passes on to the
    Process (`start(partial(work, lock=lock))` for `def start(fn, *args): Process(target=fn,
    args=args)`), or, for objects a pool cannot pickle (locks, queues, values), a pool
    initializer that hands them to each worker. A module-level
    multiprocessing object used only by the workers and the entry code is created in
    the main block instead. Safe when the changed functions are private or used only
    as targets; unsafe when a public function is also called directly, since callers
    in other modules would need the new argument. Constants, functions, classes and
    modules are left alone.
    """

    code = "MP002"
    name = "explicit-args"
    fix_safety = "mixed"

    def check(self) -> Iterable[Violation]:
        analysis = self.analysis
        uses = analysis.callable_uses()
        child_functions = analysis.child_functions()
        if not uses and not child_functions:
            return
        self._targets: dict[cst.FunctionDef, list[CallableUse]] = {}
        for use in uses:
            if use.role not in ("target", "task", "initializer"):
                continue
            definition = analysis.definition_of(analysis.unwrap_partial(use.callable_arg.value))
            if isinstance(definition, cst.FunctionDef) and analysis.parent(definition) is analysis.module:
                self._targets.setdefault(definition, []).append(use)
        self._child = {id(f) for f in child_functions}
        self._closures: dict[int, list[cst.FunctionDef]] = {}
        self._effective: dict[int, list[Need]] = {}
        # A DataLoader's worker_init_fn is its workers' initializer.
        self._initializer_code = {id(f) for use in uses
                                  if use.role in ("initializer", "worker_init_fn")
                                  for f in self._closure_of_callable(use.callable_arg.value)}
        self._child_writes = self._writes_by_children()
        self._parent_changes = self._changes_by_parent()
        self._needs_cache: dict[int, list[Need]] = {}
        yield from self._imported_target_reports()
        yield from self._child_write_reports()
        yield from self._process_subclass_reports()
        yield from self._worker_violations()

    # -- which globals a child must receive ------------------------------------------

    def _closure_of_callable(self, expr: cst.BaseExpression) -> list[cst.FunctionDef]:
        definition = self.analysis.definition_of(self.analysis.unwrap_partial(expr))
        if not isinstance(definition, cst.FunctionDef):
            return []
        return [definition, *self.analysis.helpers_called(definition)]

    def _closure(self, function: cst.FunctionDef) -> list[cst.FunctionDef]:
        if id(function) not in self._closures:
            self._closures[id(function)] = [function, *self.analysis.helpers_called(function)]
        return self._closures[id(function)]

    def _writes_by_children(self) -> dict[str, list[cst.CSTNode]]:
        """Globals that child code rebinds or changes in place (initializers excepted:
        setting per-worker globals is their job)."""
        writes: dict[str, list[cst.CSTNode]] = {}
        for function in self.analysis.child_functions():
            if id(function) in self._initializer_code:
                continue
            for name, nodes in self.analysis.global_writes(function).items():
                writes.setdefault(name, []).extend(nodes)
        return writes

    def _changes_by_parent(self) -> set[str]:
        analysis = self.analysis
        changed: set[str] = set()
        for guard in analysis.main_guards():
            changed |= set(analysis.global_writes(guard))
        for function in analysis.functions:
            if not self._in_child_code(function):
                changed |= set(analysis.global_writes(function))
        return changed

    def _in_child_code(self, node: cst.CSTNode) -> bool:
        return any(id(n) in self._child for n in (node, *self.analysis.ancestors(node)))

    def _global_kind(self, name: str) -> Optional[Kind]:
        for binding in self.analysis.global_bindings(name):
            if isinstance(binding.node, cst.Name):
                kind = self.analysis.kind_of(binding.node)
                if kind is not None:
                    return kind
        return None

    def _classify(self, name: str, read: cst.Name,
                  reads: Sequence[cst.Name] = ()) -> Optional[Need]:
        analysis = self.analysis
        bindings = analysis.global_bindings(name)
        if bindings and all(isinstance(b.node, (cst.FunctionDef, cst.ClassDef)) for b in bindings):
            return self._attribute_set_at_run_time(name, reads or [read])
        if not bindings or any(not isinstance(b.node, cst.Name) for b in bindings):
            return None  # builtins, functions, classes, modules
        if analysis.is_constant_global(name):
            return None
        kind = self._global_kind(name)
        held = self._held_resource(name, reads) if kind is None else None
        if held is not None:
            return held
        if name in self._child_writes and kind not in RESOURCE_KINDS:
            return None  # reported on its own: no argument brings the change back
        if all(analysis.binds_after_import(b.node) for b in bindings):
            return Need(name, ENTRY_ONLY, kind, read)
        if kind in RESOURCE_KINDS:
            return Need(name, RESOURCE, kind, read)
        if analysis.entry_rebindings(name) or name in self._parent_changes:
            return Need(name, REBOUND, kind, read)
        return None

    def _attribute_set_at_run_time(self, name: str, reads: Sequence[cst.Name]) -> Optional[Need]:
        """`f.q` of a module-level function or class `f` that only the parent gives that
        attribute, after import (`f.q = Queue()` in `main()`): a spawn or forkserver child
        imports `f` without it. Passing `f` would not bring the attribute along (pickle
        finds `f` by its name), so it is reported, not rewritten."""
        analysis = self.analysis
        for read in reads:
            attribute = analysis.parent(read)
            if not isinstance(attribute, cst.Attribute) or attribute.value is not read:
                continue
            stores = [store for store in analysis.global_writes(analysis.module).get(name, [])
                      if isinstance(store, cst.Attribute) and store.attr.value == attribute.attr.value]
            by_parent = [store for store in stores if not self._in_child_code(store)
                         and (analysis.enclosing_function(store) is not None
                              or analysis.in_main_guard(store))]
            if by_parent and len(by_parent) == len(stores):
                where = f"`{name}.{attribute.attr.value}` (set at line {self._line(by_parent[0])})"
                return Need(f"{name}.{attribute.attr.value}", REBOUND, None, read, where)
        return None

    def _line(self, node: cst.CSTNode) -> int:
        return self.analysis.position(node).start.line

    def _held_resource(self, name: str, reads: Sequence[cst.Name]) -> Optional[Need]:
        """A module-level container or object that holds multiprocessing resources: the
        worker reads `LOCKS[i]` of `LOCKS = [Lock() for ...]`, or `state.lock` of a
        `state = State()` whose `__init__` makes the Lock. Re-importing the module makes
        new ones in each spawn or forkserver child."""
        analysis = self.analysis
        if not all(analysis.is_module_level(b.node) and not analysis.in_main_guard(b.node)
                   for b in analysis.global_bindings(name)):
            return None
        for read in reads:
            held = analysis.parent(read)
            if not isinstance(held, (cst.Attribute, cst.Subscript)) or held.value is not read:
                continue
            kind = analysis.kind_of(held)
            if kind in RESOURCE_KINDS:
                return Need(name, HELD, kind, read, self._uncertain_path(held))
        return None

    def _uncertain_path(self, held: cst.BaseExpression) -> Optional[str]:
        """Where the flow analysis found the resource, when passing the global is not
        provably right: an attribute of an object (the object may hold what cannot be
        pickled), or a container some of whose elements may be other objects."""
        analysis = self.analysis
        if not analysis.through_flow(held):
            return None
        if isinstance(held, cst.Subscript) and analysis.must_hold(held) is not None:
            return None
        return analysis.held_path(held)

    def _direct_needs(self, function: cst.FunctionDef) -> list[Need]:
        key = id(function)
        if key not in self._needs_cache:
            needs = []
            for name, reads in self.analysis.global_reads(function).items():
                reads = [r for r in reads if not self._in_annotation(r)
                         and not self._guarded_by_none_test(r, function)]
                if not reads:
                    continue
                need = self._classify(name, reads[0], reads)
                if need is not None:
                    needs.append(need)
            self._needs_cache[key] = needs
        return self._needs_cache[key]

    def _in_annotation(self, read: cst.Name) -> bool:
        """Annotations are type names, not values the worker uses when it runs."""
        return any(isinstance(a, cst.Annotation) for a in self.analysis.ancestors(read))

    def _guarded_by_none_test(self, read: cst.Name, function: cst.FunctionDef) -> bool:
        """`if G is None: G = rebuild()`: the worker tests the global it reads for its
        import-time value, so it expects a spawn or forkserver child's copy."""
        for ancestor in self.analysis.ancestors(read):
            if ancestor is function:
                return False
            if isinstance(ancestor, (cst.If, cst.IfExp)) and _tests_emptiness(ancestor.test, read.value):
                return True
        return False

    def _needs(self, function: cst.FunctionDef) -> list[Need]:
        """What `function` and the helpers it calls read, in source order, once per name."""
        found: dict[str, Need] = {}
        every = [n for f in self._closure(function) for n in self._direct_needs(f)]
        for need in sorted(every, key=lambda n: self.analysis.names.order[n.read]):
            found.setdefault(need.name, need)
        return list(found.values())

    # -- report-only findings -------------------------------------------------------

    def _imported_target_reports(self) -> Iterator[Violation]:
        analysis = self.analysis
        reported: set[int] = set()
        for use in analysis.callable_uses():
            expr = analysis.unwrap_partial(use.callable_arg.value)
            if analysis.definition_of(expr) is not None:
                continue
            for qualified in analysis.qualified_names(expr):
                module_name = qualified.rpartition(".")[0]
                if not module_name or module_name.split(".")[0] in ("builtins", *FAMILIES):
                    continue
                read = analysis.starters.globals_read(qualified)
                for change in self._parent_changes_to_module(module_name):
                    if id(change) in reported:
                        continue
                    changed = _module_attribute(change)
                    if read is not None and changed is not None and changed not in read:
                        continue  # its summary says the worker never reads that global
                    reported.add(id(change))
                    function = qualified.rpartition(".")[2]
                    yield Violation(change, (
                        f"the parent changes `{analysis.module.code_for_node(change)}` after import, "
                        f"unseen by `{function}` in a spawn or forkserver child: give it a "
                        f"parameter in `{module_name}` and pass the value"))

    def _parent_changes_to_module(self, module_name: str) -> list[cst.CSTNode]:
        analysis = self.analysis
        changes: list[cst.CSTNode] = []
        parent_code: list[cst.CSTNode] = [*analysis.main_guards(),
                                          *(f for f in analysis.functions if not self._in_child_code(f))]
        for node in parent_code:
            for name, nodes in analysis.global_writes(node).items():
                if any(b.imported == module_name for b in analysis.global_bindings(name)):
                    changes.extend(n for n in nodes if n not in changes)
        return changes

    def _through_shared_object(self, write: cst.CSTNode) -> bool:
        """`STATE.total.value += n` where `STATE.total` is a multiprocessing Value: the
        write changes a shared object, not the child's copy of the global."""
        current = write.func if isinstance(write, cst.Call) else write
        while isinstance(current, (cst.Attribute, cst.Subscript)):
            current = current.value
            if isinstance(current, (cst.Attribute, cst.Subscript)) \
                    and self.analysis.kind_of(current) in RESOURCE_KINDS:
                return True
        return False

    def _child_write_reports(self) -> Iterator[Violation]:
        analysis = self.analysis
        for name, writes in self._child_writes.items():
            if any(not isinstance(b.node, cst.Name) for b in analysis.global_bindings(name)) \
                    or self._global_kind(name) in RESOURCE_KINDS \
                    or all(self._through_shared_object(w) for w in writes):
                continue  # modules, functions, classes; shared objects children may change
            parent_reads = [r for r in analysis.module_name_reads.get(name, ())
                            if self._runs_in_parent(r)]
            if not parent_reads:
                continue  # a per-process cache, say
            write = writes[0]
            worker = analysis.enclosing_function(write)
            who = f"`{worker.name.value}`" if worker is not None else "a worker"
            yield Violation(write, (
                f"{who} changes the global `{name}` in a child, and the parent, which reads it, "
                f"never sees the change: return the result, or send it back through a Queue"))

    def _runs_in_parent(self, read: cst.Name) -> bool:
        """Whether the parent may run `read` after it starts a child: in the entry code or in
        a function of its own. Import-time code runs before any start (and again in every
        child); a decorated function nothing here calls is run by whatever the decorator
        registered it with (a web app the child serves, say), so not known to be the parent."""
        analysis = self.analysis
        if self._in_child_code(read):
            return False
        functions = [a for a in analysis.ancestors(read) if isinstance(a, cst.FunctionDef)]
        if not functions:
            return analysis.in_main_guard(read)
        return not any(f.decorators and not analysis.references(f) for f in functions)

    def _process_subclass_reports(self) -> Iterator[Violation]:
        analysis = self.analysis
        for function in analysis.child_functions():
            owner = analysis.parent(analysis.parent(function))
            if function.name.value != "run" or not isinstance(owner, cst.ClassDef):
                continue
            needs = self._needs(function)
            if needs:
                it = "them" if len(needs) > 1 else "it"
                yield Violation(needs[0].read, (
                    f"`{owner.name.value}.run` reads {_explain(needs)}: "
                    f"pass {it} to the constructor and keep {it} on `self`"))

    # -- workers: one fix per group of functions whose signatures change together ---

    def _worker_violations(self) -> Iterator[Violation]:
        plans = self._plans()
        reported: set[int] = set()
        for targets, edits, action in plans:
            fix = None if edits.problem else self._fix(edits)
            for target in targets:
                handled = {n.name for n in self._effective[id(target)]}
                for function in self._closure(target):
                    needs = [n for n in self._direct_needs(function) if n.name in handled]
                    if not needs or id(function) in reported:
                        continue
                    reported.add(id(function))
                    yield Violation(needs[0].read, self._message(function, target, needs,
                                                                 edits.problem, action), fix)

    def _message(self, function: cst.FunctionDef, target: cst.FunctionDef, needs: list[Need],
                 problem: Optional[str], action: tuple[str, str]) -> str:
        if function is target:
            subject = f"`{function.name.value}` runs in a child and"
        else:
            subject = f"`{function.name.value}` (called by `{target.name.value}`)"
        what_to_do = problem or action[len(needs) > 1]
        return f"{subject} reads {_explain(needs)}: {what_to_do}"

    def _plans(self) -> list[tuple[list[cst.FunctionDef], Edits, tuple[str, str]]]:
        """(targets, edits, what the fix does) for each group that can be fixed together."""
        by_parameters: list[cst.FunctionDef] = []
        by_initializer: dict[int, tuple[cst.Call, list[tuple[cst.FunctionDef, list[Need]]]]] = {}
        plans: list[tuple[list[cst.FunctionDef], Edits, tuple[str, str]]] = []
        for target, uses in self._targets.items():
            needs = self._effective[id(target)] = self._effective_needs(target, uses)
            if not needs:
                continue
            problem = self._untransferable(needs) or self._followed(needs)
            tasks = [u for u in uses if u.role == "task"]
            if not problem and tasks and any(n.kind in INHERITED_ONLY for n in needs):
                if len(tasks) != len(uses):
                    problem = ("not fixed: it is also a Process target; give the pool an "
                               "initializer that sets them, by hand")
                else:
                    pools = self._pools_of(tasks)
                    if pools is None:
                        problem = ("not fixed: the pool is created elsewhere; hand them to each "
                                   "worker with `initializer=`/`initargs=`")
                    else:
                        for pool in pools:
                            by_initializer.setdefault(id(pool), (pool, []))[1].append((target, needs))
                        continue
            if problem:
                edits = Edits()
                edits.fail(problem)
                plans.append(([target], edits, PASS_AS_ARGUMENTS))
                continue
            by_parameters.append(target)
        for group in self._groups(by_parameters):
            plans.append((group, self._parameter_edits(group), PASS_AS_ARGUMENTS))
        for pool, entries in by_initializer.values():
            plans.append(([t for t, _ in entries], self._initializer_edits(pool, entries),
                          PASS_BY_INITIALIZER))
        return plans

    def _effective_needs(self, target: cst.FunctionDef, uses: list[CallableUse]) -> list[Need]:
        """Needs minus what every pool running `target` already hands over by initializer."""
        needs = self._needs(target)
        if any(u.role != "task" for u in uses):
            return needs
        pools = self._pools_of(uses)
        if not pools:
            return needs
        provided = set.intersection(*(self._provided_by_initializer(p) for p in pools))
        return [n for n in needs if n.name not in provided]

    def _followed(self, needs: list[Need]) -> Optional[str]:
        """Objects the flow analysis followed into an attribute or a container are reported,
        not rewritten: which object the worker's attribute read finds when it runs is more
        than mpfix can prove."""
        followed = [n for n in needs if n.path]
        return "not fixed: pass it by hand" if followed else None

    def _untransferable(self, needs: list[Need]) -> Optional[str]:
        stuck = [n for n in needs if n.kind in NOT_TRANSFERABLE]
        if not stuck:
            return None
        return (f"not fixed: a {stuck[0].kind.value} cannot be sent to a child; pass what the "
                f"worker needs from it (a proxy, a queue)")

    def _pools_of(self, tasks: list[CallableUse]) -> Optional[list[cst.Call]]:
        pools: list[cst.Call] = []
        for use in tasks:
            receiver = use.call.func.value if isinstance(use.call.func, cst.Attribute) else None
            created = self.analysis.creation_calls(receiver) if receiver is not None else []
            if len(created) != 1:
                return None
            if all(p is not created[0] for p in pools):
                pools.append(created[0])
        return pools

    def _provided_by_initializer(self, pool: cst.Call) -> set[str]:
        initializer = argument(pool, "initializer", 2 if self._is_executor(pool) else 1)
        if initializer is None:
            return set()
        provided: set[str] = set()
        for function in self._closure_of_callable(initializer.value):
            provided |= set(self.analysis.global_writes(function))
        return provided

    def _is_executor(self, pool: cst.Call) -> bool:
        return self.analysis.call_kind(pool) is Kind.EXECUTOR

    def _groups(self, targets: list[cst.FunctionDef]) -> list[list[cst.FunctionDef]]:
        """Targets that share a changed helper must change in the same fix."""
        groups: list[tuple[set[int], list[cst.FunctionDef]]] = []
        for target in targets:
            changed = {id(f) for f in self._closure(target) if self._needs(f)}
            merged = [g for g in groups if g[0] & changed]
            keys, members = set(changed), [target]
            for group in merged:
                keys |= group[0]
                members = group[1] + members
                groups.remove(group)
            groups.append((keys, members))
        return [sorted(members, key=lambda f: self.analysis.names.order[f]) for _, members in groups]

    # -- the parameter fix ------------------------------------------------------------

    def _parameter_edits(self, targets: list[cst.FunctionDef]) -> Edits:
        analysis = self.analysis
        edits = Edits()
        changed: dict[cst.FunctionDef, list[tuple[Need, str]]] = {}
        for target in targets:
            for function in self._closure(target):
                needs = self._effective[id(function)] if function in self._targets else self._needs(function)
                if function not in changed and needs:
                    changed[function] = self._parameters_for(function, needs)
        for function, parameters in changed.items():
            edits.functions[function] = _add_parameters_edit(
                [p for _, p in parameters], _declared_global(analysis, function, parameters))
        for target in targets:
            for use in self._targets[target]:
                self._pass_at_use(use, target, changed, edits)
        for function in changed:
            if function in self._targets and function not in targets:
                edits.fail(f"not fixed: `{function.name.value}` is also a pool task; pass it by "
                           f"hand")
            self._pass_at_direct_calls(function, changed, edits)
        self._move_resources([n for t in targets for n in self._effective[id(t)]], edits)
        return edits

    def _parameters_for(self, function: cst.FunctionDef, needs: list[Need]) -> list[tuple[Need, str]]:
        scope = self.analysis.names.created[function]
        taken = {p.name.value for p in _all_params(function.params)}
        parameters = []
        for need in needs:
            local = need.name in scope.bindings and need.name not in scope.globals
            name = need.name if not local and need.name not in taken \
                else unused_name(self.analysis, need.name, taken)
            taken.add(name)
            parameters.append((need, name))
        return parameters

    def _value_at(self, site: cst.CSTNode, name: str,
                  changed: dict[cst.FunctionDef, list[tuple[Need, str]]]) -> Optional[cst.Name]:
        """How code at `site` names the parent's object: the new parameter inside a changed
        function, else the global itself unless a local hides it."""
        for ancestor in self.analysis.ancestors(site):
            if isinstance(ancestor, cst.FunctionDef) and ancestor in changed:
                for need, parameter in changed[ancestor]:
                    if need.name == name:
                        return cst.Name(parameter)
        scope = self._scope_at(site)
        bindings = self.analysis.names.lookup(scope, name)
        if bindings and all(b.scope is self.analysis.global_scope for b in bindings):
            return cst.Name(name)
        return None

    def _scope_at(self, node: cst.CSTNode):  # type: ignore[no-untyped-def]
        for ancestor in self.analysis.ancestors(node):
            if ancestor in self.analysis.names.created:
                return self.analysis.names.created[ancestor]
        return self.analysis.global_scope

    def _values(self, site: cst.CSTNode, parameters: list[tuple[Need, str]],
                changed: dict[cst.FunctionDef, list[tuple[Need, str]]],
                edits: Edits) -> list[tuple[str, cst.Name]]:
        values = []
        for need, parameter in parameters:
            value = self._value_at(site, need.name, changed)
            if value is None:
                line = self.analysis.position(site).start.line
                edits.fail(f"not fixed: a local variable hides `{need.name}` at line {line}; "
                           f"pass it there by hand")
                value = cst.Name(need.name)
            values.append((parameter, value))
        return values

    def _pass_at_use(self, use: CallableUse, target: cst.FunctionDef,
                     changed: dict[cst.FunctionDef, list[tuple[Need, str]]], edits: Edits) -> None:
        values = self._values(use.site if use.callable_at_site else use.call, changed[target],
                              changed, edits)
        positional = _takes_positionally(target.params)
        if use.role == "task" or use.callable_at_site:
            # A helper's caller chose the target: only its own argument may carry more.
            self._pass_by_partial(use, values, edits)
        elif positional and (use.role == "initializer" or argument(use.call, "kwargs", 4) is None):
            args_name = "initargs" if use.role == "initializer" else "args"
            edits.calls[use.call] = _extend_args_edit(use.call, use.args_arg, args_name,
                                                          [v for _, v in values])
        elif use.role == "initializer":
            self._pass_by_partial(use, values, edits)
        else:
            edits.calls[use.call] = _extend_kwargs_edit(use.call, values)

    def _pass_by_partial(self, use: CallableUse, values: list[tuple[str, cst.Name]], edits: Edits) -> None:
        partial, imports = import_binding(self.analysis, "functools", "partial")
        edits.imports.extend(imports)
        holder = use.site if use.callable_at_site and use.site is not None else use.call
        index = _index(holder.args, use.callable_arg)
        wrapped = self.analysis.unwrap_partial(use.callable_arg.value) is not use.callable_arg.value

        def edit(call: cst.Call) -> cst.Call:
            arg = call.args[index]
            keywords = [_keyword_arg(k, v) for k, v in values]
            if wrapped and isinstance(arg.value, cst.Call):
                value = arg.value.with_changes(args=appended(arg.value.args, keywords,
                                                              arg.value.whitespace_before_args))
            else:
                value = cst.Call(cst.parse_expression(partial),
                                 appended([cst.Arg(arg.value)], keywords, None))
            args = list(call.args)
            args[index] = arg.with_changes(value=value)
            return call.with_changes(args=args)

        edits.calls[holder] = edit

    def _pass_at_direct_calls(self, function: cst.FunctionDef,
                              changed: dict[cst.FunctionDef, list[tuple[Need, str]]],
                              edits: Edits) -> None:
        analysis = self.analysis
        uses = [u.callable_arg for f in changed for u in self._targets.get(f, ())]
        public = not function.name.value.startswith("_")
        for reference in analysis.references_to(function):
            if any(analysis.names.contains(arg, reference) for arg in uses):
                continue
            call = analysis.parent(reference)
            if not (isinstance(call, cst.Call) and call.func is reference):
                line = analysis.position(reference).start.line
                edits.fail(f"not fixed: `{function.name.value}` is also used as a value at "
                           f"line {line}; pass it by hand")
                continue
            caller = analysis.enclosing_function(call)
            if public and (caller is None or caller not in changed):
                edits.safety = Safety.UNSAFE  # callers elsewhere would need the new argument
            values = self._values(call, changed[function], changed, edits)
            positional = _takes_positionally(function.params) and \
                not any(a.keyword is not None or a.star == "**" for a in call.args)
            edits.calls[call] = _extend_call_edit(values, positional)

    # -- the initializer fix -----------------------------------------------------------

    def _initializer_edits(self, pool: cst.Call,
                           entries: list[tuple[cst.FunctionDef, list[Need]]]) -> Edits:
        analysis = self.analysis
        edits = Edits()
        needs: dict[str, Need] = {}
        for _, target_needs in entries:
            for need in target_needs:
                needs.setdefault(need.name, need)
        if argument(pool, "initializer", 2 if self._is_executor(pool) else 1) is not None:
            edits.fail("not fixed: the pool already has an initializer; make it set them too")
            return edits
        name = unused_name(analysis, "_init_worker")
        taken = set(needs)
        parameters = []
        for need in needs.values():
            parameter = unused_name(analysis, f"parent_{need.name}", taken)
            taken.add(parameter)
            parameters.append((need, parameter))
        values = self._values(pool, parameters, {}, edits)
        initializer = cst.parse_statement(
            f"def {name}({', '.join(p for _, p in parameters)}):\n"
            f"    global {', '.join(needs)}\n"
            + "".join(f"    {n.name} = {p}\n" for n, p in parameters))
        anchor = analysis.top_level_statement(pool)
        assert isinstance(initializer, cst.FunctionDef) and anchor is not None
        edits.new_functions[anchor] = [initializer]
        initargs = cst.Tuple([cst.Element(v) for _, v in values])
        if len(values) == 1:
            initargs = cst.Tuple([cst.Element(values[0][1], comma=cst.Comma())])
        new_args = [_keyword_arg("initializer", cst.Name(name)), _keyword_arg("initargs", initargs)]
        edits.calls[pool] = lambda call: call.with_changes(
            args=appended(call.args, new_args, call.whitespace_before_args))
        self._move_resources(list(needs.values()), edits)
        return edits

    # -- creating module-level objects in the parent ---------------------------------

    def _move_resources(self, needs: list[Need], edits: Edits) -> None:
        """A module-level multiprocessing object used only by workers and entry code is
        created in the main block: children no longer build useless copies on import."""
        analysis = self.analysis
        guards = analysis.main_guards()
        if not guards or self.context.is_library():
            return
        for need in needs:
            if need.reason != RESOURCE:
                continue
            statement = self._movable_statement(need.name, guards[0])
            if statement is not None and all(s is not statement for s in edits.moved):
                edits.moved.append(statement)
        edits.moved.sort(key=lambda s: analysis.names.order[s])

    def _movable_statement(self, name: str, guard: cst.If) -> Optional[cst.SimpleStatementLine]:
        analysis = self.analysis
        bindings = analysis.global_bindings(name)
        if len(bindings) != 1:
            return None
        target = bindings[0].node
        holder = analysis.parent(target)
        assign = analysis.parent(holder) if isinstance(holder, cst.AssignTarget) else None
        statement = analysis.parent(assign) if isinstance(assign, cst.Assign) else None
        if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1 \
                or len(assign.targets) != 1 or analysis.parent(statement) is not analysis.module:
            return None
        if analysis.names.order[statement] > analysis.names.order[guard]:
            return None
        reads = analysis.module_name_reads.get(name, ())
        if not all(analysis.binds_after_import(read) and not self._in_annotation(read) for read in reads):
            return None  # read while the module is imported: it must stay there
        return statement

    # -- building the fix ------------------------------------------------------------------

    def _fix(self, edits: Edits) -> Fix:
        analysis = self.analysis
        touched: dict[cst.BaseStatement, None] = {}  # top-level statements, in a stable order
        for node in [*edits.calls, *edits.functions]:
            statement = analysis.top_level_statement(node)
            if statement is not None:
                touched[statement] = None
        guard = analysis.main_guards()[0] if edits.moved else None
        if guard is not None:
            touched[guard] = None
        touched.update(dict.fromkeys(edits.new_functions))
        replacements: dict = {}
        for statement in touched:
            new = statement.visit(_Rewrite(edits))
            if statement is guard:
                new = _with_statements_first(guard, new, [_as_moved(s) for s in edits.moved], analysis)
            if statement in edits.new_functions:
                new = cst.FlattenSentinel([*_before(statement, edits.new_functions[statement]), new])
            replacements[statement] = new
        for statement in edits.moved:
            replacements[statement] = cst.RemovalSentinel.REMOVE
        for statement in edits.moved:
            self._keep_spacing(statement, edits.moved, replacements)
        return Fix(replacements, edits.safety, tuple(dict.fromkeys(edits.imports)))

    def _keep_spacing(self, removed: cst.SimpleStatementLine,
                      moved: list[cst.SimpleStatementLine], replacements: dict) -> None:
        """The statement after a moved one takes over the blank lines that came before it
        when it had fewer: `def worker` ... `q = Queue()` ... `if __name__` keeps its two
        blank lines between the function and the guard."""
        body = list(self.analysis.module.body)
        position = next(i for i, s in enumerate(body) if s is removed)
        following = next((s for s in body[position + 1:]
                          if all(s is not m for m in moved)), None)
        if following is None:
            return
        current = replacements.get(following, following)
        if not isinstance(current, cst.BaseStatement) \
                or len(current.leading_lines) >= len(removed.leading_lines):
            return
        if any(line.comment is not None
               for line in (*removed.leading_lines, *current.leading_lines)):
            return  # a comment belongs where its author put it
        replacements[following] = current.with_changes(leading_lines=removed.leading_lines)


class _Rewrite(cst.CSTTransformer):
    def __init__(self, edits: Edits) -> None:
        super().__init__()
        self.edits = edits

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        edit = self.edits.calls.get(original_node)
        return edit(updated_node) if edit else updated_node

    def leave_FunctionDef(self, original_node: cst.FunctionDef,
                          updated_node: cst.FunctionDef) -> cst.BaseStatement:
        edit = self.edits.functions.get(original_node)
        return edit(updated_node) if edit else updated_node


# -- small CST builders ------------------------------------------------------------------

def _keyword_arg(name: str, value: cst.BaseExpression) -> cst.Arg:
    no_space = cst.SimpleWhitespace("")
    return cst.Arg(value=value, keyword=cst.Name(name),
                   equal=cst.AssignEqual(whitespace_before=no_space, whitespace_after=no_space))


def _index(items: Sequence[cst.CSTNode], item: cst.CSTNode) -> int:
    return next(i for i, candidate in enumerate(items) if candidate is item)


def _all_params(params: cst.Parameters) -> list[cst.Param]:
    star = [params.star_arg] if isinstance(params.star_arg, cst.Param) else []
    kwargs = [params.star_kwarg] if params.star_kwarg is not None else []
    return [*params.posonly_params, *params.params, *star, *params.kwonly_params, *kwargs]


def _takes_positionally(params: cst.Parameters) -> bool:
    """Whether a new parameter can follow the positional ones: no defaults, no *args."""
    return not isinstance(params.star_arg, (cst.Param, cst.ParamStar)) and not params.kwonly_params \
        and all(p.default is None for p in (*params.posonly_params, *params.params))


def _declared_global(analysis, function: cst.FunctionDef,  # type: ignore[no-untyped-def]
                     parameters: list[tuple[Need, str]]) -> set[str]:
    """Globals the function only reads but declares `global`: a parameter cannot be both."""
    scope = analysis.names.created[function]
    return {need.name for need, parameter in parameters
            if need.name in scope.globals and parameter == need.name}


def _add_parameters_edit(names: list[str], undeclare: set[str]) -> Callable[[cst.FunctionDef], cst.FunctionDef]:
    def edit(function: cst.FunctionDef) -> cst.FunctionDef:
        params = function.params
        added = [cst.Param(cst.Name(n)) for n in names]
        if _takes_positionally(params):
            params = params.with_changes(params=appended(params.params, added,
                                                          function.whitespace_before_params))
        else:
            star = params.star_arg if isinstance(params.star_arg, (cst.Param, cst.ParamStar)) \
                else cst.ParamStar()
            params = params.with_changes(star_arg=star, kwonly_params=appended(
                params.kwonly_params, added, function.whitespace_before_params))
        function = function.with_changes(params=params)
        if undeclare:
            function = function.with_changes(body=function.body.visit(_Undeclare(undeclare)))
        return function

    return edit


class _Undeclare(cst.CSTTransformer):
    """Drops names from this function's own `global` statements."""

    def __init__(self, names: set[str]) -> None:
        super().__init__()
        self.names = names

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def leave_Global(self, original_node: cst.Global, updated_node: cst.Global):  # type: ignore[no-untyped-def]
        kept = [item for item in updated_node.names if item.name.value not in self.names]
        if not kept:
            return cst.RemovalSentinel.REMOVE
        kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated_node.with_changes(names=kept)


def _extended(values: cst.BaseExpression, extra: list[cst.BaseExpression]) -> cst.BaseExpression:
    """`(x,)` + extra -> `(x, lock)`; `[x]` -> `[x, lock]`; `some_tuple` -> `(*some_tuple, lock)`."""
    new = [cst.Element(v) for v in extra]
    if isinstance(values, cst.Tuple) and values.lpar:
        elements = appended(values.elements, new, values.lpar[0].whitespace_after)
        if len(elements) == 1:
            elements = [elements[0].with_changes(comma=cst.Comma())]
        return values.with_changes(elements=elements)
    if isinstance(values, cst.List):
        return values.with_changes(elements=appended(values.elements, new, values.lbracket.whitespace_after))
    return cst.Tuple(appended([cst.StarredElement(values)], new, None))


def _extend_args_edit(original: cst.Call, args_arg: Optional[cst.Arg], args_name: str,
                      extra: list[cst.BaseExpression]) -> Callable[[cst.Call], cst.Call]:
    index = _index(original.args, args_arg) if args_arg is not None else None

    def edit(call: cst.Call) -> cst.Call:
        args = list(call.args)
        if index is not None:
            args[index] = args[index].with_changes(value=_extended(args[index].value, extra))
            return call.with_changes(args=args)
        return call.with_changes(args=appended(args, [_keyword_arg(args_name, _extended(cst.Tuple([]), extra))],
                                                call.whitespace_before_args))

    return edit


def _extend_kwargs_edit(original: cst.Call, values: list[tuple[str, cst.Name]]) -> Callable[[cst.Call], cst.Call]:
    existing = argument(original, "kwargs", 4)
    index = _index(original.args, existing) if existing is not None else None
    entries = [cst.DictElement(cst.SimpleString(f'"{k}"'), v) for k, v in values]

    def edit(call: cst.Call) -> cst.Call:
        args = list(call.args)
        if index is None:
            return call.with_changes(args=appended(args, [_keyword_arg("kwargs", cst.Dict(appended([], entries, None)))],
                                                    call.whitespace_before_args))
        value = args[index].value
        if isinstance(value, cst.Dict):
            value = value.with_changes(elements=appended(value.elements, entries, value.lbrace.whitespace_after))
        else:
            value = cst.Dict(appended([cst.StarredDictElement(value)], entries, None))
        args[index] = args[index].with_changes(value=value)
        return call.with_changes(args=args)

    return edit


def _extend_call_edit(values: list[tuple[str, cst.Name]], positional: bool) -> Callable[[cst.Call], cst.Call]:
    def edit(call: cst.Call) -> cst.Call:
        new = [cst.Arg(v) if positional else _keyword_arg(k, v) for k, v in values]
        return call.with_changes(args=appended(call.args, new, call.whitespace_before_args))

    return edit


def _as_moved(statement: cst.SimpleStatementLine) -> cst.SimpleStatementLine:
    """Blank lines stay behind; comments travel with the statement."""
    lines = list(statement.leading_lines)
    while lines and lines[0].comment is None:
        lines.pop(0)
    return statement.with_changes(leading_lines=lines)


def _with_statements_first(original: cst.If, guard: cst.If, statements: list[cst.BaseStatement],
                           analysis) -> cst.If:  # type: ignore[no-untyped-def]
    """`statements` at the top of the guard, after any freeze_support()/set_start_method()
    (creating an object first would fix the start method before they run)."""
    setup = 0
    while setup < len(original.body.body) and _is_start_setup(original.body.body[setup], analysis):
        setup += 1
    body = list(guard.body.body)
    body[setup:setup] = statements
    return guard.with_changes(body=guard.body.with_changes(body=body))


def _is_start_setup(statement: cst.BaseStatement, analysis) -> bool:  # type: ignore[no-untyped-def]
    if not (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1):
        return False
    small = statement.body[0]
    return isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) \
        and analysis.call_kind(small.value) in START_SETUP


def _before(anchor: cst.BaseStatement, functions: list[cst.FunctionDef]) -> list[cst.FunctionDef]:
    """New functions above `anchor`, spaced like it."""
    blank = []
    for line in anchor.leading_lines:
        if line.comment is not None:
            break
        blank.append(line)
    if not blank:
        blank = [cst.EmptyLine(), cst.EmptyLine()]
    return [f.with_changes(leading_lines=blank) for f in functions]


def _tests_emptiness(test: cst.BaseExpression, name: str) -> bool:
    """`name is None`, `name is not None`, `name == None`, `not name`, `name`, alone or as
    an operand of `and`/`or`."""
    if isinstance(test, cst.BooleanOperation):
        return _tests_emptiness(test.left, name) or _tests_emptiness(test.right, name)
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return _tests_emptiness(test.expression, name)
    if isinstance(test, cst.Name):
        return test.value == name
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        target = test.comparisons[0]
        sides = [test.left, target.comparator]
        return isinstance(target.operator, (cst.Is, cst.IsNot, cst.Equal, cst.NotEqual)) \
            and any(isinstance(s, cst.Name) and s.value == name for s in sides) \
            and any(isinstance(s, cst.Name) and s.value == "None" for s in sides)
    return False


def _names(needs: list[Need]) -> str:
    quoted = [f"`{n.name}`" for n in needs]
    # `f.q`: an attribute the parent gave a module-level function or class.
    noun = "attribute" if all("." in n.name for n in needs) else "global"
    return f"the {noun}{'s' if len(quoted) > 1 else ''} {_and(quoted)}"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _module_attribute(change: cst.CSTNode) -> Optional[str]:
    """`CONFIG` of `worker.CONFIG = v`, `worker.CONFIG["k"] = v` or
    `worker.ITEMS.append(v)`: the global of the module the parent changes."""
    node = change.func if isinstance(change, cst.Call) else change
    attribute: Optional[str] = None
    while isinstance(node, (cst.Attribute, cst.Subscript)):
        if isinstance(node, cst.Attribute):
            attribute = node.attr.value
        node = node.value
    return attribute if isinstance(node, cst.Name) else None


class ExplicitArgsCommand(RuleCommand):
    rule = ExplicitArgs

