"""Cross-module summaries for a run: which functions of other modules start processes.

Before the rules run, every file that passes the prefilter is summarised
(mpfix.analysis.summaries, Python's `ast`; each summary cached by the file's content),
and so is every module those files import from the environment mpfix runs in, found
with importlib's path finder on explicit paths (never imported, never executed; the
standard library is left to the starters table). The summaries are linked through
the imports, and the functions that start processes or hand a callable to another
process become starter names (kind `starts-processes`) and handoffs in the settings
of the files that import them. A file the prefilter skipped because it imports no
multiprocessing module is looked at again with those names, and summarised in turn,
until nothing more is found: a console script that calls `pkg.cli.main()` is
analysed when `main()` opens a Pool in another file.
"""

from __future__ import annotations

import importlib.machinery
import json
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Optional, Sequence

from mpfix.analysis.starters import FAMILIES, StarterTable
from mpfix.analysis.summaries import Linked, ModuleSummary, extract, link
from mpfix.analysis.third_party import LIBRARY_STARTERS
from mpfix.engine.cache import Cache
from mpfix.engine.libraries import _IMPORT_LINE as IMPORT_LINE
from mpfix.engine.libraries import imported_names, module_names
from mpfix.engine.pipeline import needs_parse
from mpfix.settings import FileSettings

# (index in the report, path, bytes, settings), as the runner keeps its files.
Entry = tuple[int, Path, bytes, FileSettings]

_RELATIVE_IMPORT = re.compile(rb"^[ \t]*from[ \t]+\.", re.MULTILINE)
MAX_ENVIRONMENT_MODULES = 400  # per run: a huge framework is summarised only in part
_COVERED_BY_TABLE = frozenset({f.split(".")[0] for f in FAMILIES} | {"concurrent"}
                              | {name.split(".")[0] for name in LIBRARY_STARTERS})


def environment_paths() -> list[str]:
    """Where mpfix's own interpreter finds installed modules: its `sys.path` without the
    standard library and without the working directory (the project is the run's)."""
    import sysconfig

    standard = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib")}
    found = []
    for entry in sys.path:
        if not entry or entry in standard or not Path(entry).is_dir():
            continue
        if any(Path(entry).is_relative_to(s) and "site-packages" not in entry for s in standard):
            continue
        found.append(entry)
    return found


class Summaries:
    def __init__(self, cache: Optional[Cache], environment: Sequence[str]) -> None:
        self.cache = cache
        self.environment = list(environment)
        self.modules: dict[str, tuple[ModuleSummary, bool]] = {}
        self.files: set[Path] = set()
        self._searched: set[str] = set()
        self._environment_files = 0

    def add(self, path: Path, source: bytes, settings: FileSettings) -> None:
        if path in self.files:
            return
        self.files.add(path)
        summary = self._summary(source, settings)
        if summary is None:
            return
        package = path.name == "__init__.py"
        for name in _dotted_names(path):
            self.modules.setdefault(name, (summary, package))

    def _summary(self, source: bytes, settings: FileSettings) -> Optional[ModuleSummary]:
        key = None
        if self.cache is not None:
            key = self.cache.key(source, json.dumps(settings.extra_starters), "summary")
            stored = self.cache.get_data(key)
            if stored is not None:
                return ModuleSummary.from_json(stored)
        summary = extract(source, StarterTable(settings.starters()))
        if summary is not None and self.cache is not None and key is not None:
            self.cache.put_data(key, summary.to_json())
        return summary

    def add_environment(self, settings: FileSettings, names: Iterable[str] = ()) -> None:
        """Summarise the modules the environment has among `names` and the imports of the
        summarised files."""
        pending = [name for summary, package in list(self.modules.values())
                   for name in summary.imports if not name.startswith(".")]
        pending.extend(names)
        while pending and self._environment_files < MAX_ENVIRONMENT_MODULES:
            name = pending.pop()
            for module, path in self._find(name):
                if module in self.modules or path in self.files:
                    continue
                try:
                    source = path.read_bytes()
                except OSError:
                    continue
                self.files.add(path)
                self._environment_files += 1
                summary = self._summary(source, settings)
                if summary is None:
                    continue
                self.modules[module] = (summary, path.name == "__init__.py")
                top = module.split(".")[0]
                # Re-exports and helpers of the same distribution are followed too.
                for imported in summary.imports:
                    absolute = _absolute_module(imported, module, path.name == "__init__.py")
                    if absolute.split(".")[0] == top:
                        pending.append(absolute)

    def _find(self, dotted: str) -> list[tuple[str, Path]]:
        """The source files of `dotted` and of its packages, found without importing."""
        parts = dotted.split(".")
        if parts[0] in _COVERED_BY_TABLE or parts[0] in sys.stdlib_module_names:
            return []
        found: list[tuple[str, Path]] = []
        search: Optional[list[str]] = self.environment
        for cut in range(1, len(parts) + 1):
            name = ".".join(parts[:cut])
            if name in self._searched and name not in self.modules:
                return found
            self._searched.add(name)
            try:
                spec = importlib.machinery.PathFinder.find_spec(name, search)
            except (ImportError, ValueError, OSError):
                return found
            if spec is None:
                return found
            origin = spec.origin
            if origin and origin.endswith(".py"):
                found.append((name, Path(origin)))
            if not spec.submodule_search_locations:
                return found
            search = list(spec.submodule_search_locations)
        return found

    def linked(self) -> Linked:
        return link(self.modules)


