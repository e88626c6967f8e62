"""A rule's documentation, read from its class's source without importing the rule.

A rule's docstring is its one documentation (see mpfix.cli.docs). Importing a rule
module imports libcst, which costs more than everything `mpfix rule` and a report
otherwise do, so the documentation is read from the rule module's source file with
the `ast` module: the source is the same text the class is built from, so the two
cannot disagree (a test holds every `RuleDoc` equal to its imported class). A rule
module whose source is not on disk (a zip import, a bytecode-only install) is
imported instead.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import re
from dataclasses import dataclass
from typing import Optional

_HEADING = re.compile(r"([A-Z][A-Za-z ]+):")
_CLASS_ATTRIBUTES = ("code", "name", "fix_safety")


def summary_of(doc: str) -> str:
    return doc.split("\n\n", 1)[0].replace("\n", " ")


def sections_of(doc: str) -> dict[str, str]:
    """The docstring split on its `Heading:` lines."""
    parts: dict[str, str] = {"summary": summary_of(doc)}
    current = None
    for line in doc.splitlines():
        heading = _HEADING.fullmatch(line.strip())
        if heading:
            current = heading.group(1).lower()
            parts[current] = ""
        elif current:
            parts[current] += line + "\n"
    return {k: v.strip("\n") for k, v in parts.items()}


@dataclass(frozen=True)
class RuleDoc:
    """What documenting a rule needs, with the interface of its Rule class."""

    code: str
    name: str
    fix_safety: str
    doc: str

    def summary(self) -> str:
        return summary_of(self.doc)

    def documentation(self) -> str:
        return self.doc

    def sections(self) -> dict[str, str]:
        return sections_of(self.doc)


def read_rule_doc(module_name: str, class_name: str) -> RuleDoc:
    """The documentation of `class_name` in the module `module_name`."""
    found = _from_source(module_name, class_name)
    if found is not None:
        return found
    cls = getattr(importlib.import_module(module_name), class_name)
    return RuleDoc(cls.code, cls.name, cls.fix_safety, inspect.cleandoc(cls.__doc__ or ""))


def _from_source(module_name: str, class_name: str) -> Optional[RuleDoc]:
    spec = importlib.util.find_spec(module_name)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    try:
        with open(spec.origin, "rb") as handle:
            source = handle.read().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    # The class's head (docstring and attributes) is parsed alone: parsing whole rule
    # modules would cost most of what not importing them saves.
    for text in (_class_head(source, class_name), source):
        if text is None:
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        found = _rule_doc_in(tree, class_name)
        if found is not None:
            return found
    return None


def _class_head(source: str, class_name: str) -> Optional[str]:
    """`class NAME(...):` up to its first method or decorator: where a rule keeps its
    docstring and its code, name and fix safety."""
    match = re.search(rf"^class {re.escape(class_name)}\b.*$", source, re.MULTILINE)
    if match is None:
        return None
    end = re.compile(r"^(?:\S|    (?:def |async def |@))")
    lines = source[match.start():].splitlines(keepends=True)
    head = [lines[0]]
    for line in lines[1:]:
        if end.match(line):
            break
        head.append(line)
    return "".join(head)


def _rule_doc_in(tree: ast.Module, class_name: str) -> Optional[RuleDoc]:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            values = _literal_attributes(node)
            if not {"code", "name"} <= values.keys() or not all(
                    isinstance(value, str) for value in values.values()):
                return None  # set elsewhere (a base class?): only the import can tell
            return RuleDoc(values["code"], values["name"], values.get("fix_safety", "none"),
                           ast.get_docstring(node, clean=True) or "")
    return None


def _literal_attributes(node: ast.ClassDef) -> dict[str, object]:
    values: dict[str, object] = {}
    for statement in node.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target, value = statement.target, statement.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in _CLASS_ATTRIBUTES:
            try:
                values[target.id] = ast.literal_eval(value)
            except ValueError:
                values[target.id] = None
    return values
