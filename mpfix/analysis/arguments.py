"""What a call passes, and what a callable handed to another process is called with there.

Rules ask "which objects does this process receive?" (the queue a target puts on, the
lock it takes, the lambda that must pickle). The answer is read from the code the way
Python builds the call: `functools.partial` arguments first, then `args=`/`initargs=`
and `kwargs=`, with starred parts expanded where the module shows them:

- `args=(*r, q)` and `args=(q,) + r`, where `r` is a tuple or list literal bound once,
  or the loop variable over a literal list of equally long tuples;
- `args=params`, a tuple or list literal bound once (a list only if nothing changes it);
- `partial(f, q, **kw)` and `kwargs=kw`, with `kw` a dict display or `dict(...)` bound once;
- a helper's forwarded parameters, `def start(fn, *args, **kw): Process(target=fn,
  args=args, kwargs=kw)`, bound from each call of the helper this module shows.

What stays hidden is kept as such: one value not shown (`Unseen.ONE`), or any number of
them (`Unseen.SOME`). A parameter is matched from the left up to the first hidden run,
and from the right after it when the callable's signature pins how many positional
arguments a call must pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Optional, Union

import libcst as cst

if TYPE_CHECKING:
    from mpfix.analysis.module import CallableUse, ModuleAnalysis

# Starred values are followed through this many bindings, at most.
MAX_DEPTH = 8


def keyword(call: cst.Call, name: str) -> Optional[cst.Arg]:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def positional(call: cst.Call, index: int) -> Optional[cst.Arg]:
    plain = [a for a in call.args if a.keyword is None and not a.star]
    if any(a.star for a in call.args if a.keyword is None):
        stars_before = [a for a in call.args[: index + 1] if a.star]
        if stars_before:
            return None
    return plain[index] if index < len(plain) else None


def argument(call: cst.Call, name: str, index: int) -> Optional[cst.Arg]:
    return keyword(call, name) or positional(call, index)


def method_name(call: cst.Call) -> Optional[str]:
    return call.func.attr.value if isinstance(call.func, cst.Attribute) else None


class Unseen(Enum):
    ONE = "one"    # a value is passed here, but the module does not show which
    SOME = "some"  # any number of values whose count and identity the module does not show


Passed = Union[cst.BaseExpression, Unseen]


@dataclass
class Arguments:
    """The positional and keyword values of one call, as far as the module shows them."""

    positional: list[Passed] = field(default_factory=list)
    keywords: dict[str, cst.BaseExpression] = field(default_factory=dict)
    more_keywords: bool = False  # an unresolved `**mapping` may add keywords

    def extend(self, other: "Arguments") -> None:
        """`other`'s values passed after these (a later keyword wins, as in a call of a partial)."""
        self.positional.extend(other.positional)
        self.keywords.update(other.keywords)
        self.more_keywords = self.more_keywords or other.more_keywords

    def values(self) -> list[cst.BaseExpression]:
        """Every value the module shows being passed, positional first."""
        shown = [v for v in self.positional if not isinstance(v, Unseen)]
        return [*shown, *self.keywords.values()]

    def for_parameter(self, params: cst.Parameters, name: str) -> Optional[cst.BaseExpression]:
        """The value passed for the parameter `name` of a callable with `params`."""
        if name in self.keywords:
            return self.keywords[name]
        names = [p.name.value for p in (*params.posonly_params, *params.params)]
        if name not in names:
            return None
        index = names.index(name)
        hidden = [i for i, v in enumerate(self.positional) if v is Unseen.SOME]
        if not hidden or index < hidden[0]:
            value = self.positional[index] if index < len(self.positional) else None
        elif self._count_pinned(params, names):
            tail = self.positional[hidden[-1] + 1:]
            place = index - (len(names) - len(tail))
            value = tail[place] if place >= 0 else None
        else:
            value = None
        return None if isinstance(value, Unseen) else value

    def _count_pinned(self, params: cst.Parameters, names: list[str]) -> bool:
        """Whether every valid call passes exactly one positional value per positional
        parameter: no `*args`, no defaults, none of them passed by keyword."""
        return not isinstance(params.star_arg, cst.Param) and not self.more_keywords \
            and all(p.default is None for p in (*params.posonly_params, *params.params)) \
            and not set(names) & set(self.keywords)


