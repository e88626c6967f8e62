"""One file through every enabled rule: parse once, analyse once, fix in rounds.

Checking is a single parse, one name index (mpfix/analysis/names.py) and a single pass of
all rules over it. Fixing applies every non-conflicting fix of a round together
and then re-analyses the new tree, until nothing more applies (as ruff's fix
loop does); a file without applicable fixes is still parsed exactly once, and
the rounds re-render only the statements a fix touched.
"""

from __future__ import annotations

import os
import re
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Mapping, Optional

import libcst as cst
from libcst.metadata import MetadataWrapper

from mpfix.analysis.module import ModuleAnalysis
from mpfix.analysis.relocation import is_cell_marker
from mpfix.rulekit.blanklines import literal_blank_lines
from mpfix.engine.diff import text_edits
from mpfix.findings import FileResult, Finding, Safety
from mpfix.rulekit.imports import add_imports, first_party_folder
from mpfix.analysis.names import child_fields
from mpfix.engine.noqa import Suppressions
from mpfix.engine.companions import SiblingModules
from mpfix.analysis.positions import StatementTexts
from mpfix.engine.registry import ALL_CODES, rule_classes
from mpfix.rulekit.rule import Fix, Rule, RuleContext, Violation
from mpfix.settings import FileSettings
from mpfix.engine.parsing import TooDeeplyNested, parse_module
from mpfix.engine.source import compiles
from mpfix.engine.timing import count_parse
from mpfix.analysis.starters import StarterTable

MAX_FIX_ROUNDS = 8

# Decides, in an interactive review, whether one fix is applied.
Approver = Callable[["PendingFix"], bool]
# Told about every round of a fix run (see FixRound).
RoundObserver = Callable[["FixRound"], None]

# libcst puts a position of its own into its parser's messages; mpfix gives one position.
_LIBCST_POSITION = re.compile(r"^(?:parser error: )?error at \d+:\d+: ")


def parse_error(source: bytes, path: str, error: Exception) -> str:
    """`cannot parse: MESSAGE (line L, column C)` for a file libcst cannot parse.

    One position: CPython's, from `compile()` (what `python -m py_compile` and
    tracebacks show). Only a file that CPython accepts and libcst does not gets
    libcst's message and position.
    """
    syntax = _cpython_syntax_error(source, path)
    if syntax is not None:
        return f"cannot parse: {_located(syntax.msg, syntax.lineno, syntax.offset)}"
    if isinstance(error, cst.ParserSyntaxError):
        message = _LIBCST_POSITION.sub("", error.message)
        return (f"cannot parse: {_located(message, error.raw_line, error.raw_column + 1)}; "
                f"Python {sys.version_info.major}.{sys.version_info.minor} accepts this file, "
                f"libcst does not")
    return f"cannot parse: {error}"


def _cpython_syntax_error(source: bytes, path: str) -> Optional[SyntaxError]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as error:
        return error
    except (ValueError, RecursionError, MemoryError):
        return None
    return None


def _located(message: str, line: Optional[int], column: Optional[int]) -> str:
    if not line:
        return message
    return f"{message} (line {line}, column {column})" if column else f"{message} (line {line})"


@dataclass
class PendingFix:
    rule: type[Rule]
    violation: Violation
    finding: Finding
    module: cst.Module
    siblings: Optional[SiblingModules] = None

    def preview(self) -> str:
        """The module's code with only this fix applied."""
        assert self.violation.fix is not None
        return _apply(self.module, [self.violation.fix]).code

    def companion_previews(self) -> list[tuple[str, Optional[str], str]]:
        """(module, text before or None, text after) of each module beside the file that
        the fix adds to."""
        assert self.violation.fix is not None
        if self.siblings is None:
            return []
        return [(addition.module, *self.siblings.preview(addition))
                for addition in self.violation.fix.additions]


class FixFailed(Exception):
    pass


@dataclass(frozen=True)
class FixRound:
    """One round of the fix loop: the code it analysed, the findings it reported there
    and those of them whose fixes it applied. Lets a caller follow every finding
    through a fix run: each one is either fixed in its round or reported in the next."""

    code: str
    findings: tuple[Finding, ...]
    fixed: tuple[Finding, ...]


