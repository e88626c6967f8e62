"""The machinery that makes mpfix fast must never change its answers: the cache,
the prefilter, the parallel runner, and the benchmark script itself (a smoke run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fixture_cases import ROOT
from mpfix.findings import FileResult, Finding, Safety
from mpfix.engine.cache import Cache, code_digest, project_root, source_digest
from mpfix.settings import FileSettings
from mpfix.analysis.starters import Prefilter

UNGUARDED = (
    "import multiprocessing as mp\n\n"
    "def square(x):\n    return x * x\n\n"
    "with mp.Pool(2) as pool:\n    print(pool.map(square, range(4)))\n"
)


def mpfix(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mpfix", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("source,wanted", [
    (b"import multiprocessing as mp\nmp.Pool(2)\n", True),
    (b"import os, multiprocessing\nmultiprocessing.Process()\n", True),
    (b"def f():\n    from multiprocessing import Queue\n", True),
    (b"from concurrent.futures import ProcessPoolExecutor\n", True),
    (b"from multiprocessing.managers import BaseManager\n", True),
    (b"import torch.multiprocessing as mp\nmp.Process\n", True),
    (b"# multiprocessing.Pool is not used here\n", False),
    (b"import multiprocessing\nprint(multiprocessing.cpu_count())\n", False),
    (b"from threading import Thread\nfrom queue import Queue\n", False),
    (b"s = 'import multiprocessing'\n", False),
])
def test_prefilter(source: bytes, wanted: bool) -> None:
    assert Prefilter().wants(source) is wanted


def test_prefilter_knows_configured_starters() -> None:
    source = b"from acme.workers import launch\nlaunch(job)\n"
    assert not Prefilter().wants(source)
    assert Prefilter(["acme.workers.launch"]).wants(source)


def test_cache_key_covers_content_settings_and_mode(tmp_path: Path) -> None:
    cache = Cache(tmp_path, "1.0", code="a")
    base = FileSettings(rules=("MP001",))
    key = cache.key(b"x", base.fingerprint(), "check")
    assert key != cache.key(b"y", base.fingerprint(), "check")
    assert key != cache.key(b"x", FileSettings(rules=("MP001", "MP002")).fingerprint(), "check")
    assert key != cache.key(b"x", FileSettings(rules=("MP001",), unsafe_fixes=True).fingerprint(), "check")
    assert key != cache.key(b"x", base.fingerprint(), "fix")
    assert key != Cache(tmp_path, "1.1", code="a").key(b"x", base.fingerprint(), "check")
    assert key != Cache(tmp_path, "1.0", code="b").key(b"x", base.fingerprint(), "check")


def test_code_digest_changes_when_a_source_file_is_edited(tmp_path: Path) -> None:
    rules = tmp_path / "codemods"
    rules.mkdir()
    rule = rules / "rule.py"
    rule.write_text("CODE = 1\n")
    before = source_digest([rules])
    rule.write_text("CODE = 22\n")
    assert source_digest([rules]) != before
    grown = source_digest([rules])
    (rules / "other.py").write_text("")
    assert source_digest([rules]) != grown
    assert len(code_digest()) == 64 and code_digest() == code_digest()


def test_edited_mpfix_code_is_not_answered_from_the_cache(tmp_path: Path) -> None:
    """A development checkout: after its code is edited, no answer comes from before the edit."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for package in ("mpfix", "codemods"):
        subprocess.run(["cp", "-r", str(ROOT / package), str(checkout / package)], check=True)
    project = tmp_path / "project"
    project.mkdir()
    (project / "script.py").write_text(UNGUARDED)
    command = [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv.pop(1)); "
               "from mpfix.cli import main; main()", str(checkout), "check", "script.py"]

    def entries() -> int:
        assert subprocess.run(command, cwd=project, capture_output=True, timeout=300).returncode == 1
        cache = project / ".mpfix_cache"
        # Per-file results only; `data/` holds the run's cross-module summaries.
        return len([p for p in cache.rglob("*.json") if "data" not in p.relative_to(cache).parts])

    assert entries() == 1
    assert entries() == 1  # unchanged code: answered from the cache
    engine = checkout / "mpfix" / "rulekit" / "helpers.py"
    engine.write_text(engine.read_text() + "\n# edited\n")
    assert entries() == 2


