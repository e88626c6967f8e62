"""MP008 start-method-placement: the start method is set once, by the program's entry point."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from enum import Enum
from typing import Iterable, Optional, Union

import libcst as cst

from mpfix.analysis.module import (ModuleAnalysis, Workers, api_family, argument,
                                   default_family, keyword)
from mpfix.findings import Safety
from mpfix.analysis.names import dotted_name
from mpfix.rulekit.rule import Fix, ImportSpec, Rule, Violation
from mpfix.rulekit.helpers import RuleCommand, descendants, import_binding, unused_name
from mpfix.analysis.starters import CONTEXT_API, Kind
from mpfix.analysis.testcode import is_conftest

# What a context object offers in place of the module-level API of its family.
ROUTED_API = (frozenset(CONTEXT_API) - {"get_context", "set_start_method", "freeze_support"}) \
    | {"get_start_method"}
# Of those, what creates objects that belong to a context (a Pipe belongs to none).
CREATING_API = ROUTED_API - {"get_start_method", "Pipe"}

# pytest hooks that run once per test session (per xdist worker).
PYTEST_SESSION_HOOKS = frozenset(
    {"pytest_configure", "pytest_sessionstart", "pytest_cmdline_main",
     "pytest_load_initial_conftests"}
)
# Test set-up hooks, with what they run once per.
TEST_SETUP_HOOKS = {
    "setUp": "test", "asyncSetUp": "test", "setup_method": "test",
    "setup_function": "test", "setUpClass": "test class", "setup_class": "test class",
}
# Exceptions whose handler tolerates "context has already been set".
TOLERANT_HANDLERS = frozenset({"RuntimeError", "Exception", "BaseException"})

ALREADY_SET = "\"context has already been set\""
# Why pinning fork is no fix (threads, macOS, Windows) is `mpfix rule MP008`'s to say.
PIN_FORK = "fix what breaks under spawn and forkserver instead"
FORCED = "set_start_method(force=True)"
ONCE_FOR_SCRIPT = "set it once, in the entry point"
ONCE_FOR_TESTS = "set it once per session (pytest_configure)"


class Runs(Enum):
    ONCE = "once"
    REPEATEDLY = "repeatedly"
    UNKNOWN = "unknown"


class StartMethodPlacement(Rule):
    """The start method is set once, by the program's entry point; libraries use a context.

    What it finds:
    `set_start_method()` where it does harm: at import time of a library (an
    `__init__.py`, or a module the application imports); in a function that may run
    more than once (called twice or in a loop, a per-test fixture or set-up hook, or
    any function of a library); in code that runs in a child process (a Process
    target, a pool task or initializer, and what they call); and after the same flow
    already created processes, pools, queues, locks or managers, or set the method.
    `set_start_method(..., force=True)` is reported in test code (a test, a pytest
    fixture, a set-up hook, a helper of the test suite, a test module's import) and
    in any function shown to run more than once; a test session's own choice, made
    once before any test runs (`pytest_configure`, a session-scoped autouse fixture,
    conftest.py's import), is not, unless it pins `fork`. It also reports the
    pin-fork non-fix: a library or a test session that sets or takes the `fork`
    method (a DataLoader's `multiprocessing_context="fork"` in a library or a test
    included); a DataLoader whose `num_workers` is decided by a test of
    `get_start_method() == "fork"` (under forkserver and spawn it silently loads
    everything in the main process, in any file); and a library's import-time call of a function of another module, or
    of an installed package, that sets the method (its summary says so). A
    script's own module-level call is not reported here: MP001 moves it
    under the main guard; a main guard that sets the method once is right. Files are
    judged as MP001 judges them: a file that shows it runs as `__main__` (it imports
    Streamlit, has notebook cell markers, or reads `sys.argv` or calls `sys.exit()` at
    module level) is a script wherever it sits; test code is a pytest or unittest test
    module, conftest.py, or another module of a test suite's folder.

    Why:
    The guidelines say `set_start_method()` "should not be used more than once in the
    program", and that libraries should use `get_context()` so they do not interfere
    with the user's choice. A library that sets the method when it is imported
    overrides the application, and makes the application's own call (or a second
    library's) raise "context has already been set". A second call in a repeated
    setup, a call in a child (whose method is already set by its parent), or a call
    after objects were created raises the same error. `force=True` only silences that
    error: each run replaces the default for the whole process, so in a test or a
    fixture it changes the start method of every test that runs after it in the
    session (results then depend on test order and on which tests were selected), and
    elsewhere it overrides whatever the entry point chose. Pinning `fork` to make
    Python 3.14's forkserver default "work again" hides the real bug: fork is unsafe
    with threads, unavailable on Windows and unsafe on macOS, and a test suite pinned
    to fork never runs the code the way its users' Python 3.14 does.

    A test that needs a particular method takes a context of its own instead of
    changing the default:

        def test_workers_under_spawn():
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(2) as pool:
                assert pool.map(abs, [-1, 2]) == [1, 2]

    and `ctx.Process(...)`, `ctx.Queue()` likewise; the session's default is chosen
    once, in `pytest_configure` or a session-scoped autouse fixture.

    Example:
        # mylib/__init__.py
        import multiprocessing as mp

        mp.set_start_method("spawn")

        def squares(numbers):
            with mp.Pool(2) as pool:
                return pool.map(abs, numbers)

    Fixed:
        # mylib/__init__.py
        import multiprocessing as mp

        _ctx = mp.get_context("spawn")

        def squares(numbers):
            with _ctx.Pool(2) as pool:
                return pool.map(abs, numbers)

    Fix safety:
    Unsafe: the fixes change which context objects belong to. A library's import-time
    call becomes a module context that the module's own Process, Pool, Queue, Lock,
    Manager... constructions (and ProcessPoolExecutor's `mp_context`) go through; it is
    report-only when the module creates no objects itself, when a package's
    submodules create them, or when classes are used where a context cannot stand in
    (`isinstance`, subclasses defined before the call). A call in a function that may
    run again (a fixture or a test included) becomes a local context,
    `ctx = get_context(m)`, for the objects the function creates itself; where it
    creates none, the call is report-only: its message says where the method belongs.
    `force=True` is never the fix. Calls in children, calls after objects were
    created, and pinned fork are report-only.
    """

    code = "MP008"
    name = "start-method-placement"
    fix_safety = "unsafe"

    def check(self) -> Iterable[Violation]:
        children = self.analysis.child_functions()
        for call in self.analysis.calls:
            kind = self.analysis.call_kind(call)
            if kind is Kind.SET_START_METHOD:
                violation = self._check_setter(call, children)
            elif kind is Kind.CONTEXT:
                violation = self._check_pinned_context(call)
            elif kind is Kind.DATA_LOADER:
                violation = self._check_loader(call)
            elif kind is Kind.CALLS_SET_START_METHOD:
                violation = self._check_setting_call(call)
            else:
                continue
            if violation is not None:
                yield violation

    # -- detection ---------------------------------------------------------------------

    def _check_setter(self, call: cst.Call, children: list[cst.FunctionDef]) -> Optional[Violation]:
        analysis = self.analysis
        function = analysis.enclosing_function(call)
        in_tests = self.context.is_test_code
        if function is None:
            if not analysis.is_module_level(call):
                return None  # in a lambda: when it runs is unknown
            if not analysis.in_main_guard(call) and not self.context.is_library():
                return None  # a script's own import-time call is MP001's to move
        elif function in children:
            return Violation(call, (
                f"set_start_method() in `{function.name.value}()`, run in a child, raises "
                f"{ALREADY_SET} there: set it only in the entry point"))
        earlier = self._earlier_default_context_uses(call, function)
        if earlier:
            line = analysis.position(earlier[0]).start.line
            done = "set the method" if analysis.call_kind(earlier[0]) is Kind.SET_START_METHOD \
                else "created multiprocessing objects"
            effect = "objects made before and after it belong to different contexts" \
                if _forced(call) else f"this raises {ALREADY_SET}"
            return Violation(call, (
                f"set_start_method() after line {line} already {done}: {effect}; set it once, "
                f"first, in the entry point"))
        if function is None:
            if analysis.in_main_guard(call):
                return None
            if in_tests:
                return self._check_test_import_time(call)
            return self._check_import_time(call)
        if in_tests:
            return self._check_in_tests(call, function)
        return self._check_in_function(call, function)

    def _check_setting_call(self, call: cst.Call) -> Optional[Violation]:
        """A library that, at import time, calls a function of another module or of an
        installed package whose summary says it sets the start method (report only: the
        call is not this module's to rewrite)."""
        analysis = self.analysis
        if not self._library_api() or not analysis.is_module_level(call) \
                or analysis.enclosing_function(call) is not None or analysis.in_main_guard(call):
            return None
        name = analysis.api_name(call.func) or analysis.module.code_for_node(call.func)
        return Violation(call, (
            f"library sets the start method at import time through `{name}()`: leave that "
            f"call to the entry point, and use get_context() in this library"))

    def _check_pinned_context(self, call: cst.Call) -> Optional[Violation]:
        """A library that binds the fork context for its own use. A call whose value is
        dropped only probes whether fork exists; one that fills a table or a conditional
        beside other methods' contexts offers fork as one choice among them."""
        analysis = self.analysis
        if not self._library_api() or not analysis.is_module_level(call) \
                or analysis.in_main_guard(call) or analysis.context_method(call) != "fork" \
                or not isinstance(analysis.parent(call), (cst.Assign, cst.AnnAssign)):
            return None
        return Violation(call, f"library pins the fork context at import time: {PIN_FORK}")

    def _check_loader(self, call: cst.Call) -> Optional[Violation]:
        """A DataLoader whose workers only run under fork: pinned with
        `multiprocessing_context="fork"` by a library or a test, or sized by a test of
        `get_start_method() == "fork"` (no workers under spawn or forkserver at all)."""
        analysis = self.analysis
        if analysis.loader_workers(call) is Workers.NONE:
            return None
        fork_test = analysis.fork_only_workers(call)
        if fork_test is not None:
            line = analysis.position(fork_test).start.line
            return Violation(call, (
                f"this DataLoader gets workers only under fork (line {line}): under spawn and "
                f"forkserver it loads every batch in the main process; keep its workers under "
                f"every method"))
        if analysis.loader_start_method(call) != "fork":
            return None
        context = analysis.loader_context(call)
        if self.context.is_test_code:
            return Violation(context, (
                "the test pins its DataLoader to fork, so it cannot catch a dataset "
                f"or collate_fn that does not pickle: {PIN_FORK}"))
        if self._library_api():
            return Violation(context, (
                "library pins its DataLoader's workers to fork, overriding the application's "
                f"choice: {PIN_FORK}"))
        return None

    def _earlier_default_context_uses(self, call: cst.Call,
                                      function: Optional[cst.FunctionDef]) -> list[cst.Call]:
        family = self.analysis.default_context_family(call)
        if family is None:
            return []
        region = function.body if function is not None else self.analysis.module
        earlier = [use for use in self.analysis.default_context_calls(region, family)
                   if use is not call and _starts_before(self.analysis, use, call)
                   and not self.analysis.exclusive_branches(use, call)]
        resets = [use for use in earlier if self.analysis.call_kind(use) is Kind.SET_START_METHOD
                  and _unsets(use)]
        if resets:
            # `set_start_method(None, force=True)` unsettles the default: only what follows counts.
            last = max(resets, key=lambda use: _start(self.analysis, use))
            earlier = [use for use in earlier if _starts_before(self.analysis, last, use)]
        if _forced(call):
            # Re-setting with force=True after another set is harmless; after objects, not.
            earlier = [use for use in earlier if self.analysis.call_kind(use)
                       not in (Kind.SET_START_METHOD, Kind.CONTEXT)]
        return earlier

    def _check_import_time(self, call: cst.Call) -> Violation:
        method = _literal_method(call)
        message = "library pins fork at import time" if method == "fork" else \
            "library sets the start method at import time, overriding the application's choice"
        fix, detail = self._module_context_fix(call, method)
        return Violation(call, f"{message}: {_advice(method, fix, detail)}", fix)

    def _check_in_function(self, call: cst.Call, function: cst.FunctionDef, *,
                           guessing: bool = True) -> Optional[Violation]:
        """`guessing`: see _why_repeated; test code is no library's API."""
        if _forced(call):
            return self._check_forced_in_function(call, function)
        if self._tolerates_repeat(call):
            return None
        reason = self._why_repeated(call, function, guessing=guessing)
        if reason is None:
            return None
        method = _literal_method(call)
        library = self._library_api()
        effect = "overrides the application's choice" if library else "fails the second time"
        message = f"set_start_method() in `{function.name.value}()`, which {reason}, {effect}"
        fix, detail = self._repeated_call_fix(call, function, method, ONCE_FOR_SCRIPT)
        # Only a library's pin of fork is judged: an application may choose fork.
        advice = _advice(method if library else None, fix, detail)
        return Violation(call, f"{message}: {advice}", fix)

    def _check_forced_in_function(self, call: cst.Call,
                                  function: cst.FunctionDef) -> Optional[Violation]:
        """force=True raises nothing, so only a function shown to run again is reported:
        each run replaces the process-wide default behind the entry point's back. A reset
        to no method (None) is what a clean-up does, not a choice."""
        reason = None if _unsets(call) else self._why_repeated(call, function, guessing=False)
        if reason is None:
            return None
        message = f"{FORCED} in `{function.name.value}()`, which {reason}, resets the method"
        method = _literal_method(call)
        fix, detail = self._repeated_call_fix(call, function, method, ONCE_FOR_SCRIPT)
        return Violation(call, f"{message}: {_advice(method, fix, detail)}", fix)

    def _library_api(self) -> bool:
        """Code of a library that applications import; a test module is imported too, by
        the test runner, but chooses for its own session, not for an application."""
        return self.context.is_library() and not self.context.is_test_code

    # -- test code ---------------------------------------------------------------------

    def _check_test_import_time(self, call: cst.Call) -> Optional[Violation]:
        """conftest.py's import is the session's set-up; a test module's import is not."""
        method = _literal_method(call)
        if is_conftest(self.context.path) or not _forced(call):
            return self._pinned_session(call) if method == "fork" else None
        message = f"{FORCED} at a test module's import sets the method for the whole session"
        return Violation(call, f"{message}: {_advice(method, None, ONCE_FOR_TESTS)}")

    def _check_in_tests(self, call: cst.Call, function: cst.FunctionDef) -> Optional[Violation]:
        method = _literal_method(call)
        if self._session_setting(function, frozenset()):
            return self._pinned_session(call) if method == "fork" else None
        if not _forced(call):
            return self._check_in_function(call, function, guessing=False)
        if self._restores_previous_method(call):
            return None  # saved with get_start_method() and set back: scoped to its tests
        message = (f"{FORCED} in `{function.name.value}()`, {self._test_role(function)}, "
                   f"changes the method for every later test")
        fix, detail = self._repeated_call_fix(call, function, method, ONCE_FOR_TESTS)
        return Violation(call, f"{message}: {_advice(method, fix, detail)}", fix)

    def _pinned_session(self, call: cst.Call) -> Violation:
        return Violation(call, (
            "the test session pins fork, so it cannot catch what breaks under spawn and "
            "forkserver (3.14's Linux default): fix that instead"))

    def _session_setting(self, function: cst.FunctionDef, seen: frozenset[int]) -> bool:
        """Whether `function` runs once, before the first test: a pytest session hook, a
        session-scoped autouse fixture, or what only one of them, conftest.py's import or
        the module's main guard (run as a script, not by pytest) calls."""
        analysis = self.analysis
        if _owning_class(analysis, function) is None \
                and function.name.value in PYTEST_SESSION_HOOKS:
            return True
        fixture = self._fixture(function)
        if fixture is not None:
            return fixture == ("session", True)
        sites = analysis.call_sites(function)
        if len(sites) != 1 or len(analysis.references(function)) != 1 \
                or analysis.in_loop(sites[0]) or id(function) in seen:
            return False
        caller = analysis.enclosing_function(sites[0])
        if caller is None:
            return analysis.in_main_guard(sites[0]) or (
                analysis.is_module_level(sites[0])
                and is_conftest(self.context.path))
        return self._session_setting(caller, seen | {id(function)})

    def _test_role(self, function: cst.FunctionDef) -> str:
        fixture = self._fixture(function)
        if fixture is not None:
            _, autouse = fixture  # never session-scoped here: that one is the session's choice
            return "an autouse fixture" if autouse else "a fixture"
        name = function.name.value
        if name in TEST_SETUP_HOOKS:
            return f"a set-up hook, run again for every {TEST_SETUP_HOOKS[name]}"
        if name.startswith("test"):
            return "a test"
        return "a helper of the test suite"

    def _restores_previous_method(self, call: cst.Call) -> bool:
        """Whether the module puts the default back with force=True (a fixture's teardown,
        a `finally:`, tearDownModule): the method saved with get_start_method(), or None,
        which unsets it. The forced calls between are scoped to the tests they wrap."""
        analysis = self.analysis
        family = analysis.default_context_family(call)
        for other in analysis.calls:
            if analysis.call_kind(other) is not Kind.SET_START_METHOD or not _forced(other) \
                    or analysis.default_context_family(other) != family:
                continue
            method = argument(other, "method", 0)
            if _unsets(other) or (method is not None
                                  and _root_name(method.value) in self._saved_names):
                return True
        return False

    @cached_property
    def _saved_names(self) -> set[str]:
        return _saved_method_names(self.analysis)  # once per file, not once per setter

    def _tolerates_repeat(self, call: cst.Call) -> bool:
        """`try: set_start_method(m) except RuntimeError: ...` and
        `if get_start_method(allow_none=True) is None: set_start_method(m)`."""
        child: cst.CSTNode = call
        for ancestor in self.analysis.ancestors(call):
            if isinstance(ancestor, cst.FunctionDef):
                return False
            if isinstance(ancestor, cst.Try) and child is ancestor.body \
                    and any(_catches_runtime_error(h) for h in ancestor.handlers):
                return True
            if isinstance(ancestor, cst.If) and child is ancestor.body and any(
                    _start_method_query(self.analysis, c.func) for c in _calls_in(ancestor.test)):
                return True
            child = ancestor
        return False

    # -- how often a function runs -----------------------------------------------------

    def _why_repeated(self, call: cst.Call, function: cst.FunctionDef, *,
                      guessing: bool = True) -> Optional[str]:
        """Why `function` may run again; with `guessing`, a library's function counts as
        repeated when nothing in the module shows how often its importers call it."""
        if self.analysis.in_loop(call):
            return f"sets it in a loop (line {self.analysis.position(call).start.line})"
        runs, reason = self._runs(function, frozenset())
        if runs is Runs.REPEATEDLY:
            return reason
        if guessing and self._library_api() \
                and not _is_program_main(self.analysis, function) \
                and (runs is Runs.UNKNOWN or self._importers_may_call(function)):
            return "importers may call repeatedly"
        return None

    def _importers_may_call(self, function: cst.FunctionDef) -> bool:
        """A library's public function is API, unless it is the module's own entry point
        (called from its main guard); what the module alone shows about it proves nothing."""
        analysis = self.analysis
        if function.name.value.startswith("_") or analysis.parent(function) is not analysis.module:
            return False
        return not any(analysis.in_main_guard(site) for site in analysis.call_sites(function))

    def _runs(self, function: cst.FunctionDef, seen: frozenset[int]) -> tuple[Runs, str]:
        analysis = self.analysis
        name = function.name.value
        owner = _owning_class(analysis, function)
        if owner is None and name in PYTEST_SESSION_HOOKS:
            return Runs.ONCE, ""
        scope = self._fixture_scope(function)
        if scope == "session":
            return Runs.ONCE, ""
        if scope == "":
            return Runs.UNKNOWN, ""  # a computed scope
        if scope is not None:
            unit = "test" if scope == "function" else scope
            return Runs.REPEATEDLY, f"is a pytest fixture run for every {unit}"
        if name in TEST_SETUP_HOOKS:
            return Runs.REPEATEDLY, f"is a set-up hook run for every {TEST_SETUP_HOOKS[name]}"
        if owner is not None and name != "__init__":
            return Runs.UNKNOWN, ""  # method calls are not resolved
        target: Union[cst.FunctionDef, cst.ClassDef] = owner if owner is not None else function
        called = f"runs for every `{owner.name.value}()`, which is created" if owner is not None \
            else "is called"
        sites = analysis.call_sites(target)
        if not sites or len(sites) < len(analysis.references(target)):
            return Runs.UNKNOWN, ""  # never called here, or handed around as a value
        lines = ", ".join(str(analysis.position(site).start.line) for site in sites)
        if len(sites) > 1:
            return Runs.REPEATEDLY, f"{called} at lines {lines}"
        site = sites[0]
        if analysis.in_loop(site):
            return Runs.REPEATEDLY, f"{called} in a loop (line {lines})"
        caller = analysis.enclosing_function(site)
        if caller is None:
            return (Runs.ONCE, "") if analysis.is_module_level(site) else (Runs.UNKNOWN, "")
        if id(caller) in seen:
            return Runs.UNKNOWN, ""
        runs, reason = self._runs(caller, seen | {id(function)})
        if runs is Runs.REPEATEDLY:
            return runs, f"{called} by `{caller.name.value}()`, which {reason}"
        return runs, ""

    def _fixture_scope(self, function: cst.FunctionDef) -> Optional[str]:
        """The scope of a pytest fixture ("function" by default, "" when computed);
        None if `function` is not a fixture."""
        fixture = self._fixture(function)
        return fixture[0] if fixture is not None else None

    def _fixture(self, function: cst.FunctionDef) -> Optional[tuple[str, bool]]:
        """A pytest fixture's scope ("function" by default, "" when computed) and whether
        it is autouse (literally True); None if `function` is not a fixture."""
        for decorator in function.decorators:
            expr = decorator.decorator
            call = expr if isinstance(expr, cst.Call) else None
            func = call.func if call is not None else expr
            if "pytest.fixture" not in self.analysis.qualified_names(func):
                continue
            scope = keyword(call, "scope") if call is not None else None
            autouse = keyword(call, "autouse") if call is not None else None
            is_autouse = autouse is not None and _is_name(autouse.value, "True")
            if scope is None:
                return "function", is_autouse
            if isinstance(scope.value, cst.SimpleString):
                return str(scope.value.evaluated_value), is_autouse
            return "", is_autouse
        return None

    # -- fixes -------------------------------------------------------------------------

    def _module_context_fix(self, call: cst.Call,
                            method: Optional[str]) -> tuple[Optional[Fix], str]:
        """A library's import-time call becomes `_ctx = get_context(m)` used by the module."""
        analysis = self.analysis
        elsewhere = "leave it to the application; use get_context(method) here"
        statement = self._import_time_statement(call)
        family = _call_family(analysis, call)
        if method is None:
            return None, elsewhere
        if family is None or statement is None:
            return None, elsewhere
        if self.context.settings.is_package_init and _has_relative_imports(analysis.module):
            return None, elsewhere
        name = unused_name(analysis, "_ctx")
        shared = analysis.default_context_family(call) or family
        routes = Routes.collect(analysis, analysis.module, shared, name, nested_ok=True)
        early = [node for node in routes.routed
                 if analysis.is_module_level(node) and _starts_before(analysis, node, statement)]
        if routes.unroutable or not routes.creates or early:
            return None, elsewhere
        fix = self._context_fix(call, statement, family, name, routes)
        context = f"`{name} = get_context({_method_code(analysis, call)})`"
        if method == "fork":
            return fix, f"pin only this module: {context}"
        return fix, f"use {context} for this module's objects"

    def _repeated_call_fix(self, call: cst.Call, function: cst.FunctionDef,
                           method: Optional[str], unclear: str) -> tuple[Optional[Fix], str]:
        """A local context for the objects `function` creates; `unclear` says what to do
        where that is not clearly right. Never force=True: it only silences the error."""
        analysis = self.analysis
        if method is None:
            return None, unclear
        family = _call_family(analysis, call)
        statement = _own_statement(analysis, call)
        if family is None or statement is None or analysis.parent(statement) is not function.body:
            return None, unclear
        shared = analysis.default_context_family(call) or family
        helpers = [use for use in analysis.default_context_calls(function.body, shared)
                   if analysis.default_context_family(use) is None]
        if helpers:
            return None, unclear
        name = unused_name(analysis, "ctx")
        routes = Routes.collect(analysis, function.body, shared, name, nested_ok=False)
        if routes.unroutable or not routes.creates:
            return None, unclear
        fix = self._context_fix(call, statement, family, name, routes)
        context = f"`{name} = get_context({_method_code(analysis, call)})`"
        return fix, f"use {context} instead"

    def _import_time_statement(self, call: cst.Call) -> Optional[cst.BaseStatement]:
        """The module statement the call is: alone, or wrapped in
        `try: ... except RuntimeError: pass`."""
        analysis = self.analysis
        line = _own_statement(analysis, call)
        if line is None:
            return None
        parent = analysis.parent(line)
        if parent is analysis.module:
            return line
        wrapper = analysis.parent(parent) if isinstance(parent, cst.IndentedBlock) else None
        if isinstance(wrapper, cst.Try) and analysis.parent(wrapper) is analysis.module \
                and len(wrapper.body.body) == 1 and wrapper.orelse is None \
                and wrapper.finalbody is None and wrapper.handlers \
                and all(_catches_runtime_error(h) and _only_pass(h.body) for h in wrapper.handlers):
            return wrapper
        return None

    def _get_context_binding(self, call: cst.Call,
                             family: str) -> tuple[str, tuple[ImportSpec, ...]]:
        """How to spell `get_context`: through the module the call itself goes through
        (`mp.set_start_method` gives `mp.get_context`, even where `mp` is a function's own
        lazy import), else as the module's imports allow."""
        func = call.func
        if isinstance(func, cst.Attribute) and family in self.analysis.qualified_names(func.value):
            return f"{self.analysis.module.code_for_node(func.value)}.get_context", ()
        return import_binding(self.analysis, family, "get_context")

    def _context_fix(self, call: cst.Call, statement: cst.BaseStatement, family: str, name: str,
                     routes: "Routes") -> Fix:
        """`statement` becomes `name = get_context(m)`; the routed objects go through it."""
        analysis = self.analysis
        binding, imports = self._get_context_binding(call, family)
        method_arg = argument(call, "method", 0)
        assert method_arg is not None
        assign = cst.Assign(
            targets=[cst.AssignTarget(cst.Name(name))],
            value=cst.Call(func=cst.parse_expression(binding),
                           args=[cst.Arg(method_arg.value)]),
        )
        if isinstance(statement, cst.SimpleStatementLine):
            new_statement: cst.BaseStatement = statement.with_changes(body=[assign])
        else:
            new_statement = cst.SimpleStatementLine(body=[assign],
                                                    leading_lines=statement.leading_lines)
        replacements: dict[cst.CSTNode, object] = {statement: new_statement, **routes.replacements}
        pruned, imports = _prune_imports(analysis, family, replacements, binding, imports)
        replacements.update(pruned)
        return Fix(replacements, Safety.UNSAFE, imports)  # type: ignore[arg-type]


# -- routing a module's (or a function's) objects through a context ------------------------


@dataclass
class Routes:
    """How the references to a family's API under one node go through context `name`."""

    replacements: dict[cst.CSTNode, cst.CSTNode] = field(default_factory=dict)
    routed: list[cst.CSTNode] = field(default_factory=list)
    creates: bool = False
    unroutable: list[cst.CSTNode] = field(default_factory=list)

    @classmethod
    def collect(cls, analysis: ModuleAnalysis, node: cst.CSTNode, family: str, name: str,
                *, nested_ok: bool) -> "Routes":
        finder = _RouteFinder(analysis, family, name, nested_ok)
        node.visit(finder)
        routes = finder.routes
        # Calls that gain a context argument are rebuilt with their inner routes applied,
        # innermost first, so one replacement never discards another.
        for call, parameter in sorted(finder.needs_context, reverse=True,
                                      key=lambda item: _start(analysis, item[0])):
            inner = call.visit(_Substitute(routes.replacements))
            assert isinstance(inner, cst.Call)
            routes.replacements[call] = _with_keyword(inner, parameter, cst.Name(name))
        return routes


class _RouteFinder(cst.CSTVisitor):
    def __init__(self, analysis: ModuleAnalysis, family: str, name: str, nested_ok: bool) -> None:
        self.analysis = analysis
        self.family = family
        self.name = name
        self.nested_ok = nested_ok
        self.nesting = 0
        self.routes = Routes()
        self.needs_context: list[tuple[cst.Call, str]] = []

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def visit_Annotation(self, node: cst.Annotation) -> bool:
        return False  # annotations name classes; they create nothing

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.nesting += 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.nesting -= 1

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.nesting += 1

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self.nesting -= 1

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        return self._reference(node)

    def visit_Name(self, node: cst.Name) -> bool:
        return self._reference(node)

    def _reference(self, node: Union[cst.Name, cst.Attribute]) -> bool:
        """Route one reference to the API; False once handled, so `mp` in `mp.Pool` is not."""
        analysis = self.analysis
        qualified = analysis.api_name(node) or _start_method_query(analysis, node)
        if qualified is None:
            return True
        if default_family(qualified) != self.family:
            return False
        family = api_family(qualified)
        member = qualified[len(family) + 1:] if family else ""
        parent = analysis.parent(node)
        called = isinstance(parent, cst.Call) and parent.func is node
        if self.nesting and not self.nested_ok and (member in ROUTED_API or called):
            self.routes.unroutable.append(node)
        elif member in ROUTED_API:
            if called or _is_class_base(analysis, node):
                self._route(node, cst.Attribute(cst.Name(self.name), cst.Name(member)),
                            creates=member in CREATING_API)
            else:
                self.routes.unroutable.append(node)  # isinstance(), handed around as a value
        elif member == "get_context" and called:
            assert isinstance(parent, cst.Call)
            if analysis.default_context_family(parent) is not None:
                self._route(parent, cst.Name(self.name), creates=False)
        elif called and analysis.context_parameter(parent) is not None:  # type: ignore[arg-type]
            assert isinstance(parent, cst.Call)
            parameter = analysis.context_parameter(parent)
            assert parameter is not None
            if argument(parent, *parameter) is None:
                self.needs_context.append((parent, parameter[0]))
                self.routes.routed.append(parent)
                self.routes.creates = True
        elif _is_class_base(analysis, node) and analysis.starters.kind_of_name(qualified) \
                in (Kind.MANAGER, Kind.POOL, Kind.EXECUTOR):
            self.routes.unroutable.append(node)  # a subclass's instances take the default context
        return False

    def _route(self, node: cst.CSTNode, replacement: cst.CSTNode, *, creates: bool) -> None:
        self.routes.replacements[node] = replacement
        self.routes.routed.append(node)
        self.routes.creates = self.routes.creates or creates


class _Substitute(cst.CSTTransformer):
    def __init__(self, replacements: dict[cst.CSTNode, cst.CSTNode]) -> None:
        self.replacements = replacements

    def on_leave(self, original_node, updated_node):  # type: ignore[no-untyped-def]
        return self.replacements.get(original_node, updated_node)


# -- imports ----------------------------------------------------------------------------------


def _prune_imports(analysis: ModuleAnalysis, family: str, replacements: dict,
                   binding: str, imports: tuple[ImportSpec, ...]
                   ) -> tuple[dict, tuple[ImportSpec, ...]]:
    """Drop `from <family> import X` names the fix leaves unread; `get_context` takes the
    place of `set_start_method` there rather than arriving as a new import."""
    replaced = {id(node) for node in replacements}
    exported = _exported_names(analysis.module)
    wanted = binding if imports else None
    result: dict = {}
    for line in analysis.module.body:
        if not isinstance(line, cst.SimpleStatementLine):
            continue
        new_body: list[cst.BaseSmallStatement] = []
        changed = False
        for small in line.body:
            if not _imports_from(small, family):
                new_body.append(small)
                continue
            assert isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar)
            kept: list[cst.ImportAlias] = []
            for alias in small.names:
                bound = alias.evaluated_alias or alias.evaluated_name
                if bound in exported or not _only_read_in(analysis, alias, bound, replaced):
                    kept.append(alias)
                    continue
                changed = True
                if wanted is not None:
                    kept.append(alias.with_changes(name=cst.Name(wanted), asname=None))
                    wanted = None
            if kept:
                last_comma = small.names[-1].comma
                kept[-1] = kept[-1].with_changes(comma=last_comma)
                new_body.append(small.with_changes(names=kept))
        if not changed:
            continue
        if new_body:
            result[line] = line.with_changes(body=new_body)
        elif not any(empty.comment is not None for empty in line.leading_lines) \
                and line.trailing_whitespace.comment is None:
            result[line] = cst.RemovalSentinel.REMOVE
    if wanted is None and imports:
        imports = ()
    return result, imports


def _only_read_in(analysis: ModuleAnalysis, alias: cst.ImportAlias, bound: str,
                  replaced: set[int]) -> bool:
    """Whether every read of an imported name sits inside a node the fix replaces."""
    reads = [name for name in analysis.names.loads if name.value == bound
             and any(b.node is alias for b in analysis.names.resolve(name))]
    return bool(reads) and all(
        id(read) in replaced or any(id(a) in replaced for a in analysis.ancestors(read))
        for read in reads)


def _imports_from(small: cst.BaseSmallStatement, family: str) -> bool:
    return isinstance(small, cst.ImportFrom) and not small.relative \
        and small.module is not None and not isinstance(small.names, cst.ImportStar) \
        and dotted_name(small.module) == family


def _exported_names(module: cst.Module) -> set[str]:
    """The strings of a module-level `__all__`, which keep imports alive."""
    names: set[str] = set()
    for assign in descendants(module):
        if not (isinstance(assign, cst.Assign) and len(assign.targets) == 1
                and _is_name(assign.targets[0].target, "__all__")):
            continue
        for string in descendants(assign):
            if not isinstance(string, cst.SimpleString):
                continue
            value = string.evaluated_value
            if isinstance(value, str):
                names.add(value)
    return names


def _has_relative_imports(module: cst.Module) -> bool:
    return any(isinstance(node, cst.ImportFrom) and node.relative for node in descendants(module))


def _advice(method: Optional[str], fix: Optional[Fix], detail: str) -> str:
    """What a finding says to do: the fix's own words or, for a pin of fork, to fix what
    breaks instead (and the fix, if there is one, meanwhile)."""
    if method != "fork":
        return detail
    return PIN_FORK if fix is None else f"{PIN_FORK}; meanwhile, {detail}"


# -- small syntax helpers -----------------------------------------------------------------


def _is_name(node: cst.CSTNode, value: str) -> bool:
    return isinstance(node, cst.Name) and node.value == value


def _literal_method(call: cst.Call) -> Optional[str]:
    method = argument(call, "method", 0)
    if method is not None and isinstance(method.value, cst.SimpleString):
        value = method.value.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _method_code(analysis: ModuleAnalysis, call: cst.Call) -> str:
    method = argument(call, "method", 0)
    return analysis.module.code_for_node(method.value) if method is not None else ""


def _root_name(expr: cst.BaseExpression) -> Optional[str]:
    """`old` for `old`, `old[0]`, `old.method` and `self.old` (as `self.old`)."""
    while isinstance(expr, cst.Subscript):
        expr = expr.value
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        name = dotted_name(expr)
        return name if "" not in name.split(".") else None
    return None


def _saved_method_names(analysis: ModuleAnalysis) -> set[str]:
    """Where the module stores what get_start_method() returned: `old = ...get_start_method(...)`,
    `saved[0] = ...`, `self.previous = ...`."""
    names: set[str] = set()
    index = analysis.names
    # From the name index's calls up, not a walk of the module: this runs for every setter.
    for call in index.calls:
        assign = next((a for a in index.ancestors(call) if isinstance(a, cst.Assign)), None)
        if assign is None or not index.contains(assign.value, call) \
                or not _start_method_query(analysis, call.func):
            continue
        for target in assign.targets:
            name = _root_name(target.target)
            if name is not None:
                names.add(name)
    return names


def _unsets(call: cst.Call) -> bool:
    """`set_start_method(None, force=True)`: the default context is unsettled again."""
    method = argument(call, "method", 0)
    return _forced(call) and method is not None and _is_name(method.value, "None")


def _forced(call: cst.Call) -> bool:
    """`force=` given and not literally False (a computed value may well be True)."""
    force = argument(call, "force", 1)
    return force is not None and not _is_name(force.value, "False")


def _call_family(analysis: ModuleAnalysis, call: cst.Call) -> Optional[str]:
    name = analysis.api_name(call.func)
    return api_family(name) if name is not None else None


def _own_statement(analysis: ModuleAnalysis, call: cst.Call) -> Optional[cst.SimpleStatementLine]:
    """The line `call` makes up on its own (`set_start_method(m)` and nothing else)."""
    expr = analysis.parent(call)
    line = analysis.parent(expr) if isinstance(expr, cst.Expr) else None
    if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1:
        return line
    return None


def _is_program_main(analysis: ModuleAnalysis, function: cst.FunctionDef) -> bool:
    """A module-level `main()`: by convention a program's entry point (what a console script,
    a package's `__main__.py` or a main guard calls once), not API importers call again."""
    return function.name.value == "main" and analysis.parent(function) is analysis.module


def _owning_class(analysis: ModuleAnalysis, function: cst.FunctionDef) -> Optional[cst.ClassDef]:
    block = analysis.parent(function)
    owner = analysis.parent(block) if isinstance(block, cst.IndentedBlock) else None
    return owner if isinstance(owner, cst.ClassDef) else None


def _is_class_base(analysis: ModuleAnalysis, node: cst.CSTNode) -> bool:
    arg = analysis.parent(node)
    owner = analysis.parent(arg) if isinstance(arg, cst.Arg) else None
    return isinstance(owner, cst.ClassDef) and any(base is arg for base in owner.bases)


def _start(analysis: ModuleAnalysis, node: cst.CSTNode) -> int:
    """Where `node` starts, as the name index's source order: a position would render the
    whole module's code, which only a finding needs."""
    return analysis.names.order[node]


def _starts_before(analysis: ModuleAnalysis, node: cst.CSTNode, other: cst.CSTNode) -> bool:
    return _start(analysis, node) < _start(analysis, other)


def _start_method_query(analysis: ModuleAnalysis, node: cst.CSTNode) -> Optional[str]:
    """`multiprocessing.get_start_method` (or a family's) when `node` names it."""
    for name in analysis.qualified_names(node):
        family = api_family(name)
        if family is not None and name == f"{family}.get_start_method":
            return name
    return None


def _catches_runtime_error(handler: cst.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    caught = [element.value for element in handler.type.elements] \
        if isinstance(handler.type, cst.Tuple) else [handler.type]
    return any(isinstance(name, cst.Name) and name.value in TOLERANT_HANDLERS for name in caught)


def _only_pass(block: cst.BaseSuite) -> bool:
    return isinstance(block, cst.IndentedBlock) and all(
        isinstance(s, cst.SimpleStatementLine) and all(isinstance(x, cst.Pass) for x in s.body)
        for s in block.body)


def _calls_in(node: cst.CSTNode) -> list[cst.Call]:
    return [call for call in descendants(node) if isinstance(call, cst.Call)]


def _with_keyword(call: cst.Call, keyword: str, value: cst.BaseExpression) -> cst.Call:
    """`call` with `keyword=value` appended, keeping a multi-line call's layout."""
    template = cst.parse_expression(f"f({keyword}=None)")
    assert isinstance(template, cst.Call)
    new_arg = template.args[0].with_changes(value=value)
    args = list(call.args)
    if args and isinstance(args[-1].comma, cst.Comma):
        # A trailing comma carries the line break before `)`: move it to the new last argument.
        separator = cst.Comma(whitespace_after=call.whitespace_before_args) \
            if isinstance(call.whitespace_before_args, cst.ParenthesizedWhitespace) \
            else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        new_arg = new_arg.with_changes(comma=args[-1].comma)
        args[-1] = args[-1].with_changes(comma=separator)
    return call.with_changes(args=[*args, new_arg])


class StartMethodPlacementCommand(RuleCommand):
    rule = StartMethodPlacement
