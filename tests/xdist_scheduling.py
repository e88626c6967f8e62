"""How pytest-xdist shares the suite between its workers (pyproject's addopts: `-n auto`).

A worker starts the behaviour runs of the cases it owns (behaviour_owner) in the
background before its first test (conftest.py); the behaviour tests of those cases must
come to it, and only once it has nothing else to do: until then its runs go on while it
runs other tests. The rest is load-balanced one test at a time, except the modules of
WHOLE_MODULES, whose tests go to one worker together: their module-scoped fixture (a copy of
the standard library, a built wheel) is made once (a module missing there costs time only).
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from typing import Optional

from xdist.scheduler import LoadScheduling

# The tests that use the behaviour_runs fixture, and the module of the per-case tests.
BEHAVIOUR_TESTS = ("test_after_runs_correctly", "test_before_fails_only_where_stated")
PER_CASE_MODULE = "tests/test_fixtures.py"
WHOLE_MODULES = ("tests/test_cli.py", "tests/test_corpus.py", "tests/test_examples.py",
                 "tests/test_findings_survive.py", "tests/test_release.py")
METHOD_SEPARATOR = "-"  # a behaviour test's id: [<case id>-<method>]


def behaviour_owner(case_id: str, workers: int) -> int:
    """The index of the worker that runs a case's behaviour runs (both sides agree)."""
    return zlib.crc32(case_id.encode()) % workers


def worker_index(worker_id: str) -> int:
    return int(worker_id.removeprefix("gw"))


def _behaviour_case(nodeid: str) -> Optional[str]:
    module, _, test = nodeid.partition("::")
    name, bracket, parameters = test.partition("[")
    if module != PER_CASE_MODULE or name not in BEHAVIOUR_TESTS or not bracket:
        return None
    return parameters.removesuffix("]").rpartition(METHOD_SEPARATOR)[0]


class BehaviourScheduling(LoadScheduling):
    """LoadScheduling whose `pending` holds units (a test's index, or a group's indices,
    sent whole); each worker's behaviour tests wait apart until the shared units are gone."""

    reserved: dict[int, list[int]]

    def schedule(self) -> None:
        if self.collection is not None:
            super().schedule()
            return
        if not self._check_nodes_have_same_collection():
            self.log("**Different tests collected, aborting run**")
            return
        self.collection = next(iter(self.node2collection.values()))
        self.pending[:] = self._units(self.collection)
        if self.maxschedchunk is None:
            self.maxschedchunk = len(self.collection)
        chunk = max(2, min(len(self.pending) // len(self.nodes) // 4, self.maxschedchunk))
        for node in self.nodes:
            self._send_tests(node, chunk)
        for node in self.nodes:
            self.check_schedule(node)

    def _units(self, collection: list[str]) -> list:
        workers = len(self.nodes)
        units: dict[str, list[int]] = {}
        self.reserved = defaultdict(list)
        for index, nodeid in enumerate(collection):
            case = _behaviour_case(nodeid)
            module = nodeid.partition("::")[0]
            if case is not None:
                self.reserved[behaviour_owner(case, workers)].append(index)
            elif module in WHOLE_MODULES:
                units.setdefault(module, []).append(index)
            else:
                units[f"#{index}"] = [index]
        return list(units.values())

    def _send_tests(self, node, num: int) -> None:  # type: ignore[no-untyped-def]
        units = self.pending[:num]
        if units:
            del self.pending[:num]
            indices = [index for unit in units
                       for index in (unit if isinstance(unit, list) else [unit])]
            self.node2pending[node].extend(indices)
            node.send_runtest_some(indices)

    def check_schedule(self, node, duration: float = 0) -> None:  # type: ignore[no-untyped-def]
        if node.shutting_down:
            return
        if self.collection is not None and not self.pending:
            reserved = self.reserved.pop(worker_index(node.gateway.id), [])
            if reserved:
                self.node2pending[node].extend(reserved)
                node.send_runtest_some(reserved)
                return
        super().check_schedule(node, duration)

    def remove_node(self, node):  # type: ignore[no-untyped-def]
        # A crashed worker's behaviour tests go to the others (their runs start on demand).
        self.pending.extend(getattr(self, "reserved", {}).pop(worker_index(node.gateway.id), []))
        return super().remove_node(node)

    @property
    def tests_finished(self) -> bool:
        return not any(getattr(self, "reserved", {}).values()) and super().tests_finished

    @property
    def has_pending(self) -> bool:
        return any(getattr(self, "reserved", {}).values()) or super().has_pending
