"""The contract between the engine and a rule module.

A rule reports `Violation`s against nodes of the file's module; a violation may
carry a `Fix`: original nodes mapped to their replacements, plus imports to
add. The engine owns everything else (suppression, selection by safety,
merging fixes from several rules, verifying the result), so a rule module holds
only its detection and its fix.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Iterable, Mapping, Optional, Protocol, Union

import libcst as cst

from mpfix.findings import Safety
from mpfix.analysis.scriptsigns import script_sign
from mpfix.analysis.testcode import in_test_folder, is_test_module
from mpfix.rulekit.ruledoc import sections_of, summary_of

if TYPE_CHECKING:
    from mpfix.analysis.module import ModuleAnalysis
    from mpfix.settings import FileSettings

Replacement = Union[cst.CSTNode, cst.RemovalSentinel, cst.FlattenSentinel]
ImportSpec = tuple[str, Optional[str], Optional[str]]  # module, name, alias


@dataclass(frozen=True)
class ModuleAddition:
    """Statements a fix appends to another module beside the file (created if absent),
    with the imports they need there; `binds` are the names they define, which that module
    must not bind already."""

    module: str  # a file name in the file's directory: `analysis_helpers.py`
    statements: tuple[cst.BaseStatement, ...]
    imports: tuple[ImportSpec, ...] = ()
    binds: tuple[str, ...] = ()


class Siblings(Protocol):
    """The modules beside the file that a fix may add to, as the fix run holds them."""

    def bound_names(self, module: str) -> Optional[dict[str, Optional[ImportSpec]]]:
        """The names the module binds at its top level, each with the import that binds it
        (None: a def, class or assignment); {} when it does not exist yet; None when it
        cannot take additions."""


@dataclass
class Fix:
    replacements: Mapping[cst.CSTNode, Replacement]
    safety: Safety = Safety.SAFE
    imports: tuple[ImportSpec, ...] = ()
    additions: tuple[ModuleAddition, ...] = ()


@dataclass
class Violation:
    node: cst.CSTNode
    message: str
    fix: Optional[Fix] = None


@dataclass
class RuleContext:
    analysis: "ModuleAnalysis"
    settings: "FileSettings"
    path: str = "<string>"
    extra: dict = field(default_factory=dict)
    # Set only where the caller writes what a fix adds to other files (`mpfix fix` on files
    # on disk); elsewhere a fix that needs another file is not offered.
    siblings: Optional[Siblings] = None

    @property
    def module(self) -> cst.Module:
        return self.analysis.module

    # What the file is, decided here once for every rule: a notebook, test code, a script,
    # or a library.

    @property
    def is_notebook(self) -> bool:
        """A Jupyter notebook's code cells, analysed as one module (mpfix.engine.notebook).
        A kernel runs them in a `__main__` that has no file: spawn and forkserver children
        never run them again (no main guard is needed), and cannot import anything they
        define."""
        return self.path.endswith(".ipynb")

    @property
    def rerun_by_children(self) -> bool:
        """Whether a spawn or forkserver child runs this file's module-level code again when
        the file is the main module. Not a notebook's cells (the kernel's `__main__` has no
        file), and not a `__main__.py` (`python -m pkg`, a directory, a zip archive):
        multiprocessing's spawn preparation skips main modules named `__main__` or
        `*.__main__`, since they run their main-only code unconditionally."""
        return not (self.is_notebook or Path(self.path).name == "__main__.py")

    @cached_property
    def runs_as_main(self) -> Optional[str]:
        """Why this file runs as `__main__` though it may sit in a package (see
        mpfix.analysis.scriptsigns); None for a file with no such sign, an `__init__.py`, a module
        another file of the run imports (a helper of the app, not the app) or a test
        module."""
        settings = self.settings
        if self.is_notebook:
            return "a notebook runs in its kernel's `__main__`"
        if settings.is_package_init or settings.imported_by_run or is_test_module(self.path):
            return None
        return script_sign(self.analysis)

    @cached_property
    def is_test_code(self) -> bool:
        """A pytest or unittest test module or conftest.py, which the test runner imports
        (never as `__main__`), or another module of a test suite's folder, unless it shows
        that the suite runs it as a script."""
        return is_test_module(self.path) or (in_test_folder(self.path) and self.runs_as_main is None)

    def is_library(self, *, counting_importers: bool = True) -> bool:
        """Whether this file is imported rather than run.

        Test code is (the test runner imports it); a file that shows it runs as
        `__main__` is not, wherever it sits. Otherwise a package's `__init__.py`, a
        package module without a main guard (the runner decides), a configured library
        path, or, with `counting_importers`, a module another file of the run imports,
        which may be a script as well.
        """
        if self.is_notebook:
            return False
        if self.is_test_code:
            return True
        if self.runs_as_main is not None:
            return False
        if self.settings.is_library is not None:
            return self.settings.is_library
        return self.settings.is_package_init or (counting_importers and self.settings.imported_by_run)


class Rule:
    """Base class. Subclasses set the class attributes and implement `check`."""

    code: ClassVar[str]
    name: ClassVar[str]
    fix_safety: ClassVar[str] = "none"  # as documented: safe, unsafe, mixed, none

    def __init__(self, context: RuleContext) -> None:
        self.context = context
        self.analysis = context.analysis

    def check(self) -> Iterable[Violation]:
        raise NotImplementedError

    @classmethod
    def summary(cls) -> str:
        return summary_of(_doc(cls))

    @classmethod
    def documentation(cls) -> str:
        return _doc(cls)

    @classmethod
    def sections(cls) -> dict[str, str]:
        """The docstring split on its `Heading:` lines."""
        return sections_of(_doc(cls))


def _doc(cls: type) -> str:
    return inspect.cleandoc(cls.__doc__ or "")
