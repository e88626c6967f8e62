"""Which files of a run are libraries: imported rather than run.

MP001 and MP008 treat a library differently from a script (a library must not
be wrapped in a main guard; it sets no start method at import time). A file
is a library when it is a package's `__init__.py` or a module inside a package
that has no main guard; a module that another file of the run imports may be a
script too, and rules decide what that means for them. The
import graph is read from the bytes the run has already loaded, with a
regular expression per candidate, so no file is parsed for it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Mapping

_MAIN_GUARD = re.compile(rb"^if[ \t]+(?:__name__[ \t]*==[ \t]*['\"]__main__['\"]|"
                         rb"['\"]__main__['\"][ \t]*==[ \t]*__name__)", re.MULTILINE)


def _in_package(path: Path) -> bool:
    return (path.parent / "__init__.py").is_file()


def module_names(path: Path) -> set[str]:
    """`pkg/sub/mod.py` is importable as `mod` (beside it) and as `pkg.sub.mod`."""
    names = {path.stem}
    parts = [path.stem]
    directory = path.parent.absolute()
    while (directory / "__init__.py").is_file():
        parts.insert(0, directory.name)
        names.add(".".join(parts))
        directory = directory.parent
    return names


def _import_pattern(name: str) -> re.Pattern[bytes]:
    last = re.escape(name.rsplit(".", 1)[-1]).encode()
    dotted = re.escape(name).encode()
    return re.compile(
        rb"^[ \t]*(?:import[ \t][^\n#]*\b" + dotted + rb"\b"
        rb"|from[ \t]+[\w.]*\b" + dotted + rb"[ \t]+import\b"
        rb"|from[ \t]+[\w.]+[ \t]+import[ \t][^\n#]*\b" + last + rb"\b)",
        re.MULTILINE,
    )


def package_modules(candidates: Iterable[Path], sources: Mapping[Path, bytes]) -> set[Path]:
    """Package `__init__.py` files, and package modules that have no main guard."""
    return {
        path for path in candidates
        if path.name == "__init__.py"
        or (path.name != "__main__.py" and _in_package(path) and not _MAIN_GUARD.search(sources[path]))
    }


def imported_files(candidates: Iterable[Path], sources: Mapping[Path, bytes]) -> set[Path]:
    """The candidates that another file among `sources` imports."""
    return {path for path in candidates
            if path.name != "__main__.py" and _imported_by_others(path, sources)}


def _imported_by_others(path: Path, sources: Mapping[Path, bytes]) -> bool:
    for name in module_names(path):
        needle = name.rsplit(".", 1)[-1].encode()
        pattern = _import_pattern(name)
        for other, data in sources.items():
            if other != path and needle in data and pattern.search(data):
                return True
    return False
