"""MP007 unpicklable-callable: what a process is handed must be importable by name."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Iterator, Optional, Sequence, Union

import libcst as cst

from mpfix.analysis.module import (Binding, CallableUse, Definition, ModuleAnalysis, Workers,
                                   method_name)
from mpfix.analysis.pickling import CUSTOM_PICKLING, instance_attributes, unpicklable
from mpfix.findings import Safety
from mpfix.settings import notebook_helpers_module
from mpfix.analysis.relocation import Relocation, is_cell_marker, relocation
from mpfix.rulekit.rule import Fix, ModuleAddition, Rule, RuleContext, Violation
from mpfix.rulekit.comments import describes_old_behaviour, without_attached_comment
from mpfix.rulekit.helpers import (
    RuleCommand, import_binding, own_nodes, split_leading_lines, unused_name,
)
from mpfix.analysis.arguments import keyword, positional
from mpfix.analysis.starters import RESOURCE_KINDS, Kind
from mpfix.analysis.backends import spawning_task_argument
from mpfix.analysis.third_party import TASK_METHODS, library_starter

# What a slot's role hands over, in a finding's few words.
SHORT_ROLES = {"target": "Process target", "task": "{owner} task",
               "initializer": "{owner} initializer", "register": "manager's registered callable",
               "argument": "callable argument", "process": "Process class",
               "handed": "callable handed to another process", "library-task": "pool task",
               "collate_fn": "DataLoader collate_fn", "worker_init_fn": "DataLoader worker_init_fn",
               "dataset": "DataLoader dataset class", "transform": "callable given to a dataset"}
# Pool methods that return only when every task has been pickled and sent.
SYNCHRONOUS_POOL_METHODS = frozenset({"map", "starmap", "apply"})
# Names for hoisted lambdas, by what the process does with them.
LAMBDA_NAMES = {"target": "_target", "task": "_task", "initializer": "_init_worker",
                "register": "_factory", "argument": "_callback", "collate_fn": "_collate",
                "worker_init_fn": "_init_worker", "transform": "_transform", "handed": "_task", "library-task": "_task"}
FORK_SAFE_TARGETS = ("spawn", "forkserver")
# What the fix changes, as a comment describing the old failure names it ("This fails, as
# lambdas aren't pickleable"): see mpfix.rulekit.comments.
OLD_SUBJECT = re.compile(r"lambda|nested|\blocal\b|\binner\b|closure|defined (?:in|inside)\b|"
                         r"module[- ]level|top[- ]level", re.IGNORECASE)
# A finding is one line (mpfix rule CODE has the rest).
MAX_MESSAGE = 160
# Decorators that make a method bound to its class, or to nothing.
METHOD_DECORATORS = frozenset({"builtins.classmethod", "builtins.staticmethod"})
# Calls that look at a Process object without keeping it anywhere a start() could reach.
INSPECTING_BUILTINS = frozenset(f"builtins.{name}" for name in (
    "print", "repr", "str", "bool", "id", "hash", "type", "isinstance", "len", "vars", "dir"))
TEST_CASES = frozenset({"unittest.TestCase", "unittest.case.TestCase"})

Update = Callable[[cst.CSTNode], Union[cst.CSTNode, cst.RemovalSentinel]]


@dataclass(frozen=True)
class Slot:
    """One place a callable leaves for another process."""

    call: cst.Call                # the call that hands it over
    role: str                     # target, task, initializer, register, argument, process;
                                  # a DataLoader's collate_fn, worker_init_fn, dataset, transform
    owner: Kind
    expr: cst.BaseExpression      # as written: `work`, `partial(work, 2)`, a lambda
    always_pickled: bool          # pool and executor tasks are pickled under fork too
    use: Optional[CallableUse] = None  # whose args=/initargs= may carry closed-over values

    def where(self) -> str:
        pool = "an executor" if self.owner is Kind.EXECUTOR else "a pool"
        return {
            "target": "a Process target",
            "task": f"{pool} task",
            "initializer": f"{pool} initializer",
            "register": "registered with a manager",
            "argument": "an argument sent to another process",
            "process": "started as a Process",
            "handed": "handed to another process",
            "collate_fn": "a DataLoader's collate_fn",
            "worker_init_fn": "a DataLoader's worker_init_fn",
            "dataset": "a DataLoader's dataset class",
            "transform": "given to a DataLoader's dataset",
            "library-task": "a task of a process pool",
        }[self.role]


@dataclass
class Subject:
    """What is wrong with a slot's callable, and the definition that would move."""

    node: cst.CSTNode             # where the finding points
    placement: str                # lambda, local, guarded, object
    definition: Optional[Definition] = None
    problem: str = ""             # report-only: why the object cannot travel


@dataclass
class Hoist:
    """Moving one definition to module level."""

    definition: Definition
    statement: Optional[cst.BaseStatement]  # the statement defining it now; None: inline lambda
    anchor: cst.BaseStatement              # the top-level statement it goes before
    name: str
    renamed: bool
    passed: list[str]                      # closed-over values, now leading parameters
    slots: list[Slot]
    references: list[cst.Name] = field(default_factory=list)


@dataclass(frozen=True)
class Rebinding:
    """Another binding of the module-level name a handed-over definition is pickled by."""

    definition: Union[cst.FunctionDef, cst.ClassDef]
    binding: Binding
    slot: Slot     # one place the definition is handed over
    how: str       # "holds", "wraps" or "after": see _harmful_rebindings


@dataclass(frozen=True)
class Rename:
    """The fix for a rebinding: the variable gets a name of its own."""

    name: str
    fix: Fix


