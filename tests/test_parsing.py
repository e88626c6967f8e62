"""mpfix parses a large module a stretch of top-level statements at a time (to keep
libcst's peak memory low) and joins the parts: the joined tree must be libcst's own
tree of the whole module, node for node and byte for byte.

The tests cut at every statement boundary (a stretch of one byte), so every
boundary of every source here is one the cut must get right."""

from __future__ import annotations

import sys
from pathlib import Path

import libcst as cst
import pytest
from grammar_programs import ARBITRARY_PYTHON
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_fidelity import SCRIPTS
from test_properties import EXAMPLES

from mpfix.engine.parsing import STRETCH_BYTES, _parse, parse_module, screened

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

TRICKY = {
    "comment-indented-after-a-block": (
        b"class A:\n    x = 1\n\n    # the block's footer\n\n# the next statement's\ny = 2\n"),
    "comments-at-two-depths-after-nested-blocks": (
        b"class A:\n    def f(self):\n        pass\n        # deep\n    # shallow\n\n\nz = 3\n"),
    "indented-comment-after-a-simple-statement": b"x = 1\n    # odd\ny = 2\n",
    "semicolons": b"a = 1; b = 2\nc = 3;\nd = 4\n",
    "decorators-and-comments-between": (
        b"import functools\n\n# about f\n@functools.lru_cache  # one\n# two\n@staticmethod\n"
        b"def f():\n    return 1\n"),
    "first-indent-in-a-later-stretch-tabs": (
        b"import os\nX = 1\nif X: print(X)\nelse:\n\tprint(0)\ndef f():\n\treturn 2\n"),
    "first-indent-spaces-after-a-simple-suite": b"if True: x = 1\nclass A:\n  y = 2\n",
    "match-statement": (
        b"import sys\nmatch sys.argv:\n   case [_]:\n      pass\n   case _:\n      pass\nz = 1\n"),
    "try-handlers": (
        b"import os\ntry: os.stat('.')\nexcept OSError:\n        pass\nfinally: x = 1\n"),
    "no-final-newline": b"import os\n\ndef f():\n    return os\nf()",
    "trailing-comments-at-the-end": b"x = 1\ny = 2\n\n# end\n    # indented end\n\n",
    "continuation-lines": b"x = 1 + \\\n    2\ny = (\n  3\n)\nz = '''\n# not a comment\n'''\n",
    "form-feeds": b"x = 1\n\x0c\ndef f():\n    pass\n\x0c\n\ny = 2\n",
    "header-comments": b"#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n\n\"\"\"Doc.\"\"\"\nx = 1\n",
    "latin-1-in-a-later-stretch": (
        b"# -*- coding: latin-1 -*-\nx = 1\ny = 2\ns = '\xe9t\xe9'  # caf\xe9\n"),
    "indent-widths-differ": b"def f():\n  return 1\ndef g():\n    return 2\nx = 1\n",
    "mixed-newlines": b"x = 1\r\ny = 2\n\r\nz = 3\n",
    "a class body cut between its methods": (
        b"import functools\n\n# about A\n@functools.total_ordering\nclass A(  # a\n        object):\n"
        b"    # before the docstring\n\n    \"\"\"Doc.\"\"\"\n    x = 1\n\n    def f(self):\n"
        b"        return 1\n        # f's own\n    \n    # the next method's\n\n    @staticmethod\n"
        b"    def g():\n        pass\n            # deeper\n\n\ny = A()\n"),
    "crlf": b"import os\r\n\r\ndef f():\r\n    return 1\r\n\r\n# c\r\nx = f()\r\n",
    "bom": b"\xef\xbb\xbfimport os\nx = 1\ndef f():\n    pass\n",
}


def assert_same_tree(source: bytes) -> None:
    whole = cst.parse_module(source)
    joined = _parse(source, screened(source), stretch=1)
    assert joined.bytes == whole.bytes  # libcst's own round trip is not always exact
    assert joined.deep_equals(whole)
    assert (joined.encoding, joined.default_indent, joined.default_newline,
            joined.has_trailing_newline) == (whole.encoding, whole.default_indent,
                                             whole.default_newline, whole.has_trailing_newline)


@pytest.mark.parametrize("source", TRICKY.values(), ids=TRICKY.keys())
def test_statement_at_a_time_gives_libcsts_tree(source: bytes) -> None:
    assert_same_tree(source)


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.id for s in SCRIPTS])
def test_every_encoding_and_newline_gives_libcsts_tree(script) -> None:  # type: ignore[no-untyped-def]
    assert_same_tree(script.source())


# What can stand between two statements: each a place a cut could go wrong.
SEPARATORS = ["", "\n", "# a comment\n", "    # an indented comment\n", "  \n", "\t\n",
              "\x0c\n", "\n\n        # deeper\n\n"]


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.tuples(ARBITRARY_PYTHON, st.sampled_from(SEPARATORS)),
                min_size=2, max_size=6))
def test_arbitrary_statements_give_libcsts_tree(pieces: list[tuple[str, str]]) -> None:
    source = "".join(code if code.endswith("\n") or not code else code + "\n"
                     for piece in pieces for code in piece).encode()
    assume(screened(source) is not None)
    try:
        cst.parse_module(source)
    except cst.ParserSyntaxError:
        assume(False)  # libcst's grammar is not CPython's: nothing to compare
    assert_same_tree(source)


def test_every_fixture_gives_libcsts_tree() -> None:
    sources = [path.read_bytes() for path in sorted(FIXTURES.rglob("*.py"))]
    assert len(sources) > 500
    for source in sources:
        assert_same_tree(source)


def test_a_large_module_is_parsed_in_stretches_into_libcsts_tree() -> None:
    import argparse  # a large stdlib module of every kind of statement

    source = Path(argparse.__file__).read_bytes()
    assert len(source) > 2 * STRETCH_BYTES
    assert parse_module(source).deep_equals(cst.parse_module(source))


def test_a_source_cpython_cannot_read_is_left_to_libcst() -> None:
    # Newer syntax than the running interpreter's, or none at all: libcst decides.
    source = b"x = 1\n" * 4000 + b"print 'python 2'\n"
    assert screened(source) is None
    with pytest.raises(cst.ParserSyntaxError):
        parse_module(source)


@pytest.mark.skipif(sys.version_info < (3, 10), reason="match statements")
def test_a_large_module_with_a_match_statement() -> None:
    source = b"x = 1\n" * 4000 + b"match x:\n case 1:\n  pass\n" + b"y = 2\n" * 4000
    assert parse_module(source).deep_equals(cst.parse_module(source))
