"""The modules beside a file that its fixes add to (mpfix.rulekit.rule.ModuleAddition).

A notebook's definitions that must reach spawn or forkserver children move to a
module beside it. During the fix run those modules live here, in memory: each
round's additions are appended to what the module held (read once from disk) and
the next round's rules see the result. The run's caller writes them, before the
file itself, so the file never imports what is not there yet.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path
from typing import Optional

import libcst as cst

from mpfix.findings import CompanionFile
from mpfix.rulekit.imports import add_imports
from mpfix.rulekit.rule import ImportSpec, ModuleAddition

_UNREADABLE = object()


class SiblingModules:
    """The modules in one directory that a fix run may add to."""

    def __init__(self, directory: Path, shown_directory: str) -> None:
        self._directory = directory
        self._shown_directory = shown_directory  # how the run names that directory
        self._original: dict[str, object] = {}
        self._current: dict[str, bytes] = {}

    def source(self, module: str) -> Optional[bytes]:
        if module in self._current:
            return self._current[module]
        original = self._read(module)
        return None if original is _UNREADABLE else original  # type: ignore[return-value]

    def bound_names(self, module: str) -> Optional[dict[str, Optional[ImportSpec]]]:
        """The names `module` binds at its top level, each with the import that binds it
        (None: something else does); empty if the module does not exist. None when it cannot
        take additions: unreadable, not UTF-8, or not a module Python parses."""
        if module not in self._current and self._read(module) is _UNREADABLE:
            return None
        source = self.source(module)
        if source is None:
            return {}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(source.decode("utf-8"))
        except (SyntaxError, ValueError, UnicodeDecodeError, RecursionError, MemoryError):
            return None
        return _top_level_names(tree)

    def preview(self, addition: ModuleAddition) -> tuple[Optional[str], str]:
        """The module's text before (None: it does not exist) and after `addition`, nothing
        kept."""
        old = self.source(addition.module)
        new = _appended(old or b"", addition).decode("utf-8")
        return (None if old is None else old.decode("utf-8")), new

    def add(self, addition: ModuleAddition) -> None:
        self._current[addition.module] = _appended(self.source(addition.module) or b"", addition)

    def changed(self) -> list[CompanionFile]:
        files = []
        for module, new in sorted(self._current.items()):
            original = self._original[module]
            assert original is not _UNREADABLE
            shown = str(Path(self._shown_directory) / module) if self._shown_directory else module
            files.append(CompanionFile(shown, original, new))  # type: ignore[arg-type]
        return files

    def _read(self, module: str) -> object:
        if module not in self._original:
            try:
                self._original[module] = (self._directory / module).read_bytes()
            except FileNotFoundError:
                self._original[module] = None
            except OSError:
                self._original[module] = _UNREADABLE
        return self._original[module]


def _top_level_names(tree: ast.Module) -> dict[str, Optional[ImportSpec]]:
    names: dict[str, Optional[ImportSpec]] = {}
    for statement in tree.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[statement.name] = None
        elif isinstance(statement, ast.Import):
            for alias in statement.names:
                bound = alias.asname or alias.name.split(".")[0]
                names[bound] = (alias.name, None, alias.asname)
        elif isinstance(statement, ast.ImportFrom) and not statement.level and statement.module:
            for alias in statement.names:
                names[alias.asname or alias.name] = (statement.module, alias.name, alias.asname)
        else:
            names.update((node.id, None) for node in ast.walk(statement)
                         if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store))
    return names


def _appended(old: bytes, addition: ModuleAddition) -> bytes:
    """`old` with the addition's statements at its end and its imports among its imports."""
    module = cst.parse_module(old) if old.strip() else cst.parse_module("")
    body = list(module.body)
    for statement in addition.statements:
        comments = [line for line in statement.leading_lines if line.comment is not None]
        # PEP 8: two blank lines around a def or class, none between plain assignments.
        compound = isinstance(statement, cst.BaseCompoundStatement) \
            or bool(body) and isinstance(body[-1], cst.BaseCompoundStatement)
        spacing = [cst.EmptyLine(), cst.EmptyLine()] if body and compound else []
        body.append(statement.with_changes(leading_lines=[*spacing, *comments]))
    module = module.with_changes(body=body, has_trailing_newline=True)
    if addition.imports:
        module = add_imports(module, list(addition.imports))
    return module.bytes
