from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# An environment with PYTHONDONTWRITEBYTECODE=1 would have every Python process the tests
# start (each `python -m mpfix`, each of its -j workers) compile all of mpfix again from
# source, about a quarter of a second each: bytecode is written as usual during the tests
# (into __pycache__ folders, which git ignores). Behaviour runs still write none.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

sys.path.insert(0, str(Path(__file__).resolve().parent))

from behaviour import BehaviourRuns  # noqa: E402
from fixture_cases import load_cases  # noqa: E402

CASES = load_cases()
BEHAVIOUR_RUNS = pytest.StashKey[BehaviourRuns]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The behaviour tests last: their runs start before the first test (see
    pytest_runtestloop) and go on in the background while every other test runs."""
    items.sort(key=_is_behaviour_test)  # stable: each group keeps its order


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    cases = _selected_cases(session.items)
    if cases:
        runs = BehaviourRuns(workers=int(os.environ.get("MPFIX_BEHAVIOUR_WORKERS", "12")))
        session.config.stash[BEHAVIOUR_RUNS] = runs
        runs.submit_all(cases)


def pytest_sessionfinish(session: pytest.Session) -> None:
    runs = session.config.stash.get(BEHAVIOUR_RUNS, None)
    if runs is not None:
        runs.close()


@pytest.fixture(scope="session")
def behaviour_runs(request: pytest.FixtureRequest) -> BehaviourRuns:
    return request.config.stash[BEHAVIOUR_RUNS]


def _is_behaviour_test(item: pytest.Item) -> bool:
    return "behaviour_runs" in getattr(item, "fixturenames", ())


def _selected_cases(items: list[pytest.Item]) -> list:
    """The cases of the behaviour tests this session runs: all runs start at once (they
    overlap), but a `-k` selection must not pay for the runs it deselected."""
    selected = {id(item.callspec.params["case"]) for item in items
                if _is_behaviour_test(item)
                and hasattr(item, "callspec") and "case" in item.callspec.params}
    return [case for case in CASES if id(case) in selected]
