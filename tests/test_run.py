"""`mpfix run` and the start-up hook behind it, on real commands run as subprocesses."""

from __future__ import annotations

import os
import signal
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from _mpfix_starthook import VARIABLE
from mpfix.verify import run as run_module
from mpfix.verify import runoutput
from mpfix.cli.app import main
from mpfix.verify.runoutput import Difference, first_difference, last_error_line, masked
from start_method_project import PYTEST, TIMEOUT, environment_without_hook, write_project

REPOSITORY = Path(__file__).resolve().parent.parent
# hypothesis, installed for mpfix's own tests, costs seconds at each pytest start on a busy machine
PROJECT_TESTS = [*PYTEST, "-p", "no:hypothesispytest"]
PRINT_METHOD = "import multiprocessing; print(multiprocessing.get_context().get_start_method())"
BOOTSTRAPPING_ERROR = ("RuntimeError: An attempt has been made to start a new process before the "
                       "current process has finished its bootstrapping phase.")

# The worker reads a global the parent set: 10 under fork, the import-time 1 under spawn and
# forkserver. The program passes everywhere; only its answer tells the methods apart.
ANSWER = '''\
import multiprocessing

FACTOR = 1


def report(queue):
    queue.put(FACTOR)


if __name__ == "__main__":
    FACTOR = 10
    queue = multiprocessing.Queue()
    worker = multiprocessing.Process(target=report, args=(queue,))
    worker.start()
    print("the parent set the factor")
    print("factor seen by the worker:", queue.get())
    worker.join()
'''

# Unguarded: a spawned child re-runs the module, prints its noise again and dies starting a
# process during its bootstrapping; the parent exits with the child's exit code.
UNGUARDED = '''\
import multiprocessing
import sys

for number in range(NOISE_LINES):
    print("noise line", number, file=sys.stderr)


def work():
    pass


worker = multiprocessing.Process(target=work)
worker.start()
worker.join()
sys.exit(worker.exitcode)
'''
NOISE_LINES = 10_000


def mpfix(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mpfix", *arguments], cwd=cwd,
                          env=environment_without_hook(), capture_output=True, text=True,
                          timeout=TIMEOUT)


def python(code: str, **variables: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env={**environment_without_hook(), **variables},
                          capture_output=True, text=True, timeout=TIMEOUT)


def table(stdout: str) -> list[list[str]]:
    """The rows of the results table (it ends at the first blank line), header included."""
    rows = stdout.split("\n\n")[0].splitlines()
    return [row.replace("not applied", "not-applied").split() for row in rows]


def results(stdout: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in table(stdout)[1:]]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "project")


# Results, logs and exit codes -------------------------------------------------------------

def test_single_method_gives_the_command_exit_code_and_its_failure(project: Path) -> None:
    fork = mpfix("run", "--start-method", "fork", "--", *PROJECT_TESTS, cwd=project)
    assert fork.returncode == 0, fork.stdout + fork.stderr
    spawn = mpfix("run", "--start-method", "spawn", "--", *PROJECT_TESTS, cwd=project)
    assert spawn.returncode == 1, spawn.stdout + spawn.stderr
    assert results(spawn.stdout) == [("spawn", "FAILED")]
    # pytest's own report is in the log; its short summary line is the error shown
    assert "1 failed" in (project / ".mpfix_run" / "spawn.log").read_text()
    assert "1 failed" not in spawn.stdout
    assert "spawn: FAILED test_app.py::test_workers_see_the_factor - assert [1, 2, 3] == " in spawn.stdout
    assert "  log: .mpfix_run/spawn.log" in spawn.stdout
    assert "warning" not in spawn.stderr


def test_all_runs_once_per_method_and_reports_each(tmp_path: Path) -> None:
    # the project's verdicts at the cost of a bare interpreter: passes only under fork
    fails_unless_fork = ("import multiprocessing, sys; "
                         "sys.exit(multiprocessing.get_context().get_start_method() != 'fork')")
    result = mpfix("run", "--start-method", "all", "--", sys.executable, "-c", fails_unless_fork,
                   cwd=tmp_path)
    assert result.returncode == 1
    rows = table(result.stdout)
    assert rows[0] == ["method", "result", "exit", "time", "python", "starts"]
    assert [row[:3] + row[4:] for row in rows[1:]] == [
        ["fork", "passed", "0", "1"], ["spawn", "FAILED", "1", "1"], ["forkserver", "FAILED", "1", "1"]]
    assert "mpfix: failed under spawn, forkserver" in result.stderr
    # nothing was printed: the last line of output is all there is to say
    assert "spawn: no output\n  log: .mpfix_run/spawn.log" in result.stdout


