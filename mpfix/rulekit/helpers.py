"""Helpers rule modules share: naming imported things in the module's own style,
and declaring a rule's libcst codemod command (built in mpfix.rulekit.codemod)."""

from __future__ import annotations

from typing import ClassVar, Iterator, Optional, Sequence, TypeVar

import libcst as cst

from mpfix.analysis.module import ModuleAnalysis
from mpfix.analysis.names import child_fields, dotted_name
from mpfix.analysis.structure import own_nodes  # noqa: F401 - rules import it from here
from mpfix.rulekit.rule import ImportSpec, Rule


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


def descendants(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """`node` and every node under it, in source order: libcst.matchers.findall's walk
    without importing libcst.matchers. By dataclass field, as the name index walks:
    libcst's `children` runs a visitor for every node."""
    stack: list[cst.CSTNode] = [node]
    while stack:
        current = stack.pop()
        yield current
        children: list[cst.CSTNode] = []
        for name in child_fields(type(current)):
            value = getattr(current, name)
            if isinstance(value, cst.CSTNode):
                children.append(value)
            elif isinstance(value, (tuple, list)):
                children.extend(item for item in value if isinstance(item, cst.CSTNode))
        stack.extend(reversed(children))


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


class _CommandDeclaration(type):
    """The metaclass of RuleCommand. A rule module declares its libcst codemod command at
    import time, but importing libcst.codemod (and with it libcst.matchers) costs more than
    checking a small file, and only `python -m libcst.tool codemod` needs it: the command
    class that tool instantiates is built on first use, in mpfix.rulekit.codemod."""

    def codemod_class(cls) -> type:
        built = cls.__dict__.get("_codemod_class")
        if built is None:
            from mpfix.rulekit.codemod import codemod_class_for

            built = codemod_class_for(cls)
            type.__setattr__(cls, "_codemod_class", built)
        return built

    def __call__(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        return cls.codemod_class()(*args, **kwargs)

    def __getattr__(cls, name: str) -> object:
        # What libcst's tool reads from a command class (DESCRIPTION, add_args,
        # get_inherited_dependencies...) is the built class's.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(cls.codemod_class(), name)

    def __instancecheck__(cls, instance: object) -> bool:
        built = cls.__dict__.get("_codemod_class")
        return type.__instancecheck__(cls, instance) or (
            built is not None and isinstance(instance, built))


class RuleCommand(metaclass=_CommandDeclaration):
    """Runs one rule as `python -m libcst.tool codemod mpfix.codemods.<module>.<Command>`;
    a rule module declares it as `class XCommand(RuleCommand): rule = X`."""

    rule: ClassVar[type[Rule]]
