"""The shared analysis every rule asks: the name index, what an expression holds, what
starts processes, the callables and values handed to them.

Rules decide; this package answers. `starters` is plain data and imports nothing heavy,
so the engine's prefilter can read it without libcst.
"""
