"""MP001 main-guard: entry code belongs under `if __name__ == "__main__":`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, Iterator, Optional

import libcst as cst

from mpfix.analysis.module import (SHARED_DEFAULT_CONTEXT, api_family, is_main_guard, statement_mutations,
                            statement_names)
from mpfix.findings import Safety
from mpfix.rulekit.rule import Fix, ImportSpec, Rule, RuleContext, Violation
from mpfix.rulekit.comments import describes_old_behaviour, without_attached_comment
from mpfix.rulekit.helpers import RuleCommand, import_binding, split_leading_lines, unused_name
from mpfix.analysis.backends import Choice, backend_choice
from mpfix.analysis.starters import Kind
from mpfix.analysis.summaryfacts import process_family

# Objects through which a module starts processes: their library's freeze_support() is
# the one a frozen child of the program needs (each library marks its children with its
# own command-line flag, `--multiprocessing-fork` or `--billiard-fork`).
PROCESS_KINDS = frozenset({Kind.PROCESS, Kind.POOL, Kind.EXECUTOR, Kind.MANAGER, Kind.CONTEXT,
                           Kind.SET_START_METHOD})
# A library's import-time call that sets the start method is MP008's.
SETTING_KINDS = frozenset({Kind.SET_START_METHOD, Kind.CALLS_SET_START_METHOD})
GUARD = "`if __name__ == \"__main__\":`"
# What the fix adds, as a comment on a moved statement describing the old failure names it
# ("without a main guard this fails under spawn"): dropped (mpfix.rulekit.comments).
MISSING_GUARD = re.compile(r"__main__|__name__|main guard|\bguard", re.IGNORECASE)


class MainGuard(Rule):
    """Entry code that starts processes must run only in the main process.

    What it finds:
    Module-level code that starts a process, creates a pool, executor or
    manager, sets the start method, or calls a function of the same module that
    does so, outside `if __name__ == "__main__":`; also module-level code that
    iterates a `torch.utils.data.DataLoader` with worker processes (`for batch
    in loader:`, `next(iter(loader))`, `enumerate(loader)`, `list(loader)`, or
    handing it to a function that iterates that parameter: one of the module,
    or of another module whose summary says so), since that starts its workers.
    Creating a loader at import time starts nothing and is not reported, nor is
    handing it to a call that may keep it for later (`accelerator.prepare(loader)`,
    a wrapper): that proves no iteration. A main guard without
    `freeze_support()` is reported only when the project ships frozen
    executables (see Settings).

    Also a call of a function of another module of the run, or of an installed
    package, whose summary says it starts processes, however many calls away
    (a console script's `pkg.cli.main()` where `main()` opens a Pool in
    another file), and a call of a third-party starter whose children import
    the main module again: `pebble.ProcessPool`, a function decorated with
    `pebble.concurrent.process`, `torch.multiprocessing.spawn` and
    `start_processes`, pathos' process pools, and `joblib.Parallel` with the
    multiprocessing backend (`backend="multiprocessing"`, or no backend inside
    `with parallel_backend("multiprocessing"):` / `parallel_config(...)`) and
    more than one worker. joblib's default loky backend and
    `loky.get_reusable_executor` are not reported: loky's workers never
    import the main module. A `Parallel` whose backend is not a literal may be
    either: reported at module level, never moved. An import mpfix cannot resolve to a file of the
    run or of the environment it runs in is not followed.

    A package's `__main__.py` (`python -m pkg`) and a notebook are not
    reported: spawn and forkserver children never run them again.

    Why:
    Under spawn and forkserver (Python 3.14's default on Linux, and the only
    choice on macOS and Windows) every child imports the main module again.
    Unguarded entry code runs once more in each child, which then tries to start
    processes of its own and fails with "An attempt has been made to start a new
    process before the current process has finished its bootstrapping phase".
    The guideline "safe importing of the main module" asks for the guard, with
    `freeze_support()` first so frozen Windows executables work too; a program
    that is never frozen can leave that call out.

    Example:
        from multiprocessing import Process

        def foo():
            print("hello")

        p = Process(target=foo)
        p.start()

    Fixed:
        from multiprocessing import Process, freeze_support

        def foo():
            print("hello")

        if __name__ == "__main__":
            freeze_support()
            p = Process(target=foo)
            p.start()

    Fix safety:
    Safe. The guard it creates or fills starts with `freeze_support()` from
    the library the module starts processes with (`billiard.freeze_support()`
    in a billiard program, `multiprocess`'s in a multiprocess or pathos one;
    each library marks its frozen children its own way), also when a helper
    of another module or an installed package starts them: its summary names
    the library. Imports, functions, classes, every
    module-level value a function or class reads and module metadata
    (`__all__`, `__version__`, other dunder names) stay at module level, in
    order, so the module stays importable by the children and by other
    modules; only the statements that serve the entry code move, comments with
    them. An existing guard receives the moved code. Where the entry code
    itself binds a value a function reads (`pool = Pool()` used by a function),
    module metadata depends on it, or a statement that stays shares a name with
    entry code it would now run before, nothing is moved: the finding says why.
    In a library (an `__init__.py`, a package module without a guard, or a
    configured library path) nothing is moved: the finding asks for the work
    to move into a function the caller runs. In test code (a pytest or
    unittest test module, conftest.py, another module of a test suite's
    folder) nothing is moved either: the test runner imports it and never
    runs its guard; the finding asks for the work to move into a test or a
    fixture. A file that a framework runs as `__main__` is a script wherever
    it sits: one that imports Streamlit (`streamlit run app.py`), a
    notebook-style script with cell markers (`# %%`, `# In[1]:`), or one
    whose module-level code reads `sys.argv` or calls `sys.exit()` (a test
    suite runs it by path), unless another file of the run imports it.
    MP008 start-method-placement judges files the same way. A Jupyter
    notebook needs no guard and gets no finding: its kernel runs the cells in
    a `__main__` that has no file, which children never run again.

    Settings:
    `frozen-executables = true` in `[tool.mpfix]` (default false), for a
    project that ships frozen executables (PyInstaller, cx_Freeze, py2exe):
    a main guard that starts processes without first calling the
    `freeze_support()` of the library it uses is reported, and the fix adds
    the call. Without it a frozen Windows executable's children run the
    whole program again instead of their task.
    """

    code = "MP001"
    name = "main-guard"
    fix_safety = "safe"

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self._bound_names: dict[int, set[str]] = {}
        self._touched_names: dict[int, set[str]] = {}

    def check(self) -> Iterable[Violation]:
        if not self.context.rerun_by_children:
            return  # a notebook's cells, a package's `__main__.py`: no child runs them again
        body = list(self.context.module.body)
        entry = [s for s in body if self._is_entry(s)]
        guards = [s for s in body if is_main_guard(s)]
        if entry:
            yield self._entry_violation(body, entry, guards)
            return
        maybe = next((s for s in body if self._may_start(s)), None)
        if maybe is not None and not self.context.is_test_code \
                and not self.context.is_library(counting_importers=False):
            yield Violation(maybe, "module-level joblib.Parallel may use the multiprocessing "
                            "backend (chosen at run time), whose children rerun it: move it "
                            f"under {GUARD}")
        if self.context.settings.frozen_executables:
            yield from self._freeze_violations(guards)

    def _may_start(self, statement: cst.BaseStatement) -> bool:
        """A call at module level whose library picks at run time whether it starts
        children that import the main module (`Parallel(backend=configured)`): reported,
        never moved, since the default backend needs no guard."""
        if is_main_guard(statement) or isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            return False
        return any(backend_choice(self.analysis, call) is Choice.MAYBE
                   and not any(isinstance(a, (cst.FunctionDef, cst.Lambda, cst.ClassDef))
                               for a in self.analysis.ancestors(call))
                   for call in self.analysis.names.within(self.analysis.calls, statement))

    def _entry_violation(self, body: list[cst.BaseStatement], entry: list[cst.BaseStatement],
                         guards: list[cst.If]) -> Violation:
        if self.context.is_test_code:
            # A guard in a test module never runs under the test runner: nothing moves.
            return Violation(entry[0], "test code starts processes at import time (the test "
                             "runner imports it, and so does every spawn or forkserver child): "
                             "move it into a test or a fixture")
        if self.context.is_library(counting_importers=False):
            return Violation(entry[0], "library code starts processes at import time; every "
                             "spawn and forkserver child that imports it does so again: move "
                             "it into a function the application calls")
        runner = self.context.runs_as_main
        plan = self._plan(body, entry, guards)
        if plan.blocker is not None:
            return Violation(entry[0], f"entry code starts processes but cannot move under a "
                             f"main guard: {plan.blocker}")
        message = (f"module-level code starts processes; spawn and forkserver children re-import "
                   f"the main module and run it again: move it under {GUARD}" if runner is None
                   else f"module-level code starts processes, and {runner}: move it under a "
                   f"main guard")
        return Violation(entry[0], message, Fix(*self._guard_fix(body, plan.moved, guards)))

    def _is_entry(self, statement: cst.BaseStatement) -> bool:
        if is_main_guard(statement) or isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            return False
        starting = self.analysis.starting_calls(statement)
        if self.context.is_library():
            # A library or test module setting the start method at import time is MP008's.
            starting = [c for c in starting if not isinstance(c, cst.Call)
                        or self.analysis.call_kind(c) not in SETTING_KINDS]
        return bool(starting)

    # -- freeze_support -----------------------------------------------------------------

    @cached_property
    def _libraries(self) -> list[str]:
        """The process libraries the module starts processes through, in order of first use;
        libraries that share one freeze_support (torch's re-export) count once."""
        found: dict[str, str] = {}
        for expression in self._process_api_references():
            for library in self._started_families(expression):
                found.setdefault(_freeze_key(library), library)
        return list(found.values()) or ["multiprocessing"]

    def _started_families(self, expression: cst.BaseExpression) -> list[str]:
        """The families a reference starts processes through: its own (`billiard.Pool`), a
        third-party starter's (pathos: multiprocess), or what the summary of a function
        of another module says (a helper that opens a `billiard.Pool`)."""
        name = self.analysis.api_name(expression)
        kind = self.analysis.starters.kind_of_name(name) if name is not None else None
        if kind is Kind.STARTS:
            return self.analysis.starters.families_of(name) or \
                [f for f in (process_family(name),) if f is not None]
        if kind not in PROCESS_KINDS:
            return []
        library = process_family(name)
        return [library] if library is not None else []

    def _process_api_references(self) -> Iterator[cst.BaseExpression]:
        for call in self.analysis.calls:
            yield call.func
        for cls in self.analysis.classes:
            for base in cls.bases:  # `class Worker(billiard.Process)`
                yield base.value

    def _freeze_libraries(self, guard: cst.If) -> set[str]:
        """The libraries whose freeze_support() the guard calls, itself or through the
        module's functions it runs (`main()` calling it first)."""
        found: set[str] = set()
        calls = list(self.analysis.names.within(self.analysis.calls, guard.body))
        for helper in self.analysis.helpers_called(guard):
            calls.extend(self.analysis.names.within(self.analysis.calls, helper))
        for call in calls:
            if self.analysis.call_kind(call) is Kind.FREEZE_SUPPORT:
                library = api_family(self.analysis.api_name(call.func) or "")
                found.add(_freeze_key(library or "multiprocessing"))
        return found

    def _missing_freeze(self, guard: Optional[cst.If]) -> list[str]:
        present = self._freeze_libraries(guard) if guard is not None else set()
        return [lib for lib in self._libraries if _freeze_key(lib) not in present]

    def _freeze_calls(self, libraries: list[str]) -> tuple[list[cst.SimpleStatementLine],
                                                           tuple[ImportSpec, ...]]:
        """`freeze_support()` of each library, spelled as the module names it, and the
        imports to add. A bare `freeze_support` already bound to another library's gets an
        alias rather than a second, shadowing import."""
        statements: list[cst.SimpleStatementLine] = []
        imports: list[ImportSpec] = []
        taken: set[str] = set()
        for library in libraries:
            binding, needed = import_binding(self.analysis, library, "freeze_support")
            if needed and (binding in self.analysis.global_scope or binding in taken):
                binding = unused_name(self.analysis, f"{library.replace('.', '_')}_freeze_support",
                                      taken)
                needed = ((library, "freeze_support", binding),)
            taken.add(binding)
            statement = cst.parse_statement(f"{binding}()\n")
            assert isinstance(statement, cst.SimpleStatementLine)
            statements.append(statement)
            imports.extend(needed)
        return statements, tuple(imports)

    def _is_freeze_line(self, statement: cst.BaseStatement) -> bool:
        return isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1 \
            and isinstance(statement.body[0], cst.Expr) and isinstance(statement.body[0].value, cst.Call) \
            and self.analysis.call_kind(statement.body[0].value) is Kind.FREEZE_SUPPORT

    def _freeze_violations(self, guards: list[cst.If]) -> Iterator[Violation]:
        for guard in guards:
            missing = self._missing_freeze(guard)
            if not missing or not self.analysis.starting_calls(guard.body):
                continue
            names = " and ".join(f"{lib}.freeze_support()" for lib in missing)
            yield Violation(
                guard, f"main guard starts processes without calling {names} first: a frozen "
                "executable's children rerun the whole program (frozen-executables is on)",
                Fix(*self._freeze_fix(guard)),
            )

    def _freeze_fix(self, guard: cst.If) -> tuple[dict, Safety, tuple]:
        opening, rest, imports = self._guard_opening(guard)
        new_guard = guard.with_changes(body=guard.body.with_changes(body=(*opening, *rest)))
        return {guard: new_guard}, Safety.SAFE, imports

    def _guard_opening(self, guard: Optional[cst.If]) -> tuple[list[cst.BaseStatement],
                                                               list[cst.BaseStatement], tuple]:
        """The guard's first lines (its freeze_support() calls, the missing ones added) and
        the rest of its existing body."""
        existing = list(guard.body.body) if guard is not None else []
        leading = 0
        while leading < len(existing) and self._is_freeze_line(existing[leading]):
            leading += 1
        added, imports = self._freeze_calls(self._missing_freeze(guard))
        return [*existing[:leading], *added], existing[leading:], imports

    # -- moving entry code under the guard -----------------------------------------------

    def _guard_fix(self, body: list[cst.BaseStatement], to_move: list[cst.BaseStatement],
                   guards: list[cst.If]) -> tuple[dict, Safety, tuple]:
        moved = {id(s) for s in to_move}
        guard = guards[0] if guards else None
        opening, existing, imports = self._guard_opening(guard)

        def joins_guard(index: int) -> bool:
            return id(body[index]) in moved or body[index] is guard

        anchor = _guard_anchor(body, moved, guard)
        guard_blank, _ = split_leading_lines(body[anchor].leading_lines)

        inside: list[cst.BaseStatement] = []
        outside: list[cst.BaseStatement] = []
        left_behind: list[cst.EmptyLine] = []
        guard_slot = 0
        for index, statement in enumerate(body):
            if index == anchor:
                guard_slot = len(outside)
            if statement is guard:
                inside.extend(existing)
            elif id(statement) in moved:
                if describes_old_behaviour(statement, MISSING_GUARD):
                    statement = statement.with_changes(
                        leading_lines=without_attached_comment(statement.leading_lines))
                if index == 0 or not joins_guard(index - 1):
                    # A run of moved statements leaves its blank lines where it was.
                    blank, rest = split_leading_lines(statement.leading_lines)
                    if index != anchor:
                        left_behind = max(left_behind, blank, key=len)
                    statement = statement.with_changes(leading_lines=rest)
                inside.append(_indented(statement))
            else:
                if left_behind:
                    statement = _with_blank_lines(statement, left_behind)
                    left_behind = []
                outside.append(statement)
        guard_comments = split_leading_lines(guard.leading_lines)[1] if guard is not None else []
        if guard is None:
            new_guard = cst.If(test=cst.parse_expression('__name__ == "__main__"'),
                               body=cst.IndentedBlock(body=[*opening, *inside]))
        else:
            new_guard = guard.with_changes(body=guard.body.with_changes(body=[*opening, *inside]))
        new_guard = new_guard.with_changes(leading_lines=[*guard_blank, *guard_comments])
        outside.insert(guard_slot, new_guard)
        return {self.context.module: self.context.module.with_changes(body=outside)}, Safety.SAFE, imports

    def _plan(self, body: list[cst.BaseStatement], entry: list[cst.BaseStatement],
              guards: list[cst.If]) -> "_Plan":
        """The statements to move under the guard, or why moving them would break the module."""
        movable = [s for s in body if not _is_definition(s) and not is_main_guard(s)]
        reads = {id(s): set(self.analysis.global_reads(s)) for s in body}
        binds = {id(s): self._names(s) for s in movable}
        metadata = {id(s) for s in movable if _dunders(self._touches(s))}
        # An existing guard counts as entry code: what it reads is set-up for it.
        moved = {id(s) for s in [*entry, *guards]}
        moved = _with_readers(movable, binds, reads, moved)
        # Module metadata stays where it is, like what functions and classes read.
        kept = _needed_by_definitions(body, movable, binds, reads, moved) | (metadata - moved)
        index = {id(s): i for i, s in enumerate(body)}
        first_entry = min(index[id(s)] for s in entry)
        # What runs after the entry code starts is entry code too, unless it must stay.
        moved |= {id(s) for s in movable if index[id(s)] > first_entry and id(s) not in kept}
        moved = _with_readers(movable, binds, reads, moved)
        moved |= _entry_set_up(body, movable, binds, reads, moved, kept)
        to_move = [s for s in movable if id(s) in moved]
        guard = guards[0] if guards else None
        return _Plan(to_move, self._blocker(body, to_move, guard, reads))

    def _names(self, statement: cst.BaseStatement) -> set[str]:
        """Module-level names a statement binds (computed once per statement)."""
        key = id(statement)
        if key not in self._bound_names:
            self._bound_names[key] = set(statement_names(statement))
        return self._bound_names[key]

    def _touches(self, statement: cst.BaseStatement) -> set[str]:
        """Module-level names a statement binds or changes in place."""
        key = id(statement)
        if key not in self._touched_names:
            touched = self._names(statement) | set(statement_mutations(statement))
            if not isinstance(statement, cst.SimpleStatementLine):
                touched |= set(self.analysis.global_writes(statement))  # in a loop's body...
            self._touched_names[key] = touched
        return self._touched_names[key]

    def _blocker(self, body: list[cst.BaseStatement], to_move: list[cst.BaseStatement],
                 guard: Optional[cst.If], reads: dict[int, set[str]]) -> Optional[str]:
        """Why moving `to_move` under the guard would break the module, if it would: a
        function or class would lose a value, module metadata would move, or code that
        stays would run before entry code whose names it shares."""
        moved = {id(s) for s in to_move}
        staying = [s for s in body if id(s) not in moved and s is not guard]
        staying_names = set().union(*(self._names(s) for s in staying))
        moved_names = set().union(*(self._names(s) for s in to_move))
        for definition in (s for s in body if _is_definition(s)):
            lost = sorted((reads[id(definition)] & moved_names) - staying_names)
            if lost:
                return (f"{_describe(definition)} reads `{lost[0]}`; create it in the entry code "
                        f"and pass it to {_describe(definition, short=True)}")
        for statement in to_move:
            dunders = _dunders(self._touches(statement))
            if dunders:
                return f"`{dunders[0]}` is module metadata, set from the entry code"
        return self._order_blocker(body, moved, guard, reads)

    def _order_blocker(self, body: list[cst.BaseStatement], moved: set[int],
                       guard: Optional[cst.If], reads: dict[int, set[str]]) -> Optional[str]:
        """Statements that stay above the new guard now run before the entry code that
        preceded them: allowed only when they share no name with it."""
        anchor = _guard_anchor(body, moved, guard)
        earlier_touched: set[str] = set()
        earlier_reads: set[str] = set()
        for statement in body[:anchor]:
            if id(statement) in moved or statement is guard:
                earlier_touched |= self._touches(statement)
                earlier_reads |= reads[id(statement)]
                continue
            if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                name = statement.name.value
                if name in earlier_reads | earlier_touched:
                    return f"`{name}` is redefined after entry code that uses it"
                continue
            if not earlier_touched:
                continue
            touched = self._touches(statement)
            shared = (earlier_touched & (reads[id(statement)] | touched)) | (touched & earlier_reads)
            if shared:
                return (f"`{sorted(shared)[0]}` is used both by entry code and by a statement "
                        f"that must stay at module level")
        return None


@dataclass
class _Plan:
    moved: list[cst.BaseStatement]
    blocker: Optional[str] = None  # why the statements cannot move, if they cannot


def _freeze_key(library: str) -> str:
    """Libraries that re-export another's freeze_support share its key."""
    return SHARED_DEFAULT_CONTEXT.get(library, library)


def _dunders(names: Iterable[str]) -> list[str]:
    return sorted(n for n in names if len(n) > 4 and n.startswith("__") and n.endswith("__"))


def _describe(definition: cst.BaseStatement, short: bool = False) -> str:
    if isinstance(definition, (cst.FunctionDef, cst.ClassDef)):
        name = f"`{definition.name.value}`"
        if short:
            return name
        return f"{'function' if isinstance(definition, cst.FunctionDef) else 'class'} {name}"
    return "its readers" if short else "a module-level definition"


def _guard_anchor(body: list[cst.BaseStatement], moved: set[int], guard: Optional[cst.If]) -> int:
    """Where the guard goes: in place of the last run of moved statements (and the guard)."""
    def joins_guard(index: int) -> bool:
        return id(body[index]) in moved or body[index] is guard

    anchor = max(i for i in range(len(body)) if joins_guard(i))
    while anchor > 0 and joins_guard(anchor - 1):
        anchor -= 1
    return anchor


def _with_readers(movable: list[cst.BaseStatement], binds: dict[int, set[str]],
                  reads: dict[int, set[str]], moved: set[int]) -> set[int]:
    """`moved` plus every statement that reads a name only the moved statements bind."""
    moved = set(moved)
    changed = True
    while changed:
        changed = False
        moved_names = set().union(*(binds[i] for i in moved if i in binds))
        for statement in movable:
            if id(statement) not in moved and reads[id(statement)] & moved_names:
                moved.add(id(statement))
                changed = True
    return moved


def _needed_by_definitions(body: list[cst.BaseStatement], movable: list[cst.BaseStatement],
                           binds: dict[int, set[str]], reads: dict[int, set[str]],
                           moved: set[int]) -> set[int]:
    """Statements binding the module-level values functions and classes read (workers need them)."""
    needed: set[str] = set()
    for statement in body:
        if _is_definition(statement):
            needed |= reads[id(statement)]
    kept: set[int] = set()
    changed = True
    while changed:
        changed = False
        for statement in movable:
            key = id(statement)
            if key not in kept and key not in moved and binds[key] & needed:
                kept.add(key)
                needed |= reads[key]
                changed = True
    return kept


def _entry_set_up(body: list[cst.BaseStatement], movable: list[cst.BaseStatement],
                  binds: dict[int, set[str]], reads: dict[int, set[str]],
                  moved: set[int], kept: set[int]) -> set[int]:
    """Statements before the entry code that only prepare it (argument parsing, say).

    A set-up group such as `parser = ...; parser.add_argument(...)` moves as a
    whole: it moves when nothing that stays at module level reads what it
    binds or changes, and the entry code reads it.
    """
    bound_here = set().union(*binds.values())
    touches = {id(s): binds[id(s)] | (set(statement_mutations(s)) & bound_here) for s in movable}
    candidates = {id(s) for s in movable
                  if id(s) not in moved and id(s) not in kept and touches[id(s)]}
    changed = True
    while changed:
        changed = False
        staying_reads = set().union(*(reads[id(s)] for s in body
                                      if id(s) not in candidates and id(s) not in moved))
        for key in list(candidates):
            if touches[key] & staying_reads:
                candidates.discard(key)
                changed = True
    set_up: set[int] = set()
    wanted = set().union(*(reads[key] for key in moved))
    changed = True
    while changed:
        changed = False
        for key in candidates - set_up:
            if touches[key] & wanted:
                set_up.add(key)
                wanted |= reads[key]
                changed = True
    return set_up


def _is_definition(statement: cst.BaseStatement) -> bool:
    if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
        return True
    if isinstance(statement, cst.SimpleStatementLine):
        return all(isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body) \
            or _is_docstring(statement)
    if isinstance(statement, cst.Try):
        return all(_is_definition(s) for s in statement.body.body)
    return False


def _is_docstring(statement: cst.SimpleStatementLine) -> bool:
    return len(statement.body) == 1 and isinstance(statement.body[0], cst.Expr) \
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))



def _with_blank_lines(statement: cst.BaseStatement, blank: list[cst.EmptyLine]) -> cst.BaseStatement:
    """`statement` with at least as many blank lines above it as `blank` (PEP 8 spacing survives)."""
    own_blank, rest = split_leading_lines(statement.leading_lines)
    return statement.with_changes(leading_lines=[*max(own_blank, blank, key=len), *rest])


def _indented(statement: cst.BaseStatement) -> cst.BaseStatement:
    """A module-level statement ready for a block: its blank lines carry no indentation."""
    lines = [line.with_changes(indent=False) if line.comment is None else line
             for line in statement.leading_lines]
    return statement.with_changes(leading_lines=lines)


class MainGuardCommand(RuleCommand):
    rule = MainGuard
