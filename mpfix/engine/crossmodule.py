"""Cross-module summaries for a run: which functions of other modules start processes.

Before the rules run, every file that passes the prefilter is summarised
(mpfix.analysis.summaries, Python's `ast`; each summary cached by the file's content),
and so are the modules the run imports from the environment mpfix runs in, found with
importlib's path finder on explicit paths (never imported, never executed; the
standard library is left to the starters table). The summaries are linked through
the imports, and the functions that start processes, set the start method or hand a
callable to another process become starter names and handoffs in the settings of the
files that import them. A file the prefilter skipped because it imports no
multiprocessing module is looked at again with those names, and summarised in turn,
until nothing more is found: a console script that calls `pkg.cli.main()` is
analysed when `main()` opens a Pool in another file.

The files' import lines are read with a regular expression (no parse), and kept in the
cache by the file's size and checksum, so a second run reads one index instead.
"""

from __future__ import annotations

import functools
import importlib.machinery
import json
import re
import sys
import zlib
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Optional, Sequence

from mpfix.analysis.starters import FAMILIES, StarterTable
from mpfix.analysis.summaries import ModuleSummary, extract
from mpfix.analysis.summarylinks import Linked, absolute_name, link
from mpfix.analysis.third_party import LIBRARY_STARTERS
from mpfix.engine.cache import Cache
from mpfix.engine.libraries import import_lines
from mpfix.engine.pipeline import needs_parse
from mpfix.settings import FileSettings

# (index in the report, path, bytes, settings), as the runner keeps its files.
Entry = tuple[int, Path, bytes, FileSettings]

MAX_ENVIRONMENT_MODULES = 400  # per run: a huge framework is summarised only in part
IMPORT_INDEX = "import-index"  # the cache's document of every file's imports
_COVERED_BY_TABLE = frozenset({f.split(".")[0] for f in FAMILIES} | {"concurrent"}
                              | {name.split(".")[0] for name in LIBRARY_STARTERS})


def environment_paths() -> list[str]:
    """Where the run's imports are looked for: the project's root (and its `src/`), so a
    pre-commit call that checks one changed script still finds the project's packages,
    then the `sys.path` of mpfix's own interpreter without the standard library and
    without the working directory."""
    import sysconfig

    from mpfix.engine.cache import project_root

    root = project_root(Path.cwd())
    standard = [Path(sysconfig.get_paths()[key]) for key in ("stdlib", "platstdlib")]
    found = [str(folder) for folder in (root, root / "src") if folder.is_dir()]
    for entry in sys.path:
        if not entry or not Path(entry).is_dir():
            continue
        if any(Path(entry) == s or (Path(entry).is_relative_to(s)
                                    and "site-packages" not in entry) for s in standard):
            continue
        if entry not in found:
            found.append(entry)
    return found


# -- what files import --------------------------------------------------------------------


def _words(items: bytes) -> Iterable[str]:
    for item in items.split(b","):
        word = item.strip().split(b" ")[0].decode(errors="replace")
        if word and all(part.isidentifier() for part in word.split(".")):
            yield word


def imports_of(source: bytes, module: str = "", package: bool = False) -> list[str]:
    """The modules (and names) a file's import lines name, absolute: `a.b` and `a.b.c` for
    `from a.b import c`; relative ones resolved against `module` when it is given."""
    found: set[str] = set()
    for match in import_lines(source):
        base_bytes, imported, plain = match.groups()
        if base_bytes is None:
            found.update(_words(plain))
            continue
        base = base_bytes.decode(errors="replace")
        if base.startswith("."):
            if not module:
                continue
            base = absolute_name(base, module, package)
        found.add(base)
        found.update(f"{base}.{word}" for word in _words(imported))
    return sorted(found)


