"""Imports a fix adds keep the order the file already uses (issue 14, item 6).

Where a fixture's before.py passes both import sorters, its after.py must pass them
too. The sorters run with ruff's defaults: `ruff check --select I --isolated`, and
isort with `profile = "black"`, the profile ruff's import sorting is meant to match
(line length 88, parenthesised imports one name a line with a trailing comma, a
trailing comma keeps an import split). isort's `force_sort_within_sections` stays off,
as ruff's `force-sort-within-sections` defaults to false: `import x` lines come before
`from x import y` lines in each section. Both keep `order_by_type` on: CONSTANTS, then
Classes, then functions inside one `from` import.

Each case runs in its own folder, so a module beside before.py is first-party to both
tools, as it would be in the user's project.
"""

from __future__ import annotations

import ast
import functools
import subprocess
from pathlib import Path

import isort
import libcst as cst
import pytest
from ruff.__main__ import find_ruff_bin

from conftest import CASES
from fixture_cases import Case
from mpfix.rulekit.imports import add_imports

FIXED_CASES = [case for case in CASES if case.after is not None and not case.notebook]
NOT_SORTED_BEFORE = "before.py's imports are not sorted as isort and ruff want"


def isort_accepts(path: Path) -> bool:
    return isort.check_code(path.read_bytes().decode("utf-8-sig"), show_diff=False,
                            profile="black", src_paths=(path.parent,))


def ruff_accepts(path: Path) -> bool:
    completed = subprocess.run(
        [find_ruff_bin(), "check", "--isolated", "--no-cache", "--select", "I",
         "--output-format", "concise", path.name],
        cwd=path.parent, capture_output=True, text=True, timeout=60)
    if completed.returncode not in (0, 1):
        raise RuntimeError(f"ruff failed on {path}: {completed.stderr.strip()}")
    return completed.returncode == 0


@functools.lru_cache(maxsize=None)
def sorters_accept(path: Path) -> dict[str, bool]:
    return {"isort": isort_accepts(path), "ruff": ruff_accepts(path)}


@pytest.mark.parametrize("case", FIXED_CASES, ids=[case.id for case in FIXED_CASES])
def test_after_keeps_a_sorted_import_order(case: Case) -> None:
    before = sorters_accept(case.folder / "before.py")
    if not all(before.values()):
        pytest.skip(NOT_SORTED_BEFORE)
    after = sorters_accept(case.folder / "after.py")
    rejected_by = [tool for tool, accepted in after.items() if not accepted]
    assert not rejected_by, f"after.py's imports are rejected by {', '.join(rejected_by)}"


