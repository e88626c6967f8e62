"""`mpfix run` and the start-up hook behind it, on a real project run as subprocesses."""

from __future__ import annotations

import site
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from _mpfix_starthook import VARIABLE
from mpfix import run as run_module
from mpfix.cli import main
from start_method_project import PYTEST, TIMEOUT, environment_without_hook, write_project

REPOSITORY = Path(__file__).resolve().parent.parent
PRINT_METHOD = "import multiprocessing; print(multiprocessing.get_context().get_start_method())"


def mpfix(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mpfix", *arguments], cwd=cwd,
                          env=environment_without_hook(), capture_output=True, text=True,
                          timeout=TIMEOUT)


def python(code: str, **variables: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env={**environment_without_hook(), **variables},
                          capture_output=True, text=True, timeout=TIMEOUT)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "project")


def test_single_method_gives_the_command_exit_code(project: Path) -> None:
    fork = mpfix("run", "--start-method", "fork", "--", *PYTEST, cwd=project)
    assert fork.returncode == 0, fork.stdout + fork.stderr
    spawn = mpfix("run", "--start-method", "spawn", "--", *PYTEST, cwd=project)
    assert spawn.returncode == 1, spawn.stdout + spawn.stderr
    assert "1 failed" in spawn.stdout
    assert "warning" not in spawn.stderr


def test_all_runs_once_per_method_and_reports_each(tmp_path: Path) -> None:
    # the project's verdicts at the cost of a bare interpreter: passes only under fork
    fails_unless_fork = ("import multiprocessing, sys; "
                         "sys.exit(multiprocessing.get_context().get_start_method() != 'fork')")
    result = mpfix("run", "--start-method", "all", "--", sys.executable, "-c", fails_unless_fork,
                   cwd=tmp_path)
    assert result.returncode == 1
    table = [line.split() for line in result.stdout.splitlines()]
    assert table[0] == ["method", "result", "exit", "time", "python", "starts"]
    assert [row[:3] + row[4:] for row in table[1:]] == [
        ["fork", "passed", "0", "1"], ["spawn", "FAILED", "1", "1"], ["forkserver", "FAILED", "1", "1"]]
    assert "mpfix: failed under spawn, forkserver" in result.stderr


def test_all_passes_when_every_method_passes(tmp_path: Path) -> None:
    result = mpfix("run", "--start-method", "all", "--", sys.executable, "-c", "pass", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [line.split()[:2] for line in result.stdout.splitlines()[1:]] == [
        ["fork", "passed"], ["spawn", "passed"], ["forkserver", "passed"]]


def test_fix_makes_the_spawn_run_pass(project: Path) -> None:
    fixed = mpfix("fix", "--isolated", "--no-cache", "app.py", cwd=project)
    assert fixed.returncode == 1, fixed.stderr  # 1: a file changed
    assert "partial" in (project / "app.py").read_text()
    result = mpfix("run", "--start-method", "spawn", "--", *PYTEST, cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr


def test_python_subprocesses_of_the_command_get_the_method(tmp_path: Path) -> None:
    command = ("import subprocess, sys; " + PRINT_METHOD
               + f"; subprocess.run([sys.executable, '-c', {PRINT_METHOD!r}], check=True)")
    result = mpfix("run", "--start-method", "spawn", "--", sys.executable, "-c", command, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["spawn", "spawn"]


def test_warns_when_no_python_process_applied_the_method(tmp_path: Path) -> None:
    # -S skips site-packages and with it the .pth hook: the variable reaches no hook
    result = mpfix("run", "--start-method", "spawn", "--", sys.executable, "-S", "-c", "pass",
                   cwd=tmp_path)
    assert result.returncode == 0
    assert "warning: no Python process of the command applied start method spawn" in result.stderr


def test_timeout_ends_the_command_and_its_workers(tmp_path: Path) -> None:
    hangs = ("import multiprocessing, time; worker = multiprocessing.Process(target=time.sleep, "
             "args=(60,)); worker.start(); print(worker.pid, flush=True); worker.join()")
    result = mpfix("run", "--start-method", "fork", "--timeout", "3", "--", sys.executable, "-c",
                   hangs, cwd=tmp_path)
    assert result.returncode == 124
    assert "ran longer than 3s under fork and was ended" in result.stderr
    assert not running(int(result.stdout))


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


@pytest.mark.parametrize("arguments, message", [
    (["--start-method", "thread", "--", "true"], "unknown start method 'thread' (choose from fork, spawn, forkserver, all)"),
    (["--start-method", "spawn"], "no command given"),
    (["--start-method", "spawn", "--"], "no command given"),
    (["--", "no-such-command-for-mpfix"], "command not found: no-such-command-for-mpfix"),
])
def test_usage_errors_are_one_line_and_exit_2(arguments: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["run", *arguments])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert result.output.startswith("mpfix: error: ") and message in result.output


def test_forkserver_where_the_platform_lacks_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_module, "available_methods", lambda: ["spawn"])
    result = CliRunner().invoke(main, ["run", "--start-method", "forkserver", "--", "true"])
    assert result.exit_code == 2
    assert result.output == ("mpfix: error: start method 'forkserver' is not available on this "
                             "platform (available: spawn)\n")
    assert run_module.default_method() == "spawn"


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
