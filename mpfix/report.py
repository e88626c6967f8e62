"""Findings as people and machines read them."""

from __future__ import annotations

import json
from collections import Counter
from typing import IO, Iterable

from mpfix.findings import FileResult, Finding

FORMATS = ("text", "json")


def _text(findings: Iterable[Finding], out: IO[str]) -> None:
    for f in findings:
        out.write(f"{f.path}:{f.line}:{f.col}: {f.code} {f.message}\n")


def _json(findings: Iterable[Finding], out: IO[str]) -> None:
    json.dump([f.to_dict() for f in findings], out, indent=2)
    out.write("\n")


WRITERS = {"text": _text, "json": _json}


def write_findings(fmt: str, results: list[FileResult], out: IO[str]) -> None:
    findings = [f for r in results for f in r.findings]
    WRITERS[fmt](findings, out)


def summary(results: list[FileResult], *, fix: bool, skipped: int, unsafe_hidden: int) -> str:
    findings = [f for r in results for f in r.findings]
    lines = []
    fixed = Counter()
    for result in results:
        fixed.update(result.fixed)
    changed = sum(1 for r in results if r.changed)
    errors = sum(1 for r in results if r.error)
    scanned = len(results)
    head = f"{scanned} file{'s' if scanned != 1 else ''} scanned ({skipped} skipped by the prefilter)"
    if fix:
        head += f", {changed} changed"
    lines.append(head)
    if fixed:
        lines.append("fixed: " + ", ".join(f"{code} x{n}" for code, n in sorted(fixed.items())))
    if findings:
        per_rule = Counter(f.code for f in findings)
        fixable = sum(1 for f in findings if f.fixable)
        word = "remaining" if fix else "found"
        lines.append(f"{len(findings)} finding{'s' if len(findings) != 1 else ''} {word} ("
                     + ", ".join(f"{code} x{n}" for code, n in sorted(per_rule.items()))
                     + f"); {fixable} with a fix")
    elif not errors:
        lines.append("no findings")
    if errors:
        lines.append(f"{errors} file{'s' if errors != 1 else ''} could not be processed")
    if unsafe_hidden:
        lines.append(f"{unsafe_hidden} more fix{'es are' if unsafe_hidden != 1 else ' is'} "
                     "available with --unsafe-fixes")
    return "\n".join(lines)
