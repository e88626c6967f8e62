"""Cross-module summaries: what each module-level function does with processes.

Per function of a module (from its text alone, with Python's `ast`: no libcst, no
import, nothing executed):

- whether it starts processes whose children import the main module again, itself
  or through the functions it calls (`starts`);
- whether it sets the start method, itself or through a call (`sets_start_method`);
- which of its parameters it hands, as a callable, to another process that pickles
  it by reference (`hands`: a Process target, a pool or executor task, a third-party
  starter's callable argument, or a parameter of another function that hands it on);
- through which multiprocessing family (`multiprocessing`, `billiard`, `multiprocess`,
  `torch.multiprocessing`) its processes start (`families`): a frozen program calls
  that family's freeze_support() (MP001);
- which of its parameters it iterates (`iterates`: `for x in p`, `list(p)`,
  `enumerate(p)`, or a parameter of another function that iterates it): a DataLoader
  given to it starts its workers (MP001);
- which of its parameters it puts on or gets from as a queue (`puts`, `gets`: `q.put(x)`,
  `q.get()`, or a parameter of another function that does): a parent that joins a
  producer and then hands the queue to a function that gets from it deadlocks (MP003).

`extract` summarises one module; the result is plain JSON-able data, cached by the
file's content (mpfix.engine.crossmodule). mpfix.analysis.summarylinks joins the
summaries of many modules.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional

from mpfix.analysis.starters import (BY_VALUE_FAMILIES, CONTEXT_API, MANAGER_API,
                                     STARTING_KINDS, Kind, StarterTable)
from mpfix.analysis.summaryfacts import (argument_node, iterated_arguments, process_family,
                                         spawning_backend)
from mpfix.analysis.third_party import library_starter

SUMMARY_FORMAT = 4  # 2: families and iterates; 3: puts and gets; 4: reads
LOCAL = "#"  # prefix of a call to a function of the same module
POOL_TASK_METHODS = frozenset({"map", "imap", "imap_unordered", "starmap", "apply",
                               "apply_async", "map_async", "starmap_async"})
EXECUTOR_TASK_METHODS = frozenset({"submit", "map"})
QUEUE_PUTS = frozenset({"put", "put_nowait"})
QUEUE_GETS = frozenset({"get", "get_nowait"})



@dataclass
class FunctionSummary:
    params: list[str] = field(default_factory=list)  # positional parameters, in order
    starts: bool = False
    sets_start_method: bool = False
    hands: set[str] = field(default_factory=set)     # parameters handed to another process
    calls: set[str] = field(default_factory=set)     # callees, as the module spells them
    # (callee, position or -1, keyword or "", own parameter): a parameter passed on
    forwards: set[tuple[str, int, str, str]] = field(default_factory=set)
    families: set[str] = field(default_factory=set)  # process families it starts through
    iterates: set[str] = field(default_factory=set)  # parameters it iterates
    puts: set[str] = field(default_factory=set)      # parameters it puts on (a queue)
    gets: set[str] = field(default_factory=set)      # parameters it gets from (a queue)
    reads: set[str] = field(default_factory=set)     # free names it reads: its module's globals

    def to_json(self) -> dict:
        return {"params": self.params, "starts": self.starts, "sets": self.sets_start_method,
                "hands": sorted(self.hands), "calls": sorted(self.calls),
                "forwards": sorted(self.forwards), "families": sorted(self.families),
                "iterates": sorted(self.iterates), "puts": sorted(self.puts),
                "gets": sorted(self.gets), "reads": sorted(self.reads)}

    @classmethod
    def from_json(cls, data: dict) -> "FunctionSummary":
        return cls(list(data["params"]), bool(data["starts"]), bool(data["sets"]),
                   set(data["hands"]), set(data["calls"]),
                   {tuple(f) for f in data["forwards"]},  # type: ignore[misc]
                   set(data["families"]), set(data["iterates"]), set(data["puts"]),
                   set(data["gets"]), set(data["reads"]))


@dataclass
class ModuleSummary:
    functions: dict[str, FunctionSummary] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # module-level imports: name -> target
    imports: set[str] = field(default_factory=set)         # every module it imports (as spelled)

    def to_json(self) -> dict:
        return {"format": SUMMARY_FORMAT,
                "functions": {n: f.to_json() for n, f in self.functions.items()},
                "aliases": self.aliases, "imports": sorted(self.imports)}

    @classmethod
    def from_json(cls, data: dict) -> Optional["ModuleSummary"]:
        if data.get("format") != SUMMARY_FORMAT:
            return None
        return cls({n: FunctionSummary.from_json(f) for n, f in data["functions"].items()},
                   dict(data["aliases"]), set(data["imports"]))


# -- one module ---------------------------------------------------------------------------


def _import_bindings(node: ast.AST) -> list[tuple[str, str]]:
    """(bound name, what it names) for an import statement; relative targets keep their dots."""
    found: list[tuple[str, str]] = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                found.append((alias.asname, alias.name))
            else:
                top = alias.name.split(".")[0]
                found.append((top, top))
    elif isinstance(node, ast.ImportFrom):
        base = "." * node.level + (node.module or "")
        for alias in node.names:
            if alias.name == "*":
                continue
            target = f"{base}{alias.name}" if base.endswith(".") or not base \
                else f"{base}.{alias.name}"
            found.append((alias.asname or alias.name, target))
    return found


def _imported_modules(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = "." * node.level + (node.module or "")
        found = [base] if node.module else []
        found.extend(f"{base}{a.name}" if base.endswith(".") else f"{base}.{a.name}"
                     for a in node.names if a.name != "*")
        return found
    return []


def _module_level(body: list[ast.stmt]) -> Iterable[ast.stmt]:
    """Module-level statements, also inside `if`/`try` blocks (optional imports)."""
    for statement in body:
        yield statement
        if isinstance(statement, ast.If):
            yield from _module_level(statement.body + statement.orelse)
        elif isinstance(statement, ast.Try):
            blocks = statement.body + statement.orelse + statement.finalbody
            for handler in statement.handlers:
                blocks += handler.body
            yield from _module_level(blocks)


def extract(source: bytes, starters: StarterTable) -> Optional[ModuleSummary]:
    """The summary of one module's text; None when Python cannot parse it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    summary = ModuleSummary()
    defined: set[str] = set()
    for statement in _module_level(tree.body):
        summary.imports.update(_imported_modules(statement))
        for name, target in _import_bindings(statement):
            summary.aliases[name] = target
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defined.add(statement.name)
    for statement in _module_level(tree.body):
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            reader = _FunctionReader(statement, summary.aliases, defined, starters)
            summary.functions[statement.name] = reader.read()
            summary.imports.update(reader.imports)
    return summary


