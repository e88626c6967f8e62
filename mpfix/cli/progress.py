"""A progress bar on stderr for runs long enough to wonder about.

Shown only when stderr is a terminal and at least MIN_FILES files need
parsing (the prefilter and the cache settle the rest at once); never under
pre-commit, in CI or when stderr is piped, and never during an interactive
review, which talks on the same terminal.

Progress and the time estimate count bytes, not files: the time a file takes
grows with its size, and one large module among small ones would otherwise
make the count lie. The estimate (elapsed time × bytes left ÷ bytes done)
appears only once there is enough data for it to mean something: a few
seconds of work and a few percent of the bytes, so the start-up of worker
processes and the first results of a parallel run do not produce a first
guess ten times the real time.
"""

from __future__ import annotations

import shutil
import time
from typing import IO, Callable, Optional

MIN_FILES = 40
ESTIMATE_AFTER_SECONDS = 3.0
ESTIMATE_AFTER_FRACTION = 0.05
REDRAW_SECONDS = 0.1
BAR_WIDTH = 30


class Progress:
    def __init__(self, stream: IO[str], *, enabled: bool,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.enabled = enabled
        self.clock = clock
        self._shown = False
        self._files = self._total_files = 0
        self._bytes = self._total_bytes = 0
        self._started = self._drawn_at = 0.0
        self._width = 0

    @classmethod
    def for_stderr(cls, stream: IO[str], *, allowed: bool) -> "Progress":
        try:
            terminal = stream.isatty()
        except (AttributeError, ValueError):
            terminal = False
        return cls(stream, enabled=allowed and terminal)

    def start(self, files: int, size: Optional[int] = None) -> None:
        """`files` to parse, of `size` bytes in all (None: count files only)."""
        if not self.enabled or files < MIN_FILES:
            return
        self._shown = True
        self._total_files = files
        self._total_bytes = max(1, files if size is None else size)
        self._started = self.clock()
        self._draw()

    def advance(self, files: int, size: Optional[int] = None) -> None:
        if not self._shown:
            return
        self._files += files
        self._bytes += files if size is None else size
        now = self.clock()
        if now - self._drawn_at >= REDRAW_SECONDS or self._files >= self._total_files:
            self._draw()

    @property
    def shown(self) -> bool:
        return self._shown

    def estimate(self) -> Optional[float]:
        """Seconds left, or None while the data is too thin to say."""
        if not self._shown:
            return None
        elapsed = self.clock() - self._started
        fraction = min(1.0, self._bytes / self._total_bytes)
        if elapsed < ESTIMATE_AFTER_SECONDS or fraction < ESTIMATE_AFTER_FRACTION \
                or fraction >= 1.0:
            return None
        return elapsed * (1.0 - fraction) / fraction

    def line(self) -> str:
        fraction = min(1.0, self._bytes / self._total_bytes) if self._shown else 0.0
        filled = int(fraction * BAR_WIDTH)
        text = (f"mpfix  [{'#' * filled}{'-' * (BAR_WIDTH - filled)}]  "
                f"{self._files}/{self._total_files} files  {int(fraction * 100):3d}%")
        left = self.estimate()
        if left is not None:
            text += f"  {_duration(left)} left"
        return text

    def _draw(self) -> None:
        self._drawn_at = self.clock()
        text = self.line()[: max(20, shutil.get_terminal_size().columns - 1)]
        padding = " " * max(0, self._width - len(text))  # clear what a longer line left
        self._width = len(text)
        self.stream.write(f"\r{text}{padding}")
        self.stream.flush()

    def close(self) -> None:
        if self._shown:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