class UnpicklableCallable(Rule):
    """Callables handed to another process must be importable by name.

    What it finds:
    Lambdas, functions and classes defined inside a function, and definitions
    under `if __name__ == "__main__":`, handed to another process: as a Process
    target or Process subclass, a pool or executor task, a worker initializer, a
    `Manager.register` callable, a callable inside `args=`/`kwargs=` or one a
    Process subclass's `__init__` keeps on the instance (`self.work = work`), also
    through `functools.partial`; the function a call of one of the module's functions
    returns from inside it (`pool.map(make_task(3), xs)`, reported: what it closes over
    must become arguments); bound methods of objects that hold what
    cannot be pickled (an open file, a socket's file stream, a thread lock); and
    functions whose decorator (one of this module) returns its inner function
    without `functools.wraps`. Class methods, static methods and methods looked
    up on a module-level class are fine: pickle stores the class or the function
    by qualified name and never copies an instance; so are functions decorated
    with `functools.wraps`, which gives the wrapper the function's names. A
    Process that is never started (nothing calls its `start()`, and it goes
    nowhere a `start()` could be out of sight) pickles nothing and is not reported.

    A `torch.utils.data.DataLoader` with worker processes (`num_workers` above 0)
    hands each worker its dataset, `collate_fn` and `worker_init_fn`: a lambda or
    local function as `collate_fn` or `worker_init_fn`, a dataset whose class is
    defined inside a function (a test's), and a lambda or local function given to
    the dataset's constructor (`transform=lambda x: ...`) are reported. The sampler
    and batch sampler stay in the parent, and a loader without workers
    (`num_workers` absent or 0) or pinned to fork pickles nothing: not reported.
    Where `num_workers` comes from configuration or an argument, the finding is
    reported without a fix: the loader may run without workers.

    Also a module-level function or class handed over while its name is rebound:
    `worker = Process(target=worker)`, `for worker in workers:`, `task =
    partial(task, 2)`, a `global` assignment in a function, or a decorator
    applied in the main guard (`task = traced(task)`). Not reported: a rebinding
    before the definition, in another branch, after the Process was started or
    the synchronous pool call returned, or before the hand-over when the name no
    longer holds the definition there.

    Also a callable given to a function that runs it in another process: a
    function of another module of the run or of an installed package whose
    summary hands that parameter to a process (a pool task, a Process target,
    through any number of calls), and `torch.multiprocessing.spawn(fn)` /
    `start_processes(fn)`, which always spawn. Libraries that send callables by
    value (multiprocess and pathos with dill, loky and joblib with cloudpickle)
    take lambdas and local functions as they are and are not reported.

    Arguments that cannot be pickled (open files, standard streams, thread
    locks, generators, connections) are MP011's (unpicklable-state).

    Why:
    Under spawn and forkserver (Python 3.14's default on Linux; macOS and
    Windows spawn) everything handed to a child is pickled, and pickle stores a
    function or class by its qualified name for the child to import. A lambda
    has no name ("Can't pickle <function <lambda>>"), a local function lives in
    no module ("Can't pickle local object 'main.<locals>.work'"), and a
    definition under the main guard does not exist in the child, which imports
    the main module as `__mp_main__` without running the guard ("Can't get
    attribute 'work' on <module '__mp_main__'>"). A decorator that returns its
    inner function without `functools.wraps` leaves it the qualified name
    `deco.<locals>.inner` (and the name `inner`, by which a bound method is looked
    up again), wherever the decorated function is defined. Pickle finds a
    module-level function by looking its name up again, and refuses another
    object there ("Can't pickle <function worker>: it's not the same object as
    __main__.worker"); a name rebound in the main guard is not rebound at all in
    a child, which never runs the guard. Open files, streams, thread locks and
    generators cannot be pickled at all ("TypeError: cannot pickle
    '_io.TextIOWrapper' object"). Pool and executor tasks, and their arguments,
    are pickled under every start method. The guideline "picklability" asks that
    everything handed to a process pickle.

    Example:
        from multiprocessing import Pool

        def main():
            def square(x):
                return x * x

            with Pool(4) as pool:
                print(pool.map(square, range(10)))

    Fixed:
        from multiprocessing import Pool

        def square(x):
            return x * x

        def main():
            with Pool(4) as pool:
                print(pool.map(square, range(10)))

    Fix safety:
    Safe when the definition closes over nothing: it moves to module level,
    before the statement holding it, comments with it; a lambda becomes a
    `def` named so that it clashes with nothing; a definition under the main
    guard moves above the guard. Unsafe when it closes over local values (or,
    under the main guard, reads globals only the guard binds): they become its
    leading parameters and travel explicitly, with
    `functools.partial`, or in `args=`/`initargs=` for a Process target or an
    initializer (the only places where queues and locks may travel); the values
    must pickle themselves and the child sees them as they were when handed
    over. Reported without a fix: a pool task closing over a lock or queue
    (hand those to the workers with an initializer), closures over a variable
    that is rebound, over an open file or `self`, bound methods of objects
    holding what cannot be pickled, and functions whose decorator drops their
    names (decorate its inner function with `functools.wraps`; moving the
    function would not help). A rebound name is fixed safely by renaming the
    variable (`worker_process = Process(target=worker)`) and every read of it,
    where all its bindings sit in the main guard and every read is in that
    straight-line code; otherwise (a `global` in a function, a function reading
    the name, a rebinding outside the guard, a decorator applied in the guard)
    it is reported. Calls on an explicit fork context are only reported where the configured
    target start method is spawn or forkserver, or where they fail under fork too.
    In a Jupyter notebook every function, class or lambda of the cells handed to
    another process is reported, with the error a spawn or forkserver child
    raises (`AttributeError: Can't get attribute 'f' on <module '__main__'
    (built-in)>`): the kernel's `__main__` has no file to import, so moving it
    within the notebook would not help; the finding names the module beside the
    notebook to define it in (`analysis.ipynb`: `analysis_helpers.py`; the
    setting `notebook-helpers`, default `"{notebook}_helpers"`, names it
    otherwise). A function or class defined at the top of a cell is moved there
    by an unsafe fix, with the notebook's functions, classes and constants it
    uses and the imports they need; its cell imports it back, and notebook
    variables it reads become leading parameters passed where it is handed over.
    The fix is not offered where a name it reads is bound twice or by no cell,
    where it assigns notebook globals, where a variable is read by code it calls
    or by a class, where a function needing a variable is also called directly,
    where the module binds one of the names otherwise, or where mpfix is not
    writing files (the API, stdin).
    """

    code = "MP007"
    name = "unpicklable-callable"
    fix_safety = "mixed"

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self._allocated: set[str] = set()  # module-level names this run's fixes take
        self._attributes: dict[int, list[tuple[str, cst.BaseExpression]]] = {}
        self._started: Optional[set[int]] = None  # the Process creations a start() is seen for

    def check(self) -> Iterable[Violation]:
        slots = list(self._slots())
        yield from self._definition_findings(slots)
        yield from self._rebinding_findings(slots)

    def _definition_findings(self, slots: list[Slot]) -> Iterator[Violation]:
        analysis = self.analysis
        reported: list[tuple[Slot, Subject]] = []
        slots_by_definition: dict[int, list[Slot]] = {}
        for slot in slots:
            if analysis.pickles_by_value(slot.call):
                continue
            subject = self._subject(slot)
            if subject is None:
                continue
            if subject.definition is not None:
                slots_by_definition.setdefault(id(subject.definition), []).append(slot)
            if self._broken_here(slot, subject) and not self._never_started(slot):
                reported.append((slot, subject))
        plans: dict[int, Union[Hoist, str]] = {}
        moves: dict[int, tuple[Optional[Relocation], Optional[Fix]]] = {}
        moved_along: set[tuple[int, int]] = set()
        by_name = {(id(slot.call), id(subject.definition)) for slot, subject in reported
                   if isinstance(subject.node, cst.Name)}
        for slot, subject in reported:
            if subject.definition is None:
                yield Violation(subject.node, f"{self._describe(subject)} is {slot.where()}: "
                                f"{subject.problem}")
                continue
            key = id(subject.definition)
            if self.context.is_notebook:
                # A dataset's class and the dataset object of that class: one finding, on
                # the class.
                if (id(slot.call), key) in moved_along or not isinstance(subject.node, cst.Name) \
                        and (id(slot.call), key) in by_name:
                    continue
                moved_along.add((id(slot.call), key))
                if key not in moves:
                    moves[key] = self._notebook_move(subject, slots_by_definition[key])
                relocated, fix = moves[key]
                yield Violation(subject.node, self._notebook_message(slot, subject, relocated),
                                fix)
                continue
            if key not in plans:
                plans[key] = self._plan(subject, slots_by_definition[key])
            plan = plans[key]
            where = slot.where()
            if self._workers_uncertain([slot]):
                where += " (if num_workers > 0)"
            message = f"{self._describe(subject)} is {where}; {self._why(subject)}"
            if slot.always_pickled and subject.placement != "guarded":
                message += " (even under fork)"
            if isinstance(plan, str):
                yield Violation(subject.node, f"{message}, and {plan}")
            elif self._workers_uncertain(plan.slots):
                yield Violation(subject.node, f"{message}: {self._advice(plan)}")
            else:
                yield Violation(subject.node, f"{message}: {self._advice(plan)}", self._fix(plan))

    def _workers_uncertain(self, slots: list[Slot]) -> bool:
        """A DataLoader whose `num_workers` comes from configuration or an argument may run
        without workers: reported, not rewritten."""
        return any(slot.owner is Kind.DATA_LOADER
                   and self.analysis.loader_workers(slot.call) is Workers.MAYBE for slot in slots)

    # -- where callables leave -----------------------------------------------------------

    def _slots(self) -> Iterator[Slot]:
        analysis = self.analysis
        seen: set[tuple[int, int]] = set()  # a helper's calls may hand over the same callable
        for use in analysis.callable_uses():
            always = use.role == "task"
            if (id(use.call), id(use.callable_arg.value)) not in seen:
                seen.add((id(use.call), id(use.callable_arg.value)))
                yield Slot(use.call, use.role, use.owner_kind, use.callable_arg.value, always, use)
            for value in analysis.arguments(use).values():
                callable_ = analysis.unwrap_partial(value)
                handed = (cst.Lambda, cst.Name, cst.Call) if self.context.is_notebook \
                    else (cst.Lambda, cst.Name)
                if isinstance(callable_, handed) and (id(use.call), id(value)) not in seen:
                    seen.add((id(use.call), id(value)))
                    yield Slot(use.call, "argument", use.owner_kind, value, always)
        for call in analysis.calls:
            cls = analysis.process_class(call.func) \
                if analysis.call_kind(call) is Kind.PROCESS else None
            if cls is not None:
                yield Slot(call, "process", Kind.PROCESS, call.func, False)
                yield from self._kept_argument_slots(call, cls)
        yield from self._handoff_slots()
        yield from self._loader_slots()

    def _kept_argument_slots(self, call: cst.Call, cls: cst.ClassDef) -> Iterator[Slot]:
        """Callables a Process subclass's `__init__` keeps on the instance (`self.work =
        work`): spawn and forkserver pickle the instance to start it, and with it what its
        attributes hold."""
        init = next((s for s in cls.body.body
                     if isinstance(s, cst.FunctionDef) and s.name.value == "__init__"), None)
        if init is None:
            return
        params = [p.name.value for p in (*init.params.posonly_params, *init.params.params)][1:]
        kept = {value.value for _, value, _ in instance_attributes(cls, frozenset({"__init__"}))
                if isinstance(value, cst.Name)}
        for index, arg in enumerate(call.args):
            if arg.star:
                return
            name = arg.keyword.value if arg.keyword is not None \
                else params[index] if index < len(params) else None
            if name in kept and isinstance(self.analysis.unwrap_partial(arg.value),
                                           (cst.Lambda, cst.Name)):
                yield Slot(call, "argument", Kind.PROCESS, arg.value, False)

    def _handoff_slots(self) -> Iterator[Slot]:
        """Callables given to a function that runs them in another process: a third-party
        starter (`torch.multiprocessing.spawn(fn)`, which always spawns) or a function of
        another module whose summary hands that parameter over (mpfix.analysis.summaries)."""
        analysis = self.analysis
        for call in analysis.calls:
            for name in analysis.qualified_names(call.func):
                # joblib's delayed(f) under the multiprocessing backend: pickled by reference
                handed = analysis.starters.handed_argument(name) \
                    or spawning_task_argument(analysis, call)
                if handed is None:
                    continue
                arg = keyword(call, handed.name) or (
                    positional(call, handed.position) if handed.position is not None else None)
                if arg is not None:
                    spawns = library_starter(name) is not None
                    yield Slot(call, "handed", Kind.STARTS, arg.value, spawns)
            task = self._library_pool_task(call)
            if task is not None:
                yield Slot(call, "library-task", Kind.STARTS, task.value, True)

    def _library_pool_task(self, call: cst.Call) -> Optional[cst.Arg]:
        """The function given to a third-party pool's task method (`pebble.ProcessPool`'s
        `schedule`/`submit`/`map`), when that library pickles it by reference."""
        method = method_name(call)
        if method not in TASK_METHODS or not call.args or call.args[0].keyword is not None \
                or call.args[0].star:
            return None
        for creation in self.analysis.creation_calls(call.func.value):  # type: ignore[attr-defined]
            entry = library_starter(self.analysis.api_name(creation.func) or "")
            if entry is not None and not entry.by_value and method in entry.task_methods:
                return call.args[0]
        return None

    def _loader_slots(self) -> Iterator[Slot]:
        """A DataLoader's dataset travels with its class, and with the callables its
        constructor was given (`transform=lambda x: ...`); its collate_fn and
        worker_init_fn are callable uses like any other."""
        analysis = self.analysis
        for handoff in analysis.loader_handoffs():
            if handoff.role == "dataset":
                cls = analysis.instance_class(handoff.value)
                if cls is not None:
                    yield Slot(handoff.call, "dataset", Kind.DATA_LOADER, cls, False)
            elif handoff.role == "transform":
                yield Slot(handoff.call, "transform", Kind.DATA_LOADER, handoff.value, False)

    # -- what is wrong with a callable -------------------------------------------------------

    def _subject(self, slot: Slot) -> Optional[Subject]:
        callable_ = self.analysis.unwrap_partial(slot.expr)
        if isinstance(callable_, cst.Attribute):
            return self._bound_method_subject(slot, callable_)
        if isinstance(callable_, cst.Call):
            returned = self._factory_result_subject(callable_)
            if returned is not None:
                return returned
        definition = self.analysis.definition_of(callable_)
        if definition is None and self.context.is_notebook:
            definition = self._notebook_instance_class(callable_)
        if definition is None:
            return None
        placement = self._placement(definition)
        if placement is not None:
            return Subject(callable_, placement, definition)
        if isinstance(definition, cst.FunctionDef):
            lost = self._lost_name(definition, by_attribute=False)
            if lost is not None:
                return Subject(callable_, "object", problem=lost)
        return None

    def _factory_result_subject(self, call: cst.Call) -> Optional[Subject]:
        """`pool.map(make_task(3), xs)` where the module's `make_task` returns a function
        defined inside it: pickle cannot find that function by name. Reported, not fixed:
        what it closes over has to become arguments of a module-level function."""
        factory = self.analysis.definition_of(call.func) if isinstance(call.func, cst.Name) \
            else None
        if not isinstance(factory, cst.FunctionDef) or not self.analysis.is_module_level(factory):
            return None
        inner = self._returned_function(factory)
        if inner is None:
            return None
        return Subject(call, "object", problem=(
            f"'{inner.name.value}' is local to '{factory.name.value}', and pickle cannot find "
            "it: use a module-level function with functools.partial"))

    def _notebook_instance_class(self, expr: cst.BaseExpression) -> Optional[cst.ClassDef]:
        """The notebook's class `expr` is an instance of (`Acc()`, or a name bound once to
        one): pickle stores it by its class, which a child looks up in `__main__` too."""
        if isinstance(expr, cst.Name):
            bindings = self.analysis.names.resolve(expr)
            value = self._bound_value(bindings[0].node) if len(bindings) == 1 else None
            expr = value if value is not None else expr
        if not isinstance(expr, cst.Call):
            return None
        cls = self.analysis.definition_of(expr.func)
        return cls if isinstance(cls, cst.ClassDef) and self.analysis.is_module_level(cls) \
            else None

    def _placement(self, definition: Definition) -> Optional[str]:
        if isinstance(definition, cst.Lambda):
            return "lambda"
        if not self.analysis.is_module_level(definition):
            return "local"
        if self.context.is_notebook:
            return "notebook"
        if self.analysis.in_main_guard(definition):
            return "guarded"
        return None

    def _bound_method_subject(self, slot: Slot, method: cst.Attribute) -> Optional[Subject]:
        receiver = self._class_of_object(method.value)
        if receiver is None:
            return None
        cls, is_class = receiver
        placement = self._placement(cls)
        if placement is not None:
            return Subject(method, placement, cls)
        member = self._member(cls, method.attr.value, set())
        if member is None and any(attribute == method.attr.value
                                  for attribute, _ in self._instance_attributes(cls)):
            return None  # `self.fn = fn`: what the attribute holds is pickled, not the object
        binding = _method_binding(self.analysis, member) if member is not None else "instance"
        if member is not None:
            # A static method is a plain function, found by its qualified name; a bound method
            # is found again as an attribute of its object (or class) by its name.
            lost = self._lost_name(member, by_attribute=binding != "static")
            if lost is not None:
                return Subject(method, "object", problem=lost)
        if is_class or binding != "instance":
            # `Cls.method`, a class method or a static method: pickle stores the class or the
            # function by qualified name and never copies an instance.
            return None
        if any(isinstance(s, cst.FunctionDef) and s.name.value in CUSTOM_PICKLING
               for s in cls.body.body):
            return None
        held = self._held_unpicklable(cls, slot)
        if held is None:
            return None
        attribute, description = held
        problem = (f"its object holds {description} in '{attribute}': "
                   + ("use a module-level function, its state given by initializer="
                      if slot.always_pickled else
                      "create that in the child, or drop it in a `__getstate__`"))
        return Subject(method, "object", problem=problem)

    def _class_of_object(self, expr: cst.BaseExpression) -> Optional[tuple[cst.ClassDef, bool]]:
        """The module's own class `expr` is an instance of (`self` included), or is (`cls` of
        a class method included); and whether `expr` is the class itself."""
        if not isinstance(expr, cst.Name):
            return None
        definition = self.analysis.definition_of(expr)
        if isinstance(definition, cst.ClassDef):
            return definition, True
        for binding in self.analysis.assignments(expr):
            owner = self._first_parameter_owner(binding.node)
            if owner is not None:
                return owner[0], owner[1] == "class"
            value = self.analysis.assigned_value(binding.node)
            if isinstance(value, cst.Call):
                made = self.analysis.definition_of(value.func)
                if isinstance(made, cst.ClassDef):
                    return made, False
        return None

    def _method_of_self(self, node: cst.CSTNode) -> Optional[cst.ClassDef]:
        """The class whose (instance) method binds `node` as its first parameter, `self`."""
        owner = self._first_parameter_owner(node)
        return owner[0] if owner is not None and owner[1] == "instance" else None

    def _first_parameter_owner(self, node: cst.CSTNode) -> Optional[tuple[cst.ClassDef, str]]:
        """(class, "instance" or "class") when `node` is the first parameter of a method of
        that class: `self`, or `cls` of a class method. A static method has neither."""
        param = self.analysis.parent(node)
        if not isinstance(param, cst.Param):
            return None
        function = self.analysis.enclosing_function(param)
        if function is None or not function.params.params or function.params.params[0] is not param:
            return None
        owner = self.analysis.parent(self.analysis.parent(function) or function)
        if not isinstance(owner, cst.ClassDef):
            return None
        binding = _method_binding(self.analysis, function)
        return None if binding == "static" else (owner, binding)

    def _member(self, cls: cst.ClassDef, name: str, seen: set[int]) -> Optional[cst.FunctionDef]:
        """The def `name` in the body of `cls`, or of the first of its bases (defined in this
        module) that has one; None where a base from elsewhere may define it."""
        seen.add(id(cls))
        found = [statement for statement in cls.body.body
                 if isinstance(statement, cst.FunctionDef) and statement.name.value == name]
        if found:
            return found[-1]
        for base in cls.bases:
            parent = self.analysis.definition_of(base.value)
            if not isinstance(parent, cst.ClassDef) or id(parent) in seen:
                return None
            member = self._member(parent, name, seen)
            if member is not None:
                return member
        return None

    def _lost_name(self, function: cst.FunctionDef, by_attribute: bool) -> Optional[str]:
        """Why pickle cannot find `function` again by name, when its outermost decorator (past
        `classmethod`/`staticmethod`) is a function of this module that returns a function
        defined inside it without `functools.wraps`: what the decorated name holds then
        has that inner function's names, `deco.<locals>.inner` and `inner`."""
        decorators = [d.decorator for d in function.decorators]
        while decorators and self.analysis.qualified_names(decorators[0]) & METHOD_DECORATORS:
            decorators.pop(0)
        if not decorators:
            return None
        decorator = decorators[0]
        wrapper = self._module_function(decorator)
        if wrapper is None:
            return None
        if isinstance(decorator, cst.Call):  # `@retry(3)`: the factory returns the decorator
            wrapper = self._returned_function(wrapper)
            if wrapper is None:
                return None
        inner = self._returned_function(wrapper)
        if inner is None:
            return None
        written = self.context.module.code_for_node(decorator)
        name = inner.name.value
        params = wrapper.params.params
        wrapped = params[0].name.value if params else "the decorated function"
        # Without functools.wraps the function pickles as `name`, looked up on the method's
        # object when `by_attribute`, else as `deco.<locals>.name`: neither is found.
        return f"its decorator '{written}' needs `@functools.wraps({wrapped})` on '{name}'"

    def _module_function(self, decorator: cst.BaseExpression) -> Optional[cst.FunctionDef]:
        expr = decorator.func if isinstance(decorator, cst.Call) else decorator
        function = self.analysis.definition_of(expr)
        if isinstance(function, cst.FunctionDef) and self.analysis.is_module_level(function):
            return function
        return None

    def _returned_function(self, function: cst.FunctionDef) -> Optional[cst.FunctionDef]:
        """The function defined in `function` that every one of its returns returns, when that
        function has no decorator and its name is used for nothing else (`update_wrapper`,
        `__qualname__ = ...` would give it the decorated function's names)."""
        returned: set[int] = set()
        inner: Optional[cst.FunctionDef] = None
        for statement in _returns_in(function):
            value = statement.value
            if not isinstance(value, cst.Name):
                return None
            bindings = self.analysis.assignments(value)
            if len(bindings) != 1 or not isinstance(bindings[0].node, cst.FunctionDef):
                return None
            inner = bindings[0].node
            returned.add(id(inner))
        if inner is None or len(returned) != 1 or inner.decorators \
                or self.analysis.enclosing_function(inner) is not function:
            return None
        for reference in self.analysis.references(inner):
            if not isinstance(self.analysis.parent(reference), cst.Return):
                return None
        return inner

    # -- whether a Process is ever started ---------------------------------------------------

    def _never_started(self, slot: Slot) -> bool:
        """Whether the Process `slot` hands its callable to is visibly never started: no
        `start()` is called on it and it goes nowhere a `start()` could be out of sight (a
        return, an attribute, another function). Only `start()` pickles what it was given."""
        if slot.owner is not Kind.PROCESS:
            return False
        if self._started is None:
            self._started = self._started_processes()
        if id(slot.call) in self._started:
            return False
        cls = self.analysis.process_class(slot.call.func)
        if cls is not None and self._starts_itself(cls, set()):
            return False
        return not self._may_reach_start(slot.call, set())

    def _started_processes(self) -> set[int]:
        analysis = self.analysis
        started: set[int] = set()
        for call in analysis.calls:
            if method_name(call) == "start":
                receiver = call.func.value  # type: ignore[attr-defined]
                started.update(id(c) for c in analysis.creation_calls(receiver))
        return started

    def _starts_itself(self, cls: cst.ClassDef, seen: set[int]) -> bool:
        """Whether a method of the Process subclass `cls` (or of its bases here) calls
        `self.start()`, as a constructor that starts the process does."""
        seen.add(id(cls))
        for call in self.analysis.names.within(self.analysis.calls, cls):
            receiver = call.func.value if isinstance(call.func, cst.Attribute) else None
            if method_name(call) == "start" and isinstance(receiver, cst.Name) and any(
                    self._method_of_self(b.node) is not None
                    for b in self.analysis.assignments(receiver)):
                return True
        for base in cls.bases:
            parent = self.analysis.definition_of(base.value)
            if isinstance(parent, cst.ClassDef) and id(parent) not in seen \
                    and self._starts_itself(parent, seen):
                return True
        return False

    def _may_reach_start(self, expr: cst.CSTNode, seen: set[int]) -> bool:
        """Whether the object `expr` evaluates to may have `start()` called on it: through
        the names and containers it is kept in, or anywhere out of sight."""
        if id(expr) in seen:
            return False
        seen.add(id(expr))
        analysis = self.analysis
        parent = analysis.parent(expr)
        if isinstance(parent, cst.Attribute) and parent.value is expr:
            return parent.attr.value == "start"  # other methods and attributes never start it
        if isinstance(parent, (cst.Expr, cst.If, cst.While, cst.Assert, cst.UnaryOperation,
                               cst.Comparison, cst.ComparisonTarget)):
            return False  # dropped, or only tested
        if isinstance(parent, cst.Element):
            container = analysis.parent(parent)
            return container is None or self._may_reach_start(container, seen)
        passes_on = isinstance(parent, (cst.BooleanOperation, cst.IfExp)) or isinstance(
            parent, (cst.ListComp, cst.SetComp, cst.GeneratorExp)) and parent.elt is expr
        if passes_on:
            return self._may_reach_start(parent, seen)  # type: ignore[arg-type]
        if isinstance(parent, cst.Arg):
            call = analysis.parent(parent)
            return not (isinstance(call, cst.Call) and self._only_inspects(call, seen))
        names = self._names_holding(expr, parent)
        if names is None:
            return True  # returned, yielded, stored in an attribute or a subscript...
        return any(self._may_reach_start(read, seen)
                   for name in names for read in analysis.reads_of(name))

    def _names_holding(self, expr: cst.CSTNode, parent: Optional[cst.CSTNode]
                       ) -> Optional[list[cst.Name]]:
        """The variables `expr` is assigned to or iterated into; None when it goes elsewhere."""
        if isinstance(parent, cst.Assign) and parent.value is expr:
            targets = [t.target for t in parent.targets]
        elif isinstance(parent, (cst.AnnAssign, cst.NamedExpr)) and parent.value is expr:
            targets = [parent.target]
        elif isinstance(parent, cst.For) and parent.iter is expr:
            targets = [parent.target]
        elif isinstance(parent, cst.CompFor) and parent.iter is expr:
            targets = [parent.target]
        else:
            return None
        if all(isinstance(t, cst.Name) for t in targets):
            return targets  # type: ignore[return-value]
        return None

    def _only_inspects(self, call: cst.Call, seen: set[int]) -> bool:
        """Whether `call` only looks at the object it is given: a builtin such as `print` or
        `isinstance`, a unittest assertion; or keeps it in a list that is followed."""
        analysis = self.analysis
        if analysis.qualified_names(call.func) & INSPECTING_BUILTINS:
            return True
        func = call.func
        if not isinstance(func, cst.Attribute) or not isinstance(func.value, cst.Name):
            return False
        if func.attr.value in ("append", "add") and len(call.args) == 1:
            return not any(self._may_reach_start(read, seen)
                           for read in analysis.reads_of(func.value))
        if func.attr.value.startswith("assert"):
            owner = next((self._method_of_self(b.node)
                          for b in analysis.assignments(func.value)), None)
            return owner is not None and self._is_test_case(owner, set())
        return False

    def _is_test_case(self, cls: cst.ClassDef, seen: set[int]) -> bool:
        seen.add(id(cls))
        for base in cls.bases:
            if self.analysis.qualified_names(base.value) & TEST_CASES:
                return True
            parent = self.analysis.definition_of(base.value)
            if isinstance(parent, cst.ClassDef) and id(parent) not in seen \
                    and self._is_test_case(parent, seen):
                return True
        return False

    def _held_unpicklable(self, cls: cst.ClassDef, slot: Slot) -> Optional[tuple[str, str]]:
        """(`self.attr`, what it holds) for an attribute of `cls` that cannot travel with `slot`."""
        for attribute, value in self._instance_attributes(cls):
            description = self._unpicklable(value, cls)
            kind = self.analysis.kind_of(value)
            # Queues and locks travel with a Process as it starts, never with a task.
            if description is None and (kind in (Kind.POOL, Kind.EXECUTOR)
                                        or slot.always_pickled and kind in RESOURCE_KINDS):
                description = f"a multiprocessing {kind.value}"  # type: ignore[union-attr]
            if description is not None:
                return f"self.{attribute}", description
        return None

    def _instance_attributes(self, cls: cst.ClassDef) -> list[tuple[str, cst.BaseExpression]]:
        """(`attr`, value) for each `self.attr = value` in the methods of `cls`."""
        if id(cls) not in self._attributes:
            self._attributes[id(cls)] = [(attribute, value) for attribute, value, _
                                         in instance_attributes(cls)]
        return self._attributes[id(cls)]

    def _unpicklable(self, value: Optional[cst.BaseExpression],
                     cls: Optional[cst.ClassDef] = None) -> Optional[str]:
        """What `value` is, when pickle cannot copy it: "an open file", "a generator"..."""
        attributes = self._instance_attributes(cls) if cls is not None else ()
        return unpicklable(self.analysis, value, attributes)

    def _bound_value(self, target: cst.CSTNode) -> Optional[cst.BaseExpression]:
        """What a binding binds: the assigned value, or for `a, b = f()` the whole of `f()`."""
        value = self.analysis.assigned_value(target)
        element = self.analysis.parent(target)
        if value is None and isinstance(element, cst.Element):
            return self.analysis.assigned_value(self.analysis.parent(element) or element)
        return value

    def _broken_here(self, slot: Slot, subject: Subject) -> bool:
        """An explicit fork context hands Process targets over by forking, not pickling."""
        method = self.analysis.start_method_of(slot.call)
        if method != "fork" or self.context.settings.target_start_method in FORK_SAFE_TARGETS:
            return True
        # Like a guarded definition, a notebook's is in every forked child's `__main__`.
        return slot.always_pickled and subject.placement not in ("guarded", "notebook")

    # -- a module-level name rebound away from the callable it names ---------------------

    def _rebinding_findings(self, slots: list[Slot]) -> Iterator[Violation]:
        """A function or class of this module handed over by name while its module-level
        name is rebound (`worker = Process(target=worker)`): pickle looks the name up and
        finds the other object ("it's not the same object as __main__.worker")."""
        found: dict[int, Rebinding] = {}
        order = self.analysis.names.order
        for slot in slots:
            read = self.analysis.unwrap_partial(slot.expr)
            if not isinstance(read, cst.Name):
                continue
            definition = self._named_module_definition(read)
            if definition is None or self.analysis.pickles_by_value(slot.call) \
                    or not self._pickles_in_target(slot) or self._never_started(slot):
                continue
            for binding, how in self._harmful_rebindings(definition, read, slot):
                found.setdefault(id(binding.node), Rebinding(definition, binding, slot, how))
        renames: dict[int, Union[Rename, str]] = {}
        for rebinding in sorted(found.values(), key=lambda r: order[r.binding.node]):
            key = id(rebinding.definition)
            if key not in renames:
                renames[key] = self._rename(rebinding.definition)
            yield self._rebinding_violation(rebinding, renames[key])

    def _named_module_definition(self, read: cst.Name
                                 ) -> Optional[Union[cst.FunctionDef, cst.ClassDef]]:
        """The def or class bound to a module-level name of this module that `read` names."""
        definition = self.analysis.definition_of(read)
        if not isinstance(definition, (cst.FunctionDef, cst.ClassDef)) \
                or self._placement(definition) is not None:
            return None  # a lambda, a local or a guarded definition: reported as such
        scope = self.analysis.scope(definition)
        return definition if scope is not None and scope.kind == "module" else None

    def _pickles_in_target(self, slot: Slot) -> bool:
        """Whether the configured target start method pickles what `slot` hands over: an
        explicit fork context pickles pool and executor tasks only."""
        if self.analysis.start_method_of(slot.call) != "fork" \
                or self.context.settings.target_start_method in FORK_SAFE_TARGETS:
            return True
        return slot.always_pickled

    def _harmful_rebindings(self, definition: Union[cst.FunctionDef, cst.ClassDef],
                            read: cst.Name, slot: Slot) -> Iterator[tuple[Binding, str]]:
        """The other bindings of the definition's module-level name that pickle may find
        instead of it, with how: "holds" (the value wraps it: `task = partial(task, 2)`),
        "wraps" (a decorator's result bound only in the parent: spawn children get the bare
        definition), "after" (bound after the read, before the pickling may happen)."""
        analysis = self.analysis
        order = analysis.names.order
        for binding in analysis.global_bindings(definition.name.value):
            node = binding.node
            if node is definition or analysis.exclusive_branches(definition, node):
                continue
            at_import = not analysis.binds_after_import(node)
            if at_import and order[node] < order[definition]:
                continue  # the definition replaces it
            how = self._wrapping(binding)
            if how == "wraps" and at_import:
                continue  # a child runs the same statement: it finds the same wrapper
            if how is not None:
                yield binding, how
            elif not self._dominates(node, read) and self._may_run_after(node, read, slot):
                yield binding, "after"

    def _wrapping(self, binding: Binding) -> Optional[str]:
        """How the value bound wraps the definition of that name: "holds" for `name =
        partial(name, ...)`, "wraps" for `name = deco(name)`; None when it does not."""
        value = self.analysis.assigned_value(binding.node)
        if not isinstance(value, cst.Call) or not value.args or value.args[0].keyword is not None \
                or value.args[0].star:
            return None
        first = value.args[0].value
        if not isinstance(first, cst.Name) or first.value != binding.name:
            return None
        if self.analysis.is_partial(value):
            return "holds"
        if self.analysis.call_kind(value) is None:
            return "wraps"
        return None

    def _dominates(self, node: cst.CSTNode, read: cst.Name) -> bool:
        """Whether every run reaching `read` passes the binding `node` first, so that `read`
        sees what it binds (or a later binding), never the definition."""
        analysis = self.analysis
        if _code_unit(analysis, node) is not _code_unit(analysis, read):
            return False
        names, order = analysis.names, analysis.names.order
        construct = _binding_construct(analysis, node)
        if isinstance(construct, (cst.For, cst.With)) and names.contains(construct.body, read):
            return True
        if construct is None or isinstance(construct, cst.For) \
                or any(names.contains(part, read) for part in _evaluated_first(construct)):
            return False
        statement = construct if isinstance(construct, cst.BaseStatement) \
            else analysis.parent(construct)
        if isinstance(statement, cst.SimpleStatementLine) and names.contains(statement, read):
            return any(names.contains(small, read) and order[small] > order[construct]
                       for small in statement.body)
        if not isinstance(statement, cst.BaseStatement):
            return False  # a walrus, or a statement sharing a line with `if x:`
        # A later statement of the same block, or something inside one.
        block = analysis.parent(statement)
        holder = next((a for a in analysis.ancestors(read) if analysis.parent(a) is block), None)
        return holder is not None and order[holder] > order[statement]

    def _may_run_after(self, node: cst.CSTNode, read: cst.Name, slot: Slot) -> bool:
        """Whether the binding `node` may run after the hand-over reads the definition at
        `read` and before what it handed over is pickled."""
        analysis = self.analysis
        if _code_unit(analysis, node) is not None:
            return True  # a function rebinding it through `global` may run at any time
        read_unit = _code_unit(analysis, read)
        if read_unit is not None:
            if not analysis.binds_after_import(node):
                return False  # bound at import time, before any function runs
            return not self._handed_over_within(node, read_unit, slot)
        if not (_evaluated_before(analysis, read, node) or _share_loop(analysis, node, read)):
            return False
        return not self._pickled_before(node, slot)

    def _pickled_before(self, node: cst.CSTNode, slot: Slot) -> bool:
        """Whether what `slot` hands over is surely pickled before the binding `node` runs:
        every `start()` of the Process, or the synchronous pool call, comes first in the same
        straight-line code (`p.start(); p.join(); worker = None`)."""
        analysis = self.analysis
        if _code_unit(analysis, node) is not _code_unit(analysis, slot.call):
            return False
        if slot.owner is Kind.POOL and method_name(slot.call) in SYNCHRONOUS_POOL_METHODS:
            points = [slot.call]
        elif slot.owner is Kind.PROCESS:
            points = self._start_calls(slot.call, analysis.module)
        else:
            return False
        return bool(points) and all(self._runs_after(node, point) for point in points)

    def _start_calls(self, creation: cst.Call, within: cst.CSTNode) -> list[cst.Call]:
        """The `start()` calls under `within` on the Process that `creation` makes."""
        return [call for call in self.analysis.names.within(self.analysis.calls, within)
                if method_name(call) == "start" and any(
                    made is creation
                    for made in self.analysis.creation_calls(call.func.value))]  # type: ignore[attr-defined]

    def _handed_over_within(self, node: cst.CSTNode, function: cst.CSTNode, slot: Slot) -> bool:
        """Whether the binding's value is a call of `function`, which hands the definition
        over and has it pickled before returning (`worker = start()`, where `start()` starts
        the Process): then the name is rebound only after the pickling."""
        value = self.analysis.assigned_value(node)
        if not isinstance(value, cst.Call) \
                or self.analysis.definition_of(value.func) is not function:
            return False
        if slot.owner is Kind.POOL:
            return method_name(slot.call) in SYNCHRONOUS_POOL_METHODS
        return slot.owner is Kind.PROCESS and bool(self._start_calls(slot.call, function))

    def _rename(self, definition: Union[cst.FunctionDef, cst.ClassDef]) -> Union[Rename, str]:
        """Renaming every other binding of the definition's name, and the reads that see
        them: provably right only where they all sit in the main guard, which no other module
        and no child ever runs, and every read is in straight-line code that shows whether it
        sees the definition or the variable. Else why not."""
        analysis = self.analysis
        name = definition.name.value
        others = [b for b in analysis.global_bindings(name) if b.node is not definition]
        for binding in others:
            if not analysis.is_module_level(binding.node):
                return "not fixed: a function rebinds it via `global`"
            if not analysis.in_main_guard(binding.node):
                return "not fixed: bound outside the main guard"
            if not _renameable(analysis, binding.node) or self._wrapping(binding) == "wraps":
                return "not fixed: one of its bindings cannot be renamed"
        renamed: list[cst.Name] = [b.node for b in others]  # type: ignore[misc]
        for read in analysis.module_name_reads.get(name, []):
            if analysis.names.contains(definition, read):
                continue  # its own body: a child finds the definition under that name
            if _code_unit(analysis, read) is not None:
                return "not fixed: a function reads it"
            if any(self._dominates(b.node, read) for b in others):
                renamed.append(read)
            elif any(not self._runs_after(b.node, read) for b in others):
                line = analysis.position(read).start.line
                return f"not fixed: its read on line {line} may see either"
        suffix = self._variable_kind(others)
        new = unused_name(analysis, f"{name}_{suffix}" if suffix else name, self._allocated)
        self._allocated.add(new)
        return Rename(new, Fix({node: node.with_changes(value=new) for node in renamed}))

    def _runs_after(self, node: cst.CSTNode, read: cst.CSTNode) -> bool:
        """Whether the binding `node`, in the same straight-line code as `read`, surely runs
        after it: written after it, or evaluating it first, and not in a loop with it."""
        return _evaluated_before(self.analysis, read, node) \
            and not _share_loop(self.analysis, node, read)

    def _variable_kind(self, bindings: list[Binding]) -> Optional[str]:
        """What the variable holds, for its new name: "process", "pool", "partial"..."""
        kinds = {self._held_kind(binding) for binding in bindings}
        return kinds.pop() if len(kinds) == 1 else None

    def _held_kind(self, binding: Binding) -> Optional[str]:
        if self._wrapping(binding) == "holds":
            return "partial"
        construct = _binding_construct(self.analysis, binding.node)
        if isinstance(construct, cst.For):
            kind = self.analysis.element_kind(construct.iter) if construct.target is binding.node \
                else None
        else:
            value = self.analysis.assigned_value(binding.node)
            kind = self.analysis.kind_of(value) if value is not None else None
        return kind.value.replace("-", "_") if kind is not None else None

    def _rebinding_violation(self, rebinding: Rebinding, rename: Union[Rename, str]) -> Violation:
        definition, slot = rebinding.definition, rebinding.slot
        name = definition.name.value
        kind = "class" if isinstance(definition, cst.ClassDef) else "function"
        node = rebinding.binding.node
        handed = f"{SHORT_ROLES[slot.role].format(owner=slot.owner.value)} '{name}'"
        if rebinding.how == "wraps":
            return Violation(node, f"the main guard wraps the {handed}, but spawn and forkserver "
                             f"children never run the guard and get the bare {kind}: decorate "
                             f"the def instead")
        methods = "every start method pickles" if slot.always_pickled \
            else "spawn and forkserver pickle"
        deleted = isinstance(_binding_construct(self.analysis, node), cst.Del)
        message = f"{methods} the {handed} by name, which this {'deletes' if deleted else 'rebinds'}"
        if deleted:
            return Violation(node, f"{message}: delete it once the child has started")
        if isinstance(rename, str):
            return Violation(node, f"{message}: rename this variable ({rename})")
        return Violation(node, f"{message}: rename this variable to '{rename.name}'", rename.fix)

    # -- describing it ---------------------------------------------------------------------

    def _describe(self, subject: Subject) -> str:
        node = subject.node
        if isinstance(node, cst.Lambda):
            return "a lambda"
        if isinstance(node, cst.Attribute):
            return f"method '{self.context.module.code_for_node(node)}'"
        definition = subject.definition
        if definition is None:
            what = "the result of" if isinstance(node, cst.Call) else "function"
            return f"{what} '{self.context.module.code_for_node(node)}'"
        if isinstance(definition, cst.ClassDef) and not isinstance(node, cst.Name) \
                or isinstance(node, cst.Name) and node.value != getattr(definition, "name",
                                                                        node).value:
            name = definition.name.value  # type: ignore[union-attr]
            return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} '{name}' object"
        if isinstance(definition, cst.Lambda):
            return f"'{node.value}', a lambda,"  # type: ignore[attr-defined]
        what = "class" if isinstance(definition, cst.ClassDef) else "function"
        return f"{what} '{definition.name.value}'"  # type: ignore[union-attr]

    def _why(self, subject: Subject) -> str:
        definition = subject.definition
        if subject.placement == "lambda":
            return "pickle needs a name"
        if subject.placement == "guarded":
            return "spawn and forkserver children skip the main guard defining it"
        outer = self.analysis.enclosing_function(definition)  # type: ignore[arg-type]
        where = f"'{outer.name.value}'" if outer is not None else "a function"
        return f"pickle cannot find it inside {where}"

    def _notebook_message(self, slot: Slot, subject: Subject,
                          relocated: Optional[Relocation]) -> str:
        """In a notebook nothing defined in the cells can reach a spawn or forkserver child:
        the kernel's `__main__` has no file for the child to import, so moving a definition
        to the notebook's top level would not help; it has to live in a module."""
        if subject.placement == "notebook":
            # The error each child raises; a pool whose workers die of it hangs (the README
            # says so: the message has no room for both).
            error = f"AttributeError: Can't get attribute" \
                    f" {self._plain_name(subject)} on __main__"
        else:
            error = self._why(subject)
            if slot.role == "task":
                error += (" (BrokenProcessPool)" if slot.owner is Kind.EXECUTOR
                          else " (the pool hangs)")
        helpers = notebook_helpers_module(self.context.settings.notebook_helpers,
                                          self.context.path)
        # The most precise wording that fits in a line (the names are in the fix's diff; the
        # location says it is a notebook).
        shorter = "AttributeError on __main__" if subject.placement == "notebook" else error
        wordings = [f"{self._describe(subject)} is {slot.where()}{context}; {said}: move it"
                    f"{along} to '{helpers}.py'{passed}"
                    for said, context in ((error, " in a notebook"), (error, ""), (shorter, ""))
                    for along, passed in _notebook_company(relocated)]
        return next((w for w in wordings if len(w) <= MAX_MESSAGE), wordings[-1])

    def _plain_name(self, subject: Subject) -> str:
        """The name pickle looks up in the child's `__main__`, as its error message quotes it."""
        definition = subject.definition
        if isinstance(definition, (cst.FunctionDef, cst.ClassDef)):
            return f"'{definition.name.value}'"
        return "'<lambda>'"

    # -- a notebook's definitions move to the module beside it ------------------------------

    def _notebook_move(self, subject: Subject,
                       slots: list[Slot]) -> tuple[Optional[Relocation], Optional[Fix]]:
        """What moving a notebook's definition to its helpers module takes, and the fix that
        does it where that is provably right; None for what is not a top-level definition."""
        definition = subject.definition
        if subject.placement != "notebook" \
                or not isinstance(definition, (cst.FunctionDef, cst.ClassDef)):
            return None, None
        relocated = relocation(self.analysis, definition)
        if relocated.problem is not None or relocated.passed_through_calls \
                or self.context.siblings is None:
            return relocated, None
        helpers = notebook_helpers_module(self.context.settings.notebook_helpers,
                                          self.context.path)
        if not helpers.isidentifier():
            return relocated, None
        conflict = self._helpers_conflict(f"{helpers}.py", relocated)
        if conflict is not None:
            return replace(relocated, problem=conflict), None
        if relocated.passed and not self._can_pass(definition, relocated.passed, slots):
            return relocated, None
        return relocated, self._notebook_fix(definition, helpers, relocated, slots)

    def _helpers_conflict(self, module: str, relocated: Relocation) -> Optional[str]:
        """Why the helpers module cannot take the moved code: it cannot be read, or it binds
        one of the names otherwise than the move would."""
        assert self.context.siblings is not None
        bound = self.context.siblings.bound_names(module)
        if bound is None:
            return f"'{module}' cannot be read or parsed"
        taken = [name for name in relocated.names if name in bound]
        for spec in relocated.imports:
            name = spec[2] or (spec[1] if spec[1] is not None else spec[0].split(".")[0])
            if name in bound and bound[name] != spec:
                taken.append(name)
        return f"'{module}' already binds {_quoted(taken)}" if taken else None

    def _can_pass(self, definition: cst.FunctionDef, values: list[str],
                  slots: list[Slot]) -> bool:
        """Whether the notebook variables `definition` reads can become its leading
        parameters: it is used only where it is handed over, and each value pickles."""
        binding = self._own_binding(definition, definition)
        if not isinstance(binding, Binding):
            return False
        handed = {id(self.analysis.unwrap_partial(s.expr)) for s in slots}
        if any(id(r) not in handed for r in self._references(binding)):
            return False
        for name in values:  # each value it may hold at the hand-over must pickle
            for binding in self.analysis.global_bindings(name):
                value = self._bound_value(binding.node)
                if value is None or isinstance(value, cst.Lambda) or self._unpicklable(value) \
                        or self.analysis.kind_of(value) is not None:
                    return False
        return True

    def _notebook_fix(self, definition: Union[cst.FunctionDef, cst.ClassDef], helpers: str,
                      relocated: Relocation, slots: list[Slot]) -> Fix:
        updates: dict[cst.CSTNode, Update] = {}
        imports: tuple = ()
        if relocated.passed:
            partial, imports = import_binding(self.analysis, "functools", "partial")
            plan = Hoist(definition, definition, definition, definition.name.value, False,
                         relocated.passed, slots)
            if not any([self._hand_over(slot, plan, partial, updates) for slot in slots]):
                imports = ()
        moved = [self._moved_statement(s, definition, relocated.passed)
                 for s in relocated.statements]
        for names, first, rest, earlier in self._by_cell(relocated, helpers):
            if earlier is not None:  # the cell imports from the module already: add to it
                updates[earlier] = lambda line, names=names: _importing_also(line, names)
                rest = [first, *rest]
            else:
                import_line = cst.SimpleStatementLine(
                    [cst.ImportFrom(module=cst.Name(helpers),
                                    names=[cst.ImportAlias(cst.Name(n)) for n in names])],
                    leading_lines=[line for line in first.leading_lines if line.comment is None])
                updates[first] = lambda _, line=import_line: line
            for statement in rest:
                updates[statement] = lambda _: cst.RemovalSentinel.REMOVE
        module = self.context.module
        addition = ModuleAddition(f"{helpers}.py", tuple(moved), tuple(relocated.imports),
                                  tuple(relocated.names))
        return Fix({module: module.visit(_Rewrite(updates))}, Safety.UNSAFE, imports, (addition,))

    def _moved_statement(self, statement: cst.BaseStatement, handed: cst.CSTNode,
                         passed: list[str]) -> cst.BaseStatement:
        if statement is handed and passed and isinstance(statement, cst.FunctionDef):
            return statement.with_changes(params=_with_leading_parameters(statement.params,
                                                                          passed))
        return statement

    def _by_cell(self, relocated: Relocation, helpers: str) -> list[tuple[
            list[str], cst.BaseStatement, list[cst.BaseStatement], Optional[cst.BaseStatement]]]:
        """The moved statements grouped by the cell they are in: the names each cell
        defined, the first statement (an import of them takes its place), the others, and
        the cell's import from the helpers module that an earlier fix wrote, if any."""
        cell_of: dict[int, int] = {}
        position: dict[int, int] = {}
        imports_of: dict[int, cst.BaseStatement] = {}
        cell = 0
        for index, statement in enumerate(self.context.module.body):
            if is_cell_marker(statement):
                cell += 1
            cell_of[id(statement)] = cell
            position[id(statement)] = index
            if _imports_from(statement, helpers):
                imports_of.setdefault(cell, statement)
        groups: dict[int, tuple[list[str], list[cst.BaseStatement]]] = {}
        for statement, name in zip(relocated.statements, relocated.names):
            names, statements = groups.setdefault(cell_of[id(statement)], ([], []))
            names.append(name)
            statements.append(statement)
        found = []
        for cell, (names, statements) in groups.items():
            earlier = imports_of.get(cell)
            # Only an import above them binds the names everywhere they were bound before.
            if earlier is not None and position[id(earlier)] > position[id(statements[0])]:
                earlier = None
            found.append((names, statements[0], statements[1:], earlier))
        return found

    def _advice(self, plan: Hoist) -> str:
        if isinstance(plan.definition, cst.Lambda):
            advice = f"make it a module-level function '{plan.name}'"
        elif self._placement(plan.definition) == "guarded":
            advice = "define it above the main guard"
        else:
            advice = "define it at module level" + (f" as '{plan.name}'" if plan.renamed else "")
        if plan.passed:
            advice += " and pass " + ", ".join(f"'{n}'" for n in plan.passed) + " explicitly"
        if self._old_behaviour_comments(plan)[1]:
            advice += " (a comment above may be stale)"
        return advice

    # -- the plan: what moves where, and what travels with it ----------------------------

    def _plan(self, subject: Subject, slots: list[Slot]) -> Union[Hoist, str]:
        definition = subject.definition
        assert definition is not None
        analysis = self.analysis
        statement = self._defining_statement(definition, slots)
        if statement is False:
            return "it cannot be moved from where it is defined: define it at module level"
        if isinstance(definition, cst.FunctionDef):
            lost = self._lost_name(definition, by_attribute=False)
            if lost is not None:
                return lost
        binding = self._own_binding(definition, statement)  # type: ignore[arg-type]
        if binding is False:
            return "its name is bound more than once there: define it once, at module level"
        anchor = analysis.top_level_statement(definition)
        assert anchor is not None
        problem = self._definition_time_problem(definition, anchor)
        if problem is not None:
            return problem
        values, recursive, problem = self._context_values(definition, binding, slots)
        if problem is not None:
            return problem
        references = self._references(binding) if binding is not None else []
        if values:
            problem = self._cannot_pass(definition, values, recursive, references, slots)
            if problem is not None:
                return problem
        name, renamed = self._module_name(definition, binding, slots)
        return Hoist(definition, statement, anchor, name, renamed,  # type: ignore[arg-type]
                     values, slots, references)

    def _defining_statement(self, definition: Definition,
                            slots: list[Slot]) -> Union[cst.BaseStatement, None, bool]:
        """The statement that defines `definition` (None: a lambda written where it is
        handed over; False: nothing that can move)."""
        analysis = self.analysis
        if isinstance(definition, cst.Lambda):
            if any(analysis.unwrap_partial(s.expr) is definition for s in slots):
                return None
            assign = analysis.parent(definition)
            line = analysis.parent(assign) if assign is not None else None
            if isinstance(assign, cst.Assign) and len(assign.targets) == 1 \
                    and isinstance(assign.targets[0].target, cst.Name) \
                    and isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 \
                    and isinstance(analysis.parent(line), (cst.IndentedBlock, cst.Module)):
                return line
            return False
        if isinstance(analysis.parent(definition), cst.IndentedBlock):
            return definition
        return False

    def _own_binding(self, definition: Definition,
                     statement: Optional[cst.BaseStatement]) -> Union[Binding, None, bool]:
        """The binding of the name `definition` is known by (None for an inline lambda;
        False when that name is bound more than once)."""
        if statement is None:
            return None
        if isinstance(definition, cst.Lambda):
            node: cst.CSTNode = statement.body[0].targets[0].target  # type: ignore[attr-defined]
            name = node.value  # type: ignore[attr-defined]
        else:
            node, name = definition, definition.name.value
        scope = self.analysis.scope(node)
        bindings = scope.bindings.get(name, []) if scope is not None else []
        if len(bindings) != 1 or bindings[0].node is not node:
            return False
        return bindings[0]

    def _references(self, binding: Binding) -> list[cst.Name]:
        names = self.analysis.names
        return [n for n in names.loads
                if n.value == binding.name and any(b is binding for b in names.resolve(n))]

    def _definition_time_problem(self, definition: Definition,
                                 anchor: cst.BaseStatement) -> Optional[str]:
        """What keeps the decorators, defaults, annotations or class body from running at
        module level, just before `anchor`."""
        names = self.analysis.names
        outer = self.analysis.scope(definition)
        for name in _definition_time_names(definition):
            if isinstance(definition, cst.ClassDef) and names.contains(definition.body, name):
                bindings = names.resolve(name)
            else:
                bindings = names.lookup(outer, name.value) if outer is not None else []
            for binding in bindings:
                if names.contains(definition, binding.node):
                    continue
                if binding.scope.is_function:
                    return (f"its decorators, defaults or class body read '{name.value}' from "
                            f"around it: pass it explicitly instead")
                if binding.scope.kind == "module" and (
                        self.analysis.binds_after_import(binding.node)
                        or names.order[binding.node] > names.order[anchor]):
                    return (f"its decorators, defaults or class body read '{name.value}', unbound "
                            f"where it would move")
        return None

    def _context_values(self, definition: Definition, own: Optional[Binding],
                        slots: list[Slot]) -> tuple[list[str], bool, Optional[str]]:
        """The names `definition` reads from where it is defined and that the child must be
        handed: values closed over from the functions around it, or, for a definition under
        the main guard, globals that only the guard binds. Also whether it calls itself."""
        analysis = self.analysis
        if not analysis.is_module_level(definition):
            reads = analysis.free_variables(definition)
        elif analysis.in_main_guard(definition):
            reads = {name: nodes for name, nodes in analysis.global_reads(definition).items()
                     if all(self._bound_by_guard(b) for b in analysis.global_bindings(name))}
        else:
            reads = {}
        inner = [s for s in analysis.names.scopes if analysis.names.contains(definition, s.node)]
        rebound = sorted({name for scope in inner for name in scope.nonlocals})
        if rebound:
            return [], False, (f"it rebinds '{rebound[0]}' (nonlocal), which a child never hands "
                               f"back: return the result instead")
        values: list[str] = []
        recursive = False
        for name, nodes in reads.items():
            bindings = analysis.names.resolve(nodes[0])
            if own is not None and any(b is own for b in bindings):
                recursive = True
                continue
            problem = self._value_problem(definition, name, nodes[0], bindings, slots)
            if problem is not None:
                return [], recursive, problem
            values.append(name)
        return values, recursive, None

    def _bound_by_guard(self, binding: Binding) -> bool:
        node = binding.node
        return self.analysis.in_main_guard(node) and self.analysis.is_module_level(node)

    def _value_problem(self, definition: Definition, name: str, read: cst.Name,
                       bindings: Sequence[Binding], slots: list[Slot]) -> Optional[str]:
        analysis = self.analysis
        if len(bindings) != 1:
            return f"it reads '{name}', bound more than once: pass the value as an argument"
        binding = bindings[0]
        node = binding.node
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)) \
                or isinstance(analysis.assigned_value(node), cst.Lambda):
            return f"it uses '{name}', also defined around it: define both at module level"
        if self._method_of_self(node) is not None:
            return (f"it closes over '{name}', a whole object to pickle: make it a module-level "
                    f"function taking the values it needs")
        kind = analysis.kind_of(read)
        if kind in (Kind.POOL, Kind.EXECUTOR, Kind.PROCESS):
            return f"it closes over the {kind.value} '{name}', which cannot be pickled"
        if kind in RESOURCE_KINDS and any(s.role not in ("target", "initializer") for s in slots):
            return f"its multiprocessing {kind.value} '{name}' must come through initializer="
        description = self._unpicklable(self._bound_value(node))
        if description is not None:
            return f"it closes over '{name}', {description}: create that in the child instead"
        for slot in slots:
            place = analysis.unwrap_partial(slot.expr)
            scope = analysis.scope(place)
            visible = analysis.names.lookup(scope, name) if scope is not None else []
            # A comprehension binds its variables before the element, though written after it.
            later = scope is binding.scope and binding.scope.kind != "comprehension" \
                and analysis.names.order[node] > analysis.names.order[place]
            if later or not any(b is binding for b in visible):
                return f"'{name}' is out of reach where it is handed over: pass it explicitly"
        return None

    def _cannot_pass(self, definition: Definition, values: list[str], recursive: bool,
                     references: list[cst.Name], slots: list[Slot]) -> Optional[str]:
        listed = ", ".join(f"'{v}'" for v in values)
        if isinstance(definition, cst.ClassDef):
            return (f"it reads {listed} from around it: define it at module level taking "
                    f"those values as constructor arguments")
        if recursive:
            return (f"it calls itself and reads {listed} from around it: define it at module "
                    f"level taking those values as parameters")
        handed = {id(self.analysis.unwrap_partial(s.expr)) for s in slots}
        if any(id(r) not in handed for r in references):
            return (f"it reads {listed} from around it and is used elsewhere: define it at "
                    f"module level taking those values as parameters")
        return None

    def _module_name(self, definition: Definition, binding: Optional[Binding],
                     slots: list[Slot]) -> tuple[str, bool]:
        """The name it will have at module level, and whether that is a new one."""
        if binding is None:
            base = LAMBDA_NAMES.get(slots[0].role, "_function")
            name = unused_name(self.analysis, base, self._allocated)
            self._allocated.add(name)
            return name, True
        if binding.scope.kind == "module" or self._free_at_module_level(binding.name):
            self._allocated.add(binding.name)
            return binding.name, False
        name = unused_name(self.analysis, binding.name, self._allocated)
        self._allocated.add(name)
        return name, True

    def _free_at_module_level(self, name: str) -> bool:
        names = self.analysis.names
        if name in self._allocated or name in self.analysis.global_scope.bindings:
            return False
        for load in names.loads:
            if load.value == name:
                bindings = names.resolve(load)
                if not bindings or any(b.scope.kind == "module" for b in bindings):
                    return False
        return True

    # -- the fix -----------------------------------------------------------------------------

    def _fix(self, plan: Hoist) -> Fix:
        updates: dict[cst.CSTNode, Update] = {}
        partial, imports = import_binding(self.analysis, "functools", "partial")
        if plan.renamed:
            for reference in plan.references:
                updates[reference] = _renamer(plan.name)
        wrapped = [self._hand_over(slot, plan, partial, updates) for slot in plan.slots]
        if not any(wrapped):
            imports = ()
        definition = self._module_definition(plan, updates)
        safety = Safety.UNSAFE if plan.passed else Safety.SAFE
        anchor = plan.anchor
        first = anchor is self.context.module.body[0]
        stale = self._old_behaviour_comments(plan)[0]
        for statement in stale:
            if statement is not anchor and statement is not plan.statement:
                updates[statement] = _dropping_attached_comment(updates.get(statement))
        blank, rest = split_leading_lines(_kept_leading_lines(anchor, stale))
        if plan.statement is anchor:  # `f = lambda ...` at module level becomes `def f`
            spacing = blank if first or len(blank) >= 2 else [cst.EmptyLine(), cst.EmptyLine()]
            return Fix({anchor: definition.with_changes(leading_lines=[*spacing, *rest])},
                       safety, imports)
        if plan.statement is not None:
            updates[plan.statement] = lambda _: cst.RemovalSentinel.REMOVE
            block = self.analysis.parent(plan.statement)
            assert isinstance(block, cst.IndentedBlock)
            updates[block] = _tidy_block(list(block.body).index(plan.statement))
        gap = blank or [cst.EmptyLine(), cst.EmptyLine()]
        if len(gap) < 2 and not first and self._follows_imports(anchor):
            gap = [cst.EmptyLine(), cst.EmptyLine()]  # isort and ruff want two after imports
        own_comments = [line for line in _kept_leading_lines(plan.statement, stale)
                        if line.comment is not None]
        definition = definition.with_changes(
            leading_lines=[*(blank if first else gap), *own_comments])
        # Usually every edit lies inside the statement the definition goes before; a function
        # defined under the main guard may be handed over by functions above it.
        inside = all(self.analysis.names.contains(anchor, node) for node in updates)
        updates[anchor] = lambda updated: cst.FlattenSentinel(
            [definition, updated.with_changes(leading_lines=[*gap, *rest])])
        root = anchor if inside else self.context.module
        return Fix({root: root.visit(_Rewrite(updates))}, safety, imports)

    def _follows_imports(self, statement: cst.BaseStatement) -> bool:
        body = list(self.context.module.body)
        index = body.index(statement)
        previous = body[index - 1] if index else None
        return isinstance(previous, cst.SimpleStatementLine) \
            and all(isinstance(s, (cst.Import, cst.ImportFrom)) for s in previous.body)

    def _old_behaviour_comments(self, plan: Hoist) -> tuple[list[cst.BaseStatement], bool]:
        """The statements the fix moves or rewrites (the definition's own, and those that hand
        it over) whose attached comment describes the failure the fix removes; and whether
        another attached comment may (mpfix.rulekit.comments)."""
        statements: list[cst.BaseStatement] = [plan.statement] if plan.statement else []
        for slot in plan.slots:
            statement = self.analysis.enclosing_statement(slot.expr)
            if statement is not None and statement not in statements:
                statements.append(statement)
        stale: list[cst.BaseStatement] = []
        unsure = False
        for statement in statements:
            verdict = describes_old_behaviour(statement, OLD_SUBJECT)
            if verdict:
                stale.append(statement)
            unsure = unsure or verdict is None
        return stale, unsure

    def _module_definition(self, plan: Hoist,
                           updates: dict[cst.CSTNode, Update]) -> cst.BaseStatement:
        definition = plan.definition
        if isinstance(definition, cst.Lambda):
            body: cst.BaseExpression = definition.body
            if "\n" in self.context.module.code_for_node(body) and not body.lpar:
                body = body.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
            trailing = plan.statement.trailing_whitespace \
                if isinstance(plan.statement, cst.SimpleStatementLine) else cst.TrailingWhitespace()
            line = cst.SimpleStatementLine([cst.Return(body)], trailing_whitespace=trailing)
            return cst.FunctionDef(
                name=cst.Name(plan.name),
                params=_with_leading_parameters(definition.params, plan.passed),
                body=cst.IndentedBlock([line]),
            )
        inner = {node: update for node, update in updates.items() if node is not definition}
        moved = definition.visit(_Rewrite(inner))
        assert isinstance(moved, (cst.FunctionDef, cst.ClassDef))
        moved = moved.with_changes(name=cst.Name(plan.name))
        if isinstance(moved, cst.FunctionDef):
            moved = moved.with_changes(params=_with_leading_parameters(moved.params, plan.passed))
        return moved

    def _hand_over(self, slot: Slot, plan: Hoist, partial: str,
                   updates: dict[cst.CSTNode, Update]) -> bool:
        """Rewrite one place the definition is handed over: its new name, and the values
        that now travel with it. True when that wraps it in a new `functools.partial`."""
        callable_ = self.analysis.unwrap_partial(slot.expr)
        named = cst.Name(plan.name)
        if isinstance(callable_, cst.Lambda) or plan.renamed:
            updates[callable_] = lambda _: named
        if not plan.passed:
            return False
        values = plan.passed
        innermost = self._innermost_partial(slot.expr)
        use = slot.use
        if innermost is not None:
            updates[innermost] = lambda call: call.with_changes(  # type: ignore[attr-defined]
                args=[call.args[0], *(cst.Arg(cst.Name(v)) for v in values), *call.args[1:]])
        elif slot.role in ("target", "initializer") and use is not None and not use.callable_at_site:
            if use.args_arg is not None:
                updates[use.args_arg.value] = \
                    lambda expr: _prepend(expr, values)  # type: ignore[arg-type]
            else:
                index = list(use.call.args).index(use.callable_arg)
                name = "args" if slot.role == "target" else "initargs"
                updates[use.call] = lambda call: _insert_keyword(  # type: ignore[arg-type]
                    call, index, name, _prepend(cst.Tuple([]), values))
        else:
            function = cst.parse_expression(partial)
            updates[callable_] = lambda _: cst.Call(
                function, [cst.Arg(named), *(cst.Arg(cst.Name(v)) for v in values)])
            return True
        return False

    def _innermost_partial(self, expr: cst.BaseExpression) -> Optional[cst.Call]:
        found = None
        while isinstance(expr, cst.Call) and self.analysis.unwrap_partial(expr) is not expr:
            found, expr = expr, expr.args[0].value
        return found


