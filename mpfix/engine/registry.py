from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from mpfix.codemods import OPT_IN, REGISTRY

if TYPE_CHECKING:
    from mpfix.rulekit.rule import Rule

ALL_CODES: tuple[str, ...] = tuple(sorted(REGISTRY))
# What runs when nothing is selected: every rule but the opt-in ones.
DEFAULT_CODES: tuple[str, ...] = tuple(code for code in ALL_CODES if code not in OPT_IN)


# A rule's name (`main-guard`) is its module's name with dashes: read from the
# registry's strings so that resolving a name never imports libcst (a test holds every
# rule class's `name` to it).
CODES_BY_NAME: dict[str, str] = {
    location.split(".")[0].replace("_", "-"): code for code, location in REGISTRY.items()
}


class UnknownRule(ValueError):
    pass


def code_for(name_or_code: str) -> str:
    """`main-guard` -> `MP001`; anything else comes back upper-cased."""
    text = name_or_code.strip()
    return CODES_BY_NAME.get(text.lower(), text.upper())


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
    """Turn `MP001`, `main-guard` (a name), `MP00` (a prefix), or `ALL` into codes;
    unknown ones raise."""
    codes: set[str] = set()
    for given in patterns:
        pattern = code_for(given)
        if not pattern:
            continue
        if pattern == "ALL":
            codes.update(ALL_CODES)
            continue
        matching = [code for code in ALL_CODES if code.startswith(pattern)]
        if not matching:
            raise UnknownRule(given.strip())
        codes.update(matching)
    return frozenset(codes)
