"""Process starters of third-party libraries: plain data, read before libcst is loaded.

The drop-in families (`multiprocess`, `billiard`, `torch.multiprocessing`) share the
standard library's API and live in mpfix.analysis.starters. The libraries here have
APIs of their own: each entry says what a call does to the program, checked against
the library's source and documentation (versions named on each entry):

- whether its children import the main module again (spawn-like start: an
  unguarded call at module level runs again in every child, MP001);
- which argument is a callable run in a child, and whether callables travel by
  value (dill, cloudpickle: lambdas and local functions arrive intact) or by
  reference (pickle: they must be importable by name, MP007);
- for an object it creates, the methods that hand a callable to its workers.

A library whose children never import the main module (loky's default `loky`
start method, so also joblib's default backend) is listed so the table says
why it is not a breakage; it does not count as entry code.

A call whose behaviour an argument chooses (joblib's `Parallel(backend=...)`, or the
`parallel_backend`/`parallel_config` block around it) carries a `Backend`: the values
that make it start multiprocessing children, told apart only from a literal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional


@dataclass(frozen=True)
class Handed:
    """An argument that is a callable run in another process."""

    name: str
    position: Optional[int]  # None: keyword-only


@dataclass(frozen=True)
class Backend:
    """An argument that chooses how a call runs its tasks, and the worker count that
    goes with it: with a `spawning` value and more than one worker the call starts
    children of the `family` (they import the main module again, and receive their
    tasks pickled by reference)."""

    argument: Handed
    workers: Handed
    spawning: frozenset[str]
    family: str
    # The worker count when the call says none: None means one worker, so no process.
    default_workers: Optional[int] = None
    # (keyword, value) literals with which the library picks threads whatever the backend.
    threads: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class BackendScope:
    """A context manager (`with joblib.parallel_backend("multiprocessing"):`) that sets
    the backend and worker count of the backend-choosing calls in its block that name
    none themselves."""

    argument: Handed
    workers: Handed
    default_workers: Optional[int] = None


@dataclass(frozen=True)
class LibraryStarter:
    library: str
    imports_main: bool                       # its children import the main module again
    by_value: bool                           # callables travel by value (dill/cloudpickle)
    handed: Optional[Handed] = None          # a callable argument of this call run in a child
    task_methods: frozenset[str] = frozenset()  # methods of what it returns that take a task
    decorator: bool = False                  # calling the function it decorates starts a process
    note: str = ""                           # what the documentation says, for `mpfix rule`
    # The multiprocessing family its children come from, whose freeze_support() a frozen
    # program calls (None: children that are not multiprocessing's, loky's).
    family: Optional[str] = None
    backend: Optional[Backend] = None        # an argument that may make it start children


_JOBLIB_BACKEND = Backend(
    Handed("backend", 1), Handed("n_jobs", 0), frozenset({"multiprocessing"}),
    "multiprocessing", threads=frozenset({("require", "sharedmem")}))
_PEBBLE_POOL_METHODS = frozenset({"schedule", "submit", "map"})
_PATHOS_POOL_METHODS = frozenset({"map", "imap", "uimap", "amap", "pipe", "apipe"})

LIBRARY_STARTERS: Mapping[str, LibraryStarter] = {
    # pebble 5.x: ProcessPool(max_workers, max_tasks, initializer, initargs, context)
    # starts multiprocessing processes (the default context) on first schedule();
    # schedule(function, args, kwargs, timeout), submit(function, timeout, *args) and
    # map(function, *iterables) pickle `function` by reference.
    "pebble.ProcessPool": LibraryStarter(
        "pebble", imports_main=True, by_value=False,
        family="multiprocessing",
        task_methods=_PEBBLE_POOL_METHODS,
        note="children are multiprocessing processes; tasks are pickled"),
    "pebble.pool.ProcessPool": LibraryStarter(
        "pebble", imports_main=True, by_value=False,
        family="multiprocessing",
        task_methods=_PEBBLE_POOL_METHODS,
        note="children are multiprocessing processes; tasks are pickled"),
    # pebble.concurrent.process(timeout=, name=, daemon=, context=, pool=): each call of
    # the decorated function runs it in a new multiprocessing process.
    "pebble.concurrent.process": LibraryStarter(
        "pebble", imports_main=True, by_value=False, family="multiprocessing", decorator=True,
        note="each call of the decorated function starts a process"),
    # torch.multiprocessing.spawn(fn, args=(), nprocs=1, join=True, daemon=False,
    # start_method="spawn") and start_processes(fn, args, nprocs, join, daemon,
    # start_method="spawn"): fn(i, *args) runs in each child; the docs ask for fn at
    # module level "so that it can be pickled and spawned".
    "torch.multiprocessing.spawn": LibraryStarter(
        "torch", imports_main=True, by_value=False,
        family="torch.multiprocessing",
        handed=Handed("fn", 0),
        note="starts nprocs spawn children running fn(i, *args)"),
    "torch.multiprocessing.start_processes": LibraryStarter(
        "torch", imports_main=True, by_value=False,
        family="torch.multiprocessing",
        handed=Handed("fn", 0),
        note="starts nprocs children (spawn by default) running fn(i, *args)"),
    "torch.multiprocessing.spawn.spawn": LibraryStarter(
        "torch", imports_main=True, by_value=False,
        family="torch.multiprocessing",
        handed=Handed("fn", 0),
        note="starts nprocs spawn children running fn(i, *args)"),
    "torch.multiprocessing.spawn.start_processes": LibraryStarter(
        "torch", imports_main=True, by_value=False,
        family="torch.multiprocessing",
        handed=Handed("fn", 0),
        note="starts nprocs children (spawn by default) running fn(i, *args)"),
    # pathos 0.3: ProcessPool(nodes=...) (also ProcessingPool) wraps a multiprocess Pool;
    # multiprocess pickles with dill. Pools are cached and reused, not closed per use.
    "pathos.multiprocessing.ProcessPool": LibraryStarter(
        "pathos", imports_main=True, by_value=True,
        family="multiprocess",
        task_methods=_PATHOS_POOL_METHODS,
        note="a multiprocess pool; callables travel by value (dill)"),
    "pathos.multiprocessing.ProcessingPool": LibraryStarter(
        "pathos", imports_main=True, by_value=True,
        family="multiprocess",
        task_methods=_PATHOS_POOL_METHODS,
        note="a multiprocess pool; callables travel by value (dill)"),
    "pathos.pools.ProcessPool": LibraryStarter(
        "pathos", imports_main=True, by_value=True,
        family="multiprocess",
        task_methods=_PATHOS_POOL_METHODS,
        note="a multiprocess pool; callables travel by value (dill)"),
    # loky 3.x: get_reusable_executor(max_workers, context, timeout, ...) returns an
    # executor whose workers use the `loky` start method, which since loky 1.1 does not
    # import the main module ("use loky with no `if __name__ == '__main__':` safeguard");
    # tasks travel with cloudpickle.
    "loky.get_reusable_executor": LibraryStarter(
        "loky", imports_main=False, by_value=True, task_methods=frozenset({"submit", "map"}),
        note="workers do not import the main module; tasks travel by value (cloudpickle)"),
    # joblib 1.6: Parallel(n_jobs=None, backend=None, return_as, verbose, timeout,
    # pre_dispatch, batch_size, temp_folder, max_nbytes, mmap_mode, prefer, require) and
    # delayed(function). The default loky backend: loky workers (see above), tasks by
    # cloudpickle. backend="multiprocessing" is MultiprocessingBackend: a
    # multiprocessing.Pool (joblib.pool.MemmappingPool) whose children import the main
    # module, fed BatchedCalls pickled by joblib's CustomizablePickler (plain pickle: a
    # lambda fails); with one worker (n_jobs=1, or None, the default, outside a
    # parallel_config block) it falls back to the sequential backend and starts nothing.
    # require="sharedmem" asks for threads.
    **{name: LibraryStarter(
        "joblib", imports_main=False, by_value=True, backend=_JOBLIB_BACKEND,
        note="default loky backend: workers do not import the main module; "
             "backend=\"multiprocessing\" starts a multiprocessing pool")
       for name in ("joblib.Parallel", "joblib.parallel.Parallel")},
    **{name: LibraryStarter(
        "joblib", imports_main=False, by_value=True, handed=Handed("function", 0),
        note="the function runs in a loky worker, sent by value (cloudpickle); under the "
             "multiprocessing backend it is pickled by reference")
       for name in ("joblib.delayed", "joblib.parallel.delayed")},
}


# joblib 1.6: parallel_backend(backend, n_jobs=-1, inner_max_num_threads=None, **params)
# (since 0.10) and parallel_config(backend=None, *, n_jobs=None, ...) (since 1.3) set the
# backend and n_jobs of the Parallel calls in their block that give none.
BACKEND_SCOPES: Mapping[str, BackendScope] = {
    **{name: BackendScope(Handed("backend", 0), Handed("n_jobs", 1), default_workers=-1)
       for name in ("joblib.parallel_backend", "joblib.parallel.parallel_backend")},
    **{name: BackendScope(Handed("backend", 0), Handed("n_jobs", None))
       for name in ("joblib.parallel_config", "joblib.parallel.parallel_config")},
}


# Every method name that hands a library's pool a task: a call of any other method needs
# no look at what its receiver is.
TASK_METHODS = frozenset(method for entry in LIBRARY_STARTERS.values()
                         for method in entry.task_methods)


def library_starter(qualified_name: str) -> Optional[LibraryStarter]:
    return LIBRARY_STARTERS.get(qualified_name)


def backend_scope(qualified_name: str) -> Optional[BackendScope]:
    return BACKEND_SCOPES.get(qualified_name)


def libraries() -> list[str]:
    """The libraries the table covers, for documentation."""
    return sorted({entry.library for entry in LIBRARY_STARTERS.values()})
