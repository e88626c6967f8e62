"""A content-keyed cache of per-file results.

The key covers the file's bytes, mpfix's version, the state of mpfix's own
source files and every setting that can change a result, so a hit is only ever
returned for exactly the same input and the same code (an edited rule in a
development checkout does not answer from before the edit). Entries are
written atomically; a corrupt entry is ignored and rewritten, so two runs may
share one cache.

A run also keeps one stat index (`stat-index.json`): each file's modification
and change times, size and inode, with the digest of its bytes, so a warm run
whose files did not change neither reads nor hashes them (mpfix.engine.warm).
A stamp is trusted only when it is older than the run that wrote it by more
than a filesystem's timestamp granularity: a file edited again in the same
tick as the read keeps its stamp, and is read again.

The cache lives at the project root, as ruff's does: the directory of the
nearest pyproject.toml above the working directory, else the git root, else
the working directory; `cache-dir` in `[tool.mpfix]` moves it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import stat as stat_mode
from pathlib import Path
from typing import Iterable, Optional

from mpfix.findings import FileResult, Finding

CACHE_DIR = ".mpfix_cache"
STAT_INDEX = "stat-index.json"
# A stamp this close to the run that read the file may hide an edit made in the same
# timestamp tick (2 s: FAT's granularity, the coarsest in use); such a file is read again.
RACY_NS = 2_000_000_000
MAX_INDEX_ENTRIES = 200_000  # beyond this, only the current run's files are kept
Stamp = tuple[int, int, int, int]  # mtime_ns, ctime_ns, size, inode
_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# mpfix cache; see https://bford.info/cachedir/\n"


def project_root(start: Path) -> Path:
    """The directory of the nearest pyproject.toml, else the git root, else `start`."""
    start = start.absolute()
    for marker in ("pyproject.toml", ".git"):
        for directory in (start, *start.parents):
            if (directory / marker).exists():
                return directory
    return start


def source_digest(roots: Iterable[Path]) -> str:
    """The name, size and modification time of every Python file under `roots`.

    Stat calls only: cheap enough for every run, and any saved edit changes it.
    """
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            try:
                stat = path.stat()
            except OSError:
                continue
            digest.update(f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@functools.lru_cache(maxsize=None)
def code_digest() -> str:
    """The digest of mpfix's engine and rule modules, computed once per process."""
    import mpfix
    import mpfix.codemods

    return source_digest(Path(module.__file__).parent for module in (mpfix, mpfix.codemods))


def content_digest(source: bytes) -> str:
    return hashlib.blake2b(source, digest_size=20).hexdigest()


def file_stamp(name: str) -> Optional[Stamp]:
    """The stamp of a regular file, or None (missing, unreadable, a directory, a FIFO)."""
    try:
        status = os.stat(name)
    except (OSError, ValueError):
        return None
    if not stat_mode.S_ISREG(status.st_mode):
        return None
    return (status.st_mtime_ns, status.st_ctime_ns, status.st_size, status.st_ino)


class StatIndex:
    """Absolute path -> (stamp, content digest), read and written once per run."""

    def __init__(self, path: Path, started_ns: int) -> None:
        self.path = path
        self._horizon = started_ns - RACY_NS
        self._changed = False
        self._seen: set[str] = set()
        try:
            loaded = json.loads(path.read_bytes())
            entries = loaded["files"] if isinstance(loaded, dict) else None
        except (OSError, ValueError, KeyError, TypeError):
            entries = None
        self._entries: dict[str, list] = entries if isinstance(entries, dict) else {}

    def digest(self, name: str, stamp: Stamp) -> Optional[str]:
        """The digest recorded for `name` if its stamp is still `stamp`."""
        entry = self._entries.get(name)
        if isinstance(entry, list) and len(entry) == 5 and tuple(entry[:4]) == stamp:
            self._seen.add(name)
            return entry[4]
        return None

    def record(self, name: str, stamp: Stamp, digest: str) -> None:
        """`stamp` was taken before the bytes whose digest this is were read."""
        self._seen.add(name)
        if max(stamp[0], stamp[1]) >= self._horizon:
            # Too recent to tell an edit in the same tick apart: not trusted next time.
            if self._entries.pop(name, None) is not None:
                self._changed = True
            return
        entry = [*stamp, digest]
        if self._entries.get(name) != entry:
            self._entries[name] = entry
            self._changed = True

    def save(self, cache: "Cache") -> None:
        if not self._changed:
            return
        entries = self._entries
        if len(entries) > MAX_INDEX_ENTRIES:
            entries = {name: entries[name] for name in self._seen if name in entries}
        cache.write_atomically(self.path, json.dumps({"files": entries}, separators=(",", ":")))
        self._changed = False


class Cache:
    def __init__(self, directory: Path, version: str, code: Optional[str] = None) -> None:
        self.directory = directory
        self.version = version
        self.code = code_digest() if code is None else code
        self._prepared = False

    def key(self, source: bytes, fingerprint: str, mode: str) -> str:
        digest = hashlib.sha256()
        for part in (self.version.encode(), self.code.encode(), fingerprint.encode(),
                     mode.encode()):
            digest.update(part + b"\0")
        digest.update(source)
        return digest.hexdigest()

    def result_key(self, digest: str, fingerprint: str, mode: str) -> str:
        """The key of a file's result, from the digest of its bytes (content_digest)."""
        return self.key(b"content\0" + digest.encode(), fingerprint, mode)

    def stat_index(self, started_ns: int) -> StatIndex:
        return StatIndex(self.directory / self.version / "data" / STAT_INDEX, started_ns)

    def write_atomically(self, target: Path, text: str) -> None:
        try:
            self._prepare()
            target.parent.mkdir(parents=True, exist_ok=True)
            import tempfile  # a warm run that changes nothing writes nothing

            descriptor, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            with os.fdopen(descriptor, "w") as handle:
                handle.write(text)
            os.replace(temporary, target)
        except OSError:
            pass  # a cache that cannot be written only costs time

    def _path(self, key: str) -> Path:
        return self.directory / self.version / key[:2] / f"{key}.json"

    def get(self, key: str, path: str) -> Optional[FileResult]:
        try:
            data = json.loads(self._path(key).read_text())
            findings = [Finding.from_dict({**f, "path": path}) for f in data["findings"]]
            return FileResult(path=path, findings=findings, error=data["error"], parsed=False)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, result: FileResult) -> None:
        if result.new_source is not None:
            return
        findings = [
            {k: v for k, v in f.to_dict().items() if k not in ("path", "fixable")}
            for f in result.findings
        ]
        self.write_atomically(self._path(key), json.dumps({"findings": findings, "error": result.error}))

    def get_data(self, key: str) -> Optional[dict]:
        """A JSON document stored with `put_data` (cross-module summaries)."""
        try:
            data = json.loads(self._data_path(key).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def put_data(self, key: str, data: dict) -> None:
        self.write_atomically(self._data_path(key), json.dumps(data))

    def _data_path(self, key: str) -> Path:
        return self.directory / self.version / "data" / key[:2] / f"{key}.json"

    def _prepare(self) -> None:
        if self._prepared:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        tag = self.directory / "CACHEDIR.TAG"
        if not tag.exists():
            tag.write_text(_TAG)
        ignore = self.directory / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# Created by mpfix automatically.\n*\n")
        self._prepared = True

    def clear(self) -> bool:
        import shutil

        if self.directory.is_dir():
            shutil.rmtree(self.directory)
            return True
        return False
