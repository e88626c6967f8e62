"""`-v`: how each file was served and what it cost, on stderr.

One line a file: skipped by the prefilter, served from the cache, or parsed (with the
seconds of its parse and of the analysis after it); then the slowest file, so that a
user with a slow run sees which file to look at (or exclude).
"""

from __future__ import annotations

from typing import Mapping, Optional

from mpfix.engine.timing import CACHED, SKIPPED, FileTiming


def file_line(path: str, timing: FileTiming) -> str:
    if timing.status == SKIPPED:
        return f"{path}: skipped by the prefilter"
    if timing.status == CACHED:
        return f"{path}: served from the cache"
    return f"{path}: parsed in {timing.parse:.3f} s, analysed in {timing.analysis:.3f} s"


def slowest_line(timings: Mapping[str, FileTiming]) -> Optional[str]:
    parsed = [(timing.total, path) for path, timing in timings.items()
              if timing.status not in (SKIPPED, CACHED)]
    if not parsed:
        return None
    total, path = max(parsed)
    timing = timings[path]
    return (f"slowest file: {path}, {total:.3f} s (parse {timing.parse:.3f} s, "
            f"analysis {timing.analysis:.3f} s)")


def verbose_lines(paths: list[str], timings: Mapping[str, FileTiming]) -> list[str]:
    """A line per file of `paths` that was read, in their order."""
    return [file_line(path, timings[path]) for path in paths if path in timings]
