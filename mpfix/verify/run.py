"""`mpfix run`: run a project's own command under a forced default start method.

The command runs with MPFIX_START_METHOD set; mpfix's start-up hook (see
`_mpfix_starthook.py`) applies it in every Python process the command starts, so
`mpfix run --start-method spawn -- python -m pytest` runs the test suite, and the
workers it starts, as they will run on a platform whose default is spawn. Each
process that applied the method records itself in a log, so mpfix can say when
the variable never reached a Python that has the hook installed.

The command's output goes to a log per method, not to the terminal: an unguarded
program under spawn prints a traceback from every child it starts, tens of
thousands of lines, and the results table must stay readable after them. What a
user needs from a log is printed beside the table (`mpfix.verify.runoutput`).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator, Optional, Sequence, Union

import click

from _mpfix_starthook import LOG_VARIABLE, VARIABLE
from mpfix.errors import EXIT_ERROR, UsageError
from mpfix.verify.runoutput import Difference, first_difference, last_error_line
from mpfix.verify.startmethod import METHODS, available_methods

ALL = "all"
BASELINE = "fork"  # what the code did before the migration: the output every method must give
EXIT_FAILED, EXIT_NOT_APPLIED, EXIT_TIMEOUT = 1, EXIT_ERROR, 124  # 124 as coreutils' timeout
PASSED_ON = ("SIGINT", "SIGTERM", "SIGHUP")  # Ctrl-C, a CI job cancelled, a closed terminal

PASSED, FAILED, TIMEOUT, STOPPED = "passed", "FAILED", "TIMEOUT", "stopped"
NOT_APPLIED, DIFFERS = "not applied", "differs"

# In the current directory, like .pytest_cache and .ruff_cache: where the user looks after the
# run, kept until the next run, and ignored by git through a .gitignore of its own.
LOG_DIRECTORY = ".mpfix_run"
GITIGNORE = "# Created by mpfix run automatically.\n*\n"
READ_CHUNK = 64 * 1024
# Processes the command leaves running (daemons) keep its output pipes open: their output
# is read this long after the command ended, then the log is closed.
LINGER_SECONDS = 2.0
LINGERING_NOTE = (b"\n[mpfix: processes the command left running still write to its output; "
                  b"the log ends here]\n")


@dataclass
class Outcome:
    method: str
    exit_code: int
    seconds: float
    python_starts: int  # interpreters that applied the method
    timed_out: bool = False
    stop_signal: Optional[int] = None  # a signal mpfix received and passed on
    log: Optional[Path] = None  # stdout and stderr as they came; None with --show-output
    stdout_log: Optional[Path] = None  # stdout alone, compared with the fork run's
    difference: Optional[Difference] = None  # from the fork run's stdout

    @property
    def result(self) -> str:
        if self.stop_signal is not None:
            return STOPPED
        if self.timed_out:
            return TIMEOUT
        if self.python_starts == 0:  # it ran under its usual default: nothing was verified
            return NOT_APPLIED
        if self.exit_code != 0:
            return FAILED
        return DIFFERS if self.difference is not None else PASSED


@dataclass(frozen=True)
class LogDirectory:
    path: Path

    def log(self, method: str) -> Path:
        return self.path / f"{method}.log"

    def stdout(self, method: str) -> Path:
        return self.path / f"{method}.stdout"


def default_method() -> str:
    """Python 3.14's Linux default where the platform has it, else spawn."""
    return "forkserver" if "forkserver" in available_methods() else "spawn"


def methods_to_run(choice: Optional[str]) -> list[str]:
    if choice is None:
        return [default_method()]
    available = available_methods()
    if choice == ALL:
        return [method for method in METHODS if method in available]
    if choice not in METHODS:
        raise UsageError(f"unknown start method {choice!r} (choose from {', '.join(METHODS)}, {ALL})")
    if choice not in available:
        raise UsageError(f"start method {choice!r} is not available on this platform "
                       f"(available: {', '.join(available)})")
    return [choice]


