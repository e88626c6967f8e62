"""A content-keyed cache of per-file results.

The key covers the file's bytes, mpfix's version, the state of mpfix's own
source files and every setting that can change a result, so a hit is only ever
returned for exactly the same input and the same code (an edited rule in a
development checkout does not answer from before the edit). Entries are
written atomically; a corrupt entry is ignored and rewritten, so two runs may
share one cache.

The cache lives at the project root, as ruff's does: the directory of the
nearest pyproject.toml above the working directory, else the git root, else
the working directory; `cache-dir` in `[tool.mpfix]` moves it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterable, Optional

from mpfix.findings import FileResult, Finding

CACHE_DIR = ".mpfix_cache"
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
        try:
            self._prepare()
            target = self._path(key)
            target.parent.mkdir(parents=True, exist_ok=True)
            findings = [
                {k: v for k, v in f.to_dict().items() if k not in ("path", "fixable")}
                for f in result.findings
            ]
            payload = json.dumps({"findings": findings, "error": result.error})
            descriptor, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            with os.fdopen(descriptor, "w") as handle:
                handle.write(payload)
            os.replace(temporary, target)
        except OSError:
            pass  # a cache that cannot be written only costs time

    def get_data(self, key: str) -> Optional[dict]:
        """A JSON document stored with `put_data` (cross-module summaries)."""
        try:
            data = json.loads(self._data_path(key).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def put_data(self, key: str, data: dict) -> None:
        try:
            self._prepare()
            target = self._data_path(key)
            target.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            with os.fdopen(descriptor, "w") as handle:
                handle.write(json.dumps(data))
            os.replace(temporary, target)
        except OSError:
            pass  # a cache that cannot be written only costs time

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
