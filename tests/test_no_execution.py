"""mpfix never imports or executes the code it analyses.

Every Python file in the project under test writes a marker file when it is
imported or run: scripts mpfix fixes, package `__init__.py`, `setup.py`,
`conftest.py`, and modules named like what mpfix itself imports (`click.py`,
`libcst.py`, `json.py`, even `multiprocessing.py`), which would be picked up if
the project's directory were ever put on `sys.path`. After checking, fixing,
diffing and reading from stdin, with and without worker processes, no marker
may exist.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from safety_support import MPFIX, UNGUARDED_POOL, assert_no_traceback, run_mpfix

from mpfix import check_code, fix_code
from mpfix.engine.runner import PARALLEL_THRESHOLD

SHADOWING = ["click", "libcst", "pathspec", "json", "typing", "dataclasses", "signal",
             "multiprocessing", "concurrent", "tomllib", "mpfix", "difflib", "tempfile"]
SCRIPTS = 20
# Enough bytes that `-j 2` really starts worker processes (the runner's threshold).
PADDING_LINE = "# padding " + "." * 70 + "\n"
PADDING = PADDING_LINE * (2 * PARALLEL_THRESHOLD // SCRIPTS // len(PADDING_LINE))


def _marking(marker: Path, body: str) -> str:
    return (f"import pathlib\npathlib.Path({str(marker)!r}).write_text('executed')\n"
            + body)


def _project(root: Path, markers: Path) -> Path:
    project = root / "project"
    (project / "pkg").mkdir(parents=True)
    files = {
        "setup.py": "",
        "conftest.py": "",
        "__main__.py": "",
        "pkg/__init__.py": "import multiprocessing\npool = multiprocessing.Pool(2)\n",
        "pkg/tasks.py": UNGUARDED_POOL,
        **{f"{name}.py": "" for name in SHADOWING},
        **{f"script{n:02d}.py": PADDING + UNGUARDED_POOL for n in range(SCRIPTS)},
    }
    for name, body in files.items():
        marker = markers / (name.replace("/", "_") + ".ran")
        (project / name).write_text(_marking(marker, body))
    (project / "pyproject.toml").write_text("[tool.mpfix]\nunsafe-fixes = true\n")
    return project


@pytest.fixture
def markers(tmp_path: Path) -> Path:
    directory = tmp_path / "markers"
    directory.mkdir()
    return directory


def _console_script() -> list[str]:
    script = Path(sys.executable).with_name("mpfix")
    return [str(script)] if script.exists() else []


def test_nothing_is_imported_or_run(tmp_path: Path, markers: Path) -> None:
    project = _project(tmp_path, markers)
    runs = [
        ("check", "--no-cache", "-j", "2", "--output-format", "json", "."),
        ("fix", "--diff", "--no-cache", "-j", "1", "."),
        ("fix", "-j", "2", "."),  # with the cache, written here and read below
        ("check", "."),
    ]
    for arguments in runs:
        completed = run_mpfix(*arguments, cwd=project, timeout=600)
        assert_no_traceback(completed)
        assert completed.returncode in (0, 1), completed.stderr
        assert not list(markers.iterdir()), (arguments, list(markers.iterdir()))
    assert 'if __name__ == "__main__":' in (project / "script00.py").read_text()


def test_the_installed_command_imports_nothing_from_the_project(
        tmp_path: Path, markers: Path) -> None:
    command = _console_script()
    if not command:
        pytest.skip("the mpfix console script is not installed beside this interpreter")
    project = _project(tmp_path, markers)
    completed = subprocess.run([*command, "fix", "--no-cache", "-j", "2", "."], cwd=project,
                               capture_output=True, text=True, timeout=600)
    assert "Traceback" not in completed.stderr
    assert completed.returncode == 1, completed.stderr
    assert not list(markers.iterdir())


def test_stdin_and_the_api_run_nothing(tmp_path: Path, markers: Path) -> None:
    source = _marking(markers / "stdin.ran", UNGUARDED_POOL)
    for mode in ("check", "fix"):
        completed = subprocess.run(
            [*MPFIX, mode, "--stdin-filename", "script.py"], input=source.encode(),
            capture_output=True, cwd=tmp_path, timeout=120)
        assert completed.returncode == (1 if mode == "check" else 0), completed.stderr
        assert b"Traceback" not in completed.stderr
    assert check_code(source)
    assert 'if __name__ == "__main__":' in fix_code(source, unsafe_fixes=True)
    assert not list(markers.iterdir())
