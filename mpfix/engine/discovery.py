"""Which files a run looks at.

Directories are walked with `.gitignore` files respected (pathspec's
gitignore semantics, the same as git's), version-control, virtualenv, cache and
build folders skipped, and symlinked directories never followed (so a link loop
cannot hang the walk). Files named explicitly are always taken.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

if TYPE_CHECKING:
    import pathspec

SKIPPED_DIRS = frozenset({
    ".git", ".hg", ".svn", ".bzr", ".venv", "venv", ".tox", ".nox", "__pycache__",
    "build", "dist", "node_modules", ".eggs", ".mypy_cache", ".pytest_cache",
    ".ruff_cache", ".mpfix_cache", ".hypothesis", "__pypackages__",
    ".ipynb_checkpoints",  # Jupyter's autosaved copies of the notebooks beside it
})
PYTHON_SUFFIXES = (".py", ".pyi", ".pyw", ".ipynb")  # notebooks: mpfix.engine.notebook


class DiscoveryError(Exception):
    pass


@dataclass
class Discovered:
    files: list[Path] = field(default_factory=list)
    roots: list[Path] = field(default_factory=list)


def _is_virtualenv(directory: str) -> bool:
    return os.path.exists(os.path.join(directory, "pyvenv.cfg"))


def _excluded(relative: str, name: str, patterns: list[str]) -> bool:
    """`relative`: the path below the walked root, with `/` separators."""
    for pattern in patterns:
        if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(name, pattern) \
                or fnmatch.fnmatch(relative, f"*/{pattern}") or fnmatch.fnmatch(relative, f"{pattern}/*") \
                or fnmatch.fnmatch(relative, f"*/{pattern}/*"):
            return True
    return False


def _valid_patterns(lines: list[str]) -> list[str]:
    """The lines git would use: git skips a pattern it cannot read (a lone `!`, say)
    instead of failing, and so does discovery."""
    import pathspec  # imported once a .gitignore is found: a tree without one never needs it

    valid = []
    for line in lines:
        try:
            pathspec.GitIgnoreSpec.from_lines([line])
        except ValueError:
            continue
        valid.append(line)
    return valid


def _prefix(directory: str) -> str:
    return directory if directory.endswith(os.sep) else directory + os.sep


class _IgnoreStack:
    """The .gitignore files that apply below a directory, each anchored where it lives
    (absolute folder paths as strings: the walk's hot loop builds no Path)."""

    def __init__(self) -> None:
        self._specs: list[tuple[str, "pathspec.PathSpec"]] = []

    def push_dir(self, directory: str) -> int:
        ignore = os.path.join(directory, ".gitignore")
        if os.path.isfile(ignore):
            try:
                with open(ignore, encoding="utf-8", errors="replace") as handle:
                    lines = handle.read().splitlines()
            except OSError:
                return len(self._specs)
            import pathspec

            self._specs.append((_prefix(directory),
                                pathspec.GitIgnoreSpec.from_lines(_valid_patterns(lines))))
        return len(self._specs)

    def pop_to(self, depth: int) -> None:
        del self._specs[depth:]

    def ignored(self, path: str, is_dir: bool) -> bool:
        for prefix, spec in self._specs:
            if not path.startswith(prefix):
                continue
            relative = path[len(prefix):].replace(os.sep, "/")
            if spec.match_file(relative + ("/" if is_dir else "")):
                return True
        return False


def _parents_ignores(root: Path) -> _IgnoreStack:
    """Load .gitignore files from the root's ancestors up to the repository top."""
    stack = _IgnoreStack()
    chain: list[Path] = []
    for parent in [root, *root.parents]:
        chain.append(parent)
        if (parent / ".git").exists():
            break
    else:
        chain = [root]
    for directory in reversed(chain):
        stack.push_dir(str(directory))
    return stack


def walk(root: Path, exclude: Iterable[str], respect_gitignore: bool) -> Iterator[Path]:
    for path, _ in _walk(str(root.absolute()), list(exclude), respect_gitignore):
        yield Path(path)


def _walk(root: str, patterns: list[str], respect_gitignore: bool) -> Iterator[tuple[str, bool]]:
    """Absolute paths of the files to take below `root`, in os.walk's top-down order
    (a folder's files, then its sorted subfolders), each with whether it is a link.
    One scandir per folder: its entries answer is-dir, is-link and is-file without a
    stat each."""
    ignores = _parents_ignores(Path(root)) if respect_gitignore else _IgnoreStack()
    start = len(_prefix(root))
    pending = [root]
    while pending:
        here = pending.pop()
        try:
            with os.scandir(here) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError:
            continue  # unreadable: skipped, as os.walk does
        # A .gitignore applies below its folder only: each rule is anchored by its prefix.
        if respect_gitignore and here != root and any(e.name == ".gitignore" for e in entries):
            ignores.push_dir(here)
        folders = []
        for entry in entries:
            if _is_dir(entry):
                if _wanted_folder(entry, start, patterns, ignores):
                    folders.append(entry.path)
            elif entry.name.endswith(PYTHON_SUFFIXES) \
                    and _wanted_file(entry, root, start, patterns, ignores):
                yield entry.path, entry.is_symlink()
        pending.extend(reversed(folders))


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()  # a link to a folder too, as os.walk lists it
    except OSError:
        return False


def _wanted_folder(entry: os.DirEntry, start: int, patterns: list[str],
                   ignores: _IgnoreStack) -> bool:
    name = entry.name
    if name in SKIPPED_DIRS or name.endswith(".egg-info") or _is_virtualenv(entry.path):
        return False
    if entry.is_symlink():
        return False  # never followed: a link loop cannot hang the walk
    relative = entry.path[start:].replace(os.sep, "/")
    return not (patterns and _excluded(relative, name, patterns)) \
        and not ignores.ignored(entry.path, True)


def _wanted_file(entry: os.DirEntry, root: str, start: int, patterns: list[str],
                 ignores: _IgnoreStack) -> bool:
    relative = entry.path[start:].replace(os.sep, "/")
    if patterns and _excluded(relative, entry.name, patterns):
        return False
    if ignores.ignored(entry.path, False):
        return False
    if entry.is_symlink():
        if not _link_inside(Path(entry.path), Path(root)):
            return False
        # A FIFO, socket or device: reading it could block forever.
        return not (os.path.exists(entry.path) and not os.path.isfile(entry.path))
    try:
        return entry.is_file()  # not a FIFO, socket or device
    except OSError:
        return False


def _link_inside(link: Path, root: Path) -> bool:
    target = Path(os.path.realpath(link))
    real_root = Path(os.path.realpath(root))
    return target == real_root or real_root in target.parents


def discover(paths: Iterable[str], exclude: Iterable[str] = (),
             respect_gitignore: bool = True) -> Discovered:
    found = Discovered()
    seen: set[str] = set()
    patterns = list(exclude)
    cwd = _prefix(os.getcwd())
    for raw in paths:
        path = Path(raw)
        if not os.path.lexists(path):
            raise DiscoveryError(f"{raw}: no such file or directory")
        if not path.is_dir():
            key = os.path.realpath(path)
            if key not in seen:
                seen.add(key)
                found.files.append(path)
            continue
        root = path.absolute()
        found.roots.append(root)
        text = str(root)
        # Below the root no folder link is followed: a file's real path is the root's
        # real path and the rest, unless the file itself is a link.
        real_root, start = os.path.realpath(text), len(text)
        for candidate, is_link in _walk(text, patterns, respect_gitignore):
            key = os.path.realpath(candidate) if is_link else real_root + candidate[start:]
            if key in seen:
                continue
            seen.add(key)
            relative = candidate[len(cwd):] if candidate.startswith(cwd) else candidate
            found.files.append(Path(relative))
    return found
