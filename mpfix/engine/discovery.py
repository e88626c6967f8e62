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
from typing import Iterable, Iterator

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


def _excluded(path: Path, patterns: Iterable[str]) -> bool:
    text = path.as_posix()
    for pattern in patterns:
        if fnmatch.fnmatch(text, pattern) or fnmatch.fnmatch(path.name, pattern) \
                or fnmatch.fnmatch(text, f"*/{pattern}") or fnmatch.fnmatch(text, f"{pattern}/*") \
                or fnmatch.fnmatch(text, f"*/{pattern}/*"):
            return True
    return False


def _valid_patterns(lines: list[str]) -> list[str]:
    """The lines git would use: git skips a pattern it cannot read (a lone `!`, say)
    instead of failing, and so does discovery."""
    valid = []
    for line in lines:
        try:
            pathspec.GitIgnoreSpec.from_lines([line])
        except ValueError:
            continue
        valid.append(line)
    return valid


class _IgnoreStack:
    """The .gitignore files that apply below a directory, each anchored where it lives."""

    def __init__(self) -> None:
        self._specs: list[tuple[Path, pathspec.PathSpec]] = []

    def push_dir(self, directory: Path) -> int:
        ignore = directory / ".gitignore"
        if ignore.is_file():
            try:
                lines = ignore.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                return len(self._specs)
            self._specs.append((directory, pathspec.GitIgnoreSpec.from_lines(_valid_patterns(lines))))
        return len(self._specs)

    def ignored(self, path: Path, is_dir: bool) -> bool:
        for base, spec in self._specs:
            try:
                relative = path.relative_to(base).as_posix()
            except ValueError:
                continue
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
        stack.push_dir(directory)
    return stack


def walk(root: Path, exclude: Iterable[str], respect_gitignore: bool) -> Iterator[Path]:
    patterns = list(exclude)
    root = root.absolute()
    ignores = _parents_ignores(root) if respect_gitignore else _IgnoreStack()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        if respect_gitignore and here != root:
            ignores.push_dir(here)
        kept = []
        for name in sorted(dirnames):
            child = here / name
            if name in SKIPPED_DIRS or name.endswith(".egg-info") or _is_virtualenv(str(child)):
                continue
            if os.path.islink(child):
                continue
            if _excluded(child.relative_to(root), patterns) or ignores.ignored(child, True):
                continue
            kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            if not name.endswith(PYTHON_SUFFIXES):
                continue
            path = here / name
            if _excluded(path.relative_to(root), patterns) or ignores.ignored(path, False):
                continue
            if path.is_symlink() and not _link_inside(path, root):
                continue
            if path.exists() and not path.is_file():
                continue  # a FIFO, socket or device: reading it could block forever
            yield path


def _link_inside(link: Path, root: Path) -> bool:
    target = Path(os.path.realpath(link))
    real_root = Path(os.path.realpath(root))
    return target == real_root or real_root in target.parents


def discover(paths: Iterable[str], exclude: Iterable[str] = (),
             respect_gitignore: bool = True) -> Discovered:
    found = Discovered()
    seen: set[str] = set()
    for raw in paths:
        path = Path(raw)
        if not os.path.lexists(path):
            raise DiscoveryError(f"{raw}: no such file or directory")
        candidates: Iterable[Path]
        if path.is_dir():
            found.roots.append(path.absolute())
            candidates = walk(path, exclude, respect_gitignore)
        else:
            candidates = [path]
        for candidate in candidates:
            key = os.path.realpath(candidate)
            if key in seen:
                continue
            seen.add(key)
            found.files.append(_relative_to_cwd(candidate) if path.is_dir() else candidate)
    return found


def _relative_to_cwd(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path
