"""MP011 unpicklable-state: state that cannot be pickled, handed to a spawn or forkserver child."""

from __future__ import annotations

from typing import Iterable, Iterator, Optional

import libcst as cst

from mpfix.analysis.module import CallableUse, method_name
from mpfix.analysis.pickling import (
    GENERATOR,
    STANDARD_STREAM,
    THREAD_LOCK,
    THREAD_QUEUE,
    held_unpicklable,
    instance_attributes,
    instead,
    pickling_methods,
)
from mpfix.analysis.starters import Kind
from mpfix.rulekit.helpers import RuleCommand
from mpfix.rulekit.rule import Rule, Violation

# Start methods that pickle what a Process is handed.
PICKLING_METHODS = ("spawn", "forkserver")
# Process methods that run in the parent before start() pickles the object.
PARENT_METHODS = frozenset({"__init__"})
# How a Process subclass keeps what cannot travel, by what it is; anything else is reopened.
ATTRIBUTE_FIXES = {
    STANDARD_STREAM: "the child has streams of its own: use them in run()",
    THREAD_LOCK: "use a multiprocessing lock or event (from the same context) instead, or "
                 "create it in run()",
    THREAD_QUEUE: "use a multiprocessing queue instead",
    GENERATOR: "keep the values, or make the generator in run()",
}
# Longer expressions are named "this argument" in a message.
MAX_QUOTED = 30


