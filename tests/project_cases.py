"""Project fixture cases: a case folder that holds a small project, not one file.

A case folder with a subfolder (a package, or `site/`) is a project: its other `.py`
files and folders are laid out beside the program (before.py or after.py), and mpfix
runs on the whole folder, as `mpfix check .` would; `site/` is a fake installed
library, on mpfix's environment search path (and on the behaviour run's `sys.path`),
never among the files checked. The program's findings and fix are what the case
states; it is written under run.json's `as`, else options.json's `path` (a package's
`__init__.py`), else main.py.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from dataclasses import replace
from typing import Any, Optional

from fixture_cases import Case
from mpfix.api import _file_settings
from mpfix.engine import runner
from mpfix.findings import FileResult

CASE_FILES = frozenset({"before.py", "after.py", "run.json", "findings.txt", "options.json",
                        "provenance"})
SITE = "site"


def is_project(folder: Path) -> bool:
    return any(p.is_dir() and p.name != "__pycache__" for p in folder.iterdir())


def program_path(case: Case) -> str:
    """Where the program goes: run.json's `as`, else options.json's `path`, else main.py."""
    return (case.run or {}).get("as") or case.options.get("path") or "main.py"


def lay_out(case: Case, program: bytes, workdir: Path) -> Path:
    """Copy the case's project into `workdir` with `program` as its main file."""
    for item in case.folder.iterdir():
        if item.name in CASE_FILES or item.name == "__pycache__" \
                or item.name.startswith(("before.", "after.")):
            continue
        if item.is_dir():
            shutil.copytree(item, workdir / item.name,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(item, workdir / item.name)
    main = workdir / program_path(case)
    main.parent.mkdir(parents=True, exist_ok=True)
    main.write_bytes(program)
    return main


def _run(case: Case, program: bytes, options: dict[str, Any], fix: bool,
         companions: Optional[dict[str, bytes]] = None) -> FileResult:
    with tempfile.TemporaryDirectory(prefix="mpfix-project-") as tmp:
        workdir = Path(tmp)
        main = lay_out(case, program, workdir)
        for name, content in (companions or {}).items():
            (workdir / name).write_bytes(content)
        site = workdir / SITE
        files = [main] if case.notebook else \
            sorted(p for p in workdir.rglob("*.py") if site not in p.parents)

        def settings_for(path: Path):  # type: ignore[no-untyped-def]
            return _file_settings(options.get("select"), options.get("ignore", ()),
                                  options.get("unsafe_fixes", False),
                                  options.get("target_start_method"),
                                  options.get("extra_starters"), options.get("is_library")
                                  if path == main else None, str(path))

        report = runner.run(files, settings_for, fix=fix, jobs=1, cache=None,
                            environment=[str(site)] if site.is_dir() else [])
        result = next(r for r in report.results if r.path == str(main))
        if result.error:
            raise AssertionError(result.error)
        result.companions = [replace(c, path=str(Path(c.path).relative_to(workdir)))
                             for c in result.companions]
        return result


def check_project(case: Case, program: bytes) -> list:
    return _run(case, program, case.check_options(), fix=False).findings


def fix_project(case: Case, program: bytes) -> bytes:
    result = _run(case, program, case.fix_options(), fix=True)
    return result.new_source if result.new_source is not None else program


def fix_notebook(case: Case, program: bytes,
                 companions: Optional[dict[str, bytes]] = None) -> tuple[bytes, dict[str, bytes]]:
    """A notebook case fixed as `mpfix fix` fixes a notebook on disk (with the case's modules
    and `companions` beside it): the new notebook, and the files beside it the fix writes."""
    result = _run(case, program, case.fix_options(), fix=True, companions=companions)
    written = {c.path: c.new for c in result.companions}
    return (result.new_source if result.new_source is not None else program), written
