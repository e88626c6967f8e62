"""MP001 beyond its fixtures: the `frozen-executables` setting, the process library whose
freeze_support() a guard gets, and the reasons a finding gives when nothing can move."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from cli_helpers import codes, mpfix, write

from mpfix import check_code, fix_code
from mpfix.engine.source import compiles

FROZEN = "[tool.mpfix]\nfrozen-executables = true\n"

GUARD_WITHOUT_FREEZE = textwrap.dedent('''\
    from multiprocessing import Process


    def work():
        print("hello")


    if __name__ == "__main__":
        p = Process(target=work)
        p.start()
        p.join()
''')

BILLIARD_GUARD = textwrap.dedent('''\
    import multiprocessing

    import billiard as mp


    def work(x):
        return x * 2


    if __name__ == "__main__":
        multiprocessing.freeze_support()
        with mp.Pool(2) as pool:
            print(pool.map(work, [1, 2]))
''')


def _mp001_messages(source: str, **options) -> list[str]:
    return [f.message for f in check_code(source, select=["MP001"], **options)]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_frozen_executables_must_be_a_boolean(project: Path) -> None:
    write(project / "pyproject.toml", '[tool.mpfix]\nfrozen-executables = "yes"\n')
    write(project / "app.py", GUARD_WITHOUT_FREEZE)
    result = mpfix("check", "app.py")
    assert result.exit_code == 2
    assert "frozen-executables must be true or false" in result.stderr


def test_a_guard_without_freeze_support_is_reported_only_when_frozen_executables_is_on(
        project: Path) -> None:
    write(project / "app.py", GUARD_WITHOUT_FREEZE)
    assert mpfix("check", "app.py").exit_code == 0
    write(project / "pyproject.toml", FROZEN)
    found = mpfix("check", "app.py")
    assert found.exit_code == 1 and codes(found) == ["app.py:MP001"]
    assert "multiprocessing.freeze_support()" in found.stdout
    assert mpfix("fix", "app.py").exit_code == 1
    fixed = (project / "app.py").read_text()
    assert "from multiprocessing import Process, freeze_support\n" in fixed
    assert 'if __name__ == "__main__":\n    freeze_support()\n    p = Process' in fixed
    assert mpfix("check", "app.py").exit_code == 0


def test_the_frozen_check_asks_for_the_freeze_support_of_the_library_in_use(
        project: Path) -> None:
    """A billiard program's children carry `--billiard-fork`: multiprocessing's
    freeze_support() does not catch them, billiard's does."""
    write(project / "pyproject.toml", FROZEN)
    write(project / "app.py", BILLIARD_GUARD)
    found = mpfix("check", "app.py")
    assert codes(found) == ["app.py:MP001"] and "billiard.freeze_support()" in found.stdout
    mpfix("fix", "app.py")
    fixed = (project / "app.py").read_text()
    assert "    multiprocessing.freeze_support()\n    mp.freeze_support()\n    with mp.Pool" in fixed
    assert mpfix("check", "app.py").exit_code == 0


@pytest.mark.parametrize("program", [
    # The library's own freeze_support under another name.
    "from multiprocess import Pool, freeze_support as freezeSupport\n\n\ndef f(x):\n"
    "    return x\n\n\nif __name__ == '__main__':\n    freezeSupport()\n"
    "    with Pool(2) as p:\n        p.map(f, [1])\n",
    # Called first by the function the guard runs.
    "from billiard import Pool, freeze_support\n\n\ndef f(x):\n    return x\n\n\n"
    "def main():\n    freeze_support()\n    with Pool(2) as p:\n        p.map(f, [1])\n\n\n"
    "if __name__ == '__main__':\n    main()\n",
])
def test_the_frozen_check_accepts_the_library_s_own_freeze_support(program: str,
                                                                   project: Path) -> None:
    write(project / "pyproject.toml", FROZEN)
    write(project / "app.py", program)
    assert mpfix("check", "app.py").exit_code == 0


