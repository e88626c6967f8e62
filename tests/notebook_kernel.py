"""Run a notebook's code cells the way a Jupyter kernel does, without a kernel.

A kernel executes each code cell, in order, in one namespace: that of a
`__main__` module that has no `__file__`. So a spawn or forkserver child has no
main module to import and finds nothing the cells defined (`AttributeError:
Can't get attribute 'f' on <module '__main__' (built-in)>`), while a fork child
inherits it all. `python -c` gives exactly such a `__main__`; `command()` builds
that command line. IPython syntax is skipped, not run: line magics, shell
escapes and help requests become `pass`, a cell magic of a Python body (`%%time`)
loses its first line, and a cell of another language (`%%bash`) is left out.
Like "Run All", the first cell that raises stops the run (exit status 1).

This reads the JSON with the standard library only, independently of mpfix.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

PYTHON_CELL_MAGICS = ("time", "timeit", "capture", "prun")
_IPYTHON_LINE = re.compile(r"^\s*(?:[%!?]|[\w.]+\?{1,2}\s*$|[\w.,\s]+=\s*[%!])")

_BOOT = ("import sys; sys.path.insert(0, sys.argv.pop(1)); import notebook_kernel; "
         "notebook_kernel.run(sys.argv[1], sys.argv[2])")


def command(notebook: str, method: str) -> list[str]:
    """The command that runs `notebook` (in the current directory) under `method`."""
    return [sys.executable, "-c", _BOOT, str(Path(__file__).resolve().parent), notebook, method]


def code_cells(data: str) -> list[str]:
    document = json.loads(data)
    cells = document.get("cells")
    if cells is None:  # nbformat 3
        cells = [c for sheet in document.get("worksheets", []) for c in sheet.get("cells", [])]
    sources = []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        text = cell.get("source", cell.get("input", ""))
        text = "".join(text) if isinstance(text, list) else text
        python = _python(text)
        if python is not None:
            sources.append(python)
    return sources


def _python(text: str) -> "str | None":
    lines = text.splitlines()
    if lines and lines[0].startswith("%%"):
        if lines[0][2:].split()[0] not in PYTHON_CELL_MAGICS:
            return None
        lines = lines[1:]
    return "\n".join(re.sub(r"\S.*", "pass", line) if _IPYTHON_LINE.match(line) else line
                     for line in lines) + "\n"


def run(notebook: str, method: str) -> None:
    from mpfix.verify.startmethod import force_default_start_method

    force_default_start_method(method)
    main = sys.modules["__main__"]
    assert not hasattr(main, "__file__"), "a kernel's __main__ has no file"
    namespace = main.__dict__
    for number, source in enumerate(code_cells(Path(notebook).read_text(encoding="utf-8")), 1):
        try:
            exec(compile(source, f"<cell {number}>", "exec"), namespace)
        except BaseException:  # noqa: BLE001 - a kernel reports any error and stops "Run All"
            import traceback

            traceback.print_exc()
            sys.stdout.flush()
            raise SystemExit(1)