class UnpicklableState(Rule):
    """State that cannot be pickled travels to a child process.

    What it finds:
    Objects pickle refuses, handed to a child: passed to a Process (`args=`,
    `kwargs=`, through `functools.partial`), to a pool or executor initializer
    (`initargs=`) or as a pool or executor task's argument (`apply`, `submit`);
    or kept by a Process subclass in an attribute its `__init__` sets. What pickle
    refuses: an open file (`open()`, `io`, `codecs`, `gzip`, `bz2`, `lzma`,
    `tempfile`, `zipfile`, `tarfile`), the parent's `sys.stdin`/`stdout`/`stderr`,
    a socket's `makefile()` stream, a `threading` lock, event, thread or
    `queue.Queue`, a generator (a generator expression, or a call of a generator
    function of the module), an `mmap`, a database connection (`sqlite3`,
    `psycopg2`, `psycopg`, `pymysql`, `MySQLdb`, `mysql.connector`, `duckdb`), an
    HDF5 file (`h5py.File`), an LMDB environment (`lmdb.open`), a network client
    (`pymongo.MongoClient`, `redis.Redis`, `boto3.client`/`resource`), and an object
    of a class of the module whose `__reduce__`/`__getstate__` raises. Names are
    resolved through imports and followed through the variables holding them.
    Not reported: paths and plain data, file descriptors, sockets (multiprocessing
    duplicates them), in-memory buffers, multiprocessing locks and queues given to
    a Process (pool tasks are MP009's), handles opened in the child (in `run()`
    or the target), a Process subclass that defines its own `__getstate__` or
    `__reduce__`, a Process that is never started, and an explicit fork context's
    Process arguments (unless the configured target start method pickles them).

    Why:
    Under spawn and forkserver (Python 3.14's default on Linux; macOS and Windows
    spawn) a child receives everything it is handed by pickling: the arguments,
    and for a Process subclass the Process object with all its attributes. Pickle
    refuses objects tied to the parent's operating-system state: "TypeError:
    cannot pickle '_io.TextIOWrapper' object", "cannot pickle '_thread.lock'
    object", "cannot pickle 'generator' object", "cannot pickle
    'sqlite3.Connection' object". Under fork the child inherited a copy of the
    memory, so the same code worked until the start method changed. Pool and
    executor tasks are pickled under every start method. The guideline
    "picklability" asks that what is handed to a process pickle.

    Example:
        class Writer(multiprocessing.Process):
            def __init__(self, path):
                super().__init__()
                self.log = open(path, "a")

            def run(self):
                self.log.write("started\\n")

    Fixed:
        class Writer(multiprocessing.Process):
            def __init__(self, path):
                super().__init__()
                self.path = path

            def run(self):
                with open(self.path, "a") as log:  # opened in the child
                    log.write("started\\n")

    Fix safety:
    None: report only. Where the handle must be opened instead (in `run()`, in the
    target, in `__getitem__` or a `worker_init_fn` for a dataset), and whether it is
    read, written or shared, is the author's decision; the message names the
    object, where it travels and the established fixes: open it lazily in the
    child, pass the path rather than the handle, or give the class `__getstate__`/
    `__setstate__` that drop the handle and reopen it.
    """

    code = "MP011"
    name = "unpicklable-state"
    fix_safety = "none"

    def check(self) -> Iterable[Violation]:
        yield from self._argument_findings()
        yield from self._process_attribute_findings()

    # -- arguments -----------------------------------------------------------------------

    def _argument_findings(self) -> Iterator[Violation]:
        analysis = self.analysis
        seen: set[int] = set()
        for use in analysis.callable_uses():
            if use.role == "register" or analysis.pickles_by_value(use.call) \
                    or not self._pickled(use) or not self._may_start(use.call):
                continue
            for value in analysis.arguments(use).values():
                if id(value) in seen:
                    continue
                seen.add(id(value))
                what = held_unpicklable(analysis, value)
                if what is not None:
                    yield Violation(value, self._argument_message(value, what, use))

    def _pickled(self, use: CallableUse) -> bool:
        """Whether the configured start method pickles what `use` hands over: an explicit
        fork context pickles pool and executor tasks only."""
        if self.analysis.start_method_of(use.call) != "fork" \
                or self.context.settings.target_start_method in PICKLING_METHODS:
            return True
        return use.role == "task"

    def _argument_message(self, value: cst.BaseExpression, what: str, use: CallableUse) -> str:
        written = self._quoted(value, "this argument")
        task = use.role == "task"
        if task:
            owner = "an executor" if use.owner_kind is Kind.EXECUTOR else "a pool"
            how = f"{owner} cannot pickle as a task argument under any start method"
        else:
            recipient = "a Process" if use.role == "target" else "an initializer"
            how = f"spawn and forkserver cannot pickle as {recipient} argument"
        return f"{written} is {what}, which {how}: {instead(what, task=task)}"

    # -- attributes of a Process subclass ------------------------------------------------

    def _process_attribute_findings(self) -> Iterator[Violation]:
        analysis = self.analysis
        reported: set[int] = set()
        for call in analysis.calls:
            if analysis.call_kind(call) is not Kind.PROCESS:
                continue
            cls = analysis.process_class(call.func)
            if cls is None or not self._may_start(call) or self._forked(cls) \
                    or pickling_methods(analysis, cls):
                continue
            for attribute, value, method in instance_attributes(cls, PARENT_METHODS):
                for node, what in self._held(value, method, call):
                    if id(node) not in reported:
                        reported.add(id(node))
                        yield Violation(node, self._attribute_message(cls, attribute, what))

    def _held(self, value: cst.BaseExpression, method: cst.FunctionDef, call: cst.Call
              ) -> Iterator[tuple[cst.BaseExpression, str]]:
        """(where, what) for what cannot be pickled in `value`, set in `method`; a parameter
        of `method` is looked for in the creating `call`'s arguments."""
        what = held_unpicklable(self.analysis, value)
        if what is not None:
            yield value, what
            return
        passed = self._passed_for(value, method, call)
        if passed is not None:
            what = held_unpicklable(self.analysis, passed)
            if what is not None:
                yield passed, what

    def _passed_for(self, value: cst.BaseExpression, method: cst.FunctionDef, call: cst.Call
                    ) -> Optional[cst.BaseExpression]:
        """What `call` (which creates the object) passes for the parameter `value` reads."""
        if not isinstance(value, cst.Name):
            return None
        found = self.analysis.parameter_read(value)
        if found is None or found[0] is not method:
            return None
        name = found[1].name.value
        positional = [p.name.value for p in (*method.params.posonly_params,
                                              *method.params.params)][1:]
        if any(arg.star for arg in call.args):
            return None
        for index, arg in enumerate(call.args):
            if arg.keyword is not None and arg.keyword.value == name:
                return arg.value
            if arg.keyword is None and index < len(positional) and positional[index] == name:
                return arg.value
        return None

    def _forked(self, cls: cst.ClassDef) -> bool:
        """A subclass of an explicit fork context's Process is started by forking."""
        if self.context.settings.target_start_method in PICKLING_METHODS:
            return False
        for base in cls.bases:
            expr = base.value
            if isinstance(expr, cst.Attribute) \
                    and self.analysis.kind_of(expr.value) is Kind.CONTEXT \
                    and self.analysis.context_method(expr.value) == "fork":
                return True
        return False

    def _attribute_message(self, cls: cst.ClassDef, attribute: str, what: str) -> str:
        name = cls.name.value
        fix = ATTRIBUTE_FIXES.get(what) or (
            f"keep what recreates it (the path, the settings) and open it in run(), in the "
            f"child; or give `{name}` __getstate__/__setstate__ that drop it and reopen it")
        return (f"`self.{attribute}` of the Process subclass `{name}` holds {what}, which "
                f"spawn and forkserver cannot pickle when start() sends the process to its "
                f"child: {fix}")

    # -- whether a Process is ever started -------------------------------------------------

    def _may_start(self, creation: cst.Call) -> bool:
        """Whether the object `creation` makes may be started (only start() pickles a
        Process); pool and executor calls always send their work."""
        analysis = self.analysis
        if analysis.call_kind(creation) is not Kind.PROCESS:
            return True
        if id(creation) in self._started:
            return True
        cls = analysis.process_class(creation.func)
        if cls is not None and self._starts_itself(cls):
            return True
        parent = analysis.parent(creation)
        if not (isinstance(parent, cst.Assign) and len(parent.targets) == 1
                and isinstance(parent.targets[0].target, cst.Name)):
            return True  # kept in a container, returned, passed on: out of sight
        for read in analysis.reads_of(parent.targets[0].target):
            attribute = analysis.parent(read)
            if not (isinstance(attribute, cst.Attribute) and attribute.value is read):
                return True
        return False

    @property
    def _started(self) -> set[int]:
        if not hasattr(self, "_started_ids"):
            started: set[int] = set()
            for call in self.analysis.calls:
                if method_name(call) == "start":
                    receiver = call.func.value  # type: ignore[attr-defined]
                    started.update(id(c) for c in self.analysis.creation_calls(receiver))
            self._started_ids = started
        return self._started_ids

    def _starts_itself(self, cls: cst.ClassDef) -> bool:
        """A method of the class calls `self.start()` (a constructor that starts it)."""
        for call in self.analysis.names.within(self.analysis.calls, cls):
            receiver = call.func.value if isinstance(call.func, cst.Attribute) else None
            if method_name(call) == "start" and isinstance(receiver, cst.Name) \
                    and receiver.value == "self":
                return True
        return False

    def _quoted(self, node: cst.CSTNode, otherwise: str) -> str:
        written = self.context.module.code_for_node(node)
        if len(written) > MAX_QUOTED or "\n" in written:
            return otherwise
        return f"`{written}`"


class UnpicklableStateCommand(RuleCommand):
    rule = UnpicklableState
