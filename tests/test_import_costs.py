"""Imports follow need: which libcst modules each path imports (issue 17).

Importing libcst costs more than everything a cache hit or a prefilter skip does, and
libcst.codemod (which imports libcst.matchers) costs more than checking a small file.
Each path runs in a fresh interpreter, in-process, and reports `sys.modules` after it;
each assertion names what must be absent, and the paths that parse name what must be
present, so the test can fail both ways.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CODEMOD = "libcst.codemod"
MATCHERS = "libcst.matchers"
LIBCST = "libcst"
ENGINE = "mpfix.engine.fixer"

SCRIPT = (
    "import multiprocessing as mp\n\n"
    "def square(x):\n    return x * x\n\n"
    "with mp.Pool(2) as pool:\n    print(pool.map(square, range(10)))\n"
)
PLAIN = "import os\n\nprint(os.getcwd())\n"

RUN_CLI = """
import json, sys
from mpfix.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def modules_after(code: str, *args: str, cwd: Path) -> set[str]:
    """`sys.modules` after `code` ran in a fresh interpreter (it prints them, as JSON, on
    the last line of stderr)."""
    completed = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd,
                               capture_output=True, text=True, timeout=120)
    last = completed.stderr.strip().splitlines()[-1] if completed.stderr.strip() else ""
    assert last.startswith("["), completed.stderr
    return set(json.loads(last))


def cli_modules(tmp_path: Path, *args: str) -> set[str]:
    return modules_after(RUN_CLI, *args, cwd=tmp_path)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "script.py").write_text(SCRIPT)
    (tmp_path / "plain.py").write_text(PLAIN)
    return tmp_path


def assert_absent(modules: set[str], *names: str) -> None:
    present = sorted(name for name in names if name in modules)
    assert not present, f"imported, and must not be: {present}"


@pytest.mark.parametrize("args", [("--help",), ("rule",), ("rule", "MP001"),
                                  ("rule", "main-guard", "--output-format", "json"),
                                  ("rule", "--all")],
                         ids=" ".join)
def test_help_and_rule_docs_never_import_libcst(project: Path, args: tuple[str, ...]) -> None:
    assert_absent(cli_modules(project, *args), LIBCST, ENGINE)


def test_a_file_the_prefilter_skips_never_imports_libcst(project: Path) -> None:
    assert_absent(cli_modules(project, "check", "--no-cache", "plain.py"), LIBCST, ENGINE)


def test_cache_hits_never_import_libcst(project: Path) -> None:
    first = cli_modules(project, "check", "--output-format", "json", "script.py")
    assert LIBCST in first  # the first run parses the script and fills the cache
    second = cli_modules(project, "check", "--output-format", "json", "script.py")
    assert_absent(second, LIBCST, ENGINE)


def test_check_imports_libcst_but_not_codemod_or_matchers(project: Path) -> None:
    modules = cli_modules(project, "check", "--no-cache", "script.py")
    assert LIBCST in modules and ENGINE in modules
    assert_absent(modules, CODEMOD, MATCHERS)


def test_fix_diff_imports_libcst_but_not_codemod_or_matchers(project: Path) -> None:
    modules = cli_modules(project, "fix", "--diff", "--no-cache", "script.py")
    assert LIBCST in modules and ENGINE in modules
    assert_absent(modules, CODEMOD, MATCHERS)


def test_every_rule_module_imports_without_codemod_or_matchers(project: Path) -> None:
    code = ("import json, sys\n"
            "from mpfix.engine.registry import ALL_CODES, rule_class\n"
            "for code in ALL_CODES:\n"
            "    rule_class(code)\n"
            "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n")
    modules = modules_after(code, cwd=project)
    assert "mpfix.codemods.main_guard" in modules
    assert_absent(modules, CODEMOD, MATCHERS)


def test_a_rule_command_builds_its_codemod_on_first_use(project: Path) -> None:
    code = ("import json, sys\n"
            "from mpfix.codemods.main_guard import MainGuardCommand\n"
            "before = 'libcst.codemod' in sys.modules\n"
            "from libcst.codemod import CodemodCommand, CodemodContext\n"
            "command = MainGuardCommand(CodemodContext())\n"
            "assert not before and isinstance(command, CodemodCommand)\n"
            "assert isinstance(command, MainGuardCommand)\n"
            "assert MainGuardCommand.DESCRIPTION.startswith('MP001 main-guard: ')\n"
            "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n")
    assert CODEMOD in modules_after(code, cwd=project)


def test_mpfix_run_never_imports_libcst(project: Path) -> None:
    modules = cli_modules(project, "run", "--start-method", "spawn", "--",
                          sys.executable, "-c", "pass")
    assert "mpfix.verify.run" in modules
    assert_absent(modules, LIBCST, ENGINE)


def test_the_start_method_runner_imports_neither_libcst_nor_the_engine(project: Path) -> None:
    """`python -m mpfix.verify.startmethod` runs every fixture's behaviour runs: the script
    it runs reports what its interpreter had imported."""
    (project / "report.py").write_text(
        "import json, sys\nprint(json.dumps(sorted(sys.modules)), file=sys.stderr)\n")
    completed = subprocess.run(
        [sys.executable, "-m", "mpfix.verify.startmethod", "spawn", "report.py"],
        cwd=project, capture_output=True, text=True, timeout=120)
    modules = set(json.loads(completed.stderr.strip().splitlines()[-1]))
    assert "mpfix.verify" in modules  # its package (the module itself runs as __main__)
    assert_absent(modules, LIBCST, "mpfix.api", "mpfix.engine.pipeline", "mpfix.engine.registry")


def test_rule_docs_read_from_source_equal_the_rule_classes() -> None:
    """`mpfix rule` reads each rule's code, name, fix safety and docstring from its
    module's source (mpfix.rulekit.ruledoc): they must be what the class has."""
    import inspect

    from mpfix.cli.docs import documented_rules
    from mpfix.engine.registry import rule_class

    docs = documented_rules()[:-1]  # the last is MP100, which has no rule class
    assert len(docs) >= 10
    for doc in docs:
        cls = rule_class(doc.code)
        assert (doc.code, doc.name, doc.fix_safety) == (cls.code, cls.name, cls.fix_safety)
        assert doc.documentation() == inspect.cleandoc(cls.__doc__ or "")
        assert doc.sections() == cls.sections() and doc.summary() == cls.summary()
