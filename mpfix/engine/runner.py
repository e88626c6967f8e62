"""Runs the engine over many files: read once, prefilter, cache, parse in parallel, write.

The parent process does all file I/O; workers get bytes and return results, so
nothing a worker does can leave a file half-written. Workers are started with
the spawn method and receive only picklable work items: mpfix follows the
guidelines it enforces.
"""

from __future__ import annotations

import os
import signal
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Optional, Protocol, Sequence

from mpfix.engine.cache import Cache
from mpfix.engine.memory import collection_paused, release_freed_memory
from mpfix.findings import FileResult
from mpfix.settings import FileSettings
from mpfix.engine.timing import CACHED, SKIPPED, FileTiming, timing_file
from mpfix.engine.warm import BINARY_FILE, SKIPPED_FILE, WarmFront

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

# Below this many bytes to parse, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 400_000

SettingsFor = Callable[[Path], FileSettings]


class ProgressSink(Protocol):
    def start(self, files: int, size: Optional[int] = None) -> None: ...  # files to parse, bytes

    def advance(self, files: int, size: Optional[int] = None) -> None: ...


@dataclass
class Work:
    index: int
    path: str
    source: bytes
    settings: FileSettings
    cache_key: Optional[str] = None


@dataclass
class RunReport:
    results: list[FileResult] = field(default_factory=list)
    sources: dict[str, bytes] = field(default_factory=dict)
    skipped: int = 0
    cached: int = 0
    # How each file was served (skipped, cached, parsed) and its parse and analysis time.
    timings: dict[str, FileTiming] = field(default_factory=dict)

    @property
    def errors(self) -> list[FileResult]:
        return [r for r in self.results if r.error]


def _process(work: Work, fix: bool, approve=None) -> tuple[FileResult, FileTiming]:  # type: ignore[no-untyped-def]
    from mpfix.engine.pipeline import process_source

    _load_engine(work.settings)
    with timing_file() as timing, collection_paused():
        result = process_source(work.source, work.settings, path=work.path, fix=fix,
                                approve=approve, companions=True)
    # The file's tree and analysis are garbage now: their memory goes back before the
    # next file is parsed, so the run's peak is its largest file's, not a sum.
    release_freed_memory()
    return result, timing


def _load_engine(settings: FileSettings) -> None:
    """Imports are the run's cost, paid once, not the first parsed file's: loaded before
    its timing starts."""
    from mpfix.engine.fixer import run_rules  # noqa: F401
    from mpfix.engine.registry import rule_classes

    rule_classes(settings.rules)


def _process_batch(batch: list[Work], fix: bool) -> list[tuple[int, FileResult, FileTiming]]:
    return [(work.index, *_process(work, fix)) for work in batch]


def _read(path: Path) -> tuple[Optional[bytes], Optional[str]]:
    try:
        return path.read_bytes(), None
    except IsADirectoryError:
        return None, "is a directory"
    except OSError as error:
        return None, f"cannot read: {error.strerror or error}"


def _batches(items: list[Work], jobs: int) -> list[list[Work]]:
    """Largest first, dealt round-robin into a few batches per worker."""
    items = sorted(items, key=lambda w: len(w.source), reverse=True)
    count = max(1, min(len(items), jobs * 4))
    batches: list[list[Work]] = [[] for _ in range(count)]
    for position, item in enumerate(items):
        batches[position % count].append(item)
    return batches


def run(
    files: Iterable[Path],
    settings_for: SettingsFor,
    *,
    fix: bool,
    jobs: int,
    cache: Optional[Cache],
    approve=None,  # type: ignore[no-untyped-def]
    progress: Optional[ProgressSink] = None,
    on_result: Optional[Callable[[FileResult, bytes], None]] = None,
    environment: Optional[Sequence[str]] = None,
) -> RunReport:
    """`on_result(result, source)` is told about each file as it is computed (not about
    cache hits), so a run that is stopped part way can still act on the files done.
    `environment`: where installed modules are looked for (mpfix.engine.crossmodule);
    by default the `sys.path` of the interpreter mpfix runs in."""
    files = list(files)
    settings = [settings_for(path) for path in files]
    mode = "fix" if fix else "check"
    front = WarmFront(cache, mode, environment) if cache is not None else None
    try:
        if front is not None:
            served = _served_warm(files, settings, front, progress)
            if served is not None:
                return served
        return _computed(files, settings, fix=fix, jobs=jobs, front=front, approve=approve,
                         progress=progress, on_result=on_result, environment=environment)
    finally:
        if front is not None:
            front.finish()


