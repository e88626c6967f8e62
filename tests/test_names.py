"""The name index's walk: every node libcst's own traversal reaches, tokens left out (in
the order of the nodes' fields, where libcst's is the source's: `Arg.keyword` before
`Arg.value`)."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from mpfix.analysis.names import _TOKENS, NameIndex

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*ROOT.glob("fixtures/*/*/before.py"), *ROOT.glob("mpfix/**/*.py")])


def _reached(node: cst.CSTNode) -> list[cst.CSTNode]:
    """libcst's `children` (a visitor per node), tokens and what is under them left out."""
    found = [node]
    for child in node.children:
        if type(child) not in _TOKENS:
            found.extend(_reached(child))
    return found


@pytest.mark.parametrize("path", SOURCES[::4], ids=lambda path: str(path.relative_to(ROOT)))
def test_the_walk_reaches_every_node_libcst_does(path: Path) -> None:
    module = cst.parse_module(path.read_bytes())
    walked = [id(node) for node in NameIndex.build(module).order]
    assert len(walked) == len(set(walked))
    assert set(walked) == {id(node) for node in _reached(module)}
