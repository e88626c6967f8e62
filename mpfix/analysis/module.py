"""The shared analysis every rule asks: what an expression is, what a call starts,
which callable a process runs and what that callable reads.

Built once per file over one MetadataWrapper; rules never re-derive any of it.
Resolution is by qualified name and by following assignments within scopes, so
`threading.Thread`, `queue.Queue` and `subprocess.Popen` are never mistaken for
multiprocessing objects, whatever they are called locally.

The names rules use are re-exported here, so a rule imports its analysis from one place.
"""

from __future__ import annotations

from typing import Optional

from libcst.metadata import MetadataWrapper

from mpfix.analysis.arguments import (  # noqa: F401 - re-exported for rules
    ArgumentReader,
    Arguments,
    Unseen,
    argument,
    keyword,
    method_name,
    positional,
)
from mpfix.analysis.callables import (  # noqa: F401 - re-exported for rules
    EXECUTOR_CALLABLE_METHODS,
    POOL_CALLABLE_METHODS,
    QUEUE_PUT_METHODS,
    CallablesMixin,
    CallableUse,
    QueueUse,
)
from mpfix.analysis.kinds import (  # noqa: F401 - re-exported for rules
    CONTEXT_PARAMETERS,
    SHARED_DEFAULT_CONTEXT,
    KindsMixin,
    api_family,
    default_family,
)
from mpfix.analysis.flow import FlowMixin, Held  # noqa: F401 - re-exported for rules
from mpfix.analysis.names import Binding, NameIndex  # noqa: F401 - re-exported for rules
from mpfix.analysis.loaders import LoaderHandoff, LoadersMixin, Workers  # noqa: F401 - re-exported for rules
from mpfix.analysis.objects import ObjectsMixin
from mpfix.analysis.positions import StatementTexts
from mpfix.analysis.reads import (  # noqa: F401 - re-exported for rules
    MUTATING_METHODS,
    ReadsMixin,
    statement_mutations,
    statement_names,
)
from mpfix.analysis.starters import Kind, StarterTable
from mpfix.analysis.starts import StartsMixin
from mpfix.analysis.structure import (  # noqa: F401 - re-exported for rules
    Assignment,
    Definition,
    StructureMixin,
    is_main_guard,
)


class ModuleAnalysis(StructureMixin, KindsMixin, FlowMixin, CallablesMixin, ReadsMixin,
                     StartsMixin, ObjectsMixin, LoadersMixin):
    """One file's analysis, built once over one MetadataWrapper and asked by every rule.

    Each part answers one question and lives in its own module; the caches they share
    are set up here.
    """

    def __init__(self, wrapper: MetadataWrapper, starters: StarterTable,
                 statement_texts: Optional[StatementTexts] = None) -> None:
        self.wrapper = wrapper
        self._statement_texts = statement_texts or StatementTexts()
        self._callable_uses: Optional[list[CallableUse]] = None
        self._direct_uses: Optional[list[CallableUse]] = None
        self._arguments: dict[CallableUse, Arguments] = {}
        self._argument_reader = ArgumentReader(self)
        self._call_kinds: dict[int, Optional[Kind]] = {}
        self.module = wrapper.module
        self.starters = starters
        self.names = NameIndex.build(self.module)
        self.calls = self.names.calls
        self.functions = self.names.functions
        self.classes = self.names.classes
        self.lambdas = self.names.lambdas
        self._kind_cache: dict[int, Optional[Kind]] = {}
        self._element_cache: dict[int, Optional[Kind]] = {}
        self._through_flow: set[int] = set()
        self._flow_reads = 0
        self._starts_cache: dict[int, bool] = {}
