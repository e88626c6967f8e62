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
