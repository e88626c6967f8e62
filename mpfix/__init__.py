"""mpfix: find and fix multiprocessing code that breaks under spawn and forkserver."""

from mpfix.api import MpfixError, check_code, fix_code
from mpfix.findings import Finding, Safety

__version__ = "0.1.0"
__all__ = ["Finding", "MpfixError", "Safety", "__version__", "check_code", "fix_code"]
