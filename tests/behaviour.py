"""Behaviour runs: a fixture program run as a real subprocess under one start method.

Every run starts in its own session (process group); a run that outlives its
timeout is killed with the whole group, so a deadlocked worker never outlives
the test. All runs are submitted at once, before the first test of the session,
and go on in the background while the other tests run (conftest.py): most of
their time is waiting, so they overlap far beyond the number of cores.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import notebook_kernel
from fixture_cases import ROOT, STAND_INS, Case
from project_cases import SITE, is_project, lay_out

# A run expected to fail that has not finished after this many seconds hangs: a working
# fixture program ends within a second. Killing it sooner can only confirm a failure, never
# fail a test (a run expected to work gets COMPLETION_TIMEOUT); run.json's `timeout` raises it.
DEFAULT_TIMEOUT = 3.0
COMPLETION_TIMEOUT = 60.0
# What a child of an unguarded program reports under spawn and forkserver (MP001's
# breakage); a run expected to fail that shows it is given this many seconds more.
BOOTSTRAP_ERROR = b"current process has finished its bootstrapping phase"
BOOTSTRAP_GRACE = 1.5
MAX_FAILED_STARTS = 8  # more processes than any fixture program starts
POLL = 0.1  # how often a run's stderr is looked at while it goes on
METHODS = ("fork", "spawn", "forkserver")
# Threads for the runs expected to fail, shared out among pytest-xdist's workers: many of
# those hang until their timeout, idle; a failing spawn run may respawn workers, so not more.
HANG_WORKERS = 16
# The environment as the session started: the runs go on while other tests set variables
# (MPFIX_START_METHOD, FORCE_COLOR) in this process, which must not reach a fixture program.
SESSION_ENVIRONMENT = dict(os.environ)


@dataclass
class Outcome:
    returncode: Optional[int]  # None: killed after the timeout
    stdout: str
    stderr: str

    def summary(self) -> str:
        status = "timed out" if self.returncode is None else f"exit {self.returncode}"
        return f"{status}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr[-3000:]}"


def run_script(workdir: Path, script: str, method: str, argv: "list[str]",
               timeout: float, expected_failure: bool = False) -> Outcome:
    """Run `script` as __main__ under `method` (a notebook's cells as a kernel runs them, see
    notebook_kernel.py); a hang is killed with its process group."""
    if script.endswith(".ipynb"):
        command = notebook_kernel.command(script, method)
    else:
        command = [sys.executable, "-m", "mpfix.verify.startmethod", method, script, *argv]
    # Without `site` (-S, which multiprocessing hands on to the interpreters it starts): the
    # programs use the standard library only, and the venv's site-packages would cost each
    # interpreter the editable install's import finder, three times its bare start.
    command.insert(1, "-S")
    env = {**SESSION_ENVIRONMENT, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
    # mpfix.verify.startmethod (and the start-up hook it uses) from this checkout; a project
    # case's fake installed library before it.
    search = [str(workdir / SITE)] if (workdir / SITE).is_dir() else []
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [*search, str(ROOT),
                                                      env.get("PYTHONPATH")]))
    process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True, env=env)
    code: Optional[int] = None
    try:
        stdout, stderr = _communicate(process, timeout, expected_failure)
        code = process.returncode
    except subprocess.TimeoutExpired:
        pass
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if code is None:
            stdout, stderr = process.communicate()
    return Outcome(code, stdout.decode(errors="replace"), stderr.decode(errors="replace"))


def _communicate(process: subprocess.Popen, timeout: float, expected_failure: bool
                 ) -> tuple[bytes, bytes]:
    """The run's output once it has ended; TimeoutExpired at its deadline. A run expected
    to fail whose stderr says a child started processes while importing the main module
    (an unguarded program under spawn or forkserver) gets BOOTSTRAP_GRACE seconds more,
    not the rest of its timeout, and none once more children than MAX_FAILED_STARTS said
    so: a Pool there replaces its dead workers forever, one new interpreter after another
    on every core, which took the CPU from the other tests."""
    deadline = time.monotonic() + timeout
    graced = False
    while True:
        try:
            return process.communicate(timeout=max(0.0, min(POLL, deadline - time.monotonic())))
        except subprocess.TimeoutExpired as pending:
            failed_starts = (pending.stderr or b"").count(BOOTSTRAP_ERROR) if expected_failure else 0
            if failed_starts > MAX_FAILED_STARTS:
                raise  # more than the program starts: a Pool replacing its dead workers
            if failed_starts and not graced:
                deadline = min(deadline, time.monotonic() + BOOTSTRAP_GRACE)
                graced = True
            if time.monotonic() >= deadline:
                raise


def run_timeout(case: Case, which: str, method: str) -> float:
    """A run expected to hang is killed after run.json's `timeout`; a run expected to
    finish gets at least COMPLETION_TIMEOUT, so a loaded machine cannot fail it."""
    hang_timeout = (case.run or {}).get("timeout", DEFAULT_TIMEOUT)
    return hang_timeout if expected_to_fail(case, which, method) \
        else max(hang_timeout, COMPLETION_TIMEOUT)


def expected_to_fail(case: Case, which: str, method: str) -> bool:
    return which == "before" and method in (case.run or {}).get("before_fails", [])


def run_program(case: Case, which: str, program: bytes, method: str) -> Outcome:
    spec = case.run or {}
    with tempfile.TemporaryDirectory(prefix="mpfix-run-") as tmp:
        workdir = Path(tmp)
        name = spec.get("as", case.program_name)
        if is_project(case.folder):
            lay_out(case, program, workdir)
            for stand_in in spec.get("stand_ins", []):  # shared stand-ins, for the run only
                shutil.copy(STAND_INS / f"{stand_in}.py", workdir / f"{stand_in}.py")
        else:
            for support in case.support_files():
                shutil.copy(support, workdir / support.name)
            if which == "after":  # the modules the fix wrote beside the program
                for companion, content in case.companions().items():
                    (workdir / companion).write_bytes(content)
            (workdir / name).write_bytes(program)
        return run_script(workdir, spec.get("main", name), method, spec.get("argv", []),
                          run_timeout(case, which, method),
                          expected_to_fail(case, which, method))


def expected_output(case: Case, outcome: Outcome) -> bool:
    spec = case.run or {}
    if outcome.returncode != spec.get("returncode", 0):
        return False
    want = spec.get("stdout", "")
    got = outcome.stdout
    if spec.get("unordered"):
        return sorted(got.splitlines()) == sorted(want.splitlines())
    return got.rstrip("\n") == want.rstrip("\n")


class BehaviourRuns:
    """The runs of a session. A run expected to fail often hangs until its timeout, idle:
    those get threads of their own, so they never hold back the runs that compute."""

    def __init__(self, workers: int, hang_workers: int = HANG_WORKERS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers)
        self._hang_pool = ThreadPoolExecutor(max_workers=hang_workers)
        self._runs: dict[tuple[str, str, str], Future[Outcome]] = {}

    def submit_all(self, cases: list[Case]) -> None:
        for case in cases:
            if case.run is None:
                continue
            for method in case.run.get("methods", METHODS):
                if case.after is not None:
                    self._submit(case, "after", case.after, method)
                self._submit(case, "before", case.before, method)

    def _submit(self, case: Case, which: str, program: bytes, method: str) -> None:
        key = (case.id, which, method)
        if key not in self._runs:
            pool = self._hang_pool if expected_to_fail(case, which, method) else self._pool
            self._runs[key] = pool.submit(run_program, case, which, program, method)

    def outcome(self, case: Case, which: str, method: str) -> Outcome:
        """The run's outcome; a run nobody submitted (its test came to another pytest-xdist
        worker than planned) starts now."""
        self._submit(case, which, case.after if which == "after" else case.before, method)
        return self._runs[(case.id, which, method)].result()

    def close(self) -> None:
        for pool in (self._pool, self._hang_pool):
            pool.shutdown(wait=False, cancel_futures=True)
