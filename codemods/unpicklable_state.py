"""MP011 unpicklable-state: state that cannot be pickled, handed to a spawn or forkserver child."""

from __future__ import annotations

from typing import Iterable, Iterator, Optional

import libcst as cst

from mpfix.analysis.module import CallableUse, Workers, method_name
from mpfix.analysis.pickling import (
    GENERATOR,
    OPEN_FILE,
    STANDARD_STREAM,
    THREAD_LOCK,
    THREAD_QUEUE,
    held_unpicklable,
    instance_attributes,
    instead,
    making_call,
    pickling_methods,
)
from mpfix.analysis.starters import Kind
from mpfix.findings import Safety
from mpfix.rulekit.helpers import RuleCommand, node_code, own_nodes, simple_statement
from mpfix.rulekit.rule import Fix, Rule, Violation

# Start methods that pickle what a Process is handed.
PICKLING_METHODS = ("spawn", "forkserver")
# Process methods that run in the parent before start() pickles the object.
PARENT_METHODS = frozenset({"__init__"})
# How a Process subclass keeps what cannot travel, by what it is; anything else is reopened.
ATTRIBUTE_FIXES = {
    STANDARD_STREAM: "the child has streams of its own: use them in run()",
    THREAD_LOCK: "use a multiprocessing lock or event, or create it in run()",
    THREAD_QUEUE: "use a multiprocessing queue instead",
    GENERATOR: "keep the values, or make the generator in run()",
}
# What a target may do with a file it only reads: the fix hands it the path instead.
READING_METHODS = frozenset({"read", "readline", "readlines", "close", "__iter__", "__next__"})
READING_BUILTINS = frozenset(f"builtins.{name}" for name in (
    "next", "iter", "list", "tuple", "enumerate", "sorted", "sum", "len", "set"))
READ_MODES = frozenset({"r", "rt", "tr", "rb", "br"})
# Longer expressions are named "this argument" in a message.
MAX_QUOTED = 30


