"""Jupyter notebooks (issue 18): cells as one module, positions in cells, magics, noqa,
discovery, output formats, and writing back only the changed cells, byte for byte."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from cli_helpers import mpfix
from mpfix import check_code, fix_code
from mpfix.api import MpfixError
from mpfix.engine.notebook import mask_magics, notebook_module

POOL_NEVER_CLOSED = ("def run(items):\n"
                     "    pool = mp.Pool(2)\n"
                     "    return pool.map(abs, items)")
POOL_IN_WITH = ("def run(items):\n"
                "    with mp.Pool(2) as pool:\n"
                "        return pool.map(abs, items)")
CELL_FUNCTION = "def square(x):\n    return x * x"
CELL_POOL = "with mp.Pool(2) as pool:\n    print(pool.map(square, [1, 2]))"


def notebook(*cells: str, markdown_first: bool = True, outputs: bool = True) -> nbformat.NotebookNode:
    made = [new_markdown_cell("# A notebook")] if markdown_first else []
    for number, source in enumerate(cells, 1):
        cell = new_code_cell(source, execution_count=number)
        if outputs:
            cell.outputs.append(new_output("stream", name="stdout", text=f"out {number}\n"))
        made.append(cell)
    document = new_notebook(cells=made, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python", "version": "3.11.9"}})
    for number, cell in enumerate(document.cells):
        cell["id"] = f"cell-{number}"
    return document


def jupyter_bytes(document: nbformat.NotebookNode) -> bytes:
    """As Jupyter saves a notebook: nbformat's JSON and a final newline."""
    return (nbformat.writes(document) + "\n").encode("utf-8")


def with_cell(document: nbformat.NotebookNode, index: int, source: str) -> nbformat.NotebookNode:
    changed = nbformat.from_dict(json.loads(json.dumps(document)))
    changed.cells[index].source = source
    return changed


# -- the module mpfix analyses ----------------------------------------------------------

def test_cells_join_in_order_and_findings_name_the_cell() -> None:
    data = jupyter_bytes(notebook("import multiprocessing as mp", CELL_FUNCTION, CELL_POOL))
    findings = check_code(data, path="nb.ipynb", select=["MP007"])
    assert [(f.location, f.code) for f in findings] == [("nb.ipynb:cell 4:2:20", "MP007")]
    assert "in a notebook; AttributeError: Can't get attribute 'square' on __main__" in findings[0].message
    assert "nb_helpers.py" in findings[0].message


def test_a_notebook_needs_no_main_guard() -> None:
    data = jupyter_bytes(notebook("import multiprocessing as mp", "pool = mp.Pool(2)\n"
                                  "print(pool.map(abs, [-1]))\npool.close()\npool.join()"))
    assert check_code(data, path="nb.ipynb", select=["MP001"]) == []
    # The same code as a script is reported: the notebook is what makes the difference.
    code = notebook_module(data).code  # type: ignore[union-attr]
    assert [f.code for f in check_code(code, path="script.py", select=["MP001"])] == ["MP001"]


@pytest.mark.parametrize("line", [
    "%time x = 1", "%%time", "!pip install tqdm", "?print", "print?", "mp.Pool??",
    "files = !ls", "x, y = %who_ls", "%load_ext autoreload"])
def test_magics_are_masked_line_for_line(line: str) -> None:
    masked = mask_magics(f"import os\n{line}\nprint(os.sep)\n")
    assert masked is not None
    lines = masked.splitlines()
    assert len(lines) == 3 and lines[0] == "import os" and lines[2] == "print(os.sep)"
    compile(masked, "<cell>", "exec")


def test_a_magic_inside_a_block_keeps_the_block_valid() -> None:
    masked = mask_magics("for i in range(2):\n    %time print(i)\n")
    assert masked is not None
    compile(masked, "<cell>", "exec")


def test_percent_inside_a_string_is_not_a_magic() -> None:
    text = 'template = """\n%(name)s\n!important\n"""\n'
    assert mask_magics(text) == text