def _finding(analysis: ModuleAnalysis, rule: type[Rule], violation: Violation,
             path: str) -> Finding:
    position = analysis.position(violation.node)
    safety = violation.fix.safety if violation.fix else Safety.NONE
    return Finding(
        line=position.start.line, col=position.start.column + 1, code=rule.code,
        message=violation.message, end_line=position.end.line,
        end_col=position.end.column + 1, fix_safety=safety, path=path,
    )


def _analyse(module: cst.Module, settings: FileSettings, rules: list[type[Rule]], path: str,
             texts: Optional[StatementTexts] = None, siblings: Optional[SiblingModules] = None,
             ) -> tuple[ModuleAnalysis, list[tuple[type[Rule], Violation]]]:
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    analysis = ModuleAnalysis(wrapper, StarterTable(settings.starters(), settings.handoffs,
                                                    settings.summary_facts), texts)
    context = RuleContext(analysis=analysis, settings=settings, path=path, siblings=siblings)
    found: list[tuple[type[Rule], Violation]] = []
    reported: set[tuple[str, int, str]] = set()
    for rule in rules:
        for violation in rule(context).check():
            # One object reaching a process along two paths (a transform shared by two
            # DataLoaders) is one finding; a report with a fix is never dropped.
            key = (rule.code, id(violation.node), violation.message)
            if violation.fix is None and key in reported:
                continue
            reported.add(key)
            found.append((rule, violation))
    return analysis, found


class _ApplyReplacements(cst.CSTTransformer):
    def __init__(self, replacements: dict) -> None:
        self.replacements = replacements

    def on_leave(self, original_node, updated_node):  # type: ignore[no-untyped-def]
        return self.replacements.get(original_node, updated_node)


def _apply(module: cst.Module, fixes: Iterable[Fix],
           parents: Optional[Mapping[cst.CSTNode, cst.CSTNode]] = None) -> cst.Module:
    replacements: dict = {}
    imports: list = []
    for fix in fixes:
        replacements.update(fix.replacements)
        imports.extend(fix.imports)
    if module in replacements:
        new = replacements.pop(module)
        module = new if not replacements else new.visit(_ApplyReplacements(replacements))
    elif parents is not None:
        module = _replace_along_paths(module, replacements, parents)
    else:
        module = module.visit(_ApplyReplacements(replacements))
    if imports:
        module = _with_imports(module, imports)
    return module


def _with_imports(module: cst.Module, imports: list) -> cst.Module:
    """`module` with `imports` added; in a notebook, to its first code cell."""
    body = module.body
    if body and is_cell_marker(body[0]):
        rest = add_imports(module.with_changes(body=body[1:]), imports)
        return rest.with_changes(body=[body[0], *rest.body])
    return add_imports(module, imports)


def _replace_along_paths(module: cst.Module, replacements: dict,
                         parents: Mapping[cst.CSTNode, cst.CSTNode]) -> cst.Module:
    """Rebuild only the ancestors of replaced nodes; a full transformer pass is far slower."""
    if any(node not in parents for node in replacements):
        return module.visit(_ApplyReplacements(replacements))  # a token: not indexed
    dirty: set[int] = set()
    for node in replacements:
        current = parents.get(node)
        while current is not None and id(current) not in dirty:
            dirty.add(id(current))
            current = parents.get(current)

    def rebuild(node: cst.CSTNode):  # type: ignore[no-untyped-def]
        if node in replacements:
            return replacements[node]
        if id(node) not in dirty:
            return node
        changes = {}
        for name in child_fields(type(node)):
            value = getattr(node, name)
            if isinstance(value, cst.CSTNode):
                new = rebuild(value)
                if isinstance(new, (cst.RemovalSentinel, cst.FlattenSentinel)):
                    raise _NeedsTransformer
                if new is not value:
                    changes[name] = new
            elif isinstance(value, (tuple, list)):
                items, changed = [], False
                for item in value:
                    new = rebuild(item) if isinstance(item, cst.CSTNode) else item
                    changed = changed or new is not item
                    if isinstance(new, cst.FlattenSentinel):
                        items.extend(new.nodes)
                    elif not isinstance(new, cst.RemovalSentinel):
                        items.append(new)
                if changed:
                    changes[name] = type(value)(items)
        return node.with_changes(**changes) if changes else node

    try:
        return rebuild(module)
    except _NeedsTransformer:
        return module.visit(_ApplyReplacements(replacements))


