"""`[tool.mpfix]` in pyproject.toml, and the settings each file is checked with.

Every file gets the configuration of the nearest `pyproject.toml` with a
`[tool.mpfix]` table in its own directory or above (nearest wins, no merging),
as ruff does; a monorepo can therefore give each project its own settings. A
file with no such table above it uses the defaults. `--config PATH` makes one
file the configuration of every path, `--isolated` ignores them all.
Command-line flags override the configuration:

* `--select` replaces `select` and drops the configured `extend-select` and `ignore` (you said
  exactly what to run); `--ignore` adds to `ignore`;
* `--exclude` replaces `exclude`; `--extend-exclude` adds to `extend-exclude`;
* `--unsafe-fixes/--no-unsafe-fixes`, `--target-start-method` and
  `--report-unused-noqa` replace their keys.

Glob patterns (`exclude`, `extend-exclude`, `per-file-ignores`,
`library-paths`) are matched against the path relative to the directory of the
pyproject.toml that holds them (patterns given on the command line: relative to
the working directory), and against each of its components, so `legacy`
excludes every `legacy` folder. `*` also matches `/`. Exclusion applies to
files named on the command line too, so pre-commit, which names every file,
honours it.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10
    import tomli as tomllib

from mpfix.engine.cache import CACHE_DIR, file_stamp, project_root
from mpfix.engine.registry import DEFAULT_CODES, UnknownRule, expand_codes
from mpfix.settings import START_METHODS, FileSettings, Settings, notebook_helpers_module
from mpfix.analysis.starters import Kind

KNOWN_KEYS = (
    "select", "extend-select", "ignore", "exclude", "extend-exclude", "per-file-ignores",
    "unsafe-fixes", "extra-starters", "target-start-method", "library-paths", "respect-gitignore",
    "report-unused-noqa", "frozen-executables", "cache-dir", "notebook-helpers",
)


class ConfigError(Exception):
    pass


@dataclass
class Config:
    path: Optional[Path] = None
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.path.parent if self.path else Path.cwd()


def _nearest(directory: Path, memo: dict[Path, Optional[Path]]) -> Optional[Path]:
    walked = []
    found: Optional[Path] = None
    for candidate in [directory, *directory.parents]:
        if candidate in memo:
            found = memo[candidate]
            break
        walked.append(candidate)
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file() and _has_section(pyproject):
            found = pyproject
            break
    for candidate in walked:
        memo[candidate] = found
    return found


def _has_section(pyproject: Path) -> bool:
    try:
        return "mpfix" in _load_toml(pyproject).get("tool", {})
    except ConfigError:
        return True  # report the broken file rather than skip it


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: cannot read config: {error}") from None


def load_config(path: Optional[Path]) -> Config:
    if path is None:
        return Config()
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    table = _load_toml(path).get("tool", {}).get("mpfix", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.mpfix] must be a table")
    unknown = sorted(set(table) - set(KNOWN_KEYS))
    if unknown:
        close = difflib.get_close_matches(unknown[0], KNOWN_KEYS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{path}: unknown key in [tool.mpfix]: {unknown[0]!r}{hint}")
    return Config(path=path, values=table)


def _codes(config_path: Optional[Path], key: str, value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{config_path}: {key} must be a list of rule codes")
    try:
        return expand_codes(value)
    except UnknownRule as error:
        raise ConfigError(f"{config_path}: {key}: unknown rule code {error}") from None


def settings_from(config: Config) -> Settings:
    values, where = config.values, config.path
    settings = Settings()
    if "select" in values:
        settings.select = _codes(where, "select", values["select"])
    if "extend-select" in values:
        settings.extend_select = _codes(where, "extend-select", values["extend-select"])
    if "ignore" in values:
        settings.ignore = _codes(where, "ignore", values["ignore"])
    for key in ("exclude", "extend-exclude", "library-paths"):
        if key in values:
            value = values[key]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where}: {key} must be a list of glob patterns")
            setattr(settings, key.replace("-", "_"), tuple(value))
    if "per-file-ignores" in values:
        table = values["per-file-ignores"]
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: per-file-ignores must be a table of glob = [codes]")
        settings.per_file_ignores = {
            glob: _codes(where, f"per-file-ignores.{glob}", codes) for glob, codes in table.items()
        }
    for key in ("unsafe-fixes", "respect-gitignore", "report-unused-noqa", "frozen-executables"):
        if key in values:
            if not isinstance(values[key], bool):
                raise ConfigError(f"{where}: {key} must be true or false")
            setattr(settings, key.replace("-", "_"), values[key])
    if "target-start-method" in values:
        method = values["target-start-method"]
        if method not in START_METHODS:
            raise ConfigError(f"{where}: target-start-method must be one of {', '.join(START_METHODS)}")
        settings.target_start_method = method
    if "extra-starters" in values:
        settings.extra_starters = _starters(where, values["extra-starters"])
    if "cache-dir" in values:
        settings.cache_dir = _cache_dir(config, values["cache-dir"])
    if "notebook-helpers" in values:
        settings.notebook_helpers = _notebook_helpers(where, values["notebook-helpers"])
    return settings


def _notebook_helpers(where: Optional[Path], value: Any) -> str:
    """A module name, where `{notebook}` stands for the notebook's name."""
    example = value.replace("{notebook}", "analysis") if isinstance(value, str) else ""
    if not example.isidentifier() or "{" in example:
        raise ConfigError(f"{where}: notebook-helpers must be a module name; `{{notebook}}` in it "
                          f"stands for the notebook's name (default \"{{notebook}}_helpers\")")
    return value


