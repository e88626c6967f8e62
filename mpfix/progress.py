"""A progress bar on stderr for runs long enough to wonder about.

Shown only when stderr is a terminal and at least MIN_FILES files need
parsing (the prefilter and the cache settle the rest at once); never under
pre-commit, in CI or when stderr is piped, and never during an interactive
review, which talks on the same terminal.
"""

from __future__ import annotations

from typing import IO, Any, Optional

import click

MIN_FILES = 40


class Progress:
    def __init__(self, stream: IO[str], *, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self._bar: Optional[Any] = None

    @classmethod
    def for_stderr(cls, stream: IO[str], *, allowed: bool) -> "Progress":
        try:
            terminal = stream.isatty()
        except (AttributeError, ValueError):
            terminal = False
        return cls(stream, enabled=allowed and terminal)

    def start(self, total: int) -> None:
        if self.enabled and total >= MIN_FILES:
            self._bar = click.progressbar(length=total, label="mpfix", file=self.stream,
                                          show_pos=True)
            self._bar.__enter__()

    def advance(self, count: int) -> None:
        if self._bar is not None:
            self._bar.update(count)

    @property
    def shown(self) -> bool:
        return self._bar is not None

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
