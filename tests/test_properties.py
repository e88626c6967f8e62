"""Properties, for any program: check and fix never raise, fix's output parses and
compiles, fix is idempotent, code without multiprocessing is never changed, and a
program whose findings have no applicable fix is returned unchanged.

Two sources of programs: hypothesmith's grammar-derived Python (arbitrary code,
which never mentions multiprocessing), and multiprocessing-flavoured programs
assembled from fragments (imports in every spelling, workers, pools, processes,
queues, events, executors, start methods, lambdas, nested functions, globals),
placed at module level, under a main guard or inside `main()`, and optionally
mixed with hypothesmith's arbitrary statements.
"""

from __future__ import annotations

import os

import libcst
import pytest
from grammar_programs import ARBITRARY_PYTHON
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mpfix import check_code, fix_code
from mpfix.engine.fixer import run_rules
from mpfix.findings import Safety
from mpfix.engine.registry import ALL_CODES
from mpfix.settings import FileSettings
from mpfix.engine.source import compiles

# Modest by default; MPFIX_PROPERTY_EXAMPLES=2000 for a long local fuzzing run.
EXAMPLES = int(os.environ.get("MPFIX_PROPERTY_EXAMPLES", "60"))
SLOW = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]
EVERY_RULE = FileSettings(rules=ALL_CODES, unsafe_fixes=True)
# Generated code is often odd (`1()`): CPython warns when compiling it, rightly and harmlessly.
pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")


# Multiprocessing-flavoured programs ----------------------------------------------------

IMPORTS = {
    # how the module is imported: the prefix its API is spelled with
    "import multiprocessing\n": "multiprocessing.",
    "import multiprocessing as mp\n": "mp.",
    "from multiprocessing import Pool, Process, Queue, Event, Lock, Manager, "
    "set_start_method, get_context, freeze_support\n": "",
    "import multiprocessing\nctx = multiprocessing.get_context('spawn')\n": "ctx.",
    "import multiprocess as mp\n": "mp.",
    "import torch.multiprocessing as mp\n": "mp.",
}

DEFINITIONS = [
    "def work(x):\n    return x * 2\n",
    "def work(x):\n    return x + OFFSET\n",
    "def produce(q, n):\n    for i in range(n):\n        q.put(i)\n",
    "def consume(q):\n    while True:\n        item = q.get()\n        if item is None:\n"
    "            break\n        print(item)\n",
    "def poll(event):\n    while not event.is_set():\n        pass\n",
    "def locked(lock, x):\n    with lock:\n        return x\n",
    "def setup():\n    global OFFSET\n    OFFSET = 5\n",
    "OFFSET = 10\n",
    "NAMES = ['a', 'b']\n",
    "square = lambda x: x * x\n",
    "class Job:\n    def __call__(self, x):\n        return x\n",
    "def main_helper():\n    return 1\n",
]

ENTRY = [
    "pool = {mp}Pool(2)\n",
    "print(pool.map(work, range(3)))\n",
    "print(pool.map(square, [1, 2]))\n",
    "print(pool.map(lambda x: x + 1, [1, 2]))\n",
    "result = pool.apply_async(work, (1,))\n",
    "pool.close()\n",
    "pool.join()\n",
    "pool.terminate()\n",
    "q = {mp}Queue()\n",
    "p = {mp}Process(target=produce, args=(q, 3))\n",
    "p = {mp}Process(target=consume, args=(q,))\n",
    "p = {mp}Process(target=lambda: print('hi'))\n",
    "p.start()\n",
    "p.join()\n",
    "p.terminate()\n",
    "q.put(None)\n",
    "print([q.get() for _ in range(3)])\n",
    "event = {mp}Event()\n",
    "p = {mp}Process(target=poll, args=(event,))\n",
    "event.set()\n",
    "lock = {mp}Lock()\n",
    "p = {mp}Process(target=locked, args=(lock, 1))\n",
    "{mp}set_start_method('spawn')\n",
    "{mp}set_start_method('fork')\n",
    "setup()\n",
    "OFFSET = 20\n",
    "procs = [{mp}Process(target=work, args=(i,)) for i in range(2)]\n",
    "for proc in procs:\n    proc.start()\n",
    "for proc in procs:\n    proc.join()\n",
    "def inner(x):\n    return x + OFFSET\n",
    "print(pool.map(inner, [1]))\n",
    "with {mp}Pool(2) as other:\n    print(other.map(work, [1]))\n",
    "manager = {mp}Manager()\n",
    "shared = manager.dict()\n",
    "print(pool.map(Job(), [1]))\n",
    "x = main_helper()\n",
    "print('done')\n",
]

EXECUTOR = [
    "from concurrent.futures import ProcessPoolExecutor\n",
    "with ProcessPoolExecutor() as executor:\n    print(list(executor.map(work, [1, 2])))\n",
    "executor = ProcessPoolExecutor(2)\nfuture = executor.submit(work, 1)\n",
]


