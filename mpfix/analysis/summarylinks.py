"""Linking the cross-module summaries (mpfix.analysis.summaries) of many modules.

`link` joins the summaries of the run's modules and of the installed modules they import
through their imports (aliases, re-exports, relative imports) to a fixpoint, and names the
functions that start processes or hand callables over as the starter table spells them:
`pkg.cli.main`. Only names an import resolves to a summarised module count: nothing is
guessed from a name alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional

from mpfix.analysis.starters import Kind
from mpfix.analysis.summaries import LOCAL, FunctionSummary, ModuleSummary

_MAX_ALIAS_DEPTH = 8

@dataclass
class Linked:
    """What the run's summaries say, keyed on the qualified names imports resolve to."""

    starters: dict[str, str] = field(default_factory=dict)  # name -> Kind value
    handoffs: dict[str, tuple[str, int]] = field(default_factory=dict)  # name -> (param, pos)
    setters: set[str] = field(default_factory=set)  # functions that set the start method
    # name -> the process families it starts through (for freeze_support, MP001)
    families: dict[str, list[str]] = field(default_factory=dict)
    # name -> the parameters it iterates, (parameter, position or -1)
    iterates: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    # name -> the parameters it puts on / gets from as a queue, (parameter, position or -1)
    puts: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    gets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    # name -> the free names it reads, itself or through the functions of its module it
    # calls: the module globals a parent's change after import would have to reach
    reads: dict[str, list[str]] = field(default_factory=dict)


def absolute_name(target: str, module: str, is_package: bool) -> str:
    """`..x.f` in `a.b.c` -> `a.x.f`; absolute names are returned as they are."""
    if not target.startswith("."):
        return target
    level = len(target) - len(target.lstrip("."))
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[:len(parts) - (level - 1)] if level > 1 else parts
    rest = target[level:]
    return ".".join([*parts, rest] if rest else parts)


class Linker:
    def __init__(self, modules: Mapping[str, tuple[ModuleSummary, bool]]) -> None:
        self.modules = modules  # dotted name -> (summary, is a package's __init__)

    def resolve(self, name: str, module: str, depth: int = 0) -> Optional[tuple[str, str]]:
        """The (module, function) a name spelled in `module` refers to, through aliases."""
        if depth > _MAX_ALIAS_DEPTH:
            return None
        summary, is_package = self.modules[module]
        if name.startswith(LOCAL):
            return (module, name[1:]) if name[1:] in summary.functions else None
        absolute = absolute_name(name, module, is_package)
        parts = absolute.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            owner = ".".join(parts[:cut])
            if owner not in self.modules:
                continue
            rest = parts[cut:]
            target, _ = self.modules[owner]
            if len(rest) == 1 and rest[0] in target.functions:
                return owner, rest[0]
            if rest[0] in target.aliases:
                return self.resolve(".".join([target.aliases[rest[0]], *rest[1:]]),
                                    owner, depth + 1)
            return None
        return None

    def link(self) -> Linked:
        facts = {(m, f): s for m, (summary, _) in self.modules.items()
                 for f, s in summary.functions.items()}
        resolved = {key: [(call, self.resolve(call, key[0])) for call in s.calls]
                    for key, s in facts.items()}
        starts = {key for key, s in facts.items() if s.starts}
        sets = {key for key, s in facts.items() if s.sets_start_method}
        hands = {key: set(s.hands) for key, s in facts.items()}
        families = {key: set(s.families) for key, s in facts.items()}
        iterates = {key: set(s.iterates) for key, s in facts.items()}
        queues = {"puts": {key: set(s.puts) for key, s in facts.items()},
                  "gets": {key: set(s.gets) for key, s in facts.items()}}
        reads = {key: set(s.reads) for key, s in facts.items()}
        changed = True
        while changed:
            changed = False
            for key, summary in facts.items():
                callees = {call: target for call, target in resolved[key] if target is not None}
                if key not in starts and any(t in starts for t in callees.values()):
                    starts.add(key)
                    changed = True
                inherited = set().union(*(families[t] for t in callees.values() if t in starts))
                if not inherited <= families[key]:
                    families[key] |= inherited
                    changed = True
                for chosen in (iterates, *queues.values()):
                    for own in self._passed_to(summary, callees, facts, chosen):
                        if own not in chosen[key]:
                            chosen[key].add(own)
                            changed = True
                for target in callees.values():
                    if target[0] == key[0] and not reads[target] <= reads[key]:
                        reads[key] |= reads[target]  # the same module's globals
                        changed = True
                if key not in sets and any(t in sets for t in callees.values()):
                    sets.add(key)
                    changed = True
                for callee, position, keyword, own in summary.forwards:
                    target = callees.get(callee)
                    if target is None or own in hands[key]:
                        continue
                    params = facts[target].params
                    if any((keyword == p or (position >= 0 and position < len(params)
                                              and params[position] == p))
                           for p in hands[target]):
                        hands[key].add(own)
                        starts.add(key)
                        families[key] |= families[target]
                        changed = True
        linked = self._named(facts, starts, sets, hands)
        for name, key in self._spellings(facts):
            if key in starts and families[key]:
                linked.families[name] = sorted(families[key])
            linked.reads[name] = sorted(reads[key])
            params = facts[key].params
            for found, chosen in ((linked.iterates, iterates), (linked.puts, queues["puts"]),
                                  (linked.gets, queues["gets"])):
                if chosen[key]:
                    found[name] = sorted((p, params.index(p) if p in params else -1)
                                         for p in chosen[key])
        return linked

    @staticmethod
    def _passed_to(summary: FunctionSummary, callees, facts, chosen  # type: ignore[no-untyped-def]
                   ) -> Iterable[str]:
        """The function's own parameters it passes on where a callee's parameter is in
        `chosen` (the callees' iterated parameters, or those they put on or get from)."""
        for callee, position, keyword, own in summary.forwards:
            target = callees.get(callee)
            if target is None:
                continue
            params = facts[target].params
            if any(keyword == p or (0 <= position < len(params) and params[position] == p)
                   for p in chosen[target]):
                yield own

    def _named(self, facts, starts, sets, hands) -> Linked:  # type: ignore[no-untyped-def]
        linked = Linked()
        for name, key in self._spellings(facts):
            if key in starts:
                linked.starters[name] = Kind.STARTS.value
            elif key in sets:
                linked.starters[name] = Kind.CALLS_SET_START_METHOD.value
            if key in sets:
                linked.setters.add(name)
            for parameter in sorted(hands[key]):
                params = facts[key].params
                linked.handoffs[name] = (parameter, params.index(parameter)
                                         if parameter in params else -1)
        return linked

    def _spellings(self, facts  # type: ignore[no-untyped-def]
                   ) -> Iterable[tuple[str, tuple[str, str]]]:
        """`module.function` for every function, and `module.alias` for every re-export."""
        for module, function in facts:
            yield f"{module}.{function}", (module, function)
        for module, (summary, _) in self.modules.items():
            for alias in summary.aliases:
                target = self.resolve(LOCAL + alias, module) if alias in summary.functions \
                    else self.resolve(summary.aliases[alias], module, 1)
                if target is not None and target in facts:
                    yield f"{module}.{alias}", target


def link(modules: Mapping[str, tuple[ModuleSummary, bool]]) -> Linked:
    return Linker(modules).link()
