"""Force the default start method of multiprocessing without setting it.

Python 3.14 changed Linux's default from fork to forkserver; macOS and Windows
spawn. What changes there is the *default*: a program may still call
`set_start_method()` once. Forcing is done the same way, by replacing the
default context's default, so the program under test behaves exactly as it
would on such a platform (its own `set_start_method()` still works).

`python -m mpfix.verify.startmethod METHOD script.py [args...]` runs a script as
`__main__` under that default; the fixture behaviour runs use it.
"""

from __future__ import annotations

import sys

METHODS = ("fork", "spawn", "forkserver")


class StartMethodError(ValueError):
    pass


def available_methods() -> list[str]:
    import multiprocessing

    return list(multiprocessing.get_all_start_methods())


def force_default_start_method(method: str) -> None:
    # The start-up hook installed beside mpfix holds the one copy of the operation.
    from _mpfix_starthook import force_default_start_method as force

    if method not in METHODS:
        raise StartMethodError(f"unknown start method {method!r}; choose from {', '.join(METHODS)}")
    if method not in available_methods():
        raise StartMethodError(f"start method {method!r} is not available on this platform")
    force(method)


def _run_script(method: str, path: str, argv: list[str]) -> None:
    import runpy

    force_default_start_method(method)
    sys.argv = [path, *argv]
    sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.abspath(path)))
    runpy.run_path(path, run_name="__main__")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: python -m mpfix.verify.startmethod METHOD SCRIPT [ARGS...]")
    _run_script(sys.argv[1], sys.argv[2], sys.argv[3:])