def _indent(code: str, prefix: str = "    ") -> str:
    return "".join(prefix + line if line.strip() else line
                   for line in code.splitlines(keepends=True))


@st.composite
def multiprocessing_programs(draw: st.DrawFn) -> str:
    header, mp = draw(st.sampled_from(sorted(IMPORTS.items())))
    definitions = draw(st.lists(st.sampled_from(DEFINITIONS), max_size=6))
    entry = draw(st.lists(st.sampled_from(ENTRY), min_size=1, max_size=10))
    body = "".join(line.format(mp=mp) for line in entry)
    if draw(st.booleans()):
        body = "# entry code\n\n" + body
    if draw(st.booleans()):
        definitions = [EXECUTOR[0], *definitions]
        body += draw(st.sampled_from(EXECUTOR[1:]))
    placement = draw(st.sampled_from(["module", "guard", "guard+freeze", "main", "main+call"]))
    if placement == "guard":
        body = 'if __name__ == "__main__":\n' + _indent(body)
    elif placement == "guard+freeze":
        body = 'if __name__ == "__main__":\n    ' + mp + "freeze_support()\n" + _indent(body)
    elif placement.startswith("main"):
        call = 'if __name__ == "__main__":\n    main()\n' if placement == "main+call" \
            else "main()\n"
        body = "def main():\n" + _indent(body) + "\n" + call
    return header + "\n" + "".join(d + "\n" for d in definitions) + body


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=SLOW)
@given(multiprocessing_programs(), st.booleans(), st.booleans())
def test_fix_output_parses_compiles_and_is_idempotent(program: str, unsafe: bool,
                                                      library: bool) -> None:
    compile(program, "<program>", "exec", dont_inherit=True)
    check_code(program, is_library=library or None)
    fixed = fix_code(program, unsafe_fixes=unsafe, is_library=library or None)
    libcst.parse_module(fixed)
    compile(fixed, "<fixed>", "exec", dont_inherit=True)
    assert fix_code(fixed, unsafe_fixes=unsafe, is_library=library or None) == fixed


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=SLOW)
@given(multiprocessing_programs(), st.booleans())
def test_without_an_applicable_fix_the_program_is_unchanged(program: str,
                                                           library: bool) -> None:
    findings = check_code(program, is_library=library or None)
    safeties = {finding.fix_safety for finding in findings}
    if Safety.SAFE not in safeties:
        assert fix_code(program, is_library=library or None) == program
    if not safeties - {Safety.NONE}:
        assert fix_code(program, unsafe_fixes=True, is_library=library or None) == program


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=SLOW)
@given(st.sampled_from(DEFINITIONS), st.booleans())
def test_library_findings_are_never_fixed_by_moving_code(definition: str,
                                                          unsafe: bool) -> None:
    """A library's import-time pool is report-only for MP001: the file stays as it is."""
    program = f"import multiprocessing\n\n{definition}\npool = multiprocessing.Pool(2)\n"
    findings = [f for f in check_code(program, is_library=True) if f.code == "MP001"]
    assert findings and all(f.fix_safety is Safety.NONE for f in findings)
    assert fix_code(program, select=["MP001"], unsafe_fixes=unsafe, is_library=True) == program


# Arbitrary Python from hypothesmith ----------------------------------------------------

@settings(max_examples=max(10, EXAMPLES // 2), deadline=None, suppress_health_check=SLOW)
@given(ARBITRARY_PYTHON)
def test_code_without_multiprocessing_is_unchanged(program: str) -> None:
    assume("multiprocess" not in program and "billiard" not in program)
    assert fix_code(program, unsafe_fixes=True) == program
    assert check_code(program) == []
    # The engine itself, prefilter bypassed: nothing to fix, nothing raised.
    result = run_rules(program.encode(), EVERY_RULE, fix=True)
    assert result.new_source is None
    assert result.error is None or result.error.startswith("cannot parse"), result.error


@settings(max_examples=max(10, EXAMPLES // 2), deadline=None, suppress_health_check=SLOW)
@given(ARBITRARY_PYTHON, multiprocessing_programs(), st.booleans())
def test_multiprocessing_mixed_with_arbitrary_code(arbitrary: str, template: str,
                                                   unsafe: bool) -> None:
    # The arbitrary code first: a `from __future__` import in it stays legal.
    program = arbitrary + "\n" + template
    result = run_rules(program.encode(), EVERY_RULE, fix=True)
    if result.error is not None:
        assert result.error.startswith("cannot parse"), result.error  # libcst's grammar
        return
    fixed = fix_code(program, unsafe_fixes=unsafe)
    libcst.parse_module(fixed)
    if compiles(program.encode()) is None:  # random code may hold a misplaced __future__
        compile(fixed, "<fixed>", "exec", dont_inherit=True)
    assert fix_code(fixed, unsafe_fixes=unsafe) == fixed
