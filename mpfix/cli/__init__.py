"""The command line and what it prints: finding formats, rule docs, review, progress.

Imports the engine; nothing below imports this package.
"""

from mpfix.cli.app import main

__all__ = ["main"]
