"""Whether code is a test: the file is one pytest or unittest collects, and the code runs
inside one of its test functions or test methods.

A test owns the processes it starts: what it does to them (kill them, pin their start
method) is the test's subject, and ends with the test.
"""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import TYPE_CHECKING, Optional

import libcst as cst

if TYPE_CHECKING:
    from mpfix.analysis import ModuleAnalysis

# Files pytest collects or loads as test code, and the folders a test suite lives in.
TEST_FILE = re.compile(r"(test_.*|.*_test|conftest)\.py")
TEST_FOLDERS = frozenset({"test", "tests", "testing"})
# pytest collects `test*` functions and methods; unittest runs `test*` methods.
TEST_FUNCTION = re.compile(r"test")


def is_test_path(path: str) -> bool:
    """A test module by its name, or any module of a test suite's folder."""
    parts = PurePath(path).parts
    if not parts:
        return False
    return bool(TEST_FILE.fullmatch(parts[-1])) or any(part in TEST_FOLDERS for part in parts[:-1])


def enclosing_test(analysis: "ModuleAnalysis", node: cst.CSTNode,
                   path: str) -> Optional[cst.FunctionDef]:
    """The test function or method of a test module that runs `node`, if any: a `test*`
    function at module level, or a `test*` method of a module-level class."""
    if not is_test_path(path):
        return None
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
