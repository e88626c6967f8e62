"""Fixture folders as test cases: fixtures/<rule-name>/<case>/{before,after}.py,
run.json, findings.txt, options.json (see CONTRIBUTING in the README). A notebook
case has before.ipynb (and after.ipynb) instead; its findings.txt lines read
`cell N:LINE:COL CODE`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from mpfix.engine.registry import ALL_CODES, rule_class

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
# Modules that stand in for libraries behaviour runs must not need (torch).
STAND_INS = ROOT / "tests" / "stand_ins"
CODES_BY_NAME = {rule_class(code).name: code for code in ALL_CODES}


@dataclass
class Case:
    rule_name: str
    name: str
    folder: Path
    before: bytes
    after: Optional[bytes]
    options: dict[str, Any] = field(default_factory=dict)
    run: Optional[dict[str, Any]] = None
    findings: Optional[list[str]] = None
    notebook: bool = False  # before.ipynb, run the way a Jupyter kernel runs it

    @property
    def program_name(self) -> str:
        return str(self.options.get("path", "notebook.ipynb")) if self.notebook else "main.py"

    @property
    def id(self) -> str:
        return f"{self.rule_name}/{self.name}"

    @property
    def code(self) -> str:
        return CODES_BY_NAME[self.rule_name]

    def fix_options(self) -> dict[str, Any]:
        options = {"select": [self.code], "unsafe_fixes": True}
        options.update(self.options)
        return options

    def companions(self) -> dict[str, bytes]:
        """The files beside the program that the fix writes, as it must leave them:
        `after.NAME` in the case folder is NAME after the fix (a notebook's helpers module)."""
        return {p.name[len("after."):]: p.read_bytes() for p in sorted(self.folder.iterdir())
                if p.name.startswith("after.") and p.name not in ("after.py", "after.ipynb")}

    def check_options(self) -> dict[str, Any]:
        return {k: v for k, v in self.fix_options().items() if k != "unsafe_fixes"}

    def support_files(self) -> list[Path]:
        """The modules copied beside the program: the case's own, and the shared stand-ins
        its run.json names (`"stand_ins": ["torch"]`: tests/stand_ins/torch.py)."""
        own = [p for p in self.folder.iterdir()
               if p.suffix == ".py" and not p.name.startswith(("before.", "after."))]
        shared = [STAND_INS / f"{name}.py" for name in (self.run or {}).get("stand_ins", [])]
        return sorted(own) + shared


def program_code(case: Case, data: bytes) -> bytes:
    """The Python a case's program holds: a notebook's code cells, joined as mpfix sees them."""
    if not case.notebook:
        return data
    from mpfix.engine.notebook import notebook_module

    module = notebook_module(data)
    assert module is not None
    return module.code.encode("utf-8")


def _read_json(path: Path) -> Optional[dict[str, Any]]:
    return json.loads(path.read_text()) if path.exists() else None


def load_cases() -> list[Case]:
    cases = []
    for rule_dir in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        if rule_dir.name not in CODES_BY_NAME:
            raise ValueError(f"fixtures/{rule_dir.name}: no rule has that name")
        for folder in sorted(p for p in rule_dir.iterdir() if p.is_dir()):
            notebook = (folder / "before.ipynb").exists()
            suffix = ".ipynb" if notebook else ".py"
            after = folder / f"after{suffix}"
            findings = folder / "findings.txt"
            cases.append(Case(
                rule_name=rule_dir.name,
                name=folder.name,
                folder=folder,
                notebook=notebook,
                before=(folder / f"before{suffix}").read_bytes(),
                after=after.read_bytes() if after.exists() else None,
                # A notebook case is checked under a notebook's name: that makes it one.
                options={**({"path": "notebook.ipynb"} if notebook else {}),
                         **(_read_json(folder / "options.json") or {})},
                run=_read_json(folder / "run.json"),
                findings=findings.read_text().split() and
                [line.strip() for line in findings.read_text().splitlines() if line.strip()]
                if findings.exists() else None,
            ))
    return cases