def _cache_dir(config: Config, value: Any) -> str:
    """A path relative to the pyproject.toml that names it; `~` is the home directory."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{config.path}: cache-dir must be a path (a non-empty string)")
    return str(config.root / Path(value).expanduser())


def _starters(where: Optional[Path], table: Any) -> dict[str, str]:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: extra-starters must be a table of \"qualified.name\" = \"kind\"")
    kinds = [k.value for k in Kind]
    for name, kind in table.items():
        if kind not in kinds:
            raise ConfigError(f"{where}: extra-starters.{name}: unknown kind {kind!r} "
                              f"(one of: {', '.join(kinds)})")
    return dict(table)


def matches(path: Path, root: Path, patterns: Iterable[str]) -> bool:
    """Whether `path` (or a folder it is in) matches a glob, relative to `root`."""
    patterns = list(patterns)
    if not patterns:  # the common case, asked for every file of a run
        return False
    absolute = path.absolute()
    try:
        parts = absolute.relative_to(root.absolute()).parts
    except ValueError:
        parts = absolute.parts[1:]
    prefixes = ["/".join(parts[:i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        while pattern.startswith("./"):
            pattern = pattern[2:]
        for prefix, part in zip(prefixes, parts):
            if fnmatch.fnmatchcase(prefix, pattern) or fnmatch.fnmatchcase(part, pattern):
                return True
    return False


@dataclass
class Overrides:
    """What the command line says; None (or empty) leaves the configuration's value."""

    select: Optional[frozenset[str]] = None
    ignore: frozenset[str] = frozenset()
    exclude: Optional[tuple[str, ...]] = None
    extend_exclude: tuple[str, ...] = ()
    unsafe_fixes: Optional[bool] = None
    target_start_method: Optional[str] = None
    report_unused_noqa: Optional[bool] = None
    edits: bool = False

    def apply(self, settings: Settings) -> Settings:
        settings = replace(settings)
        if self.select is not None:
            settings.select = self.select
            settings.extend_select = frozenset()
            settings.ignore = frozenset()
        settings.ignore = settings.ignore | self.ignore
        if self.unsafe_fixes is not None:
            settings.unsafe_fixes = self.unsafe_fixes
        if self.target_start_method is not None:
            settings.target_start_method = self.target_start_method
        if self.report_unused_noqa is not None:
            settings.report_unused_noqa = self.report_unused_noqa
        return settings


@dataclass
class _Scope:
    """One configuration file (or the defaults) with the overrides applied."""

    config: Config
    settings: Settings
    excludes: tuple[tuple[Path, tuple[str, ...]], ...]


