"""The rule registry: one line per rule, code -> "module.Class" in this package.

Kept as strings so that listing codes (for --select, --help and the prefilter)
never imports libcst.
"""

REGISTRY = {
    "MP001": "main_guard.MainGuard",
    "MP002": "explicit_args.ExplicitArgs",
    "MP003": "join_before_get.JoinBeforeGet",
    "MP004": "cooperative_shutdown.CooperativeShutdown",
    "MP005": "unjoined_process.UnjoinedProcess",
    "MP006": "pool_lifecycle.PoolLifecycle",
    "MP007": "unpicklable_callable.UnpicklableCallable",
    "MP008": "start_method_placement.StartMethodPlacement",
    "MP009": "sync_object_through_queue.SyncObjectThroughQueue",
    "MP010": "stdin_replacement.StdinReplacement",
    "MP011": "unpicklable_state.UnpicklableState",
}

# Rules that run only when a user selects them (`--select MP005`, or `select` /
# `extend-select` in the config): what they find is good practice more often than a
# breakage, so by default they would cost the findings their trust (see each rule's docs).
OPT_IN = frozenset({"MP005"})
