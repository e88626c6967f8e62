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
class Finding:
    line: int
    col: int
    code: str
    message: str
    end_line: int = 0
    end_col: int = 0
    fix_safety: Safety = Safety.NONE
    path: str = ""

    @property
    def fixable(self) -> bool:
        return self.fix_safety is not Safety.NONE

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["fix_safety"] = self.fix_safety.value
        data["fixable"] = self.fixable
        return data


@dataclass
class FileResult:
    """What processing one file produced; `new_source` is None when unchanged."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    new_source: Optional[bytes] = None
    error: Optional[str] = None
    parsed: bool = False
    fixed: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.new_source is not None
