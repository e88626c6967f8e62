"""The pytest plugin: --mp-start-method, @pytest.mark.mp_start_methods, the header.

Runs that start worker processes use a pytest subprocess; the others run in
this process, which also proves the plugin restores what it forced.
"""

from __future__ import annotations

import os

import pytest

import _mpfix_starthook as starthook
from _mpfix_starthook import LOG_VARIABLE, VARIABLE
from mpfix.verify.pytest_plugin import current_default_method
from start_method_project import APP, TEST_APP

pytest_plugins = ["pytester"]


@pytest.fixture
def clean(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester whose runs start with no start method forced from outside."""
    monkeypatch.delenv(VARIABLE, raising=False)
    monkeypatch.delenv(LOG_VARIABLE, raising=False)
    return pytester


def test_option_sets_the_session_method(clean: pytest.Pytester) -> None:
    clean.makepyfile(app=APP, test_app=TEST_APP)
    clean.runpytest_subprocess("--mp-start-method", "fork").assert_outcomes(passed=1)
    spawn = clean.runpytest_subprocess("--mp-start-method", "spawn")
    spawn.assert_outcomes(failed=1)
    spawn.stdout.fnmatch_lines(["mpfix: multiprocessing start method spawn (--mp-start-method)"])


def test_marker_runs_the_test_once_per_method_and_restores(clean: pytest.Pytester) -> None:
    clean.makepyfile(app=APP, test_app=f'''
import multiprocessing, os
import pytest
from app import scaled

DEFAULT = multiprocessing.get_context().get_start_method()


@pytest.mark.mp_start_methods("fork", "spawn")
def test_workers_see_the_factor(mp_start_method):
    assert scaled([1, 2, 3], 10) == [10, 20, 30]


def test_restored_after():
    assert multiprocessing.get_start_method(allow_none=True) == DEFAULT
    assert os.environ.get("{VARIABLE}") is None
''')
    result = clean.runpytest_subprocess("-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_workers_see_the_factor?fork? PASSED*",
                                 "*test_workers_see_the_factor?spawn? FAILED*"])


def test_option_reaches_python_subprocesses(clean: pytest.Pytester) -> None:
    clean.makepyfile(test_subprocess=f'''
import os, subprocess, sys

def test_child_interpreter_gets_the_method():
    code = "import multiprocessing; print(multiprocessing.get_context().get_start_method())"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert child.stdout == "forkserver\\n"
    assert os.environ["{VARIABLE}"] == "forkserver"
''')
    before = current_default_method()
    clean.runpytest("--mp-start-method", "forkserver").assert_outcomes(passed=1)
    assert current_default_method() == before
    assert VARIABLE not in os.environ


def test_marker_without_methods_means_all_three(clean: pytest.Pytester) -> None:
    clean.makepyfile('''
import pytest

@pytest.mark.mp_start_methods()
def test_each(mp_start_method):
    import multiprocessing
    assert multiprocessing.get_context().get_start_method() == mp_start_method
''')
    result = clean.runpytest("-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_each?fork?*", "*test_each?spawn?*", "*test_each?forkserver?*"])


def test_inert_without_option_or_marker(clean: pytest.Pytester) -> None:
    before = current_default_method()
    clean.makepyfile(f'''
import multiprocessing, os

def test_nothing_forced(mp_start_method):
    assert multiprocessing.get_start_method(allow_none=True) is None
    assert mp_start_method == {before!r}
    assert "{VARIABLE}" not in os.environ
''')
    # A fresh interpreter: earlier tests of this session may have settled the
    # default context of this one, which is not the plugin's doing.
    result = clean.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    assert not [line for line in result.outlines if line.startswith("mpfix")]


def test_header_names_the_variable_set_by_mpfix_run(clean: pytest.Pytester,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    clean.makepyfile("def test_nothing(): pass")
    monkeypatch.setenv(VARIABLE, "spawn")
    result = clean.runpytest_subprocess()
    result.stdout.fnmatch_lines([f"mpfix: multiprocessing start method spawn ({VARIABLE})"])


def test_marker_with_unknown_method_is_a_collection_error(clean: pytest.Pytester) -> None:
    clean.makepyfile('''
import pytest

@pytest.mark.mp_start_methods("spawn", "thread")
def test_it(): pass
''')
    result = clean.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.mp_start_methods: unknown start method 'thread'*"])


def test_option_with_unknown_method_is_a_usage_error(clean: pytest.Pytester) -> None:
    result = clean.runpytest("--mp-start-method", "thread")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mp-start-method: invalid choice: 'thread'*"])


def test_header_says_when_the_variable_was_not_applied(clean: pytest.Pytester,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # a pytest whose interpreter lacks the hook (mpfix not installed in its environment)
    monkeypatch.setattr(starthook, "applied_method", None)
    monkeypatch.setenv(VARIABLE, "spawn")
    clean.makepyfile("def test_nothing(): pass")
    result = clean.runpytest()
    result.stdout.fnmatch_lines([f"mpfix: {VARIABLE}=spawn was not applied in this interpreter; "
                                 "the default start method is unchanged"])
