"""A small project whose test passes under fork and fails under spawn and forkserver.

The parent sets a module global before it starts a pool; a forked worker
inherits the new value, a spawned one re-imports the module and reads the
import-time value. MP002 (explicit-args) passes the value to the worker instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from _mpfix_starthook import LOG_VARIABLE, VARIABLE

APP = '''\
import multiprocessing

SCALE = 1


def scale(value):
    return value * SCALE


def scaled(values, factor):
    global SCALE
    SCALE = factor
    with multiprocessing.Pool(2) as pool:
        return pool.map(scale, values)
'''

TEST_APP = '''\
from app import scaled


def test_workers_see_the_factor():
    assert scaled([1, 2, 3], 10) == [10, 20, 30]
'''

PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
TIMEOUT = 120


def write_project(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "app.py").write_text(APP)
    (directory / "test_app.py").write_text(TEST_APP)
    return directory


def environment_without_hook() -> dict[str, str]:
    """This environment, minus anything that would force a start method already."""
    removed = {VARIABLE, LOG_VARIABLE, "PYTEST_ADDOPTS"}
    return {**{k: v for k, v in os.environ.items() if k not in removed},
            "PYTHONDONTWRITEBYTECODE": "1"}
