"""`mpfix run`: run a project's own command under a forced default start method.

The command runs with MPFIX_START_METHOD set; mpfix's start-up hook (see
`_mpfix_starthook.py`) applies it in every Python process the command starts, so
`mpfix run --start-method spawn -- python -m pytest` runs the test suite, and the
workers it starts, as they will run on a platform whose default is spawn. Each
process that applied the method records itself in a log, so mpfix can say when
the variable never reached a Python that has the hook installed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence

import click

from _mpfix_starthook import LOG_VARIABLE, VARIABLE
from mpfix.errors import UsageError
from mpfix.startmethod import METHODS, available_methods

ALL = "all"
EXIT_FAILED, EXIT_TIMEOUT = 1, 124  # 124: a timeout, as coreutils' timeout says
PASSED_ON = ("SIGINT", "SIGTERM", "SIGHUP")  # Ctrl-C, a CI job cancelled, a closed terminal


@dataclass
class Outcome:
    method: str
    exit_code: int
    seconds: float
    python_starts: int  # interpreters that applied the method
    timed_out: bool = False
    stop_signal: Optional[int] = None  # a signal mpfix received and passed on

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    @property
    def result(self) -> str:
        if self.stop_signal is not None:
            return "stopped"
        if self.timed_out:
            return "TIMEOUT"
        return "passed" if self.passed else "FAILED"


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


def run_under(command: Sequence[str], method: str, timeout: Optional[float] = None) -> Outcome:
    """Run `command` once with `method` forced, its streams those of mpfix.

    With a timeout the command leads a process group of its own, so that the
    workers of a hung run are ended with it.
    """
    with tempfile.TemporaryDirectory(prefix="mpfix-starts-") as directory:
        log = Path(directory, "python-starts")
        log.touch()
        environment = {**os.environ, VARIABLE: method, LOG_VARIABLE: str(log)}
        own_group = timeout is not None
        started = time.perf_counter()
        try:
            process = subprocess.Popen(list(command), env=environment, start_new_session=own_group)
        except OSError as error:
            raise UsageError(f"cannot run {command[0]}: {error.strerror or error}") from None
        with _signals_passed_to(process, own_group) as received:
            exit_code, timed_out = _wait(process, timeout)
        seconds = time.perf_counter() - started
        python_starts = len(log.read_text(encoding="ascii").split())
    return Outcome(method, exit_code, seconds, python_starts, timed_out,
                   received[0] if received else None)


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


def _warn_if_unhooked(outcome: Outcome) -> None:
    if outcome.python_starts == 0 and outcome.stop_signal is None and not outcome.timed_out:
        click.echo(
            f"mpfix: warning: no Python process of the command applied start method "
            f"{outcome.method}: is mpfix installed in the environment of the command's Python? "
            f"(mpfix runs from {sys.prefix})", err=True)


def format_table(outcomes: Sequence[Outcome]) -> str:
    rows = [("method", "result", "exit", "time", "python starts")]
    for outcome in outcomes:
        rows.append((outcome.method, outcome.result, str(outcome.exit_code),
                     f"{outcome.seconds:.2f}s", str(outcome.python_starts)))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in rows)


def run_each(command: Sequence[str], methods: Sequence[str], timeout: Optional[float]) -> int:
    outcomes = []
    for method in methods:
        click.echo(f"mpfix: start method {method}: {shlex.join(command)}", err=True)
        outcome = run_under(command, method, timeout)
        _warn_if_unhooked(outcome)
        outcomes.append(outcome)
        if outcome.stop_signal is not None:
            break
    click.echo(format_table(outcomes))
    stopped = outcomes[-1].stop_signal
    if stopped is not None:
        return 128 + stopped
    failed = [outcome.method for outcome in outcomes if not outcome.passed]
    if failed:
        click.echo(f"mpfix: failed under {', '.join(failed)}", err=True)
        return EXIT_FAILED
    return 0


@click.command(name="run", context_settings={"ignore_unknown_options": True,
                                             "allow_interspersed_args": False})
@click.option("--start-method", "choice", default=None, metavar="|".join((*METHODS, ALL)),
              help="The default start method to force; `all` runs the command once per method "
                   "and prints a table. Default: forkserver (Python 3.14's Linux default), or "
                   "spawn where forkserver is not available.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS",
              help="End a run that takes longer, with every process it started (a hang is "
                   "the usual way fork-only code fails): exit 124, TIMEOUT in the table.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def run_command(choice: Optional[str], timeout: Optional[float], command: tuple[str, ...]) -> None:
    """Run COMMAND with multiprocessing's default start method forced.

    Every Python process the command starts (the command itself, its Python
    subprocesses, the workers they start) gets the method as its default, as on
    Python 3.14 (forkserver) or macOS and Windows (spawn): verify a migration
    by running the project's own tests and entry points.

    \b
      mpfix run --start-method spawn -- python -m pytest
      mpfix run --start-method all --timeout 600 -- python -m pytest -x

    Exit code: the command's own (124 after --timeout); with `all`, 1 if it
    failed under any method.
    The Python the command runs must have mpfix installed (it carries the
    start-up hook); mpfix warns when no Python process applied the method.
    """
    methods = methods_to_run(choice)
    if not command:
        raise UsageError("no command given (e.g. `mpfix run --start-method spawn -- python -m pytest`)")
    if shutil.which(command[0]) is None:
        raise UsageError(f"command not found: {command[0]}")
    if choice == ALL:
        sys.exit(run_each(command, methods, timeout))
    outcome = run_under(command, methods[0], timeout)
    _warn_if_unhooked(outcome)
    if outcome.timed_out:
        click.echo(f"mpfix: timeout: the command ran longer than {timeout:g}s under "
                   f"{outcome.method} and was ended", err=True)
    sys.exit(outcome.exit_code)
