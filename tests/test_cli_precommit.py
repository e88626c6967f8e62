"""The pre-commit hooks in .pre-commit-hooks.yaml, installed and run by the pre-commit tool.

The real test snapshots this checkout (with uncommitted changes) into a git
repository, points a project's .pre-commit-config.yaml at it, installs the
hook with `pre-commit install`, and commits: pre-commit builds the hook's
environment from PyPI (`pip install` of this package), so the test takes a
minute or two and needs the network. It is skipped only when pre-commit or
git is missing; `.[test]` installs pre-commit, so CI runs it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cli_helpers import GUARDED, UNGUARDED

ROOT = Path(__file__).resolve().parent.parent
HOOKS = ROOT / ".pre-commit-hooks.yaml"
HAS_PRE_COMMIT = importlib.util.find_spec("pre_commit") is not None


def test_hook_definitions():
    hooks = {hook["id"]: hook for hook in yaml.safe_load(HOOKS.read_text())}
    assert set(hooks) == {"mpfix", "mpfix-check"}
    assert hooks["mpfix"]["entry"] == "mpfix fix"
    assert hooks["mpfix-check"]["entry"] == "mpfix check"
    for hook in hooks.values():
        assert hook["language"] == "python"
        assert hook["types_or"] == ["python", "jupyter"]  # notebooks too
        assert "-i" not in hook["entry"].split() and "--interactive" not in hook["entry"]


def _environment(home: Path) -> dict[str, str]:
    environment = dict(os.environ)
    global_config = home / "gitconfig"
    global_config.write_text("[user]\n\tname = mpfix test\n\temail = test@example.invalid\n"
                             "[commit]\n\tgpgsign = false\n[init]\n\tdefaultBranch = main\n")
    environment.update(
        GIT_CONFIG_GLOBAL=str(global_config), GIT_CONFIG_NOSYSTEM="1",
        PRE_COMMIT_HOME=str(home / "pre-commit-home"),
        # The hook's mpfix must not find this test run's settings or cache.
        PYTHONPATH="",
    )
    environment.pop("PRE_COMMIT", None)
    return environment


def _run(command: list[str], cwd: Path, environment: dict[str, str],
         timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=timeout)


def _snapshot(destination: Path, environment: dict[str, str]) -> str:
    """This checkout as it is on disk (tracked and new files, not ignored ones), committed."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True, timeout=60).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    for command in (["git", "init", "-q"], ["git", "add", "-A"],
                    ["git", "commit", "-q", "--no-verify", "-m", "snapshot"]):
        subprocess.run(command, cwd=destination, env=environment, check=True, timeout=60,
                       capture_output=True)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=destination, env=environment,
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.skipif(not HAS_PRE_COMMIT, reason="pre-commit is not installed (pip install -e '.[test]')")
@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_hooks_block_fix_and_pass(tmp_path):
    environment = _environment(tmp_path)
    hooks_repo, project = tmp_path / "hooks-repo", tmp_path / "project"
    hooks_repo.mkdir()
    project.mkdir()
    revision = _snapshot(hooks_repo, environment)
    pre_commit = [sys.executable, "-m", "pre_commit"]

    (project / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        f"  - repo: {hooks_repo.as_posix()}\n"
        f"    rev: {revision}\n"
        "    hooks:\n"
        "      - id: mpfix\n"
        "      - id: mpfix-check\n"
        "        stages: [manual]\n")
    _run(["git", "init", "-q"], project, environment)
    installed = _run([*pre_commit, "install"], project, environment)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    environments = _run([*pre_commit, "install-hooks"], project, environment, timeout=900)
    assert environments.returncode == 0, environments.stdout + environments.stderr
    _run(["git", "add", ".pre-commit-config.yaml"], project, environment)
    assert _run(["git", "commit", "-q", "-m", "config"], project, environment).returncode == 0

    bad = project / "app.py"
    bad.write_text(UNGUARDED)
    _run(["git", "add", "app.py"], project, environment)
    blocked = _run(["git", "commit", "-m", "add app"], project, environment, timeout=300)
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0, output
    assert "files were modified by this hook" in output
    assert "MP001 main-guard: 1 fixed" in output
    assert bad.read_text() == GUARDED
    assert _run(["git", "log", "--oneline"], project, environment).stdout.count("\n") == 1

    _run(["git", "add", "app.py"], project, environment)
    passed = _run(["git", "commit", "-m", "add app"], project, environment, timeout=300)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "mpfix" in passed.stdout + passed.stderr and "Passed" in passed.stdout + passed.stderr

    # The check-only hook reports and changes nothing.
    other = project / "other.py"
    other.write_text(UNGUARDED)
    checked = _run([*pre_commit, "run", "mpfix-check", "--hook-stage", "manual",
                    "--files", "other.py"], project, environment, timeout=300)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "other.py:7:1: MP001" in checked.stdout
    assert other.read_text() == UNGUARDED
