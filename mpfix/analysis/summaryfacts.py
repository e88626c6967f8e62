"""Small questions the cross-module summaries (mpfix.analysis.summaries) ask of a call,
with Python's `ast`: which multiprocessing family a starter belongs to, which calls
iterate their arguments at once, and whether a backend-choosing call's literals pick a
backend whose children import the main module."""

from __future__ import annotations

import ast
from typing import Iterable, Mapping, Optional

from mpfix.analysis.starters import FAMILIES
from mpfix.analysis.third_party import library_starter

# Builtins and itertools functions that iterate arguments as soon as they are called
# (enumerate, zip, map and islice call iter() on them at once), and which of their
# positional arguments they iterate. Lazy ones (itertools.chain) are not among them.
_FIRST = slice(0, 1)
ITERATED_ARGUMENTS: Mapping[str, slice] = {
    **{f"builtins.{name}": _FIRST for name in (
        "iter", "list", "tuple", "set", "frozenset", "sorted", "sum", "any", "all",
        "enumerate", "dict")},
    **{f"builtins.{name}": slice(0, None) for name in ("zip", "min", "max")},
    "builtins.map": slice(1, None),
    "builtins.filter": slice(1, 2),
    **{f"itertools.{name}": _FIRST for name in (
        "islice", "cycle", "tee", "accumulate", "groupby", "pairwise", "batched")},
    **{f"itertools.{name}": slice(0, None) for name in ("zip_longest", "product")},
    **{f"itertools.{name}": slice(1, 2) for name in ("starmap", "dropwhile", "takewhile")},
    "itertools.compress": slice(0, 2),
}


def iterated_arguments(names: Iterable[str]) -> Optional[slice]:
    """Which positional arguments a call of one of `names` iterates at once, if it does."""
    for name in names:
        if name in ITERATED_ARGUMENTS:
            return ITERATED_ARGUMENTS[name]
    return None


def argument_node(node: ast.Call, keyword: str, position: Optional[int]) -> Optional[ast.expr]:
    """The argument passed as `keyword`, or at `position` before any starred argument."""
    for item in node.keywords:
        if item.arg == keyword:
            return item.value
    if position is not None and position < len(node.args) \
            and not any(isinstance(a, ast.Starred) for a in node.args[:position + 1]):
        return node.args[position]
    return None


def process_family(api: Optional[str]) -> Optional[str]:
    """The multiprocessing family whose processes a starter-table name starts, so whose
    freeze_support() a frozen program needs: `billiard` for `billiard.Pool`,
    `multiprocessing` for concurrent.futures' executor and pebble, `multiprocess` for
    pathos; None for loky and names outside the table."""
    if api is None:
        return None
    if api.startswith("concurrent.futures."):
        return "multiprocessing"
    families = [f for f in FAMILIES if api.startswith(f + ".")]
    if families:
        return max(families, key=len)
    entry = library_starter(api)
    if entry is None:
        return None
    return entry.family or (entry.backend.family if entry.backend is not None else None)


def spawning_backend(node: ast.Call, name: str) -> bool:
    """`joblib.Parallel(n_jobs=2, backend="multiprocessing")`: a backend-choosing call
    whose literals choose a spawning backend and more than one worker (the `with
    parallel_backend(...)` around a call is read by mpfix.analysis.backends only)."""
    entry = library_starter(name)
    backend = entry.backend if entry is not None else None
    if backend is None:
        return False
    chosen = argument_node(node, backend.argument.name, backend.argument.position)
    workers = argument_node(node, backend.workers.name, backend.workers.position)
    if not (isinstance(chosen, ast.Constant) and chosen.value in backend.spawning):
        return False
    if isinstance(workers, ast.UnaryOp) and isinstance(workers.op, ast.USub) \
            and isinstance(workers.operand, ast.Constant):
        return type(workers.operand.value) is int  # n_jobs=-1: every CPU
    return isinstance(workers, ast.Constant) and type(workers.value) is int \
        and workers.value not in (0, 1)
