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
class LibraryStarter:
    library: str
    imports_main: bool                       # its children import the main module again
    by_value: bool                           # callables travel by value (dill/cloudpickle)
    handed: Optional[Handed] = None          # a callable argument of this call run in a child
    task_methods: frozenset[str] = frozenset()  # methods of what it returns that take a task
    decorator: bool = False                  # calling the function it decorates starts a process
    note: str = ""                           # what the documentation says, for `mpfix rule`


_PEBBLE_POOL_METHODS = frozenset({"schedule", "submit", "map"})
_PATHOS_POOL_METHODS = frozenset({"map", "imap", "uimap", "amap", "pipe", "apipe"})

LIBRARY_STARTERS: Mapping[str, LibraryStarter] = {
    # pebble 5.x: ProcessPool(max_workers, max_tasks, initializer, initargs, context)
    # starts multiprocessing processes (the default context) on first schedule();
    # schedule(function, args, kwargs, timeout), submit(function, timeout, *args) and
    # map(function, *iterables) pickle `function` by reference.
    "pebble.ProcessPool": LibraryStarter(
        "pebble", imports_main=True, by_value=False, task_methods=_PEBBLE_POOL_METHODS,
        note="children are multiprocessing processes; tasks are pickled"),
    "pebble.pool.ProcessPool": LibraryStarter(
        "pebble", imports_main=True, by_value=False, task_methods=_PEBBLE_POOL_METHODS,
        note="children are multiprocessing processes; tasks are pickled"),
    # pebble.concurrent.process(timeout=, name=, daemon=, context=, pool=): each call of
    # the decorated function runs it in a new multiprocessing process.
    "pebble.concurrent.process": LibraryStarter(
        "pebble", imports_main=True, by_value=False, decorator=True,
        note="each call of the decorated function starts a process"),
    # torch.multiprocessing.spawn(fn, args=(), nprocs=1, join=True, daemon=False,
    # start_method="spawn") and start_processes(fn, args, nprocs, join, daemon,
    # start_method="spawn"): fn(i, *args) runs in each child; the docs ask for fn at
    # module level "so that it can be pickled and spawned".
    "torch.multiprocessing.spawn": LibraryStarter(
        "torch", imports_main=True, by_value=False, handed=Handed("fn", 0),
        note="starts nprocs spawn children running fn(i, *args)"),
    "torch.multiprocessing.start_processes": LibraryStarter(
        "torch", imports_main=True, by_value=False, handed=Handed("fn", 0),
        note="starts nprocs children (spawn by default) running fn(i, *args)"),
    "torch.multiprocessing.spawn.spawn": LibraryStarter(
        "torch", imports_main=True, by_value=False, handed=Handed("fn", 0),
        note="starts nprocs spawn children running fn(i, *args)"),
    "torch.multiprocessing.spawn.start_processes": LibraryStarter(
        "torch", imports_main=True, by_value=False, handed=Handed("fn", 0),
        note="starts nprocs children (spawn by default) running fn(i, *args)"),
    # pathos 0.3: ProcessPool(nodes=...) (also ProcessingPool) wraps a multiprocess Pool;
    # multiprocess pickles with dill. Pools are cached and reused, not closed per use.
    "pathos.multiprocessing.ProcessPool": LibraryStarter(
        "pathos", imports_main=True, by_value=True, task_methods=_PATHOS_POOL_METHODS,
        note="a multiprocess pool; callables travel by value (dill)"),
    "pathos.multiprocessing.ProcessingPool": LibraryStarter(
        "pathos", imports_main=True, by_value=True, task_methods=_PATHOS_POOL_METHODS,
        note="a multiprocess pool; callables travel by value (dill)"),
    "pathos.pools.ProcessPool": LibraryStarter(
        "pathos", imports_main=True, by_value=True, task_methods=_PATHOS_POOL_METHODS,
        note="a multiprocess pool; callables travel by value (dill)"),
    # loky 3.x: get_reusable_executor(max_workers, context, timeout, ...) returns an
    # executor whose workers use the `loky` start method, which since loky 1.1 does not
    # import the main module ("use loky with no `if __name__ == '__main__':` safeguard");
    # tasks travel with cloudpickle.
    "loky.get_reusable_executor": LibraryStarter(
        "loky", imports_main=False, by_value=True, task_methods=frozenset({"submit", "map"}),
        note="workers do not import the main module; tasks travel by value (cloudpickle)"),
    # joblib 1.x: Parallel(n_jobs, backend=None, ...) with the default loky backend, and
    # delayed(function): loky workers (see above). backend="multiprocessing" is the
    # legacy backend that needs the guard; it is not told apart here.
    "joblib.Parallel": LibraryStarter(
        "joblib", imports_main=False, by_value=True,
        note="default loky backend: workers do not import the main module"),
    "joblib.delayed": LibraryStarter(
        "joblib", imports_main=False, by_value=True, handed=Handed("function", 0),
        note="the function runs in a loky worker, sent by value (cloudpickle)"),
}


def library_starter(qualified_name: str) -> Optional[LibraryStarter]:
    return LIBRARY_STARTERS.get(qualified_name)


def libraries() -> list[str]:
    """The libraries the table covers, for documentation."""
    return sorted({entry.library for entry in LIBRARY_STARTERS.values()})