@dataclass
class SiteBinding:
    """What one call of a function binds to its parameters."""

    values: dict[str, cst.BaseExpression] = field(default_factory=dict)  # what a parameter gets
    args: dict[str, cst.Arg] = field(default_factory=dict)  # the argument giving it, if one does
    unseen: set[str] = field(default_factory=set)  # parameters given values the call hides
    star: list[Passed] = field(default_factory=list)  # what `*args` receives
    double_star: Arguments = field(default_factory=Arguments)  # what `**kwargs` receives


def _parameters_of(params: cst.Parameters) -> list[cst.Param]:
    return [*params.posonly_params, *params.params]


class ArgumentReader:
    """Reads `Arguments` out of one module; built once per ModuleAnalysis."""

    def __init__(self, analysis: "ModuleAnalysis") -> None:
        self.analysis = analysis
        self._bindings: dict[tuple[int, int], SiteBinding] = {}

    # -- what a process receives ---------------------------------------------------------

    def of_use(self, use: "CallableUse") -> Arguments:
        """What the callable `use` hands over is called with in the other process."""
        # Partial layers around a callable that came from a helper's call sit there.
        callable_site = None if use.callable_at_site else use.site
        passed = Arguments()
        layers: list[cst.Call] = []
        expr = use.callable_arg.value
        while self.analysis.is_partial(expr):
            layers.append(expr)  # type: ignore[arg-type]
            expr = expr.args[0].value  # type: ignore[attr-defined]
        for layer in reversed(layers):  # the innermost partial's arguments come first
            passed.extend(self.of_call_arguments(layer.args[1:], callable_site))
        if use.args_arg is not None:
            passed.positional.extend(self.sequence(use.args_arg.value, use.site))
        elif use.role == "task" and self._takes_items(use.call):
            passed.positional.append(Unseen.SOME)  # the items of map() and the like
        elif use.role == "task" and method_name(use.call) == "submit":
            passed.extend(self.of_call_arguments(use.call.args[1:], use.site))
        kwargs = self._kwargs_argument(use)
        if kwargs is not None:
            passed.extend(self.mapping(kwargs.value, use.site))
        return passed

    def _takes_items(self, call: cst.Call) -> bool:
        method = method_name(call)
        return method is not None and not method.startswith("apply") and method != "submit"

    def _kwargs_argument(self, use: "CallableUse") -> Optional[cst.Arg]:
        if use.role == "target":
            return argument(use.call, "kwargs", 4)
        if use.role == "task" and (method_name(use.call) or "").startswith("apply"):
            return argument(use.call, "kwds", 2)
        return None

    def of_call_arguments(self, args: "tuple[cst.Arg, ...] | list[cst.Arg]",
                          site: Optional[cst.Call]) -> Arguments:
        passed = Arguments()
        for arg in args:
            if arg.keyword is not None:
                passed.keywords[arg.keyword.value] = self.value(arg.value, site)  # type: ignore[assignment]
            elif arg.star == "*":
                passed.positional.extend(self.sequence(arg.value, site))
            elif arg.star == "**":
                passed.extend(self.mapping(arg.value, site))
            else:
                passed.positional.append(self.value(arg.value, site))
        passed.keywords = {k: v for k, v in passed.keywords.items() if not isinstance(v, Unseen)}
        return passed

    # -- values, sequences and mappings --------------------------------------------------

    def value(self, expr: cst.BaseExpression, site: Optional[cst.Call]) -> Passed:
        """`expr`, or what `site` passes for it when it is a parameter of the function `site` calls."""
        found = self._parameter(expr, site)
        if found is None:
            return expr
        binding, param, kind = found
        name = param.name.value
        if kind == "plain" and name in binding.values:
            return binding.values[name]
        if kind != "plain" or name in binding.unseen or param.default is None:
            return Unseen.ONE
        return param.default

    def sequence(self, expr: cst.BaseExpression, site: Optional[cst.Call],
                 depth: int = 0) -> list[Passed]:
        """The values iterating over `expr` gives, for `*expr` or `args=expr`."""
        if depth > MAX_DEPTH:
            return [Unseen.SOME]
        if isinstance(expr, (cst.Tuple, cst.List)):
            items: list[Passed] = []
            for element in expr.elements:
                if isinstance(element, cst.StarredElement):
                    items.extend(self.sequence(element.value, site, depth + 1))
                else:
                    items.append(self.value(element.value, site))
            return items
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
            return [*self.sequence(expr.left, site, depth + 1),  # (queue, func) + args
                    *self.sequence(expr.right, site, depth + 1)]
        if not isinstance(expr, cst.Name):
            return [Unseen.SOME]
        found = self._parameter(expr, site)
        if found is not None:
            binding, param, kind = found
            if kind == "star":
                return list(binding.star)
            given = binding.values.get(param.name.value) if kind == "plain" else None
            return self.sequence(given, None, depth + 1) if given is not None else [Unseen.SOME]
        value = self._bound_once(expr, (cst.Tuple, cst.List))
        if value is not None:
            return self.sequence(value, site, depth + 1)
        length = self._element_length(expr)
        return [Unseen.ONE] * length if length is not None else [Unseen.SOME]

    def mapping(self, expr: cst.BaseExpression, site: Optional[cst.Call],
                depth: int = 0) -> Arguments:
        """The keywords `**expr` or `kwargs=expr` passes."""
        passed = Arguments()
        if depth > MAX_DEPTH:
            passed.more_keywords = True
        elif isinstance(expr, cst.Dict):
            for element in expr.elements:
                if isinstance(element, cst.StarredDictElement):
                    passed.extend(self.mapping(element.value, site, depth + 1))
                elif isinstance(element.key, cst.SimpleString) \
                        and isinstance(element.key.evaluated_value, str):
                    value = self.value(element.value, site)
                    if not isinstance(value, Unseen):
                        passed.keywords[element.key.evaluated_value] = value
                else:
                    passed.more_keywords = True
        elif isinstance(expr, cst.Call) and self._is_builtin(expr.func, "dict"):
            if any(a.keyword is None and a.star != "**" for a in expr.args):
                passed.more_keywords = True  # dict(pairs): keys not shown
            passed.extend(self.of_call_arguments(
                [a for a in expr.args if a.keyword is not None or a.star == "**"], site))
        elif isinstance(expr, cst.Name):
            found = self._parameter(expr, site)
            value = self._bound_once(expr, (cst.Dict, cst.Call)) if found is None else None
            given = found[0].values.get(found[1].name.value) \
                if found is not None and found[2] == "plain" else None
            if found is not None and found[2] == "double_star":
                passed.extend(found[0].double_star)
            elif given is not None:
                passed.extend(self.mapping(given, None, depth + 1))
            elif value is not None:
                passed.extend(self.mapping(value, site, depth + 1))
            else:
                passed.more_keywords = True
        else:
            passed.more_keywords = True
        return passed

    def _is_builtin(self, func: cst.BaseExpression, name: str) -> bool:
        return f"builtins.{name}" in self.analysis.qualified_names(func)

    def _bound_once(self, name: cst.Name, shapes: tuple[type, ...]) -> Optional[cst.BaseExpression]:
        """The display `name` is bound to, when bound once and never changed in place
        (a tuple never is; a list or dict only through its variable, which is checked)."""
        bindings = self.analysis.assignments(name)
        if len(bindings) != 1:
            return None
        value = self.analysis.assigned_value(bindings[0].node)
        if not isinstance(value, shapes):
            return None
        if isinstance(value, cst.Call) and not self._is_builtin(value.func, "dict"):
            return None
        if not isinstance(value, cst.Tuple) and any(
                self.analysis.changes_in_place(read) for read in self.analysis.reads_of(name)):
            return None
        return value

    def _element_length(self, name: cst.Name) -> Optional[int]:
        """For the variable of `for name in [(a, b), (c, d)]`, how long each element is."""
        bindings = self.analysis.assignments(name)
        if len(bindings) != 1:
            return None
        loop = self.analysis.parent(bindings[0].node)
        if not isinstance(loop, (cst.For, cst.CompFor)) or loop.target is not bindings[0].node:
            return None
        iterable = loop.iter
        if isinstance(iterable, cst.Name):
            iterable = self._bound_once(iterable, (cst.Tuple, cst.List)) or iterable
        if not isinstance(iterable, (cst.Tuple, cst.List)) or not iterable.elements:
            return None
        lengths = set()
        for element in iterable.elements:
            item = element.value
            if isinstance(element, cst.StarredElement) or not isinstance(item, (cst.Tuple, cst.List)) \
                    or any(isinstance(e, cst.StarredElement) for e in item.elements):
                return None
            lengths.add(len(item.elements))
        return lengths.pop() if len(lengths) == 1 else None

    # -- parameters bound by the calls of a helper ---------------------------------------

    def _parameter(self, expr: cst.BaseExpression, site: Optional[cst.Call]
                   ) -> Optional[tuple[SiteBinding, cst.Param, str]]:
        """Where `expr` reads a parameter of the function `site` calls: that call's
        binding, the parameter, and its kind: "plain", "star" (`*args`) or
        "double_star" (`**kwargs`)."""
        if site is None or not isinstance(expr, cst.Name):
            return None
        found = self.analysis.parameter_read(expr)
        if found is None:
            return None
        function, param = found
        if self.analysis.definition_of(site.func) is not function:
            return None
        binding = self.binding(function, site)
        if param is function.params.star_arg:
            return binding, param, "star"
        if param is function.params.star_kwarg:
            return binding, param, "double_star"
        return binding, param, "plain"

    def binding(self, function: cst.FunctionDef, site: cst.Call) -> SiteBinding:
        """What the call `site` binds to the parameters of `function`, as Python does:
        positional values first, then keywords by name, the rest to `*args`/`**kwargs`."""
        key = (id(function), id(site))
        if key not in self._bindings:
            self._bindings[key] = self._bind(function, site)
        return self._bindings[key]

    def _bind(self, function: cst.FunctionDef, site: cst.Call) -> SiteBinding:
        binding = SiteBinding()
        given: list[Union[cst.Arg, cst.BaseExpression, Unseen]] = []  # Args, or starred values
        keywords: dict[str, Union[cst.Arg, cst.BaseExpression]] = {}
        more_keywords = False
        for arg in site.args:
            if arg.keyword is not None:
                keywords[arg.keyword.value] = arg
            elif arg.star == "*":
                given.extend(self.sequence(arg.value, None))
            elif arg.star == "**":
                unpacked = self.mapping(arg.value, None)
                keywords.update(unpacked.keywords)
                more_keywords = more_keywords or unpacked.more_keywords
            else:
                given.append(arg)
        params = function.params
        named = _parameters_of(params)
        hidden = next((i for i, g in enumerate(given) if g is Unseen.SOME), len(given))
        for index, param in enumerate(named):
            name = param.name.value
            if index < hidden and index < len(given):
                self._bind_one(binding, name, given[index])
            elif name in keywords and param not in params.posonly_params:
                self._bind_one(binding, name, keywords.pop(name))
            elif hidden < len(given) or more_keywords:
                binding.unseen.add(name)
        for param in params.kwonly_params:
            name = param.name.value
            if name in keywords:
                self._bind_one(binding, name, keywords.pop(name))
            elif more_keywords:
                binding.unseen.add(name)
        rest = given[len(named):] if hidden >= len(named) else [Unseen.SOME]
        binding.star = [item.value if isinstance(item, cst.Arg) else item for item in rest]
        binding.double_star = Arguments(
            keywords={k: a.value if isinstance(a, cst.Arg) else a for k, a in keywords.items()},
            more_keywords=more_keywords)
        return binding

    @staticmethod
    def _bind_one(binding: SiteBinding, name: str,
                  given: Union[cst.Arg, cst.BaseExpression, Unseen]) -> None:
        if isinstance(given, Unseen):
            binding.unseen.add(name)
        elif isinstance(given, cst.Arg):
            binding.args[name] = given
            binding.values[name] = given.value
        else:
            binding.values[name] = given

