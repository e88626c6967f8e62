from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from behaviour import HANG_WORKERS, BehaviourRuns  # noqa: E402
from fixture_cases import load_cases  # noqa: E402

CASES = load_cases()
BEHAVIOUR_RUNS = pytest.StashKey[BehaviourRuns]()
# pytest-xdist (pyproject's addopts: `-n auto`): this process's index among the workers, and
# their number; (0, 1) without workers.
WORKER = (int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")),
          int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))


def _compile_mpfix() -> None:
    """Bytecode for mpfix's sources, written once before any worker starts. Where the
    environment sets PYTHONDONTWRITEBYTECODE (some CI images do), every `python -m mpfix` a
    test starts would otherwise compile them again; reading bytecode is not affected by it."""
    import compileall

    root = Path(__file__).resolve().parent.parent
    for package in ("mpfix", "codemods"):
        compileall.compile_dir(root / package, quiet=2, workers=1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The behaviour tests last: their runs start before the first test (see
    pytest_runtestloop) and go on in the background while every other test runs. Under
    pytest-xdist, each worker runs the behaviour runs of the cases it owns, and their
    tests come to it last (xdist_scheduling.py)."""
    items.sort(key=_is_behaviour_test)  # stable: each group keeps its order


class _Scheduling:
    """Registered where pytest-xdist is (its hook is unknown elsewhere)."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log):  # type: ignore[no-untyped-def]
        from xdist_scheduling import BehaviourScheduling

        return BehaviourScheduling(config, log) if config.getoption("dist") == "load" else None


def pytest_configure(config: pytest.Config) -> None:
    if "PYTEST_XDIST_WORKER" not in os.environ:
        _compile_mpfix()
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_Scheduling(), "mpfix-xdist-scheduling")


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    index, workers = WORKER
    cases = _selected_cases(session.items)
    if workers > 1:
        from xdist_scheduling import behaviour_owner

        cases = [case for case in cases if behaviour_owner(case.id, workers) == index]
    runs = BehaviourRuns(workers=max(2, _behaviour_workers() // workers),
                         hang_workers=max(4, HANG_WORKERS // workers))
    session.config.stash[BEHAVIOUR_RUNS] = runs
    runs.submit_all(cases)


def pytest_sessionfinish(session: pytest.Session) -> None:
    runs = session.config.stash.get(BEHAVIOUR_RUNS, None)
    if runs is not None:
        runs.close()


@pytest.fixture(scope="session")
def behaviour_runs(request: pytest.FixtureRequest) -> BehaviourRuns:
    return request.config.stash[BEHAVIOUR_RUNS]


def _behaviour_workers() -> int:
    return int(os.environ.get("MPFIX_BEHAVIOUR_WORKERS", "12"))


def _is_behaviour_test(item: pytest.Item) -> bool:
    return "behaviour_runs" in getattr(item, "fixturenames", ())


def _selected_cases(items: list[pytest.Item]) -> list:
    """The cases of the behaviour tests this session runs: all runs start at once (they
    overlap), but a `-k` selection must not pay for the runs it deselected."""
    selected = {id(item.callspec.params["case"]) for item in items
                if _is_behaviour_test(item)
                and hasattr(item, "callspec") and "case" in item.callspec.params}
    return [case for case in CASES if id(case) in selected]
