"""`[tool.mpfix]` in pyproject.toml: found from the paths upward, nearest wins."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10
    import tomli as tomllib

from mpfix.registry import UnknownRule, expand_codes
from mpfix.settings import START_METHODS, Settings
from mpfix.starters import Kind

KNOWN_KEYS = {
    "select", "ignore", "exclude", "extend-exclude", "per-file-ignores", "unsafe-fixes",
    "extra-starters", "target-start-method", "library-paths", "respect-gitignore",
}


class ConfigError(Exception):
    pass


@dataclass
class Config:
    path: Optional[Path] = None
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.path.parent if self.path else Path.cwd()


def find_config(paths: Iterable[str]) -> Optional[Path]:
    starts = [Path(p).absolute() for p in paths] or [Path.cwd()]
    for start in starts:
        directory = start if start.is_dir() else start.parent
        for candidate in [directory, *directory.parents]:
            pyproject = candidate / "pyproject.toml"
            if pyproject.is_file() and _has_section(pyproject):
                return pyproject
    return None


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
    table = _load_toml(path).get("tool", {}).get("mpfix", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.mpfix] must be a table")
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key in [tool.mpfix]: {unknown[0]}")
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
    for key in ("unsafe-fixes", "respect-gitignore"):
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
    return settings


def _starters(where: Optional[Path], table: Any) -> dict[str, str]:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: extra-starters must be a table of qualified.name = \"kind\"")
    kinds = {k.value for k in Kind}
    for name, kind in table.items():
        if kind not in kinds:
            raise ConfigError(f"{where}: extra-starters.{name}: unknown kind {kind!r} "
                              f"(one of: process, pool, executor, manager, queue, lock, ...)")
    return dict(table)
