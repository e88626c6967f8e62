"""What a process receives (mpfix/analysis/arguments.py): the shared answer MP002, MP003, MP004
and MP007 ask for, read through unpacking, variables, partials and helpers."""

from __future__ import annotations

import textwrap
from typing import Optional

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper

from mpfix.analysis.module import ModuleAnalysis
from mpfix.analysis.starters import StarterTable


def _analysis(source: str) -> ModuleAnalysis:
    module = cst.parse_module(textwrap.dedent(source))
    return ModuleAnalysis(MetadataWrapper(module, unsafe_skip_copy=True), StarterTable({}))


def _received(source: str) -> list[tuple[str, Optional[str], dict[str, Optional[str]]]]:
    """For each use: the callable's code, the helper call it came through, and what each
    parameter of the callable receives."""
    analysis = _analysis(source)
    code = analysis.module.code_for_node
    found = []
    for use in analysis.callable_uses():
        definition = analysis.definition_of(analysis.unwrap_partial(use.callable_arg.value))
        params: dict[str, Optional[str]] = {}
        if isinstance(definition, cst.FunctionDef):
            for param in (*definition.params.params, *definition.params.kwonly_params):
                value = analysis.argument_for(use, param.name.value)
                params[param.name.value] = code(value) if value is not None else None
        found.append((code(use.callable_arg.value), code(use.site) if use.site else None, params))
    return found


HEADER = """\
import functools
from multiprocessing import Process, Queue
"""


@pytest.mark.parametrize("body,expected", [
    # `args=(*r, q)`: r is the loop variable over a literal list of pairs.
    ("""
     def fill(start, stop, q): pass
     for r in [(0, 1), (2, 3)]:
         Process(target=fill, args=(*r, q))
     """, {"start": None, "stop": None, "q": "q"}),
    # `*r` of unknown length: the signature pins the count, so `q` is the last one.
    ("""
     def fill(start, stop, q): pass
     def go(r, q):
         Process(target=fill, args=(*r, q))
     """, {"start": None, "stop": None, "q": "q"}),
    # ...but not where a default leaves the count open.
    ("""
     def fill(start, stop=1, q=None): pass
     def go(r, q):
         Process(target=fill, args=(*r, q))
     """, {"start": None, "stop": None, "q": None}),
    # `args=variable`, a tuple bound once; and `(q,) + rest`.
    ("""
     def work(n, q): pass
     params = (3, q)
     Process(target=work, args=params)
     """, {"n": "3", "q": "q"}),
    ("""
     def work(q, func): pass
     def go(func, *rest):
         Process(target=work, args=(q, func) + rest)
     """, {"q": "q", "func": "func"}),
    # A list that something changes in place is not read.
    ("""
     def work(n, q): pass
     params = [3, q]
     params.append(4)
     Process(target=work, args=params)
     """, {"n": None, "q": None}),
    # partial with `**kw`: the keywords from a dict bound once, the positions kept
    # even where `**` hides which keywords come.
    ("""
     def work(n, q, flag=False): pass
     kw = {"flag": True}
     Process(target=functools.partial(work, 3, **kw), args=(q,))
     """, {"n": "3", "q": "q", "flag": "True"}),
    ("""
     def work(n, q, flag=False): pass
     Process(target=functools.partial(work, **extra), args=(5, q))
     """, {"n": "5", "q": "q", "flag": None}),
    ("""
     def work(n, *, q): pass
     Process(target=work, args=(1,), kwargs=dict(q=q))
     """, {"n": "1", "q": "q"}),
])
def test_what_a_target_receives(body: str, expected: dict[str, Optional[str]]) -> None:
    [(_, site, params)] = _received(HEADER + textwrap.dedent(body))
    assert site is None
    assert params == expected


def test_a_helper_forwarding_its_target_and_arguments_is_read_at_each_call() -> None:
    found = _received(HEADER + textwrap.dedent("""
        def worker(q, n): pass
        def other(x): pass
        def start(fn, *args, **kwargs):
            p = Process(target=fn, args=args, kwargs=kwargs)
            p.start()
            return p
        def main():
            q = Queue()
            start(worker, q, 3)
            start(other, x=q)
            start(*hidden)
    """))
    assert found == [("worker", "start(worker, q, 3)", {"q": "q", "n": "3"}),
                     ("other", "start(other, x=q)", {"x": "q"})]


def test_a_helper_forwarding_only_arguments_keeps_its_target() -> None:
    found = _received(HEADER + textwrap.dedent("""
        def worker(q, n): pass
        def start(*args):
            Process(target=worker, args=args).start()
        start(q, 1)
    """))
    assert found == [("worker", "start(q, 1)", {"q": "q", "n": "1"})]


def test_what_the_creating_call_shows_without_helpers() -> None:
    analysis = _analysis(HEADER + textwrap.dedent("""
        def worker(q): pass
        def start(fn, *args):
            Process(target=fn, args=args).start()
        start(worker, q)
    """))
    [direct] = analysis.callable_uses(through_helpers=False)
    assert direct.site is None and analysis.module.code_for_node(direct.callable_arg.value) == "fn"
    [forwarded] = analysis.callable_uses()
    assert forwarded.callable_at_site


def test_a_helper_nobody_calls_here_stays_as_written() -> None:
    found = _received(HEADER + textwrap.dedent("""
        def start(fn, *args):
            Process(target=fn, args=args).start()
    """))
    assert found == [("fn", None, {})]


def test_a_parameter_used_as_is_does_not_make_a_helper() -> None:
    found = _received(HEADER + textwrap.dedent("""
        def worker(q, n): pass
        def run(n):
            q = Queue()
            Process(target=worker, args=(q, n)).start()
        run(3)
        run(4)
    """))
    assert found == [("worker", None, {"q": "q", "n": "n"})]


def test_values_lists_every_shown_value_once() -> None:
    analysis = _analysis(HEADER + textwrap.dedent("""
        def work(a, b, c): pass
        rest = (2, 3)
        Process(target=functools.partial(work, 1), args=(*rest,), kwargs={"c": 4, **more})
    """))
    [use] = analysis.callable_uses()
    passed = analysis.arguments(use)
    assert [analysis.module.code_for_node(v) for v in passed.values()] == ["1", "2", "3", "4"]
    assert passed.more_keywords
    assert analysis.passed_arguments(use) is None  # not everything is shown
