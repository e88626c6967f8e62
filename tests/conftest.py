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
def behaviour_runs():
    runs = BehaviourRuns(workers=int(os.environ.get("MPFIX_BEHAVIOUR_WORKERS", "12")))
    runs.submit_all(CASES)
    yield runs
    runs.close()