def prepare_log_directory(chosen: Optional[Path]) -> LogDirectory:
    """The directory for this run's logs, without the logs of an earlier run.

    A directory the user chose must be usable; the default falls back to a
    temporary directory where the current one cannot be written.
    """
    if chosen is not None:
        try:
            chosen.mkdir(parents=True, exist_ok=True)
            return _emptied(LogDirectory(chosen))
        except OSError as error:
            raise UsageError(f"cannot write logs to {chosen}: {error.strerror or error}") from None
    default = Path(LOG_DIRECTORY)
    try:
        default.mkdir(exist_ok=True)
        gitignore = default / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text(GITIGNORE, encoding="utf-8")
        return _emptied(LogDirectory(default))
    except OSError:
        return LogDirectory(Path(tempfile.mkdtemp(prefix="mpfix-run-")))


def _emptied(logs: LogDirectory) -> LogDirectory:
    # Only mpfix's own file names: a chosen directory may hold the user's files too.
    for method in METHODS:
        logs.log(method).unlink(missing_ok=True)
        logs.stdout(method).unlink(missing_ok=True)
    return logs


def shown(path: Path) -> str:
    """`path` as the user would type it from here."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def run_under(command: Sequence[str], method: str, timeout: Optional[float] = None,
              logs: Optional[LogDirectory] = None) -> Outcome:
    """Run `command` once with `method` forced; its output to `logs`, else to mpfix's streams.

    With a timeout the command leads a process group of its own, so that the
    workers of a hung run are ended with it.
    """
    with tempfile.TemporaryDirectory(prefix="mpfix-starts-") as directory:
        starts = Path(directory, "python-starts")
        starts.touch()
        environment = {**os.environ, VARIABLE: method, LOG_VARIABLE: str(starts)}
        own_group = timeout is not None
        with _captured(logs, method) as capture:
            started = time.perf_counter()
            try:
                process = subprocess.Popen(list(command), env=environment,
                                           start_new_session=own_group, **capture.streams)
            except OSError as error:
                raise UsageError(f"cannot run {command[0]}: {error.strerror or error}") from None
            capture.follow(process)
            with _signals_passed_to(process, own_group) as received:
                exit_code, timed_out = _wait(process, timeout)
            seconds = time.perf_counter() - started
        python_starts = len(starts.read_text(encoding="ascii").split())
    return Outcome(method, exit_code, seconds, python_starts, timed_out,
                   received[0] if received else None,
                   logs.log(method) if logs else None, logs.stdout(method) if logs else None)


class OutputCapture:
    """The command's stdout and stderr copied to the method's log as they arrive.

    The log holds both streams, whole lines at a time, in the order they came;
    stdout is also copied alone, byte for byte, to be compared with the fork
    run's. Writes go to disk at once: a killed mpfix leaves a complete log.
    """

    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}

    def __init__(self, log: Path, stdout_copy: Path) -> None:
        self._log = open(log, "wb")
        self._stdout = open(stdout_copy, "wb")
        self._lock = threading.Lock()
        self._open = True
        self._error: Optional[OSError] = None
        self._readers: list[threading.Thread] = []

    def follow(self, process: subprocess.Popen) -> None:
        for pipe, copy in ((process.stdout, self._stdout), (process.stderr, None)):
            reader = threading.Thread(target=self._copy, args=(pipe, copy), daemon=True)
            reader.start()
            self._readers.append(reader)

    def _copy(self, pipe: IO[bytes], copy: Optional[IO[bytes]]) -> None:
        pending = b""
        while True:
            chunk = os.read(pipe.fileno(), READ_CHUNK)
            if not chunk:
                break
            if copy is not None:
                self._write(copy, chunk)
            data = pending + chunk
            lines_end = data.rfind(b"\n") + 1
            if lines_end == 0 and len(data) > READ_CHUNK:
                lines_end = len(data)  # a line longer than a chunk goes as it is
            self._write(self._log, data[:lines_end])
            pending = data[lines_end:]
        self._write(self._log, pending)
        pipe.close()

    def _write(self, file: IO[bytes], data: bytes) -> None:
        with self._lock:
            if not self._open or not data:
                return
            try:
                file.write(data)
                file.flush()
            except OSError as error:
                # the pipes are still drained, or the command would block on a full one
                self._open, self._error = False, error

    def close(self) -> None:
        deadline = time.monotonic() + LINGER_SECONDS
        for reader in self._readers:
            reader.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            if self._open and any(reader.is_alive() for reader in self._readers):
                self._write_quietly(LINGERING_NOTE)
            self._open = False
            for file in (self._log, self._stdout):
                try:
                    file.close()
                except OSError as error:
                    self._error = self._error or error
        if self._error is not None:
            click.echo(f"mpfix: warning: the log {shown(Path(self._log.name))} is incomplete: "
                       f"{self._error.strerror or self._error}", err=True)

    def _write_quietly(self, data: bytes) -> None:
        try:
            self._log.write(data)
        except OSError as error:
            self._error = error


class _Inherited:
    """No capture: the command writes to mpfix's own stdout and stderr."""

    streams: dict = {}

    def follow(self, process: subprocess.Popen) -> None:
        pass


