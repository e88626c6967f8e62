"""Calls whose library chooses at run time how to run tasks: joblib's `Parallel`.

`Parallel(n_jobs=2)` runs its tasks in loky workers, which never import the main
module and receive their tasks by value (cloudpickle): nothing for MP001 or MP007.
`Parallel(n_jobs=2, backend="multiprocessing")`, or a `Parallel` that names no
backend inside `with parallel_backend("multiprocessing"):` (or `parallel_config`),
feeds a multiprocessing pool: its children import the main module again, and the
functions given to `delayed` are pickled by reference. The choice is read from
literals only (also through a name every assignment of which is the same literal);
anything else is `MAYBE`, which no rule rewrites.
"""

from __future__ import annotations

from enum import Enum
from typing import Optional, Union

import libcst as cst

from mpfix.analysis.arguments import argument, keyword
from mpfix.analysis.third_party import (Backend, BackendScope, Handed, LibraryStarter,
                                        backend_scope, library_starter)

MAX_DEPTH = 4  # names followed to the literal they hold
_UNKNOWN = object()  # a value no literal gives


class Choice(str, Enum):
    SPAWNING = "spawning"  # starts children of the backend's family
    MAYBE = "maybe"        # an argument mpfix cannot read decides


Literal = Union[str, int, None]


class _Reader:
    def __init__(self, analysis) -> None:  # type: ignore[no-untyped-def]
        self.analysis = analysis

    def literal(self, expr: Optional[cst.BaseExpression], depth: int = 0) -> object:
        """The string, integer or None `expr` holds, else _UNKNOWN."""
        if expr is None:
            return None
        if isinstance(expr, cst.SimpleString):
            return expr.evaluated_value
        if isinstance(expr, cst.Integer):
            return expr.evaluated_value
        if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus) \
                and isinstance(expr.expression, cst.Integer):
            return -expr.expression.evaluated_value
        if isinstance(expr, cst.Name):
            if expr.value == "None":
                return None
            if depth < MAX_DEPTH:
                values = {self._held(b.node, depth) for b in self.analysis.assignments(expr)}
                if len(values) == 1:
                    return values.pop()
        return _UNKNOWN

    def _held(self, target: cst.CSTNode, depth: int) -> object:
        value = self.analysis.assigned_value(target)
        return self.literal(value, depth + 1) if value is not None else _UNKNOWN

    def passed(self, call: cst.Call, handed: Handed) -> Optional[cst.BaseExpression]:
        found = argument(call, handed.name, handed.position) if handed.position is not None \
            else keyword(call, handed.name)
        return found.value if found is not None else None


def _entry(analysis, func: cst.BaseExpression) -> Optional[LibraryStarter]:  # type: ignore[no-untyped-def]
    for name in sorted(analysis.qualified_names(func)):
        entry = library_starter(name)
        if entry is not None and entry.backend is not None:
            return entry
    return None


def _scopes(analysis, call: cst.Call) -> list[tuple[cst.Call, BackendScope]]:  # type: ignore[no-untyped-def]
    """The backend-setting `with` items around `call`, innermost first, up to the
    enclosing definition (a function's body runs where it is called)."""
    found: list[tuple[cst.Call, BackendScope]] = []
    for ancestor in analysis.ancestors(call):
        if isinstance(ancestor, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            break
        if isinstance(ancestor, cst.With):
            for item in reversed(ancestor.items):
                made = item.item
                if isinstance(made, cst.Call):
                    for name in sorted(analysis.qualified_names(made.func)):
                        scope = backend_scope(name)
                        if scope is not None:
                            found.append((made, scope))
                            break
    return found


def backend_choice(analysis, call: cst.Call) -> Optional[Choice]:  # type: ignore[no-untyped-def]
    """Whether the backend-choosing call `call` (`joblib.Parallel(...)`) starts children
    that import the main module: SPAWNING, MAYBE, or None (loky, threads, one worker)."""
    entry = _entry(analysis, call.func)
    if entry is None or entry.backend is None:
        return None
    backend = entry.backend
    reader = _Reader(analysis)
    if any(reader.literal(reader.passed(call, Handed(keyword, None))) == value
           for keyword, value in backend.threads):
        return None
    chosen = reader.literal(reader.passed(call, backend.argument))
    workers = reader.literal(reader.passed(call, backend.workers))
    default_workers: Optional[int] = backend.default_workers
    for scope_call, scope in _scopes(analysis, call):
        if chosen is None:
            chosen = reader.literal(reader.passed(scope_call, scope.argument))
        if workers is None:
            workers = reader.literal(reader.passed(scope_call, scope.workers))
            if workers is None and scope.default_workers is not None:
                workers = scope.default_workers
    if workers is None:
        workers = default_workers
    return _decide(backend, chosen, workers)


def _decide(backend: Backend, chosen: object, workers: object) -> Optional[Choice]:
    if chosen is None or (isinstance(chosen, str) and chosen not in backend.spawning):
        return None  # the default (loky) or another named backend
    if chosen is _UNKNOWN or not isinstance(chosen, str):
        return Choice.MAYBE
    if workers is None or workers == 1:
        return None  # one worker: the library runs the tasks in the calling process
    if not isinstance(workers, int) or workers == 0:
        return Choice.MAYBE
    return Choice.SPAWNING


def task_runner(analysis, call: cst.Call) -> Optional[cst.Call]:  # type: ignore[no-untyped-def]
    """For `delayed(f)`, the backend-choosing call that runs the task it makes:
    `Parallel(...)(delayed(f)(x) for x in xs)`, or through a name bound to the Parallel
    object (`parallel = Parallel(...)`, `with Parallel(...) as parallel:`)."""
    for ancestor in analysis.ancestors(call):
        if isinstance(ancestor, (cst.FunctionDef, cst.Lambda, cst.ClassDef,
                                 cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            return None
        if isinstance(ancestor, cst.Call) and ancestor.func is not call \
                and not _within(analysis, call, ancestor.func):
            runner = _runner_of(analysis, ancestor.func)
            if runner is not None:
                return runner
    return None


def _within(analysis, node: cst.CSTNode, outer: cst.CSTNode) -> bool:  # type: ignore[no-untyped-def]
    return node is outer or any(a is outer for a in analysis.ancestors(node))


def _runner_of(analysis, func: cst.BaseExpression) -> Optional[cst.Call]:  # type: ignore[no-untyped-def]
    if isinstance(func, cst.Call) and _entry(analysis, func.func) is not None:
        return func
    if isinstance(func, cst.Name):
        made = [c for c in analysis.creation_calls(func) if _entry(analysis, c.func) is not None]
        if len(made) == 1:
            return made[0]
    return None


def spawning_task_argument(analysis, call: cst.Call) -> Optional[Handed]:  # type: ignore[no-untyped-def]
    """The argument of `call` (`joblib.delayed(f)`) that a spawning backend pickles by
    reference: the callable, when the call that runs the task chose such a backend."""
    handed: Optional[Handed] = None
    for name in sorted(analysis.qualified_names(call.func)):
        entry = library_starter(name)
        if entry is not None and entry.handed is not None and entry.by_value:
            handed = entry.handed
            break
    if handed is None:
        return None
    runner = task_runner(analysis, call)
    if runner is None or backend_choice(analysis, runner) is not Choice.SPAWNING:
        return None
    return handed
