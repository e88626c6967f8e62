"""The warm front of a run: a run whose files did not change reads none of them.

A run's outcome — which files the prefilter skips, the settings the cross-module
summaries and the library status give the others, and so the cache key of each
result — depends on every file of the run, not on each file alone. It is kept in
the cache under a key made of every file's path and content digest, its settings,
the packages its folders form (an `__init__.py` added above a file renames its
module) and the environment the summaries looked in (mpfix.engine.crossmodule's
own key). The digests come from the stat index (mpfix.engine.cache.StatIndex):
a file whose stamp is unchanged is neither read nor hashed. When the outcome is
stored and every result it names is in the cache, the run is answered from them;
otherwise the runner computes it, reusing the bytes read here.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from mpfix.engine.cache import Cache, StatIndex, content_digest, file_stamp, project_root
from mpfix.settings import FileSettings

SKIPPED_FILE = None  # the outcome's mark for a file the prefilter (or no rule) skips
BINARY_FILE = "binary"  # not Python: its (uncached) error is computed from its bytes


class WarmFront:
    def __init__(self, cache: Cache, mode: str, environment: Optional[Sequence[str]]) -> None:
        self.cache = cache
        self.mode = mode
        self.environment = environment
        self.index: StatIndex = cache.stat_index(time.time_ns())
        self.sources: dict[str, bytes] = {}  # bytes read here, by the run's name for the file
        self.digests: dict[str, str] = {}  # of the bytes the run uses, by name
        self._fingerprints: dict[FileSettings, str] = {}
        self._cwd = os.getcwd()
        self._absolutes: dict[str, str] = {}

    # -- files ------------------------------------------------------------------------

    def _absolute(self, name: str) -> str:
        found = self._absolutes.get(name)
        if found is None:
            found = self._absolutes[name] = os.path.normpath(os.path.join(self._cwd, name))
        return found

    def known_digest(self, name: str) -> Optional[str]:
        """The digest of a file's bytes, from the index when its stamp is unchanged, else
        read (and kept for the run); None when it cannot be read as a regular file."""
        stamp = file_stamp(name)
        if stamp is None:
            return None
        absolute = self._absolute(name)
        digest = self.index.digest(absolute, stamp)
        if digest is None:
            try:
                with open(name, "rb") as handle:
                    source = handle.read()
            except OSError:
                return None
            digest = content_digest(source)
            self.sources[name] = source
            self.index.record(absolute, stamp, digest)
        self.digests[name] = digest
        return digest

    def read(self, name: str) -> bytes:
        """A file's bytes for the run (raises OSError); its digest is of these bytes.
        Bytes read by `known_digest` are handed over once, not kept twice."""
        source = self.sources.pop(name, None)
        if source is not None:
            return source
        stamp = file_stamp(name)  # before the read: an edit after it changes the stamp
        with open(name, "rb") as handle:
            source = handle.read()
        digest = content_digest(source)
        self.digests[name] = digest
        if stamp is not None:
            self.index.record(self._absolute(name), stamp, digest)
        return source

    def fingerprint(self, settings: FileSettings) -> str:
        found = self._fingerprints.get(settings)
        if found is None:
            found = self._fingerprints[settings] = settings.fingerprint()
        return found

    # -- the run's outcome --------------------------------------------------------------

    def run_key(self, names: Sequence[str], settings: Sequence[FileSettings]) -> str:
        """Every input of the outcome but mpfix's own code, which Cache.key adds."""
        parts = [self.mode]
        for name, file_settings in zip(names, settings):
            parts.append(f"{name}\0{self.digests[name]}\0{self.fingerprint(file_settings)}")
        packages: dict[str, str] = {}
        folders = {self._absolute(folder or ".") for folder in {os.path.dirname(n) for n in names}}
        for directory in sorted(folders):
            parts.append(f"{directory}\0{_package(directory, packages)}")
        folders = environment_folders() if self.environment is None else list(self.environment)
        parts.extend(_stamps(folders))
        return self.cache.key("\n".join(parts).encode(), "", "run-outcome")

    def outcome(self, key: str) -> Optional[list]:
        stored = self.cache.get_data(key)
        marks = stored.get("files") if stored else None
        return marks if isinstance(marks, list) else None

    def save_outcome(self, key: str, marks: list) -> None:
        self.cache.put_data(key, {"files": marks})

    def finish(self) -> None:
        self.index.save(self.cache)


def _package(directory: str, memo: dict[str, str]) -> str:
    """The dotted package a folder is ('' when it has no `__init__.py`)."""
    found = memo.get(directory)
    if found is not None:
        return found
    found = ""
    if os.path.isfile(os.path.join(directory, "__init__.py")):
        parent = os.path.dirname(directory)
        above = _package(parent, memo) if parent != directory else ""
        base = os.path.basename(directory)
        found = f"{above}.{base}" if above else base
    memo[directory] = found
    return found


def environment_folders() -> list[str]:
    """Every folder mpfix.engine.crossmodule.environment_paths() may name: the project's
    root and its `src/`, and every `sys.path` entry (the standard library's too, which
    it leaves out; a few folders more cost nothing and spare importing it)."""
    root = str(project_root(Path.cwd()))
    return [root, os.path.join(root, "src"), *(entry for entry in sys.path if entry)]


def _stamps(folders: Sequence[str]) -> list[str]:
    """The folders with their modification times: installing or upgrading a package
    changes them (as mpfix.engine.crossmodule keys its outcome)."""
    stamps = []
    for folder in folders:
        try:
            stamps.append(f"{folder}\0{os.stat(folder).st_mtime_ns}")
        except OSError:
            stamps.append(folder)
    return stamps
