"""Source text in and out, byte for byte.

libcst keeps encoding cookies, the BOM, tabs, form feeds and per-line newlines
when it round-trips a module; this module adds the checks libcst leaves to its
caller: that a rewrite still parses and compiles.
"""

from __future__ import annotations

import warnings
from typing import Optional


class SourceError(Exception):
    """A file mpfix cannot read as Python; the message is one line for the user."""


def looks_binary(data: bytes) -> bool:
    return b"\x00" in data


def compiles(data: bytes, filename: str = "<mpfix>") -> Optional[str]:
    """Return None when `data` compiles, else a one-line reason."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(data, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as error:
        line = getattr(error, "lineno", None)
        where = f" (line {line})" if line else ""
        return f"{type(error).__name__}: {getattr(error, 'msg', error)}{where}"
    except RecursionError:
        return "RecursionError: too deeply nested to compile"
    return None


def too_deeply_nested(data: bytes, filename: str = "<mpfix>") -> bool:
    """Whether CPython's own parser refuses `data` for its nesting depth.

    libcst's native parser recurses on the machine stack without a limit and
    kills the whole process (SIGSEGV) on about 1,500 nested brackets. CPython's
    parser stops cleanly instead (more than 200 brackets, or a RecursionError or
    MemoryError for other deep shapes) at a small fraction of libcst's cost, so
    it screens every file before libcst sees it. Any other syntax error (newer
    syntax than this interpreter's, Python 2 code) is left for libcst to judge.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # The full compile, not only the AST: before 3.11 the AST of a 20,000-term
            # chain builds fine while its compile (and libcst's parse) is too deep.
            compile(data, filename, "exec", dont_inherit=True)
    except (RecursionError, MemoryError):
        return True
    except SyntaxError as error:
        return "too many nested parentheses" in str(getattr(error, "msg", ""))
    except ValueError:  # null bytes: libcst reports those itself
        return False
    return False