class _FunctionReader(ast.NodeVisitor):
    """One pass over a function's own body (nested definitions are not run by it)."""

    def __init__(self, function: ast.FunctionDef | ast.AsyncFunctionDef,
                 aliases: Mapping[str, str], defined: set[str], starters: StarterTable) -> None:
        self.function = function
        self.aliases = dict(aliases)
        self.defined = defined
        self.starters = starters
        args = function.args
        self.summary = FunctionSummary(params=[a.arg for a in (*args.posonlyargs, *args.args)])
        self.all_params = set(self.summary.params) | {a.arg for a in args.kwonlyargs}
        self.kinds: dict[str, Kind] = {}
        self.origins: dict[str, Optional[str]] = {}  # what made the objects in `kinds`
        self.imports: set[str] = set()
        self.creates_process = False
        self.starts_something = False
        self.process_families: set[str] = set()  # of the Process objects it creates
        self.loaded: set[str] = set()
        self.bound: set[str] = set()
        self.declared_global: set[str] = set()

    def read(self) -> FunctionSummary:
        for decorator in self.function.decorator_list:
            name = self._qualified(decorator.func if isinstance(decorator, ast.Call) else decorator)
            if name is not None and self.starters.starts_when_decorated(name):
                self.summary.starts = True
                self._started_through(name)
        for statement in self.function.body:
            self.visit(statement)
        if self.creates_process and self.starts_something:
            self.summary.starts = True
            self.summary.families |= self.process_families
        local = (self.bound - self.declared_global) | self.all_params
        self.summary.reads = self.loaded - local
        return self.summary

    # The module globals it reads: a parent that changes one after import changes nothing
    # a spawn or forkserver child sees (MP002).
    def visit_Name(self, node: ast.Name) -> None:
        (self.loaded if isinstance(node.ctx, ast.Load) else self.bound).add(node.id)

    def visit_Global(self, node: ast.Global) -> None:
        self.declared_global.update(node.names)

    def _started_through(self, api: Optional[str]) -> None:
        family = process_family(api)
        if family is not None:
            self.summary.families.add(family)

    # Iteration of a parameter: what makes a DataLoader given to it start its workers.
    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self._iterated(node.iter)
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self._iterated(node.iter)
        self.generic_visit(node)

    def _iterating(self, func: ast.expr) -> Optional[slice]:
        """The positional arguments a call of `func` iterates at once: `list` (a builtin
        not rebound here), `itertools.islice`..."""
        if isinstance(func, ast.Name) and func.id not in self.aliases \
                and func.id not in self.defined and func.id not in self.all_params:
            name: Optional[str] = f"builtins.{func.id}"
        else:
            name = self._qualified(func)
        return iterated_arguments([name]) if name is not None else None

    def _iterated(self, expr: ast.expr) -> None:
        if isinstance(expr, ast.Name) and expr.id in self.all_params:
            self.summary.iterates.add(expr.id)

    # Nested definitions run only when called: their calls are not this function's.
    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        return None

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        return None

    def visit_Lambda(self, node: ast.Lambda) -> None:
        return None

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        return None

    # Error paths: a branch that raises, or a handler, is not what the function does when
    # it works (a diagnostic that starts a process before raising does not make every
    # caller a process starter).
    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        for block in (node.body, node.orelse):
            if not any(isinstance(statement, ast.Raise) for statement in block):
                for statement in block:
                    self.visit(statement)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        return None

    def visit_Import(self, node: ast.Import) -> None:
        self._local_import(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self._local_import(node)

    def _local_import(self, node: ast.AST) -> None:
        self.imports.update(_imported_modules(node))
        for name, target in _import_bindings(node):
            self.aliases[name] = target

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        kind = self._kind(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name) and kind is not None:
                self.kinds[target.id] = kind
                self.origins[target.id] = self._api_of(node.value)

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            kind = self._kind(item.context_expr)
            if kind is not None and isinstance(item.optional_vars, ast.Name):
                self.kinds[item.optional_vars.id] = kind
                self.origins[item.optional_vars.id] = self._api_of(item.context_expr)
        for statement in node.body:
            self.visit(statement)

    visit_AsyncWith = visit_With

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        name = self._qualified(node.func)
        kind = self._kind(node)
        if kind in STARTING_KINDS:
            self.summary.starts = True
            self._started_through(self._api_of(node))
        elif kind is Kind.SET_START_METHOD:
            self.summary.sets_start_method = True
        elif kind is Kind.PROCESS:
            self.creates_process = True
            family = process_family(self._api_of(node))
            if family is not None:
                self.process_families.add(family)
            self._hand(self._argument(node, "target", 1), name)
        iterated = self._iterating(node.func)
        if iterated is not None:
            for arg in node.args[iterated]:
                self._iterated(arg.value if isinstance(arg, ast.Starred) else arg)
        if isinstance(node.func, ast.Attribute):
            self._method_call(node, node.func)
        if name is not None:
            handed = self.starters.handed_argument(name)
            if handed is not None:
                self._hand(self._argument(node, handed.name, handed.position), name)
            if kind is None and (name.startswith(LOCAL) or "." in name or name.startswith(".")):
                self.summary.calls.add(name)
                self._forwards(node, name)

    def _method_call(self, node: ast.Call, func: ast.Attribute) -> None:
        receiver = func.value
        kind = self._kind(receiver)
        method = func.attr
        if isinstance(receiver, ast.Name) and receiver.id in self.all_params:
            if method in QUEUE_PUTS:
                self.summary.puts.add(receiver.id)
            elif method in QUEUE_GETS:
                self.summary.gets.add(receiver.id)
        if method == "start" and kind in (Kind.PROCESS, None):
            # `for worker in workers: worker.start()`: the loop variable's kind is not
            # followed here; a start() in a function that creates a Process counts.
            self.starts_something = self.starts_something or kind is None
            if kind is Kind.PROCESS:
                self.summary.starts = True
                self._started_through(self._api_of(receiver))
        elif (kind is Kind.POOL and method in POOL_TASK_METHODS) \
                or (kind is Kind.EXECUTOR and method in EXECUTOR_TASK_METHODS):
            self._hand(self._argument(node, "func" if kind is Kind.POOL else "fn", 0),
                       self._api_of(receiver))
        elif kind is Kind.STARTS:  # a third-party pool: `pebble.ProcessPool().schedule(f)`
            entry = library_starter(self._api_of(receiver) or "")
            if entry is not None and not entry.by_value and method in entry.task_methods:
                self._hand(self._argument(node, "function", 0), None)

    def _api_of(self, receiver: ast.expr) -> Optional[str]:
        """The API that made an object: `multiprocess.Pool` for `multiprocess.Pool(2)` or
        for a name bound to it, so a by-value family is told apart."""
        if isinstance(receiver, ast.Call):
            return self._qualified(receiver.func) or (
                self._api_of(receiver.func.value) if isinstance(receiver.func, ast.Attribute)
                else None)
        if isinstance(receiver, ast.Name):
            return self.origins.get(receiver.id)
        return None

    def _hand(self, value: Optional[ast.expr], api: Optional[str]) -> None:
        if api is not None and api.split(".")[0] in BY_VALUE_FAMILIES:
            return  # dill or cloudpickle: any callable travels
        if isinstance(value, ast.Name) and value.id in self.all_params:
            self.summary.hands.add(value.id)

    def _forwards(self, node: ast.Call, callee: str) -> None:
        for position, arg in enumerate(node.args):
            if isinstance(arg, ast.Starred):
                break
            if isinstance(arg, ast.Name) and arg.id in self.all_params:
                self.summary.forwards.add((callee, position, "", arg.id))
        for keyword in node.keywords:
            if keyword.arg and isinstance(keyword.value, ast.Name) \
                    and keyword.value.id in self.all_params:
                self.summary.forwards.add((callee, -1, keyword.arg, keyword.value.id))

    @staticmethod
    def _argument(node: ast.Call, keyword: str, position: Optional[int]) -> Optional[ast.expr]:
        return argument_node(node, keyword, position)

    def _qualified(self, expr: ast.expr) -> Optional[str]:
        if isinstance(expr, ast.Name):
            if expr.id in self.kinds or expr.id in self.all_params:
                return None
            if expr.id in self.aliases:
                return self.aliases[expr.id]
            if expr.id in self.defined:
                return LOCAL + expr.id
            return None
        if isinstance(expr, ast.Attribute):
            base = self._qualified(expr.value)
            if base is None or base.startswith(LOCAL):
                return None
            return f"{base}.{expr.attr}" if not base.endswith(".") else f"{base}{expr.attr}"
        return None

    def _kind(self, expr: ast.expr) -> Optional[Kind]:
        if isinstance(expr, ast.Name):
            return self.kinds.get(expr.id)
        if not isinstance(expr, ast.Call):
            return None
        name = self._qualified(expr.func)
        if name is not None and not name.startswith((LOCAL, ".")):
            kind = self.starters.kind_of_name(name)
            if kind is not None:
                return kind
            if spawning_backend(expr, name):
                return Kind.STARTS
        if isinstance(expr.func, ast.Attribute):
            receiver = self._kind(expr.func.value)
            if receiver is Kind.CONTEXT:
                return CONTEXT_API.get(expr.func.attr)
            if receiver is Kind.MANAGER:
                return MANAGER_API.get(expr.func.attr)
        return None
