from __future__ import annotations

import difflib
import io
import tokenize


def _decode(data: bytes) -> str:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError):
        return data.decode("utf-8", errors="surrogateescape")


def _lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


def unified_diff(path: str, old: bytes, new: bytes, context: int = 3) -> str:
    """A patch `git apply` accepts for one file (paths under a/ and b/)."""
    name = path.replace("\\", "/").lstrip("./") if not path.startswith("../") else path
    diff = difflib.unified_diff(
        _lines(_decode(old)), _lines(_decode(new)),
        fromfile=f"a/{name}", tofile=f"b/{name}", n=context,
    )
    return "".join(diff)
