"""DataLoader as a starter: the prefilter lets a file through only when a loader in it
can start workers, and the analysis says how many and what each worker receives."""

from __future__ import annotations

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper

from mpfix.analysis.module import ModuleAnalysis, Workers
from mpfix.analysis.starters import Prefilter, StarterTable


@pytest.mark.parametrize("source,wanted", [
    (b"from torch.utils.data import DataLoader\nDataLoader(ds, num_workers=4)\n", True),
    (b"import torch\nloader = torch.utils.data.DataLoader(ds, num_workers=n)\n", True),
    (b"import torch.utils.data as tud\ntud.DataLoader(ds, 10, False, None, None, 2)\n", True),
    (b"from torch.utils.data import DataLoader\nDataLoader(ds, batch_size=4)\n", False),
    (b"import torch\nloader = torch.utils.data.DataLoader(ds, 10, f(a, b), None)\n", False),
    (b"from mylib import DataLoader\nDataLoader(ds, num_workers=4)\n", False),
    (b"# torch DataLoader(num_workers=4) in a comment\nimport os\n", False),
])
def test_prefilter_lets_loaders_with_workers_through(source: bytes, wanted: bool) -> None:
    assert Prefilter().wants(source) is wanted


def analyse(source: str) -> ModuleAnalysis:
    return ModuleAnalysis(MetadataWrapper(cst.parse_module(source)), StarterTable())


def loader_calls(analysis: ModuleAnalysis) -> list[cst.Call]:
    return [call for call in analysis.calls
            if analysis.module.code_for_node(call.func).endswith("DataLoader")]


@pytest.mark.parametrize("arguments,workers", [
    ("ds", Workers.NONE),
    ("ds, num_workers=0", Workers.NONE),
    ("ds, num_workers=ZERO", Workers.NONE),
    ("ds, 10, False, None, None, 0", Workers.NONE),
    ("ds, num_workers=2", Workers.SOME),
    ("ds, 10, False, None, None, 2", Workers.SOME),
    ("ds, num_workers=os.cpu_count()", Workers.SOME),
    ("ds, num_workers=args.workers", Workers.MAYBE),
    ("ds, num_workers=n", Workers.MAYBE),
    ("ds, **options", Workers.MAYBE),
])
def test_worker_count(arguments: str, workers: Workers) -> None:
    analysis = analyse(
        "import os\nfrom torch.utils.data import DataLoader\nZERO = 0\n"
        f"def make(ds, args, n, options):\n    return DataLoader({arguments})\n")
    assert analysis.loader_workers(loader_calls(analysis)[0]) is workers


def test_handoffs_are_what_torch_pickles_into_each_worker() -> None:
    analysis = analyse(
        "from torch.utils.data import DataLoader\n"
        "def make(Images, Compose, Lambda, sampler):\n"
        "    def crop(x):\n        return x\n"
        "    steps = Compose([crop, Lambda(lambda x: x)])\n"
        "    ds = Images('root', transform=steps)\n"
        "    return DataLoader(ds, sampler=sampler, num_workers=2, collate_fn=len,\n"
        "                      worker_init_fn=print)\n")
    handoffs = analysis.loader_handoffs()
    written = [(h.role, analysis.module.code_for_node(h.value)) for h in handoffs]
    assert written == [("dataset", "ds"), ("transform", "crop"), ("transform", "lambda x: x"),
                       ("collate_fn", "len"), ("worker_init_fn", "print")]
    dataset = handoffs[0].value
    assert analysis.module.code_for_node(analysis.instance_class(dataset)) == "Images"


def test_a_loader_without_workers_hands_over_nothing() -> None:
    analysis = analyse("from torch.utils.data import DataLoader\n"
                       "loader = DataLoader([1], collate_fn=lambda b: b)\n"
                       "for batch in loader:\n    print(batch)\n")
    assert analysis.loader_handoffs() == []
    assert analysis.callable_uses() == []
    assert analysis.starting_calls(analysis.module) == []


def test_iterating_starts_workers_and_looking_does_not() -> None:
    analysis = analyse("from torch.utils.data import DataLoader\n"
                       "loader = DataLoader([1, 2], num_workers=2)\n"
                       "print(len(loader))\n"
                       "batches = list(loader)\n"
                       "fork_loader = DataLoader([1], num_workers=2, multiprocessing_context='fork')\n"
                       "for batch in fork_loader:\n    pass\n")
    body = analysis.module.body
    assert [bool(analysis.starting_calls(statement)) for statement in body] == \
        [False, False, False, True, False, False]
