"""mpfix's cached rendering and positions must equal libcst's own, byte for byte."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from fixture_cases import ROOT
from mpfix.analysis.names import NameIndex
from mpfix.analysis.positions import SourceMap, StatementTexts

SAMPLES = [
    b"import os\nx = 1",                                   # no trailing newline
    b"# header comment\n\nimport os\r\nx = (1,\r\n     2)\r\n# footer\n",
    b"\xef\xbb\xbfdef f():\n\tif True:\n\t\treturn f(\n\t\t\t1)\n\x0c\nclass C: pass\n",
    b'"""doc"""\ns = """a\nb\nc"""; t = f(s)\n',
]
FILES = sorted((ROOT / "fixtures").rglob("*.py"))


def _check(source: bytes) -> None:
    module = cst.parse_module(source)
    index = NameIndex.build(module)
    source_map = SourceMap(module, StatementTexts(), index.parents.get)
    assert source_map.code == module.code
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    for node in [*index.calls, *index.functions, *index.name_nodes, *module.body]:
        assert source_map.position(node) == expected[node]


@pytest.mark.parametrize("source", SAMPLES)
def test_samples(source: bytes) -> None:
    _check(source)


def test_fixture_files() -> None:
    for path in FILES:
        _check(Path(path).read_bytes())


def test_texts_are_reused_for_untouched_statements() -> None:
    module = cst.parse_module(b"a = 1\nb = 2\n")
    texts = StatementTexts()
    first = SourceMap(module, texts, NameIndex.build(module).parents.get)
    changed = module.with_changes(body=[module.body[0], cst.parse_statement("b = 3\n")])
    second = SourceMap(changed, texts, NameIndex.build(changed).parents.get)
    assert first.code == "a = 1\nb = 2\n" and second.code == "a = 1\nb = 3\n"