class _NeedsTransformer(Exception):
    """A sentinel stands where a sequence is not: let libcst's transformer decide."""


def _conflicts(analysis: ModuleAnalysis, claimed: set[int], fix: Fix) -> bool:
    for node in fix.replacements:
        if id(node) in claimed:
            return True
        if any(id(a) in claimed for a in analysis.ancestors(node)):
            return True
    return False


def _claim(analysis: ModuleAnalysis, claimed: set[int], claimed_roots: list, fix: Fix) -> bool:
    """Claim the nodes a fix replaces unless another fix of this round touches them."""
    if _conflicts(analysis, claimed, fix):
        return False
    for node in fix.replacements:
        # A later fix may not replace anything inside this one either.
        for root in claimed_roots:
            if any(a is node for a in analysis.ancestors(root)):
                return False
    for node in fix.replacements:
        claimed.add(id(node))
        claimed_roots.append(node)
    return True


def _wanted(fix: Optional[Fix], settings: FileSettings) -> bool:
    if fix is None:
        return False
    return fix.safety is Safety.SAFE or (fix.safety is Safety.UNSAFE and settings.unsafe_fixes)


def run_rules(
    source: bytes,
    settings: FileSettings,
    *,
    path: str = "<string>",
    fix: bool = False,
    approve: Optional[Approver] = None,
    observe: Optional[RoundObserver] = None,
    siblings: Optional[SiblingModules] = None,
) -> FileResult:
    """Check (and with `fix`, rewrite) one file's bytes. Raises nothing for bad input.
    With `fix`, `observe` is told about every round of the fix loop. With `siblings`, fixes
    may add to the modules beside the file: the result's companions."""
    result = FileResult(path=path, parsed=True)
    started = time.perf_counter()
    try:
        module = parse_module(source, path)
    except (cst.ParserSyntaxError, cst.CSTValidationError) as error:
        result.error = parse_error(source, path, error)
        return result
    except (UnicodeDecodeError, LookupError, SyntaxError, ValueError) as error:
        result.error = f"cannot decode: {error}"
        return result
    except (RecursionError, TooDeeplyNested):
        result.error = "cannot parse: nesting too deep"
        return result
    finally:
        count_parse(time.perf_counter() - started)
    rules = rule_classes(settings.rules)
    parsed = module
    if fix:
        module = literal_blank_lines(module, source)
    try:
        with first_party_folder(_folder_on_disk(path)):
            first, remaining, module = _fix_loop(module, settings, rules, path, fix, approve,
                                                 result, observe, siblings)
    except RecursionError:
        result.error = "cannot analyse: nesting too deep"
        return result
    result.findings = sorted(remaining)
    if fix and result.fixed:  # unfixed, a file is never re-rendered: libcst may not round-trip
        new_source = module.bytes
        if new_source != source:
            if parsed.bytes != source:
                # libcst drops a lone CR that ends a file; a rewrite would lose it.
                return _left_unchanged(result, first, "cannot fix: libcst does not reproduce "
                                       "this file byte for byte (a lone CR line ending at its "
                                       "end?); file left unchanged")
            problem = _verify(source, new_source, path)
            companions = siblings.changed() if siblings is not None else []
            for companion in companions:
                problem = problem or _verify(companion.original or b"", companion.new,
                                             companion.path)
            if problem:
                return _left_unchanged(result, first, f"internal error: a fix produced invalid "
                                       f"code ({problem}); file left unchanged")
            result.new_source = new_source
            result.companions = companions
    return result


def _folder_on_disk(path: str) -> Optional[str]:
    """The folder of a file being fixed on disk, whose modules are first-party to it."""
    folder = os.path.dirname(os.path.abspath(path))
    return folder if os.path.isfile(path) else None


def _left_unchanged(result: FileResult, first: list[Finding], error: str) -> FileResult:
    result.error = error
    result.findings = sorted(first)
    result.fixed = {}
    return result


