"""The statement that opens each code cell of a notebook in the module mpfix analyses
(`__mpfix_cell__(N)`, see mpfix.engine.notebook); no libcst here, the engine reads
notebooks before it knows whether anything needs parsing."""

CELL_MARKER = "__mpfix_cell__"
