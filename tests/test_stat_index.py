"""The warm front of a run (mpfix.engine.warm): files whose stamp did not change are
neither read nor hashed, and nothing it skips may change an answer — an edited file,
an edit that keeps the stamp, a changed configuration, a deleted file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cli_helpers import UNGUARDED, cli_runner, codes, write
from mpfix.cli.app import main
from mpfix.engine import cache as cache_module
from mpfix.engine import warm

CLEAN = "import os\n\nprint(os.getcwd())\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write(tmp_path / "pyproject.toml", "")  # the cache lives here
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def trusted_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written by the test are older than the run: no need to wait out the
    filesystem's timestamp granularity for their stamps to be trusted."""
    monkeypatch.setattr(cache_module, "RACY_NS", 0)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files the warm front opens."""
    opened: list[str] = []

    def counting_open(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(Path(name).name)
        return open(name, *args, **kwargs)

    monkeypatch.setattr(warm, "open", counting_open, raising=False)
    return opened


def check(*paths: str) -> list[str]:
    result = cli_runner().invoke(main, ["check", "--output-format", "text", *paths],
                              catch_exceptions=False)
    return codes(result)


def test_unchanged_files_are_not_read_and_answer_the_same(
        project: Path, trusted_at_once: None, reads: list[str]) -> None:
    write(project / "script.py", UNGUARDED)
    for number in range(5):
        write(project / f"clean{number}.py", CLEAN)
    first = check(".")
    assert first == ["script.py:MP001"]
    check(".")  # the first run created the cache folder, which the environment key sees
    reads.clear()
    assert check(".") == first
    # Only the file with a finding is read, for its text; the clean ones are not.
    assert reads == ["script.py"]


def test_a_changed_file_is_read_again(project: Path, trusted_at_once: None) -> None:
    write(project / "script.py", CLEAN)
    write(project / "other.py", CLEAN)
    assert check(".") == []
    check(".")
    write(project / "script.py", UNGUARDED)  # a new size and modification time
    assert check(".") == ["script.py:MP001"]


def test_an_edit_in_the_same_timestamp_tick_is_not_served_stale(
        project: Path, monkeypatch: pytest.MonkeyPatch, reads: list[str]) -> None:
    """On a filesystem with coarse timestamps an edit right after a read can leave the
    modification and change times and the size as they were: such a recent stamp is
    not trusted, and the file is read again. An old stamp is trusted."""
    script = write(project / "script.py", UNGUARDED)
    padded = CLEAN + "#" * (len(UNGUARDED) - len(CLEAN) - 1) + "\n"
    assert len(padded) == len(UNGUARDED)
    real_stamp = warm.file_stamp
    frozen: dict[str, tuple[int, int, int, int]] = {}

    def coarse_stamp(name: str):  # type: ignore[no-untyped-def]
        stamp = real_stamp(name)
        if stamp is not None and Path(name).name == "script.py":
            stamp = frozen.setdefault("stamp", stamp)  # the filesystem never moves it
        return stamp

    monkeypatch.setattr(warm, "file_stamp", coarse_stamp)
    assert check(".") == ["script.py:MP001"]
    assert check(".") == ["script.py:MP001"]
    script.write_text(padded)  # same size, same stamp, no finding
    reads.clear()
    assert check(".") == []
    assert reads == ["script.py"]

    # Once the same stamp is old enough it is trusted: the file is not read at all.
    monkeypatch.setattr(cache_module, "RACY_NS", -(10 ** 18))  # every stamp counts as old
    check(".")
    reads.clear()
    assert check(".") == []
    assert reads == []


def test_a_configuration_change_is_not_answered_from_before(
        project: Path, trusted_at_once: None) -> None:
    write(project / "script.py", UNGUARDED)
    assert check(".") == ["script.py:MP001"]
    assert check(".") == ["script.py:MP001"]
    write(project / "pyproject.toml", "[tool.mpfix]\nignore = [\"MP001\"]\n")
    assert check(".") == []
    write(project / "pyproject.toml", "")
    assert check(".") == ["script.py:MP001"]


def test_a_deleted_file_drops_out_and_its_imports_with_it(
        project: Path, trusted_at_once: None) -> None:
    """`parallel.py` is a library while `app.py` imports it (MP008), a script alone
    (MP001): the stored outcome of the run with both must not answer for one."""
    write(project / "parallel.py", (
        "import multiprocessing\n\n"
        "multiprocessing.set_start_method('fork')\n\n"
        "def run(f, xs):\n    with multiprocessing.Pool(2) as pool:\n"
        "        return pool.map(f, xs)\n"))
    write(project / "app.py", "import parallel\n")
    assert check(".") == ["parallel.py:MP008"]
    assert check(".") == ["parallel.py:MP008"]
    (project / "app.py").unlink()
    assert check(".") == ["parallel.py:MP001"]


def test_stamps_too_recent_to_trust_are_not_recorded(tmp_path: Path) -> None:
    started = time.time_ns()
    index = cache_module.StatIndex(tmp_path / "index.json", started)
    recent = (started - 10, started - 10, 5, 1)
    old = (started - 3 * cache_module.RACY_NS, started - 3 * cache_module.RACY_NS, 5, 2)
    index.record("/recent.py", recent, "a")
    index.record("/old.py", old, "b")
    assert index.digest("/recent.py", recent) is None
    assert index.digest("/old.py", old) == "b"
    assert index.digest("/old.py", (old[0], old[1], 6, 2)) is None  # another size
    cache = cache_module.Cache(tmp_path / "cache", "1", code="c")
    index.save(cache)
    again = cache_module.StatIndex(tmp_path / "index.json", started)
    assert again.digest("/old.py", old) == "b" and again.digest("/recent.py", recent) is None


def test_the_outcome_key_sees_every_folder_the_summaries_look_in(project: Path) -> None:
    from mpfix.engine.crossmodule import environment_paths

    assert set(environment_paths()) <= set(warm.environment_folders())