@contextmanager
def _captured(logs: Optional[LogDirectory], method: str) -> Iterator[Union[OutputCapture, _Inherited]]:
    if logs is None:
        yield _Inherited()
        return
    capture = OutputCapture(logs.log(method), logs.stdout(method))
    try:
        yield capture
    finally:
        capture.close()


def _wait(process: subprocess.Popen, timeout: Optional[float]) -> tuple[int, bool]:
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _signal(process, getattr(signal, "SIGKILL", signal.SIGTERM), group=True)
        process.wait()
        return EXIT_TIMEOUT, True
    return (128 - code if code < 0 else code), False  # killed by signal N: 128+N, as shells say


def _signal(process: subprocess.Popen, signum: int, *, group: bool) -> None:
    try:
        if group and hasattr(os, "killpg"):
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
    except OSError:  # it ended meanwhile
        pass


@contextmanager
def _signals_passed_to(process: subprocess.Popen, own_group: bool) -> Iterator[list[int]]:
    """Hand Ctrl-C, SIGTERM and SIGHUP on to the command instead of dying first.

    The command then shuts down in its own way (pytest prints its summary)
    while mpfix waits for it. In mpfix's process group the terminal's Ctrl-C
    reaches the command already and is only recorded. Yields what was received.
    """
    received: list[int] = []

    def pass_on(signum: int, frame: object) -> None:
        received.append(signum)
        if own_group or signum != signal.SIGINT:
            _signal(process, signum, group=own_group)

    previous = {}
    try:
        for name in PASSED_ON:
            signum = getattr(signal, name, None)
            # a signal ignored when mpfix started (nohup, a background job) stays ignored
            if signum is not None and signal.getsignal(signum) is not signal.SIG_IGN:
                previous[signum] = signal.signal(signum, pass_on)
    except ValueError:  # not the main thread: signals stay as they are
        pass
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_methods(command: Sequence[str], methods: Sequence[str], timeout: Optional[float],
                logs: Optional[LogDirectory]) -> list[Outcome]:
    outcomes = []
    for method in methods:
        where = f" (output: {shown(logs.log(method))})" if logs else ""
        click.echo(f"mpfix: start method {method}: {shlex.join(command)}{where}", err=True)
        outcome = run_under(command, method, timeout, logs)
        outcomes.append(outcome)
        if outcome.stop_signal is not None:
            break
    return outcomes


def compare_with_baseline(outcomes: Sequence[Outcome]) -> Optional[str]:
    """Mark each passed method whose stdout differs from the fork run's; else say why not."""
    baseline = next((outcome for outcome in outcomes if outcome.method == BASELINE), None)
    if baseline is None:
        return f"{BASELINE} is not available on this platform"
    if baseline.stdout_log is None:
        return "--show-output leaves it uncaptured"
    if baseline.result == TIMEOUT:
        return f"the {BASELINE} run timed out"
    if baseline.result in (STOPPED, NOT_APPLIED):  # said already
        return None
    for outcome in outcomes:
        if outcome is not baseline and outcome.stdout_log is not None and outcome.result == PASSED:
            outcome.difference = first_difference(baseline.stdout_log, outcome.stdout_log)
    return None


