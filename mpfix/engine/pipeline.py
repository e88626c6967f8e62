"""The cheap front of the engine: decide without libcst whether a file needs parsing.

This module is imported by the command line and by worker processes; the
libcst-heavy engine is imported only once a file passes the prefilter, so a
pre-commit call on files that never mention multiprocessing stays close to a
bare interpreter start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from mpfix.findings import FileResult
from mpfix.settings import FileSettings
from mpfix.engine.source import looks_binary
from mpfix.analysis.starters import Prefilter

if TYPE_CHECKING:
    from mpfix.engine.fixer import Approver

SKIP_FILE = b"# mpfix: skip-file"
NOTEBOOK_SUFFIX = ".ipynb"  # mpfix.engine.notebook, which imports nbformat, reads these
# A notebook that names none of these cannot start a process (the full prefilter runs on
# its cells' code).
NOTEBOOK_WORDS = (b"multiprocess", b"billiard", b"ProcessPoolExecutor", b"DataLoader")

_prefilters: dict[tuple, Prefilter] = {}


def prefilter_for(settings: FileSettings) -> Prefilter:
    key = settings.extra_starters
    if key not in _prefilters:
        _prefilters[key] = Prefilter(name for name, _ in key)
    return _prefilters[key]


def needs_parse(source: bytes, settings: FileSettings, path: str = "") -> bool:
    if path.endswith(NOTEBOOK_SUFFIX):
        # The JSON's lines are not the cells' lines: the cells' code is prefiltered once
        # mpfix.engine.notebook has joined it; here only its words can rule it out.
        words = NOTEBOOK_WORDS + tuple(name.split(".")[0].encode()
                                       for name, _ in settings.extra_starters)
        return SKIP_FILE not in source and any(word in source for word in words)
    return SKIP_FILE not in source and prefilter_for(settings).wants(source)


def process_source(
    source: bytes,
    settings: FileSettings,
    *,
    path: str = "<string>",
    fix: bool = False,
    approve: "Optional[Approver]" = None,
    companions: bool = False,
) -> FileResult:
    """`companions`: the caller writes what a fix adds to other files beside this one (a
    notebook's helpers module); otherwise such a fix is not offered."""
    if path.endswith(NOTEBOOK_SUFFIX):
        from mpfix.engine.notebook import process_notebook

        return process_notebook(source, settings, path=path, fix=fix, approve=approve,
                                companions=companions)
    if looks_binary(source):
        return FileResult(path=path, error="not a Python source file (binary content)")
    if not settings.rules or not needs_parse(source, settings):
        return FileResult(path=path)
    from mpfix.engine.fixer import run_rules

    return run_rules(source, settings, path=path, fix=fix, approve=approve)