def _imported_names(source: bytes) -> set[tuple[str, str]]:
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import):
            names.update((alias.name, "") for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.update((node.module or ".", alias.name) for alias in node.names)
    return names


def test_cases_with_added_imports_are_checked() -> None:
    """The test above is not vacuous: sorted fixtures where a fix adds an import exist."""
    checked_with_added_import = [
        case.id for case in FIXED_CASES
        if case.after is not None
        and _imported_names(case.after) - _imported_names(case.before)
        and all(sorters_accept(case.folder / "before.py").values())]
    assert len(checked_with_added_import) >= 5, checked_with_added_import


# add_imports on its own: a sorted block stays sorted, an unsorted one keeps its order.
FREEZE = ("multiprocessing", "freeze_support", None)
PARTIAL = ("functools", "partial", None)
EVENT = ("multiprocessing", "Event", None)

SORTED_ADDITIONS = {
    "name-after-classes": (
        "import argparse\nfrom multiprocessing import Pool\n\nx = 1\n", [FREEZE],
        "import argparse\nfrom multiprocessing import Pool, freeze_support\n\nx = 1\n"),
    "two-names-one-import": (
        "from multiprocessing import Pool, cpu_count\n\nx = 1\n", [FREEZE, EVENT],
        "from multiprocessing import Event, Pool, cpu_count, freeze_support\n\nx = 1\n"),
    "name-in-parenthesised-import": (
        "from multiprocessing import (\n    Pool,\n    Queue,\n)\n\nx = 1\n", [FREEZE, EVENT],
        "from multiprocessing import (\n    Event,\n    Pool,\n    Queue,\n    freeze_support,\n)"
        "\n\nx = 1\n"),
    "line-outgrows-88-columns": (
        "from multiprocessing import Array, Lock, Manager, Pool, Process, Queue, cpu_count\n"
        "\nx = 1\n", [FREEZE],
        "from multiprocessing import (\n    Array,\n    Lock,\n    Manager,\n    Pool,\n"
        "    Process,\n    Queue,\n    cpu_count,\n    freeze_support,\n)\n\nx = 1\n"),
    "as-import-kept-alone": (
        "from multiprocessing import Process as P\n\nx = 1\n", [FREEZE],
        "from multiprocessing import Process as P\nfrom multiprocessing import freeze_support\n"
        "\nx = 1\n"),
    "line-inside-the-section": (
        '"""Doc."""\n\nimport sys\nfrom multiprocessing import Pool\n\nimport numpy\n\nx = 1\n',
        [PARTIAL],
        '"""Doc."""\n\nimport sys\nfrom functools import partial\nfrom multiprocessing import Pool'
        "\n\nimport numpy\n\nx = 1\n"),
    "line-heads-the-section": (
        "import sys\n\nx = 1\n", [PARTIAL],
        "import sys\nfrom functools import partial\n\nx = 1\n"),
    "new-section-before-third-party": (
        "from __future__ import annotations\n\n# numeric work\nimport numpy\n\nx = 1\n", [PARTIAL],
        "from __future__ import annotations\n\nfrom functools import partial\n\n# numeric work\n"
        "import numpy\n\nx = 1\n"),
    "before-a-commented-import": (
        "import os\n\n# the interpreter\nimport sys\n\nx = 1\n", [PARTIAL],
        "import os\n\n# the interpreter\nimport sys\nfrom functools import partial\n\nx = 1\n"),
    "first-import-of-the-module": (
        '"""Doc."""\n\n\ndef main():\n    pass\n', [PARTIAL],
        '"""Doc."""\nfrom functools import partial\n\n\ndef main():\n    pass\n'),
}


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", SORTED_ADDITIONS)
def test_sorted_block_stays_sorted(name: str, tmp_path: Path) -> None:
    source, imports, expected = SORTED_ADDITIONS[name]
    assert all(sorters_accept(_write(tmp_path, "before.py", source)).values())
    result = add_imports(cst.parse_module(source), imports).code
    assert result == expected
    assert sorters_accept(_write(tmp_path, "after.py", result)) == {"isort": True, "ruff": True}


def test_unsorted_block_keeps_its_own_order() -> None:
    source = "import sys\nfrom multiprocessing import Queue, Pool\nimport os\n\nx = 1\n"
    result = add_imports(cst.parse_module(source), [FREEZE, PARTIAL]).code
    assert result == ("import sys\nfrom multiprocessing import freeze_support, Queue, Pool\n"
                      "import os\nfrom functools import partial\n\nx = 1\n")


def test_long_line_the_file_already_has_stays_one_line() -> None:
    line = ("from multiprocessing import Array, Barrier, Lock, Manager, Pool, Process, Queue, "
            "cpu_count")
    assert len(line) > 88
    result = add_imports(cst.parse_module(f"{line}\n\nx = 1\n"), [FREEZE]).code
    assert result == f"{line}, freeze_support\n\nx = 1\n"


def test_a_module_beside_the_file_is_first_party(tmp_path: Path) -> None:
    """isort and ruff take a module in the file's folder for first-party: an added
    third-party import goes in a section of its own above it, not among its imports."""
    from mpfix.rulekit.imports import first_party_folder

    (tmp_path / "tasks").mkdir()
    module = cst.parse_module("from tasks.parallel import run_all\n\nrun_all()\n")
    with first_party_folder(str(tmp_path)):
        added = add_imports(module, [("billiard", "freeze_support", None)]).code
    assert added.startswith("from billiard import freeze_support\n\nfrom tasks.parallel import")
    unknown = add_imports(module, [("billiard", "freeze_support", None)]).code
    assert unknown.startswith("from billiard import freeze_support\nfrom tasks.parallel import")
