"""Start-up hook: force multiprocessing's default start method in every Python process.

mpfix installs `mpfix-startmethod.pth` beside this module in site-packages, and
Python runs that file's one line at every interpreter start:

    import os; os.environ.get("MPFIX_START_METHOD") and __import__("_mpfix_starthook").activate()

A process without the variable pays one dictionary lookup. `mpfix run` and
`pytest --mp-start-method` set it, so every Python process a command starts (the
command itself, its Python subprocesses, the workers they spawn) begins with that
default start method: the way coverage.py measures subprocesses. The default is
replaced without being marked as set, which is exactly what Python 3.14's
forkserver default (and the spawn default of macOS and Windows) looks like to a
program: its own `set_start_method()` still works.

This module runs during interpreter start-up, so it stays a top-level module
(importing the `mpfix` package would load libcst into every process), imports
multiprocessing only once it has a method to apply, and never raises: a bad
value prints one warning line on stderr and leaves the default alone.
"""

from __future__ import annotations

import os
import sys

VARIABLE = "MPFIX_START_METHOD"
# `mpfix run` points this at a file; every interpreter that applied the method
# appends its pid, which proves the variable reached the command's Python.
LOG_VARIABLE = "MPFIX_START_METHOD_LOG"
METHODS = ("fork", "spawn", "forkserver")

applied_method: str | None = None
_activated = False


def activate() -> None:
    """Apply MPFIX_START_METHOD to this interpreter, or warn why not. Never raises."""
    global applied_method, _activated
    method = os.environ.get(VARIABLE, "")
    # site runs .pth files once per site directory, and a venv's lib64 -> lib
    # symlink makes site-packages two directories: act once per interpreter.
    if not method or _activated:
        return
    _activated = True
    try:
        refusal = _refusal(method)
        if refusal:
            _warn(refusal)
            return
        force_default_start_method(method)
        applied_method = method
        _record_start()
    except Exception as error:  # a start-up hook must never stop the interpreter
        _warn(f"could not force the start method {method!r}: {error!r}")


def force_default_start_method(method: str) -> None:
    """Replace the default context's default without marking the method as set.

    `mpfix.verify.startmethod` (behaviour runs, the pytest plugin) uses this one too.
    """
    import multiprocessing.context as context

    default = context._default_context  # type: ignore[attr-defined]
    default._default_context = context._concrete_contexts[method]  # type: ignore[attr-defined]
    default._actual_context = None


def _refusal(method: str) -> str | None:
    if method not in METHODS:
        return (f"{VARIABLE}={method!r} is not a start method ({', '.join(METHODS)}); "
                "the default start method is unchanged")
    import multiprocessing

    if method not in multiprocessing.get_all_start_methods():
        return (f"{VARIABLE}={method!r}: this start method is not available on this platform; "
                "the default start method is unchanged")
    return None


def _record_start() -> None:
    path = os.environ.get(LOG_VARIABLE)
    if not path:
        return
    try:
        with open(path, "a", encoding="ascii") as log:
            log.write(f"{os.getpid()}\n")
    except OSError:
        pass  # the log only proves the hook ran; a process outliving `mpfix run` loses nothing


def _warn(message: str) -> None:
    if sys.stderr is not None:  # pythonw and daemons may have no stderr
        sys.stderr.write(f"mpfix: warning: {message}\n")