def _served_warm(files: list[Path], settings: list[FileSettings], front: WarmFront,
                 progress: Optional[ProgressSink]) -> Optional[RunReport]:
    """The run answered from its stored outcome and the cached results, or None."""
    names = [str(path) for path in files]
    if any(front.known_digest(name) is None for name in names):
        return None
    marks = front.outcome(front.run_key(names, settings))
    if marks is None or len(marks) != len(names):
        return None
    report = RunReport()
    for name, mark, file_settings in zip(names, marks, settings):
        if mark is SKIPPED_FILE:
            report.results.append(FileResult(path=name))
            report.skipped += 1
            report.timings[name] = FileTiming(SKIPPED)
        elif mark == BINARY_FILE:
            from mpfix.engine.pipeline import process_source

            report.results.append(process_source(front.read(name), file_settings, path=name))
        else:
            hit = front.cache.get(mark, name)
            if hit is None:
                return None
            report.results.append(hit)
            report.cached += 1
            report.timings[name] = FileTiming(CACHED)
    # Only a file with something to show needs its text (`full` output, `--add-noqa`).
    for result in report.results:
        if result.findings or result.error:
            try:
                report.sources[result.path] = front.read(result.path)
            except OSError:
                return None
    if progress:
        progress.start(0, 0)
    return report


def _read_for(front: Optional[WarmFront], path: Path) -> tuple[Optional[bytes], Optional[str]]:
    if front is None:
        return _read(path)
    try:
        return front.read(str(path)), None
    except IsADirectoryError:
        return None, "is a directory"
    except OSError as error:
        return None, f"cannot read: {error.strerror or error}"


def _computed(
    files: list[Path],
    file_settings: list[FileSettings],
    *,
    fix: bool,
    jobs: int,
    front: Optional[WarmFront],
    approve,  # type: ignore[no-untyped-def]
    progress: Optional[ProgressSink],
    on_result: Optional[Callable[[FileResult, bytes], None]],
    environment: Optional[Sequence[str]],
) -> RunReport:
    # The prefilter, the summaries and the import graph: only a run that computes needs them.
    from mpfix.engine.crossmodule import with_summaries
    from mpfix.engine.libraries import imported_files, importing_files, package_modules
    from mpfix.engine.pipeline import needs_parse, process_source
    from mpfix.engine.source import looks_binary

    report = RunReport()
    pending: list[Work] = []
    cache = front.cache if front is not None else None
    mode = "fix" if fix else "check"
    candidates: list[tuple[int, Path, bytes, FileSettings]] = []
    skipped: list[tuple[int, Path, bytes, FileSettings]] = []
    loaded: dict[Path, bytes] = {}
    # The run's outcome, for the warm front: each file skipped, not Python, or its key.
    marks: Optional[list] = []
    for index, (path, settings) in enumerate(zip(files, file_settings)):
        name = str(path)
        source, error = _read_for(front, path)
        if source is None:
            report.results.append(FileResult(path=name, error=error))
            marks = None  # an unreadable file: the next run looks again
            continue
        report.sources[name] = source
        loaded[path] = source
        if looks_binary(source):
            report.results.append(process_source(source, settings, path=name))
            if marks is not None:
                marks.append(BINARY_FILE)
            continue
        if marks is not None:
            marks.append(SKIPPED_FILE)  # replaced below for a candidate
        if not settings.rules or not needs_parse(source, settings, name):
            report.results.append(FileResult(path=name))
            report.skipped += 1
            report.timings[name] = FileTiming(SKIPPED)
            if settings.rules and path.suffix == ".py":
                skipped.append((index, path, source, settings))
            continue
        report.results.append(FileResult(path=name))  # placeholder, filled below
        candidates.append((index, path, source, settings))
    # Functions of other modules that start processes make their callers candidates too.
    with collection_paused():  # hundreds of syntax trees, none garbage before its summary
        candidates, promoted = with_summaries(candidates, skipped, cache, environment)
    report.skipped -= len(promoted)
    undecided = [path for _, path, _, settings in candidates if settings.is_library is None]
    packaged = package_modules(undecided, loaded)
    importing = importing_files(undecided, loaded)
    imported = imported_files(undecided, loaded, importing)
    _keep_needed_sources(report, candidates, importing)
    del loaded, skipped
    for index, path, source, settings in candidates:
        name = str(path)
        if path in packaged:
            settings = replace(settings, is_library=True)
        if path in imported:
            settings = replace(settings, imported_by_run=True)
        key = None
        if front is not None:
            key = front.cache.result_key(front.digests[name], front.fingerprint(settings), mode)
            if marks is not None:
                marks[index] = key
        hit = cache.get(key, name) if cache and key else None
        if hit is not None:
            report.results[index] = hit
            report.cached += 1
            report.timings[name] = FileTiming(CACHED)
            continue
        pending.append(Work(index, name, source, settings, key))
    if front is not None and marks is not None:
        front.save_outcome(front.run_key([str(path) for path in files], file_settings), marks)
    by_index = {work.index: work for work in pending}
    if pending:
        _release_garbage()  # the prefilter's and the summaries': before the first parse
    if progress:
        progress.start(len(pending), sum(len(work.source) for work in pending))
    for index, result, timing in _compute(pending, fix, jobs, approve, progress):
        report.results[index] = result
        work = by_index[index]
        report.timings[work.path] = timing
        if cache and work.cache_key:
            cache.put(work.cache_key, result)
        if on_result is not None:
            on_result(result, work.source)
    return report


