"""SARIF 2.1.0 output, as GitHub code scanning reads it.

One run; the driver lists every rule with its documentation (GitHub shows
`help.markdown` beside an alert); each result points at a file relative to
the working directory (run mpfix from the repository root, as CI does) with
1-based lines and columns counted in Unicode code points. A finding with a
fix carries it as a SARIF `fix` (GitHub ignores it; other viewers can apply
it). Files that could not be processed are tool execution notifications.
"""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import quote

from mpfix import __version__
from mpfix.engine.diff import patch_path
from mpfix.cli.docs import documented_rules, rule_markdown, rule_text, safety_label
from mpfix.findings import FileResult, Finding

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _uri(path: str) -> str:
    return quote(patch_path(path), safe="/")


def _location(path: str) -> dict[str, Any]:
    # Relative URIs are resolved against the repository root by GitHub.
    return {"artifactLocation": {"uri": _uri(path)}}


def _region(line: int, col: int, end_line: int, end_col: int) -> dict[str, int]:
    region = {"startLine": line, "startColumn": col}
    if end_line:
        region.update(endLine=end_line, endColumn=end_col)
    return region


def _descriptor(cls: Any) -> dict[str, Any]:
    return {
        "id": cls.code,
        "name": cls.name,
        "shortDescription": {"text": cls.summary()},
        "fullDescription": {"text": cls.sections().get("what it finds") or cls.summary()},
        "help": {"text": rule_text(cls), "markdown": rule_markdown(cls)},
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["multiprocessing", "correctness"], "fix": safety_label(cls)},
    }


def _fix(f: Finding) -> list[dict[str, Any]]:
    if not f.edits:
        return []
    replacements = [
        {"deletedRegion": _region(e.line, e.col, e.end_line, e.end_col),
         "insertedContent": {"text": e.content}}
        for e in f.edits
    ]
    return [{
        "description": {"text": f"{f.code} fix ({f.fix_safety.value})"},
        "artifactChanges": [{"artifactLocation": _location(f.path)["artifactLocation"],
                             "replacements": replacements}],
    }]


def _result(f: Finding, index: dict[str, int]) -> dict[str, Any]:
    location = _location(f.path)
    location["region"] = _region(f.line, f.col, f.end_line, f.end_col)
    result: dict[str, Any] = {
        "ruleId": f.code,
        "ruleIndex": index[f.code],
        "level": "error",
        "message": {"text": f.message},
        "locations": [{"physicalLocation": location}],
    }
    if f.cell is not None:  # a notebook: the region counts lines from the cell's first
        result["properties"] = {"cell": f.cell}
    fixes = _fix(f)
    if fixes:
        result["fixes"] = fixes
    return result


def _fixes_applied(fixes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"uri": _uri(fix["path"]), "ruleId": fix["code"], "count": fix["count"]}
            for fix in fixes]


def sarif_log(results: list[FileResult],
              fixes: Optional[list[dict[str, Any]]] = None) -> dict[str, Any]:
    """`fixes`, after `mpfix fix`: what it applied (mpfix.cli.report.applied_fixes), kept in
    the invocation's `properties.fixesApplied`; the results are the findings left."""
    rules = documented_rules()
    index = {cls.code: position for position, cls in enumerate(rules)}
    notifications = [
        {"level": "error", "message": {"text": r.error},
         "locations": [{"physicalLocation": _location(r.path)}]}
        for r in results if r.error
    ]
    invocation: dict[str, Any] = {
        "executionSuccessful": not notifications,
        "toolExecutionNotifications": notifications,
    }
    if fixes is not None:
        invocation["properties"] = {"fixesApplied": _fixes_applied(fixes)}
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "mpfix",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_descriptor(cls) for cls in rules],
            }},
            "columnKind": "unicodeCodePoints",
            "invocations": [invocation],
            "results": [_result(f, index) for r in results for f in r.findings],
        }],
    }
