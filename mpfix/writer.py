"""Writing a fixed file without ever leaving it half-written.

The new bytes go to a temporary file in the same directory, get the original's
permission bits, and replace the original with one atomic rename, after a
last check that the file on disk is still what was read. Symlinks are written
through: the link stays a link and its target gets the new content.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


class WriteError(Exception):
    pass


def write_atomically(path: Path, original: bytes, new: bytes) -> None:
    target = Path(os.path.realpath(path))
    try:
        current = target.read_bytes()
    except OSError as error:
        raise WriteError(f"cannot read back before writing: {error.strerror}") from None
    if current != original:
        raise WriteError("changed on disk while mpfix was running; not overwritten")
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
        if not mode & stat.S_IWUSR:
            raise WriteError("file is read-only; not overwritten")
        descriptor, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".mpfix-tmp")
    except OSError as error:
        raise WriteError(f"cannot write: {error.strerror}") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(new)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException as error:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if isinstance(error, OSError):
            raise WriteError(f"cannot write: {error.strerror}") from None
        raise
