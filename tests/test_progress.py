"""The progress bar: measured in bytes, with no time estimate before there is data for one."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Optional

from mpfix.engine import runner
from mpfix.cli.progress import ESTIMATE_AFTER_SECONDS, MIN_FILES, Progress
from mpfix.settings import FileSettings


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _bar(clock: _Clock) -> tuple[Progress, _Terminal]:
    stream = _Terminal()
    return Progress(stream, enabled=True, clock=clock), stream


def test_progress_counts_bytes_not_files() -> None:
    clock = _Clock()
    bar, stream = _bar(clock)
    bar.start(MIN_FILES, size=10_000)  # one 6,100-byte module and 39 of 100 bytes
    bar.advance(MIN_FILES - 1, size=3_900)
    assert f"{MIN_FILES - 1}/{MIN_FILES} files   39%" in bar.line()
    bar.advance(1, size=6_100)
    assert " 100%" in bar.line()
    bar.close()
    assert stream.getvalue().endswith("100%\n")


def test_no_estimate_before_enough_time_or_enough_bytes() -> None:
    clock = _Clock()
    bar, _ = _bar(clock)
    bar.start(MIN_FILES, size=1_000_000)
    clock.now += ESTIMATE_AFTER_SECONDS / 2
    bar.advance(20, size=500_000)  # half done, but too soon to say
    assert bar.estimate() is None and "left" not in bar.line()
    bar, _ = _bar(clock)
    bar.start(MIN_FILES, size=1_000_000)
    clock.now += 60
    bar.advance(1, size=10_000)  # a minute in, but 1% is too little to extrapolate
    assert bar.estimate() is None and "left" not in bar.line()


def test_estimate_extrapolates_the_byte_rate() -> None:
    clock = _Clock()
    bar, _ = _bar(clock)
    bar.start(MIN_FILES, size=1_000_000)
    clock.now += 10
    bar.advance(30, size=250_000)  # a quarter of the bytes in 10 seconds: 30 more
    assert bar.estimate() == 30.0
    assert bar.line().endswith("25%  30s left")
    clock.now += 10
    bar.advance(1, size=500_000)  # three quarters in 20 seconds
    assert bar.line().endswith("75%  7s left")


def test_many_small_files_first_do_not_make_the_estimate_short() -> None:
    """Files counted, 39 of 40 done after 4 seconds would promise a finish in 0.1s; the
    large module left still holds most of the work."""
    clock = _Clock()
    bar, _ = _bar(clock)
    bar.start(MIN_FILES, size=40_000)
    clock.now += 4
    bar.advance(MIN_FILES - 1, size=4_000)
    assert bar.estimate() == 36.0


def test_long_estimates_read_as_minutes_and_hours() -> None:
    clock = _Clock()
    bar, _ = _bar(clock)
    bar.start(MIN_FILES, size=1_000)
    clock.now += 30
    bar.advance(10, size=100)
    assert bar.line().endswith("4m30s left")
    clock.now += 600
    assert bar.line().endswith("1h34m left")


class _Sink:
    def __init__(self) -> None:
        self.started: Optional[tuple[int, Optional[int]]] = None
        self.files = 0
        self.size = 0

    def start(self, files: int, size: Optional[int] = None) -> None:
        self.started = (files, size)

    def advance(self, files: int, size: Optional[int] = None) -> None:
        self.files += files
        self.size += size or 0


def test_runner_reports_the_bytes_of_the_files_it_parses(tmp_path: Path) -> None:
    files = []
    for number, body in enumerate(["", "x = 1\n" * 50, "y = 2\n" * 500]):
        path = tmp_path / f"m{number}.py"
        path.write_text("import multiprocessing as mp\n" + body + "mp.Process().start()\n")
        files.append(path)
    (tmp_path / "plain.py").write_text("print('no multiprocessing here')\n")
    files.append(tmp_path / "plain.py")
    sink = _Sink()
    settings = FileSettings(rules=("MP001",))
    runner.run(files, lambda path: settings, fix=False, jobs=1, cache=None, progress=sink)
    parsed = sum(path.stat().st_size for path in files[:3])
    assert sink.started == (3, parsed), "the prefiltered file is not work to wait for"
    assert (sink.files, sink.size) == (3, parsed)
