"""Which files of a run count as libraries (imported rather than run)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from mpfix.engine.libraries import (
    _IMPORT_LINE,
    import_lines,
    imported_files,
    importing_files,
    module_names,
    package_modules,
)

# Pieces of import lines and of what surrounds them, shuffled into any order.
_PIECES = st.sampled_from([b"import", b"from", b" ", b"\t", b"\n", b"\r", b"\r\n", b"#", b";",
                           b"(", b")", b",", b".", b"os", b"pkg.sub", b" as ", b"importlib"])


def _tree(root: Path, files: dict[str, str]) -> dict[Path, bytes]:
    sources = {}
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        sources[path] = text.encode()
    return sources


def test_package_modules(tmp_path: Path) -> None:
    sources = _tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/work.py": "def run():\n    pass\n",
        "pkg/cli.py": "if __name__ == '__main__':\n    pass\n",
        "pkg/__main__.py": "print(1)\n",
        "script.py": "print(1)\n",
    })
    found = {p.relative_to(tmp_path).as_posix() for p in package_modules(sources, sources)}
    assert found == {"pkg/__init__.py", "pkg/work.py"}


def test_module_names(tmp_path: Path) -> None:
    _tree(tmp_path, {"pkg/__init__.py": "", "pkg/sub/__init__.py": "", "pkg/sub/mod.py": ""})
    assert module_names(tmp_path / "pkg/sub/mod.py") == {"mod", "sub.mod", "pkg.sub.mod"}


def test_imported_files(tmp_path: Path) -> None:
    sources = _tree(tmp_path, {
        "helpers.py": "X = 1\n",
        "tools.py": "Y = 1\n",
        "lonely.py": "Z = 1\n",
        "app.py": "import os, helpers\nfrom tools import Y\n# import lonely (a comment)\n",
    })
    found = {p.name for p in imported_files(sources, sources)}
    assert found == {"helpers.py", "tools.py"}


def test_imported_module_is_a_library_for_mp008(tmp_path: Path) -> None:
    _tree(tmp_path, {
        "parallel.py": (
            "import multiprocessing\n\n"
            "multiprocessing.set_start_method('fork')\n\n"
            "def run(f, xs):\n    with multiprocessing.Pool(2) as pool:\n"
            "        return pool.map(f, xs)\n"
        ),
        "app.py": "import parallel\n",
    })
    alone = subprocess.run([sys.executable, "-m", "mpfix", "check", "--no-cache", "-q",
                            str(tmp_path / "parallel.py")], capture_output=True, text=True)
    together = subprocess.run([sys.executable, "-m", "mpfix", "check", "--no-cache", "-q",
                               str(tmp_path)], capture_output=True, text=True)
    assert " MP008 " not in alone.stdout  # a script's own call is MP001's
    assert " MP001 " in alone.stdout
    assert " MP008 " in together.stdout
    assert " MP001 " not in together.stdout


@given(st.lists(_PIECES, max_size=40).map(b"".join))
def test_import_lines_finds_what_the_regular_expression_finds(source: bytes) -> None:
    found = [(match.span(), match.groups()) for match in import_lines(source)]
    assert found == [(match.span(), match.groups()) for match in _IMPORT_LINE.finditer(source)]


@given(st.lists(_PIECES | st.sampled_from([b"jobs", b"work_jobs", b"jobs2"]), max_size=30)
       .map(b"".join))
def test_importing_files_reads_import_lines_that_name_a_candidate(source: bytes) -> None:
    lines = source.split(b"\n")
    imports = any(_IMPORT_LINE.match(line) and re.search(rb"\bjobs\b", line) for line in lines)
    found = importing_files([Path("jobs.py")], {Path("other.py"): source})
    assert found == ({Path("other.py")} if imports else set())