class ImportIndex:
    """Every run file's imports, kept in the cache by path, size and checksum."""

    def __init__(self, cache: Optional[Cache]) -> None:
        self.cache = cache
        stored = cache.get_data(cache.key(b"", "", IMPORT_INDEX)) if cache else None
        self._stored: dict[str, list] = stored or {}
        self._fresh: dict[str, list] = {}

    def imports(self, path: Path, source: bytes) -> list[str]:
        stamp = [len(source), zlib.adler32(source)]
        entry = self._stored.get(str(path))
        if entry is not None and entry[:2] == stamp:
            self._fresh[str(path)] = entry
            return entry[2]
        package = _package(path)
        imported = imports_of(source, f"{package}.__init__" if package else "")
        self._fresh[str(path)] = [*stamp, imported]
        return imported

    def save(self) -> None:
        if self.cache is not None and self._fresh != self._stored:
            self.cache.put_data(self.cache.key(b"", "", IMPORT_INDEX), self._fresh)


# -- summaries ----------------------------------------------------------------------------


class Summaries:
    def __init__(self, cache: Optional[Cache], environment: Sequence[str]) -> None:
        self.cache = cache
        self.environment = list(environment)
        self.modules: dict[str, tuple[ModuleSummary, bool]] = {}
        self.files: set[Path] = set()
        # Environment modules that name no process API: summarised once an import of
        # theirs turns out to start processes (`wake`).
        self.dormant: dict[str, tuple[bytes, FileSettings]] = {}
        self._located: dict[str, tuple[Optional[Path], Optional[list[str]]]] = {}
        self._environment_files = 0
        self.own: set[str] = set()  # the run's modules: never looked for in the environment

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
        summarised modules."""
        pending = [name for summary, _ in list(self.modules.values())
                   for name in summary.imports if not name.startswith(".")]
        pending.extend(names)
        while pending and self._environment_files < MAX_ENVIRONMENT_MODULES:
            name = pending.pop()
            for module, path in self._find(name):
                if module in self.modules or module in self.dormant or path in self.files:
                    continue
                try:
                    source = path.read_bytes()
                except OSError:
                    continue
                self.files.add(path)
                self._environment_files += 1
                package = path.name == "__init__.py"
                if not package and not needs_parse(source, settings):
                    self.dormant[module] = (source, settings)
                    # Its helpers of the same distribution may start processes: found now,
                    # so that waking it has something to wake it.
                    top = module.split(".")[0]
                    pending.extend(name for name in imports_of(source, module)
                                   if name.split(".")[0] == top)
                    continue
                self._add_module(module, source, package, settings, pending)

    def _add_module(self, module: str, source: bytes, package: bool, settings: FileSettings,
                    pending: list[str]) -> None:
        summary = self._summary(source, settings)
        if summary is None:
            return
        self.modules[module] = (summary, package)
        top = module.split(".")[0]
        # Re-exports and helpers of the same distribution are followed too.
        for imported in summary.imports:
            absolute = absolute_name(imported, module, package)
            if absolute.split(".")[0] == top:
                pending.append(absolute)

    def wake(self, linked: Linked) -> bool:
        """Summarise the dormant modules that import and name a function the summaries
        say starts processes or hands a callable over; whether any was."""
        names = _Names(linked)
        woken = [module for module, (source, _) in self.dormant.items()
                 if names.mentioned(imports_of(source, module), source)]
        pending: list[str] = []
        for module in woken:
            source, settings = self.dormant.pop(module)
            self._add_module(module, source, False, settings, pending)
            self.add_environment(settings, pending)
        return bool(woken)

    def _find(self, dotted: str) -> list[tuple[str, Path]]:
        """The source files of `dotted` and of its packages, found without importing."""
        parts = dotted.split(".")
        if parts[0] in _COVERED_BY_TABLE or parts[0] in sys.stdlib_module_names:
            return []
        found: list[tuple[str, Path]] = []
        for cut in range(1, len(parts) + 1):
            name = ".".join(parts[:cut])
            if name in self.own:
                return found  # a module or package of the run: the run's, not the environment's
            if name in self._located and name not in self.modules and name not in self.dormant:
                return found
            origin, locations = self._locate(name)
            if origin is not None:
                found.append((name, origin))
            if not locations:
                return found
        return found

    def _locate(self, name: str) -> tuple[Optional[Path], Optional[list[str]]]:
        """`name`'s source file (None if it has none of Python source) and, for a package,
        where its modules are; importlib's path finder is asked once per name and run, as a
        crawl through a distribution's modules asks for their packages again and again."""
        if name in self._located:
            return self._located[name]
        parent = name.rpartition(".")[0]
        search = self._located[parent][1] if parent else self.environment
        located: tuple[Optional[Path], Optional[list[str]]] = (None, None)
        try:
            spec = importlib.machinery.PathFinder.find_spec(name, search)
        except Exception:  # noqa: BLE001 - e.g. a namespace package's portion, whose
            # path object wants its parent in sys.modules: not followed, never a traceback
            spec = None
        if spec is not None:
            origin = spec.origin if spec.origin and spec.origin.endswith(".py") else None
            locations = spec.submodule_search_locations
            located = (Path(origin) if origin else None, list(locations) if locations else None)
        self._located[name] = located
        return located

    def linked(self) -> Linked:
        return link(self.modules)


