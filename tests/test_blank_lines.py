"""Whitespace-only lines keep their bytes when a fix moves the code they are in."""

from __future__ import annotations

import libcst as cst
import pytest

from mpfix.api import fix_code
from mpfix.rulekit.blanklines import literal_blank_lines

SOURCES = [
    "if x:\n    a = 1\n    \n    b = 2\n        \n",
    "def f():\n\tif y:\n\t\t\n\t\treturn (1,\n\t\t  \n\t\t2)\n\t\n",
    "class C:\n    def m(self):\n        pass\n      \n    \n    # note\n    x = 1\n  ",
    "if x:\r\n    a = 1\r\n    \r\nelse:\r\n    b = 2\r\n    \r\n",
    "for i in range(3):\n    pass\n    \nelse:\n    pass\n\n",
]


@pytest.mark.parametrize("source", SOURCES)
def test_the_module_renders_to_the_same_bytes(source: str) -> None:
    module = cst.parse_module(source)
    literal = literal_blank_lines(module, source.encode())
    assert literal.code == source
    assert literal_blank_lines(literal, source.encode()).code == source


def test_indented_whitespace_only_lines_no_longer_follow_the_block() -> None:
    source = "if x:\n    a = 1\n      \n    b = 2\n"
    module = literal_blank_lines(cst.parse_module(source), source.encode())
    block = module.body[0].body
    line = block.body[1].leading_lines[0]
    assert (line.indent, line.whitespace.value) == (False, "      ")
    deeper = module.with_changes(body=[cst.If(test=cst.Name("y"), body=cst.IndentedBlock(
        body=[module.body[0]]))])
    assert "\n      \n" in deeper.code and "\n        b = 2\n" in deeper.code


def test_a_source_without_such_lines_is_not_walked() -> None:
    module = cst.parse_module("if x:\n    a = 1\n\n    b = 2\n")
    assert literal_blank_lines(module, module.bytes) is module


UNGUARDED_BLOCK = (
    "import multiprocessing as mp\n\n\n"
    "def work():\n    print('child')\n\n\n"
    "if True:\n"
    "    p = mp.Process(target=work)\n"
    "    \n"
    "    # start it\n"
    "    p.start()\n"
    "\t\n"
    "    p.join()\n"
    "        \n"
)


def _whitespace_only(source: str) -> list[str]:
    return [line for line in source.splitlines(keepends=True) if not line.strip()]


def test_a_fix_that_indents_a_block_keeps_its_whitespace_only_lines() -> None:
    fixed = fix_code(UNGUARDED_BLOCK, select=["MP001"])
    assert 'if __name__ == "__main__":\n' in fixed, fixed
    assert _whitespace_only(fixed) == _whitespace_only(UNGUARDED_BLOCK)
    assert fixed.endswith("        p.join()\n        \n"), "the last line is not re-indented"
    assert "\n        # start it\n" in fixed, "a comment line still moves with its code"
    assert fix_code(fixed, select=["MP001"]) == fixed
