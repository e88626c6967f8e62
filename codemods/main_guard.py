"""MP001 main-guard: entry code belongs under `if __name__ == "__main__":`."""

from __future__ import annotations

from typing import Iterable, Optional, Sequence

import libcst as cst

from mpfix.analysis import is_main_guard, statement_names
from mpfix.findings import Safety
from mpfix.rule import Fix, Rule, Violation
from mpfix.rulekit import RuleCommand, import_binding
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
        from multiprocessing import Process, freeze_support

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
            message = ("module-level code starts processes; spawn and forkserver children "
                       "re-import the main module and run it again: move it under "
                       "`if __name__ == \"__main__\":`")
            if self.context.is_library():
                yield Violation(entry[0], message.split(":")[0] + " at import time of a "
                                "library: move it into a function the application calls")
                return
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
        return bool(self.analysis.starting_calls(statement))

    def _has_freeze_support(self, guard: cst.If) -> bool:
        return any(self.analysis.call_kind(call) is Kind.FREEZE_SUPPORT for call in _calls(guard.body))

    # -- the fix ---------------------------------------------------------------------

    def _freeze_call(self) -> tuple[cst.SimpleStatementLine, tuple]:
        binding, imports = import_binding(self.analysis, "multiprocessing", "freeze_support")
        statement = cst.parse_statement(f"{binding}()\n")
        assert isinstance(statement, cst.SimpleStatementLine)
        return statement, imports

    def _freeze_fix(self, guard: cst.If) -> tuple[dict, Safety, tuple]:
        freeze, imports = self._freeze_call()
        body = guard.body
        new_guard = guard.with_changes(body=body.with_changes(body=(freeze, *body.body)))
        return {guard: new_guard}, Safety.SAFE, imports

    def _guard_fix(self, body: list[cst.BaseStatement], entry: list[cst.BaseStatement],
                   guards: list[cst.If]) -> tuple[dict, Safety, tuple]:
        moved = self._statements_to_move(body, entry)
        freeze, imports = self._freeze_call()
        guard = guards[0] if guards else None
        before_guard = [s for s in body if s in moved and (guard is None or _index(body, s) < _index(body, guard))]
        after_guard = [s for s in body if s in moved and s not in before_guard]
        existing: Sequence[cst.BaseStatement] = guard.body.body if guard is not None else ()
        if guard is not None and self._has_freeze_support(guard):
            freeze_lines: list[cst.BaseStatement] = []
        else:
            freeze_lines = [freeze]
        first = next(s for s in body if s in moved)
        blank, rest = _split_leading(first.leading_lines)
        inner = [
            *freeze_lines,
            *(_with_leading(s, rest) if s is first else s for s in before_guard),
            *existing,
            *(_with_leading(s, rest) if s is first else s for s in after_guard),
        ]
        if guard is None:
            new_guard = cst.If(
                test=cst.parse_expression('__name__ == "__main__"'),
                body=cst.IndentedBlock(body=inner),
                leading_lines=blank,
            )
        else:
            new_guard = guard.with_changes(body=guard.body.with_changes(body=inner))
        last_index = max(_index(body, s) for s in [*moved, *( [guard] if guard else [])])
        new_body: list[cst.BaseStatement] = []
        for index, statement in enumerate(body):
            if index == last_index:
                new_body.append(new_guard)
            elif statement in moved or statement is guard:
                continue
            else:
                new_body.append(statement)
        return {self.context.module: self.context.module.with_changes(body=new_body)}, Safety.SAFE, imports

    def _statements_to_move(self, body: list[cst.BaseStatement],
                            entry: list[cst.BaseStatement]) -> list[cst.BaseStatement]:
        analysis = self.analysis
        movable = [s for s in body if not _is_definition(s) and not is_main_guard(s)]
        binds = {id(s): set(statement_names(s)) for s in movable}
        reads = {id(s): set(analysis.global_reads(s)) for s in body}
        moved = {id(s) for s in entry}

        def grow_moved() -> None:
            changed = True
            while changed:
                changed = False
                moved_names = set().union(*(binds[i] for i in moved if i in binds))
                for statement in movable:
                    if id(statement) not in moved and reads[id(statement)] & moved_names:
                        moved.add(id(statement))
                        changed = True

        grow_moved()
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
                if key in kept or key in moved:
                    continue
                if binds[key] & needed:
                    kept.add(key)
                    needed |= reads[key]
                    changed = True
        first_entry = min(_index(body, s) for s in entry)
        for statement in movable[:]:
            key = id(statement)
            if key not in kept and _index(body, statement) > first_entry:
                moved.add(key)
        grow_moved()
        # Set-up that only the entry code reads (argument parsing, say) moves too.
        changed = True
        while changed:
            changed = False
            for statement in reversed(movable):
                key = id(statement)
                names = binds[key]
                if key in moved or key in kept or not names:
                    continue
                readers = [s for s in body if names & reads[id(s)] and s is not statement]
                if readers and all(id(r) in moved for r in readers):
                    moved.add(key)
                    changed = True
        return [s for s in body if id(s) in moved]


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


def _index(body: list[cst.BaseStatement], statement: Optional[cst.BaseStatement]) -> int:
    return next(i for i, s in enumerate(body) if s is statement)


def _split_leading(lines: Sequence[cst.EmptyLine]) -> tuple[list[cst.EmptyLine], list[cst.EmptyLine]]:
    """Blank lines above the first moved statement go above the guard; comments stay with it."""
    blank: list[cst.EmptyLine] = []
    for line in lines:
        if line.comment is not None:
            break
        blank.append(line)
    return blank, list(lines[len(blank):])


def _with_leading(statement: cst.BaseStatement, lines: list[cst.EmptyLine]) -> cst.BaseStatement:
    return statement.with_changes(leading_lines=lines)


def _calls(node: cst.CSTNode) -> list[cst.Call]:
    found: list[cst.Call] = []

    class Calls(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            found.append(call)

    node.visit(Calls())
    return found


class MainGuardCommand(RuleCommand):
    rule = MainGuard
