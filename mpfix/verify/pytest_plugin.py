"""The pytest plugin shipped with mpfix: run tests under a forced default start method.

    pytest --mp-start-method spawn
        the session runs with spawn as multiprocessing's default start method,
        and so does every Python process it starts (through the start-up hook's
        variable, as with `mpfix run`); the header says so.

    @pytest.mark.mp_start_methods("spawn", "forkserver")
        the test runs once per method (ids `[spawn]`, `[forkserver]`; no
        arguments: all three), the method forced around it and restored after;
        methods the platform lacks are skipped.

    def test_workers(mp_start_method): ...
        the fixture gives the method the test runs under.

The default is replaced without being marked as set, as Python 3.14's
forkserver default is: code that calls `set_start_method()` still works.
Without the option and the marker the plugin changes nothing.
"""

from __future__ import annotations

import os
from contextlib import ExitStack, contextmanager
from typing import Iterator, Optional, Sequence

import pytest

import _mpfix_starthook as starthook
from mpfix.verify.startmethod import METHODS, available_methods, force_default_start_method

OPTION = "--mp-start-method"
MARKER = "mp_start_methods"
FIXTURE = "mp_start_method"

_session_method = pytest.StashKey[ExitStack]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mpfix", "multiprocessing start method (mpfix)")
    group.addoption(
        OPTION, dest="mp_start_method", choices=METHODS, default=None, metavar="METHOD",
        help="force multiprocessing's default start method (fork, spawn or forkserver) for "
             "the session and the Python processes it starts")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*methods): run the test once per multiprocessing start method "
        f"(default: {', '.join(METHODS)}), forced around the test (mpfix)")
    method = config.getoption("mp_start_method")
    if method is None:
        return
    if method not in available_methods():
        raise pytest.UsageError(f"{OPTION} {method}: this start method is not available "
                                f"on this platform (available: {', '.join(available_methods())})")
    session = ExitStack()
    session.enter_context(forced_start_method(method))
    config.stash[_session_method] = session


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(_session_method, None)
    if session is not None:
        session.close()
        del config.stash[_session_method]


def pytest_report_header(config: pytest.Config) -> Optional[str]:
    method = config.getoption("mp_start_method")
    if method is not None:
        return f"mpfix: multiprocessing start method {method} ({OPTION})"
    requested = os.environ.get(starthook.VARIABLE)
    if not requested:
        return None
    if starthook.applied_method == requested:
        return f"mpfix: multiprocessing start method {requested} ({starthook.VARIABLE})"
    return (f"mpfix: {starthook.VARIABLE}={requested} was not applied in this interpreter; "
            "the default start method is unchanged")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None:
        return
    methods = _marker_methods(marker.args, marker.kwargs)
    if FIXTURE not in metafunc.fixturenames:
        metafunc.fixturenames.append(FIXTURE)  # the marker alone requests the fixture
    available = available_methods()
    unavailable = pytest.mark.skip(reason="start method not available on this platform")
    metafunc.parametrize(FIXTURE, [
        pytest.param(method, id=method, marks=() if method in available else unavailable)
        for method in methods
    ], indirect=True)


def _marker_methods(args: Sequence[object], kwargs: dict) -> tuple[str, ...]:
    unknown = [repr(arg) for arg in args if arg not in METHODS] + [f"{key}=" for key in kwargs]
    if unknown:
        pytest.fail(f"@pytest.mark.{MARKER}: unknown start method {', '.join(unknown)} "
                    f"(choose from {', '.join(METHODS)})", pytrace=False)
    return tuple(args) or METHODS  # type: ignore[return-value]


@pytest.fixture
def mp_start_method(request: pytest.FixtureRequest) -> Iterator[str]:
    """The start method the test runs under; forced for it by @pytest.mark.mp_start_methods."""
    method = getattr(request, "param", None)
    if method is None:
        yield current_default_method()
        return
    with forced_start_method(method):
        yield method


@contextmanager
def forced_start_method(method: str) -> Iterator[None]:
    """Force `method` here and, through the hook's variable, in every Python process
    started meanwhile; restore both after."""
    import multiprocessing.context as context

    default = context._default_context  # type: ignore[attr-defined]
    saved = (default._default_context, default._actual_context)
    saved_variable = os.environ.get(starthook.VARIABLE)
    force_default_start_method(method)
    os.environ[starthook.VARIABLE] = method
    try:
        yield
    finally:
        default._default_context, default._actual_context = saved
        if saved_variable is None:
            os.environ.pop(starthook.VARIABLE, None)
        else:
            os.environ[starthook.VARIABLE] = saved_variable


def current_default_method() -> str:
    """The method a new process would use, read without fixing it as set."""
    import multiprocessing.context as context

    default = context._default_context  # type: ignore[attr-defined]
    return (default._actual_context or default._default_context).get_start_method()