def test_all_passes_when_every_method_passes(tmp_path: Path) -> None:
    result = mpfix("run", "--start-method", "all", "--", sys.executable, "-c", "pass", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert results(result.stdout) == [("fork", "passed"), ("spawn", "passed"), ("forkserver", "passed")]
    assert result.stdout.count("\n") == 4  # the table and nothing else


def test_fix_makes_every_method_pass_with_the_same_output(project: Path) -> None:
    fixed = mpfix("fix", "--isolated", "--no-cache", "app.py", cwd=project)
    assert fixed.returncode == 1, fixed.stderr  # 1: a file changed
    assert "partial" in (project / "app.py").read_text()
    result = mpfix("run", "--start-method", "all", "--", *PROJECT_TESTS, cwd=project)
    # pytest prints `1 passed in 0.52s` and names the method in its header: masked, not differs
    assert result.returncode == 0, result.stdout + result.stderr
    assert results(result.stdout) == [("fork", "passed"), ("spawn", "passed"), ("forkserver", "passed")]


def test_output_that_differs_from_fork_is_differs(tmp_path: Path) -> None:
    (tmp_path / "answer.py").write_text(ANSWER)
    result = mpfix("run", "--start-method", "all", "--", sys.executable, "answer.py", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert results(result.stdout) == [("fork", "passed"), ("spawn", "differs"), ("forkserver", "differs")]
    assert result.stdout.split("\n\n", 1)[1] == textwrap.dedent("""\
        spawn: stdout differs from fork's at line 2
          fork:  factor seen by the worker: 10
          spawn: factor seen by the worker: 1
          log: .mpfix_run/spawn.log
        forkserver: stdout differs from fork's at line 2
          fork:       factor seen by the worker: 10
          forkserver: factor seen by the worker: 1
          log: .mpfix_run/forkserver.log
        """)
    assert ("mpfix: stdout differs from the fork run under spawn, forkserver; if it legitimately "
            "varies between runs, pass --ignore-output") in result.stderr


def test_ignore_output_judges_by_exit_code_alone(tmp_path: Path) -> None:
    (tmp_path / "answer.py").write_text(ANSWER)
    result = mpfix("run", "--start-method", "all", "--ignore-output", "--", sys.executable,
                   "answer.py", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert results(result.stdout) == [("fork", "passed"), ("spawn", "passed"), ("forkserver", "passed")]
    assert "differs" not in result.stdout + result.stderr
    # the answers are still in the logs
    assert "factor seen by the worker: 1\n" in (tmp_path / ".mpfix_run" / "spawn.stdout").read_text()


def test_what_varies_by_itself_is_not_a_difference(tmp_path: Path) -> None:
    prints_volatile = ("import multiprocessing as mp, time; started = time.perf_counter(); "
                       "print('start method', mp.get_start_method()); print(object()); "
                       "print(f'took {time.perf_counter() - started:.9f}s')")
    result = mpfix("run", "--start-method", "all", "--", sys.executable, "-c", prints_volatile,
                   cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    spawn_output = (tmp_path / ".mpfix_run" / "spawn.stdout").read_text()
    assert spawn_output.startswith("start method spawn\n<object object at 0x")


def test_huge_child_output_goes_to_the_log_and_the_error_is_shown(tmp_path: Path) -> None:
    (tmp_path / "unguarded.py").write_text(UNGUARDED.replace("NOISE_LINES", str(NOISE_LINES)))
    result = mpfix("run", "--start-method", "all", "--", sys.executable, "unguarded.py", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    # the table, then per failed method its error and its log: nothing of the 50,000 lines
    assert result.stdout.split("\n\n", 1)[1] == textwrap.dedent(f"""\
        spawn: {BOOTSTRAPPING_ERROR}
          log: .mpfix_run/spawn.log
        forkserver: {BOOTSTRAPPING_ERROR}
          log: .mpfix_run/forkserver.log
        """)
    assert results(result.stdout) == [("fork", "passed"), ("spawn", "FAILED"), ("forkserver", "FAILED")]
    assert len(result.stderr.splitlines()) == 4  # three "start method" lines and "failed under"
    spawn_log = (tmp_path / ".mpfix_run" / "spawn.log").read_text()
    # the parent's noise and the child's again, whole lines, and the child's traceback
    assert spawn_log.count("noise line ") == 2 * NOISE_LINES
    assert all(line.startswith("noise line ") for line in spawn_log.splitlines()[:NOISE_LINES])
    assert "Traceback (most recent call last):" in spawn_log
    assert (tmp_path / ".mpfix_run" / "fork.log").read_text().count("noise line ") == NOISE_LINES


def test_show_output_streams_and_keeps_no_log(tmp_path: Path) -> None:
    # the command's Python subprocesses get the method too
    command = ("import subprocess, sys; " + PRINT_METHOD + "; print('to stderr', file=sys.stderr)"
               + f"; subprocess.run([sys.executable, '-c', {PRINT_METHOD!r}], check=True)")
    result = mpfix("run", "--start-method", "spawn", "--show-output", "--", sys.executable, "-c",
                   command, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("spawn\nspawn\nmethod ")
    assert results(result.stdout.split("\n", 2)[2]) == [("spawn", "passed")]
    assert "to stderr\n" in result.stderr
    assert not (tmp_path / ".mpfix_run").exists()


def test_show_output_with_all_says_that_output_was_not_compared(tmp_path: Path) -> None:
    result = mpfix("run", "--start-method", "all", "--show-output", "--", sys.executable, "-c",
                   PRINT_METHOD, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("fork\nspawn\nforkserver\nmethod ")
    assert ("mpfix: stdout not compared with the fork run's: --show-output leaves it uncaptured"
            in result.stderr)


def test_log_directory_holds_the_last_run_only_and_is_ignored_by_git(tmp_path: Path) -> None:
    logs = tmp_path / ".mpfix_run"
    first = mpfix("run", "--start-method", "all", "--", sys.executable, "-c", "print(1)", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert sorted(path.name for path in logs.iterdir()) == [
        ".gitignore", "fork.log", "fork.stdout", "forkserver.log", "forkserver.stdout",
        "spawn.log", "spawn.stdout"]
    assert (logs / ".gitignore").read_text().endswith("\n*\n")
    second = mpfix("run", "--start-method", "spawn", "--", sys.executable, "-c", "print(2)",
                   cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert sorted(path.name for path in logs.iterdir()) == [".gitignore", "spawn.log", "spawn.stdout"]
    assert (logs / "spawn.log").read_text() == "2\n"


def test_log_dir_keeps_other_files_and_gets_no_gitignore(tmp_path: Path) -> None:
    chosen = tmp_path / "artifacts" / "run"
    chosen.mkdir(parents=True)
    (chosen / "notes.txt").write_text("mine")
    (chosen / "spawn.log").write_text("an earlier run")
    result = mpfix("run", "--start-method", "spawn", "--log-dir", str(chosen), "--", sys.executable,
                   "-c", "import sys; sys.exit('it broke')", cwd=tmp_path)
    assert result.returncode == 1
    assert sorted(path.name for path in chosen.iterdir()) == ["notes.txt", "spawn.log", "spawn.stdout"]
    assert (chosen / "spawn.log").read_text() == "it broke\n"
    assert "spawn: last line of output: it broke\n  log: artifacts/run/spawn.log\n" in result.stdout


def test_not_applied_where_the_commands_python_lacks_mpfix(tmp_path: Path) -> None:
    # a fresh virtual environment: its Python has no mpfix, so no start-up hook
    environment = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(environment)], check=True,
                   timeout=TIMEOUT)
    bare_python = environment / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    result = mpfix("run", "--start-method", "all", "--", str(bare_python), "-c", "print('ok')",
                   cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert [row[:3] + row[4:] for row in table(result.stdout)[1:]] == [
        ["fork", "not-applied", "0", "0"], ["spawn", "not-applied", "0", "0"],
        ["forkserver", "not-applied", "0", "0"]]
    assert ("mpfix: not applied under fork, spawn, forkserver: no Python process of the command "
            "took the start method") in result.stderr
    assert "does not have mpfix installed" in result.stderr
    assert "install mpfix in that environment" in result.stderr
    assert f"pass_env = {VARIABLE}*" in result.stderr and 'session.install("mpfix")' in result.stderr
    assert "differs" not in result.stdout + result.stderr


def test_not_applied_is_exit_2_even_when_the_command_passes(tmp_path: Path) -> None:
    # -S skips site-packages and with it the .pth hook: the variable reaches no hook
    result = mpfix("run", "--start-method", "spawn", "--", sys.executable, "-S", "-c", "pass",
                   cwd=tmp_path)
    assert result.returncode == 2
    assert results(result.stdout) == [("spawn", "not-applied")]
    assert "mpfix: not applied under spawn:" in result.stderr


def test_a_process_left_running_does_not_hold_the_run(tmp_path: Path) -> None:
    # the sleeper inherits the command's stdout and keeps it open after the command exits
    leaves_a_sleeper = ("import subprocess; sleeper = subprocess.Popen(['sleep', '60']); "
                        "print(sleeper.pid); print('command done')")
    result = mpfix("run", "--start-method", "fork", "--", sys.executable, "-c", leaves_a_sleeper,
                   cwd=tmp_path)
    sleeper = int((tmp_path / ".mpfix_run" / "fork.stdout").read_text().split()[0])
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        assert results(result.stdout) == [("fork", "passed")]
        log = (tmp_path / ".mpfix_run" / "fork.log").read_text()
        assert log.endswith("command done\n" + run_module.LINGERING_NOTE.decode())
    finally:
        os.kill(sleeper, signal.SIGKILL)


def test_timeout_ends_the_command_and_its_workers(tmp_path: Path) -> None:
    hangs = ("import multiprocessing, time; worker = multiprocessing.Process(target=time.sleep, "
             "args=(60,)); worker.start(); print(worker.pid, flush=True); worker.join()")
    result = mpfix("run", "--start-method", "fork", "--timeout", "3", "--", sys.executable, "-c",
                   hangs, cwd=tmp_path)
    assert result.returncode == 124
    assert results(result.stdout) == [("fork", "TIMEOUT")]
    assert "ran longer than 3s under fork and was ended" in result.stderr
    assert not running(int((tmp_path / ".mpfix_run" / "fork.stdout").read_text()))


def running(pid: int) -> bool:
    """Alive and not a zombie waiting for init to reap it (Linux /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_exit_code_of_a_killed_command_is_128_plus_signal(tmp_path: Path) -> None:
    result = mpfix("run", "--start-method", "fork", "--", sys.executable, "-c",
                   "import os, signal; os.kill(os.getpid(), signal.SIGTERM)", cwd=tmp_path)
    assert result.returncode == 128 + 15


def test_help_documents_the_exit_codes() -> None:
    result = CliRunner().invoke(main, ["run", "--help"])
    assert result.exit_code == 0
    help_text = " ".join(result.output.split())
    for line in ("0 passed under every method",
                 "1 with `all`: FAILED, TIMEOUT or differs under any method",
                 "N with one method: the command's own exit code (124 after --timeout)",
                 "2 not applied under a method, or a usage error",
                 "128+N mpfix was stopped by signal N and passed it on (130: Ctrl-C)"):
        assert line in help_text


def test_readme_gives_the_exit_codes_of_the_help() -> None:
    readme = (REPOSITORY / "README.md").read_text()
    rows = readme.split("Exit codes of `mpfix run`:", 1)[1].split("\n\n", 2)[1].splitlines()[2:]
    help_text = " ".join(CliRunner().invoke(main, ["run", "--help"]).output.replace("`", "").split())
    documented = [[cell.strip().replace("`", "") for cell in row.strip("|").split("|")]
                  for row in rows]
    assert [code for code, _ in documented] == ["0", "1", "N", "2", "128+N"]
    for code, when in documented:
        assert when in help_text, when


@pytest.mark.parametrize("arguments, message", [
    (["--start-method", "thread", "--", "true"], "unknown start method 'thread' (choose from fork, spawn, forkserver, all)"),
    (["--start-method", "spawn"], "no command given"),
    (["--start-method", "spawn", "--"], "no command given"),
    (["--", "no-such-command-for-mpfix"], "command not found: no-such-command-for-mpfix"),
    (["--show-output", "--log-dir", "logs", "--", "true"], "--log-dir has no use with --show-output"),
])
def test_usage_errors_are_one_line_and_exit_2(arguments: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["run", *arguments])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert result.output.startswith("mpfix: error: ") and message in result.output


def test_a_log_dir_that_cannot_be_written_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = CliRunner().invoke(main, ["run", "--log-dir", str(tmp_path / "file" / "logs"), "--", "true"])
    assert result.exit_code == 2
    assert result.output.startswith(f"mpfix: error: cannot write logs to {tmp_path / 'file' / 'logs'}: ")
    assert result.output.count("\n") == 1


def test_forkserver_where_the_platform_lacks_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_module, "available_methods", lambda: ["spawn"])
    result = CliRunner().invoke(main, ["run", "--start-method", "forkserver", "--", "true"])
    assert result.exit_code == 2
    assert result.output == ("mpfix: error: start method 'forkserver' is not available on this "
                             "platform (available: spawn)\n")
    assert run_module.default_method() == "spawn"


# What a log says ---------------------------------------------------------------------------

def log_of(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "method.log"
    path.write_text(textwrap.dedent(text))
    return path


def test_error_line_is_the_last_exception_with_its_message_paragraph_joined(tmp_path: Path) -> None:
    log = log_of(tmp_path, '''\
        Traceback (most recent call last):
          File "app.py", line 3, in <module>
        ValueError: the first one
        Process SpawnProcess-1:
        Traceback (most recent call last):
          File "<string>", line 1, in <module>
        noise line 7
          File "/usr/lib/python3.11/multiprocessing/spawn.py", line 131, in _main
            prepare(preparation_data)
            ^^^^^^^^^^^^^^^^^^^^^^^^^
        RuntimeError:\x20
                An attempt has been made to start a new process before the
                current process has finished its bootstrapping phase.

                This probably means that you are not using fork to start your
        noise line 8
        ''')
    assert last_error_line(log) == runoutput.ErrorLine(BOOTSTRAPPING_ERROR, True)


def test_error_line_of_chained_and_bare_exceptions(tmp_path: Path) -> None:
    chained = log_of(tmp_path, '''\
        multiprocessing.pool.RemoteTraceback:\x20
        """
        Traceback (most recent call last):
          File "pool.py", line 125, in worker
        NameError: name 'SCALE' is not defined
        """

        The above exception was the direct cause of the following exception:

        Traceback (most recent call last):
          File "app.py", line 9, in <module>
        multiprocessing.pool.MaybeEncodingError: Error sending result
        value: 3
        ''')
    assert last_error_line(chained).text == "multiprocessing.pool.MaybeEncodingError: Error sending result"
    bare = log_of(tmp_path, "Traceback (most recent call last):\n  File \"x.py\", line 1\nKeyboardInterrupt\n")
    assert last_error_line(bare).text == "KeyboardInterrupt"


def test_error_line_of_a_cut_traceback_is_the_one_before(tmp_path: Path) -> None:
    # killed by --timeout in the middle of a traceback; stdout goes on in the log
    log = log_of(tmp_path, '''\
        Traceback (most recent call last):
          File "a.py", line 1, in <module>
        OSError: [Errno 24] Too many open files
        Traceback (most recent call last):
          File "a.py", line 1, in <module>
        value: 3
        ''')
    assert last_error_line(log).text == "OSError: [Errno 24] Too many open files"


def test_error_line_of_pytest_and_unittest(tmp_path: Path) -> None:
    pytest_log = log_of(tmp_path, '''\
        E       AssertionError: assert 1 == 10
        test_app.py:5: AssertionError
        =========================== short test summary info ============================
        FAILED test_app.py::test_factor - AssertionError: assert 1 == 10
        1 failed in 0.52s
        ''')
    assert last_error_line(pytest_log).text == "FAILED test_app.py::test_factor - AssertionError: assert 1 == 10"
    unittest_log = log_of(tmp_path, '''\
        Traceback (most recent call last):
          File "test_app.py", line 5, in test_factor
        AssertionError: 1 != 10

        ----------------------------------------------------------------------
        Ran 1 test in 0.004s

        FAILED (failures=1)
        ''')
    assert last_error_line(unittest_log).text == "AssertionError: 1 != 10"


def test_error_line_without_an_error_is_the_last_line(tmp_path: Path) -> None:
    assert last_error_line(log_of(tmp_path, "result: 4\nusage: tool [-h]\n\n")) == \
        runoutput.ErrorLine("usage: tool [-h]", False)
    assert last_error_line(log_of(tmp_path, "")) is None
    assert last_error_line(log_of(tmp_path, "x" * 1000)).text == "x" * 299 + "…"


def test_error_line_at_the_end_of_a_log_bigger_than_what_is_read(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runoutput, "TAIL_BYTES", 200)
    log = log_of(tmp_path, "Traceback (most recent call last):\nValueError: early\n"
                 + "output line\n" * 100 + "Traceback (most recent call last):\n"
                 "  File \"x.py\", line 1\nTypeError: late\n")
    assert last_error_line(log).text == "TypeError: late"


def test_first_difference_masks_what_varies_by_itself(tmp_path: Path) -> None:
    fork, spawn = tmp_path / "fork.stdout", tmp_path / "spawn.stdout"
    fork.write_text("ForkPoolWorker-1 done in 0.52s at 12:00:01\n<Lock at 0x7f3a2c1b9d50>\nsum: 3\n")
    spawn.write_text("SpawnPoolWorker-1 done in 1.2 seconds at 12:00:04.5\n<Lock at 0x7f0000aa0010>\n"
                     "sum: 0\n")
    assert first_difference(fork, spawn) == Difference(3, "sum: 3", "sum: 0")
    spawn.write_text("ForkServerPoolWorker-1 done in 3ms at 09:59:59\n<Lock at 0x55d1c0ffee00>\nsum: 3")
    assert first_difference(fork, spawn) is None
    spawn.write_text("ForkServerPoolWorker-1 done in 3ms at 09:59:59\n")
    assert first_difference(fork, spawn) == Difference(2, "<Lock at 0x7f3a2c1b9d50>", None)


def test_masking_keeps_words_and_numbers_that_are_not_volatile() -> None:
    assert masked("forked 3 samples in 10 sets; spawned\n") == "forked 3 samples in 10 sets; spawned"
    assert masked("lines with errors: 3") == "lines with errors: 3"
    assert masked("method fork, 2s") == "method <method>, <time>"


# The start-up hook ---------------------------------------------------------------------------

def test_hook_is_installed_and_current() -> None:
    installed = [Path(directory, "mpfix-startmethod.pth") for directory in site.getsitepackages()]
    found = [path for path in installed if path.is_file()]
    assert found, "mpfix-startmethod.pth is not in site-packages: reinstall with `pip install -e .`"
    assert found[0].read_text() == (REPOSITORY / "mpfix-startmethod.pth").read_text()


def test_hook_is_inert_without_the_variable() -> None:
    result = python("import sys; print([m for m in ('_mpfix_starthook', 'multiprocessing') "
                    "if m in sys.modules])")
    assert (result.stdout, result.stderr) == ("[]\n", "")


def test_hook_forces_the_default_without_setting_it() -> None:
    # as Python 3.14's forkserver default: nothing is set, and the program may still set it
    code = ("import multiprocessing as mp; print(mp.get_start_method(allow_none=True)); "
            "mp.set_start_method('fork'); print(mp.get_start_method())")
    result = python(code, **{VARIABLE: "forkserver"})
    assert (result.stdout.split(), result.stderr) == (["None", "fork"], "")
    assert python(PRINT_METHOD, **{VARIABLE: "forkserver"}).stdout == "forkserver\n"


def test_hook_warns_once_about_a_bad_value_and_changes_nothing() -> None:
    default = python(PRINT_METHOD).stdout
    result = python(PRINT_METHOD, **{VARIABLE: "threads"})
    assert result.returncode == 0
    assert result.stdout == default
    assert result.stderr == (f"mpfix: warning: {VARIABLE}='threads' is not a start method "
                             "(fork, spawn, forkserver); the default start method is unchanged\n")
