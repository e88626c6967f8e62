"""What cannot be pickled: the objects a child under spawn or forkserver cannot receive.

Spawn and forkserver copy everything a child is handed (Process arguments, the Process
object itself, pool and executor tasks) by pickling it. Some objects refuse: an open file
("cannot pickle '_io.TextIOWrapper' object"), a thread lock, a generator, a database
connection, a client of a network service holding a socket and a lock. They are recognised
by the qualified name of the call that makes them, resolved through imports, never by the
text of the call; a name is followed through the assignments that bind it, and it counts
only when every binding agrees.

Not listed, because they do travel: paths and plain data, file descriptors, sockets
(multiprocessing duplicates their descriptor), `io.StringIO`/`io.BytesIO`, and
multiprocessing's own locks, queues and shared values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Iterator, Optional

import libcst as cst

from mpfix.analysis.structure import own_nodes

if TYPE_CHECKING:
    from mpfix.analysis.module import ModuleAnalysis

OPEN_FILE = "an open file"
THREAD_LOCK = "a thread lock"
THREAD_QUEUE = "a thread queue"
DATABASE = "a database connection"
CLIENT = "a network client"
GENERATOR = "a generator"
STANDARD_STREAM = "a standard stream"
SOCKET_STREAM = "a socket's file stream"
REFUSING = "an object whose class refuses pickling"
HDF5_FILE = "an HDF5 file"
HDF5_OBJECT = "part of an open HDF5 file"

# What pickle cannot copy into another process, by the qualified name of what makes it
# (the standard library's checked on Python 3.10 to 3.13: "cannot pickle
# '_io.TextIOWrapper' object" and the like; the clients hold sockets, locks or C handles
# their authors document as not picklable).
UNPICKLABLE_FACTORIES = {
    **dict.fromkeys(("builtins.open", "io.open", "codecs.open", "gzip.open", "bz2.open",
                     "lzma.open", "tempfile.TemporaryFile", "tempfile.NamedTemporaryFile",
                     "os.fdopen", "os.popen", "zipfile.ZipFile", "tarfile.open",
                     "gzip.GzipFile", "bz2.BZ2File", "lzma.LZMAFile"),
                    OPEN_FILE),
    **dict.fromkeys(("threading.Lock", "threading.RLock", "threading.Condition",
                     "threading.Semaphore", "threading.BoundedSemaphore", "threading.Event",
                     "threading.Barrier"),
                    THREAD_LOCK),
    **dict.fromkeys(("queue.Queue", "queue.LifoQueue", "queue.PriorityQueue"), THREAD_QUEUE),
    **dict.fromkeys(("threading.Thread", "threading.Timer"), "a thread"),
    "threading.local": "thread-local data",
    "mmap.mmap": "a memory map",
    **dict.fromkeys(("sqlite3.connect", "psycopg2.connect", "psycopg.connect",
                     "psycopg.Connection.connect", "pymysql.connect", "MySQLdb.connect",
                     "mysql.connector.connect", "duckdb.connect"),
                    DATABASE),
    **dict.fromkeys(("h5py.File", "h5py._hl.files.File"), HDF5_FILE),
    **dict.fromkeys(("lmdb.open", "lmdb.Environment"), "an LMDB environment"),
    **dict.fromkeys(("pymongo.MongoClient", "pymongo.mongo_client.MongoClient",
                     "redis.Redis", "redis.StrictRedis", "redis.client.Redis",
                     "redis.Redis.from_url", "redis.from_url",
                     "boto3.client", "boto3.resource"),
                    CLIENT),
}
# The parent's standard streams: a child has streams of its own.
STANDARD_STREAMS = frozenset({
    "sys.stdin", "sys.stdout", "sys.stderr", "sys.__stdin__", "sys.__stdout__", "sys.__stderr__",
    "sys.stdin.buffer", "sys.stdout.buffer", "sys.stderr.buffer"})
# A plain socket does travel (multiprocessing duplicates its descriptor); its file stream does not.
SOCKET_FACTORIES = frozenset({"socket.socket", "socket.create_connection", "socket.socketpair",
                              "socket.create_server", "socket.fromfd"})
# Methods through which a class decides how (and whether) its objects pickle.
CUSTOM_PICKLING = frozenset({"__reduce__", "__reduce_ex__", "__getstate__"})
# What to pass instead of an object that cannot be pickled, by what it is.
INSTEAD = {
    STANDARD_STREAM: "the child has its own, pass nothing",
    OPEN_FILE: "pass the path and open it in the child",
    THREAD_LOCK: "pass a multiprocessing lock (from the same context) instead",
    THREAD_QUEUE: "pass a multiprocessing queue instead",
    "a thread": "keep the thread in the parent and pass what the child needs from it",
    "thread-local data": "pass the values the child needs",
    "a memory map": "pass the path (or a multiprocessing.shared_memory name) and map it in "
                    "the child",
    DATABASE: "pass what the child needs to connect, and connect there",
    HDF5_FILE: "pass the path and open it in the child",
    HDF5_OBJECT: "pass the file's path and the object's name, and open it in the child",
    "an LMDB environment": "pass the path and open it in the child",
    CLIENT: "pass its settings and create the client in the child",
    GENERATOR: "pass the values, or what the child needs to make them",
    SOCKET_STREAM: "pass the socket (multiprocessing duplicates it) and call makefile() in "
                   "the child",
    REFUSING: "pass the data it is made from and build it in the child",
}
# A pool task's locks and queues reach the workers through initializer=/initargs= only.
INSTEAD_FOR_TASKS = {
    THREAD_LOCK: "hand a multiprocessing lock to the workers with initializer=/initargs=",
    THREAD_QUEUE: "hand a multiprocessing queue to the workers with initializer=/initargs=",
}
# Variables holding a variable are followed this deep for what they hold.
MAX_DEPTH = 8

Attributes = Iterable[tuple[str, cst.BaseExpression]]


def unpicklable(analysis: "ModuleAnalysis", value: Optional[cst.BaseExpression],
                attributes: Attributes = ()) -> Optional[str]:
    """What the expression `value` makes, when pickle cannot copy it: "an open file", "a
    generator"... `attributes` are the (`attr`, value) pairs of `self` in the class `value`
    sits in, for `self.sock.makefile()`."""
    if isinstance(value, cst.GeneratorExp):
        return GENERATOR
    if not isinstance(value, cst.Call):
        return None
    func = value.func
    for name in analysis.qualified_names(func):
        if name in UNPICKLABLE_FACTORIES:
            return UNPICKLABLE_FACTORIES[name]
    if isinstance(func, cst.Attribute) and func.attr.value == "makefile" \
            and _is_socket(analysis, func.value, attributes):
        return SOCKET_STREAM
    made = analysis.definition_of(func)
    if isinstance(made, cst.FunctionDef) and yields(made):
        return GENERATOR
    if isinstance(made, cst.ClassDef) and refuses_pickling(analysis, made):
        return REFUSING
    return None


def held_unpicklable(analysis: "ModuleAnalysis", expr: cst.BaseExpression,
                     depth: int = 0) -> Optional[str]:
    """What `expr` evaluates to, when pickle refuses it: what `unpicklable` finds, and the
    standard streams, followed through the variables that hold them (every binding must
    agree: a name that may hold a path is not reported)."""
    if depth > MAX_DEPTH:
        return None
    if analysis.qualified_names(expr) & STANDARD_STREAMS:
        return STANDARD_STREAM
    if isinstance(expr, cst.IfExp):
        either = {held_unpicklable(analysis, e, depth + 1) for e in (expr.body, expr.orelse)}
        return either.pop() if len(either) == 1 else None
    if isinstance(expr, cst.Name):
        bindings = analysis.assignments(expr)
        found = [held_unpicklable(analysis, value, depth + 1) if value is not None else None
                 for value in (analysis.assigned_value(b.node) for b in bindings)]
        return found[0] if found and None not in found and len(set(found)) == 1 else None
    handle = _hdf5_source(expr)
    if handle is not None and held_unpicklable(analysis, handle, depth + 1) == HDF5_FILE:
        return HDF5_OBJECT  # `f["data"]`, `f.get("data")`: a dataset or group of that file
    return unpicklable(analysis, expr)


def _hdf5_source(expr: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    """The object `expr` looks an item up in: `f` for `f["x"]` and `f.get("x")`."""
    if isinstance(expr, cst.Subscript):
        return expr.value
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) \
            and expr.func.attr.value == "get":
        return expr.func.value
    return None


def making_call(analysis: "ModuleAnalysis", expr: cst.BaseExpression,
                depth: int = 0) -> Optional[cst.Call]:
    """The one call that made what the variable `expr` holds, when one binding shows it."""
    if isinstance(expr, cst.Call):
        return expr
    if isinstance(expr, cst.Name) and depth <= MAX_DEPTH:
        bindings = analysis.assignments(expr)
        if len(bindings) == 1:
            value = analysis.assigned_value(bindings[0].node)
            return making_call(analysis, value, depth + 1) if value is not None else None
    return None


def instead(what: str, *, task: bool = False) -> str:
    """The established fix for passing `what`, in a few words."""
    return (INSTEAD_FOR_TASKS.get(what) if task else None) or INSTEAD[what]


def pickling_methods(analysis: "ModuleAnalysis", cls: cst.ClassDef,
                     seen: Optional[set[int]] = None) -> dict[str, cst.FunctionDef]:
    """The class's own `__reduce__`, `__reduce_ex__` and `__getstate__`, and those of its
    bases in this module (the class's own win)."""
    seen = seen if seen is not None else set()
    if id(cls) in seen:
        return {}
    seen.add(id(cls))
    found: dict[str, cst.FunctionDef] = {}
    for base in cls.bases:
        parent = analysis.definition_of(base.value)
        if isinstance(parent, cst.ClassDef):
            found.update(pickling_methods(analysis, parent, seen))
    for statement in cls.body.body:
        if isinstance(statement, cst.FunctionDef) and statement.name.value in CUSTOM_PICKLING:
            found[statement.name.value] = statement
    return found


def refuses_pickling(analysis: "ModuleAnalysis", cls: cst.ClassDef) -> bool:
    """Whether the class's pickling method raises unconditionally (its body's own
    statements include a `raise`): its objects cannot travel, whatever they hold."""
    return any(_raises(method) for method in pickling_methods(analysis, cls).values())


def _raises(function: cst.FunctionDef) -> bool:
    body = function.body
    statements = body.body if isinstance(body, cst.IndentedBlock) else [body]
    for statement in statements:
        lines = [statement] if not isinstance(statement, cst.SimpleStatementLine) \
            else statement.body
        if any(isinstance(line, cst.Raise) for line in lines):
            return True
    return False


def instance_attributes(cls: cst.ClassDef, method_names: Optional[frozenset[str]] = None
                        ) -> Iterator[tuple[str, cst.BaseExpression, cst.FunctionDef]]:
    """(`attr`, value, method) for each `self.attr = value` in the methods of `cls` (only
    those named in `method_names`, when given)."""
    for statement in cls.body.body:
        if not isinstance(statement, cst.FunctionDef) or not statement.params.params:
            continue
        if method_names is not None and statement.name.value not in method_names:
            continue
        this = statement.params.params[0].name.value
        for assign in assignments_in(statement):
            for target in assign.targets:
                elements = target.target.elements if isinstance(target.target, cst.Tuple) \
                    else [cst.Element(target.target)]
                for element in elements:
                    node = element.value
                    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) \
                            and node.value.value == this:
                        yield node.attr.value, assign.value, statement