class Resolver:
    """Which configuration governs each path, and the settings it gives the file."""

    def __init__(self, overrides: Overrides, *, config_path: Optional[str] = None,
                 isolated: bool = False) -> None:
        self.overrides = overrides
        self._fixed: Optional[_Scope] = None
        self._scopes: dict[Optional[Path], _Scope] = {}
        self._memo: dict[Path, Optional[Path]] = {}
        self._by_directory: dict[str, _Scope] = {}
        if isolated:
            self._fixed = self._scope(Config())
        elif config_path is not None:
            self._fixed = self._scope(load_config(Path(config_path)))

    def _scope(self, config: Config) -> _Scope:
        settings = self.overrides.apply(settings_from(config))
        cwd = Path.cwd()
        exclude = self.overrides.exclude
        excludes = (
            (cwd, exclude) if exclude is not None else (config.root, settings.exclude),
            (config.root, settings.extend_exclude),
            (cwd, self.overrides.extend_exclude),
        )
        return _Scope(config, settings, tuple((root, tuple(p)) for root, p in excludes if p))

    def scope_for(self, path: Path) -> _Scope:
        # Asked for every file of a run, twice: once per directory is enough (os.path is
        # several times cheaper than pathlib here).
        directory = os.path.dirname(os.path.abspath(path))
        scope = self._by_directory.get(directory)
        if scope is None:
            scope = self._by_directory[directory] = self._scope_in(Path(directory))
        return scope

    def _scope_in(self, directory: Path) -> _Scope:
        if self._fixed is not None:
            return self._fixed
        found = _nearest(directory, self._memo)
        if found not in self._scopes:
            self._scopes[found] = self._scope(load_config(found))
        return self._scopes[found]

    def config_files(self) -> list[Path]:
        """The configuration files used so far."""
        scopes = [self._fixed] if self._fixed else list(self._scopes.values())
        return [s.config.path for s in scopes if s is not None and s.config.path is not None]

    def settings_for(self, path: Path) -> Settings:
        return self.scope_for(path).settings

    def cache_directory(self) -> Path:
        """The configured `cache-dir` of the project root's configuration, else
        `.mpfix_cache` at the project root (see mpfix.engine.cache)."""
        root = project_root(Path.cwd())
        configured = self._scope_in(root).settings.cache_dir
        return Path(configured) if configured else root / CACHE_DIR

    def excluded(self, path: Path) -> bool:
        return any(matches(path, root, patterns) for root, patterns in self.scope_for(path).excludes)

    def respect_gitignore(self, paths: Iterable[str]) -> bool:
        """Whether walking the given paths honours .gitignore (the first path's config decides)."""
        start = Path(next(iter(paths), ".")).absolute()
        scope = self._scope_in(start) if start.is_dir() else self.scope_for(start)
        return scope.settings.respect_gitignore

    def file_settings(self, path: Path) -> FileSettings:
        scope = self.scope_for(path)
        settings, root = scope.settings, scope.config.root
        enabled = (settings.select if settings.select is not None else frozenset(DEFAULT_CODES)) \
            | settings.extend_select
        codes = set(enabled - settings.ignore)
        for pattern, ignored in settings.per_file_ignores.items():
            if matches(path, root, [pattern]):
                codes -= ignored
        library = True if matches(path, root, settings.library_paths) else None
        helpers = notebook_helpers_module(settings.notebook_helpers, str(path)) \
            if path.suffix == ".ipynb" else settings.notebook_helpers
        return FileSettings(
            rules=tuple(sorted(codes)), unsafe_fixes=settings.unsafe_fixes,
            target_start_method=settings.target_start_method,
            extra_starters=tuple(sorted(settings.extra_starters.items())),
            is_library=library, is_package_init=path.name == "__init__.py",
            report_unused_noqa=settings.report_unused_noqa, edits=self.overrides.edits,
            frozen_executables=settings.frozen_executables,
            notebook_helpers=helpers,
            helpers_stamp=_helpers_stamp(path.parent / f"{helpers}.py")
            if path.suffix == ".ipynb" else "",
        )


def _helpers_stamp(path: Path) -> str:
    stamp = file_stamp(str(path))
    return ":".join(map(str, stamp)) if stamp is not None else ""
