"""Arbitrary Python from hypothesmith's grammar, for the property tests.

`hypothesmith.from_grammar()` builds an LALR parser for Python's grammar when it is
called: seconds of CPU. Called where a test module is imported, every pytest process
paid it at collection, the main one and each xdist worker, whichever tests it ran.
"""

from __future__ import annotations

import functools

import hypothesmith
from hypothesis import strategies as st


@functools.cache
def _grammar() -> st.SearchStrategy[str]:
    return hypothesmith.from_grammar()


def arbitrary_python() -> st.SearchStrategy[str]:
    """Programs of any shape, the grammar built at the first draw, once per process."""
    return st.deferred(lambda: _grammar())  # deferred() takes a plain function, not a cache
