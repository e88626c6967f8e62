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
from typing import Iterable, Iterator, Mapping, Optional

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


_IMPORT_LINE = re.compile(
    rb"^[ \t]*(?:from[ \t]+([\w.]+)[ \t]+import[ \t]*\(?([^\n#;)]*)|import[ \t]+([^\n#;]*))",
    re.MULTILINE,
)


def import_lines(source: bytes) -> Iterator[re.Match[bytes]]:
    """The import lines `_IMPORT_LINE` finds, in order. Each lies on one line, from its
    start, and holds the word `import`: found with `bytes.find`, which scans far faster
    than the regular expression engine trying every line."""
    position = source.find(b"import")
    while position != -1:
        match = _IMPORT_LINE.match(source, source.rfind(b"\n", 0, position) + 1)
        if match is not None:
            yield match
        end = source.find(b"\n", position)
        if end == -1:
            return
        position = source.find(b"import", end)


def imported_names(source: bytes) -> set[str]:
    """Dotted names a file's import lines can make importable: `a.b` for `from a import b`."""
    names: set[str] = set()
    for match in import_lines(source):
        module, imported, plain = match.groups()
        if module is not None:
            base = module.decode(errors="replace").lstrip(".")
            if base:
                names.add(base)
            for item in imported.split(b","):
                word = item.strip().split(b" ")[0].decode(errors="replace")
                if word:
                    names.add(f"{base}.{word}" if base else word)
                    names.add(word)
        else:
            for item in plain.split(b","):
                word = item.strip().split(b" ")[0].decode(errors="replace")
                if word:
                    names.add(word)
    return names


def package_modules(candidates: Iterable[Path], sources: Mapping[Path, bytes]) -> set[Path]:
    """Package `__init__.py` files, and package modules that have no main guard."""
    return {
        path for path in candidates
        if path.name == "__init__.py"
        or (path.name != "__main__.py" and _in_package(path) and not _MAIN_GUARD.search(sources[path]))
    }


def importing_files(candidates: Iterable[Path], sources: Mapping[Path, bytes]) -> set[Path]:
    """The files among `sources` with an import line that names a candidate's module:
    all that `imported_files` reads of the others (the rest of them can be let go)."""
    stems = [path.stem.encode() for path in candidates if path.name != "__main__.py"]
    if not stems:
        return set()
    named = re.compile(rb"\b(?:" + b"|".join(map(re.escape, stems)) + rb")\b")
    return {path for path, data in sources.items()
            if any(named.search(data, line.start(), _line_end(data, line.start()))
                   for line in import_lines(data))}


def _line_end(data: bytes, start: int) -> int:
    end = data.find(b"\n", start)
    return len(data) if end == -1 else end


def imported_files(candidates: Iterable[Path], sources: Mapping[Path, bytes],
                   importing: Optional[set[Path]] = None) -> set[Path]:
    """The candidates that another file among `sources` imports; `importing`: what
    `importing_files` answered for the same candidates, when the caller has it."""
    wanted = {path: module_names(path) for path in candidates if path.name != "__main__.py"}
    if not wanted:
        return set()
    if importing is None:
        importing = importing_files(wanted, sources)
    importers = {path: imported_names(sources[path]) for path in importing}
    return {
        path for path, names in wanted.items()
        if any(names & imported for other, imported in importers.items() if other != path)
    }
