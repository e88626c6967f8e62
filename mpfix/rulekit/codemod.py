"""A rule run alone as a libcst codemod command: `python -m libcst.tool codemod
mpfix.codemods.<module>.<Command> PATH`.

The only module of mpfix that imports libcst.codemod (and so libcst.matchers): a rule
module declares its command with mpfix.rulekit.helpers.RuleCommand, and the class
built here is made the first time libcst's tool (or a test) uses it.
"""

from __future__ import annotations

import argparse
from typing import ClassVar

import libcst as cst
from libcst.codemod import CodemodCommand, SkipFile

from mpfix.rulekit.rule import Rule
from mpfix.settings import FileSettings


class RuleCodemod(CodemodCommand):
    rule: ClassVar[type[Rule]]

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


def codemod_class_for(declaration: type) -> type[RuleCodemod]:
    """The codemod command of a RuleCommand declaration (its `rule`)."""
    rule: type[Rule] = next(vars(c)["rule"] for c in declaration.__mro__ if "rule" in vars(c))
    return type(declaration.__name__, (RuleCodemod,), {
        "rule": rule,
        # A plain string: libcst's tool reads it from the class for `--help`.
        "DESCRIPTION": f"{rule.code} {rule.name}: {rule.summary()}",
        "__module__": __name__,
    })
