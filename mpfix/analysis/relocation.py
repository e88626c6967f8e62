"""What a module-level definition needs beside it when it moves to another module.

A notebook's function handed to a spawn or forkserver child has to live in a module
the child can import (MP007). Moving it takes along, transitively, the notebook's
functions and classes it uses and the constants it reads; the imports it reads are
repeated there; the notebook's other variables (values the kernel computed) can only
reach the child as arguments. Anything else makes the move unsafe, and says why.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional, Union

import libcst as cst

from mpfix.analysis.cells import CELL_MARKER
from mpfix.analysis.names import Binding, dotted_name

if TYPE_CHECKING:
    from mpfix.analysis.module import ModuleAnalysis

ImportSpec = tuple[str, Optional[str], Optional[str]]  # module, name, alias
_BUILTINS = frozenset(dir(builtins)) | {"__name__", "__file__", "__doc__", "__builtins__"}


@dataclass
class Relocation:
    """The top-level statements that move (in source order), the names they bind, the
    imports the new module needs, and the variables read that must become arguments."""

    statements: list[cst.BaseStatement] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    company: list[str] = field(default_factory=list)  # the names moving along, as found
    imports: list[ImportSpec] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    # A variable read by code that moves along: it would have to be passed down a chain of
    # calls, which only a person can decide.
    passed_through_calls: bool = False
    problem: Optional[str] = None


def relocation(analysis: "ModuleAnalysis",
               definition: Union[cst.FunctionDef, cst.ClassDef]) -> Relocation:
    """What moving `definition`, a top-level def or class, to another module takes."""
    found = Relocation()
    order = analysis.names.order
    moved: dict[int, tuple[cst.BaseStatement, str]] = {}
    pending: list[cst.CSTNode] = [definition]
    readers_of: dict[str, list[cst.CSTNode]] = {}
    problem = _movable(analysis, definition, definition.name.value)
    if problem:
        return Relocation(problem=problem)
    if len(analysis.global_bindings(definition.name.value)) != 1:
        return Relocation(problem=f"'{definition.name.value}' is bound more than once")
    moved[id(definition)] = (definition, definition.name.value)
    while pending:
        current = pending.pop()
        for name in _reads(analysis, current):
            bindings = analysis.global_bindings(name)
            if not bindings:
                if name not in _BUILTINS:
                    return Relocation(problem=f"it reads '{name}', which no cell binds")
                continue
            if any(not analysis.is_module_level(b.node) for b in bindings):
                # `global x` in a function (an initializer): the cells never bind it
                return Relocation(problem=f"it reads '{name}', which a function sets")
            if len(bindings) != 1:
                if any(b.imported is not None or _own_statement(analysis, b) is not None
                       and isinstance(b.node, (cst.FunctionDef, cst.ClassDef)) for b in bindings):
                    return Relocation(problem=f"it reads '{name}', bound more than once in the "
                                      f"notebook: bind it once")
                readers_of.setdefault(name, []).append(current)  # a variable set again
                continue
            binding = bindings[0]
            if binding.imported is not None:
                spec = _import_spec(analysis, binding)
                if spec is None:
                    return Relocation(problem=f"it reads '{name}', imported relatively")
                if spec not in found.imports:
                    found.imports.append(spec)
                continue
            statement = _own_statement(analysis, binding)
            if statement is not None and (isinstance(statement, (cst.FunctionDef, cst.ClassDef))
                                          or analysis.is_constant_global(name)):
                if id(statement) not in moved:
                    problem = _movable(analysis, statement, name)
                    if problem:
                        return Relocation(problem=problem)
                    moved[id(statement)] = (statement, name)
                    found.company.append(name)
                    pending.append(statement)
                continue
            readers_of.setdefault(name, []).append(current)
    early = _definition_time_names(analysis, definition)
    for name, readers in readers_of.items():
        found.passed.append(name)
        if any(reader is not definition for reader in readers) or name in early \
                or not isinstance(definition, cst.FunctionDef):
            found.passed_through_calls = True
    for statement, name in sorted(moved.values(), key=lambda item: order[item[0]]):
        found.statements.append(statement)
        found.names.append(name)
    return found


def _definition_time_names(analysis: "ModuleAnalysis", definition: cst.CSTNode) -> set[str]:
    """Names a def reads when it is defined (decorators, defaults, annotations): a
    parameter cannot stand in for them."""
    if not isinstance(definition, cst.FunctionDef):
        return set()
    parts: list[cst.CSTNode] = [*definition.decorators]
    if definition.returns is not None:
        parts.append(definition.returns)
    params = definition.params
    for param in [*params.posonly_params, *params.params, *params.kwonly_params]:
        parts.extend(p for p in (param.default, param.annotation) if p is not None)
    return {name.value for part in parts for name in analysis.names.loads_in(part)}


def _reads(analysis: "ModuleAnalysis", node: cst.CSTNode) -> dict[str, list[cst.Name]]:
    """Module-level names `node` reads, and names it reads that nothing binds."""
    reads = dict(analysis.global_reads(node))
    for name in analysis.names.loads_in(node):
        if not analysis.names.resolve(name):
            reads.setdefault(name.value, []).append(name)
    return reads


def _own_statement(analysis: "ModuleAnalysis",
                   binding: Binding) -> Optional[cst.BaseStatement]:
    """The top-level statement that is `binding` and nothing else: a def, a class, or a
    one-target assignment on a line of its own."""
    node = binding.node
    if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
        return node if analysis.parent(node) is analysis.module else None
    assign = analysis.parent(analysis.parent(node) or node)
    line = analysis.parent(assign) if assign is not None else None
    if isinstance(assign, cst.Assign) and len(assign.targets) == 1 \
            and assign.targets[0].target is node and isinstance(line, cst.SimpleStatementLine) \
            and len(line.body) == 1 and analysis.parent(line) is analysis.module:
        return line
    return None


def _movable(analysis: "ModuleAnalysis", statement: cst.CSTNode, name: str) -> Optional[str]:
    if analysis.parent(statement) is not analysis.module:
        return f"'{name}' is not defined at the top of a cell"
    inner = [s for s in analysis.names.scopes if analysis.names.contains(statement, s.node)]
    if any(scope.globals for scope in inner):
        return f"'{name}' assigns notebook variables (global), which a module cannot"
    return None


def _import_spec(analysis: "ModuleAnalysis", binding: Binding) -> Optional[ImportSpec]:
    """The import that binds `binding`'s name, for another module to repeat."""
    alias = binding.node
    statement = analysis.parent(alias)
    if not isinstance(alias, cst.ImportAlias):
        return None
    asname = dotted_name(alias.asname.name) if alias.asname is not None else None
    if isinstance(statement, cst.Import):
        return dotted_name(alias.name), None, asname
    if isinstance(statement, cst.ImportFrom) and not statement.relative \
            and statement.module is not None:
        return dotted_name(statement.module), dotted_name(alias.name), asname
    return None


def is_cell_marker(statement: cst.CSTNode) -> bool:
    """Whether `statement` is the line that opens a notebook cell (mpfix.analysis.cells)."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    expr = statement.body[0]
    return isinstance(expr, cst.Expr) and isinstance(expr.value, cst.Call) \
        and isinstance(expr.value.func, cst.Name) and expr.value.func.value == CELL_MARKER
