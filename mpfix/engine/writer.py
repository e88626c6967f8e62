"""Writing a fixed file without ever leaving it half-written.

The new bytes go to a temporary file in the same directory, get the original's
permission bits (and owner, where allowed), and replace the original with one
atomic rename, right after a last check that the file on disk is still what
was read. Symlinks are written through: the link stays a link and its target
gets the new content. Signals that end a run (Ctrl-C, SIGTERM, SIGHUP) wait
until the file in hand is written or abandoned, so an interrupted run leaves
every file either as it was or fully fixed, and no temporary file behind.
"""

from __future__ import annotations

import os
import signal
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

TEMP_SUFFIX = ".mpfix-tmp"
_ENDING_SIGNALS = {getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                   if hasattr(signal, name)}


class WriteError(Exception):
    pass


@contextmanager
def _ending_signals_deferred() -> Iterator[None]:
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no signal masks
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _ENDING_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def write_atomically(path: Path, original: bytes, new: bytes) -> None:
    target = Path(os.path.realpath(path))
    with _ending_signals_deferred():
        _replace(target, original, new)


def create_atomically(path: Path, new: bytes) -> None:
    """Create `path` with `new`, whole or not at all, never over a file that appeared
    meanwhile: the content is written to a temporary file and hard-linked into place."""
    with _ending_signals_deferred():
        _create(Path(path), new)


def write_file(path: Path, original: "bytes | None", new: bytes) -> None:
    """Replace `path` (read as `original`) with `new`, or create it when `original` is None."""
    if original is None:
        create_atomically(path, new)
    else:
        write_atomically(path, original, new)


def _create(target: Path, new: bytes) -> None:
    umask = os.umask(0)
    os.umask(umask)

    def link(temporary: str) -> None:
        os.chmod(temporary, 0o666 & ~umask)  # as an editor would create it
        try:
            os.link(temporary, target)
        except FileExistsError:
            raise WriteError("created by someone else while mpfix was running; "
                             "not overwritten") from None
        try:
            os.unlink(temporary)  # the file is in place under its name
        except OSError:
            pass

    _through_temporary(target, new, link)


def _replace(target: Path, original: bytes, new: bytes) -> None:
    try:
        status = target.stat()
    except OSError as error:
        raise WriteError(f"cannot read back before writing: {error.strerror}") from None
    mode = stat.S_IMODE(status.st_mode)
    if not mode & stat.S_IWUSR:
        raise WriteError("file is read-only; not overwritten")

    def replace(temporary: str) -> None:
        os.chmod(temporary, mode)
        _keep_owner(temporary, status)
        # Checked as late as possible: an editor may have saved the file meanwhile.
        if target.read_bytes() != original:
            raise WriteError("changed on disk while mpfix was running; not overwritten")
        os.replace(temporary, target)

    _through_temporary(target, new, replace)


def _through_temporary(target: Path, new: bytes, put_in_place: Callable[[str], None]) -> None:
    """Write `new` to a temporary file beside `target` and hand it to `put_in_place`; the
    temporary file never outlives a failure."""
    try:
        descriptor, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=TEMP_SUFFIX)
    except OSError as error:
        raise WriteError(f"cannot write: {error.strerror}") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(new)
            handle.flush()
            os.fsync(handle.fileno())
        put_in_place(temporary)
    except BaseException as error:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if isinstance(error, OSError):
            raise WriteError(f"cannot write: {error.strerror}") from None
        raise


def _keep_owner(temporary: str, status: os.stat_result) -> None:
    """Give the new file the original's owner; only root may, and only where it differs."""
    if not hasattr(os, "chown"):
        return
    if (status.st_uid, status.st_gid) == (os.getuid(), os.getgid()):
        return
    try:
        os.chown(temporary, status.st_uid, status.st_gid)
    except OSError:
        pass  # as a plain user the file becomes yours, as with any editor's save