def test_corrupt_cache_entry_is_ignored_and_rewritten(tmp_path: Path) -> None:
    cache = Cache(tmp_path / ".mpfix_cache", "1.0")
    finding = Finding(line=1, col=1, code="MP001", message="m", fix_safety=Safety.SAFE)
    cache.put("ab" * 32, FileResult(path="a.py", findings=[finding]))
    entry = next((tmp_path / ".mpfix_cache").rglob("*.json"))
    assert (tmp_path / ".mpfix_cache" / "CACHEDIR.TAG").is_file()
    assert (tmp_path / ".mpfix_cache" / ".gitignore").read_text().strip().endswith("*")
    entry.write_text("{not json")
    assert cache.get("ab" * 32, "a.py") is None
    cache.put("ab" * 32, FileResult(path="a.py", findings=[finding]))
    assert cache.get("ab" * 32, "a.py").findings[0].code == "MP001"


def test_cache_never_answers_for_changed_content_or_settings(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(UNGUARDED)
    first = mpfix("check", "script.py", cwd=tmp_path)
    assert " MP001 " in first.stdout and first.returncode == 1
    assert any((tmp_path / ".mpfix_cache").rglob("*.json"))
    script.write_text("import multiprocessing as mp\n\nif __name__ == '__main__':\n"
                      "    mp.freeze_support()\n    mp.Pool(2).close()\n")
    assert mpfix("check", "script.py", cwd=tmp_path).returncode == 0
    script.write_text(UNGUARDED)
    assert " MP001 " in mpfix("check", "script.py", cwd=tmp_path).stdout
    ignored = mpfix("check", "--ignore", "MP001", "script.py", cwd=tmp_path)
    assert " MP001 " not in ignored.stdout


def test_clean_removes_the_cache(tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text(UNGUARDED)
    mpfix("check", "script.py", cwd=tmp_path)
    assert (tmp_path / ".mpfix_cache").is_dir()
    assert mpfix("clean", cwd=tmp_path).returncode == 0
    assert not (tmp_path / ".mpfix_cache").exists()


def test_project_root_is_the_nearest_pyproject_else_the_git_root(tmp_path: Path) -> None:
    repository = tmp_path / "repo"
    (repository / ".git").mkdir(parents=True)
    (repository / "app" / "pkg").mkdir(parents=True)
    assert project_root(repository / "app" / "pkg") == repository
    (repository / "app" / "pyproject.toml").write_text("[project]\nname = 'app'\n")
    assert project_root(repository / "app" / "pkg") == repository / "app"
    assert project_root(repository / "app") == repository / "app"


def test_cache_lives_at_the_project_root_not_the_working_directory(tmp_path: Path) -> None:
    project = tmp_path / "project"
    package = project / "src" / "pkg"
    package.mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (package / "script.py").write_text(UNGUARDED)
    assert mpfix("check", "script.py", cwd=package).returncode == 1
    assert any((project / ".mpfix_cache").rglob("*.json"))
    assert not (package / ".mpfix_cache").exists()
    cleaned = mpfix("clean", cwd=package)
    assert cleaned.returncode == 0 and str(project / ".mpfix_cache") in cleaned.stderr
    assert not (project / ".mpfix_cache").exists()


def test_cache_dir_is_configurable_relative_to_its_pyproject(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "tools").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[tool.mpfix]\ncache-dir = "build/mpfix"\n')
    (project / "tools" / "script.py").write_text(UNGUARDED)
    assert mpfix("check", "script.py", cwd=project / "tools").returncode == 1
    assert (project / "build" / "mpfix" / "CACHEDIR.TAG").is_file()
    assert not (project / ".mpfix_cache").exists()
    assert not (project / "tools" / ".mpfix_cache").exists()
    assert mpfix("clean", cwd=project / "tools").returncode == 0
    assert not (project / "build" / "mpfix").exists()


@pytest.mark.parametrize("value", ["3", '""', "[\"a\"]"])
def test_cache_dir_that_is_not_a_path_is_a_config_error(tmp_path: Path, value: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.mpfix]\ncache-dir = {value}\n")
    (tmp_path / "script.py").write_text(UNGUARDED)
    for args in (("check", "script.py"), ("clean",)):
        result = mpfix(*args, cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            f"mpfix: error: {tmp_path / 'pyproject.toml'}: cache-dir must be a path (a non-empty string)"]


def test_parallel_and_in_process_runs_agree(tmp_path: Path) -> None:
    """Enough bytes to start worker processes; identical output, in the same order."""
    corpus = tmp_path / "corpus"
    # Every rule's first cases: enough files and bytes for two workers, at a cost that does
    # not grow with the fixture collection.
    cases = [case for rule in sorted((ROOT / "fixtures").iterdir()) if rule.is_dir()
             for case in sorted(rule.glob("*/before.py"))[:8]]
    for case in cases:
        target = corpus / case.parent.parent.name / f"{case.parent.name}.py"
        target.parent.mkdir(parents=True, exist_ok=True)
        # Bytes that cost the parser one token and the analysis nothing.
        padding = 'PADDING = """\n' + "a line of padding\n" * 270 + '"""\n'
        target.write_text(case.read_text() + "\n" + padding)
    args = ("check", "--no-cache", "--output-format", "json", str(corpus))
    serial = mpfix(*args[:1], "-j", "1", *args[1:], cwd=tmp_path)
    parallel = mpfix(*args[:1], "-j", "2", *args[1:], cwd=tmp_path)
    assert serial.returncode == parallel.returncode == 1, serial.stderr + parallel.stderr
    assert serial.stdout == parallel.stdout
    assert len(json.loads(serial.stdout)) > 40
    fixed_serial = mpfix("fix", "--diff", "--no-cache", "-j", "1", str(corpus), cwd=tmp_path)
    fixed_parallel = mpfix("fix", "--diff", "--no-cache", "-j", "2", str(corpus), cwd=tmp_path)
    assert fixed_serial.stdout == fixed_parallel.stdout


def test_verbose_says_how_each_file_was_served_and_names_the_slowest(tmp_path: Path) -> None:
    import re

    (tmp_path / "pyproject.toml").write_text("")  # the cache lives here
    (tmp_path / "plain.py").write_text("import os\n\nprint(os.getcwd())\n")
    (tmp_path / "small.py").write_text(UNGUARDED)
    (tmp_path / "large.py").write_text(
        UNGUARDED + "".join(f"def f{i}(x):\n    return [x for _ in range(3)]\n" for i in range(300)))
    parsed = r"parsed in (\d+\.\d{3}) s, analysed in (\d+\.\d{3}) s"
    first = mpfix("check", "-v", "plain.py", "small.py", "large.py", cwd=tmp_path)
    lines = first.stderr.splitlines()
    served = dict(line.split(": ", 1) for line in lines[:3])
    assert served.keys() == {"plain.py", "small.py", "large.py"}, first.stderr
    assert served["plain.py"] == "skipped by the prefilter"
    times = {}
    for path in ("small.py", "large.py"):
        match = re.fullmatch(parsed, served[path])
        assert match, first.stderr
        times[path] = sum(map(float, match.groups()))
    slowest = max(times, key=times.__getitem__)
    assert re.fullmatch(rf"slowest file: {slowest}, \d+\.\d{{3}} s \(parse \d+\.\d{{3}} s, "
                        rf"analysis \d+\.\d{{3}} s\)", lines[-1]), first.stderr
    second = mpfix("check", "-v", "plain.py", "small.py", "large.py", cwd=tmp_path)
    assert sorted(second.stderr.splitlines()[:3]) == ["large.py: served from the cache",
                                                      "plain.py: skipped by the prefilter",
                                                      "small.py: served from the cache"]
    assert "slowest file" not in second.stderr  # nothing was parsed
    fixed = mpfix("fix", "-v", "--diff", "--no-cache", "-j", "1", "small.py", cwd=tmp_path)
    assert re.fullmatch(rf"small\.py: {parsed}", fixed.stderr.splitlines()[0]), fixed.stderr
    assert fixed.stderr.splitlines()[-1].startswith("slowest file: small.py, ")
    quiet = mpfix("check", "--no-cache", "small.py", cwd=tmp_path)
    assert "parsed in" not in quiet.stderr and "slowest" not in quiet.stderr


def test_benchmark_smoke(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--slice", "25", "--runs", "1",
         "--libcst-cap", "30", "--output", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    table = next(tmp_path.glob("bench-*.md")).read_text()
    for row in ("read floor", "mpfix check, cold", "mpfix check, warm", "one file, no parse",
                "one file, parse and fix", "libcst codemod runner"):
        assert row in table


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_workers_do_not_outlive_a_killed_mpfix(tmp_path: Path) -> None:
    import os
    import signal
    import time

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    body = UNGUARDED + "\n".join(f"def f{i}(x):\n    return [x for _ in range(3)]\n" for i in range(400))
    for i in range(24):  # well above the size from which workers are started
        (corpus / f"m{i}.py").write_text(body)
    process = subprocess.Popen([sys.executable, "-m", "mpfix", "check", "--no-cache", "-j", "2",
                                str(corpus)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def workers() -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"multiprocessing-fork" in cmdline and f" {process.pid} " in stat.split(")")[-1][:40]:
                found.append(int(entry.name))
        return found

    deadline = time.monotonic() + 60
    started: list[int] = []
    while not started and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
        started = workers()
    if not started:
        process.wait(timeout=120)
        pytest.skip("the run finished before its workers could be seen")
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    alive = started
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [pid for pid in started if Path(f"/proc/{pid}").exists()
                 and b"multiprocessing-fork" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, "spawn workers outlived their killed parent"