def _with_edits(finding: Finding, rule: type[Rule], violation: Violation,
                module: cst.Module) -> Finding:
    if violation.fix is not None and violation.fix.additions:
        return finding  # edits of this file alone would not show the fix
    try:
        preview = PendingFix(rule, violation, finding, module).preview()
    except Exception:  # noqa: BLE001 - a fix that cannot be previewed has no edits to show
        return finding
    return replace(finding, edits=text_edits(module.code, preview))


def _fix_loop(module, settings, rules, path, fix, approve, result,  # type: ignore[no-untyped-def]
              observe=None, siblings=None):
    """Returns the first round's findings, the last round's, and the final module."""
    first: list[Finding] = []
    declined: Counter = Counter()  # fixes refused in the review, by _review_key
    texts = StatementTexts()  # rendered statements, reused by the rounds that follow
    for round_number in range(MAX_FIX_ROUNDS):
        analysis, found = _analyse(module, settings, rules, path, texts, siblings)
        # Generating the module's code costs a pass over the tree: only when it is read.
        needs_text = bool(found) or (settings.report_unused_noqa and not fix)
        suppressions = Suppressions(analysis.source_map.code if needs_text else "")
        reported = []
        pending: list[tuple[type[Rule], Violation, Finding]] = []
        for rule, violation in found:
            finding = _finding(analysis, rule, violation, path)
            if suppressions.suppresses(finding.code, finding.line):
                continue
            if settings.edits and violation.fix is not None:
                finding = _with_edits(finding, rule, violation, module)
            reported.append(finding)
            if fix and _wanted(violation.fix, settings):
                pending.append((rule, violation, finding))
        if round_number == 0:
            first = reported
        if not fix:
            if settings.report_unused_noqa:
                unused = suppressions.unused(settings.rules, ALL_CODES)
                reported.extend(replace(f, path=path) for f in unused)
            return first, reported, module
        chosen = _choose(analysis, module, pending, approve, declined, siblings)
        if observe is not None:
            # A fix shared by several findings (one rewrite of a group) fixes all of them.
            applied = {id(violation.fix) for _, violation in chosen}
            observe(FixRound(analysis.source_map.code, tuple(reported),
                             tuple(f for _, v, f in pending if id(v.fix) in applied)))
        if not chosen:
            return first, reported, module
        for rule, violation in chosen:
            result.fixed[rule.code] = result.fixed.get(rule.code, 0) + 1
            for addition in violation.fix.additions:
                siblings.add(addition)  # a rule offers additions only where there are siblings
        module = _apply(module, [v.fix for _, v in chosen], analysis.names.parents)  # type: ignore[misc]
    return first, reported, module


def _review_key(module: cst.Module, violation: Violation, finding: Finding) -> tuple:
    """What identifies a fix across rounds: not its line, which an accepted fix may move."""
    return finding.code, finding.message, module.code_for_node(violation.node).strip()


def _choose(analysis, module, pending, approve, declined,  # type: ignore[no-untyped-def]
            siblings=None):
    claimed: set[int] = set()
    roots: list = []
    chosen = []
    still_declined = Counter(declined)
    for rule, violation, finding in pending:
        key = _review_key(module, violation, finding) if approve is not None else None
        if still_declined[key] > 0:
            still_declined[key] -= 1
            continue
        if _adds_to_a_taken_module(violation.fix, chosen):
            continue  # the next round sees what this one added
        if not _claim(analysis, claimed, roots, violation.fix):
            continue
        if approve is not None and not approve(PendingFix(rule, violation, finding, module,
                                                          siblings)):
            declined[key] += 1
            for node in violation.fix.replacements:
                claimed.discard(id(node))
            roots[:] = [r for r in roots if r not in violation.fix.replacements]
            continue
        chosen.append((rule, violation))
    return chosen


def _adds_to_a_taken_module(fix: Fix, chosen) -> bool:  # type: ignore[no-untyped-def]
    modules = {a.module for a in fix.additions}
    return bool(modules) and any(a.module in modules for _, v in chosen for a in v.fix.additions)


def _verify(old: bytes, new: bytes, path: str) -> Optional[str]:
    try:
        parse_module(new, path)
    except TooDeeplyNested:
        return "does not parse: nesting too deep"
    except Exception as error:  # noqa: BLE001 - any failure means do not write
        return f"does not parse: {str(error).splitlines()[0]}"
    if compiles(old, path) is None:
        return compiles(new, path)
    return None
