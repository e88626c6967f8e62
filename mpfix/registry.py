from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from mpfix.codemods import OPT_IN, REGISTRY

if TYPE_CHECKING:
    from mpfix.rule import Rule

ALL_CODES: tuple[str, ...] = tuple(sorted(REGISTRY))
# What runs when nothing is selected: every rule but the opt-in ones.
DEFAULT_CODES: tuple[str, ...] = tuple(code for code in ALL_CODES if code not in OPT_IN)


class UnknownRule(ValueError):
    pass


def rule_class(code: str) -> "type[Rule]":
    try:
        location = REGISTRY[code]
    except KeyError:
        raise UnknownRule(code) from None
    module_name, class_name = location.rsplit(".", 1)
    module = importlib.import_module(f"mpfix.codemods.{module_name}")
    return getattr(module, class_name)


def rule_classes(codes: "tuple[str, ...] | list[str]") -> "list[type[Rule]]":
    return [rule_class(code) for code in sorted(codes)]


def expand_codes(patterns: "list[str] | tuple[str, ...]") -> frozenset[str]:
    """Turn `MP001`, `MP00` (a prefix), or `ALL` into codes; unknown ones raise."""
    codes: set[str] = set()
    for pattern in patterns:
        pattern = pattern.strip().upper()
        if not pattern:
            continue
        if pattern == "ALL":
            codes.update(ALL_CODES)
            continue
        matching = [code for code in ALL_CODES if code.startswith(pattern)]
        if not matching:
            raise UnknownRule(pattern)
        codes.update(matching)
    return frozenset(codes)