class _Names:
    """The summaries' named functions, looked up by the modules a file imports."""

    def __init__(self, linked: Linked) -> None:
        self.linked = linked
        self.by_top: dict[str, list[str]] = defaultdict(list)
        for name in {*linked.starters, *linked.handoffs}:
            self.by_top[name.split(".")[0]].append(name)
        # Functions that only iterate a parameter (or put on or get from it) wake no module:
        # a file that gives them a DataLoader (a queue) passes the prefilter by itself.
        self.iterating: dict[str, list[str]] = defaultdict(list)
        for name in {*linked.iterates, *linked.puts, *linked.gets}:
            if name not in linked.starters:
                self.iterating[name.split(".")[0]].append(name)

    def imported(self, imported: Iterable[str], iterating: bool = False) -> list[str]:
        imported = set(imported)
        tops = {name.split(".")[0] for name in imported}
        return [name for top in tops
                for name in [*self.by_top.get(top, ()),
                             *(self.iterating.get(top, ()) if iterating else ())]
                if _imports(imported, name)]

    def mentioned(self, imported: Iterable[str], source: bytes) -> bool:
        return any(name.rsplit(".", 1)[-1].encode() in source for name in self.imported(imported))


def _imports(imported: set[str], name: str) -> bool:
    """Whether a file that imports `imported` can name the function `name`: it imports its
    module or the function itself (importing a package does not import its modules)."""
    return name in imported or name.rsplit(".", 1)[0] in imported


# -- module names ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _dotted_names(path: Path) -> frozenset[str]:
    """How other files import a file: `pkg.sub.mod` for a module of a package (its full
    name only: `sub.mod` would name it only with `pkg/` itself on sys.path), `mod` for a
    module beside them, `pkg` for a package's `__init__.py`; `__main__.py`, no one."""
    if path.name == "__main__.py":
        return frozenset()
    package = _directory_package(path.parent.absolute())
    if path.name == "__init__.py":
        return frozenset({package} if package else ())
    return frozenset({f"{package}.{path.stem}" if package else path.stem})


@functools.lru_cache(maxsize=None)
def _directory_package(directory: Path) -> Optional[str]:
    """The dotted package a folder is (one `__init__.py` per level, as mpfix.engine.libraries
    reads packages), or None."""
    if not (directory / "__init__.py").is_file():
        return None
    parent = _directory_package(directory.parent) if directory.parent != directory else None
    return f"{parent}.{directory.name}" if parent else directory.name


def _package(path: Path) -> Optional[str]:
    """The dotted package a file sits in, if it sits in one."""
    names = list(_dotted_names(path))
    if path.name != "__init__.py":
        names = [n.rsplit(".", 1)[0] for n in names if "." in n]
    return max(names, key=len) if names else None


def _spellings(name: str, package: Optional[str]) -> list[str]:
    """`pkg.cli.main` and, from a file of package `pkg`, `.cli.main` and `..cli.main`
    (how mpfix's name index spells `from .cli import main` and `from . import cli`), and
    `cli.main` (the module beside it)."""
    found = [name]
    parts = package.split(".") if package else []
    level = 1
    while parts:
        base = ".".join(parts)
        if name.startswith(base + "."):
            rest = name[len(base) + 1:]
            found.extend(["." * level + rest, "." * (level + 1) + rest])
            if level == 1:
                found.append(rest)  # `import jobs` beside it; also what the prefilter reads
        parts = parts[:-1]
        level += 1
    return found


# -- the run --------------------------------------------------------------------------------