# -- syntax helpers -------------------------------------------------------------------------

class _Rewrite(cst.CSTTransformer):
    """Apply updates keyed on original nodes to the already-updated nodes."""

    def __init__(self, updates: dict[cst.CSTNode, Update]) -> None:
        super().__init__()
        self.updates = updates

    def on_leave(self, original_node, updated_node):  # type: ignore[no-untyped-def]
        update = self.updates.get(original_node)
        return update(updated_node) if update is not None else updated_node


def _notebook_company(relocated: Optional[Relocation]) -> list[tuple[str, str]]:
    """What a notebook definition needs beside it in its module, worded from the most
    precise to the shortest: the notebook's functions, classes and constants it reads,
    transitively (they move with it), and the notebook's other variables it reads (values
    the kernel computed, which a worker can only get as arguments). Imports are repeated in
    the module. Why a fix cannot move it (the rule's docs list the reasons) would not fit
    beside the error the children raise."""
    if relocated is None or not (relocated.company or relocated.passed):
        return [("", "")]
    company, passed = relocated.company, relocated.passed
    counted = f"{len(company)} definitions" if len(company) > 1 else _quoted(company)
    variables = f"{len(passed)} notebook variables" if len(passed) > 1 else _quoted(passed)
    arguments = "as arguments" if len(passed) > 1 else "as an argument"
    return [
        (f" with {_quoted(company)}" if company else "",
         f", passing {_quoted(passed)} {arguments}" if passed else ""),
        (f" with the {counted} it uses" if company else "",
         f", passing {variables} {arguments}" if passed else ""),
    ]