def absolute_imports(source: bytes) -> set[str]:
    """The absolute modules a file's import lines name: `a.b` and `a.b.c` for
    `from a.b import c` (c may be a module), `a.b` for `import a.b as x`."""
    found: set[str] = set()
    for match in IMPORT_LINE.finditer(source):
        module, imported, plain = match.groups()
        if module is not None:
            base = module.decode(errors="replace")
            if base.startswith("."):
                continue
            found.add(base)
            for item in imported.split(b","):
                word = item.strip().split(b" ")[0].decode(errors="replace")
                if word.isidentifier():
                    found.add(f"{base}.{word}")
        else:
            for item in plain.split(b","):
                word = item.strip().split(b" ")[0].decode(errors="replace")
                if word and all(part.isidentifier() for part in word.split(".")):
                    found.add(word)
    return found


def _absolute_module(name: str, module: str, package: bool) -> str:
    if not name.startswith("."):
        return name
    level = len(name) - len(name.lstrip("."))
    parts = module.split(".") if package else module.split(".")[:-1]
    parts = parts[:len(parts) - (level - 1)] if level > 1 else parts
    rest = name[level:]
    return ".".join([*parts, rest] if rest else parts)


def _dotted_names(path: Path) -> set[str]:
    names = module_names(path)
    if path.name == "__init__.py":
        return {name.rsplit(".", 1)[0] for name in names if "." in name}
    return names


def _package(path: Path) -> Optional[str]:
    """The dotted package a file sits in, if it sits in one."""
    names = [n for n in _dotted_names(path) if "." in n]
    if path.name == "__init__.py":
        names = list(_dotted_names(path))
    if not names:
        return None
    longest = max(names, key=len)
    return longest if path.name == "__init__.py" else longest.rsplit(".", 1)[0]


def _spellings(name: str, package: Optional[str]) -> list[str]:
    """`pkg.cli.main` and, from a file of package `pkg`, `.cli.main` and `..cli.main`
    (how mpfix's name index spells `from .cli import main` and `from . import cli`)."""
    found = [name]
    parts = package.split(".") if package else []
    level = 1
    while parts:
        base = ".".join(parts)
        if name.startswith(base + "."):
            rest = name[len(base) + 1:]
            found.extend(["." * level + rest, "." * (level + 1) + rest])
        parts = parts[:-1]
        level += 1
    return found


def _relevant(linked: Linked, path: Path, source: bytes) -> tuple[dict[str, str],
                                                                  dict[str, tuple[str, int]]]:
    """The starters and handoffs of the modules a file imports, as it may spell them."""
    imported = imported_names(source)
    own = _dotted_names(path)
    package = _package(path)
    starters: dict[str, str] = {}
    handoffs: dict[str, tuple[str, int]] = {}
    for name in set(linked.starters) | set(linked.handoffs):
        module = name.rsplit(".", 1)[0]
        if module in own:
            continue  # the file's own functions: its own analysis follows them
        relative = package is not None and _RELATIVE_IMPORT.search(source) is not None \
            and name.startswith(package.split(".")[0] + ".")
        if not relative and not _imports(imported, name):
            continue
        for spelling in _spellings(name, package if relative else None):
            if name in linked.starters:
                starters[spelling] = linked.starters[name]
            if name in linked.handoffs:
                handoffs[spelling] = linked.handoffs[name]
    return starters, handoffs


def _imports(imported: set[str], name: str) -> bool:
    parts = name.split(".")
    return any(".".join(parts[:cut]) in imported for cut in range(1, len(parts) + 1))


def _with_summaries(settings: FileSettings, starters: dict[str, str],
                    handoffs: dict[str, tuple[str, int]]) -> FileSettings:
    if not starters and not handoffs:
        return settings
    merged = dict(starters)
    merged.update(dict(settings.extra_starters))  # the project's own word wins
    return replace(settings, extra_starters=tuple(sorted(merged.items())),
                   handoffs=tuple(sorted((n, p, i) for n, (p, i) in handoffs.items())))


def with_summaries(candidates: list[Entry], skipped: Iterable[Entry], cache: Optional[Cache],
                   environment: Optional[Sequence[str]] = None) -> tuple[list[Entry], set[int]]:
    """The candidates (and the skipped files that now need a parse) with the summaries'
    starters and handoffs in their settings; also the indexes of the files promoted."""
    waiting = list(skipped)
    if not candidates and not waiting:
        return candidates, set()
    summaries = Summaries(cache, environment_paths() if environment is None else environment)
    for _, path, source, settings in candidates:
        summaries.add(path, source, settings)
    own = {name for _, path, _, _ in (*candidates, *waiting) for name in _dotted_names(path)}
    # The skipped files' imports are read from their import lines: no file is parsed for it.
    imported = {name for _, _, source, _ in waiting for name in absolute_imports(source)}
    settings = (candidates or waiting)[0][3]
    summaries.add_environment(settings, sorted(imported - own))
    chosen = list(candidates)
    promoted: set[int] = set()
    while True:
        linked = summaries.linked()
        if not linked.starters or not waiting:
            break
        newly = []
        for entry in waiting:
            index, path, source, settings = entry
            starters, handoffs = _relevant(linked, path, source)
            if starters and needs_parse(source, _with_summaries(settings, starters, handoffs)):
                newly.append(entry)
        if not newly:
            break
        for entry in newly:
            waiting.remove(entry)
            chosen.append(entry)
            promoted.add(entry[0])
            summaries.add(entry[1], entry[2], entry[3])
        summaries.add_environment(settings)
    result = []
    for index, path, source, settings in chosen:
        starters, handoffs = _relevant(linked, path, source)
        result.append((index, path, source, _with_summaries(settings, starters, handoffs)))
    result.sort(key=lambda entry: entry[0])
    return result, promoted
