"""Data loaders: whether a `torch.utils.data.DataLoader` call starts worker processes,
which context they come from, and the objects it hands to them.

A DataLoader starts its workers when it is iterated, with `num_workers > 0`, and pickles
into each of them (under spawn and forkserver) its dataset, `collate_fn` and
`worker_init_fn`; the dataset takes along what its constructor was given (a transform,
a list of them). The sampler and batch sampler stay in the parent.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Optional

import libcst as cst

from mpfix.analysis.arguments import argument, keyword
from mpfix.analysis.starters import (
    LOADER_CONTEXT,
    LOADER_HANDOFFS,
    LOADER_WORKERS,
    Kind,
)
from mpfix.analysis.summaryfacts import iterated_arguments

# Calls whose value is the number of CPUs: a loader sized by them has workers.
CPU_COUNTS = frozenset({"os.cpu_count", "multiprocessing.cpu_count", "os.process_cpu_count"})
GET_START_METHOD = frozenset(f"{family}.get_start_method"
                             for family in ("multiprocessing", "torch.multiprocessing",
                                            "multiprocess", "billiard"))
# How deep constructor arguments and the variables holding them are followed.
MAX_DEPTH = 6


class Workers(str, Enum):
    NONE = "none"    # num_workers absent, or provably 0: everything stays in the parent
    SOME = "some"    # a literal (or CPU count) above 0
    MAYBE = "maybe"  # from configuration, an argument, an expression: report, do not rewrite


@dataclass(frozen=True)
class LoaderHandoff:
    """One object a DataLoader pickles into each of its worker processes."""

    call: cst.Call              # the DataLoader(...) call
    role: str                   # "dataset", "collate_fn", "worker_init_fn" or "transform"
    value: cst.BaseExpression   # the argument, or a callable inside the dataset's arguments


class LoadersMixin:
    """Part of ModuleAnalysis (mpfix.analysis.module); `self` is the whole analysis."""

    def loader_workers(self, call: cst.Call) -> Workers:
        """Whether the DataLoader `call` creates starts worker processes when iterated."""
        passed = argument(call, LOADER_WORKERS.name, LOADER_WORKERS.position)
        if passed is None:
            return Workers.NONE if not any(a.star for a in call.args) else Workers.MAYBE
        return self._worker_count(passed.value, 0)

    def _worker_count(self, expr: cst.BaseExpression, depth: int) -> Workers:
        if isinstance(expr, cst.Integer):
            return Workers.SOME if expr.evaluated_value > 0 else Workers.NONE
        if isinstance(expr, cst.Call) and self.qualified_names(expr.func) & CPU_COUNTS:
            return Workers.SOME
        if isinstance(expr, cst.Name) and depth < MAX_DEPTH and self.parameter_read(expr) is None:
            values = [self.assigned_value(b.node) for b in self.assignments(expr)]
            counts = {self._worker_count(v, depth + 1) if v is not None else Workers.MAYBE
                      for v in values}
            if len(counts) == 1:
                return counts.pop()
        return Workers.MAYBE

    def loader_calls(self) -> list[cst.Call]:
        """The DataLoader calls of this module that may start worker processes."""
        return [call for call in self.calls if self.call_kind(call) is Kind.DATA_LOADER
                and self.loader_workers(call) is not Workers.NONE]

    def loader_context(self, call: cst.Call) -> Optional[cst.BaseExpression]:
        """The `multiprocessing_context=` a DataLoader call passes (a method name or a context)."""
        passed = argument(call, LOADER_CONTEXT.name, LOADER_CONTEXT.position)
        return passed.value if passed is not None else None

    def loader_handoffs(self, call: Optional[cst.Call] = None) -> list[LoaderHandoff]:
        """The objects a DataLoader call (each of the module's that may start workers, when
        `call` is None) hands to its worker processes: its dataset, `collate_fn` and
        `worker_init_fn`, and the lambdas and named callables inside the arguments of the
        call that made the dataset (`transform=lambda x: ...`, `[Lambda(fn)]`)."""
        calls = [call] if call is not None else self.loader_calls()
        found: list[LoaderHandoff] = []
        for loader in calls:
            for parameter in LOADER_HANDOFFS:
                passed = argument(loader, parameter.name, parameter.position)
                if passed is None or _is_none(passed.value):
                    continue
                found.append(LoaderHandoff(loader, parameter.name, passed.value))
                if parameter.name == "dataset":
                    found.extend(LoaderHandoff(loader, "transform", value)
                                 for value in self._constructor_callables(passed.value))
        return found

    def instance_class(self, expr: cst.BaseExpression) -> Optional[cst.BaseExpression]:
        """The class reference of the call that made the object `expr` holds
        (`Squares` for `ds` after `ds = Squares(10)`), where one call alone made it."""
        made = self._made_by_one_call(expr, 0)
        return made.func if made is not None else None

    def _made_by_one_call(self, expr: cst.BaseExpression, depth: int) -> Optional[cst.Call]:
        if isinstance(expr, cst.Call):
            return expr
        if isinstance(expr, cst.Name) and depth < MAX_DEPTH:
            bindings = self.assignments(expr)
            if len(bindings) == 1:
                value = self.assigned_value(bindings[0].node)
                if value is not None:
                    return self._made_by_one_call(value, depth + 1)
        return None

    def _constructor_callables(self, dataset: cst.BaseExpression) -> list[cst.BaseExpression]:
        made = self._made_by_one_call(dataset, 0)
        if made is None:
            return []
        found: list[cst.BaseExpression] = []
        for arg in made.args:
            self._collect_callables(arg.value, found, 0)
        return found

    def _collect_callables(self, expr: cst.BaseExpression, found: list[cst.BaseExpression],
                           depth: int) -> None:
        """Lambdas and names of this module's defs in `expr`, through containers, calls'
        arguments (`Compose([...])`) and the variables holding them."""
        if depth > MAX_DEPTH:
            return
        if isinstance(expr, cst.Lambda):
            found.append(expr)
        elif isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
            for element in expr.elements:
                self._collect_callables(element.value, found, depth + 1)
        elif isinstance(expr, cst.Dict):
            for element in expr.elements:
                if isinstance(element, cst.DictElement):
                    self._collect_callables(element.value, found, depth + 1)
        elif isinstance(expr, cst.Call):
            for arg in expr.args:
                self._collect_callables(arg.value, found, depth + 1)
        elif isinstance(expr, cst.Name):
            definition = self.definition_of(expr)
            if isinstance(definition, (cst.FunctionDef, cst.Lambda)):
                found.append(expr)
            elif definition is None:
                bindings = self.assignments(expr)
                value = self.assigned_value(bindings[0].node) if len(bindings) == 1 else None
                if value is not None:
                    self._collect_callables(value, found, depth + 1)

    # -- where loaders start their workers ---------------------------------------------

    def iterates_loader(self, call: cst.Call) -> bool:
        """Whether `call` iterates a DataLoader that starts workers under spawn or
        forkserver, so starts them: a builtin or itertools function that iterates its
        argument at once (`enumerate(loader)`, `iter(loader)`, `list(loader)`), a function
        of this module that iterates the parameter it is given, or a function of another
        module whose summary says it does (mpfix.analysis.summaries). A loader handed to
        any other call (`accelerator.prepare(loader)`, a wrapper, a method of a framework)
        may or may not be iterated there: that is no proof, so it is not counted."""
        return self._iterates_loader(call, 0)

    def _iterates_loader(self, call: cst.Call, depth: int) -> bool:
        names = self.qualified_names(call.func)
        iterated = iterated_arguments(sorted(names))
        if iterated is not None:
            return any(self._starts_loader_workers(arg.value) for arg in call.args[iterated])
        for name in names:
            for parameter in self.starters.iterated_parameters(name):
                passed = argument(call, parameter.name, parameter.position) \
                    if parameter.position is not None else keyword(call, parameter.name)
                if passed is not None and self._starts_loader_workers(passed.value):
                    return True
        function = self.definition_of(call.func)
        if not isinstance(function, cst.FunctionDef) or depth >= MAX_DEPTH:
            return False
        return any(self._starts_loader_workers(arg.value)
                   and self._iterates_parameter(function, _parameter_of(function, call, arg),
                                                depth + 1)
                   for arg in call.args)

    def _iterates_parameter(self, function: cst.FunctionDef, parameter: Optional[str],
                            depth: int) -> bool:
        """Whether `function` iterates its parameter `parameter`: loops over it, or hands
        it to a call that iterates it."""
        if parameter is None:
            return False
        for read in self.parameter_reads(function, parameter):
            parent = self.parent(read)
            if isinstance(parent, (cst.For, cst.CompFor)) and parent.iter is read:
                return True
            if isinstance(parent, cst.Arg) and not parent.star and parent.value is read:
                call = self.parent(parent)
                if isinstance(call, cst.Call) and self._iterates_argument(call, parent, depth):
                    return True
        return False

    def _iterates_argument(self, call: cst.Call, arg: cst.Arg, depth: int) -> bool:
        names = self.qualified_names(call.func)
        iterated = iterated_arguments(sorted(names))
        if iterated is not None:
            return any(a is arg for a in call.args[iterated])
        for name in names:
            for parameter in self.starters.iterated_parameters(name):
                passed = argument(call, parameter.name, parameter.position) \
                    if parameter.position is not None else keyword(call, parameter.name)
                if passed is arg:
                    return True
        function = self.definition_of(call.func)
        return isinstance(function, cst.FunctionDef) and depth < MAX_DEPTH \
            and self._iterates_parameter(function, _parameter_of(function, call, arg), depth + 1)

    def loader_loops(self, node: cst.CSTNode, into_functions: bool) -> list[cst.CSTNode]:
        """`for batch in loader:` loops and comprehensions under `node` over a DataLoader
        that starts workers under spawn or forkserver (not inside nested definitions,
        unless `into_functions`)."""
        found: list[cst.CSTNode] = []
        if node not in self.names.order:
            return found
        for load in self.names.loads_in(node):
            loop = self.parent(load)
            if isinstance(loop, (cst.For, cst.CompFor)) and loop.iter is load \
                    and self._starts_loader_workers(load) \
                    and (into_functions or not self._nested_in_definition(loop, node)):
                found.append(loop)
        return found

    def _starts_loader_workers(self, expr: cst.BaseExpression) -> bool:
        if not isinstance(expr, (cst.Name, cst.Call)) or self.kind_of(expr) is not Kind.DATA_LOADER:
            return False
        return any(self.loader_workers(made) is not Workers.NONE
                   and self.loader_start_method(made) != "fork"
                   for made in self.creation_calls(expr))

    def loader_start_method(self, call: cst.Call) -> Optional[str]:
        """The start method a literal chooses for a DataLoader's workers
        (`multiprocessing_context="fork"` or a `get_context("fork")` context)."""
        context = self.loader_context(call)
        if isinstance(context, cst.IfExp):
            # `"fork" if num_workers else None`: the method whenever there are workers
            methods = {self.context_method(branch) for branch in (context.body, context.orelse)
                       if not _is_none(branch)}
            return methods.pop() if len(methods) == 1 else None
        return self.context_method(context) if context is not None else None

    def fork_only_workers(self, call: cst.Call) -> Optional[cst.Comparison]:
        """The test of `get_start_method() == "fork"` that decides the DataLoader call's
        `num_workers`: in the argument itself, in what the variable it reads was assigned,
        or in a function of this module it calls (`num_workers=pick_workers()`)."""
        passed = argument(call, LOADER_WORKERS.name, LOADER_WORKERS.position)
        if passed is None:
            return None
        pending: list[cst.CSTNode] = [passed.value]
        for expr in list(pending):
            if isinstance(expr, cst.Name):
                pending.extend(v for b in self.assignments(expr)
                               if (v := self.assigned_value(b.node)) is not None)
        for expr in list(pending):
            for inner in self.names.within(self.calls, expr) if expr in self.names.order else []:
                function = self.definition_of(inner.func)
                if isinstance(function, cst.FunctionDef):
                    pending.append(function.body)
        for node in pending:
            found = self._fork_test_in(node)
            if found is not None:
                return found
        return None

    def _fork_test_in(self, node: cst.CSTNode) -> Optional[cst.Comparison]:
        if node not in self.names.order:
            return None
        for inner in self.names.within(self.calls, node):
            if not self.qualified_names(inner.func) & GET_START_METHOD:
                continue
            comparison = self.parent(inner)
            if isinstance(comparison, cst.Comparison) and any(
                    isinstance(side, cst.SimpleString) and side.evaluated_value == "fork"
                    for side in (comparison.left,
                                 *(target.comparator for target in comparison.comparisons))):
                return comparison
        return None


def _parameter_of(function: cst.FunctionDef, call: cst.Call, arg: cst.Arg) -> Optional[str]:
    """The parameter of `function` that `arg` of `call` binds (no star arguments)."""
    if arg.star:
        return None
    if arg.keyword is not None:
        return arg.keyword.value
    index = next(i for i, a in enumerate(call.args) if a is arg)
    if any(a.star for a in call.args[:index]):
        return None
    params = [*function.params.posonly_params, *function.params.params]
    return params[index].name.value if index < len(params) else None


def _is_none(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "None"
