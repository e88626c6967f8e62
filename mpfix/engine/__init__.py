"""A run over files: discovery, config, cache, the parallel runner, the one-file
pipeline and its fix rounds, and the safe writer.

The cheap front (discovery, config, cache, pipeline's prefilter) never imports libcst;
`fixer` does, and only when a file needs parsing.
"""