def test_an_added_freeze_support_never_shadows_another_library_s() -> None:
    program = textwrap.dedent('''\
        from multiprocessing import freeze_support

        from billiard import Pool

        with Pool(2) as pool:
            print(pool.map(abs, [-1, 2]))
    ''')
    fixed = fix_code(program, select=["MP001"])
    assert compiles(fixed.encode()) is None
    assert "freeze_support as billiard_freeze_support" in fixed
    assert '__main__":\n    billiard_freeze_support()\n' in fixed


def test_a_function_reading_entry_code_s_value_keeps_it_in_place() -> None:
    program = (Path(__file__).parent.parent / "fixtures" / "main-guard" / "pool-read-by-function"
               / "before.py").read_text()
    [message] = _mp001_messages(program)
    assert "function `thumbnails` reads `pool`" in message
    assert "pass it to `thumbnails`" in message


def test_module_metadata_set_from_entry_code_blocks_the_move() -> None:
    program = textwrap.dedent('''\
        from multiprocessing import Pool


        def name(x):
            return f"item{x}"


        with Pool(2) as pool:
            names = pool.map(name, [1, 2])
        __all__ = names
    ''')
    [finding] = check_code(program, select=["MP001"])
    assert "`__all__` is module metadata" in finding.message
    assert fix_code(program, select=["MP001"]) == program


def test_a_statement_that_stays_never_runs_before_entry_code_sharing_its_name() -> None:
    program = textwrap.dedent('''\
        from multiprocessing import Pool

        pool = Pool(2)
        LABEL = pool.map(str, [1])[0]
        LABEL = "fixed"


        def show():
            print(LABEL)


        if __name__ == "__main__":
            show()
    ''')
    [finding] = check_code(program, select=["MP001"])
    assert "`LABEL` is used both by entry code and by a statement that must stay" in finding.message
    assert fix_code(program, select=["MP001"]) == program


STREAMLIT_APP = textwrap.dedent('''\
    from multiprocessing import Pool

    import streamlit as st


    def double(x):
        return 2 * x


    with Pool(2) as pool:
        st.write(pool.map(double, [1, 2]))
''')


def test_a_streamlit_app_in_a_package_is_a_script_unless_another_file_imports_it(
        project: Path) -> None:
    write(project / "dash" / "__init__.py", "")
    write(project / "dash" / "page.py", STREAMLIT_APP)
    write(project / "dash" / "charts.py", STREAMLIT_APP)
    write(project / "dash" / "home.py", "import streamlit as st\n\nfrom dash import charts\n")
    result = mpfix("check", "--select", "MP001", ".")
    lines = {line.split(":")[0]: line for line in result.stdout.splitlines()}
    assert set(lines) == {"dash/page.py", "dash/charts.py"}
    assert "Streamlit runs this app as `__main__`" in lines["dash/page.py"]
    assert "library code" not in lines["dash/page.py"]
    assert "library code" in lines["dash/charts.py"]


def test_notebook_cell_markers_make_a_package_module_a_script() -> None:
    program = "# %%\nfrom multiprocessing import Pool\n\n# %%\nwith Pool(2) as p:\n    p.map(abs, [1])\n"
    [message] = _mp001_messages(program, is_library=True)
    assert "notebook-style script" in message and "library code" not in message
    assert 'if __name__ == "__main__":' in fix_code(program, select=["MP001"], is_library=True)
    plain = program.replace("# %%\n", "")
    assert "library code" in _mp001_messages(plain, is_library=True)[0]


def test_module_level_command_line_code_makes_a_package_module_a_script() -> None:
    pool = "import sys\nfrom multiprocessing import Pool\n\nwith Pool(2) as p:\n    p.map(abs, [1])\n"
    [message] = _mp001_messages(pool + "sys.exit(0)\n", is_library=True)
    assert "this file is run as a script (it calls `sys.exit()` at module level)" in message
    from_import = pool.replace("import sys\n", "from sys import argv\n") + "print(argv)\n"
    assert "it reads `sys.argv`" in _mp001_messages(from_import, is_library=True)[0]
    # In a function, the command line is the caller's business: still library code.
    in_function = pool + "\n\ndef main():\n    sys.exit(0)\n"
    assert "library code" in _mp001_messages(in_function, is_library=True)[0]