def assignments_in(function: cst.FunctionDef) -> list[cst.Assign]:
    """The `=` statements of `function`'s own body (not of the defs nested in it)."""
    return [node for node in own_nodes(function) if isinstance(node, cst.Assign)]


def yields(function: cst.FunctionDef) -> bool:
    """Whether calling `function` makes a generator."""
    return any(isinstance(node, cst.Yield) for node in own_nodes(function))


def _is_socket(analysis: "ModuleAnalysis", expr: cst.BaseExpression,
               attributes: Attributes) -> bool:
    values: list[cst.BaseExpression] = []
    if isinstance(expr, cst.Name):
        for binding in analysis.assignments(expr):
            value = _bound_value(analysis, binding.node)
            if value is not None:
                values.append(value)
    elif isinstance(expr, cst.Attribute):
        values = [v for attribute, v in attributes if attribute == expr.attr.value]
    return any(isinstance(v, cst.Call) and analysis.qualified_names(v.func) & SOCKET_FACTORIES
               for v in values)


def _bound_value(analysis: "ModuleAnalysis", target: cst.CSTNode) -> Optional[cst.BaseExpression]:
    """What a binding binds: the assigned value, or for `a, b = f()` the whole of `f()`."""
    value = analysis.assigned_value(target)
    element = analysis.parent(target)
    if value is None and isinstance(element, cst.Element):
        return analysis.assigned_value(analysis.parent(element) or element)
    return value
