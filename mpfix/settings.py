"""Effective settings for a run, and the slice of them one file needs.

Both are plain, picklable data: they travel to worker processes started with
spawn, and they are part of the cache key.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Mapping, Optional

START_METHODS = ("fork", "spawn", "forkserver")


@dataclass(frozen=True)
class FileSettings:
    """What the engine needs to process one file."""

    rules: tuple[str, ...]
    unsafe_fixes: bool = False
    target_start_method: Optional[str] = None
    extra_starters: tuple[tuple[str, str], ...] = ()
    # Functions of other modules that hand a parameter, a callable, to another process:
    # (qualified name, parameter, position or -1), from the run's summaries.
    handoffs: tuple[tuple[str, str, int], ...] = ()
    # More of what the summaries say of those functions: (qualified name, "family", the
    # process family it starts through) and (name, "iterates", "parameter:position").
    summary_facts: tuple[tuple[str, str, str], ...] = ()
    is_library: Optional[bool] = None  # None: decide from the file alone
    is_package_init: bool = False
    imported_by_run: bool = False  # another file of this run imports it
    report_unused_noqa: bool = False  # report `# noqa` codes that suppress nothing (MP100)
    edits: bool = False  # attach each fix's text edits to its finding (json, sarif)
    frozen_executables: bool = False  # MP001: a guard without freeze_support() is a finding
    # MP007: the module beside a notebook for its process code; for a notebook of a run the
    # name itself (so it is part of the cache key), else the setting's `{notebook}` template.
    notebook_helpers: str = "{notebook}_helpers"
    # For a notebook of a run: that module's size and times, or "" where there is none. Whether
    # MP007's fix can move code there depends on it, so it is part of the cache key.
    helpers_stamp: str = ""

    def starters(self) -> Mapping[str, str]:
        return dict(self.extra_starters)

    def fingerprint(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def notebook_helpers_module(template: str, path: str) -> str:
    """The notebook-helpers setting for one notebook: `analysis.ipynb` -> `analysis_helpers`."""
    stem = re.sub(r"\W", "_", os.path.basename(path).rsplit(".", 1)[0]) or "notebook"
    return template.replace("{notebook}", f"nb_{stem}" if stem[0].isdigit() else stem)


@dataclass
class Settings:
    select: Optional[frozenset[str]] = None  # None: every rule that is not opt-in
    extend_select: frozenset[str] = frozenset()  # added to `select`: opt-in rules
    ignore: frozenset[str] = frozenset()
    exclude: tuple[str, ...] = ()
    extend_exclude: tuple[str, ...] = ()
    per_file_ignores: Mapping[str, frozenset[str]] = field(default_factory=dict)
    unsafe_fixes: bool = False
    target_start_method: Optional[str] = None
    extra_starters: Mapping[str, str] = field(default_factory=dict)
    library_paths: tuple[str, ...] = ()
    respect_gitignore: bool = True
    report_unused_noqa: bool = False
    frozen_executables: bool = False
    notebook_helpers: str = "{notebook}_helpers"
    # For a notebook of a run: that module's size and times, or "" where there is none. Whether
    # MP007's fix can move code there depends on it, so it is part of the cache key.
    helpers_stamp: str = ""
    cache_dir: Optional[str] = None  # absolute; None: .mpfix_cache at the project root