def _keep_needed_sources(report: RunReport, candidates: list[tuple[int, Path, bytes, FileSettings]],
                         importers: set[Path]) -> None:
    """Let go of the bytes of the files the prefilter skipped (most of a tree): the
    parse of a large file needs the memory. Kept: the files parsed or served from the
    cache, whose findings are shown, fixed or given a noqa, and those that import one
    of them, which the command line reads to decide a library again; and those not
    Python, whose error is shown."""
    kept = {str(path) for _, path, _, _ in candidates} | {str(path) for path in importers} \
        | {result.path for result in report.results if result.error}
    report.sources = {name: source for name, source in report.sources.items() if name in kept}


def _release_garbage() -> None:
    import gc

    gc.collect()
    release_freed_memory()


def _compute(pending: list[Work], fix: bool, jobs: int, approve, progress):  # type: ignore[no-untyped-def]
    total = sum(len(w.source) for w in pending)
    if jobs <= 1 or len(pending) < 2 or total < PARALLEL_THRESHOLD or approve is not None:
        for work in pending:
            result, timing = _process(work, fix, approve)
            if progress:
                progress.advance(1, len(work.source))
            yield work.index, result, timing
        return
    # Imported only for a parallel run: a cache hit or a one-file call never starts workers.
    import multiprocessing
    import shutil
    import tempfile
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    batches = _batches(pending, jobs)
    neutral = tempfile.mkdtemp(prefix="mpfix-workers-")
    with _working_directory(neutral):
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(batches)), mp_context=context,
                                   initializer=_prepare_worker, initargs=(os.getpid(),))
    try:
        with _working_directory(neutral), _interrupts_blocked():  # workers start with both
            futures = [pool.submit(_process_batch, batch, fix) for batch in batches]
        sizes = {work.index: len(work.source) for work in pending}
        for future in futures:
            for index, result, timing in future.result():
                if progress:
                    progress.advance(1, sizes[index])
                yield index, result, timing
    except KeyboardInterrupt:
        _terminate_workers(pool)
        raise
    finally:
        # After a Ctrl-C or an error, batches not yet started are dropped, not computed.
        pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(neutral, ignore_errors=True)


@contextmanager
def _working_directory(directory: str) -> Iterator[None]:
    """Where worker processes (and multiprocessing's resource tracker) are started.

    They start as `python -c ...`, which puts the current directory first on
    `sys.path` before importing multiprocessing: in the user's project, a module
    of theirs named `multiprocessing.py` or `pickle.py` would be imported, and
    run, in place of the standard library's. An empty directory has none.
    """
    try:
        previous = os.getcwd()
    except OSError:  # the current directory was removed: nothing to shadow anything
        yield
        return
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(previous)


def _terminate_workers(pool: ProcessPoolExecutor) -> None:
    """Stop the batches in progress: workers write nothing, so nothing is lost."""
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14+
    if terminate is not None:
        terminate()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
    # Before Python 3.11.1 (gh-94777) the shutdown deadlocks while a batch is still being
    # written to the dead workers' pipe; closing this process's reading end fails the write.
    reader = getattr(getattr(pool, "_call_queue", None), "_reader", None)
    if reader is not None:
        reader.close()


@contextmanager
def _interrupts_blocked() -> Iterator[None]:
    """Block SIGINT while workers are started, so a Ctrl-C that reaches them during
    their start-up waits for `_stop_silently_on_interrupt` instead of printing a
    traceback; this process receives it as soon as the block ends."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _prepare_worker(parent: int) -> None:
    _stop_silently_on_interrupt()
    _die_with_parent(parent)


def _stop_silently_on_interrupt() -> None:
    """A Ctrl-C reaches the whole process group; a worker writes no file, so it
    ends at once without a traceback and the parent reports it once."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _die_with_parent(parent: int) -> None:
    """A worker must not outlive a killed mpfix: nobody would read its results, and
    one blocked writing them would wait forever. On Linux the kernel sends it SIGTERM."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before that took effect
        os._exit(1)


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