def format_table(outcomes: Sequence[Outcome]) -> str:
    rows = [("method", "result", "exit", "time", "python starts")]
    for outcome in outcomes:
        rows.append((outcome.method, outcome.result, str(outcome.exit_code),
                     f"{outcome.seconds:.2f}s", str(outcome.python_starts)))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in rows)


def format_details(outcomes: Sequence[Outcome]) -> list[str]:
    """Per method that did not pass, what its log says: the error, or where fork's output parts."""
    lines: list[str] = []
    for outcome in outcomes:
        if outcome.log is None:
            continue
        if outcome.result in (FAILED, TIMEOUT, STOPPED):
            lines.append(f"{outcome.method}: {_error_of(outcome.log)}")
        elif outcome.result == DIFFERS and outcome.difference is not None:
            lines.extend(_difference_lines(outcome.method, outcome.difference))
        else:
            continue
        lines.append(f"  log: {shown(outcome.log)}")
    return lines


def _error_of(log: Path) -> str:
    error = last_error_line(log)
    if error is None:
        return "no output"
    return error.text if error.from_error else f"last line of output: {error.text}"


def _difference_lines(method: str, difference: Difference) -> list[str]:
    width = max(len(BASELINE), len(method)) + 1
    return [f"{method}: stdout differs from {BASELINE}'s at line {difference.line_number}",
            f"  {BASELINE + ':':<{width}} {_output_line(difference.baseline)}",
            f"  {method + ':':<{width}} {_output_line(difference.other)}"]


def _output_line(line: Optional[str]) -> str:
    return "(end of output)" if line is None else line


def not_applied_message(methods: Sequence[str], command: Sequence[str]) -> str:
    interpreter = command_interpreter(command[0])
    named = f" ({interpreter})" if interpreter else ""
    return (f"mpfix: not applied under {', '.join(methods)}: no Python process of the command "
            f"took the start method, so the command ran under its usual default and verified "
            f"nothing.\n"
            f"  Cause: the command's Python{named} does not have mpfix installed (mpfix runs "
            f"from {sys.prefix}), or runs with -S.\n"
            f"  Fix: install mpfix in that environment (`python -m pip install mpfix` with the "
            f"command's Python); with tox, add mpfix to the environment's deps and "
            f"`pass_env = {VARIABLE}*`; with nox, `session.install(\"mpfix\")` in the session.")


def command_interpreter(program: str) -> Optional[str]:
    """The Python that `program` runs, when that can be told: it is one, or a script's #! names one."""
    path = shutil.which(program)
    if path is None:
        return None
    if Path(path).name.lower().startswith("python"):
        return path
    try:
        with open(path, "rb") as file:
            first_line = file.readline(512)
    except OSError:
        return None
    words = first_line[2:].decode("utf-8", errors="replace").split() if first_line.startswith(b"#!") else []
    if words and Path(words[0]).name == "env":  # `#!/usr/bin/env python3`
        words = words[1:]
    return words[0] if words and Path(words[0]).name.lower().startswith("python") else None


def report(outcomes: Sequence[Outcome], command: Sequence[str], timeout: Optional[float],
           not_compared: Optional[str] = None) -> None:
    """The table and the details on stdout; what went wrong, one line each, on stderr."""
    click.echo(format_table(outcomes))
    details = format_details(outcomes)
    if details:
        click.echo("\n" + "\n".join(details))
    for outcome in outcomes:
        if outcome.timed_out:
            click.echo(f"mpfix: timeout: the command ran longer than {timeout:g}s under "
                       f"{outcome.method} and was ended", err=True)
    not_applied = _methods_with(outcomes, NOT_APPLIED)
    if not_applied:
        click.echo(not_applied_message(not_applied, command), err=True)
    failed = _methods_with(outcomes, FAILED, TIMEOUT)
    if failed:
        click.echo(f"mpfix: failed under {', '.join(failed)}", err=True)
    differs = _methods_with(outcomes, DIFFERS)
    if differs:
        click.echo(f"mpfix: stdout differs from the {BASELINE} run under {', '.join(differs)}; "
                   f"if it legitimately varies between runs, pass --ignore-output", err=True)
    if not_compared:
        click.echo(f"mpfix: stdout not compared with the {BASELINE} run's: {not_compared}", err=True)


