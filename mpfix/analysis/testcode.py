"""Test code: files a test runner imports, the folders a test suite lives in, and the test
functions and methods that run a node. RuleContext.is_test_code decides from these, and
from the file's own signs of running as a script, whether a file is test code.

A test owns the processes it starts: what it does to them (kill them, pin their start
method) is the test's subject, and ends with the test.
"""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import TYPE_CHECKING, Optional

import libcst as cst

if TYPE_CHECKING:
    from mpfix.analysis.module import ModuleAnalysis

# Files pytest collects or loads as test code, and the folders a test suite lives in.
TEST_FILE = re.compile(r"(test_.*|.*_test|conftest)\.py")
TEST_FOLDERS = frozenset({"test", "tests", "testing"})
# pytest collects `test*` functions and methods; unittest runs `test*` methods.
TEST_FUNCTION = re.compile(r"test")


def is_test_module(path: str) -> bool:
    """A file pytest or unittest imports by its name (`test_*.py`, `*_test.py`) or pytest
    loads as its configuration (`conftest.py`): the runner imports it, never as `__main__`."""
    return bool(TEST_FILE.fullmatch(PurePath(path).name))


def is_conftest(path: str) -> bool:
    """pytest's per-folder configuration: imported once, before the tests it configures."""
    return PurePath(path).name == "conftest.py"


def in_test_folder(path: str) -> bool:
    """A module of a test suite's folder (`tests/`, `test/`, `testing/`): a helper of the
    tests, unless it shows it runs as a script (see RuleContext.runs_as_main)."""
    return any(part in TEST_FOLDERS for part in PurePath(path).parts[:-1])


def enclosing_test(analysis: "ModuleAnalysis", node: cst.CSTNode) -> Optional[cst.FunctionDef]:
    """The test function or method that runs `node`, if any: a `test*` function at module
    level, or a `test*` method of a module-level class. Only test code has tests: ask
    RuleContext.is_test_code first."""
    for ancestor in analysis.ancestors(node):
        if isinstance(ancestor, cst.FunctionDef) and TEST_FUNCTION.match(ancestor.name.value) \
                and _defined_at_module_or_class_level(analysis, ancestor):
            return ancestor
    return None


def _defined_at_module_or_class_level(analysis: "ModuleAnalysis", function: cst.FunctionDef) -> bool:
    owner = next((a for a in analysis.ancestors(function)
                  if isinstance(a, (cst.FunctionDef, cst.ClassDef, cst.Module))), None)
    if isinstance(owner, cst.ClassDef):
        owner = next((a for a in analysis.ancestors(owner)
                      if isinstance(a, (cst.FunctionDef, cst.ClassDef, cst.Module))), None)
    return isinstance(owner, cst.Module)