def _relevant(names: _Names, path: Path, imported: Iterable[str], source: bytes = b""
              ) -> tuple[dict[str, str], dict[str, tuple[str, int]], set[tuple[str, str, str]]]:
    """The starters, handoffs and other facts (process families, iterated parameters) of
    the modules a file imports, as it may spell them; for a file that sets attributes of
    modules (`source`), the globals their functions it names read."""
    package = _package(path)
    own = _dotted_names(path)
    starters: dict[str, str] = {}
    handoffs: dict[str, tuple[str, int]] = {}
    facts: set[tuple[str, str, str]] = set()
    linked = names.linked
    for name in names.imported(imported, iterating=True):
        if name.rsplit(".", 1)[0] in own:
            continue  # the file's own functions: its own analysis follows them
        for spelling in _spellings(name, package):
            if name in linked.starters:
                starters[spelling] = linked.starters[name]
            if name in linked.handoffs:
                handoffs[spelling] = linked.handoffs[name]
            facts.update((spelling, "family", f) for f in linked.families.get(name, ()))
            facts.update((spelling, "iterates", f"{p}:{i}")
                         for p, i in linked.iterates.get(name, ()))
            facts.update((spelling, "puts", f"{p}:{i}") for p, i in linked.puts.get(name, ()))
            facts.update((spelling, "gets", f"{p}:{i}") for p, i in linked.gets.get(name, ()))
    if _SETS_MODULE_ATTRIBUTE.search(source):
        facts.update(_globals_read(linked, package, own, set(imported), source))
    return starters, handoffs, facts


# `worker.CONFIG = value` at the start of a line: a parent may be changing a module's
# global after import (MP002 asks which globals the module's functions read). `self.x =`
# and `cls.x =` set an instance's or a class's attribute, never a module's: nearly every
# file with a class has them.
_SETS_MODULE_ATTRIBUTE = re.compile(
    rb"^[ \t]*(?!(?:self|cls)\.)[A-Za-z_]\w*\.[A-Za-z_]\w*[ \t]*=[^=]", re.MULTILINE)


def _globals_read(linked: Linked, package: Optional[str], own: frozenset[str],
                  imported: set[str], source: bytes) -> Iterable[tuple[str, str, str]]:
    """("module.function", "reads", "A,B") for the functions of the modules a file imports
    that it names."""
    for name, reads in linked.reads.items():
        module, _, function = name.rpartition(".")
        if module in own or module not in imported or function.encode() not in source:
            continue
        for spelling in _spellings(name, package):
            yield spelling, "reads", ",".join(reads)


def _with_summaries(settings: FileSettings, starters: dict[str, str],
                    handoffs: dict[str, tuple[str, int]],
                    facts: Iterable[tuple[str, str, str]] = ()) -> FileSettings:
    facts = tuple(sorted(facts))
    if not starters and not handoffs and not facts:
        return settings
    merged = dict(starters)
    merged.update(dict(settings.extra_starters))  # the project's own word wins
    return replace(settings, extra_starters=tuple(sorted(merged.items())),
                   handoffs=tuple(sorted((n, p, i) for n, (p, i) in handoffs.items())),
                   summary_facts=facts)


def with_summaries(candidates: list[Entry], skipped: Iterable[Entry], cache: Optional[Cache],
                   environment: Optional[Sequence[str]] = None) -> tuple[list[Entry], set[int]]:
    """The candidates (and the skipped files that now need a parse) with the summaries'
    starters and handoffs in their settings; also the indexes of the files promoted.

    The outcome is kept in the cache under a digest of every file's path, size and
    checksum, its settings, and the environment's folders and their modification
    times (installing or upgrading a package changes them): a second run on the same
    tree reads it back."""
    waiting = list(skipped)
    if not candidates and not waiting:
        return candidates, set()
    paths = environment_paths() if environment is None else list(environment)
    key = _run_key(cache, candidates, waiting, paths)
    stored = cache.get_data(key) if cache is not None and key else None
    if stored is None:
        stored = _link_run(candidates, list(waiting), cache, paths)
        if cache is not None and key:
            cache.put_data(key, stored)
    chosen = candidates + [entry for entry in waiting if str(entry[1]) in stored["promoted"]]
    result = []
    for index, path, source, settings in chosen:
        found = stored["files"].get(str(path))
        if found:
            starters = dict(found[0])
            handoffs = {name: (parameter, position) for name, parameter, position in found[1]}
            facts = [tuple(fact) for fact in found[2]]
            settings = _with_summaries(settings, starters, handoffs, facts)  # type: ignore[arg-type]
        result.append((index, path, source, settings))
    result.sort(key=lambda entry: entry[0])
    promoted = {entry[0] for entry in chosen[len(candidates):]}
    return result, promoted