def _imports_from(statement: cst.BaseStatement, module: str) -> bool:
    """`from MODULE import a, b` on a line of its own."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    node = statement.body[0]
    return isinstance(node, cst.ImportFrom) and not node.relative \
        and isinstance(node.module, cst.Name) and node.module.value == module \
        and not isinstance(node.names, cst.ImportStar)


def _importing_also(line: cst.CSTNode, names: list[str]) -> cst.CSTNode:
    assert isinstance(line, cst.SimpleStatementLine)
    node = line.body[0]
    assert isinstance(node, cst.ImportFrom) and not isinstance(node.names, cst.ImportStar)
    aliases = [alias.with_changes(comma=cst.MaybeSentinel.DEFAULT) for alias in node.names]
    aliases += [cst.ImportAlias(cst.Name(name)) for name in names]
    return line.with_changes(body=[node.with_changes(names=aliases)])


def _quoted(names: list[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def _renamer(name: str) -> Update:
    return lambda node: node.with_changes(value=name)  # type: ignore[attr-defined]


def _tidy_block(removed_index: int) -> Update:
    """After a statement leaves a block: `pass` if nothing is left, and no blank lines
    opening the block."""
    def update(block: cst.CSTNode) -> cst.CSTNode:
        body = list(block.body)  # type: ignore[attr-defined]
        if not body:
            return block.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])])
        if removed_index == 0:
            body[0] = body[0].with_changes(leading_lines=split_leading_lines(body[0].leading_lines)[1])
        return block.with_changes(body=body)
    return update


def _leading_lines(statement: Optional[cst.CSTNode]) -> Sequence[cst.EmptyLine]:
    return getattr(statement, "leading_lines", ())


def _kept_leading_lines(statement: Optional[cst.CSTNode],
                        stale: list[cst.BaseStatement]) -> list[cst.EmptyLine]:
    lines = list(_leading_lines(statement))
    return without_attached_comment(lines) if statement in stale else lines


def _dropping_attached_comment(previous: Optional[Update]) -> Update:
    def update(node: cst.CSTNode) -> cst.CSTNode:
        updated = previous(node) if previous is not None else node
        return updated.with_changes(  # type: ignore[union-attr]
            leading_lines=_kept_leading_lines(updated, [updated]))  # type: ignore[list-item]
    return update


def _with_leading_parameters(params: cst.Parameters, names: list[str]) -> cst.Parameters:
    leading = [cst.Param(cst.Name(n)) for n in names]
    if params.posonly_params:
        return params.with_changes(posonly_params=[*leading, *params.posonly_params])
    return params.with_changes(params=[*leading, *params.params])


def _prepend(expr: cst.BaseExpression, names: list[str]) -> cst.BaseExpression:
    """`(n,)` -> `(q, n)`; `args` -> `(q, *args)`."""
    leading = [cst.Element(cst.Name(n)) for n in names]
    if isinstance(expr, (cst.Tuple, cst.List)):
        elements = list(expr.elements)
        last = elements[-1] if elements else None
        if last is not None and isinstance(last.comma, cst.Comma) \
                and not isinstance(last.comma.whitespace_after, cst.ParenthesizedWhitespace):
            elements[-1] = last.with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return expr.with_changes(elements=[*leading, *elements])
    return cst.Tuple([*leading, cst.StarredElement(expr)])


def _insert_keyword(call: cst.Call, after: int, name: str, value: cst.BaseExpression) -> cst.Call:
    """Add `name=value` after the argument at `after` (at the end if that one is positional)."""
    args = list(call.args)
    new = cst.Arg(value, keyword=cst.Name(name), equal=cst.AssignEqual(
        whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")))
    position = after + 1 if args[after].keyword is not None else len(args)
    while position > after + 1 and args[position - 1].star == "**":
        position -= 1
    previous = args[position - 1]
    if position == len(args):
        separator = next((a.comma for a in args[:-1] if isinstance(a.comma, cst.Comma)), None)
        opening = call.whitespace_before_args
        if separator is None and isinstance(opening, cst.ParenthesizedWhitespace):
            separator = cst.Comma(whitespace_after=opening)
        new = new.with_changes(comma=previous.comma)
        args[position - 1] = previous.with_changes(comma=separator or cst.MaybeSentinel.DEFAULT)
    else:
        new = new.with_changes(comma=previous.comma)
    args.insert(position, new)
    return call.with_changes(args=args)


def _code_unit(analysis: ModuleAnalysis, node: cst.CSTNode) -> Optional[cst.CSTNode]:
    """The def or lambda whose body `node` runs in; None for module-level code."""
    return next((a for a in analysis.ancestors(node)
                 if isinstance(a, (cst.FunctionDef, cst.Lambda))), None)


def _binding_construct(analysis: ModuleAnalysis, node: cst.CSTNode) -> Optional[cst.CSTNode]:
    """The statement or expression that binds at `node`, evaluating its value first: the
    assignment, the `for` loop, the `with` statement, the import, the def."""
    if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
        return node
    current: Optional[cst.CSTNode] = node
    parent = analysis.parent(node)
    while isinstance(parent, (cst.Element, cst.StarredElement, cst.Tuple, cst.List)):
        current, parent = parent, analysis.parent(parent)
    if isinstance(parent, cst.AssignTarget):
        return analysis.parent(parent)
    if isinstance(parent, cst.For) and parent.target is current:
        return parent
    if isinstance(parent, cst.AsName):
        item = analysis.parent(parent)
        return analysis.parent(item) if isinstance(item, cst.WithItem) else None
    if isinstance(parent, (cst.AnnAssign, cst.AugAssign, cst.NamedExpr, cst.Del)):
        return parent
    if isinstance(node, cst.ImportAlias):
        return parent
    return None


def _evaluated_before(analysis: ModuleAnalysis, read: cst.CSTNode, node: cst.CSTNode) -> bool:
    """Whether `read` is evaluated before the binding at `node` in straight-line order: written
    before it, or part of the value it binds (`worker = Process(target=worker)`)."""
    construct = _binding_construct(analysis, node) or node
    if analysis.names.order[read] < analysis.names.order[construct]:
        return True
    return any(analysis.names.contains(part, read) for part in _evaluated_first(construct))


def _evaluated_first(construct: cst.CSTNode) -> list[cst.CSTNode]:
    """The parts of a binding construct evaluated before it binds: the value, the iterable
    of a `for`, the context managers of a `with`."""
    if isinstance(construct, (cst.Assign, cst.AnnAssign, cst.AugAssign, cst.NamedExpr)):
        return [construct.value] if construct.value is not None else []
    if isinstance(construct, cst.For):
        return [construct.iter]
    if isinstance(construct, cst.With):
        return [item.item for item in construct.items]
    return []


def _renameable(analysis: ModuleAnalysis, node: cst.CSTNode) -> bool:
    """A variable bound by `=`, an annotated assignment with a value, `for` or `with ... as`."""
    construct = _binding_construct(analysis, node)
    if not isinstance(node, cst.Name):
        return False
    if isinstance(construct, cst.AnnAssign):
        return construct.value is not None
    return isinstance(construct, (cst.Assign, cst.For, cst.With))


def _share_loop(analysis: ModuleAnalysis, node: cst.CSTNode, read: cst.CSTNode) -> bool:
    """Whether a loop runs both again: the binding `node` may then follow `read`."""
    names = analysis.names
    for ancestor in analysis.ancestors(node):
        if isinstance(ancestor, (cst.FunctionDef, cst.Lambda)):
            return False
        if isinstance(ancestor, cst.For) and names.contains(ancestor.body, node) \
                and names.contains(ancestor.body, read):
            return True
        if isinstance(ancestor, cst.While) and names.contains(ancestor.body, node) \
                and names.contains(ancestor, read):
            return True
    return False


def _method_binding(analysis: ModuleAnalysis, function: cst.FunctionDef) -> str:
    """What a method of a class is bound to when looked up: "class", "static" (nothing) or
    "instance"."""
    for decorator in function.decorators:
        names = analysis.qualified_names(decorator.decorator)
        if "builtins.classmethod" in names:
            return "class"
        if "builtins.staticmethod" in names:
            return "static"
    return "instance"


def _returns_in(function: cst.FunctionDef) -> list[cst.Return]:
    return [node for node in own_nodes(function) if isinstance(node, cst.Return)]


def _definition_time_names(definition: Definition) -> list[cst.Name]:
    """Names a def, lambda or class reads when it is defined, not when it runs."""
    parts: list[cst.CSTNode] = []
    if isinstance(definition, (cst.FunctionDef, cst.Lambda)):
        params = definition.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            parts.extend(p for p in (param.default, param.annotation) if p is not None)
    if isinstance(definition, cst.FunctionDef):
        parts.extend(d.decorator for d in definition.decorators)
        if definition.returns is not None:
            parts.append(definition.returns)
    if isinstance(definition, cst.ClassDef):
        parts.extend(d.decorator for d in definition.decorators)
        parts.extend(a.value for a in (*definition.bases, *definition.keywords))
        parts.append(definition.body)
    names: list[cst.Name] = []

    class Names(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            names.append(node)

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            for part in _definition_time_names(node):
                names.append(part)
            return False

        def visit_Lambda(self, node: cst.Lambda) -> bool:
            return False

        def visit_Attribute(self, node: cst.Attribute) -> bool:
            node.value.visit(self)
            return False

        def visit_Arg(self, node: cst.Arg) -> bool:
            node.value.visit(self)
            return False

    for part in parts:
        part.visit(Names())
    return names


class UnpicklableCallableCommand(RuleCommand):
    rule = UnpicklableCallable
