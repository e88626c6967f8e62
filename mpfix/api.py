"""Checking and fixing source text from Python code, without touching files."""

from __future__ import annotations

from typing import Iterable, Mapping, Optional, TypeVar, Union

from mpfix.findings import Finding
from mpfix.engine.pipeline import process_source
from mpfix.engine.registry import DEFAULT_CODES, expand_codes
from mpfix.settings import FileSettings

Source = TypeVar("Source", str, bytes)


class MpfixError(Exception):
    """The source cannot be processed (it does not parse, or is not Python)."""


def _file_settings(
    select: Optional[Iterable[str]],
    ignore: Iterable[str],
    unsafe_fixes: bool,
    target_start_method: Optional[str],
    extra_starters: Optional[Mapping[str, str]],
    is_library: Optional[bool],
    path: str,
) -> FileSettings:
    codes = expand_codes(list(select)) if select is not None else frozenset(DEFAULT_CODES)
    codes -= expand_codes(list(ignore))
    return FileSettings(
        rules=tuple(sorted(codes)),
        unsafe_fixes=unsafe_fixes,
        target_start_method=target_start_method,
        extra_starters=tuple(sorted((extra_starters or {}).items())),
        is_library=is_library,
        is_package_init=path.endswith("__init__.py"),
    )


def _as_bytes(source: Union[str, bytes]) -> bytes:
    return source.encode("utf-8") if isinstance(source, str) else source


def check_code(
    source: Union[str, bytes],
    *,
    select: Optional[Iterable[str]] = None,
    ignore: Iterable[str] = (),
    target_start_method: Optional[str] = None,
    extra_starters: Optional[Mapping[str, str]] = None,
    is_library: Optional[bool] = None,
    path: str = "<string>",
) -> list[Finding]:
    """Findings for `source`, in line order. Raises MpfixError if it cannot be read."""
    settings = _file_settings(select, ignore, False, target_start_method,
                              extra_starters, is_library, path)
    result = process_source(_as_bytes(source), settings, path=path)
    if result.error:
        raise MpfixError(result.error)
    return result.findings


def fix_code(
    source: Source,
    *,
    select: Optional[Iterable[str]] = None,
    ignore: Iterable[str] = (),
    unsafe_fixes: bool = False,
    target_start_method: Optional[str] = None,
    extra_starters: Optional[Mapping[str, str]] = None,
    is_library: Optional[bool] = None,
    path: str = "<string>",
) -> Source:
    """`source` with every applicable fix applied; the same type as given."""
    settings = _file_settings(select, ignore, unsafe_fixes, target_start_method,
                              extra_starters, is_library, path)
    data = _as_bytes(source)
    result = process_source(data, settings, path=path, fix=True)
    if result.error:
        raise MpfixError(result.error)
    new = result.new_source if result.new_source is not None else data
    return new.decode("utf-8") if isinstance(source, str) else new  # type: ignore[return-value]