class UnpicklableState(Rule):
    """State that cannot be pickled travels to a child process.

    What it finds:
    Objects pickle refuses, handed to a child: passed to a Process (`args=`,
    `kwargs=`, through `functools.partial`), to a pool or executor initializer
    (`initargs=`) or as a pool or executor task's argument (`apply`, `submit`);
    kept by a Process subclass in an attribute its `__init__` sets; or kept the same
    way by the dataset of a `torch.utils.data.DataLoader` that starts worker
    processes (`num_workers` above 0, or not a literal: then the message says so).
    What pickle
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
    a Process (pool tasks are MP009's), handles opened in the child (in `run()`,
    the target, or a dataset's `__getitem__`), a Process subclass or dataset that
    defines its own `__getstate__` or `__reduce__`, a Process that is never started,
    a DataLoader without workers, and what an explicit fork context hands over by
    forking (unless the configured target start method pickles it).

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
    Unsafe, and only for one shape: a Process target handed a file from
    `open(<literal path>)` in a read mode (inline, or through a variable read
    nowhere else), where the target is a module-level function handed over only
    there and only reads that parameter (`read()`, `readline()`, a loop, `list()`).
    The argument becomes the path and the target's first statement opens it
    (`source = open(source)`): the child reads the file from the start, as it did,
    but opens it itself, relative to its working directory when it starts.
    Everything else is reported only: where the handle must be opened instead (in
    `run()`, in the target, in `__getitem__` or a `worker_init_fn` for a dataset),
    and whether it is written or shared, is the author's decision; the message names
    the object, where it travels and the established fixes: open it lazily in the
    child, pass the path rather than the handle, or give the class `__getstate__`/
    `__setstate__` that drop the handle and reopen it.
    """

    code = "MP011"
    name = "unpicklable-state"
    fix_safety = "unsafe"

    def check(self) -> Iterable[Violation]:
        yield from self._argument_findings()
        yield from self._process_attribute_findings()
        yield from self._dataset_attribute_findings()

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
                    message = self._argument_message(value, what, use)
                    fix = self._path_fix(use, value) if what == OPEN_FILE else None
                    if fix is not None:
                        message += " (the fix does so)"
                    yield Violation(value, message, fix)

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
            how = f"{owner} cannot pickle it as a task argument"
        else:
            recipient = "a Process" if use.role == "target" else "an initializer"
            how = f"spawn and forkserver cannot pass it to {recipient}"
        return f"{written} is {what}: {how}; {instead(what, task=task)}"

    # -- the fix: the path instead of a file the target only reads ----------------------

    def _path_fix(self, use: CallableUse, value: cst.BaseExpression) -> Optional[Fix]:
        """A Process target handed `open(<literals>)` for reading, which it only reads, gets
        the path and opens the file itself as it starts: what the child saw before, read
        from the start. Only where the module shows every use of the target and the handle."""
        analysis = self.analysis
        if use.role != "target" or use.site is not None:
            return None
        opening = self._literal_read_open(value)
        target = analysis.definition_of(analysis.unwrap_partial(use.callable_arg.value))
        if opening is None or not isinstance(target, cst.FunctionDef) \
                or analysis.scope(target) is not analysis.global_scope \
                or target.asynchronous is not None or len(analysis.references_to(target)) != 1:
            return None
        parameter = self._receiving_parameter(use, target, value)
        if parameter is None or not self._only_read(target, parameter) \
                or analysis.names.lookup(analysis.names.created[target], "open") \
                or analysis.names.lookup(analysis.global_scope, "open"):
            return None
        rest = "".join(", " + node_code(arg) for arg in opening.args[1:])
        reopen = simple_statement(f"{parameter} = open({parameter}{rest})")
        body = target.body
        if not isinstance(body, cst.IndentedBlock):
            return None
        statements = list(body.body)
        at = 1 if statements and _is_docstring(statements[0]) else 0
        statements.insert(at, reopen)
        path = opening.args[0].value.deep_clone()
        return Fix({value: path, body: body.with_changes(body=statements)}, Safety.UNSAFE)

    def _literal_read_open(self, value: cst.BaseExpression) -> Optional[cst.Call]:
        """The `open(path, mode)` call `value` is, or the one binding of a name read only
        here; literal arguments, a read mode."""
        analysis = self.analysis
        call = making_call(analysis, value)
        if call is None or "builtins.open" not in analysis.qualified_names(call.func):
            return None
        if isinstance(value, cst.Name):
            bindings = analysis.assignments(value)
            if len(bindings) != 1 or analysis.reads_of(value) != [value]:
                return None
        if not call.args or any(arg.star or not _is_literal(arg.value) for arg in call.args):
            return None
        if call.args[0].keyword is not None and call.args[0].keyword.value != "file":
            return None
        mode = next((arg.value for index, arg in enumerate(call.args)
                     if (arg.keyword is None and index == 1)
                     or (arg.keyword is not None and arg.keyword.value == "mode")), None)
        if mode is not None and not (isinstance(mode, cst.SimpleString)
                                     and mode.evaluated_value in READ_MODES):
            return None
        return call

    def _receiving_parameter(self, use: CallableUse, target: cst.FunctionDef,
                             value: cst.BaseExpression) -> Optional[str]:
        params = target.params
        if params.star_arg is not None and isinstance(params.star_arg, cst.Param) \
                or params.star_kwarg is not None:
            return None
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            if self.analysis.argument_for(use, param.name.value) is value:
                return param.name.value
        return None

    def _only_read(self, target: cst.FunctionDef, parameter: str) -> bool:
        """Every use of `parameter` in `target` reads the file (and it is never rebound):
        its reading methods, a loop over it, the builtins that iterate it."""
        analysis = self.analysis
        scope = analysis.names.created.get(target)
        if scope is None or len(scope.bindings.get(parameter, [])) != 1:
            return False
        own = {id(node) for node in own_nodes(target)}
        reads = analysis.parameter_reads(target, parameter)
        if not reads or any(id(read) not in own for read in reads):
            return False  # read in a nested def or lambda: out of sight
        for read in reads:
            parent = analysis.parent(read)
            if isinstance(parent, cst.Attribute) and parent.value is read:
                call = analysis.parent(parent)
                if parent.attr.value in READING_METHODS and isinstance(call, cst.Call) \
                        and call.func is parent:
                    continue
                return False
            if isinstance(parent, (cst.For, cst.CompFor)) and parent.iter is read:
                continue
            call = analysis.parent(parent) if isinstance(parent, cst.Arg) else None
            if isinstance(call, cst.Call) and len(call.args) == 1 \
                    and analysis.qualified_names(call.func) & READING_BUILTINS:
                continue
            return False
        return True

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

    # -- attributes of a DataLoader's dataset ---------------------------------------------

    def _dataset_attribute_findings(self) -> Iterator[Violation]:
        """A dataset handed to a DataLoader with workers is pickled into each of them under
        spawn and forkserver, with what its `__init__` set."""
        analysis = self.analysis
        reported: set[int] = set()
        for handoff in analysis.loader_handoffs():
            if handoff.role != "dataset" or self._forked_loader(handoff.call):
                continue
            creation = making_call(analysis, handoff.value)
            cls = analysis.definition_of(creation.func) if creation is not None else None
            if not isinstance(cls, cst.ClassDef) or pickling_methods(analysis, cls):
                continue
            maybe = analysis.loader_workers(handoff.call) is Workers.MAYBE
            for attribute, value, method in instance_attributes(cls, PARENT_METHODS):
                for node, what in self._held(value, method, creation):  # type: ignore[arg-type]
                    if id(node) not in reported:
                        reported.add(id(node))
                        yield Violation(node, self._dataset_message(cls, attribute, what, maybe))

    def _forked_loader(self, call: cst.Call) -> bool:
        return self.analysis.loader_start_method(call) == "fork" \
            and self.context.settings.target_start_method not in PICKLING_METHODS

    def _dataset_message(self, cls: cst.ClassDef, attribute: str, what: str, maybe: bool) -> str:
        name = cls.name.value
        # Opening it lazily in the worker (in __getitem__ or a worker_init_fn) keeps the path or
        # settings in __init__; __getstate__/__setstate__ that drop and reopen it work too.
        workers = " (if any)" if maybe else ""
        return (f"`self.{attribute}` of dataset `{name}` holds {what}, which its spawn or "
                f"forkserver workers{workers} cannot unpickle: open it in __getitem__")

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
        fix = ATTRIBUTE_FIXES.get(what) or "open it in run() instead, or drop it in __getstate__"
        return (f"`self.{attribute}` of `{name}` holds {what}, which spawn and forkserver cannot "
                f"pickle: {fix}")

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


def _is_literal(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, (cst.SimpleString, cst.Integer)) or (
        isinstance(expr, cst.Name) and expr.value in ("None", "True", "False"))


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1 \
        and isinstance(statement.body[0], cst.Expr) \
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))


class UnpicklableStateCommand(RuleCommand):
    rule = UnpicklableState