def _run_key(cache: Optional[Cache], candidates: list[Entry], waiting: list[Entry],
             environment: list[str]) -> Optional[str]:
    if cache is None:
        return None
    parts = []
    for _, path, source, settings in (*candidates, *waiting):
        parts.append(f"{path}\0{len(source)}\0{zlib.adler32(source)}\0{settings.extra_starters}")
    for folder in environment:
        try:
            parts.append(f"{folder}\0{Path(folder).stat().st_mtime_ns}")
        except OSError:
            parts.append(folder)
    return cache.key("\n".join(parts).encode(), "", "cross-module")


def _add_loader_helpers(summaries: Summaries, candidates: list[Entry], waiting: list[Entry],
                        imported: dict[Path, list[str]]) -> None:
    """Summarise the run's modules that a file naming DataLoader imports, though they name
    no process API: a helper such as `train_epoch(model, loader)` starts the workers of
    the loader it is given when it iterates it (MP001), which only its summary says. So
    are those a file naming a Queue imports: `drain(q)` gets from the queue it is given
    (MP003)."""
    by_name = {name: entry for entry in waiting for name in _dotted_names(entry[1])}
    for _, path, source, _ in candidates:
        if b"DataLoader" not in source and b"Queue" not in source \
                and not _SETS_MODULE_ATTRIBUTE.search(source):
            continue
        for name in imported[path]:
            entry = by_name.get(name) or by_name.get(name.rsplit(".", 1)[0])
            if entry is not None:
                summaries.add(entry[1], entry[2], entry[3])


def _link_run(candidates: list[Entry], waiting: list[Entry], cache: Optional[Cache],
              environment: list[str]) -> dict:
    """Summarise, link and promote to a fixpoint: which skipped files now need a parse,
    and the starters and handoffs each file chosen gets (plain data, for the cache)."""
    summaries = Summaries(cache, environment)
    for _, path, source, settings in candidates:
        summaries.add(path, source, settings)
    index = ImportIndex(cache)
    imported = {entry[1]: index.imports(entry[1], entry[2]) for entry in (*candidates, *waiting)}
    index.save()
    own = {name for _, path, _, _ in (*candidates, *waiting) for name in _dotted_names(path)}
    summaries.own = own
    _add_loader_helpers(summaries, candidates, waiting, imported)
    settings = (candidates or waiting)[0][3]
    summaries.add_environment(settings, sorted({n for entry in waiting
                                                for n in imported[entry[1]]} - own))
    chosen = list(candidates)
    while True:
        names = _Names(summaries.linked())
        if not names.by_top or not (waiting or summaries.dormant):
            break
        newly = [entry for entry in waiting if names.mentioned(imported[entry[1]], entry[2])]
        newly = [entry for entry in newly if needs_parse(entry[2], _with_summaries(
            entry[3], *_relevant(names, entry[1], imported[entry[1]])))]
        woken = summaries.wake(names.linked)
        if not newly and not woken:
            break
        for entry in newly:
            waiting.remove(entry)
            chosen.append(entry)
            summaries.add(entry[1], entry[2], entry[3])
        summaries.add_environment(settings)
    names = _Names(summaries.linked())
    files = {}
    for _, path, source, _ in chosen:
        starters, handoffs, facts = _relevant(names, path, imported[path], source)
        if starters or handoffs or facts:
            files[str(path)] = [sorted(starters.items()),
                                sorted([n, p, i] for n, (p, i) in handoffs.items()),
                                sorted(list(fact) for fact in facts)]
    promoted = [str(entry[1]) for entry in chosen[len(candidates):]]
    return {"promoted": promoted, "files": files}