def test_a_cell_of_another_language_is_left_out() -> None:
    assert mask_magics("%%bash\necho hi\n") is None
    assert mask_magics("%%capture out\nprint(1)\n") is not None
    data = jupyter_bytes(notebook("import multiprocessing as mp", "%%writefile helper.py\n"
                                  "def square(x):\n    return x * x", CELL_POOL))
    module = notebook_module(data)
    assert module is not None and "def square" not in module.code


def test_a_notebook_of_another_language_is_skipped() -> None:
    document = notebook("import multiprocessing as mp", CELL_FUNCTION, CELL_POOL)
    document.metadata["language_info"] = {"name": "R"}
    document.metadata["kernelspec"]["language"] = "R"
    assert check_code(jupyter_bytes(document), path="nb.ipynb") == []


def test_noqa_works_in_a_cell() -> None:
    data = jupyter_bytes(notebook(
        "import multiprocessing as mp", CELL_FUNCTION,
        "with mp.Pool(2) as pool:\n    print(pool.map(square, [1]))  # noqa: MP007"))
    assert check_code(data, path="nb.ipynb", select=["MP007"]) == []


def test_a_notebook_that_is_not_one_is_one_clear_error() -> None:
    with pytest.raises(MpfixError, match=r"^cannot read notebook: invalid JSON"):
        check_code(b'{"cells": [', path="nb.ipynb")
    with pytest.raises(MpfixError, match=r"^cannot read notebook: not valid nbformat"):
        check_code(b'{"nbformat": 4, "nbformat_minor": 5, "cells": 3, "metadata": {}}',
                   path="nb.ipynb")


def test_a_syntax_error_is_placed_in_its_cell() -> None:
    data = jupyter_bytes(notebook("import multiprocessing as mp", CELL_POOL,
                                  "def broken(:\n    pass"))
    with pytest.raises(MpfixError, match=r"\(cell 4, line 1"):
        check_code(data, path="nb.ipynb")


# -- writing back ---------------------------------------------------------------------------

def test_fix_changes_only_the_fixed_cell_byte_for_byte() -> None:
    before = notebook("import multiprocessing as mp", POOL_NEVER_CLOSED, "print(run([-1]))")
    after = jupyter_bytes(with_cell(before, 2, POOL_IN_WITH))
    assert fix_code(jupyter_bytes(before), path="nb.ipynb", select=["MP006"]) == after


@pytest.mark.parametrize("indent,sort_keys,final_newline", [
    (2, False, False), (1, False, True), (4, True, True), (1, True, False)])
def test_fix_keeps_another_json_layout(indent: int, sort_keys: bool, final_newline: bool) -> None:
    """Editors other than Jupyter (VS Code, Colab, nbconvert options) write other layouts."""
    def layout(document: nbformat.NotebookNode) -> bytes:
        plain = json.loads(json.dumps(document))
        for cell in plain["cells"]:
            cell["source"] = cell["source"].splitlines(keepends=True)
        text = json.dumps(plain, indent=indent, sort_keys=sort_keys, ensure_ascii=False)
        return (text + ("\n" if final_newline else "")).encode("utf-8")

    before = notebook("import multiprocessing as mp", POOL_NEVER_CLOSED, "print(run([-1]))")
    after = layout(with_cell(before, 2, POOL_IN_WITH))
    assert fix_code(layout(before), path="nb.ipynb", select=["MP006"]) == after


def test_a_layout_mpfix_cannot_reproduce_is_left_alone() -> None:
    before = notebook("import multiprocessing as mp", POOL_NEVER_CLOSED)
    odd = json.dumps(json.loads(json.dumps(before)), indent=3).replace('": ', '" : ')
    with pytest.raises(MpfixError, match="cannot reproduce this notebook's JSON layout"):
        fix_code(odd.encode(), path="nb.ipynb", select=["MP006"])