def _methods_with(outcomes: Sequence[Outcome], *results: str) -> list[str]:
    return [outcome.method for outcome in outcomes if outcome.result in results]


def exit_status(outcomes: Sequence[Outcome], all_methods: bool) -> int:
    last = outcomes[-1]
    if last.stop_signal is not None:
        return 128 + last.stop_signal
    results = [outcome.result for outcome in outcomes]
    if NOT_APPLIED in results:
        return EXIT_NOT_APPLIED
    if not all_methods:
        return last.exit_code
    return 0 if all(result == PASSED for result in results) else EXIT_FAILED


@click.command(name="run", context_settings={"ignore_unknown_options": True,
                                             "allow_interspersed_args": False})
@click.option("--start-method", "choice", default=None, metavar="|".join((*METHODS, ALL)),
              help="The default start method to force; `all` runs the command once per method. "
                   "Default: forkserver (Python 3.14's Linux default), or spawn where forkserver "
                   "is not available.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS",
              help="End a run that takes longer, with every process it started (a hang is "
                   "the usual way fork-only code fails): exit 124, TIMEOUT in the table.")
@click.option("--show-output", is_flag=True,
              help="Let the command write to the terminal as it runs (for pdb or a live "
                   "progress display) instead of to a log per method; stdout is then not "
                   "compared.")
@click.option("--ignore-output", is_flag=True,
              help="With `all`: do not compare each method's stdout with the fork run's "
                   "(for output that legitimately varies between runs).")
@click.option("--log-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              metavar="DIR",
              help=f"Where the logs go. Default: {LOG_DIRECTORY}/ in the current directory "
                   f"(a temporary directory if that cannot be written).")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def run_command(choice: Optional[str], timeout: Optional[float], show_output: bool,
                ignore_output: bool, log_dir: Optional[Path], command: tuple[str, ...]) -> None:
    """Run COMMAND with multiprocessing's default start method forced.

    Every Python process the command starts (the command itself, its Python
    subprocesses, the workers they start) gets the method as its default, as on
    Python 3.14 (forkserver) or macOS and Windows (spawn): verify a migration
    by running the project's own tests and entry points.

    \b
      mpfix run --start-method spawn -- python -m pytest
      mpfix run --start-method all --timeout 600 -- python -m pytest -x

    The command's output (stdout and stderr, its children's too) goes to
    .mpfix_run/METHOD.log; mpfix prints a table of the results and, for each
    method that failed, the last error in its log. With `all`, a method whose
    stdout differs from the fork run's is `differs`: fork's output is what the
    migration must preserve (start method names, durations and addresses are
    masked). A method no Python process applied is `not applied`: the
    command's Python must have mpfix installed (it carries the start-up hook).

    \b
    Exit codes:
      0        passed under every method
      1        with `all`: FAILED, TIMEOUT or differs under any method
      N        with one method: the command's own exit code (124 after --timeout)
      2        not applied under a method, or a usage error
      128+N    mpfix was stopped by signal N and passed it on (130: Ctrl-C)
    """
    methods = methods_to_run(choice)
    if not command:
        raise UsageError("no command given (e.g. `mpfix run --start-method spawn -- python -m pytest`)")
    if shutil.which(command[0]) is None:
        raise UsageError(f"command not found: {command[0]}")
    if show_output and log_dir is not None:
        raise UsageError("--log-dir has no use with --show-output: the output is not logged")
    logs = None if show_output else prepare_log_directory(log_dir)
    outcomes = run_methods(command, methods, timeout, logs)
    not_compared = None
    if choice == ALL and not ignore_output:
        not_compared = compare_with_baseline(outcomes)
    report(outcomes, command, timeout, not_compared)
    sys.exit(exit_status(outcomes, choice == ALL))
