"""MP001 main-guard: entry code belongs under `if __name__ == "__main__":`."""

from __future__ import annotations

from typing import Iterable, Optional

import libcst as cst

from mpfix.analysis import is_main_guard, statement_mutations, statement_names
from mpfix.findings import Safety
from mpfix.rule import Fix, Rule, Violation
from mpfix.rulekit import RuleCommand, import_binding, split_leading_lines
from mpfix.starters import Kind


class MainGuard(Rule):
    """Entry code that starts processes must run only in the main process.

    What it finds:
    Module-level code that starts a process, creates a pool, executor or
    manager, sets the start method, or calls a function of the same module that
    does so, outside `if __name__ == "__main__":`; and a main guard that starts
    processes without calling `freeze_support()` first.

    Why:
    Under spawn and forkserver (Python 3.14's default on Linux, and the only
    choice on macOS and Windows) every child imports the main module again.
    Unguarded entry code runs once more in each child, which then tries to start
    processes of its own and fails with "An attempt has been made to start a new
    process before the current process has finished its bootstrapping phase".
    The guideline "safe importing of the main module" asks for the guard, with
    `freeze_support()` first so frozen Windows executables work too.

    Example:
        from multiprocessing import Process

        def foo():
            print("hello")

        p = Process(target=foo)
        p.start()

    Fixed:
        from multiprocessing import freeze_support, Process

        def foo():
            print("hello")

        if __name__ == "__main__":
            freeze_support()
            p = Process(target=foo)
            p.start()

    Fix safety:
    Safe. Imports, functions, classes and every module-level value a function
    or class reads stay at module level, in order, so the module stays
    importable by the children; only the statements that serve the entry code
    move, comments with them. An existing guard receives the moved code. In a
    library (an `__init__.py`, or a module configured as one) nothing is moved:
    the finding asks for the work to move into a function the caller runs.
    """

    code = "MP001"
    name = "main-guard"
    fix_safety = "safe"

    def check(self) -> Iterable[Violation]:
        body = list(self.context.module.body)
        entry = [s for s in body if self._is_entry(s)]
        guards = [s for s in body if is_main_guard(s)]
        if entry:
            if self.context.is_library(counting_importers=False):
                yield Violation(entry[0], "library code starts processes at import time; every "
                                "spawn and forkserver child that imports it does so again: move "
                                "it into a function the application calls")
                return
            message = ("module-level code starts processes; spawn and forkserver children "
                       "re-import the main module and run it again: move it under "
                       "`if __name__ == \"__main__\":`")
            yield Violation(entry[0], message, Fix(*self._guard_fix(body, entry, guards)))
            return
        for guard in guards:
            if self.analysis.starting_calls(guard.body) and not self._has_freeze_support(guard):
                yield Violation(
                    guard, "main guard starts processes without calling freeze_support() first",
                    Fix(*self._freeze_fix(guard)),
                )

    def _is_entry(self, statement: cst.BaseStatement) -> bool:
        if is_main_guard(statement) or isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            return False
        starting = self.analysis.starting_calls(statement)
        if self.context.is_library():
            # A library setting the start method at import time is MP008's to fix.
            starting = [c for c in starting
                        if self.analysis.call_kind(c) is not Kind.SET_START_METHOD]
        return bool(starting)

    def _has_freeze_support(self, guard: cst.If) -> bool:
        calls = self.analysis.names.within(self.analysis.calls, guard.body)
        return any(self.analysis.call_kind(call) is Kind.FREEZE_SUPPORT for call in calls)

    # -- the fix ---------------------------------------------------------------------

    def _freeze_call(self) -> tuple[cst.SimpleStatementLine, tuple]:
        binding, imports = import_binding(self.analysis, "multiprocessing", "freeze_support")
        statement = cst.parse_statement(f"{binding}()\n")
        assert isinstance(statement, cst.SimpleStatementLine)
        return statement, imports

    def _is_freeze_line(self, statement: cst.BaseStatement) -> bool:
        return isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1 \
            and isinstance(statement.body[0], cst.Expr) and isinstance(statement.body[0].value, cst.Call) \
            and self.analysis.call_kind(statement.body[0].value) is Kind.FREEZE_SUPPORT

    def _freeze_fix(self, guard: cst.If) -> tuple[dict, Safety, tuple]:
        freeze, imports = self._freeze_call()
        body = guard.body
        new_guard = guard.with_changes(body=body.with_changes(body=(freeze, *body.body)))
        return {guard: new_guard}, Safety.SAFE, imports

    def _guard_opening(self, guard: Optional[cst.If]) -> tuple[list[cst.BaseStatement],
                                                               list[cst.BaseStatement], tuple]:
        """The guard's first lines (freeze_support) and the rest of its existing body."""
        existing = list(guard.body.body) if guard is not None else []
        if existing and self._is_freeze_line(existing[0]):
            return existing[:1], existing[1:], ()
        if guard is not None and self._has_freeze_support(guard):
            return [], existing, ()
        freeze, imports = self._freeze_call()
        return [freeze], existing, imports

    def _guard_fix(self, body: list[cst.BaseStatement], entry: list[cst.BaseStatement],
                   guards: list[cst.If]) -> tuple[dict, Safety, tuple]:
        moved = {id(s) for s in self._statements_to_move(body, entry)}
        guard = guards[0] if guards else None
        opening, existing, imports = self._guard_opening(guard)

        def joins_guard(index: int) -> bool:
            return id(body[index]) in moved or body[index] is guard

        # The guard takes the place (and the blank lines) of the last run of entry code.
        last = max(i for i in range(len(body)) if joins_guard(i))
        anchor = last
        while anchor > 0 and joins_guard(anchor - 1):
            anchor -= 1
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

    def _statements_to_move(self, body: list[cst.BaseStatement],
                            entry: list[cst.BaseStatement]) -> list[cst.BaseStatement]:
        movable = [s for s in body if not _is_definition(s) and not is_main_guard(s)]
        reads = {id(s): set(self.analysis.global_reads(s)) for s in body}
        binds = {id(s): set(statement_names(s)) for s in movable}
        # An existing guard counts as entry code: what it reads is set-up for it.
        moved = {id(s) for s in [*entry, *self.analysis.main_guards()]}
        moved = _with_readers(movable, binds, reads, moved)
        kept = _needed_by_definitions(body, movable, binds, reads, moved)
        index = {id(s): i for i, s in enumerate(body)}
        first_entry = min(index[id(s)] for s in entry)
        # What runs after the entry code starts is entry code too, unless a definition needs it.
        moved |= {id(s) for s in movable if index[id(s)] > first_entry and id(s) not in kept}
        moved = _with_readers(movable, binds, reads, moved)
        moved |= _entry_set_up(body, movable, binds, reads, moved, kept)
        return [s for s in movable if id(s) in moved]


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
