"""Memory between files: given back to the operating system once a file is done, and
searched for garbage cycles only then (`collection_paused`).

libcst's native parser allocates about 400 bytes per byte of source through the C
allocator and frees them once the tree is built; glibc keeps those pages for reuse,
but Python's own objects come from separate arenas, so they never reuse them: the
freed parse of a 250 KB file stays in the process's resident memory for the rest of
the run (about 100 MB). `malloc_trim` hands them back. Elsewhere than glibc this is
a no-op.
"""

from __future__ import annotations

import gc
import sys
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

_trim: Optional[Callable[[int], int]] = None
_looked = False


def _malloc_trim() -> Optional[Callable[[int], int]]:
    global _trim, _looked
    if not _looked:
        _looked = True
        if sys.platform.startswith("linux"):
            import ctypes  # only a run that parses gets here

            try:
                _trim = ctypes.CDLL(None).malloc_trim  # the C library the interpreter uses
            except (OSError, AttributeError):  # musl has no malloc_trim
                _trim = None
    return _trim


def release_freed_memory() -> None:
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic garbage collection while one file is parsed and analysed; one after it.

    A file's tree and index are millions of objects made in one go and kept to the
    end, none of them garbage before it: every automatic collection in between
    scans them all for nothing (a tenth of a cold run's CPU). What the file leaves
    behind in cycles is collected once it is done, from the youngest generation
    alone: every object made while collection was paused is in it, and a full
    collection would scan the whole engine again after every small file."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect(0)
