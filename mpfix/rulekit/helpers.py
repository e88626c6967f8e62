"""Helpers rule modules share: naming imported things in the module's own style,
and running a rule alone as a libcst codemod command."""

from __future__ import annotations

import argparse
from typing import ClassVar, Iterator, Optional, Sequence, TypeVar

import libcst as cst
from libcst.codemod import CodemodCommand, SkipFile

from mpfix.analysis.module import ModuleAnalysis
from mpfix.analysis.names import dotted_name
from mpfix.rulekit.rule import ImportSpec, Rule
from mpfix.settings import FileSettings


def _top_level_imports(module: cst.Module):  # type: ignore[no-untyped-def]
    for statement in module.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, (cst.Import, cst.ImportFrom)):
                    yield small


def import_binding(analysis: ModuleAnalysis, module_name: str,
                   name: str) -> tuple[str, tuple[ImportSpec, ...]]:
    """How this module spells `module_name.name`, and the import to add if it cannot yet.

    `import multiprocessing as mp` gives `mp.freeze_support`; a module that
    already does `from multiprocessing import freeze_support` gives the bare
    name; otherwise the bare name and a `from ... import ...` to add.
    """
    module_alias: Optional[str] = None
    for node in _top_level_imports(analysis.module):
        if isinstance(node, cst.ImportFrom) and node.module is not None \
                and dotted_name(node.module) == module_name and not node.relative \
                and not isinstance(node.names, cst.ImportStar):
            for alias in node.names:
                if dotted_name(alias.name) == name:
                    return (alias.evaluated_alias or name), ()
        if isinstance(node, cst.Import) and module_alias is None:
            for alias in node.names:
                if dotted_name(alias.name) == module_name:
                    module_alias = alias.evaluated_alias or module_name
    if module_alias is not None:
        return f"{module_alias}.{name}", ()
    return name, ((module_name, name, None),)


def unused_name(analysis: ModuleAnalysis, base: str, also_taken: "set[str] | None" = None) -> str:
    """`base`, or `base_2`, `base_3`... whichever no scope of the module binds or reads."""
    taken = set(also_taken or ()) | analysis.names.all_names
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}_{number}", number + 1
    return candidate


# What an argument, element or parameter list holds.
Item = TypeVar("Item", cst.Arg, cst.Element, cst.BaseElement, cst.Param, cst.BaseDictElement)


def appended(items: Sequence[Item], new: Sequence[Item],
              opening: Optional[cst.BaseParenthesizableWhitespace]) -> list[Item]:
    """`items` followed by `new`, separated the way `items` already are (one line, or one
    item a line with a trailing comma)."""
    if not new:
        return list(items)
    space = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    if not items:
        return [*(n.with_changes(comma=space) for n in new[:-1]), new[-1]]
    last = items[-1]
    one_a_line = isinstance(last.comma, cst.Comma) \
        and isinstance(last.comma.whitespace_after, cst.ParenthesizedWhitespace)
    trailing = last.comma if one_a_line else cst.MaybeSentinel.DEFAULT
    if len(items) >= 2 and isinstance(items[-2].comma, cst.Comma):
        separator = items[-2].comma
    elif isinstance(opening, cst.ParenthesizedWhitespace):
        separator = cst.Comma(whitespace_after=opening)
    else:
        separator = space
    return [*items[:-1], last.with_changes(comma=separator),
            *(n.with_changes(comma=separator) for n in new[:-1]),
            new[-1].with_changes(comma=trailing)]


def own_nodes(function: cst.FunctionDef) -> Iterator[cst.CSTNode]:
    """The nodes of `function`'s body that run as part of it, in source order: not those of
    nested defs, lambdas or classes."""
    stack: list[cst.CSTNode] = [function.body]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            continue
        yield node
        stack.extend(reversed(node.children))


def simple_statement(code: str) -> cst.SimpleStatementLine:
    statement = cst.parse_statement(code + "\n")
    assert isinstance(statement, cst.SimpleStatementLine)
    return statement


def node_code(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


def split_leading_lines(lines: Sequence[cst.EmptyLine]
                        ) -> tuple[list[cst.EmptyLine], list[cst.EmptyLine]]:
    """The blank lines above a statement's first comment, and the rest (which travels with it)."""
    blank: list[cst.EmptyLine] = []
    for line in lines:
        if line.comment is not None:
            break
        blank.append(line)
    return blank, list(lines[len(blank):])


class RuleCommand(CodemodCommand):
    """Runs one rule as `python -m libcst.tool codemod mpfix.codemods.<module>.<Command>`."""

    rule: ClassVar[type[Rule]]

    @property
    def DESCRIPTION(self) -> str:  # type: ignore[override]
        return f"{self.rule.code} {self.rule.name}: {self.rule.summary()}"

    def __init__(self, context, unsafe_fixes: bool = False) -> None:  # type: ignore[no-untyped-def]
        super().__init__(context)
        self.unsafe_fixes = unsafe_fixes

    @staticmethod
    def add_args(arg_parser: argparse.ArgumentParser) -> None:
        arg_parser.add_argument("--unsafe-fixes", action="store_true",
                                help="also apply fixes that change signatures or control flow")

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        from mpfix.engine.fixer import run_rules

        path = self.context.filename or "<string>"
        settings = FileSettings(rules=(self.rule.code,), unsafe_fixes=self.unsafe_fixes,
                                is_package_init=path.endswith("__init__.py"))
        result = run_rules(tree.bytes, settings, path=path, fix=True)
        if result.error:
            raise SkipFile(result.error)
        if result.new_source is None:
            return tree
        return cst.parse_module(result.new_source)
