"""The rule registry: one line per rule, code -> "module.Class" in this package.

Kept as strings so that listing codes (for --select, --help and the prefilter)
never imports libcst.
"""

REGISTRY = {
    "MP001": "main_guard.MainGuard",
}
