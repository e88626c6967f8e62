"""MP010 stdin-replacement: a standard stream replaced by a file-like object with its own cache."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Optional

import libcst as cst

from mpfix.analysis.module import ModuleAnalysis
from mpfix.rulekit.rule import Rule, Violation
from mpfix.rulekit.helpers import RuleCommand

STREAMS = {"sys.stdin": "stdin", "sys.stdout": "stdout", "sys.stderr": "stderr"}
# Methods through which data enters a file-like object's cache.
IO_METHODS = frozenset({"write", "writelines", "read", "readline", "readlines", "__next__",
                        "__iter__", "read1", "readinto"})
# Calls that give a cache its fork safety: the guideline's pid check, or a fork hook.
FORK_AWARE = frozenset({"os.getpid", "os.register_at_fork"})
EMPTY_CONTAINERS = frozenset({"list", "bytearray", "collections.deque", "io.StringIO",
                              "io.BytesIO"})
GROWING_METHODS = frozenset({"append", "extend", "appendleft", "write", "writelines", "insert"})


@dataclass(frozen=True)
class CachingClass:
    definition: cst.ClassDef
    cache: str  # the attribute that holds the cached data
    drained_by_flush: bool


class StdinReplacement(Rule):
    """A standard stream is replaced by a file-like object that caches data without a pid check.

    What it finds:
    `sys.stdin = Obj(...)` (or `sys.stdout`, `sys.stderr`) in a program that starts
    processes, where `Obj` is a class of the module that keeps data of its own (an
    attribute that its `write()`/`read()`-like methods fill: a list, a bytearray, a
    `StringIO`) and never checks `os.getpid()` (nor registers an `os.register_at_fork`
    hook). For `sys.stdout` and `sys.stderr` only a cache that `flush()` does not empty
    is reported: multiprocessing flushes both streams before it forks.

    Why:
    The guideline "beware of replacing sys.stdin with a file like object": every child
    process closes `sys.stdin` when it starts, and a forked child (the `fork` start
    method, the Linux default before Python 3.14, and what a project that pins `fork`
    keeps) holds a copy of the parent's object, cache included. When the copy is closed
    or flushed in the child, the data the parent had cached is written a second time,
    and the output is duplicated or corrupted. The guideline's fix: record the pid with
    the cache, and drop the cache when the pid changes.

    Example:
        class RecordingInput:
            def __init__(self, stream, log):
                self._stream, self._log, self._seen = stream, log, []

            def readline(self):
                line = self._stream.readline()
                self._seen.append(line)
                return line

            def close(self):
                self._log.writelines(self._seen)

        sys.stdin = RecordingInput(sys.stdin, open("input.log", "a"))

    Fixed:
        class RecordingInput:
            def __init__(self, stream, log):
                self._stream, self._log, self._pid = stream, log, os.getpid()
                self._seen_by_pid = []

            @property
            def _seen(self):
                if os.getpid() != self._pid:  # a forked child: the cache is the parent's
                    self._pid, self._seen_by_pid = os.getpid(), []
                return self._seen_by_pid

            ...

    Fix safety:
    None: report only. How the cache should behave in a child (dropped, or kept and
    never written) is the author's decision; the message quotes the guideline's fix.
    """

    code = "MP010"
    name = "stdin-replacement"
    fix_safety = "none"

    def check(self) -> Iterable[Violation]:
        analysis = self.analysis
        replacements = list(_stream_replacements(analysis))
        if not replacements or not analysis.starting_calls(analysis.module, into_functions=True):
            return
        for target, stream, value in replacements:
            caching = _caching_class(analysis, value)
            if caching is None or _fork_aware(analysis, caching.definition):
                continue
            if stream != "stdin" and caching.drained_by_flush:
                continue
            yield Violation(target, _message(stream, caching))


def _message(stream: str, caching: CachingClass) -> str:
    cls = caching.definition.name.value
    when = "closes it" if stream == "stdin" else "writes to it"
    return (f"sys.{stream} is replaced by `{cls}`: a forked child {when} and writes the "
            f"parent's cached `self.{caching.cache}` again; clear it when os.getpid() changes")


def _stream_replacements(analysis: ModuleAnalysis
                         ) -> Iterator[tuple[cst.Attribute, str, cst.BaseExpression]]:
    for name in analysis.names.name_nodes:
        if name.value not in STREAMS.values():
            continue
        attribute = analysis.parent(name)
        target = analysis.parent(attribute) if attribute is not None else None
        assign = analysis.parent(target) if target is not None else None
        if isinstance(attribute, cst.Attribute) and attribute.attr is name \
                and isinstance(target, cst.AssignTarget) and isinstance(assign, cst.Assign):
            stream = STREAMS.get(analysis.names.qualified_name(attribute) or "")
            if stream is not None:
                yield attribute, stream, assign.value


def _caching_class(analysis: ModuleAnalysis, value: cst.BaseExpression) -> Optional[CachingClass]:
    if not isinstance(value, cst.Call):
        return None
    definition = analysis.definition_of(value.func)
    if not isinstance(definition, cst.ClassDef):
        return None
    methods = _methods(analysis, definition)
    containers = _container_attributes(analysis, methods)
    for name, method in methods.items():
        if name not in IO_METHODS:
            continue
        for attribute in _grown_attributes(method):
            if attribute in containers:
                flush = methods.get("flush")
                drained = flush is not None and attribute in _self_attributes_read(flush)
                return CachingClass(definition, attribute, drained)
    return None


def _methods(analysis: ModuleAnalysis, cls: cst.ClassDef) -> dict[str, cst.FunctionDef]:
    """The class's methods, those of its bases defined in the module included (the class's
    own win)."""
    found: dict[str, cst.FunctionDef] = {}
    for base in cls.bases:
        parent = analysis.definition_of(base.value)
        if isinstance(parent, cst.ClassDef) and parent is not cls:
            found.update(_methods(analysis, parent))
    for statement in cls.body.body:
        if isinstance(statement, cst.FunctionDef):
            found[statement.name.value] = statement
    return found


def _container_attributes(analysis: ModuleAnalysis,
                          methods: dict[str, cst.FunctionDef]) -> set[str]:
    """`self.x` attributes that some method sets to an empty, growable in-memory container."""
    found: set[str] = set()
    for method in methods.values():
        for attribute, value in _self_assignments(method):
            if _is_growable_container(analysis, value):
                found.add(attribute)
    return found


def _is_growable_container(analysis: ModuleAnalysis, value: cst.BaseExpression) -> bool:
    if isinstance(value, (cst.List, cst.SimpleString)):
        return True
    if isinstance(value, cst.Call):
        return analysis.names.qualified_name(value.func) in EMPTY_CONTAINERS
    return False


def _self_assignments(method: cst.FunctionDef) -> Iterator[tuple[str, cst.BaseExpression]]:
    for node in _walk(method.body):
        if isinstance(node, cst.Assign):
            for target in node.targets:
                yield from _paired_self_attributes(target.target, node.value)
        elif isinstance(node, cst.AnnAssign) and node.value is not None:
            yield from _paired_self_attributes(node.target, node.value)


def _paired_self_attributes(target: cst.BaseExpression, value: cst.BaseExpression
                            ) -> Iterator[tuple[str, cst.BaseExpression]]:
    attribute = _self_attribute(target)
    if attribute is not None:
        yield attribute, value
    elif isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, (cst.Tuple, cst.List)) \
            and len(target.elements) == len(value.elements):
        for element, item in zip(target.elements, value.elements):
            yield from _paired_self_attributes(element.value, item.value)


def _grown_attributes(method: cst.FunctionDef) -> Iterator[str]:
    """Attributes of `self` that `method` adds data to: `self.x.append(...)`, `self.x += ...`."""
    for node in _walk(method.body):
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) \
                and node.func.attr.value in GROWING_METHODS:
            attribute = _self_attribute(node.func.value)
            if attribute is not None:
                yield attribute
        elif isinstance(node, cst.AugAssign) and isinstance(node.operator, cst.AddAssign):
            attribute = _self_attribute(node.target)
            if attribute is not None:
                yield attribute


def _self_attributes_read(method: cst.FunctionDef) -> set[str]:
    return {attribute for node in _walk(method.body)
            if (attribute := _self_attribute(node)) is not None}


def _self_attribute(node: cst.CSTNode) -> Optional[str]:
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) \
            and node.value.value == "self":
        return node.attr.value
    return None


def _fork_aware(analysis: ModuleAnalysis, cls: cst.ClassDef) -> bool:
    """The class checks the pid or registers a fork hook, or the module registers one."""
    for call in analysis.calls:
        if analysis.names.qualified_name(call.func) not in FORK_AWARE:
            continue
        if analysis.enclosing_function(call) is None or _inside(analysis, call, cls):
            return True
    return False


def _inside(analysis: ModuleAnalysis, node: cst.CSTNode, outer: cst.CSTNode) -> bool:
    return any(ancestor is outer for ancestor in analysis.ancestors(node))


def _walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


class StdinReplacementCommand(RuleCommand):
    rule = StdinReplacement