def test_fix_keeps_magics_in_the_changed_cell() -> None:
    cell = "%time x = 1\n" + POOL_NEVER_CLOSED.replace("    pool = ", "    !echo hi\n    pool = ")
    fixed_cell = "%time x = 1\n" + POOL_IN_WITH.replace("    with ", "    !echo hi\n    with ")
    before = notebook("import multiprocessing as mp", cell)
    fixed = fix_code(jupyter_bytes(before), path="nb.ipynb", select=["MP006"])
    assert fixed == jupyter_bytes(with_cell(before, 2, fixed_cell))


def test_a_cell_without_a_final_newline_keeps_it_that_way() -> None:
    before = notebook("import multiprocessing as mp", POOL_NEVER_CLOSED + "\n")
    fixed = json.loads(fix_code(jupyter_bytes(before), path="nb.ipynb", select=["MP006"]))
    assert "".join(fixed["cells"][2]["source"]) == POOL_IN_WITH + "\n"
    before = notebook("import multiprocessing as mp", POOL_NEVER_CLOSED)
    fixed = json.loads(fix_code(jupyter_bytes(before), path="nb.ipynb", select=["MP006"]))
    assert "".join(fixed["cells"][2]["source"]) == POOL_IN_WITH


# -- the command line -------------------------------------------------------------------

@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "analysis.ipynb").write_bytes(jupyter_bytes(notebook(
        "import multiprocessing as mp", CELL_FUNCTION, CELL_POOL, POOL_NEVER_CLOSED)))
    (tmp_path / "clean.ipynb").write_bytes(jupyter_bytes(notebook("print('hello')")))
    (tmp_path / "drafts").mkdir()
    (tmp_path / "drafts" / "old.ipynb").write_bytes(jupyter_bytes(notebook(
        "import multiprocessing as mp", POOL_NEVER_CLOSED)))
    return tmp_path


def test_check_finds_notebooks_in_directories_and_honours_exclude(project: Path) -> None:
    result = mpfix("check", "--output-format", "text", ".")
    assert result.exit_code == 1
    assert "analysis.ipynb:cell 4:2:20: MP007 " in result.output
    assert "analysis.ipynb:cell 5:2:12: MP006 [*] " in result.output
    assert "drafts/old.ipynb:cell 3:2:12: MP006" in result.output
    excluded = mpfix("check", "--output-format", "text", "--exclude", "drafts", ".")
    assert "old.ipynb" not in excluded.output and "analysis.ipynb" in excluded.output


def test_json_sarif_and_github_name_the_cell(project: Path) -> None:
    records = json.loads(mpfix("check", "--output-format", "json", "analysis.ipynb").stdout)
    assert [(r["cell"], r["line"], r["column"], r["code"]) for r in records] == [
        (4, 2, 20, "MP007"), (5, 2, 12, "MP006")]
    sarif = json.loads(mpfix("check", "--output-format", "sarif", "analysis.ipynb").stdout)
    results = sarif["runs"][0]["results"]
    assert [(r["properties"]["cell"], r["locations"][0]["physicalLocation"]["region"]["startLine"])
            for r in results] == [(4, 2), (5, 2)]
    github = mpfix("check", "--output-format", "github", "analysis.ipynb").stdout
    assert "::error file=analysis.ipynb,title=MP007::analysis.ipynb:cell 4:2:20: " in github
    assert "line=" not in github.splitlines()[0]


def test_fix_rewrites_only_notebooks_it_fixes(project: Path) -> None:
    clean = (project / "clean.ipynb").stat().st_mtime_ns
    original = (project / "analysis.ipynb").read_bytes()
    result = mpfix("fix", "analysis.ipynb", "clean.ipynb")
    assert result.exit_code == 1
    assert (project / "clean.ipynb").stat().st_mtime_ns == clean
    fixed = json.loads((project / "analysis.ipynb").read_bytes())
    assert "".join(fixed["cells"][4]["source"]) == POOL_IN_WITH
    assert json.loads(original)["cells"][:4] == fixed["cells"][:4]
    assert fixed["cells"][4]["outputs"] == json.loads(original)["cells"][4]["outputs"]


