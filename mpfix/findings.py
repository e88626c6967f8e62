"""Plain data shared by the engine, the reporters and the worker processes.

Nothing here imports libcst: these objects cross process boundaries and are
built before the engine knows whether a file needs parsing at all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Optional


class Safety(str, Enum):
    SAFE = "safe"
    UNSAFE = "unsafe"
    NONE = "none"  # detection only


@dataclass(frozen=True, order=True)
class Edit:
    """Replace the text from (line, col) up to (end_line, end_col) with `content`.

    Lines and columns are 1-based, columns count characters, and the end is
    exclusive (the position just after the last replaced character).
    """

    line: int
    col: int
    end_line: int
    end_col: int
    content: str


@dataclass(frozen=True, order=True)
class Finding:
    line: int
    col: int
    code: str
    message: str
    end_line: int = 0
    end_col: int = 0
    fix_safety: Safety = Safety.NONE
    path: str = ""
    # The fix as text edits of the original file; computed only when asked for.
    edits: Optional[tuple[Edit, ...]] = field(default=None, compare=False)
    # In a notebook: the code cell (1-based among all its cells); line and columns count
    # from that cell's first line, and `edits` is None.
    cell: Optional[int] = field(default=None, compare=False)

    @property
    def location(self) -> str:
        """`path:line:col`, or in a notebook `path:cell N:line:col` (ruff's notation)."""
        cell = f"cell {self.cell}:" if self.cell is not None else ""
        return f"{self.path}:{cell}{self.line}:{self.col}"

    @property
    def fixable(self) -> bool:
        return self.fix_safety is not Safety.NONE

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["fix_safety"] = self.fix_safety.value
        data["fixable"] = self.fixable
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Finding":
        """The inverse of `to_dict` (extra keys such as `fixable` are ignored)."""
        known = {k: v for k, v in data.items() if k in _FINDING_FIELDS}
        known["fix_safety"] = Safety(known.get("fix_safety", "none"))
        if known.get("edits") is not None:
            known["edits"] = tuple(Edit(**edit) for edit in known["edits"])
        return cls(**known)


_FINDING_FIELDS = frozenset(Finding.__dataclass_fields__)


@dataclass(frozen=True)
class CompanionFile:
    """Another file a fix of this one writes: the module beside a notebook that its
    definitions move to. `original` is None when the fix creates it."""

    path: str
    original: Optional[bytes]
    new: bytes


@dataclass
class FileResult:
    """What processing one file produced; `new_source` is None when unchanged. The
    companions are written before the file, so it never imports what is not there."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    new_source: Optional[bytes] = None
    error: Optional[str] = None
    parsed: bool = False
    fixed: dict[str, int] = field(default_factory=dict)
    companions: list[CompanionFile] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.new_source is not None
