"""mpfix: find and fix multiprocessing code that breaks under spawn and forkserver."""

from __future__ import annotations

import os
import sys

# Neither `typing` nor `pathlib`: `python -m mpfix.verify.startmethod`, which every behaviour run
# starts, imports this package and nothing else of mpfix, and those two are most of the cost.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from typing import Optional, Sequence

    from mpfix.api import MpfixError, check_code, fix_code
    from mpfix.findings import Finding, Safety

# In a source tree the rules live in `codemods/`, beside this package; installing maps that
# folder to `mpfix.codemods` (pyproject's package-dir). Imported from a source tree instead
# of site-packages (`python -m mpfix` in a checkout puts the checkout's `mpfix/` first on
# sys.path, shadowing the installed package after a non-editable `pip install .`), nothing
# maps it: this finder does, for that one name, as the installed layout has it.
_PACKAGE = os.path.dirname(os.path.realpath(__file__))
_SOURCE_CODEMODS = os.path.join(os.path.dirname(_PACKAGE), "codemods")


class _SourceTreeCodemods:
    """A meta path finder for `mpfix.codemods` alone."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]],
                  target: object = None) -> Optional[ModuleSpec]:
        if fullname != f"{__name__}.codemods":
            return None
        import importlib.util

        return importlib.util.spec_from_file_location(
            fullname, os.path.join(_SOURCE_CODEMODS, "__init__.py"),
            submodule_search_locations=[_SOURCE_CODEMODS])


if not os.path.isdir(os.path.join(_PACKAGE, "codemods")) \
        and os.path.isfile(os.path.join(_SOURCE_CODEMODS, "__init__.py")):
    sys.meta_path.append(_SourceTreeCodemods())

__version__ = "0.1.0"
__all__ = ["Finding", "MpfixError", "Safety", "__version__", "check_code", "fix_code"]

# The public API is imported on first use (PEP 562): every `mpfix.x.y` import runs this
# file first, and the start-up hook and the command line's cheap paths must not pay for
# the engine they do not use.
_LAZY = {"MpfixError": "mpfix.api", "check_code": "mpfix.api", "fix_code": "mpfix.api",
         "Finding": "mpfix.findings", "Safety": "mpfix.findings"}


def __getattr__(name: str) -> object:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