def test_fix_diff_is_a_patch_of_the_notebook_file(project: Path) -> None:
    original = (project / "analysis.ipynb").read_bytes()
    result = mpfix("fix", "--diff", "analysis.ipynb")
    assert (project / "analysis.ipynb").read_bytes() == original
    assert "--- a/analysis.ipynb" in result.output and '+    "    with mp.Pool(2) as pool:\\n",' \
        in result.output
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    patch = project / "fix.patch"
    patch.write_text(result.output[result.output.index("--- a/"):].split("\n1 file")[0] + "\n")
    subprocess.run(["git", "apply", "fix.patch"], cwd=project, check=True)
    assert (project / "analysis.ipynb").read_bytes() == fix_code(original, path="analysis.ipynb")


def test_nbformat_is_imported_only_when_a_notebook_is_read(project: Path) -> None:
    (project / "script.py").write_text("import multiprocessing as mp\n\n"
                                       "with mp.Pool(2) as pool:\n    print(pool.map(abs, [1]))\n")
    code = ("import json, sys\nfrom mpfix.cli.app import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n")

    def modules(*args: str) -> set[str]:
        completed = subprocess.run([sys.executable, "-c", code, *args], cwd=project,
                                   capture_output=True, text=True, timeout=120,
                                   env={**os.environ, "NO_COLOR": "1"})
        return set(json.loads(completed.stderr.strip().splitlines()[-1]))

    assert "nbformat" not in modules("check", "--no-cache", "script.py")
    assert "nbformat" in modules("check", "--no-cache", "analysis.ipynb")


def test_the_helpers_module_name_is_a_setting(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.mpfix]\nnotebook-helpers = "{notebook}_workers"\n')
    result = mpfix("check", "--output-format", "text", "analysis.ipynb")
    assert "'analysis_workers.py'" in result.stdout
    (project / "pyproject.toml").write_text('[tool.mpfix]\nnotebook-helpers = "my helpers"\n')
    result = mpfix("check", "analysis.ipynb")
    assert result.exit_code == 2 and "notebook-helpers must be a module name" in result.stderr


