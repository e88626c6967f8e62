"""Signs in a file's own code that it runs as `__main__` wherever it sits.

Where a file sits says whether it is imported (a package module, a module another file
of the run imports, a configured library path: FileSettings). Some files in packages
are run all the same: a framework runs an application file as `__main__`, a notebook-
style script runs cell by cell, a test suite runs a script by path. Their own code
says so; RuleContext decides from these signs and from where the file sits whether it
is a script, a library or test code, once for every rule.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterator, Optional

import libcst as cst

if TYPE_CHECKING:
    from mpfix.analysis.module import ModuleAnalysis

# Frameworks that run an application file as `__main__` (`streamlit run app.py` executes it
# in a module named `__main__` whose `__file__` is the app): such a file is a script
# wherever it sits.
SCRIPT_RUNNERS = {"streamlit": "Streamlit runs this app as `__main__`"}
# Cell markers of notebook-style scripts (jupytext and editors' `# %%`, nbconvert's
# `# In[1]:`, Databricks' source format): run cell by cell in a kernel or as a
# script, as `__main__` either way.
NOTEBOOK_CELL = re.compile(r"#\s*(?:%%|In\[[ 0-9]*\]:|COMMAND -{3,}|Databricks notebook source)")
NOTEBOOK = "this notebook-style script (it has cell markers) runs as `__main__`"
# What only a program run from the command line does at module level: a library neither
# reads the command line nor ends the interpreter when it is imported.
COMMAND_LINE = {"sys.argv": "reads `sys.argv`", "sys.exit": "calls `sys.exit()`"}


def script_sign(analysis: "ModuleAnalysis") -> Optional[str]:
    """Why the module's own code shows it runs as `__main__`: the framework that runs
    it, its cell markers, or what its module-level code does with the command line.
    None when nothing shows it."""
    for bindings in analysis.global_scope.bindings.values():
        for binding in bindings:
            root = (binding.imported or "").split(".")[0]
            if root in SCRIPT_RUNNERS:
                return SCRIPT_RUNNERS[root]
    if any(NOTEBOOK_CELL.match(comment) for comment in _top_level_comments(analysis.module)):
        return NOTEBOOK
    use = _command_line_use(analysis)
    if use is not None:
        return f"this file is run as a script (it {use} at module level)"
    return None


def _command_line_use(analysis: "ModuleAnalysis") -> Optional[str]:
    """What the module's own code, outside functions and the main guard, does that only a
    script does: read `sys.argv` or call `sys.exit()`."""
    for name in analysis.names.loads:
        if name.value not in ("sys", "argv", "exit"):
            continue
        parent = analysis.parent(name)
        node = parent if isinstance(parent, cst.Attribute) and parent.value is name else name
        use = COMMAND_LINE.get(analysis.names.qualified_name(node) or "")
        if use is not None and analysis.is_module_level(node) and not analysis.in_main_guard(node):
            return use
    return None


def _top_level_comments(module: cst.Module) -> Iterator[str]:
    lines = [*module.header, *module.footer]
    for statement in module.body:
        lines.extend(statement.leading_lines)
    for line in lines:
        if line.comment is not None:
            yield line.comment.value
