"""mpfix's packages import downward only: cli -> engine -> codemods -> rulekit -> analysis,
and verify stands alone (it runs in every process of `mpfix run` and must stay light)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"analysis": 1, "rulekit": 2, "codemods": 3, "engine": 4, "cli": 5}
# The libcst-codemod adapter is run by libcst's tool, above everything, and runs the engine
# on the one file it is given: its import of the engine sits in the method that needs it.
ALLOWED = {("mpfix/rulekit/codemod.py", "mpfix.engine.fixer")}


def layer_of(path: Path) -> str:
    relative = path.relative_to(ROOT)
    return "codemods" if relative.parts[0] == "codemods" else relative.parts[1]


def mpfix_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return [name for name in found if name.startswith("mpfix.")]


def test_packages_import_downward_only() -> None:
    files = [*ROOT.joinpath("mpfix").glob("*/*.py"), *ROOT.joinpath("codemods").glob("*.py")]
    assert len(files) > 50
    upward = []
    for path in files:
        layer = layer_of(path)
        for name in mpfix_imports(path):
            target = name.split(".")[1]
            if (path.relative_to(ROOT).as_posix(), name) in ALLOWED:
                continue
            if layer == "verify" and target in {*LAYERS, "verify"} - {"verify"}:
                upward.append(f"{path.relative_to(ROOT)}: {name}")
            elif layer in LAYERS and target in LAYERS and LAYERS[target] > LAYERS[layer]:
                upward.append(f"{path.relative_to(ROOT)}: {name}")
    assert not upward, "imports that go up a layer:\n" + "\n".join(upward)