def test_interactive_review_shows_the_cell(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mpfix.cli import interactive

    monkeypatch.setattr(interactive, "stdin_is_terminal", lambda: True)
    result = mpfix("fix", "-i", "--select", "MP006", "analysis.ipynb", input="y\n")
    assert "MP006 pool-lifecycle at analysis.ipynb:cell 5:2:12" in result.stderr
    assert "# cell 5\n" in result.stderr and "+    with mp.Pool(2) as pool:\n" in result.stderr
    assert "__mpfix_cell__" not in result.stderr and "mpfix-magic" not in result.stderr
    fixed = json.loads((project / "analysis.ipynb").read_bytes())
    assert "".join(fixed["cells"][4]["source"]) == POOL_IN_WITH


def test_jupyter_checkpoints_are_not_walked(project: Path) -> None:
    (project / ".ipynb_checkpoints").mkdir()
    (project / ".ipynb_checkpoints" / "analysis-checkpoint.ipynb").write_bytes(
        (project / "analysis.ipynb").read_bytes())
    result = mpfix("check", "--output-format", "text", ".")
    assert "checkpoint" not in result.stdout and "analysis.ipynb:cell 4:2:20" in result.stdout


def test_the_cache_keeps_a_finding_naming_its_own_notebook(project: Path) -> None:
    (project / "copy.ipynb").write_bytes((project / "analysis.ipynb").read_bytes())
    from click.testing import CliRunner

    from mpfix.cli.app import main

    for _ in range(2):  # the second run is served from the cache
        output = CliRunner().invoke(main, ["check", "--output-format", "text", "analysis.ipynb",
                                           "copy.ipynb"]).stdout
        assert "'analysis_helpers.py'" in output and "'copy_helpers.py'" in output


def test_full_output_shows_the_line_of_the_cell(project: Path) -> None:
    output = mpfix("check", "--output-format", "full", "analysis.ipynb").stdout
    assert "analysis.ipynb:cell 4:2:20:" in output
    assert "2 |     print(pool.map(square, [1, 2]))" in output


def test_mp007_names_what_moves_with_the_function_and_what_it_must_be_passed() -> None:
    data = jupyter_bytes(notebook(
        "import multiprocessing as mp\nimport math\nSCALE = 3\ndata = [1, 2, 3]\n"
        "threshold = len(data)",
        "def clip(v):\n    return min(v, threshold)\n\n"
        "def work(x):\n    return clip(math.floor(x * SCALE)) + len(data)",
        "with mp.Pool(2) as pool:\n    print(pool.map(work, data))"))
    message = check_code(data, path="nb.ipynb", select=["MP007"])[0].message
    # Functions and constants of the notebook go along; imports are repeated in the module;
    # values the kernel computed reach a worker only as arguments. Where the names do not
    # fit in a line beside the error's full text, the error is named shorter.
    assert message == ("function 'work' is a pool task; AttributeError on __main__: move it "
                       "with 'clip', 'SCALE' to 'nb_helpers.py', passing 'data', 'threshold' "
                       "as arguments")
    data = jupyter_bytes(notebook(
        "import multiprocessing as mp\nimport math\nSCALE = 3\nlimit = int('4')",
        "def work(x):\n    return min(math.floor(x * SCALE), limit)",
        "with mp.Pool(2) as pool:\n    print(pool.map(work, [1, 2]))"))
    message = check_code(data, path="nb.ipynb", select=["MP007"])[0].message
    assert message.endswith("move it with 'SCALE' to 'nb_helpers.py', passing 'limit' as "
                            "an argument")


def test_a_fix_that_moves_statements_keeps_them_in_their_cell() -> None:
    """MP003 moves the joins below the gets; a comment leading the joins goes with them,
    and the cell boundary above them stays where it was."""
    produce = "import multiprocessing as mp\n\ndef produce(queue, n):\n    queue.put(n)"
    start = ("queue = mp.Queue()\n"
             "workers = [mp.Process(target=produce, args=(queue, n)) for n in range(3)]\n"
             "for w in workers:\n    w.start()")
    before = notebook(produce, start, "# wait for them\nfor w in workers:\n    w.join()\n"
                      "results = [queue.get() for _ in workers]\nprint(results)")
    after = with_cell(before, 3, "results = [queue.get() for _ in workers]\n# wait for them\n"
                      "for w in workers:\n    w.join()\nprint(results)")
    assert fix_code(jupyter_bytes(before), path="nb.ipynb", select=["MP003"]) == jupyter_bytes(after)


# -- MP007's fix: the notebook's definitions move to the module beside it ----------------

def test_fix_moves_the_function_to_the_helpers_module(project: Path) -> None:
    assert "MP007 [U] " in mpfix("check", "--output-format", "text", "analysis.ipynb").stdout
    result = mpfix("fix", "--unsafe-fixes", "--select", "MP007", "analysis.ipynb")
    assert result.exit_code == 1 and "1 fixed" in result.output  # 1: files changed
    assert (project / "analysis_helpers.py").read_text() == CELL_FUNCTION + "\n"
    fixed = json.loads((project / "analysis.ipynb").read_bytes())
    assert "".join(fixed["cells"][2]["source"]) == "from analysis_helpers import square"
    again = mpfix("fix", "--unsafe-fixes", "--select", "MP007", "analysis.ipynb")
    assert again.exit_code == 0 and "analysis_helpers.py" not in again.output


def test_fix_diff_creates_the_helpers_module(project: Path) -> None:
    result = mpfix("fix", "--unsafe-fixes", "--select", "MP007", "--diff", "analysis.ipynb")
    assert not (project / "analysis_helpers.py").exists()
    patch = result.stdout[:result.stdout.index("\n1 file")] + "\n" \
        if "\n1 file" in result.stdout else result.stdout
    assert patch.startswith("--- /dev/null\n+++ b/analysis_helpers.py\n@@ -0,0 +1,2 @@\n")
    assert "--- a/analysis.ipynb" in patch
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    (project / "fix.patch").write_text(patch)
    subprocess.run(["git", "apply", "fix.patch"], cwd=project, check=True)
    assert (project / "analysis_helpers.py").read_text() == CELL_FUNCTION + "\n"


def test_fix_report_names_the_helpers_module(project: Path) -> None:
    result = mpfix("fix", "--unsafe-fixes", "--select", "MP007", "--output-format", "json",
                   "analysis.ipynb")
    assert json.loads(result.stdout)["fixes"] == [
        {"path": "analysis.ipynb", "code": "MP007", "name": "unpicklable-callable", "count": 1,
         "companions": ["analysis_helpers.py"]}]


def test_a_helpers_module_binding_the_name_is_left_alone(project: Path) -> None:
    helpers = project / "analysis_helpers.py"
    helpers.write_text("def square(x):\n    return x ** 2\n")
    original = (project / "analysis.ipynb").read_bytes()
    result = mpfix("fix", "--unsafe-fixes", "--select", "MP007", "analysis.ipynb")
    assert result.exit_code == 1 and "MP007 " in result.stdout
    assert (project / "analysis.ipynb").read_bytes() == original
    assert helpers.read_text() == "def square(x):\n    return x ** 2\n"


def test_the_fix_is_offered_only_where_the_module_beside_can_be_written() -> None:
    """In memory (the API, stdin) there is no directory to write the module to."""
    data = jupyter_bytes(notebook("import multiprocessing as mp", CELL_FUNCTION, CELL_POOL))
    assert fix_code(data, path="nb.ipynb", select=["MP007"], unsafe_fixes=True) == data
    assert check_code(data, path="nb.ipynb", select=["MP007"])[0].fixable is False


def test_interactive_review_shows_the_helpers_module(project: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from mpfix.cli import interactive

    monkeypatch.setattr(interactive, "stdin_is_terminal", lambda: True)
    result = mpfix("fix", "-i", "--unsafe-fixes", "--select", "MP007", "analysis.ipynb",
                   input="y\n")
    assert "--- /dev/null\n+++ b/analysis_helpers.py\n" in result.stderr
    assert "+def square(x):\n" in result.stderr
    assert (project / "analysis_helpers.py").read_text() == CELL_FUNCTION + "\n"


def test_a_module_is_created_only_where_none_appeared(tmp_path: Path) -> None:
    from mpfix.engine.writer import WriteError, create_atomically

    target = tmp_path / "helpers.py"
    create_atomically(target, b"x = 1\n")
    assert target.read_bytes() == b"x = 1\n"
    with pytest.raises(WriteError, match="created by someone else"):
        create_atomically(target, b"x = 2\n")
    assert target.read_bytes() == b"x = 1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["helpers.py"]  # no temporary file left


def test_the_summary_names_the_module_written_beside(project: Path) -> None:
    would = mpfix("fix", "--unsafe-fixes", "--select", "MP007", "--diff", "analysis.ipynb")
    assert "1 would change; 1 module beside them would be created (analysis_helpers.py)" \
        in would.stderr
    done = mpfix("fix", "--unsafe-fixes", "--select", "MP007", "analysis.ipynb")
    assert "1 changed; 1 module beside them created (analysis_helpers.py)" in done.stderr


def test_the_cache_notices_the_helpers_module_changing(project: Path) -> None:
    """Whether MP007 can move code to the module beside the notebook depends on that module:
    a cached result must not outlive a change to it."""
    from click.testing import CliRunner

    from mpfix.cli.app import main

    def check() -> str:
        return CliRunner().invoke(main, ["check", "--output-format", "text", "--select",
                                         "MP007", "analysis.ipynb"]).stdout

    assert "MP007 [U] " in check()
    (project / "analysis_helpers.py").write_text("def square(x):\n    return x ** 2\n")
    assert "MP007 [U] " not in check() and "MP007 " in check()
