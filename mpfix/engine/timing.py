"""How one file was served and how long its parse and analysis took (`-v`).

The runner times each file it computes, in whichever process computes it, and the
engine reports its parse to the timing in progress: the result's path from the
runner through the prefilter and the notebook reader to the one-file engine stays
as it is, and a file timed nowhere costs one check of a global.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Optional

SKIPPED = "skipped"  # by the prefilter: never parsed
CACHED = "cached"    # served from the result cache
PARSED = "parsed"


@dataclass
class FileTiming:
    status: str
    parse: float = 0.0     # seconds in libcst's parse
    analysis: float = 0.0  # seconds after it: analysis, rules, fixes, verification

    @property
    def total(self) -> float:
        return self.parse + self.analysis


_current: Optional[FileTiming] = None


@contextmanager
def timing_file() -> Iterator[FileTiming]:
    """Times the file computed inside the block: what the parse did not take is analysis."""
    global _current
    timing, outer = FileTiming(PARSED), _current
    _current = timing
    started = time.perf_counter()
    try:
        yield timing
    finally:
        _current = outer
        timing.analysis = max(0.0, time.perf_counter() - started - timing.parse)


def count_parse(seconds: float) -> None:
    """Called by the engine after each libcst parse."""
    if _current is not None:
        _current.parse += seconds
