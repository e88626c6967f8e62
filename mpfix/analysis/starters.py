"""What starts processes, and what the objects multiprocessing hands out are.

One table for every rule. It is keyed on qualified names, so the analysis can
recognise `mp.Process`, `from multiprocessing import Process as P` and
`ctx = get_context("spawn"); ctx.Process(...)` alike, while `threading.Thread`,
`queue.Queue` and `subprocess.Popen` never match. It imports nothing heavy: the
prefilter reads its words before libcst is loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Iterable, Mapping, Optional


class Kind(str, Enum):
    PROCESS = "process"
    POOL = "pool"
    EXECUTOR = "executor"
    MANAGER = "manager"
    CONTEXT = "context"
    QUEUE = "queue"
    JOINABLE_QUEUE = "joinable-queue"
    SIMPLE_QUEUE = "simple-queue"
    LOCK = "lock"
    EVENT = "event"
    SEMAPHORE = "semaphore"
    CONDITION = "condition"
    BARRIER = "barrier"
    VALUE = "value"
    ARRAY = "array"
    PIPE = "pipe"
    PROXY = "proxy"
    SET_START_METHOD = "set-start-method"
    FREEZE_SUPPORT = "freeze-support"
    DATA_LOADER = "data-loader"
    # A call that starts processes whose children import the main module again: a
    # third-party starter (mpfix.analysis.third_party) or a function whose summary says
    # so (mpfix.analysis.summaries). What it returns is nothing multiprocessing-shaped.
    STARTS = "starts-processes"
    # A call of a function (of another module, per its summary) that sets the start method.
    CALLS_SET_START_METHOD = "calls-set-start-method"


QUEUE_KINDS = frozenset({Kind.QUEUE, Kind.JOINABLE_QUEUE, Kind.SIMPLE_QUEUE})
SYNC_KINDS = frozenset(
    {Kind.LOCK, Kind.EVENT, Kind.SEMAPHORE, Kind.CONDITION, Kind.BARRIER}
)
# Objects a parent creates and a child must receive explicitly under spawn.
RESOURCE_KINDS = QUEUE_KINDS | SYNC_KINDS | frozenset(
    {Kind.VALUE, Kind.ARRAY, Kind.PIPE, Kind.PROXY, Kind.MANAGER}
)
# Objects whose creation at import time starts processes.
STARTING_KINDS = frozenset({Kind.POOL, Kind.EXECUTOR, Kind.MANAGER, Kind.STARTS})

# Attributes of the multiprocessing module and of every context object.
CONTEXT_API: Mapping[str, Kind] = {
    "Process": Kind.PROCESS,
    "Pool": Kind.POOL,
    "Manager": Kind.MANAGER,
    "Queue": Kind.QUEUE,
    "JoinableQueue": Kind.JOINABLE_QUEUE,
    "SimpleQueue": Kind.SIMPLE_QUEUE,
    "Lock": Kind.LOCK,
    "RLock": Kind.LOCK,
    "Event": Kind.EVENT,
    "Semaphore": Kind.SEMAPHORE,
    "BoundedSemaphore": Kind.SEMAPHORE,
    "Condition": Kind.CONDITION,
    "Barrier": Kind.BARRIER,
    "Value": Kind.VALUE,
    "RawValue": Kind.VALUE,
    "Array": Kind.ARRAY,
    "RawArray": Kind.ARRAY,
    "Pipe": Kind.PIPE,
    "get_context": Kind.CONTEXT,
    "set_start_method": Kind.SET_START_METHOD,
    "freeze_support": Kind.FREEZE_SUPPORT,
}

# What a Manager (or SyncManager) hands out: proxies that travel by pickling.
MANAGER_API: Mapping[str, Kind] = {
    "Queue": Kind.QUEUE,
    "JoinableQueue": Kind.JOINABLE_QUEUE,
    "Lock": Kind.LOCK,
    "RLock": Kind.LOCK,
    "Event": Kind.EVENT,
    "Semaphore": Kind.SEMAPHORE,
    "BoundedSemaphore": Kind.SEMAPHORE,
    "Condition": Kind.CONDITION,
    "Barrier": Kind.BARRIER,
    "Value": Kind.PROXY,
    "Array": Kind.PROXY,
    "dict": Kind.PROXY,
    "list": Kind.PROXY,
    "Namespace": Kind.PROXY,
    "Pool": Kind.POOL,
}

# Module families that are drop-in replacements for multiprocessing.
FAMILIES = ("multiprocessing", "multiprocess", "billiard", "torch.multiprocessing")

# Submodules whose classes are the same API under another path.
_SUBMODULE_API: Mapping[str, Mapping[str, Kind]] = {
    "context": {**CONTEXT_API, "SpawnProcess": Kind.PROCESS,
                "ForkProcess": Kind.PROCESS, "ForkServerProcess": Kind.PROCESS},
    "process": {"BaseProcess": Kind.PROCESS},
    "pool": {"Pool": Kind.POOL},
    "managers": {"SyncManager": Kind.MANAGER, "BaseManager": Kind.MANAGER},
    "queues": {"Queue": Kind.QUEUE, "JoinableQueue": Kind.JOINABLE_QUEUE,
               "SimpleQueue": Kind.SIMPLE_QUEUE},
    "synchronize": {
        "Lock": Kind.LOCK, "RLock": Kind.LOCK, "Event": Kind.EVENT,
        "Semaphore": Kind.SEMAPHORE, "BoundedSemaphore": Kind.SEMAPHORE,
        "Condition": Kind.CONDITION, "Barrier": Kind.BARRIER,
    },
    "sharedctypes": {"Value": Kind.VALUE, "Array": Kind.ARRAY,
                     "RawValue": Kind.VALUE, "RawArray": Kind.ARRAY},
}

_EXECUTORS = (
    "concurrent.futures.ProcessPoolExecutor",
    "concurrent.futures.process.ProcessPoolExecutor",
    "loky.ProcessPoolExecutor",
)


# Data loaders that start worker processes when iterated with num_workers > 0.
DATA_LOADERS = ("torch.utils.data.DataLoader", "torch.utils.data.dataloader.DataLoader")


@dataclass(frozen=True)
class LoaderParameter:
    name: str
    position: int


# torch.utils.data.DataLoader(dataset, batch_size, shuffle, sampler, batch_sampler,
# num_workers, collate_fn, pin_memory, drop_last, timeout, worker_init_fn,
# multiprocessing_context, generator, *, ...).
LOADER_WORKERS = LoaderParameter("num_workers", 5)
LOADER_CONTEXT = LoaderParameter("multiprocessing_context", 11)
# What a loader's iterator pickles into every worker process (the arguments torch's
# _MultiProcessingDataLoaderIter gives each worker's _worker_loop). The sampler and
# batch_sampler are not among them: they run in the parent, which sends the workers
# indices through a queue.
LOADER_HANDOFFS = (
    LoaderParameter("dataset", 0),
    LoaderParameter("collate_fn", 6),
    LoaderParameter("worker_init_fn", 10),
)


def _build_table() -> dict[str, Kind]:
    table: dict[str, Kind] = {}
    for family in FAMILIES:
        for name, kind in CONTEXT_API.items():
            table[f"{family}.{name}"] = kind
        for submodule, api in _SUBMODULE_API.items():
            for name, kind in api.items():
                table[f"{family}.{submodule}.{name}"] = kind
    for name in _EXECUTORS:
        table[name] = Kind.EXECUTOR
    for name in DATA_LOADERS:
        table[name] = Kind.DATA_LOADER
    from mpfix.analysis.third_party import LIBRARY_STARTERS  # it reads Kind from here

    for name, entry in LIBRARY_STARTERS.items():
        if entry.imports_main and not entry.decorator:
            table[name] = Kind.STARTS
    return table


BUILTIN_STARTERS: Mapping[str, Kind] = _build_table()

# Thread-backed look-alikes: never processes, never pickled.
NOT_PROCESSES = ("multiprocessing.dummy", "multiprocess.dummy", "billiard.dummy")

# Libraries that serialize callables by value (dill, cloudpickle), so lambdas and
# local functions reach their workers intact.
BY_VALUE_FAMILIES = frozenset({"multiprocess", "pathos", "loky", "joblib"})


class StarterTable:
    """The built-in table plus what a project declares in its config, and what the
    summaries of the modules a file imports say (mpfix.analysis.summaries): functions
    that start processes (`extra`, kind `starts-processes`) and functions that hand one
    of their parameters, a callable, to another process (`handoffs`: qualified name,
    parameter name, position or -1 for keyword-only)."""

    def __init__(self, extra: Mapping[str, str] | None = None,
                 handoffs: Iterable[tuple[str, str, int]] = (),
                 facts: Iterable[tuple[str, str, str]] = ()) -> None:
        from mpfix.analysis.third_party import LIBRARY_STARTERS, Handed

        self._table = dict(BUILTIN_STARTERS)
        for qualified_name, kind in (extra or {}).items():
            self._table[qualified_name] = Kind(kind)
        # Callables pickled by reference: what MP007 checks. By-value libraries need nothing.
        self._handed = {name: entry.handed for name, entry in LIBRARY_STARTERS.items()
                        if entry.handed is not None and not entry.by_value}
        for name, parameter, position in handoffs:
            self._handed[name] = Handed(parameter, position if position >= 0 else None)
        self._decorators = frozenset(name for name, entry in LIBRARY_STARTERS.items()
                                     if entry.decorator and entry.imports_main)
        # What else the summaries say (mpfix.analysis.summaries): process families, and
        # parameters iterated, put on or got from as a queue, as (name, "family", family)
        # and (name, "iterates" / "puts" / "gets", "p:i"); globals read, (name, "reads", "A,B").
        self._families: dict[str, list[str]] = {}
        self._iterated: dict[str, list[Handed]] = {}
        self._queue_parameters: dict[tuple[str, str], list[Handed]] = {}
        self._reads: dict[str, frozenset[str]] = {}
        for name, fact, value in facts:
            if fact == "family":
                self._families.setdefault(name, []).append(value)
                continue
            if fact == "reads":
                self._reads[name] = frozenset(value.split(",")) if value else frozenset()
                continue
            parameter, _, position = value.rpartition(":")
            handed = Handed(parameter, int(position) if int(position) >= 0 else None)
            if fact == "iterates":
                self._iterated.setdefault(name, []).append(handed)
            elif fact in ("puts", "gets"):
                self._queue_parameters.setdefault((name, fact), []).append(handed)

    def families_of(self, qualified_name: str) -> list[str]:
        """The process families a function of another module starts processes through."""
        return self._families.get(qualified_name, [])

    def iterated_parameters(self, qualified_name: str):  # type: ignore[no-untyped-def]
        """The parameters (`Handed`) a function of another module iterates."""
        return self._iterated.get(qualified_name, [])

    def queue_parameters(self, qualified_name: str, use: str):  # type: ignore[no-untyped-def]
        """The parameters (`Handed`) a function of another module puts on (`use` "puts") or
        gets from ("gets") as a queue, itself or through the functions it calls."""
        return self._queue_parameters.get((qualified_name, use), [])

    def globals_read(self, qualified_name: str) -> Optional[frozenset[str]]:
        """The free names (its module's globals) a function of another module reads, itself
        or through its module's functions it calls; None where no summary says."""
        return self._reads.get(qualified_name)

    def handed_argument(self, qualified_name: str):  # type: ignore[no-untyped-def]
        """The argument (a `Handed`) of a call of `qualified_name` that runs in another
        process and travels by reference, or None."""
        return self._handed.get(qualified_name)

    def starts_when_decorated(self, qualified_name: str) -> bool:
        """Whether calling a function decorated with `qualified_name` starts a process."""
        return qualified_name in self._decorators

    def kind_of_name(self, qualified_name: str) -> Kind | None:
        if qualified_name.startswith(NOT_PROCESSES):
            return None
        return self._table.get(qualified_name)

    def names(self) -> Iterable[str]:
        return self._table.keys()


def _third_party_starters() -> list[str]:
    from mpfix.analysis.third_party import LIBRARY_STARTERS

    # joblib's Parallel starts children under one backend (mpfix.analysis.backends)
    return [name for name, entry in LIBRARY_STARTERS.items()
            if entry.imports_main or entry.backend is not None]


_THIRD_PARTY_STARTERS = _third_party_starters()
_THIRD_PARTY_MODULES = sorted({name.rsplit(".", 1)[0] for name in _THIRD_PARTY_STARTERS})


def _alternation(items: Iterable[str]) -> bytes:
    return b"|".join(re.escape(item).encode() for item in sorted(items, key=len, reverse=True))


def _prefilter_patterns(extra_names: Iterable[str]) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    extra = list(extra_names)
    # `pkg.cli.main` is also reached through `from pkg import cli`.
    modules = {".".join(parts[:cut]) for parts in (name.split(".") for name in extra)
               for cut in range(1, len(parts)) if parts[cut - 1]}
    modules |= {"multiprocessing", "multiprocess", "billiard", "torch.multiprocessing"}
    modules |= set(_THIRD_PARTY_MODULES)
    roots = _alternation(modules)
    # An import of a family module (any indentation, any position in an import list;
    # a UTF-8 BOM or a form feed may start the line), or a name only process pools have.
    imports = re.compile(
        rb"^(?:\xef\xbb\xbf)?[ \t\f]*(?:from[ \t]+(?:" + roots + rb")\b|(?:from[ \t]+[\w.]+[ \t]+)?"
        rb"import[ \t][^\n]*\b(?:" + roots + rb")\b)"
        rb"|\bProcessPoolExecutor\b",
        re.MULTILINE,
    )
    words = set(CONTEXT_API) | set(MANAGER_API) | {"ProcessPoolExecutor"}
    words |= {name for api in _SUBMODULE_API.values() for name in api}  # BaseManager...
    words |= {name.rsplit(".", 1)[-1] for name in extra}
    words |= {name.rsplit(".", 1)[-1] for name in _THIRD_PARTY_STARTERS}
    words -= {"dict", "list"}
    return imports, re.compile(rb"\b(?:" + _alternation(words) + rb")\b")


# An import of torch in any form (`import torch`, `from torch.utils.data import ...`).
_TORCH_IMPORT = re.compile(
    rb"^(?:\xef\xbb\xbf)?[ \t\f]*(?:from[ \t]+torch\b|import[ \t][^\n]*\btorch\b)", re.MULTILINE)

# `DataLoader(dataset, 10, False, None, None, 2)`: num_workers is the sixth positional
# argument (arguments may hold one level of parentheses).
_ARGUMENT = rb"(?:[^,()]|\([^()]*\))*"
_POSITIONAL_WORKERS = re.compile(rb"DataLoader\(" + _ARGUMENT + rb"(?:," + _ARGUMENT + rb"){5}")


class Prefilter:
    """Decides from bytes alone whether a file can reach a process-starting API.

    A file must import a module family (or a configured starter's module), or
    name ProcessPoolExecutor, and name one of the APIs a rule looks at: a file
    that mentions multiprocessing in a comment, or imports it only for
    `cpu_count()`, is not worth a parse. A file that imports torch and names
    DataLoader passes only if it also names `num_workers` (or passes a sixth
    positional argument): without it no loader starts a worker.
    """

    def __init__(self, extra_names: Iterable[str] = ()) -> None:
        extra = list(extra_names)
        self._roots, self._words = _prefilter_patterns(extra)
        # Plain substring tests run at memory speed; most files stop here.
        self._needles = tuple({b"multiprocess", b"billiard", b"ProcessPoolExecutor"}
                              | {n.split(".")[0].encode() for n in _THIRD_PARTY_MODULES}
                              | {n.split(".")[0].encode() for n in extra})

    def wants(self, data: bytes) -> bool:
        if any(needle in data for needle in self._needles) \
                and self._roots.search(data) and self._words.search(data):
            return True
        return self._may_start_loader_workers(data)

    @staticmethod
    def _may_start_loader_workers(data: bytes) -> bool:
        if b"DataLoader" not in data or not _TORCH_IMPORT.search(data):
            return False
        return b"num_workers" in data or bool(_POSITIONAL_WORKERS.search(data))
