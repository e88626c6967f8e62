"""Arbitrary Python from hypothesmith's grammar, for the property tests.

`hypothesmith.from_grammar()` builds an LALR parser for Python's grammar when it is
called: seconds of CPU. Called where a test module is imported, every pytest process
paid it at collection, the main one and each xdist worker, whichever tests it ran.
"""

from __future__ import annotations

import hypothesmith
from hypothesis import strategies as st

# Programs of any shape; one deferred strategy builds its grammar at the first draw, and
# only once, for every test module of the process that uses it.
ARBITRARY_PYTHON: st.SearchStrategy[str] = st.deferred(hypothesmith.from_grammar)
