from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from behaviour import BehaviourRuns  # noqa: E402
from fixture_cases import load_cases  # noqa: E402

CASES = load_cases()


@pytest.fixture(scope="session")
def behaviour_runs(request: pytest.FixtureRequest):
    runs = BehaviourRuns(workers=int(os.environ.get("MPFIX_BEHAVIOUR_WORKERS", "12")))
    runs.submit_all(_selected_cases(request.session.items))
    yield runs
    runs.close()


def _selected_cases(items: list[pytest.Item]) -> list:
    """The cases of the behaviour tests this session runs: all runs start at once (they
    overlap), but a `-k` selection must not pay for the runs it deselected."""
    selected = {id(item.callspec.params["case"]) for item in items
                if "behaviour_runs" in getattr(item, "fixturenames", ())
                and hasattr(item, "callspec") and "case" in item.callspec.params}
    return [case for case in CASES if id(case) in selected]
