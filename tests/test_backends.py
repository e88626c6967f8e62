"""joblib's backend choice (mpfix/analysis/backends.py): which Parallel calls start a
multiprocessing pool, read from literals only, and which delayed() tasks it pickles."""

from __future__ import annotations

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper

from mpfix.analysis.backends import Choice, backend_choice, spawning_task_argument
from mpfix.analysis.module import ModuleAnalysis
from mpfix.analysis.starters import StarterTable

HEADER = "import os\nimport joblib\nfrom joblib import Parallel, delayed, parallel_backend\n"


def _analysis(source: str) -> ModuleAnalysis:
    return ModuleAnalysis(MetadataWrapper(cst.parse_module(HEADER + source)), StarterTable())


def _parallel_choice(source: str):  # type: ignore[no-untyped-def]
    analysis = _analysis(source)
    parallels = [c for c in analysis.calls
                 if "joblib.Parallel" in analysis.qualified_names(c.func)]
    assert len(parallels) == 1
    return backend_choice(analysis, parallels[0])


@pytest.mark.parametrize("source, expected", [
    ("Parallel(n_jobs=2)", None),
    ("Parallel(n_jobs=2, backend='loky')", None),
    ("Parallel(n_jobs=2, backend='threading')", None),
    ("Parallel(n_jobs=2, backend='multiprocessing')", Choice.SPAWNING),
    ("Parallel(-1, 'multiprocessing')", Choice.SPAWNING),
    ("joblib.Parallel(n_jobs=4, backend='multiprocessing')", Choice.SPAWNING),
    ("Parallel(n_jobs=1, backend='multiprocessing')", None),
    ("Parallel(backend='multiprocessing')", None),  # n_jobs=None: one worker
    ("Parallel(n_jobs=2, backend='multiprocessing', require='sharedmem')", None),
    ("B = 'multiprocessing'\nParallel(n_jobs=2, backend=B)", Choice.SPAWNING),
    ("Parallel(n_jobs=2, backend=os.environ['B'])", Choice.MAYBE),
    ("Parallel(n_jobs=os.cpu_count(), backend='multiprocessing')", Choice.MAYBE),
    ("with parallel_backend('multiprocessing'):\n    Parallel()", Choice.SPAWNING),
    ("with parallel_backend('multiprocessing', n_jobs=1):\n    Parallel()", None),
    ("with joblib.parallel_config(backend='multiprocessing'):\n    Parallel()", None),
    ("with joblib.parallel_config(backend='multiprocessing', n_jobs=3):\n    Parallel()",
     Choice.SPAWNING),
    ("with parallel_backend('multiprocessing'):\n    Parallel(backend='loky')", None),
    ("with parallel_backend('multiprocessing'):\n    def f():\n        Parallel()", None),
])
def test_which_parallel_calls_start_a_multiprocessing_pool(source: str, expected) -> None:
    assert _parallel_choice(source) is expected


@pytest.mark.parametrize("source, pickled", [
    ("Parallel(n_jobs=2, backend='multiprocessing')(delayed(abs)(i) for i in range(3))", True),
    ("p = Parallel(n_jobs=2, backend='multiprocessing')\np(delayed(abs)(i) for i in [1])", True),
    ("with Parallel(n_jobs=2, backend='multiprocessing') as p:\n"
     "    p(delayed(abs)(i) for i in [1])", True),
    ("Parallel(n_jobs=2)(delayed(abs)(i) for i in range(3))", False),
    ("tasks = [delayed(abs)(i) for i in [1]]", False),
])
def test_tasks_a_multiprocessing_backend_pickles_by_reference(source: str, pickled: bool) -> None:
    analysis = _analysis(source)
    delayed_calls = [c for c in analysis.calls
                     if "joblib.delayed" in analysis.qualified_names(c.func)]
    assert len(delayed_calls) == 1
    assert (spawning_task_argument(analysis, delayed_calls[0]) is not None) is pickled
